"""Seat allocation and seat sensitivity for list elections (pure, exact, stdlib only).

Public API (stable names):

- ``Method``: ``"hare"`` (largest remainder, Hare quota), ``"hare_most_votes"`` (Hare quota,
  the seats left to the lists with the most votes, one each: Georgia's Election Code),
  ``"dhondt"`` (divisors 1, 2, 3, …), ``"sainte_lague"`` (1, 3, 5, …),
  ``"sainte_lague_modified"`` (1.4, 3, 5, …).
- ``METHODS``: the tuple of all ``Method`` values.
- ``Allocation``: one choice's result (votes, share, eligibility, Hare quota/remainder, seats).
- ``Sensitivity``: how many votes move a seat or the threshold for one choice.
- ``SeatAllocationError``: bad input (negative votes, threshold outside [0, 1), …).
- ``allocate(votes, seats, method, threshold=0.0, threshold_base=None, exclude=())``.
- ``seat_sensitivity(votes, seats, method, threshold=0.0, threshold_base=None, exclude=())``.

Rules shared by both functions:

- A choice is *eligible* when it is not in ``exclude``, has at least one vote and
  ``votes / threshold_base >= threshold``. ``threshold_base`` defaults to the sum of all votes
  (excluded choices included); pass e.g. valid + invalid ballots where the law says so.
  The threshold float is read as the decimal it prints as (``0.05`` is exactly 1/20), so a
  party at exactly 5 % passes.
- Only eligible choices share the seats. Hare quota = (votes of eligible choices) / seats;
  each gets the integer part of votes / quota, the seats left go to the largest remainders
  (``hare``) or to the choices with the most votes, one each (``hare_most_votes``).
- All comparisons are exact (integers or fractions). Ties (equal quotients for divisor
  methods, equal remainders for Hare) go to the choice with more votes, then to the name
  that sorts first (Python string order). The result never depends on the input order.
- If no choice is eligible nobody gets a seat (legal fall-backs, e.g. Russia's rule that at
  least two lists take part, are not modelled).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from fractions import Fraction
from math import isfinite
from typing import Literal, get_args

Method = Literal["hare", "hare_most_votes", "dhondt", "sainte_lague", "sainte_lague_modified"]
# The methods that give each choice the integer part of its Hare quotas first.
HARE_METHODS: tuple[Method, ...] = ("hare", "hare_most_votes")
METHODS: tuple[Method, ...] = get_args(Method)

# Relative gap under which two float quotients may be misordered; far above the 2**-52
# rounding error of a correctly rounded int/int division, so the fast path stays exact.
_NEAR_TIE = 1e-9


class SeatAllocationError(ValueError):
    """Input that no seat allocation can be computed from (a user error, not a bug)."""


@dataclass(frozen=True)
class Allocation:
    """Seats of one choice: ``quota`` and ``remainder`` are set for Hare and eligible only."""

    choice: str
    votes: int
    share: float
    eligible: bool
    quota: float | None
    remainder: float | None
    seats: int


@dataclass(frozen=True)
class Sensitivity:
    """Smallest vote changes that move a seat or the threshold for one choice.

    ``None`` means not applicable: excluded choice, no seat to lose, all seats already held,
    no threshold, or (for the two threshold fields) already on the asked side of it.
    ``threshold_margin_pp`` is share minus threshold in percentage points (negative = below).
    """

    choice: str
    votes: int
    seats: int
    eligible: bool
    votes_to_gain_seat: int | None
    votes_to_lose_seat: int | None
    votes_to_pass_threshold: int | None
    votes_to_fail_threshold: int | None
    threshold_margin_pp: float | None


@dataclass(frozen=True)
class _Problem:
    """Validated input, choices in name order (the index is the final tie-break)."""

    names: tuple[str, ...]
    votes: tuple[int, ...]
    excluded: tuple[bool, ...]
    seats: int
    method: Method
    num: int  # threshold = num / den
    den: int
    base: int

    def eligible(self, votes: int, base: int, excluded: bool) -> bool:
        return not excluded and votes >= 1 and votes * self.den >= self.num * base

    def counts(self, votes: list[int], base: int) -> list[int]:
        ok = [self.eligible(v, base, x) for v, x in zip(votes, self.excluded, strict=True)]
        return _seat_counts(votes, ok, self.seats, self.method)


def _problem(
    votes: Mapping[str, int],
    seats: int,
    method: str,
    threshold: float,
    threshold_base: int | None,
    exclude: Collection[str],
) -> _Problem:
    if method not in METHODS:
        raise SeatAllocationError(f"unknown method {method!r}; expected one of {METHODS}")
    if isinstance(seats, bool) or not isinstance(seats, int) or seats < 0:
        raise SeatAllocationError(f"seats must be a non-negative integer, got {seats!r}")
    for name, v in votes.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise SeatAllocationError(
                f"votes for {name!r} must be a non-negative integer, got {v!r}"
            )
    if not isfinite(threshold) or not 0 <= threshold < 1:
        raise SeatAllocationError(f"threshold must be a fraction in [0, 1), got {threshold!r}")
    total = sum(votes.values())
    base = total if threshold_base is None else threshold_base
    if base < total:
        raise SeatAllocationError(
            f"threshold_base {base} is smaller than the sum of votes {total}; it must include them"
        )
    t = Fraction(str(threshold))
    names = tuple(sorted(votes))
    return _Problem(
        names=names,
        votes=tuple(votes[n] for n in names),
        excluded=tuple(n in exclude for n in names),
        seats=seats,
        method=method,
        num=t.numerator,
        den=t.denominator,
        base=base,
    )


def _divisor(method: Method, k: int) -> int:
    """Divisor for a choice's (k+1)-th seat, scaled to an integer (modified: 1.4, 3, 5 → 7, 15, 25)."""
    if method == "dhondt":
        return k + 1
    if method == "sainte_lague":
        return 2 * k + 1
    return 7 if k == 0 else 10 * k + 5


