"""AGG checks on tiny hand-made models: units against published totals and roll-ups."""

from __future__ import annotations

from typing import Any

import polars as pl

from auditor.engine import audit
from auditor.model import PUBLISHED_SCHEMA, Model
from auditor.profiles import Profile
from checks.agg import fmt_int, rollups


def pub(rows: list[dict[str, Any]]) -> pl.LazyFrame:
    base = {k: None for k in PUBLISHED_SCHEMA}
    full = [{**base, "measure": "votes", "source_file": 0, **r} for r in rows]
    return pl.DataFrame(full, schema=PUBLISHED_SCHEMA).lazy()


def make(units: list[dict[str, Any]], votes: list[tuple[str, str, str, int | None]],
         published: list[dict[str, Any]] | None = None, hierarchy: list[str] | None = None,
         rules: dict[str, Any] | None = None) -> Model:
    u = pl.DataFrame(units).with_columns(
        pl.col(c).cast(pl.Int64) for c in ("registered", "valid") if c in units[0])
    u = u.with_columns(pl.lit(0, pl.Int64).alias("source_file"),
                       (pl.int_range(pl.len(), dtype=pl.Int64) + 2).alias("source_row"))
    v = pl.DataFrame(votes, schema={"contest": pl.String, "unit_id": pl.String,
                                    "choice": pl.String, "votes": pl.Int64}, orient="row")
    return Model(units=u.lazy(), votes=v.lazy(), published=pub(published or []),
                 hierarchy=hierarchy or [],
                 profile=Profile(name="t", title="t", description="", rules=rules or {}))


UNITS = [
    {"contest": "P", "unit_id": "a", "county": "Kent", "registered": 100, "valid": 80},
    {"contest": "P", "unit_id": "b", "county": "Kent", "registered": 200, "valid": 150},
    {"contest": "P", "unit_id": "c", "county": "Sussex", "registered": 300, "valid": 250},
]
VOTES = [("P", "a", "X", 50), ("P", "a", "Y", 30), ("P", "b", "X", 100), ("P", "b", "Y", 50),
         ("P", "c", "X", 200), ("P", "c", "Y", 50)]


def test_fmt_int_groups_thousands() -> None:
    out = pl.select(fmt_int(pl.lit(pl.Series([0, 999, 1000, 1234567, -4321]))))
    assert out.to_series().to_list() == ["0", "999", "1,000", "1,234,567", "-4,321"]


def test_agg001_contest_total_per_choice_and_count() -> None:
    m = make(UNITS, VOTES, [
        {"contest": "P", "level": "total", "unit_id": "ALL", "choice": "X", "value": 350.0,
         "source_row": 9},
        {"contest": "P", "level": "total", "unit_id": "ALL", "choice": "Y", "value": 130.0,
         "source_row": 9},
        {"contest": "P", "level": "total", "unit_id": "ALL", "measure": "registered",
         "value": 600.0, "source_row": 9},
        {"contest": "P", "level": "total", "unit_id": "ALL", "measure": "valid",
         "value": 470.0, "source_row": 9},
    ])
    run = audit(m, only=["AGG001"])
    got = sorted((f.choice, f.key, f.observed, f.expected, f.votes_affected)
                 for f in run.findings)
    assert got == [(None, "valid", 480, 470, 10)]
    f = run.findings[0]
    assert f.unit_id == "ALL" and f.source_row == 9
    assert f.message == ("valid ballots in the contest P: the sum over the 3 units is 480 but "
                         "the published total says 470 (10 more in the units)")


def test_agg001_hierarchy_level_rollups() -> None:
    m = make(UNITS, VOTES, [
        {"contest": "P", "level": "county", "unit_id": "Kent", "choice": "X", "value": 150.0},
        {"contest": "P", "level": "county", "unit_id": "Sussex", "choice": "X",
         "value": 190.0},
    ], hierarchy=["county"])
    run = audit(m, only=["AGG001"])
    assert [(f.unit_id, f.choice, f.delta, f.votes_affected) for f in run.findings] == [
        ("Sussex", "X", 10.0, 10)]
    assert "county Sussex (P): the sum over the 1 unit is 200" in run.findings[0].message


def test_agg001_a_single_rollup_over_several_counties_is_the_contest_total() -> None:
    # Delaware files the statewide President total under one county.
    m = make(UNITS, VOTES, [
        {"contest": "P", "level": "county", "unit_id": "Sussex", "choice": "X",
         "value": 350.0},
    ], hierarchy=["county"])
    r = rollups(m).collect()
    assert r.select("scope_level", "scope").row(0) == ("total", "")
    assert audit(m, only=["AGG001"]).findings == []


def test_agg001_not_applicable_without_published_totals() -> None:
    run = audit(make(UNITS, VOTES), only=["AGG001"])
    assert run.checks[0].status == "not_applicable"


