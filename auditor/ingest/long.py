"""Build the canonical frames from a long raw table (one row per unit × contest × choice).

OpenElections files and flattened NIST JSON have this shape: the unit, contest and choice are
columns, `votes` is one column, breakdown columns (`election_day`, `absentee`) must add up to
it, and rows marked as totals (`election_district = Total`, `candidate = Total`, NIST
aggregates) are published figures at their stated level. Every row is accounted for as in
the wide shape.
"""

from __future__ import annotations

import polars as pl

from auditor.ingest.build import (
    Parts,
    _issue_frame,
    _published_unit_id,
    _raise_text_columns,
    _text_columns,
    _total_level_expr,
    _total_rows_expr,
    _unit_id_expr,
    _unit_type_expr,
    as_count,
    clean_text,
    hierarchy_exprs,
    parse_float,
)
from auditor.ingest.mapping import Mapping
from auditor.ingest.readers import ROW, InputError, RawTable
from auditor.model import ISSUE_SCHEMA, PUBLISHED_SCHEMA


def build_long(raw: RawTable, mp: Mapping, file_idx: int) -> Parts:
    """Canonical frames from a long table, every row in the model, published or rejected."""
    lg = mp.long
    headers = raw.headers
    unit_cols = [c for c in lg.get("unit", []) if c in headers]
    contest_cols = [c for c in lg.get("contest", []) if c in headers]
    choice_cols = [c for c in lg.get("choice", []) if c in headers]
    votes_col = lg.get("votes", "votes")
    if votes_col not in headers:
        raise InputError(f"{raw.path}: the long table has no {votes_col!r} column; the "
                         f"columns are: {', '.join(headers[:40])}")
    breakdown = [c for c in lg.get("breakdown", []) if c in headers]
    extra = [c for c in lg.get("extra", []) if c in headers]
    unit_counts = {k: v for k, v in lg.get("unit_counts", {}).items() if v in headers}
    th, dec = mp.thousands, mp.decimal
    lf = raw.frame.with_columns(
        _unit_id_expr(unit_cols, mp.key_fill).alias("unit_id"),
        (pl.concat_str([clean_text(c).fill_null("") for c in contest_cols], separator=" ")
         .str.strip_chars() if contest_cols else pl.lit("all")).alias("contest"),
        pl.concat_str([clean_text(c).fill_null("") for c in choice_cols], separator=" · ")
        .str.strip_chars(" ·").alias("choice"),
        parse_float(votes_col, th, dec).alias("__votes"),
        *[parse_float(b, th, dec).alias(f"__b::{b}") for b in breakdown],
        *[parse_float(src, th, dec).alias(f"__u::{k}") for k, src in unit_counts.items()],
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
        *[clean_text(x).alias(x) for x in extra],
        pl.col(ROW).alias("source_row"),
    )
    ut = _unit_type_expr(mp.unit_type)
    units = body.group_by("contest", "unit_id", maintain_order=True).agg(
        pl.lit(file_idx, pl.Int64).alias("source_file"),
        pl.col(ROW).min().alias("source_row"),
        *[e.first().alias(lvl) for lvl, e in hierarchy_exprs(mp)],
        *([ut.first().alias("unit_type")] if ut is not None else []),
        *[as_count(pl.col(f"__u::{k}")).first().alias(k) for k in unit_counts],
    )
    issue_parts = [
        _issue_frame(body, votes_col, "votes", pl.col("__votes"), file_idx, None, True)
        .with_columns(pl.lit(None, pl.String).alias("contest")),
        *[_issue_frame(body, b, b, pl.col(f"__b::{b}"), file_idx, None, False) for b in breakdown],
        lf.filter(~pl.col("__total") & ~pl.col("__has_data")).select(
            pl.lit("INPUT002").alias("code"), pl.lit(file_idx, pl.Int64).alias("source_file"),
            pl.col(ROW).alias("source_row"), pl.lit(None, pl.String).alias("column"),
            pl.lit(None, pl.String).alias("value"), pl.col("unit_id"), pl.col("contest"),
            pl.lit(True).alias("rejected"), pl.lit(mp.empty_detail, pl.String).alias("detail"),
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
    level = _total_level_expr(mp.total_rows, lg.get("total_level"))
    pub = lf.filter(pl.col("__total")).with_columns(level.alias("__level"))
    # A total row marked in the choice column (`candidate = Total`) totals every choice.
    marker_rules = [r for r in mp.total_rows if r["column"] in choice_cols]
    marker = _total_rows_expr(marker_rules) if marker_rules else pl.lit(False)
    marker = marker if marker is not None else pl.lit(False)
    published = pub.select(
        pl.col("contest"), pl.col("__level").alias("level"),
        _published_unit_id(pl.col("__level"), mp).alias("unit_id"),
        pl.when((pl.col("choice") == "") | marker).then(None).otherwise(pl.col("choice"))
        .alias("choice"),
        pl.lit("votes").alias("measure"),
        pl.col("__votes").alias("value"), pl.lit(None, pl.String).alias("base"),
        pl.lit(None, pl.Int64).alias("decimals"), pl.lit(file_idx, pl.Int64).alias("source_file"),
        pl.col(ROW).alias("source_row"), pl.lit(votes_col).alias("field"),
    ).cast(schema)
    counter = lf.select(
        pl.len().alias("rows_read"),
        pl.col("__total").sum().alias("rows_published"),
        (~pl.col("__total") & ~pl.col("__has_data")).sum().alias("rows_empty"),
    )
    numeric = {"__votes": votes_col, **{f"__b::{b}": b for b in breakdown}}
    cdf, tdf = pl.collect_all([counter, _text_columns(lf, numeric)])
    _raise_text_columns(tdf, lf, numeric, raw.path)
    c = cdf.row(0, named=True)
    counters = {
        "rows_read": int(c["rows_read"]),
        "rows_published": int(c["rows_published"]),
        "rows_rejected": int(c["rows_empty"]),
        "rows_in_model": int(c["rows_read"]) - int(c["rows_published"]) - int(c["rows_empty"]),
    }
    issues = pl.concat([p.select(list(ISSUE_SCHEMA)).cast(ISSUE_SCHEMA) for p in issue_parts])
    return Parts(units, votes, published, issues, hier, counters, [])
