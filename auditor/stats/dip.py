"""Hartigan's dip test of unimodality (Hartigan & Hartigan, Ann. Stat. 1985).

Public API:

- ``dip_statistic(x)``: the dip, max distance between the empirical distribution function
  and the closest unimodal distribution function (between 1/(2n) and 1/4; 0 for constant
  data).
- ``dip_test(x, n_rep=500, seed=0, max_null_n=2000)`` → ``DipResult(dip, p_value)``.

The dip is computed with the algorithm of Hartigan's AS 217 (Appl. Stat. 34, 1985): alternate
the greatest convex minorant and least concave majorant of the empirical distribution on a
shrinking modal interval; this module is our own implementation of the published
algorithm, in pure Python for the hull scans (O(n) after sorting) and numpy for the rest.

p-value: the uniform distribution is the least favourable unimodal null (Hartigan &
Hartigan), so p = (1 + #{dip* ≥ dip}) / (1 + n_rep) with dip* the dips of ``n_rep`` uniform
samples. For n > ``max_null_n`` the null samples have ``max_null_n`` points and
√n · dip is compared instead, since √n · dip converges in law (the R package ``diptest``
interpolates its table of quantiles the same way); null samples are cached per
(size, n_rep, seed). The test is conservative for any unimodal distribution other than the
uniform.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from auditor.stats._common import FloatArray, StatsInputError, as_float


class DipResult(NamedTuple):
    """Dip statistic and its p-value against the uniform null."""

    dip: float
    p_value: float


def _hull_predecessors(x: list[float], reverse: bool) -> list[int]:
    """Convex-minorant (or, reversed, concave-majorant) predecessor of every point."""
    n = len(x)
    out = [0] * n
    if not reverse:
        out[0] = 0
        for j in range(1, n):
            a = j - 1
            while a != 0:
                b = out[a]
                if (x[j] - x[a]) * (a - b) < (x[a] - x[b]) * (j - a):
                    break
                a = b
            out[j] = a
    else:
        last = n - 1
        out[last] = last
        for j in range(n - 2, -1, -1):
            a = j + 1
            while a != last:
                b = out[a]
                if (x[j] - x[a]) * (a - b) < (x[a] - x[b]) * (j - a):
                    break
                a = b
            out[j] = a
    return out


def _max_gap(xs: FloatArray, verts: list[int], upper: bool) -> float:
    """Largest deviation (in counts) of the data from the hull through ``verts`` (ascending)."""
    if len(verts) < 2:
        return 0.0
    v = np.asarray(verts, dtype=np.int64)
    jb, je = v[:-1], v[1:]
    ok = (je - jb > 1) & (xs[je] != xs[jb])
    if not ok.any():
        return 1.0
    jb, je = jb[ok], je[ok]
    lengths = je - jb + 1
    seg = np.repeat(np.arange(jb.size), lengths)
    jj = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths) + jb[seg]
    slope = (je - jb)[seg] / (xs[je] - xs[jb])[seg]
    rise = (xs[jj] - xs[jb[seg]]) * slope
    t = rise - (jj - jb[seg] - 1) if upper else (jj - jb[seg] + 1) - rise
    return float(max(1.0, t.max()))


def _dip_sorted(xs: FloatArray) -> float:
    """Dip of sorted data, in units of 1 / (2n) (the AS 217 loop)."""
    n = xs.size
    x = xs.tolist()
    mn = _hull_predecessors(x, reverse=False)
    mj = _hull_predecessors(x, reverse=True)
    low, high = 0, n - 1
    dip = 1.0
    while True:
        gcm = [high]
        while gcm[-1] > low:
            gcm.append(mn[gcm[-1]])
        lcm = [low]
        while lcm[-1] < high:
            lcm.append(mj[lcm[-1]])
        ig, ix = len(gcm) - 1, len(gcm) - 2
        ih, iv = len(lcm) - 1, 1
        d = 0.0
        if len(gcm) != 2 or len(lcm) != 2:
            # largest vertical distance between the two hulls, scanning from the left
            while True:
                g, lv = gcm[ix], lcm[iv]
                if g > lv:
                    g1 = gcm[ix + 1]
                    dx = (lv - g1 + 1) - (x[lv] - x[g1]) * (g - g1) / (x[g] - x[g1])
                    iv += 1
                    if dx >= d:
                        d, ig, ih = dx, ix + 1, iv - 1
                else:
                    l1 = lcm[iv - 1]
                    dx = (x[g] - x[l1]) * (lv - l1) / (x[lv] - x[l1]) - (g - l1 - 1)
                    ix -= 1
                    if dx >= d:
                        d, ig, ih = dx, ix + 1, iv
                ix = max(ix, 0)
                iv = min(iv, len(lcm) - 1)
                if gcm[ix] == lcm[iv]:
                    break
        else:
            d = 1.0
        if d < dip:
            break
        # deviations outside the new modal interval: convex part left, concave part right
        dip_l = _max_gap(xs, gcm[ig:][::-1], upper=False) if ig < len(gcm) - 1 else 0.0
        dip_u = _max_gap(xs, lcm[ih:], upper=True) if ih < len(lcm) - 1 else 0.0
        dip = max(dip, dip_l, dip_u)
        unchanged = low == gcm[ig] and high == lcm[ih]
        low, high = gcm[ig], lcm[ih]
        if unchanged:
            break
    return dip


def dip_statistic(x: npt.ArrayLike) -> float:
    """Hartigan's dip statistic of a sample (NaN values are dropped).

    What: the largest distance between the empirical distribution function and the closest
    unimodal distribution function; at least 1/(2n), at most 1/4, 0 for constant data.
    Why: a second mode in turnout (a bump of stations near 100 %) is a classic trace of
    manipulation; the dip measures it without choosing a bandwidth.
    Example: ``dip_statistic([1] * 10 + [2] * 10)`` → 0.25.
    """
    arr = as_float(x, "x")
    arr = np.sort(arr[~np.isnan(arr)])
    if arr.size < 2 or arr[0] == arr[-1]:
        return 0.0
    return _dip_sorted(arr) / (2.0 * arr.size)


# Simulating the uniform null costs seconds per sample size (a Python loop of dips), so the
# nulls of the sizes the checks use are shipped precomputed (`python -m auditor.stats.dip`
# rewrites the table; a test recomputes one size and compares).
NULL_TABLE = Path(__file__).with_name("dip_null.json")
TABLE_REPS = 500
# Null sample sizes used by STAT003 (a region of n stations uses the largest size ≤ n).
TABLE_SIZES = (50, 100, 200, 400, 800, 1600)


@lru_cache(maxsize=1)
def _table() -> dict[str, list[float]]:
    if not NULL_TABLE.exists():
        return {}
    data: dict[str, list[float]] = json.loads(NULL_TABLE.read_text(encoding="utf-8"))
    return data


@lru_cache(maxsize=32)
def _uniform_null(m: int, n_rep: int, seed: int) -> FloatArray:
    """√m · dip of ``n_rep`` uniform samples of size m (sorted ascending)."""
    stored = _table().get(f"{m}/{n_rep}/{seed}")
    if stored is not None:
        arr = np.asarray(stored, dtype=np.float64)
        arr.setflags(write=False)
        return arr
    return simulate_uniform_null(m, n_rep, seed)


def simulate_uniform_null(m: int, n_rep: int, seed: int) -> FloatArray:
    """The uniform null simulated afresh (what the shipped table holds)."""
    rng = np.random.default_rng([seed, m])
    out = np.array([_dip_sorted(np.sort(rng.random(m))) / (2.0 * m) for _ in range(n_rep)])
    out *= math.sqrt(m)
    out.sort()
    out.setflags(write=False)
    return out


def dip_test(
    x: npt.ArrayLike, n_rep: int = 500, seed: int = 0, max_null_n: int = 2000
) -> DipResult:
    """Dip test of unimodality with a simulated uniform null.

    What: returns ``(dip, p_value)``; p is the share (+1 correction) of uniform samples of
    the same size whose dip is at least as large (for n > ``max_null_n``, compared on the
    √n scale with samples of ``max_null_n`` points).
    Why: honest turnout across the stations of a region is unimodal; two modes suggest two
    kinds of stations, e.g. counted and written-in.
    Example: ``dip_test(np.r_[rng.normal(0, 1, 500), rng.normal(6, 1, 500)]).p_value`` is
    0.002 (= 1/501) and ``dip_test(rng.normal(size=1000)).p_value`` is about 1.
    """
    arr = as_float(x, "x")
    arr = arr[~np.isnan(arr)]
    if n_rep < 1 or max_null_n < 4:
        raise StatsInputError("need n_rep ≥ 1 and max_null_n ≥ 4")
    dip = dip_statistic(arr)
    n = arr.size
    if n < 4:
        return DipResult(dip, 1.0)
    m = min(n, max_null_n)
    null = _uniform_null(m, n_rep, seed)
    stat = math.sqrt(n) * dip
    # tolerance: identical samples give identical dips up to rounding of the √ scaling
    count = null.size - int(np.searchsorted(null, stat * (1 - 1e-12), side="left"))
    return DipResult(dip, (1.0 + count) / (1.0 + n_rep))


def write_null_table(sizes: tuple[int, ...], n_rep: int = TABLE_REPS, seed: int = 0) -> None:
    """Rewrite the shipped table of uniform nulls for the given sample sizes."""
    table = {f"{m}/{n_rep}/{seed}": [float(v) for v in simulate_uniform_null(m, n_rep, seed)]
             for m in sizes}
    NULL_TABLE.write_text(json.dumps(table, separators=(",", ":")) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write_null_table(TABLE_SIZES)
