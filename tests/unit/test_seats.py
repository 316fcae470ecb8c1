"""Seat allocation on worked examples whose numbers are computed by hand in the comments."""

from __future__ import annotations

import doctest

import pytest

from auditor import seats as seats_module
from auditor.seats import SeatAllocationError, Sensitivity, allocate, seat_sensitivity

# The textbook four-party example (Wikipedia "D'Hondt method" / "Sainte-Laguë method").
FOUR = {"A": 100_000, "B": 80_000, "C": 30_000, "D": 20_000}


def seats_of(votes: dict[str, int], n: int, method: str, **kw: object) -> dict[str, int]:
    return {a.choice: a.seats for a in allocate(votes, n, method, **kw)}  # type: ignore[arg-type]


def by_choice(result: list[Sensitivity]) -> dict[str, Sensitivity]:
    return {s.choice: s for s in result}


def test_dhondt_textbook() -> None:
    # Quotients v/1, v/2, …: A 100k 50k 33.3k 25k 20k; B 80k 40k 26.7k 20k; C 30k 15k; D 20k.
    # The 8 largest: 100k A, 80k B, 50k A, 40k B, 33.3k A, 30k C, 26.7k B, 25k A.
    assert seats_of(FOUR, 8, "dhondt") == {"A": 4, "B": 3, "C": 1, "D": 0}


def test_sainte_lague_textbook() -> None:
    # Divisors 1, 3, 5, 7: A 100k 33.3k 20k 14.3k; B 80k 26.7k 16k; C 30k 10k; D 20k 6.7k.
    # The 8 largest: 100k A, 80k B, 33.3k A, 30k C, 26.7k B, 20k A, 20k D, 16k B.
    assert seats_of(FOUR, 8, "sainte_lague") == {"A": 3, "B": 3, "C": 1, "D": 1}


def test_modified_sainte_lague_exact_tie_goes_to_more_votes() -> None:
    # Divisors 1.4, 3, 5, 7: A 71.4k 33.3k 20k 14285.71; B 57.1k 26.7k 16k; C 21.4k; D 14285.71.
    # The 8th seat is an exact tie between A's 100000/7 and D's 20000/1.4 (floats would differ:
    # 20000/1.4 != 100000/7 in binary); A has more votes, so A gets it.
    assert seats_of(FOUR, 8, "sainte_lague_modified") == {"A": 4, "B": 3, "C": 1, "D": 0}
    assert seats_of(FOUR, 7, "sainte_lague_modified") == {"A": 3, "B": 3, "C": 1, "D": 0}


def test_hare_textbook() -> None:
    # Wikipedia "Largest remainder method": 100,000 votes, 10 seats, Hare quota 10,000.
    # Quotas 4.7 1.6 1.58 1.2 0.61 0.31 → integer parts 4 1 1 1 0 0 (7 seats); the 3 left go
    # to the largest remainders .70 (A), .61 (E), .60 (B).
    votes = {"A": 47_000, "B": 16_000, "C": 15_800, "D": 12_000, "E": 6_100, "F": 3_100}
    result = allocate(votes, 10, "hare")
    assert [(a.choice, a.seats) for a in result] == [
        ("A", 5),
        ("B", 2),
        ("C", 1),
        ("D", 1),
        ("E", 1),
        ("F", 0),
    ]
    quota = {a.choice: a.quota for a in result}
    remainder = {a.choice: a.remainder for a in result}
    assert quota["C"] == pytest.approx(1.58)
    assert remainder["E"] == pytest.approx(0.61)
    assert allocate(votes, 10, "dhondt")[0].quota is None


def test_hare_alabama_paradox() -> None:
    # 6, 6, 2 votes. 10 seats: quotas 4.29 4.29 1.43 → 4 4 1 + C's remainder → C has 2.
    # 11 seats: quotas 4.71 4.71 1.57 → 4 4 1 + 2 remainders to A and B → C has 1.
    votes = {"A": 6, "B": 6, "C": 2}
    assert seats_of(votes, 10, "hare") == {"A": 4, "B": 4, "C": 2}
    assert seats_of(votes, 11, "hare") == {"A": 5, "B": 5, "C": 1}


