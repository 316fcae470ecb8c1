"""TURN: turnout and invalid-ballot plausibility.

Rates used here (per unit, and summed for national/regional rates):

- turnout = `voters` (else `ballots_cast`, else `valid + invalid [+ blank]`) divided by
  `registered` plus the profile's `extra_registered` columns (or the columns listed in the
  rule `turnout_base`).
- invalid share = `invalid` divided by `ballots_cast` (else `valid + invalid [+ blank]`).

A rate is *not applicable*, never flagged, where its denominator is empty or zero (postal
districts carry no electorate) or the unit's type is one whose electorate is not a place
(`postal`, `evoting`, … see `NOT_APPLICABLE_TYPES`, or the rule `turnout_not_applicable`).

Outliers (`TURN002`, `TURN004`) are measured with a robust z within comparable units: the
same contest and unit type, in the lowest hierarchy level (district, then region, then the
nation) that has at least `MIN_GROUP` such units. The scale combines the group's robust
between-unit spread (1.4826 · MAD, net of sampling noise) with the binomial sampling noise
of the unit's own denominator, so that a 40-voter station is not an outlier merely for being
small. Flagged when |z| ≥ `z` (profile rule or `--z`, default `DEFAULT_Z`).
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import polars as pl

from auditor.model import WIDE_ROW, Model, WideVotes
from auditor.registry import CheckOutput, check
from checks._protocol import unit_key
from checks._util import attach, in_memory, place, quote_expr, thousands

# Default robust-z threshold. Under the null of the scale above (normal between-unit spread
# plus binomial noise) |z| ≥ 4.5 has a two-sided probability of 6.8e-6 per unit (`nominal_rate`);
# tests/property/test_turn_property.py checks that clean synthetic elections with regional
# and district variation stay at or below it, and that +40 turnout points are caught.
DEFAULT_Z = 4.5
# Fewest comparable units a median/MAD is computed from; smaller groups borrow the level above.
MIN_GROUP = 20
# Unit types whose electorate is not a place: turnout and invalid share are not compared.
# Unit types whose voter list is the people present (a ship's crew, a consulate's
# registrants, a hospital's patients): 100 % turnout is ordinary there (TURN001 says so)
CLOSED_LIST_TYPES = frozenset(
    {"abroad", "ship", "ships", "vessel", "hospital", "institution", "military", "special"}
)
NOT_APPLICABLE_TYPES = frozenset(
    {"postal", "evoting", "e-voting", "electronic", "remote", "online", "internet"}
)
# Fewest valid votes for a unanimous unit to be reported (3 voters agreeing is unremarkable).
MIN_UNANIMOUS = 10

MEASURE_WORDS = {"turnout": "turnout", "invalid_share": "invalid ballots"}


def nominal_rate(z: float) -> float:
    """Two-sided normal tail probability of |Z| ≥ z: the false-alarm rate the threshold means."""
    return math.erfc(z / math.sqrt(2.0))


def z_threshold(m: Model) -> float:
    """The robust-z threshold: `--z`, else the profile's `z`, else `DEFAULT_Z`."""
    return float(m.rule("z", DEFAULT_Z))


def _cols(m: Model) -> set[str]:
    return m.unit_columns()


def turnout_parts(m: Model, exact: bool = False) -> tuple[pl.Expr, pl.Expr] | None:
    """(numerator, denominator) expressions of turnout, or None when it cannot be computed;
    Float64, or with `exact` the Int64 counts themselves."""
    cols = _cols(m)
    base_rule = m.rule("turnout_base")
    if base_rule:
        names = [base_rule] if isinstance(base_rule, str) else list(base_rule)
    else:
        names = ["registered", *[c for c in (m.rule("extra_registered") or [])]]
    names = [n for n in names if n in cols]
    if "registered" not in cols or not names:
        return None
    if exact and names == ["registered"]:
        den = pl.col("registered")
    else:
        den = pl.sum_horizontal([_num(n, exact) for n in names])
        # An empty `registered` cell means undefined, not zero.
        den = pl.when(pl.col("registered").is_null()).then(None).otherwise(den)
    num = _ballots_expr(cols, prefer_voters=True, exact=exact)
    if num is None:
        return None
    return num, den


def _num(name: str, exact: bool) -> pl.Expr:
    return pl.col(name) if exact else pl.col(name).cast(pl.Float64)


def _ballots_expr(cols: set[str], prefer_voters: bool, exact: bool = False) -> pl.Expr | None:
    if prefer_voters and "voters" in cols:
        return _num("voters", exact)
    if "ballots_cast" in cols:
        return _num("ballots_cast", exact)
    if "valid" in cols and "invalid" in cols:
        parts = [_num(c, exact) for c in ("valid", "invalid", "blank") if c in cols]
        # sum_horizontal would turn a missing cell into 0; keep it missing.
        out = parts[0]
        for p in parts[1:]:
            out = out + p
        return out
    return None


def invalid_parts(m: Model, exact: bool = False) -> tuple[pl.Expr, pl.Expr] | None:
    """(numerator, denominator) expressions of the invalid share, or None (Float64, or the
    Int64 counts with `exact`)."""
    cols = _cols(m)
    if "invalid" not in cols:
        return None
    den = _ballots_expr(cols, prefer_voters=False, exact=exact)
    if den is None:
        return None
    return _num("invalid", exact), den


def _na_types(m: Model) -> list[str]:
    extra = m.rule("turnout_not_applicable") or []
    return sorted(NOT_APPLICABLE_TYPES | {str(t).lower() for t in extra})


def _applicable(m: Model) -> pl.Expr:
    """True for units whose rates may be compared (type is a place with an electorate)."""
    if "unit_type" not in _cols(m):
        return pl.lit(True)
    return ~pl.col("unit_type").str.to_lowercase().is_in(_na_types(m)).fill_null(False)


def unit_rates(m: Model, exact: bool = False) -> pl.DataFrame:
    """Per applicable unit: keys, hierarchy, type, and `{measure}_num` / `{measure}_den`.

    `exact`: the counts as they are (Int64) rather than as Float64; a count column then
    shares the model's memory instead of being copied (4 × 80 MB at 10M units), and the
    rates computed from it are the same numbers.
    """
    cols = _cols(m)
    hier = [h for h in m.hierarchy if h in cols]
    keep = ["contest", "unit_id", *hier]
    exprs: list[pl.Expr] = [pl.col(c) for c in keep]
    exprs.append(pl.col("unit_type") if "unit_type" in cols else pl.lit("regular").alias("unit_type"))
    for name, parts in (("turnout", turnout_parts(m, exact)),
                        ("invalid_share", invalid_parts(m, exact))):
        if parts is not None:
            exprs += [parts[0].alias(f"{name}_num"), parts[1].alias(f"{name}_den")]
    return m.units.filter(_applicable(m)).select(exprs).collect()


