"""SEAT checks and `auditor seats` on small hand-made models.

Seat arithmetic itself (methods, ties, invariance) is tested with auditor/seats.py; here the
checks' inputs (threshold base, exclusions, releases) and their findings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from auditor.cli import main
from auditor.engine import audit
from auditor.ingest import LoadOptions, load
from auditor.model import PUBLISHED_SCHEMA, Model
from checks import seat

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "checks"


def model(tallies: dict[str, dict[str, int]], contest: str = "list",
          invalid: int = 0, label: str | None = None, **rules: Any) -> Model:
    """One unit per key of `tallies` (unit → choice → votes); valid = Σ votes."""
    units, votes = [], []
    for i, (uid, t) in enumerate(tallies.items()):
        units.append({"contest": contest, "unit_id": uid, "source_file": 0, "source_row": i + 2,
                      "region": "R", "district": uid, "valid": sum(t.values()),
                      "invalid": invalid})
        votes += [{"contest": contest, "unit_id": uid, "choice": c, "votes": v}
                  for c, v in t.items()]
    return Model(units=pl.LazyFrame(units), votes=pl.LazyFrame(votes),
                 hierarchy=["region", "district"], options=dict(rules), label=label)


def findings(m: Model, code: str) -> list[Any]:
    """Findings of one code on `m` (the check must run, not be skipped or fail)."""
    run = audit(m, only=[code])
    assert run.checks[0].status in ("ok", "findings"), run.checks[0]
    return [f for f in run.findings if f.code == code]


def test_threshold_base_forms() -> None:
    m = model({"u1": {"A": 60, "B": 40}, "u2": {"A": 30, "B": 20}}, invalid=5)
    votes = seat.contest_votes(m, "list")
    assert votes == {"A": 90, "B": 60}
    assert seat.threshold_base(m, "list", votes) == (150, "the sum of votes")
    m.options["threshold_base"] = "valid+invalid"
    assert seat.threshold_base(m, "list", votes) == (160, "valid+invalid")
    # Ballots cast is not in the data: valid + invalid stand for it.
    m.options["threshold_base"] = "ballots_cast"
    assert seat.threshold_base(m, "list", votes) == (160, "ballots_cast")
    m.options["threshold_base"] = "registered"
    assert seat.threshold_base(m, "list", votes)[0] == 150


def test_setup_excludes_against_all_and_reads_method_aliases() -> None:
    m = model({"u": {"A": 500, "B": 300, "C": 60, "Against all": 140}},
              seats=10, method="largest_remainder", threshold=0.07, against_all="Against all")
    s = seat.setup(m)
    assert s is not None
    assert s.method == "hare" and s.exclude == ("Against all",)
    got = {a.choice: (a.seats, a.eligible) for a in s.allocation}
    # C has 6 % < 7 % of all 1,000 votes, against-all included in the base.
    assert got == {"A": (6, True), "B": (4, True), "C": (0, False), "Against all": (0, False)}
    with pytest.raises(seat.SeatRulesError):
        seat.norm_method("borda")


def test_seat001_near_threshold_is_info() -> None:
    m = model({"u": {"A": 600, "B": 348, "C": 52}}, seats=10, threshold=0.05)
    fs = findings(m, "SEAT001")
    assert [(f.choice, f.severity) for f in fs] == [("C", "info")]
    assert fs[0].message == ("C 5.20 %, 0.20 points above the 5 % threshold (2 votes more "
                             "than 5 % of the current base of 1,000)")
    assert fs[0].delta == pytest.approx(0.2)


def test_seat001_flip_between_releases() -> None:
    prelim = model({"u": {"A": 600, "B": 354, "C": 46}}, label="preliminary")
    manual = model({"u": {"A": 500, "B": 400, "C": 100}}, label="manual count")
    final = model({"u": {"A": 600, "B": 355, "C": 45}}, label="final", seats=10,
                  threshold=0.05, threshold_margin_pp=0.1)
    final.previous = [prelim, manual]
    fs = findings(final, "SEAT001")
    assert [(f.choice, f.severity, f.key) for f in fs] == [("C", "warning", "flip")]
    assert fs[0].message == (
        "C 4.50 %, 0.50 points below the 5 % threshold (5 votes fewer than 5 % of the "
        "current base of 1,000); out at 4.60 % in "
        "preliminary, in at 10.00 % in manual count, out in this release")


def test_seat002_published_rows_and_rule() -> None:
    m = model({"u": {"A": 450, "B": 350, "C": 200}}, seats=10, method="dhondt")
    pub = pl.DataFrame([{"contest": "list", "level": "total", "unit_id": None, "choice": c,
                         "measure": "seats", "value": float(v), "base": None, "decimals": 0,
                         "source_file": 0, "source_row": i + 2, "field": None}
                        for i, (c, v) in enumerate({"A": 5, "B": 3, "C": 2}.items())],
                       schema=PUBLISHED_SCHEMA)
    m.published = pub.lazy()
    assert findings(m, "SEAT002") == []  # D'Hondt gives 5 / 3 / 2
    m.options["seats"] = 11  # the 11th quotient is B's 350 / 4 = 87.5
    fs = findings(m, "SEAT002")
    assert [(f.choice, f.observed, f.expected) for f in fs] == [("B", 3.0, 4.0)]
    assert fs[0].message == ("the source gives B 3 seats, the published votes give 4 "
                             "(dhondt, 11 seats)")
    m.published = pl.LazyFrame(schema=PUBLISHED_SCHEMA)
    m.options["published_seats"] = {"A": 5, "B": 4, "C": 2}
    assert findings(m, "SEAT002") == []


def test_seat003_sensitivity_rows() -> None:
    m = model({"u": {"A": 100, "B": 80, "C": 30}}, seats=5, method="dhondt")
    fs = {f.choice: f for f in findings(m, "SEAT003")}
    # The figures of auditor.seats.seat_sensitivity's doctest: A 60/11, B 21/21, C 4/-.
    assert fs["A"].message == "A (3 seats): 60 more votes win a seat; 11 fewer lose one"
    assert fs["B"].votes_affected == 21
    assert fs["C"].message == "C (0 seats): 4 more votes win a seat"


def test_seat004_single_member_districts_and_list() -> None:
    smd = model({"p1": {"X": 300, "Y": 250, "Against all": 320},
                 "p2": {"X": 100, "Y": 90, "Against all": 20}},
                contest="SMD 1", against_all="Against all")
    fs = findings(smd, "SEAT004")
    assert len(fs) == 0  # the district as a whole: X 400 > against all 340
    smd.options["smd_level"] = "district"  # each unit is its own district
    fs = findings(smd, "SEAT004")
    assert [(f.key, f.observed, f.expected) for f in fs] == [("SMD 1 / p1", 320.0, 300.0)]
    assert fs[0].message == ("Against all leads SMD 1 / p1 with 320 votes, ahead of the best "
                             "candidate X (300): the district needs a new election")
    lst = model({"u": {"A": 600, "B": 120, "Against all": 150}}, seats=10, threshold=0.05,
                against_all="Against all")
    fs = findings(lst, "SEAT004")
    assert [(f.choice, f.delta) for f in fs] == [("B", 30.0)]


def flagged_model() -> Model:
    """Two units; u2's choices exceed its valid ballots by 40 (an ARITH001 error)."""
    m = model({"u1": {"A": 500, "B": 480, "C": 20}, "u2": {"A": 300, "B": 290, "C": 10}},
              seats=10, threshold=0.05, method="dhondt")
    m.units = m.units.with_columns(
        pl.when(pl.col("unit_id") == "u2").then(pl.col("valid") - 40).otherwise(pl.col("valid"))
        .alias("valid"))
    return m


