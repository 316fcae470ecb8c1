"""STAT: statistical forensics with calibrated nulls, under one false-discovery control.

Every STAT finding is `statistical`: it carries a p-value under the null model its check
states and a Benjamini–Hochberg q-value across all the tests of that check in the election
(all contests, variables and regions together; STAT002 tests a contest's regions only where
its national extreme test is rejected, a gatekeeping order with the same guarantee). A
finding is reported when q ≤ α (`--alpha`, profile rule `alpha`, default 0.05). Under a
clean election every test's null holds, and BH across one family then keeps the chance of
*any* finding of the check at most α; the calibration tests
(`tests/property/test_stat_checks_calibration.py`) and `auditor calibrate FILE` measure it
on simulated clean elections. STAT003/STAT004 live in `checks.stat_dist`, STAT005 in
`checks.stat_rank`.

Station arrays come from `auditor.stats.from_model.station_data` (turnout = ballots cast,
else valid + invalid (+ blank), else voters, over registered; a choice's share over the
profile's `threshold_base` when that is `valid`, else over the turnout numerator; postal and
e-voting units and units without registered voters are left out). Randomness: `--seed`.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import polars as pl

from auditor.model import Model
from auditor.registry import CheckOutput, check
from auditor.stats import (
    benjamini_hochberg,
    fingerprint,
    integer_spikes,
)
from auditor.stats.dip import TABLE_SIZES
from auditor.stats.from_model import StationData, station_data
from auditor.stats.spikes import SpikeResult
from checks._util import place, quote_name

MIN_STATIONS = 100  # fewer stations in a contest: no statistical test
MIN_REGION = 50  # fewer stations in a region: no regional test
MIN_GROUP = 20  # smallest comparison group for a unit's robust z
DIP_GRID = TABLE_SIZES  # the sizes whose uniform nulls ship precomputed
DEFAULT_TOP = 50
DIGIT_CHOICES = 3  # digit tests cost a redraw of every count per replication: top 3 only

ROW_SCHEMA = pl.Schema({
    "contest": pl.String(), "unit_id": pl.String(), "path": pl.String(),
    "choice": pl.String(), "key": pl.String(), "observed": pl.Float64(),
    "expected": pl.Float64(), "delta": pl.Float64(), "p_value": pl.Float64(),
    "q_value": pl.Float64(), "votes_affected": pl.Float64(), "severity": pl.String(),
    "message": pl.String(),
})


def alpha_of(m: Model) -> float:
    """The false-discovery level: `--alpha`, else the profile rule `alpha`, else 0.05."""
    a = m.rule("alpha", 0.05)
    return 0.05 if a is None else float(a)


def seed_of(m: Model) -> int:
    """The seed of the Monte-Carlo nulls (`--seed`, default 0)."""
    return int(m.options.get("seed") or 0)


def reps_of(m: Model) -> int:
    """Monte-Carlo replications (`--reps`, default 1,000)."""
    return max(1, int(m.options.get("reps") or 1000))


def want_figures(m: Model) -> bool:
    """Whether to compute figure data (the option `stat_figures`; off in calibration loops)."""
    return bool(m.options.get("stat_figures", True))


def contests(m: Model) -> list[StationData]:
    """The contests with enough stations for a statistical test, largest first."""
    ds = [d for d in station_data(m) if d.n >= MIN_STATIONS]
    return sorted(ds, key=lambda d: (-d.n, d.contest))


def as_output(res: Any) -> tuple[CheckOutput, pl.DataFrame]:
    """A STAT check's result as (output, collected rows); the decorator hides its type."""
    if not isinstance(res, CheckOutput):
        raise TypeError(f"a STAT check returns a CheckOutput, not {type(res).__name__}")
    rows = res.rows.collect() if isinstance(res.rows, pl.LazyFrame) else res.rows
    return res, rows


def needs_stations(m: Model) -> str | None:
    """Why the STAT checks cannot run on ``m`` (too few usable stations), or None."""
    if contests(m):
        return None
    return (f"fewer than {MIN_STATIONS} units with registered voters, a turnout count and "
            "votes per choice")


