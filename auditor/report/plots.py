"""Plotly figure specs (plain JSON for plotly.js) built from the figure data in `AuditRun.figures`.

No plotly Python import: the specs are dicts handed to `Plotly.newPlot` in the page, which
keeps rendering fast and the bytes deterministic. Text that may come from the input (party
and region names) is HTML-escaped, because plotly.js reads a few tags inside its labels.
The shapes accepted are documented in `auditor.report.figures`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Translate = Callable[..., str]

# Regions drawn at most in the flag-rate figure: beyond that the bars become unreadable.
MAX_REGIONS = 40
COLORS = ("#1f5fa8", "#d9822b", "#2e8b57", "#8e44ad", "#c0392b", "#7f8c8d")


@dataclass
class FigureView:
    """One figure of the report: a fixed div id, its title and caption, and the plotly spec."""

    id: str
    title: str
    caption: str
    spec: dict[str, Any]
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _esc(s: Any) -> str:
    """Input text for plotly labels: escaped so that plotly's tag parser shows it as text."""
    # plotly reads tags and &lt; &gt; &amp; entities in labels but shows &quot; literally:
    # escape only what it interprets, so quotes in names stay quotes
    return html.escape(str(s), quote=False)


def _r(x: Any, nd: int = 3) -> float | None:
    """A number rounded for the page, None for missing or non-finite values."""
    if x is None or isinstance(x, bool):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    if math.isnan(v) or math.isinf(v):
        return None
    return round(v, nd)


def _layout(x_title: str, y_title: str, height: int = 340, **extra: Any) -> dict[str, Any]:
    lay: dict[str, Any] = {
        "height": height,
        "margin": {"l": 60, "r": 20, "t": 10, "b": 50},
        "xaxis": {"title": {"text": x_title}, "zeroline": False},
        "yaxis": {"title": {"text": y_title}, "zeroline": False},
        "bargap": 0,
        "showlegend": False,
        "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "legend": {"orientation": "h", "y": -0.25},
    }
    lay.update(extra)
    return lay


def _hist_note(h: dict[str, Any], t: Translate, fmt: Callable[[Any], str] = str) -> str:
    above, undefined = int(h.get("above") or 0), int(h.get("undefined") or 0)
    if not (above or undefined):
        return ""
    top = _r(float(h.get("bin_start", -0.05)) + float(h.get("bin_width", 0.1))
             * len(h.get("counts", [])), 1)
    parts = ([t("fig_outside_above", max=top, n=fmt(above))] if above else []) \
        + ([t("fig_outside_undefined", n=fmt(undefined))] if undefined else [])
    return t("fig_outside", parts="; ".join(parts))


def turnout(h: dict[str, Any], t: Translate,
            fmt: Callable[[Any], str] = str) -> FigureView | None:
    """Units per 0.1-point turnout bin, as bars (`fmt` writes the counts left out)."""
    counts = h.get("counts")
    if not counts:
        return None
    w = float(h.get("bin_width", 0.1))
    x0 = float(h.get("bin_start", -w / 2)) + w / 2
    trace = {"type": "bar", "x0": _r(x0), "dx": w, "y": [int(c) for c in counts],
             "marker": {"color": COLORS[0], "line": {"width": 0}},
             "hovertemplate": "%{x:.1f} %: %{y}<extra></extra>"}
    spec = {"data": [trace], "layout": _layout(t("fig_turnout_x"), t("fig_units"))}
    return FigureView("fig-turnout", t("fig_turnout_title"), t("fig_turnout_caption"), spec,
                      _hist_note(h, t, fmt))


def share(h: dict[str, Any], t: Translate) -> FigureView | None:
    """Units per 0.1-point share bin, one step line per leading choice."""
    series = h.get("series") or ([{"name": h.get("name", ""), "counts": h["counts"]}]
                                 if h.get("counts") else [])
    if not series:
        return None
    w = float(h.get("bin_width", 0.1))
    x0 = float(h.get("bin_start", -w / 2)) + w / 2
    data = [
        {"type": "scatter", "mode": "lines", "name": _esc(s.get("name", "")), "x0": _r(x0),
         "dx": w, "y": [int(c) for c in s.get("counts", [])],
         "line": {"shape": "hvh", "width": 1, "color": COLORS[i % len(COLORS)]},
         "hovertemplate": "%{x:.1f} %: %{y}"}
        for i, s in enumerate(series)
    ]
    spec = {"data": data, "layout": _layout(t("fig_share_x"), t("fig_units"), showlegend=True)}
    return FigureView("fig-share", t("fig_share_title"), t("fig_share_caption"), spec)


