"""`auditor calibrate FILE`: false-alarm rates of the STAT checks on clean look-alike elections.

Simulates `--n` clean elections with the file's own structure (its stations' sizes, regions
and districts; each region's turnout and shares drawn from the robust spread observed there,
independently per station: `auditor.stats.from_model.simulate_like`), runs every statistical
check's own function on each, and reports for each check the share of elections where it
reported anything — its election-level false-alarm rate at α — with a 95 % Wilson interval.
Beside STAT004 it shows how often the textbook second-digit (2BL) χ² test would have
rejected on the same clean elections.

Where the result goes: printed (or `--json`), and with `--out DIR` written to
`DIR/calibration.json`; when `DIR/findings.json` exists (an `audit --out DIR` run of the same
file) its summary gets a `calibration` entry, which the report quotes after
`auditor render DIR/findings.json`.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

# Wilson score interval at 95 %.
Z95 = 1.959963984540054


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """95 % Wilson score interval of a binomial proportion k / n.

    What: the interval of proportions p for which k is not significantly different from
    n·p at the two-sided 5 % level (normal approximation with the score variance).
    Why: it stays inside [0, 1] and is accurate for small k, where a false-alarm count sits.
    Example: ``wilson(10, 200)`` → (0.0274, 0.0896).
    """
    if n <= 0:
        return (0.0, 1.0)
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, centre - half), min(1.0, centre + half))


def calibrate(file: Path, profile: str | None = None, n: int = 200, alpha: float = 0.05,
              seed: int = 0, reps: int = 200, only: tuple[str, ...] = (),
              overrides: tuple[str, ...] = (), progress: bool = False) -> dict[str, Any]:
    """Run the STAT checks on ``n`` clean elections simulated from ``file``; return the rates.

    What: see the module docstring; returns ``{"file", "n", "alpha", "seed", "reps",
    "stations", "checks": {code: {"alarms", "rate", "ci", "within"}}, "classic_2bl": {...}}``
    where ``within`` says whether α lies at or above the interval's lower end (the rate is
    compatible with ≤ α).
    Why: a p-value is only as good as its null; this measures the checks' false alarms on
    elections shaped like the user's own.
    Example: ``calibrate(Path("2018.csv.zip"), n=50)["checks"]["STAT001"]["rate"]``.
    """
    from auditor.cli import UsageError
    from auditor.ingest import LoadOptions, load
    from auditor.registry import CheckOutput, load_catalogue
    from auditor.stats.from_model import simulate_like, to_model
    from checks.stat import MIN_STATIONS, contests

    if n < 1:
        raise UsageError("--n must be at least 1")
    if not 0 < alpha < 1:
        raise UsageError("--alpha must lie between 0 and 1")
    m = load([file], LoadOptions(profile=profile, overrides=overrides))
    data = contests(m)
    if not data:
        raise UsageError(f"{file}: no contest has {MIN_STATIONS} or more units with registered "
                         "voters, a turnout count and votes per choice; nothing to calibrate")
    specs = [s for code, s in load_catalogue().items()
             if s.family == "STAT" and s.certainty == "statistical"
             and (not only or any(code.startswith(o.upper()) for o in only))]
    alarms = {s.code: 0 for s in specs}
    classic = 0
    for i in range(n):
        sims = [simulate_like(d, seed=seed * 1_000_003 + i) for d in data]
        mi = to_model(sims, alpha=alpha, seed=seed + i, reps=reps)
        mi.options["stat_figures"] = False
        for s in specs:
            res = s.fn(mi)
            rows = res.rows if isinstance(res, CheckOutput) else res
            height = rows.collect().height if hasattr(rows, "collect") else rows.height
            alarms[s.code] += height > 0
            if s.code == "STAT004" and isinstance(res, CheckOutput):
                tests = res.summary.get("STAT004", {}).get("tests", [])
                classic += any(t["digit"] == "second" and t["p_classic"] <= alpha for t in tests)
        if progress:
            sys.stderr.write(f"\r  simulated {i + 1}/{n}")
            sys.stderr.flush()
    if progress:
        sys.stderr.write("\n")
    checks = {}
    for code, k in alarms.items():
        lo, hi = wilson(k, n)
        checks[code] = {"alarms": k, "rate": k / n, "ci": [round(lo, 4), round(hi, 4)],
                        "within": lo <= alpha}
    out: dict[str, Any] = {
        "file": str(file), "n": n, "alpha": alpha, "seed": seed, "reps": reps,
        "stations": {d.contest: d.n for d in data},
        "model": "clean look-alike: station sizes, regions and districts of the file; per "
                 "region logit-normal turnout and shares (median, 1.4826·MAD), independent "
                 "per station; binomial/multinomial counts",
        "checks": checks,
    }
    if "STAT004" in alarms:
        lo, hi = wilson(classic, n)
        out["classic_2bl"] = {"alarms": classic, "rate": classic / n,
                              "ci": [round(lo, 4), round(hi, 4)]}
    return out


def write_result(result: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write `calibration.json` into ``out_dir`` and merge it into `findings.json` if there."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "calibration.json"]
    written[0].write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n",
                          encoding="utf-8")
    findings = out_dir / "findings.json"
    if findings.exists():
        try:
            doc = json.loads(findings.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return written
        if isinstance(doc, dict):
            doc.setdefault("summary", {})["calibration"] = summary_for_report(result)
            findings.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n",
                                encoding="utf-8")
            written.append(findings)
    return written


def summary_for_report(result: dict[str, Any]) -> dict[str, Any]:
    """The short form the report quotes: one line per check."""
    lines = {
        code: f"{c['alarms']}/{result['n']} = {100 * c['rate']:.1f} % false alarms "
              f"(95 % CI {100 * c['ci'][0]:.1f}–{100 * c['ci'][1]:.1f} %) at α = {result['alpha']}"
        for code, c in result["checks"].items()
    }
    if "classic_2bl" in result:
        c = result["classic_2bl"]
        lines["textbook 2BL test"] = (f"{c['alarms']}/{result['n']} = {100 * c['rate']:.1f} % "
                                      "(uncalibrated, for comparison)")
    return {"simulated clean elections": result["n"], **lines}


def register(app: typer.Typer) -> None:
    """Add the `calibrate` command to the CLI."""

    @app.command("calibrate")
    def calibrate_cmd(
        file: Annotated[Path, typer.Argument(help="A result file (as for `audit`).")],
        profile: Annotated[str | None, typer.Option(help="Profile name or .toml path.")] = None,
        map_: Annotated[list[str] | None, typer.Option("--map", help="canonical=source.")] = None,
        n: Annotated[int, typer.Option("--n", help="Clean elections to simulate.")] = 200,
        alpha: Annotated[float, typer.Option(help="False-discovery level.")] = 0.05,
        seed: Annotated[int, typer.Option(help="Seed of the simulations.")] = 0,
        reps: Annotated[int, typer.Option(help="Monte-Carlo replications per test.")] = 200,
        only: Annotated[str, typer.Option(help="Only these codes, e.g. STAT001,STAT002.")] = "",
        as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
        out: Annotated[Path | None, typer.Option(help="Write DIR/calibration.json (and add it "
                                                     "to DIR/findings.json if present).")] = None,
    ) -> None:
        """Simulate clean elections shaped like FILE and print each STAT check's false-alarm rate.

        Example: auditor calibrate 2018.csv.zip --n 200 --out reports/ru2018
        """
        result = calibrate(file, profile, n, alpha, seed, reps,
                           tuple(o for o in only.split(",") if o.strip()),
                           tuple(map_ or ()), progress=sys.stderr.isatty() and not as_json)
        if out is not None:
            result["written"] = [str(p) for p in write_result(result, out)]
        if as_json:
            typer.echo(json.dumps(result, ensure_ascii=False, indent=1))
            return
        typer.echo(f"{file}: {n} clean look-alike elections, α = {alpha}")
        for code, c in result["checks"].items():
            flag = "" if c["within"] else "  ABOVE α"
            typer.echo(f"  {code}: {c['alarms']}/{n} false alarms = {100 * c['rate']:.1f} % "
                       f"(95 % CI {100 * c['ci'][0]:.1f}–{100 * c['ci'][1]:.1f} %){flag}")
        if "classic_2bl" in result:
            c = result["classic_2bl"]
            typer.echo(f"  textbook 2BL χ² test (uncalibrated): {100 * c['rate']:.1f} % "
                       f"(95 % CI {100 * c['ci'][0]:.1f}–{100 * c['ci'][1]:.1f} %)")
        for p in result.get("written", []):
            typer.echo(f"written: {p}")