def rows_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Finding rows as a frame with the columns the engine reads (typed even when empty)."""
    return pl.DataFrame(rows, schema=ROW_SCHEMA)


def fmt_p(x: float) -> str:
    """A p- or q-value for a message, to follow `p`: `= 0.0031`, or `< 1e-12` at the floor."""
    if x <= 1e-12:
        return "< 1e-12"
    return f"= {x:.2g}"


def fmt_pct(x: float, digits: int = 1) -> str:
    """A fraction as a percentage for a message: 0.991 → `99.1 %`."""
    return f"{100 * x:.{digits}f} %"


def region_groups(d: StationData) -> list[tuple[str, np.ndarray]]:
    """(region, station indices) for regions with at least `MIN_REGION` stations."""
    if d.region_level is None:
        return []
    labels, codes = np.unique(d.region.astype(str), return_inverse=True)
    out = []
    for g, lab in enumerate(labels):
        idx = np.flatnonzero(codes == g)
        if idx.size >= MIN_REGION:
            out.append((str(lab), idx))
    return out


# --------------------------------------------------------------------------- STAT001


def spike_variables(d: StationData) -> list[tuple[str, str | None, np.ndarray, np.ndarray,
                                                  np.ndarray]]:
    """(label, choice, numerator, denominator, inclusion mask) of every STAT001 test."""
    reg, cast, base = d.registered, d.cast, d.base
    core = (reg >= 100) & (cast > 0) & (cast < reg)
    lead = d.votes[:, 0]
    out: list[tuple[str, str | None, np.ndarray, np.ndarray, np.ndarray]] = [
        ("turnout", None, cast, reg, core & (lead < base) & (base > 0))
    ]
    for j, c in enumerate(d.choices):
        v = d.votes[:, j]
        out.append((f"share of {c}", c, v, base, core & (base > 0) & (v >= 0) & (v < base)))
    return out


def _panel(label: str, r: SpikeResult) -> dict[str, Any]:
    def rounded(a: np.ndarray | None) -> list[float]:
        return [] if a is None else [float(x) for x in np.round(a, 2).tolist()]

    return {"variable": label, "bin_start": -0.05, "bin_width": 0.1,
            "observed": [int(x) for x in r.hist_observed], "null_mean": rounded(r.hist_null_mean),
            "null_lo": rounded(r.hist_null_lo), "null_hi": rounded(r.hist_null_hi),
            "p_value": r.p_value, "excess": round(r.excess, 1), "z": round(r.z, 2)}


def _top_integers(r: SpikeResult, k: int = 6) -> list[int]:
    ex = r.integer_excess
    order = np.argsort(-ex, kind="stable")
    return [int(i) for i in order[:k] if ex[i] > 0]


def _spike_job(job: tuple[np.ndarray, np.ndarray, np.ndarray, bool, np.ndarray | None]
               ) -> SpikeResult:
    """One STAT001 variable: the national test and, with region codes, the regional ones."""
    num, den, mask, hist, codes = job
    return integer_spikes(num, den, mask, histogram=hist, groups=codes)


def _region_codes(d: StationData) -> tuple[np.ndarray, np.ndarray] | None:
    """Sorted region names and each station's index into them (None without regions).

    As ``np.unique(d.region.astype(str), return_inverse=True)`` would give, at a fraction of
    its cost: stations usually come grouped by region, and then only the first station of
    each run is looked at.
    """
    if d.region_level is None:
        return None
    r = d.region
    starts = np.flatnonzero(np.concatenate([[r.size > 0], r[1:] != r[:-1]]))
    if starts.size * 16 > r.size:  # not grouped: let polars factorise every station
        s = pl.Series(r)
        s = (s if s.dtype == pl.String else s.cast(pl.String)).fill_null("None")
        return s.unique().sort().to_numpy(), (s.rank("dense").to_numpy() - 1).astype(np.int64)
    heads = r[starts].astype(str)
    names, head_codes = np.unique(heads, return_inverse=True)
    runs = np.diff(np.append(starts, r.size))
    return names, np.repeat(head_codes.reshape(-1).astype(np.int64), runs)


def _workers(n_jobs: int) -> int:
    """Threads for the STAT001 variables: one per job, at most the cores we may use."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(n_jobs, cores))


@check(code="STAT001", name="integer-percentage-spikes", severity="warning",
       certainty="statistical", requires=("registered", "votes"), applies=needs_stations)
