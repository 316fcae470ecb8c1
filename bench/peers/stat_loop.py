"""The loop baseline for STAT001: the per-station binomial Monte-Carlo null as in the
published notebooks (one numpy call per station, a Python loop over stations)."""

from __future__ import annotations

import numpy as np


def integer_null_loop(numer: np.ndarray, denom: np.ndarray, n_rep: int = 1000,
                      seed: int = 0) -> np.ndarray:
    """Null distribution of the number of stations at an integer percentage, station by station."""
    rng = np.random.default_rng(seed)
    hits = np.zeros(n_rep, dtype=np.int64)
    for k, n in zip(numer, denom, strict=True):
        if n <= 0:
            continue
        sims = rng.binomial(int(n), k / n, n_rep)
        hits += (sims * 100) % int(n) == 0
    return hits
