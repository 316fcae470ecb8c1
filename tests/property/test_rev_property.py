"""Properties of release comparison on synthetic elections (hypothesis).

- a release diffed with itself gives no finding;
- the same release with its rows shuffled gives no finding (with a key, and without one:
  then units are matched by content);
- changing one vote cell of one station gives exactly one REV002, at that station, with the
  right old → new values, and nothing else of REV001/REV002.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.engine import audit
from auditor.findings import AuditRun
from auditor.ingest import LoadOptions, load
from fixtures.synth import PARTIES, generate

SETTINGS = settings(max_examples=12, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
KEYLESS = """
name = "keyless-synthetic"
[units]
key = []
hierarchy = { region = "region" }
contest = "national"
[columns]
registered = "registered"
ballots_cast = "ballots_cast"
valid = "valid"
invalid = "invalid"
[choices]
rest = true
ignore = ["region", "district", "station"]
"""


def diff(old: pl.DataFrame, new: pl.DataFrame, keyless: bool = False) -> AuditRun:
    with tempfile.TemporaryDirectory() as d:
        a, b = Path(d) / "old.csv", Path(d) / "new.csv"
        old.write_csv(a)
        new.write_csv(b)
        profile = None
        if keyless:
            p = Path(d) / "keyless.toml"
            p.write_text(KEYLESS, encoding="utf-8")
            profile = str(p)
        m = load([b], LoadOptions(profile=profile))
        m.previous = [load([a], LoadOptions(profile=profile))]
        return audit(m, only=["REV"])


elections = st.builds(
    generate,
    n_stations=st.integers(min_value=20, max_value=300),
    n_regions=st.integers(min_value=1, max_value=4),
    seed=st.integers(min_value=0, max_value=10_000),
)


@SETTINGS
@given(df=elections)
def test_release_diffed_with_itself_gives_nothing(df: pl.DataFrame) -> None:
    run = diff(df, df)
    assert run.findings == []
    assert run.summary["revisions"]["same"] == df.height


@SETTINGS
@given(df=elections, shuffle_seed=st.integers(min_value=0, max_value=10_000))
def test_shuffled_rows_give_nothing(df: pl.DataFrame, shuffle_seed: int) -> None:
    shuffled = df.sample(fraction=1.0, shuffle=True, seed=shuffle_seed)
    assert diff(df, shuffled).findings == []


@SETTINGS
@given(df=elections, shuffle_seed=st.integers(min_value=0, max_value=10_000))
def test_shuffled_rows_without_key_are_matched_by_content(df: pl.DataFrame,
                                                           shuffle_seed: int) -> None:
    shuffled = df.sample(fraction=1.0, shuffle=True, seed=shuffle_seed)
    run = diff(df, shuffled, keyless=True)
    s = run.summary["revisions"]
    # Two stations with identical numbers in one region cannot be told apart, but pairing
    # them either way changes nothing: still no finding.
    assert run.findings == []
    assert s["same"] == df.height and s["added"] == s["removed"] == 0


@SETTINGS
@given(df=elections, data=st.data())
def test_one_changed_cell_gives_exactly_one_rev002(df: pl.DataFrame, data: st.DataObject) -> None:
    i = data.draw(st.integers(min_value=0, max_value=df.height - 1), label="station")
    party = data.draw(st.sampled_from(PARTIES), label="party")
    bump = data.draw(st.integers(min_value=1, max_value=50), label="bump")
    old_v = int(df[party][i])
    new = df.with_columns(
        pl.when(pl.int_range(pl.len()) == i).then(pl.col(party) + bump)
        .otherwise(pl.col(party)).alias(party)
    )
    run = diff(df, new)
    rev2 = [f for f in run.findings if f.code == "REV002"]
    assert len(rev2) == 1
    f = rev2[0]
    row = df.row(i, named=True)
    assert f.unit_id == f"{row['region']}/{row['district']}/{row['station']}"
    assert (f.choice, f.expected, f.observed, f.delta) == (party, old_v, old_v + bump, bump)
    assert [x for x in run.findings if x.code == "REV001"] == []
