"""Build the canonical frames from a raw string table and its mapping, accounting for every row.

Every row of the raw table ends in exactly one place: the model (`units`/`votes`), the
published figures (totals rows), or the rejected rows (`issues` with `rejected = true`).
Cells that cannot be read as counts stay visible as `INPUT` issues; nothing is capped,
zero-filled or dropped silently.

The wide builder parses the table once and keeps the parsed body (ids, hierarchy, counts as
Int64) in memory; `units`, `votes`, `published` and `issues` are lazy frames over it. Left
lazy over the raw strings, every check re-parsed every cell (the 2018 Russian file took 3×
longer to load and each check paid it again); the kept body is about the size of the counts
themselves (8 bytes a cell), so a 1M-station table stays within a few GB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from auditor.ingest.mapping import Mapping
from auditor.ingest.readers import ROW, InputError, RawTable, reading
from auditor.model import ISSUE_SCHEMA, PUBLISHED_SCHEMA, WIDE_ROW, WIDE_UNIT, WideVotes

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
    choice_sums: pl.LazyFrame | None = None  # see `Model.choice_sums`
    wide_votes: list[WideVotes] | None = None  # see `Model.wide_votes`


def clean_text(col: str) -> pl.Expr:
    """A string cell stripped, with empty strings as null (a typed cell is written out first)."""
    s = pl.col(col).cast(pl.String).str.strip_chars()
    return pl.when(s == "").then(None).otherwise(s)


def parse_float(col: str, thousands: str | None = None, decimal: str | None = None) -> pl.Expr:
    """A string cell parsed as a float (null when empty or unreadable; inf/NaN kept)."""
    # An empty or blank cell casts to null by itself: no when/then pass over every cell.
    s = pl.col(col).cast(pl.String).str.strip_chars()
    if thousands:
        # Only a cell shaped like `1.413.000` loses its separators; `1.5` stays a fraction.
        s = pl.when(s.str.contains(_THOUSANDS_RX[thousands])).then(
            s.str.replace_all(thousands, "", literal=True)
        ).otherwise(s)
    if decimal == ",":
        s = s.str.replace(",", ".", literal=True)
    return s.cast(pl.Float64, strict=False)


# No count reaches 2⁶³ (it would not fit in 64 bits): a cell that does is unreadable.
COUNT_LIMIT = 2.0**63


def as_count(f: pl.Expr) -> pl.Expr:
    """A parsed float as an integer count when it is within 1e-9 of an integer (and below
    `COUNT_LIMIT`), else null."""
    r = f.round(0)
    # inf - inf is NaN, which fails the comparison: non-finite values become null too.
    return (pl.when(((f - r).abs() <= INT_TOL) & (r.abs() < COUNT_LIMIT))
            .then(r.cast(pl.Int64)).otherwise(None))


def _issue_frame(lf: pl.LazyFrame, src: str, label: str, f: pl.Expr, file_idx: int,
                 contest: str | None, required: bool, exact: bool = False) -> pl.LazyFrame:
    """INPUT issues of one numeric column: unreadable, non-finite, fractional, missing.

    `exact`: the column was read as whole numbers throughout; only empty cells can be issues.
    """
    raw = clean_text(src)
    if exact:
        f = f.cast(pl.Float64)
    huge = f.is_finite() & (f.abs() >= COUNT_LIMIT)
    code: Any = (
        pl.when(raw.is_not_null() & f.is_null()).then(pl.lit("INPUT001"))
        .when(f.is_not_null() & ~f.is_finite()).then(pl.lit("INPUT001"))
        .when(huge).then(pl.lit("INPUT001"))
        .when(f.is_finite() & ((f - f.round(0)).abs() > INT_TOL)).then(pl.lit("INPUT004"))
    )
    if required:
        code = code.when(raw.is_null()).then(pl.lit("INPUT006"))
    code = code.otherwise(None)
    # Cheap superset of the problem cells first, so the code expression runs on few rows.
    suspect = f.is_null() if exact else \
        f.is_null() | ~f.is_finite() | (f != f.round(0)) | (f.abs() >= COUNT_LIMIT)
    return (
        lf.filter(suspect.fill_null(True)).select(
            code.alias("code"),
            pl.lit(file_idx, pl.Int64).alias("source_file"),
            pl.col(ROW).alias("source_row"),
            pl.lit(label).alias("column"),
            pl.col(src).alias("value"),
            pl.col("unit_id"),
            pl.lit(contest, pl.String).alias("contest"),
            pl.lit(False).alias("rejected"),
            pl.when(huge).then(pl.lit("too large for a count")).otherwise(None).alias("detail"),
        )
        .filter(pl.col("code").is_not_null())
    )


def _text(col: str, clean: frozenset[str]) -> pl.Expr:
    """`clean_text(col)`, or the column itself when it is known to be clean already."""
    return pl.col(col) if col in clean else clean_text(col)


def _unit_id_expr(key: list[str], fill: dict[str, str] | None = None,
                  clean: frozenset[str] = frozenset()) -> pl.Expr:
    """`unit_id`: key cells joined by `/`; an empty key cell takes its `key_fill` column.
    Columns in `clean` (see `clean_columns`) are taken as they are."""
    if not key:
        return pl.concat_str(pl.lit("row "), pl.col(ROW).cast(pl.String))
    fill = fill or {}
    parts = [
        (pl.coalesce(_text(k, clean), _text(fill[k], clean)) if k in fill else _text(k, clean))
        .fill_null("")
        for k in key
    ]
    return pl.concat_str(parts, separator="/")


def _total_conds(rules: list[dict[str, Any]]) -> list[tuple[pl.Expr, str]]:
    out: list[tuple[pl.Expr, str]] = []
    for r in rules:
        col = r["column"]
        level = str(r.get("level", "total"))
        if "values" in r:
            out.append((clean_text(col).is_in([str(v) for v in r["values"]]).fill_null(False),
                        level))
        if "regex" in r:
            out.append((clean_text(col).str.contains(r["regex"]).fill_null(False), level))
        if r.get("empty"):
            out.append((clean_text(col).is_null(), level))
    return out


def _total_rows_expr(rules: list[dict[str, Any]]) -> pl.Expr | None:
    conds = _total_conds(rules)
    if not conds:
        return None
    return pl.any_horizontal([c for c, _ in conds]).fill_null(False)


def _total_level_expr(rules: list[dict[str, Any]], column: str | None = None) -> pl.Expr:
    """The level a published total row is at: its rule's `level`, or a level column."""
    if column:
        return clean_text(column).fill_null("total")
    conds = _total_conds(rules)
    if not conds:
        return pl.lit("total")
    e: Any = pl.when(conds[0][0]).then(pl.lit(conds[0][1]))
    for c, lvl in conds[1:]:
        e = e.when(c).then(pl.lit(lvl))
    return e.otherwise(pl.lit("total"))  # type: ignore[no-any-return]


