"""Ingest on tiny hand-made files: encodings, number formats, mapping, profiles, row accounting."""

from __future__ import annotations

import json
import math
from pathlib import Path

import polars as pl
import pytest

from auditor.ingest import LoadOptions, load, load_one
from auditor.ingest.mapping import resolve
from auditor.profiles import builtin_profiles, detect_profile, load_profile

HEADER = "region,station,registered,valid,invalid,Alpha,Beta\n"


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def test_cp1251_csv_decodes(tmp_path: Path) -> None:
    text = "регион;уик;Число избирателей;Действительных;Недействительных;Иванов;Петров\n" + "".join(
        f"Москва;{i};1000;{500 + i};10;{300 + i};200\n" for i in range(30)
    )
    ld = load_one(write(tmp_path, "ru.csv", text, "cp1251"), LoadOptions())
    assert ld.raw.encoding == "cp1251"
    assert ld.raw.delimiter == ";"
    assert ld.mapping.counts["registered"] == "Число избирателей"
    votes = ld.parts.votes.collect()
    assert sorted(votes["choice"].unique().to_list()) == ["Иванов", "Петров"]
    assert votes.filter(pl.col("choice") == "Иванов")["votes"].sum() == sum(300 + i for i in range(30))


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le"])
def test_utf16_csv_decodes(tmp_path: Path, encoding: str) -> None:
    text = HEADER + "Nord,1,100,80,2,50,30\nSüd,2,200,150,5,100,50\n"
    ld = load_one(write(tmp_path, "u16.csv", text, encoding), LoadOptions())
    assert ld.raw.encoding is not None and ld.raw.encoding.startswith("utf-16")
    units = ld.parts.units.collect().sort("source_row")
    assert units["region"].to_list() == ["Nord", "Süd"]
    assert units["registered"].to_list() == [100, 200]


def test_float_noise_read_as_integers_and_noted(tmp_path: Path) -> None:
    text = HEADER + "A,1,100.0,84.99999999999999,1.0000000000001,60.00000000000001,25\n"
    ld = load_one(write(tmp_path, "f.csv", text), LoadOptions())
    units = ld.parts.units.collect()
    assert units["valid"].to_list() == [85]
    assert units["invalid"].to_list() == [1]
    assert any("within 1e-9 of an integer" in n for n in ld.info.notes)
    assert ld.parts.issues.collect().height == 0


def test_real_fraction_is_input004(tmp_path: Path) -> None:
    text = HEADER + "A,1,100,80,2,55.5,25\n"
    ld = load_one(write(tmp_path, "f.csv", text), LoadOptions())
    issues = ld.parts.issues.collect()
    assert issues["code"].to_list() == ["INPUT004"]
    assert issues["source_row"].to_list() == [2]
    assert ld.parts.votes.collect().filter(pl.col("choice") == "Alpha")["votes"].to_list() == [None]


def test_few_garbage_cells_are_input001(tmp_path: Path) -> None:
    rows = "".join(f"A,{i},100,80,2,50,30\n" for i in range(10))
    text = HEADER + rows + "A,99,1O0,80,2,50,30\n"
    ld = load_one(write(tmp_path, "g.csv", text), LoadOptions())
    issues = ld.parts.issues.collect()
    assert issues.select("code", "column", "value", "source_row").rows() == [
        ("INPUT001", "registered", "1O0", 12)
    ]
    assert ld.info.rows_in_model == 11


def test_german_thousands_with_profile_read_as_integers(tmp_path: Path) -> None:
    prof = tmp_path / "de.toml"
    prof.write_text(
        'name = "t"\n[read]\ndelimiter = ";"\nthousands = "."\n[units]\nkey = ["Bezirk"]\n'
        '[columns]\nregistered = "Wahlberechtigte"\nvalid = "gültig"\n[choices]\nrest = true\n',
        encoding="utf-8",
    )
    text = "\ufeffBezirk;Wahlberechtigte;gültig;CDU;SPD;;;\n001;1.413;1.002;600;402;;;\n002;900;800;500;300;;;\n"
    ld = load_one(write(tmp_path, "de.csv", text), LoadOptions(profile=str(prof)))
    units = ld.parts.units.collect().sort("unit_id")
    assert units["registered"].to_list() == [1413, 900]
    assert units["valid"].to_list() == [1002, 800]
    assert any("2 count cells (of mapped columns) with '.' thousands separators" in n for n in ld.info.notes)
    assert ld.parts.issues.collect().height == 0


