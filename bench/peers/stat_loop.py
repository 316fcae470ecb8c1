"""Monte-Carlo baselines for STAT001: Kobak et al.'s binomial resampling null, drawn.

The same test as `integer_spikes(numer, denom, mask, histogram=False)` (the national test of
one variable): the stations' hit rule (the count nearest to a whole percentage, as
`auditor.stats.spikes._classify`), the observed number of hits, and the p-value
P(hits* ≥ hits) from `n_rep` binomial redraws of every station at its own size and rate —
here estimated from the draws, (1 + #{hits* ≥ hits}) / (1 + n_rep), where auditor computes
its limit exactly.

- `integer_null_loop`: the per-station loop of the published analyses — a Python loop over
  stations, one numpy call drawing a station's `n_rep` counts.
- `integer_null_vectorised`: the faster way to write it in numpy — a loop over the `n_rep`
  replicates, each drawing all stations at once.
"""

from __future__ import annotations

import numpy as np


def _hits(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Whether count k of n is the count nearest to a whole percentage (integer arithmetic)."""
    pct = (200 * k + n) // (2 * n)  # the nearest whole percentage, halves rounded up
    hits: np.ndarray = np.abs(100 * k - pct * n) <= 50
    return hits


def integer_null_loop(numer: np.ndarray, denom: np.ndarray, n_rep: int = 1000,
                      seed: int = 0) -> tuple[np.ndarray, int, float]:
    """Null hits per replicate, observed hits and the Monte-Carlo p-value, station by station."""
    rng = np.random.default_rng(seed)
    hits = np.zeros(n_rep, dtype=np.int64)
    for k, n in zip(numer.tolist(), denom.tolist(), strict=True):
        hits += _hits(rng.binomial(n, k / n, n_rep), n)
    observed = int(_hits(numer, denom).sum())
    return hits, observed, (1 + int(np.count_nonzero(hits >= observed))) / (1 + n_rep)


def integer_null_vectorised(numer: np.ndarray, denom: np.ndarray, n_rep: int = 1000,
                            seed: int = 0) -> tuple[np.ndarray, int, float]:
    """The same null, one replicate of all stations per numpy call."""
    rng = np.random.default_rng(seed)
    rate = numer / denom
    hits = np.array([_hits(rng.binomial(denom, rate), denom).sum() for _ in range(n_rep)])
    observed = int(_hits(numer, denom).sum())
    return hits, observed, (1 + int(np.count_nonzero(hits >= observed))) / (1 + n_rep)