def _seat_counts(votes: list[int], eligible: list[bool], seats: int, method: Method) -> list[int]:
    """Seats per index; ties broken by more votes, then lower index (= name order)."""
    out = [0] * len(votes)
    idx = [i for i, ok in enumerate(eligible) if ok]
    if not idx or seats == 0:
        return out
    if method in HARE_METHODS:
        total = sum(votes[i] for i in idx)
        order = []
        for i in idx:
            out[i], rem = divmod(votes[i] * seats, total)  # remainder = rem / total
            # the seats left: by largest remainder, or (Georgia) by most votes
            order.append((-rem if method == "hare" else 0, -votes[i], i))
        for _, _, i in sorted(order)[: seats - sum(out)]:
            out[i] += 1
        return out
    fast = _divisor_counts(votes, idx, seats, method, exact=False)
    if fast is not None:
        return fast
    exact = _divisor_counts(votes, idx, seats, method, exact=True)
    if exact is None:  # pragma: no cover - exact keys never report a near tie
        raise AssertionError("exact divisor allocation reported a near tie")
    return exact


def _divisor_counts(
    votes: list[int],
    idx: list[int],
    seats: int,
    method: Method,
    *,
    exact: bool,
) -> list[int] | None:
    """Take the ``seats`` largest quotients; ``None`` if float keys leave a near tie at the cut.

    Floats are ~50x faster than fractions and, being correctly rounded, can only misorder
    quotients that are nearly equal; near the cut the caller redoes the work exactly.
    """

    def quotient(v: int, d: int) -> float | Fraction:
        return Fraction(v, d) if exact else v / d

    out = [0] * len(votes)
    heap = [(-quotient(votes[i], _divisor(method, 0)), -votes[i], i) for i in idx]
    heapq.heapify(heap)
    last = heap[0][0]
    for _ in range(seats):
        last, neg_votes, i = heapq.heappop(heap)
        out[i] += 1
        heapq.heappush(heap, (-quotient(votes[i], _divisor(method, out[i])), neg_votes, i))
    if not exact and heap[0][0] - last <= _NEAR_TIE * -last:
        return None
    return out


