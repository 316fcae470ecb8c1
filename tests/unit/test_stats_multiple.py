"""Benjamini–Hochberg and robust z-scores on hand-computed examples and properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditor.stats import StatsInputError, benjamini_hochberg, robust_z


def test_bh_hand_example() -> None:
    # sorted p: 0.01 0.03 0.04 0.2 (m = 4) → p·m/rank: 0.04 0.06 0.0533 0.2
    # step-up minimum from the right: 0.04 0.0533 0.0533 0.2 (back in input order below)
    q = benjamini_hochberg([0.01, 0.04, 0.03, 0.2])
    assert q == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.2])


def test_bh_clips_at_one_and_skips_nan() -> None:
    # m = 2 non-NaN values: 0.01 → 0.02, 0.9 → 0.9; NaN stays NaN and does not count in m
    q = benjamini_hochberg([np.nan, 0.9, 0.01])
    assert np.isnan(q[0])
    assert q[1:] == pytest.approx([0.9, 0.02])
    assert benjamini_hochberg([0.6, 0.7]).tolist() == [0.7, 0.7]
    assert benjamini_hochberg([1.0, 1.0, 1.0]).tolist() == [1.0, 1.0, 1.0]
    assert np.isnan(benjamini_hochberg([np.nan])).all()
    assert benjamini_hochberg([]).size == 0


def test_bh_rejects_non_probabilities() -> None:
    with pytest.raises(StatsInputError):
        benjamini_hochberg([0.5, 1.5])
    with pytest.raises(StatsInputError):
        benjamini_hochberg([[0.1, 0.2]])


@given(st.lists(st.floats(0.0, 1.0) | st.just(float("nan")), min_size=1, max_size=60))
def test_bh_properties(p: list[float]) -> None:
    arr = np.array(p)
    q = benjamini_hochberg(arr)
    ok = ~np.isnan(arr)
    assert np.array_equal(np.isnan(q), ~ok)
    assert np.all(q[ok] >= arr[ok] - 1e-15)
    assert np.all(q[ok] <= 1.0)
    order = np.argsort(arr[ok], kind="stable")
    assert np.all(np.diff(q[ok][order]) >= -1e-15)  # monotone in p


def test_robust_z_hand_example() -> None:
    # median 3, |x − 3| = 2 1 0 1 97 → MAD 1, scale 1.4826
    z = robust_z([1, 2, 3, 4, 100])
    assert z == pytest.approx(np.array([-2, -1, 0, 1, 97]) / 1.482602218505602)


def test_robust_z_groups_and_nan() -> None:
    z = robust_z([1, 2, np.nan, 10, 20, 30], ["a", "a", "a", "b", "b", "b"])
    # group a: median 1.5, MAD 0.5; group b: median 20, MAD 10
    assert z[[0, 1, 3, 4, 5]] == pytest.approx(
        np.array([-1.0, 1.0, -1.0, 0.0, 1.0]) / 1.482602218505602
    )
    assert np.isnan(z[2])


def test_robust_z_zero_mad_falls_back_to_mean_absolute_deviation() -> None:
    # MAD of 5 5 5 5 9 is 0; mean |x − 5| = 0.8, scale 1.2533 · 0.8
    z = robust_z([5, 5, 5, 5, 9])
    assert z == pytest.approx([0, 0, 0, 0, 4 / (1.2533141373155001 * 0.8)])
    assert robust_z([3, 3, 3]).tolist() == [0.0, 0.0, 0.0]


def test_robust_z_rejects_mismatched_groups() -> None:
    with pytest.raises(StatsInputError):
        robust_z([1.0, 2.0], ["a"])


@given(
    st.lists(st.integers(-(10**6), 10**6), min_size=3, max_size=40),
    st.sampled_from([0.25, 0.5, 2.0, 8.0]),
    st.integers(-1000, 1000),
)
def test_robust_z_is_affine_invariant(x: list[int], scale: float, shift: int) -> None:
    # powers of two and integers keep the arithmetic exact, so only the method is tested
    arr = np.array(x, dtype=np.float64)
    assert robust_z(arr * scale + shift) == pytest.approx(robust_z(arr), rel=1e-9, abs=1e-9)
