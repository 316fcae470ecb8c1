"""AGG: units against the totals and roll-ups the source itself publishes.

A published total (a totals row inside the file such as Baden-Württemberg's `BW` row or
Delaware's `Total` rows, or a row of a higher-level table loaded as `published`) states a
figure that must equal the sum of the units below it. These checks compare the two, and look
for units present on one side and missing on the other.

Scope of a published row: when its `level` is one of the model's hierarchy levels (e.g.
`region`), the units whose column of that name equals the row's `unit_id`; otherwise
(`total`, or any other label such as a county name under which a contest total is filed) all
units of the row's contest.
"""

from __future__ import annotations

import polars as pl

from auditor.model import COUNT_COLUMNS, Model
from auditor.registry import check
from checks._protocol import label, unit_key

_TOTAL = "total"


def fmt_int(e: pl.Expr) -> pl.Expr:
    """An integer as text with thousands separators (`1234567` → `1,234,567`), lazily."""
    digits = e.abs().round(0).cast(pl.Int64).cast(pl.String)
    grouped = digits.str.reverse().str.replace_all(r"(\d{3})", "${1},").str.strip_chars_end(",")
    sign = pl.when(e < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    return pl.concat_str(sign, grouped.str.reverse())


def rollups(m: Model) -> pl.LazyFrame:
    """Published aggregate figures that the units can be summed to, with their scope.

    Rows of `published` whose level is not `unit`, measure `votes` with a choice, or a count
    measure (registered, valid, …) without one. Adds `scope_level` (a hierarchy level or
    `total`), `scope` (the level's value, "" for a contest total) and `what` ("" for counts).
    """
    hier = [h for h in m.hierarchy if h in m.unit_columns()]
    pub = m.published.filter(
        (pl.col("level").fill_null(_TOTAL) != "unit")
        & pl.col("value").is_not_null()
        & (
            ((pl.col("measure") == "votes") & pl.col("choice").is_not_null())
            | (pl.col("measure").is_in(list(COUNT_COLUMNS)) & pl.col("choice").is_null())
        )
    )
    in_hier = pl.col("level").is_in(hier) if hier else pl.lit(False)
    pub = pub.with_columns(
        pl.when(in_hier).then(pl.col("level")).otherwise(pl.lit(_TOTAL)).alias("scope_level"),
        pl.when(in_hier).then(pl.col("unit_id").fill_null("")).otherwise(pl.lit(""))
        .alias("scope"),
        pl.col("choice").fill_null("").alias("what"),
    )
    levels = _published_levels(m)
    if levels:
        # A contest with one roll-up at a level while its units span several values of that
        # level has published its contest total filed under one of them (Delaware files the
        # statewide President total under county Sussex): treat it as the contest total.
        spread = pl.concat([
            m.units.group_by("contest").agg(pl.col(lvl).n_unique().alias("n_values"))
            .with_columns(pl.lit(lvl).alias("scope_level"))
            for lvl in levels
        ])
        n_pub = (pub.filter(pl.col("scope_level") != _TOTAL)
                 .group_by("contest", "scope_level").agg(pl.col("scope").n_unique().alias("n_pub")))
        filed_under = (pl.col("n_pub") == 1) & (pl.col("n_values") > 1)
        pub = (
            pub.join(n_pub, on=["contest", "scope_level"], how="left")
            .join(spread, on=["contest", "scope_level"], how="left")
            .with_columns(
                pl.when(filed_under).then(pl.lit(_TOTAL)).otherwise(pl.col("scope_level"))
                .alias("scope_level"),
                pl.when(filed_under).then(pl.lit("")).otherwise(pl.col("scope")).alias("scope"),
            )
            .drop("n_pub", "n_values")
        )
    return pub


def _published_levels(m: Model) -> list[str]:
    hier = [h for h in m.hierarchy if h in m.unit_columns()]
    if not hier:
        return []
    lv = m.published.select(pl.col("level").unique()).collect().to_series().to_list()
    return [h for h in hier if h in lv]


def unit_sums(m: Model) -> pl.LazyFrame:
    """Σ over units per scope: columns contest, scope_level, scope, measure, what, units_value,
    n_units — votes per choice (measure `votes`) and every count column (what = "")."""
    counts = m.counts()
    levels: list[str | None] = [None, *_published_levels(m)]
    frames: list[pl.LazyFrame] = []
    for lvl in levels:
        scope = pl.lit("") if lvl is None else pl.col(lvl).fill_null("")
        lvl_name = pl.lit(_TOTAL if lvl is None else lvl)
        votes = m.votes
        if lvl is not None:
            votes = votes.join(m.units.select("contest", "unit_id", lvl),
                               on=["contest", "unit_id"], how="left")
        frames.append(
            votes.group_by(pl.col("contest"), scope.alias("scope"), pl.col("choice").alias("what"))
            .agg(pl.col("votes").sum().alias("units_value"),
                 pl.col("unit_id").n_unique().alias("n_units"))
            .with_columns(lvl_name.alias("scope_level"), pl.lit("votes").alias("measure"))
        )
        if counts:
            frames.append(
                m.units.group_by(pl.col("contest"), scope.alias("scope"))
                .agg(*[pl.col(c).sum() for c in counts], pl.len().alias("n_units"))
                .unpivot(index=["contest", "scope", "n_units"], on=counts,
                         variable_name="measure", value_name="units_value")
                .with_columns(lvl_name.alias("scope_level"), pl.lit("").alias("what"))
            )
    cols = ["contest", "scope_level", "scope", "measure", "what", "units_value", "n_units"]
    return pl.concat(
        [f.select(cols).cast({"units_value": pl.Int64, "n_units": pl.Int64}) for f in frames],
        how="vertical_relaxed",
    )


def _has_rollups(m: Model) -> str | None:
    if rollups(m).select(pl.len()).collect().item() == 0 and _unit_rows(m) is None:
        return "the source publishes no totals (no totals rows or higher-level table)"
    return None


ROLLUP_KEYS = ["contest", "scope_level", "scope", "measure", "what"]


@check(code="AGG001", name="units-do-not-add-up-to-total", severity="error",
       requires=("published",), applies=_has_rollups,
       message="{subject} in {scope_text}: the sum over {counted} is {observed:,} but the "
               "published total says {expected:,.0f} ({votes_affected:,} {direction})")
def units_sum_to_published(m: Model) -> pl.LazyFrame:
    """The sum over the units must equal the total the source publishes for them.

    What: for every published aggregate (a totals row inside the file, a totals file, a
    higher-level table) and every figure on it — votes per choice, and counts such as
    registered voters, valid and invalid ballots — the sum over the units in its scope (the
    whole contest, or one region at a hierarchy level) ≠ the published figure; and a unit's
    own published total row (Delaware's first release: `candidate = Total`) ≠ the sum over
    its choices. One finding per figure, with the difference in votes. Published totals
    without any unit below them are AGG002, not this check. The electorate is fixed before
    the count and portals print it for the whole territory while boxes are still reporting,
    so the measures in `rules.agg_whole_territory` (default `registered`,
    `registered_extra`) are an upper bound: only units adding up to more is a finding.
    Why it matters: the published total is what the press reports and what decides seats;
    if the detail does not add up to it, votes were added or lost between the count and the
    announcement — or units are missing from the detail.
    Example: BW final 2025: the `BW` row's CDU second votes equal the sum of the 1,104
    municipalities (no finding); had one municipality been revised after the total was
    computed: "votes for CDU in the contest Zweitstimmen: the sum over the 1,104 units is
    1,893,455 but the published total says 1,893,400 (55 more in the units)".
    """
    cols = ["contest", "unit_id", "choice", "measure", "source_file", "source_row", "value",
            "units_value", "n_units", "scope_level", "scope", "what"]
    joined = rollups(m).join(unit_sums(m), on=ROLLUP_KEYS, how="inner").select(cols)
    if _unit_rows(m) is not None:
        joined = pl.concat([joined, unit_totals(m).select(cols)], how="vertical_relaxed")
    delta = pl.col("observed") - pl.col("expected")
    subject = pl.when(pl.col("measure") == "votes").then(
        pl.concat_str(pl.lit("votes for "), pl.col("what"))
    ).otherwise(pl.col("measure").replace({c: label(c) for c in COUNT_COLUMNS}))
    scope_text = pl.when(pl.col("scope_level") == _TOTAL).then(
        pl.concat_str(pl.lit("the contest "), pl.col("contest"))
    ).otherwise(pl.concat_str(pl.col("scope_level"), pl.lit(" "), pl.col("scope"),
                              pl.lit(" ("), pl.col("contest"), pl.lit(")")))
    counted = pl.when(pl.col("scope_level") == "unit").then(pl.lit("its choices")).otherwise(
        pl.concat_str(pl.lit("the "), fmt_int(pl.col("n_units")),
                      pl.when(pl.col("n_units") == 1).then(pl.lit(" unit"))
                      .otherwise(pl.lit(" units"))))
    whole = m.rule("agg_whole_territory", ["registered", "registered_extra"]) or []
    bound_only = pl.col("measure").is_in([str(x) for x in whole])
    return (
        joined.with_columns(pl.col("units_value").alias("observed"),
                            pl.col("value").alias("expected"))
        .filter(pl.when(bound_only).then(delta > 1e-9).otherwise(delta.abs() > 1e-9))
        .select(
            "contest",
            "unit_id",
            pl.when(pl.col("measure") == "votes").then(pl.col("choice")).otherwise(None)
            .alias("choice"),
            pl.col("measure").alias("key"),
            "source_file",
            "source_row",
            "observed",
            "expected",
            delta.alias("delta"),
            delta.abs().round(0).cast(pl.Int64).alias("votes_affected"),
            counted.alias("counted"),
            subject.alias("subject"),
            scope_text.alias("scope_text"),
            pl.when(delta > 0).then(pl.lit("more in the units"))
            .otherwise(pl.lit("fewer in the units")).alias("direction"),
        )
    )


def _unit_rows(m: Model) -> pl.LazyFrame | None:
    """Published votes at the unit level (a unit's total row, e.g. `candidate = Total`)."""
    rows = m.published.filter(
        (pl.col("level") == "unit") & (pl.col("measure") == "votes")
        & pl.col("value").is_not_null() & pl.col("unit_id").is_not_null()
    )
    if rows.select(pl.len()).collect().item() == 0:
        return None
    return rows


def unit_totals(m: Model) -> pl.LazyFrame:
    """Unit-level published votes against the unit's own votes.

    A row naming one of the unit's choices restates that choice's votes; a row whose choice
    is not among them (Delaware release 1: `candidate = Total`) states the unit's total over
    all choices.
    """
    rows = _unit_rows(m)
    if rows is None:
        return pl.LazyFrame()
    keys = rows.select("contest", "unit_id").unique()
    votes = m.votes.join(keys, on=["contest", "unit_id"], how="semi")
    per_choice = votes.group_by("contest", "unit_id", "choice").agg(
        pl.col("votes").sum().alias("cv"))
    per_unit = votes.group_by("contest", "unit_id").agg(pl.col("votes").sum().alias("uv"))
    return (
        rows.join(per_choice, on=["contest", "unit_id", "choice"], how="left", nulls_equal=True)
        .join(per_unit, on=["contest", "unit_id"], how="inner")
        .with_columns(
            pl.coalesce("cv", "uv").alias("units_value"),
            pl.lit(1, pl.Int64).alias("n_units"),
            pl.lit("unit").alias("scope_level"),
            pl.col("unit_id").alias("scope"),
            pl.when(pl.col("cv").is_null()).then(pl.lit("all choices"))
            .otherwise(pl.col("choice")).alias("what"),
        )
    )


def _agg002_applies(m: Model) -> str | None:
    if _has_rollups(m) is None:
        return None
    if "choice" in m.vote_columns():
        return None
    return "no published totals and no votes per choice"


@check(code="AGG002", name="unit-missing-on-one-side", severity="warning",
       applies=_agg002_applies)
def unit_missing_on_one_side(m: Model) -> pl.LazyFrame:
    """Units present in one list or level and missing from the other.

    What: three kinds of gap, each one finding (`key` says which):
    `no-detail` — a published total (contest total or a region's roll-up) with no unit at
    all below it in the detail; `no-rollup:<level>` — where the source publishes roll-ups at a
    hierarchy level (e.g. per region), a region whose units have no roll-up; `missing-in-
    contest` — in a file with several contests, a unit that reports in some contest but is
    absent from a contest that covers at least `rules.agg_universe_share` (default 0.9) of
    all the file's units (a file-wide contest such as President). Warning, not error: a
    gap is a question to ask (not reported yet? merged?) before it is an impossibility.
    Why it matters: a total without its detail cannot be checked, and a unit that is missing
    from one contest but votes in another means ballots or a whole protocol went missing.
    Example: Delaware: an election district with results for Governor but no row for
    President → "unit 'Kent/30-01' reports in other contests (412 votes) but is missing from
    the contest 'President', which covers 431 of the file's 432 units".
    """
    parts: list[pl.LazyFrame] = []
    if _has_rollups(m) is None:
        pub = rollups(m)
        sums = unit_sums(m).select(ROLLUP_KEYS)
        lonely = pub.join(sums, on=ROLLUP_KEYS, how="anti")
        parts.append(
            lonely.group_by("contest", "scope_level", "scope", "unit_id")
            .agg(pl.col("value").filter(pl.col("measure") == "votes").sum().alias("pv"),
                 pl.col("source_file").first(), pl.col("source_row").min())
            .select(
                "contest", "unit_id", "source_file", "source_row",
                pl.lit("no-detail").alias("key"),
                pl.col("pv").round(0).alias("votes_affected"),
                pl.concat_str(
                    pl.lit("a total is published for "),
                    pl.when(pl.col("scope_level") == _TOTAL)
                    .then(pl.concat_str(pl.lit("the contest '"), pl.col("contest"), pl.lit("'")))
                    .otherwise(pl.concat_str(pl.col("scope_level"), pl.lit(" '"),
                                             pl.col("scope"), pl.lit("'"))),
                    pl.lit(" ("), fmt_int(pl.col("pv")),
                    pl.lit(" votes) but no unit below it is in the detail"),
                ).alias("message"),
            )
        )
        for lvl in _published_levels(m):
            have = pub.filter(pl.col("scope_level") == lvl).select("contest", "scope").unique()
            units_at = (
                m.units.group_by("contest", pl.col(lvl).fill_null("").alias("scope"))
                .agg(pl.len().alias("n"), pl.col("source_row").min(),
                     pl.col("source_file").first())
                .join(have.select("contest").unique(), on="contest", how="semi")
            )
            parts.append(
                units_at.join(have, on=["contest", "scope"], how="anti").select(
                    "contest", pl.col("scope").alias("unit_id"), "source_file", "source_row",
                    pl.lit(f"no-rollup:{lvl}").alias("key"),
                    pl.lit(None, pl.Float64).alias("votes_affected"),
                    pl.concat_str(
                        pl.lit(f"{lvl} '"), pl.col("scope"), pl.lit("' has "), fmt_int(pl.col("n")),
                        pl.lit(f" units in the detail but no published total, while other {lvl} "
                               "totals of the contest '"), pl.col("contest"),
                        pl.lit("' are published"),
                    ).alias("message"),
                )
            )
    if "choice" in m.vote_columns() and _n_contests(m) >= 2:
        parts.append(_missing_in_contest(m))
    if not parts:
        return pl.LazyFrame()
    return pl.concat(
        [p.cast({"votes_affected": pl.Float64, "source_file": pl.Int64, "source_row": pl.Int64})
         for p in parts],
        how="vertical_relaxed",
    )


def _n_contests(m: Model) -> int:
    if unit_key(m) == ["source_row"]:  # one wide file without [[contests]]: one contest
        return 1
    return int(m.units.select(pl.col("contest").n_unique()).collect().item())


def _missing_in_contest(m: Model) -> pl.LazyFrame:
    share = float(m.rule("agg_universe_share", 0.9))
    pairs = m.units.select("contest", "unit_id").unique()
    n_all = pairs.select(pl.col("unit_id").n_unique().alias("n_all"))
    per_contest = pairs.group_by("contest").agg(pl.len().alias("n_c"))
    wide = (
        per_contest.join(n_all, how="cross")
        .filter(pl.col("n_c") >= share * pl.col("n_all"))
        .select("contest", "n_c", "n_all")
    )
    # A unit's weight: its largest vote total in any contest where it does report.
    weight = (
        m.votes.group_by("contest", "unit_id").agg(pl.col("votes").sum().alias("v"))
        .group_by("unit_id").agg(pl.col("v").max().alias("v"))
    )
    first = m.units.group_by("unit_id").agg(pl.col("source_row").min(),
                                             pl.col("source_file").first())
    every = pairs.select("unit_id").unique().join(first, on="unit_id", how="left")
    return (
        wide.join(every, how="cross")
        .join(pairs, on=["contest", "unit_id"], how="anti")
        .join(weight, on="unit_id", how="left")
        .select(
            "contest", "unit_id", "source_file", "source_row",
            pl.lit("missing-in-contest").alias("key"),
            pl.col("v").cast(pl.Float64).alias("votes_affected"),
            pl.concat_str(
                pl.lit("unit '"), pl.col("unit_id"), pl.lit("' reports in other contests ("),
                fmt_int(pl.col("v").fill_null(0)),
                pl.lit(" votes) but is missing from the contest '"), pl.col("contest"),
                pl.lit("', which covers "), fmt_int(pl.col("n_c")), pl.lit(" of the file's "),
                fmt_int(pl.col("n_all")), pl.lit(" units"),
            ).alias("message"),
        )
    )