def test_agg002_total_without_detail_and_region_without_rollup() -> None:
    units = [*UNITS, {"contest": "P", "unit_id": "d", "county": "New Castle",
                      "registered": 10, "valid": 10}]
    votes = [*VOTES, ("P", "d", "X", 10)]
    m = make(units, votes, [
        {"contest": "Q", "level": "total", "unit_id": "ALL", "choice": "X", "value": 10.0,
         "source_row": 20},
        {"contest": "P", "level": "county", "unit_id": "Kent", "choice": "X", "value": 150.0},
        {"contest": "P", "level": "county", "unit_id": "Sussex", "choice": "X",
         "value": 200.0},
    ], hierarchy=["county"])
    run = audit(m, only=["AGG002"])
    got = sorted((f.contest, f.unit_id, f.key, f.votes_affected) for f in run.findings)
    assert got == [("P", "New Castle", "no-rollup:county", None),
                   ("Q", "ALL", "no-detail", 10)]
    msgs = {f.key: f.message for f in run.findings}
    assert msgs["no-detail"] == ("a total is published for the contest 'Q' (10 votes) but no "
                                 "unit below it is in the detail")
    assert msgs["no-rollup:county"] == (
        "county 'New Castle' has 1 units in the detail but no published total, while other "
        "county totals of the contest 'P' are published")
    assert audit(m, only=["AGG001"]).findings == []


def test_agg002_unit_missing_from_a_file_wide_contest() -> None:
    units = [{"contest": c, "unit_id": u} for c in ("P", "G") for u in "abcdefghij"]
    units = [x for x in units if not (x["contest"] == "G" and x["unit_id"] == "j")]
    units += [{"contest": "S", "unit_id": "a"}]  # a district contest: not file-wide
    votes = [(x["contest"], x["unit_id"], "X", 10) for x in units]
    votes = [(c, u, ch, 1234 if (c, u) == ("P", "j") else v) for c, u, ch, v in votes]
    run = audit(make(units, votes), only=["AGG002"])
    assert [(f.contest, f.unit_id, f.key, f.votes_affected) for f in run.findings] == [
        ("G", "j", "missing-in-contest", 1234)]
    assert run.findings[0].message == (
        "unit 'j' reports in other contests (1,234 votes) but is missing from the contest "
        "'G', which covers 9 of the file's 10 units")


def test_agg002_share_rule_and_single_contest() -> None:
    units = [{"contest": c, "unit_id": u} for c in ("P", "G") for u in "abcd"]
    units = [x for x in units if not (x["contest"] == "G" and x["unit_id"] == "d")]
    votes = [(x["contest"], x["unit_id"], "X", 1) for x in units]
    assert audit(make(units, votes), only=["AGG002"]).findings == []  # 3/4 < 0.9
    loose = audit(make(units, votes, rules={"agg_universe_share": 0.7}), only=["AGG002"])
    assert [(f.contest, f.unit_id) for f in loose.findings] == [("G", "d")]
    single = [x for x in units if x["contest"] == "P"]
    run = audit(make(single, [(x["contest"], x["unit_id"], "X", 1) for x in single]),
                only=["AGG002"])
    assert run.checks[0].status == "ok"


def test_agg001_unit_level_total_rows() -> None:
    m = make(UNITS, VOTES, [
        {"contest": "P", "level": "unit", "unit_id": "a", "choice": "Total", "value": 80.0},
        {"contest": "P", "level": "unit", "unit_id": "b", "choice": "Total", "value": 151.0,
         "source_row": 30},
        {"contest": "P", "level": "unit", "unit_id": "c", "choice": "X", "value": 201.0},
        {"contest": "P", "level": "unit", "unit_id": "c", "measure": "percent",
         "choice": "X", "value": 80.0},
    ])
    run = audit(m, only=["AGG001"])
    got = sorted((f.unit_id, f.choice, f.votes_affected) for f in run.findings)
    assert got == [("b", "Total", 1), ("c", "X", 1)]
    msg = next(f.message for f in run.findings if f.unit_id == "b")
    assert msg == ("votes for all choices in unit b (P): the sum over its choices is 150 but the "
                   "published total says 151 (1 fewer in the units)")


def test_agg001_registered_is_an_upper_bound_for_partial_releases() -> None:
    rows = [{"contest": "P", "level": "total", "unit_id": "ALL", "measure": "registered",
             "value": v} for v in (1000.0,)]
    short = audit(make(UNITS, VOTES, rows), only=["AGG001"])
    assert short.findings == []  # 600 registered in the reported units, 1,000 in all
    over = [{**rows[0], "value": 550.0}]
    run = audit(make(UNITS, VOTES, over), only=["AGG001"])
    assert [(f.key, f.votes_affected) for f in run.findings] == [("registered", 50)]
    strict = audit(make(UNITS, VOTES, rows, rules={"agg_whole_territory": []}),
                   only=["AGG001"])
    assert [(f.key, f.votes_affected) for f in strict.findings] == [("registered", 400)]
