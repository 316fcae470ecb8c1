"""REV: what changed between two publications of the same election.

Every check compares the audited release with the one published just before it
(`m.previous[-1]`, given with `auditor audit NEW --previous OLD` or by `auditor diff` and
`auditor chain`). Units are matched by `auditor.revisions.compare`: by key, or without a key
by position plus a content fingerprint (those matches are flagged as uncertain).
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from auditor.model import Model
from auditor.registry import CheckOutput, check
from auditor.release_totals import national_totals, releases_figure, totals, vote_steps
from auditor.revisions import Comparison, compare
from checks._util import place, quote_name

NEW_STATUSES = ("added", "reported")
# Smallest share movement (percentage points) REV004 reports; below it, rounding of
# revised counts in a few units moves shares by thousandths of a point.
DEFAULT_SHARE_PP = 0.05


def _releases(m: Model) -> tuple[Model, Comparison]:
    old = m.previous[-1]
    return old, compare(old, m)


def _label(x: Model) -> str:
    return x.label or (x.inputs[0].path if x.inputs else "previous release")


def _n(x: Any) -> str:
    if x is None:
        return "empty"
    if isinstance(x, float) and not x.is_integer():
        return f"{x:,.2f}"
    return f"{int(x):,}"


def _signed(x: float) -> str:
    return f"{x:+,.0f}" if float(x).is_integer() else f"{x:+,.2f}"


def _held(votes: Any) -> str:
    """" (1,234 votes)": a unit's votes, not a sum of unlike counts; empty when unknown."""
    if votes is None:
        return ""
    return f" ({_n(votes)} vote{'' if votes == 1 else 's'})"


def _multi_contest(m: Model) -> bool:
    """Whether the release has several contests (then messages name theirs)."""
    return int(m.units.select(pl.col("contest").n_unique()).collect().item()) > 1


def _path(row: dict[str, Any], hier: list[str]) -> str | None:
    parts = [str(row[h]) for h in hier if row.get(h) is not None]
    return " / ".join(parts) or None


def _old_file(old: Model) -> str | None:
    return old.inputs[0].path if len(old.inputs) == 1 else None


@check(code="REV001", name="units-added-or-removed", severity="warning",
       requires=("previous",))
def units_added_removed(m: Model) -> CheckOutput:
    """Units that appear, disappear, change key, or lose their numbers between releases.

    What: each unit of the new release is matched with the previous release (by key, or by
    position plus a content fingerprint when the source has no key). A unit only in the new
    release is *added* (info), one only in the old is *removed* (warning), one whose numbers
    were emptied is *withdrawn* (warning), and a unit that vanished while another appeared
    with identical numbers, or a surplus copy of a duplicated key replaced by a new key, is
    *re-keyed* (info). Units that were listed empty before and now have numbers are normal
    reporting progress: counted in the summary, not reported one by one.
    Why it matters: a station that silently leaves the table takes its votes with it; an
    added station changes totals after the fact. Re-keyed units explain both without alarm.
    Example: Russia 2021 release 1 → final adds 197 stations in Tambov oblast; Georgia nov13
    → nov14 drops the second (24, 23) row (a copy of the first) and adds (25, 33).
    """
    old, cmp = _releases(m)
    p = cmp.pairs.filter(pl.col("status").is_in(["added", "removed", "rekeyed", "withdrawn"]))
    fps = _old_fingerprints(cmp)
    rows = []
    for r in p.iter_rows(named=True):
        st = r["status"]
        unc = " (matched by position only: uncertain)" if r["uncertain"] else ""
        path = _path(r, cmp.hierarchy)
        base: dict[str, Any] = {"contest": r["contest"], "path": path, "key": st}
        if st == "added":
            msg = (f"unit {r['new_id']} is new in this release{_held(r['new_votes'])}; it was "
                   f"not in {_label(old)}")
            rows.append(base | {"unit_id": r["new_id"], "observed": r["new_mass"],
                                "severity": "info", "source_row": r["new_pos"], "message": msg})
        elif st == "removed":
            msg = (f"unit {r['old_id']} of {_label(old)} is gone from this release"
                   f"{_held(r['old_votes'])}")
            rows.append(base | {"unit_id": r["old_id"], "expected": r["old_mass"],
                                "source_file": _old_file(old), "source_row": r["old_pos"],
                                "message": msg})
        elif st == "withdrawn":
            msg = (f"unit {r['old_id']} had numbers in {_label(old)} and is listed without "
                   f"any now{unc}")
            rows.append(base | {"unit_id": r["new_id"] or r["old_id"],
                                "expected": r["old_mass"], "source_row": r["new_pos"],
                                "message": msg})
        else:
            if r["method"] == "rekeyed-duplicate":
                copy = fps.get((r["contest"], r["old_id"]))
                how = (" (that copy repeated the first copy's numbers)" if copy
                       else " (that copy had numbers of its own)")
                msg = (f"the duplicated key {r['old_id'].rsplit('#', 1)[0]} lost its surplus "
                       f"copy {r['old_id']}{how} and {r['new_id']} appeared: the key typo "
                       f"was corrected; {r['new_id']} is audited as a new unit (uncertain "
                       "pairing)")
            else:
                msg = (f"unit {r['old_id']} reappears as {r['new_id']} with identical numbers: "
                       "a corrected or renamed key, not a removal plus an addition")
            rows.append(base | {"unit_id": r["new_id"], "severity": "info",
                                "source_row": r["new_pos"], "message": msg})
    df = pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame(
        schema={"contest": pl.String, "unit_id": pl.String})
    pub = {"published_rows_old": _rows(old.published), "published_rows_new": _rows(m.published)}
    chain = [*m.previous, m]
    fig = releases_figure([_label(x) for x in chain], [national_totals(x) for x in chain],
                          m.rule("threshold_contest"))
    if fig and len(chain) == 2:
        fig["waterfall"] = vote_steps(cmp, fig["contest"])
    return CheckOutput(df, figures={"releases": fig} if fig else {},
                       summary={"revisions": cmp.summary() | pub | {"previous": _label(old)}})


