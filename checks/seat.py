"""SEAT: thresholds, seat allocation, seat sensitivity, against-all and decisive margins.

The election's rules come from the profile's `[rules]` (or options of the same names):

- `seats` (int), `method` (`hare` = largest remainder, `hare_most_votes` = Hare quotas with
  the seats left to the lists with the most votes, `dhondt`, `sainte_lague`,
  `sainte_lague_modified`; common spellings such as `largest_remainder`, `d'hondt`,
  `webster` are accepted), `threshold` (fraction, e.g. 0.05).
- `threshold_base`: what the threshold share is computed on: `votes` (default: the sum of the
  choices' votes), a unit column (`valid`, `ballots_cast`, `voters`), or a sum such as
  `valid+invalid`.
- `list_contest` (or `threshold_contest`): the contest the seats are allocated in (default:
  the only contest, else the one with the most votes).
- `against_all`: the name of the "against all" choice (excluded from seats, compared by
  `SEAT004`); a unit column `against_all` works too. `exclude`: other choices that take no
  seats (e.g. independent candidates' totals).
- `published_seats`: a table choice → seats from the official result, for sources whose
  files carry votes only (published rows with measure `seats` are used first).
- `threshold_margin_pp`: how close to the threshold counts as near (default 0.5 points).
- `smd_contests`: regex of single-member-district contests for `SEAT004` and winner margins
  (default: every contest but the list contest); `smd_level`: a hierarchy column when the
  districts are a level of one contest rather than contests of their own.
- `winner_margins` (bool): whether a contest's total over all units names a winner. Default:
  yes, except where the profile has a `threshold` and neither `seats` nor `smd_*`: then only
  the threshold contest is one vote; the others (e.g. Germany's Erststimmen, cast per
  constituency) have no winner over the whole file and get no winner margin.

Seat arithmetic is `auditor.seats` (exact); this module only gathers the inputs.
"""

from __future__ import annotations

import re
import threading
import weakref
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Any

import polars as pl

from auditor.model import WIDE_UNIT, Model
from auditor.registry import (
    REGISTRY,
    RULE_HINT,
    CheckOutput,
    EarlierFindings,
    check,
    earlier_findings,
)
from auditor.seats import Allocation, Method, Sensitivity, allocate, seat_sensitivity
from checks._util import in_memory, quote_name

_METHOD_ALIASES: dict[str, Method] = {
    "hare": "hare", "largest_remainder": "hare", "largest-remainder": "hare", "lr": "hare",
    "hamilton": "hare", "hare-niemeyer": "hare", "hare_niemeyer": "hare",
    "hare_most_votes": "hare_most_votes", "hare-most-votes": "hare_most_votes",
    "dhondt": "dhondt", "d'hondt": "dhondt", "d_hondt": "dhondt", "jefferson": "dhondt",
    "sainte_lague": "sainte_lague", "sainte-lague": "sainte_lague", "webster": "sainte_lague",
    "sainte_lague_modified": "sainte_lague_modified",
    "modified_sainte_lague": "sainte_lague_modified",
    "sainte-lague-modified": "sainte_lague_modified",
}

DEFAULT_NEAR_PP = 0.5
# Families whose unit-level error/warning rows make a unit "flagged" for SEAT005; cheap and
# exact-ish. STAT (Monte Carlo), REV and AGG (not unit-level) are left out.
FLAG_FAMILIES = ("INPUT", "ARITH", "PCT", "TURN")
# Revision checks whose unit rows also flag a unit: its counts were changed after it had been
# published (against the last earlier release, as the report shows it). REV001, a unit added
# or removed, is left out: reporting late is not a problem with the numbers.
FLAG_REVISION_CODES = ("REV002",)


class SeatRulesError(ValueError):
    """Seat rules in a profile that cannot be used (unknown method, bad seats)."""


def norm_method(name: str) -> Method:
    """A method name as `auditor.seats` spells it."""
    key = str(name).strip().lower().replace(" ", "_")
    if key not in _METHOD_ALIASES:
        raise SeatRulesError(f"unknown seat allocation method {name!r}; use hare, "
                             "hare_most_votes, dhondt, sainte_lague or sainte_lague_modified")
    return _METHOD_ALIASES[key]


@dataclass(frozen=True)
class SeatSetup:
    """Everything one national list allocation needs, gathered from a model."""

    contest: str
    seats: int
    method: Method
    threshold: float
    base: int
    base_spec: str
    votes: dict[str, int]
    exclude: tuple[str, ...] = ()
    against_all: str | None = None
    allocation: list[Allocation] = field(default_factory=list)

    def by_choice(self) -> dict[str, Allocation]:
        """The allocation indexed by choice."""
        return {a.choice: a for a in self.allocation}

    def sensitivity(self) -> list[Sensitivity]:
        """`auditor.seats.seat_sensitivity` with the same inputs."""
        return list(_sensitivity(tuple(self.votes.items()), self.seats, self.method,
                                 self.threshold, self.base, self.exclude))

    def describe(self) -> str:
        """E.g. `hare, 225 seats, 5 % threshold on valid+invalid`."""
        t = f", {100 * self.threshold:g} % threshold on {self.base_spec}" if self.threshold else ""
        return f"{self.method}, {self.seats} seats{t}"


