"""Election-level false-alarm rates of the STAT checks themselves on clean simulated elections.

200 clean elections (`auditor.stats.simulate_election`: 600 stations in 5 regions, stations
of about 400 voters, turnout independent of shares within a region) go through the check
functions of `checks/stat.py` with α = 0.05; an election counts as a false alarm for a check
when the check reports anything. Each rate must be ≤ α within its 95 % Wilson interval
(the interval's lower end ≤ α). The textbook second-digit Benford test, on the same
elections, rejects far more often: the reason STAT004 decides on the calibrated p-value.

Measured (seeds 30,000 + i): STAT001 7/200, STAT002 3/200, STAT003 0/200 (the uniform null
of the dip test is conservative), STAT004 4/200, STAT005 0/200 (its rank-based null is
conservative); the textbook 2BL test rejects 123/200 (62 %).
"""

from __future__ import annotations

from functools import cache

import pytest

from auditor.commands.calibrate import wilson
from auditor.registry import CheckOutput, load_catalogue
from auditor.stats import simulate_election
from auditor.stats.from_model import from_simulation, to_model

N_ELECTIONS = 200
ALPHA = 0.05
CODES = ("STAT001", "STAT002", "STAT003", "STAT004", "STAT005")


@cache
def alarms() -> dict[str, int]:
    """Elections (of N_ELECTIONS) in which each check reported anything; computed once."""
    cat = load_catalogue()
    out = {c: 0 for c in CODES}
    out["classic_2bl"] = 0
    for i in range(N_ELECTIONS):
        e = simulate_election(600, 5, seed=30_000 + i, median_size=400, size_sigma=0.35)
        m = to_model(from_simulation(e, seed=i), alpha=ALPHA, seed=i, reps=200)
        m.options["stat_figures"] = False
        for code in CODES:
            res = cat[code].fn(m)
            assert isinstance(res, CheckOutput)
            rows = res.rows.collect() if hasattr(res.rows, "collect") else res.rows
            out[code] += rows.height > 0
            if code == "STAT004":
                tests = res.summary["STAT004"]["tests"]
                out["classic_2bl"] += any(
                    t["digit"] == "second" and t["p_classic"] <= ALPHA for t in tests)
    return out


@pytest.mark.parametrize("code", CODES)
def test_false_alarm_rate_at_most_alpha(code: str) -> None:
    k = alarms()[code]
    lo, hi = wilson(k, N_ELECTIONS)
    assert lo <= ALPHA, f"{code}: {k}/{N_ELECTIONS} clean elections flagged (95 % CI {lo:.3f}–{hi:.3f})"


def test_textbook_benford_rejects_far_more_often_than_the_calibrated_check() -> None:
    k = alarms()["classic_2bl"]
    lo, _ = wilson(k, N_ELECTIONS)
    assert lo > 3 * ALPHA, f"textbook 2BL rejected {k}/{N_ELECTIONS}"
    assert k > 5 * max(1, alarms()["STAT004"])
