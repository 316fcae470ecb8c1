"""Tables of published figures: what a portal printed (totals, percentages, seats), as data.

A results portal prints national or regional figures next to the station table: party votes,
percentages with a stated base and a fixed number of decimals, turnout, seats. Checking those
figures against the station counts is the job of the `PCT`, `AGG` and `SEAT` checks, so they
are read into `Model.published` as they were printed, NaN and 140 % included.

Format: a CSV (or any table `readers` can read) whose header is made of the published-frame
columns: `measure` and `value` required; `contest`, `level` (`total`, a hierarchy level, or
`unit`), `unit_id`, `choice`, `base` (the stated denominator: `ballots_cast`, `valid`,
`registered`, …), `decimals` (as printed) and `field` (the portal's column or series name)
optional. One row per printed figure, e.g.

    contest,level,unit_id,choice,measure,value,base,decimals,field
    party list,total,,Ata-Jurt Kyrgyzstan,percent,17.30,ballots_cast,2,percent

A share of a count that is not a choice (invalid ballots) has an empty `choice` and the count's
canonical name in `field`.

Such a table is recognised by its header, so it can be given as a further input
(`auditor audit release.csv release.published.csv`). A release file `NAME.csv` with a file
`NAME.published.csv` beside it takes that file along automatically (`with_sidecars`), so that
earlier releases given with `--previous` keep what their portal printed.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from auditor.ingest.build import Parts, clean_text, parse_float
from auditor.ingest.readers import ROW, RawTable
from auditor.model import ISSUE_SCHEMA, PUBLISHED_SCHEMA

PUBLISHED_HOW = "published figures table"
SIDECAR_SUFFIX = ".published.csv"
_OPTIONAL = ("contest", "level", "unit_id", "choice", "base", "decimals", "field")
_ALLOWED = {"measure", "value", *_OPTIONAL, "note", "source"}
_DATA_SUFFIXES = (".csv", ".gz", ".zip", ".xlsx", ".parquet", ".tsv", ".txt")


def is_published_table(headers: list[str]) -> bool:
    """True when the header is that of a published-figures table (see the module docs)."""
    names = {h.strip().lower() for h in headers if h != ROW}
    return {"measure", "value"} <= names and names <= _ALLOWED


def sidecar_of(path: Path) -> Path | None:
    """The `NAME.published.csv` beside a release file `NAME.csv`, when it exists."""
    if path.name.endswith(SIDECAR_SUFFIX):
        return None
    stem = path.name
    while Path(stem).suffix.lower() in _DATA_SUFFIXES:
        stem = stem[: -len(Path(stem).suffix)]
    cand = path.with_name(stem + SIDECAR_SUFFIX)
    return cand if cand.is_file() else None


def with_sidecars(paths: list[Path]) -> list[Path]:
    """The inputs, each followed by its published-figures sidecar when there is one."""
    out: list[Path] = []
    given = {Path(p).resolve() for p in paths}
    for p in paths:
        out.append(p)
        side = sidecar_of(Path(p))
        if side is not None and side.resolve() not in given:
            out.append(side)
            given.add(side.resolve())
    return out


def build_published(raw: RawTable, file_idx: int) -> Parts:
    """Published rows from a published-figures table; rows without a figure are rejected."""
    cols = {h.strip().lower(): h for h in raw.headers if h != ROW}

    def text(name: str) -> pl.Expr:
        return clean_text(cols[name]) if name in cols else pl.lit(None, pl.String)

    lf = raw.frame.with_columns(
        parse_float(cols["value"]).alias("__value"),
        text("value").alias("__raw"),
        text("measure").alias("__measure"),
    )
    ok = pl.col("__measure").is_not_null() & pl.col("__value").is_not_null()
    published = lf.filter(ok).select(
        text("contest").fill_null("all").alias("contest"),
        text("level").fill_null("total").alias("level"),
        text("unit_id").alias("unit_id"),
        text("choice").alias("choice"),
        pl.col("__measure").alias("measure"),
        pl.col("__value").alias("value"),
        text("base").alias("base"),
        text("decimals").cast(pl.Int64, strict=False).alias("decimals"),
        pl.lit(file_idx, pl.Int64).alias("source_file"),
        pl.col(ROW).alias("source_row"),
        text("field").alias("field"),
    ).cast(PUBLISHED_SCHEMA)
    unreadable = pl.col("__raw").is_not_null() & pl.col("__value").is_null()
    issues = lf.filter(~ok).select(
        pl.when(unreadable).then(pl.lit("INPUT001")).otherwise(pl.lit("INPUT002")).alias("code"),
        pl.lit(file_idx, pl.Int64).alias("source_file"),
        pl.col(ROW).alias("source_row"),
        pl.lit("value").alias("column"),
        pl.col("__raw").alias("value"),
        text("unit_id").alias("unit_id"),
        text("contest").alias("contest"),
        pl.lit(True).alias("rejected"),
        pl.lit("published figure without a readable measure or value").alias("detail"),
    ).cast(ISSUE_SCHEMA)
    cnt = lf.select(pl.len().alias("n"), ok.sum().alias("ok")).collect().row(0, named=True)
    counters = {"rows_read": int(cnt["n"]), "rows_in_model": 0,
                "rows_published": int(cnt["ok"]), "rows_rejected": int(cnt["n"]) - int(cnt["ok"])}
    units = pl.LazyFrame(schema={"contest": pl.String, "unit_id": pl.String,
                                 "source_file": pl.Int64, "source_row": pl.Int64})
    votes = pl.LazyFrame(schema={"contest": pl.String, "unit_id": pl.String, "choice": pl.String,
                                 "votes": pl.Int64, "source_row": pl.Int64})
    return Parts(units, votes, published, issues, [], counters,
                 [f"{cnt['ok']:,} published figures read"])