def list_contest(m: Model) -> str | None:
    """The contest seats are allocated in (rule `list_contest`, else the largest)."""
    named = m.rule("list_contest") or m.rule("threshold_contest")
    if named:
        return str(named)
    tot = (m.choice_totals().group_by("contest").agg(pl.col("votes").sum())
           .sort("votes", descending=True).collect())
    if tot.height == 0:
        return None
    return str(tot["contest"][0])


@lru_cache(maxsize=32)
def _sensitivity(votes: tuple[tuple[str, int], ...], seats: int, method: Method,
                 threshold: float, base: int, exclude: tuple[str, ...]) -> tuple[Sensitivity, ...]:
    # SEAT003 and SEAT005 ask for the same exact (and not free) computation
    return tuple(seat_sensitivity(dict(votes), seats, method, threshold, base, exclude))


# Votes per choice of (votes frame, contest), kept while the frame object lives: SEAT001,
# SEAT003 and SEAT005 of one audit each need them, and a frame never changes.
_CONTEST_VOTES: dict[tuple[int, str], tuple[weakref.ref[pl.LazyFrame], dict[str, int]]] = {}
_LOCK = threading.RLock()


def contest_votes(m: Model, contest: str) -> dict[str, int]:
    """Votes per choice summed over the contest's units (empty cells ignored), by choice."""
    key = (id(m.votes), contest)
    with _LOCK:  # checks run two at a time: the second one waits for the first's sums
        hit = _CONTEST_VOTES.get(key)
        if hit is not None and hit[0]() is m.votes:
            return dict(hit[1])
        df = (m.choice_totals().filter(pl.col("contest") == contest).select("choice", "votes")
              .sort("choice").collect())
        out = {str(c): int(v or 0) for c, v in df.iter_rows()}
        _CONTEST_VOTES[key] = (weakref.ref(m.votes), out)
        weakref.finalize(m.votes, _CONTEST_VOTES.pop, key, None)
        return dict(out)


def against_all_name(m: Model) -> str | None:
    """The choice name of "against all", if the profile names one."""
    v = m.rule("against_all")
    return str(v) if v else None


def threshold_base(m: Model, contest: str, votes: dict[str, int],
                   spec_rule: str | None = None) -> tuple[int, str]:
    """The number the threshold share is computed on, and how it was read.

    `spec_rule` overrides the model's `threshold_base` rule. Falls back to the sum of votes
    (and says so) when the named columns are absent; never smaller than the sum of votes,
    which it must include.
    """
    spec = str(spec_rule or m.rule("threshold_base") or "votes")
    total = sum(votes.values())
    parts = [p.strip() for p in spec.split("+") if p.strip()]
    cols = m.unit_columns()
    if not parts or parts in (["votes"], ["choices"]):
        return total, "the sum of votes"
    if parts == ["valid"] and "valid" not in cols:
        return total, "valid votes"
    # Ballots cast is often not a line of the protocol: valid + invalid (+ blank) is.
    derived = [c for c in ("valid", "invalid", "blank") if c in cols]
    if "ballots_cast" in parts and "ballots_cast" not in cols and {"valid", "invalid"} <= cols:
        i = parts.index("ballots_cast")
        parts = parts[:i] + derived + parts[i + 1:]
    if not all(p in cols or p in ("votes", "choices") for p in parts):
        return total, f"the sum of votes ({spec} not in the data)"
    colparts = [p for p in parts if p in cols]
    row = (m.units.filter(pl.col("contest") == contest)
           .select([pl.col(c).sum() for c in colparts]).collect().row(0))
    base = sum(int(v or 0) for v in row) + (total if len(colparts) < len(parts) else 0)
    return max(base, total), spec


def setup(m: Model, contest: str | None = None, seats: int | None = None,
          method: str | None = None, threshold: float | None = None) -> SeatSetup | None:
    """The list allocation of a model (None when the rules or the votes are missing)."""
    contest = contest or list_contest(m)
    n = seats if seats is not None else m.rule("seats")
    meth = method or m.rule("method")
    if contest is None or n is None or isinstance(n, dict):
        return None
    meth_n = norm_method(str(meth or "hare"))
    thr = float(threshold if threshold is not None else (m.rule("threshold") or 0.0))
    votes = contest_votes(m, contest)
    if not votes:
        return None
    aa = against_all_name(m)
    exclude = tuple(sorted({*(m.rule("exclude") or []), *([aa] if aa else [])} & set(votes)))
    base, spec = threshold_base(m, contest, votes)
    alloc = allocate(votes, int(n), meth_n, thr, base, exclude)
    return SeatSetup(contest, int(n), meth_n, thr, base, spec, votes, exclude, aa, alloc)


def _needs_seats(m: Model) -> str | None:
    if m.rule("seats") is None:
        return f"no `seats` rule in the profile {RULE_HINT}"
    if isinstance(m.rule("seats"), dict):
        return "per-district seat tables are not supported yet"
    return None


def _needs_threshold(m: Model) -> str | None:
    if not m.rule("threshold"):
        return "no threshold in this election (`threshold` is absent or 0)"
    return None


def _seats(n: int) -> str:
    return f"{n} seat" if n == 1 else f"{n} seats"