def fingerprint(f: dict[str, Any], t: Translate) -> FigureView | None:
    """Turnout × share 2D histogram with a log colour scale (empty cells left blank)."""
    z = f.get("z")
    if not z or not f.get("x_edges") or not f.get("y_edges"):
        return None
    zl = [[None if not v else round(math.log10(v), 2) for v in row] for row in z]
    top = max((v for row in zl for v in row if v is not None), default=0.0)
    ticks = list(range(math.ceil(top) + 1)) or [0]
    trace = {
        "type": "heatmap", "x": [_r(x, 2) for x in f["x_edges"]],
        "y": [_r(y, 2) for y in f["y_edges"]], "z": zl,
        "colorscale": [[0, "#fde0c5"], [0.35, "#f59e72"], [0.7, "#c2255c"], [1, "#3b0a45"]],
        "zmin": 0, "zmax": max(top, 1),
        "colorbar": {"title": {"text": t("fig_fingerprint_z"), "side": "right"}, "tickvals": ticks,
                     "ticktext": [f"{10 ** k:,}" for k in ticks], "thickness": 12},
        "hovertemplate": "%{x:.1f} % × %{y:.1f} %: 10^%{z}<extra></extra>",
    }
    lay = _layout(t("fig_turnout_x"), t("fig_share_x"), height=440,
                  xaxis={"title": {"text": t("fig_turnout_x")}, "range": [0, 100.5]},
                  yaxis={"title": {"text": t("fig_share_x")}, "range": [0, 100.5]})
    choice = str(f.get("choice", ""))
    return FigureView("fig-fingerprint", t("fig_fingerprint_title", choice=choice),
                      t("fig_fingerprint_caption"), {"data": [trace], "layout": lay})


def _panels(v: Any) -> list[dict[str, Any]]:
    if isinstance(v, list):
        return [p for p in v if isinstance(p, dict)]
    if isinstance(v, dict):
        if "observed" in v:
            return [v]
        return [dict(p, variable=p.get("variable", k)) for k, p in sorted(v.items())
                if isinstance(p, dict)]
    return []


def spikes(v: Any, t: Translate, fmt: Callable[[Any], str]) -> list[FigureView]:
    """Observed units per 0.1-point bin against the null mean and its 95 % envelope."""
    out = []
    for i, p in enumerate(_panels(v)):
        obs = p.get("observed")
        if not obs:
            continue
        w = float(p.get("bin_width", 0.1))
        x0 = _r(float(p.get("bin_start", -w / 2)) + w / 2)
        data: list[dict[str, Any]] = []
        if p.get("null_lo") and p.get("null_hi"):
            data += [
                {"type": "scatter", "mode": "lines", "x0": x0, "dx": w, "hoverinfo": "skip",
                 "y": [_r(y, 2) for y in p["null_lo"]], "line": {"width": 0, "shape": "hvh"},
                 "showlegend": False},
                {"type": "scatter", "mode": "lines", "x0": x0, "dx": w, "fill": "tonexty",
                 "name": t("fig_spikes_band"), "y": [_r(y, 2) for y in p["null_hi"]],
                 "line": {"width": 0, "shape": "hvh"}, "fillcolor": "rgba(120,120,120,0.35)",
                 "hoverinfo": "skip"},
            ]
        data.append({"type": "bar", "x0": x0, "dx": w, "y": [int(c) for c in obs],
                     "name": t("fig_spikes_observed"), "marker": {"color": COLORS[0]},
                     "hovertemplate": "%{x:.1f} %: %{y}<extra></extra>"})
        if p.get("null_mean"):
            data.append({"type": "scatter", "mode": "lines", "x0": x0, "dx": w,
                         "y": [_r(y, 2) for y in p["null_mean"]], "name": t("fig_spikes_null"),
                         "line": {"width": 1, "color": "#333333", "shape": "hvh"}})
        variable = str(p.get("variable", ""))
        note = ""
        if p.get("p_value") is not None:
            note = t("fig_spikes_stats", p=fmt(p.get("p_value")), excess=fmt(p.get("excess")))
        spec = {"data": data, "layout": _layout("%", t("fig_units"), showlegend=True,
                                                barmode="overlay")}
        out.append(FigureView(f"fig-spikes-{i + 1}", t("fig_spikes_title", variable=variable),
                              t("fig_spikes_caption"), spec, note))
    return out


