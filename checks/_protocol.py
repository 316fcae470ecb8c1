"""Shared pieces of the exact checks: plain-language labels, what "ballots cast" is in a
table, per-unit sums of the votes, and the profile's declared relations.

Profile rules read by the ARITH checks (all optional):

- `cast_column`: the canonical count that plays "ballots cast" when the table has no
  `ballots_cast` (e.g. Georgia: `"voters"`, the signatures count `f_05`).
- `against_all`: the name of the "against all" choice when it is a line among the choices.
  A separate `against_all` count column (not a choice) is added where the identity needs it.
- `valid_includes_against_all` (default true): ballots marked "against all" count as valid
  (Russia before 2006, Kyrgyzstan). When false they are a separate line of ballots cast.
- `blank_in` (default "separate"): where blank ballots sit — "separate" (a line of their
  own, added to valid + invalid), "invalid" (already counted in invalid) or "valid".
- `extra_registered`: canonical columns added to `registered` for ARITH003 (e.g. Georgia's
  special list `registered_extra`).
- `no_register_types` (default `["postal"]`): unit types that keep no register (postal
  districts), where turnout is not applicable rather than over 100 %.
- `postal_counted_at_unit` (bool) and `over_registered_severity`: postal votes are counted
  at the place (Baden-Württemberg municipalities), so "more voters than registered" may be
  legal: the message says so and the severity of such rows follows the rule.
- `[[rules.relations]]`: `name`, `lhs`, `op` (`>=`, `<=`, `==`, `<`, `>`), `rhs`, `words`,
  optionally `contest`, `lhs_words` / `rhs_words`; tokens are canonical count names or
  `choices` (Σ votes of the unit). Checked by ARITH005 (`checks/arith_relations.py`); a
  relation `X == valid + invalid` (or `choices + invalid`) also makes X the ballots cast of
  ARITH002 when `cast_column` is not set.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from auditor.model import Model
from checks._util import attach, computed_from_memory

# Plain-language names of the canonical counts, for messages.
LABELS: dict[str, str] = {
    "registered": "registered voters",
    "registered_extra": "voters on additional lists",
    "ballots_received": "ballots received",
    "ballots_issued": "ballots issued",
    "ballots_issued_early": "ballots issued to early voters",
    "ballots_issued_station": "ballots issued at the station",
    "ballots_issued_outside": "ballots issued outside the station",
    "ballots_cancelled": "cancelled ballots",
    "ballots_mobile": "ballots in portable boxes",
    "ballots_stationary": "ballots in stationary boxes",
    "ballots_lost": "lost ballots",
    "ballots_unaccounted": "ballots not accounted for",
    "voters": "voters",
    "voters_postal": "postal voters",
    "voters_by_noon": "voters by noon",
    "voters_by_afternoon": "voters by afternoon",
    "ballots_cast": "ballots cast",
    "valid": "valid ballots",
    "invalid": "invalid ballots",
    "blank": "blank ballots",
    "against_all": "against-all votes",
    "choices": "votes for all choices",
}

ISSUED_PARTS = ("ballots_issued_early", "ballots_issued_station", "ballots_issued_outside")
OUT = ["contest", "unit_id", "source_file", "source_row"]


def label(name: str) -> str:
    """The plain-language name of a canonical count (or the name itself)."""
    return LABELS.get(name, name.replace("_", " "))


def direction(delta: pl.Expr, more: str, fewer: str) -> pl.Expr:
    """`more` where delta > 0, else `fewer` (for messages)."""
    return pl.when(delta > 0).then(pl.lit(more)).otherwise(pl.lit(fewer))


def unit_frame(m: Model) -> pl.LazyFrame:
    """`units` with per-unit choice aggregates joined (lazily).

    Adds `choices_sum` (Σ votes over non-empty choice cells; null when every cell is empty
    or the unit has no votes rows) and `aa_choice` (votes of the profile's against-all choice,
    null when there is none).
    """
    aa = m.rule("against_all")
    # Plain sum + count aggregate on polars' fast path; a when/then inside the group is slower.
    aggs = [pl.col("votes").sum().alias("__sum"), pl.col("votes").count().alias("__filled")]
    if isinstance(aa, str):
        aggs.append(pl.col("votes").filter(pl.col("choice") == aa).sum().alias("__aa_sum"))
        aggs.append((pl.col("choice") == aa).any().alias("__aa_has"))
    key = unit_key(m)
    row_sums = m.row_sums()
    if row_sums is not None and not isinstance(aa, str) and "source_row" in key:
        # Summed along each row at ingest (see `Model.choice_sums`): no group-by of the votes.
        pre = row_sums.select(
            *key, pl.when(pl.col("filled") > 0).then(pl.col("choices_sum")).otherwise(None)
            .alias("choices_sum"), pl.lit(None, pl.Int64).alias("aa_choice"))
        if key == ["source_row"] and computed_from_memory(row_sums):
            # one row per source row, from memory: a lookup by position, not a 10M-row join
            return attach(m.units, pre.collect(), "source_row", ["choices_sum", "aa_choice"],
                          how="left")
        return m.units.join(pre, on=key, how="left")
    sums = m.votes.group_by(key).agg(aggs).with_columns(
        pl.when(pl.col("__filled") > 0).then(pl.col("__sum")).otherwise(None).alias("choices_sum")
    ).drop("__sum", "__filled")
    if isinstance(aa, str):
        sums = sums.with_columns(
            pl.when(pl.col("__aa_has")).then(pl.col("__aa_sum")).otherwise(None).alias("aa_choice")
        ).drop("__aa_sum", "__aa_has")
    else:
        sums = sums.with_columns(pl.lit(None, pl.Int64).alias("aa_choice"))
    return m.units.join(sums, on=key, how="left")


def unit_key(m: Model) -> list[str]:
    """The cheapest columns that tie a unit's votes rows to its `units` row.

    A wide table read from one file gives each unit and its votes the same source row (and,
    unless the profile declares several `[[contests]]` per row, one contest), and grouping
    3 million vote rows by an integer is several times faster than by the text `unit_id`;
    long tables (one row per choice), NIST files and several inputs fall back to
    (contest, unit_id).
    """
    inputs = m.inputs
    if (len(inputs) == 1 and "(long)" not in inputs[0].format
            and inputs[0].format != "nist-json"
            and "source_row" in m.vote_columns() and "source_row" in m.unit_columns()):
        # Without `[[contests]]` in the profile a wide file holds one contest per row.
        several = m.profile is not None and len(m.profile.contests) > 1
        return ["contest", "source_row"] if several else ["source_row"]
    return ["contest", "unit_id"]


def separate_against_all(m: Model) -> pl.Expr:
    """Against-all votes kept as a count of their own (not among the choices), else 0."""
    if "against_all" not in m.unit_columns():
        return pl.lit(0, pl.Int64)
    # When the against-all line is also a choice, the count column repeats it: add it once.
    return pl.when(pl.col("aa_choice").is_null()).then(pl.col("against_all")).otherwise(0)


def blank_separate(m: Model) -> pl.Expr:
    """Blank ballots when they are a line of their own (`blank_in = "separate"`), else 0."""
    if "blank" in m.unit_columns() and m.rule("blank_in", "separate") == "separate":
        return pl.col("blank")
    return pl.lit(0, pl.Int64)


def aa_in_valid(m: Model) -> bool:
    """Whether valid ballots include against-all ballots (`valid_includes_against_all`)."""
    return bool(m.rule("valid_includes_against_all", True))


def declared_cast(m: Model) -> str | None:
    """A count the profile declares equal to the ballots counted (valid + invalid, or
    choices + invalid), e.g. Georgia's `voters == choices + invalid`: it plays ballots cast."""
    cols = m.unit_columns()
    for r in relations(m):
        lhs, rhs, op = r.get("lhs", []), r.get("rhs", []), r.get("op")
        if op != "==" or not isinstance(lhs, list) or not isinstance(rhs, list):
            continue
        for one, other in ((lhs, rhs), (rhs, lhs)):
            if len(one) == 1 and one[0] in cols and one[0] not in ("valid", "invalid") \
                    and "invalid" in other and ("valid" in other or "choices" in other):
                return str(one[0])
    return None


