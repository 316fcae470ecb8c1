"""The statistical tests on Russia's 2018 presidential election (Shpilkin / Kobak data).

Kobak, Shpilkin & Pshenichnikov (2016) and later notes report integer-percentage spikes in
turnout and in Putin's share and a turnout–share "comet" in these data. Values measured
with this code: turnout (valid + invalid / registered) 18,978 integer stations against
17,672 ± 102 expected (z = 12.8, p at the 1e-12 floor), largest excesses at 95, 90, 98, 85,
71, 70 %; Putin's share of valid + invalid 24,810 against 23,744 ± 109 (z = 9.8), largest at
75, 90, 80, 85, 77, 95 %; fingerprint corner within regions 914 against 425 expected.
"""

from __future__ import annotations

import io
import os
import zipfile
from functools import cache
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from auditor.stats import fingerprint, integer_spikes, kobak_inclusion

pytestmark = pytest.mark.integration

PATH = Path(__file__).parents[2].parent / "shared" / "data" / "ru_shpilkin_kobak" / "2018.csv.zip"
REGISTERED = "Число избирателей, включенных в список избирателей"
VALID = "Число действительных избирательных бюллетеней"
INVALID = "Число недействительных избирательных бюллетеней"
PUTIN = "Путин Владимир Владимирович"


@cache
def columns() -> dict[str, np.ndarray]:
    if not PATH.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{PATH} is missing, and CI=true requires the shared data")
        pytest.skip(f"real data not available: {PATH} is absent (../shared/data)")
    with zipfile.ZipFile(PATH) as z:
        (name,) = z.namelist()
        frame = pl.read_csv(io.BytesIO(z.read(name)))
    return {
        "registered": frame[REGISTERED].to_numpy(),
        "cast": (frame[VALID] + frame[INVALID]).to_numpy(),
        "putin": frame[PUTIN].to_numpy(),
        "region": frame["region"].to_numpy(),
    }


def test_integer_turnout_and_share_spikes() -> None:
    c = columns()
    assert c["registered"].size == 97_699
    mask = kobak_inclusion(c["registered"], c["cast"], c["putin"])
    turnout = integer_spikes(c["cast"], c["registered"], mask)
    share = integer_spikes(c["putin"], c["cast"], mask, histogram=False)
    for r in (turnout, share):
        assert r.p_value <= 1e-9
        assert r.z > 8
        top = set(np.argsort(r.integer_excess)[::-1][:4].tolist())
        assert len(top & {75, 80, 85, 90, 95}) >= 2  # round figures, not arithmetic
    # the excess is visible bin by bin: at 95 % turnout the count is above the envelope
    assert turnout.hist_null_hi is not None
    assert turnout.hist_observed[950] > turnout.hist_null_hi[950]


def test_fingerprint_comet() -> None:
    c = columns()
    voted = c["cast"] > 0
    r = fingerprint(
        c["cast"][voted] / c["registered"][voted],
        c["putin"][voted] / c["cast"][voted],
        c["registered"][voted],
        regions=c["region"][voted],
        n_rep=200,
    )
    assert r.p_value == 1 / 201
    assert r.corner.observed > 1.5 * r.corner.expected
    assert r.extreme.p_value == 1 / 201
