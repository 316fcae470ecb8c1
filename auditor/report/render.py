"""Render an `AuditRun` as one self-contained HTML file (Jinja2 with autoescape, plotly.js inline).

Everything the page needs is inside it: CSS, a small script, the figure data and plotly.js
(plotly's own cartesian bundle, kept in `static/`, gzip-compressed and base64-encoded,
unpacked in the browser with `DecompressionStream`, so the file stays well under 5 MB).
Nothing is fetched from the network. Output bytes depend only on the run and the language:
fixed div ids, sorted JSON, no time stamp unless the run has one.
"""

from __future__ import annotations

import base64
import gzip
import json
import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path, PurePath
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from auditor import stash
from auditor.findings import SEVERITY_RANK, AuditRun, Finding
from auditor.registry import FAMILIES
from auditor.report import plots

LANGS = ("en", "ru")
# Above this many findings a check's table shows the strongest ones and links findings.csv.
MAX_ROWS_PER_CHECK = 2000
# All tables together: keeps a report with many busy checks a few MB, whatever the input.
MAX_ROWS_TOTAL = 5000
SUMMARY_FIRST = ("decisive",)
SUMMARY_METHODS = ("calibration", "options")


class Messages:
    """The UI text of one language from `messages.toml`, English filling any gap."""

    def __init__(self, lang: str) -> None:
        cat = load_catalogue_text()
        if lang not in cat:
            raise ValueError(f"unknown report language {lang!r}; use one of {', '.join(LANGS)}")
        self.lang = lang
        self.table = {**cat["en"], **cat[lang]}

    def __call__(self, key: str, **kw: Any) -> str:
        text = self.table[key]
        return text.format(**kw) if kw else text

    def label(self, key: Any) -> str:
        """A summary key for the page: its `key_…` text, a check code with the check's name,
        else the key with spaces for underscores (never a raw "turn002_z")."""
        k = str(key)
        if f"key_{k}" in self.table:
            return self.table[f"key_{k}"]
        if k.startswith("share of "):  # STAT001's per-choice variables
            return self("key_share_of", choice=k[len("share of "):])
        from auditor.registry import REGISTRY

        spec = REGISTRY.get(k)
        if spec is not None:
            return f"{k} {spec.name.replace('-', ' ')}"
        return k.replace("_", " ")

    def count(self, n: int) -> str:
        """"N findings" with the singular where the language has one."""
        return self("check_count_one") if n == 1 else self("check_count", n=self.num(n))

    def num(self, x: Any, digits: int = 4) -> str:
        """A number for the page: grouped thousands, at most `digits` significant decimals."""
        if x is None:
            return ""
        if isinstance(x, bool):
            return self("yes") if x else self("no")
        if isinstance(x, int):
            s = f"{x:,}"
        elif isinstance(x, float):
            if math.isnan(x) or math.isinf(x):
                return str(x)
            if x.is_integer() and abs(x) < 1e15:
                s = f"{int(x):,}"
            elif x != 0 and abs(x) < 1e-3:
                return f"{x:.2e}"
            else:
                s = f"{x:,.{digits}g}" if abs(x) >= 10**digits else f"{x:,.{digits}f}".rstrip("0")
                s = s.rstrip(".")
        else:
            return str(x)
        if self.lang == "ru":
            s = s.replace(",", "\u00a0").replace(".", ",")
        return s


@lru_cache(maxsize=1)
def load_catalogue_text() -> dict[str, dict[str, str]]:
    """All languages of the message catalogue, as parsed from `messages.toml`."""
    text = resources.files("auditor.report").joinpath("messages.toml").read_text("utf-8")
    return tomllib.loads(text)


# Where the compressed plotly.js is kept between processes (`auditor.stash`).
_STASH_DIR = Path(__file__).parent / "__pycache__"


# plotly.js as the report embeds it: plotly's official partial bundle of the cartesian trace
# types (bar, scatter, heatmap, …), the npm package `plotly.js-cartesian-dist-min` 3.7.0, file
# `plotly-cartesian.min.js`, kept as published (MIT licence beside it). The report draws
# bars, lines and heatmaps only (the release waterfall is drawn with bars): the full bundle
# of the plotly package (4.8 MB) took 2.4–2.6 s to draw the 1M-station report in headless
# Chromium where this one (1.4 MB) took 1.1–1.5 s, and the report went from 2.14 to 0.81 MB.
PLOTLY_JS = "plotly-cartesian-3.7.0.min.js"
PLOTLY_JS_SHA256 = "7c593b9eda0e74a1d07335cf89cbf7a55ffc114909980c3729af835453bdb02a"


