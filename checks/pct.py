"""PCT: published percentages and their denominators (the 140 % kind).

A portal prints shares next to the counts. A share can be impossible on its own (above 100 %,
negative, a division by zero), the shares of one table can fail to add up to 100 % of their
base, or one share can disagree with the counts it claims to summarise. When they do not add up,
the useful sentence names the denominator the figures were really computed on; when a share
looks wrong but is exact on another base (an encyclopaedia quoting shares of valid votes), the
finding explains it instead of raising an alarm.

Published figures live in `Model.published` (see `auditor/ingest/published.py`); the counts
they are checked against are the published counts of the same place when the source prints
them, else the sums of the units in the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from auditor.model import COUNT_COLUMNS, Model
from auditor.registry import check

PERCENT_MEASURES = ("percent", "turnout_percent")
_TOTAL_LEVELS = {"", "total", "national", "all", "country"}
_BASE_COUNTS = ("registered", "voters", "ballots_cast", "valid", "invalid", "blank",
                "against_all")
BASE_LABELS: dict[str, str] = {
    "registered": "registered voters",
    "voters": "voters",
    "ballots_cast": "ballots cast",
    "valid": "valid votes",
    "invalid": "invalid ballots",
    "blank": "blank ballots",
    "against_all": "against-all votes",
}
_OUT_SCHEMA: dict[str, pl.DataType] = {
    "contest": pl.String(), "unit_id": pl.String(), "path": pl.String(),
    "choice": pl.String(), "observed": pl.Float64(), "expected": pl.Float64(),
    "delta": pl.Float64(), "votes_affected": pl.Float64(), "source_file": pl.Int64(),
    "source_row": pl.Int64(), "key": pl.String(), "severity": pl.String(),
    "message": pl.String(),
}

Place = tuple[str, str, str]  # contest, kind (total / hierarchy level / unit), place value


def _label(base: str | None) -> str:
    if not base:
        return "an unstated base"
    return BASE_LABELS.get(base, base.replace("_", " "))


def _num(x: float) -> str:
    """A count for messages: thousands separators, no decimals when whole."""
    return f"{x:,.0f}" if abs(x - round(x)) < 1e-9 else f"{x:,.2f}"


def _tol(decimals: Any) -> float:
    """Half a unit of the last printed decimal (2 when the source does not say)."""
    d = 2 if decimals is None else int(decimals)
    return 0.5 * 10.0 ** (-d) + 1e-9


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame([{k: r.get(k) for k in _OUT_SCHEMA} for r in rows], schema=_OUT_SCHEMA)


# --- PCT001 ---------------------------------------------------------------------------------

def _has_percentages(m: Model) -> str | None:
    n = m.published.filter(pl.col("measure").is_in(PERCENT_MEASURES)).select(pl.len()).collect()
    return None if n.item() else "the source publishes no percentages"


@check(code="PCT001", name="impossible-percentage", severity="error",
       applies=_has_percentages,
       message="a published percentage is {observed}: impossible")
def impossible_percentage(m: Model) -> pl.DataFrame:
    """A published percentage above 100, below 0, or not a number at all.

    What: a figure printed as a percentage (a share of votes, a turnout, any `percent`
    column the profile declares) whose value is above 100, negative, infinite or NaN.
    Why it matters: a share of a whole cannot exceed the whole; an infinite share is a
    division by zero that the publisher printed instead of catching, and a value above 100
    means the numerator and the denominator do not describe the same people. The tool never
    caps such a figure at 100: it reports it with its row.
    Example: Kloop's 2020 table prints `form2_percent` = 117.11 for a Bishkek PEC (voters
    registered by Form 2 over voters on the list) and `inf` where the list count was zero.
    """
    df = (
        m.published.filter(pl.col("measure").is_in(PERCENT_MEASURES))
        .filter(pl.col("value").is_not_null())
        .filter(~pl.col("value").is_finite() | (pl.col("value") > 100) | (pl.col("value") < 0))
        .collect()
    )
    out: list[dict[str, Any]] = []
    for r in df.iter_rows(named=True):
        v = float(r["value"])
        what = r["field"] or r["choice"] or r["measure"]
        unit = r["unit_id"] if (r["level"] or "") not in _TOTAL_LEVELS else None
        where = f" at {unit}" if unit else ""
        if math.isnan(v):
            why = "is not a number (0/0 printed as a figure)"
        elif math.isinf(v):
            why = f"is {'−' if v < 0 else ''}infinite (a division by zero printed as a figure)"
        elif v > 100:
            why = f"is {v:.2f} %: a share cannot exceed 100 % of its base ({_label(r['base'])})"
        else:
            why = f"is {v:.2f} %: a share cannot be negative"
        out.append({
            "contest": r["contest"], "unit_id": unit,
            "path": None if unit else (r["level"] or "total"),
            "choice": r["choice"], "observed": v,
            "expected": 100.0 if not v < 0 else 0.0,
            "delta": (v - 100.0 if v > 100 else v) if math.isfinite(v) else None,
            "source_file": r["source_file"], "source_row": r["source_row"],
            "key": r["field"],
            "message": f"published `{what}`{where} {why}",
        })
    return _frame(out)


# --- counts at the places the percentages describe --------------------------------------------

@dataclass
class PlaceCounts:
    """Counts of one place (nation, region, unit) from the units and from the publisher."""

    counts: dict[str, float] = field(default_factory=dict)
    votes: dict[str, float] = field(default_factory=dict)
    n_units: int = 0
    n_reported: int = 0
    pub_counts: dict[str, float] = field(default_factory=dict)
    pub_votes: dict[str, float] = field(default_factory=dict)

    def count(self, name: str) -> float | None:
        """A count, published first, else the sum of the units (derived where the law says)."""
        if name in self.pub_counts:
            return self.pub_counts[name]
        return self.model_count(name)

    def model_count(self, name: str) -> float | None:
        """A count summed over the units (valid = Σ choices and ballots = valid + invalid when
        the source has no such column)."""
        if name in self.counts:
            return self.counts[name]
        if name == "valid" and self.votes:
            return float(sum(self.votes.values()))
        if name == "ballots_cast":
            valid = self.model_count("valid")
            if valid is not None and "invalid" in self.counts:
                return valid + self.counts["invalid"] + self.counts.get("blank", 0.0)
        return None

    def numerator(self, choice: str | None, fld: str | None, measure: str) -> float | None:
        """What a published percentage is a share of: a choice's votes, or a count."""
        if measure == "turnout_percent":
            return self.count("voters") if self.count("voters") is not None \
                else self.count("ballots_cast")
        if choice is not None:
            if choice in self.pub_votes:
                return self.pub_votes[choice]
            return self.votes.get(choice)
        if fld in COUNT_COLUMNS:
            return self.count(str(fld))
        return None