def integer_percentage_spikes(m: Model) -> CheckOutput:
    """Too many stations report turnout or a choice's share at a whole percentage.

    What: for turnout and the share of each major choice (≥ 5 % of the votes nationally, or
    among the top 3), the number of stations whose percentage is the integer nearest to
    their count (75 % of 1,537 is 1,153) is compared with its exact distribution when each
    station's count is redrawn from a binomial with its own size and rate — the limit of
    Kobak et al.'s Monte-Carlo null as the replications grow, deterministic. Tested
    nationally and per region; p-values of all these tests go through one Benjamini–Hochberg
    adjustment, and a test is reported when q ≤ α. Inclusion (Kobak et al.): ≥ 100 registered
    voters, turnout strictly between 0 and 100 %, the leader's (or tested choice's) share
    strictly below 100 %. The 0.1-point histogram with the null's 95 % envelope is saved
    for the report (`integer_spikes`).
    Why it matters: commissions told to deliver a round figure write 70, 75, 80 %; honest
    counts land on integers only as often as station sizes allow. Kobak, Shpilkin &
    Pshenichnikov (Ann. Appl. Stat. 2016) found the excess in Russia 2004–2012.
    Example: Russia 2018: 18,978 of the 92,223 included stations have an integer turnout
    against 17,672 ± 102 expected (z = 12.8, p < 1e-12), largest excess at 95, 90 and 98 %.
    """
    alpha = alpha_of(m)
    tests: list[dict[str, Any]] = []
    figures: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    for ci, d in enumerate(contests(m)):
        csum: dict[str, Any] = {}
        variables = spike_variables(d)
        # histograms for turnout and the leader's share only (the rest costs time)
        mains = [ci == 0 and vi <= 1 and want_figures(m) for vi in range(len(variables))]
        region = _region_codes(d)
        codes = None if region is None else region[1]
        jobs = [(v[2], v[3], v[4], main, codes) for v, main in zip(variables, mains, strict=True)]
        # the variables are independent numpy work, which releases the GIL: one thread each
        with ThreadPoolExecutor(max_workers=_workers(len(jobs))) as pool:
            results = list(pool.map(_spike_job, jobs))
        for vi, ((label, choice, _, _, _), r) in enumerate(zip(variables, results, strict=True)):
            if r.n_included == 0:
                continue
            if mains[vi]:
                figures[label] = _panel(label, r)
            tests.append({"d": d, "label": label, "choice": choice, "region": None,
                          "n": r.n_included, "obs": r.observed, "exp": r.expected,
                          "sd": r.null_sd, "z": r.z, "p": r.p_value, "top": _top_integers(r)})
            regions: list[dict[str, Any]] = []
            g = r.by_group
            if g is not None and region is not None:
                for code, n_inc, o, e, p in zip(g.labels, g.n_included, g.observed, g.expected,
                                                g.p_value, strict=True):
                    if n_inc < MIN_REGION or not np.isfinite(p):
                        continue
                    row = {"d": d, "label": label, "choice": choice,
                           "region": str(region[0][int(code)]),
                           "n": int(n_inc), "obs": int(o), "exp": float(e), "p": float(p)}
                    tests.append(row)
                    regions.append(row)
            regions.sort(key=lambda t: -(t["obs"] - t["exp"]))
            csum[label] = {
                "stations": r.n_included, "observed": r.observed,
                "expected": round(r.expected, 1), "sd": round(r.null_sd, 1),
                "z": round(r.z, 2), "p_value": r.p_value, "largest_excess_at": _top_integers(r),
                "regions_by_excess": [
                    {"region": t["region"], "stations": t["n"], "observed": t["obs"],
                     "expected": round(t["exp"], 1), "p_value": t["p"]} for t in regions[:5]],
            }
        summary[d.contest] = csum
    q = benjamini_hochberg([t["p"] for t in tests]) if tests else np.array([])
    rows = []
    for t, qv in zip(tests, q, strict=True):
        t["q"] = float(qv)
        for reg in summary.get(t["d"].contest, {}).get(t["label"], {}).get(
                "regions_by_excess", []):
            if reg["region"] == t["region"]:
                reg["q_value"] = float(qv)
        if t["region"] is None:
            summary[t["d"].contest][t["label"]]["q_value"] = float(qv)
        if qv <= alpha:
            rows.append(_spike_row(t))
    rows.sort(key=lambda r: (r["contest"], r["path"] or "", r["key"]))
    return CheckOutput(rows_frame(rows), figures={"integer_spikes": figures} if figures else {},
                       summary={"STAT001": {"alpha": alpha, "contests": summary}})


