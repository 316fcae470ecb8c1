"""STAT003 and STAT004: the shape of distributions — turnout modes within regions, and digits.

Shared conventions (station arrays, α, seed, BH across the check's tests, the message
format) are those of `checks.stat`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from auditor.model import Model
from auditor.registry import CheckOutput, check
from auditor.stats import DigitTest, benjamini_hochberg, digit_tests, dip_test
from auditor.stats.from_model import DigitData, digit_data
from checks._util import place
from checks.stat import (
    DIGIT_CHOICES,
    DIP_GRID,
    MIN_STATIONS,
    alpha_of,
    contests,
    fmt_p,
    fmt_pct,
    needs_stations,
    region_groups,
    reps_of,
    rows_frame,
    seed_of,
)

# --------------------------------------------------------------------------- STAT003


def _dip_null_size(n: int) -> int:
    return max([g for g in DIP_GRID if g <= n] or [DIP_GRID[0]])


@check(code="STAT003", name="turnout-not-unimodal", severity="warning",
       certainty="statistical", requires=("registered", "hierarchy"), applies=needs_stations)
def turnout_not_unimodal(m: Model) -> CheckOutput:
    """Turnout within a region has two or more modes.

    What: Hartigan's dip test of unimodality on the turnout of the stations of each region
    (with at least 50 stations), against the uniform distribution — the least favourable
    unimodal null, so the test is conservative for any other unimodal shape. The p-value
    compares √n · dip with 500 (or `--reps`, if fewer) uniform samples; null sample sizes are
    taken from a fixed grid (50 … 1,600) on the √n scale, and the null table has a fixed
    seed so that it is computed once per size (`--seed` does not change it). Benjamini–Hochberg across all
    regions (and contests); a region is reported when q ≤ α.
    Why it matters: honest turnout across the stations of one region is one hump; a second
    hump (often near 100 %) means two kinds of stations — typically counted and written-in.
    Example: a region where 40 of 120 stations report 97–99 % turnout and the rest 45–60 %.
    """
    alpha = alpha_of(m)
    n_rep = min(500, reps_of(m))
    tests: list[dict[str, Any]] = []
    for d in contests(m):
        t = d.turnout()
        for lab, idx in region_groups(d):
            x = t[idx]
            # the uniform null is a reference table: one fixed seed, computed once per size
            res = dip_test(x, n_rep=n_rep, seed=0, max_null_n=_dip_null_size(idx.size))
            tests.append({"d": d, "region": lab, "n": int(idx.size), "dip": res.dip,
                          "p": res.p_value, "high": float(np.mean(x >= 0.9)),
                          "median": float(np.median(x))})
    q = benjamini_hochberg([t["p"] for t in tests]) if tests else np.array([])
    rows = []
    for te, qv in zip(tests, q, strict=True):
        if qv > alpha:
            continue
        d = te["d"]
        msg = (f"turnout {place(d.region_level, te['region'])} is not unimodal: dip {te['dip']:.4f} over {te['n']:,} "
               f"stations (p {fmt_p(te['p'])}, q {fmt_p(float(qv))}, against uniform samples, the "
               f"least favourable unimodal null); median turnout {fmt_pct(te['median'])}, "
               f"{fmt_pct(te['high'])} of stations at ≥ 90 %.")
        rows.append({"contest": d.contest, "unit_id": None, "path": te["region"],
                     "choice": None, "key": f"turnout@{te['region']}", "observed": te["dip"],
                     "expected": None, "delta": None, "p_value": te["p"], "q_value": float(qv),
                     "votes_affected": None, "severity": None, "message": msg})
    summary = {"STAT003": {"alpha": alpha, "regions_tested": len(tests),
                           "regions_flagged": len(rows)}}
    return CheckOutput(rows_frame(rows), summary=summary)


# --------------------------------------------------------------------------- STAT004


def digit_reps(m: Model) -> int:
    """Redraws of the digit tests' exact null (at most 200: each redraws every count).

    Used only below 2,000 stations of at least 10 voters; from there the null is the
    normal approximation of the digit counts, whose 20,000 draws do not depend on ``--reps``.
    """
    return min(200, reps_of(m))


def null_text(dt: DigitTest) -> str:
    """How the calibrated null of one digit test was drawn, for the finding's message."""
    if dt.null == "normal":
        return f"normal null of the digit counts, {dt.null_draws:,} draws"
    return f"{dt.null_draws:,} binomial redraws"


