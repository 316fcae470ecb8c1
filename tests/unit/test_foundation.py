"""The foundation: engine, findings, CLI exit codes and determinism on synthetic elections."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditor.cli import exit_code_for, main
from auditor.engine import audit, not_applicable_reason, prepare
from auditor.findings import (
    FINDING_FIELDS,
    AuditRun,
    Finding,
    dumps_csv,
    dumps_json,
    fingerprint_of,
    fingerprints_of,
    neutralise_cell,
)
from auditor.ingest import LoadOptions, load
from auditor.model import Model
from auditor.registry import REGISTRY, load_catalogue
from fixtures.synth import Injection, generate

FIX_STAT002_BAD = Path(__file__).resolve().parents[2] / "fixtures" / "checks" / "STAT002" / "bad.csv"


def _write(tmp_path: Path, df: pl.DataFrame, name: str = "e.csv") -> Path:
    p = tmp_path / name
    df.write_csv(p)
    return p


def test_clean_synthetic_election_has_no_input_findings(tmp_path: Path) -> None:
    src = _write(tmp_path, generate(500, seed=3))
    m = prepare(load([src]))
    run = audit(m, only=["INPUT"])
    assert [f.code for f in run.findings] == []
    assert run.inputs[0].rows_read == 500
    assert run.inputs[0].rows_in_model == 500
    assert run.inputs[0].balanced


def test_negative_count_found_by_schema_validation(tmp_path: Path) -> None:
    df = generate(200, seed=4, injections=(Injection("negative", 17),))
    m = prepare(load([_write(tmp_path, df)]))
    run = audit(m, only=["INPUT005"])
    assert len(run.findings) == 1
    f = run.findings[0]
    assert f.unit_id is not None and f.unit_id.endswith("/000018")
    assert f.source_row == 19  # header is row 1, station 18 is data row 18


def test_rows_with_garbage_cells_are_reported_not_dropped(tmp_path: Path) -> None:
    df = generate(50, seed=5).with_columns(pl.col("invalid").cast(pl.String))
    df = df.with_columns(
        pl.when(pl.int_range(pl.len()) == 3).then(pl.lit("12a")).otherwise(pl.col("invalid"))
        .alias("invalid"),
        pl.when(pl.int_range(pl.len()) == 5).then(pl.lit("7.5")).otherwise(pl.col("invalid"))
        .alias("invalid2"),
    ).drop("invalid2")
    empty = pl.DataFrame({c: [None] for c in df.columns}, schema=df.schema).with_columns(
        pl.lit("Region 01").alias("region"), pl.lit("District 001").alias("district"),
        pl.lit("999999").alias("station"))
    df = pl.concat([df, empty])
    src = _write(tmp_path, df)
    m = prepare(load([src]))
    run = audit(m, only=["INPUT"])
    codes = sorted(f.code for f in run.findings)
    assert codes == ["INPUT001", "INPUT002"]
    info = run.inputs[0]
    assert (info.rows_read, info.rows_in_model, info.rows_rejected) == (51, 50, 1)
    bad = next(f for f in run.findings if f.code == "INPUT001")
    assert bad.source_row == 5 and "12a" in bad.message and bad.key == "invalid"


def test_not_applicable_reason_names_the_missing_column() -> None:
    m = Model(units=pl.LazyFrame({"contest": ["a"], "unit_id": ["1"]}),
              votes=pl.LazyFrame({"contest": ["a"], "unit_id": ["1"], "choice": ["x"],
                                  "votes": [1]}))
    spec = next(iter(load_catalogue().values()))
    fake = type(spec)(**{**spec.__dict__, "requires": ("registered",)})
    assert not_applicable_reason(fake, m) == "no `registered` column"


def test_a_failing_check_is_recorded_and_others_still_run(tmp_path: Path) -> None:
    from auditor.registry import check

    @check(code="STAT999", name="always-fails", severity="info")
    def boom(m: Model) -> pl.LazyFrame:
        """What: test. Why it matters: test. Example: test."""
        raise RuntimeError("boom")

    try:
        m = prepare(load([_write(tmp_path, generate(30, seed=1))]))
        run = audit(m, only=["STAT999", "INPUT001"])
        st = {c.code: c.status for c in run.checks}
        assert st == {"INPUT001": "ok", "STAT999": "failed"}
    finally:
        REGISTRY.pop("STAT999", None)


def test_fingerprint_ignores_numbers_but_not_place() -> None:
    a = fingerprint_of("ARITH001", "c", "u1", None, None)
    assert a == fingerprint_of("ARITH001", "c", "u1", None, None)
    assert a != fingerprint_of("ARITH001", "c", "u2", None, None)
    assert a != fingerprint_of("ARITH002", "c", "u1", None, None)


_maybe_text = st.none() | st.text(max_size=12)


@given(st.lists(st.tuples(_maybe_text, _maybe_text, _maybe_text, _maybe_text), max_size=8))
def test_fingerprints_of_many_are_those_of_each(rows: list[tuple[str | None, ...]]) -> None:
    cols = [list(c) for c in zip(*rows, strict=True)] if rows else [[], [], [], []]
    assert fingerprints_of("TURN002", *cols) == [fingerprint_of("TURN002", *r) for r in rows]


def test_formula_like_cells_are_neutralised_numbers_are_not() -> None:
    assert neutralise_cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert neutralise_cell("-3") == "-3"
    assert neutralise_cell("+@cmd") == "'+@cmd"
    assert neutralise_cell("Ata-Jurt") == "Ata-Jurt"


def test_json_has_no_nan_and_round_trips() -> None:
    f = Finding(code="PCT001", name="n", family="PCT", severity="error", certainty="exact",
                message="inf", observed=float("inf"), expected=float("nan"), delta=1.5)
    run = AuditRun(tool_version="t", inputs=[], checks=[], findings=[f])
    doc = json.loads(dumps_json(run))
    assert doc["findings"][0]["observed"] is None and doc["findings"][0]["delta"] == 1.5
    again = AuditRun.from_dict(doc)
    assert again.findings[0].message == "inf"
    assert dumps_csv(run).splitlines()[0].startswith("code,name,family,severity")


class _Name(str):
    """A text cell of a subclass of str (what a library may hand over)."""


_cell_text = st.sampled_from(["", "=SUM(A1)", "+7", "-3", "-x", "@me", "\tt", "plain", "Обл/1"])
_cell_number = st.none() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True)


@given(st.lists(st.tuples(_cell_text, _cell_text, _cell_number, _cell_number,
                          st.none() | st.booleans() | st.integers(-5, 5)), max_size=6))
def test_csv_cells_are_the_text_of_the_values_with_formulas_neutralised(
        rows: list[tuple[Any, ...]]) -> None:
    findings = [Finding(code="PCT001", name="n", family="PCT", severity="error",
                        certainty="exact", message=m, unit_id=u, path=_Name(m), observed=o,
                        delta=d, votes_affected=va, key=str(i))
                for i, (m, u, o, d, va) in enumerate(rows)]
    run = AuditRun(tool_version="t", inputs=[], checks=[], findings=findings)
    want = [list(FINDING_FIELDS)] + [
        ["" if v is None else neutralise_cell(str(v)) for v in f.to_dict().values()]
        for f in sorted(findings, key=Finding.sort_key)]
    assert list(csv.reader(io.StringIO(dumps_csv(run)))) == want


@pytest.mark.parametrize(("worst", "fail_on", "code"), [
    (None, "error", 0), ("warning", "error", 0), ("error", "error", 1),
    ("warning", "warning", 1), ("info", "warning", 0), ("error", "never", 0),
])
def test_exit_code_follows_fail_on(worst: str | None, fail_on: str, code: int) -> None:
    assert exit_code_for(worst, fail_on) == code


def test_cli_audit_is_byte_identical_across_runs(tmp_path: Path) -> None:
    src = _write(tmp_path, generate(300, seed=9, injections=(Injection("negative", 3),)))
    outs = []
    for i in range(2):
        out = tmp_path / f"o{i}"
        assert main(["audit", str(src), "--out", str(out), "--format", "json,csv", "-q"]) == 1
        outs.append(((out / "findings.json").read_bytes(), (out / "findings.csv").read_bytes()))
    assert outs[0] == outs[1]
    doc = json.loads(outs[0][0])
    assert doc["schema_version"] == "1.0"
    assert doc["inputs"][0]["rows_read"] == 300
    assert {c["status"] for c in doc["checks"]} <= {"ok", "findings", "not_applicable"}


def test_cli_bad_usage_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _write(tmp_path, generate(20, seed=1))
    assert main(["audit", str(src), "--format", "pdf"]) == 2
    assert "--format" in capsys.readouterr().err
    assert main(["audit", str(src), "--fail-on", "sometimes"]) == 2
    assert main(["explain", "NOPE001"]) == 2
    assert main(["audit", str(tmp_path / "missing.csv")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_explain_prints_what_why_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "input003"]) == 0
    out = capsys.readouterr().out
    assert "INPUT003 duplicated-unit-key" in out
    for part in ("What:", "Why it matters:", "Example:"):
        assert part in out


def test_options_reach_the_model(tmp_path: Path) -> None:
    src = _write(tmp_path, generate(20, seed=1))
    m = load([src], LoadOptions())
    m.options = {"z": 4.0}
    assert m.rule("z") == 4.0
    assert m.rule("seats") == 100  # from the synthetic profile
    assert m.rule("nothing", "d") == "d"


def test_checks_two_at_a_time_give_what_one_at_a_time_gives(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine runs the checks of a table up to `PARALLEL_MAX_UNITS` units two at a time
    and gathers them in the catalogue's order: the run must be the same, byte for byte, as
    the checks one after the other (statistical ones included, findings and figures)."""
    from auditor import engine
    from auditor.stats import from_model

    m = prepare(load([FIX_STAT002_BAD]))
    m.options = {"alpha": 0.05, "seed": 0, "reps": 200}
    assert engine.check_workers(m) == min(2, os.cpu_count() or 1)
    both = audit(m)
    from_model._CACHE.clear()  # the station arrays are made again, one check at a time
    monkeypatch.setattr(engine, "PARALLEL_MAX_UNITS", 0)
    assert engine.check_workers(m) == 1
    alone = audit(m)
    assert dumps_json(both) == dumps_json(alone)
    assert {f.code for f in both.findings} >= {"STAT002"}
    assert len(both.checks) == len(load_catalogue()) and both.figures
