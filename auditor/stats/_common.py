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


def chunks_by_width(
    width: IntArray, target_cells: int, key: IntArray | None = None
) -> tuple[IntArray, list[slice]]:
    """Rows in order of increasing ``width``, cut into chunks of about ``target_cells`` cells.

    What: ``(order, chunks)``: the row indices sorted by width (stable; by ``key`` when
    given, which must order rows by width first, e.g. width · 128 + start), and slices of that
    order such that rows × (the chunk's widest row) stays near ``target_cells`` (a row wider
    than that is a chunk of its own).
    Why: the kernels that walk a window of counts per station fill a rectangle per chunk;
    rows of similar width waste little padding, a bounded rectangle reuses the same work
    buffers instead of allocating fresh memory for every step, and per-row arrays permuted
    once by ``order`` are sliced per chunk instead of gathered.
    """
    # a stable sort of small integers is a radix sort in numpy: 16-bit keys sort 3× faster
    key = width if key is None else key
    small = key.size > 0 and int(key.min()) >= 0 and int(key.max()) < 2**15
    order = np.argsort(key.astype(np.int16) if small else key, kind="stable")
    w = np.maximum(width[order], 1)
    out: list[slice] = []
    start = 0
    total = order.size
    while start < total:
        # rows are sorted by width, so a chunk is as wide as its last row
        end = min(total, start + max(1, target_cells // int(w[start])))
        end = min(total, start + max(1, target_cells // int(w[end - 1])))
        out.append(slice(start, end))
        start = end
    return order, out


def log_table(nmax: int) -> FloatArray:
    """``log(k)`` for k = 0..nmax (``-inf`` at 0)."""
    with np.errstate(divide="ignore"):
        return np.log(np.arange(nmax + 1, dtype=np.float64))


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


# Window of a partial sum kept by ``poisson_binomial_tails``: mean ± t with Bernstein's
# inequality, P(|S − mean| ≥ t) ≤ 2·exp(−t² / (2 (sd² + t / 3))), set to 2·e^−47 ≈ 8e-21 per
# cut (far below the 1e-12 floor of the p-values): t = L / 3 + √(L² / 9 + 2 L sd²), L = 47.
_TAIL_L = 47.0
_DIRECT_MAX = 17  # nodes up to this width are multiplied directly, wider ones by FFT


def poisson_binomial_tails(
    prob: FloatArray,
    codes: IntArray,
    observed: IntArray,
    n_groups: int,
    observed_total: int | None = None,
) -> tuple[FloatArray, float]:
    """P(S_g ≥ observed_g) for every group g, S_g a sum of independent Bernoulli(prob_i).

    What: for each group label g in 0..n_groups − 1, the upper tail of the number of
    successes among the stations with ``codes == g`` (1 for a group without stations when
    ``observed_g ≤ 0``, else 0); and, when ``observed_total`` is given, the tail of the sum
    over all groups, P(Σ S_g ≥ observed_total) (else NaN).
    Why: the null law of the number of integer-percentage stations, per region and
    nationally, in one pass. Each group is padded to a power of two and laid out so that it
    is one node of a single product tree (pairs of polynomials multiplied directly, then by
    FFT); a node's law is read off when its group is complete, and the national law is the
    product of the regional ones (one product of their spectra). Every node keeps only its
    mean ± t, t from Bernstein's inequality so that the mass left out is below 1e-20 per cut
    (about 11 sd for a region of 1,000 stations), which keeps the transforms short and their
    rounding small: against exact convolution (sums of up to 700 Bernoullis), tails near
    1e-11 are off by under 4e-5 of themselves, against 3e-4 for ``poisson_binomial_pmf``.
    Example: ``poisson_binomial_tails(np.array([0.5, 0.5, 0.5]), np.array([0, 0, 1]),
    np.array([1, 1]), 2, 2)`` → ``([0.75, 0.5], 0.5)`` (to rounding).
    """
    p = np.clip(np.asarray(prob, dtype=np.float64), 0.0, 1.0)
    out = np.zeros(n_groups)
    ones = np.bincount(codes[p >= 1.0], minlength=n_groups)
    need = np.asarray(observed, dtype=np.int64) - ones  # successes still needed
    live = (p > 0.0) & (p < 1.0)
    pl, cl = p[live], codes[live]
    size = np.bincount(cl, minlength=n_groups)
    block = np.zeros(n_groups, dtype=np.int64)
    block[size > 0] = 1 << np.ceil(np.log2(size[size > 0])).astype(np.int64)
    out[size == 0] = np.where(need[size == 0] <= 0, 1.0, 0.0)
    # groups by decreasing block size: every group starts at a multiple of its own block
    gorder = np.argsort(-block, kind="stable")
    goff = np.empty(n_groups, dtype=np.int64)
    goff[gorder] = np.cumsum(block[gorder]) - block[gorder]
    total = int(block.sum())
    lay = np.zeros(total)  # padding stations have p = 0: the polynomial 1
    if n_groups == 1:
        lay[: pl.size] = pl
    else:
        # a stable sort of small integers is a radix sort in numpy
        perm = np.argsort(cl.astype(np.int16) if n_groups < 2**15 else cl, kind="stable")
        cs = cl[perm]
        first = np.cumsum(size) - size
        lay[goff[cs] + np.arange(perm.size) - first[cs]] = pl[perm]
    done = gorder[block[gorder] > 0]
    laws: dict[int, tuple[int, FloatArray]] = {}  # group → (offset, pmf window)

    off = np.zeros(total, dtype=np.int64)  # count at the first kept coefficient of a node
    mu = lay
    var = lay * (1.0 - lay)
    node = 1  # stations per node at the current level

    def read(nodes: FloatArray, by_column: bool) -> None:
        """Tails (and laws) of the groups that are complete nodes at this level."""
        for g in done[block[done] == node]:
            i = int(goff[g] // node)
            row = nodes[:, i] if by_column else nodes[i]
            out[g] = _upper_tail(row, int(need[g] - off[i]))
            if observed_total is not None:
                laws[int(g)] = (int(off[i]), np.array(row))

    if np.any(block == 1):
        read(np.stack([1.0 - lay, lay]), True)
    cols: FloatArray | None = None  # coefficients × nodes while narrow (long rows)
    rows: FloatArray | None = None  # nodes × coefficients once wide (FFT per row)
    while True:
        active = int(block[block > node].sum()) // node  # nodes of unfinished groups
        if active == 0:
            break
        node *= 2
        if cols is None:
            a, b = lay[:active:2], lay[1:active:2]
            ab = a * b
            cols = np.stack([1.0 - a - b + ab, a + b - 2.0 * ab, ab])
        elif rows is None:
            a2, b2 = cols[:, :active:2], cols[:, 1:active:2]
            w = a2.shape[0]
            new = np.zeros((2 * w - 1, a2.shape[1]))
            tmp = np.empty_like(b2)  # one buffer for the w partial products
            for t in range(w):
                np.multiply(b2, a2[t], out=tmp)
                new[t : t + w] += tmp
            cols = new
        if rows is None:
            off = off[:active:2] + off[1:active:2]
            mu = mu[:active:2] + mu[1:active:2]
            var = var[:active:2] + var[1:active:2]
            read(cols, True)
            if cols.shape[0] > _DIRECT_MAX:
                rows = np.ascontiguousarray(cols.T)
        else:
            rows, off, mu, var = _multiply_pairs(rows[:active], off[:active], mu[:active],
                                                 var[:active])
            read(rows, False)
    if observed_total is None:
        return out, float("nan")
    return out, _total_tail(laws, pl, int(observed_total - ones.sum()))


def fast_fft_length(n: int) -> int:
    """The smallest 2^a · 3^b · 5^c ≥ n (pocketfft is fastest on such lengths; a power of
    two alone often nearly doubles the transform)."""
    best = 1 << max(0, n - 1).bit_length()
    f5 = 1
    while f5 < best:
        f35 = f5
        while f35 < best:
            m = f35
            while m < n:
                m *= 2
            best = min(best, m)
            f35 *= 3
        f5 *= 5
    return best


def _tail_reach(var: FloatArray) -> FloatArray:
    """Half-width t of the window kept around a partial sum of variance ``var``."""
    return _TAIL_L / 3.0 + np.sqrt(_TAIL_L * _TAIL_L / 9.0 + 2.0 * _TAIL_L * var)


def _upper_tail(row: FloatArray, x: int) -> float:
    """Σ row[x:], the window's negative FFT noise clipped (1 when x ≤ 0, 0 past the end)."""
    if x <= 0:
        return 1.0
    if x >= row.size:
        return 0.0
    return float(np.clip(row[x:], 0.0, None).sum())


def _multiply_pairs(
    rows: FloatArray, off: IntArray, mu: FloatArray, var: FloatArray
) -> tuple[FloatArray, IntArray, FloatArray, FloatArray]:
    """Products of rows 2i and 2i + 1 (pmf windows starting at counts ``off``), by FFT.

    Each product keeps its mean ± ``_tail_reach``; ``mu`` and ``var`` are the nodes' means
    and variances, summed like the offsets.
    """
    off = off[0::2] + off[1::2]
    mu = mu[0::2] + mu[1::2]
    var = var[0::2] + var[1::2]
    w = rows.shape[1]
    nfft = fast_fft_length(2 * w - 1)
    fa = np.fft.rfft(rows[0::2], n=nfft, axis=1)
    fa *= np.fft.rfft(rows[1::2], n=nfft, axis=1)
    prod = np.fft.irfft(fa, n=nfft, axis=1)
    t = _tail_reach(var)
    lo = np.maximum(off, np.floor(mu - t).astype(np.int64))
    hi = np.minimum(off + 2 * w - 2, np.ceil(mu + t).astype(np.int64))
    width = int((hi - lo).max()) + 1
    shift = np.minimum(lo - off, 2 * w - 1 - width)
    # row i keeps prod[i, shift_i : shift_i + width]: one block copy per row through a view
    # of all the windows (take_along_axis would build an index per cell, 20× slower)
    windows = np.lib.stride_tricks.sliding_window_view(prod, width, axis=1)
    out = windows[np.arange(prod.shape[0]), shift]
    return out, off + shift, mu, var


def _total_tail(
    laws: dict[int, tuple[int, FloatArray]], pl: FloatArray, need: int
) -> float:
    """P(Σ_g S_g ≥ need) from the groups' pmf windows, by one product of their spectra.

    The sum's law is kept modulo M ≥ its window mean ± ``_tail_reach``, so the circular product
    has no aliasing above the mass left out; each entry is then put back at its count.
    """
    if not laws:
        return 1.0 if need <= 0 else 0.0
    mu = float(pl.sum())
    half = float(_tail_reach(np.array([np.sum(pl * (1.0 - pl))]))[0])
    widest = max(row.size for _, row in laws.values())
    m = fast_fft_length(max(int(2.0 * half) + 3, widest))
    rows = np.zeros((len(laws), m))
    for i, (_, row) in enumerate(laws.values()):
        rows[i, : row.size] = row
    spectrum = np.prod(np.fft.rfft(rows, axis=1), axis=0)
    circ = np.fft.irfft(spectrum, n=m)  # circ[t] = P(S ≡ t + off (mod m))
    off = sum(o for o, _ in laws.values())
    # the count of each entry: the one within [mu − m/2, mu + m/2)
    start = int(np.floor(mu - m / 2.0))
    counts = start + np.mod(off + np.arange(m) - start, m)
    return float(np.clip(circ[counts >= need], 0.0, None).sum()) if need > start else 1.0
