"""Exact checks (ARITH, AGG) on real elections, against figures counted independently in each
dataset's SOURCE.md. Each file is loaded once per module and its frames materialised once, so
that every check does not parse the file again."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import polars as pl
import pytest

from auditor.engine import audit, prepare
from auditor.findings import AuditRun
from auditor.ingest import LoadOptions, load
from auditor.model import Model
from checks.agg import ROLLUP_KEYS, rollups, unit_sums, unit_totals
from tests.conftest import data_file

pytestmark = pytest.mark.integration

GE = "ge_2024_parliament_sichinava/georgia_parliamentary_elections_{}_2024.xlsx"
BW_FINAL = "de_btw25_bw_snapshots/2025-03-13-12-59-36-btw25-bw-gemeinden.csv"
DE = "us_de_2016_openelections/20161108__de__general__precinct.csv"
DE_R1 = "us_de_2016_openelections/20161108__de__general__precinct__release1_commitdb9f183a.csv"
EU = "de_ew24_wahlbezirke/ew24_wbz.zip"


def loaded(rel: str, profile: str | None = None) -> Model:
    m = load([data_file(rel)], LoadOptions(profile=profile))
    m.units, m.votes, m.published, m.issues = (
        f.collect().lazy() for f in (m.units, m.votes, m.published, m.issues))
    return prepare(m)


def counts(run: AuditRun, code: str) -> Counter[str | None]:
    return Counter(f.key for f in run.findings if f.code == code)


def units(run: AuditRun, code: str, key: str | None = None) -> list[str | None]:
    return sorted(f.unit_id for f in run.findings
                  if f.code == code and (key is None or f.key == key))


@pytest.fixture(scope="module")
def ge15() -> AuditRun:
    return audit(loaded(GE.format("nov15")), only=["INPUT", "ARITH", "AGG"])


@pytest.fixture(scope="module")
def ge13() -> AuditRun:
    return audit(loaded(GE.format("nov13")), only=["INPUT", "ARITH", "AGG"])


def test_georgia_nov15_figures(ge15: AuditRun) -> None:
    assert ge15.profile == "ge-cec-2024"
    # Σ parties + f_06 ≠ f_05: 235 precincts (SOURCE.md, over the 3,109 complete rows; the
    # 3,110th row, 81/12, only lacks f_02 and balances).
    assert sum(counts(ge15, "ARITH002").values()) == 235
    assert "81/12" not in units(ge15, "ARITH002")
    assert counts(ge15, "ARITH004") == Counter({"cast>received": 8})  # voters > f_02
    assert len(units(ge15, "ARITH003")) == 2  # voters > unified + special list
    assert units(ge15, "ARITH003") == ["10/76", "60/46"]
    # 12:00 signatures > 17:00: 4. The profile also declares 17:00 signatures ≤ voters,
    # broken once (3/54: 1,250 signatures by 17:00, 1,012 voters).
    assert counts(ge15, "ARITH005") == Counter({"noon-before-afternoon": 4,
                                                "afternoon-before-close": 1})
    assert units(ge15, "ARITH005", "afternoon-before-close") == ["3/54"]
    empty = [(f.unit_id, f.key) for f in ge15.findings if f.code == "INPUT006"]
    assert empty == [("81/12", "ballots_received")]
    f = next(f for f in ge15.findings if f.code == "ARITH002")
    assert f.message.startswith("voters are ") and "votes for all choices + invalid" in f.message
    assert f.votes_affected == abs(f.delta or 0) > 0


def test_georgia_nov13_figures(ge13: AuditRun) -> None:
    assert sum(counts(ge13, "ARITH002").values()) == 218
    # SOURCE.md counts 4 over the 3,109 complete rows; precinct 81/12 (empty f_02) has
    # f_01 = 0 and 732 voters in this release, also more voters than on the lists: 5 in all.
    assert units(ge13, "ARITH003") == ["10/76", "33/19", "44/27", "44/28", "81/12"]
    dup = {f.unit_id for f in ge13.findings if f.code == "INPUT003"}
    assert dup == {"24/23", "24/23#2"}


@pytest.fixture(scope="module")
def bw() -> Model:
    return loaded(BW_FINAL)


def test_bw_final_total_row_matches_the_municipalities(bw: Model) -> None:
    pub = rollups(bw).collect()
    joined = pub.join(unit_sums(bw).collect(), on=ROLLUP_KEYS, how="inner")
    # the `BW` row: registered, voters, valid, invalid and every non-empty choice, 2 contests
    assert pub.height == joined.height == 44
    assert set(pub["unit_id"]) == {"BW"}
    run = audit(bw, only=["ARITH", "AGG"])
    status = {s.code: s.status for s in run.checks}
    assert status["AGG001"] == "ok" and status["ARITH001"] == "ok" and status["ARITH002"] == "ok"
    assert [f.code for f in run.findings] == ["ARITH003"]
    f = run.findings[0]
    assert (f.unit_id, f.observed, f.expected, f.votes_affected) == ("08426013", 3233, 2922, 311)
    # the built-in profile says postal votes are counted in the municipality
    assert f.severity == "warning" and "postal voters (Wahlschein)" in f.message


def test_bw_bad_buchau_postal_caveat(tmp_path: Path) -> None:
    # The rules that make the caveat, on top of the built-in profile: the message does not
    # depend on how the built-in profile evolves.
    prof = tmp_path / "bw.toml"
    prof.write_text('name = "bw-postal"\nextends = "de-bw-btw25"\n\n[rules]\n'
                    'postal_counted_at_unit = true\nover_registered_severity = "warning"\n',
                    encoding="utf-8")
    run = audit(loaded(BW_FINAL, str(prof)), only=["ARITH003"])
    assert len(run.findings) == 1
    f = run.findings[0]
    assert f.severity == "warning"
    assert f.message == ("voters are 3,233 but registered voters are 2,922: 311 more than "
                         "registered (turnout 110.6 %); voters > eligible; postal voters "
                         "(Wahlschein) can make this legal — check")


@pytest.fixture(scope="module")
def delaware() -> Model:
    return loaded(DE)


def test_delaware_contest_totals_and_breakdown(delaware: Model) -> None:
    pub = rollups(delaware).collect()
    joined = pub.join(unit_sums(delaware).collect(), on=ROLLUP_KEYS, how="inner")
    assert pub.height == joined.height == 97  # every `Total` row is compared …
    assert (joined["value"] == joined["units_value"].cast(pl.Float64)).all()  # … and matches
    # 18 of them are totals of contests spanning several counties, filed under one county
    assert (pub["scope_level"] == "total").sum() == 18
    run = audit(delaware, only=["ARITH", "AGG"])
    status = {s.code: s.status for s in run.checks}
    assert status["AGG001"] == "ok"
    assert status["ARITH006"] == "ok"  # election_day + absentee = votes on every row
    # Three absentee-only districts (election_day = 0 everywhere) vote for President and
    # U.S. House only — federal-only ballots — so they are absent from Governor and Lt Gov.
    missing = sorted((f.contest, f.unit_id) for f in run.findings if f.code == "AGG002")
    assert missing == [(c, u) for c in ("Governor", "Lieutenant Governor")
                       for u in ("Kent/16-31", "New Castle/17-02", "Sussex/16-41")]
    assert [f.code for f in run.findings if f.code != "AGG002"] == []


def test_delaware_release1_district_total_rows() -> None:
    m = loaded(DE_R1)
    compared = unit_totals(m).collect()
    assert compared.height == 2370  # `candidate = Total` rows, one per district and contest
    run = audit(m, only=["AGG001"])
    assert run.checks[0].status == "ok" and run.findings == []


def test_germany_eu_2024_has_no_arithmetic_error() -> None:
    m = loaded(EU)
    run = audit(m, only=["ARITH", "AGG"])
    status = {s.code: s.status for s in run.checks}
    assert {c: status[c] for c in ("ARITH001", "ARITH002", "ARITH003")} == {
        "ARITH001": "ok", "ARITH002": "ok", "ARITH003": "ok"}
    assert [f for f in run.findings if f.severity == "error"] == []
    # postal districts carry no electorate: not applicable, not 25,000 turnout findings
    postal = m.units.filter(pl.col("unit_type") == "postal").select(pl.len()).collect().item()
    assert postal == 25_162
    assert run.summary["arith003_turnout_not_applicable"] == {"units": 25_162,
                                                              "unit_types": ["postal"]}