def _rows(lf: pl.LazyFrame) -> int:
    return int(lf.select(pl.len()).collect().item())


def _old_fingerprints(cmp: Comparison) -> dict[tuple[str, str], bool]:
    """For re-keyed duplicate copies: True when the copy matched its first copy exactly."""
    dup = cmp.pairs.filter(pl.col("method") == "rekeyed-duplicate")
    if dup.height == 0:
        return {}
    mass = dict(zip(zip(cmp.pairs["contest"], cmp.pairs["old_id"], strict=True),
                    cmp.pairs["old_mass"], strict=True))
    out = {}
    for c, oid in zip(dup["contest"], dup["old_id"], strict=True):
        first = mass.get((c, oid.rsplit("#", 1)[0]))
        out[(c, oid)] = first is not None and first == mass.get((c, oid))
    return out


@check(code="REV002", name="reported-unit-revised", severity="warning",
       requires=("previous",))
def reported_unit_revised(m: Model) -> pl.DataFrame:
    """Counts that changed in a unit that already had its numbers in the previous release.

    What: for every matched unit that had numbers before (it was reported as complete), each
    count or vote cell whose value differs: old → new and the difference. One finding per
    unit, listing the changed cells; `observed`/`expected`/`delta` show the largest change,
    `votes_affected` the sum of absolute vote changes.
    Why it matters: a protocol, once published, should change only through a documented
    correction. Silent revisions after the fact are what observers archive releases for.
    Example: Georgia nov13 → nov14 revises 86 precincts; Russia 2021 release 1 → final 16.
    """
    _, cmp = _releases(m)
    multi = _multi_contest(m)
    changed = cmp.pairs.filter(pl.col("status") == "changed").select(
        "contest", "new_id", "uncertain", "new_pos", *cmp.hierarchy)
    cells = cmp.cells.join(changed, on=["contest", "new_id"], how="inner")
    rows = []
    for (contest, uid), g in cells.group_by(["contest", "new_id"], maintain_order=True):
        recs = g.sort([pl.col("delta").abs().fill_null(0), "field"],
                      descending=[True, False]).to_dicts()
        top = recs[0]
        parts = [f"{r['field']} {_n(r['old'])} → {_n(r['new'])}"
                 + (f" ({_signed(r['delta'])})" if r["delta"] is not None else "")
                 for r in recs[:8]]
        more = f" and {len(recs) - 8} more" if len(recs) > 8 else ""
        unc = top["uncertain"]
        old_id = top["old_id"]
        ids = f"{uid}" if old_id == uid else f"{uid} (was {old_id})"
        what = "1 number" if len(recs) == 1 else f"{len(recs):,} numbers"
        inc = f" ({contest})" if multi else ""
        msg = (f"{what} changed in {ids}{inc} after it was reported: "
               + "; ".join(parts) + more
               + (" — matched by position only, so this may be another unit" if unc else ""))
        votes = sum(abs(r["delta"] or 0) for r in recs if r["is_vote"])
        rows.append({
            "contest": contest, "unit_id": uid, "path": _path(top, cmp.hierarchy),
            "choice": top["field"] if len(recs) == 1 and top["is_vote"] else None,
            "observed": top["new"], "expected": top["old"], "delta": top["delta"],
            "votes_affected": votes, "source_row": top["new_pos"],
            "severity": "info" if unc else None, "message": msg,
        })
    return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame(
        schema={"contest": pl.String, "unit_id": pl.String})


