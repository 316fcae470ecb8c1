"""ARITH: identities inside one unit's protocol that cannot fail in a true count.

Every check here is exact: a violation is a figure that cannot be true as published (or a
typing error in it). Each finding carries `votes_affected`, the absolute difference (or the
excess ballots), so that the report can weigh findings against margins. The profile rules
these checks read are listed in `checks/_protocol.py`; ARITH005 (the profile's declared
relations) lives in `checks/arith_relations.py`.
"""

from __future__ import annotations

import polars as pl

from auditor.model import COUNT_COLUMNS, Model
from auditor.registry import CheckOutput, check
from checks._protocol import (
    OUT,
    aa_in_valid,
    blank_separate,
    cast_measure,
    dedupe_shared,
    direction,
    extra_registered,
    issued_expr,
    label,
    separate_against_all,
    unit_frame,
)

# ---------------------------------------------------------------------------------------------
# ARITH001


@check(code="ARITH001", name="choices-sum-not-valid", severity="error",
       requires=("votes", "valid"),
       message="votes for all choices sum to {observed:,} but valid ballots are {expected:,} "
               "({votes_affected:,} {direction} votes than valid ballots)")
def choices_sum_to_valid(m: Model) -> pl.LazyFrame:
    """Votes for all choices in a unit must add up to the unit's valid ballots.

    What: Σ votes over the choices (parties, candidates) of a unit ≠ its valid ballots.
    Empty choice cells are left out of the sum (INPUT reports them); a unit whose choice
    cells are all empty is not checked. Against-all votes kept as a count of their own are
    added when valid ballots include them (`rules.valid_includes_against_all`, default true);
    an against-all choice is taken out when they do not.
    Why it matters: every valid ballot is a vote for exactly one choice. A difference means
    votes were added to or removed from a choice after counting, or a figure was mistyped;
    either way some published number cannot be true.
    Example: parties 600 + 400 + 234 = 1,234 but valid ballots 1,200 → "votes for all choices
    sum to 1,234 but valid ballots are 1,200 (34 more votes than valid ballots)".
    """
    fr = unit_frame(m)
    obs = pl.col("choices_sum")
    if aa_in_valid(m):
        obs = obs + separate_against_all(m)
    else:
        obs = obs - pl.col("aa_choice").fill_null(0)
    delta = obs - pl.col("valid")
    return (
        fr.with_columns(obs.alias("observed"), delta.alias("delta"))
        .filter(pl.col("delta") != 0)
        .select(
            *OUT,
            pl.col("observed"),
            pl.col("valid").alias("expected"),
            pl.col("delta"),
            pl.col("delta").abs().alias("votes_affected"),
            direction(pl.col("delta"), "more", "fewer").alias("direction"),
        )
    )


# ---------------------------------------------------------------------------------------------
# ARITH002


def arith002_applies(m: Model) -> str | None:
    """Why ARITH002 cannot run on `m` (no ballots-cast or invalid count), or None."""
    cols = m.unit_columns()
    if cast_measure(m, derived=False) is None:
        return ("no ballots-cast count (`ballots_cast`, `rules.cast_column`, or a relation "
                "declaring a count equal to valid + invalid)")
    if "invalid" not in cols:
        return "no `invalid` column"
    if "valid" not in cols and "choice" not in m.vote_columns():
        return "no `valid` column and no votes per choice"
    return None


@check(code="ARITH002", name="cast-not-valid-plus-invalid", severity="error",
       applies=arith002_applies,
       message="{cast_label} are {observed:,} but {parts} add up to {expected:,} "
               "({votes_affected:,} {direction})")
