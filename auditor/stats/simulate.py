"""A fast simulator of clean (and deliberately manipulated) elections for calibration loops.

Public API:

- ``SimElection``: per-station arrays (region, registered, cast, leader) plus the truth
  masks ``stuffed`` and ``rounded``.
- ``simulate_election(n_stations, n_regions, seed, …)``.

The model (all draws from one ``numpy.random.Generator`` seeded with ``seed``):

1. Regions get unequal sizes (Dirichlet(2) proportions); stations are assigned to them.
2. Registered voters per station: lognormal around ``median_size`` (σ = ``size_sigma``),
   at least 10.
3. Regional turnout and leader share: Beta with the national mean and a between-region
   standard deviation; station rates: Beta around the regional mean with a within-region
   standard deviation. Turnout and share are independent given the region, which is the
   clean-election null of the fingerprint test.
4. Counts: cast ~ Binomial(registered, turnout rate), leader ~ Binomial(cast, share rate).
5. Optional manipulation, each in a random ``fraction`` of stations:
   - ballot stuffing: ``stuffing_points`` × registered extra ballots (capped so turnout
     stays ≤ 100 %), all counted for the leader;
   - extreme stuffing (Klimek et al.'s "extreme fraud"): turnout raised to 96–100 % with
     all extra ballots and 80–100 % of the other choices' votes given to the leader;
   - rounding: the leader's count (or the turnout count) replaced by the count nearest to
     the nearest integer percentage, as a commission aiming at a round figure would write.

This is a test tool, not the synthetic-election generator of ``fixtures/`` used for the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from auditor.stats._common import BoolArray, FloatArray, IntArray, StatsInputError


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields, not objects
class SimElection:
    """One simulated election: one entry per polling station."""

    region: IntArray
    registered: IntArray
    cast: IntArray
    leader: IntArray
    stuffed: BoolArray
    rounded: BoolArray
    extreme: BoolArray

    @property
    def turnout(self) -> FloatArray:
        """cast / registered."""
        return self.cast / self.registered

    @property
    def share(self) -> FloatArray:
        """leader / cast (NaN where nobody voted)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.cast > 0, self.leader / np.maximum(self.cast, 1), np.nan)


def _beta(rng: np.random.Generator, mean: FloatArray, sd: float) -> FloatArray:
    """Beta draws with the given means and common standard deviation."""
    m = np.clip(mean, 0.02, 0.98)
    conc = np.maximum(m * (1.0 - m) / (sd * sd) - 1.0, 2.0)
    return rng.beta(m * conc, (1.0 - m) * conc)


def round_to_integer_percent(numer: IntArray, denom: IntArray) -> IntArray:
    """Replace counts by the count a commission aiming at a round percentage would write.

    What: the count nearest to (the integer percentage nearest to numer / denom) × denom,
    rounding halves up, never above ``denom``.
    Why: the manipulation that integer-percentage spikes detect, for power tests.
    Example: ``round_to_integer_percent([1154], [1537])`` → ``[1153]`` (75.08 % → 75 %).
    """
    d = np.maximum(denom, 1)
    pct = (200 * numer + d) // (2 * d)
    return np.asarray(np.minimum((2 * pct * d + 100) // 200, denom), dtype=np.int64)


def simulate_election(
    n_stations: int = 3000,
    n_regions: int = 20,
    seed: int = 0,
    *,
    stuffing: float = 0.0,
    stuffing_points: float = 0.20,
    extreme_stuffing: float = 0.0,
    rounding: float = 0.0,
    rounding_target: Literal["share", "turnout"] = "share",
    median_size: float = 900.0,
    size_sigma: float = 0.6,
    turnout_mean: float = 0.60,
    turnout_region_sd: float = 0.07,
    turnout_station_sd: float = 0.08,
    share_mean: float = 0.55,
    share_region_sd: float = 0.08,
    share_station_sd: float = 0.08,
) -> SimElection:
    """Simulate one election of ``n_stations`` polling stations in ``n_regions`` regions.

    What: a clean election (see the module docstring for the model), optionally with ballot
    stuffing in a fraction ``stuffing`` of stations and integer-percentage rounding in a
    fraction ``rounding`` of stations.
    Why: calibration (false-alarm rate on clean elections) and power (detection rate of
    injected manipulation) of the tests in ``auditor.stats`` need thousands of elections
    generated in milliseconds.
    Example: ``e = simulate_election(3000, seed=1, stuffing=0.02)``; ``e.stuffed.sum()`` → 60.
    """
    if n_stations < 1 or n_regions < 1:
        raise StatsInputError("need at least one station and one region")
    if not all(0.0 <= f <= 1.0 for f in (stuffing, extreme_stuffing, rounding)):
        raise StatsInputError("stuffing and rounding are fractions of stations in [0, 1]")
    rng = np.random.default_rng(seed)
    props = rng.dirichlet(np.full(n_regions, 2.0))
    region = np.sort(rng.choice(n_regions, size=n_stations, p=props)).astype(np.int64)
    registered = np.maximum(
        10, np.round(np.exp(rng.normal(np.log(median_size), size_sigma, n_stations)))
    ).astype(np.int64)
    reg_turnout = _beta(rng, np.full(n_regions, turnout_mean), turnout_region_sd)
    reg_share = _beta(rng, np.full(n_regions, share_mean), share_region_sd)
    t_rate = _beta(rng, reg_turnout[region], turnout_station_sd)
    s_rate = _beta(rng, reg_share[region], share_station_sd)
    cast = rng.binomial(registered, t_rate).astype(np.int64)
    leader = rng.binomial(cast, s_rate).astype(np.int64)

    stuffed = np.zeros(n_stations, dtype=np.bool_)
    n_stuff = round(stuffing * n_stations)
    if n_stuff:
        idx = rng.choice(n_stations, size=n_stuff, replace=False)
        stuffed[idx] = True
        extra = np.minimum(
            np.round(stuffing_points * registered[idx]).astype(np.int64),
            registered[idx] - cast[idx],
        )
        cast[idx] += extra
        leader[idx] += extra

    extreme = np.zeros(n_stations, dtype=np.bool_)
    n_ext = round(extreme_stuffing * n_stations)
    if n_ext:
        idx = rng.choice(n_stations, size=n_ext, replace=False)
        extreme[idx] = True
        target = np.round(rng.uniform(0.96, 1.0, n_ext) * registered[idx]).astype(np.int64)
        new_cast = np.maximum(cast[idx], target)
        others = cast[idx] - leader[idx]
        moved = np.round(rng.uniform(0.8, 1.0, n_ext) * others).astype(np.int64)
        leader[idx] += new_cast - cast[idx] + moved
        cast[idx] = new_cast

    rounded = np.zeros(n_stations, dtype=np.bool_)
    n_round = round(rounding * n_stations)
    if n_round:
        idx = rng.choice(n_stations, size=n_round, replace=False)
        rounded[idx] = True
        if rounding_target == "share":
            leader[idx] = round_to_integer_percent(leader[idx], cast[idx])
        else:
            new_cast = round_to_integer_percent(cast[idx], registered[idx])
            # keep the leader's share: scale the leader's count with the new turnout count
            old = np.maximum(cast[idx], 1)
            leader[idx] = np.minimum((2 * leader[idx] * new_cast + old) // (2 * old), new_cast)
            cast[idx] = new_cast
    return SimElection(region, registered, cast, leader, stuffed, rounded, extreme)