def _levels(m: Model, old: Model) -> list[str | None]:
    lv: list[str | None] = [None]
    if m.region and m.region in old.hierarchy:
        lv.append(m.region)
    return lv


@check(code="REV003", name="cumulative-count-decreased", severity="warning",
       requires=("previous",))
def cumulative_decreased(m: Model) -> pl.DataFrame:
    """A running total went down from one release to the next.

    What: per contest, nationally and per region (top hierarchy level): the number of units
    reported, every protocol count and the votes of all choices, summed over the units of
    each release; nationally also the votes of each choice. Any total that is lower in the
    new release is reported.
    Why it matters: on election night totals only grow as units report; a decrease means
    units were removed or counts revised downwards. Election-night monitors (CENTINEL in
    Honduras) run this rule on every snapshot. Official corrections can lower a total — then
    the finding documents the correction.
    Example: BW 2025 preliminary → final: invalid second votes 33,131 → 32,448.
    """
    old, _ = _releases(m)
    multi = _multi_contest(m)
    rows = []
    for lvl in _levels(m, old):
        a, b = totals(old, lvl), totals(m, lvl)
        by = ["contest", *([lvl] if lvl else []), "measure"]
        j = a.join(b, on=by, how="inner", suffix="_new", nulls_equal=True).filter(
            pl.col("value_new") < pl.col("value"))
        if lvl:
            # Per region, each choice's total would repeat the national finding many times.
            j = j.filter(~pl.col("measure").str.starts_with("votes:"))
        for r in j.iter_rows(named=True):
            where = place(lvl, r[lvl]) if lvl else "overall"
            if multi:
                where += f" in {r['contest']}"
            meas = r["measure"]
            choice = meas.split(":", 1)[1] if meas.startswith("votes:") else None
            what = f"votes for {choice}" if choice else meas.replace("_", " ")
            d = r["value_new"] - r["value"]
            rows.append({
                "contest": r["contest"], "unit_id": None, "path": r[lvl] if lvl else None,
                "choice": choice, "observed": r["value_new"], "expected": r["value"], "delta": d,
                "votes_affected": -d if meas.startswith("votes") else None,
                "key": f"{lvl or 'national'}:{meas}",
                "message": f"Σ {what} {where} went down from {_n(r['value'])} to "
                           f"{_n(r['value_new'])} ({_signed(d)}) since {_label(old)}",
            })
    return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame(
        schema={"contest": pl.String, "unit_id": pl.String})


def _new_votes(cmp: Comparison, lvl: str | None) -> pl.DataFrame:
    """Votes in units that are new in this release, per contest [and level]."""
    # A re-keyed duplicate brings a station whose numbers were not there before.
    new = cmp.pairs.filter(pl.col("status").is_in(list(NEW_STATUSES))
                           | (pl.col("method") == "rekeyed-duplicate"))
    by = ["contest", *([lvl] if lvl else [])]
    return new.group_by(by).agg(pl.col("new_votes").sum().alias("added"))


@check(code="REV004", name="share-moved-beyond-new-units", severity="warning",
       requires=("previous", "votes"))
