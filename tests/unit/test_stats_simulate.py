"""The calibration simulator produces valid counts and exactly the manipulation asked for."""

from __future__ import annotations

import numpy as np
import pytest

from auditor.stats import StatsInputError, simulate_election


def test_clean_election_is_valid_and_deterministic() -> None:
    a = simulate_election(2000, n_regions=7, seed=1)
    b = simulate_election(2000, n_regions=7, seed=1)
    assert np.array_equal(a.leader, b.leader) and np.array_equal(a.region, b.region)
    assert np.all((a.registered >= 10) & (a.cast <= a.registered) & (a.leader <= a.cast))
    assert np.all(a.leader >= 0)
    assert not (a.stuffed.any() or a.rounded.any() or a.extreme.any())
    assert set(np.unique(a.region)) <= set(range(7))
    assert 0.5 < a.turnout.mean() < 0.7 and 0.45 < np.nanmean(a.share) < 0.65


def test_stuffing_adds_twenty_points_for_the_leader() -> None:
    clean = simulate_election(3000, seed=2)
    dirty = simulate_election(3000, seed=2, stuffing=0.02)
    assert dirty.stuffed.sum() == 60
    # same draws before the manipulation step: the differences are the stuffed ballots
    added = dirty.cast - clean.cast
    assert np.array_equal(added, dirty.leader - clean.leader)
    assert np.all(added[~dirty.stuffed] == 0)
    cap = clean.registered - clean.cast
    want = np.minimum(np.round(0.2 * clean.registered), cap)[dirty.stuffed]
    assert np.array_equal(added[dirty.stuffed], want)


def test_rounding_targets() -> None:
    e = simulate_election(1000, seed=3, rounding=0.1)
    assert e.rounded.sum() == 100
    pct = 100 * e.leader[e.rounded] / e.cast[e.rounded]
    assert np.all(np.abs(pct - np.round(pct)) * e.cast[e.rounded] <= 50 + 1e-9)
    t = simulate_election(1000, seed=3, rounding=0.1, rounding_target="turnout")
    pct = 100 * t.cast[t.rounded] / t.registered[t.rounded]
    assert np.all(np.abs(pct - np.round(pct)) * t.registered[t.rounded] <= 50 + 1e-9)
    assert np.all(t.leader <= t.cast)


def test_bad_fractions() -> None:
    with pytest.raises(StatsInputError):
        simulate_election(10, stuffing=1.5)
    with pytest.raises(StatsInputError):
        simulate_election(0)
