"""Hartigan's dip: reference values (R package diptest), invariances, bounds, p-values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.stats import StatsInputError, dip_statistic, dip_test

# Reference dips computed by the R package diptest (Maechler), as used in other test suites.
STATFACULTY_LIKE = [1, 0, 0, 1, 0, 1, 1, 2, 0, 5, 4, 1, 1, 3, 2, 2, 2, 2, 3, 1, 2, 1]
STATFACULTY_LIKE += [2, 5, 2, 0, 0, 2, 0, 1, 3, 4, 4, 1, 0, 0, 1, 0, 0, 0, 1, 0, 2]
SPREAD = [-2, 0, 0.25, 0.5, 1, 1.1, 1.2, 1.3, 1.4, 1.5, 2, 3, 4, 4.5]


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        ([1] * 10 + [2] * 10, 0.25),
        ([1, 1, 1, 2, 2, 2, 2, 2, 2.5, 2.5, 2.5], 0.1363636),
        (STATFACULTY_LIKE, 0.1395349),
        (SPREAD, 0.0535714),
    ],
)
def test_reference_values(x: list[float], expected: float) -> None:
    assert dip_statistic(x) == pytest.approx(expected, abs=5e-8)


def test_invariances_and_degenerate_input() -> None:
    x = np.array(SPREAD)
    d = dip_statistic(x)
    assert dip_statistic(x[::-1]) == d
    assert dip_statistic(-x) == pytest.approx(d)
    assert dip_statistic((x - 5) / 3) == pytest.approx(d)
    assert dip_statistic([3.0] * 7) == 0.0
    assert dip_statistic([1.0]) == 0.0
    assert dip_statistic([1.0, np.nan, 2.0, 2.0, 1.0]) == dip_statistic([1.0, 2.0, 2.0, 1.0])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-50, 50), min_size=2, max_size=200))
def test_bounds(values: list[int]) -> None:
    x = np.array(values, dtype=float)
    d = dip_statistic(x)
    if x.min() == x.max():
        assert d == 0.0
    else:
        assert 1 / (2 * x.size) - 1e-12 <= d <= 0.25 + 1e-12


def test_p_values() -> None:
    rng = np.random.default_rng(0)
    bimodal = np.r_[rng.normal(0, 1, 500), rng.normal(6, 1, 500)]
    res = dip_test(bimodal, n_rep=200)
    assert res.p_value == 1 / 201
    dip, p = dip_test(rng.normal(size=1000), n_rep=200)
    assert p > 0.5 and dip < 0.02
    # above max_null_n the √n scaling is used and the answer stays sensible
    assert dip_test(rng.normal(size=5000), n_rep=100, max_null_n=500).p_value > 0.5
    assert (
        dip_test(
            np.r_[rng.normal(0, 1, 3000), rng.normal(5, 1, 3000)], n_rep=100, max_null_n=500
        ).p_value
        == 1 / 101
    )
    assert dip_test([1.0, 2.0]).p_value == 1.0
    with pytest.raises(StatsInputError):
        dip_test([1.0, 2.0], n_rep=0)


def test_shipped_null_table_is_what_the_simulation_gives() -> None:
    """The precomputed uniform nulls are the simulation's own output, not numbers typed in."""
    import json

    from auditor.stats.dip import NULL_TABLE, TABLE_REPS, simulate_uniform_null

    table = json.loads(NULL_TABLE.read_text(encoding="utf-8"))
    assert f"50/{TABLE_REPS}/0" in table
    fresh = simulate_uniform_null(50, TABLE_REPS, 0)
    assert np.allclose(np.asarray(table[f"50/{TABLE_REPS}/0"]), fresh, rtol=0, atol=1e-12)
