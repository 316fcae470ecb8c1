"""Figure data for the report: the shapes it accepts, and a check-independent producer.

Figure data travel in `AuditRun.figures` (a dict saved in `findings.json`), filled by checks
through `CheckOutput.figures` and by `figure_data()` below. Every shape is small and JSON
ready: counts per bin, never one value per station, so its size does not grow with the
number of stations. The report draws whatever is present and skips what is absent; unknown
keys are ignored.

Percentages are in points (0–100). A 0.1-point histogram has bins centred on multiples of
0.1 (bin j covers [bin_start + j·w, bin_start + (j+1)·w) with bin_start = -0.05, w = 0.1), so
an integer-percentage spike sits in the middle of a bin, as in `auditor.stats.spikes`.

Accepted shapes (key → value):

- ``turnout_hist``: ``{"bin_start": -0.05, "bin_width": 0.1, "counts": [int, …],
  "n": int, "above": int, "undefined": int, "contest": str, "numerator": str}`` — units per
  turnout bin. `above` counts units beyond the last bin, `undefined` units whose turnout
  cannot be computed (no registered voters); both optional.
- ``share_hist``: ``{"bin_start", "bin_width", "series": [{"name": str, "counts": [int, …]},
  …], "n", "contest", "denominator"}`` — units per vote-share bin of the leading choices.
  A single series may be given as ``"counts"`` with ``"name"``.
- ``fingerprint``: ``{"x_edges": [float, …], "y_edges": [float, …], "z": [[int, …], …],
  "x_label": str, "y_label": str, "choice": str, "n": int}`` — a 2D histogram of units,
  turnout (x) × share of `choice` (y); ``z[i][j]`` counts units with y in bin i and x in bin
  j (plotly's convention), so ``len(z) == len(y_edges) - 1``.
- ``integer_spikes``: one panel or a dict ``{name: panel}`` or a list of panels, a panel
  being ``{"variable": str, "bin_start": -0.05, "bin_width": 0.1, "observed": [int, …],
  "null_mean": [float, …], "null_lo": [float, …], "null_hi": [float, …], "p_value": float,
  "excess": float}`` — units per 0.1-point bin with the null model's mean and 95 % envelope
  (the `hist_*` arrays of `auditor.stats.spikes.SpikeResult`).
- ``region_units``: ``{"level": str, "names": [str, …], "units": [int, …]}`` — units per
  top-level region; the report divides the flagged units found in the findings' paths by
  these to draw the flag rate per region.
- ``region_flags``: ``{"level": str, "names": [str, …], "flagged": [int, …], "units": [int,
  …]}`` — flagged and total units per region as a check counts them; drawn instead of the
  rate the report derives from `region_units`.
- ``releases``: ``{"labels": [str, …], "series": [{"name": str, "values": [float, …]}, …],
  "y_label": str, "waterfall": {"labels": [str, …], "values": [float, …], "title": str}}``
  — a timeline of figures across releases (oldest first) and, optionally, the steps from one
  release to the next as a waterfall (`values` are changes; a total bar is added). The
  waterfall may name its title in the report's catalogue (`"title_key"`, one of
  `plots.WATERFALL_TITLES`, with `"contest"`); the report then says it in its language, and
  the steps of `release_totals.vote_steps` too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

from auditor.model import WIDE_ROW, WIDE_UNIT, WideVotes

if TYPE_CHECKING:
    from auditor.model import Model

BIN_WIDTH = 0.1
BIN_START = -0.05
# 100 % is bin 1000; room up to 150 % keeps impossible turnouts visible in the histogram.
MAX_BIN = 1500
FP_WIDTH = 0.5  # fingerprint cells: 0.5 × 0.5 points, 201 × 201 cells
FP_BINS = 201
N_SHARE_SERIES = 3


def _numerator(cols: set[str]) -> tuple[str, pl.Expr] | None:
    """What turnout counts: ballots cast, else voters by the list, else valid + invalid."""
    for c in ("ballots_cast", "voters"):
        if c in cols:
            return c, pl.col(c)
    if "valid" in cols and "invalid" in cols:
        parts = ["valid", "invalid", *(["blank"] if "blank" in cols else [])]
        return " + ".join(parts), pl.sum_horizontal(*parts)
    return None


def _bins(x: pl.Expr, width: float) -> pl.Expr:
    """The bin of a percentage: bin j is centred on j · width."""
    return ((x / width) + 0.5).floor().cast(pl.Int64, strict=False)


# `_counted` codes besides the bins (which are ≥ 0)
_UNDEFINED, _BELOW = -1, -2


def _counted(x: pl.Expr) -> pl.Expr:
    """Units per 0.1-point bin `b` of a percentage, as one integer key to group by: the bin,
    `_UNDEFINED` (no finite value) or `_BELOW` (below the first bin, or beyond Int64)."""
    b = _bins(x, BIN_WIDTH)
    return (pl.when(~x.is_finite().fill_null(False)).then(pl.lit(_UNDEFINED, pl.Int64))
            .when(b >= 0).then(b).otherwise(pl.lit(_BELOW, pl.Int64)).alias("b"))


def _hist_from_counts(df: pl.DataFrame) -> dict[str, Any]:
    """A 0.1-point histogram from units counted per `_counted` code (`b`, `n`): counts per
    bin plus the units beyond the last bin (`above`) and those without a finite value
    (`undefined`); a finite value below the first bin is in neither."""
    undefined = 0
    bins: dict[int, int] = {}
    for b, n in df.select("b", "n").iter_rows():
        if b == _UNDEFINED:
            undefined += n
        elif b >= 0:
            bins[b] = n
    top = max(bins) if bins else 1000
    last = min(max(top, 1000), MAX_BIN)
    counts = [0] * (last + 1)
    above = 0
    for b, n in bins.items():
        if b > last:
            above += n
        else:
            counts[b] = n
    return {
        "bin_start": BIN_START,
        "bin_width": BIN_WIDTH,
        "counts": counts,
        "n": sum(counts),
        "above": above,
        "undefined": int(undefined),
    }


def _per_bin(values: pl.LazyFrame, col: str) -> pl.LazyFrame:
    """Units per `_counted` code of a percentage column."""
    return values.select(_counted(pl.col(col))).group_by("b").agg(pl.len().alias("n"))


def _hist(values: pl.LazyFrame, col: str) -> dict[str, Any]:
    """0.1-point histogram of a percentage column: counts per bin plus the ones outside."""
    return _hist_from_counts(_per_bin(values, col).collect())


def _join_key(m: Model) -> str:
    """The column tying a unit's votes rows to its `units` row within one contest: the
    source row of a wide table read from one file (an integer: joins several times faster
    than the text unit_id), else the unit_id."""
    from checks._protocol import unit_key  # the rule the checks use, not a copy of it

    return "source_row" if "source_row" in unit_key(m) else "unit_id"


def figure_data(m: Model) -> dict[str, Any]:
    """Turnout and share histograms, the turnout × share fingerprint and units per region.

    Computed from the model alone (no check needed), for the contest with the most units.
    Turnout = ballots cast (`rules.cast_column`, else ballots cast, else voters, else
    valid + invalid) / registered (plus `rules.extra_registered` lists); share = votes
    of a choice / valid ballots (else / the sum of the choices). Empty when the model has
    neither registered voters nor votes per choice. Polars only, no plotly: cheap enough
    to run on every audit: every figure is counted per bin in polars (a few small frames
    come back to Python), never unit by unit.
    """
    from checks._util import attach, in_memory  # a gather, not a join of millions of rows

    out: dict[str, Any] = {}
    cols = m.unit_columns()
    num = _numerator(cols)
    level = m.hierarchy[0] if m.hierarchy and m.hierarchy[0] in cols else None
    # the electorate as ARITH003 counts it: registered plus the profile's extra lists
    # (Georgia's special list, f_03: 80 precincts have no one on the unified list)
    extra = [str(c) for c in (m.rule("extra_registered") or []) if str(c) in cols]
    rule = m.rule("cast_column")
    if isinstance(rule, str) and rule in cols:
        num = (rule, pl.col(rule))
    counted = (m.units.group_by("contest").agg(pl.len().alias("n"))
               .sort(["n", "contest"], descending=[True, False]).head(1).collect())
    if counted.height == 0:
        return out
    contest = str(counted["contest"][0])
    has_votes = "choice" in m.vote_columns()
    key = _join_key(m) if has_votes else "unit_id"
    # One pass over the contest's units keeps only what the figures need, in memory.
    sel: list[pl.Expr] = [pl.col(key)]
    if level:  # as it is (a categorical is counted by its codes, its names read once)
        sel.append(pl.col(level))
    label: str | None = None
    if num is not None and "registered" in cols:
        label, expr = num
        electorate = pl.col("registered").cast(pl.Float64)
        for c in extra:
            electorate = electorate + pl.col(c).cast(pl.Float64).fill_null(0.0)
        sel.append((expr.cast(pl.Float64) * 100 / electorate).alias("t"))
    if has_votes and "valid" in cols:
        sel.append(pl.col("valid").cast(pl.Float64).alias("d"))
    units = m.units.filter(pl.col("contest") == contest).select(sel).collect()
    if label is not None:
        out["turnout_hist"] = {**_hist(units.lazy(), "t"), "contest": contest,
                               "numerator": label}
    if level:
        reg = (units.group_by(level).agg(pl.len().alias("n"))
               .with_columns(pl.col(level).cast(pl.String).fill_null("?"))
               .group_by(level).agg(pl.col("n").sum()).sort(level))
        out["region_units"] = {"level": level, "names": reg[level].to_list(),
                               "units": reg["n"].to_list()}
    if not has_votes:
        return out
    wide = m.wide(contest)
    votes = m.votes.filter(pl.col("contest") == contest)
    if wide is not None:  # the file's own rows: a column per choice, no long table
        wkey = WIDE_ROW if key == "source_row" else WIDE_UNIT
        choices = list(wide.choices)
        totals_q = m.choice_totals().filter(pl.col("contest") == contest).select(
            "choice", pl.col("votes").alias("v"))
    else:
        if not in_memory(m.votes):  # read the source once, not once per query below
            votes = votes.select(key, "choice", "votes").collect().lazy()
        totals_q = votes.group_by("choice").agg(pl.col("votes").sum().alias("v"))
    totals = (
        totals_q.sort(["v", "choice"], descending=[True, False], nulls_last=True)
        .head(N_SHARE_SERIES).collect()
    )
    if totals.height == 0:
        return out
    leaders = totals["choice"].to_list()
    if "valid" in cols:
        denom, denom_label = units, "valid"
    else:
        denom = (wide.frame.select(pl.col(wkey).alias(key), pl.sum_horizontal(choices)
                                   .cast(pl.Float64).alias("d")).collect()
                 if wide is not None else
                 votes.group_by(key).agg(pl.col("votes").sum().cast(pl.Float64).alias("d"))
                 .collect())
        denom_label = "sum of choices"
    aligned = _aligned(wide, wkey, leaders, units, key) \
        if wide is not None and denom is units else None
    hists: list[pl.LazyFrame] = []
    cells: list[pl.LazyFrame] = []
    if aligned is not None:
        # The file's rows are the units' rows in the same order: every share, its bin and
        # the fingerprint cell in one pass over side-by-side columns, no lookup per choice.
        shares = aligned.select(
            # (bins past the last one count alike, as `above`: clipped to fit 32 bits)
            *[_counted(pl.col(f"__c{i}").cast(pl.Float64) * 100 / pl.col("d"))
              .clip(upper_bound=MAX_BIN + 1).cast(pl.Int32).alias(f"b{i}")
              for i in range(len(leaders))],
            *([_cell_key(pl.col("t"), pl.col("__c0").cast(pl.Float64) * 100 / pl.col("d"))]
              if label is not None else [])).collect().lazy()
        hists = [shares.group_by(pl.col(f"b{i}").cast(pl.Int64).alias("b"))
                 .agg(pl.len().alias("n")) for i in range(len(leaders))]
        if label is not None:
            cells.append(_cells_from_keys(shares))
    # Else one plan per leading choice (an equality on the choice is cheaper than carrying
    # its name through millions of rows); the leader's also gives the fingerprint.
    for i, choice in enumerate(leaders if aligned is None else []):
        with_t = i == 0 and label is not None and denom is units
        rows = (wide.frame.select(pl.col(wkey).alias(key), pl.col(choice).alias("votes"))
                if wide is not None else
                votes.filter(pl.col("choice") == choice).select(key, "votes"))
        shares = attach(rows, denom,
                        key, ["d", "t"] if with_t else ["d"]).with_columns(
            (pl.col("votes").cast(pl.Float64) * 100 / pl.col("d")).alias("s"))
        hists.append(_per_bin(shares, "s"))
        if i == 0 and label is not None:
            lead = shares if with_t else attach(shares.select(key, "s"), units, key, ["t"])
            cells.append(_cells(lead))
    done = pl.collect_all([*hists, *cells])
    series = []
    for choice, counted in zip(leaders, done[:len(hists)], strict=True):
        h = _hist_from_counts(counted)
        series.append({"name": choice, "counts": h["counts"], "n": h["n"],
                       "undefined": h["undefined"], "above": h["above"]})
    out["share_hist"] = {"bin_start": BIN_START, "bin_width": BIN_WIDTH, "series": series,
                         "contest": contest, "denominator": denom_label}
    if cells:
        out["fingerprint"] = _fingerprint(done[-1], str(leaders[0]), out["turnout_hist"])
    return out


def _aligned(wide: WideVotes, wkey: str, leaders: list[str], units: pl.DataFrame,
             key: str) -> pl.LazyFrame | None:
    """The leading choices' votes (`__c0`, `__c1`, …) beside the units' columns, when the
    wide rows are the units' rows in the same order (a wide file: both are its rows); else
    None. Side by side, no column is copied."""
    rows: pl.DataFrame = wide.frame.select(
        pl.col(wkey).alias(key), *[pl.col(c).alias(f"__c{i}") for i, c in enumerate(leaders)]
    ).collect()
    if rows.height != units.height or not rows[key].equals(units[key]):
        return None
    return pl.concat([rows.drop(key), units], how="horizontal").lazy()


def _cell_key(t: pl.Expr, s: pl.Expr) -> pl.Expr:
    """The 0.5 × 0.5-point cell of turnout `t` (x) × share `s` (y) as one integer
    (x · FP_BINS + y: one key groups faster than the pair); null outside 0–100 % or where
    either is not finite."""
    x, y = _bins(t, FP_WIDTH), _bins(s, FP_WIDTH)
    inside = (t.is_finite() & s.is_finite() & x.is_between(0, FP_BINS - 1)
              & y.is_between(0, FP_BINS - 1))
    return pl.when(inside).then(x * FP_BINS + y).cast(pl.Int32).alias("cell")


def _cells_from_keys(rows: pl.LazyFrame) -> pl.LazyFrame:
    """Units per fingerprint cell from `_cell_key`'s column `cell`."""
    return (rows.filter(pl.col("cell").is_not_null())
            .group_by(pl.col("cell").cast(pl.Int64)).agg(pl.len().alias("n"))
            .select((pl.col("cell") // FP_BINS).alias("x"), (pl.col("cell") % FP_BINS).alias("y"),
                    "n"))


def _cells(rows: pl.LazyFrame) -> pl.LazyFrame:
    """Units per 0.5 × 0.5-point cell of turnout `t` (x) × share `s` (y), within 0–100 %."""
    return _cells_from_keys(rows.select(_cell_key(pl.col("t"), pl.col("s"))))


def _fingerprint(df: pl.DataFrame, choice: str, th: dict[str, Any]) -> dict[str, Any]:
    """The fingerprint shape from units counted per cell (`_cells`)."""
    # Only the occupied block is kept: the edges say where it sits, and empty margins would
    # cost bytes in findings.json and in the report without showing anything.
    if df.height:
        x0, x1 = int(df["x"].min()), int(df["x"].max())  # type: ignore[arg-type]
        y0, y1 = int(df["y"].min()), int(df["y"].max())  # type: ignore[arg-type]
    else:
        x0 = x1 = y0 = y1 = 0
    z = [[0] * (x1 - x0 + 1) for _ in range(y1 - y0 + 1)]
    for x, y, n in df.iter_rows():
        z[y - y0][x - x0] = n

    def edges(a: int, b: int) -> list[float]:
        return [round((i - 0.5) * FP_WIDTH, 2) for i in range(a, b + 2)]

    return {"x_edges": edges(x0, x1), "y_edges": edges(y0, y1), "z": z, "x_label": "turnout",
            "y_label": f"share of {choice}", "choice": choice, "n": int(df["n"].sum()),
            "numerator": th.get("numerator")}
