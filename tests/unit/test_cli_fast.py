"""The fast path of `auditor audit` (no Typer import) parses exactly as Typer does and falls
back to Typer for anything unusual; the entry point's read-ahead gives what the readers compute;
the findings writer keeps its bytes."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import sys
import typing
import zipfile
from pathlib import Path
from typing import Any

import pytest
import typer

from auditor import cli, prefetch
from auditor.findings import FINDING_FIELDS, AuditRun, Finding, dumps_json
from auditor.ingest.readers import read_table, sha256_file
from fixtures.synth import generate

ROOT = Path(__file__).resolve().parents[2]


def _kind(annotation: Any) -> str:
    args = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
    base = args[0]
    if typing.get_origin(base) is list:
        return {str: "strs", Path: "paths"}[typing.get_args(base)[0]]
    return {str: "str", Path: "path", int: "int", float: "float", bool: "flag"}[base]


def test_fast_table_matches_typer_options() -> None:
    command = typer.main.get_command(cli.app).commands["audit"]  # type: ignore[attr-defined]
    hints = typing.get_type_hints(cli.audit)
    want: dict[str, tuple[str, str]] = {}
    for p in command.params:
        if p.name == "inputs":
            continue
        kind = _kind(hints[p.name])
        if kind == "flag":
            want.update({o: (p.name, "on") for o in p.opts})
            want.update({o: (p.name, "off") for o in p.secondary_opts})
        else:
            assert p.multiple == (kind in ("strs", "paths")), p.name
            want.update({o: (p.name, kind) for o in p.opts})
    assert want == cli.AUDIT_OPTIONS


def typer_kwargs(argv: list[str]) -> dict[str, Any]:
    """The keyword arguments Typer hands `audit` for `argv`."""
    cli._app()  # the annotations name `typer`, which the app sets in the module
    got: dict[str, Any] = {}

    @functools.wraps(cli.audit)
    def capture(**kw: Any) -> int:
        got.update(kw)
        return 0

    app = typer.Typer()
    app.command("audit")(capture)
    app.command("other")(lambda: None)
    assert app(args=argv, standalone_mode=False) == 0
    return got


DEFAULTS = {k: v.default for k, v in __import__("inspect").signature(cli.audit).parameters.items()
            if v.default is not v.empty}


@pytest.mark.parametrize("argv", [
    ["audit", "a.csv"],
    ["audit", "a.csv", "b.csv", "--skip", "STAT", "--format", "json", "-q"],
    ["audit", "--out", "o", "a.csv", "--only=ARITH,PCT002", "--fail-on", "never", "b.zip"],
    ["audit", "a.csv", "--map", "valid=V", "--map=registered=R=x", "--previous", "p1.csv",
     "--previous", "p2.csv", "--history", "h.csv"],
    ["audit", "a.csv", "--z", "4.5", "--alpha", "1e-3", "--seed", "007", "--reps", "10",
     "--alpha=.2", "--z=3."],
    ["audit", "a.csv", "--timestamp", "--no-timestamp", "--timings", "--quiet"],
    ["audit", "a.csv", "--title", "Россия 2018 = выборы", "--lang", "ru", "--profile",
     "ru-cik", "--encoding", "cp1251", "--delimiter", ";", "--sheet", "2"],
    ["audit", "a.csv", "--only", "", "--title="],
])
def test_fast_args_equal_typer(argv: list[str]) -> None:
    fast = cli._fast_audit_args(argv)
    assert fast is not None
    want = typer_kwargs(argv)
    got = DEFAULTS | fast
    for k in ("map_", "previous", "history"):  # Typer: None when not given, else a list
        want[k] = want[k] or None
        got[k] = got[k] or None
    assert got == want


@pytest.mark.parametrize("argv", [
    [], ["version"], ["audit"], ["audit", "--help"], ["audit", "a.csv", "--help"],
    ["audit", "a.csv", "-h"], ["audit", "--", "a.csv"], ["audit", "a.csv", "-qq"],
    ["audit", "a.csv", "--z", "-1"], ["audit", "a.csv", "--z=-1"], ["audit", "a.csv", "--z=inf"],
    ["audit", "a.csv", "--seed", "1.5"], ["audit", "a.csv", "--reps", "1_000"],
    ["audit", "a.csv", "--quiet=1"], ["audit", "a.csv", "--out"], ["audit", "a.csv", "--ou", "x"],
    ["audit", "a.csv", "--skip", "--quiet"], ["audit", "", "--quiet"], ["audit", "-"],
])
def test_unusual_lines_go_to_typer(argv: list[str]) -> None:
    assert cli._fast_audit_args(argv) is None


def test_fast_and_typer_paths_write_the_same(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "e.csv"
    generate(n_stations=60, seed=4).write_csv(src)
    a, b = tmp_path / "a", tmp_path / "b"
    args = ["--format", "json,csv", "--only", "ARITH,TURN", "--fail-on", "never"]
    assert cli.main(["audit", str(src), "--out", str(a), *args]) == 0
    out_fast = capsys.readouterr().out
    assert cli._run_typer(["audit", "--out", str(b), *args, "--", str(src)]) == 0
    out_typer = capsys.readouterr().out
    assert out_fast.replace(str(a), "O") == out_typer.replace(str(b), "O")
    for name in ("findings.json", "findings.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_entry_point_exits_with_the_audit_code(tmp_path: Path) -> None:
    src = tmp_path / "e.csv"
    generate(n_stations=50, seed=2).write_csv(src)
    out = tmp_path / "o"
    env = {k: v for k, v in os.environ.items() if k != "AUDITOR_DEBUG"}
    p = subprocess.run([sys.executable, "-m", "auditor.cli", "audit", str(src), "--out",
                        str(out), "--format", "json", "--only", "ARITH", "--fail-on", "never"],
                       capture_output=True, text=True, cwd=ROOT, env=env)
    assert p.returncode == 0 and f"json: {out / 'findings.json'}" in p.stdout
    assert json.loads((out / "findings.json").read_text("utf-8"))["schema_version"]
    p = subprocess.run([sys.executable, "-m", "auditor.cli", "audit", str(tmp_path / "nope.csv")],
                       capture_output=True, text=True, cwd=ROOT, env=env)
    assert p.returncode == 2 and "no such file" in p.stderr
    z = tmp_path / "e.zip"  # read ahead by `auditor.prefetch`
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(src, "e.csv")
    p = subprocess.run([sys.executable, "-m", "auditor.cli", "audit", str(z), "--out", str(out),
                        "--format", "json", "--only", "ARITH", "-q", "--fail-on", "never"],
                       capture_output=True, text=True, cwd=ROOT, env=env)
    assert p.returncode == 0 and p.stdout == p.stderr == ""
    (inp,) = json.loads((out / "findings.json").read_text("utf-8"))["inputs"]
    assert inp["sha256"] == hashlib.sha256(z.read_bytes()).hexdigest()
    assert inp["rows_in_model"] == 50


# The findings writer -------------------------------------------------------------------------


def _finding(i: int, **kw: Any) -> Finding:
    base: dict[str, Any] = dict(code=f"ARITH00{i % 3}", name="n", family="ARITH",
                                severity="error", certainty="exact", message=f"m{i}")
    return Finding(**(base | kw))


def test_to_dict_keys_in_field_order() -> None:
    assert tuple(_finding(1).to_dict()) == FINDING_FIELDS


def test_a_finding_made_from_its_values_equals_one_made_by_its_constructor() -> None:
    from dataclasses import FrozenInstanceError, fields

    assert tuple(f.name for f in fields(Finding)) == FINDING_FIELDS
    made = _finding(4, contest="c", unit_id="Обл/1", observed=1.5, votes_affected=7,
                    source_row=9, fingerprint="ab")
    values = tuple(getattr(made, f) for f in FINDING_FIELDS)
    fast = Finding.of(values)
    assert fast == made and hash(fast) == hash(made) and repr(fast) == repr(made)
    assert fast.to_dict() == made.to_dict()
    with pytest.raises(FrozenInstanceError):
        fast.code = "X"  # type: ignore[misc]
    with pytest.raises(ValueError):  # one value short
        Finding.of(values[:-1])


@pytest.mark.parametrize("findings", [
    [],
    [_finding(1)],
    [_finding(i, message=m, unit_id=u, observed=o, key=k) for i, (m, u, o, k) in enumerate([
        ('a "quoted" },{"code": text', "Обл/УИК №1", 1.5, None),
        ("line\nbreak\ttab \u2028 \x00", "}", float("nan"), '},{"code":"X"}'),
        ("ünïcödé ✓", None, 10**20, "{"),
        ("plain", "x", -0.0, ""),
    ])],
])
def test_findings_one_compact_dump_per_line(findings: list[Finding]) -> None:
    run = AuditRun.from_dict({"schema_version": "1.0", "findings": []})
    run.findings = findings
    dicts = [f.to_dict() for f in sorted(findings, key=Finding.sort_key)]
    text = dumps_json(run)
    assert json.loads(text)["findings"] == dicts
    if not dicts:
        assert '"findings": [],' in text
        return
    start = text.index('"findings": [\n') + len('"findings": ')
    lines = text[start:text.index('\n ],\n "figures"') + 3].split("\n")
    assert lines[0] == "[" and lines[-1] == " ]"
    rows = [line.removesuffix(",") for line in lines[1:-1]]
    assert [json.loads(r) for r in rows] == dicts  # one finding a line, in order
    assert all(r.startswith('{"code":') and r.endswith("}") and ": " not in r.split('"message"')[0]
               for r in rows)  # compact


def test_dumps_json_round_trips() -> None:
    run = AuditRun.from_dict({"schema_version": "1.0", "findings": []})
    run.findings = [_finding(3, observed=i / 3, key=str(i)) for i in range(5)]
    doc = json.loads(dumps_json(run))
    assert [f["observed"] for f in doc["findings"]] == [round(i / 3, 10) for i in range(5)]


# Prefetch ------------------------------------------------------------------------------------


def test_prefetch_gives_what_the_readers_compute(tmp_path: Path) -> None:
    csv = tmp_path / "e.csv"
    generate(n_stations=30, seed=5).write_csv(csv)
    z = tmp_path / "e.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(csv, "small.txt")
        zf.writestr("readme.md", "x" * 50_000)
        zf.write(csv, "data/e.csv")
        zf.writestr("data/e2.csv", csv.read_bytes() + b"")  # same size: the first one wins
    prefetch.start([csv, z, tmp_path / "missing.csv", tmp_path])
    assert prefetch.sha256(csv) == hashlib.sha256(csv.read_bytes()).hexdigest()
    assert prefetch.sha256(z) == hashlib.sha256(z.read_bytes()).hexdigest()
    assert prefetch.sha256(tmp_path / "missing.csv") is None
    with zipfile.ZipFile(z) as zf:
        name = max((i for i in zf.infolist() if i.filename.endswith((".csv", ".txt"))),
                   key=lambda i: i.file_size).filename
        assert prefetch.zip_member(z, "other.csv") is None
        assert prefetch.zip_member(z, name) == zf.read(name)
    assert prefetch.zip_member(z, name) is None  # handed out once
    raw = read_table(z)
    assert raw.member == name and raw.sha256 == sha256_file(z)


def test_prefetch_inflates_members_in_one_call_or_leaves_them_to_zipfile(
        tmp_path: Path) -> None:
    """Stored and deflated members are inflated from the raw bytes after their local header
    and CRC-checked; any other method, or a damaged member, is left to `ZipFile.read`. An
    empty file is hashed too (it cannot be mapped)."""
    data = b"region,station,valid\n" + b"North,1,42\n" * 20_000
    z = tmp_path / "m.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr(zipfile.ZipInfo("stored.csv"), data, compress_type=zipfile.ZIP_STORED)
        zf.writestr("deflated.csv", data, compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr("bz.csv", data, compress_type=zipfile.ZIP_BZIP2)
        zf.writestr("Ünïcode name with a long extra.csv", data[:5000],
                    compress_type=zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(z) as zf:
        infos = {i.filename: i for i in zf.infolist()}
        for name in ("stored.csv", "deflated.csv", "Ünïcode name with a long extra.csv"):
            assert prefetch._inflated(z, infos[name]) == zf.read(name)
        assert prefetch._inflated(z, infos["bz.csv"]) is None
    # a flipped byte inside the deflated member: its CRC fails, zipfile reports it
    raw = bytearray(z.read_bytes())
    at = infos["deflated.csv"].header_offset + 30 + len(b"deflated.csv") + 40
    raw[at] ^= 0xFF
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bytes(raw))
    assert prefetch._inflated(bad, infos["deflated.csv"]) is None
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert prefetch.file_sha256(empty) == (hashlib.sha256(b"").hexdigest(), b"")


def test_prefetch_ignores_a_changed_file(tmp_path: Path) -> None:
    p = tmp_path / "e.csv"
    p.write_text("a,b\n1,2\n", encoding="utf-8")
    prefetch.start([p])
    assert prefetch.sha256(p) is not None
    p.write_text("a,b\n1,2\n3,4\n", encoding="utf-8")
    assert prefetch.sha256(p) is None
    assert sha256_file(p) == hashlib.sha256(p.read_bytes()).hexdigest()


def test_the_terminal_summary_counts_in_the_singular_and_plural() -> None:
    from types import SimpleNamespace

    from auditor.cli import summary_lines

    def lines(errors: int, warnings: int) -> list[str]:
        run = SimpleNamespace(inputs=[], findings=[], checks=[], counts_by_severity=lambda: {
            "error": errors, "warning": warnings, "info": 0})
        return summary_lines(run)

    assert lines(1, 1)[:2] == ["verdict: 1 figure cannot be true",
                               "findings: 1 error, 1 warning, 0 info"]
    assert lines(1204, 0)[:2] == ["verdict: 1,204 figures cannot be true",
                                  "findings: 1,204 errors, 0 warnings, 0 info"]


def test_no_verdict_of_hold_together_when_no_check_of_the_figures_ran(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--only REV` without an earlier release: every check is not applicable, so the
    verdict says nothing was checked, in the terminal and in the report."""
    from auditor.cli import main
    from fixtures.synth import generate

    src = tmp_path / "e.csv"
    generate(300, seed=4).write_csv(src)
    out = tmp_path / "o"
    assert main(["audit", str(src), "--only", "REV", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "verdict: no check of the figures could run on these data" in said
    html = (out / "report.html").read_text("utf-8")
    assert "No check of the figures could run on these data" in html
    assert "The published results hold together" not in html
    assert main(["audit", str(src), "--only", "ARITH", "--out", str(tmp_path / "o2"),
                 "--format", "json"]) == 0
    assert "verdict: the published figures hold together" in capsys.readouterr().out