def hierarchy_exprs(mp: Mapping, clean: frozenset[str] = frozenset()) -> list[tuple[str, pl.Expr]]:
    """The value of each hierarchy level per row.

    A level may be made of several columns (joined by `/`), and with `hierarchy_paths` each
    level's value starts with its parents' values, so that two TIKs of the same name in two
    regions, or Kreis `01` of two Länder, stay two groups. A level read from one text column
    named in `clean` (no cell to strip or empty, see `clean_columns`) is that column as it is:
    no copy of ten million names.
    """
    out: list[tuple[str, pl.Expr]] = []
    acc: list[str] = []
    for lvl, src in mp.hierarchy:
        cols = mp.hier_cols.get(lvl, [src])
        acc = [*acc, *cols] if mp.hierarchy_paths else cols
        if len(acc) == 1:
            out.append((lvl, _text(acc[0], clean)))
            continue
        parts = [_text(c, clean) for c in acc]
        joined = pl.concat_str([x.fill_null("") for x in parts], separator="/")
        out.append((lvl, pl.when(pl.any_horizontal([x.is_not_null() for x in parts]))
                    .then(joined).otherwise(None)))
    return out


# From this many rows `_build_wide` looks for text columns that need no stripping.
CLEAN_SCAN_MIN_ROWS = 1_000_000


