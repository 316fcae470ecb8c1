"""TURN002 calibration: clean synthetic elections stay within the nominal false-alarm rate, and
an injected +40 points of turnout is caught.

The synthetic elections (fixtures/synth.py) have regional turnout differences (sd ≈ 10
points), district effects (`district_sd`), station sizes from 50 to several thousand voters,
and binomial invalid ballots: the variation a real election shows without fraud.
"""

from __future__ import annotations

import polars as pl
import pytest

from auditor.model import Model
from checks import turn
from fixtures.synth import Injection, generate

EMPTY_VOTES = pl.LazyFrame(schema={"contest": pl.String, "unit_id": pl.String,
                                   "choice": pl.String, "votes": pl.Int64})


def as_model(df: pl.DataFrame, **options: float) -> Model:
    """A model of a synthetic election's units (votes are not needed by TURN002)."""
    units = df.select(pl.lit("national").alias("contest"), pl.col("station").alias("unit_id"),
                      "region", "district", "registered", "ballots_cast", "valid", "invalid")
    return Model(units=units.lazy(), votes=EMPTY_VOTES, hierarchy=["region", "district"],
                 options=dict(options))


@pytest.fixture(scope="module")
def clean_elections() -> list[pl.DataFrame]:
    """Three clean elections of 25,000 stations in 100 districts (75,000 units)."""
    return [generate(n_stations=25_000, seed=s, n_regions=10, districts_per_region=10,
                     district_sd=0.3) for s in range(3)]


@pytest.mark.parametrize("z", [3.5, 4.0, turn.DEFAULT_Z])
def test_false_alarm_rate_at_most_nominal(clean_elections: list[pl.DataFrame], z: float) -> None:
    flagged = 0
    tests = 0
    for df in clean_elections:
        flagged += turn.rate_outlier(as_model(df, z=z)).rows.height
        tests += 2 * df.height  # turnout and invalid share per unit
    # Observed rate ≤ nominal rate (two-sided normal tail at z), per unit and measure.
    assert flagged / tests <= turn.nominal_rate(z)
    if z == 3.5:
        assert flagged > 0  # the rate is measured, not trivially zero


def test_clean_election_without_district_effects_has_no_warning_at_default_z() -> None:
    df = generate(n_stations=4_000, seed=11, n_regions=4, districts_per_region=5)
    assert turn.rate_outlier(as_model(df)).rows.height == 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_injected_40_points_of_turnout_is_flagged(seed: int) -> None:
    base = generate(n_stations=4_000, seed=seed, n_regions=4, districts_per_region=5)
    t = base.with_columns((pl.col("ballots_cast") / pl.col("registered")).alias("t"),
                          pl.int_range(pl.len()).alias("i"))
    t = t.with_columns((pl.col("t") - pl.col("t").median().over("district")).alias("dev"))
    # A typical station (within 3 points of its district median) of typical size.
    pick = t.filter((pl.col("dev").abs() < 0.03) & (pl.col("t") < 0.58)
                    & (pl.col("registered") > 800)).row(0, named=True)
    amount = round(0.40 * pick["registered"])
    df = generate(n_stations=4_000, seed=seed, n_regions=4, districts_per_region=5,
                  injections=(Injection("stuffing", pick["i"], amount),))
    rows = turn.rate_outlier(as_model(df)).rows
    assert isinstance(rows, pl.DataFrame)
    hits = rows.filter(pl.col("key") == "turnout")
    assert hits["unit_id"].to_list() == [pick["station"]]
    assert hits["observed"][0] == pytest.approx(100 * pick["t"] + 40, abs=0.2)