@lru_cache(maxsize=1)
def plotly_bundle() -> str:
    """plotly.js (`PLOTLY_JS`), gzip-compressed (fixed mtime) and base64-encoded.

    Compressing it takes ~0.08 s; the text is kept beside the byte code (`auditor.stash`),
    named by the bundle's file name, size and time, so a process reads it in milliseconds.
    The bytes are the same either way."""
    key = _plotly_key()
    path = _STASH_DIR / f"plotly-{key}.b64"
    text = stash.read(path, _nonempty) if key else None
    if text is None:
        raw = resources.files("auditor.report").joinpath("static", PLOTLY_JS).read_bytes()
        text = base64.b64encode(gzip.compress(raw, compresslevel=9, mtime=0)).decode("ascii")
        if key:
            stash.write(path, text, "plotly-")
    return text


def _plotly_key() -> str | None:
    """The bundle's file name, size and time (None when they cannot be read)."""
    try:
        info = Path(str(resources.files("auditor.report").joinpath("static", PLOTLY_JS))).stat()
        return f"{PLOTLY_JS.removesuffix('.min.js')}-{info.st_size}-{info.st_mtime_ns}"
    except (OSError, TypeError, ValueError):
        return None


def _nonempty(text: str) -> str:
    """A stashed text as it is; an empty one is no copy."""
    if not text:
        raise ValueError("empty")
    return text


def _static(name: str) -> str:
    return resources.files("auditor.report").joinpath("static", name).read_text("utf-8")


def script_json(obj: Any) -> Markup:
    """JSON safe inside a <script> element: <, > and & written as \\u escapes."""
    text = json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      allow_nan=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _rank_key(f: Finding) -> tuple[Any, ...]:
    """Strongest first: worst severity, smallest q then p, largest |delta|, most votes."""
    def num(x: Any, default: float) -> float:
        return default if x is None else float(x)

    return (
        -SEVERITY_RANK[f.severity],
        num(f.q_value, math.inf),
        num(f.p_value, math.inf),
        -abs(num(f.delta, 0.0)),
        -num(f.votes_affected, 0.0),
        f.sort_key(),
    )


def row_caps(sizes: dict[str, int], per_check: int = MAX_ROWS_PER_CHECK,
             total: int = MAX_ROWS_TOTAL) -> dict[str, int]:
    """Rows shown per check: at most `per_check` each and `total` overall, shared fairly."""
    want = {k: min(n, per_check) for k, n in sizes.items()}
    if sum(want.values()) <= total:
        return want
    caps: dict[str, int] = {}
    left, todo = total, sorted(want, key=lambda k: (want[k], k))
    while todo:
        share = left // len(todo)
        k = todo.pop(0)
        caps[k] = min(want[k], share)
        left -= caps[k]
    return caps


@dataclass
class CheckView:
    """One check's findings as the page shows them."""

    code: str
    name: str
    severity: str
    certainty: str
    doc: str
    total: int
    rows: list[Finding]
    columns: list[str]
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class FamilyView:
    """The checks of one family that have findings."""

    code: str
    title: str
    checks: list[CheckView]
    total: int


def _columns(fs: list[Finding]) -> list[str]:
    cols = ["severity", "message", "location"]
    for name in ("choice", "observed", "expected", "delta", "p_value", "q_value",
                 "votes_affected"):
        if any(getattr(f, name) is not None for f in fs):
            cols.append(name)
    return cols


def family_views(run: AuditRun, t: Messages) -> list[FamilyView]:
    """Findings grouped by family (catalogue order) and check code, strongest rows first."""
    from auditor.registry import load_catalogue

    catalogue = load_catalogue()
    by_code: dict[str, list[Finding]] = {}
    for f in run.findings:
        by_code.setdefault(f.code, []).append(f)
    caps = row_caps({c: len(fs) for c, fs in by_code.items()})
    order = {fam: i for i, fam in enumerate(FAMILIES)}
    families: dict[str, list[CheckView]] = {}
    for code in sorted(by_code, key=lambda c: (order.get(by_code[c][0].family, 99), c)):
        fs = sorted(by_code[code], key=_rank_key)
        spec = catalogue.get(code)
        counts = {s: 0 for s in ("error", "warning", "info")}
        for f in fs:
            counts[f.severity] += 1
        first = fs[0]
        families.setdefault(first.family, []).append(CheckView(
            code=code, name=first.name, severity=max(counts, key=lambda s: (counts[s] > 0,
                                                                          SEVERITY_RANK[s])),
            certainty=first.certainty, doc=spec.doc if spec else "", total=len(fs),
            rows=fs[: caps[code]], columns=_columns(fs), counts=counts))
    out = []
    for fam, checks in families.items():
        key = f"family_{fam}"
        title = t(key) if key in t.table else t("family_other") + f" ({fam})"
        out.append(FamilyView(fam, title, checks, sum(c.total for c in checks)))
    return out