# 1 / Φ⁻¹(3/4): the MAD of a normal sample times this estimates its standard deviation.
MAD_SCALE = 1.482602218505602
# The statistics of a comparison group that its units take (`_compare_units`).
_STATS = ["n", "median", "__my", "__mad", "__ms"]
# Units read to guess whether a table is grouped (`_runs`): below this many units per run of
# equal keys, on average, the groups are looked up by hashing straight away.
_RUN_PROBE, _RUN_MIN_MEAN = 4096, 4
# The engine of the group statistics: the in-memory one takes the contiguous slices of a
# sorted key (`_by_group`), up to four times as fast as the streaming one on large groups.
_ENGINE: Final = "in-memory"
# Above this many units TURN002 spends time to save memory: its groups are numbered by
# folded codes (`_first_seen_ids`) rather than a window over the keys, and its units are
# compared a slice of whole regions at a time (`_flagged_large`).
ONE_PASS_MAX_UNITS = 2_000_000


def _group_stats(d: pl.LazyFrame, key: str, *extra: pl.Expr) -> pl.LazyFrame:
    """Per comparison group: units `n`, `median` rate, and on the Anscombe scale the median
    `__my` and the median sampling variance `__ms` (the scaled MAD is `_group_mad`'s)."""
    return d.group_by(key).agg(
        *extra,
        pl.len().alias("n"),
        pl.col("rate").median().alias("median"),
        pl.col("__y").median().alias("__my"),
        pl.col("__samp").median().alias("__ms"),
    )


def _group_mad(d: pl.LazyFrame, key: str, my: pl.Expr) -> pl.LazyFrame:
    """Per comparison group: `__mad`, 1.4826 · the median of |y − my|, `my` being the row's
    group median of y. A second pass over the rows, once the medians are known, is quicker
    than a median of the deviations from a median within one aggregation."""
    return (d.select(key, (pl.col("__y") - my).abs().alias("__dev")).group_by(key)
            .agg((pl.col("__dev").median() * MAD_SCALE).alias("__mad")))


def _runs(df: pl.DataFrame, keys: list[str]) -> pl.Series | None:
    """The group numbers of `comparison_groups` read from the order of the rows, when every
    group is one run of consecutive rows (results are usually listed district by district);
    None when they are not, or may not be. No hashing of every row's text: a run starts
    where a key differs from the row above, and the runs' keys are checked to be distinct."""
    if not keys or any(df.schema[k] not in (pl.String, pl.Categorical) for k in keys):
        return None
    new = pl.any_horizontal(
        pl.int_range(pl.len()) == 0, *[pl.col(k).ne_missing(pl.col(k).shift(1)) for k in keys])
    probe = df.head(_RUN_PROBE).select(new.sum()).item()
    if probe * _RUN_MIN_MEAN > min(df.height, _RUN_PROBE):
        return None
    starts = df.lazy().select(new.alias("__new")).collect(engine="in-memory").to_series()
    heads = df.select(keys).filter(starts)
    if heads.unique().height != heads.height:  # a group in two runs or more
        return None
    return (starts.cum_sum() - 1).alias("__g")


def _dense(s: pl.Series) -> pl.Series:
    """`s` (integers) renumbered 0, 1, 2, … in the order its values first appear (null is a
    value). Over a compact range the new numbers are a lookup table gathered by position,
    else a hash map of the distinct values."""
    s = s.cast(pl.Int64).fill_null(-1)
    seen = s.unique(maintain_order=True)
    rank = pl.int_range(seen.len(), dtype=pl.Int64, eager=True)
    lo, hi = int(seen.min()), int(seen.max())  # type: ignore[arg-type]
    if hi - lo <= 4 * s.len() + 1024:
        lut = pl.zeros(hi - lo + 1, pl.Int64, eager=True).scatter(seen - lo, rank)
        return lut.gather(s - lo)
    return s.replace_strict(seen, rank, return_dtype=pl.Int64)


def _text_codes(s: pl.Series) -> pl.Series:
    """A column's categorical codes: a number per distinct text (one hashing pass; null
    stays null). A categorical column gives its own; other types are written as text."""
    if s.dtype != pl.Categorical:
        s = (s if s.dtype == pl.String else s.cast(pl.String)).cast(pl.Categorical)
    return s.to_physical()


def _null_last_codes(s: pl.Series) -> pl.Series:
    """`_text_codes` of a text column with null as one more code, after the largest."""
    c = _text_codes(s)
    return c.fill_null(int(c.max() or 0) + 1) if c.null_count() else c  # type: ignore[arg-type]


def _first_seen_ids(df: pl.DataFrame, keys: list[str]) -> pl.Series:
    """The groups of the rows by `keys`, numbered in the order they first appear.

    Each key becomes small integers first (a categorical by its codes, other text by its
    categorical code, integers renumbered), and the keys are folded into one integer, then
    renumbered once: small lookup tables and integer columns, where a window over the keys
    held half a gigabyte of row-encoded keys at 10M units. (The folded number is renumbered
    on the way only if it would outgrow 2⁶².)
    """
    def codes(k: str) -> pl.Series:
        s = df[k]
        if s.dtype == pl.Categorical:  # its codes as they are (Int64: they are folded)
            return _null_last_codes(s).cast(pl.Int64)
        if s.dtype.is_integer() and (not s.null_count() or (s.min() or 0) >= 0):  # type: ignore[operator]
            return _dense(s)  # (null becomes -1 there)
        return _dense(_text_codes(s))

    out = codes(keys[0])
    for k in keys[1:]:
        ids = codes(k)
        width = int(ids.max() or 0) + 1  # type: ignore[arg-type]
        if (int(out.max() or 0) + 1) * width >= 2**62:  # type: ignore[arg-type]
            out = _dense(out)
        out = out * width + ids
    return _dense(out).alias("__g")


def _cheap_codes(df: pl.DataFrame, keys: list[str]) -> bool:
    """Whether every key is numbered without hashing its text (categorical or integer)."""
    return all(df.schema[k] == pl.Categorical or df.schema[k].is_integer() for k in keys)