def _kind(level: str | None, hierarchy: list[str]) -> str:
    lv = (level or "").strip().lower()
    if lv in _TOTAL_LEVELS:
        return "total"
    if level in hierarchy:
        return str(level)
    return "unit"


def _place_of(r: dict[str, Any], hierarchy: list[str]) -> Place:
    kind = _kind(r["level"], hierarchy)
    return (str(r["contest"]), kind, "" if kind == "total" else str(r["unit_id"] or ""))


def _place_counts(m: Model, places: set[Place]) -> dict[Place, PlaceCounts]:
    """Unit sums and published counts for the places named (one grouped query per level)."""
    out: dict[Place, PlaceCounts] = {p: PlaceCounts() for p in places}
    cols = m.unit_columns()
    counts = [c for c in _BASE_COUNTS if c in cols]
    reported = (pl.col("ballots_cast").is_not_null() if "ballots_cast" in cols
                else pl.col("valid").is_not_null() if "valid" in cols else pl.lit(True))
    for kind in sorted({k for _, k, _ in places}):
        wanted = {(c, v) for c, k, v in places if k == kind}
        key = pl.lit("") if kind == "total" else pl.col("unit_id" if kind == "unit" else kind)
        contests = sorted({c for c, _ in wanted})
        values = sorted({v for _, v in wanted})
        units = m.units.filter(pl.col("contest").is_in(contests)).with_columns(
            key.cast(pl.String).alias("__place"))
        if kind != "total":
            units = units.filter(pl.col("__place").is_in(values))
        agg = units.group_by("contest", "__place").agg(
            *[pl.col(c).sum().alias(c) for c in counts],
            *[pl.col(c).null_count().alias(f"__null_{c}") for c in counts],
            pl.len().alias("__n"), reported.sum().alias("__rep"),
        )
        link = units.select("contest", "unit_id", "__place")
        votes = (m.votes.filter(pl.col("contest").is_in(contests))
                 .join(link, on=["contest", "unit_id"], how="inner")
                 .group_by("contest", "__place", "choice").agg(pl.col("votes").sum()))
        a, v = pl.collect_all([agg, votes])
        for r in a.iter_rows(named=True):
            pc = out.get((r["contest"], kind, r["__place"]))
            if pc is None:
                continue
            pc.n_units, pc.n_reported = int(r["__n"]), int(r["__rep"])
            # A count no unit has is absent, not zero.
            pc.counts = {c: float(r[c]) for c in counts if r[f"__null_{c}"] < r["__n"]}
        for r in v.iter_rows(named=True):
            pc = out.get((r["contest"], kind, r["__place"]))
            if pc is not None and r["votes"] is not None:
                pc.votes[str(r["choice"])] = float(r["votes"])
    pub = (m.published.filter(~pl.col("measure").is_in(PERCENT_MEASURES))
           .filter(pl.col("value").is_finite()).collect())
    for r in pub.iter_rows(named=True):
        pc = out.get(_place_of(r, m.hierarchy))
        if pc is None:
            continue
        if r["measure"] == "votes" and r["choice"] is not None:
            pc.pub_votes[str(r["choice"])] = float(r["value"])
        elif r["measure"] in COUNT_COLUMNS and r["choice"] is None:
            pc.pub_counts[str(r["measure"])] = float(r["value"])
    return out