def clean_columns(df: pl.DataFrame, cols: list[str]) -> frozenset[str]:
    """The text columns of `df` among `cols` that `clean_text` would leave as they are: no
    cell with leading or trailing white space and no empty cell.

    One pass reads each cell's first and last byte (`_edge_suspect`); only a column with a
    cell whose edge could be white space is then compared with its stripped text. At 10M
    stations the byte test took 0.13 s a column where stripping took 0.27 s.
    """
    names = [c for c in dict.fromkeys(cols) if c in df.columns and df.schema[c] == pl.String]
    if not names:
        return frozenset()
    suspect = df.select([_edge_suspect(c).any().alias(c) for c in names]).row(0)
    return frozenset(c for c, maybe in zip(names, suspect, strict=True)
                     if not maybe or not any(_dirty(p) for p in df[c].get_chunks()))


def _edge_suspect(col: str) -> pl.Expr:
    """Per cell: empty, or a first or last byte that may belong to white space. ASCII white
    space is a byte ≤ 32; any other white space (U+00A0, U+3000, …) begins and ends with a
    byte ≥ 128 in UTF-8. So a cell not flagged here has nothing to strip. (The bytes are
    read through a zero-copy cast to binary.)"""
    b = pl.col(col).cast(pl.Binary)
    first, last = b.bin.get(0, null_on_oob=True), b.bin.get(-1, null_on_oob=True)
    return (pl.col(col).str.len_bytes() == 0) | ~first.is_between(33, 127) \
        | ~last.is_between(33, 127)


def _dirty(s: pl.Series) -> bool:
    r"""Whether a text column has a cell to strip or an empty one. A comparison with the
    stripped text takes half the time of a `^\s|\s$` regex; it copies the text, so a large
    column is taken piece by piece (at 10M stations, whole, it held 0.1 GB more)."""
    return bool(((s.str.strip_chars() != s) | (s == "")).any())


def _published_unit_id(level: pl.Expr, mp: Mapping) -> pl.Expr:
    """A total row's `unit_id`: the name of its hierarchy unit when its level is one."""
    if not mp.hierarchy:
        return pl.col("unit_id")
    e: Any = pl
    for lvl, expr in hierarchy_exprs(mp):
        e = e.when(level == lvl).then(pl.coalesce(expr, pl.col("unit_id")))
    return e.otherwise(pl.col("unit_id"))  # type: ignore[no-any-return]


def _text_columns(lf: pl.LazyFrame, numeric: dict[str, str]) -> pl.LazyFrame:
    """Per numeric column: how many cells were read as numbers, and how many are not empty."""
    exprs = [pl.col(name).is_not_null().sum().alias(f"ok{i}") for i, name in enumerate(numeric)]
    return lf.select(exprs) if exprs else pl.LazyFrame({"none": [0]})


def _raise_text_columns(df: pl.DataFrame, lf: pl.LazyFrame, numeric: dict[str, str],
                        path: str) -> None:
    """A count column whose every non-empty cell is text means a wrong mapping: exit 2."""
    if "none" in df.columns:
        return
    r = df.row(0, named=True)
    for i, src in enumerate(numeric.values()):
        if r[f"ok{i}"]:
            continue  # only a column with no number at all needs a closer look
        full = lf.filter(clean_text(src).is_not_null()).select(ROW, src).collect()
        if full.height:
            first = full.head(1)
            raise InputError(
                f"{path}: column {src!r} should hold counts but none of its {full.height:,} "
                f"non-empty cells is a number (first at row {first[ROW][0]}: "
                f"{first[src][0].strip()!r}). The column is probably mapped wrongly: choose "
                "another profile with --profile or map the columns with --map canonical=source."
            )


def _unit_type_expr(spec: dict[str, Any]) -> pl.Expr | None:
    if spec.get("value"):
        return pl.lit(str(spec["value"]))
    if spec.get("column") and spec.get("map"):
        m = {str(k): str(v) for k, v in spec["map"].items()}
        return clean_text(spec["column"]).replace_strict(m, default=spec.get("default", "regular"))
    if spec.get("rules"):
        e: Any = pl
        for r in spec["rules"]:
            cond = clean_text(r["column"]).str.contains(r["regex"]).fill_null(False)
            e = e.when(cond).then(pl.lit(r["type"]))
        return e.otherwise(pl.lit(spec.get("default", "regular")))  # type: ignore[no-any-return]
    return None