def _varying(df: pl.DataFrame, keys: list[str]) -> list[str]:
    """`keys` without those the same in every row (one contest, one unit type): found by a
    comparison with the first value, a sixth of the time of counting distinct values."""
    same = df.select([pl.col(k).eq_missing(pl.col(k).first()).all() for k in keys]).row(0)
    return [k for k, s in zip(keys, same, strict=True) if not s]


def comparison_groups(df: pl.DataFrame, hierarchy: list[str]) -> pl.DataFrame:
    """`df` with `__g`, an integer naming the unit's lowest comparison group (contest, unit
    type and every hierarchy level): 0, 1, 2, … in the order the groups first appear.

    Grouping by one integer instead of several text columns makes `compare` several times
    faster; computed once, it serves every measure compared on the same units. The numbers
    are read from the order of the rows where the units are listed group by group (`_runs`),
    else from the keys' codes where they are categorical or integers (`_first_seen_ids`: at
    1M units a third of the time of a window over them), else by hashing the keys; a key
    that is the same in every row (one contest, one unit type) is left out.
    """
    keys = _varying(df, ["contest", "unit_type", *hierarchy])
    g = _runs(df, keys)
    if g is None and not keys:
        g = pl.zeros(df.height, pl.Int64, eager=True).alias("__g")
    elif g is None and df.height <= ONE_PASS_MAX_UNITS and not _cheap_codes(df, keys):
        first = pl.col("__i").first().over(keys)  # the row of the group's first unit
        g = (df.lazy().select(keys).with_row_index("__i").with_columns(first.alias("__f"))
             .select(((pl.col("__f") == pl.col("__i")).cum_sum() - 1)
                     .gather(pl.col("__f")).cast(pl.Int64).alias("__g"))
             .collect(engine="in-memory").to_series())
    elif g is None:
        g = _first_seen_ids(df, keys)
    return df.with_columns(g)


def _by_group(d: pl.DataFrame, key: str) -> pl.DataFrame:
    """`d` with `key` marked sorted where it is (units listed group by group, as most
    results are), so that grouping by it takes contiguous slices instead of hashing: two to
    four times as fast. (Sorting a table that is not costs more than it saves.)"""
    return d.with_columns(pl.col(key).set_sorted()) if d[key].is_sorted() else d


def _levels(hierarchy: list[str]) -> tuple[list[list[str]], list[str]]:
    """The comparison levels, lowest first (the whole hierarchy, … , the nation), and their
    names."""
    levels = [hierarchy[: i + 1] for i in range(len(hierarchy) - 1, -1, -1)] + [[]]
    return levels, [h[-1] if h else "national" for h in levels]


def _scattered(table: pl.DataFrame, col: str, size: int, at: str = "__k") -> pl.Series:
    """`table[col]` placed at the positions `table[at]` of a column of `size` nulls."""
    return (pl.repeat(None, size, dtype=table[col].dtype, eager=True)
            .scatter(table[at], table[col]))