@dataclass(frozen=True)
class Base:
    """A denominator a share may have been computed on."""

    name: str
    label: str
    value: float


def _candidates(m: Model, pc: PlaceCounts) -> list[Base]:
    """Every denominator the place's counts offer, the units' sums first, then published."""
    noun = str(m.rule("unit_noun", "units"))
    out: list[Base] = []
    ballots = pc.model_count("ballots_cast")
    if ballots is not None:
        out.append(Base("ballots_cast",
                        f"ballots in the {pc.n_reported:,} reported {noun} ({_num(ballots)})",
                        ballots))
    for name in ("valid", "voters", "registered"):
        val = pc.model_count(name)
        if val is not None:
            out.append(Base(name, f"{_label(name)} ({_num(val)})", val))
    valid = pc.model_count("valid")
    aa_choice = m.rule("against_all")
    if valid is not None:
        if aa_choice is not None and aa_choice in pc.votes:
            v = valid - pc.votes[aa_choice]
            out.append(Base("valid-against_all",
                            f"valid votes without against-all ({_num(v)})", v))
        elif "against_all" in pc.counts:
            v = valid + pc.counts["against_all"]
            out.append(Base("valid+against_all", f"valid votes plus against-all ({_num(v)})", v))
    for name, val in sorted(pc.pub_counts.items()):
        if name in BASE_LABELS and name not in ("invalid", "blank", "against_all"):
            out.append(Base(name, f"the published {_label(name)} ({_num(val)})", val))
    return [b for b in out if b.value > 0]


