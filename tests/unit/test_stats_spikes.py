"""Integer-percentage spikes: hit rules on hand examples, exact null against Monte Carlo."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.stats import (
    StatsInputError,
    integer_spikes,
    kobak_inclusion,
    poisson_binomial_pmf,
    round_to_integer_percent,
    simulate_election,
    spikes_by_group,
)
from auditor.stats.spikes import _classify


def test_kobak_inclusion() -> None:
    # too small; 100 % turnout; ok; 100 % share; nobody voted
    mask = kobak_inclusion([50, 500, 500, 500, 500], [40, 500, 300, 300, 0], [10, 400, 150, 300, 0])
    assert mask.tolist() == [False, False, True, False, False]


@pytest.mark.parametrize(
    ("k", "n", "nearest", "exact", "pct"),
    [
        (1153, 1537, True, False, 75),  # 75.016 %: the count a commission aiming at 75 % writes
        (1154, 1537, False, False, 75),  # 75.081 %
        (3, 4, True, True, 75),
        (600, 1000, True, True, 60),
        (601, 1000, False, False, 60),  # 60.1 %
        (1, 150, True, False, 1),  # 0.667 %: |100 − 150| = 50, half a voter from 1 %
        (2, 150, True, False, 1),  # 1.333 %: also half a voter from 1 %
        (0, 700, True, True, 0),
    ],
)
def test_hit_rules(k: int, n: int, nearest: bool, exact: bool, pct: int) -> None:
    kk, nn = np.array([float(k)]), np.array([float(n)])
    hit, p, _ = _classify(kk, nn, "nearest")
    assert bool(hit[0]) is nearest
    assert int(p[0]) == pct
    assert bool(_classify(kk, nn, "exact")[0][0]) is exact


def test_histogram_bins_are_centred_on_tenths() -> None:
    # 75.016 % → bin 750 (74.95–75.05); 60.1 % → 601; 0.05 % exactly → rounds up to bin 1
    _, _, b = _classify(
        np.array([1153.0, 601.0, 1.0]), np.array([1537.0, 1000.0, 2000.0]), "nearest"
    )
    assert b.tolist() == [750.0, 601.0, 1.0]


def test_round_to_integer_percent_gives_hits() -> None:
    rng = np.random.default_rng(3)
    n = rng.integers(100, 3000, 500)
    k = rng.binomial(n, 0.6)
    r = round_to_integer_percent(k, n)
    hit, _, _ = _classify(r.astype(float), n.astype(float), "nearest")
    assert hit.all()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=0, max_size=40))
def test_poisson_binomial_matches_direct_convolution(p: list[float]) -> None:
    direct = np.array([1.0])
    for pi in p:
        direct = np.convolve(direct, [1.0 - pi, pi])
    assert poisson_binomial_pmf(np.array(p)) == pytest.approx(direct, abs=1e-12)


def test_exact_null_matches_monte_carlo_resampling() -> None:
    # 4,000 replicates of Kobak et al.'s resampling; the exact null must sit inside their noise
    e = simulate_election(400, n_regions=5, seed=11)
    mask = kobak_inclusion(e.registered, e.cast, e.leader)
    k, n = e.leader[mask], e.cast[mask]
    r = integer_spikes(e.leader, e.cast, mask)
    rng = np.random.default_rng(0)
    sims = rng.binomial(n, k / n, size=(4000, n.size)).astype(float)
    hit, pct, bins = _classify(sims, n.astype(float)[None, :], "nearest")
    counts = hit.sum(axis=1)
    se = counts.std() / np.sqrt(counts.size)
    assert abs(counts.mean() - r.expected) < 4 * se
    assert counts.std() == pytest.approx(r.null_sd, rel=0.05)
    p_mc = (1 + np.count_nonzero(counts >= r.observed)) / (1 + counts.size)
    assert p_mc == pytest.approx(r.p_value, abs=0.02)
    # per integer and per bin: within 4 Monte-Carlo standard errors (counts ~ Poisson)
    per_int = np.bincount(pct[hit].astype(int), minlength=101) / counts.size
    tol = 4 * np.sqrt(r.integer_expected / counts.size) + 1e-3
    assert np.all(np.abs(per_int - r.integer_expected) <= tol)
    per_bin = np.bincount(bins.astype(int).ravel(), minlength=1001) / counts.size
    assert r.hist_null_mean is not None
    tol = 4 * np.sqrt(r.hist_null_mean / counts.size) + 1e-3
    assert np.all(np.abs(per_bin - r.hist_null_mean) <= tol)


def test_result_shapes_and_envelope() -> None:
    e = simulate_election(1500, seed=2)
    mask = kobak_inclusion(e.registered, e.cast, e.leader)
    r = integer_spikes(e.cast, e.registered, mask)
    assert r.n_included == int(mask.sum())
    assert r.hist_observed.sum() == r.n_included
    assert r.hist_centers[[0, 750, 1000]].tolist() == [0.0, 75.0, 100.0]
    assert r.integer_observed.sum() == r.observed == int(r.hit.sum())
    assert r.hist_null_mean is not None and r.hist_null_lo is not None
    assert r.hist_null_hi is not None
    assert r.hist_null_mean.sum() == pytest.approx(r.n_included)
    assert np.all(r.hist_null_lo <= r.hist_null_hi)
    big = r.hist_null_mean >= 1.0  # below 1 the 97.5 % quantile may be 0
    assert np.all(r.hist_null_lo[big] <= r.hist_null_mean[big])
    assert np.all(r.hist_null_mean[big] <= r.hist_null_hi[big])
    assert np.isnan(r.hit_prob[~mask]).all() and not r.hit[~mask].any()
    fast = integer_spikes(e.cast, e.registered, mask, histogram=False)
    assert fast.hist_null_mean is None
    assert (fast.p_value, fast.expected, fast.observed) == (r.p_value, r.expected, r.observed)


def test_rounded_stations_are_detected_and_p_is_floored() -> None:
    e = simulate_election(2000, seed=4, rounding=1.0)
    r = integer_spikes(e.leader, e.cast, kobak_inclusion(e.registered, e.cast, e.leader))
    assert r.observed == r.n_included  # every station rounded
    assert r.p_value == 1e-12
    assert r.z > 50


def test_invalid_rows_are_left_out() -> None:
    numer = np.array([300, 5, 700, 40])
    denom = np.array([500, 0, 600, 200])  # n = 0 and k > n are impossible rows
    r = integer_spikes(numer, denom, histogram=False)
    assert r.n_included == 2
    assert r.hit.tolist() == [True, False, False, True]  # 60 % and 20 %


def test_order_of_stations_does_not_matter() -> None:
    e = simulate_election(1000, seed=6)
    perm = np.random.default_rng(1).permutation(e.cast.size)
    a = integer_spikes(e.cast, e.registered, histogram=False)
    b = integer_spikes(e.cast[perm], e.registered[perm], histogram=False)
    assert a.observed == b.observed
    assert a.expected == pytest.approx(b.expected, rel=1e-12)
    assert a.p_value == pytest.approx(b.p_value, rel=1e-9)
    assert b.hit_prob == pytest.approx(a.hit_prob[perm])


def test_bad_input() -> None:
    with pytest.raises(StatsInputError):
        integer_spikes([1, 2], [3])
    with pytest.raises(StatsInputError):
        integer_spikes([1.5], [3])
    with pytest.raises(StatsInputError):
        integer_spikes([1], [3], mode="round")  # type: ignore[arg-type]
    with pytest.raises(StatsInputError):
        integer_spikes([1], [3], include_mask=[1])


def test_spikes_by_group_splits_the_national_test() -> None:
    e = simulate_election(3000, n_regions=6, seed=12, rounding=0.0)
    # round the leader's share in region 0 only
    leader = e.leader.copy()
    in0 = e.region == 0
    leader[in0] = round_to_integer_percent(e.leader[in0], e.cast[in0])
    mask = kobak_inclusion(e.registered, e.cast, leader)
    r = integer_spikes(leader, e.cast, mask, histogram=False)
    g = spikes_by_group(r, e.region)
    assert g.observed.sum() == r.observed
    assert g.expected.sum() == pytest.approx(r.expected)
    assert g.n_included.sum() == r.n_included
    assert g.labels[0] == 0 and g.p_value[0] == 1e-12
    assert np.all(g.p_value[1:] > 1e-3)
    one = spikes_by_group(r, np.zeros(e.region.size, dtype=int))
    assert one.p_value[0] == pytest.approx(r.p_value)
    with pytest.raises(StatsInputError):
        spikes_by_group(r, e.region[:5])