def test_threshold_base_decides_eligibility() -> None:
    # C has 50 of 1000 valid votes = exactly 5 % → passes (>=), but 50/1020 = 4.90 % when the
    # 20 invalid ballots count in the base.
    votes = {"A": 520, "B": 400, "C": 50, "D": 30}
    # Base 1000, Hare over A+B+C = 970: quotas 5.36 4.12 0.52 → 5 4 0 + 1 to C (.52).
    assert seats_of(votes, 10, "hare", threshold=0.05) == {"A": 5, "B": 4, "C": 1, "D": 0}
    # Base 1020, Hare over A+B = 920: quotas 5.65 4.35 → 5 4 + 1 to A.
    result = allocate(votes, 10, "hare", threshold=0.05, threshold_base=1020)
    assert {a.choice: a.seats for a in result} == {"A": 6, "B": 4, "C": 0, "D": 0}
    assert {a.choice for a in result if a.eligible} == {"A", "B"}
    assert {a.choice: a.share for a in result}["C"] == pytest.approx(50 / 1020)


def test_exclude_never_gets_seats() -> None:
    # "Against all" is in the threshold base but gets no seat. D'Hondt A 500 250 166.7 125
    # 100 83.3; B 300 150 100 75: the 10 largest give A 6, B 4 (the 100/100 tie goes to A).
    votes = {"A": 500, "B": 300, "against all": 200}
    result = allocate(votes, 10, "dhondt", exclude=["against all"])
    assert {a.choice: (a.seats, a.eligible) for a in result} == {
        "A": (6, True),
        "B": (4, True),
        "against all": (0, False),
    }
    assert {a.choice: a.share for a in result}["A"] == pytest.approx(0.5)


def test_ties_are_deterministic() -> None:
    # Equal votes, one seat: the name that sorts first wins, whatever the input order.
    assert seats_of({"B": 100, "A": 100}, 1, "dhondt") == {"A": 1, "B": 0}
    assert seats_of({"A": 100, "B": 100}, 1, "sainte_lague") == {"A": 1, "B": 0}
    # Hare, 2 seats, 3 and 1 votes: quotas 1.5 and 0.5, equal remainders → more votes (X).
    assert seats_of({"Y": 1, "X": 3}, 2, "hare") == {"X": 2, "Y": 0}
    order = [a.choice for a in allocate({"c": 5, "b": 5, "a": 5, "d": 9}, 3, "dhondt")]
    assert order == ["d", "a", "b", "c"]


def test_duma_2011_official_totals() -> None:
    # CEC protocol, 4 Dec 2011: 65,656,526 ballots (valid + invalid), 7 % threshold, 450
    # seats, Hare over the four lists above it. Official result: 238 / 92 / 64 / 56.
    votes = {
        "UR": 32_379_135,
        "CPRF": 12_599_507,
        "SR": 8_695_522,
        "LDPR": 7_664_570,
        "Yabloko": 2_252_403,
        "Patriots": 639_118,
        "Right Cause": 392_806,
    }
    result = allocate(votes, 450, "hare", threshold=0.07, threshold_base=65_656_526)
    assert [(a.choice, a.seats) for a in result if a.seats] == [
        ("UR", 238),
        ("CPRF", 92),
        ("SR", 64),
        ("LDPR", 56),
    ]
    assert [round(100 * a.share, 2) for a in result[:5]] == [49.32, 19.19, 13.24, 11.67, 3.43]


