"""`auditor diff OLD NEW [NEWER…]` and `auditor chain DIR`: compare releases of one election.

`diff` loads the releases, matches units across each consecutive pair (by key, or by
position plus content without a key) and runs the `REV` checks; findings.json/csv/html are
written like `audit`. `chain` does the same over a folder of timestamped snapshots, in name
order, and writes `chain.json`: per snapshot its SHA-256, the previous snapshot's hash, a
running chain hash, units reported, totals and findings, so that a published sequence can
later be proven unaltered. Byte-identical consecutive snapshots are recognised and skipped.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from auditor.findings import AuditRun, Finding, fingerprint_of
from auditor.ingest.readers import sha256_file
from auditor.model import Model

SNAPSHOT_SUFFIXES = (".csv", ".tsv", ".txt", ".zip", ".gz", ".xlsx", ".xls", ".parquet", ".json")
CHAIN_SCHEMA = "auditor-chain/1"


def _relabel(findings: list[Finding], label: str) -> list[Finding]:
    """Tag findings with the release pair they come from (key, fingerprint and message)."""
    out = []
    for f in findings:
        key = f"{label}|{f.key}" if f.key else label
        out.append(replace(f, key=key, message=f"[{label}] {f.message}",
                           fingerprint=fingerprint_of(f.code, f.contest, f.unit_id, f.choice,
                                                      key)))
    return out


def materialize(m: Model) -> Model:
    """Read a release's frames once: lazy frames re-parse their file on every collect, and
    the comparison and each check would otherwise read every release again."""
    import polars as pl

    units, votes, published, issues = pl.collect_all([m.units, m.votes, m.published, m.issues])
    m.units, m.votes, m.published, m.issues = (units.lazy(), votes.lazy(), published.lazy(),
                                               issues.lazy())
    return m


def _codes(only: str) -> list[str]:
    return [c.strip() for c in only.split(",") if c.strip()]


def diff_releases(paths: list[Path], profile: str | None = None, only: str = "REV",
                  options: dict[str, Any] | None = None) -> AuditRun:
    """Compare consecutive releases (oldest first) and return one run with all findings.

    With two releases the findings are exactly those of `audit NEW --previous OLD --only
    REV`; with more, each finding is tagged `[old → new]` in its message and key.
    """
    from auditor.cli import UsageError
    from auditor.engine import audit
    from auditor.ingest import LoadOptions, load

    if len(paths) < 2:
        raise UsageError("diff needs at least two releases: OLD NEW [NEWER…]")
    opts = LoadOptions(profile=profile)
    models = [materialize(load([p], opts)) for p in paths]
    findings: list[Finding] = []
    summaries: list[dict[str, Any]] = []
    run: AuditRun | None = None
    for prev, cur in itertools.pairwise(models):
        cur.options = dict(options or {})
        cur.previous = [prev]
        run = audit(cur, only=_codes(only))
        label = f"{prev.label} → {cur.label}"
        summaries.append({"releases": label, **run.summary.get("revisions", {})})
        findings.extend(run.findings if len(models) == 2 else _relabel(run.findings, label))
    if run is None:  # unreachable: two or more releases were checked above
        raise UsageError("diff needs at least two releases")
    findings.sort(key=Finding.sort_key)
    figures = dict(run.figures)
    if len(models) > 2:
        from auditor.release_totals import national_totals, releases_figure

        fig = releases_figure([x.label or "" for x in models],
                              [national_totals(x) for x in models],
                              models[-1].rule("threshold_contest"))
        if fig:
            figures["releases"] = fig
    return AuditRun(
        tool_version=run.tool_version,
        inputs=[i for m in models for i in m.inputs],
        checks=run.checks,
        findings=findings,
        profile=run.profile,
        title=f"Revisions: {models[0].label} → {models[-1].label}",
        figures=figures,
        summary={**{k: v for k, v in run.summary.items() if k != "revisions"},
                 "revisions": summaries[0] if len(summaries) == 1 else summaries},
    )


def _snapshots(folder: Path) -> list[Path]:
    files = [p for p in folder.iterdir()
             if p.is_file() and not p.name.startswith(".")
             and any(p.name.lower().endswith(s) for s in SNAPSHOT_SUFFIXES)
             # NAME.published.csv is read along with NAME.csv (auditor/ingest/published.py)
             and not p.name.endswith(".published.csv")]
    return sorted(files, key=lambda p: p.name)


def _snapshot_totals(m: Model) -> tuple[dict[str, int], dict[str, dict[str, int | None]]]:
    from auditor.release_totals import totals

    t = totals(m)
    units: dict[str, int] = {}
    out: dict[str, dict[str, int | None]] = {}
    for r in t.iter_rows(named=True):
        v = None if r["value"] is None else int(r["value"])
        if r["measure"] == "units_reported":
            units[str(r["contest"])] = v or 0
        else:
            out.setdefault(str(r["contest"]), {})[str(r["measure"])] = v
    return units, out


def audit_chain(folder: Path, profile: str | None = None, only: str = "",
                skip: str = "", options: dict[str, Any] | None = None,
                ) -> tuple[dict[str, Any], AuditRun]:
    """Audit every snapshot of `folder` in name order against the one before it.

    Returns the chain document (see the module docstring) and one run holding every
    snapshot's findings, each tagged with its snapshot name.
    """
    from auditor import __version__
    from auditor.cli import UsageError
    from auditor.engine import audit, prepare
    from auditor.ingest import LoadOptions, load

    if not folder.is_dir():
        raise UsageError(f"{folder}: not a folder of snapshots")
    files = _snapshots(folder)
    if not files:
        raise UsageError(f"{folder}: no snapshot files ({', '.join(SNAPSHOT_SUFFIXES)})")
    opts = LoadOptions(profile=profile)
    entries: list[dict[str, Any]] = []
    all_findings: list[Finding] = []
    inputs = []
    prev: Model | None = None
    prev_sha: str | None = None
    chain = hashlib.sha256(b"auditor-chain").hexdigest()
    skipped = 0
    last_run: AuditRun | None = None
    for path in files:
        sha = sha256_file(path)
        chain = hashlib.sha256(f"{chain}{sha}".encode()).hexdigest()
        entry: dict[str, Any] = {"file": path.name, "sha256": sha, "previous_sha256": prev_sha,
                                 "chain_sha256": chain}
        if sha == prev_sha:
            # Same bytes as the snapshot before: nothing to audit, but it stays in the chain.
            skipped += 1
            entries.append(entry | {"identical_to_previous": True})
            continue
        m = materialize(load([path], opts))
        m.options = dict(options or {})
        prepare(m)
        if prev is not None:
            m.previous = [prev]
        run = audit(m, only=_codes(only), skip=_codes(skip))
        last_run = run
        units, tots = _snapshot_totals(m)
        fs = _relabel(run.findings, path.stem)
        all_findings.extend(fs)
        inputs.extend(m.inputs)
        entries.append(entry | {
            "identical_to_previous": False,
            "rows_read": sum(i.rows_read for i in m.inputs),
            "units_reported": units,
            "totals": tots,
            "counts": run.counts_by_severity(),
            "revisions": run.summary.get("revisions"),
            "findings": [f.to_dict() for f in run.findings],
        })
        prev, prev_sha = m, sha
        m.previous = []  # keep one release in memory, not the whole chain
    all_findings.sort(key=Finding.sort_key)
    from auditor.release_totals import releases_figure

    audited = [e for e in entries if not e["identical_to_previous"]]
    fig = releases_figure([Path(e["file"]).stem[:19] for e in audited],
                          [e["totals"] for e in audited],
                          prev.rule("threshold_contest") if prev is not None else None)
    doc = {
        "schema": CHAIN_SCHEMA,
        "tool_version": __version__,
        "folder": str(folder),
        "snapshots": entries,
        "n_files": len(files),
        "n_distinct": len(files) - skipped,
        "skipped_identical": skipped,
        "chain_sha256": chain,
    }
    run_all = AuditRun(
        tool_version=__version__, inputs=inputs,
        checks=last_run.checks if last_run else [], findings=all_findings,
        profile=last_run.profile if last_run else None, title=f"Release chain: {folder.name}",
        figures={"releases": fig} if fig else {},
        summary={"chain": {k: doc[k] for k in ("n_files", "n_distinct", "skipped_identical",
                                                "chain_sha256")}},
    )
    return doc, run_all


def register(app: typer.Typer) -> None:
    """Add the `diff` and `chain` commands to the CLI."""

    @app.command()
    def diff(
        releases: Annotated[list[Path], typer.Argument(help="OLD NEW [NEWER…], oldest first.")],
        profile: Annotated[str | None, typer.Option(help="Profile name or .toml path.")] = None,
        out: Annotated[Path | None, typer.Option(help="Output folder.")] = None,
        format_: Annotated[str, typer.Option("--format", help="json,csv,html")] = "json,csv,html",
        only: Annotated[str, typer.Option(help="Checks to run (default: the REV family).")]
        = "REV",
        share_pp: Annotated[float | None, typer.Option(
            help="REV004: smallest unexplained share move reported, in points.")] = None,
        fail_on: Annotated[str, typer.Option(help="error|warning|info|never")] = "never",
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")]
        = False,
    ) -> None:
        """Compare releases of one election: units added, removed, re-keyed, revised.

        Example: auditor diff nov13.xlsx nov14.xlsx nov15.xlsx --profile ge-cec-2024
        """
        from auditor.cli import FAIL_ON, UsageError, exit_code_for, parse_formats, summary_lines
        from auditor.findings import write_outputs

        if fail_on not in FAIL_ON:
            raise UsageError(f"--fail-on must be one of {', '.join(FAIL_ON)}")
        formats = parse_formats(format_)
        opts = {} if share_pp is None else {"rev_share_pp": share_pp}
        run = diff_releases(list(releases), profile, only, opts)
        out_dir = out or Path("reports") / f"diff-{Path(releases[-1]).name.split('.')[0]}"
        written = write_outputs(run, out_dir, formats)
        if not quiet:
            revs = run.summary.get("revisions")
            for r in revs if isinstance(revs, list) else [revs] if revs else []:
                typer.echo(_matching_line(r))
            for line in summary_lines(run):
                typer.echo(line)
            for kind, p in sorted(written.items()):
                typer.echo(f"{kind}: {p}")
        raise typer.Exit(exit_code_for(run.worst(), fail_on))

    @app.command("chain")
    def chain_cmd(
        folder: Annotated[Path, typer.Argument(help="Folder of timestamped snapshots.")],
        profile: Annotated[str | None, typer.Option(help="Profile name or .toml path.")] = None,
        out: Annotated[Path | None, typer.Option(help="Output folder.")] = None,
        format_: Annotated[str, typer.Option("--format", help="json,csv,html")] = "json,csv,html",
        only: Annotated[str, typer.Option(help="Run only these codes/families.")] = "",
        skip: Annotated[str, typer.Option(help="Skip these codes/families.")] = "",
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")]
        = False,
    ) -> None:
        """Audit a folder of snapshots in order; write chain.json with hashes and progress.

        Example: auditor chain data/btw25_snapshots --profile de-bw-btw25 --only REV
        """
        from auditor.cli import parse_formats
        from auditor.findings import write_outputs

        formats = parse_formats(format_)
        doc, run = audit_chain(folder, profile, only, skip)
        out_dir = out or Path("reports") / f"chain-{folder.name}"
        written = write_outputs(run, out_dir, formats)
        path = out_dir / "chain.json"
        path.write_text(json.dumps(doc, ensure_ascii=False, indent=1, allow_nan=False) + "\n",
                        encoding="utf-8")
        if not quiet:
            for e in doc["snapshots"]:
                if e["identical_to_previous"]:
                    typer.echo(f"{e['file']}: identical to the previous snapshot, skipped")
                    continue
                units = ", ".join(f"{c} {n:,}" for c, n in e["units_reported"].items()) or "0"
                c = e["counts"]
                typer.echo(f"{e['file']}: {e['sha256'][:12]} units reported: {units}; "
                           f"findings {c['error']} errors, {c['warning']} warnings, "
                           f"{c['info']} info")
            typer.echo(f"{doc['n_files']} snapshots, {doc['skipped_identical']} identical to "
                       f"the one before; chain hash {doc['chain_sha256']}")
            typer.echo(f"chain: {path}")
            for kind, p in sorted(written.items()):
                typer.echo(f"{kind}: {p}")


def _matching_line(r: dict[str, Any]) -> str:
    """One line saying how units were matched and what happened to them."""
    head = f"{r.get('releases', '')}: " if r.get("releases") else ""
    unc = (f"; {r['uncertain']:,} uncertain matches ({r['uncertain_share'] * 100:.1f} %)"
           if r.get("uncertain") else "")
    return (f"{head}matched {r.get('matched', 0):,} units by {r.get('matching')}: "
            f"{r.get('same', 0):,} same, {r.get('changed', 0):,} changed, "
            f"{r.get('added', 0):,} added, {r.get('removed', 0):,} removed, "
            f"{r.get('rekeyed', 0):,} re-keyed, {r.get('reported', 0):,} newly reported, "
            f"{r.get('withdrawn', 0):,} withdrawn{unc}")