def _fmt_votes(v: float) -> str:
    return f"{round(v):,}"


# ---------------------------------------------------------------------------------------
# SEAT001


def threshold_status(m: Model, contest: str | None = None, rules: Model | None = None,
                     votes: dict[str, int] | None = None,
                     base: int | None = None) -> dict[str, tuple[bool, float]]:
    """choice → (passes the threshold, share) for one release `m`, with the rules (threshold,
    its base, exclusions) of `rules` (default `m`; an earlier release takes the current one's).

    `votes` and `base`: the contest's `contest_votes` and `threshold_base` when the caller
    has them already.
    """
    r = rules or m
    thr = float(r.rule("threshold") or 0.0)
    t = Fraction(str(thr))
    contest = contest or list_contest(m)
    if contest is None:
        return {}
    if votes is None:
        votes = contest_votes(m, contest)
    if base is None:
        base, _ = threshold_base(m, contest, votes, r.rule("threshold_base"))
    aa = against_all_name(r)
    excl = {*(r.rule("exclude") or []), *([aa] if aa else [])}
    out = {}
    for c, v in votes.items():
        if c in excl:
            continue
        share = v / base if base else 0.0
        # Exact comparison as in auditor.seats: the threshold is the decimal it prints as.
        out[c] = (v >= 1 and v * t.denominator >= t.numerator * base, share)
    return out


@check(code="SEAT001", name="near-threshold", severity="warning",
       requires=("votes", "rule:threshold"), applies=_needs_threshold, message="{message}")
def near_threshold(m: Model) -> pl.DataFrame:
    """A party within a margin of the threshold, or whose threshold status flipped between
    releases.

    What: each list's share against the threshold (profile `threshold`, on the base the law
    names, `threshold_base`), with the margin in percentage points and in votes. Reported
    (info) when the margin is within `threshold_margin_pp` (default 0.5 points), and as a
    warning when, across the releases given with `--previous` (oldest first) and this one,
    the list was in at one and out at another.
    Why it matters: a list a few thousand votes from the threshold decides the composition
    of parliament; a list that is in at one count and out at the next is where a recount
    or a correction changed who enters parliament.
    Example: "El Umutu 4.81 %, 0.19 points (2,573 votes) below the 5 % threshold; in at
    6.02 % in the manual count, out in this release".
    """
    contest = list_contest(m)
    if contest is None:
        return _empty()
    thr = float(m.rule("threshold"))
    near = float(m.rule("threshold_margin_pp", DEFAULT_NEAR_PP))
    votes = contest_votes(m, contest)
    base, _ = threshold_base(m, contest, votes)
    now = threshold_status(m, contest, votes=votes, base=base)
    history: list[tuple[str, dict[str, tuple[bool, float]]]] = []
    for i, p in enumerate(m.previous):
        pc = contest if contest in set(p.contests_with_votes()) else list_contest(p)
        history.append((p.label or f"release {i + 1}", threshold_status(p, pc, rules=m)))
    rows = []
    for choice, (ok, share) in sorted(now.items()):
        margin_pp = 100 * (share - thr)
        margin_votes = votes[choice] - thr * base
        seq = [(lab, st[choice]) for lab, st in history if choice in st]
        flipped = any(a[1][0] != ok for a in seq) or len({x[1][0] for x in seq}) > 1
        if not flipped and abs(margin_pp) > near:
            continue
        side = "above" if margin_pp >= 0 else "below"
        # the vote margin at the current base; SEAT005 instead counts the votes a list would
        # have to lose (or gain), the base moving with them — a larger number, said as such
        msg = (f"{quote_name(choice)} {100 * share:.2f} %, {abs(margin_pp):.2f} points "
               f"{side} the {100 * thr:g} % threshold ({_fmt_votes(abs(margin_votes))} votes "
               f"{'more' if margin_pp >= 0 else 'fewer'} than {100 * thr:g} % of the current "
               f"base of {_fmt_votes(base)})")
        if flipped:
            steps = [f"{'in' if st[0] else 'out'} at {100 * st[1]:.2f} % in {lab}" for lab, st in seq]
            msg += "; " + ", ".join(steps) + f", {'in' if ok else 'out'} in this release"
        rows.append({
            "contest": contest, "unit_id": None, "choice": choice,
            "observed": 100 * share, "expected": 100 * thr, "delta": margin_pp,
            "votes_affected": abs(margin_votes),
            "severity": "warning" if flipped else "info",
            "key": "flip" if flipped else "near",
            "message": msg,
        })
    return pl.DataFrame(rows, schema=_SCHEMA) if rows else _empty()


_SCHEMA: dict[str, Any] = {
    "contest": pl.String, "unit_id": pl.String, "choice": pl.String,
    "observed": pl.Float64, "expected": pl.Float64, "delta": pl.Float64,
    "votes_affected": pl.Float64, "severity": pl.String, "key": pl.String,
    "message": pl.String,
}


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=_SCHEMA)


# ---------------------------------------------------------------------------------------
# SEAT002