def _percent_rows(m: Model) -> pl.DataFrame:
    return (m.published.filter(pl.col("measure").is_in(PERCENT_MEASURES))
            .filter(pl.col("value").is_finite()).collect())


def _is_item(r: dict[str, Any]) -> bool:
    """A row that is one part of a whole: a choice's share, or the invalid/blank share."""
    return r["measure"] == "percent" and (
        r["choice"] is not None or r["field"] in ("invalid", "blank"))


# --- PCT002 ---------------------------------------------------------------------------------

@check(code="PCT002", name="shares-do-not-sum", severity="error",
       requires=("published:percent",),
       message="published shares sum to {observed} % of their base")
def shares_do_not_sum(m: Model) -> pl.DataFrame:
    """The published shares of one table do not add up to 100 % of their stated base.

    What: the percentages printed for all choices of one contest at one place (plus the
    invalid-ballot share when the base is ballots cast) must add up to 100 % within the
    rounding the printed decimals allow (n × half a unit of the last decimal); shares of
    disjoint choices can never add up to more than 100 %. When they do not, the check infers
    the denominator: it tries the ballots in the reported units, ballots cast, valid votes,
    valid votes with and without "against all", voters, registered voters and the published
    totals, and says over which of them the same votes add up to 100 %.
    Why it matters: a wrong denominator changes every share at once, and with it who crosses
    a threshold; the sentence that names the right base tells a newsroom whether the counts
    or only the formula are wrong.
    Example: on 28 Nov 2021 the Kyrgyz portal's party shares summed to 140 % (a stale
    denominator of an earlier refresh), then to 86 % (votes of the counted boxes over the
    ballots of all boxes): "published shares sum to 140.0 % of ballots cast (600,450); they
    sum to 100.0 % of ballots in the 1,606 reported boxes: the denominator is wrong".
    """
    rows = [r for r in _percent_rows(m).iter_rows(named=True) if _is_item(r)]
    groups: dict[tuple[Place, str, int], list[dict[str, Any]]] = {}
    for r in rows:
        key = (_place_of(r, m.hierarchy), str(r["base"] or ""), int(r["source_file"] or 0))
        groups.setdefault(key, []).append(r)
    groups = {k: g for k, g in groups.items() if sum(r["choice"] is not None for r in g) >= 2}
    ctx = _place_counts(m, {k[0] for k in groups})
    out: list[dict[str, Any]] = []
    for (place, base, _), g in sorted(groups.items()):
        res = _sum_finding(m, place, base, g, ctx[place])
        if res is not None:
            out.append(res)
    return _frame(out)


def _sum_finding(m: Model, place: Place, base: str, g: list[dict[str, Any]],
                 pc: PlaceCounts) -> dict[str, Any] | None:
    s = sum(float(r["value"]) for r in g)
    tol = sum(_tol(r["decimals"]) for r in g)
    listed = {str(r["choice"]) for r in g if r["choice"] is not None}
    parts = {str(r["field"]) for r in g if r["choice"] is None}
    every = set(pc.votes) | set(pc.pub_votes)
    complete = False
    if every and listed >= every:
        others = [c for c in ("invalid", "blank") if (pc.count(c) or 0) > 0]
        if base in ("", "valid"):
            complete = not parts or all(c in parts for c in others)
        elif base in ("ballots_cast", "voters"):
            complete = all(c in parts for c in others)
    if not (s > 100 + tol or (complete and s < 100 - tol)):
        return None
    contest, kind, where = place
    stated = pc.count(base) if base else None
    head = f"published shares sum to {s:.1f} % of {_label(base)}"
    if stated is not None:
        head += f" ({_num(stated)})"
    nums = [pc.numerator(r["choice"], r["field"], r["measure"]) for r in g]
    tail = ""
    total_v: float | None = None
    if all(n is not None for n in nums):
        total_v = float(sum(n for n in nums if n is not None))
        cands = _candidates(m, pc)
        hundred = [b for b in cands if abs(100 * total_v / b.value - 100) < 0.05]
        implied = 100 * total_v / s if s > 0 else None
        match = [b for b in cands if implied is not None
                 and abs(b.value - implied) <= implied * tol / s]
        if hundred and (stated is None or abs(hundred[0].value - stated) > 0.5):
            tail = f"; they sum to 100.0 % of {hundred[0].label}: the denominator is wrong"
        elif match:
            b = match[0]
            tail = (f"; they are shares of {b.label}, over which the same votes sum to "
                    f"{100 * total_v / b.value:.1f} %")
        elif implied is not None:
            tail = (f"; no count of this release makes them sum to 100 % (they imply a "
                    f"denominator of {_num(round(implied))})")
    elif s > 100 + tol:
        tail = "; shares of distinct choices cannot add up to more than 100 %"
    va = abs(total_v - stated) if (total_v is not None and stated is not None) else None
    return {
        "contest": contest, "unit_id": where if kind == "unit" else None,
        "path": where if kind not in ("unit", "total") else ("total" if kind == "total" else None),
        "choice": None, "observed": round(s, 6), "expected": 100.0, "delta": round(s - 100, 6),
        "votes_affected": va, "source_file": g[0]["source_file"],
        "source_row": min(int(r["source_row"]) for r in g if r["source_row"] is not None),
        "key": base or "unstated", "message": head + tail,
    }


