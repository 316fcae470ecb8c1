"""The `auditor` command line (Typer).

Exit codes: 0 no finding at or above `--fail-on`; 1 findings at or above it; 2 bad usage or
unreadable input (one paragraph naming file, row and column, never a traceback); 3 internal
error. Other command modules (`auditor/commands/*.py`) register themselves with `register(app)`.

Typer (with click and pydantic, ~0.2 s to import and to build the command) is loaded only when
needed: a plain `auditor audit FILE… --option value …` is parsed by `_fast_audit_args` and runs
`audit` directly; anything else (help, another command, an option spelled unusually, a value
Typer would have to judge) goes through the Typer application, so its messages are unchanged.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import importlib
import json
import math
import os
import re
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

from auditor import __version__

if TYPE_CHECKING:
    import typer

# Command modules contributed by other parts of the package; each has `register(app)`.
COMMAND_MODULES = ("render", "seats", "diff", "calibrate")

FAIL_ON = ("error", "warning", "info", "never")
# The report's languages (`auditor.report.render.LANGS`, kept equal by a test): named here so
# that `audit --format json` can check `--lang` before auditing without importing plotly.
LANGS = ("en", "ru")


class UsageError(Exception):
    """A command used wrongly (exit code 2)."""


def _err(msg: str) -> None:
    sys.stderr.write(f"auditor: {msg}\n")
    sys.stderr.flush()


def _echo(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _progress(quiet: bool) -> Any:
    if quiet or not sys.stderr.isatty():
        return None

    def show(code: str) -> None:
        sys.stderr.write(f"\r  running {code} …   ")
        sys.stderr.flush()

    return show


def parse_formats(fmt: str) -> set[str]:
    """`json,csv,html` → {"json", "csv", "html"}; unknown names are a usage error."""
    out = {f.strip().lower() for f in fmt.split(",") if f.strip()}
    bad = out - {"json", "csv", "html"}
    if bad:
        raise UsageError(f"--format: unknown format(s) {', '.join(sorted(bad))}; use json,csv,html")
    return out


def build_options(z: float | None, alpha: float, seed: int, reps: int,
                  history: list[Path] | None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The run options handed to checks through `Model.options`."""
    opts: dict[str, Any] = {"alpha": alpha, "seed": seed, "reps": reps}
    if z is not None:
        opts["z"] = z
    if history:
        opts["history"] = [str(h) for h in history]
    if extra:
        opts.update(extra)
    return opts


def check_run_options(z: float | None, alpha: float, reps: int, lang: str) -> None:
    """Range checks of the audit options, before anything is read (usage error, exit 2)."""
    if z is not None and not z > 0:
        raise UsageError(f"--z must be above 0 (a robust z threshold such as 4.5), not {z}")
    if not 0 < alpha < 1:
        raise UsageError(f"--alpha must be between 0 and 1 (e.g. 0.05), not {alpha}")
    if reps < 1:
        raise UsageError(f"--reps must be at least 1 (e.g. 1000), not {reps}")
    if lang not in LANGS:
        raise UsageError(f"--lang must be one of {', '.join(LANGS)}, not {lang!r}")


def parse_selection(option: str, value: str) -> list[str]:
    """`--only`/`--skip` as a list of codes or family prefixes; each must name a check."""
    from auditor.registry import FAMILIES, load_catalogue

    items = [v.strip().upper() for v in value.split(",") if v.strip()]
    # A family or its prefix (`STAT`, `AR`) is valid as it is; a code is looked up in its
    # family's modules only, so `--skip STAT` does not import the statistical checks.
    specific = [v for v in items if not any(f.startswith(v) for f in FAMILIES)]
    codes = list(load_catalogue(only=specific)) if specific else []
    bad = [v for v in specific if not any(c.startswith(v) for c in codes)]
    if bad:
        families = sorted(FAMILIES)
        raise UsageError(
            f"{option}: {', '.join(bad)} names no check code or family; the families are "
            f"{', '.join(families)} (codes such as ARITH002; `auditor checks` lists them all)"
        )
    return items


def previous_match_note(m: Any, prev: Any) -> str | None:
    """A warning when an earlier release shares no unit with the current one, else None."""
    import polars as pl

    cur = m.units.select("unit_id").unique()
    old = prev.units.select("unit_id").unique().collect()
    if old.height == 0:
        return None
    n_match = old.lazy().join(cur, on="unit_id", how="semi").select(pl.len()).collect().item()
    if n_match:
        return None
    return (f"0 of {old.height:,} units match the current release: probably another "
            "election, not an earlier release of this one")