def published_seats(m: Model, contest: str) -> tuple[dict[str, int], str]:
    """Official seats per choice: published rows (measure `seats`), else `published_seats`."""
    pub = (m.published.filter((pl.col("measure") == "seats") & pl.col("choice").is_not_null()
                              & pl.col("unit_id").is_null())
           .filter((pl.col("contest") == contest) | pl.col("contest").is_null())
           .group_by("choice").agg(pl.col("value").first()).collect())
    if pub.height:
        return {str(c): round(v) for c, v in pub.iter_rows() if v is not None}, "the source"
    rule = m.rule("published_seats")
    if isinstance(rule, dict) and rule:
        return {str(k): int(v) for k, v in rule.items()}, "the profile's published_seats"
    return {}, ""


def _has_published_seats(m: Model) -> str | None:
    why = _needs_seats(m)
    if why:
        return why
    if isinstance(m.rule("published_seats"), dict):
        return None
    n = m.published.filter(pl.col("measure") == "seats").select(pl.len()).collect().item()
    return None if n else "no published seats (source rows or `published_seats` in the profile)"


@check(code="SEAT002", name="seats-not-recomputed", severity="error",
       requires=("votes",), applies=_has_published_seats, message="{message}")
def seats_mismatch(m: Model) -> pl.DataFrame:
    """Published seats differ from the seats recomputed from the published votes.

    What: the list seats are recomputed from the national votes with the profile's method
    (largest remainder/Hare or its Georgian form, D'Hondt, Sainte-Laguë or its modified
    form), seat count and threshold, and compared choice by choice with the seats the source
    publishes (rows with measure `seats`) or the official seats written in the profile
    (`published_seats`).
    Why it matters: a seat table that the votes cannot produce means the votes, the rules
    or the seat table were changed after the count.
    Example: "published 13 seats for New People, the published votes give 12 (hare, 225
    seats, 5 % threshold on valid+invalid)".
    """
    s = setup(m)
    if s is None:
        return _empty()
    pub, src = published_seats(m, s.contest)
    got = s.by_choice()
    rows = []
    for choice in sorted(set(pub) | {c for c, a in got.items() if a.seats}):
        p = pub.get(choice, 0)
        a = got.get(choice)
        c = a.seats if a else 0
        if p == c:
            continue
        rows.append({
            "contest": s.contest, "unit_id": None, "choice": choice,
            "observed": float(p), "expected": float(c), "delta": float(p - c),
            "votes_affected": float(a.votes) if a else None, "severity": None, "key": None,
            "message": f"{src} gives {choice} {_seats(p)}, the published votes give {c} "
                       f"({s.describe()})",
        })
    return pl.DataFrame(rows, schema=_SCHEMA) if rows else _empty()


# ---------------------------------------------------------------------------------------
# SEAT003


@check(code="SEAT003", name="seat-sensitivity", severity="info", requires=("votes",),
       applies=_needs_seats, message="{message}")
def seat_sensitivity_check(m: Model) -> CheckOutput:
    """For each list, the fewest votes that would move a seat or its threshold status.

    What: exact figures from the allocation: votes the list would need to win one more
    seat, votes whose loss would cost it a seat, and votes to cross the threshold either
    way, assuming only that list's votes change (the others keep theirs).
    Why it matters: a margin of a few hundred votes is within reach of the errors other
    checks find; compare it with `SEAT005`.
    Example: "New People (13 seats): 23,187 more votes win a seat, 41,002 fewer lose one;
    5.32 %, 1,658,907 votes above the threshold".
    """
    s = setup(m)
    if s is None:
        return CheckOutput(_empty())
    rows = []
    running = [c for c, v in s.votes.items() if v > 0 and c not in s.exclude]
    sens = s.sensitivity()
    below = [x for x in sens if x.seats == 0 and x.votes_to_gain_seat is not None
             and x.choice not in s.exclude]
    next_in = min(below, key=lambda x: (x.votes_to_gain_seat or 0, x.choice)).choice \
        if below else None
    for x in sens:
        if x.choice in s.exclude or (x.seats == 0 and x.votes_to_pass_threshold is None
                                     and x.votes_to_gain_seat is None):
            continue
        if running == [x.choice]:
            continue  # an uncontested list has no seat boundary to move
        if x.seats == 0 and x.choice != next_in:
            continue  # lists far below the threshold: only the next one in is a boundary
        parts: list[str] = []
        if x.votes_to_gain_seat is not None:
            parts.append(f"{x.votes_to_gain_seat:,} more votes win a seat")
        if x.votes_to_lose_seat is not None:
            parts.append(f"{x.votes_to_lose_seat:,} fewer lose one")
        if x.votes_to_pass_threshold is not None:
            parts.append(f"{x.votes_to_pass_threshold:,} more votes cross the threshold")
        if x.votes_to_fail_threshold is not None and s.threshold:
            parts.append(f"{x.votes_to_fail_threshold:,} fewer fall below the threshold")
        cands = [v for v in (x.votes_to_gain_seat, x.votes_to_lose_seat,
                             x.votes_to_pass_threshold, x.votes_to_fail_threshold) if v is not None]
        rows.append({
            "contest": s.contest, "unit_id": None, "choice": x.choice,
            "observed": float(x.seats), "expected": None,
            "delta": x.threshold_margin_pp, "votes_affected": float(min(cands)) if cands else None,
            "severity": None, "key": None,
            "message": f"{x.choice} ({_seats(x.seats)}): " + "; ".join(parts),
        })
    summary = {"seats": [{"choice": a.choice, "votes": a.votes, "share": a.share,
                          "seats": a.seats} for a in s.allocation if a.seats or a.eligible],
               "seat_rules": s.describe()}
    return CheckOutput(pl.DataFrame(rows, schema=_SCHEMA) if rows else _empty(), summary=summary)