def share_moved(m: Model) -> pl.DataFrame:
    """A national or regional vote share moved more than the newly reported units can explain.

    What: let a choice have c votes of V in the previous release, and let the units new in
    this release (added, or reported for the first time) hold D votes. Whatever those D votes
    were, the new share must lie between c / (V + D) (none went to the choice) and
    (c + D) / (V + D) (all did). A share outside that band by more than `rev_share_pp`
    percentage points (default 0.05) moved because units already reported were revised,
    removed or re-counted — or because the figures are not what they claim to be.
    Why it matters: on election night only new units should move the shares; a share that
    jumps without new units (the Kyrgyz 2021 releases: 140 %, then 86 %, then a different
    preliminary count) shows the published numbers were rewritten, not completed.
    Example: c = 400, V = 1,000, D = 100 allows 36.4 %–45.5 %; a new share of 48 % is 2.5 pp
    beyond what the new units can explain.
    """
    old, cmp = _releases(m)
    multi = _multi_contest(m)
    tol = float(m.rule("rev_share_pp", DEFAULT_SHARE_PP))
    rows = []
    for lvl in _levels(m, old):
        by = ["contest", *([lvl] if lvl else [])]
        a = totals(old, lvl).filter(pl.col("measure").str.starts_with("votes"))
        b = totals(m, lvl).filter(pl.col("measure").str.starts_with("votes"))
        # `totals` gives the level as text; the pairs hold it as the release does
        added = _new_votes(cmp, lvl).with_columns(pl.col(c).cast(pl.String) for c in by)
        va = a.filter(pl.col("measure") == "votes").select(*by, pl.col("value").alias("V"))
        vb = b.filter(pl.col("measure") == "votes").select(*by, pl.col("value").alias("W"))
        j = (a.filter(pl.col("measure") != "votes")
             .join(b, on=[*by, "measure"], how="inner", suffix="_new", nulls_equal=True)
             .join(va, on=by, how="left", nulls_equal=True)
             .join(vb, on=by, how="left", nulls_equal=True)
             .join(added, on=by, how="left", nulls_equal=True)
             .with_columns(pl.col("added").fill_null(0)))
        for r in j.iter_rows(named=True):
            c, v, w, d = r["value"] or 0, r["V"] or 0, r["W"] or 0, r["added"] or 0
            if v <= 0 or w <= 0:
                continue
            lo, hi = c / (v + d), (c + d) / (v + d)
            s_old, s_new = c / v, (r["value_new"] or 0) / w
            excess = max(lo - s_new, s_new - hi, 0.0) * 100
            if excess <= tol or math.isnan(excess):
                continue
            choice = r["measure"].split(":", 1)[1]
            where = place(lvl, r[lvl]) if lvl else "overall"
            if multi:
                where += f" in {r['contest']}"
            band = (f"the {d:,} votes in newly reported units could only put it between "
                    f"{lo * 100:.2f} % and {hi * 100:.2f} %" if d else
                    "no unit was newly reported, so it should have stayed where it was")
            rows.append({
                "contest": r["contest"], "unit_id": None, "path": r[lvl] if lvl else None,
                "choice": choice, "observed": round(s_new * 100, 4),
                "expected": round((lo if s_new < lo else hi) * 100, 4),
                "delta": round(excess, 4), "key": f"{lvl or 'national'}",
                "message": f"{quote_name(choice)}'s share {where} moved from "
                           f"{s_old * 100:.2f} % to {s_new * 100:.2f} % "
                           f"({(s_new - s_old) * 100:+.2f} pp); {band}: {excess:.2f} pp come "
                           "from revised or removed units",
            })
    rows.extend(_published_share_moves(m, old, cmp, tol))
    return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame(
        schema={"contest": pl.String, "unit_id": pl.String})


def _base_sums(m: Model, base: str, ids: pl.DataFrame | None) -> dict[str, int]:
    """Σ of a count column (or of all votes) per contest, optionally over some units only."""
    if base in m.unit_columns():
        f = m.units.select("contest", "unit_id", pl.col(base).alias("x"))
    else:
        f = m.votes.select("contest", "unit_id", pl.col("votes").alias("x"))
    if ids is not None:
        f = f.join(ids.lazy(), on=["contest", "unit_id"], how="semi")
    df = f.group_by("contest").agg(pl.col("x").sum()).collect()
    return {str(c): int(x or 0) for c, x in df.iter_rows()}