def cast_column(m: Model) -> str | None:
    """The count that is "ballots cast" for ARITH002, or None.

    `rules.cast_column`, else `ballots_cast`, else a count the profile's relations declare
    equal to valid + invalid (or choices + invalid) — e.g. Georgia's voters (`f_05`).
    """
    cols = m.unit_columns()
    rule = m.rule("cast_column")
    if isinstance(rule, str) and rule in cols:
        return rule
    if "ballots_cast" in cols:
        return "ballots_cast"
    return declared_cast(m)


def cast_measure(m: Model, derived: bool = True) -> tuple[pl.Expr, str] | None:
    """The unit's "ballots cast" and its label, or None when the table has none.

    Order: `cast_column(m)`, `voters`, and (when `derived`) valid + invalid (+ separate
    blank ballots). ARITH002 passes `derived=False`: comparing valid + invalid with itself
    would prove nothing, and voters need not equal ballots counted unless the profile says so.
    """
    cols = m.unit_columns()
    col = cast_column(m)
    if col is not None:
        return pl.col(col), label(col)
    if not derived:
        return None
    if "voters" in cols:
        return pl.col("voters"), label("voters")
    if "valid" in cols and "invalid" in cols:
        extra = " + blank" if "blank" in cols and m.rule("blank_in", "separate") == "separate" \
            else ""
        return (pl.col("valid") + pl.col("invalid") + blank_separate(m),
                f"valid + invalid{extra} ballots")
    return None