# ---------------------------------------------------------------------------------------
# SEAT004


def _smd_contests(m: Model) -> list[str]:
    contests = m.contests_with_votes()
    pat = m.rule("smd_contests")
    if pat:
        return [c for c in contests if re.search(str(pat), c)]
    lc = list_contest(m) if m.rule("seats") is not None else None
    return [c for c in contests if c != lc]


def district_totals(m: Model, contest: str) -> list[tuple[str, str | None, dict[str, int]]]:
    """(label, district, votes by choice) of a single-member contest (or its `smd_level`).

    The label is the contest name, or "contest / district" with `smd_level` (`district` is
    then the level's value, else None).
    """
    level = m.rule("smd_level")
    v = m.votes.filter(pl.col("contest") == contest)
    aa = against_all_name(m)
    if level and level in m.unit_columns():
        v = v.join(m.units.select("contest", "unit_id", level), on=["contest", "unit_id"])
        keys = [level]
    else:
        keys = []
    df = v.group_by([*keys, "choice"]).agg(pl.col("votes").sum()).collect()
    extra = None
    if "against_all" in m.unit_columns() and (aa is None or aa not in set(df["choice"])):
        extra = (m.units.filter(pl.col("contest") == contest).group_by(keys or pl.lit(1))
                 .agg(pl.col("against_all").sum()).collect()) if keys else \
            m.units.filter(pl.col("contest") == contest).select(pl.col("against_all").sum()).collect()
    out: dict[str | None, dict[str, int]] = {}
    for r in df.iter_rows(named=True):
        d = str(r[level]) if keys else None
        out.setdefault(d, {})[str(r["choice"])] = int(r["votes"] or 0)
    if extra is not None:
        for r in extra.iter_rows(named=True):
            d = str(r[level]) if keys else None
            out.setdefault(d, {})[aa or "against all"] = int(r["against_all"] or 0)
    return [(contest if d is None else f"{contest} / {d}", d, tot)
            for d, tot in sorted(out.items(), key=lambda kv: str(kv[0]))]


def _against_all_applies(m: Model) -> str | None:
    if against_all_name(m) is None and "against_all" not in m.unit_columns():
        return "no \"against all\" choice (`against_all` in the profile) or column"
    return None


@check(code="SEAT004", name="against-all-ahead", severity="warning", requires=("votes",),
       applies=_against_all_applies, message="{message}")
def against_all_ahead(m: Model) -> pl.DataFrame:
    """"Against all" ahead of every candidate in a single-member district, or ahead of a
    list that crossed the threshold.

    What: in each single-member district, "against all" (profile `against_all`, or the
    `against_all` column) has more votes than every candidate; in the list contest, it has
    more votes than a list that won seats.
    Why it matters: by Kyrgyz law a district where "against all" wins needs a new election
    with new candidates; a list seated with fewer votes than "against all" is a fact a
    reader needs next to the seat table.
    Example: "against all leads Bishkek 2 with 9,812 votes, ahead of the best candidate
    (8,904): the district needs a new election".
    """
    aa = against_all_name(m) or "against all"
    rows = []
    m = materialised(m, deep=False)
    for contest in _smd_contests(m):
        for label, _district, tot in district_totals(m, contest):
            a = tot.get(aa)
            others = {c: v for c, v in tot.items() if c != aa}
            if a is None or not others:
                continue
            best, bv = max(others.items(), key=lambda kv: (kv[1], kv[0]))
            if a > bv:
                rows.append({
                    "contest": contest, "unit_id": None, "choice": aa,
                    "observed": float(a), "expected": float(bv), "delta": float(a - bv),
                    "votes_affected": float(a - bv), "severity": None, "key": label,
                    "message": f"{aa} leads {label} with {a:,} votes, ahead of the best "
                               f"candidate {best} ({bv:,}): the district needs a new election",
                })
    s = setup(m) if _needs_seats(m) is None else None
    if s is not None and aa in s.votes:
        a = s.votes[aa]
        for al in s.allocation:
            if al.choice != aa and al.seats > 0 and al.votes < a:
                rows.append({
                    "contest": s.contest, "unit_id": None, "choice": al.choice,
                    "observed": float(a), "expected": float(al.votes),
                    "delta": float(a - al.votes), "votes_affected": float(a - al.votes),
                    "severity": None, "key": f"list:{al.choice}",
                    "message": f"{aa} has {a:,} votes, more than {al.choice} ({al.votes:,}), "
                               f"which crossed the threshold and takes {_seats(al.seats)}",
                })
    return pl.DataFrame(rows, schema=_SCHEMA) if rows else _empty()


# ---------------------------------------------------------------------------------------
# SEAT005


