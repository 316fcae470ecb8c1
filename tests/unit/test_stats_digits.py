"""Digit tests: Benford probabilities, digit extraction, classic vs calibrated p-values."""

from __future__ import annotations

import numpy as np
import pytest

from auditor.stats import StatsInputError, benford_second_digit, chi2_sf, digit_tests
from auditor.stats.digits import _second_digits


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


def test_classic_p_value_is_the_chi_square_tail() -> None:
    rng = np.random.default_rng(1)
    sizes = rng.integers(200, 2000, 3000)
    counts = rng.binomial(sizes, 0.5)
    r = digit_tests(counts, sizes, n_rep=50, seed=1)
    for t in (r.second, r.last):
        assert t.n == int(np.count_nonzero(counts >= 10)) == int(t.observed.sum())
        exp = t.n * t.reference
        assert t.chi2 == pytest.approx(float(((t.observed - exp) ** 2 / exp).sum()))
        assert t.p_classic == pytest.approx(chi2_sf(t.chi2, 9))
        assert t.null_expected.sum() == pytest.approx(1.0)
        assert 1 / 51 <= t.p_calibrated <= 1.0


def test_fabricated_last_digits_are_caught_by_both() -> None:
    rng = np.random.default_rng(2)
    sizes = rng.integers(300, 1500, 2000)
    counts = rng.binomial(sizes, 0.55)
    counts[:600] = counts[:600] // 10 * 10 + rng.choice([0, 5], 600)  # people like 0 and 5
    r = digit_tests(counts, sizes, n_rep=200, seed=0)
    assert r.last.p_classic < 1e-6
    assert r.last.p_calibrated == 1 / 201


def test_seed_determinism_and_bad_input() -> None:
    sizes = np.arange(100, 600)
    counts = sizes // 2
    a = digit_tests(counts, sizes, n_rep=20, seed=5)
    b = digit_tests(counts, sizes, n_rep=20, seed=5)
    assert a.second.p_calibrated == b.second.p_calibrated
    assert a.last.p_calibrated == b.last.p_calibrated
    assert np.array_equal(a.second.null_expected, b.second.null_expected)
    with pytest.raises(StatsInputError):
        digit_tests([5, 600], [10, 500])  # a count above its size
    with pytest.raises(StatsInputError):
        digit_tests([5], [10], rates=[1.5])
    with pytest.raises(StatsInputError):
        digit_tests([5], [10], min_count=5)