def cast_is_valid_plus_invalid(m: Model) -> pl.LazyFrame:
    """Ballots cast must equal valid + invalid ballots (+ blank, + against-all lines).

    What: a unit's ballots cast ≠ valid + invalid, plus blank ballots where they are a line
    of their own (`rules.blank_in = "separate"`, the default) and against-all ballots where
    they are a separate count that valid ballots do not include
    (`rules.valid_includes_against_all = false`). Where the table has no valid column,
    valid = Σ votes over the choices (then any separate against-all count is added too,
    since it is a ballot either way). Ballots cast is `ballots_cast`, or the count named by
    `rules.cast_column`, or a count the profile's relations declare equal to valid + invalid
    (Georgia: `voters == choices + invalid`, the signatures `f_05`). Units with an empty
    needed cell are skipped (INPUT006 reports them).
    Why it matters: every ballot taken out of the box is sorted as valid or invalid; a
    difference is ballots that appear or vanish between the two steps of the count.
    Example: Georgia 2024, precinct with 1,052 voters but parties + invalid = 1,049 → "voters
    are 1,052 but votes for all choices + invalid ballots add up to 1,049 (3 more voters than
    ballots counted)".
    """
    spec = cast_measure(m, derived=False)
    if spec is None:  # the engine checks `applies` first; kept for direct calls
        return pl.LazyFrame()
    cast, cast_label = spec
    cols = m.unit_columns()
    # Votes per choice are summed only when the identity needs them (no valid column, or an
    # against-all line to place): on 3 million vote rows that sum is most of the cost.
    needs_votes = ("valid" not in cols or "against_all" in cols
                   or (not aa_in_valid(m) and isinstance(m.rule("against_all"), str)))
    fr = unit_frame(m) if needs_votes else m.units
    aa = separate_against_all(m)
    blank = blank_separate(m)
    if "valid" in cols:
        parts = ["valid ballots", "invalid ballots"]
        counted = pl.col("valid") + pl.col("invalid") + blank
        aa_rule = isinstance(m.rule("against_all"), str)
        if not aa_in_valid(m) and ("against_all" in cols or aa_rule):
            if "against_all" in cols:
                counted = counted + aa
            if aa_rule:
                counted = counted + pl.col("aa_choice").fill_null(0)
            parts.append("against-all ballots")
    else:
        parts = ["votes for all choices", "invalid ballots"]
        counted = pl.col("choices_sum") + aa + pl.col("invalid") + blank
        if "against_all" in cols:
            parts.append("against-all votes")
    if "blank" in cols and m.rule("blank_in", "separate") == "separate":
        parts.append("blank ballots")
    parts_text = " + ".join(parts)
    delta = cast - counted
    noun = "voters" if cast_label == "voters" else "ballots cast"
    return (
        fr.with_columns(cast.alias("observed"), counted.alias("expected"))
        .with_columns((pl.col("observed") - pl.col("expected")).alias("delta"))
        .filter(pl.col("delta") != 0)
        .select(
            *OUT,
            pl.col("observed"),
            pl.col("expected"),
            pl.col("delta"),
            pl.col("delta").abs().alias("votes_affected"),
            pl.lit(cast_label).alias("cast_label"),
            pl.lit(parts_text).alias("parts"),
            direction(delta, f"more {noun} than ballots counted",
                       f"fewer {noun} than ballots counted").alias("direction"),
        )
    )


# ---------------------------------------------------------------------------------------------
# ARITH003


def arith003_applies(m: Model) -> str | None:
    """Why ARITH003 cannot run on `m` (no register or no ballots cast), or None."""
    if "registered" not in m.unit_columns():
        return "no `registered` column"
    if cast_measure(m) is None:
        return "no ballots cast, voters, or valid + invalid columns"
    missing = [c for c in extra_registered(m) if c not in m.unit_columns()]
    if missing:
        noun = "an absent column" if len(missing) == 1 else "absent columns"
        return f"`rules.extra_registered` names {noun}: {', '.join(missing)}"
    return None


@check(code="ARITH003", name="more-ballots-than-registered", severity="error",
       applies=arith003_applies,
       message="{cast_label} are {observed:,} but {reg_label} are {expected:,}: "
               "{votes_affected:,} more than registered (turnout {turnout_text}){caveat}")
