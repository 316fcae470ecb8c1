"""STAT005: one ranking of stations by the statistical evidence against them.

Shared conventions (station arrays, α, BH, the message format) are those of `checks.stat`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl

from auditor.model import Model
from auditor.registry import CheckOutput, check
from auditor.stats import benjamini_hochberg, integer_spikes, robust_z
from auditor.stats.from_model import StationData
from checks.stat import (
    DEFAULT_TOP,
    MIN_GROUP,
    alpha_of,
    contests,
    fmt_p,
    fmt_pct,
    needs_stations,
    rows_frame,
    spike_variables,
)

# --------------------------------------------------------------------------- STAT005


def _groups_for_z(d: StationData) -> np.ndarray:
    """Each unit's comparison group: its district, else region, else the nation (≥ MIN_GROUP)."""
    dist = d.district.astype(str)
    reg = d.region.astype(str)
    _, dc, dn = np.unique(dist, return_inverse=True, return_counts=True)
    _, rc, rn = np.unique(reg, return_inverse=True, return_counts=True)
    use_d = dn[dc.reshape(-1)] >= MIN_GROUP
    use_r = rn[rc.reshape(-1)] >= MIN_GROUP
    return np.where(use_d, np.char.add("d:", dist), np.where(use_r, np.char.add("r:", reg), "all"))


def _group_median(x: np.ndarray, groups: np.ndarray) -> np.ndarray:
    df = pl.DataFrame({"g": groups, "x": x})
    return df.select(pl.col("x").median().over("g")).to_series().to_numpy()


def _upper_rank_p(z: np.ndarray) -> np.ndarray:
    """(1 + #{z_j ≥ z_i}) / (n + 1): uniform under exchangeability, whatever z's law."""
    order = np.sort(z)
    ge = z.size - np.searchsorted(order, z, side="left")
    return np.asarray((1.0 + ge) / (1.0 + z.size), dtype=np.float64)


def _exact_counts(m: Model) -> dict[tuple[str, str], list[str]]:
    """ARITH findings per (contest, unit): the codes, recomputed from the catalogue."""
    from auditor.engine import not_applicable_reason
    from auditor.registry import load_catalogue

    out: dict[tuple[str, str], list[str]] = {}
    for code, spec in load_catalogue().items():
        if not code.startswith("ARITH") or not_applicable_reason(spec, m) is not None:
            continue
        try:
            res = spec.fn(m)
            fr = res.rows if isinstance(res, CheckOutput) else res
            df = fr.collect() if isinstance(fr, pl.LazyFrame) else fr
        except Exception:  # an exact check's own failure is reported by the engine, not here
            continue
        if "unit_id" not in df.columns or df.height == 0:
            continue
        cont = df["contest"] if "contest" in df.columns else pl.Series([""] * df.height)
        for c, u in zip(cont.to_list(), df["unit_id"].to_list(), strict=True):
            if u is not None:
                out.setdefault((str(c), str(u)), []).append(code)
    return out


def unit_evidence(m: Model, d: StationData) -> pl.DataFrame:
    """Per station of ``d``: the evidence STAT005 combines, its p-value and reason parts."""
    t = d.turnout()
    s = d.share(0)
    ok = np.isfinite(s)
    s_f = np.where(ok, s, 0.0)
    groups = _groups_for_z(d)
    zt = robust_z(t, groups)
    zs = robust_z(np.where(ok, s, np.nan), groups)
    zt0 = np.nan_to_num(zt, nan=0.0)
    zs0 = np.nan_to_num(zs, nan=0.0)
    # stuffing moves turnout and the leader's share up together: one-sided, rank-based
    # p-values of each, combined by the exact law of a product of two uniforms
    prod = _upper_rank_p(zt0) * _upper_rank_p(zs0)
    p_stuff = np.minimum(1.0, prod * (1.0 - np.log(prod)))
    comps = [p_stuff]
    spike_vars = spike_variables(d)
    rt = integer_spikes(spike_vars[0][2], spike_vars[0][3], spike_vars[0][4], histogram=False)
    rs = integer_spikes(spike_vars[1][2], spike_vars[1][3], spike_vars[1][4], histogram=False)
    pt = np.nan_to_num(rt.hit_prob, nan=0.0)
    ps = np.nan_to_num(rs.hit_prob, nan=0.0)
    ht, hs = rt.hit, rs.hit
    # number of integer hits ≥ observed under independent Bernoulli(π_t), Bernoulli(π_s)
    p_int = np.where(ht & hs, pt * ps, np.where(ht | hs, 1 - (1 - pt) * (1 - ps), 1.0))
    comps.append(p_int)
    late = None
    if d.afternoon is not None:
        a = d.afternoon
        good = (a >= 0) & (a <= d.cast) & (d.cast > 0)
        late = np.where(good, (d.cast - a) / np.maximum(d.cast, 1), np.nan)
        zl = np.nan_to_num(robust_z(late, groups), nan=-np.inf)
        comps.append(np.where(good, _upper_rank_p(zl), 1.0))
    x2 = -2.0 * np.sum(np.log(np.maximum(np.vstack(comps), 1e-300)), axis=0)
    df_chi = 2 * len(comps)
    p = _chi2_sf_vec(x2, df_chi)
    med_t = _group_median(t, groups)
    med_s = _group_median(np.where(ok, s, np.nan), groups)
    cols: dict[str, Any] = {
        "contest": [d.contest] * d.n, "unit_id": d.unit_id.astype(str), "group": groups,
        "turnout": t, "share": s_f, "med_t": med_t, "med_s": med_s, "zt": zt0, "zs": zs0,
        "int_t": ht, "int_s": hs, "p": np.clip(p, 0.0, 1.0),
        "excess": np.maximum(0.0, d.cast - med_t * d.registered),
    }
    if late is not None:
        cols["late"] = late
        cols["med_late"] = _group_median(late, groups)
    return pl.DataFrame(cols)