def verdict(run: AuditRun, t: Messages) -> tuple[str, str]:
    """The verdict in one sentence (plus caveats) and its severity class."""
    c = run.counts_by_severity()
    kw = {k: t.num(v) for k, v in c.items()}
    if c["error"] and c["warning"]:
        text, cls = t("verdict_error", errors=kw["error"], warnings=kw["warning"]), "error"
    elif c["error"]:
        text, cls = t("verdict_error_only", errors=kw["error"]), "error"
    elif c["warning"]:
        text, cls = t("verdict_warning", warnings=kw["warning"]), "warning"
    elif not run.figures_checked():
        text, cls = t("verdict_unchecked"), "warning"
    elif c["info"]:
        text, cls = t("verdict_info", info=kw["info"]), "ok"
    else:
        text, cls = t("verdict_clean"), "ok"
    decisive = run.summary.get("decisive")
    if c["error"] or c["warning"]:
        flags = [d.get("could_change") for d in decisive or [] if isinstance(d, dict)]
        if any(f is True for f in flags):
            text += " " + t("verdict_decisive_yes")
        elif flags and all(f is False for f in flags):
            text += " " + t("verdict_decisive_no")
    failed = sum(1 for s in run.checks if s.status == "failed")
    if failed:
        text += " " + t("verdict_failed", failed=t.num(failed))
    if any(not i.balanced for i in run.inputs):
        text += " " + t("verdict_unbalanced")
    return text, cls


def _region_figure(run: AuditRun, t: Messages) -> plots.FigureView | None:
    """Flag rate per top-level region: a check's own counts, else derived from the findings."""
    rf = run.figures.get("region_flags")
    if isinstance(rf, dict) and rf.get("names"):
        return plots.region_rates(list(rf["names"]), list(rf.get("flagged", [])),
                                  list(rf.get("units", [])), str(rf.get("level", "")), t)
    ru = run.figures.get("region_units")
    if not (isinstance(ru, dict) and ru.get("names")):
        return None
    flagged: dict[str, set[tuple[str, str]]] = {}
    for f in run.findings:
        if f.severity == "info" or f.unit_id is None or not f.path:
            continue
        # The path is written top-down and joined with " / " by the engine.
        flagged.setdefault(f.path.split(" / ")[0], set()).add((f.contest or "", f.unit_id))
    names = [str(n) for n in ru["names"]]
    return plots.region_rates(names, [len(flagged.get(n, ())) for n in names],
                              [int(u) for u in ru.get("units", [])], str(ru.get("level", "")), t)


def figure_views(run: AuditRun, t: Messages) -> tuple[list[plots.FigureView], list[str]]:
    """Every figure the run has data for, in a fixed order; absent data are skipped.

    Figure data come from checks; a malformed shape costs its figure, never the report:
    the figure's key and the error are returned to be shown in place of the figure.
    """
    figs = run.figures
    builders: list[tuple[str, Callable[[], Any]]] = [
        ("turnout_hist", lambda: plots.turnout(figs["turnout_hist"], t, t.num)),
        ("share_hist", lambda: plots.share(figs["share_hist"], t)),
        ("fingerprint", lambda: plots.fingerprint(figs["fingerprint"], t)),
        ("integer_spikes", lambda: plots.spikes(figs["integer_spikes"], t, t.num)),
        ("region_flags", lambda: _region_figure(run, t)),
        ("releases", lambda: plots.releases(figs["releases"], t, t.num)),
    ]
    out: list[plots.FigureView] = []
    errors: list[str] = []
    for key, build in builders:
        if key not in figs and not (key == "region_flags" and "region_units" in figs):
            continue
        try:
            got = build()
        except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
            errors.append(f"{key}: {type(exc).__name__}: {exc}")
            continue
        if isinstance(got, list):
            out.extend(got)
        elif got is not None:
            out.append(got)
    if t.lang == "ru":  # axis numbers as the page writes them: 2 076 734,5
        for v in out:
            v.spec.setdefault("layout", {})["separators"] = ",\u00a0"
    return out, errors


