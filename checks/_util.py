"""Small expression helpers shared by the check modules."""

from __future__ import annotations

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
