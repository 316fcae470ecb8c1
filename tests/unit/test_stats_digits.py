"""Digit tests: Benford probabilities, digit extraction, classic vs calibrated p-values."""

from __future__ import annotations

import numpy as np
import pytest

from auditor.stats import StatsInputError, benford_second_digit, chi2_sf, digit_tests
from auditor.stats.digits import NORMAL_DRAWS, NORMAL_MIN_STATIONS, _second_digits


def test_benford_second_digit_law() -> None:
    b = benford_second_digit()
    assert b.sum() == pytest.approx(1.0)
    # textbook values: P(0) = 0.1197, P(9) = 0.0850
    assert b[0] == pytest.approx(0.11968, abs=1e-5)
    assert b[9] == pytest.approx(0.08500, abs=1e-5)
    assert np.all(np.diff(b) < 0)


def test_second_digit_extraction() -> None:
    c = np.array([10, 19, 99, 100, 109, 1234, 98765, 1_000_000])
    assert _second_digits(c).tolist() == [0, 9, 9, 0, 0, 2, 8, 0]


@pytest.mark.parametrize(("method", "null", "draws"),
                         [("exact", "exact", 50), ("auto", "normal", NORMAL_DRAWS)])
def test_classic_p_value_is_the_chi_square_tail(method: str, null: str, draws: int) -> None:
    rng = np.random.default_rng(1)
    sizes = rng.integers(200, 2000, 3000)
    counts = rng.binomial(sizes, 0.5)
    r = digit_tests(counts, sizes, n_rep=50, seed=1, method=method)
    for t in (r.second, r.last):
        assert t.n == int(np.count_nonzero(counts >= 10)) == int(t.observed.sum())
        exp = t.n * t.reference
        assert t.chi2 == pytest.approx(float(((t.observed - exp) ** 2 / exp).sum()))
        assert t.p_classic == pytest.approx(chi2_sf(t.chi2, 9))
        assert t.null_expected.sum() == pytest.approx(1.0)
        assert (t.null, t.null_draws) == (null, draws)
        assert 1 / (1 + draws) <= t.p_calibrated <= 1.0


def test_fabricated_last_digits_are_caught_by_both() -> None:
    rng = np.random.default_rng(2)
    sizes = rng.integers(300, 1500, 2000)
    counts = rng.binomial(sizes, 0.55)
    clean = counts.copy()
    counts[:600] = counts[:600] // 10 * 10 + rng.choice([0, 5], 600)  # people like 0 and 5
    # the Monte-Carlo null: none of the 200 redraws comes near the observed χ²
    r = digit_tests(counts, sizes, n_rep=200, seed=0, method="exact")
    assert (r.last.null, r.last.null_draws) == ("exact", 200)
    assert r.last.p_classic < 1e-6
    assert r.last.p_calibrated == 1 / 201
    # the default ("auto") takes the normal null at 2,000 stations: same χ², none of its
    # 20,000 draws reaches it, so p is 100 times finer than with 200 redraws
    a = digit_tests(counts, sizes, n_rep=200, seed=0)
    assert (a.last.null, a.last.null_draws) == ("normal", NORMAL_DRAWS)
    assert a.last.chi2 == r.last.chi2
    assert a.last.p_calibrated == 1 / (1 + NORMAL_DRAWS)
    # the same stations before the fabrication: the textbook 2BL test rejects, neither
    # calibrated test of the default null does
    c = digit_tests(clean, sizes, n_rep=200, seed=0)
    assert c.second.null == c.last.null == "normal"
    assert c.second.p_classic < 1e-5
    assert c.second.p_calibrated > 0.05
    assert c.last.p_calibrated > 0.05


def test_auto_takes_the_normal_null_from_2000_stations_that_reach_min_count() -> None:
    rng = np.random.default_rng(4)
    sizes = rng.integers(200, 800, NORMAL_MIN_STATIONS)
    counts = rng.binomial(sizes, 0.4)
    assert digit_tests(counts, sizes, n_rep=20, seed=0).last.null == "normal"
    # one station below min_count (size 9) does not count: 1,999 live stations, redraws
    sizes[0], counts[0] = 9, 4
    r = digit_tests(counts, sizes, n_rep=20, seed=0)
    assert (r.second.null, r.second.null_draws) == ("exact", 20)
    assert (r.last.null, r.last.null_draws) == ("exact", 20)
    # an explicit method is taken whatever the number of stations
    small = digit_tests(counts[:500], sizes[:500], seed=0, method="normal")
    assert (small.last.null, small.last.null_draws) == ("normal", NORMAL_DRAWS)
    with pytest.raises(StatsInputError):
        digit_tests(counts, sizes, method="bootstrap")


def test_seed_determinism_and_bad_input() -> None:
    sizes = np.arange(100, 600)
    counts = sizes // 2
    a = digit_tests(counts, sizes, n_rep=20, seed=5)
    b = digit_tests(counts, sizes, n_rep=20, seed=5)
    assert a.second.p_calibrated == b.second.p_calibrated
    assert a.last.p_calibrated == b.last.p_calibrated
    assert np.array_equal(a.second.null_expected, b.second.null_expected)
    # the normal null (the default from 2,000 stations) is seeded too
    big = np.arange(100, 2600)
    c = digit_tests(big // 3, big, seed=5)
    e = digit_tests(big // 3, big, seed=5)
    assert c.last.null == "normal"
    assert (c.second.p_calibrated, c.last.p_calibrated) == (e.second.p_calibrated,
                                                          e.last.p_calibrated)
    assert np.array_equal(c.last.null_expected, e.last.null_expected)
    with pytest.raises(StatsInputError):
        digit_tests([5, 600], [10, 500])  # a count above its size
    with pytest.raises(StatsInputError):
        digit_tests([5], [10], rates=[1.5])
    with pytest.raises(StatsInputError):
        digit_tests([5], [10], min_count=5)