def over_registered(m: Model) -> pl.LazyFrame | CheckOutput:
    """More ballots cast (or voters) than registered voters: turnout over 100 %.

    What: ballots cast (or, in this order, the profile's `cast_column`, `voters`, valid +
    invalid) exceed the registered voters of the unit, counting the additional lists the
    profile names in `rules.extra_registered` (Georgia: unified list + special list). Units
    of a type that keeps no register (`rules.no_register_types`, default postal districts)
    are "turnout not applicable", not findings; the report's summary counts them
    (`arith003_turnout_not_applicable`).
    Where postal votes are counted at the place (`rules.postal_counted_at_unit`), or the
    table counts voters with a polling card (`voters_postal` > 0), the message says that
    postal voters can make the excess legal, and such rows take the severity of
    `rules.over_registered_severity` (e.g. "warning") when the profile sets it.
    Why it matters: nobody can vote twice; more ballots than voters on the list is ballot
    stuffing, a wrong register, or a typing error — the number cannot be taken as true.
    Example: 1,230 ballots cast where 1,200 voters are registered → "ballots cast are 1,230
    but registered voters are 1,200: 30 more than registered (turnout 102.5 %)".
    """
    spec = cast_measure(m)
    if spec is None:
        return pl.LazyFrame()
    cast, cast_label = spec
    cols = m.unit_columns()
    extra = extra_registered(m)
    reg = pl.sum_horizontal([pl.col("registered"), *[pl.col(c) for c in extra]],
                            ignore_nulls=False)
    reg_label = " + ".join(label(c) for c in ["registered", *extra])
    fr = m.units
    no_reg = [str(x) for x in (m.rule("no_register_types", ["postal"]) or [])]
    skipped = 0
    if "unit_type" in cols and no_reg:
        is_no_reg = pl.col("unit_type").is_in(no_reg).fill_null(False)
        skipped = int(fr.select(is_no_reg.sum()).collect().item())
        fr = fr.filter(~is_no_reg)
    postal_rule = bool(m.rule("postal_counted_at_unit", False))
    postal = pl.lit(postal_rule)
    if "voters_postal" in cols:
        postal = postal | (pl.col("voters_postal").fill_null(0) > 0)
    caveat = pl.when(postal).then(
        pl.lit("; voters > eligible; postal voters (Wahlschein) can make this legal — check")
    ).otherwise(pl.lit(""))
    sev_rule = m.rule("over_registered_severity")
    severity = (
        pl.when(postal).then(pl.lit(str(sev_rule))).otherwise(pl.lit(None, pl.String))
        if sev_rule in ("error", "warning", "info")
        else pl.lit(None, pl.String)
    )
    turnout = pl.when(pl.col("expected") > 0).then(
        (pl.col("observed") * 100 / pl.col("expected")).round(1).cast(pl.String) + pl.lit(" %")
    ).otherwise(pl.lit("not defined: no registered voters"))
    out = (
        fr.with_columns(cast.alias("observed"), reg.alias("expected"))
        .with_columns((pl.col("observed") - pl.col("expected")).alias("delta"))
        .filter(pl.col("delta") > 0)
        .select(
            *OUT,
            pl.col("observed"),
            pl.col("expected"),
            pl.col("delta"),
            pl.col("delta").alias("votes_affected"),
            pl.lit("over-registered").alias("key"),
            pl.lit(cast_label).alias("cast_label"),
            pl.lit(reg_label).alias("reg_label"),
            turnout.alias("turnout_text"),
            caveat.alias("caveat"),
            severity.alias("severity"),
        )
    )
    if skipped:
        # Said once in the report instead of thousands of "turnout not applicable" rows.
        return CheckOutput(dedupe_shared(out), summary={
            "arith003_turnout_not_applicable": {"units": skipped, "unit_types": no_reg}})
    return dedupe_shared(out)


# ---------------------------------------------------------------------------------------------
# ARITH004


def arith004_applies(m: Model) -> str | None:
    """Why ARITH004 cannot run on `m` (nothing received or issued to compare), or None."""
    cols = m.unit_columns()
    has_in = "ballots_received" in cols
    has_issued = issued_expr(m) is not None
    if not has_in and not has_issued:
        return "no `ballots_received` or ballots-issued columns"
    if has_in and (has_issued or cast_measure(m) is not None):
        return None
    if has_issued and cast_measure(m) is not None:
        return None
    return "nothing to compare the ballots received/issued with"


@check(code="ARITH004", name="more-ballots-out-than-in", severity="error",
       applies=arith004_applies,
       message="{out_label} ({observed:,}) exceed {in_label} ({expected:,}) by "
               "{votes_affected:,}: more ballots out than in")
