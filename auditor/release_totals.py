"""Cumulative totals of a release and the report's release figures (timeline, waterfall).

`totals(m)` sums a release per contest (optionally per region): units reported, every
protocol count, all votes and each choice's votes. REV003/REV004/REV006 and `auditor chain`
compare these across releases; `releases_figure` and `vote_steps` feed the report's
`releases` figure (see `auditor.report.figures`).
"""

from __future__ import annotations

import itertools
import threading
import weakref
from typing import Any

import polars as pl

from auditor.model import Model
from auditor.revisions import Comparison

_CACHE: dict[tuple[int, str | None], tuple[weakref.ref[Model], pl.DataFrame]] = {}
_LOCK = threading.RLock()


def totals(m: Model, level: str | None = None) -> pl.DataFrame:
    """`_totals` computed once per release and level (REV003, REV004 and REV006 share it)."""
    with _LOCK:  # checks run two at a time: the second one waits for the first's totals
        hit = _CACHE.get((id(m), level))
        if hit is not None and hit[0]() is m:
            return hit[1]
        out = _totals(m, level)
        _CACHE[(id(m), level)] = (weakref.ref(m), out)
        return out


def _totals(m: Model, level: str | None = None) -> pl.DataFrame:
    """Cumulative totals of a release per contest (and per `level`, a hierarchy column).

    Columns: contest, [level], measure, value. Measures: `units_reported` (units with any
    number), every protocol count (`Σ`), `votes` (all choices) and `votes:<choice>`.
    """
    by = ["contest", *([level] if level else [])]
    counts = m.counts()
    u = m.units.select(*by, "unit_id", *counts)
    has = pl.any_horizontal([pl.col(c).is_not_null() for c in counts]) if counts else pl.lit(False)
    parts: list[pl.LazyFrame] = []
    vsum = None
    if "choice" in m.vote_columns():
        v = m.votes.select("contest", "unit_id", "choice", "votes")
        if level:
            v = v.join(u.select("contest", "unit_id", level).unique(["contest", "unit_id"]),
                       on=["contest", "unit_id"], how="left")
        vsum = v.group_by("contest", "unit_id").agg(pl.col("votes").is_not_null().any()
                                                    .alias("__hv"))
        per = v.group_by(*by, "choice").agg(pl.col("votes").sum().alias("value"))
        parts.append(per.select(*by, pl.concat_str(pl.lit("votes:"), pl.col("choice"))
                                .alias("measure"), pl.col("value").cast(pl.Int64)))
        parts.append(v.group_by(*by).agg(pl.col("votes").sum().alias("value")).select(
            *by, pl.lit("votes").alias("measure"), pl.col("value").cast(pl.Int64)))
    if counts:
        parts.append(u.group_by(*by).agg([pl.col(c).sum() for c in counts]).unpivot(
            index=by, on=counts, variable_name="measure", value_name="value")
            .select(*by, "measure", pl.col("value").cast(pl.Int64)))
    uu = u.select(*by, "unit_id", has.alias("__hc"))
    if vsum is not None:
        uu = uu.join(vsum, on=["contest", "unit_id"], how="left").with_columns(
            (pl.col("__hc") | pl.col("__hv").fill_null(False)).alias("__hc"))
    parts.append(uu.group_by(*by).agg(pl.col("__hc").sum().cast(pl.Int64).alias("value"))
                 .select(*by, pl.lit("units_reported").alias("measure"), "value"))
    out = pl.concat(parts).collect()
    if level:  # a level may be held as a categorical: compared across releases as text
        out = out.with_columns(pl.col(level).cast(pl.String))
    return out.sort(*by, "measure")


def releases_figure(labels: list[str], tots: list[dict[str, dict[str, int | None]]],
                    contest: str | None = None, top: int = 5) -> dict[str, Any]:
    """The report's `releases` figure: shares of the leading choices across releases and
    the votes added release by release (a waterfall whose total is the last release).

    `tots[i]` maps contest → measure → value as in `totals()` (national level).
    """
    contests = [c for t in tots for c in t]
    if not contests:
        return {}
    c = contest if contest in contests else contests[-1]
    last = tots[-1].get(c, {})
    choices = sorted((k[6:] for k in last if k.startswith("votes:")),
                     key=lambda k: -(last.get("votes:" + k) or 0))[:top]
    series = []
    for ch in choices:
        vals = []
        for t in tots:
            tv = t.get(c, {})
            tot, v = tv.get("votes") or 0, tv.get("votes:" + ch)
            vals.append(round(100 * (v or 0) / tot, 3) if tot else None)
        series.append({"name": ch, "values": vals})
    totals_ = [(t.get(c, {}).get("votes") or 0) for t in tots]
    steps = [totals_[0], *[b - a for a, b in itertools.pairwise(totals_)]]
    return {"labels": labels, "series": series, "y_label": f"% of votes ({c})",
            "contest": c,
            "waterfall": {"labels": labels, "values": steps,
                          "title": f"Votes counted, release by release ({c})",
                          "title_key": "fig_waterfall_releases", "contest": c}}


def national_totals(m: Model) -> dict[str, dict[str, int | None]]:
    """`totals(m)` as contest → measure → value."""
    out: dict[str, dict[str, int | None]] = {}
    for r in totals(m).iter_rows(named=True):
        out.setdefault(str(r["contest"]), {})[str(r["measure"])] = (
            None if r["value"] is None else int(r["value"]))
    return out


def vote_steps(cmp: Comparison, contest: str) -> dict[str, Any]:
    """Waterfall from the old total votes to the new: added, revised and removed units."""
    p = cmp.pairs.filter(pl.col("contest") == contest)
    new_u = pl.col("status").is_in(["added", "reported"]) | (pl.col("method") == "rekeyed-duplicate")
    gone = pl.col("status").is_in(["removed", "withdrawn"]) | (pl.col("method")
                                                                == "rekeyed-duplicate")
    r = p.select(
        pl.col("old_votes").sum().alias("v_old"), pl.col("new_votes").sum().alias("v_new"),
        pl.col("new_votes").filter(new_u).sum().alias("added"),
        pl.col("old_votes").filter(gone).sum().alias("removed"),
    ).row(0, named=True)
    v_old, v_new = int(r["v_old"] or 0), int(r["v_new"] or 0)
    added, removed = int(r["added"] or 0), int(r["removed"] or 0)
    revised = v_new - v_old - added + removed
    return {"labels": list(STEP_LABELS), "values": [v_old, added, revised, -removed],
            "title": f"Votes from the previous release to this one ({contest})",
            "title_key": "fig_waterfall_steps", "contest": contest}


# The steps of `vote_steps`, and the report's catalogue keys that name them in its language.
STEP_LABELS = {"previous release": "wf_previous", "units added": "wf_added",
               "units revised": "wf_revised", "units removed": "wf_removed"}