def test_percent_column_without_profile_is_published_not_a_choice(tmp_path: Path) -> None:
    text = "Alpha,Beta,total,form2_percent,level_one\n10.0,5.0,15.0,117.5,X\n3.0,4.0,7.0,inf,Y\n"
    ld = load_one(write(tmp_path, "kg.csv", text), LoadOptions())
    choices = set(ld.parts.votes.collect()["choice"].unique().to_list())
    assert choices == {"Alpha", "Beta"}
    pub = ld.parts.published.collect().sort("source_row")
    assert pub["measure"].to_list() == ["percent", "percent"]
    assert pub["value"][0] == pytest.approx(117.5)
    assert math.isinf(pub["value"][1])
    assert ld.parts.issues.collect().height == 0


def test_empty_rows_are_rejected_and_counted(tmp_path: Path) -> None:
    text = HEADER + "A,1,100,80,2,50,30\nA,2,,,,,\nA,3,,,,,\n"
    ld = load_one(write(tmp_path, "e.csv", text), LoadOptions())
    c = ld.info
    assert (c.rows_read, c.rows_in_model, c.rows_published, c.rows_rejected) == (3, 1, 0, 2)
    issues = ld.parts.issues.collect()
    assert issues["code"].to_list() == ["INPUT002", "INPUT002"]
    assert issues["rejected"].to_list() == [True, True]


def test_duplicated_key_kept_under_distinct_ids(tmp_path: Path) -> None:
    prof = tmp_path / "k.toml"
    prof.write_text('name = "k"\n[units]\nkey = ["region", "station"]\n[columns]\n'
                    'registered = "registered"\nvalid = "valid"\ninvalid = "invalid"\n'
                    '[choices]\nrest = true\n', encoding="utf-8")
    text = HEADER + "A,1,100,80,2,50,30\nA,1,90,70,2,40,30\nA,2,90,70,2,40,30\n"
    ld = load_one(write(tmp_path, "d.csv", text), LoadOptions(profile=str(prof)))
    ids = sorted(ld.parts.units.collect()["unit_id"].to_list())
    assert ids == ["A/1", "A/1#2", "A/2"]
    dup = ld.parts.issues.collect().filter(pl.col("code") == "INPUT003")
    assert dup["source_row"].sort().to_list() == [2, 3]


def test_profile_extends_and_absent_patterns() -> None:
    profs = builtin_profiles()
    assert profs["ru-cik"].detect == {}  # the generic base is chosen only with --profile
    assert "seats" not in profs["ru-cik"].rules
    ru21 = profs["ru-duma-2021"]
    assert ru21.rules["seats"] == 225 and ru21.rules["threshold"] == 0.05
    assert ru21.columns["valid"].startswith("re:")  # inherited from the base
    assert list(ru21.units["hierarchy"]) == ["region", "oik", "tik"]  # replaced, in order
    assert len(ru21.rules["relations"]) == 3
    ev_headers = ["region", "Число избирателей, включенных в список избирателей",
                  "Даванков Владислав Андреевич"]
    assert detect_profile(ev_headers)[0] is not None
    assert detect_profile(ev_headers)[0].name == "ru-evoting-2024"  # type: ignore[union-attr]
    st_headers = ["region", "tik", "uik", *ev_headers[1:]]
    assert detect_profile(st_headers)[0].name == "ru-president-2024"  # type: ignore[union-attr]


def test_relations_use_known_names_and_ops() -> None:
    from auditor.model import COUNT_COLUMNS

    n = 0
    for p in builtin_profiles().values():
        for r in p.rules.get("relations", []):
            n += 1
            assert r["op"] in ("==", "<=", ">=", "<", ">"), (p.name, r)
            assert r["words"] and r["name"]
            for tok in [*r["lhs"], *r["rhs"]]:
                assert tok == "choices" or tok in COUNT_COLUMNS, (p.name, tok)
    assert n >= 12