def test_seat005_sentence_and_summary() -> None:
    m = flagged_model()
    out = seat.flagged_vs_margins(m)
    assert seat.flagged_units(m) == {"u2"}
    assert out.summary["flagged_votes"] == 560  # valid ballots of u2
    texts = [d["text"] for d in out.summary["decisive"]]
    # A leads B by 30: within the 560 flagged votes.
    assert "flagged stations hold 560 votes; A leads B by 30 votes: the flags could change who " \
           "comes first" in texts
    fs = findings(m, "SEAT005")
    assert all(f.severity == "warning" and f.observed == 560 for f in fs)
    assert {f.key for f in fs} >= {"winner:A"}
    assert all(d["could_change"] == (d["margin_votes"] <= 560) for d in out.summary["decisive"])


def test_seat005_threshold_margin_says_the_base_moves_with_the_votes() -> None:
    # C: 60 of 1,000 votes, 10 above 5 % of the base; losing k votes leaves (60-k)/(1000-k),
    # below 5 % only once k > 10 / 0.95 = 10.5 → 11
    m = model({"u": {"A": 600, "B": 340, "C": 60}}, seats=10, threshold=0.05, method="dhondt")
    (mg,) = [x for x in seat.decisive_margins(m) if x.kind == "threshold"]
    assert (mg.choice, mg.votes) == ("C", 11)
    assert mg.text == ("C would have to lose 11 votes to fall below the 5 % threshold (the "
                       "base shrinking with them)")