def allocate(
    votes: Mapping[str, int],
    seats: int,
    method: Method,
    threshold: float = 0.0,
    threshold_base: int | None = None,
    exclude: Collection[str] = (),
) -> list[Allocation]:
    """Allocate ``seats`` among the choices in ``votes`` with a threshold and exclusions.

    What: the seats each choice wins under ``method`` (see the module docstring for the
    threshold, tie and eligibility rules), one ``Allocation`` per input choice, sorted by
    seats, then votes (both descending), then name.
    Why: a published seat table can be recomputed from the published votes; a mismatch, a
    party just over the threshold, or a seat decided by a tie is a finding.
    Example:
        >>> [(a.choice, a.seats) for a in allocate({"A": 100, "B": 80, "C": 30}, 5, "dhondt")]
        [('A', 3), ('B', 2), ('C', 0)]

    Raises ``SeatAllocationError`` for negative votes or seats, an unknown method, a threshold
    outside [0, 1) or a ``threshold_base`` smaller than the sum of votes.
    """
    p = _problem(votes, seats, method, threshold, threshold_base, exclude)
    ok = [p.eligible(v, p.base, x) for v, x in zip(p.votes, p.excluded, strict=True)]
    counts = _seat_counts(list(p.votes), ok, p.seats, p.method)
    eligible_total = sum(v for v, e in zip(p.votes, ok, strict=True) if e)
    result = []
    for name, v, e, s in zip(p.names, p.votes, ok, counts, strict=True):
        quota = remainder = None
        if p.method in HARE_METHODS and e and p.seats > 0:
            quota = v * p.seats / eligible_total
            remainder = (v * p.seats % eligible_total) / eligible_total
        share = v / p.base if p.base else 0.0
        result.append(Allocation(name, v, share, e, quota, remainder, s))
    result.sort(key=lambda a: (-a.seats, -a.votes, a.choice))
    return result


