"""Small expression helpers shared by the check modules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import polars as pl

from auditor.model import Model


def issues_of(m: Model, code: str) -> pl.LazyFrame:
    """The ingest issues with one INPUT code."""
    return m.issues.filter(pl.col("code") == code)


def pct(x: pl.Expr) -> pl.Expr:
    """A share (0..1) as a percentage rounded for messages."""
    return (x * 100).round(2)


def _needs_quotes(name: str) -> bool:
    return bool(name) and (name[0].isdigit() or " " in name) and name[0] not in "\"'«“„"


def quote_name(name: object) -> str:
    """A choice name for a message: quoted when it starts with a digit or has spaces.

    "5. Всероссийская политическая партия" or "41 Georgian Dream" would otherwise read as
    part of the number before them.
    """
    s = "" if name is None else str(name)
    return f"“{s}”" if _needs_quotes(s) else s


def quote_expr(x: pl.Expr) -> pl.Expr:
    """``quote_name`` as a polars expression (for message templates built in lazy frames)."""
    s = x.cast(pl.String)
    needs = (s.str.contains(r"^[0-9]") | s.str.contains(" ", literal=True)) & ~s.str.contains(
        "^[\"'«“„]")
    return pl.when(needs).then(pl.lit("“") + s + pl.lit("”")).otherwise(s)


def thousands(x: pl.Expr) -> pl.Expr:
    """A whole number as text with thousands separators ("1,486"), in polars."""
    n = x.cast(pl.Int64)
    digits = n.abs().cast(pl.String).str.reverse().str.extract_all(r"\d{1,3}").list.join(",") \
        .str.reverse()
    return pl.when(n < 0).then(pl.lit("-") + digits).otherwise(digits)


def place(level: str | None, value: object) -> str:
    """"in Tbilisi", but "in district 44" where the value alone would read as a number."""
    v = str(value)
    if level and v[:1].isdigit():
        return f"in {level.replace('_', ' ')} {v}"
    return f"in {v}"


def in_memory(lf: pl.LazyFrame) -> bool:
    """Whether a frame is a table held in memory (nothing left to read or compute): then
    several small queries over it cost nothing but their work, while over a lazy scan each
    reads the source again."""
    plan = lf.explain(optimized=False)
    return plan.startswith("DF ") and "\n" not in plan


def computed_from_memory(lf: pl.LazyFrame) -> bool:
    """Whether a frame reads only tables held in memory (no file is scanned), so that
    computing it costs its work alone."""
    return "SCAN" not in lf.explain(optimized=False)


def attach(rows: pl.LazyFrame, units: pl.DataFrame, key: str, cols: Sequence[str],
           how: Literal["inner", "left"] = "inner") -> pl.LazyFrame:
    """`rows` with the `cols` of their unit: a join of `rows` with `units` on `key`.

    Units keyed by distinct integers over a compact range (a wide table's source rows) are
    looked up by position: a gather, several times faster than hashing millions of vote
    rows. Any other key is joined.
    """
    k = units[key]
    if k.dtype.is_integer() and units.height and k.null_count() == 0:
        lo, hi = int(k.min()), int(k.max())  # type: ignore[arg-type]
        span = hi - lo + 1
        if span <= 4 * units.height + 1024:
            at = (pl.col(key) - lo).clip(0, span - 1)  # clipped: safe in any evaluation order
            inside = pl.col(key).is_between(lo, hi)
            if span == units.height and k.is_sorted():
                # one unit at every position, in order (the usual wide file): the columns
                # are the lookup tables as they are
                luts = {c: units[c] for c in cols}
            else:
                pos = k - lo
                here = pl.repeat(False, span, eager=True).scatter(pos, True)
                if int(here.sum()) != units.height:  # repeated keys: not a lookup
                    return rows.join(units.lazy().select(key, *cols), on=key, how=how)
                inside = inside & pl.lit(here).gather(at)
                luts = {c: pl.repeat(None, span, dtype=units[c].dtype, eager=True)
                        .scatter(pos, units[c]) for c in cols}
            if how == "inner":
                return rows.filter(inside).with_columns(
                    pl.lit(lut).gather(at).alias(c) for c, lut in luts.items())
            return rows.with_columns(
                pl.when(inside).then(pl.lit(lut).gather(at)).alias(c) for c, lut in luts.items())
    return rows.join(units.lazy().select(key, *cols), on=key, how=how)