def region_rates(names: list[str], flagged: list[int], units: list[int], level: str,
                 t: Translate) -> FigureView | None:
    """Share of units with an error or a warning per region, highest first."""
    rows = [(100.0 * f / u, n, f, u) for n, f, u in zip(names, flagged, units, strict=False)
            if u]
    if not rows or not any(r[2] for r in rows):
        return None
    rows.sort(key=lambda r: (-r[0], r[1]))
    shown = rows[:MAX_REGIONS]
    shown.reverse()  # plotly draws the first category at the bottom
    trace = {"type": "bar", "orientation": "h", "x": [_r(r[0], 2) for r in shown],
             "y": [_esc(r[1]) for r in shown],
             "customdata": [[r[2], r[3]] for r in shown],
             "hovertemplate": "%{y}: %{x:.2f} % (%{customdata[0]} / %{customdata[1]})"
                              "<extra></extra>",
             "marker": {"color": COLORS[4]}}
    lay = _layout(t("fig_regions_x"), "", height=max(200, 70 + 22 * len(shown)), bargap=0.25,
                  margin={"l": 180, "r": 20, "t": 10, "b": 50},
                  yaxis={"type": "category", "automargin": True})
    note = t("fig_regions_more", shown=len(shown), total=len(rows)) if len(rows) > len(shown) else ""
    return FigureView("fig-region-flags", t("fig_regions_title", level=level),
                      t("fig_regions_caption"), {"data": [trace], "layout": lay}, note)


def releases(r: dict[str, Any], t: Translate,
             fmt: Callable[[Any], str] = str) -> list[FigureView]:
    """A timeline of figures across releases and a waterfall of the steps between them.

    The releases are named on the axis without the prefix and suffix all their names share
    (`short_labels`), and in full on hover; the waterfall's bars carry their values
    (`fmt`), and its axis is zoomed on the changes when they are small against the first
    release's total (a caption note says so)."""
    out = []
    full = [_esc(x) for x in r.get("labels", [])]
    labels = short_labels(full)
    series = [s for s in r.get("series", []) if isinstance(s, dict)]
    if labels and series:
        data = [{"type": "scatter", "mode": "lines+markers", "x": labels, "customdata": full,
                 "y": [_r(y) for y in s.get("values", [])], "name": _esc(s.get("name", "")),
                 "line": {"color": COLORS[i % len(COLORS)]},
                 "hovertemplate": "%{customdata}: %{y}"}
                for i, s in enumerate(series)]
        lay = _layout("", _esc(r.get("y_label", "")), showlegend=True,
                      xaxis={"type": "category", "automargin": True})
        out.append(FigureView("fig-releases", t("fig_releases_title"),
                              t("fig_releases_caption"), {"data": data, "layout": lay}))
    wf = r.get("waterfall")
    if isinstance(wf, dict) and wf.get("values"):
        vals = [_r(v) for v in wf["values"]]
        names = [_esc(_step_name(s, t)) for s in wf.get("labels", [])][:len(vals)]
        x = [*short_labels(names), t("fig_total")]
        trace = waterfall_bars(x, vals, [*names, t("fig_total")], fmt)
        yaxis = {"title": {"text": ""}, "zeroline": False, "automargin": True}
        zoom = waterfall_zoom(vals)
        if zoom is not None:  # whole numbers on the ticks: "2.07695M" tells nothing
            yaxis |= {"range": list(zoom), "tickformat": ","}
        lay = _layout("", "", xaxis={"type": "category", "automargin": True}, yaxis=yaxis,
                      bargap=0.3)
        title = (t(str(wf["title_key"]), contest=str(wf.get("contest", "")))
                 if wf.get("title_key") in WATERFALL_TITLES else
                 str(wf["title"]) if wf.get("title") else t("fig_waterfall_title"))
        out.append(FigureView("fig-waterfall", title, t("fig_waterfall_caption"),
                              {"data": [trace], "layout": lay},
                              t("fig_waterfall_zoomed") if zoom is not None else ""))
    return out


