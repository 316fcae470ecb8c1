"""Chi-square tail and regularized gamma against published table values."""

from __future__ import annotations

import math

import pytest

from auditor.stats import chi2_sf, regularized_gamma_q


@pytest.mark.parametrize(
    ("x", "df", "expected"),
    [
        # 95 % and 99 % critical values from any chi-square table
        (3.841458820694124, 1, 0.05),
        (16.918977604620448, 9, 0.05),
        (21.665994333461924, 9, 0.01),
        (6.634896601021214, 1, 0.01),
        (9.487729036781154, 4, 0.05),
        # chi2(2) is exponential with mean 2: sf(x) = exp(-x / 2)
        (10.0, 2, math.exp(-5.0)),
        # a far tail (series would underflow if done naively): R pchisq(100, 9, lower=FALSE)
        (100.0, 9, 1.5735176303753e-17),
    ],
)
def test_chi2_sf_table_values(x: float, df: int, expected: float) -> None:
    assert chi2_sf(x, df) == pytest.approx(expected, rel=1e-9)


def test_chi2_sf_edges() -> None:
    assert chi2_sf(0.0, 9) == 1.0
    assert chi2_sf(-1.0, 3) == 1.0
    assert math.isnan(chi2_sf(math.nan, 3))
    assert chi2_sf(math.inf, 3) == 0.0


def test_regularized_gamma_q_closed_forms() -> None:
    for x in (0.1, 1.0, 2.5, 7.0, 40.0):
        # Q(1, x) = exp(-x); Q(2, x) = (1 + x) exp(-x)
        assert regularized_gamma_q(1.0, x) == pytest.approx(math.exp(-x), rel=1e-12)
        assert regularized_gamma_q(2.0, x) == pytest.approx((1 + x) * math.exp(-x), rel=1e-12)
    # Q(1/2, x) = erfc(sqrt(x)), on both sides of the series / continued-fraction switch
    for x in (0.2, 1.4, 1.6, 9.0):
        assert regularized_gamma_q(0.5, x) == pytest.approx(math.erfc(math.sqrt(x)), rel=1e-12)


@pytest.mark.parametrize(("a", "x"), [(0.0, 1.0), (-1.0, 1.0), (1.0, -0.5), (1.0, math.nan)])
def test_regularized_gamma_q_rejects_bad_input(a: float, x: float) -> None:
    with pytest.raises(ValueError):
        regularized_gamma_q(a, x)
