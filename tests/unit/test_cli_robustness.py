"""CLI robustness from a new-user review: misused options exit 2, inputs are never merged or
misread silently, and the JSON writer survives NaN."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from auditor.cli import LANGS, main
from auditor.findings import AuditRun, dumps_json
from auditor.ingest import LoadOptions, load, load_one
from fixtures.synth import generate
from tests.unit.test_bad_inputs import ROWS, minimal_xlsx


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main(args)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


@pytest.fixture
def election(tmp_path: Path) -> Path:
    p = tmp_path / "e.csv"
    generate(n_stations=40, n_regions=2, districts_per_region=2, seed=3).write_csv(p)
    return p


def findings(out: Path) -> list[dict[str, object]]:
    doc = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    return list(doc["findings"])


# 1a. The same units in two inputs ------------------------------------------------------------


def test_same_file_twice_is_input003_not_doubled_votes(election: Path) -> None:
    m = load([election, election])
    issues = m.issues.filter(pl.col("code") == "INPUT003").collect()
    assert issues.height == 40  # every unit of the second copy
    assert set(issues["source_file"]) == {1}
    units = m.units.collect()
    assert units.height == 80  # both copies kept
    assert units["unit_id"].n_unique() == 80  # … under distinct ids
    assert units.filter(pl.col("unit_id").str.ends_with("#f2")).height == 40
    # Votes stay attached to their own copy: no unit has twice its votes.
    per_unit = m.votes.group_by("unit_id").agg(pl.col("votes").sum()).collect()
    valid = units.select("unit_id", "valid").join(per_unit, on="unit_id")
    assert valid.filter(pl.col("votes") != pl.col("valid")).height == 0
    assert any("repeat a key of an earlier input" in n for n in m.inputs[1].notes)


def test_same_file_twice_in_audit_exits_1(election: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    rc, _, _ = run(["audit", str(election), str(election), "--out", str(out),
                         "--format", "json", "--only", "INPUT,ARITH"], capsys)
    assert rc == 1
    codes = [f["code"] for f in findings(out)]
    assert codes.count("INPUT003") == 40
    assert "ARITH001" not in codes  # votes are not doubled against valid ballots


def test_distinct_files_and_other_contests_are_no_duplicates(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    df = generate(n_stations=30, seed=1)
    df.write_csv(a)
    df.with_columns(pl.col("station").str.replace(r"^0", "9")).write_csv(b)
    m = load([a, b])
    assert m.issues.filter(pl.col("code") == "INPUT003").collect().height == 0
    assert m.units.collect().height == 60


def test_kyrgyz_list_and_smd_files_are_no_duplicates() -> None:
    here = Path(__file__).resolve().parents[2] / "fixtures" / "kg2021"
    m = load([here / "releases" / "5-final.csv", here / "smd" / "5-final-smd.csv"])
    assert m.issues.filter(pl.col("code") == "INPUT003").collect().height == 0
    # The release's published-figures sidecar came along and is no results input either.
    assert len(m.inputs) == 3


# 1b/1c/9. --previous ------------------------------------------------------------------------


def test_previous_help_says_what_is_compared(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(["audit", "--help"], capsys)
    assert rc == 0
    text = " ".join(out.replace("│", " ").split())
    assert "The REV checks compare this release with the last --previous" in text
    assert "(--previous A --previous B)" in text and "auditor chain FOLDER" in text


def test_summary_lists_previous_and_warns_on_no_match(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    cur, other = tmp_path / "cur.csv", tmp_path / "other.csv"
    df = generate(n_stations=30, seed=1)
    df.write_csv(cur)
    df.with_columns(pl.col("station").str.replace(r"^0", "9")).write_csv(other)
    out = tmp_path / "o"
    rc, stdout, err = run(["audit", str(cur), "--previous", str(other), "--out", str(out),
                           "--format", "json", "--only", "REV001", "--fail-on", "never"],
                          capsys)
    assert rc == 0
    assert f"previous releases (oldest first): {other}\n" in stdout
    assert "0 of 30 units match the current release" in err
    rc, stdout, err = run(["audit", str(cur), "--previous", str(other), "--previous", str(cur),
                           "--out", str(out), "--format", "json", "--only", "REV001"], capsys)
    assert f"previous releases (oldest first): {other}, {cur}; the REV checks compare the " \
        "last one with this release" in stdout
    rc, stdout, err = run(["audit", str(cur), "--previous", str(cur), "--out", str(out),
                           "--format", "json", "--only", "REV001"], capsys)
    assert rc == 0 and "match the current release" not in err


# 2/3. Option checks before auditing ---------------------------------------------------------


@pytest.mark.parametrize("opt, words", [
    (["--only", "FOO123"], "FOO123 names no check"),
    (["--skip", "ARITH,NOPE"], "NOPE names no check"),
    (["--z", "-1"], "--z must be above 0"),
    (["--z", "0"], "--z must be above 0"),
    (["--alpha", "2"], "--alpha must be between 0 and 1"),
    (["--alpha", "0"], "--alpha must be between 0 and 1"),
    (["--reps", "0"], "--reps must be at least 1"),
    (["--lang", "de"], "--lang must be one of en, ru"),
    (["--delimiter", ";;"], "must be one character"),
])
def test_bad_options_exit_2_before_writing(opt: list[str], words: str, election: Path,
                                           tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    rc, _, err = run(["audit", str(election), "--out", str(out), "--format", "json", *opt],
                     capsys)
    assert rc == 2
    assert words in err
    assert not (out / "findings.json").exists()


def test_only_lists_families(election: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(["audit", str(election), "--only", "FOO123"], capsys)
    assert rc == 2
    assert "ARITH, INPUT" in err and "STAT" in err


def test_only_family_prefix_and_code_accepted(election: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    rc, _, _ = run(["audit", str(election), "--out", str(out), "--format", "json",
                    "--only", "arith,INPUT003"], capsys)
    assert rc == 0
    doc = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    ran = {c["code"] for c in doc["checks"] if c["status"] != "skipped"}
    assert "INPUT003" in ran and "ARITH001" in ran and "INPUT001" not in ran


def test_cli_langs_match_report() -> None:
    from auditor.report.render import LANGS as REPORT_LANGS

    assert LANGS == REPORT_LANGS


# 4/5. Paths and delimiters ------------------------------------------------------------------


@pytest.mark.parametrize("cmd", ["audit", "inspect", "diff"])
def test_folder_input_exits_2(cmd: str, tmp_path: Path, election: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    args = [cmd, str(folder)] + ([str(election)] if cmd == "diff" else [])
    rc, _, err = run(args, capsys)
    assert rc == 2
    assert "is a folder, not a file of results" in err
    assert "\n" not in err.strip()


def test_missing_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(["inspect", str(tmp_path / "nope.csv")], capsys)
    assert rc == 2 and "no such file" in err


@pytest.mark.parametrize("spelling", ["\t", "\\t", "\\\\t", "tab"])
def test_tab_delimiter_spellings(spelling: str, tmp_path: Path) -> None:
    p = tmp_path / "t.tsv"
    p.write_text("station\tregistered\tvalid\tA\tB\n1\t100\t50\t30\t20\n2\t90\t40\t10\t30\n",
                 encoding="utf-8")
    ld = load_one(p, LoadOptions(delimiter=spelling))
    assert ld.info.delimiter == "\t"
    assert ld.mapping.counts["registered"] == "registered"
    assert ld.info.rows_in_model == 2


# 6. JSON with NaN ---------------------------------------------------------------------------


def test_json_writer_replaces_nan_and_inf() -> None:
    run_ = AuditRun.from_dict({"schema_version": "1.0", "findings": []})
    run_.figures = {"stat": {"r": float("nan"), "xs": [1.0, float("inf"), 2.5]}}
    run_.summary = {"corr": float("-inf"), "nested": {"a": (float("nan"), 3)}}
    doc = json.loads(dumps_json(run_))
    assert doc["figures"]["stat"] == {"r": None, "xs": [1.0, None, 2.5]}
    assert doc["summary"]["corr"] is None
    assert doc["summary"]["nested"] == {"a": [None, 3]}


# 7/10. German numbers -----------------------------------------------------------------------


def test_german_semicolon_file_reads_thousands(tmp_path: Path) -> None:
    p = tmp_path / "de.csv"
    p.write_text("Wahlbezirk;Wahlberechtigte;Wähler;Ungültige;Gültige;CDU;SPD\n"
                 "001;1.413;800;10;790;400;390\n"
                 "002;3.000;1.000;20;980;500;480\n"
                 "003;900;500;5;495;95;400\n", encoding="utf-8")
    m = load([p])
    u = m.units.sort("unit_id").collect()
    assert u["registered"].to_list() == [1413, 3000, 900]
    assert u["voters"].to_list() == [800, 1000, 500]
    assert m.issues.collect().height == 0  # no INPUT004 for "1.413"
    notes = m.inputs[0].notes
    assert any("'.' was read as the thousands separator" in n for n in notes)
    assert any(n.startswith("3 count cells (of mapped columns) with '.' thousands") for n in notes)


def test_dotted_thousands_in_comma_file(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    p.write_text('station,registered,valid,A,B\n1,"1.200",600,300,300\n2,800,400,100,300\n',
                 encoding="utf-8")
    u = load([p]).units.sort("unit_id").collect()
    assert u["registered"].to_list() == [1200, 800]


def test_english_decimals_stay_fractions(tmp_path: Path) -> None:
    p = tmp_path / "en.csv"
    p.write_text("station,registered,valid,A,B\n1,1200,600,300.5,299.5\n2,800,400,100,300\n",
                 encoding="utf-8")
    m = load([p])
    assert m.issues.filter(pl.col("code") == "INPUT004").collect().height == 2


# 8. Synonyms and plain inspect --------------------------------------------------------------


@pytest.mark.parametrize("header", ["spoilt", "Spoilt ballots", "spoiled ballots",
                                    "rejected ballots", "null", "nuls", "blank or spoilt"])
def test_invalid_synonyms(header: str, tmp_path: Path) -> None:
    p = tmp_path / "s.csv"
    p.write_text(f"ward,electorate,{header},Labour,Green\nA,1200,6,300,294\n", encoding="utf-8")
    ld = load_one(p, LoadOptions())
    assert ld.mapping.counts.get("invalid") == header
    assert header not in ld.mapping.contests[0].choices


def test_blank_stays_blank_and_cast_synonyms(tmp_path: Path) -> None:
    p = tmp_path / "s.csv"
    p.write_text("ward,electorate,total votes,blank,Labour\nA,1200,606,6,600\n", encoding="utf-8")
    mp = load_one(p, LoadOptions()).mapping
    assert mp.counts["blank"] == "blank" and mp.counts["ballots_cast"] == "total votes"
    assert list(mp.contests[0].choices) == ["Labour"]


def test_turnout_only_as_count(tmp_path: Path) -> None:
    counts, rate = tmp_path / "c.csv", tmp_path / "r.csv"
    counts.write_text("ward,electorate,turnout,Labour,Green\nA,1200,600,300,300\n"
                      "B,1500,900,500,400\n", encoding="utf-8")
    rate.write_text("ward,electorate,turnout,Labour,Green\nA,1200,50.1,300,300\n"
                    "B,1500,60.2,500,400\n", encoding="utf-8")
    assert load_one(counts, LoadOptions()).mapping.counts["ballots_cast"] == "turnout"
    mp = load_one(rate, LoadOptions()).mapping
    assert "ballots_cast" not in mp.counts
    assert list(mp.contests[0].choices) == ["Labour", "Green"]  # not a party either


def test_plain_inspect_lists_choices(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parties = tuple(f"P{i:02d}" for i in range(25))
    p = tmp_path / "many.csv"
    # `ward` instead of `station`: no built-in profile, so the synonyms and `%` rule apply.
    generate(n_stations=10, parties=parties, seed=1).rename({"station": "ward"}).with_columns(
        pl.lit("50.0").alias("P00 %")).write_csv(p)
    rc, out, _ = run(["inspect", str(p)], capsys)
    assert rc == 0
    assert "choices: P00, P01" in out and "P19, … and 5 more" in out and "P20" not in out
    assert "published percent ← P00 %" in out
    assert "sheet None" not in out and "sheet" not in out.splitlines()[1]


def test_plain_inspect_long_contests(tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "oe.csv"
    p.write_text("county,election_district,office,district,party,candidate,votes\n"
                 "Kings,1,Governor,,DEM,Ann,100\nKings,1,Governor,,REP,Bob,80\n"
                 "Kings,1,State Senate,12,DEM,Cid,90\nKings,2,Governor,,DEM,Ann,70\n",
                 encoding="utf-8")
    rc, out, _ = run(["inspect", str(p), "--profile", "openelections"], capsys)
    assert rc == 0
    assert "contest 'Governor' (long format): 2 choices" in out
    assert "contest 'State Senate 12' (long format): 1 choices\n    choices: Cid" in out


# 11. Sheets and render ----------------------------------------------------------------------


def test_sheet_out_of_range(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "w.xlsx"
    p.write_bytes(minimal_xlsx(ROWS))
    rc, _, err = run(["inspect", str(p), "--sheet", "7"], capsys)
    assert rc == 2
    assert "no sheet 7" in err and "the sheets are 0 'results'" in err
    assert "truncated" not in err


def test_sheet_on_csv_is_a_note(election: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(["inspect", str(election), "--sheet", "2"], capsys)
    assert rc == 0
    assert "--sheet 2 ignored" in err


def test_render_error_says_it_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "x.json"
    p.write_text('{"a": 1}', encoding="utf-8")
    rc, _, err = run(["render", str(p)], capsys)
    assert rc == 2
    assert err.count("not an auditor findings.json") == 1


@pytest.mark.parametrize(("args", "words"), [
    (["audit", "x.csv", "--seed", "abc"], "Invalid value for '--seed'"),
    (["audit", "x.csv", "--bogus"], "No such option: --bogus"),
    (["audit"], "Missing argument 'FILE'"),
    (["nosuch"], "No such command 'nosuch'"),
])
def test_usage_errors_are_one_paragraph(args: list[str], words: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(args, capsys)
    assert rc == 2 and out == ""
    assert err.startswith("auditor: ") and words in err and "--help`)" in err
    assert err.count("\n") == 1 and "Usage:" not in err and "Traceback" not in err
