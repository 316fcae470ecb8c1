"""TURN checks on small hand-made models: what is flagged, what is not applicable."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from auditor.engine import audit
from auditor.ingest import LoadOptions, load
from auditor.model import Model
from checks import turn

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "checks"


def model(units: list[dict[str, Any]], votes: list[dict[str, Any]] | None = None,
          hierarchy: tuple[str, ...] = ("region", "district"), **options: Any) -> Model:
    """A model from unit dicts (contest defaults to `c`)."""
    units = [{"contest": "c", **u} for u in units]
    vs = [{"contest": "c", **v} for v in (votes or [])]
    vframe = pl.LazyFrame(vs, schema={"contest": pl.String, "unit_id": pl.String,
                                      "choice": pl.String, "votes": pl.Int64})
    return Model(units=pl.LazyFrame(units, infer_schema_length=None), votes=vframe,
                 hierarchy=list(hierarchy), options=dict(options))


def district(n: int, name: str = "D1", region: str = "R1", unit_type: str | None = None,
             registered: int = 1000, start: int = 0) -> list[dict[str, Any]]:
    """n ordinary units with turnout spread 45–55 % and invalid share 1–2 %."""
    out = []
    for i in range(n):
        cast = 450 + (i * 37) % 101
        u: dict[str, Any] = {"unit_id": f"{name}-{start + i}", "region": region,
                             "district": name, "registered": registered,
                             "ballots_cast": cast, "invalid": 5 + (i * 7) % 6}
        if unit_type is not None:
            u["unit_type"] = unit_type
        out.append(u)
    return out


def codes(m: Model, code: str) -> list[Any]:
    """Findings of one code on `m`."""
    return [f for f in audit(m, only=[code]).findings if f.code == code]


def test_turn001_exactly_100_and_not_applicable_units() -> None:
    units = district(5, unit_type="regular")
    units[0]["ballots_cast"] = 1000  # exactly 100 %
    units += [
        {"unit_id": "post", "region": "R1", "district": "D1", "registered": 0,
         "ballots_cast": 0, "invalid": 0, "unit_type": "postal"},
        {"unit_id": "null", "region": "R1", "district": "D1", "registered": None,
         "ballots_cast": 300, "invalid": 1, "unit_type": "regular"},
        {"unit_id": "ev", "region": "R1", "district": "D1", "registered": 50,
         "ballots_cast": 50, "invalid": 0, "unit_type": "evoting"},
    ]
    fs = codes(model(units), "TURN001")
    assert [f.unit_id for f in fs] == ["D1-0"]
    assert fs[0].message == "turnout is exactly 100 %: 1,000 voters of 1,000 registered"


def test_turn002_message_and_z() -> None:
    units = district(30)
    units[7]["ballots_cast"] = 973
    fs = codes(model(units), "TURN002")
    assert [(f.unit_id, f.key) for f in fs] == [("D1-7", "turnout")]
    f = fs[0]
    assert f.observed == pytest.approx(97.3)
    assert f.message.startswith("turnout 97.3 % where the district median is ")
    assert f.delta is not None and f.delta > 8
    # The threshold comes from --z: a very large one silences the finding.
    assert codes(model(units, z=50.0), "TURN002") == []


def test_turn002_compares_within_unit_type_and_skips_postal() -> None:
    home = district(30, unit_type="home")
    abroad = [dict(u, unit_id=f"A-{i}", unit_type="abroad", ballots_cast=u["ballots_cast"] // 5)
              for i, u in enumerate(district(25))]
    # Postal districts: no electorate; e-voting pseudo-stations: huge and unlike any station.
    postal = [{"unit_id": f"P-{i}", "region": "R1", "district": "D1", "registered": 0,
               "ballots_cast": 900 + i, "invalid": 400, "unit_type": "postal"} for i in range(25)]
    ev = [{"unit_id": "E-1", "region": "R1", "district": "D1", "registered": 100_000,
           "ballots_cast": 99_000, "invalid": 0, "unit_type": "evoting"}]
    # Abroad turnout (~10 %) is far below home turnout (~50 %) but normal among abroad units.
    assert codes(model(home + abroad + postal + ev), "TURN002") == []


def test_turn002_small_district_borrows_the_region() -> None:
    units = district(5, name="Small") + district(40, name="Big", start=100)
    units[0]["ballots_cast"] = 990
    fs = codes(model(units), "TURN002")
    assert [f.unit_id for f in fs] == ["Small-0"]
    assert "where the region median is" in fs[0].message


def test_turn002_invalid_share_outlier() -> None:
    units = district(40)
    units[3]["invalid"] = 120
    fs = codes(model(units), "TURN002")
    assert [(f.unit_id, f.key) for f in fs] == [("D1-3", "invalid_share")]
    assert fs[0].message.startswith("invalid ballots 2")


def test_z_cut_and_nominal_rate() -> None:
    assert turn.nominal_rate(4.5) == pytest.approx(6.795e-6, rel=1e-3)
    cut = pl.select(turn.z_cut(4.5, pl.lit(200))).item()
    assert cut == pytest.approx(4.84, abs=0.01)
    big = pl.select(turn.z_cut(4.5, pl.lit(10**7))).item()
    assert big == pytest.approx(4.5, abs=1e-4)


def test_turn003_profile_baseline_and_regional() -> None:
    units = district(10) + district(10, name="D2", region="R2", start=50)
    for u in units:
        if u["region"] == "R2":
            u["invalid"] = 60
    base = [{"measure": "invalid_share", "max": 0.02, "source": "CEC 2017-2021"}]
    fs = codes(model(units, baselines=base), "TURN003")
    assert len(fs) == 1
    share = 100 * sum(u["invalid"] for u in units) / sum(u["ballots_cast"] for u in units)
    assert fs[0].observed == pytest.approx(share)
    assert fs[0].message == (f"invalid ballots {share:.2f} % nationally, outside the baseline "
                             "of at most 2.00 % (source: CEC 2017-2021)")
    regional = [{"measure": "invalid_share", "max_pct": 2.0, "level": "region", "source": "x"}]
    fs = codes(model(units, baselines=regional), "TURN003")
    assert [f.path for f in fs] == ["R2"]


def test_turn003_history_model() -> None:
    old = model(district(20))
    new_units = district(20)
    for u in new_units:
        u["ballots_cast"] = u["ballots_cast"] // 2  # turnout falls from ~50 % to ~25 %
    fs = codes(model(new_units, history=[old]), "TURN003")
    # National and, since the regions match by name, regional.
    assert sorted(f.key for f in fs) == ["turnout:national:", "turnout:region:R1"]
    assert all(f.observed is not None and f.observed < 26 for f in fs)
    assert all("± 10 points" in f.message for f in fs)


def test_turn003_not_applicable_without_baseline() -> None:
    run = audit(model(district(5)), only=["TURN003"])
    assert run.checks[0].status == "not_applicable"


def surge_units() -> list[dict[str, Any]]:
    out = []
    for i in range(30):
        voters = 500 + 9 * i
        aft = round(voters * (1 - (0.12 + 0.002 * i)))
        out.append({"unit_id": f"S-{i}", "region": "R1", "district": "D1", "registered": 1000,
                    "voters": voters, "voters_by_afternoon": aft,
                    "voters_by_noon": aft // 2})
    return out


def test_turn004_late_surge_and_decreases_left_to_arith() -> None:
    units = surge_units()
    units[0].update(voters=700, voters_by_afternoon=300, voters_by_noon=150)  # 57 % late
    units[1].update(voters=700, voters_by_afternoon=300, voters_by_noon=400)  # noon > afternoon
    units[2].update(voters=300, voters_by_afternoon=500, voters_by_noon=100)  # afternoon > final
    m = model(units, count_times={"voters_by_afternoon": "17:00"})
    fs = codes(m, "TURN004")
    assert [f.unit_id for f in fs] == ["S-0"]
    assert fs[0].message.startswith("57.1 % of voters came after 17:00 where the district median")


def test_turn005_unanimous() -> None:
    units = district(3)
    votes = []
    for u in units:
        valid = u["ballots_cast"] - u["invalid"]
        votes += [{"unit_id": u["unit_id"], "choice": "A", "votes": valid - 10},
                  {"unit_id": u["unit_id"], "choice": "B", "votes": 10}]
    votes[2]["votes"] += 10
    votes[3]["votes"] = 0
    tiny = {"unit_id": "tiny", "region": "R1", "district": "D1", "registered": 9,
            "ballots_cast": 5, "invalid": 0}
    votes += [{"unit_id": "tiny", "choice": "A", "votes": 5},
              {"unit_id": "tiny", "choice": "B", "votes": 0}]
    fs = codes(model([*units, tiny], votes), "TURN005")
    assert [(f.unit_id, f.choice) for f in fs] == [("D1-1", "A")]
    assert fs[0].message == f"A received all {votes[2]['votes']} valid votes"


@pytest.mark.parametrize("code", ["TURN001", "TURN002", "TURN003", "TURN004", "TURN005"])
def test_catalogue_examples(code: str) -> None:
    folder = FIX / code
    prof = folder / "profile.toml"
    found = {}
    for kind in ("good", "bad"):
        m = load([folder / f"{kind}.csv"],
                 LoadOptions(profile=str(prof) if prof.exists() else None))
        found[kind] = len(codes(m, code))
    assert found == {"good": 0, "bad": 1}


def test_nominal_rate_is_normal_tail() -> None:
    assert turn.nominal_rate(0.0) == 1.0
    assert turn.nominal_rate(2.0) == pytest.approx(math.erfc(2 / math.sqrt(2)))


def test_turn003_history_file(tmp_path: Path) -> None:
    from fixtures.synth import generate

    old = tmp_path / "old.csv"
    generate(n_stations=300, seed=1).write_csv(old)
    new = tmp_path / "new.csv"
    df = generate(n_stations=300, seed=2)
    # Invalid ballots up by 5 % of the ballots everywhere (valid ballots down as much).
    extra = (df["ballots_cast"] * 0.05).round().cast(df["invalid"].dtype)
    df = df.with_columns(invalid=df["invalid"] + extra, valid=df["valid"] - extra)
    df.write_csv(new)
    m = load([new])
    m.options = {"history": [str(old)]}
    fs = codes(m, "TURN003")
    assert "invalid_share:national:" in {f.key for f in fs}
    f = next(f for f in fs if f.key == "invalid_share:national:")
    assert f.observed is not None and 6 < f.observed < 7
    assert "old.csv" in f.message and "± 2 points" in f.message


def _compare_by_windows(df: pl.DataFrame, hierarchy: list[str], num: str, den: str,
                        ok: pl.Expr) -> pl.DataFrame:
    """The comparison as first written (every level's statistics as windows over every
    unit): the reference `turn.compare` must match number for number."""
    d = df.filter(ok).with_columns(
        (pl.col(num) / pl.col(den)).alias("rate"),
        ((pl.col(num) + 0.375) / (pl.col(den) + 0.75)).sqrt().arcsin().alias("__y"),
        (1.0 / (4.0 * pl.col(den) + 2.0)).alias("__samp"),
    )
    levels = [hierarchy[: i + 1] for i in range(len(hierarchy) - 1, -1, -1)] + [[]]
    names = [h[-1] if h else "national" for h in levels]
    for i, lv in enumerate(levels):
        keys = ["contest", "unit_type", *lv]
        d = d.with_columns(
            pl.len().over(keys).alias(f"__n{i}"),
            pl.col("rate").median().over(keys).alias(f"__med{i}"),
            pl.col("__y").median().over(keys).alias(f"__my{i}"),
            pl.col("__samp").median().over(keys).alias(f"__ms{i}"))
        d = d.with_columns(((pl.col("__y") - pl.col(f"__my{i}")).abs().median().over(keys)
                            * turn.MAD_SCALE).alias(f"__mad{i}"))

    def pick(stem: str) -> pl.Expr:
        e: Any = pl
        for i in range(len(levels) - 1):
            e = e.when(pl.col(f"__n{i}") >= turn.MIN_GROUP).then(pl.col(f"{stem}{i}"))
        last = pl.col(f"{stem}{len(levels) - 1}")
        return last if len(levels) == 1 else e.otherwise(last)

    lvl: Any = pl
    for i in range(len(levels) - 1):
        lvl = lvl.when(pl.col(f"__n{i}") >= turn.MIN_GROUP).then(pl.lit(names[i]))
    lvl = pl.lit(names[-1]) if len(levels) == 1 else lvl.otherwise(pl.lit(names[-1]))
    d = d.with_columns(lvl.alias("level"), pick("__n").alias("n"),
                       pick("__med").alias("median"), pick("__my").alias("__my"),
                       pick("__mad").alias("__mad"), pick("__ms").alias("__ms"))
    tau2 = (pl.col("__mad") ** 2 - pl.col("__ms")).clip(lower_bound=0.0)
    d = d.with_columns(((pl.col("__y") - pl.col("__my")) / (tau2 + pl.col("__samp")).sqrt())
                       .alias("z"))
    return d.drop([c for c in d.columns if c.startswith("__")])


def test_compare_matches_the_window_reference_at_every_level() -> None:
    # Big districts, small districts (compared with their region), a small region (compared
    # with the nation), a missing district name, two unit types and two contests.
    units: list[dict[str, Any]] = []
    for contest in ("c", "d"):
        for name, region, n in (("Big", "R1", 60), ("S1", "R1", 4), ("S2", "R1", 7),
                                (None, "R1", 25), ("Tiny", "R2", 3), ("Mid", "R3", 30)):
            for i, u in enumerate(district(n, name=str(name), region=region)):
                u.update(contest=contest, district=name, unit_id=f"{contest}-{name}-{i}",
                         unit_type="abroad" if i % 9 == 4 else "regular")
                u["ballots_cast"] += (i * 13) % 57 - 28
                units.append(u)
    units[5]["ballots_cast"] = 990
    df = pl.DataFrame(units).with_columns(
        pl.col("ballots_cast").cast(pl.Float64).alias("num"),
        pl.col("registered").cast(pl.Float64).alias("den"))
    ok = pl.col("num") <= pl.col("den")
    for hier in (["region", "district"], ["region"], []):
        want = _compare_by_windows(df, hier, "num", "den", ok).sort("unit_id")
        got = turn.compare(df, hier, "num", "den", ok).collect().sort("unit_id")
        assert got.select(want.columns).equals(want), hier
        assert set(got["level"]) >= ({"district", "region", "national"} if len(hier) == 2
                                     else set())


def _listed_and_shuffled() -> list[Any]:
    # Listed district by district, the groups are read from runs of equal keys; shuffled,
    # they are hashed. Either way: numbered in order of first appearance, same findings.
    units: list[dict[str, Any]] = []
    for name, region, n in (("Big", "R1", 60), ("S1", "R1", 4), ("S2", "R1", 7),
                            (None, "R1", 25), ("Mid", "R3", 30)):
        for i, u in enumerate(district(n, name=str(name), region=region)):
            u.update(contest="c", district=name,
                     unit_type="abroad" if i % 9 == 4 else "regular")
            units.append(u)
    units[3]["ballots_cast"] = 990
    units[20]["invalid"] = 90
    listed = pl.DataFrame(units).sort("region", "district", "unit_type", nulls_last=True,
                                      maintain_order=True)
    shuffled = listed.sample(fraction=1.0, shuffle=True, seed=3)
    keys = ["contest", "unit_type", "region", "district"]
    assert turn._runs(listed, keys) is not None
    assert turn._runs(shuffled, keys) is None
    found = []
    for df in (listed, shuffled):
        first: dict[tuple[Any, ...], int] = {}
        want = [first.setdefault(k, len(first)) for k in df.select(keys).iter_rows()]
        assert turn.comparison_groups(df, ["region", "district"])["__g"].to_list() == want
        fs = codes(model(df.drop("contest").to_dicts()), "TURN002")
        found.append(sorted((f.unit_id, f.key, f.message) for f in fs))
    assert found[0] == found[1]
    assert {(u, k) for u, k, _ in found[0]} >= {("Big-3", "turnout"),
                                                 ("Big-20", "invalid_share")}
    return found[0]


def test_groups_and_outliers_do_not_depend_on_the_order_of_the_rows() -> None:
    assert len(_listed_and_shuffled()) >= 2


def test_large_tables_compare_one_measure_at_a_time_with_the_same_findings(
        monkeypatch: pytest.MonkeyPatch) -> None:
    both = _listed_and_shuffled()
    monkeypatch.setattr(turn, "ONE_PASS_MAX_UNITS", 0)
    assert _listed_and_shuffled() == both


def test_first_seen_ids_number_groups_in_order_of_appearance_with_nulls_as_a_group() -> None:
    df = pl.DataFrame({"a": ["x", "y", None, "x", "y", None, "z"],
                       "b": [1, 2, 3, 1, 5, 3, None]})
    assert turn._first_seen_ids(df, ["a"]).to_list() == [0, 1, 2, 0, 1, 2, 3]
    assert turn._first_seen_ids(df, ["a", "b"]).to_list() == [0, 1, 2, 0, 3, 2, 4]
    assert turn._first_seen_ids(df, ["b", "a"]).to_list() == [0, 1, 2, 0, 3, 2, 4]
    # categorical keys are numbered by their codes, null as one more code: the same groups
    cat = df.with_columns(pl.col("a").cast(pl.Categorical),
                          pl.col("b").cast(pl.String).cast(pl.Categorical))
    assert turn._cheap_codes(cat, ["a", "b"]) and not turn._cheap_codes(df, ["a", "b"])
    assert turn._first_seen_ids(cat, ["a", "b"]).to_list() == [0, 1, 2, 0, 3, 2, 4]
    assert turn._first_seen_ids(cat, ["b", "a"]).to_list() == [0, 1, 2, 0, 3, 2, 4]
    window = turn.comparison_groups(df.with_columns(contest=pl.lit("c"), unit_type=pl.lit("r")),
                                    ["a", "b"])["__g"]
    coded = turn.comparison_groups(cat.with_columns(contest=pl.lit("c"), unit_type=pl.lit("r")),
                                   ["a", "b"])["__g"]
    assert window.to_list() == coded.to_list() == [0, 1, 2, 0, 3, 2, 4]


def _regions(small_region: bool, listed: bool = False) -> tuple[list[dict[str, Any]], set[str]]:
    """Four regions of districts, listed out of order (or region by region), with planted
    outliers; optionally a fifth region of 8 units, whose units can only be compared with
    the nation."""
    units: list[dict[str, Any]] = []
    for r in range(4):
        for d, n in enumerate((30, 12, 25)):  # the 12-unit district takes its region's stats
            units += district(n, name=f"R{r}D{d}", region=f"R{r}", registered=900 + 100 * r)
    if small_region:
        units += district(8, name="TinyD", region="Tiny")
    units[5]["ballots_cast"] = 870
    units[40]["invalid"] = 120
    units[-3]["ballots_cast"] = 990
    planted = {units[5]["unit_id"], units[40]["unit_id"]}
    shuffled = pl.DataFrame(units).sample(fraction=1.0, shuffle=True, seed=5)
    return (shuffled.sort("region", maintain_order=True) if listed else shuffled).to_dicts(), \
        planted


@pytest.mark.parametrize("small_region, listed, size", [
    (False, False, 60), (True, False, 60),
    (False, True, 60),  # slices are views of the table
    (False, False, 40),  # slice numbers 0, 1, 3, 5: none is empty
])
def test_large_tables_compare_region_slices_with_the_same_findings(
        monkeypatch: pytest.MonkeyPatch, small_region: bool, listed: bool, size: int) -> None:
    units, planted = _regions(small_region, listed)

    def found() -> list[tuple[Any, ...]]:
        return [(f.unit_id, f.key, f.message) for f in codes(model(units), "TURN002")]

    whole = found()
    monkeypatch.setattr(turn, "ONE_PASS_MAX_UNITS", 0)
    monkeypatch.setattr(turn, "SLICE_UNITS", size)
    hier = ["region", "district"]
    rates = turn.unit_rates(model(units), exact=True)
    measures = [(x, how) for x in ("turnout", "invalid_share")
                if (how := turn._outliers(rates, x)) is not None]
    coded = turn._coded(rates, hier, measures)
    assert coded.height == rates.height and coded["region"].dtype.is_integer()
    slices = turn._region_slices(rates, coded["region"], [how[2] for _, how in measures])
    if small_region:  # the tiny region's units need every region: no slices
        assert slices is None
    else:  # about 60 units a slice, whole regions: four slices of one region each
        assert slices is not None and len(slices) == 4
        assert sorted(len(s) for s in slices) == [67] * 4
        assert sorted(int(i) for s in slices for i in s) == list(range(len(units)))
        # a region's rows in their order; listed region by region, a slice is a range
        assert all(s.is_sorted() for s in slices)
        assert all(int(s[-1]) - int(s[0]) + 1 == len(s) for s in slices) == listed
    assert found() == whole
    assert {u for u, _, _ in whole} >= planted