def test_winner_margin_of_the_default_contest_and_of_constituency_votes() -> None:
    m = model({"u": {"A": 600, "B": 400}}, contest="all")
    (mg,) = seat.decisive_margins(m)
    assert (mg.votes, mg.stake, mg.text) == (200, "who wins the election", "A leads B by 200 votes")
    # a threshold without seats (BW's municipalities): only the threshold contest has a winner
    m = model({"u": {"A": 600, "B": 400}}, contest="Erststimmen", threshold=0.05,
              threshold_contest="Zweitstimmen")
    assert seat.decisive_margins(m) == []
    m.options["winner_margins"] = True
    assert [x.votes for x in seat.decisive_margins(m)] == [200]


def test_seat005_without_flags_is_silent() -> None:
    m = model({"u1": {"A": 500, "B": 480, "C": 20}}, seats=10, threshold=0.05)
    out = seat.flagged_vs_margins(m)
    rows = out.rows
    assert isinstance(rows, pl.DataFrame) and rows.height == 0
    assert out.summary["flagged_votes"] == 0
    assert out.summary["decisive"][0]["could_change"] is False


@pytest.mark.parametrize("code", ["SEAT001", "SEAT002", "SEAT003", "SEAT004", "SEAT005"])
def test_catalogue_examples(code: str) -> None:
    folder = FIX / code
    prof = folder / "profile.toml"
    found = {}
    for kind in ("good", "bad"):
        m = load([folder / f"{kind}.csv"],
                 LoadOptions(profile=str(prof) if prof.exists() else None))
        found[kind] = len(findings(m, code))
    assert found["good"] == 0 and found["bad"] >= 1


def test_seats_command_json_and_table(capsys: pytest.CaptureFixture[str]) -> None:
    f = FIX / "SEAT002" / "bad.csv"
    prof = str(FIX / "SEAT002" / "profile.toml")
    assert main(["seats", str(f), "--profile", prof, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["choice"], r["seats"]) for r in rows] == [("Alpha", 5), ("Beta", 3), ("Gamma", 2)]
    assert sum(r["votes"] for r in rows) == 3 * 590
    assert rows[0]["share"] == pytest.approx(rows[0]["votes"] / 1770)
    assert main(["seats", str(f), "--profile", prof, "--seats", "4", "--method", "hare",
                 "--threshold", "25"]) == 0
    out = capsys.readouterr().out
    assert "hare, 4 seats, 25 % threshold on valid" in out
    assert "Gamma" in out and "(below threshold)" in out
    assert main(["seats", str(f), "--profile", prof, "--method", "borda"]) == 2


