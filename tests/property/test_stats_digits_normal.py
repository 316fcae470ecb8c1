"""The normal-approximation null of the digit tests (``digit_tests(method="normal")``).

For thousands of stations the digit counts are a sum of many independent categorical
variables; ``digit_tests`` then compares the observed χ² with draws of the digit-count
vector from the normal law with the exact mean and covariance of that sum instead of
redrawing every station. Two promises are checked on simulated clean elections of 3,000
stations: the false-alarm rate at α = 0.05 stays within the rate's binomial noise (200
elections, as in ``test_stats_calibration.py``), and on a few elections, clean and with
fabricated last digits, the calibrated p-values agree with the station-by-station
Monte-Carlo ones within their Monte-Carlo error.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest

from auditor.stats import digit_tests, simulate_election
from auditor.stats.digits import NORMAL_DRAWS

N_ELECTIONS = 200
N_STATIONS = 3000
ALPHA = 0.05
LIMIT = ALPHA + 2 * math.sqrt(ALPHA * (1 - ALPHA) / N_ELECTIONS)  # 0.081


@cache
def normal_p_values() -> dict[str, np.ndarray]:
    second, last = [], []
    for i in range(N_ELECTIONS):
        e = simulate_election(N_STATIONS, n_regions=20, seed=30_000 + i)
        r = digit_tests(e.leader, e.cast, seed=i, method="normal")
        second.append(r.second.p_calibrated)
        last.append(r.last.p_calibrated)
    return {"second": np.array(second), "last": np.array(last)}


@pytest.mark.parametrize("kind", ["second", "last"])
def test_normal_null_false_alarm_rate_is_at_most_alpha(kind: str) -> None:
    p = normal_p_values()[kind]
    assert np.all((p > 0) & (p <= 1))
    rate = float(np.mean(p <= ALPHA))
    assert rate <= LIMIT, f"{kind}: false-alarm rate {rate:.3f} > {LIMIT:.3f}"


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_normal_null_agrees_with_monte_carlo(seed: int) -> None:
    e = simulate_election(N_STATIONS, n_regions=20, seed=40_000 + seed)
    leader = e.leader.copy()
    if seed >= 2:  # a mild fabrication: some last digits moved to 0 or 5
        rng = np.random.default_rng(seed)
        pick = rng.choice(leader.size, 150, replace=False)
        leader[pick] = np.minimum(leader[pick] // 10 * 10 + rng.choice([0, 5], 150), e.cast[pick])
    n_rep = 2000
    mc = digit_tests(leader, e.cast, n_rep=n_rep, seed=seed, method="exact")
    nm = digit_tests(leader, e.cast, seed=seed, method="normal")
    for a, b in ((mc.second, nm.second), (mc.last, nm.last)):
        assert a.chi2 == b.chi2
        p = max(a.p_calibrated, 1.0 / n_rep)
        se = math.sqrt(p * (1 - p) / n_rep + p * (1 - p) / NORMAL_DRAWS)
        assert abs(a.p_calibrated - b.p_calibrated) <= 4 * se + 1e-3, (a.name, seed)
        # the null mean frequencies agree to Monte-Carlo precision
        assert np.abs(a.null_expected - b.null_expected).max() < 2e-3
