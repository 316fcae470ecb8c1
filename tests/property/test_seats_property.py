"""Properties of seat allocation, checked against naive reference implementations.

The references below are written independently of ``auditor.seats``: they list every
quotient (divisor methods) or every quota (Hare) as a ``Fraction`` and sort, with the
documented tie-break (more votes, then name).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from fractions import Fraction
from math import floor
from random import Random

from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.seats import METHODS, Allocation, Method, allocate, seat_sensitivity

DIVISORS = ("dhondt", "sainte_lague", "sainte_lague_modified")
NAMES = ["A", "B", "C", "D", "E", "F", "G", "H", "Ж", "against all", "a", "b"]


def ref_divisor(method: str, k: int) -> Fraction:
    if method == "dhondt":
        return Fraction(k + 1)
    if method == "sainte_lague_modified" and k == 0:
        return Fraction(14, 10)
    return Fraction(2 * k + 1)


def reference(
    votes: Mapping[str, int],
    seats: int,
    method: str,
    threshold: float,
    threshold_base: int | None,
    exclude: Collection[str],
) -> dict[str, int]:
    base = sum(votes.values()) if threshold_base is None else threshold_base
    t = Fraction(str(threshold))
    ok = [n for n, v in votes.items() if n not in exclude and v > 0 and Fraction(v, base) >= t]
    out = dict.fromkeys(votes, 0)
    if not ok or seats == 0:
        return out
    if method in ("hare", "hare_most_votes"):
        total = sum(votes[n] for n in ok)
        quotas = {n: Fraction(votes[n] * seats, total) for n in ok}
        for n in ok:
            out[n] = floor(quotas[n])
        left = seats - sum(out.values())
        if method == "hare":  # the seats left by largest remainder
            ranked = sorted(ok, key=lambda n: (-(quotas[n] - floor(quotas[n])), -votes[n], n))
        else:  # Georgia: by most votes
            ranked = sorted(ok, key=lambda n: (-votes[n], n))
        for n in ranked[:left]:
            out[n] += 1
        return out
    quotients = [(votes[n] / ref_divisor(method, k), votes[n], n) for n in ok for k in range(seats)]
    quotients.sort(key=lambda q: (-q[0], -q[1], q[2]))
    for _, _, n in quotients[:seats]:
        out[n] += 1
    return out


@dataclass(frozen=True)
class Election:
    votes: dict[str, int]
    seats: int
    method: Method
    threshold: float
    threshold_base: int | None
    exclude: frozenset[str]

    def allocate(self) -> list[Allocation]:
        return allocate(
            self.votes, self.seats, self.method, self.threshold, self.threshold_base, self.exclude
        )

    def reference(self) -> dict[str, int]:
        return reference(
            self.votes, self.seats, self.method, self.threshold, self.threshold_base, self.exclude
        )

    def seats_of(self) -> dict[str, int]:
        return {a.choice: a.seats for a in self.allocate()}

    def moved(self, name: str, delta: int) -> Election:
        """``delta`` more votes for ``name`` from outside the choices (the base moves too)."""
        votes = {**self.votes, name: self.votes[name] + delta}
        base = None if self.threshold_base is None else self.threshold_base + delta
        return replace(self, votes=votes, threshold_base=base)

    def eligible(self, name: str) -> bool:
        return next(a.eligible for a in self.allocate() if a.choice == name)


@st.composite
def elections(draw: st.DrawFn, max_votes: int = 10**6, max_seats: int = 40) -> Election:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=8, unique=True))
    # A common unit times small integers makes exact ties (equal quotients) frequent.
    unit = draw(st.sampled_from([1, 1, 7, 1000, 99_991]))
    votes = {n: unit * draw(st.integers(0, max(max_votes // unit, 1))) for n in names}
    with_base = draw(st.booleans())
    return Election(
        votes=votes,
        seats=draw(st.integers(0, max_seats)),
        method=draw(st.sampled_from(METHODS)),
        threshold=draw(st.sampled_from([0.0, 0.0, 0.03, 0.05, 0.07, 0.25])),
        threshold_base=sum(votes.values()) + draw(st.integers(0, 500)) if with_base else None,
        exclude=frozenset(draw(st.sets(st.sampled_from(names), max_size=2))),
    )


@settings(max_examples=400, deadline=None)
@given(elections())
def test_matches_reference(e: Election) -> None:
    assert e.seats_of() == e.reference()


@settings(max_examples=100, deadline=None)
@given(elections(max_votes=10**12, max_seats=300))
def test_matches_reference_large(e: Election) -> None:
    assert e.seats_of() == e.reference()


@settings(max_examples=200, deadline=None)
@given(elections(), st.randoms(use_true_random=False))
def test_input_order_does_not_matter(e: Election, rnd: Random) -> None:
    items = list(e.votes.items())
    rnd.shuffle(items)
    assert e.allocate() == replace(e, votes=dict(items)).allocate()


@settings(max_examples=300, deadline=None)
@given(elections())
def test_all_seats_given_when_anyone_is_eligible(e: Election) -> None:
    result = e.allocate()
    total = sum(a.seats for a in result)
    assert total == (e.seats if any(a.eligible for a in result) else 0)
    assert all(a.seats == 0 for a in result if not a.eligible)
    keys = [(-a.seats, -a.votes, a.choice) for a in result]
    assert keys == sorted(keys)


@settings(max_examples=300, deadline=None)
@given(elections(), st.sampled_from(DIVISORS))
def test_divisor_methods_are_house_monotone(e: Election, method: Method) -> None:
    # No Alabama paradox: one more seat in the house never costs a party a seat.
    before = replace(e, method=method).seats_of()
    after = replace(e, method=method, seats=e.seats + 1).seats_of()
    assert all(after[n] >= before[n] for n in before)
    assert sum(after.values()) - sum(before.values()) in (0, 1)


SCAN = 300  # below this, check every smaller change too (global minimality)


@settings(max_examples=300, deadline=None)
@given(elections(max_votes=300, max_seats=12))
def test_sensitivity_is_the_smallest_change(e: Election) -> None:
    result = seat_sensitivity(e.votes, e.seats, e.method, e.threshold, e.threshold_base, e.exclude)
    for s in result:
        name, now = s.choice, s.seats
        assert now == e.seats_of()[name]
        if s.votes_to_gain_seat is not None:
            g = s.votes_to_gain_seat
            assert e.moved(name, g).seats_of()[name] > now
            tried = range(1, g) if g <= SCAN else [g - 1]
            assert all(e.moved(name, x).seats_of()[name] <= now for x in tried if x >= 1)
        elif name not in e.exclude:
            # Only a full house makes a seat impossible to gain.
            assert now == e.seats
        if s.votes_to_lose_seat is not None:
            lose = s.votes_to_lose_seat
            assert 1 <= lose <= s.votes
            assert e.moved(name, -lose).seats_of()[name] < now
            tried = range(1, lose) if lose <= SCAN else [lose - 1]
            assert all(e.moved(name, -y).seats_of()[name] >= now for y in tried if y >= 1)
        else:
            assert now == 0
        if s.votes_to_pass_threshold is not None:
            p = s.votes_to_pass_threshold
            assert not s.eligible and e.moved(name, p).eligible(name)
            assert p == 1 or not e.moved(name, p - 1).eligible(name)
        if s.votes_to_fail_threshold is not None:
            f = s.votes_to_fail_threshold
            assert s.eligible and not e.moved(name, -f).eligible(name)
            assert f == 1 or e.moved(name, -(f - 1)).eligible(name)