def digit_contests(m: Model) -> list[DigitData]:
    """The contests with enough units for the digit tests, largest first."""
    ds = [d for d in digit_data(m) if d.base.size >= MIN_STATIONS]
    return sorted(ds, key=lambda d: (-d.base.size, d.contest))


def needs_digit_units(m: Model) -> str | None:
    """Why STAT004 cannot run on ``m``, or None."""
    if digit_contests(m):
        return None
    return f"fewer than {MIN_STATIONS} units with votes per choice in any contest"


@check(code="STAT004", name="digit-tests", severity="warning", certainty="statistical",
       requires=("votes",), applies=needs_digit_units)
def digit_tests_check(m: Model) -> CheckOutput:
    """Second digits (Benford) or last digits of the vote counts depart from chance.

    What: for the counts ≥ 10 of each of the three leading choices (units with turnout as
    in the other STAT checks; where no electorate is published, every unit with votes, its
    size being valid ballots, else the sum of its choices' votes), the χ² distance of their
    second digits from Benford's second-digit law (2BL) and of their last digits from
    uniform. The decision uses the *calibrated* p-value: the same χ² compared with its law when every count is
    redrawn from a binomial with the station's own size and rate, so the null is this
    election's station sizes and shares, not the textbook law. From 2,000 stations of at
    least 10 voters that law is the normal approximation of the digit counts (exact
    per-station digit probabilities, 20,000 seeded draws; `digit_tests(method="auto")`);
    below, `min(200, --reps)` Monte-Carlo redraws of every station — `--reps` only matters
    there. The message says which null was used. The classic χ²₉ p-value
    is shown beside it: on clean simulated elections it rejects most of the time
    (ElectionForensics.jl reports about 72 % for 2BL). Benjamini–Hochberg across all tests.
    Why it matters: invented numbers have human digit habits (too many 0s and 5s at the end);
    a calibrated test separates that from what station sizes alone produce.
    Example: a leader's counts whose last digit is 0 or 5 in 30 % of stations instead of 20 %;
    with 3,000 stations the message reads "… more than chance at each station's own size and
    rate allows (normal null of the digit counts, 20,000 draws): calibrated p …".
    """
    alpha = alpha_of(m)
    seed = seed_of(m)
    reps = digit_reps(m)
    tests: list[dict[str, Any]] = []
    for d in digit_contests(m):
        for j, c in enumerate(d.choices[:DIGIT_CHOICES]):
            v = d.votes[:, j]
            # a count above its base (an arithmetic error, ARITH's business) has no binomial
            ok = (v >= 0) & (v <= d.base)
            r = digit_tests(v[ok], d.base[ok], n_rep=reps, seed=seed + j, method="auto")
            for kind, dt in (("second", r.second), ("last", r.last)):
                if np.isfinite(dt.p_calibrated):
                    tests.append({"d": d, "choice": c, "kind": kind, "t": dt,
                                  "p": dt.p_calibrated})
    q = benjamini_hochberg([t["p"] for t in tests]) if tests else np.array([])
    rows = []
    table = []
    for te, qv in zip(tests, q, strict=True):
        dt = te["t"]
        d = te["d"]
        table.append({"contest": d.contest, "choice": te["choice"], "digit": te["kind"],
                      "counts": dt.n, "chi2": round(dt.chi2, 2), "p_classic": dt.p_classic,
                      "p_calibrated": dt.p_calibrated, "q_value": float(qv)})
        if qv > alpha:
            continue
        ref = "Benford's second-digit law" if te["kind"] == "second" else "uniform last digits"
        msg = (f"{te['choice']}: the {te['kind']} digits of {dt.n:,} station counts (≥ 10) depart "
               f"from {ref} by χ² = {dt.chi2:.1f}, more than chance at each station's own size "
               f"and rate allows ({null_text(dt)}): calibrated p {fmt_p(dt.p_calibrated)}, "
               f"q {fmt_p(float(qv))} (textbook χ²₉ p {fmt_p(dt.p_classic)}, which assumes honest "
               f"counts follow {ref} — they need not).")
        rows.append({"contest": d.contest, "unit_id": None, "path": None, "choice": te["choice"],
                     "key": f"{te['kind']}-digit", "observed": dt.chi2, "expected": None,
                     "delta": None, "p_value": dt.p_calibrated, "q_value": float(qv),
                     "votes_affected": None, "severity": None, "message": msg})
    return CheckOutput(rows_frame(rows), summary={"STAT004": {"alpha": alpha, "reps": reps,
                                                          "tests": table}})
