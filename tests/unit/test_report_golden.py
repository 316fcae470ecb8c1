"""Golden test of the demo report's structure (sections, tables, figures, headings).

The structure, not the bytes, is pinned: element ids in order, each table's headers and
row count, the figure ids and the headings. When a check or the template changes on
purpose, regenerate with `AUDITOR_UPDATE_GOLDEN=1 pytest tests/unit/test_report_golden.py`
and review the diff of fixtures/golden_report/demo_structure.json.
"""

from __future__ import annotations

import json
import os
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from auditor.cli import main
from fixtures.synth import Injection, generate

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "fixtures" / "golden_report" / "demo_structure.json"


class _Structure(HTMLParser):
    """Collects ids, headings, tables (headers, body rows) and figure divs of a report."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.headings: list[str] = []
        self.tables: dict[str, dict[str, Any]] = {}
        self.figures: list[str] = []
        self._heading: list[str] | None = None
        self._table: str | None = None
        self._in_head = False
        self._th: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(str(a["id"]))
        if tag in ("h1", "h2", "h3"):
            self._heading = []
        elif tag == "table" and a.get("id"):
            self._table = str(a["id"])
            self.tables[self._table] = {"headers": [], "rows": 0}
        elif tag == "thead":
            self._in_head = True
        elif tag == "th" and self._in_head:
            self._th = []
        elif tag == "tr" and self._table and not self._in_head:
            self.tables[self._table]["rows"] += 1
        elif tag == "div" and a.get("data-fig"):
            self.figures.append(str(a["data-fig"]))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h1", "h2", "h3") and self._heading is not None:
            self.headings.append(" ".join("".join(self._heading).split()))
            self._heading = None
        elif tag == "thead":
            self._in_head = False
        elif tag == "th" and self._th is not None and self._table:
            self.tables[self._table]["headers"].append("".join(self._th).strip())
            self._th = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._heading is not None:
            self._heading.append(data)
        if self._th is not None:
            self._th.append(data)


def structure(html: str) -> dict[str, Any]:
    """The pinned structure of a report."""
    p = _Structure()
    p.feed(html)
    return {"ids": p.ids, "headings": p.headings, "tables": p.tables, "figures": p.figures}


def test_demo_report_structure(tmp_path: Path) -> None:
    src = tmp_path / "synthetic-election.csv"
    # A synthetic election with three injected arithmetic errors.
    generate(n_stations=3000, seed=7, injections=(
        Injection("valid_mismatch", 10, 40), Injection("cast_mismatch", 200, 25),
        Injection("over_registered", 1500, 30))).write_csv(src)
    # Only the families whose findings the page layout is pinned with; a change elsewhere
    # in the catalogue then does not move this golden file.
    assert main(["audit", str(src), "--out", str(tmp_path / "out"), "--fail-on", "never",
                 "--quiet", "--only", "INPUT,ARITH,SEAT"]) == 0
    got = structure((tmp_path / "out" / "report.html").read_text("utf-8"))
    assert "fig-turnout" in got["figures"] and "verdict" in got["ids"]
    if os.environ.get("AUDITOR_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(got, ensure_ascii=False, indent=1) + "\n", "utf-8")
    want = json.loads(GOLDEN.read_text("utf-8"))
    assert got == want