def _first_true(lo: int, hi: int, test: Callable[[int], bool], guess: int | None = None) -> int:
    """Smallest x in [lo, hi] with ``test(x)``, given ``test`` is monotone and ``test(hi)``.

    With a ``guess``, the search starts there and widens by doubling steps before bisecting:
    ~2·log2(|error| + 1) tests instead of log2(hi − lo) (about 40 for a national count).
    """
    if guess is not None and lo < hi:
        g, step = min(max(guess, lo), hi), 1
        if test(g):  # the answer is at g or below
            while g - step >= lo and test(g - step):
                g, step = g - step, 2 * step
            lo, hi = max(lo, g - step + 1), g
        else:  # the answer is above g
            while g + step < hi and not test(g + step):
                g, step = g + step, 2 * step
            lo, hi = g + 1, min(hi, g + step)
    while lo < hi:
        mid = (lo + hi) // 2
        if test(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _search(breaks: set[int], lo: int, hi: int, test: Callable[[int], bool],
            guess: int | None = None) -> int | None:
    """Smallest x in [lo, hi] with ``test(x)``, ``test`` being monotone between breakpoints
    (``guess``: where the answer probably is, see `_first_true`)."""
    cuts = [*sorted(b for b in breaks if lo < b <= hi), hi + 1]
    start = lo
    for cut in cuts:
        if test(cut - 1):
            return _first_true(start, cut - 1, test, guess)
        start = cut
    return None


def _guesses(p: _Problem, i: int, counts: list[int]) -> tuple[int | None, int | None]:
    """Divisor methods: about how many votes choice ``i`` needs to gain a seat (to beat the
    lowest quotient that wins another choice a seat) and to lose one (to fall below the best
    quotient that wins nothing), other things equal. Only a starting point for `_search`."""
    if p.method in HARE_METHODS:
        return None, None
    v, s = p.votes[i], counts[i]
    others = [j for j in range(len(p.votes))
              if j != i and p.eligible(p.votes[j], p.base, p.excluded[j])]
    won = [p.votes[j] / _divisor(p.method, counts[j] - 1) for j in others if counts[j] > 0]
    lost = [p.votes[j] / _divisor(p.method, counts[j]) for j in others]
    gain = int(min(won) * _divisor(p.method, s) - v) + 1 if won else None
    lose = int(v - max(lost) * _divisor(p.method, s - 1)) + 1 if lost and s > 0 else None
    return gain, lose


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _sensitivity(p: _Problem, i: int, counts: list[int]) -> Sensitivity:
    v, num, den, base, seats_now = p.votes[i], p.num, p.den, p.base, counts[i]
    eligible = p.eligible(v, base, p.excluded[i])
    margin_pp = 100 * (v / base - num / den) if num and base else None
    if p.excluded[i]:
        return Sensitivity(p.names[i], v, 0, False, None, None, None, None, None)

    def seats_with(new_votes: int, new_base: int) -> int:
        votes = list(p.votes)
        votes[i] = new_votes
        return p.counts(votes, new_base)[i]

    # Added votes come from outside the choices (new voters), so the base grows with them;
    # others only fall below the threshold as x grows. Between those events the choice's seat
    # count is monotone in its own votes (divisor methods, and Hare with a fixed eligible set).
    others = [j for j in range(len(p.votes)) if j != i and not p.excluded[j] and p.votes[j] > 0]
    pass_at = 1 if eligible else max(1, _ceil_div(num * base - v * den, den - num))
    gain: int | None = None
    gain_at, lose_at = _guesses(p, i, counts)
    if seats_now < p.seats:
        breaks = {pass_at} | {(p.votes[j] * den - num * base) // num + 1 for j in others if num}
        cap = (2 * p.seats + 1) * (sum(p.votes) + 1) + max(breaks)  # owns every seat by then
        gain = _search(breaks, 1, cap, lambda x: seats_with(v + x, base + x) > seats_now,
                       gain_at)
    lose: int | None = None
    fail_at = (v * den - num * base) // (den - num) + 1 if eligible else None
    if seats_now > 0:
        breaks = {_ceil_div(num * base - p.votes[j] * den, num) for j in others if num}
        breaks.add(min(fail_at or v, v))
        lose = _search(breaks, 1, v, lambda y: seats_with(v - y, base - y) < seats_now,
                       lose_at)
    return Sensitivity(
        choice=p.names[i],
        votes=v,
        seats=seats_now,
        eligible=eligible,
        votes_to_gain_seat=gain,
        votes_to_lose_seat=lose,
        votes_to_pass_threshold=None if eligible or not num else pass_at,
        votes_to_fail_threshold=min(fail_at, v) if fail_at is not None and num else None,
        threshold_margin_pp=margin_pp,
    )


def seat_sensitivity(
    votes: Mapping[str, int],
    seats: int,
    method: Method,
    threshold: float = 0.0,
    threshold_base: int | None = None,
    exclude: Collection[str] = (),
) -> list[Sensitivity]:
    """How many votes would change each choice's seats or threshold status (exact integers).

    What: for every choice, the fewest votes that, added to it, give it one more seat; the
    fewest that, taken from it, cost it a seat; the fewest to add to pass the threshold or to
    take away to fall below it, and the margin to the threshold in percentage points.
    Assumption: only this choice's votes change, all other choices keep theirs, and the
    votes come from (or go to) outside the listed choices, e.g. new voters or abstainers, so
    the threshold base moves by the same amount (whether it is the default sum or given).
    The answers account for other parties crossing the threshold as the base moves.
    Same argument rules as ``allocate``; same output order as ``allocate``.
    Why: "how many votes decide a seat" is the number a margin must be compared with, e.g.
    against the votes in stations flagged by other checks.
    Example:
        >>> s = seat_sensitivity({"A": 100, "B": 80, "C": 30}, 5, "dhondt")
        >>> [(x.choice, x.votes_to_gain_seat, x.votes_to_lose_seat) for x in s]
        [('A', 60, 11), ('B', 21, 21), ('C', 4, None)]
    """
    p = _problem(votes, seats, method, threshold, threshold_base, exclude)
    counts = p.counts(list(p.votes), p.base)
    out = [_sensitivity(p, i, counts) for i in range(len(p.names))]
    out.sort(key=lambda s: (-s.seats, -s.votes, s.choice))
    return out