def build(raw: RawTable, mp: Mapping, file_idx: int) -> Parts:
    """Canonical frames from a raw table (wide or long shape, as the mapping says)."""
    if mp.long:
        from auditor.ingest.long import build_long  # the long shape lives in its own module

        return build_long(raw, mp, file_idx)
    return _build_wide(raw, mp, file_idx)


def _build_wide(raw: RawTable, mp: Mapping, file_idx: int) -> Parts:
    th, dec = mp.thousands, mp.decimal
    lf = raw.frame
    numeric: dict[str, str] = {}  # internal name → source
    for canon, src in mp.counts.items():
        numeric[f"c::{canon}"] = src
    for ci, c in enumerate(mp.contests):
        for canon, src in c.counts.items():
            numeric[f"k{ci}::{canon}"] = src
        for j, src in enumerate(c.choices.values()):
            numeric[f"v{ci}::{j}"] = src
    # Numbers are parsed in two steps: a plain integer cast first (a clean count column, the
    # usual case, costs one cast), then the full parser (blanks, separators, fractions) only
    # for the columns where some non-empty cell did not cast. Typed (Parquet) numeric
    # columns are used as they are.
    # A column whose every cell is a whole number stays Int64 (`exact`): nothing in it can be
    # unreadable, fractional or infinite, so only its empty cells need looking at below.
    lf = _typed_counts(raw, numeric, _read_as_text(mp), th)
    schema = lf.collect_schema()
    typed = {n for n, src in numeric.items() if schema.get(src, pl.String()).is_numeric()}
    # (a UInt64 column may hold what no Int64 can: it is read as numbers, like text)
    exact = {n for n in typed if schema[numeric[n]].is_integer()
             and schema[numeric[n]] != pl.UInt64}
    lf = lf.with_columns(
        [(pl.col(src).cast(pl.Int64 if n in exact else pl.Float64) if n in typed
          else pl.col(src).cast(pl.Int64, strict=False)).alias(n) for n, src in numeric.items()])
    pct_cols = [pc["column"] for pc in mp.percents]
    has_data = pl.any_horizontal(
        [pl.col(n).is_not_null() for n in numeric] + [clean_text(c).is_not_null() for c in pct_cols]
        or [pl.lit(True)]
    )
    tot = _total_rows_expr(mp.total_rows)
    lf = lf.with_columns((tot if tot is not None else pl.lit(False)).alias("__total"))
    # The one pass over the raw table: every cell is parsed once here, and the issues,
    # totals, counters and the canonical frames below are all computed from this frame.
    with reading(raw.path, raw.source):
        lf_df = lf.collect()
    quick = [n for n in numeric if n not in typed]
    if quick:
        miss = lf_df.select([(pl.col(n).is_null() & pl.col(numeric[n]).is_not_null()).any()
                             .alias(n) for n in quick]).row(0, named=True)
        lf_df = lf_df.with_columns(
            [parse_float(numeric[n], th, dec).alias(n) for n in quick if miss[n]])
        exact |= {n for n in quick if not miss[n]}
    # Ids and hierarchy from the text columns as they are where no cell needs stripping: the
    # scan costs about what stripping does, but at 10M stations the copies held 0.3 GB more.
    hier_src = [c for lvl, src in mp.hierarchy for c in mp.hier_cols.get(lvl, [src])]
    clean = clean_columns(lf_df, [*mp.key, *(mp.key_fill or {}).values(), *hier_src]) \
        if lf_df.height >= CLEAN_SCAN_MIN_ROWS else frozenset()
    lf_df = lf_df.with_columns(has_data.alias("__has_data"),
                               _unit_id_expr(mp.key, mp.key_fill, clean).alias("unit_id"))
    # A key column read for the ids alone is not needed any more (10M stations: 0.16 GB).
    later = {*numeric.values(), *_text_besides_key(mp)}
    lf_df = lf_df.drop([k for k in {*mp.key, *mp.key_fill.values()} - later
                        if k in lf_df.columns])
    lf = lf_df.lazy()
    keep = ~pl.col("__total") & (pl.col("__has_data") | pl.lit(not mp.drop_empty))
    n_keep = lf_df.select(keep.sum()).item()
    # A filter that keeps every row would still copy the table: skip it then.
    body_df = lf_df if n_keep == lf_df.height else lf_df.filter(keep)
    # Duplicated keys: every copy stays in the model under a distinct id and is reported.
    if mp.key and _has_duplicates(body_df, "unit_id"):
        body_df = _number_copies(body_df)
    else:
        body_df = body_df.with_columns(pl.lit(1, pl.UInt32).alias("__dups"))
    body = body_df.lazy()
    hier = [lvl for lvl, _ in mp.hierarchy]
    ut = _unit_type_expr(mp.unit_type)
    base_cols = [
        pl.lit(file_idx, pl.Int64).alias("source_file"),
        pl.col(ROW).alias("source_row"),
        pl.col("unit_id"),
        *[e.alias(lvl) for lvl, e in hierarchy_exprs(mp, clean)],
        *([ut.alias("unit_type")] if ut is not None else []),
    ]
    base_names = ["source_file", "source_row", "unit_id", *hier,
                  *(["unit_type"] if ut is not None else [])]
    # The parsed body (ids, hierarchy, counts as Int64) is kept; units and votes are lazy
    # views of it, and the raw strings are freed when this function returns.
    base_q = body.select(*base_cols, *[pl.col(n) if n in exact else as_count(pl.col(n)).alias(n)
                                       for n in numeric])
    issue_parts: list[pl.LazyFrame] = []
    for ci, c in enumerate(mp.contests):
        counts = {**mp.counts, **c.counts}
        for canon in counts:
            name = f"k{ci}::{canon}" if canon in c.counts else f"c::{canon}"
            if ci > 0 and canon not in c.counts:
                continue  # shared columns are checked once
            req = mp.required is None or canon in mp.required
            issue_parts.append(_issue_frame(body, counts[canon], canon, pl.col(name), file_idx,
                                            c.name, required=req, exact=name in exact))
        for j, ch in enumerate(c.choices):
            issue_parts.append(_issue_frame(body, c.choices[ch], ch, pl.col(f"v{ci}::{j}"),
                                            file_idx, c.name, required=False,
                                            exact=f"v{ci}::{j}" in exact))
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
                pl.lit(mp.empty_detail, pl.String).alias("detail"),
            )
        )
    issues_q = pl.concat([p.select(list(ISSUE_SCHEMA)).cast(ISSUE_SCHEMA) for p in issue_parts]) \
        if issue_parts else pl.LazyFrame(schema=ISSUE_SCHEMA)
    counter = lf.select(
        pl.len().alias("rows_read"),
        pl.col("__total").sum().alias("rows_published"),
        (~pl.col("__total") & ~pl.col("__has_data")).sum().alias("rows_empty"),
    )
    base_df, issues_df, pub_df, cdf, ndf, tdf = pl.collect_all(
        [base_q, issues_q, _published_wide(lf, mp, file_idx), counter,
         _number_notes(lf, {n: s for n, s in numeric.items() if n not in exact}, th), _text_columns(lf, numeric)])
    _raise_text_columns(tdf, lf, numeric, raw.path)
    base = _categorical(base_df, hier).lazy()
    del base_df
    units_parts, votes_parts = [], []
    wide: list[WideVotes] = []
    for ci, c in enumerate(mp.contests):
        counts = {**mp.counts, **c.counts}
        cols = [pl.lit(c.name).alias("contest"), *[pl.col(x) for x in base_names]]
        for canon in counts:
            name = f"k{ci}::{canon}" if canon in c.counts else f"c::{canon}"
            cols.append(pl.col(name).alias(canon))
        units_parts.append(base.select(cols))
        choice_names = list(c.choices)
        if choice_names:
            wide.append(_wide_votes(base, c.name, ci, choice_names))
            votes_parts.append(wide[-1].long())
    sums = [_choice_sums(base, c.name, ci, len(c.choices))
            for ci, c in enumerate(mp.contests) if c.choices]
    units = pl.concat(units_parts, how="diagonal_relaxed") if units_parts else pl.LazyFrame()
    votes = (
        pl.concat(votes_parts)
        if votes_parts
        else pl.LazyFrame(schema={"contest": pl.String, "unit_id": pl.String, "choice": pl.String,
                                  "votes": pl.Int64, "source_row": pl.Int64})
    )
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
        notes.append(f"{n['thousands']:,} count cells (of mapped columns) with {th!r} "
                     "thousands separators were read as integers")
    return Parts(units, votes, pub_df.lazy(), issues_df.lazy(), hier, counters, notes,
                 pl.concat(sums) if sums else None, wide)