def _published_share_moves(m: Model, old: Model, cmp: Comparison,
                           tol: float) -> list[dict[str, Any]]:
    """REV004 on the national percentages the portal printed (the 140 % / 86 % releases).

    The same band as for counts, with c / V read from the old printed share and V, D the
    ballots (of the printed base) in all old units and in the units new in this release.
    Besides each choice, the sum of the printed shares over all choices is tested: on a
    consistent portal it can only move towards 100 % as fast as new units allow.
    """
    def pct(x: Model) -> pl.DataFrame:
        return x.published.filter(
            (pl.col("measure") == "percent") & (pl.col("level") == "total")
            & pl.col("choice").is_not_null()
        ).select("contest", "choice", "value", "base", "decimals").collect()

    po, pn = pct(old), pct(m)
    if po.height == 0 or pn.height == 0:
        return []
    j = po.join(pn, on=["contest", "choice", "base"], how="inner", suffix="_new",
                nulls_equal=True).filter(
        pl.col("value").is_finite() & pl.col("value_new").is_finite())
    new_ids = cmp.pairs.filter(pl.col("status").is_in(list(NEW_STATUSES))).select(
        "contest", pl.col("new_id").alias("unit_id"))
    rows: list[dict[str, Any]] = []
    for (contest, base), g in j.group_by(["contest", "base"], maintain_order=True):
        b = str(base or "votes")
        v = _base_sums(old, b, None).get(str(contest), 0)
        d = _base_sums(m, b, new_ids).get(str(contest), 0)
        if v <= 0:
            continue
        recs = g.to_dicts()
        # Printed shares are rounded: allow half a unit of the last printed decimal each.
        half = [0.5 * 10.0 ** -(r["decimals"] if r["decimals"] is not None else 2) for r in recs]
        items = [(r["choice"], r["value"] / 100, r["value_new"] / 100, h / 100)
                 for r, h in zip(recs, half, strict=True)]
        items.append(("all choices (Σ of printed shares)", sum(i[1] for i in items),
                      sum(i[2] for i in items), sum(i[3] for i in items)))
        for choice, s_old, s_new, rnd in items:
            lo = (s_old - rnd) * v / (v + d)
            hi = ((s_old + rnd) * v + d) / (v + d)
            excess = max(lo - s_new - rnd, s_new - rnd - hi, 0.0) * 100
            if excess <= tol:
                continue
            is_sum = choice.startswith("all choices")
            rows.append({
                "contest": contest, "unit_id": None, "path": None,
                "choice": None if is_sum else choice, "observed": round(s_new * 100, 4),
                "expected": round((lo if s_new < lo else hi) * 100, 4),
                "delta": round(excess, 4), "key": "published:" + ("sum" if is_sum else "share"),
                "message": f"the printed share of {choice} went from {s_old * 100:.2f} % to "
                           f"{s_new * 100:.2f} % ({(s_new - s_old) * 100:+.2f} pp); the {d:,} "
                           f"{b.replace('_', ' ')} of the newly reported units could only "
                           f"put it between {lo * 100:.2f} % and {hi * 100:.2f} %: the printed "
                           "figures were recomputed on another basis, not completed",
            })
    return rows


@check(code="REV005", name="published-column-redefined", severity="warning",
       requires=("previous", "published:percent"))