def test_no_eligible_choice_gives_no_seats() -> None:
    assert seats_of({"A": 4, "B": 3}, 5, "hare", threshold=0.9) == {"A": 0, "B": 0}
    assert seats_of({"A": 0, "B": 0}, 5, "dhondt") == {"A": 0, "B": 0}
    assert allocate({}, 5, "hare") == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"votes": {"A": -1}}, "non-negative"),
        ({"seats": -2}, "seats"),
        ({"method": "webster"}, "unknown method"),
        ({"threshold": 1.0}, "threshold"),
        ({"threshold": float("nan")}, "threshold"),
        ({"threshold_base": 5}, "threshold_base"),
    ],
)
def test_bad_input_raises_typed_error(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"votes": {"A": 10, "B": 5}, "seats": 3, "method": "hare"}
    args.update(kwargs)
    with pytest.raises(SeatAllocationError, match=message):
        allocate(**args)  # type: ignore[arg-type]
    with pytest.raises(SeatAllocationError, match=message):
        seat_sensitivity(**args)  # type: ignore[arg-type]


def test_sensitivity_dhondt_textbook() -> None:
    # 8 seats as in test_dhondt_textbook. A party gets >= k seats iff its k-th quotient beats
    # the (8-k+1)-th largest quotient of the others (ties: more votes, then name).
    s = by_choice(seat_sensitivity(FOUR, 8, "dhondt"))
    # D's 1st seat must beat the 8th quotient of A, B, C = A's 25,000 (A wins ties, more
    # votes) → 25,001 → +5,001.
    assert s["D"].votes_to_gain_seat == 5_001
    assert s["D"].votes_to_lose_seat is None
    # C's 2nd seat: C/2 must beat the 7th of A, B, D = 25,000 → C = 50,001 → +20,001.
    assert s["C"].votes_to_gain_seat == 20_001
    # B's 4th seat: B/4 must beat the 5th of A, C, D = 25,000 (A, 100,000 votes); at B =
    # 100,000 the tie goes to A by name → B = 100,001 → +20,001.
    assert s["B"].votes_to_gain_seat == 20_001
    # A's 5th seat: A/5 must beat the 4th of B, C, D = 26,666.67 → A = 133,334 → +33,334.
    assert s["A"].votes_to_gain_seat == 33_334
    # A keeps 4 seats while A/4 beats the 5th of B, C, D = B's 80,000/4 = 20,000; at A =
    # 80,000 the tie (equal votes) goes to A by name; at 79,999 it is lost → -20,001.
    assert s["A"].votes_to_lose_seat == 20_001
    # No threshold: the threshold fields are not applicable.
    assert s["A"].votes_to_fail_threshold is None
    assert s["D"].votes_to_pass_threshold is None
    assert s["D"].threshold_margin_pp is None


def test_sensitivity_threshold() -> None:
    # Base = 1000 valid + 20 invalid ballots, 5 %. Added votes also enlarge the base.
    votes = {"A": 520, "B": 400, "C": 50, "D": 30}
    s = by_choice(seat_sensitivity(votes, 10, "hare", threshold=0.05, threshold_base=1020))
    # C passes when 20(50+x) >= 1020+x → 19x >= 20 → x = 2 (52/1022 = 5.09 %); Hare over
    # A+B+C = 972: quotas 5.35 4.12 0.53 → C takes the remainder seat → one seat with +2.
    assert s["C"].votes_to_pass_threshold == 2
    assert s["C"].votes_to_gain_seat == 2
    # D: 20(30+x) >= 1020+x → 19x >= 420 → x = 23.
    assert s["D"].votes_to_pass_threshold == 23
    assert s["D"].threshold_margin_pp == pytest.approx(100 * (30 / 1020 - 0.05))
    # B fails when 20(400-y) < 1020-y → 19y > 6980 → y = 368.
    assert s["B"].votes_to_fail_threshold == 368
    assert s["B"].votes_to_pass_threshold is None
    assert s["B"].eligible and not s["C"].eligible


