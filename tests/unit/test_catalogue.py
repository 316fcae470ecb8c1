"""The whole check catalogue, one parametrised test per check.

Every registered check must have:
- documentation with What / Why it matters / Example sections (`auditor explain CODE`),
- a stable code of a known family and a kebab-case name,
- a folder `fixtures/checks/<CODE>/` with `good.csv` (the check runs and finds nothing of its
  code), `bad.csv` (the check finds at least one finding of its code) and a `README` saying
  what the bad example shows.

Optional files in the folder: `profile.toml` (passed as `--profile`), `previous.csv` (an
earlier release, `--previous`; `good.previous.csv` / `bad.previous.csv` override it per
example) and `options.toml` (run options such as `seed`, `reps`, `z`, merged into
`Model.options`).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from auditor.cli import build_options, main
from auditor.engine import audit, prepare
from auditor.findings import AuditRun
from auditor.ingest import LoadOptions, load
from auditor.registry import FAMILIES, load_catalogue

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures" / "checks"
CATALOGUE = load_catalogue()
CODES = sorted(CATALOGUE)
_CODE_RE = re.compile(r"^(" + "|".join(FAMILIES) + r")\d{3}$")


def run_example(code: str, kind: str) -> AuditRun:
    """Audit `fixtures/checks/<code>/<kind>.csv` with only `code` selected."""
    folder = FIXTURES / code
    csv = folder / f"{kind}.csv"
    if not csv.exists():
        pytest.fail(f"{csv.relative_to(ROOT)} is missing: every check needs a tiny {kind} "
                    "example (see tests/unit/test_catalogue.py for the folder layout)")
    profile = folder / "profile.toml"
    opts = LoadOptions(profile=str(profile) if profile.exists() else None)
    m = load([csv], opts)
    extra = {}
    options = folder / "options.toml"
    if options.exists():
        extra = tomllib.loads(options.read_text(encoding="utf-8"))
    m.options = build_options(None, 0.05, 0, 1000, None, extra)
    prev = folder / f"{kind}.previous.csv"
    if not prev.exists():
        prev = folder / "previous.csv"
    if prev.exists():
        m.previous.append(load([prev], opts))
    prepare(m)
    return audit(m, only=[code])


@pytest.mark.parametrize("code", CODES)
def test_check_is_documented(code: str, capsys: pytest.CaptureFixture[str]) -> None:
    spec = CATALOGUE[code]
    assert _CODE_RE.match(code), f"{code}: not a code of a known family {sorted(FAMILIES)}"
    assert spec.family in FAMILIES and code.startswith(spec.family)
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", spec.name), f"{code}: name {spec.name!r}"
    assert spec.severity in ("error", "warning", "info")
    assert spec.certainty in ("exact", "statistical")
    doc = spec.doc
    for section in ("What:", "Why it matters:", "Example:"):
        assert section in doc, f"{code}: docstring lacks a {section!r} section"
    first = doc.splitlines()[0] if doc else ""
    assert len(first) > 15, f"{code}: the docstring needs a one-line summary first"
    assert main(["explain", code]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{code} {spec.name}") and "What:" in out


@pytest.mark.parametrize("code", CODES)
def test_check_has_readme(code: str) -> None:
    readme = FIXTURES / code / "README"
    assert readme.exists(), f"{readme.relative_to(ROOT)} is missing: one line on what bad.csv shows"
    assert readme.read_text(encoding="utf-8").strip()


@pytest.mark.parametrize("code", CODES)
def test_good_example_gives_no_finding(code: str) -> None:
    run = run_example(code, "good")
    status = next(s for s in run.checks if s.code == code)
    assert status.status == "ok", (
        f"{code} on good.csv: status {status.status} ({status.reason}); the good example "
        "must be one the check runs on"
    )
    assert [f.message for f in run.findings if f.code == code] == []


@pytest.mark.parametrize("code", CODES)
def test_bad_example_gives_a_finding(code: str) -> None:
    run = run_example(code, "bad")
    status = next(s for s in run.checks if s.code == code)
    assert status.status == "findings", f"{code} on bad.csv: {status.status} ({status.reason})"
    found = [f for f in run.findings if f.code == code]
    assert len(found) >= 1
    assert all(f.message and "{" not in f.message for f in found), [f.message for f in found]


def test_every_fixture_folder_belongs_to_a_check() -> None:
    # A folder left behind by a renamed or retired code would silently test nothing.
    folders = {p.name for p in FIXTURES.iterdir() if p.is_dir()}
    assert folders - set(CODES) == set()