def published_redefined(m: Model) -> pl.DataFrame:
    """A published percentage column changed its values while the counts did not.

    What: for each published unit-level percentage column (e.g. Kloop's `form2_percent`),
    the units whose counts are identical in both releases are compared. When at least 3 of
    them and at least 10 % of them show a different value, the column's definition (usually
    its denominator) changed; the finding gives how many changed, the median ratio new/old
    and the range before and after.
    Why it matters: a percentage that is silently re-based cannot be compared across
    releases, and a change of denominator can hide (or create) values above 100 %.
    Example: Kloop 2020 `LEVEL_ONE` → `LEVEL_ONE_NEW` (29 Oct): same vote counts, but the
    first row's `form2_percent` goes 117.11 → 76.10 and no value stays above 100.
    """
    old, cmp = _releases(m)
    same = cmp.pairs.filter(pl.col("status") == "same").select("contest", "old_id", "new_id")
    cols = ["contest", "unit_id", "field", "choice", "value", "decimals"]
    po = old.published.filter((pl.col("measure") == "percent") & (pl.col("level") == "unit")) \
        .select(cols).collect()
    pn = m.published.filter((pl.col("measure") == "percent") & (pl.col("level") == "unit")) \
        .select(cols).collect()
    j = (po.rename({"unit_id": "old_id", "value": "old"})
         .join(same, on=["contest", "old_id"], how="inner")
         .join(pn.rename({"unit_id": "new_id", "value": "new"}).drop("decimals"),
               on=["contest", "new_id", "field", "choice"], how="inner", nulls_equal=True))
    tol = pl.when(pl.col("decimals").is_not_null()).then(0.5 * 10.0 ** (-pl.col("decimals")))\
        .otherwise(1e-9 * pl.max_horizontal(pl.col("old").abs(), pl.lit(1.0)))
    j = j.with_columns(
        (pl.col("old").is_finite() & pl.col("new").is_finite()
         & ((pl.col("new") - pl.col("old")).abs() <= tol)
         | (pl.col("old").is_nan() & pl.col("new").is_nan())
         | (pl.col("old").is_infinite() & (pl.col("old") == pl.col("new"))))
        .not_().alias("moved"),
        (pl.col("new") / pl.col("old")).alias("ratio"),
    )
    rows = []
    for (contest, fld, choice), g in j.group_by(["contest", "field", "choice"],
                                                maintain_order=True):
        n, k = g.height, int(g["moved"].sum())
        if k < 3 or k < 0.1 * n:
            continue
        fin = g.filter(pl.col("moved") & pl.col("ratio").is_finite())
        med = fin["ratio"].median() if fin.height else None
        o_max, n_max = g["old"].filter(g["old"].is_finite()).max(), g["new"].filter(
            g["new"].is_finite()).max()
        # polars orders NaN and inf above every number: count finite values above 100 apart
        o_over = int((g["old"].is_finite() & (g["old"] > 100)).sum())
        n_over = int((g["new"].is_finite() & (g["new"] > 100)).sum())
        o_inf, n_inf = int(g["old"].is_infinite().sum()), int(g["new"].is_infinite().sum())
        o_nan, n_nan = int(g["old"].is_nan().sum()), int(g["new"].is_nan().sum())
        nantxt = f"; not a number: {o_nan:,} → {n_nan:,}" if o_nan or n_nan else ""
        medtxt = f"median new/old {med:.3f}; " if isinstance(med, float) else ""
        rows.append({
            "contest": contest, "unit_id": None, "choice": choice, "observed": k, "expected": 0,
            "delta": med, "key": fld,
            "message": f"published `{fld}` changed in {k:,} of {n:,} units whose counts did "
                       f"not change ({medtxt}max {_n(o_max)} → {_n(n_max)}; values above 100: "
                       f"{o_over:,} → {n_over:,}; infinite: {o_inf:,} → {n_inf:,}{nantxt}): the "
                       "column was "
                       f"redefined (its denominator changed) between {_label(old)} and this "
                       "release",
        })
    return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame(
        schema={"contest": pl.String, "unit_id": pl.String})


def _allocation(m: Model) -> dict[str, dict[str, tuple[bool, int | None, float]]]:
    """Per contest and choice: passes the threshold, seats (None without seat rules), share."""
    from auditor.seats import SeatAllocationError, allocate

    thr = float(m.rule("threshold") or 0.0)
    if thr >= 1:
        thr = thr / 100  # a threshold written as a percentage (5 → 5 %)
    seats, method = m.rule("seats"), m.rule("method")
    base_col = m.rule("threshold_base")
    excl = m.rule("against_all")
    exclude = [excl] if isinstance(excl, str) else list(excl or [])
    only = m.rule("threshold_contest")
    tot = totals(m)
    if isinstance(only, str):
        tot = tot.filter(pl.col("contest") == only)
    out: dict[str, dict[str, tuple[bool, int | None, float]]] = {}
    for (contest,), g in tot.group_by(["contest"], maintain_order=True):
        votes = {r["measure"][6:]: int(r["value"] or 0) for r in g.iter_rows(named=True)
                 if r["measure"].startswith("votes:")}
        if not votes:
            continue
        base = None
        if isinstance(base_col, str):
            bv = g.filter(pl.col("measure") == base_col)["value"]
            base = int(bv[0]) if bv.len() and bv[0] is not None else None
        if base is not None and base < sum(votes.values()):
            base = None  # a base smaller than the votes cannot be the law's base
        try:
            alloc = allocate(votes, int(seats or 0), method or "hare", threshold=thr,
                             threshold_base=base, exclude=exclude)
        except SeatAllocationError:
            continue
        out[str(contest)] = {
            a.choice: (a.eligible, a.seats if seats and method else None, a.share)
            for a in alloc
        }
    return out