def _path_once(path: str) -> str:
    """"A / A/B / A/B/C" (levels that carry their parents' names) shown as "A / B / C"."""
    parts = [p.strip() for p in path.split(" / ")]
    out = []
    prev = ""
    for p in parts:
        out.append(p[len(prev) + 1:] if prev and p.startswith(prev + "/") else p)
        prev = p
    return " / ".join(out)


def location(f: Finding, row_label: str = "row", one_input: bool = False) -> dict[str, str]:
    """Where a finding points: hierarchy path, unit id, source file and row.

    With a single input file its name is left out (the inputs table names it) and the
    source reads "row 982".
    """
    src = ""
    if f.source_file and not one_input:
        src = PurePath(f.source_file).name
        if f.source_row is not None:
            src += f":{f.source_row}"
    elif f.source_row is not None:
        src = f"{row_label} {f.source_row}"
    unit = f.unit_id or ""
    path = _path_once(f.path or "")
    # Unit ids are often the key columns joined by "/", repeating the path: only the part
    # the path does not already say is shown (the full id is in findings.csv).
    known = {p.strip() for p in path.replace(" / ", "/").split("/") if p.strip()}
    parts = unit.split("/")
    while len(parts) > 1 and parts[0].strip() in known:
        parts.pop(0)
    if path:
        unit = "/".join(parts)
    return {"path": path, "unit": unit, "contest": f.contest or "", "source": src}


def _env() -> Environment:
    env = Environment(loader=PackageLoader("auditor.report", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    return env


def render_html(run: AuditRun, lang: str = "en") -> str:
    """The report of `run` as one self-contained HTML document in `lang` (en or ru)."""
    t = Messages(lang)
    catalogue_codes = {s.code: s for s in _statistical_specs()}
    stat_ran = [catalogue_codes[s.code] for s in run.checks
                if s.code in catalogue_codes and s.status in ("ok", "findings")]
    summary = run.summary
    first = {k: summary[k] for k in SUMMARY_FIRST if k in summary}
    methods = {k: summary[k] for k in SUMMARY_METHODS if k in summary}
    other = {k: v for k, v in summary.items() if k not in first and k not in methods}
    # Scalars read best as one small table; lists and mappings get a heading each.
    scalars = {k: v for k, v in other.items() if not isinstance(v, dict | list)}
    other = {k: v for k, v in other.items() if k not in scalars}
    figures, figure_errors = figure_views(run, t)
    contests = {f.contest for f in run.findings}
    ctx = {
        "run": run,
        "t": t,
        "lang": lang,
        "title": run.title or t("title_default"),
        "verdict": verdict(run, t),
        "counts": run.counts_by_severity(),
        "by_family": run.counts_by_family(),
        "family_title": lambda fam: t(f"family_{fam}") if f"family_{fam}" in t.table else fam,
        "families": family_views(run, t),
        "figures": figures,
        "figure_errors": figure_errors,
        "figdata": script_json({f.id: f.spec for f in figures}),
        "first_summary": first,
        "other_summary": other,
        "scalar_summary": scalars,
        "options": summary.get("options") if isinstance(summary.get("options"), dict) else None,
        "calibration": summary.get("calibration"),
        "stat_specs": stat_ran,
        "n_ran": sum(1 for s in run.checks if s.status in ("ok", "findings")),
        "n_na": sum(1 for s in run.checks if s.status == "not_applicable"),
        "n_failed": sum(1 for s in run.checks if s.status == "failed"),
        "total_seconds": sum(s.seconds for s in run.checks),
        "show_contest": len(contests) > 1,
        "location": lambda f: location(f, t("row_label"), len(run.inputs) == 1),
        "basename": lambda p: PurePath(p).name,
        "css": Markup(_static("report.css")),
        "js": Markup(_static("report.js")),
        "plotly_gz": Markup(plotly_bundle()) if figures else Markup(""),
    }
    return _env().get_template("report.html.j2").render(**ctx)


def _statistical_specs() -> list[Any]:
    from auditor.registry import load_catalogue

    return [s for s in load_catalogue().values() if s.certainty == "statistical"]