def flagged_units(m: Model, families: tuple[str, ...] = FLAG_FAMILIES,
                  earlier: EarlierFindings | None = None) -> set[str]:
    """unit_ids with an error or warning finding of the cheap unit-level checks, or whose
    counts were revised after publication (`FLAG_REVISION_CODES`); see `flags`."""
    whole, revised = flags(m, families, earlier)
    return whole | {u for _, u in revised}


def flags(m: Model, families: tuple[str, ...] = FLAG_FAMILIES,
          earlier: EarlierFindings | None = None,
          ) -> tuple[set[str], dict[tuple[str, str], int]]:
    """The flagged units: (unit_ids with an error or warning finding of `families`, whose
    every vote is in doubt; and per (contest, unit_id) of the other units revised after
    publication (`FLAG_REVISION_CODES`), the votes the revision moved — `votes_affected`,
    the sum of the absolute changes — which is all of it that can have moved a margin).

    The checks that ran in this audit give their findings (`earlier`, see
    `auditor.registry.earlier_findings`); the others are run here, so that the flags are
    those the report shows whatever checks were selected. A check that fails or does not
    apply flags nothing.
    """
    from auditor.engine import not_applicable_reason
    from auditor.registry import load_catalogue

    load_catalogue(only=[*families, *FLAG_REVISION_CODES])
    codes = [code for code, spec in sorted(REGISTRY.items())
             if spec.family in families or code in FLAG_REVISION_CODES]
    rows: list[tuple[str, str | None, str, float | None]] = []  # code, contest, unit, votes
    if earlier is not None:
        known = {c for c in codes if c in earlier.ran}
        rows += [(f.code, f.contest, f.unit_id, f.votes_affected) for f in earlier.findings
                 if f.code in known and f.unit_id is not None
                 and f.severity in ("error", "warning")]
        codes = [c for c in codes if c not in known]
    for code in codes:
        spec = REGISTRY[code]
        if not_applicable_reason(spec, m) is not None:
            continue
        try:
            res = spec.fn(m)
            frame = res.rows if isinstance(res, CheckOutput) else res
            df = frame.collect() if isinstance(frame, pl.LazyFrame) else frame
        except Exception:  # another check's bug must not hide the margins
            continue
        if "unit_id" not in df.columns or df.height == 0:
            continue
        sev = (pl.col("severity").fill_null(spec.severity) if "severity" in df.columns
               else pl.lit(spec.severity))
        got = df.filter(pl.col("unit_id").is_not_null() & sev.is_in(["error", "warning"]))
        cols = [pl.col(c) if c in got.columns else pl.lit(None).alias(c)
                for c in ("contest", "unit_id", "votes_affected")]
        rows += [(code, c, str(u), v) for c, u, v in got.select(cols).iter_rows()]
    whole = {u for code, _, u, _ in rows if code not in FLAG_REVISION_CODES}
    revised: dict[tuple[str, str], int] = {}
    for code, where, u, v in rows:
        if code in FLAG_REVISION_CODES and u not in whole:
            key = (str(where), u)
            revised[key] = revised.get(key, 0) + round(abs(v or 0))
    return whole, revised


def revised_votes(m: Model, contest: str, revised: dict[tuple[str, str], int],
                  district: str | None = None) -> tuple[int, int]:
    """The units of `flags`' revisions in one contest (or one `smd_level` district of it),
    and the votes those revisions moved."""
    got = {u: v for (c, u), v in revised.items() if c == contest}
    inside = _in_district(m, contest, sorted(got), district) if got else []
    return len(inside), sum(got[u] for u in inside)


def _in_district(m: Model, contest: str, ids: list[str], district: str | None) -> list[str]:
    """`ids` of one contest within `district`, a value of its `smd_level` column (all of
    them when there is no such district)."""
    level = m.rule("smd_level")
    if district is None or not level or level not in m.unit_columns():
        return ids
    return (m.units.filter((pl.col("contest") == contest) & pl.col("unit_id").is_in(ids)
                           & (pl.col(level) == district))
            .select("unit_id").collect()["unit_id"].to_list())


def flagged_votes(m: Model, contest: str, units: set[str], district: str | None = None) -> int:
    """Votes cast in the flagged units of one contest (valid ballots, else Σ choices).

    `district`: a value of the `smd_level` column, for a district that is a level of the
    contest rather than a contest of its own.
    """
    if not units:
        return 0
    ids = _in_district(m, contest, sorted(units), district)
    if not ids:
        return 0
    if "valid" in m.unit_columns():
        n = (m.units.filter((pl.col("contest") == contest) & pl.col("unit_id").is_in(ids))
             .select(pl.col("valid").sum()).collect().item())
        if n:
            return int(n)
    w = m.wide(contest)
    if w is not None:  # Σ along the flagged rows of the wide votes, no long table
        n = (w.frame.filter(pl.col(WIDE_UNIT).is_in(ids))
             .select(pl.sum_horizontal([pl.col(c) for c in w.choices]).sum()).collect().item())
        return int(n or 0)
    n = (m.votes.filter((pl.col("contest") == contest) & pl.col("unit_id").is_in(ids))
         .select(pl.col("votes").sum()).collect().item())
    return int(n or 0)


@dataclass(frozen=True)
class Margin:
    """One decisive margin: what would change, and how many votes it takes."""

    kind: str  # "threshold" | "seat" | "winner"
    contest: str
    choice: str
    votes: int
    text: str  # "Butun Kyrgyzstan's margin over the 5 % threshold is 25,884 votes"
    stake: str  # "who enters parliament"
    district: str | None = None  # the `smd_level` value when the district is not a contest