@check(code="REV006", name="threshold-or-seats-changed", severity="warning",
       requires=("previous", "votes", "rule:threshold"))
def threshold_or_seats_changed(m: Model) -> pl.DataFrame:
    """A choice crossed the threshold, or the seat allocation changed, between releases.

    What: the profile's threshold (and, when given, seats and method) applied to the totals
    of each release with `auditor.seats.allocate`. A choice that passes in one release and
    fails in the other, or whose seat count differs, is reported with both shares.
    Why it matters: a release that flips a party across the threshold changes who sits in
    parliament; the reader must see that the published picture changed, and by how much.
    Example: Kyrgyzstan 2021: parties crossed the 5 % threshold in one release and fell back
    in the next.
    """
    old, _ = _releases(m)
    a, b = _allocation(old), _allocation(m)
    rows = _published_threshold_flips(m, old)
    for contest in sorted(set(a) & set(b)):
        for choice in sorted(set(a[contest]) & set(b[contest])):
            (e0, s0, sh0), (e1, s1, sh1) = a[contest][choice], b[contest][choice]
            if e0 != e1:
                verb = "now passes" if e1 else "no longer passes"
                rows.append({
                    "contest": contest, "unit_id": None, "choice": choice,
                    "observed": round(sh1 * 100, 4), "expected": round(sh0 * 100, 4),
                    "delta": round((sh1 - sh0) * 100, 4), "key": "threshold",
                    "message": f"{quote_name(choice)} {verb} the threshold: {sh0 * 100:.3f} % in "
                               f"{_label(old)}, {sh1 * 100:.3f} % now",
                })
            if s0 is not None and s1 is not None and s0 != s1:
                rows.append({
                    "contest": contest, "unit_id": None, "choice": choice, "observed": s1,
                    "expected": s0, "delta": s1 - s0, "key": "seats",
                    "message": f"{choice}'s seats changed from {s0} to {s1} "
                               f"({sh0 * 100:.3f} % → {sh1 * 100:.3f} % of the votes)",
                })
    return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame(
        schema={"contest": pl.String, "unit_id": pl.String})


def _published_threshold_flips(m: Model, old: Model) -> list[dict[str, Any]]:
    """Choices whose printed national share is on the other side of the threshold now.

    Only printed shares on the threshold's base are read (any base when the profile names
    none). A printed share equal to the threshold counts as passing.
    """
    thr = float(m.rule("threshold") or 0.0)
    thr = thr / 100 if thr >= 1 else thr
    base = m.rule("threshold_base")
    only = m.rule("threshold_contest")

    def pct(x: Model) -> pl.DataFrame:
        f = x.published.filter((pl.col("measure") == "percent") & (pl.col("level") == "total")
                               & pl.col("choice").is_not_null())
        if isinstance(base, str):
            f = f.filter(pl.col("base").is_null() | (pl.col("base") == base))
        if isinstance(only, str):
            f = f.filter(pl.col("contest") == only)
        return f.group_by("contest", "choice").agg(pl.col("value").first()).collect()

    j = pct(old).join(pct(m), on=["contest", "choice"], how="inner", suffix="_new")
    excl = m.rule("against_all")
    rows = []
    for r in j.sort("contest", "choice").iter_rows(named=True):
        p0, p1 = r["value"], r["value_new"]
        if r["choice"] == excl or not (math.isfinite(p0) and math.isfinite(p1)):
            continue
        e0, e1 = p0 >= thr * 100, p1 >= thr * 100
        if e0 == e1:
            continue
        verb = "now passes" if e1 else "no longer passes"
        rows.append({
            "contest": r["contest"], "unit_id": None, "choice": r["choice"], "observed": p1,
            "expected": p0, "delta": round(p1 - p0, 4), "key": "published-threshold",
            "message": f"{r['choice']} {verb} the {thr * 100:g} % threshold in the printed "
                       f"figures: {p0:.2f} % in {_label(old)}, {p1:.2f} % now",
        })
    return rows
