"""INPUT: what could not be read, or read only with a caveat.

Ingest never drops or coerces silently: every rejected row and every doubtful cell is an
issue, and these checks turn issues into findings with file, row and column.
"""

from __future__ import annotations

import polars as pl

from auditor.model import Model
from auditor.registry import check
from checks._util import issues_of

_COLS = ["contest", "unit_id", "source_file", "source_row"]


def _rows(m: Model, code: str) -> pl.LazyFrame:
    return issues_of(m, code).select(
        *_COLS,
        pl.col("column").alias("key"),
        pl.col("value"),
        pl.col("detail"),
    )


@check(code="INPUT001", name="unreadable-cell", severity="error",
       message="row {source_row}: the `{key}` cell {value!r} is not a number; the unit is "
               "audited without it")
def unreadable_cell(m: Model) -> pl.LazyFrame:
    """A count cell that cannot be read as a number (text, `inf`, `NaN`).

    What: a cell in a count column whose text is not a finite number, e.g. `12a`, `n/a`,
    `inf` (a division by zero exported as a count), or a number too large for any count
    (2⁶³ or more, e.g. twenty nines).
    Why it matters: a figure nobody can read cannot be checked, and a tool that reads it as
    zero would hide an error behind a plausible sum.
    Example: Kloop 2020's `form2_percent` contains `inf`; a Georgian protocol typed as `1O5`.
    """
    # a number too large for any count (2⁶³ or more) is a number, but not one to read
    return _rows(m, "INPUT001").with_columns(
        pl.when(pl.col("detail").is_not_null())
        .then(pl.format("row {}: the `{}` cell {} is {}; the unit is audited without it",
                        pl.col("source_row"), pl.col("key"), pl.col("value"), pl.col("detail")))
        .alias("message"))


# Profile `units.empty_detail` texts that say an empty row is simply not in yet
_PENDING = r"(?i)not (yet )?reported|not reported yet|pending|outstanding"


@check(code="INPUT002", name="unit-without-data", severity="warning",
       message="row {source_row} ({unit_id}) has no numbers at all; it is not audited")
def unit_without_data(m: Model) -> pl.LazyFrame:
    """A row that names a unit but holds no number in any count or choice column.

    What: every count and vote cell of the row is empty; the row is set apart (rejected).
    A warning, except where the profile explains such rows as not yet reported
    (`units.empty_detail`, e.g. "not yet reported" for election-night snapshots): then each
    is `info` — a unit still to come is not an implausible figure.
    Why it matters: a station listed without results is either not yet reported or lost;
    either way its absence changes totals, so it is counted and shown, never dropped silently.
    Example: Russia 2024 has 2,268 such rows; election-night snapshots list municipalities
    before they report.
    """
    detail = pl.col("detail").fill_null("")
    pending = detail.str.contains(_PENDING)
    return _rows(m, "INPUT002").with_columns(
        pl.when(pending).then(pl.lit("info")).otherwise(pl.lit(None, pl.String))
        .alias("severity"),
        pl.format("row {} ({}) has no numbers at all{}; it is not audited",
                  pl.col("source_row"), pl.col("unit_id").fill_null("no id"),
                  pl.when(detail != "").then(pl.lit(" (") + detail + pl.lit(")"))
                  .otherwise(pl.lit(""))).alias("message"))


@check(code="INPUT003", name="duplicated-unit-key", severity="error",
       message="unit key {value} appears {detail} times (row {source_row}); each copy is "
               "audited under its own id")
def duplicated_key(m: Model) -> pl.LazyFrame:
    """Two or more rows share the same unit key.

    What: the columns that identify a unit (e.g. district + precinct) repeat.
    Why it matters: roll-ups would double-count, and a release-to-release comparison cannot
    tell which row is which. Often a typo in the key (Georgia nov13: (24, 23) twice, one of
    them really (25, 33)).
    Example: `district=24, precinct=23` on two rows with different numbers.
    """
    return _rows(m, "INPUT003")


@check(code="INPUT004", name="non-integer-count", severity="error",
       message="row {source_row}: the `{key}` count is {value}, not a whole number")
def non_integer_count(m: Model) -> pl.LazyFrame:
    """A count written with a fractional part beyond rounding noise.

    What: a vote or ballot count that is not within 1e-9 of an integer (`12.5`). Values
    within 1e-9 (`84.99999999999999`, float noise from spreadsheets) are read as integers
    and the input's notes say how many.
    Why it matters: a person is counted whole; a fraction means a formula or a wrong column.
    Example: `votes = 12.5` in a precinct row.
    """
    return _rows(m, "INPUT004")


@check(code="INPUT005", name="negative-count", severity="error",
       message="row {source_row}: the `{key}` count is negative ({value})")
def negative_count(m: Model) -> pl.LazyFrame:
    """A count below zero.

    What: a ballot or vote count less than 0 (found by the pandera schema of the model).
    Why it matters: negative people do not vote; it is a typing or export error that also
    distorts every sum it enters.
    Example: `invalid = -3`.
    """
    return _rows(m, "INPUT005")


@check(code="INPUT006", name="required-value-missing", severity="warning",
       message="row {source_row} ({unit_id}): the `{key}` cell is empty while the row has "
               "other numbers; checks that need it skip this unit")
def required_missing(m: Model) -> pl.LazyFrame:
    """A protocol count left empty in a row that has other numbers.

    What: a mapped protocol field (registered voters, ballots received, …) is empty.
    Why it matters: an empty cell is not a zero; checks that need the field cannot run for
    this unit, and the reader must know which units were not fully checked.
    Example: Georgia 2024 precinct 81/12 with an empty `f_02` (ballots received).
    """
    return _rows(m, "INPUT006")