def _read_as_text(mp: Mapping) -> set[str]:
    """The columns the mapping reads as text: key, hierarchy, total-row rules, unit type,
    published percentages (a key column also mapped as a count keeps its `001`)."""
    return {*mp.key, *mp.key_fill.values(), *_text_besides_key(mp)}


def _text_besides_key(mp: Mapping) -> set[str]:
    """The columns read as text other than for the unit ids (see `_read_as_text`)."""
    cols = {*(src for _, src in mp.hierarchy),
            *(c for cs in mp.hier_cols.values() for c in cs),
            *(str(r["column"]) for r in mp.total_rows if "column" in r),
            *(str(pc["column"]) for pc in mp.percents if "column" in pc),
            *(str(r["column"]) for r in mp.unit_type.get("rules", []) if "column" in r)}
    if mp.unit_type.get("column"):
        cols.add(str(mp.unit_type["column"]))
    return cols


def _typed_counts(raw: RawTable, numeric: dict[str, str],
                  text_too: set[str], thousands: str | None = None) -> pl.LazyFrame:
    """The raw table with its text count columns read as integers by the reader, when every
    non-empty cell of them is a whole number (the usual case); else the raw table.

    At 1M stations a CSV read this way took 0.28 s where text then a cast took 0.47 s, and
    the counts' text is never held. A cell the reader cannot parse as an integer (`1.413`,
    `12,5`, `n/a`, `5 `) makes it fail; the text table is then read and parsed as before.
    The counts are the same either way; a blank cell (spaces, a quoted empty string) is
    read as empty, so the `value` of its INPUT006 issue is empty rather than the blank.
    Columns in `text_too` (`_read_as_text`) stay text.

    Where numbers may carry `thousands` separators (a profile's or a guess's), the text
    table is read straight away: one count written `1.413` makes the reader fail, and that
    failed read cost Germany EU 2024 (329 such cells, none in its first 2,000 rows) 0.09 s
    of a 0.65 s load.
    """
    if raw.retype is None:
        return raw.frame
    schema = raw.frame.collect_schema()
    text = [src for src in dict.fromkeys(numeric.values())
            if schema.get(src) == pl.String and src not in text_too]
    if not text:
        return raw.frame
    if thousands:
        return raw.frame
    try:
        return raw.retype({src: pl.Int64() for src in text}).collect().lazy()
    except pl.exceptions.PolarsError:
        return raw.frame


