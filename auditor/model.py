"""The canonical model every check runs over: `units`, `votes`, `published`, `meta`.

- `units`: one row per reporting unit per contest. Columns: `contest`, `unit_id`,
  `source_file` (index into `meta`), `source_row` (line/row number in that file), the
  hierarchy columns named in `hierarchy` (top-down, e.g. `region`, `tik`), optional
  `unit_type` (home/abroad/postal/evoting/...), and the protocol counts that exist in this
  election under the standard names of `COUNT_COLUMNS` (absent ones are absent, never zero).
- `votes`: `contest`, `unit_id`, `choice`, `votes` (Int64, null where the cell was empty or
  unreadable), optional breakdown columns (e.g. `election_day`, `absentee`), `source_row`.
  For a single wide input (one column per choice) the same votes are also kept in the
  file's own shape (`wide_votes`, see `WideVotes`), and `votes` is a lazy view of them:
  readers that need every unit's votes (figures, STAT, TURN005, SEAT) read the wide rows.
- `published`: figures the source itself states, kept apart because checking them is a check:
  `contest`, `level` (hierarchy level or "total"/"unit"), `unit_id` (None for national),
  `choice` (None for a unit-level measure), `measure` (one of `PUBLISHED_MEASURES` or a count
  column name), `value` (Float64, NaN/inf kept), `base` (stated denominator or None),
  `decimals` (printed decimals, for rounding tolerance), `source_file`, `source_row`,
  `field` (the source column a unit-level published figure came from).
- `issues`: the INPUT problems found while reading (rejected rows, unreadable cells, fractions),
  as a frame the INPUT checks turn into findings.

All frames are polars LazyFrames; validation with pandera happens in `validate()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from auditor.findings import InputInfo
    from auditor.profiles import Profile

# Standard protocol count names, in protocol order. `ballots_cast` = ballots found in boxes
# (valid + invalid [+ blank]); `voters` = voters who took part by signatures/list.
COUNT_COLUMNS: tuple[str, ...] = (
    "registered",
    "registered_extra",
    "ballots_received",
    "ballots_issued",
    "ballots_issued_early",
    "ballots_issued_station",
    "ballots_issued_outside",
    "ballots_cancelled",
    "ballots_mobile",
    "ballots_stationary",
    "ballots_lost",
    "ballots_unaccounted",
    "voters",
    "voters_postal",
    "voters_by_noon",
    "voters_by_afternoon",
    "ballots_cast",
    "valid",
    "invalid",
    "blank",
    "against_all",
)

PUBLISHED_MEASURES: tuple[str, ...] = ("votes", "percent", "seats", "turnout_percent")

KEY_COLUMNS: tuple[str, ...] = ("contest", "unit_id")

ISSUE_SCHEMA: pl.Schema = pl.Schema({
    "code": pl.String(),
    "source_file": pl.Int64(),
    "source_row": pl.Int64(),
    "column": pl.String(),
    "value": pl.String(),
    "unit_id": pl.String(),
    "contest": pl.String(),
    "rejected": pl.Boolean(),
    "detail": pl.String(),
})

PUBLISHED_SCHEMA: pl.Schema = pl.Schema({
    "contest": pl.String(),
    "level": pl.String(),
    "unit_id": pl.String(),
    "choice": pl.String(),
    "measure": pl.String(),
    "value": pl.Float64(),
    "base": pl.String(),
    "decimals": pl.Int64(),
    "source_file": pl.Int64(),
    "source_row": pl.Int64(),
    "field": pl.String(),
})


def empty_issues() -> pl.LazyFrame:
    """An issues frame with no rows and the right schema."""
    return pl.LazyFrame(schema=ISSUE_SCHEMA)


def empty_published() -> pl.LazyFrame:
    """A published frame with no rows and the right schema."""
    return pl.LazyFrame(schema=PUBLISHED_SCHEMA)


# Index columns of a `WideVotes` frame: names no header can have, so that a choice called
# `unit_id`, `votes` or `source_row` cannot collide with them.
WIDE_UNIT, WIDE_ROW = "\x00unit_id", "\x00source_row"


@dataclass(frozen=True)
class WideVotes:
    """The votes of one contest of a wide input, as the file holds them.

    `frame` has one row per unit: `WIDE_UNIT` (its `unit_id`), `WIDE_ROW` (its `source_row`)
    and one Int64 column per choice, named by the choice (in `choices`, in file order). The
    long `votes` table of such an input is this frame unpivoted; at millions of units that
    table is five to twenty times larger than this one, so the model keeps it as a view of
    this frame (see `engine.materialise`) and the heaviest readers use this frame instead.
    """

    contest: str
    frame: pl.LazyFrame
    choices: tuple[str, ...]

    def long(self) -> pl.LazyFrame:
        """The same votes in the long shape of `Model.votes` (`contest`, `unit_id`, `choice`,
        `votes`, `source_row`), unit by unit in file order, choices in file order."""
        var, val = "\x00choice", "\x00votes"
        return (
            self.frame.unpivot(index=[WIDE_UNIT, WIDE_ROW], on=list(self.choices),
                               variable_name=var, value_name=val)
            .select(pl.lit(self.contest).alias("contest"), pl.col(WIDE_UNIT).alias("unit_id"),
                    pl.col(var).alias("choice"), pl.col(val).alias("votes"),
                    pl.col(WIDE_ROW).alias("source_row"))
        )


@dataclass
class Model:
    """One election release in canonical form (see the module docstring for the columns)."""

    units: pl.LazyFrame
    votes: pl.LazyFrame
    published: pl.LazyFrame = field(default_factory=empty_published)
    issues: pl.LazyFrame = field(default_factory=empty_issues)
    hierarchy: list[str] = field(default_factory=list)
    inputs: list[InputInfo] = field(default_factory=list)
    profile: Profile | None = None
    label: str | None = None
    previous: list[Model] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    # Per unit of a single wide input: `contest`, `source_row`, `choices_sum` (Σ of the
    # non-empty choice cells) and `filled` (how many), computed at ingest from the row itself
    # so checks need not group the long votes table by unit; None when not known (long or
    # several inputs, a model built by hand). Read it with `row_sums()`, which stops offering
    # it once `votes` is replaced.
    choice_sums: pl.LazyFrame | None = None
    # The same votes per contest in the file's own wide shape (see `WideVotes`), under the
    # same rule as `choice_sums`: set at ingest for a single wide input, None otherwise; read
    # with `wide_frames()`.
    wide_votes: list[WideVotes] | None = None
    # The `votes` frame that `choice_sums` and `wide_votes` describe (set on creation): a
    # model whose `votes` was replaced since (`replace(m, votes=…)`, `m.votes = …`) stops
    # offering them (`row_sums()`, `wide_frames()` return None), so an edited table is never
    # read through a stale shortcut.
    votes_source: Any = field(default=None, repr=False, compare=False)
    _schema_cache: dict[str, pl.Schema] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.votes_source is None:
            self.votes_source = self.votes

    def row_sums(self) -> pl.LazyFrame | None:
        """`choice_sums`, while `votes` is still the table it was computed from."""
        return self.choice_sums if self.votes_source is self.votes else None

    def wide_frames(self) -> list[WideVotes] | None:
        """`wide_votes`, while `votes` is still the table they hold."""
        return self.wide_votes if self.votes_source is self.votes else None

    def unit_columns(self) -> set[str]:
        """Column names of `units` (schema only, nothing is computed)."""
        if "units" not in self._schema_cache:
            self._schema_cache["units"] = self.units.collect_schema()
        return set(self._schema_cache["units"].names())

    def vote_columns(self) -> set[str]:
        """Column names of `votes` (schema only)."""
        if "votes" not in self._schema_cache:
            self._schema_cache["votes"] = self.votes.collect_schema()
        return set(self._schema_cache["votes"].names())

    def counts(self) -> list[str]:
        """The standard protocol counts present in this election, in protocol order."""
        cols = self.unit_columns()
        return [c for c in COUNT_COLUMNS if c in cols]

    @property
    def region(self) -> str | None:
        """The top hierarchy level (used to compare units with their neighbours)."""
        return self.hierarchy[0] if self.hierarchy else None

    @property
    def district(self) -> str | None:
        """The lowest hierarchy level above the unit, the closest neighbours."""
        return self.hierarchy[-1] if self.hierarchy else None

    def rule(self, name: str, default: Any = None) -> Any:
        """An election rule from the profile (threshold, seats, method, …) or an option."""
        if name in self.options and self.options[name] is not None:
            return self.options[name]
        if self.profile is not None:
            return self.profile.rules.get(name, default)
        return default

    def wide(self, contest: str) -> WideVotes | None:
        """The wide votes of one contest, when the model has them."""
        for w in self.wide_frames() or ():
            if w.contest == contest:
                return w
        return None

    def contests_with_votes(self) -> list[str]:
        """The contests that have votes per choice, sorted."""
        wide = self.wide_frames()
        if wide is not None:
            return sorted({w.contest for w in wide})
        return sorted(self.votes.select("contest").unique().collect()["contest"].to_list())

    def choice_totals(self) -> pl.LazyFrame:
        """Votes per contest and choice over all units (nulls ignored)."""
        wide = self.wide_frames()
        if wide is not None:  # column sums of the wide frames: no long table
            parts = [w.frame.select(pl.col(list(w.choices)).sum()).unpivot(
                on=list(w.choices), variable_name="choice", value_name="votes")
                .select(pl.lit(w.contest).alias("contest"), "choice",
                        pl.col("votes").cast(pl.Int64))
                for w in wide if w.choices]
            if parts:
                return (pl.concat(parts).group_by("contest", "choice").agg(pl.col("votes").sum())
                        .sort("contest", "choice"))
        return (
            self.votes.group_by("contest", "choice")
            .agg(pl.col("votes").sum())
            .sort("contest", "choice")
        )

    def unit_sums(self) -> pl.LazyFrame:
        """Per unit: sum of votes over choices, and how many choice cells were empty."""
        return self.votes.group_by("contest", "unit_id").agg(
            pl.col("votes").sum().alias("choices_sum"),
            pl.col("votes").null_count().alias("choices_missing"),
            pl.len().alias("n_choices"),
        )


def validate(model: Model) -> pl.DataFrame:
    """Validate the canonical frames with pandera; return failure cases as INPUT issues.

    Validation failures become findings, never exceptions: each failure case becomes an
    `INPUT` issue row (negative counts are `INPUT005`, other schema failures `INPUT001`).
    """
    counts = model.counts()
    rows: list[dict[str, Any]] = []
    # Only rows that can fail are handed to pandera, so that validating a million clean
    # stations costs one polars filter (and no pandera import, ~1 s), not a row-wise pass.
    suspects: list[tuple[str, pl.DataFrame]] = []
    votes = model.votes
    wide = model.wide_frames()
    if wide is not None:  # only the wide rows with a negative cell go long
        with_choices = [w for w in wide if w.choices]
        parts = [replace(w, frame=w.frame.filter(
            pl.any_horizontal([pl.col(c) < 0 for c in w.choices]))).long() for w in with_choices]
        votes = pl.concat(parts) if parts else votes
    for name, frame, cols in (
        ("units", model.units, ["contest", "unit_id", "source_row", *counts]),
        ("votes", votes, ["contest", "unit_id", "source_row", "choice", "votes"]),
    ):
        names = frame.collect_schema().names()
        present = [c for c in cols if c in names]
        numeric = [c for c in present if c in (*counts, "votes")]
        if not numeric:
            continue
        bad = frame.select(present).filter(
            pl.any_horizontal([pl.col(c) < 0 for c in numeric])).collect()
        if bad.height:
            suspects.append((name, bad))
    if not suspects:
        return pl.DataFrame(rows, schema=ISSUE_SCHEMA)
    import pandera.polars as pa  # heavy import, kept off the start-up path

    schema = pa.DataFrameSchema(
        {
            "contest": pa.Column(str, nullable=False),
            "unit_id": pa.Column(str, nullable=False),
            **{
                c: pa.Column(pl.Int64, checks=pa.Check.ge(0), nullable=True, required=False)
                for c in counts
            },
        },
        strict=False,
    )
    vote_schema = pa.DataFrameSchema(
        {
            "contest": pa.Column(str, nullable=False),
            "unit_id": pa.Column(str, nullable=False),
            "choice": pa.Column(str, nullable=False),
            "votes": pa.Column(pl.Int64, checks=pa.Check.ge(0), nullable=True),
        },
        strict=False,
    )
    schemas = {"units": schema, "votes": vote_schema}
    for name, bad in suspects:
        sch = schemas[name]
        try:
            sch.validate(bad, lazy=True)
        except pa.errors.SchemaErrors as exc:
            fc = exc.failure_cases
            for r in fc.iter_rows(named=True):
                idx = r.get("index")
                row = bad.row(int(idx), named=True) if idx is not None else {}
                rows.append(
                    {
                        "code": "INPUT005" if "greater_than" in str(r["check"]) else "INPUT001",
                        "source_file": None,
                        "source_row": row.get("source_row"),
                        "column": r["column"] if name == "units" else row.get("choice"),
                        "value": str(r["failure_case"]),
                        "unit_id": row.get("unit_id"),
                        "contest": row.get("contest"),
                        "rejected": False,
                        "detail": f"{name}: {r['check']}",
                    }
                )
    return pl.DataFrame(rows, schema=ISSUE_SCHEMA)