def _spike_row(t: dict[str, Any]) -> dict[str, Any]:
    d: StationData = t["d"]
    num = f"({d.numerator})" if "+" in d.numerator else d.numerator
    rule = (f"stations with ≥ 100 registered voters, turnout strictly between 0 and 100 % and "
            f"{'the tested choice' if t['choice'] else quote_name(d.leader)}'s share below 100 % "
            f"(Kobak et al. 2016); turnout = {num} / registered, shares of {d.base_label}")
    where = "" if t["region"] is None else " " + place(d.region_level, t["region"])
    if t["region"] is None:
        top = ", ".join(f"{x} %" for x in t["top"][:4])
        msg = (f"{t['label']}{where}: {t['obs']:,} of {t['n']:,} stations sit at an integer "
               f"percentage against {t['exp']:,.0f} ± {t['sd']:,.0f} expected if each count were "
               f"redrawn from a binomial at its own size and rate (z = {t['z']:.1f}, p "
               f"{fmt_p(t['p'])}, q {fmt_p(t['q'])})"
               + (f"; largest excess at {top}" if top else "") + f". Included: {rule}.")
    else:
        msg = (f"{t['label']}{where}: {t['obs']:,} of {t['n']:,} stations at an integer "
               f"percentage against {t['exp']:,.1f} expected under binomial redraws (p "
               f"{fmt_p(t['p'])}, q {fmt_p(t['q'])}). Included: {rule}.")
    return {"contest": d.contest, "unit_id": None, "path": t["region"], "choice": t["choice"],
            "key": t["label"] + ("" if t["region"] is None else f"@{t['region']}"),
            "observed": float(t["obs"]), "expected": float(t["exp"]),
            "delta": float(t["obs"] - t["exp"]), "p_value": t["p"], "q_value": t["q"],
            "votes_affected": None, "severity": None, "message": msg}


# --------------------------------------------------------------------------- STAT002


def _fp_figure(d: StationData, t: np.ndarray, s: np.ndarray) -> dict[str, Any]:
    """Units per 1 × 1-point cell of turnout (x) × leader share (y); occupied block only."""
    xi = np.minimum((t * 100).astype(np.int64), 99)
    yi = np.minimum((s * 100).astype(np.int64), 99)
    h = np.bincount(yi * 100 + xi, minlength=10_000).reshape(100, 100)
    ys, xs = np.nonzero(h)
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()), int(xs.min()), int(xs.max())
    return {"x_edges": [float(i) for i in range(x0, x1 + 2)],
            "y_edges": [float(i) for i in range(y0, y1 + 2)],
            "z": h[y0:y1 + 1, x0:x1 + 1].tolist(), "x_label": "turnout",
            "y_label": f"share of {d.leader}", "choice": d.leader, "n": int(t.size)}


def _constant(a: np.ndarray) -> bool:
    """True when a share or turnout does not vary: no correlation and no corner to test."""
    return a.size == 0 or float(np.ptp(a)) == 0.0


def _fp_summary(r: Any) -> dict[str, Any]:
    # a NaN correlation (a constant variable) is reported as null: JSON has no NaN
    corr = round(r.correlation, 3) if np.isfinite(r.correlation) else None
    return {"stations": r.n_used, "correlation": corr,
            "f_incremental": round(r.f_incremental, 4),
            "f_incremental_ci": [round(x, 4) for x in r.f_incremental_ci],
            "f_extreme": round(r.f_extreme, 4),
            "f_extreme_ci": [round(x, 4) for x in r.extreme.fraction_ci],
            "corner": [r.corner.observed, round(r.corner.expected, 1)],
            "p_corner": r.corner.p_value,
            "extreme": [r.extreme.observed, round(r.extreme.expected, 1)],
            "p_extreme": r.extreme.p_value}


@check(code="STAT002", name="turnout-share-fingerprint", severity="warning",
       certainty="statistical", requires=("registered", "votes"), applies=needs_stations)
