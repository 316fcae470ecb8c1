"""The engine: decide which checks apply, run them, turn their rows into findings.

Checks are pure and return frames; the engine adds the context (hierarchy path, source file
and row, fingerprint, severity), formats the plain-language message, and times every check.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from itertools import repeat
from typing import Any

import polars as pl

from auditor import __version__
from auditor.findings import AuditRun, CheckStatus, Finding, fingerprints_of
from auditor.model import Model
from auditor.registry import (
    RULE_HINT,
    CheckOutput,
    CheckSpec,
    EarlierFindings,
    load_catalogue,
    with_earlier_findings,
)

ProgressFn = Callable[[str], None]


def not_applicable_reason(spec: CheckSpec, m: Model) -> str | None:
    """Why `spec` cannot run on `m` (a missing column, no earlier release, …), or None."""
    cols = m.unit_columns()
    for req in spec.requires:
        if req == "votes":
            if "choice" not in m.vote_columns():
                return "no votes per choice"
        elif req == "previous":
            if not m.previous:
                return "no earlier release given (--previous)"
        elif req == "published":
            if m.published.select(pl.len()).collect().item() == 0:
                return "the source publishes no totals, percentages or seats"
        elif req.startswith("published:"):
            measure = req.split(":", 1)[1]
            n = m.published.filter(pl.col("measure") == measure).select(pl.len()).collect()
            if n.item() == 0:
                return f"the source publishes no `{measure}` figures"
        elif req.startswith("rule:"):
            rule = req.split(":", 1)[1]
            if m.rule(rule) is None:
                return f"no `{rule}` rule in the profile {RULE_HINT}"
        elif req.startswith("hierarchy"):
            if not m.hierarchy:
                return "no hierarchy (regions/districts) in the source"
        elif req not in cols:
            return f"no `{req}` column"
    if spec.applies is not None:
        return spec.applies(m)
    return None


def _fmt_value(v: Any) -> Any:
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return v
    return v


def format_message(template: str, row: dict[str, Any]) -> str:
    """Fill a message template with a row's fields; never fails (falls back to the raw row)."""
    if row.get("message"):
        return str(row["message"])
    if not template:
        return ", ".join(f"{k}={v}" for k, v in row.items() if v is not None)
    try:
        return template.format(**{k: _fmt_value(v) for k, v in row.items()})
    except (KeyError, ValueError, TypeError, IndexError):
        shown = {k: row.get(k) for k in ("observed", "expected", "delta") if row.get(k) is not None}
        return template.split("{")[0].strip() + " " + ", ".join(f"{k} {v}" for k, v in shown.items())


