"""Build the canonical frames from a raw string table and its mapping, accounting for every row.

Every row of the raw table ends in exactly one place: the model (`units`/`votes`), the
published figures (totals rows), or the rejected rows (`issues` with `rejected = true`).
Cells that cannot be read as counts stay visible as `INPUT` issues; nothing is capped,
zero-filled or dropped silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from auditor.ingest.mapping import Mapping
from auditor.ingest.readers import ROW, RawTable
from auditor.model import ISSUE_SCHEMA, PUBLISHED_SCHEMA

INT_TOL = 1e-9
_THOUSANDS_RX = {".": r"^-?\d{1,3}(\.\d{3})+$", ",": r"^-?\d{1,3}(,\d{3})+$",
                 " ": r"^-?\d{1,3}( \d{3})+$", "'": r"^-?\d{1,3}('\d{3})+$"}


@dataclass
class Parts:
    """The canonical frames made from one input, plus its row accounting."""

    units: pl.LazyFrame
    votes: pl.LazyFrame
    published: pl.LazyFrame
    issues: pl.LazyFrame
    hierarchy: list[str]
    counters: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def clean_text(col: str) -> pl.Expr:
    """A string cell stripped, with empty strings as null."""
    s = pl.col(col).str.strip_chars()
    return pl.when(s == "").then(None).otherwise(s)


def parse_float(col: str, thousands: str | None = None, decimal: str | None = None) -> pl.Expr:
    """A string cell parsed as a float (null when empty or unreadable; inf/NaN kept)."""
    s = clean_text(col)
    if thousands:
        s = pl.when(s.str.contains(_THOUSANDS_RX[thousands])).then(
            s.str.replace_all(thousands, "", literal=True)
        ).otherwise(s)
    if decimal == ",":
        s = s.str.replace(",", ".", literal=True)
    return s.cast(pl.Float64, strict=False)


def as_count(f: pl.Expr) -> pl.Expr:
    """A parsed float as an integer count when it is within 1e-9 of an integer, else null."""
    ok = f.is_finite() & ((f - f.round(0)).abs() <= INT_TOL)
    return pl.when(ok).then(f.round(0).cast(pl.Int64)).otherwise(None)


def _issue_frame(lf: pl.LazyFrame, src: str, label: str, f: pl.Expr, file_idx: int,
                 contest: str | None, required: bool) -> pl.LazyFrame:
    """INPUT issues of one numeric column: unreadable, non-finite, fractional, missing."""
    raw = clean_text(src)
    code = (
        pl.when(raw.is_not_null() & f.is_null()).then(pl.lit("INPUT001"))
        .when(f.is_not_null() & ~f.is_finite()).then(pl.lit("INPUT001"))
        .when(f.is_finite() & ((f - f.round(0)).abs() > INT_TOL)).then(pl.lit("INPUT004"))
    )
    if required:
        code = code.when(raw.is_null()).then(pl.lit("INPUT006"))
    code = code.otherwise(None)
    return (
        lf.select(
            code.alias("code"),
            pl.lit(file_idx, pl.Int64).alias("source_file"),
            pl.col(ROW).alias("source_row"),
            pl.lit(label).alias("column"),
            pl.col(src).alias("value"),
            pl.col("unit_id"),
            pl.lit(contest, pl.String).alias("contest"),
            pl.lit(False).alias("rejected"),
            pl.lit(None, pl.String).alias("detail"),
        )
        .filter(pl.col("code").is_not_null())
    )


def _unit_id_expr(key: list[str]) -> pl.Expr:
    if not key:
        return pl.concat_str(pl.lit("row "), pl.col(ROW).cast(pl.String))
    parts = [clean_text(k).fill_null("") for k in key]
    return pl.concat_str(parts, separator="/")


def _total_rows_expr(rules: list[dict[str, Any]]) -> pl.Expr | None:
    exprs = []
    for r in rules:
        col = r["column"]
        if "values" in r:
            exprs.append(clean_text(col).is_in([str(v) for v in r["values"]]))
        if "regex" in r:
            exprs.append(clean_text(col).str.contains(r["regex"]).fill_null(False))
        if r.get("empty"):
            exprs.append(clean_text(col).is_null())
    if not exprs:
        return None
    return pl.any_horizontal(exprs).fill_null(False)


def _unit_type_expr(spec: dict[str, Any]) -> pl.Expr | None:
    if spec.get("column") and spec.get("map"):
        m = {str(k): str(v) for k, v in spec["map"].items()}
        return clean_text(spec["column"]).replace_strict(m, default=spec.get("default", "regular"))
    if spec.get("rules"):
        e: Any = pl
        first = True
        for r in spec["rules"]:
            cond = clean_text(r["column"]).str.contains(r["regex"]).fill_null(False)
            e = e.when(cond).then(pl.lit(r["type"])) if first else e.when(cond).then(
                pl.lit(r["type"]))
            first = False
        return e.otherwise(pl.lit(spec.get("default", "regular")))  # type: ignore[no-any-return]
    return None


def build(raw: RawTable, mp: Mapping, file_idx: int) -> Parts:
    """Canonical frames from a raw table (wide or long shape, as the mapping says)."""
    if mp.long:
        return _build_long(raw, mp, file_idx)
    return _build_wide(raw, mp, file_idx)


def _build_wide(raw: RawTable, mp: Mapping, file_idx: int) -> Parts:
    th, dec = mp.thousands, mp.decimal
    lf = raw.frame.with_columns(_unit_id_expr(mp.key).alias("unit_id"))
    numeric: dict[str, str] = {}  # internal name → source
    for canon, src in mp.counts.items():
        numeric[f"c::{canon}"] = src
    for ci, c in enumerate(mp.contests):
        for canon, src in c.counts.items():
            numeric[f"k{ci}::{canon}"] = src
        for j, src in enumerate(c.choices.values()):
            numeric[f"v{ci}::{j}"] = src
    parsed = {name: parse_float(src, th, dec) for name, src in numeric.items()}
    lf = lf.with_columns([e.alias(n) for n, e in parsed.items()])
    pct_cols = [pc["column"] for pc in mp.percents]
    has_data = pl.any_horizontal(
        [pl.col(n).is_not_null() for n in numeric] + [clean_text(c).is_not_null() for c in pct_cols]
        or [pl.lit(True)]
    )
    tot = _total_rows_expr(mp.total_rows)
    lf = lf.with_columns(
        (tot if tot is not None else pl.lit(False)).alias("__total"),
        has_data.alias("__has_data"),
    )
    keep = ~pl.col("__total") & (pl.col("__has_data") | pl.lit(not mp.drop_empty))
    body = lf.filter(keep)
    # Duplicated keys: every copy stays in the model under a distinct id and is reported.
    dup_n = pl.col("unit_id").cum_count().over("unit_id")
    body = body.with_columns(
        pl.len().over("unit_id").alias("__dups"),
        pl.when(dup_n > 1).then(pl.concat_str(pl.col("unit_id"), pl.lit("#"), dup_n.cast(pl.String)))
        .otherwise(pl.col("unit_id")).alias("unit_id"),
    ) if mp.key else body.with_columns(pl.lit(1, pl.UInt32).alias("__dups"))
    hier = [lvl for lvl, _ in mp.hierarchy]
    hier_exprs = [clean_text(src).alias(lvl) for lvl, src in mp.hierarchy]
    ut = _unit_type_expr(mp.unit_type)
    base_cols = [
        pl.lit(file_idx, pl.Int64).alias("source_file"),
        pl.col(ROW).alias("source_row"),
        pl.col("unit_id"),
        *hier_exprs,
    ]
    if ut is not None:
        base_cols.append(ut.alias("unit_type"))
    units_parts, votes_parts, issue_parts = [], [], []
    for ci, c in enumerate(mp.contests):
        cols = [pl.lit(c.name).alias("contest"), *base_cols]
        counts = {**mp.counts, **c.counts}
        for canon in counts:
            name = f"k{ci}::{canon}" if canon in c.counts else f"c::{canon}"
            cols.append(as_count(pl.col(name)).alias(canon))
        units_parts.append(body.select(cols))
        choice_names = list(c.choices)
        if choice_names:
            v = body.select(
                pl.lit(c.name).alias("contest"),
                pl.col("unit_id"),
                pl.col(ROW).alias("source_row"),
                *[as_count(pl.col(f"v{ci}::{j}")).alias(ch) for j, ch in enumerate(choice_names)],
            ).unpivot(index=["contest", "unit_id", "source_row"], on=choice_names,
                      variable_name="choice", value_name="votes")
            votes_parts.append(v.select("contest", "unit_id", "choice", "votes", "source_row"))
        for canon in counts:
            name = f"k{ci}::{canon}" if canon in c.counts else f"c::{canon}"
            if ci > 0 and canon not in c.counts:
                continue  # shared columns are checked once
            issue_parts.append(_issue_frame(body, counts[canon], canon, pl.col(name), file_idx,
                                            c.name, required=True))
        for j, ch in enumerate(choice_names):
            issue_parts.append(_issue_frame(body, c.choices[ch], ch, pl.col(f"v{ci}::{j}"),
                                            file_idx, c.name, required=False))
    # Duplicated keys and rejected (empty) rows.
    if mp.key:
        issue_parts.append(
            body.filter(pl.col("__dups") > 1).select(
                pl.lit("INPUT003").alias("code"), pl.lit(file_idx, pl.Int64).alias("source_file"),
                pl.col(ROW).alias("source_row"), pl.lit(", ".join(mp.key)).alias("column"),
                pl.col("unit_id").str.replace(r"#\d+$", "").alias("value"), pl.col("unit_id"),
                pl.lit(None, pl.String).alias("contest"), pl.lit(False).alias("rejected"),
                pl.col("__dups").cast(pl.String).alias("detail"),
            )
        )
    if mp.drop_empty:
        issue_parts.append(
            lf.filter(~pl.col("__total") & ~pl.col("__has_data")).select(
                pl.lit("INPUT002").alias("code"), pl.lit(file_idx, pl.Int64).alias("source_file"),
                pl.col(ROW).alias("source_row"), pl.lit(None, pl.String).alias("column"),
                pl.lit(None, pl.String).alias("value"), pl.col("unit_id"),
                pl.lit(None, pl.String).alias("contest"), pl.lit(True).alias("rejected"),
                pl.lit(None, pl.String).alias("detail"),
            )
        )
    published = _published_wide(lf, mp, file_idx)
    units = pl.concat(units_parts, how="diagonal_relaxed") if units_parts else pl.LazyFrame()
    votes = (
        pl.concat(votes_parts)
        if votes_parts
        else pl.LazyFrame(schema={"contest": pl.String, "unit_id": pl.String, "choice": pl.String,
                                  "votes": pl.Int64, "source_row": pl.Int64})
    )
    issues = pl.concat([p.select(list(ISSUE_SCHEMA)).cast(ISSUE_SCHEMA) for p in issue_parts]) \
        if issue_parts else pl.LazyFrame(schema=ISSUE_SCHEMA)
    counter = lf.select(
        pl.len().alias("rows_read"),
        pl.col("__total").sum().alias("rows_published"),
        (~pl.col("__total") & ~pl.col("__has_data")).sum().alias("rows_empty"),
    )
    notes_q = _number_notes(lf, numeric, th)
    cdf, ndf = pl.collect_all([counter, notes_q])
    cnt = cdf.row(0, named=True)
    rejected = int(cnt["rows_empty"]) if mp.drop_empty else 0
    counters = {
        "rows_read": int(cnt["rows_read"]),
        "rows_published": int(cnt["rows_published"]),
        "rows_rejected": rejected,
        "rows_in_model": int(cnt["rows_read"]) - int(cnt["rows_published"]) - rejected,
    }
    notes = []
    n = ndf.row(0, named=True)
    if n["near_int"]:
        notes.append(f"{n['near_int']:,} count cells written as floats within 1e-9 of an integer "
                     "were read as integers")
    if th and n.get("thousands"):
        notes.append(f"{n['thousands']:,} cells with {th!r} thousands separators were read as "
                     "integers")
    return Parts(units, votes, published, issues, hier, counters, notes)


def _number_notes(lf: pl.LazyFrame, numeric: dict[str, str], th: str | None) -> pl.LazyFrame:
    if not numeric:
        return pl.LazyFrame({"near_int": [0], "thousands": [0]})
    near = pl.sum_horizontal(
        [((pl.col(n) - pl.col(n).round(0)).abs().is_between(1e-300, INT_TOL)).sum()
         for n in numeric]
    )
    cols = [near.alias("near_int")]
    if th:
        cols.append(pl.sum_horizontal(
            [clean_text(s).str.contains(_THOUSANDS_RX[th]).sum() for s in set(numeric.values())]
        ).alias("thousands"))
    else:
        cols.append(pl.lit(0).alias("thousands"))
    return lf.select(cols)


def _published_wide(lf: pl.LazyFrame, mp: Mapping, file_idx: int) -> pl.LazyFrame:
    parts: list[pl.LazyFrame] = []
    tot = lf.filter(pl.col("__total"))
    for ci, c in enumerate(mp.contests):
        fields: dict[str, tuple[str | None, str]] = {}  # internal col → (choice, measure)
        for canon in {**mp.counts, **c.counts}:
            name = f"k{ci}::{canon}" if canon in c.counts else f"c::{canon}"
            fields[name] = (None, canon)
        for j, ch in enumerate(c.choices):
            fields[f"v{ci}::{j}"] = (ch, "votes")
        for name, (choice, measure) in fields.items():
            parts.append(tot.select(
                pl.lit(c.name).alias("contest"), pl.lit("total").alias("level"),
                pl.col("unit_id"), pl.lit(choice, pl.String).alias("choice"),
                pl.lit(measure).alias("measure"), pl.col(name).alias("value"),
                pl.lit(None, pl.String).alias("base"), pl.lit(None, pl.Int64).alias("decimals"),
                pl.lit(file_idx, pl.Int64).alias("source_file"), pl.col(ROW).alias("source_row"),
                pl.lit(None, pl.String).alias("field"),
            ))
    body = lf.filter(~pl.col("__total"))
    for pc in mp.percents:
        col = pc["column"]
        parts.append(body.select(
            pl.lit(pc.get("contest", mp.contests[0].name if mp.contests else "all")).alias("contest"),
            pl.lit("unit").alias("level"), pl.col("unit_id"),
            pl.lit(pc.get("choice"), pl.String).alias("choice"),
            pl.lit(pc.get("measure", "percent")).alias("measure"),
            parse_float(col, None, mp.decimal).alias("value"),
            pl.lit(pc.get("base"), pl.String).alias("base"),
            pl.lit(pc.get("decimals"), pl.Int64).alias("decimals"),
            pl.lit(file_idx, pl.Int64).alias("source_file"), pl.col(ROW).alias("source_row"),
            pl.lit(col).alias("field"),
        ).filter(pl.col("value").is_not_null() | clean_text(col).is_not_null()))
    schema = PUBLISHED_SCHEMA
    if not parts:
        return pl.LazyFrame(schema=schema)
    return pl.concat([p.select(list(schema)).cast(schema) for p in parts])


def _build_long(raw: RawTable, mp: Mapping, file_idx: int) -> Parts:
    lg = mp.long
    headers = raw.headers
    unit_cols = [c for c in lg.get("unit", []) if c in headers]
    contest_cols = [c for c in lg.get("contest", []) if c in headers]
    choice_cols = [c for c in lg.get("choice", []) if c in headers]
    votes_col = lg.get("votes", "votes")
    breakdown = [c for c in lg.get("breakdown", []) if c in headers]
    th, dec = mp.thousands, mp.decimal
    lf = raw.frame.with_columns(
        _unit_id_expr(unit_cols).alias("unit_id"),
        (pl.concat_str([clean_text(c).fill_null("") for c in contest_cols], separator=" ")
         .str.strip_chars() if contest_cols else pl.lit("all")).alias("contest"),
        pl.concat_str([clean_text(c).fill_null("") for c in choice_cols], separator=" · ")
        .str.strip_chars(" ·").alias("choice"),
        parse_float(votes_col, th, dec).alias("__votes"),
        *[parse_float(b, th, dec).alias(f"__b::{b}") for b in breakdown],
    )
    tot = _total_rows_expr(mp.total_rows)
    has_data = pl.any_horizontal([pl.col("__votes").is_not_null()]
                                 + [pl.col(f"__b::{b}").is_not_null() for b in breakdown])
    lf = lf.with_columns((tot if tot is not None else pl.lit(False)).alias("__total"),
                         has_data.alias("__has_data"))
    body = lf.filter(~pl.col("__total") & pl.col("__has_data"))
    hier = [lvl for lvl, _ in mp.hierarchy]
    votes = body.select(
        "contest", "unit_id", "choice", as_count(pl.col("__votes")).alias("votes"),
        *[as_count(pl.col(f"__b::{b}")).alias(b) for b in breakdown],
        pl.col(ROW).alias("source_row"),
    )
    units = body.group_by("contest", "unit_id").agg(
        pl.lit(file_idx, pl.Int64).alias("source_file"),
        pl.col(ROW).min().alias("source_row"),
        *[clean_text(src).first().alias(lvl) for lvl, src in mp.hierarchy],
    )
    issue_parts = [
        _issue_frame(body, votes_col, "votes", pl.col("__votes"), file_idx, None, True)
        .with_columns(pl.lit(None, pl.String).alias("contest")),
        *[_issue_frame(body, b, b, pl.col(f"__b::{b}"), file_idx, None, False) for b in breakdown],
        lf.filter(~pl.col("__total") & ~pl.col("__has_data")).select(
            pl.lit("INPUT002").alias("code"), pl.lit(file_idx, pl.Int64).alias("source_file"),
            pl.col(ROW).alias("source_row"), pl.lit(None, pl.String).alias("column"),
            pl.lit(None, pl.String).alias("value"), pl.col("unit_id"), pl.col("contest"),
            pl.lit(True).alias("rejected"), pl.lit(None, pl.String).alias("detail"),
        ),
    ]
    # Duplicated (unit, contest, choice) rows would be summed by any roll-up: report them.
    dup = body.with_columns(pl.len().over("contest", "unit_id", "choice").alias("__n"))
    issue_parts.append(dup.filter(pl.col("__n") > 1).select(
        pl.lit("INPUT003").alias("code"), pl.lit(file_idx, pl.Int64).alias("source_file"),
        pl.col(ROW).alias("source_row"), pl.lit("unit, contest, choice").alias("column"),
        pl.col("choice").alias("value"), pl.col("unit_id"), pl.col("contest"),
        pl.lit(False).alias("rejected"), pl.col("__n").cast(pl.String).alias("detail"),
    ))
    schema = PUBLISHED_SCHEMA
    level_col = lg.get("total_level")
    published = lf.filter(pl.col("__total")).select(
        pl.col("contest"),
        (clean_text(level_col) if level_col else pl.lit("total")).alias("level"),
        pl.col("unit_id"), pl.col("choice"), pl.lit("votes").alias("measure"),
        pl.col("__votes").alias("value"), pl.lit(None, pl.String).alias("base"),
        pl.lit(None, pl.Int64).alias("decimals"), pl.lit(file_idx, pl.Int64).alias("source_file"),
        pl.col(ROW).alias("source_row"), pl.lit(None, pl.String).alias("field"),
    ).cast(schema)
    counter = lf.select(
        pl.len().alias("rows_read"),
        pl.col("__total").sum().alias("rows_published"),
        (~pl.col("__total") & ~pl.col("__has_data")).sum().alias("rows_empty"),
    ).collect().row(0, named=True)
    counters = {
        "rows_read": int(counter["rows_read"]),
        "rows_published": int(counter["rows_published"]),
        "rows_rejected": int(counter["rows_empty"]),
        "rows_in_model": int(counter["rows_read"]) - int(counter["rows_published"])
        - int(counter["rows_empty"]),
    }
    issues = pl.concat([p.select(list(ISSUE_SCHEMA)).cast(ISSUE_SCHEMA) for p in issue_parts])
    return Parts(units, votes, published, issues, hier, counters, [])


def numeric_headers(raw: RawTable, sample_rows: int = 2000) -> set[str]:
    """Headers whose non-empty cells in a sample are mostly numbers (for auto-mapping)."""
    df = raw.frame.head(sample_rows).collect()
    out = set()
    for h in raw.headers:
        if h not in df.columns:
            continue
        s = df[h].cast(pl.String).str.strip_chars()
        s = s.filter(s.is_not_null() & (s != ""))
        if s.len() == 0:
            continue
        f = s.str.replace_all(r"^(-?\d{1,3})([.,' ]\d{3})+$", "${1}000").cast(pl.Float64,
                                                                               strict=False)
        if f.is_not_null().sum() >= 0.9 * s.len():
            out.add(h)
    return out