# --- PCT003 ---------------------------------------------------------------------------------

@check(code="PCT003", name="share-not-reproduced", severity="error",
       requires=("published:percent",),
       message="published share {observed} % ≠ {expected} % recomputed from the counts")
def share_not_reproduced(m: Model) -> pl.DataFrame:
    """A published percentage differs from the share recomputed from the counts.

    What: each printed share is recomputed as numerator / base × 100 from the counts of the
    same place (the publisher's own counts when printed, else the sums of the units) and
    compared within half a unit of its last printed decimal. When it does not match its
    stated base but matches another one (valid votes instead of ballots cast, votes without
    "against all", the ballots of the reported units only), the finding is `info` and names
    that base; only a share no base reproduces is an `error`. A series printed on another
    base than the commission's own (`rules.percent_base`) gets one `info` line saying so.
    Why it matters: a percentage that matches no count means a wrong count or a wrong
    formula; a percentage that is right on another base is a frequent source of false
    alarms ("the encyclopaedia and the commission disagree"), which the tool must settle
    rather than repeat.
    Example: Kyrgyzstan 2021: the commission prints Ata-Jurt at 17.30 % of ballots cast,
    encyclopaedias at 19.10 %; 19.10 % is the share of valid votes (ballots minus invalid),
    not another count.
    """
    rows = [r for r in _percent_rows(m).iter_rows(named=True)]
    ctx = _place_counts(m, {_place_of(r, m.hierarchy) for r in rows})
    official = m.rule("percent_base")
    series: dict[tuple[Place, str, str, int], list[dict[str, Any]]] = {}
    for r in rows:
        key = (_place_of(r, m.hierarchy), str(r["field"] or r["measure"]), str(r["base"] or ""),
               int(r["source_file"] or 0))
        series.setdefault(key, []).append(r)
    out: list[dict[str, Any]] = []
    for (place, fld, base, _), g in sorted(series.items()):
        out.extend(_series_findings(m, place, fld, base, g, ctx[place], official))
    return _frame(out)