def test_key_fill_and_hierarchy_paths(tmp_path: Path) -> None:
    text = ("level,region,oik,tik,uik,Число избирателей,Число действительных избирательных "
            "бюллетеней,Число недействительных избирательных бюллетеней,"
            "5. ЕДИНАЯ РОССИЯ,1. КПРФ\n"
            "ЦИК России,R1,ОИК №1,Алейская,УИК №1,100,80,2,50,30\n"
            "ЦИК России,R2,ОИК №2,Алейская,УИК №1,100,80,2,50,30\n"
            "ЦИК России,R2,ОИК №2,Дистанционное электронное голосование,,500,400,0,300,100\n"
            "ЦИК России,R2,ОИК №3,Дистанционное электронное голосование,,500,400,0,300,100\n")
    ld = load_one(write(tmp_path, "ru21.csv", text), LoadOptions(profile="ru-duma-2021"))
    units = ld.parts.units.collect().sort("source_row")
    assert units["unit_id"].to_list() == [
        "R1/Алейская/УИК №1", "R2/Алейская/УИК №1",
        "R2/Дистанционное электронное голосование/ОИК №2",
        "R2/Дистанционное электронное голосование/ОИК №3",
    ]
    assert units["unit_type"].to_list() == ["regular", "regular", "evoting", "evoting"]
    # Same-named TIKs of two regions stay two groups.
    assert units["tik"].to_list()[:2] == ["R1/ОИК №1/Алейская", "R2/ОИК №2/Алейская"]
    assert ld.parts.issues.collect().filter(pl.col("code") == "INPUT003").height == 0
    assert "ballots_cast" not in units.columns  # not a protocol line: left absent


def test_total_rows_levels_in_long_shape(tmp_path: Path) -> None:
    text = ("county,election_district,office,district,party,candidate,election_day,absentee,votes\n"
            "Kent,01-01,President,,DEM,Clinton H,10,2,12\n"
            "Kent,01-02,President,,DEM,Clinton H,5,1,6\n"
            "Kent,Total,President,,DEM,Clinton H,15,3,18\n"
            "Kent,01-01,State Senate,3,REP,Smith,7,0,7\n"
            "Kent,01-01,State Senate,3,,Total,7,0,7\n")
    ld = load_one(write(tmp_path, "oe.csv", text), LoadOptions())
    assert ld.profile is not None and ld.profile.name == "openelections"
    c = ld.info
    assert (c.rows_read, c.rows_in_model, c.rows_published, c.rows_rejected) == (5, 3, 2, 0)
    pub = ld.parts.published.collect().sort("source_row")
    assert pub.select("level", "unit_id", "contest", "choice", "value").rows() == [
        ("county", "Kent", "President", "Clinton H", 18.0),
        ("unit", "Kent/01-01", "State Senate 3", None, 7.0),
    ]
    votes = ld.parts.votes.collect()
    assert set(votes.columns) >= {"election_day", "absentee", "party"}
    assert votes["votes"].sum() == 25


def test_multi_contest_rows_and_template_snapshot(tmp_path: Path) -> None:
    head = ("AGS,Gemeindename,Wahlberechtigte,Wähler(innen),Ungültige_Erststimmen,"
            "Gültige_Erststimmen,CDU_Erststimmen,SPD_Erststimmen,Ungültige_Zweitstimmen,"
            "Gültige_Zweitstimmen,CDU_Zweitstimmen,SPD_Zweitstimmen\n")
    full = head + ("08111000,Stuttgart,1000,800,10,790,400,390,5,795,500,295\n"
                   "08336991,Briefwahl,,100,1,99,50,49,0,100,60,40\n"
                   "BW,Baden-Württemberg,1000,900,11,889,450,439,5,895,560,335\n")
    ld = load_one(write(tmp_path, "bw.csv", full, "cp1252"), LoadOptions())
    assert ld.profile is not None and ld.profile.name == "de-bw-btw25"
    units = ld.parts.units.collect().sort("contest", "unit_id")
    assert units["contest"].to_list() == ["Erststimmen"] * 2 + ["Zweitstimmen"] * 2
    assert units["valid"].to_list() == [790, 99, 795, 100]
    assert units["unit_type"].to_list() == ["regular", "postal"] * 2
    # Postal district without electorate: an empty `registered` is not INPUT006 here.
    assert ld.parts.issues.collect().height == 0
    assert ld.info.rows_published == 1
    pub = ld.parts.published.collect()
    assert pub.filter((pl.col("contest") == "Zweitstimmen") & (pl.col("choice") == "CDU"))[
        "value"].to_list() == [560.0]
    empty = head + "08111000,Stuttgart,,,,,,,,,,\n08115001,Aidlingen,,,,,,,,,,\nBW,BW,,,,,,,,,,\n"
    ld2 = load_one(write(tmp_path, "bw0.csv", empty, "cp1252"), LoadOptions())
    c = ld2.info
    assert (c.rows_read, c.rows_in_model, c.rows_published, c.rows_rejected) == (3, 0, 1, 2)
    assert ld2.parts.issues.collect()["detail"].to_list() == ["not yet reported"] * 2


def test_inspect_shows_unmapped(tmp_path: Path) -> None:
    text = HEADER.replace("\n", ",comment\n") + "A,1,100,80,2,50,30,hello\n"
    mp = resolve(text.splitlines()[0].split(","), None, [], "x.csv", None)
    assert "comment" in mp.unmapped
    assert mp.counts["registered"] == "registered"