def more_out_than_in(m: Model) -> pl.LazyFrame:
    """More ballots issued or cast than the commission received (or issued).

    What: the chain of custody of ballots: ballots issued ≤ ballots received, and ballots
    cast (found in the boxes, or voters by signature when that is the profile's
    `cast_column`) ≤ ballots issued; where the table has no issued count, ballots cast ≤
    ballots received. Issued = `ballots_issued`, or early + at the station + outside when the
    protocol splits it (Russia). Each violated link is one finding (`key` names the link).
    Why it matters: a ballot that was never received cannot be issued, and a ballot never
    issued cannot be in the box; an excess is stuffing, a lost-ballot cover-up or a typo.
    Example: Georgia 2024: 8 precincts with more voters than ballots received, e.g. "voters
    (1,312) exceed ballots received (1,300) by 12: more ballots out than in".
    """
    cols = m.unit_columns()
    issued = issued_expr(m)
    cast_spec = cast_measure(m)
    links: list[tuple[str, pl.Expr, str, pl.Expr, str]] = []
    if issued is not None and "ballots_received" in cols:
        links.append(("issued>received", issued, "ballots issued",
                      pl.col("ballots_received"), "ballots received"))
    if cast_spec is not None:
        cast, cast_label = cast_spec
        if issued is not None:
            links.append(("cast>issued", cast, cast_label, issued, "ballots issued"))
        elif "ballots_received" in cols:
            links.append(("cast>received", cast, cast_label, pl.col("ballots_received"),
                          "ballots received"))
    parts = [
        m.units.with_columns(out.alias("observed"), inn.alias("expected"))
        .with_columns((pl.col("observed") - pl.col("expected")).alias("delta"))
        .filter(pl.col("delta") > 0)
        .select(
            *OUT,
            pl.col("observed"),
            pl.col("expected"),
            pl.col("delta"),
            pl.col("delta").alias("votes_affected"),
            pl.lit(key).alias("key"),
            pl.lit(out_label).alias("out_label"),
            pl.lit(in_label).alias("in_label"),
        )
        for key, out, out_label, inn, in_label in links
    ]
    if not parts:
        return pl.LazyFrame()
    return dedupe_shared(pl.concat(parts, how="vertical_relaxed"))


# ---------------------------------------------------------------------------------------------
# ARITH006

_VOTE_BASE = {"contest", "unit_id", "choice", "votes", "source_row", "source_file"}


def breakdown_columns(m: Model) -> list[str]:
    """Numeric columns of `votes` that split `votes` into parts (election_day, absentee)."""
    schema = m.votes.collect_schema()
    return sorted(c for c, t in schema.items()
                  if c not in _VOTE_BASE and c not in COUNT_COLUMNS and t.is_integer())


def _arith006_applies(m: Model) -> str | None:
    if "choice" not in m.vote_columns():
        return "no votes per choice"
    if not breakdown_columns(m):
        return "no breakdown of votes (e.g. election day + absentee) in the table"
    return None


@check(code="ARITH006", name="breakdown-not-total", severity="error",
       applies=_arith006_applies,
       message="{parts} add up to {expected:,} but the published total for {choice} is "
               "{observed:,} ({votes_affected:,} {direction})")
def breakdown_sums_to_votes(m: Model) -> pl.LazyFrame:
    """The parts of a choice's votes (election day, absentee, early …) must add up to its total.

    What: in tables that publish votes per choice with a breakdown by way of voting (long
    format: `votes` plus columns such as `election_day` and `absentee`), Σ parts ≠ `votes`.
    Rows with an empty part or total are skipped (INPUT reports them).
    Why it matters: the total is what decides the race; if it is not the sum of its parts,
    one of the published numbers is wrong and nobody can say which without the protocol.
    Example: Delaware 2016 `election_day 636 + absentee 43 = 679`, published `votes 680` →
    "election_day + absentee add up to 679 but the published total for Clinton H is 680 (1
    more in the total)".
    """
    parts = breakdown_columns(m)
    if not parts:
        return pl.LazyFrame()
    total = pl.sum_horizontal([pl.col(c) for c in parts], ignore_nulls=False)
    delta = pl.col("votes") - pl.col("expected")
    return (
        m.votes.with_columns(total.alias("expected"))
        .filter((pl.col("votes") - pl.col("expected")) != 0)
        .select(
            "contest",
            "unit_id",
            "choice",
            pl.col("source_row"),
            pl.col("votes").alias("observed"),
            pl.col("expected"),
            delta.alias("delta"),
            delta.abs().alias("votes_affected"),
            pl.lit(" + ".join(parts)).alias("parts"),
            direction(delta, "more in the total", "fewer in the total").alias("direction"),
        )
    )