def cast_tokens(m: Model) -> list[str] | None:
    """The canonical columns whose sum is `cast_measure(m)` (for matching relations)."""
    cols = m.unit_columns()
    col = cast_column(m)
    if col is not None:
        return [col]
    if "voters" in cols:
        return ["voters"]
    if "valid" in cols and "invalid" in cols:
        blank = ["blank"] if "blank" in cols and m.rule("blank_in", "separate") == "separate" \
            else []
        return ["valid", "invalid", *blank]
    return None


def dedupe_shared(lf: pl.LazyFrame) -> pl.LazyFrame:
    """One finding per unit and fact when several contests repeat the same shared counts.

    A file with two contests per row (first and second votes) repeats the unit's registered
    voters and voters in both; the same comparison with the same numbers is one fact, kept
    under the first contest.
    """
    return lf.sort("contest", "unit_id", "key").unique(
        subset=["unit_id", "key", "observed", "expected"], keep="first", maintain_order=True
    )


def relations(m: Model) -> list[dict[str, Any]]:
    """The profile's declared relations (`[[rules.relations]]`), as dicts."""
    rel = m.rule("relations", []) or []
    return [r for r in rel if isinstance(r, dict)] if isinstance(rel, list) else []


def extra_registered(m: Model) -> list[str]:
    """The profile's additional lists of voters, added to `registered` (ARITH003)."""
    extra = m.rule("extra_registered", []) or []
    return [str(x) for x in (extra if isinstance(extra, list) else [extra])]


def issued_expr(m: Model) -> pl.Expr | None:
    """Ballots issued: `ballots_issued`, or early + at the station + outside (Russia)."""
    cols = m.unit_columns()
    if "ballots_issued" in cols:
        return pl.col("ballots_issued")
    if all(c in cols for c in ISSUED_PARTS):
        return pl.sum_horizontal([pl.col(c) for c in ISSUED_PARTS], ignore_nulls=False)
    return None
