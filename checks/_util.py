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