def test_map_override_wins(tmp_path: Path) -> None:
    text = "unit,Electorate,Good,Bad,Alpha,Beta\n1,100,80,2,50,30\n"
    opts = LoadOptions(overrides=("registered=Electorate", "valid=Good", "invalid=Bad", "key=unit"))
    m = load([write(tmp_path, "m.csv", text)], opts)
    units = m.units.collect()
    assert units.select("unit_id", "registered", "valid", "invalid").rows() == [("1", 100, 80, 2)]
    assert sorted(m.votes.collect()["choice"].to_list()) == ["Alpha", "Beta"]


def test_every_builtin_profile_loads() -> None:
    names = set(builtin_profiles())
    assert {"ru-duma-2011", "ru-president-2018", "ru-duma-2021", "ru-president-2024",
            "ru-evoting-2024", "kg-kloop-2020", "ge-cec-2024", "de-ew24", "de-bw-btw25",
            "openelections", "nist"} <= names
    assert load_profile("ge-cec-2024").rules["extra_registered"] == ["registered_extra"]


def test_text_columns_that_need_no_stripping_give_the_same_ids_and_hierarchy(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    build = importlib.import_module("auditor.ingest.build")  # the package re-exports `build()`
    df = pl.DataFrame({
        "region": ["North", "North", " South", "South", "East"],   # one cell to strip
        "district": ["D1", "D2", "D3", "D3", "D9"],                 # clean
        "station": ["1", "2", "3", "4 ", "5"],                      # one cell to strip
        "registered": [100, 200, 300, 400, 500], "ballots_cast": [50, 60, 70, 80, 90],
        "valid": [48, 58, 68, 78, 88], "invalid": [2, 2, 2, 2, 2],
        "Alpha": [20, 30, 40, 50, 60], "Beta": [28, 28, 28, 28, 28]})
    path = tmp_path / "s.csv"
    df.write_csv(path)
    assert build.clean_columns(df, ["region", "district", "station", "valid"]) == {"district"}
    assert build.clean_columns(df.with_columns(pl.lit("").alias("district")), ["district"]) \
        == frozenset()

    def units() -> pl.DataFrame:
        return load([path]).units.select("unit_id", "region", "district").collect()

    stripped = units()
    monkeypatch.setattr(build, "CLEAN_SCAN_MIN_ROWS", 0)
    assert units().equals(stripped)
    assert stripped["unit_id"].to_list() == ["North/D1/1", "North/D2/2", "South/D3/3",
                                             "South/D3/4", "East/D9/5"]
    assert stripped["region"].to_list()[2] == "South"


def _frames(path: Path) -> dict[str, pl.DataFrame]:
    ld = load_one(path, LoadOptions())
    p = ld.parts
    return {"units": p.units.collect(), "votes": p.votes.collect().sort("source_row", "choice"),
            "issues": p.issues.collect().sort("source_row", "column"),
            "published": p.published.collect(), "counters": pl.DataFrame([p.counters])}


@pytest.mark.parametrize("cells, typed", [
    (["007", "", "-3", "123456789012"], True),  # whole numbers and blanks: read as integers
    (["1.413", "", "12", "5"], False),  # a fraction (or German thousands): read as text first
    ([" 9", "n/a", "12", "5"], False),  # garbage: text, then INPUT findings
    (["9 ", "", "12", "5"], False),  # a trailing space: text, stripped
])
def test_counts_read_as_integers_by_the_reader_give_what_the_text_path_gives(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cells: list[str], typed: bool) -> None:
    import importlib

    build = importlib.import_module("auditor.ingest.build")
    rows = [f"Nord,{i},{1000 + i},{cells[i % 4]},7,300,{cells[(i + 1) % 4]}" for i in range(40)]
    rows.append("Total,,40000,,,,")
    p = write(tmp_path, "c.csv", HEADER + "\n".join(rows) + "\n")
    raw = load_one(p, LoadOptions()).raw
    assert raw.retype is not None
    seen = build._typed_counts(raw, {"n0": "valid", "n1": "Beta"}, set()).collect_schema()
    assert (seen["valid"], seen["Beta"]) == ((pl.Int64(),) * 2 if typed else (pl.String(),) * 2)
    # numbers that may carry thousands separators are read as text whatever the cells hold
    sep = build._typed_counts(raw, {"n0": "valid", "n1": "Beta"}, set(), ".").collect_schema()
    assert (sep["valid"], sep["Beta"]) == (pl.String(),) * 2
    fast = _frames(p)
    monkeypatch.setattr(build, "_typed_counts", lambda raw, *_: raw.frame)
    slow = _frames(p)
    for name, frame in fast.items():
        assert frame.equals(slow[name]), name
    assert fast["units"].height == 41 - fast["counters"]["rows_published"][0]
    # the last row (no profile says it is a total) is a unit without valid or invalid
    want = {("INPUT006", "invalid"): 1, ("INPUT006", "valid"): 1}
    if cells[1] == "n/a":
        want[("INPUT001", "valid")] = 10
    if cells[1] == "":
        want[("INPUT006", "valid")] = 11
    got = fast["issues"].group_by("code", "column").len().rows()
    assert {(c, k): n for c, k, n in got} == want


def test_a_key_column_also_mapped_as_a_count_keeps_its_text_and_blank_counts_read_empty(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    build = importlib.import_module("auditor.ingest.build")
    p = write(tmp_path, "k.csv", HEADER + "N,001,100,80,2,50,30\nN,002,200, ,2,50,30\n"
              'N,003,300,"",3,50,40\n')
    opts = LoadOptions(overrides=("registered=station",))
    fast = load_one(p, opts).parts
    monkeypatch.setattr(build, "_typed_counts", lambda raw, *_: raw.frame)
    slow = load_one(p, opts).parts
    units = fast.units.collect()
    assert units["unit_id"].to_list() == ["N/001", "N/002", "N/003"]
    assert units.equals(slow.units.collect())
    assert units["registered"].to_list() == [1, 2, 3]
    # the blank valid cells are missing either way; the fast path shows no blank text
    issues = fast.issues.collect().sort("source_row")
    text = slow.issues.collect().sort("source_row")
    assert issues.drop("value").equals(text.drop("value"))
    assert issues["code"].to_list() == ["INPUT006", "INPUT006"]
    assert issues["value"].to_list() == [None, None]


def test_the_parsed_copy_of_the_builtin_profiles_gives_what_parsing_gives(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Profiles are read through a JSON copy named by the TOML texts' hash: the copy must
    give the same documents, a damaged copy must be parsed anew and replaced, and a place
    where no copy can be written must not stop anything."""
    import tomllib

    from auditor import profiles

    texts = [("a.toml", 'name = "a"\n[detect]\nheaders = ["^x$"]\npriority = 2\n'),
             ("b.toml", 'name = "b"\nextends = "a"\n[columns]\nvalid = "re:^v"\n')]
    parsed = [tomllib.loads(t) for _, t in texts]
    monkeypatch.setattr(profiles, "_PARSED_DIR", tmp_path)
    assert profiles._parsed(texts) == parsed
    (copy,) = tmp_path.glob("profiles-*.json")
    assert profiles._parsed(texts) == parsed  # read from the copy
    copy.write_text("[{", encoding="utf-8")  # damaged: parsed anew, and the copy replaced
    assert profiles._parsed(texts) == parsed
    assert json.loads(copy.read_text(encoding="utf-8")) == parsed
    changed = [texts[0], ("b.toml", texts[1][1].replace("^v", "^valid"))]
    assert profiles._parsed(changed)[1]["columns"]["valid"] == "re:^valid"
    assert len(list(tmp_path.glob("profiles-*.json"))) == 1  # the stale copy is gone
    monkeypatch.setattr(profiles, "_PARSED_DIR", tmp_path / "file" / "sub")
    (tmp_path / "file").write_text("not a folder", encoding="utf-8")
    assert profiles._parsed(texts) == parsed


@pytest.mark.parametrize(("rows", "encoding", "expected"), [
    (["Москва", "Бишкек"], "cp1251", "cp1251"),
    (["Ош шаары", "Жалал-Абад"], "cp1251", "cp1251"),
    (["München", "Köln"], "cp1252", "cp1252"),
    (["Zürich à Genève", "Côte à côte"], "cp1252", "cp1252"),
])
def test_a_short_file_is_read_in_its_code_page(rows: list[str], encoding: str, expected: str,
                                               tmp_path: Path) -> None:
    """Two rows give the statistical detector little to go on: Cyrillic words read as cp1251,
    Western words with an accent in them stay cp1252."""
    from auditor.ingest.readers import read_table

    src = tmp_path / "short.csv"
    text = "region,uik,registered,valid,invalid,A,B\n" + "".join(
        f"{name},{i},1000,500,10,300,200\n" for i, name in enumerate(rows, start=1))
    src.write_bytes(text.encode(encoding))
    raw = read_table(src)
    assert raw.encoding == expected
    assert raw.frame.collect()["region"].to_list() == rows
