"""Shared test fixtures: where the real data lives, and how tests skip (or fail under CI)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def data_file(rel: str) -> Path:
    """Path of a file in ../shared/data; skip with a reason when absent, fail under CI=true."""
    p = DATA / rel
    if not p.exists():
        msg = f"real data {p} is absent (../shared/data beside the project)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg + " — under CI the data must be present")
        pytest.skip(msg)
    return p


@pytest.fixture
def shared_data() -> Path:
    """The ../shared/data folder (skip when absent, fail under CI)."""
    if not DATA.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{DATA} is absent — under CI the data must be present")
        pytest.skip(f"{DATA} is absent")
    return DATA