def turnout_share_fingerprint(m: Model) -> CheckOutput:
    """Turnout and the leader's share rise together: the ballot-stuffing "comet".

    What: the turnout × leader-share fingerprint (2-D histogram, saved for the report), the
    turnout–share correlation weighted by registered voters, and two permutation tests
    whose null is Klimek et al.'s clean election — within a region (nationally) or a
    district (per region) and a size class, a station's share is unrelated to its turnout:
    the *extreme* test counts stations with turnout ≥ 95 % and share ≥ 95 %; the *corner*
    test counts stations in the top 5 % of both in their region. Each gives a lower-bound
    estimate of the share of stations stuffed (f_e extreme, f_i incremental) with a 95 %
    interval (`auditor.stats.fingerprint`). The national corner and extreme tests of all
    contests go through one Benjamini–Hochberg adjustment; where a contest's national
    extreme test is rejected, its regions' extreme tests are adjusted together in a second
    family (gatekeeping: in a clean election the chance of any finding stays ≤ α).
    Decision: an extreme-corner excess with q ≤ α is a `warning`; a corner excess alone is
    `info` with a caveat, because honest elections show it too where places that vote more
    also lean one way — Germany's clean 2024 in-person districts have a correlation of 0.49
    and a corner p of 0.001 (rural districts vote more and more CDU) and no station at all
    in the extreme corner. The corner test is what detects incremental stuffing (2 % of
    stations +20 points for the leader); read it with STAT005 and the figure.
    Why it matters: stuffing adds ballots all for one choice, moving a station up and right
    at once; the comet of Russian fingerprints and the cluster at 100 %/100 %.
    Example: Russia 2018: 2,305 stations with turnout and Putin's share both ≥ 95 %
    against 1,466 expected within regions, f_e ≥ 0.96 %.
    """
    alpha = alpha_of(m)
    seed = seed_of(m)
    reps = reps_of(m)
    tests: list[dict[str, Any]] = []
    figures: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    for ci, d in enumerate(contests(m)):
        ok = d.base > 0
        t_all = d.turnout()
        s_all = d.share(0)
        idx = np.flatnonzero(ok & np.isfinite(s_all))
        t, s, w = t_all[idx], s_all[idx], d.registered[idx].astype(np.float64)
        if idx.size < MIN_STATIONS or _constant(s) or _constant(t):
            continue
        strata = d.region[idx].astype(str) if d.region_level else None
        # more replications nationally: finer p-values where the evidence is pooled
        nat = fingerprint(t, s, w, regions=strata, sizes=w, n_rep=2 * reps, seed=seed)
        if ci == 0 and want_figures(m):
            figures["fingerprint"] = _fp_figure(d, t, s)
        region_rows: list[dict[str, Any]] = []
        csum: dict[str, Any] = {"leader": d.leader, "national": _fp_summary(nat),
                                "regions": region_rows}
        tests.append({"d": d, "kind": "corner", "region": None, "r": nat,
                      "p": nat.corner.p_value})
        tests.append({"d": d, "kind": "extreme", "region": None, "r": nat,
                      "p": nat.extreme.p_value})
        skipped: list[str] = []
        if d.region_level is not None:
            reg = d.region[idx].astype(str)
            for gi, (lab, members) in enumerate(_region_groups_of(reg)):
                # a region where the leader's share (or turnout) is constant — e.g. a party
                # not on the ballot there, like the CDU in Bavaria — has nothing to test
                if _constant(s[members]) or _constant(t[members]):
                    skipped.append(lab)
                    continue
                r = fingerprint(t[members], s[members], w[members],
                                regions=d.district[idx][members].astype(str),
                                sizes=w[members], n_rep=reps, seed=seed + 1 + gi)
                region_rows.append({"region": lab, **_fp_summary(r)})
                tests.append({"d": d, "kind": "extreme", "region": lab, "r": r,
                              "p": r.extreme.p_value})
        if skipped:
            csum["regions_skipped"] = {
                "regions": skipped,
                "reason": f"{d.leader}'s share or turnout is the same at every station there"}
        summary[d.contest] = csum
    # gatekeeping: the national tests first (BH across them); a contest's regions are tested
    # (BH across all those regions) only where its national extreme test is rejected, so that
    # in a clean election the chance of any finding stays ≤ α while the national corner test
    # does not pay for dozens of regional tests
    national = [te for te in tests if te["region"] is None]
    for te, qv in zip(national, benjamini_hochberg([te["p"] for te in national]), strict=True):
        te["q"] = float(qv)
    opened = {te["d"].contest for te in national if te["kind"] == "extreme" and te["q"] <= alpha}
    regional = [te for te in tests if te["region"] is not None and te["d"].contest in opened]
    if regional:
        for te, qv in zip(regional, benjamini_hochberg([te["p"] for te in regional]),
                          strict=True):
            te["q"] = float(qv)
    rows = [_fp_row(te) for te in national + regional if te["q"] <= alpha]
    for te in tests:
        if te["region"] is not None:
            for reg in summary[te["d"].contest]["regions"]:
                if reg["region"] == te["region"]:
                    reg["q_extreme"] = te.get("q")
    rows.sort(key=lambda r: (r["contest"], r["path"] or "", r["key"]))
    return CheckOutput(rows_frame(rows), figures=figures,
                       summary={"STAT002": {"alpha": alpha, "contests": summary}})