def exit_code_for(worst: str | None, fail_on: str) -> int:
    """0 when nothing reaches `fail_on`, else 1."""
    from auditor.findings import SEVERITY_RANK

    if fail_on == "never" or worst is None:
        return 0
    return 1 if SEVERITY_RANK[worst] >= SEVERITY_RANK[fail_on] else 0


def _n(k: int, noun: str) -> str:
    """`1 error`, `2 errors`, `1,204 errors`."""
    return f"{k:,} {noun}" + ("" if k == 1 else "s")


def summary_lines(run: Any, limit: int = 12, previous: list[str] | None = None) -> list[str]:
    """A short terminal summary: inputs, earlier releases, verdict, counts and top findings."""
    c = run.counts_by_severity()
    lines = []
    for i in run.inputs:
        lines.append(
            f"{i.path}: {i.rows_read:,} rows read = {i.rows_in_model:,} audited + "
            f"{i.rows_published:,} published totals + {i.rows_rejected:,} rejected"
            + ("" if i.balanced else "  (UNBALANCED)")
        )
    if previous:
        lines.append(f"previous releases (oldest first): {', '.join(previous)}"
                     + ("; the REV checks compare the last one with this release (every step: "
                        "`auditor chain` or `auditor diff`)" if len(previous) > 1 else ""))
    if c["error"]:
        verdict = f"{_n(c['error'], 'figure')} cannot be true"
    elif c["warning"]:
        verdict = "nothing impossible found, but some figures are implausible"
    elif not run.figures_checked():
        verdict = ("no check of the figures could run on these data, so nothing says they "
                   "hold together (each check's reason is in findings.json; `auditor inspect` "
                   "shows which columns were read)")
    else:
        verdict = "the published figures hold together"
    lines.append(f"verdict: {verdict}")
    lines.append(f"findings: {_n(c['error'], 'error')}, {_n(c['warning'], 'warning')}, "
                 f"{c['info']:,} info")
    by_code = Counter((f.code, f.name, f.severity) for f in run.findings)
    for (code, name, sev), n in sorted(by_code.items(), key=lambda x: (-x[1], x[0]))[:limit]:
        lines.append(f"  {code} {name} [{sev}]: {n:,}")
    failed = [s for s in run.checks if s.status == "failed"]
    for s in failed:
        lines.append(f"  check {s.code} FAILED: {s.reason}")
    return lines


