"""Digit tests of vote counts: second-digit Benford (2BL) and last-digit uniformity.

Public API:

- ``digit_tests(counts, sizes, rates=None, n_rep=1000, seed=0, min_count=10)`` →
  ``DigitResult`` with one ``DigitTest`` for the second digit and one for the last digit.

Each test reports two p-values for the same statistic, the chi-square distance
X² = Σ (O_d − N·ref_d)² / (N·ref_d) between the observed digit counts O and the reference
(Benford's second-digit law, or 1/10 per last digit):

- ``p_classic``: the textbook P(χ²₉ ≥ X²). It assumes that honest counts follow the
  reference, which they do not: counts of stations of a few hundred voters with similar
  shares have second digits far from Benford (Mebane 2006; Deckert, Myagkov & Ordeshook
  2011). On clean simulated elections it rejects most of the time (see
  ``tests/property/test_stats_calibration.py``).
- ``p_calibrated``: the same X² compared with its distribution when every station's count
  is redrawn from Binomial(size, rate) with its own size and rate (``n_rep`` replicates,
  same inclusion rule): p = (1 + #{X²* ≥ X²}) / (1 + n_rep). It asks whether the deviation
  from the reference is larger than these stations' sizes and rates produce by chance.

Only counts ≥ ``min_count`` (default 10) enter either test: a one-digit count has no second
digit, and the last digit of small counts is far from uniform.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from auditor.stats._common import FloatArray, IntArray, StatsInputError, as_float, as_int_counts
from auditor.stats.special import chi2_sf

_POWERS = 10 ** np.arange(1, 19, dtype=np.int64)


def benford_second_digit() -> FloatArray:
    """Benford's law for the second significant digit.

    What: P(second digit = d) = Σ_{k=1..9} log10(1 + 1/(10k + d)) for d = 0..9.
    Why: the reference of the second-digit (2BL) test of Mebane and others.
    Example: ``benford_second_digit()[0]`` ≈ 0.1197, ``[9]`` ≈ 0.0850.
    """
    k = np.arange(1, 10)[:, None]
    d = np.arange(10)[None, :]
    return np.asarray(np.log10(1.0 + 1.0 / (10 * k + d)).sum(axis=0), dtype=np.float64)


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields, not objects
class DigitTest:
    """One digit test: counts per digit 0..9, reference and null frequencies, p-values."""

    name: str
    n: int
    observed: IntArray
    reference: FloatArray
    null_expected: FloatArray
    chi2: float
    p_classic: float
    p_calibrated: float


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields, not objects
class DigitResult:
    """Second-digit Benford and last-digit tests of one set of counts."""

    second: DigitTest
    last: DigitTest


def _second_digits(c: IntArray) -> IntArray:
    """Second digit of counts ≥ 10."""
    j = np.searchsorted(_POWERS, c, side="right")  # c in [10**j, 10**(j+1))
    return np.asarray((c // (_POWERS[j - 1] // 10)) % 10, dtype=np.int64)


def _digit_counts(c: IntArray, min_count: int, rows: int) -> tuple[IntArray, IntArray]:
    """Per-row counts of second digits and of last digits (c has shape rows × stations)."""
    flat = c.reshape(-1)
    keep = flat >= min_count
    row = np.repeat(np.arange(rows), c.shape[1])[keep]
    vals = flat[keep]
    second = np.bincount(row * 10 + _second_digits(vals), minlength=rows * 10)
    last = np.bincount(row * 10 + vals % 10, minlength=rows * 10)
    return second.reshape(rows, 10), last.reshape(rows, 10)


def _chi2(obs: npt.NDArray[np.int64], ref: FloatArray) -> FloatArray:
    """Chi-square distance of each row of counts from the reference frequencies."""
    n = obs.sum(axis=-1, keepdims=True)
    exp = np.maximum(n, 1) * ref
    return np.asarray(((obs - exp) ** 2 / exp).sum(axis=-1), dtype=np.float64)


def digit_tests(
    counts: npt.ArrayLike,
    sizes: npt.ArrayLike,
    rates: npt.ArrayLike | None = None,
    n_rep: int = 1000,
    seed: int = 0,
    min_count: int = 10,
) -> DigitResult:
    """Second-digit Benford and last-digit tests with textbook and calibrated p-values.

    What: for the counts ≥ ``min_count``, the chi-square distance of the second digits from
    Benford's law and of the last digits from uniform, each with the classic χ²₉ p-value
    and a p-value calibrated by redrawing every count from Binomial(size, rate)
    (``rates`` defaults to counts / sizes). See the module docstring.
    Why: digit tests are popular and their textbook p-values are wrong for election data;
    reporting both shows a reader which one to believe.
    Example: ``r = digit_tests(leader, cast)``; on a clean simulated election of 3,000
    stations ``r.second.p_classic`` is usually below 1e-3 while ``r.second.p_calibrated`` is
    uniform on [0, 1].
    """
    c = as_int_counts(counts, "counts")
    n = as_int_counts(sizes, "sizes")
    if c.shape != n.shape:
        raise StatsInputError("counts and sizes must have the same length")
    if np.any((c < 0) | (c > n)):
        raise StatsInputError("every count must lie between 0 and its size")
    if rates is None:
        r = np.where(n > 0, c / np.maximum(n, 1), 0.0)
    else:
        r = as_float(rates, "rates")
        if r.shape != c.shape or np.any(~np.isfinite(r) | (r < 0) | (r > 1)):
            raise StatsInputError("rates must be probabilities, one per count")
    if n_rep < 1 or min_count < 10:
        raise StatsInputError("need n_rep ≥ 1 and min_count ≥ 10")

    obs_second, obs_last = _digit_counts(c[None, :], min_count, 1)
    benford = benford_second_digit()
    uniform = np.full(10, 0.1)
    x2_second = float(_chi2(obs_second, benford)[0])
    x2_last = float(_chi2(obs_last, uniform)[0])

    rng = np.random.default_rng(seed)
    # only stations that can reach min_count matter; draw replicates station-major so that
    # numpy reuses each station's binomial set-up across its replicates
    live = n >= min_count
    nl, rl = n[live], r[live]
    null_second = np.zeros((n_rep, 10), dtype=np.int64)
    null_last = np.zeros((n_rep, 10), dtype=np.int64)
    step = max(1, 2_000_000 // max(1, nl.size))
    for start in range(0, n_rep, step):
        reps = min(step, n_rep - start)
        draws = rng.binomial(nl[:, None], rl[:, None], size=(nl.size, reps)).T
        s2, sl = _digit_counts(np.ascontiguousarray(draws), min_count, reps)
        null_second[start : start + reps] = s2
        null_last[start : start + reps] = sl

    def build(name: str, obs: IntArray, null: IntArray, ref: FloatArray, x2: float) -> DigitTest:
        x2_null = _chi2(null, ref)
        totals = null.sum(axis=1, keepdims=True)
        freq = (null / np.maximum(totals, 1)).mean(axis=0)
        total = int(obs.sum())
        p_cal = float((1.0 + np.count_nonzero(x2_null >= x2)) / (1.0 + n_rep))
        if total == 0:  # no count reaches min_count: nothing was tested
            p_cal = float("nan")
        p_classic = chi2_sf(x2, 9) if total > 0 else float("nan")
        return DigitTest(name, total, obs[0], ref, freq, x2, p_classic, float(p_cal))

    return DigitResult(
        second=build("second digit (Benford)", obs_second, null_second, benford, x2_second),
        last=build("last digit (uniform)", obs_last, null_last, uniform, x2_last),
    )
