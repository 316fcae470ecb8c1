"""Integer-percentage spikes (Kobak, Shpilkin & Pshenichnikov, Ann. Appl. Stat. 2016).

Public API:

- ``kobak_inclusion(registered, cast, choice_votes)``: the stations Kobak et al. analyse.
- ``integer_spikes(numer, denom, include_mask=None, mode="nearest", histogram=True)`` →
  ``SpikeResult``.
- ``spikes_by_group(result, groups)`` → ``GroupSpikes``: the same test per region (or any
  grouping), for maps and for Benjamini–Hochberg across regions.

What is counted. A station *hits* integer value P (0 ≤ P ≤ 100) when its count k out of n
is the count a commission aiming at P % would write:

- ``mode="nearest"`` (default): k is the count nearest to P · n / 100, i.e.
  |100 · k − P · n| ≤ 50. With n = 1,537 registered voters, 75 % turnout means 1,153 voters
  (75.016 %). This is what the 0.1-point histograms of Shpilkin and Kobak et al. show as
  spikes, and what a rounding commission produces, because an exact 75 % needs n divisible
  by 4.
- ``mode="exact"``: 100 · k / n is exactly an integer (integer arithmetic, no float
  tolerance needed).

The null model is Kobak et al.'s: each station's count is redrawn as
k* ~ Binomial(n, k / n) with its own size and its own rate, independently. Instead of
drawing (say) 1,000 replicates of 100,000 stations, we compute it exactly: each station's
probability π_i of a hit is the sum of its exact binomial probabilities at the hit counts
within its mean ± 7 sd (about 20 counts per station), which also gives the expected
number of stations at each integer P; the number of hits under the null is a sum of
independent Bernoulli(π_i), whose exact law (Poisson-binomial, computed by FFT) gives the
p-value P(hits* ≥ hits). This is the limit of the Monte-Carlo test as the number of
replicates grows, and it is deterministic. Russia 2018 (92,223 stations): 0.3 s of CPU,
against about 8 s for 1,000 binomial replicates. The histogram envelope needs each
station's whole distribution (mean ± 6 sd, ``binomial_pmf_grid``) and costs about 1 s of
CPU more, spread over the cores; ``histogram=False`` skips it.
p-values below 1e-12 (beyond the FFT's accuracy) are reported as 1e-12; ``z`` keeps
the size of the effect.

The 0.1-point histogram bins are centred on multiples of 0.1 (bin j covers
[0.1·j − 0.05, 0.1·j + 0.05), j = 0..1000), so an integer spike sits in the middle of a bin.
Its null envelope (2.5 % and 97.5 % per bin) uses a binomial approximation of each bin's
Poisson-binomial count with the exact mean and variance (Ehm 1991), which is accurate for
a figure.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from auditor.stats._common import (
    BoolArray,
    FloatArray,
    IntArray,
    StatsInputError,
    as_int_counts,
    as_mask,
    binomial_pmf_grid,
    chunks_by_width,
    log_factorial_table,
    poisson_binomial_pmf,
)

Mode = Literal["nearest", "exact"]
P_FLOOR = 1e-12
N_INT = 101
N_BINS = 1001


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields, not objects
class SpikeResult:
    """Integer-percentage test result; arrays per station follow the input order."""

    mode: Mode
    n_included: int
    observed: int
    expected: float
    null_sd: float
    z: float
    p_value: float
    hit: BoolArray
    hit_prob: FloatArray
    integer_observed: IntArray
    integer_expected: FloatArray
    hist_centers: FloatArray
    hist_observed: IntArray
    hist_null_mean: FloatArray | None
    hist_null_lo: FloatArray | None
    hist_null_hi: FloatArray | None

    @property
    def excess(self) -> float:
        """Observed minus expected number of integer-percentage stations."""
        return self.observed - self.expected

    @property
    def integer_excess(self) -> FloatArray:
        """Observed minus expected stations at each integer value 0..100 %."""
        return self.integer_observed - self.integer_expected


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields, not objects
class GroupSpikes:
    """Integer-percentage test per group: one entry per group label, sorted by label."""

    labels: npt.NDArray[np.generic]
    n_included: IntArray
    observed: IntArray
    expected: FloatArray
    p_value: FloatArray


def spikes_by_group(result: SpikeResult, groups: npt.ArrayLike) -> GroupSpikes:
    """Split an integer-spike test by region: observed vs expected hits and a p-value each.

    What: for each group label, the number of included stations, of integer-percentage
    stations, their expected number under the null and the exact p-value P(hits* ≥ hits),
    from the per-station ``result.hit`` and ``result.hit_prob`` (no recomputation).
    Groups without included stations get p = NaN.
    Why: Kobak et al. found the excess concentrated in some regions; per-region p-values,
    adjusted with ``benjamini_hochberg``, say which.
    Example: ``g = spikes_by_group(integer_spikes(cast, registered, mask), region)``;
    ``benjamini_hochberg(g.p_value)`` gives one q-value per region.
    """
    labels_in = np.asarray(groups)
    if labels_in.shape != result.hit.shape:
        raise StatsInputError("groups must have one label per station of the result")
    if labels_in.dtype == object:
        labels_in = labels_in.astype(str)  # None-safe
    labels, codes = np.unique(labels_in, return_inverse=True)
    codes = codes.reshape(-1)
    included = ~np.isnan(result.hit_prob)
    n_groups = labels.size
    n_inc = np.bincount(codes[included], minlength=n_groups).astype(np.int64)
    observed = np.bincount(codes[result.hit], minlength=n_groups).astype(np.int64)
    prob = np.where(included, result.hit_prob, 0.0)
    expected = np.bincount(codes, weights=prob, minlength=n_groups).astype(np.float64)
    p_value = np.full(n_groups, np.nan)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(n_groups + 1))
    for g in np.flatnonzero(n_inc):
        members = order[bounds[g] : bounds[g + 1]]
        pmf = poisson_binomial_pmf(prob[members][included[members]])
        p_value[g] = min(1.0, max(float(pmf[observed[g] :].sum()), P_FLOOR))
    return GroupSpikes(labels, n_inc, observed, expected, p_value)


def kobak_inclusion(
    registered: npt.ArrayLike, cast: npt.ArrayLike, choice_votes: npt.ArrayLike
) -> BoolArray:
    """Stations that Kobak et al. (2016) include in the integer-percentage analysis.

    What: registered ≥ 100, 0 < cast < registered (turnout strictly below 100 %) and
    0 ≤ choice_votes < cast (the choice's share strictly below 100 %).
    Why: tiny stations and 100 % values produce integer percentages by arithmetic, not by
    intent (20 voters out of 20 is 100 %); counting them would flood the test.
    Example: ``kobak_inclusion([50, 500, 500], [40, 500, 300], [10, 400, 150])`` →
    ``[False, False, True]``.
    """
    reg = as_int_counts(registered, "registered")
    c = as_int_counts(cast, "cast")
    v = as_int_counts(choice_votes, "choice_votes")
    if not reg.shape == c.shape == v.shape:
        raise StatsInputError("registered, cast and choice_votes must have the same length")
    return (reg >= 100) & (c > 0) & (c < reg) & (v >= 0) & (v < c)


def _classify(k: FloatArray, n: FloatArray, mode: Mode) -> tuple[BoolArray, FloatArray, FloatArray]:
    """Hit flag, nearest integer percentage and 0.1-point bin of k out of n (n ≥ 1).

    Inputs are whole numbers held in float64. Every product below is an integer under 2**53,
    hence exact, and a correctly rounded quotient of two such integers is an integer only
    when the true quotient is; so ``floor`` of it is the exact integer floor.
    """
    two_n = 2.0 * n
    pct = np.floor((200.0 * k + n) / two_n)
    dist = np.abs(100.0 * k - pct * n)
    hit = dist <= 50.0 if mode == "nearest" else dist == 0.0
    bins = np.floor((2000.0 * k + n) / two_n)
    return hit, pct, bins


def _count_quantiles(mean: FloatArray, var: FloatArray, qs: tuple[float, float]) -> FloatArray:
    """Quantiles of counts with the given means and variances (binomial/Poisson approx)."""
    out = np.zeros((len(qs), mean.size))
    live = mean > 1e-12
    if not live.any():
        return out
    mu = mean[live]
    v = np.clip(var[live], 1e-15, mu)
    kmax = int(np.ceil((mu + 12.0 * np.sqrt(v) + 12.0).max()))
    k = np.arange(kmax + 1, dtype=np.float64)[None, :]
    deficit = mu - v
    m = np.where(deficit > 1e-9 * mu, np.ceil(mu * mu / np.maximum(deficit, 1e-300)), np.inf)
    poisson = ~(m < 100_000)
    m = np.where(poisson, kmax + 1.0, np.maximum(m, kmax + 1.0))
    lf = log_factorial_table(int(m.max()) + 1)
    p = mu / m
    mi = m.astype(np.int64)[:, None]
    ki = k.astype(np.int64)
    binom = (
        lf[mi]
        - lf[ki]
        - lf[mi - ki]
        + k * np.log(p)[:, None]
        + (m[:, None] - k) * np.log1p(-p)[:, None]
    )
    pois = k * np.log(mu)[:, None] - mu[:, None] - lf[ki]
    logpmf = np.where(poisson[:, None], pois, binom)
    cdf = np.cumsum(np.exp(logpmf), axis=1)
    for j, q in enumerate(qs):
        out[j, live] = np.argmax(cdf >= q * cdf[:, -1:], axis=1)
    return out


def _threads() -> int:
    """Worker threads for the histogram null: the cores this process may use, at most 4."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


def _hit_probabilities(
    n: IntArray, p: FloatArray, lf: FloatArray, mode: Mode
) -> tuple[FloatArray, FloatArray]:
    """Null probability of a hit per station, and expected hits per integer value 0..100.

    Only the counts that are hits are evaluated — for each integer value P within the
    station's mean ± 7 sd, the count nearest to P · n / 100 (two counts at an exact tie) —
    each by its exact binomial probability: about 20 evaluations per station instead of
    the whole distribution.
    """
    nf = n.astype(np.float64)
    mean = nf * p
    sd = np.sqrt(mean * (1.0 - p))
    p_lo = np.maximum(0.0, np.floor(100.0 * (mean - 7.0 * sd - 1.0) / nf) - 1.0)
    p_hi = np.minimum(100.0, np.ceil(100.0 * (mean + 7.0 * sd + 1.0) / nf) + 1.0)
    width = (p_hi - p_lo).astype(np.int64) + 1
    station = np.repeat(np.arange(n.size), width)
    offsets = np.cumsum(width) - width
    pct = (np.arange(station.size) - offsets[station]).astype(np.float64) + p_lo[station]
    ns = nf[station]
    target = pct * ns  # whole numbers below 2**53: exact
    # the count nearest to target / 100 from above half a voter: ceil((target − 50) / 100)
    k = np.floor((target + 49.0) / 100.0)
    if mode == "nearest":
        # target ≡ 50 (mod 100): k and k + 1 are both half a voter away; both are hits
        tie = (100.0 * k - target) == -50.0
        station = np.concatenate([station, station[tie]])
        pct = np.concatenate([pct, pct[tie]])
        k = np.concatenate([k, k[tie] + 1.0])
        ns = np.concatenate([ns, ns[tie]])
        keep = k <= ns
        small = ns < 100.0  # below 100 voters a count can be near two integer values
        if small.any():
            _, canonical, _ = _classify(k[small], ns[small], mode)
            keep[small] &= canonical == pct[small]
    else:
        keep = (100.0 * k == target) & (k <= ns)
    station, pct, k, ns = station[keep], pct[keep], k[keep], ns[keep]
    # log pmf(k) = lf[n] + n log q − lf[k] − lf[n − k] + k log(p / q)
    with np.errstate(divide="ignore", invalid="ignore"):
        base = lf[n] + nf * np.log1p(-p)
        logit = np.log(p) - np.log1p(-p)
    ki = k.astype(np.int64)
    degenerate = (p <= 0.0) | (p >= 1.0)
    with np.errstate(invalid="ignore"):  # degenerate rates give NaN here, replaced below
        logpmf = base[station] - lf[ki] - lf[n[station] - ki] + k * logit[station]
    w = np.exp(logpmf)
    if degenerate.any():
        # rates 0 or 1: all mass on k = 0 or k = n
        dg = degenerate[station]
        w[dg] = np.where(k[dg] == np.where(p[station[dg]] >= 1.0, ns[dg], 0.0), 1.0, 0.0)
    prob = np.minimum(np.bincount(station, weights=w, minlength=n.size), 1.0)
    int_exp = np.bincount(pct.astype(np.int64), weights=w, minlength=N_INT)
    return prob.astype(np.float64), int_exp.astype(np.float64)


def _hist_chunk(n: IntArray, p: FloatArray, lf: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Null mean and Σ π² per 0.1-point bin for one chunk of stations."""
    kk, pmf = binomial_pmf_grid(n, p, lf)
    two_n = 2.0 * n.astype(np.float64)[:, None]
    b = np.floor((2000.0 * kk + two_n / 2.0) / two_n).astype(np.int64)
    # a station puts mass in several cells of one bin when n > 1000: sum per (row, bin);
    # bins never decrease along a row, so each (row, bin) is a run of the flat array
    b[:, 0] += N_BINS  # a new row always starts a new run
    starts = np.flatnonzero(np.diff(b.ravel(), prepend=-1))
    b[:, 0] -= N_BINS
    first = b.ravel()[starts]
    per_cell = np.add.reduceat(pmf.ravel(), starts)
    mean = np.bincount(first, weights=per_cell, minlength=N_BINS).astype(np.float64)
    sq = np.bincount(first, weights=per_cell * per_cell, minlength=N_BINS).astype(np.float64)
    return mean, sq


def _hist_null(n: IntArray, p: FloatArray, lf: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Null mean and variance per 0.1-point bin (all stations)."""
    chunks = chunks_by_width(n, p)
    # numpy releases the GIL inside its loops, so threads use several cores; partial sums
    # are added in chunk order: the result does not depend on thread scheduling
    with ThreadPoolExecutor(max_workers=_threads()) as pool:
        parts = list(pool.map(lambda rows: _hist_chunk(n[rows], p[rows], lf), chunks))
    mean = np.zeros(N_BINS)
    sq = np.zeros(N_BINS)
    for mean_c, sq_c in parts:
        mean += mean_c
        sq += sq_c
    return mean, np.maximum(mean - sq, 0.0)


def integer_spikes(
    numer: npt.ArrayLike,
    denom: npt.ArrayLike,
    include_mask: npt.ArrayLike | None = None,
    mode: Mode = "nearest",
    histogram: bool = True,
) -> SpikeResult:
    """Test for an excess of stations reporting integer percentages (Kobak et al. 2016).

    What: counts the stations whose percentage 100 · numer / denom is an integer (see the
    module docstring for ``mode``) and compares the count with its exact distribution when
    each station's numerator is redrawn from Binomial(denom, numer / denom). Returns the
    count, its null mean and sd, z, the p-value, per-integer observed and expected counts,
    and (``histogram=True``) a 0.1-point histogram with its null envelope for the report;
    with ``histogram=False`` the envelope fields are None and the call is several times
    faster (for loops over regions or simulations).
    Why: people aiming at round figures leave integer-percentage spikes (Russia 2004–2018);
    honest counts produce integer percentages only as often as station sizes allow, which
    the binomial null reproduces station by station.
    Example: ``r = integer_spikes(cast, registered, kobak_inclusion(registered, cast, leader))``;
    on Russia 2018 turnout ``r.z`` is 12.8 and ``r.p_value`` the floor 1e-12; on clean
    simulated elections ``r.p_value`` ≤ 0.05 in at most 5 % of elections.

    Stations with denom ≤ 0 or numer outside [0, denom] are left out (as if masked).
    """
    k_all = as_int_counts(numer, "numer")
    n_all = as_int_counts(denom, "denom")
    if k_all.shape != n_all.shape:
        raise StatsInputError("numer and denom must have the same length")
    if mode not in ("nearest", "exact"):
        raise StatsInputError(f"mode must be 'nearest' or 'exact', got {mode!r}")
    mask = as_mask(include_mask, k_all.size) & (n_all > 0) & (k_all >= 0) & (k_all <= n_all)
    idx = np.flatnonzero(mask)
    k = k_all[idx]
    n = n_all[idx]

    hit_obs, pct_obs, bin_obs = _classify(k.astype(np.float64), n.astype(np.float64), mode)
    integer_observed = np.bincount(pct_obs[hit_obs].astype(np.int64), minlength=N_INT)
    hist_observed = np.bincount(bin_obs.astype(np.int64), minlength=N_BINS)

    p = k / np.maximum(n, 1)
    lf = log_factorial_table(int(n.max()) if n.size else 1)
    prob, integer_expected = _hit_probabilities(n, p, lf, mode)
    observed = int(hit_obs.sum())
    expected = float(prob.sum())
    null_sd = float(np.sqrt(np.sum(prob * (1.0 - prob))))
    tail = float(poisson_binomial_pmf(prob)[observed:].sum())
    z = (observed - expected) / null_sd if null_sd > 0 else 0.0

    bin_mean: FloatArray | None = None
    lo: FloatArray | None = None
    hi: FloatArray | None = None
    if histogram:
        bin_mean, bin_var = _hist_null(n, p, lf)
        lo, hi = _count_quantiles(bin_mean, bin_var, (0.025, 0.975))

    hit_full = np.zeros(k_all.size, dtype=np.bool_)
    hit_full[idx] = hit_obs
    prob_full = np.full(k_all.size, np.nan)
    prob_full[idx] = prob
    return SpikeResult(
        mode=mode,
        n_included=int(idx.size),
        observed=observed,
        expected=expected,
        null_sd=null_sd,
        z=float(z),
        p_value=min(1.0, max(tail, P_FLOOR)),
        hit=hit_full,
        hit_prob=prob_full,
        integer_observed=integer_observed.astype(np.int64),
        integer_expected=integer_expected,
        hist_centers=np.round(np.arange(N_BINS) * 0.1, 1),
        hist_observed=hist_observed.astype(np.int64),
        hist_null_mean=bin_mean,
        hist_null_lo=lo,
        hist_null_hi=hi,
    )
