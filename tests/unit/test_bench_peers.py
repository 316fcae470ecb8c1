"""The benchmark's "same checks" peers really run auditor's exact checks: on a file with one
problem of every kind, each peer flags exactly the (code, row) pairs that `auditor audit
--only INPUT,ARITH,PCT,AGG` reports. A peer that checked less would look faster than it is.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from auditor.cli import main
from bench.peers import pandas_checks, polars_checks
from fixtures.synth import Injection, generate, inject

COUNT_COLS = ["registered", "ballots_cast", "valid", "invalid",
              "Alpha", "Beta", "Gamma", "Delta", "Epsilon"]


def dirty_election(path: Path) -> None:
    """400 stations with injected identity errors, and cells no count can be read from."""
    df = generate(400, seed=5)
    for inj in (Injection("valid_mismatch", 3), Injection("cast_mismatch", 7),
                Injection("over_registered", 11), Injection("negative", 15)):
        df = inject(df, inj)
    df = df.with_columns(pl.all().cast(pl.String))
    edits = {30: {"valid": "n/a"}, 40: {"Alpha": "12.5"}, 50: {"registered": None},
             60: {"invalid": " "}, 70: {"Beta": "inf"}, 80: dict.fromkeys(COUNT_COLS),
             90: {k: df[k][91] for k in ("region", "district", "station")}}
    i = pl.int_range(pl.len())
    for at, cells in edits.items():
        df = df.with_columns([pl.when(i == at).then(pl.lit(v, pl.String)).otherwise(pl.col(c))
                              .alias(c) for c, v in cells.items()])
    df.write_csv(path)


def _pairs(csv: Path) -> set[tuple[str, int]]:
    rows = pl.read_csv(csv, infer_schema=False)
    return {(code.split(":")[0], int(r)) for r, checks in rows.select("row", "checks").iter_rows()
            for code in checks.split()}


@pytest.fixture(scope="module")
def dirty(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[tuple[str, int]]]:
    d = tmp_path_factory.mktemp("peers")
    src = d / "dirty.csv"
    dirty_election(src)
    assert main(["audit", str(src), "--format", "json", "--quiet", "--fail-on", "never",
                 "--out", str(d / "out"), "--only", "INPUT,ARITH,PCT,AGG"]) == 0
    found = json.loads((d / "out" / "findings.json").read_text("utf-8"))["findings"]
    return src, {(f["code"], int(f["source_row"])) for f in found}


def test_the_audit_finds_every_planted_problem(
        dirty: tuple[Path, set[tuple[str, int]]]) -> None:
    _, found = dirty
    codes = {c for c, _ in found}
    assert codes == {"INPUT001", "INPUT002", "INPUT003", "INPUT004", "INPUT005", "INPUT006",
                     "ARITH001", "ARITH002", "ARITH003"}
    assert len(found) == 15


def test_the_polars_peer_flags_what_the_audit_finds(
        dirty: tuple[Path, set[tuple[str, int]]], tmp_path: Path) -> None:
    src, found = dirty
    counts = polars_checks.same_checks(str(src), str(tmp_path / "pl.csv"))
    assert _pairs(tmp_path / "pl.csv") == found
    assert sum(v for k, v in counts.items() if k != "rows_flagged") == len(found)
    assert counts["rows_flagged"] == len({r for _, r in found})


def test_the_pandas_peer_flags_what_the_audit_finds(
        dirty: tuple[Path, set[tuple[str, int]]], tmp_path: Path) -> None:
    src, found = dirty
    out = tmp_path / "pd.csv"
    assert pandas_checks.main([str(src), "--registered", "registered", "--valid", "valid",
                               "--invalid", "invalid", "--cast", "ballots_cast",
                               "--choices-from", "7", "--key", "region", "district",
                               "station", "--same", str(out)]) == 0
    assert _pairs(out) == found


def test_on_parquet_the_peers_and_the_audit_agree_too(tmp_path: Path) -> None:
    """Typed columns (Parquet): the same rows, numbered from 1 as auditor numbers them."""
    df = generate(300, seed=8)
    for inj in (Injection("valid_mismatch", 4), Injection("over_registered", 9),
                Injection("negative", 20)):
        df = inject(df, inj)
    src = tmp_path / "e.parquet"
    df.vstack(df.slice(100, 1)).write_parquet(src)  # a duplicated station last
    assert main(["audit", str(src), "--format", "json", "--quiet", "--fail-on", "never",
                 "--out", str(tmp_path / "out"), "--only", "INPUT,ARITH,PCT,AGG"]) == 0
    found = {(f["code"], int(f["source_row"])) for f in json.loads(
        (tmp_path / "out" / "findings.json").read_text("utf-8"))["findings"]}
    assert ("INPUT003", 301) in found and ("ARITH003", 10) in found
    polars_checks.same_checks(str(src), str(tmp_path / "pl.csv"))
    assert _pairs(tmp_path / "pl.csv") == found
    pandas_checks.main([str(src), "--registered", "registered", "--valid", "valid",
                        "--invalid", "invalid", "--cast", "ballots_cast", "--choices-from",
                        "7", "--key", "region", "district", "station", "--same",
                        str(tmp_path / "pd.csv")])
    assert _pairs(tmp_path / "pd.csv") == found


def test_the_read_peer_reads_every_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "e.csv"
    generate(123, seed=2).write_csv(src)
    assert polars_checks.main([str(src), "--read"]) == 0
    assert json.loads(capsys.readouterr().out) == {"rows": 123}
