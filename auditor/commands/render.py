"""`auditor render findings.json`: rebuild report.html from saved findings.

The report is rendered from the findings document alone (no input file is read), so a
report can be remade in another language or after an upgrade of the templates.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def render_file(findings: Path, out: Path | None = None, lang: str = "en") -> Path:
    """Render `findings` (a findings.json) to `out`/report.html; return the path written.

    Errors the user can cause (missing file, not JSON, not a findings document, unknown
    language) raise `UsageError`.
    """
    from auditor.cli import UsageError
    from auditor.findings import AuditRun
    from auditor.report import render_html
    from auditor.report.render import LANGS

    if lang not in LANGS:
        raise UsageError(f"--lang must be one of {', '.join(LANGS)}, not {lang!r}")
    try:
        doc = json.loads(findings.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UsageError(f"{findings}: no such file") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{findings}: not a readable JSON document ({exc})") from exc
    try:
        run = AuditRun.from_dict(doc)
    except (ValueError, TypeError, KeyError) as exc:
        # from_dict's own message may already say "not an auditor findings.json: …".
        why = str(exc).removeprefix("not an auditor findings.json").lstrip(": ")
        raise UsageError(f"{findings}: not an auditor findings.json ({why or type(exc).__name__})"
                         ) from exc
    out_dir = out or findings.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.html"
    path.write_text(render_html(run, lang=lang), encoding="utf-8")
    return path


def register(app: typer.Typer) -> None:
    """Add the `render` command to the CLI."""

    @app.command()
    def render(
        findings: Annotated[Path, typer.Argument(help="A findings.json written by `audit`.")],
        out: Annotated[Path | None, typer.Option(help="Output folder (default: beside it).")]
        = None,
        lang: Annotated[str, typer.Option(help="Report language: en|ru.")] = "en",
    ) -> None:
        """Rebuild report.html from a saved findings.json (no input file is read).

        Example: auditor render reports/ru2018/findings.json --lang ru
        """
        typer.echo(f"html: {render_file(findings, out, lang)}")
