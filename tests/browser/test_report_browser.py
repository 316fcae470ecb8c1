"""The HTML report in a real browser (Debian's chromium driven by Playwright), offline.

Every request that is not to a file:, data: or blob: URL is aborted and recorded; the test
fails if the page tried any. Screenshots go to tests/browser/screenshots/ (gitignored) so a
person can look at them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from auditor.cli import main
from auditor.report import render_html
from tests.unit.test_report import (
    ALL_FIGURES,
    FAMILIES_USED,
    HOSTILE_PARTIES,
    HOSTILE_REGIONS,
    _finding,
    _run,
    hostile_election,
)

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(__file__).resolve().parent / "screenshots"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def _need_browser() -> None:
    reason = None
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is absent (apt-get install chromium chromium-driver)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright package is not installed"
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " — under CI the browser tests must run")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def browser_context() -> Iterator[Any]:
    """A persistent headless chromium context with a fresh profile, offline."""
    _need_browser()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=ARGS, offline=True,
            viewport={"width": 1280, "height": 900})
        yield ctx
        ctx.close()


class Visit:
    """A page opened on a report, with everything it logged or tried."""

    def __init__(self, ctx: Any, report: Path) -> None:
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page = page = ctx.new_page()
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("dialog", self._dialog)
        page.route("**/*", self._route)
        page.goto(report.resolve().as_uri())
        page.wait_for_selector("html[data-figures=ready]", timeout=60_000)

    def _dialog(self, d: Any) -> None:
        self.dialogs.append(d.message)
        d.dismiss()

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:", "blob:")):
            route.continue_()
        else:
            self.requests.append(url)
            route.abort()


def _check_report(ctx: Any, report: Path, shot: str) -> Visit:
    v = Visit(ctx, report)
    page = v.page
    assert v.errors == []
    assert v.requests == []
    assert v.dialogs == []
    verdict = page.locator("#verdict").inner_text()
    assert verdict.startswith("Verdict:") and len(verdict) > 40
    assert page.locator("#fig-turnout .main-svg").count() >= 1
    # The bars were drawn from the data, not an empty frame.
    assert page.locator("#fig-turnout .point").count() > 100
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SHOTS / f"{shot}-phone.png"))
    page.set_viewport_size({"width": 1280, "height": 900})
    return v


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hostile-names election of the unit tests, audited to an HTML report."""
    d = tmp_path_factory.mktemp("browser")
    src = d / "hostile.csv"
    hostile_election().write_csv(src)
    assert main(["audit", str(src), "--out", str(d / "out"), "--fail-on", "never",
                 "--quiet", "--only", FAMILIES_USED]) == 0
    return d / "out" / "report.html"


def test_synthetic_report_offline_and_inert(browser_context: Any, hostile_report: Path) -> None:
    v = _check_report(browser_context, hostile_report, "synthetic-hostile")
    page = v.page
    # Names are text: the hostile strings are visible, and they made no element.
    body = page.locator("body").inner_text()
    for name in (*HOSTILE_PARTIES, *HOSTILE_REGIONS.values()):
        assert name in body
    assert page.locator("img").count() == 0
    assert page.evaluate("document.scripts.length") == 4  # 3 of the page + plotly
    legend = page.locator("#fig-share .legendtext").all_text_contents()
    assert "<script>alert(1)</script>" in legend
    assert page.locator("table.findings").count() >= 3
    # Filtering keeps only matching rows; sorting puts the largest delta first.
    tbl = page.locator("#tbl-ARITH001")
    n_rows = tbl.locator("tbody tr").count()
    assert n_rows == 5
    page.fill('input[data-table="tbl-ARITH001"]', "מחוז הצפון")
    assert tbl.locator("tbody tr:visible").count() == 1
    page.fill('input[data-table="tbl-ARITH001"]', "")
    assert tbl.locator("tbody tr:visible").count() == n_rows
    head = tbl.locator("thead th").all_text_contents()
    col = head.index("observed")
    tbl.locator("thead th").nth(col).click()
    tbl.locator("thead th").nth(col).click()
    vals = [float(x.replace(",", "")) for x in
            tbl.locator(f"tbody tr td:nth-child({col + 1})").all_text_contents()]
    assert vals == sorted(vals, reverse=True)
    assert v.dialogs == [] and v.errors == []
    page.close()


def test_demo_report(browser_context: Any) -> None:
    report = ROOT / "reports" / "demo" / "report.html"
    if not report.exists():
        pytest.skip(f"{report} is absent: run `make demo` first")
    v = _check_report(browser_context, report, "demo")
    assert v.page.locator("table.findings").count() >= 1
    v.page.close()


def test_every_kind_of_figure_is_drawn(browser_context: Any, tmp_path: Path) -> None:
    """Each figure the report can hold is drawn by the embedded plotly.js bundle: a plot
    with its traces, the bars and points from the data, and no console error (a trace type
    missing from the bundle would draw an empty frame)."""
    report = tmp_path / "all.html"
    report.write_text(render_html(_run([_finding(1)], ALL_FIGURES), "en"), encoding="utf-8")
    v = Visit(browser_context, report)
    assert v.errors == [] and v.requests == []
    drawn = dict(v.page.evaluate("""() => [...document.querySelectorAll('.fig')].map(d =>
        [d.id, [d.querySelectorAll('.main-svg').length, d.querySelectorAll('.trace').length,
                d.querySelectorAll('.point').length, d.querySelectorAll('.hm').length]])"""))
    assert set(drawn) == {"fig-turnout", "fig-share", "fig-fingerprint", "fig-spikes-1",
                          "fig-region-flags", "fig-releases", "fig-waterfall"}
    assert drawn["fig-turnout"][2] == 1001  # one bar per 0.1-point bin
    assert drawn["fig-fingerprint"][3] == 1  # the heatmap
    assert drawn["fig-region-flags"][2] == 2
    assert drawn["fig-releases"][2] == 3
    assert drawn["fig-waterfall"][1:3] == [1, 3]  # two steps and the total
    for fid, (svgs, traces, _, heat) in drawn.items():
        assert svgs >= 1 and (traces >= 1 or heat >= 1), fid
    SHOTS.mkdir(exist_ok=True)
    v.page.screenshot(path=str(SHOTS / "all-figures.png"), full_page=True)
    v.page.close()
