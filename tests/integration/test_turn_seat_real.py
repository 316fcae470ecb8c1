"""TURN and SEAT on real elections (../shared/data) and on the Kyrgyz 2021 scenario.

Each big file is read once per module and held in memory (`checks.seat.materialised`), so
that the checks do not re-read the source for each query.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from auditor.engine import audit, prepare
from auditor.ingest import LoadOptions, load
from auditor.model import Model
from checks import seat, turn
from tests.conftest import data_file

pytestmark = pytest.mark.integration

KG = Path(__file__).resolve().parents[2] / "fixtures" / "kg2021"


def loaded(rel: str, profile: str) -> Model:
    """A real file read with its profile, held in memory."""
    return seat.materialised(load([data_file(rel)], LoadOptions(profile=profile)))


def short(choice: str) -> str:
    """`5. Всероссийская политическая партия "ЕДИНАЯ РОССИЯ"` → `5` (the list number)."""
    return choice.split(".", 1)[0]


@pytest.fixture(scope="module")
def ru2021() -> Model:
    return loaded("ru_shpilkin_kobak/2021.csv.zip", "ru-duma-2021")


@pytest.fixture(scope="module")
def ru2011() -> Model:
    return loaded("ru_shpilkin_kobak/2011.csv.zip", "ru-duma-2011")


def test_russia_2021_list_seats(ru2021: Model) -> None:
    s = seat.setup(ru2021)
    assert s is not None
    assert (s.seats, s.method, s.threshold, s.base) == (225, "hare", 0.05, 56_329_690)
    got = {short(a.choice): (a.seats, round(100 * a.share, 2)) for a in s.allocation if a.seats}
    # United Russia, CPRF, LDPR, A Just Russia – For Truth, New People.
    assert got == {"5": (126, 49.82), "1": (48, 18.93), "3": (19, 7.55), "6": (19, 7.46),
                   "4": (13, 5.32)}
    run = audit(ru2021, only=["SEAT002"])
    assert run.checks[0].status == "ok"  # compared with the official seats, and they agree
    assert run.findings == []


def test_russia_2011_list_seats(ru2011: Model) -> None:
    s = seat.setup(ru2011)
    assert s is not None
    got = {short(a.choice): a.seats for a in s.allocation if a.seats}
    # United Russia 238, CPRF 92, A Just Russia 64, LDPR 56.
    assert got == {"6": 238, "4": 92, "1": 64, "2": 56}
    run = audit(ru2011, only=["SEAT002"])
    assert run.checks[0].status == "ok"
    assert run.findings == []


@pytest.fixture(scope="module")
def kg_final() -> Model:
    if not (KG / "releases" / "5-final.csv").exists():
        pytest.skip("the Kyrgyz 2021 scenario (fixtures/kg2021) is not built")
    m = load([KG / "releases" / "5-final.csv", KG / "smd" / "5-final-smd.csv"])
    m.previous = [load([KG / "releases" / f"{r}.csv"]) for r in ("3-preliminary", "4-manual-count")]
    prepare(m)
    return seat.materialised(m)


def test_kyrgyz_final_seats(kg_final: Model) -> None:
    s = seat.setup(kg_final)
    assert s is not None
    assert {a.choice: a.seats for a in s.allocation if a.seats} == {
        "Ata-Jurt Kyrgyzstan": 15, "Ishenim": 12, "Yntymak": 9, "Alliance": 7,
        "Butun Kyrgyzstan": 6, "Yiman Nuru": 5}
    assert audit(kg_final, only=["SEAT002"]).findings == []  # the portal's seat table agrees


def test_kyrgyz_invalid_share_against_baseline(kg_final: Model) -> None:
    fs = [f for f in audit(kg_final, only=["TURN003"]).findings
          if f.key == "invalid_share:national:"]
    assert len(fs) == 1
    assert round(fs[0].observed or 0, 2) == 9.62
    assert fs[0].expected == pytest.approx(2.0)
    assert "invalid ballots 9.62 % nationally, outside the baseline of at most 2.00 %" \
        in fs[0].message


def test_kyrgyz_threshold_flips_between_releases(kg_final: Model) -> None:
    fs = [f for f in audit(kg_final, only=["SEAT001"]).findings if f.severity == "warning"]
    assert [f.choice for f in fs] == ["El Umutu"]
    assert "in at 6.02 % in 4-manual-count.csv, out in this release" in fs[0].message


def test_kyrgyz_against_all_wins_two_bishkek_districts(kg_final: Model) -> None:
    fs = audit(kg_final, only=["SEAT004"]).findings
    assert sorted(f.contest or "" for f in fs) == ["SMD 01 Bishkek-1", "SMD 03 Bishkek-3"]
    assert all(f.observed is not None and f.expected is not None and f.observed > f.expected
               for f in fs)


def test_kyrgyz_flagged_votes_against_margins(kg_final: Model) -> None:
    """94 stations were revised after the manual count (REV002), each only in its number of
    registered voters: no vote moved, so the flags alone cannot change who enters
    parliament (counted whole, their 39,583 votes would have said they could)."""
    out = seat.flagged_vs_margins(kg_final)
    whole, revised = seat.flags(kg_final)
    assert whole == set() and len(revised) == 94 and set(revised.values()) == {0}
    assert (out.summary["flagged_votes"], out.summary["flagged_units"]) == (0, 94)
    by_kind = {(d["kind"], d["choice"]): d for d in out.summary["decisive"]
               if d["contest"] == "party list"}
    thr = by_kind[("threshold", "Yiman Nuru")]  # the list closest to falling out
    assert thr["text"] == ("flagged stations hold 0 votes and revisions after publication in "
                           "94 other stations moved 0 votes (0 in all); “Yiman Nuru” would have to "
                           f"lose {thr['margin_votes']:,} votes to fall below the 5 % threshold "
                           "(the base shrinking with them): the flags alone cannot change who "
                           "enters parliament")
    assert thr["margin_votes"] == 15_515
    assert by_kind[("threshold", "El Umutu")]["margin_votes"] == 6_476  # closest to getting in
    assert not any(d["could_change"] for d in out.summary["decisive"])
    rows = out.rows
    assert isinstance(rows, pl.DataFrame) and rows.height == 1  # one info: the smallest margin
    assert rows["severity"].to_list() == ["info"]


@pytest.fixture(scope="module")
def de_ew24() -> Model:
    return loaded("de_ew24_wahlbezirke/ew24_wbz.zip", "de-ew24")


def test_germany_no_turn_findings_on_postal_districts(de_ew24: Model) -> None:
    run = audit(de_ew24, only=["TURN"])
    ids = {f.unit_id for f in run.findings}
    types = de_ew24.units.filter(pl.col("unit_id").is_in(sorted(i for i in ids if i)))
    assert types.filter(pl.col("unit_type") == "postal").collect().height == 0
    # At the default z (4.5): 20 turnouts and 4 invalid shares among 66,586 in-person
    # districts (the ten most extreme are in the report note of issue 5).
    assert sum(f.code == "TURN002" for f in run.findings) == 24
    assert turn.z_threshold(de_ew24) == turn.DEFAULT_Z


def test_georgia_late_surges_leave_decreases_to_arith(shared_data: Path) -> None:
    m = loaded("ge_2024_parliament_sichinava/georgia_parliamentary_elections_nov15_2024.xlsx",
               "ge-cec-2024")
    run = audit(m, only=["TURN004", "ARITH005"])
    surges = {f.unit_id for f in run.findings if f.code == "TURN004"}
    decreases = {f.unit_id for f in run.findings
                 if f.code == "ARITH005" and f.key == "noon-before-afternoon"}
    assert len(surges) == 10
    assert len(decreases) == 4
    assert surges.isdisjoint(decreases)
    top = max((f for f in run.findings if f.code == "TURN004"), key=lambda f: f.delta or 0)
    assert top.unit_id == "20/61" and round(top.observed or 0, 1) == 47.8


def test_georgia_2024_seats_are_the_cecs() -> None:
    """The CEC allocated 89/19/16/14/12 (integer parts 148 seats, the two left to the two
    lists with the most votes); the profile's `hare_most_votes` gives the same from the
    final protocols, where largest remainder would give 88/18/17/14/13."""
    m = loaded("ge_2024_parliament_sichinava/georgia_parliamentary_elections_nov15_2024.xlsx",
               "ge-cec-2024")
    s = seat.setup(m)
    assert s is not None and s.method == "hare_most_votes" and s.seats == 150
    got = {a.choice.split(" ", 1)[0]: a.seats for a in s.allocation if a.seats}
    assert got == {"41": 89, "4": 19, "5": 16, "9": 14, "25": 12}