def _series_findings(m: Model, place: Place, fld: str, base: str, g: list[dict[str, Any]],
                     pc: PlaceCounts, official: Any) -> list[dict[str, Any]]:
    contest, kind, where = place
    cands = _candidates(m, pc)
    bad: list[tuple[dict[str, Any], float, float, Base | None]] = []  # row, v, recomputed, alt
    ok: list[tuple[dict[str, Any], float]] = []
    # The base a share is checked on: the one printed with it, else the commission's own
    # (`rules.percent_base`; registered voters for a turnout).
    label = _label(base)
    for r in g:
        v = pc.numerator(r["choice"], r["field"], r["measure"])
        if v is None:
            continue
        eff = base or ("registered" if r["measure"] == "turnout_percent" else str(official or ""))
        if eff and not base:
            label = f"{_label(eff)}, the commission's base (none is printed)"
        b_val = pc.count(eff) if eff else None
        p, tol = float(r["value"]), _tol(r["decimals"])
        alt = next((c for c in cands if abs(p - 100 * v / c.value) <= tol), None)
        on_stated = b_val is not None and b_val > 0 and abs(p - 100 * v / b_val) <= tol
        # No base printed and none known for this source: any exact base will do.
        on_any = not eff and alt is not None
        if on_stated or on_any:
            ok.append((r, v))
        else:
            bad.append((r, v, 100 * v / b_val if b_val else float("nan"), alt))

    def row(r: dict[str, Any], sev: str, msg: str, exp: float | None,
            va: float | None) -> dict[str, Any]:
        return {
            "contest": contest, "unit_id": where if kind == "unit" else None,
            "path": where if kind not in ("unit", "total") else ("total" if kind == "total"
                                                                  else None),
            "choice": r["choice"], "observed": float(r["value"]), "expected": exp,
            "delta": None if exp is None or math.isnan(exp) else float(r["value"]) - exp,
            "votes_affected": va, "source_file": r["source_file"],
            "source_row": r["source_row"], "key": fld, "severity": sev, "message": msg,
        }

    out: list[dict[str, Any]] = []
    alts = {a.name if a else None for _, _, _, a in bad}
    r0, v0, _, alt0 = max(bad, key=lambda t: t[1]) if bad else (None, 0.0, 0.0, None)
    if r0 is not None and alt0 is not None and len(alts) == 1 and len(bad) == len(g) > 1:
        # The whole series is right on one other base: one explanation, not one per choice.
        out.append(row(r0, "info", (
            f"the `{fld}` shares ({len(g)} figures) are computed on {alt0.label}, not on "
            f"{label}: e.g. {r0['choice'] or fld} {float(r0['value']):.2f} % = "
            f"{_num(v0)} / {_num(alt0.value)}"), 100 * v0 / alt0.value, None))
        return out
    for r, v, rec, alt in bad:
        what = r["choice"] or fld
        if alt is not None:
            out.append(row(r, "info", (
                f"{what}'s published {float(r['value']):.2f} % is computed on {alt.label}, "
                f"not on {label}" + (f" (on which it is {rec:.2f} %)"
                                            if not math.isnan(rec) else "")),
                100 * v / alt.value, None))
        elif not math.isnan(rec):
            b_val = 100 * v / rec
            out.append(row(r, "error", (
                f"{what}'s published {float(r['value']):.2f} % ≠ {rec:.2f} % recomputed "
                f"({_num(v)} / {_num(b_val)} {label}); no count of this release "
                "reproduces it"), rec, abs(float(r["value"]) * b_val / 100 - v)))
        else:
            out.append(row(r, "error", (
                f"{what}'s published {float(r['value']):.2f} % is no share of the counts of "
                f"this release ({_num(v)} votes; no base is printed and none of "
                f"{len(cands)} candidate bases gives it)"), None, None))
    if ok and official and base and base != official and not bad:
        ref = pc.count(str(official))
        r, v = max(ok, key=lambda t: t[1])
        base_val = pc.count(base)
        if ref and base_val and r["choice"] is not None:
            out.append(row(r, "info", (
                f"the `{fld}` shares are of {_label(base)} ({_num(base_val)}), not of "
                f"{_label(str(official))} ({_num(ref)}) like the commission's: "
                f"{r['choice']}'s {float(r['value']):.2f} % of {_label(base)} is "
                f"{100 * v / ref:.2f} % of {_label(str(official))}; both are right on "
                "their own base"), 100 * v / base_val, None))
    return out