def _categorical(df: pl.DataFrame, cols: list[str]) -> pl.DataFrame:
    """`df` with the text columns `cols` categorical: each distinct name is held once and
    every row holds a 4-byte code (at 10M units, region and district took 300 MB as text,
    80 MB so). Cast in one `with_columns`, which converts the columns side by side (twice
    as fast as one after the other on two cores) and keeps each column's pieces as they
    are: an operation over columns in different pieces copies them all into matching ones."""
    text = [c for c in cols if df.schema[c] == pl.String]
    return df.with_columns(pl.col(text).cast(pl.Categorical)) if text else df


def _has_duplicates(df: pl.DataFrame, col: str) -> bool:
    """Whether `col` repeats a value. As many distinct 64-bit hashes as rows proves it does
    not (a collision can only lower the count); that costs 0.3 s for 10M ids where the exact
    test costs 6 s, which then runs only when the hashes repeat."""
    if df.select(pl.col(col).hash().n_unique()).item() == df.height:
        return False
    return bool(df[col].is_duplicated().any())


def _number_copies(df: pl.DataFrame) -> pl.DataFrame:
    """`df` with `__dups`, the number of rows sharing the row's `unit_id`, and from a unit's
    second row on its id suffixed with the copy's number (`000999#2`, in row order).

    The copies are numbered among the repeated rows alone: a running count over every
    row's id took 0.08 s for Germany's 92k districts (and ran twice), this 5 ms.
    """
    df = df.with_columns(pl.len().over("unit_id").alias("__dups"))
    at = df.select(pl.arg_where(pl.col("__dups") > 1)).to_series()
    ids = df.get_column("unit_id").gather(at)
    copy = pl.DataFrame({"u": ids}).select(pl.col("u").cum_count().over("u")).to_series()
    new = pl.select(pl.when(copy > 1).then(pl.concat_str(ids, pl.lit("#"), copy.cast(pl.String)))
                    .otherwise(ids)).to_series()
    return df.with_columns(df.get_column("unit_id").clone().scatter(at, new))


