"""Property tests: any wide table enters the model with no row lost, whatever the row order."""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.ingest import LoadOptions, load_one
from fixtures.synth import generate

# Party names: letters of several scripts, spaces, quotes and commas (CSV quoting).
NAME_CHARS = st.characters(
    whitelist_categories=("Lu", "Ll", "Lo"), whitelist_characters=" -'\",«»"
)
party_names = st.lists(
    st.text(NAME_CHARS, min_size=1, max_size=12).map(str.strip).filter(
        lambda s: s != "" and not s.startswith(("re:", "__"))),
    min_size=1, max_size=6, unique_by=lambda s: s.casefold(),
)
RESERVED = {"region", "district", "station", "registered", "ballots_cast", "valid", "invalid"}


@st.composite
def wide_tables(draw: st.DrawFn) -> pl.DataFrame:
    """A synthetic election (fixtures/synth.generate) with random party names and empty rows."""
    names = [n for n in draw(party_names) if n.casefold() not in RESERVED] or ["Ω party"]
    n = draw(st.integers(min_value=1, max_value=60))
    seed = draw(st.integers(min_value=0, max_value=10_000))
    df = generate(n_stations=n, n_regions=3, districts_per_region=2, parties=tuple(names),
                  seed=seed)
    # Some rows with every number empty: they must be rejected, not lost.
    empty_rows = draw(st.lists(st.integers(0, n - 1), max_size=3, unique=True))
    if empty_rows:
        numeric = [c for c in df.columns if c not in ("region", "district", "station")]
        mask = pl.int_range(pl.len()).is_in(empty_rows)
        df = df.with_columns(
            pl.when(mask).then(None).otherwise(pl.col(c)).alias(c) for c in numeric)
    return df


def _load(df: pl.DataFrame, tmp: Path, name: str) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, int]]:
    path = tmp / name
    df.write_csv(path)
    ld = load_one(path, LoadOptions(profile="synthetic"))
    i = ld.info
    counts = {"read": i.rows_read, "model": i.rows_in_model, "published": i.rows_published,
              "rejected": i.rows_rejected}
    units = ld.parts.units.collect().drop("source_row", "source_file")
    votes = ld.parts.votes.collect().drop("source_row")
    return units, votes, counts


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=wide_tables())
def test_no_row_lost_and_votes_equal(df: pl.DataFrame) -> None:
    with tempfile.TemporaryDirectory() as d:
        units, votes, c = _load(df, Path(d), "t.csv")
    assert c["read"] == df.height
    assert c["read"] == c["model"] + c["published"] + c["rejected"]
    n_empty = df.filter(pl.col("registered").is_null()).height
    assert c["rejected"] == n_empty
    assert units.height == df.height - n_empty
    parties = df.columns[7:]
    expected_choices = sorted(parties) if units.height else []
    assert sorted(votes["choice"].unique().to_list()) == expected_choices
    for p in parties:
        assert votes.filter(pl.col("choice") == p)["votes"].sum() == df[p].sum()
    assert units["registered"].sum() == df["registered"].sum()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=wide_tables(), seed=st.integers(0, 2**31 - 1))
def test_row_order_does_not_change_the_model(df: pl.DataFrame, seed: int) -> None:
    shuffled = df.sample(fraction=1.0, shuffle=True, seed=seed)
    with tempfile.TemporaryDirectory() as d:
        u1, v1, c1 = _load(df, Path(d), "a.csv")
        u2, v2, c2 = _load(shuffled, Path(d), "b.csv")
    assert c1 == c2
    assert u1.sort("contest", "unit_id").equals(u2.sort("contest", "unit_id"))
    assert v1.sort("contest", "unit_id", "choice").equals(v2.sort("contest", "unit_id", "choice"))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=6),
                          st.text(st.sampled_from(" \t\r\n\x0b\x0c\x1c\x85\xa0\u2003\u3000ab"),
                                  max_size=4)),
                min_size=1, max_size=8))
def test_the_byte_test_of_clean_columns_agrees_with_stripping(cells: list[str | None]) -> None:
    """`clean_columns` reads each cell's first and last byte before stripping anything: it
    must call a column clean exactly when no cell is empty or changed by stripping."""
    import importlib

    build = importlib.import_module("auditor.ingest.build")
    df = pl.DataFrame({"c": cells}, schema={"c": pl.String})
    stripped = df["c"].str.strip_chars()
    exact = not bool(((stripped != df["c"]) | (df["c"] == "")).any())
    assert (build.clean_columns(df, ["c"]) == {"c"}) is exact


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "c", "000999", "x#2"])),
                min_size=1, max_size=30))
def test_repeated_ids_are_numbered_as_a_running_count_over_every_row_would(
        ids: list[str | None]) -> None:
    """`_number_copies` numbers the copies among the repeated rows alone; it must give what
    a running count over every row's id gives: `__dups` and `id#n` from the second copy."""
    import importlib

    build = importlib.import_module("auditor.ingest.build")
    df = pl.DataFrame({"unit_id": ids, "row": range(len(ids))},
                      schema={"unit_id": pl.String, "row": pl.Int64})
    n = pl.col("unit_id").cum_count().over("unit_id")
    want = df.with_columns(
        pl.len().over("unit_id").alias("__dups"),
        pl.when(n > 1).then(pl.concat_str(pl.col("unit_id"), pl.lit("#"), n.cast(pl.String)))
        .otherwise(pl.col("unit_id")).alias("unit_id"))
    assert build._number_copies(df).equals(want)
