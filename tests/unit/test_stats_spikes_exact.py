"""The fast exact null of STAT001 against brute force: hit probabilities by enumerating every
count, Poisson-binomial tails by direct convolution, regional tests in one pass."""

from __future__ import annotations

from math import lgamma, log

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.stats import integer_spikes, simulate_election, spikes_by_group
from auditor.stats._common import log_factorial_table, poisson_binomial_tails
from auditor.stats.spikes import Mode, _classify, _hit_probabilities


def _brute_hit_probability(k: int, n: int, mode: Mode) -> float:
    """Σ over every count j of n that is a hit of Binomial(n, k / n)'s pmf at j."""
    j = np.arange(n + 1, dtype=np.float64)
    hit, _, _ = _classify(j, np.full(n + 1, float(n)), mode)
    if k in (0, n):
        return float(hit[k])
    p = k / n
    logpmf = np.array([lgamma(n + 1) - lgamma(x + 1) - lgamma(n - x + 1) for x in range(n + 1)])
    logpmf += j * log(p) + (n - j) * log(1.0 - p)
    return float(np.exp(logpmf)[hit].sum())


@pytest.mark.parametrize("mode", ["nearest", "exact"])
def test_hit_probabilities_match_enumeration(mode: Mode) -> None:
    rng = np.random.default_rng(3)
    # small stations (a count near two integer values), ties (n ≡ 50 mod 100), large ones
    n = np.concatenate([rng.integers(1, 100, 60), rng.integers(100, 3000, 60),
                        np.array([150, 250, 1550, 2050, 2, 100, 200, 7746])])
    k = np.array([rng.integers(0, x + 1) for x in n])
    k[:3], k[3:6] = 0, n[3:6]
    prob, _ = _hit_probabilities(k, n, log_factorial_table(int(n.max())), mode)
    brute = np.array([_brute_hit_probability(int(a), int(b), mode)
                      for a, b in zip(k, n, strict=True)])
    assert prob == pytest.approx(brute, rel=1e-6, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 3)), min_size=0, max_size=60),
       st.integers(-2, 30))
def test_poisson_binomial_tails_match_direct_convolution(
        items: list[tuple[float, int]], shift: int) -> None:
    p = np.array([x for x, _ in items])
    codes = np.array([g for _, g in items], dtype=np.int64)
    direct = {}
    for g in range(4):
        d = np.array([1.0])
        for pi in p[codes == g]:
            d = np.convolve(d, [1.0 - pi, pi])
        direct[g] = d
    observed = np.array([min(shift, direct[g].size) for g in range(4)], dtype=np.int64)
    tails, total = poisson_binomial_tails(p, codes, observed, 4, int(observed.sum()))
    for g in range(4):
        assert tails[g] == pytest.approx(direct[g][max(observed[g], 0):].sum(), abs=1e-12)
    whole = np.array([1.0])
    for pi in p:
        whole = np.convolve(whole, [1.0 - pi, pi])
    assert total == pytest.approx(whole[max(int(observed.sum()), 0):].sum(), abs=1e-12)


def test_regional_tests_in_the_same_pass_as_the_national_one() -> None:
    e = simulate_election(4000, n_regions=7, seed=21)
    r = integer_spikes(e.leader, e.cast, histogram=False, groups=e.region)
    plain = integer_spikes(e.leader, e.cast, histogram=False)
    g = spikes_by_group(plain, e.region)
    assert r.by_group is not None and plain.by_group is None
    assert r.p_value == pytest.approx(plain.p_value, rel=1e-9)
    assert r.by_group.labels.tolist() == g.labels.tolist()
    assert r.by_group.observed.tolist() == g.observed.tolist()
    assert r.by_group.p_value == pytest.approx(g.p_value, rel=1e-9)
