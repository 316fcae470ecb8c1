"""The real elections audited again and compared with fixtures/expected (run `make golden`
after a reviewed change of a check to rewrite them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixtures.golden import CASES, EXPECTED, Case, audit_case, dumps
from tests.conftest import data_file


@pytest.mark.integration
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_expected_findings(case: Case, tmp_path: Path) -> None:
    for rel in (*case.inputs, *case.previous):
        data_file(rel)
    expected_file = EXPECTED / f"{case.name}.json"
    if not expected_file.exists():
        pytest.fail(f"{expected_file} is missing: run `make golden` and review the diff")
    got = audit_case(case, tmp_path)
    want = json.loads(expected_file.read_text(encoding="utf-8"))
    # Compare the overview first so a failure says what moved, not just "dicts differ".
    assert got["counts"] == want["counts"], f"{case.name}: counts moved"
    assert got["checks"] == want["checks"], f"{case.name}: check statuses/counts moved"
    assert got["inputs"] == want["inputs"], f"{case.name}: row accounting moved"
    assert dumps(got) == dumps(want)