def _wide_votes(base: pl.LazyFrame, contest: str, ci: int, choices: list[str]) -> WideVotes:
    """The votes of one contest as the file holds them (see `WideVotes`).

    The choice columns take the choices' names here, so the long view's variable column is
    the choice itself (mapping internal names back afterwards cost 2.5× the time and a full
    copy at 10M stations).
    """
    frame = base.select(pl.col("unit_id").alias(WIDE_UNIT), pl.col("source_row").alias(WIDE_ROW),
                        *[pl.col(f"v{ci}::{j}").alias(ch) for j, ch in enumerate(choices)])
    return WideVotes(contest, frame, tuple(choices))


def _choice_sums(base: pl.LazyFrame, contest: str, ci: int, n: int) -> pl.LazyFrame:
    """Per row of a wide table: Σ of its non-empty choice cells and how many there are.

    Summed across the row's columns here, in one pass, instead of grouping the long votes
    table by unit (50M rows at 10M stations) in every check that needs the sum.
    """
    cols = [pl.col(f"v{ci}::{j}") for j in range(n)]
    return base.select(
        pl.lit(contest).alias("contest"), pl.col("source_row"),
        pl.sum_horizontal(cols).alias("choices_sum"),
        pl.sum_horizontal([c.is_not_null() for c in cols]).cast(pl.UInt32).alias("filled"),
    )


def _number_notes(lf: pl.LazyFrame, numeric: dict[str, str], th: str | None) -> pl.LazyFrame:
    if not numeric:
        return pl.LazyFrame({"near_int": [0], "thousands": [0]})
    near = pl.sum_horizontal(
        [((pl.col(n) - pl.col(n).round(0)).abs().is_between(1e-300, INT_TOL)).sum()
         for n in numeric]
    )
    cols = [near.alias("near_int")]
    if th:
        # A cell holding the separator that was read as a whole number of 1,000 or more had
        # its separators removed (a literal search: no second regex pass over every cell).
        by_src = {src: name for name, src in numeric.items()}
        cols.append(pl.sum_horizontal(
            [(pl.col(src).str.contains(th, literal=True) & (pl.col(name).abs() >= 1000)
              & (pl.col(name) == pl.col(name).round(0))).sum()
             for src, name in by_src.items()]
        ).alias("thousands"))
    else:
        cols.append(pl.lit(0).alias("thousands"))
    return lf.select(cols)


