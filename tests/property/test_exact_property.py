"""Exact checks on seeded synthetic elections (fixtures/synth.py), end to end through a CSV.

Properties: a clean election gives no INPUT/ARITH/AGG finding at all; one injected error of
each kind gives exactly one exact finding, of the right code, at the right unit; a
consistent stuffing (all identities kept, within the register) gives none.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from auditor.engine import audit, prepare
from auditor.findings import AuditRun
from auditor.ingest import LoadOptions, load
from fixtures.synth import PARTIES, Injection, generate

EXACT = ["INPUT", "ARITH", "AGG"]
PROFILE = """
name = "synthetic-plus"
extends = "synthetic"

[columns]
ballots_received = "ballots_received"
voters_by_noon = "by_noon"
voters_by_afternoon = "by_afternoon"

[published]
total_rows = [{ column = "station", values = ["Total"], level = "total" }]

[[rules.relations]]
name = "noon-before-afternoon"
words = "Signatures by noon cannot exceed signatures by the afternoon"
lhs = ["voters_by_noon"]
op = "<="
rhs = ["voters_by_afternoon"]
"""

SETTINGS = settings(max_examples=8, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def add_columns(df: pl.DataFrame) -> pl.DataFrame:
    """Add the columns the synthetic generator lacks, consistently: ballots received, and
    signatures by noon and by the afternoon."""
    return df.with_columns(
        # the box received a ballot for every voter on the list (and every ballot cast)
        pl.max_horizontal("registered", "ballots_cast").alias("ballots_received"),
        (pl.col("ballots_cast") // 3).alias("by_noon"),
        (pl.col("ballots_cast") * 2 // 3).alias("by_afternoon"),
    )


def with_total(df: pl.DataFrame) -> pl.DataFrame:
    """Append the published total row (station `Total`) = the sum of every count."""
    nums = [c for c in df.columns if c not in ("region", "district", "station")]
    total = df.select(pl.lit("Total region").alias("region"), pl.lit("Total").alias("district"),
                      pl.lit("Total").alias("station"), *[pl.col(c).sum() for c in nums])
    return pl.concat([df, total.cast(df.schema)])


def extend(df: pl.DataFrame) -> pl.DataFrame:
    """The generated election with the extra columns and its published total row."""
    return with_total(add_columns(df))


def set_cell(df: pl.DataFrame, row: int, col: str, value: pl.Expr) -> pl.DataFrame:
    at = pl.int_range(pl.len()) == row
    return df.with_columns(pl.when(at).then(value).otherwise(pl.col(col)).alias(col))


def run_audit(df: pl.DataFrame, folder: Path) -> AuditRun:
    folder.mkdir(parents=True, exist_ok=True)
    src, prof = folder / "e.csv", folder / "p.toml"
    df.write_csv(src)
    prof.write_text(PROFILE, encoding="utf-8")
    return audit(prepare(load([src], LoadOptions(profile=str(prof)))), only=EXACT)


def unit_of(df: pl.DataFrame, i: int) -> str:
    r = df.row(i, named=True)
    return f"{r['region']}/{r['district']}/{r['station']}"


elections = st.tuples(st.integers(0, 10_000), st.integers(30, 200))


@SETTINGS
@given(elections)
def test_clean_election_has_no_exact_finding(tmp_path: Path, e: tuple[int, int]) -> None:
    seed, n = e
    run = run_audit(extend(generate(n, seed=seed)), tmp_path / f"c{seed}_{n}")
    assert [(f.code, f.unit_id) for f in run.findings] == []
    ran = {s.code for s in run.checks if s.status == "ok"}
    # every exact check had something to check on this table (none silently skipped)
    assert {"ARITH001", "ARITH002", "ARITH003", "ARITH004", "ARITH005", "AGG001"} <= ran


SYNTH_KINDS = {"valid_mismatch": "ARITH001", "cast_mismatch": "ARITH002",
               "over_registered": "ARITH003"}


@SETTINGS
@given(elections, st.sampled_from(sorted(SYNTH_KINDS)), st.integers(0, 10_000),
       st.integers(1, 400))
def test_one_injected_error_gives_one_finding(tmp_path: Path, e: tuple[int, int], kind: str,
                                              pick: int, amount: int) -> None:
    seed, n = e
    i = pick % n
    clean = generate(n, seed=seed)
    if kind == "cast_mismatch":
        # Raising ballots cast beyond the register would also (rightly) be ARITH003.
        room = clean.row(i, named=True)
        assume(room["ballots_cast"] + amount <= room["registered"])
    df = extend(generate(n, seed=seed, injections=(Injection(kind, i, amount),)))
    run = run_audit(df, tmp_path / f"i{seed}_{n}_{kind}_{i}_{amount}")
    assert [(f.code, f.unit_id) for f in run.findings] == [(SYNTH_KINDS[kind], unit_of(df, i))]
    assert run.findings[0].votes_affected == amount


@SETTINGS
@given(elections, st.sampled_from(["received_short", "noon_after_afternoon", "total_off"]),
       st.integers(0, 10_000), st.integers(1, 400))
def test_one_injected_error_in_the_extra_columns(tmp_path: Path, e: tuple[int, int], kind: str,
                                                 pick: int, amount: int) -> None:
    seed, n = e
    i = pick % n
    df = add_columns(generate(n, seed=seed))
    if kind == "received_short":
        amount = min(amount, int(df["ballots_cast"][i]))  # a count stays ≥ 0
        assume(amount >= 1)
        df = with_total(set_cell(df, i, "ballots_received", pl.col("ballots_cast") - amount))
        code, where, key = "ARITH004", unit_of(df, i), "cast>received"
    elif kind == "noon_after_afternoon":
        df = with_total(set_cell(df, i, "by_noon", pl.col("by_afternoon") + amount))
        code, where, key = "ARITH005", unit_of(df, i), "noon-before-afternoon"
    else:
        df = set_cell(with_total(df), n, PARTIES[1], pl.col(PARTIES[1]) + amount)
        code, where, key = "AGG001", "Total region/Total/Total", "votes"
    run = run_audit(df, tmp_path / f"x{seed}_{n}_{kind}_{i}_{amount}")
    got = [(f.code, f.unit_id, f.key) for f in run.findings]
    assert got == [(code, where, key)]
    f = next(f for f in run.findings if f.code == code)
    assert f.votes_affected == amount
    if kind == "total_off":
        assert f.choice == PARTIES[1]


@SETTINGS
@given(elections, st.integers(0, 10_000), st.integers(1, 400))
def test_consistent_stuffing_is_not_an_exact_finding(tmp_path: Path, e: tuple[int, int],
                                                     pick: int, amount: int) -> None:
    seed, n = e
    i = pick % n
    df = generate(n, seed=seed, injections=(Injection("stuffing", i, amount),))
    run = run_audit(df, tmp_path / f"s{seed}_{n}_{i}_{amount}")
    assert [(f.code, f.unit_id) for f in run.findings] == []


@SETTINGS
@given(elections, st.integers(0, 10_000))
def test_negative_count_is_input005_and_breaks_the_ballot_identity(
        tmp_path: Path, e: tuple[int, int], pick: int) -> None:
    seed, n = e
    i = pick % n
    df = generate(n, seed=seed, injections=(Injection("negative", i),))
    run = run_audit(df, tmp_path / f"n{seed}_{n}_{i}")
    assert sorted((f.code, f.unit_id) for f in run.findings) == [
        ("ARITH002", unit_of(df, i)), ("INPUT005", unit_of(df, i))]