def _compare_units(df: pl.DataFrame, hierarchy: list[str],
                   measures: list[tuple[str, str, pl.Expr]],
                   ) -> tuple[list[pl.LazyFrame], list[pl.Expr]]:
    """`compare` of several measures (num, den, ok) of the same units at once.

    Returns, per measure, the rows of `df` where `ok`, in their order, with `__i` (the row
    of `df`), `__k` (the group), `rate`, `n` and `z`, lazily for the caller to filter; and
    the expressions that add `median` and `__lvl` (the index of the level's name in
    `_levels`) to the rows kept.

    Only the few columns the statistics need are copied; every measure's groups are
    computed in one pass (the group of measure j is `__g` + j times the number of groups);
    and the statistics reach the units by position (a gather, no join).
    """
    if not measures:
        return [], []
    if "__g" not in df.columns:
        df = comparison_groups(df, hierarchy)
    base = ["contest", "unit_type"]
    levels, _ = _levels(hierarchy)
    n_lv = len(levels)
    ng = int(df["__g"].max() or 0) + 1  # type: ignore[arg-type]
    size = ng * len(measures)
    parts = pl.collect_all([
        df.lazy().with_row_index("__i").filter(ok).select(
            "__i",
            (pl.col("__g") + j * ng).alias("__k"),
            (pl.col(num) / pl.col(den)).alias("rate"),
            ((pl.col(num) + 0.375) / (pl.col(den) + 0.75)).sqrt().arcsin().alias("__y"),
            (1.0 / (4.0 * pl.col(den) + 2.0)).alias("__samp"))
        for j, (num, den, ok) in enumerate(measures)])
    rows = _by_group(pl.concat(parts, rechunk=False), "__k").lazy()
    # The lowest groups' statistics, with a row of each group to read its keys from.
    low = (_group_stats(rows, "__k", pl.col("__i").first().alias("__r"))
           .collect(engine=_ENGINE))
    # Groups nest, so a level's unit count is the sum over the lowest groups it holds; `__m`
    # keeps the measures apart.
    lv_keys = [["__m", *base, *lv] for lv in levels]
    pick: Any = pl
    for i in range(n_lv - 1):
        n_i = pl.col("n") if i == 0 else pl.col("n").sum().over(lv_keys[i])
        pick = pick.when(n_i >= MIN_GROUP).then(pl.lit(i))
    pick = pl.lit(n_lv - 1) if n_lv == 1 else pick.otherwise(n_lv - 1)
    # For the groups too small to stand alone at level i, the statistics of the level group
    # over all its units: `__up{i}` numbers it (its lowest member + i · size) in every group
    # it holds, `__u` in the groups that take its statistics.
    ups = [pl.when((pl.col("__lvl") == i).any().over(lv_keys[i]))
           .then(pl.col("__k").min().over(lv_keys[i]).cast(pl.Int64) + i * size)
           .alias(f"__up{i}") for i in range(1, n_lv)]
    chosen = pl.coalesce(pl.lit(None, pl.Int64), *[
        pl.when(pl.col("__lvl") == i).then(pl.col(f"__up{i}")) for i in range(1, n_lv)])
    table = (low.lazy()
             .with_columns((pl.col("__k") // ng).alias("__m"),
                           *[pl.lit(df[k]).gather(pl.col("__r")).alias(k)
                             for k in [*base, *levels[0]]])
             .with_columns(pick.alias("__lvl"))
             .with_columns(ups)
             .select("__k", "n", "median", "__my", "__ms", "__lvl", chosen.alias("__u"),
                     *[f"__up{i}" for i in range(1, n_lv)])
             .collect(engine="in-memory"))

    def at_k(col: str) -> pl.Expr:
        return pl.lit(_scattered(table, col, size)).gather(pl.col("__k"))

    needed = [i for i in range(1, n_lv) if (table["__lvl"] == i).any()]
    own = rows.filter(at_k("__lvl") == 0) if needed else rows
    plans = [_group_mad(own, "__k", at_k("__my"))]
    if needed:
        # each unit once for every level group whose statistics one of its groups takes
        plans += [
            rows.select(at_k(f"__up{i}").alias("__u"), "rate", "__y", "__samp")
            .filter(pl.col("__u").is_not_null())
            for i in needed]
    mad, *up_parts = pl.collect_all(plans, engine=_ENGINE)
    up_stats = []
    if up_parts:
        up_rows = _by_group(pl.concat(up_parts, rechunk=False), "__u").lazy()
        up_stats = [_group_stats(up_rows, "__u").collect(engine=_ENGINE)]
    table = table.join(mad, on="__k", how="left")
    if up_stats:
        my_u = _scattered(up_stats[0], "__my", size * n_lv, at="__u")
        up_mad = (_group_mad(up_rows, "__u", pl.lit(my_u).gather(pl.col("__u")))
                  .collect(engine=_ENGINE))
        table = (table.lazy()
                 .join(up_stats[0].join(up_mad, on="__u").lazy(), on="__u", how="left",
                       suffix="__up")
                 .select("__k", *[pl.when(pl.col("__lvl") == 0).then(pl.col(c))
                                  .otherwise(pl.col(f"{c}__up")).alias(c) for c in _STATS],
                         "__lvl")
                 .collect(engine="in-memory"))
    # τ² per group; each unit takes its group's statistics by position (`__k`).
    table = table.with_columns(
        (pl.col("__mad") ** 2 - pl.col("__ms")).clip(lower_bound=0.0).alias("__tau2"))
    z = ((pl.col("__y") - at_k("__my")) / (at_k("__tau2") + pl.col("__samp")).sqrt())
    frames = [p.lazy().select("__i", "__k", "rate", at_k("n").alias("n"), z.alias("z"))
              for p in parts]
    return frames, [at_k("median").alias("median"), at_k("__lvl").alias("__lvl")]


def compare(df: pl.DataFrame, hierarchy: list[str], num: str, den: str,
            ok: pl.Expr) -> pl.LazyFrame:
    """Rows where `ok`, with `rate`, `median`, `z`, `level` (name of the comparison group)
    and `n` (units in it), as a lazy frame for the caller to filter.

    Comparable units: same contest and unit type, in the lowest hierarchy level (then the
    next one up, then the nation) that has at least `MIN_GROUP` of them; a unit in a small
    district is compared with its whole region, not with the other small districts' units.

    The rate is put on Anscombe's variance-stabilising scale y = asin(sqrt((num + 3/8) /
    (den + 3/4))), whose binomial sampling variance is 1 / (4 · den + 2) whatever the rate
    (a raw 1 % invalid share is so skewed that plain z-scores flag small stations by the
    dozen). Then z = (y − median_y) / sqrt(τ² + 1/(4 · den + 2)), τ² being the group's
    robust between-unit variance: (1.4826 · MAD_y)² minus the median sampling variance,
    floored at 0.

    The statistics are computed per group into a small table that each unit looks up by its
    group number: those of the lowest level for every group, those of a level above only
    where a group is too small (`_compare_units`). `df` may carry `__g` from
    `comparison_groups` (else it is added here).
    """
    if "__g" not in df.columns:
        df = comparison_groups(df, hierarchy)
    _, names = _levels(hierarchy)
    (found,), more = _compare_units(df, hierarchy, [(num, den, ok)])
    rest = df.drop("__g")
    level = pl.col("__lvl").replace_strict(dict(enumerate(names)), return_dtype=pl.String)
    return (found.with_columns(more)
            .join(rest.lazy().with_row_index("__i"), on="__i", how="left",
                  maintain_order="left")
            .select(*rest.columns, "rate", "n", "median", level.alias("level"), "z"))


def z_cut(z0: float, n: pl.Expr) -> pl.Expr:
    """The |z| a group of `n` units must reach for the false-alarm rate of z0 (normal).

    A scale estimated from n units by the MAD (37 % efficient) makes z behave like Student's
    t with ν ≈ 0.37 · n degrees of freedom; the Cornish–Fisher expansion of the t quantile
    turns the normal cut z0 into the t cut, e.g. 4.5 → 4.84 for 200 units, 5.9 for 40.
    """
    nu = (0.37 * n.cast(pl.Float64)).clip(lower_bound=1.0)
    return (pl.lit(z0) + (z0**3 + z0) / (4.0 * nu)
            + (5 * z0**5 + 16 * z0**3 + 3 * z0) / (96.0 * nu**2))


def _fmt_pct(x: float) -> str:
    return f"{100 * x:.1f} %"


@check(code="TURN001", name="turnout-exactly-100", severity="warning",
       requires=("registered",),
       message="turnout is exactly 100 %: {observed:,.0f} voters of {expected:,.0f} registered")
def turnout_100(m: Model) -> pl.LazyFrame:
    """Turnout of exactly 100 % of registered voters.

    What: a unit where the voters (or ballots cast) equal the registered voters, with at least
    one registered voter. Units whose turnout is undefined (no electorate, postal or e-voting
    pseudo-stations) are not applicable.
    Why it matters: every single registered voter taking part is rare outside closed
    institutions (ships, hospitals, remote stations); in ordinary stations it is a classic
    sign of a written-up protocol.
    Example: a station with 1,204 registered and 1,204 ballots cast.
    """
    parts = turnout_parts(m)
    if parts is None:
        return pl.LazyFrame(schema={"contest": pl.String, "unit_id": pl.String})
    num, den = parts
    ut = (pl.col("unit_type").cast(pl.String).str.to_lowercase() if "unit_type" in _cols(m)
          else pl.lit("regular"))
    closed = ut.is_in(sorted(CLOSED_LIST_TYPES)).fill_null(False)
    base = pl.format("turnout is exactly 100 %: {} voters of {} registered",
                     thousands(pl.col("observed")), thousands(pl.col("expected")))
    return (
        m.units.filter(_applicable(m))
        .select("contest", "unit_id", num.alias("observed"), den.alias("expected"),
                ut.alias("__type"), closed.alias("__closed"))
        .filter((pl.col("expected") > 0) & (pl.col("observed") == pl.col("expected")))
        .with_columns(
            pl.col("observed").alias("votes_affected"),
            # abroad, ships, hospitals: the list holds only the people present, so 100 % is
            # ordinary there — info, and listed after the ordinary stations
            pl.when(pl.col("__closed")).then(pl.lit("info")).otherwise(pl.lit(None, pl.String))
            .alias("severity"),
            pl.when(pl.col("__closed"))
            .then(base + pl.lit(" at a station of type ") + pl.col("__type")
                  + pl.lit(", where the list holds only the voters present and 100 % is common"))
            .otherwise(base).alias("message"))
        .sort("__closed", "contest", "unit_id")
        .drop("__type", "__closed")
    )


def _outliers(df: pl.DataFrame, measure: str) -> tuple[str, str, pl.Expr, pl.Expr] | None:
    """How `measure`'s outliers are found in `unit_rates`: (num, den, ok, distance), the
    distance being compared with `z_cut`; None when the measure cannot be computed."""
    num, den = f"{measure}_num", f"{measure}_den"
    if num not in df.columns:
        return None
    ok = pl.col(num).is_not_null() & pl.col(den).is_not_null() & (pl.col(den) > 0)
    # A rate above 100 % is an impossibility reported by ARITH, not an outlier here.
    ok = ok & (pl.col(num) <= pl.col(den))
    # Invalid shares are flagged only when high: near 0 the binomial's lower tail is too
    # discrete for a z (a 700-ballot station with no invalid ballot is rare, not a sign).
    dist = pl.col("z").abs() if measure == "turnout" else pl.col("z")
    return num, den, ok, dist


def _flagged_at_once(rates: pl.DataFrame, hier: list[str],
                     measures: list[tuple[str, tuple[str, str, pl.Expr, pl.Expr]]],
                     z0: float) -> list[pl.DataFrame]:
    """TURN002's flagged rows of every measure (`_compare_units` columns, `__i` the row of
    `rates`), the measures compared in one pass."""
    rates = comparison_groups(rates, hier)
    compared, more = _compare_units(rates, hier, [how[:3] for _, how in measures])
    return pl.collect_all([d.filter(how[3] >= z_cut(z0, pl.col("n"))).with_columns(more)
                           for d, (_, how) in zip(compared, measures, strict=True)])


# Above `ONE_PASS_MAX_UNITS` units TURN002 compares the units region by region, in slices
# of whole regions of about this many units, whenever no unit needs the nation as its group.
SLICE_UNITS = 500_000


def _coded(rates: pl.DataFrame, hier: list[str],
           measures: list[tuple[str, tuple[str, str, pl.Expr, pl.Expr]]]) -> pl.DataFrame:
    """The columns of `rates` the comparison reads, each hierarchy level as a number per
    value (null included), so that the slices of a large table copy integers rather than
    text. Text is numbered by its categorical code (one hashing pass, 4 bytes a unit)."""
    def code(s: pl.Series) -> pl.Series:
        if s.dtype not in (pl.String, pl.Categorical):
            return _first_seen_ids(rates, [s.name])
        return _null_last_codes(s)

    nums = [c for _, how in measures for c in how[:2]]
    return rates.select("contest", "unit_type", *dict.fromkeys(nums)).with_columns(
        code(rates[h]).alias(h) for h in hier)


def _region_slices(rates: pl.DataFrame, top: pl.Series, oks: list[pl.Expr],
                   ) -> list[pl.Series] | None:
    """Row numbers of `rates` in slices of whole top-level regions (`top`, a number per
    region) of about `SLICE_UNITS` units, when comparing the units slice by slice gives the
    findings of the whole table: every region holds at least `MIN_GROUP` comparable units
    (`oks`, one per measure) of each contest and type it has, so no unit's group is the
    nation (whose statistics need every region). None when that is not so, or when one
    slice would hold every unit."""
    if rates.height <= SLICE_UNITS:
        return None
    keys = _varying(rates, ["contest", "unit_type"])
    # `rates` holds the columns in the pieces the file was read in, `top` is one piece: a
    # select over columns of both kinds would first copy them all into matching pieces.
    flags = rates.select(*keys, *[ok.alias(f"__ok{j}") for j, ok in enumerate(oks)]).rechunk()
    sizes = (flags.with_columns(top.alias("__top"))
             .group_by(*keys, "__top").agg(pl.len().alias("n"),
                                           *[pl.col(f"__ok{j}").sum() for j in range(len(oks))]))
    del flags
    if sizes.select(pl.any_horizontal([pl.col(f"__ok{j}").is_between(1, MIN_GROUP - 1)
                                       for j in range(len(oks))]).any()).item():
        return None
    per_top = sizes.group_by("__top").agg(pl.col("n").sum()).sort("__top")
    slice_of = (per_top["n"].cum_sum() - per_top["n"]) // SLICE_UNITS
    if slice_of.n_unique() == 1:
        return None
    size = int(top.max()) + 1  # type: ignore[arg-type]
    row_slice = pl.Series(values=[0] * size, dtype=pl.UInt32).scatter(
        per_top["__top"], slice_of.cast(pl.UInt32)).gather(top)
    # Only the slice numbers in use (a region larger than a slice skips some): each holds a
    # region. One query finds the rows of every slice side by side (10M units: 0.13 s where
    # one pass after the other took 0.24 s; grouping the row numbers by slice took as long
    # and 110 MB more).
    used = slice_of.unique().sort().to_list()
    found = row_slice.to_frame("s").select(
        pl.arg_where(pl.col("s") == i).implode().alias(f"s{i}") for i in used)
    return [found[c][0] for c in found.columns]


def _flagged_large(rates: pl.DataFrame, hier: list[str],
                   measures: list[tuple[str, tuple[str, str, pl.Expr, pl.Expr]]],
                   z0: float) -> list[pl.DataFrame]:
    """`_flagged_at_once` for a large table, in less memory: slice by slice of whole regions
    where `_region_slices` allows it, else one measure after the other over the whole table.

    The rows of the statistics take ~36 bytes a unit and measure, with the medians' work on
    top: at 10M units one measure over the whole table needed 1.3 GB above the model, a slice
    of 1M units a tenth of that. The findings are the same, in the same order.
    """
    coded = _coded(rates, hier, measures)
    slices = _region_slices(rates, coded[hier[0]], [how[2] for _, how in measures]) \
        if hier else None
    if slices is None:
        return [_flagged_at_once(coded, hier, [x], z0)[0] for x in measures]
    found = []
    for rows in slices:
        first, n = int(rows[0]), rows.len()
        # rows listed region by region (most results) make a slice a view, not a copy
        whole = int(rows[-1]) - first + 1 == n
        part = _flagged_at_once(coded.slice(first, n) if whole else coded[rows], hier,
                                measures, z0)
        found.append([f.with_columns(rows.gather(f["__i"]).alias("__i")) for f in part])
    return [pl.concat(per).sort("__i") for per in zip(*found, strict=True)]


@check(code="TURN002", name="rate-outlier", severity="warning",
       requires=("hierarchy",),
       message="{message}")
def rate_outlier(m: Model) -> CheckOutput:
    """Turnout or invalid-ballot share far from comparable units (robust z).

    What: for each unit, turnout and invalid share are compared with the median of the units
    of the same contest and type (home/abroad, regular/special) in its district (or region,
    or the nation, the lowest level with at least 20 such units). The distance is a robust z:
    the difference divided by the group's robust spread (1.4826 · MAD) combined with the
    binomial noise of the unit's size. Flagged when |z| ≥ the threshold for turnout, z ≥ it
    for the invalid share (`z` in the profile, `--z`, default 4.5: two-sided normal tail
    6.8e-6 per unit and measure, the nominal false-alarm rate), the threshold being raised
    for small groups whose spread is itself uncertain (Student-t correction).
    Postal districts without electorate and e-voting pseudo-stations are not applicable.
    Why it matters: ballot stuffing and written-up protocols raise turnout far above the
    neighbours; mass spoiling or a miscount shows as an invalid share out of line. A warning,
    not a proof: hospitals, barracks and tiny remote stations can be genuine outliers.
    Example: "turnout 97.3 % where the district median is 41.0 % (z = 8.4)".
    """
    z0 = z_threshold(m)
    rates = unit_rates(m, exact=True)
    hier = [h for h in m.hierarchy if h in rates.columns]
    measures = [(measure, how) for measure in ("turnout", "invalid_share")
                if (how := _outliers(rates, measure)) is not None]
    _, names = _levels(hier)
    flagged = (_flagged_large if rates.height > ONE_PASS_MAX_UNITS else _flagged_at_once)(
        rates, hier, measures, z0)
    # Only the flagged units' keys are copied (a frame's rows taken by position: reading a
    # column of `rates` alone would copy a constant one, e.g. `contest`, whole).
    frames = [
        pl.concat([
            rates.select("contest", "unit_id",
                         pl.col(how[0]).alias("votes_affected"))[f["__i"]],
            f.select(pl.lit(measure).alias("key"), "rate", "median", "z",
                     pl.lit(pl.Series(names)).gather(pl.col("__lvl")).alias("level"))],
            how="horizontal").with_columns(pl.col("votes_affected").cast(pl.Float64))
        for f, (measure, how) in zip(flagged, measures, strict=True) if f.height]
    if not frames:
        return CheckOutput(pl.DataFrame(schema={"contest": pl.String, "unit_id": pl.String}),
                           summary={"turn002_z": z0})
    both = pl.concat(frames)
    words = pl.col("key").replace_strict(MEASURE_WORDS, default=pl.col("key"))
    msg = pl.format(
        "{} {} % where the {} median is {} % (z = {})",
        words,
        (pl.col("rate") * 100).round(1),
        pl.col("level"),
        (pl.col("median") * 100).round(1),
        pl.col("z").round(1),
    )
    rows = both.select(
        "contest", "unit_id", "key",
        (pl.col("rate") * 100).alias("observed"),
        (pl.col("median") * 100).alias("expected"),
        pl.col("z").alias("delta"),
        "votes_affected",
        msg.alias("message"),
    ).sort(pl.col("delta").abs(), descending=True)
    return CheckOutput(rows, summary={"turn002_z": z0})


# ---------------------------------------------------------------------------------------
# TURN003: national and regional rates against history


def _pct_bound(b: dict[str, Any], name: str) -> float | None:
    """A baseline bound as a fraction: `max_pct = 2.0` or `max = 0.02` (fractions like
    `threshold`)."""
    if b.get(f"{name}_pct") is not None:
        return float(b[f"{name}_pct"]) / 100.0
    if b.get(name) is not None:
        return float(b[name])
    return None


def aggregate_rates(m: Model, level: str | None = None) -> pl.DataFrame:
    """Rates summed over applicable units, per contest (and per `level` value if given).

    Columns: contest, [level], measure, num, den, rate.
    """
    df = unit_rates(m)
    keys = ["contest"] + ([level] if level else [])
    out = []
    for measure in ("turnout", "invalid_share"):
        num, den = f"{measure}_num", f"{measure}_den"
        if num not in df.columns:
            continue
        ok = pl.col(num).is_not_null() & pl.col(den).is_not_null() & (pl.col(den) > 0)
        out.append(
            df.filter(ok).group_by(keys).agg(pl.col(num).sum().alias("num"),
                                             pl.col(den).sum().alias("den"))
            .with_columns(pl.lit(measure).alias("measure"),
                          (pl.col("num") / pl.col("den")).alias("rate"))
        )
    if not out:
        return pl.DataFrame()
    return pl.concat(out, how="vertical_relaxed").sort([*keys, "measure"])


@lru_cache(maxsize=8)
def _load_history(path: str, profile: str | None) -> Model:
    """A previous election's file: its own profile when one is detected (another year's
    layout often differs), else the current election's."""
    from auditor.ingest import LoadOptions, load

    found = load([Path(path)], LoadOptions())
    if found.profile is not None or profile is None:
        return found
    return load([Path(path)], LoadOptions(profile=profile))


def history_models(m: Model) -> list[Model]:
    """Earlier elections given with `--history` (paths, or models already loaded)."""
    hist = m.options.get("history") or []
    if isinstance(hist, str | Path | Model):
        hist = [hist]
    prof = None
    if m.profile is not None:
        prof = m.profile.name if m.profile.source.startswith("builtin:") else m.profile.source
    out = []
    for h in hist:
        out.append(h if isinstance(h, Model) else _load_history(str(h), prof))
    return out


# Tolerance around a previous election's rate when no explicit baseline is given, in
# percentage points (rule `history_tolerance_pp`, a table measure → points).
HISTORY_TOLERANCE_PP = {"turnout": 10.0, "invalid_share": 2.0}


def _baselines(m: Model) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for b in m.rule("baselines") or []:
        if not isinstance(b, dict) or b.get("measure") not in MEASURE_WORDS:
            continue
        out.append({"measure": b["measure"], "min": _pct_bound(b, "min"),
                    "max": _pct_bound(b, "max"), "source": str(b.get("source", "the profile")),
                    "level": b.get("level"), "contest": b.get("contest")})
    tol = {**HISTORY_TOLERANCE_PP, **(m.rule("history_tolerance_pp") or {})}
    for hm in history_models(m):
        label = hm.label or (hm.inputs[0].path if hm.inputs else "history")
        levels: list[str | None] = [None]
        if m.region and m.region in hm.unit_columns():
            levels.append(m.region)
        for level in levels:
            agg = aggregate_rates(hm, level)
            if agg.height == 0:
                continue
            # One election's contest names rarely match another's: pool contests by measure.
            keys = ["measure"] + ([level] if level else [])
            pooled = agg.group_by(keys).agg(pl.col("num").sum(), pl.col("den").sum())
            for r in pooled.iter_rows(named=True):
                rate = r["num"] / r["den"] if r["den"] else None
                if rate is None:
                    continue
                t = float(tol.get(r["measure"], 5.0)) / 100.0
                out.append({"measure": r["measure"], "min": max(0.0, rate - t),
                            "max": min(1.0, rate + t),
                            "source": f"{label} ({_fmt_pct(rate)} ± {100 * t:.0f} points)",
                            "level": level, "contest": None,
                            "value": r[level] if level else None})
    return out


@check(code="TURN003", name="rate-outside-baseline", severity="warning",
       applies=lambda m: None if (m.rule("baselines") or m.options.get("history"))
       else "no `[[rules.baselines]]` in the profile and no --history file",
       message="{message}")
def rate_outside_baseline(m: Model) -> pl.DataFrame:
    """A national or regional turnout or invalid share outside its historical range.

    What: the rate summed over all (applicable) units, nationally or per region, compared
    with a baseline: `[[rules.baselines]]` in the profile (`measure` = `invalid_share` or
    `turnout`, `min`/`max` as fractions or `min_pct`/`max_pct` in percent, `source`,
    optional `level` = a hierarchy level for regional baselines, optional `contest`), or a
    previous election's file given with `--history FILE` (read with its detected profile,
    else the current one); its
    rate ± a tolerance (10 points for turnout, 2 for invalid share; rule
    `history_tolerance_pp`) is the range.
    Why it matters: a rate never seen before is the first question to ask of a result; in
    Kyrgyzstan 2021 invalid ballots were 9.62 % where they had never exceeded 2 % since 2017.
    Example: "invalid ballots are 9.62 % nationally, outside the baseline of at most 2.00 %
    (source: CEC results 2017–2021)".
    """
    rows: list[dict[str, Any]] = []
    cache: dict[str | None, pl.DataFrame] = {}
    for b in _baselines(m):
        level = b["level"] if b["level"] not in (None, "national", "total") else None
        if level == "region":
            level = m.region
        if level is not None and level not in m.unit_columns():
            continue
        if level not in cache:
            cache[level] = aggregate_rates(m, level)
        agg = cache[level]
        if agg.height == 0:
            continue
        sel = agg.filter(pl.col("measure") == b["measure"])
        if b.get("contest"):
            sel = sel.filter(pl.col("contest") == b["contest"])
        if level and b.get("value") is not None:
            sel = sel.filter(pl.col(level) == b["value"])
        for r in sel.iter_rows(named=True):
            rate = r["rate"]
            lo, hi = b["min"], b["max"]
            if rate is None or not ((lo is not None and rate < lo) or (hi is not None and rate > hi)):
                continue
            if lo is not None and hi is not None:
                rng = f"{100 * lo:.2f}–{100 * hi:.2f} %"
            elif hi is not None:
                rng = f"at most {100 * hi:.2f} %"
            else:
                rng = f"at least {100 * (lo or 0.0):.2f} %"
            where = place(level, r[level]) if level else "nationally"
            bound = hi if hi is not None and rate > hi else lo
            rows.append({
                "contest": r["contest"],
                "unit_id": None,
                "path": str(r[level]) if level else None,
                "key": f"{b['measure']}:{level or 'national'}:{r[level] if level else ''}",
                "observed": 100 * rate,
                "expected": None if bound is None else 100 * bound,
                "delta": None if bound is None else 100 * (rate - bound),
                "message": f"{MEASURE_WORDS[b['measure']]} {100 * rate:.2f} % {where}, outside "
                           f"the baseline of {rng} (source: {b['source']})",
            })
    return pl.DataFrame(rows, schema={
        "contest": pl.String, "unit_id": pl.String, "path": pl.String, "key": pl.String,
        "observed": pl.Float64, "expected": pl.Float64, "delta": pl.Float64,
        "message": pl.String,
    })


# ---------------------------------------------------------------------------------------
# TURN004: late surges


def _has_time_counts(m: Model) -> str | None:
    cols = m.unit_columns()
    if "voters" not in cols:
        return "no `voters` column"
    if "voters_by_afternoon" not in cols and "voters_by_noon" not in cols:
        return "no time-of-day counts (`voters_by_noon`, `voters_by_afternoon`)"
    return None


@check(code="TURN004", name="late-surge", severity="warning",
       requires=("voters",), applies=_has_time_counts, message="{message}")
def late_surge(m: Model) -> pl.DataFrame:
    """The share of voters after the last intermediate count far above comparable units.

    What: where the protocol has time-of-day counts (voters by noon, by the afternoon) and the
    final number of voters, the late share = (voters − last intermediate count) / voters is
    compared with its district median by the robust z of `TURN002`; flagged when z ≥ the
    threshold (a surge, not a lull). Units where a later count is smaller than an earlier one
    are left to `ARITH005` (an impossibility, reported once, not twice).
    Why it matters: ballots added after the last count observers saw, when the station is
    quieter, are a known stuffing pattern; a late share far above the neighbours' is where to
    look first.
    Example: "41.2 % of voters came after 17:00 where the district median is 12.5 % (z = 6.1)".
    """
    cols = m.unit_columns()
    last = "voters_by_afternoon" if "voters_by_afternoon" in cols else "voters_by_noon"
    times = {"voters_by_noon": "the noon count", "voters_by_afternoon": "the afternoon count",
             **(m.rule("count_times") or {})}
    when = str(times.get(last, last))
    hier = [h for h in m.hierarchy if h in cols]
    sel: list[pl.Expr] = [pl.col(c) for c in ("contest", "unit_id", *hier)]
    sel.append(pl.col("unit_type") if "unit_type" in cols else pl.lit("regular").alias("unit_type"))
    sel += [pl.col("voters").cast(pl.Float64).alias("den"),
            (pl.col("voters") - pl.col(last)).cast(pl.Float64).alias("num")]
    monotone = pl.col(last) <= pl.col("voters")
    if last == "voters_by_afternoon" and "voters_by_noon" in cols:
        monotone = monotone & (pl.col("voters_by_noon").is_null()
                               | (pl.col("voters_by_noon") <= pl.col(last)))
    df = m.units.filter(_applicable(m)).with_columns(monotone.fill_null(False).alias("__mono")) \
        .select(*sel, pl.col("__mono")).collect()
    ok = pl.col("__mono") & pl.col("num").is_not_null() & (pl.col("den") > 0)
    d = compare(df, hier, "num", "den", ok).filter(
        pl.col("z") >= z_cut(z_threshold(m), pl.col("n"))).collect()
    msg = pl.format("{} % of voters came after {} where the {} median is {} % (z = {})",
                    (pl.col("rate") * 100).round(1), pl.lit(when), pl.col("level"),
                    (pl.col("median") * 100).round(1), pl.col("z").round(1))
    return d.select(
        "contest", "unit_id",
        (pl.col("rate") * 100).alias("observed"),
        (pl.col("median") * 100).alias("expected"),
        pl.col("z").alias("delta"),
        pl.col("num").alias("votes_affected"),
        msg.alias("message"),
    ).sort("delta", descending=True)


# ---------------------------------------------------------------------------------------
# TURN005: unanimous units


@check(code="TURN005", name="unanimous-unit", severity="warning", requires=("votes",),
       message="{message}")
def unanimous_unit(m: Model) -> pl.LazyFrame:
    """One choice receiving every valid vote in a unit.

    What: a unit with at least 10 valid votes (rule `min_unanimous`) where a single choice
    has them all, in a contest with at least two choices on the ballot. Reported apart from
    `TURN001` (100 % turnout): the two often come together but mean different things.
    Why it matters: unanimity among dozens of voters with several choices on the ballot is
    almost never genuine; it is a hallmark of protocols written without a count.
    Example: a station where party A has 812 votes and the 13 other parties 0.
    """
    min_n = int(m.rule("min_unanimous", MIN_UNANIMOUS))
    wide = m.wide_frames()
    if wide is not None:
        return _unanimous_wide(m, wide, min_n)
    key = unit_key(m)
    votes = m.votes.filter(pl.col("votes").is_not_null())
    if "valid" in m.unit_columns() and key == ["source_row"] and in_memory(m.votes):
        # A unanimous unit has a choice with all its valid ballots (or no valid count): only
        # the units with such a row are summed below, not the million others (in memory: a
        # lazy scan would be read twice).
        valid = m.units.select("source_row", "valid").collect()
        cands = (attach(votes.filter(pl.col("votes") >= min_n).select("source_row", "votes"),
                        valid, "source_row", ["valid"], how="left")
                 .filter(pl.col("valid").is_null() | (pl.col("votes") == pl.col("valid")))
                 .select(pl.col("source_row").unique()).collect())
        votes = votes.filter(pl.col("source_row").is_in(cands["source_row"].implode()))
    # Grouped by the cheapest unit key (an integer for a wide file), not the text unit_id.
    per_unit = votes.group_by(key).agg(
        pl.col("votes").sum().alias("total"), pl.col("votes").max().alias("top"))
    out = per_unit.filter((pl.col("total") >= min_n) & (pl.col("top") == pl.col("total")))
    if "valid" in m.unit_columns():
        out = out.join(m.units.select(*key, "valid"), on=key, how="left").filter(
            pl.col("valid").is_null() | (pl.col("valid") == pl.col("top")))
    # The choice's name and the unit's keys only for the few unanimous units.
    names = list(dict.fromkeys([*key, "contest", "unit_id", "choice"]))
    found = out.join(votes.select(*names, pl.col("votes").alias("top")),
                     on=[*key, "top"]).collect()
    if found.height:
        contests = found["contest"].unique().to_list()
        n_choices = (m.votes.filter(pl.col("contest").is_in(contests)).group_by("contest")
                     .agg(pl.col("choice").n_unique().alias("n_choices")))
        found = found.join(n_choices.collect(), on="contest").filter(pl.col("n_choices") >= 2)
    return _unanimous_rows(found.lazy())


def _unanimous_rows(found: pl.LazyFrame) -> pl.LazyFrame:
    return found.select(
        "contest", "unit_id", "choice", pl.col("top").alias("observed"),
        pl.col("top").alias("votes_affected"),
        pl.format("{} received all {} valid votes", quote_expr(pl.col("choice")),
                  thousands(pl.col("top"))).alias("message"))


TOTAL, TOP, VALID = "\x00total", "\x00top", "\x00valid"


def _unanimous_wide(m: Model, wide: list[WideVotes], min_n: int) -> pl.LazyFrame:
    """TURN005 on the wide votes: a unit's total and top are sums and maxima along its row
    (no long table of units × choices), and only the unanimous rows are unpivoted to name
    their choice. Same findings as the long path."""
    found: list[pl.LazyFrame] = []
    has_valid = "valid" in m.unit_columns()
    for w in wide:
        if len(w.choices) < 2:
            continue
        cols = [pl.col(c) for c in w.choices]
        rows = w.frame.with_columns(pl.sum_horizontal(cols).alias(TOTAL),
                                    pl.max_horizontal(cols).alias(TOP))
        rows = rows.filter((pl.col(TOTAL) >= min_n) & (pl.col(TOP) == pl.col(TOTAL)))
        if has_valid:
            valid = m.units.filter(pl.col("contest") == w.contest).select(
                pl.col("source_row").alias(WIDE_ROW), pl.col("valid").alias(VALID))
            rows = rows.join(valid, on=WIDE_ROW, how="left").filter(
                pl.col(VALID).is_null() | (pl.col(VALID) == pl.col(TOP)))
        hit = rows.drop(TOTAL, *([VALID] if has_valid else [])).collect()
        if hit.height:
            tops = hit.select(WIDE_ROW, TOP).lazy()
            found.append(replace(w, frame=hit.lazy().drop(TOP)).long()
                         .join(tops, left_on="source_row", right_on=WIDE_ROW)
                         .filter(pl.col("votes") == pl.col(TOP))
                         .select("contest", "unit_id", "choice", pl.col(TOP).alias("top")))
    if not found:
        return _unanimous_rows(pl.LazyFrame(schema={"contest": pl.String, "unit_id": pl.String,
                                                    "choice": pl.String, "top": pl.Int64}))
    return _unanimous_rows(pl.concat(found))