def audit(
    inputs: Annotated[list[Path], typer.Argument(help="Result files of one release.",
                                                 metavar="FILE")],
    profile: Annotated[str | None, typer.Option(help="Profile name or .toml path.")] = None,
    map_: Annotated[list[str] | None, typer.Option("--map", help="canonical=source column.",
                                                   metavar="CANONICAL=COLUMN")] = None,
    previous: Annotated[list[Path] | None, typer.Option(
        help="An earlier release of the same election. The REV checks compare this release "
        "with the last --previous; earlier ones, given oldest first (--previous A --previous "
        "B), add to the figures across releases. To audit every step: `auditor chain FOLDER` "
        "or `auditor diff OLD NEW` per pair.", metavar="FILE")] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default reports/<name>).")] = None,
    format_: Annotated[str, typer.Option("--format", help="json,csv,html")] = "json,csv,html",
    fail_on: Annotated[str, typer.Option(help="error|warning|info|never")] = "error",
    only: Annotated[str, typer.Option(help="Run only these codes/families, e.g. ARITH,PCT002.")] = "",
    skip: Annotated[str, typer.Option(help="Skip these codes/families, e.g. STAT.")] = "",
    encoding: Annotated[str | None, typer.Option(help="Force the text encoding.")] = None,
    delimiter: Annotated[str | None, typer.Option(
        help="Force the CSV delimiter (one character; 'tab' for a tab).")] = None,
    sheet: Annotated[str | None, typer.Option(help="Excel sheet name or index.")] = None,
    z: Annotated[float | None, typer.Option(help="Robust z threshold for outliers.")] = None,
    alpha: Annotated[float, typer.Option(help="False-discovery level of statistical checks.")] = 0.05,
    seed: Annotated[int, typer.Option(help="Seed of the Monte-Carlo nulls.")] = 0,
    reps: Annotated[int, typer.Option(help="Monte-Carlo replications (STAT004 redraws: at most 200, and only below 2,000 stations).")] = 1000,
    history: Annotated[list[Path] | None, typer.Option(
        help="A previous election's file (repeat for several).", metavar="FILE")] = None,
    lang: Annotated[str, typer.Option(help="Report language: en|ru.")] = "en",
    title: Annotated[str | None, typer.Option(help="Title of the report.")] = None,
    timestamp: Annotated[bool, typer.Option(help="Write the run time into the outputs.")] = False,
    timings: Annotated[bool, typer.Option(help="Write per-check seconds into the outputs.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
) -> int:
    """Audit one release of an election and write findings (JSON, CSV) and the HTML report.

    Example: auditor audit results.csv --profile ru-cik --out reports/ru2018
    """
    from auditor.engine import audit as run_audit
    from auditor.engine import prepare
    from auditor.findings import write_outputs
    from auditor.ingest import LoadOptions, load

    if fail_on not in FAIL_ON:
        raise UsageError(f"--fail-on must be one of {', '.join(FAIL_ON)}")
    formats = parse_formats(format_)
    check_run_options(z, alpha, reps, lang)
    only_l, skip_l = parse_selection("--only", only), parse_selection("--skip", skip)
    opts = LoadOptions(profile=profile, overrides=tuple(map_ or ()), encoding=encoding,
                       delimiter=delimiter, sheet=sheet)
    m = load(list(inputs), opts)
    _warn_ignored_sheet(m.inputs, sheet)
    m.options = build_options(z, alpha, seed, reps, history, {"lang": lang})
    for p in previous or []:
        prev = load([p], opts)
        note = previous_match_note(m, prev)
        if note:
            _err(f"warning: --previous {p}: {note}")
            prev.inputs[0] = replace(prev.inputs[0], notes=(*prev.inputs[0].notes, note))
        m.previous.append(prev)
    prepare(m)
    run = run_audit(m, only=only_l, skip=skip_l, progress=_progress(quiet), title=title)
    from auditor.report.figures import figure_data  # polars only: no plotly on this path

    run.figures = figure_data(m) | run.figures  # a check's own figure data win
    run.summary.setdefault("options", {k: m.options[k] for k in ("alpha", "seed", "reps")})
    if timestamp:
        from datetime import UTC, datetime

        run.timestamp = datetime.now(UTC).isoformat(timespec="seconds")
    run.include_timings = timings or timestamp
    out_dir = out or Path("reports") / Path(inputs[0]).name.split(".")[0]
    written = write_outputs(run, out_dir, formats, lang=lang)
    if not quiet:
        if sys.stderr.isatty():
            sys.stderr.write("\r" + " " * 40 + "\r")
        for line in summary_lines(run, previous=[str(p) for p in previous or []]):
            _echo(line)
        for kind in ("html", "json", "csv"):
            if kind in written:
                _echo(f"{kind}: {written[kind]}")
    failed = any(s.status == "failed" for s in run.checks)
    if failed:
        return 3
    return exit_code_for(run.worst(), fail_on)


def inspect(
    file: Annotated[Path, typer.Argument(help="A result file.")],
    profile: Annotated[str | None, typer.Option(help="Profile name or .toml path.")] = None,
    map_: Annotated[list[str] | None, typer.Option("--map", help="canonical=source column.",
                                                   metavar="CANONICAL=COLUMN")] = None,
    encoding: Annotated[str | None, typer.Option(help="Force the text encoding.")] = None,
    delimiter: Annotated[str | None, typer.Option(
        help="Force the CSV delimiter (one character; 'tab' for a tab).")] = None,
    sheet: Annotated[str | None, typer.Option(help="Excel sheet name or index.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show the detected format, encoding, columns, mapping, profile and row counts.

    Example: auditor inspect 2018.csv.zip --json
    """
    from auditor.ingest import LoadOptions, load_one

    opts = LoadOptions(profile=profile, overrides=tuple(map_ or ()), encoding=encoding,
                       delimiter=delimiter, sheet=sheet)
    ld = load_one(file, opts)
    info = ld.info
    _warn_ignored_sheet([info], sheet)
    doc = {
        "path": str(file),
        "sha256": info.sha256,
        "format": info.format,
        "encoding": info.encoding,
        "delimiter": info.delimiter,
        "sheet": info.sheet,
        "rows": info.rows_read,
        "rows_in_model": info.rows_in_model,
        "rows_published": info.rows_published,
        "rows_rejected": info.rows_rejected,
        "columns": ld.raw.headers,
        "profile": ld.profile.name if ld.profile else None,
        "profile_reason": ld.profile_reason,
        "mapping": ld.mapping.as_dict(),
        "notes": list(info.notes),
    }
    if as_json:
        typer.echo(json.dumps(doc, ensure_ascii=False, indent=1))
        return
    how = [f"format {info.format}"]
    if info.encoding:
        how.append(f"encoding {info.encoding}")
    if info.delimiter:
        how.append(f"delimiter {info.delimiter!r}")
    if info.sheet:
        how.append(f"sheet {info.sheet!r}")
    typer.echo(f"{file}\n  {', '.join(how)}")
    typer.echo(f"  rows: {info.rows_read:,} read = {info.rows_in_model:,} in model + "
               f"{info.rows_published:,} published totals + {info.rows_rejected:,} rejected")
    typer.echo(f"  profile: {doc['profile'] or 'none'} ({ld.profile_reason})")
    mp = ld.mapping
    typer.echo(f"  unit key: {', '.join(mp.key) or '(row position)'}")
    typer.echo(f"  hierarchy: {', '.join(f'{a}={b}' for a, b in mp.hierarchy) or 'none'}")
    for k, v in mp.counts.items():
        typer.echo(f"  {k:<22} ← {v}")
    for c in mp.contests:
        typer.echo(f"  contest {c.name!r}: {len(c.choices)} choices"
                   + "".join(f"\n    {k:<20} ← {v}" for k, v in c.counts.items()))
        if c.choices:
            typer.echo(f"    choices: {_first_n(list(c.choices))}")
    if mp.long:
        for name, choices in _long_contests(ld.parts.votes).items():
            typer.echo(f"  contest {name!r} (long format): {len(choices)} choices\n"
                       f"    choices: {_first_n(choices)}")
    for pc in mp.percents:
        base = f" of {pc['base']}" if pc.get("base") else ""
        what = f" ({pc['choice']})" if pc.get("choice") else ""
        typer.echo(f"  published {pc.get('measure', 'percent')}{what}{base} ← {pc['column']}")
    if mp.unmapped:
        typer.echo(f"  unmapped: {', '.join(mp.unmapped)}")
    for n in info.notes:
        typer.echo(f"  note: {n}")


def _first_n(names: list[str], n: int = 20) -> str:
    """The first `n` names, then how many more (so a 500-candidate list stays one line)."""
    shown = ", ".join(names[:n])
    return shown + (f", … and {len(names) - n:,} more" if len(names) > n else "")


def _long_contests(votes: Any) -> dict[str, list[str]]:
    """Contest → its choices, from a long table's votes (first seen order)."""
    df = votes.select("contest", "choice").unique(maintain_order=True).collect()
    out: dict[str, list[str]] = {}
    for contest, choice in df.iter_rows():
        out.setdefault(str(contest), []).append(str(choice))
    return out


def _warn_ignored_sheet(inputs: Any, sheet: str | None) -> None:
    """`--sheet` given for inputs that are no workbooks: say it was ignored (not an error)."""
    if sheet is None:
        return
    for i in inputs:
        if not str(i.format).startswith("xlsx"):
            _err(f"note: --sheet {sheet} ignored for {i.path} (not an Excel workbook)")


def list_checks(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the check catalogue: code, name, family, severity, certainty.

    Example: auditor checks
    """
    from auditor.registry import load_catalogue

    cat = load_catalogue()
    if as_json:
        typer.echo(json.dumps([
            {"code": s.code, "name": s.name, "family": s.family_name, "severity": s.severity,
             "certainty": s.certainty, "requires": list(s.requires), "since": s.since}
            for s in cat.values()
        ], indent=1))
        return
    for s in cat.values():
        first = s.doc.splitlines()[0] if s.doc else ""
        typer.echo(f"{s.code:<9} {s.name:<32} {s.severity:<8} {s.certainty:<12} {first}")


def explain(code: Annotated[str, typer.Argument(help="A check code, e.g. ARITH002.")]) -> None:
    """Print one check's documentation (What / Why / Example).

    Example: auditor explain ARITH002
    """
    from auditor.registry import load_catalogue

    cat = load_catalogue()
    spec = cat.get(code.upper())
    if spec is None:
        raise UsageError(f"no check {code!r}; `auditor checks` lists the codes")
    typer.echo(f"{spec.code} {spec.name} ({spec.family_name}, {spec.severity}, {spec.certainty}, "
               f"since {spec.since})")
    if spec.requires:
        typer.echo(f"needs: {', '.join(spec.requires)}")
    typer.echo("")
    typer.echo(spec.doc)


def profiles() -> None:
    """List the built-in profiles.

    Example: auditor profiles
    """
    from auditor.profiles import builtin_profiles

    for p in builtin_profiles().values():
        typer.echo(f"{p.name:<14} {p.title}")


def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def _register_modules(app: typer.Typer) -> None:
    for name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(f"auditor.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("auditor.commands"):
                continue
            raise
        mod.register(app)


_APP: typer.Typer | None = None


def _app() -> typer.Typer:
    """The Typer application with every command, built on first use."""
    global _APP
    if _APP is None:
        import typer as typer_module

        # The commands' annotations are strings naming `typer`; Typer resolves them here.
        globals()["typer"] = typer_module
        app = typer_module.Typer(
            name="auditor",
            help="Audit published election results: what cannot be true, what is implausible, "
            "what is decisive, and what changed between releases.",
            no_args_is_help=True,
            add_completion=False,
            pretty_exceptions_enable=False,
        )

        @functools.wraps(audit)  # Typer reads the signature and help of `audit`
        def audit_command(*args: Any, **kwargs: Any) -> None:
            raise typer_module.Exit(audit(*args, **kwargs))  # right in standalone mode too

        app.command("audit")(audit_command)
        app.command()(inspect)
        app.command("checks")(list_checks)
        app.command()(explain)
        app.command()(profiles)
        app.command()(version)
        _register_modules(app)
        _APP = app
    return _APP


def __getattr__(name: str) -> Any:
    """`auditor.cli.app`: the Typer application (built when first asked for)."""
    if name == "app":
        return _app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# `audit`'s options as `_fast_audit_args` reads them: option → (parameter, kind). "str",
# "path", "int", "float" take one value, "strs" and "paths" may be repeated, "on"/"off" set a
# flag. A unit test keeps this table equal to the options Typer builds from `audit`.
AUDIT_OPTIONS: dict[str, tuple[str, str]] = {
    "--profile": ("profile", "str"),
    "--map": ("map_", "strs"),
    "--previous": ("previous", "paths"),
    "--out": ("out", "path"),
    "--format": ("format_", "str"),
    "--fail-on": ("fail_on", "str"),
    "--only": ("only", "str"),
    "--skip": ("skip", "str"),
    "--encoding": ("encoding", "str"),
    "--delimiter": ("delimiter", "str"),
    "--sheet": ("sheet", "str"),
    "--z": ("z", "float"),
    "--alpha": ("alpha", "float"),
    "--seed": ("seed", "int"),
    "--reps": ("reps", "int"),
    "--history": ("history", "paths"),
    "--lang": ("lang", "str"),
    "--title": ("title", "str"),
    "--timestamp": ("timestamp", "on"),
    "--no-timestamp": ("timestamp", "off"),
    "--timings": ("timings", "on"),
    "--no-timings": ("timings", "off"),
    "--quiet": ("quiet", "on"),
    "-q": ("quiet", "on"),
}
_INT_RX = re.compile(r"[0-9]{1,18}\Z")
_FLOAT_RX = re.compile(r"([0-9]{1,18}\.?[0-9]{0,18}|\.[0-9]{1,18})([eE][+-]?[0-9]{1,3})?\Z")


def _fast_value(kind: str, value: str) -> Any:
    """An option's value as Typer would give it, or None when Typer should judge it."""
    if kind in ("str", "strs"):
        return value
    if kind in ("path", "paths"):
        return Path(value) if value else None
    if kind == "int":
        return int(value) if _INT_RX.match(value) else None
    if _FLOAT_RX.match(value):
        x = float(value)
        return x if math.isfinite(x) else None
    return None


def _fast_audit_args(args: list[str]) -> dict[str, Any] | None:
    """`audit`'s keyword arguments from a plain command line, without Typer; else None.

    Plain: `audit`, then input paths and the options of `AUDIT_OPTIONS` as `--opt value` or
    `--opt=value`, values not starting with `-` and of the option's type. Anything else
    (`--help`, `--`, an unknown or bundled option, a missing or odd value, no input) returns
    None and Typer parses the line, with its own messages.
    """
    if not args or args[0] != "audit" or "_AUDITOR_COMPLETE" in os.environ:
        return None
    kw: dict[str, Any] = {}
    inputs: list[Path] = []
    i = 1
    while i < len(args):
        arg = args[i]
        i += 1
        if not arg.startswith("-"):
            if not arg:
                return None
            inputs.append(Path(arg))
            continue
        name, eq, value = arg.partition("=")
        if name not in AUDIT_OPTIONS:
            return None
        param, kind = AUDIT_OPTIONS[name]
        if kind in ("on", "off"):
            if eq:
                return None
            kw[param] = kind == "on"
            continue
        if not eq:
            if i >= len(args) or args[i].startswith("-"):
                return None
            value = args[i]
            i += 1
        got = _fast_value(kind, value)
        if got is None:
            return None
        if kind in ("strs", "paths"):
            kw.setdefault(param, []).append(got)
        else:
            kw[param] = got
    if not inputs:
        return None
    return {"inputs": inputs, **kw}


def _run_typer(args: list[str] | None) -> int:
    """Run the Typer application on `args`; its own exits and usage errors as exit codes."""
    import typer as typer_module

    try:
        rv = _app()(args=args, standalone_mode=False)
        # Without standalone mode, click returns the code of a `typer.Exit` instead of raising.
        if isinstance(rv, int):
            return rv
    except SystemExit as exc:
        return int(exc.code or 0)
    except typer_module.Exit as exc:
        return int(exc.exit_code)
    except typer_module.Abort:
        return 130
    except Exception as exc:
        # Typer's bundled click raises its usage errors with `exit_code` and
        # `format_message()`: said in one paragraph, like every other bad input.
        if hasattr(exc, "format_message") and getattr(exc, "exit_code", None) == 2:
            ctx = getattr(exc, "ctx", None)
            where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            _err(f"{exc.format_message()}{where}")
            return 2
        raise
    return 0


def _exit_now(code: int) -> NoReturn:
    """End the process with `code` at once, skipping the interpreter's teardown.

    Everything the audit wrote is closed; what is left is freeing the frames and unloading
    ~1,000 modules (polars, numpy), 0.06–0.15 s of a ~1 s run. Not under a profiler, tracer
    or coverage (their reports are written at exit), nor with AUDITOR_DEBUG.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app and map errors to exit codes without tracebacks.

    Without `argv` (the `auditor` program itself, or `python -m auditor.cli`), a plain
    `audit` reads its inputs ahead (`auditor.prefetch`), runs without the cyclic garbage
    collector and ends the process when done (`_exit_now`) instead of returning.
    """
    fast = _fast_audit_args(sys.argv[1:] if argv is None else list(argv))
    if (argv is None and fast is not None and sys.getprofile() is None
            and sys.gettrace() is None and not os.environ.get("AUDITOR_DEBUG")):
        # A one-shot process. Hash the inputs and unzip them on the other core while polars
        # is imported (~0.2 s). The cyclic garbage collector would spend ~40 ms walking the
        # ~500k objects of the imported modules and the findings to free next to nothing
        # (findings, frames and polars wrappers form no cycles); the process ends right after.
        from auditor import prefetch

        prefetch.start([*fast["inputs"], *fast.get("previous", [])])
        gc.disable()
        _exit_now(_main(fast, argv))
    return _main(fast, argv)


def _main(fast: dict[str, Any] | None, argv: list[str] | None) -> int:
    """`main` after parsing: run `audit` (fast path) or Typer; errors as exit codes."""
    from auditor.ingest.readers import InputError
    from auditor.profiles import ProfileError

    try:
        if fast is None:
            return _run_typer(argv)
        try:
            return audit(**fast)
        except KeyboardInterrupt:
            return 130  # as Typer does
        except BrokenPipeError:
            # The summary's reader went away (`auditor audit … | head -1`): exit 1 like click,
            # without Python's complaint about flushing a closed pipe at exit.
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
    except (InputError, ProfileError, UsageError) as exc:
        _err(str(exc))
        return 2
    except Exception as exc:
        if os.environ.get("AUDITOR_DEBUG"):
            raise
        _err(f"internal error ({type(exc).__name__}: {exc}). This is a bug in auditor, not in "
             "your data; rerun with AUDITOR_DEBUG=1 for the traceback and report it.")
        return 3


if __name__ == "__main__":
    sys.exit(main())