def _one_constituency(m: Model, contest: str) -> bool:
    """Whether the contest's votes summed over the file decide one winner (`winner_margins`).

    A profile with a threshold but no seats and no single-member districts describes a list
    election read for one region (BW's municipalities): its other contests are cast per
    constituency, so a total over the file names no winner.
    """
    flag = m.rule("winner_margins")
    if flag is not None:
        return bool(flag)
    if m.rule("smd_contests") or m.rule("smd_level") or m.rule("seats") is not None:
        return True
    if m.rule("threshold") is None:
        return True
    tc = m.rule("threshold_contest") or m.rule("list_contest")
    return tc is None or contest == tc


def decisive_margins(m: Model) -> list[Margin]:
    """Threshold margins, the last-seat margins and the winner margins of every contest."""
    out: list[Margin] = []
    s = setup(m) if _needs_seats(m) is None else None
    if s is not None:
        sens = [x for x in s.sensitivity() if x.choice not in s.exclude]
        if s.threshold:
            # The decisive threshold margins: the list closest to falling out and the one
            # closest to getting in (lists far below are not margins anyone is deciding).
            pct = f"{100 * s.threshold:g} %"
            above = [x for x in sens if x.eligible and x.votes_to_fail_threshold is not None]
            below = [x for x in sens if not x.eligible and x.votes_to_pass_threshold is not None]
            if above:
                x = min(above, key=lambda x: (x.votes_to_fail_threshold or 0, x.choice))
                out.append(Margin("threshold", s.contest, x.choice,
                                  int(x.votes_to_fail_threshold or 0),
                                  f"{quote_name(x.choice)} would have to lose "
                                  f"{x.votes_to_fail_threshold:,} votes to fall below the {pct} "
                                  "threshold (the base shrinking with them)",
                                  "who enters parliament"))
            if below:
                x = min(below, key=lambda x: (x.votes_to_pass_threshold or 0, x.choice))
                out.append(Margin("threshold", s.contest, x.choice,
                                  int(x.votes_to_pass_threshold or 0),
                                  f"{quote_name(x.choice)} would have to gain "
                                  f"{x.votes_to_pass_threshold:,} votes to reach the {pct} "
                                  "threshold (the base growing with them)",
                                  "who enters parliament"))
        gain = [x for x in sens if x.votes_to_gain_seat is not None and x.eligible]
        if gain:
            g = min(gain, key=lambda x: (x.votes_to_gain_seat or 0, x.choice))
            out.append(Margin("seat", s.contest, g.choice, int(g.votes_to_gain_seat or 0),
                              f"{quote_name(g.choice)} is {g.votes_to_gain_seat:,} votes from one "
                              "more seat",
                              "the seat allocation"))
        lose = [x for x in sens if x.votes_to_lose_seat is not None]
        if lose:
            lo = min(lose, key=lambda x: (x.votes_to_lose_seat or 0, x.choice))
            out.append(Margin("seat", s.contest, lo.choice, int(lo.votes_to_lose_seat or 0),
                              f"{quote_name(lo.choice)} would lose its last seat with "
                              f"{lo.votes_to_lose_seat:,} fewer votes", "the seat allocation"))
        if len(s.votes) >= 2:
            ranked = sorted(((v, c) for c, v in s.votes.items() if c not in s.exclude),
                            reverse=True)
            if len(ranked) >= 2:
                (v1, c1), (v2, c2) = ranked[0], ranked[1]
                out.append(Margin("winner", s.contest, c1, v1 - v2,
                                  f"{quote_name(c1)} leads {quote_name(c2)} by {v1 - v2:,} votes",
                                  "who comes first"))
    lc = s.contest if s else None
    contests = _smd_contests(m) if (m.rule("smd_contests") or m.rule("smd_level") or s) else \
        m.contests_with_votes()
    for contest in contests:
        if contest == lc or not _one_constituency(m, contest):
            continue
        for label, district, tot in district_totals(m, contest):
            ranked = sorted(((v, c) for c, v in tot.items()), reverse=True)
            if len(ranked) >= 2:
                (v1, c1), (v2, c2) = ranked[0], ranked[1]
                lead = f"{quote_name(c1)} leads {quote_name(c2)} by {v1 - v2:,} votes"
                # the default contest of a one-contest file is named "all"
                if label == "all":
                    out.append(Margin("winner", contest, c1, v1 - v2, lead,
                                      "who wins the election", district))
                else:
                    # a list vote read without seats (BW's Zweitstimmen) has a first place,
                    # not a winner
                    stake = (f"who comes first in {label}"
                             if contest == (m.rule("threshold_contest") or m.rule("list_contest"))
                             else f"who wins {label}")
                    out.append(Margin("winner", contest, c1, v1 - v2, f"in {label}, {lead}",
                                      stake, district))
    return sorted(out, key=lambda x: (x.votes, x.kind, x.contest, x.choice))