def _chi2_sf_vec(x: np.ndarray, df: int) -> np.ndarray:
    """Upper tail of χ² with an even number of degrees of freedom, vectorised (closed form)."""
    k = df // 2
    h = x / 2.0
    term = np.ones_like(h)
    total = np.ones_like(h)
    for i in range(1, k):
        term = term * h / i
        total = total + term
    return np.asarray(np.exp(-h) * total, dtype=np.float64)


def _reason(r: dict[str, Any], leader: str, level: str, exact: list[str]) -> str:
    parts = [f"turnout {fmt_pct(r['turnout'])} and {leader} {fmt_pct(r['share'])} where the {level} "
             f"median is {100 * r['med_t']:.0f} % / {100 * r['med_s']:.0f} %"]
    ints = [name for name, flag in (("turnout", r["int_t"]), ("share", r["int_s"])) if flag]
    if len(ints) == 2:
        parts.append("both exact integers")
    elif ints:
        parts.append(f"{ints[0]} an exact integer")
    if r.get("late") is not None and math.isfinite(r["late"]) and r.get("med_late") is not None:
        parts.append(f"{fmt_pct(r['late'])} of its voters came after the afternoon count (median "
                     f"{100 * r['med_late']:.0f} %)")
    if exact:
        parts.append("arithmetic findings " + ", ".join(sorted(set(exact))))
    return "; ".join(parts)


def _level_word(r: dict[str, Any]) -> str:
    g = str(r["group"])
    if g.startswith("d:"):
        return str(r["level"])
    return str(r["region_level"]) if g.startswith("r:") else "national"


@check(code="STAT005", name="station-ranking", severity="warning", certainty="statistical",
       requires=("registered", "votes"), applies=needs_stations)
def station_ranking(m: Model) -> CheckOutput:
    """One ranking of stations by the evidence against them, with FDR-controlled flags.

    What: for every station, (1) turnout and leader share both above the station's district
    (else region, else nation, ≥ 20 units) — robust z-scores turned into one-sided
    rank p-values and combined by the exact law of a product of two uniforms; (2) turnout and
    leader share at an exact integer percentage — the probability of at least that many hits
    under binomial redraws at the station's size and rate (STAT001's null); (3) where
    `voters_by_afternoon` exists, the share of voters after the afternoon count (a late
    surge), as a rank p-value. Fisher's method combines them into one p-value; the score is
    −log10 p. Null: within its comparison group a station's turnout, share and late share
    are exchangeable and mutually independent, and its counts binomial. BH across all
    stations gives q; stations with q ≤ α are findings, each with a plain-language reason.
    Arithmetic (ARITH) findings at the station are recomputed and named in the reason and
    the ranking, but do not enter the p-value (an exact error is not a probability). The top
    50 (run option `top`) go to the report's summary (`ranking`).
    Limits: the rank null is the election's own spread, so where manipulation is widespread
    (Russia 2018: no station passes BH) or modest (+20 points in 2 % of stations, which
    STAT002's corner test detects in the aggregate) single stations rarely pass; it finds
    stations that stand out from their neighbours on several counts at once.
    Why it matters: a journalist needs a short list of stations to visit or protocols to
    request; one ranking with a controlled false-discovery rate is that list.
    Example: "turnout 99.1 % and leader 96.0 % where the tik median is 52 % / 61 %; both exact
    integers".
    """
    alpha = alpha_of(m)
    top = int(m.options.get("top") or DEFAULT_TOP)
    frames = []
    for d in contests(m):
        ev = unit_evidence(m, d)
        frames.append(ev.with_columns(pl.lit(d.leader).alias("leader"),
                                      pl.lit(d.district_level or "national").alias("level"),
                                      pl.lit(d.region_level or "national").alias("region_level")))
    if not frames:
        return CheckOutput(rows_frame([]))
    ev = pl.concat(frames, how="diagonal")
    q = benjamini_hochberg(ev["p"].to_numpy())
    ev = ev.with_columns(pl.Series("q", q), (-pl.col("p").log10()).alias("score"))
    exact = _exact_counts(m)
    ev = ev.sort(["p", "contest", "unit_id"])
    flagged = ev.filter(pl.col("q") <= alpha)
    rows = []
    for r in flagged.iter_rows(named=True):
        level = _level_word(r)
        ex = exact.get((r["contest"], r["unit_id"]), [])
        reason = _reason(r, r["leader"], level, ex)
        rows.append({"contest": r["contest"], "unit_id": r["unit_id"], "path": None,
                     "choice": r["leader"], "key": None, "observed": r["score"],
                     "expected": None, "delta": None, "p_value": r["p"], "q_value": r["q"],
                     "votes_affected": r["excess"], "severity": None,
                     "message": f"{reason} (score {r['score']:.1f}, p {fmt_p(r['p'])}, "
                                f"q {fmt_p(r['q'])})"})
    ranking = []
    for r in ev.head(top).iter_rows(named=True):
        level = _level_word(r)
        ex = exact.get((r["contest"], r["unit_id"]), [])
        ranking.append({"contest": r["contest"], "unit_id": r["unit_id"],
                        "score": round(r["score"], 2), "p_value": r["p"], "q_value": r["q"],
                        "exact_findings": len(ex), "reason": _reason(r, r["leader"], level, ex)})
    summary = {"ranking": ranking,
               "STAT005": {"alpha": alpha, "stations": ev.height, "flagged": len(rows)}}
    return CheckOutput(rows_frame(rows), summary=summary)
