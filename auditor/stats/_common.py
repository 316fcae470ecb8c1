"""Shared helpers of the statistics package: input checks, log-factorials, binomial pmf grids.

Not public API: the public names are re-exported by ``auditor.stats``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Largest denominator the exact binomial machinery accepts: a polling station has thousands of
# voters; a value beyond this is a mapping error (a national total in a station row), and a
# log-factorial table of that length would cost gigabytes.
MAX_DENOMINATOR = 50_000_000

_HALF_LOG_2PI = 0.5 * np.log(2.0 * np.pi)


class StatsInputError(ValueError):
    """Input that a statistical test cannot use (a user error, not a bug)."""


def as_int_counts(x: npt.ArrayLike, name: str) -> IntArray:
    """Return ``x`` as a 1-D int64 array; floats must be whole numbers (NaN not allowed)."""
    a = np.asarray(x)
    if a.ndim != 1:
        raise StatsInputError(f"{name} must be one-dimensional, got shape {a.shape}")
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)):
            raise StatsInputError(f"{name} has NaN or infinite values; drop those stations first")
        if not np.all(a == np.round(a)):
            raise StatsInputError(f"{name} must hold whole numbers (counts of ballots)")
    elif a.dtype.kind not in "iub":
        raise StatsInputError(f"{name} must be numeric, got dtype {a.dtype}")
    return a.astype(np.int64)


def as_float(x: npt.ArrayLike, name: str) -> FloatArray:
    """Return ``x`` as a 1-D float64 array."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1:
        raise StatsInputError(f"{name} must be one-dimensional, got shape {a.shape}")
    return a


def as_mask(mask: npt.ArrayLike | None, n: int, name: str = "include_mask") -> BoolArray:
    """Return a boolean mask of length ``n`` (all True when ``mask`` is None)."""
    if mask is None:
        return np.ones(n, dtype=np.bool_)
    m = np.asarray(mask)
    if m.shape != (n,) or m.dtype != np.bool_:
        raise StatsInputError(f"{name} must be a boolean array of length {n}")
    return m


def log_factorial_table(nmax: int) -> FloatArray:
    """``log(k!)`` for k = 0..nmax, accurate to ~1e-16 relative (Stirling series above 20)."""
    if nmax > MAX_DENOMINATOR:
        raise StatsInputError(f"a count of {nmax} is too large for a polling-station statistic")
    k = np.arange(nmax + 1, dtype=np.float64)
    out = np.empty(nmax + 1, dtype=np.float64)
    small = min(nmax + 1, 21)
    out[:small] = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, small, dtype=np.float64)))])
    if nmax >= 21:
        z = k[21:] + 1.0  # log k! = lgamma(k + 1)
        zi = 1.0 / z
        zi2 = zi * zi
        series = zi * (1 / 12 - zi2 * (1 / 360 - zi2 * (1 / 1260 - zi2 / 1680)))
        out[21:] = (z - 0.5) * np.log(z) - z + _HALF_LOG_2PI + series
    return out


