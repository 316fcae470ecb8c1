"""The HTML report on real elections: size bounded by findings, figures drawn from all units."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from auditor.cli import main
from tests.conftest import data_file

pytestmark = pytest.mark.integration

MB = 1_000_000


@pytest.fixture(scope="module")
def ru2018(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Russia 2018 (97,699 stations) audited once with every check; the output folder."""
    src = data_file("ru_shpilkin_kobak/2018.csv.zip")
    out = tmp_path_factory.mktemp("ru2018")
    assert main(["audit", str(src), "--out", str(out), "--fail-on", "never", "--quiet"]) == 0
    return out


def test_russia_2018_report_under_5_mb(ru2018: Path) -> None:
    html = (ru2018 / "report.html").read_text("utf-8")
    doc = json.loads((ru2018 / "findings.json").read_text("utf-8"))
    size = len(html.encode("utf-8"))
    assert size < 5 * MB, f"report.html is {size:,} bytes"
    assert "fig-turnout" in html and "fig-fingerprint" in html
    th = doc["figures"]["turnout_hist"]
    # Every station is in the histogram or counted as outside it.
    assert th["n"] + th["above"] + th["undefined"] == 97_699
    # The famous 100 % turnout spike: bin 1000 holds the stations at exactly 100 %.
    assert th["counts"][1000] >= 2_000
    # Tables are capped: no check shows more than 2,000 rows, and the CSV has them all.
    n_rows = html.count("<tr>")
    assert n_rows < 5_000 + 500
    with (ru2018 / "findings.csv").open(encoding="utf-8", newline="") as fh:
        assert len(doc["findings"]) == sum(1 for _ in csv.reader(fh)) - 1