def test_sensitivity_across_threshold_events() -> None:
    # Under Hare a party's seats are not monotone in its own votes when another party
    # crosses the threshold, so the search must not bisect across such events.
    votes = {"A": 111, "B": 53, "C": 12, "D": 23}
    # D + 41 = 64 of 240: C has 12/240 = 5.00 % (eligible); quotas ×5/240: A 2.31 B 1.10
    # C 0.25 D 1.33 → 2 1 0 1, last seat to D (.333 > A's .3125) → D 2.
    # D + 40: total 239, quotas A 2.322 D 1.318 → the last seat to A → D 1.
    # D + 42: C 12/241 = 4.98 % drops out; over 229: A 2.424 B 1.157 D 1.419 → A → D 1.
    s = by_choice(seat_sensitivity(votes, 5, "hare", threshold=0.05))
    assert s["D"].votes_to_gain_seat == 41
    assert seats_of({**votes, "D": 23 + 42}, 5, "hare", threshold=0.05)["D"] == 1

    # C loses its seat at -19 but gets it back at -20, when A reaches 10 % of a smaller base.
    votes = {"A": 17, "B": 116, "C": 57}
    # C - 18 = 39: A 17/172 < 10 %; over 155: B 1.497 C 0.503 → C keeps 1.
    # C - 19 = 38: A 17/171 < 10 %; over 154: B 1.506 C 0.494 → B 2, C 0.
    # C - 20 = 37: A 17/170 = 10 % passes; over 170: A 0.2 B 1.365 C 0.435 → C 1 again.
    s = by_choice(seat_sensitivity(votes, 2, "hare", threshold=0.1))
    assert s["C"].votes_to_lose_seat == 19
    assert seats_of({**votes, "C": 57 - 20}, 2, "hare", threshold=0.1)["C"] == 1


def test_sensitivity_excluded_and_full_house() -> None:
    s = by_choice(seat_sensitivity({"A": 10, "X": 50}, 3, "dhondt", exclude={"X"}))
    assert s["X"] == Sensitivity("X", 50, 0, False, None, None, None, None, None)
    # A holds all 3 seats: nothing to gain; it keeps them down to 1 vote.
    assert s["A"].votes_to_gain_seat is None
    assert s["A"].votes_to_lose_seat == 10


def test_module_doctests() -> None:
    failures, tried = doctest.testmod(seats_module)
    assert tried >= 3
    assert failures == 0


def test_georgia_2024_seats_left_go_to_the_most_votes() -> None:
    """The CEC's 2024 allocation: integer parts of votes × 150 / the passing lists' votes
    give 88 + 18 + 16 + 14 + 12 = 148 seats; the two left go to the two lists with the
    most votes (Georgian Dream, Coalition for Change), not to the largest remainders
    (Gakharia 0.72, UNM 0.63), which `hare` gives them."""
    votes = {"GD": 1_120_016, "CfC": 229_160, "UNM": 211_215, "SG": 182_919,
             "Gakharia": 161_518, "Girchi": 62_223}
    kw = {"threshold": 0.05, "threshold_base": 2_112_216}
    assert seats_of(votes, 150, "hare_most_votes", **kw) == {
        "GD": 89, "CfC": 19, "UNM": 16, "SG": 14, "Gakharia": 12, "Girchi": 0}
    assert seats_of(votes, 150, "hare", **kw) == {
        "GD": 88, "CfC": 18, "UNM": 17, "SG": 14, "Gakharia": 13, "Girchi": 0}
    s = by_choice(seat_sensitivity(votes, 150, "hare_most_votes", **kw))
    # Gakharia's quota 12.72: a 13th seat needs a whole 13.0 quota or the 2nd most votes
    g = s["Gakharia"].votes_to_gain_seat
    assert g is not None and seats_of({**votes, "Gakharia": 161_518 + g}, 150,
                                      "hare_most_votes", threshold=0.05,
                                      threshold_base=2_112_216 + g)["Gakharia"] == 13
