"""The wide votes of a wide input (`Model.wide_votes`) give the same audit as the long table.

TURN005, the seat checks and the report figures read the file's own rows (one column per
choice) when the model has them, and `engine.materialise` keeps the long `votes` table as a
view of them above `LONG_VOTES_MAX_ROWS`. Both shortcuts must be invisible in the findings.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

from auditor.engine import audit, prepare
from auditor.ingest import load
from auditor.model import Model
from auditor.report.figures import figure_data
from fixtures.synth import generate

SKIP = ["STAT"]


def _election(tmp_path: Path) -> Path:
    """3,000 synthetic stations with unanimous stations, empty and negative cells put in."""
    df = generate(3000, seed=7)
    parties = ["Alpha", "Beta", "Gamma", "Delta", "Epsilon"]
    idx = pl.int_range(pl.len())
    df = df.with_columns(
        # 12 unanimous stations: Beta takes every valid vote
        *[pl.when(idx % 250 == 3).then(0 if p != "Beta" else pl.col("valid")).otherwise(pl.col(p))
          .alias(p) for p in parties],
    ).with_columns(
        pl.when(idx % 997 == 5).then(None).otherwise(pl.col("Gamma")).alias("Gamma"),
        pl.when(idx == 11).then(-4).otherwise(pl.col("Delta")).alias("Delta"),
    )
    path = tmp_path / "wide.csv"
    df.write_csv(path)
    return path


def _rows(m: Model) -> list[dict[str, object]]:
    return [f.to_dict() for f in audit(m, skip=SKIP).findings]


@pytest.fixture(scope="module")
def wide_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _election(tmp_path_factory.mktemp("wide"))


def test_wide_model_has_the_long_votes(wide_csv: Path) -> None:
    m = prepare(load([wide_csv]))
    assert m.wide_votes is not None and [w.choices for w in m.wide_votes] == [
        ("Alpha", "Beta", "Gamma", "Delta", "Epsilon")]
    long = pl.concat([w.long() for w in m.wide_votes]).collect()
    assert long.equals(m.votes.collect())
    assert long.height == 5 * 3000
    totals = m.choice_totals().collect()
    by_long = (m.votes.group_by("contest", "choice").agg(pl.col("votes").sum())
               .sort("contest", "choice").collect())
    assert totals.equals(by_long)
    assert m.contests_with_votes() == ["national"]


def test_audit_is_the_same_with_or_without_wide_votes(wide_csv: Path) -> None:
    wide = prepare(load([wide_csv]))
    long = replace(prepare(load([wide_csv])), wide_votes=None, _schema_cache={})
    a, b = _rows(wide), _rows(long)
    assert a == b
    codes = {str(r["code"]) for r in a}
    # the injected cells are found: unanimous stations, the empty and the negative cells
    assert sum(r["code"] == "TURN005" for r in a) == 12
    assert {"TURN005", "INPUT005", "SEAT003"} <= codes
    assert figure_data(wide) == figure_data(long)


def test_long_votes_kept_as_a_view_give_the_same_audit(wide_csv: Path) -> None:
    held = prepare(load([wide_csv]), long_votes_max=10**9)
    assert held.votes.explain().startswith("DF ")  # held in memory
    view = prepare(load([wide_csv]))
    assert not view.votes.explain().startswith("DF ")  # a view of the wide frames
    assert _rows(view) == _rows(held)
    assert figure_data(view) == figure_data(held)


def test_station_data_is_the_same_from_wide_votes(wide_csv: Path) -> None:
    from auditor.stats.from_model import station_data

    wide = prepare(load([wide_csv]))
    long = replace(prepare(load([wide_csv])), wide_votes=None, _schema_cache={})
    a, b = station_data(wide), station_data(long)
    assert [d.contest for d in a] == [d.contest for d in b] == ["national"]
    for x, y in zip(a, b, strict=True):
        assert x.choices == y.choices and x.n == y.n == 3000 - x.n_excluded
        assert x.exclusions == y.exclusions and x.n_excluded == y.n_excluded > 0
        assert (x.unit_id == y.unit_id).all() and (x.votes == y.votes).all()
        assert (x.base == y.base).all() and (x.cast == y.cast).all()


def test_replaced_votes_are_not_read_through_the_wide_shortcuts(wide_csv: Path) -> None:
    m = prepare(load([wide_csv]))
    assert m.wide_frames() is not None and m.row_sums() is not None
    edited = replace(m, votes=m.votes.with_columns(pl.col("votes") * 2))
    assert edited.wide_frames() is None and edited.row_sums() is None
    assert edited.contests_with_votes() == ["national"]
    doubled = edited.choice_totals().collect()["votes"].to_list()
    assert doubled == [2 * v for v in m.choice_totals().collect()["votes"].to_list()]
    m.votes = m.votes.with_columns(pl.col("votes") + 1)  # edited in place
    assert m.wide_frames() is None and m.row_sums() is None
