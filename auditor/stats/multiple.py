"""Multiple testing and robust standardisation.

Public API:

- ``benjamini_hochberg(p)``: Benjamini–Hochberg q-values (monotone, clipped at 1, NaN-safe).
- ``robust_z(x, groups=None)``: (x − median) / (1.4826 · MAD) within groups.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from auditor.stats._common import FloatArray, StatsInputError, as_float

# 1.4826 · MAD and 1.2533 · mean absolute deviation both estimate σ for normal data.
MAD_TO_SD = 1.482602218505602
MEAN_AD_TO_SD = 1.2533141373155001


def benjamini_hochberg(p: npt.ArrayLike) -> FloatArray:
    """Benjamini–Hochberg adjusted p-values (q-values) controlling the false discovery rate.

    What: q_(i) = min over j ≥ i of p_(j) · m / j for the p-values sorted ascending, with m
    the number of non-NaN p-values; q is clipped at 1 and is monotone in p. NaN in → NaN out
    (a test that could not be run is neither counted in m nor given a q-value).
    Why: a check that tests every region (or station) would raise false alarms by the dozen
    at α = 0.05; flagging q ≤ α keeps the expected share of false flags among flags ≤ α.
    Example: ``benjamini_hochberg([0.01, 0.04, 0.03, 0.2])`` → ``[0.04, 0.0533, 0.0533, 0.2]``.
    """
    arr = as_float(p, "p")
    finite = ~np.isnan(arr)
    if np.any((arr[finite] < 0.0) | (arr[finite] > 1.0)):
        raise StatsInputError("p-values must lie in [0, 1]")
    q = np.full(arr.shape, np.nan)
    vals = arr[finite]
    m = vals.size
    if m == 0:
        return q
    order = np.argsort(vals, kind="stable")
    ranked = vals[order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(ranked, 1.0)
    q[finite] = out
    return q


def robust_z(x: npt.ArrayLike, groups: npt.ArrayLike | None = None) -> FloatArray:
    """Robust z-scores: distance to the group median in units of a robust standard deviation.

    What: z = (x − median_g) / s_g with s_g = 1.4826 · MAD_g (median absolute deviation) in
    each group g. When MAD_g is 0 (more than half the values equal) s_g falls back to
    1.2533 · mean absolute deviation; when that is 0 too (all values equal) z is 0. NaN
    values are ignored for the group statistics and get z = NaN.
    Why: one outlying region should not hide itself by inflating the mean and the standard
    deviation, as it does with classic z-scores.
    Example: ``robust_z([1, 2, 3, 4, 100])`` → ``[-1.35, -0.67, 0, 0.67, 65.4]``.
    """
    arr = as_float(x, "x")
    if groups is None:
        codes = np.zeros(arr.size, dtype=np.int64)
    else:
        g = np.asarray(groups)
        if g.shape != arr.shape:
            raise StatsInputError(f"groups must have the shape of x {arr.shape}, got {g.shape}")
        labels = g.astype(str) if g.dtype == object else g  # None-safe
        codes = np.unique(labels, return_inverse=True)[1].reshape(-1).astype(np.int64)
    out = np.full(arr.size, np.nan)
    ok = ~np.isnan(arr)
    if not ok.any():
        return out
    idx = np.flatnonzero(ok)
    n_groups = int(codes.max()) + 1
    med = _group_median(arr[idx], codes[idx], n_groups)
    dev = np.abs(arr[idx] - med[codes[idx]])
    mad = _group_median(dev, codes[idx], n_groups)
    counts = np.bincount(codes[idx], minlength=n_groups)
    mean_ad = np.bincount(codes[idx], weights=dev, minlength=n_groups) / np.maximum(counts, 1)
    scale = np.where(mad > 0.0, MAD_TO_SD * mad, MEAN_AD_TO_SD * mean_ad)
    s = scale[codes[idx]]
    centred = arr[idx] - med[codes[idx]]
    with np.errstate(divide="ignore", invalid="ignore"):
        out[idx] = np.where(s > 0.0, centred / np.where(s > 0.0, s, 1.0), 0.0)
    return out


def _group_median(values: FloatArray, codes: npt.NDArray[np.int64], n_groups: int) -> FloatArray:
    """Median of ``values`` within each group code (NaN for an empty group)."""
    order = np.lexsort((values, codes))
    v = values[order]
    counts = np.bincount(codes, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    med = np.full(n_groups, np.nan)
    has = counts > 0
    lo = starts[has] + (counts[has] - 1) // 2
    hi = starts[has] + counts[has] // 2
    med[has] = 0.5 * (v[lo] + v[hi])
    return med