def binomial_pmf_grid(
    n: IntArray, p: FloatArray, lf: FloatArray, width_sd: float = 6.0
) -> tuple[FloatArray, FloatArray]:
    """Binomial(n_i, p_i) probabilities on a window of counts around each station's mean.

    What: returns ``k`` (stations × W counts, as float64 holding whole numbers) and ``pmf``
    (same shape), each row normalised to 1 over mean ± ``width_sd`` standard deviations,
    which leaves out about 2e-9 of the mass at the default 6 sd. Rows narrower than W are padded at the
    end by repeating their last count with probability 0, so ``k`` never decreases along a
    row.
    Why: exact expectations under binomial resampling (the null of Kobak et al.) without
    drawing millions of random counts.
    """
    nf = n.astype(np.float64)
    mean = nf * p
    sd = np.sqrt(mean * (1.0 - p))
    lo = np.maximum(0.0, np.floor(mean - width_sd * sd - 1.0))
    hi = np.minimum(nf, np.ceil(mean + width_sd * sd + 1.0))
    degenerate = (p <= 0.0) | (p >= 1.0)
    lo = np.where(degenerate, np.where(p >= 1.0, nf, 0.0), lo)
    hi = np.where(degenerate, lo, hi)
    width = int((hi - lo).max()) + 1 if n.size else 1
    k = np.minimum(lo[:, None] + np.arange(width, dtype=np.float64)[None, :], hi[:, None])
    # pmf(k + 1) / pmf(k) = (n - k) / (k + 1) · p / q: one division per cell, no log or exp
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = np.where(degenerate, 0.0, p / (1.0 - p))
        ratio = (nf[:, None] - k[:, :-1]) / (k[:, :-1] + 1.0) * odds[:, None]
    ratio = np.where(k[:, 1:] > k[:, :-1], ratio, 0.0)
    pmf = np.empty_like(k)
    lo_i = lo.astype(np.int64)
    with np.errstate(divide="ignore"):
        log_first = lf[n] - lf[lo_i] - lf[n - lo_i] + lo * np.log(np.where(degenerate, 1.0, p))
        log_first += (nf - lo) * np.log1p(-np.where(degenerate, 0.0, p))
    pmf[:, 0] = np.where(degenerate, 1.0, np.exp(log_first))
    np.cumprod(ratio, axis=1, out=pmf[:, 1:])
    pmf[:, 1:] *= pmf[:, :1]
    pmf /= pmf.sum(axis=1, keepdims=True)
    return k, pmf


def chunks_by_width(n: IntArray, p: FloatArray, target_cells: int = 250_000) -> list[IntArray]:
    """Index chunks of stations with similar pmf window widths, each about ``target_cells``."""
    sd = np.sqrt(n * p * (1.0 - p))
    order = np.argsort(sd, kind="stable")
    widths = 12.0 * sd[order] + 4.0
    out: list[IntArray] = []
    start = 0
    total = order.size
    while start < total:
        # rows are sorted by width, so a chunk is as wide as its last row
        end = min(total, start + max(1, int(target_cells // widths[start])))
        end = min(total, start + max(1, int(target_cells // widths[end - 1])))
        out.append(order[start:end])
        start = end
    return out


def poisson_binomial_pmf(prob: FloatArray) -> FloatArray:
    """Distribution of a sum of independent Bernoulli(prob_i) variables (exact, via FFT).

    What: element j of the result is P(sum = j), j = 0..len(prob).
    Why: the number of integer-percentage stations under the null is such a sum; its exact
    law gives p-values far below the 1/(n_rep + 1) floor of a Monte-Carlo test.
    Example: ``poisson_binomial_pmf(np.array([0.5, 0.5]))`` → ``[0.25, 0.5, 0.25]``.
    """
    p = np.clip(np.asarray(prob, dtype=np.float64), 0.0, 1.0)
    n_total = p.size
    ones = int(np.count_nonzero(p >= 1.0))
    p = p[(p > 0.0) & (p < 1.0)]
    if p.size == 0:
        out = np.zeros(n_total + 1)
        out[ones] = 1.0
        return out
    polys = np.stack([1.0 - p, p], axis=1)
    while polys.shape[0] > 1:
        if polys.shape[0] % 2:
            pad = np.zeros((1, polys.shape[1]))
            pad[0, 0] = 1.0
            polys = np.vstack([polys, pad])
        length = polys.shape[1]
        a, b = polys[0::2], polys[1::2]
        if length <= 16:
            prod = np.zeros((a.shape[0], 2 * length))
            for t in range(length):
                prod[:, t : t + length] += a[:, t : t + 1] * b
            polys = prod
        else:
            fa = np.fft.rfft(a, n=2 * length, axis=1)
            fb = np.fft.rfft(b, n=2 * length, axis=1)
            polys = np.fft.irfft(fa * fb, n=2 * length, axis=1)
    core = np.clip(polys[0][: p.size + 1], 0.0, None)
    core /= core.sum()
    out = np.zeros(n_total + 1)
    out[ones : ones + core.size] = core
    return out