def _as_float(v: Any) -> float | int | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int | float):
        return v
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _unit_context(m: Model, keys: set[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Path, source file and source row of the units named in findings (one bulk lookup)."""
    if not keys:
        return {}
    ids = pl.Series(sorted({u for _, u in keys}), dtype=pl.String)
    cols = m.unit_columns()
    hier = [h for h in m.hierarchy if h in cols]
    src = [c for c in ("source_file", "source_row") if c in cols]
    # The path ("region / district") is joined by polars, not a Python loop per unit.
    path = (pl.concat_str([pl.col(h).cast(pl.String) for h in hier], separator=" / ",
                          ignore_nulls=True) if hier else pl.lit(None, pl.String))
    df = (m.units.filter(pl.col("unit_id").is_in(ids.implode()))
          .select("contest", "unit_id", pl.when(path != "").then(path).alias("path"), *src)
          .collect())
    blank = [None] * df.height
    return {
        (c, u): {"path": p, "source_file": f, "source_row": r}
        for c, u, p, f, r in zip(
            df["contest"].to_list(), df["unit_id"].to_list(), df["path"].to_list(),
            df["source_file"].to_list() if "source_file" in src else blank,
            df["source_row"].to_list() if "source_row" in src else blank, strict=True)
    }


def _column(df: pl.DataFrame, name: str) -> list[Any]:
    """A column as a Python list, or Nones where the check did not give it."""
    return df[name].to_list() if name in df.columns else [None] * df.height


def _texts(df: pl.DataFrame, name: str) -> list[str | None]:
    """A column as text (None stays None), or Nones where the check did not give it."""
    values = _column(df, name)
    if name in df.columns and df.schema[name] in (pl.String, pl.Categorical):
        return values
    return [None if v is None else str(v) for v in values]


def _file_names(src: list[Any], files: list[str]) -> list[str | None]:
    """The source file of each row: an index into the inputs becomes its path; a row that
    names none is the one input's, when there is only one."""
    one = str(files[0]) if len(files) == 1 else None
    out: list[str | None] = []
    for s in src:
        if isinstance(s, int) and 0 <= s < len(files):
            out.append(str(files[s]))
        else:
            out.append(one if s is None else str(s))
    return out


def rows_to_findings(spec: CheckSpec, df: pl.DataFrame, m: Model) -> list[Finding]:
    """Turn a check's violating rows into findings with context and fingerprints.

    Column by column (a Python list each, one comprehension per field) rather than row by
    row: thousands of findings (2,510 TURN001 rows on Russia 2018) are made with no lookup
    per row but the units' context, where a check did not give their path or row.
    """
    if df.height == 0:
        return []
    n = df.height
    contests, units, choices, keys = (_texts(df, c) for c in
                                      ("contest", "unit_id", "choice", "key"))
    paths, rows_ = _column(df, "path"), _column(df, "source_row")
    need = {(c or "", u) for c, u, p, r in zip(contests, units, paths, rows_, strict=True)
            if u is not None and (p is None or r is None)}
    ctx = _unit_context(m, need)
    if ctx:
        none: dict[str, Any] = {}
        got = [none if u is None else ctx.get((c or "", u), none)
               for c, u in zip(contests, units, strict=True)]
        paths = [p or g.get("path") for p, g in zip(paths, got, strict=True)]
        rows_ = [g.get("source_row") if r is None else r for r, g in zip(rows_, got, strict=True)]
        ctx_files = [g.get("source_file") for g in got]
    else:
        paths = [p or None for p in paths]
        ctx_files = [None] * n
    files = _file_names(_column(df, "source_file") if "source_file" in df.columns
                        else ctx_files, [i.path for i in m.inputs])
    code, name, family = spec.code, spec.name, spec.family
    severity, certainty, template = spec.severity, spec.certainty, spec.message
    severities = [s or severity for s in _column(df, "severity")]
    messages: list[str] = []
    for i, msg in enumerate(_column(df, "message")):
        messages.append(str(msg) if msg else format_message(
            template, {"path": paths[i], **df.row(i, named=True)}))
    # a numeric column's values are numbers already; text or flags are read one by one
    numbers = [_column(df, c) if c in df.columns and (df.schema[c].is_integer()
                                                      or df.schema[c].is_float())
               else [_as_float(v) for v in _column(df, c)]
               for c in ("observed", "expected", "delta", "p_value", "q_value")]
    affected = [None if v is None else round(float(v)) for v in _column(df, "votes_affected")]
    rows_ = [None if r is None else int(r) for r in rows_]
    each = (repeat(code, n), repeat(name, n), repeat(family, n), severities,
            repeat(certainty, n), messages, contests, units, paths, choices, *numbers,
            affected, files, rows_, keys,
            fingerprints_of(code, contests, units, choices, keys))
    return list(map(Finding.of, zip(*each, strict=True)))  # fields in `FINDING_FIELDS` order


def select_checks(
    catalogue: dict[str, CheckSpec],
    only: Iterable[str] = (),
    skip: Iterable[str] = (),
) -> list[CheckSpec]:
    """Checks chosen by code or family prefix (`--only ARITH,PCT001`, `--skip STAT`)."""
    only_l = [o.strip().upper() for o in only if o.strip()]
    skip_l = [s.strip().upper() for s in skip if s.strip()]
    out = []
    for code, spec in catalogue.items():
        if only_l and not any(code.startswith(o) for o in only_l):
            continue
        if any(code.startswith(s) for s in skip_l):
            continue
        out.append(spec)
    return out


def _run_one(
    spec: CheckSpec, m: Model, ctx: Model, progress: ProgressFn | None,
) -> tuple[CheckStatus, list[Finding], CheckOutput | None]:
    """Run one check on `ctx` (`m`, or its post-phase view) and turn its rows into findings."""
    if progress:
        progress(spec.code)
    t0 = time.perf_counter()
    reason = not_applicable_reason(spec, m)
    if reason is not None:
        return (CheckStatus(spec.code, spec.name, spec.family, "not_applicable", 0,
                            time.perf_counter() - t0, reason), [], None)
    out: CheckOutput | None = None
    try:
        res = spec.fn(ctx)
        if isinstance(res, CheckOutput):
            out, frame = res, res.rows
        else:
            frame = res
        df = frame.collect() if isinstance(frame, pl.LazyFrame) else frame
        fs = rows_to_findings(spec, df, m)
    except Exception as exc:  # a bug in one check must not hide the others' findings
        return (CheckStatus(spec.code, spec.name, spec.family, "failed", 0,
                            time.perf_counter() - t0, f"{type(exc).__name__}: {exc}"), [], out)
    status = CheckStatus(spec.code, spec.name, spec.family, "findings" if fs else "ok", len(fs),
                         time.perf_counter() - t0)
    return status, fs, out


# Up to this many units (all inputs) the checks run two at a time (`check_workers`). Polars
# keeps both cores busy in a large query, but the statistical checks are mostly numpy on one
# core and many checks are short queries: on Russia 2018 (97,699 stations) the whole
# catalogue took 3.4–3.6 s instead of 4.7–5.3 s. Above it the checks run one at a time: at
# 10M stations the 2 GiB budget has no room for two checks' working sets.
PARALLEL_MAX_UNITS = 2_000_000


def check_workers(m: Model) -> int:
    """How many checks of `m` run at once: two (or the cores, if fewer) up to
    `PARALLEL_MAX_UNITS` units, else one. Their results are gathered in the catalogue's
    order whatever the order they finish in, so the outputs do not depend on it."""
    if sum(i.rows_in_model for i in m.inputs) > PARALLEL_MAX_UNITS:
        return 1
    return min(2, os.cpu_count() or 1)


def run_checks(
    m: Model,
    specs: list[CheckSpec],
    progress: ProgressFn | None = None,
) -> tuple[list[CheckStatus], list[Finding], dict[str, Any], dict[str, Any]]:
    """Run the given checks on `m`; a check that raises is recorded as `failed`, not fatal.

    Two phases: the checks registered with `after_findings=True` run last, on a view of `m`
    that carries the findings of all the others (`auditor.registry.earlier_findings`). The
    first phase runs `check_workers(m)` checks at a time; a check's `seconds` is then its
    own wall time, which may overlap another's. Statuses, figures and summaries are
    gathered in the order of `specs` whatever the phase, so the outputs do not depend on it.
    """
    done: dict[str, tuple[CheckStatus, list[Finding], CheckOutput | None]] = {}
    pre = [s for s in specs if not s.after_findings]
    workers = check_workers(m)
    if workers > 1 and len(pre) > 1:
        pool = ThreadPoolExecutor(workers, thread_name_prefix="auditor-check")
        try:
            futures = [pool.submit(_run_one, spec, m, m, progress) for spec in pre]
            for spec, fut in zip(pre, futures, strict=True):
                done[spec.code] = fut.result()
        finally:  # an interrupt does not wait for the checks not started
            pool.shutdown(wait=True, cancel_futures=True)
    else:
        for spec in pre:
            done[spec.code] = _run_one(spec, m, m, progress)
    post = [s for s in specs if s.after_findings]
    if post:
        earlier = EarlierFindings(
            ran=frozenset(done), findings=tuple(f for _, fs, _ in done.values() for f in fs))
        ctx = with_earlier_findings(m, earlier)
        for spec in post:
            done[spec.code] = _run_one(spec, m, ctx, progress)
    statuses: list[CheckStatus] = []
    findings: list[Finding] = []
    figures: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    for spec in specs:
        status, fs, out = done[spec.code]
        statuses.append(status)
        findings.extend(fs)
        if out is not None:
            figures.update(out.figures)
            summary.update(out.summary)
    return statuses, findings, figures, summary


def audit(
    m: Model,
    only: Iterable[str] = (),
    skip: Iterable[str] = (),
    progress: ProgressFn | None = None,
    title: str | None = None,
) -> AuditRun:
    """Audit one model with the whole catalogue (or a selection) and return the run."""
    only_l, skip_l = list(only), list(skip)
    specs = select_checks(load_catalogue(only_l, skip_l), only_l, skip_l)
    statuses, findings, figures, summary = run_checks(m, specs, progress)
    findings.sort(key=Finding.sort_key)
    return AuditRun(
        tool_version=__version__,
        inputs=list(m.inputs),
        checks=statuses,
        findings=findings,
        profile=m.profile.name if m.profile else None,
        title=title or m.label,
        figures=figures,
        summary=summary,
    )


# Up to this many units the frames are computed once and held in memory, so that each check
# reads them instead of recomputing them. Ingest already holds the parsed table, so keeping
# the frames lazy saves little: at 10M synthetic stations (5 choices, Parquet, --skip STAT)
# lazy frames took 36.8 s and 5.2 GB peak, materialised ones 17.6 s and 5.0 GB (the long
# votes table, 50M rows, is most of it). Above this the frames stay lazy.
MATERIALISE_MAX_ROWS = 12_000_000


# Up to this many rows the long votes table of a wide input is computed and held too; above
# it `votes` stays a view of the wide frames (`Model.wide_votes`), which the heaviest readers
# use directly. Zero, so never: at 10M stations × 5 choices the long table is 50M rows and
# ~2 GB, and at 1M holding it cost 0.06 s and 0.25 GB that no check then used.
LONG_VOTES_MAX_ROWS = 0


def materialise(m: Model, long_votes_max: int = LONG_VOTES_MAX_ROWS) -> Model:
    """Compute the model's frames once (one shared scan) and keep them in memory."""
    wide, sums = m.wide_frames(), m.row_sums()
    frames = [m.units, m.issues, m.published]
    frames += [w.frame for w in wide] if wide is not None else [m.votes]
    units, issues, published, *rest = pl.collect_all(frames)
    # The issues are few and come in many pieces, some empty; in one piece, since polars
    # 2.1's streaming `pl.format` over such a column panicked (INPUT002 on Russia 2024).
    m.units, m.issues, m.published = units.lazy(), issues.rechunk().lazy(), published.lazy()
    if wide is not None:
        done, rest = rest[:len(wide)], rest[len(wide):]
        m.wide_votes = [replace(w, frame=f.lazy()) for w, f in zip(wide, done, strict=True)]
        long = [w.long() for w in m.wide_votes]
        if long:
            view = pl.concat(long)
            n = sum(f.height * len(w.choices) for w, f in zip(wide, done, strict=True))
            m.votes = view.collect().lazy() if n <= long_votes_max else view
        else:
            m.votes = m.votes.collect().lazy()
    else:
        m.votes, rest = rest[0].lazy(), rest[1:]
    # The row sums stay a query over the wide frames now in memory, computed where a check
    # needs them (~0.05 s at 10M units) rather than held (115 MB at 10M).
    m.choice_sums = sums
    if wide is None:
        m.wide_votes = None
    m.votes_source = m.votes
    m._schema_cache.clear()
    return m


def prepare(m: Model, materialise_max: int = MATERIALISE_MAX_ROWS,
            long_votes_max: int = LONG_VOTES_MAX_ROWS) -> Model:
    """Make a loaded model ready for checks: materialise it when small enough, validate it
    with its pandera schemas and add the failures to `issues`; the same for earlier releases."""
    from auditor.model import ISSUE_SCHEMA, validate

    if sum(i.rows_in_model for i in m.inputs) <= materialise_max:
        materialise(m, long_votes_max)
    extra = validate(m)
    if extra.height:
        m.issues = pl.concat([m.issues.cast(ISSUE_SCHEMA), extra.lazy().cast(ISSUE_SCHEMA)])
    for p in m.previous:
        if p is not m:
            prepare(p, materialise_max, long_votes_max)
    return m