def _region_groups_of(labels: np.ndarray) -> list[tuple[str, np.ndarray]]:
    uniq, codes = np.unique(labels, return_inverse=True)
    out = []
    for g, lab in enumerate(uniq):
        members = np.flatnonzero(codes == g)
        if members.size >= MIN_REGION:
            out.append((str(lab), members))
    return out


def _fp_row(te: dict[str, Any]) -> dict[str, Any]:
    d: StationData = te["d"]
    r = te["r"]
    where = "nationally" if te["region"] is None else place(d.region_level, te["region"])
    within = (f"within each {d.region_level}" if te["region"] is None and d.region_level
              else "across the country" if te["region"] is None
              else f"within each {d.district_level or 'district'}")
    leader = quote_name(d.leader)
    lo_e, hi_e = r.extreme.fraction_ci
    if te["kind"] == "extreme":
        c = r.extreme
        msg = (f"{where}: {c.observed:,} stations report turnout ≥ 95 % and {leader} ≥ 95 % "
               f"against {c.expected:,.1f} expected [{c.null_lo:,.0f}–{c.null_hi:,.0f}] if the "
               f"share were unrelated to turnout {within} and size classes (p "
               f"{fmt_p(te['p'])}, q {fmt_p(te['q'])}); at least {fmt_pct(r.f_extreme, 2)} of stations "
               f"(95 % CI {fmt_pct(lo_e, 2)}–{fmt_pct(hi_e, 2)}) look extremely stuffed (f_e, Klimek "
               f"et al. 2012); incremental f_i ≥ {fmt_pct(r.f_incremental)}; turnout–share "
               f"correlation {r.correlation:.2f} (weighted by registered voters).")
        severity = None
    else:
        c = r.corner
        lo_i, hi_i = r.f_incremental_ci
        # the corner excess and the overall correlation can disagree in sign: say which
        if np.isfinite(r.correlation) and r.correlation > 0:
            head = f"turnout and {leader}'s share rise together {within}"
            corr = f"correlation {r.correlation:.2f}"
        else:
            head = (f"more stations than expected combine high turnout with a high {leader} "
                    f"share {within}")
            corr = ("overall the two do not rise together (correlation "
                    f"{r.correlation:.2f})" if np.isfinite(r.correlation)
                    else "no overall correlation")
        msg = (f"{where}: {head}: "
               f"{c.observed:,} stations are in the top 5 % of both against {c.expected:,.0f} "
               f"expected (p {fmt_p(te['p'])}, q {fmt_p(te['q'])}); {corr}; at least {fmt_pct(r.f_incremental)} of stations (95 % CI "
               f"{fmt_pct(lo_i)}–{fmt_pct(hi_i)}) show incremental excess (f_i) and "
               f"{fmt_pct(r.f_extreme, 2)} extreme (f_e). Caveat: this is what incremental ballot "
               f"stuffing produces, and also what honest elections produce where places that "
               f"vote more lean one way (Germany's clean 2024 districts show it, with no "
               f"extreme corner); read it with the extreme test, STAT005 and the figure.")
        severity = "info"
    return {"contest": d.contest, "unit_id": None, "path": te["region"], "choice": d.leader,
            "key": te["kind"] + ("" if te["region"] is None else f"@{te['region']}"),
            "observed": float(c.observed), "expected": float(c.expected),
            "delta": float(c.observed - c.expected), "p_value": te["p"], "q_value": te["q"],
            "votes_affected": None, "severity": severity, "message": msg}
