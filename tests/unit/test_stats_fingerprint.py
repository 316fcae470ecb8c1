"""Fingerprint: histogram and correlation by hand, corner tests on constructed data."""

from __future__ import annotations

import numpy as np
import pytest

from auditor.stats import StatsInputError, fingerprint, simulate_election


def test_histogram_and_correlation_by_hand() -> None:
    t = np.array([0.505, 0.505, 0.995, 1.0, 0.0])
    s = np.array([0.305, 0.305, 0.995, 1.0, 0.0])
    w = np.array([100.0, 50.0, 10.0, 1.0, 2.0])
    r = fingerprint(t, s, w, n_rep=10)
    assert r.hist.shape == (100, 100)
    assert r.hist[50, 30] == 150.0  # 1-point cells; turnout on axis 0, share on axis 1
    assert r.hist[99, 99] == 11.0  # 1.0 belongs to the last cell
    assert r.hist[0, 0] == 2.0
    assert r.hist.sum() == w.sum()
    cov = np.cov(t, s, aweights=w)
    assert r.correlation == pytest.approx(cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1]))
    assert r.edges[[0, 50, 100]].tolist() == [0.0, 0.5, 1.0]


def test_out_of_range_stations_are_excluded() -> None:
    t = np.array([0.5, 1.2, np.nan, 0.6])
    s = np.array([0.5, 0.5, 0.4, -0.1])
    r = fingerprint(t, s, n_rep=5)
    assert (r.n_used, r.n_excluded) == (1, 3)
    assert r.in_corner.shape == (4,)


def test_stuffed_stations_drive_the_corner_and_the_estimate() -> None:
    e = simulate_election(6000, seed=8, stuffing=0.05)
    r = fingerprint(e.turnout, e.share, e.registered, regions=e.region, n_rep=500, seed=1)
    assert r.p_value == 1 / 501
    # stations in the corner are mostly stuffed ones (the corner holds 0.25 % of clean ones)
    assert e.stuffed[r.in_corner].mean() > 0.5
    lo, hi = r.quadrant.fraction_ci
    assert lo <= 0.05 <= hi
    assert r.f_incremental == pytest.approx(0.05, abs=0.02)
    assert r.f_extreme == 0.0


def test_extreme_stuffing_estimate() -> None:
    e = simulate_election(5000, seed=9, extreme_stuffing=0.03)
    r = fingerprint(e.turnout, e.share, e.registered, regions=e.region, n_rep=200)
    assert r.extreme.p_value == 1 / 201
    assert r.f_extreme == pytest.approx(0.03, abs=0.006)
    assert e.extreme[r.in_extreme].all()


def test_regional_differences_alone_are_not_stuffing() -> None:
    # two regions: one high-turnout/high-share, one low/low; no dependence inside either
    rng = np.random.default_rng(0)
    region = np.repeat([0, 1], 2000)
    t = np.r_[rng.uniform(0.3, 0.5, 2000), rng.uniform(0.7, 0.9, 2000)]
    s = np.r_[rng.uniform(0.2, 0.4, 2000), rng.uniform(0.6, 0.8, 2000)]
    pooled = fingerprint(t, s, n_rep=200)
    by_region = fingerprint(t, s, regions=region, n_rep=200)
    # pooled, "above the median" in turnout and in share both mean "region 1"
    assert pooled.correlation > 0.8 and pooled.quadrant.p_value == 1 / 201
    assert by_region.p_value > 0.05 and by_region.quadrant.p_value > 0.05


def test_seed_determinism_and_bad_input() -> None:
    e = simulate_election(800, seed=3)
    a = fingerprint(e.turnout, e.share, e.registered, regions=e.region, seed=4, n_rep=50)
    b = fingerprint(e.turnout, e.share, e.registered, regions=e.region, seed=4, n_rep=50)
    assert a.corner == b.corner and a.quadrant == b.quadrant and a.extreme == b.extreme
    with pytest.raises(StatsInputError):
        fingerprint([0.5], [0.5, 0.4])
    with pytest.raises(StatsInputError):
        fingerprint([0.5], [0.5], quantile=1.0)
    with pytest.raises(StatsInputError):
        fingerprint([0.5], [0.5], regions=[1, 2])
