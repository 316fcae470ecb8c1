"""The HTML report: one self-contained file per audit run, in English or Russian.

`render_html(run, lang)` is the entry point (used by `write_outputs` and `auditor render`).
`auditor.report.figures` holds the figure-data shapes and a producer that needs no check;
it imports neither Jinja2 nor plotly, so `--format json` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from auditor.findings import AuditRun


def render_html(run: AuditRun, lang: str = "en") -> str:
    """The report of `run` as one HTML document (UI text in `lang`: "en" or "ru")."""
    from auditor.report.render import render_html as _render  # Jinja2 only when rendering

    return _render(run, lang)