def _published_wide(lf: pl.LazyFrame, mp: Mapping, file_idx: int) -> pl.LazyFrame:
    parts: list[pl.LazyFrame] = []
    level = _total_level_expr(mp.total_rows)
    tot = lf.filter(pl.col("__total")).with_columns(level.alias("__level"))
    tot = tot.with_columns(_published_unit_id(pl.col("__level"), mp).alias("__pub_id"))
    for ci, c in enumerate(mp.contests):
        fields: dict[str, tuple[str | None, str]] = {}  # internal col → (choice, measure)
        for canon in {**mp.counts, **c.counts}:
            name = f"k{ci}::{canon}" if canon in c.counts else f"c::{canon}"
            fields[name] = (None, canon)
        for j, ch in enumerate(c.choices):
            fields[f"v{ci}::{j}"] = (ch, "votes")
        for name, (choice, measure) in fields.items():
            parts.append(tot.select(
                pl.lit(c.name).alias("contest"), pl.col("__level").alias("level"),
                pl.col("__pub_id").alias("unit_id"), pl.lit(choice, pl.String).alias("choice"),
                pl.lit(measure).alias("measure"), pl.col(name).alias("value"),
                pl.lit(None, pl.String).alias("base"), pl.lit(None, pl.Int64).alias("decimals"),
                pl.lit(file_idx, pl.Int64).alias("source_file"), pl.col(ROW).alias("source_row"),
                pl.lit(None, pl.String).alias("field"),
            ))
    body = lf.filter(~pl.col("__total"))
    for pc in mp.percents:
        col = pc["column"]
        # Filter before the select: the source column is gone afterwards.
        parts.append(body.filter(clean_text(col).is_not_null()).select(
            pl.lit(pc.get("contest", mp.contests[0].name if mp.contests else "all")).alias("contest"),
            pl.lit("unit").alias("level"), pl.col("unit_id"),
            pl.lit(pc.get("choice"), pl.String).alias("choice"),
            pl.lit(pc.get("measure", "percent")).alias("measure"),
            parse_float(col, None, mp.decimal).alias("value"),
            pl.lit(pc.get("base"), pl.String).alias("base"),
            pl.lit(pc.get("decimals"), pl.Int64).alias("decimals"),
            pl.lit(file_idx, pl.Int64).alias("source_file"), pl.col(ROW).alias("source_row"),
            pl.lit(col).alias("field"),
        ))
    schema = PUBLISHED_SCHEMA
    if not parts:
        return pl.LazyFrame(schema=schema)
    return pl.concat([p.select(list(schema)).cast(schema) for p in parts])


def _sampled_numbers(raw: RawTable, sample_rows: int) -> list[tuple[str, int, pl.Series]]:
    """Per header of a sample: how many cells are non-empty and their values as floats
    (thousands separators removed; null where a cell is not a number)."""
    df = raw.frame.head(sample_rows).collect()
    out = []
    for h in raw.headers:
        if h not in df.columns:
            continue
        s = df[h].cast(pl.String).str.strip_chars()
        s = s.filter(s.is_not_null() & (s != ""))
        if s.len() == 0:
            continue
        f = s.str.replace_all(r"^(-?\d{1,3})([.,' ]\d{3})+$", "${1}000").cast(pl.Float64,
                                                                               strict=False)
        out.append((h, s.len(), f))
    return out


def numeric_headers(raw: RawTable, sample_rows: int = 2000) -> set[str]:
    """Headers whose non-empty cells in a sample are mostly numbers (for auto-mapping)."""
    return {h for h, n, f in _sampled_numbers(raw, sample_rows)
            if mostly_numbers(int(f.is_not_null().sum()), n)}


def mostly_numbers(numbers: int, cells: int) -> bool:
    """Whether a column whose `cells` non-empty cells hold `numbers` numbers is a number
    column: 90 % of them, or in a short table all but one or two, which are then the most.
    (In an 8-row table one `#REF!` is 12.5 % of a party's cells: the column is still the
    party's, and the cell an `INPUT001` finding, not a reason to drop the party.)"""
    return numbers >= 0.9 * cells or (cells - numbers <= 2 and 2 * numbers > cells)


def count_headers(raw: RawTable, sample_rows: int = 2000) -> set[str]:
    """Headers whose sampled cells are all whole numbers, some above 100 (counts, not rates)."""
    return {
        h for h, _, f in _sampled_numbers(raw, sample_rows)
        if not f.is_null().any() and bool((f == f.round(0)).all())
        and (f.max() or 0) > 100  # type: ignore[operator]
    }