def test_list_vote_without_seats_has_a_first_place_not_a_winner() -> None:
    m = model({"u": {"A": 600, "B": 400}}, contest="Zweitstimmen", threshold=0.05,
              threshold_contest="Zweitstimmen")
    (mg,) = seat.decisive_margins(m)
    assert (mg.votes, mg.stake) == (200, "who comes first in Zweitstimmen")


def _seat005(run: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    return ([f.to_dict() for f in run.findings if f.code == "SEAT005"],
            {k: run.summary.get(k) for k in ("decisive", "flagged_units", "flagged_votes")})


def test_seat005_same_alone_as_after_the_other_checks() -> None:
    from auditor.registry import EARLIER_FINDINGS_OPTION

    m = flagged_model()
    after = audit(m, skip=["STAT"])
    assert EARLIER_FINDINGS_OPTION not in m.options  # the caller's model is left as it was
    # SEAT005 runs last, but the statuses keep the catalogue's order
    assert [c.code for c in after.checks] == sorted(c.code for c in after.checks)
    got = _seat005(after)
    assert got[0] and got[1]["flagged_units"] == 1  # ARITH001's flag on u2 reached SEAT005
    assert _seat005(audit(m, only=["SEAT005"])) == got
    # checks left out of the selection are run for SEAT005, the others' findings are taken
    assert _seat005(audit(m, skip=["ARITH", "STAT"])) == got
    assert _seat005(audit(m, only=["SEAT005", "ARITH001"])) == got


def test_seat005_takes_the_findings_of_the_checks_that_ran() -> None:
    from dataclasses import replace

    from auditor.registry import EarlierFindings, load_catalogue

    m = flagged_model()
    ran = frozenset(load_catalogue())
    # every flagging check ran and found nothing: nothing is recomputed, nothing is flagged
    assert seat.flagged_units(m, earlier=EarlierFindings(ran, ())) == set()
    (f,) = audit(m, only=["ARITH001"]).findings
    moved = replace(f, unit_id="u1")
    assert seat.flagged_units(m, earlier=EarlierFindings(ran, (moved,))) == {"u1"}
    info = replace(f, severity="info")
    assert seat.flagged_units(m, earlier=EarlierFindings(ran, (info,))) == set()
    # a check that did not run is run here
    assert seat.flagged_units(m, earlier=EarlierFindings(ran - {"ARITH001"}, ())) == {"u2"}


def test_seat005_counts_the_votes_a_revision_moved_not_the_units_votes() -> None:
    """A unit revised after publication by one vote puts one vote in doubt, not its 1,000:
    against a lead of 10 votes the flags alone cannot change who comes first (with the
    unit's whole votes they could); a unit also flagged by ARITH counts whole, once."""
    old = model({"u1": {"A": 505, "B": 495}, "u2": {"A": 300, "B": 318}}, label="night")
    new = model({"u1": {"A": 504, "B": 496}, "u2": {"A": 300, "B": 318}}, label="final")
    new.previous = [old]
    whole, revised = seat.flags(new)
    assert whole == set() and revised == {("list", "u1"): 2}
    out = seat.flagged_vs_margins(new)
    assert out.summary["flagged_votes"] == 2 and out.summary["flagged_units"] == 1
    (lead,) = out.summary["decisive"]
    assert (lead["choice"], lead["margin_votes"], lead["could_change"]) == ("B", 10, False)
    assert lead["text"] == (
        "flagged stations hold 0 votes and revisions after publication in 1 other station "
        "moved 2 votes (2 in all); in list, B leads A by 10 votes: the flags alone cannot change "
        "who wins list")
    # u1's choices now also exceed its valid ballots (ARITH001): its 1,000 votes count whole
    new.units = new.units.with_columns(
        pl.when(pl.col("unit_id") == "u1").then(pl.col("valid") - 40).otherwise(pl.col("valid"))
        .alias("valid"))
    whole, revised = seat.flags(new)
    assert whole == {"u1"} and revised == {}
    assert seat.flagged_vs_margins(new).summary["flagged_votes"] == 960