# Waterfall titles the catalogue has (`title_key` of the figure data, with its `contest`).
WATERFALL_TITLES = ("fig_waterfall_releases", "fig_waterfall_steps")


def _step_name(label: Any, t: Translate) -> str:
    """A waterfall step in the report's language when it is one of `vote_steps`'."""
    from auditor.release_totals import STEP_LABELS

    key = STEP_LABELS.get(str(label))
    return t(key) if key else str(label)


# What ends a word in a release's name: `short_labels` cuts there only.
_WORD_END = "_-. /"


def _common_start(texts: list[str]) -> str:
    """The characters every text starts with."""
    first = min(texts, key=len)
    for i, ch in enumerate(first):
        if any(x[i] != ch for x in texts):
            return first[:i]
    return first


def short_labels(labels: list[str]) -> list[str]:
    """`labels` without the prefix and suffix they all share, cut where a word ends (`_`,
    `-`, `.`, space, `/`): `georgia_…_nov13_2024.xlsx`, `georgia_…_nov14_2024.xlsx` →
    `nov13`, `nov14`. The labels as they are when there are fewer than two, or when the
    cut would leave one empty or make two alike."""
    if len(labels) < 2:
        return labels
    pre = _common_start(labels)
    head = max(pre.rfind(c) for c in _WORD_END) + 1
    suf = _common_start([x[::-1] for x in labels])[::-1]
    ends = [i for i, ch in enumerate(suf) if ch in _WORD_END]
    tail = len(suf) - ends[0] if ends else 0
    out = [x[head:len(x) - tail] for x in labels]
    if any(not x for x in out) or len(set(out)) < len(out):
        return labels
    return out


def waterfall_zoom(steps: list[float | None]) -> tuple[float, float] | None:
    """The y range of a waterfall whose steps after the first are small against it: the
    running totals from the first bar on, with room around them; None when the bars from 0
    show the steps well enough (they span a fifth of the largest total or more)."""
    if len(steps) < 2:
        return None
    levels, run = [], 0.0
    for v in steps:
        run += v or 0.0
        levels.append(run)
    lo, hi = min(levels), max(levels)
    if hi <= 0 or lo < 0 or hi == lo or hi - lo >= 0.2 * hi:
        return None  # (no change at all: nothing to zoom on, the labels say 0)
    pad = max(0.5 * (hi - lo), 2.0)
    return (_r(max(lo - pad, 0.0)) or 0.0, _r(hi + pad) or 0.0)


# plotly's own waterfall colours: increase, decrease, total
WATERFALL_COLORS = ("#3d9970", "#ff4136", "#4499ff")


def waterfall_bars(x: list[str], steps: list[float | None], names: list[str] | None = None,
                   fmt: Callable[[Any], str] = str) -> dict[str, Any]:
    """A waterfall as one bar trace: step i is a bar from the running total before it to the
    total after it (`base` + `y`), green up and red down, and a last bar (`x[-1]`) from 0 to
    the total. A missing step moves nothing and draws no bar. Each bar is labelled with its
    value (`fmt`; the steps after the first with their sign) and hovered with its `names`.

    plotly's `waterfall` trace type is not in the bundle the report embeds (see
    `render.PLOTLY_JS`); these are the bars it would draw."""
    base: list[float] = []
    run = 0.0
    for v in steps:
        base.append(_r(run) or 0.0)
        run += v or 0.0
    up, down, total = WATERFALL_COLORS
    text = [("" if v is None else f"+{fmt(v)}" if i and v > 0 else fmt(v))
            for i, v in enumerate(steps)] + [fmt(_r(run))]
    return {
        "type": "bar", "x": x, "y": [*steps, _r(run)], "base": [*base, 0],
        "marker": {"color": [up if (v or 0) >= 0 else down for v in steps] + [total]},
        "text": text, "textposition": "outside", "cliponaxis": False,
        "customdata": names or x, "hovertemplate": "%{customdata}: %{text}<extra></extra>",
    }