def _all_in_memory(m: Model, deep: bool) -> bool:
    wide = m.wide_frames()
    votes = [w.frame for w in wide] if wide is not None else [m.votes]
    frames = [m.units, *votes, *([m.published, m.issues] if deep else [])]
    return all(in_memory(f) for f in frames) and (
        not deep or all(p is not m and _all_in_memory(p, deep) for p in m.previous))


def materialised(m: Model, deep: bool = True) -> Model:
    """The same model (and its earlier releases) with every frame computed once, in memory.

    `deep=False`: not the earlier releases. A model already in memory (`engine.prepare`
    holds all but the largest in memory; votes with wide votes in memory count as held) is
    returned as it is.
    """
    from dataclasses import replace

    from auditor.engine import materialise

    if _all_in_memory(m, deep):
        return m
    # One collect_all: the frames share the reading of the source, which runs once.
    prev = [materialised(p) for p in m.previous if p is not m] if deep else m.previous
    return materialise(replace(m, previous=prev, _schema_cache={}))


@check(code="SEAT005", name="flagged-votes-vs-margins", severity="warning", requires=("votes",),
       message="{message}", after_findings=True)
def flagged_vs_margins(m: Model) -> CheckOutput:
    """Votes in flagged units compared with every decisive margin.

    What: the votes cast in units with an error or warning finding of the unit-level
    families (INPUT, ARITH, PCT, TURN) — and, when `--previous` is given, the votes that
    REV002's revisions after publication moved in the other units (the sum of the absolute
    changes: a unit revised by one vote puts one vote in doubt, not its thousands) — are
    compared with each margin that decides the outcome: threshold margins, the smallest
    vote changes that move a seat, and the winner's lead in each contest or district (not
    for a contest cast per constituency whose file has no constituency column: see
    `winner_margins`). A threshold margin is the votes a list
    would have to lose or gain with the base moving with them (SEAT001 gives the distance at
    the current base, smaller by the factor 1 − threshold). A warning per margin the flagged
    votes could overturn; otherwise one info finding with the smallest margin. Flags are
    counted by unit id across contests. SEAT005 runs after the other checks and takes their
    findings; those not selected (`--only SEAT005`) are run for it, so the result does not
    depend on the selection.
    Why it matters: "is anything wrong?" is only half the question; "could it change who
    wins?" is the other. Flagged votes larger than a margin do not prove it changed — they
    say the margin is within the reach of the problems found.
    Example: "flagged stations hold 41,230 votes; Butun Kyrgyzstan's margin over the 5 %
    threshold is 25,884 votes: the flags could change who enters parliament".
    """
    earlier = earlier_findings(m)
    # Many contests (one per single-member district) mean many small queries: read the
    # frames once instead of re-reading the source for each.
    m = materialised(m)
    margins = decisive_margins(m)
    units, revised = flags(m, earlier=earlier)
    cache: dict[tuple[str, str | None], tuple[int, int, int]] = {}
    rows: list[dict[str, Any]] = []
    decisive: list[dict[str, Any]] = []
    for mg in margins:
        ck = (mg.contest, mg.district)
        if ck not in cache:
            cache[ck] = (flagged_votes(m, mg.contest, units, mg.district),
                         *revised_votes(m, mg.contest, revised, mg.district))
        held, n_rev, moved = cache[ck]
        fv = held + moved
        could = fv >= mg.votes and fv > 0
        verdict = "could change" if could else "alone cannot change"
        hold = f"flagged stations hold {held:,} votes"
        if n_rev:
            others = "1 other station" if n_rev == 1 else f"{n_rev:,} other stations"
            hold += (f" and revisions after publication in {others} moved {moved:,} "
                     f"vote{'' if moved == 1 else 's'} ({fv:,} in all)")
        sentence = f"{hold}; {mg.text}: the flags {verdict} {mg.stake}"
        decisive.append({"kind": mg.kind, "contest": mg.contest, "choice": mg.choice,
                         "margin_votes": mg.votes, "flagged_votes": fv, "could_change": could,
                         "text": sentence})
        if could:
            rows.append({"contest": mg.contest, "unit_id": None, "choice": mg.choice,
                         "observed": float(fv), "expected": float(mg.votes),
                         "delta": float(fv - mg.votes), "votes_affected": float(fv),
                         "severity": None, "key": f"{mg.kind}:{mg.choice}", "message": sentence})
    if not rows and decisive and (units or revised):
        d = decisive[0]
        rows.append({"contest": d["contest"], "unit_id": None, "choice": d["choice"],
                     "observed": float(d["flagged_votes"]), "expected": float(d["margin_votes"]),
                     "delta": float(d["flagged_votes"] - d["margin_votes"]),
                     "votes_affected": float(d["flagged_votes"]), "severity": "info",
                     "key": f"{d['kind']}:{d['choice']}", "message": d["text"]})
    # The list contest's margins first (they decide parliament), then the closest districts.
    lc = list_contest(m) if _needs_seats(m) is None else None
    decisive.sort(key=lambda d: (d["contest"] != lc, d["margin_votes"]))
    summary = {"decisive": decisive[:20],
               "flagged_units": len(units | {u for _, u in revised}),
               "flagged_votes": max(h + v for h, _, v in cache.values()) if cache else 0}
    return CheckOutput(pl.DataFrame(rows, schema=_SCHEMA) if rows else _empty(), summary=summary)
