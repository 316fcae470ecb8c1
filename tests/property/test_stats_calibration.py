"""False-alarm rates of the statistical tests on simulated clean elections.

Each test of ``auditor.stats`` promises a p-value calibrated under its null: on clean
elections, p ≤ α at most a fraction α of the time. We simulate ``N_ELECTIONS`` clean
elections (``simulate_election``: regional Beta turnout and share, lognormal station
sizes, binomial counts; seeded) and require the observed false-alarm rate at α = 0.05 to be
at most α + 2 · sqrt(α(1 − α) / n), the upper end of the rate's binomial noise.

Measured with these seeds (200 elections of 2,000 stations): integer spikes 0.050
(turnout) and 0.040 (leader share; 0.057 and 0.054 over 1,000 other elections, i.e. the
test is calibrated, not conservative), fingerprint corner 0.045, extreme corner 0.000, dip
0.000 (the uniform null is conservative), calibrated second-digit 0.040 and last-digit
0.070 with the digit tests' default null (at 2,000 stations, the normal approximation of the
digit counts; 0.030 and 0.060 with 100 binomial redraws, ``method="exact"``). The textbook
second-digit Benford p-value rejects 0.220 of these clean elections, which is why the
calibrated one exists.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest

from auditor.stats import (
    digit_tests,
    dip_test,
    fingerprint,
    integer_spikes,
    kobak_inclusion,
    simulate_election,
)

N_ELECTIONS = 200
N_STATIONS = 2000
ALPHA = 0.05
LIMIT = ALPHA + 2 * math.sqrt(ALPHA * (1 - ALPHA) / N_ELECTIONS)  # 0.081


@cache
def clean_p_values() -> dict[str, np.ndarray]:
    """p-values of every test on the same clean elections, computed once per session."""
    rows: dict[str, list[float]] = {}

    def add(name: str, p: float) -> None:
        rows.setdefault(name, []).append(p)

    for i in range(N_ELECTIONS):
        e = simulate_election(N_STATIONS, n_regions=20, seed=20_000 + i)
        mask = kobak_inclusion(e.registered, e.cast, e.leader)
        add("spikes_turnout", integer_spikes(e.cast, e.registered, mask, histogram=False).p_value)
        add("spikes_share", integer_spikes(e.leader, e.cast, mask, histogram=False).p_value)
        voted = e.cast > 0
        fp = fingerprint(
            e.turnout[voted],
            e.share[voted],
            e.registered[voted],
            regions=e.region[voted],
            n_rep=200,
            seed=i,
        )
        add("fingerprint", fp.p_value)
        add("fingerprint_extreme", fp.extreme.p_value)
        add("dip_turnout", dip_test(e.turnout, n_rep=200).p_value)
        digits = digit_tests(e.leader, e.cast, n_rep=100, seed=i)
        add("second_digit_calibrated", digits.second.p_calibrated)
        add("last_digit_calibrated", digits.last.p_calibrated)
        add("second_digit_classic", digits.second.p_classic)
    return {k: np.array(v) for k, v in rows.items()}


@pytest.mark.parametrize(
    "name",
    [
        "spikes_turnout",
        "spikes_share",
        "fingerprint",
        "fingerprint_extreme",
        "dip_turnout",
        "second_digit_calibrated",
        "last_digit_calibrated",
    ],
)
def test_false_alarm_rate_is_at_most_alpha(name: str) -> None:
    p = clean_p_values()[name]
    assert p.size == N_ELECTIONS
    assert np.all((p > 0) & (p <= 1))
    rate = float(np.mean(p <= ALPHA))
    assert rate <= LIMIT, f"{name}: false-alarm rate {rate:.3f} > {LIMIT:.3f}"


def test_textbook_benford_rejects_clean_elections() -> None:
    # the reason the calibrated p-value exists: the chi-square test against Benford's
    # second-digit law flags clean elections far more often than α
    rate = float(np.mean(clean_p_values()["second_digit_classic"] <= ALPHA))
    assert rate > 0.15, f"textbook 2BL rejected only {rate:.3f} of clean elections"
    assert rate > 2 * float(np.mean(clean_p_values()["second_digit_calibrated"] <= ALPHA))
