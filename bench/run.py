"""`make bench`: time auditor against baselines measured in the same run, print ratios.

Every case times auditor and one or more baselines on the same file in the same process run:
(a) a plain polars read of the file, (b) the pandas peer script a data journalist would
write (`bench/peers/pandas_checks.py`), (c) a plain polars query of the same checks, and for
STAT001 (d) Monte-Carlo draws of its null, station by station as in the published notebooks
and vectorised over stations (`bench/peers/stat_loop.py`).
In-process figures are min and median of ≥ 5 runs; whole-process figures (a user typing the
command, imports included) likewise, with the peak RSS of the child process.
Results go to the terminal and to `bench/latest.json`. Nothing here is asserted: it measures.

`python -m bench.run` (quick: real files, synthetic 100k and 1M); `--full` adds 10M stations.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
PY = sys.executable
AUDITOR = [PY, "-m", "auditor.cli"]
RUNS = 5
EXACT = ["INPUT", "ARITH", "PCT", "AGG"]


def timed(fn: Callable[[], Any], runs: int = RUNS) -> tuple[float, float]:
    """Min and median seconds of `runs` calls."""
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts), statistics.median(ts)


GNU_TIME = Path("/usr/bin/time")


def proc(cmd: list[str], runs: int = RUNS) -> tuple[float, ...]:
    """Min and median wall seconds and peak RSS (MiB) of a whole process (see `procs`)."""
    return procs([cmd], runs)[0]


def procs(cmds: list[list[str]], runs: int = RUNS) -> list[tuple[float, ...]]:
    """Per command: min and median wall seconds, peak RSS (MiB) and median user and system
    CPU seconds of a whole process (system time is mostly the kernel giving the process
    fresh memory, which a streaming peer that holds little does not pay), the
    commands taking turns (a, b, a, b, …) so that a slow spell of a shared machine falls on
    all of them rather than on whichever ran then: a ratio of two commands timed one after
    the other swung from 0.87 to 1.12 between two runs of this bench.

    The peak RSS comes from GNU time wrapped around the command: the rusage of a child
    forked straight from this process counts the pages it shared with the parent before
    exec (the parent holds the synthetic tables, so that figure was this process's size,
    not the command's). GNU time's own start-up costs ~1 ms; without it, wait4 is used.
    """
    ts: list[list[float]] = [[] for _ in cmds]
    cpu: list[list[tuple[float, float]]] = [[] for _ in cmds]
    rss = [0.0 for _ in cmds]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rss"
        wrap = [str(GNU_TIME), "-f", "%M %U %S", "-o", str(out)] if GNU_TIME.exists() else []
        for _ in range(runs):
            for i, cmd in enumerate(cmds):
                t0 = time.perf_counter()
                p = subprocess.Popen([*wrap, *cmd], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=env, cwd=ROOT)
                _, status, usage = os.wait4(p.pid, 0)
                ts[i].append(time.perf_counter() - t0)
                err = p.stderr.read().decode() if p.stderr else ""
                if os.waitstatus_to_exitcode(status) not in (0, 1):
                    raise RuntimeError(f"{' '.join(cmd)} failed: {err[-2000:]}")
                if wrap:  # GNU time's last line (a failed command's status line comes first)
                    kib, user, system = map(float, out.read_text().splitlines()[-1].split())
                else:
                    kib, user, system = usage.ru_maxrss, usage.ru_utime, usage.ru_stime
                rss[i] = max(rss[i], kib / 1024)
                cpu[i].append((user, system))
    return [(min(t), statistics.median(t), r, statistics.median(u for u, _ in c),
             statistics.median(s for _, s in c)) for t, r, c in zip(ts, rss, cpu, strict=True)]


def read_plain(path: Path) -> pl.DataFrame:
    """Baseline (a): the plainest polars read of the same file."""
    if path.suffix == ".parquet":
        return pl.read_parquet(path)
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as z:
            info = max(z.infolist(), key=lambda i: i.file_size)
            return pl.read_csv(z.read(info), separator=_sep(path), infer_schema=False)
    return pl.read_csv(path, infer_schema=False, separator=_sep(path))


def _sep(path: Path) -> str:
    return ";" if "ew24" in path.name else ","


def audit_inprocess(path: Path, only: list[str]) -> Any:
    """Ingest + prepare + the given checks, in process."""
    from auditor.engine import audit, prepare
    from auditor.ingest import load

    m = prepare(load([path]))
    return audit(m, only=only)


def materialised(path: Path) -> Any:
    """The model of a file with its frames collected (to time checks alone)."""
    from auditor.engine import prepare
    from auditor.ingest import load

    return prepare(load([path]), materialise_max=sys.maxsize)


def row(name: str, rows: int, t: tuple[float, ...], base_name: str,
        b: tuple[float, ...], rss: float | None = None) -> dict[str, Any]:
    """One result line: auditor's min/median, the baseline's, the ratio of minima; the
    median user and system CPU seconds of both where `procs` timed both (`t[3:]`, `b[3:]`)."""
    out = {"case": name, "rows": rows, "seconds_min": round(t[0], 4),
           "seconds_median": round(t[1], 4), "baseline": base_name,
           "baseline_min": round(b[0], 4), "baseline_median": round(b[1], 4),
           "ratio": round(t[0] / b[0], 3) if b[0] else None,
           "peak_rss_mib": None if rss is None else round(rss, 1)}
    if len(t) > 3 and len(b) > 3:
        (u, s), (bu, bs) = t[3:5], b[3:5]
        out |= {"cpu_user_s": round(u, 3), "cpu_sys_s": round(s, 3),
                "baseline_cpu_user_s": round(bu, 3), "baseline_cpu_sys_s": round(bs, 3)}
    return out


def real_cases(out: list[dict[str, Any]]) -> None:
    """Russia 2018 and Germany EU 2024: in-process and whole-process ratios."""
    ru = DATA / "ru_shpilkin_kobak" / "2018.csv.zip"
    eu = DATA / "de_ew24_wahlbezirke" / "ew24_wbz.zip"
    for label, path in (("ru2018", ru), ("de_ew24", eu)):
        if not path.exists():
            print(f"skip {label}: {path} absent", file=sys.stderr)
            continue
        n = read_plain(path).height
        base = timed(partial(read_plain, path))
        out.append(row(f"{label} ingest+exact (in-process)", n,
                       timed(partial(audit_inprocess, path, EXACT)), "polars read", base))
        m = materialised(path)
        from auditor.engine import audit

        out.append(row(f"{label} exact checks on loaded model", n,
                       timed(partial(audit, m, only=EXACT)), "polars read", base))
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [*AUDITOR, "audit", str(path), "--format", "json", "--skip", "STAT", "-q",
                   "--fail-on", "never", "--out", tmp]
            if label == "ru2018":
                peer = [PY, "-m", "bench.peers.pandas_checks", str(path),
                        "--registered", "Число избирателей, включенных в список избирателей",
                        "--valid", "Число действительных избирательных бюллетеней",
                        "--invalid", "Число недействительных избирательных бюллетеней",
                        "--choices-from", "15", "--drop", "url"]
                t, pb = procs([cmd, peer], max(RUNS, 10))  # close to 1: more turns
                out.append(row(f"{label} whole process audit --skip STAT", n, t,
                               "pandas peer (whole process)", pb, t[2]))
            else:
                t = proc(cmd)
                out.append(row(f"{label} whole process audit --skip STAT", n, t,
                               "polars read (in-process)", base, t[2]))
        if label == "ru2018":
            stat_case(out, m, n, base)


def stat_case(out: list[dict[str, Any]], m: Any, n: int, base: tuple[float, float]) -> None:
    """STAT001: the whole check vs the read, and its national turnout test vs Monte Carlo.

    The whole check tests turnout and every major choice's share, nationally and in every
    region, and saves two 0.1-point histograms with their null envelopes. The Monte-Carlo
    baselines (`bench/peers/stat_loop.py`) do one of those tests — turnout, nationally, the
    p-value from 1,000 binomial redraws of every station — so they are compared with
    `integer_spikes` doing exactly that (same stations, hit rule and p-value; auditor's
    p-value is the exact limit of the draws).
    """
    from auditor.registry import load_catalogue

    cat = load_catalogue()
    if "STAT001" not in cat:
        print("skip STAT001: not in the catalogue", file=sys.stderr)
        return
    from auditor.engine import audit
    from auditor.stats import integer_spikes
    from bench.peers.stat_loop import integer_null_loop, integer_null_vectorised
    from checks.stat import contests, spike_variables

    m.options = {**m.options, "reps": 1000, "seed": 0}
    t = timed(lambda: audit(m, only=["STAT001"]))
    out.append(row("ru2018 STAT001 whole check (in-process)", n, t, "polars read", base))

    _, _, numer, denom, mask = spike_variables(contests(m)[0])[0]  # turnout, as STAT001
    one = timed(lambda: integer_spikes(numer, denom, mask, histogram=False))
    for name, loop in (("per-station loop, 1000 draws (1 run)", integer_null_loop),
                       ("vectorised numpy, 1000 draws (1 run)", integer_null_vectorised)):
        t0 = time.perf_counter()
        loop(numer[mask], denom[mask], 1000)
        took = time.perf_counter() - t0
        out.append(row("ru2018 STAT001 turnout national test (in-process)", n, one, name,
                       (took, took)))


def synthetic_cases(out: list[dict[str, Any]], sizes: list[int], tmp: Path) -> None:
    """Synthetic elections as CSV and Parquet: whole-process audit vs peers."""
    from fixtures.synth import generate

    for n in sizes:
        df = generate(n, seed=1)
        csv_p, pq_p = tmp / f"synth{n}.csv", tmp / f"synth{n}.parquet"
        df.write_csv(csv_p)
        df.write_parquet(pq_p)
        del df
        runs = RUNS  # ≥ 5 at every size, as the issue asks (the 10M tier costs ~2 min more)
        for p in ((csv_p, pq_p) if n <= 1_000_000 else (pq_p,)):
            kind = p.suffix[1:]
            o = tmp / f"out{n}{kind}"
            # From 1M stations on, the peers run the exact checks only, and so does auditor.
            skip = ["--skip", "STAT"] if n >= 1_000_000 else []
            cmd = [*AUDITOR, "audit", str(p), "--format", "json", "-q", "--fail-on", "never",
                   "--out", str(o), *skip]
            peer_pl = [PY, "-m", "bench.peers.polars_checks", str(p)]
            peer_pd = [PY, "-m", "bench.peers.pandas_checks", str(p), "--registered",
                       "registered", "--valid", "valid", "--invalid", "invalid", "--cast",
                       "ballots_cast", "--choices-from", "7"]
            # The same exact checks as auditor's, row by row, flagged rows written out
            # (tests/unit/test_bench_peers.py shows they flag what auditor flags).
            same_pl = [*peer_pl, "--same", str(tmp / f"peer_pl{n}{kind}.csv")]
            same_pd = [*peer_pd, "--key", "region", "district", "station",
                       "--same", str(tmp / f"peer_pd{n}{kind}.csv")]
            with_pd = n <= 1_000_000
            label = f"synthetic {n:,} {kind} whole audit{' --skip STAT' if skip else ''}"
            audits = [(label, cmd)]
            if skip:  # from 1M stations on, also the exact checks alone: the peers' checks
                audits.append((f"synthetic {n:,} {kind} whole audit --only {','.join(EXACT)}",
                               [*cmd[:-len(skip)], "--only", ",".join(EXACT)]))
            peers = [("polars peer query (whole process)", peer_pl),
                     *([("pandas peer (whole process)", peer_pd)] if with_pd else []),
                     ("polars peer, same checks (whole process)", same_pl),
                     ("polars read of every column (whole process)", [*peer_pl, "--read"]),
                     *([("pandas peer, same checks (whole process)", same_pd)]
                       if with_pd else [])]
            times = procs([c for _, c in audits] + [c for _, c in peers], runs)
            for (lab, _), t in zip(audits, times, strict=False):
                for (base_name, _), b in zip(peers, times[len(audits):], strict=True):
                    out.append(row(lab, n, t, base_name, b, t[2]))
            if n == 1_000_000 and kind == "csv":
                html_case(out, p, tmp)
                stage_case(out, p, n, tmp)
            if n > 1_000_000:  # where the 10M tier's time goes, in process
                stage_case(out, p, n, tmp)


def stage_case(out: list[dict[str, Any]], path: Path, n: int, tmp: Path) -> None:
    """Where the whole audit's time goes (in-process, `--skip STAT`; the 1M CSV and the 10M
    Parquet file): load and prepare,
    the checks (and `TURN002`, the costliest, alone), the figure data and the writing of
    findings.json, each against the plain polars read of the same file."""
    from auditor.engine import audit, prepare
    from auditor.findings import write_outputs
    from auditor.ingest import load
    from auditor.report.figures import figure_data

    base = timed(lambda: read_plain(path), 3)
    label = f"synthetic {n:,} {path.suffix[1:]} stage:"
    models: list[Any] = []

    def loaded() -> None:
        models.clear()  # one model at a time (10M stations: 1.8 GB each)
        models.append(prepare(load([path])))

    out.append(row(f"{label} load + prepare", n, timed(loaded, 3), "polars read", base))
    m = models[0]
    out.append(row(f"{label} checks --skip STAT", n, timed(lambda: audit(m, skip=["STAT"]), 3),
                   "polars read", base))
    out.append(row(f"{label} TURN002 alone", n, timed(lambda: audit(m, only=["TURN002"]), 3),
                   "polars read", base))
    out.append(row(f"{label} figure data", n, timed(lambda: figure_data(m), 3), "polars read",
                   base))
    run = audit(m, skip=["STAT"])
    out.append(row(f"{label} write findings.json", n,
                   timed(lambda: write_outputs(run, tmp / "stage", {"json"}), 3),
                   "polars read", base))


def html_case(out: list[dict[str, Any]], path: Path, tmp: Path) -> None:
    """The HTML report of the 1M-station run: size and whole-process time."""
    o = tmp / "html1m"
    cmd = [*AUDITOR, "audit", str(path), "--format", "html", "-q", "--fail-on", "never",
           "--out", str(o), "--skip", "STAT"]
    try:
        t = proc(cmd)
    except RuntimeError as exc:
        print(f"skip html: {exc}", file=sys.stderr)
        return
    report = o / "report.html"
    size = report.stat().st_size if report.exists() else 0
    out.append({"case": "synthetic 1,000,000 csv audit --skip STAT with HTML report", "rows": 1_000_000,
                "seconds_min": round(t[0], 3), "seconds_median": round(t[1], 3),
                "baseline": None, "ratio": None, "peak_rss_mib": round(t[2], 1),
                "report_bytes": size})
    r = browser_render(report) if report.exists() else None
    if r is not None:
        out.append({"case": f"1M report ({size / 1e6:.2f} MB) rendered in chromium", "rows": None,
                    "seconds_min": round(r[0], 3), "seconds_median": round(r[1], 3),
                    "baseline": None, "ratio": None, "peak_rss_mib": None})


def browser_render(report: Path, runs: int = RUNS) -> tuple[float, float] | None:
    """Seconds from opening the report in headless chromium (offline) until its figures are
    drawn (`html[data-figures=ready]`); None when chromium or playwright is absent."""
    chromium = Path("/usr/bin/chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("skip render timing: playwright is not installed", file=sys.stderr)
        return None
    if not chromium.exists():
        print(f"skip render timing: {chromium} is absent", file=sys.stderr)
        return None
    ts = []
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            profile, executable_path=str(chromium), headless=True, offline=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
        for _ in range(runs):
            page = ctx.new_page()
            t0 = time.perf_counter()
            page.goto(report.resolve().as_uri())
            page.wait_for_selector("html[data-figures=ready]", timeout=120_000)
            ts.append(time.perf_counter() - t0)
            page.close()
        ctx.close()
    return min(ts), statistics.median(ts)


def demo_case(out: list[dict[str, Any]]) -> None:
    """The bundled demo end to end, as `make demo` runs it."""
    t = proc([PY, "-m", "fixtures.demo"])
    out.append({"case": "demo end to end (python -m fixtures.demo)", "rows": None,
                "seconds_min": round(t[0], 3), "seconds_median": round(t[1], 3),
                "baseline": None, "ratio": None, "peak_rss_mib": round(t[2], 1)})


def main(argv: list[str]) -> int:
    """Run the benchmark cases and print/write the table."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true", help="add the 10M-station tier")
    ap.add_argument("--only", default="", help="real,synthetic,demo")
    a = ap.parse_args(argv)
    parts = set(a.only.split(",")) if a.only else {"real", "synthetic", "demo"}
    # An installed package carries its bytecode; an editable one under PYTHONDONTWRITEBYTECODE
    # (set on this kind of machine) recompiles ~30 modules in every process, ~0.12 s that a
    # user's install does not pay and the peers (site-packages, compiled) do not either.
    import compileall

    compileall.compile_dir(ROOT / "auditor", quiet=1)
    compileall.compile_dir(ROOT / "checks", quiet=1)
    out: list[dict[str, Any]] = []
    if "real" in parts:
        real_cases(out)
    if "synthetic" in parts:
        with tempfile.TemporaryDirectory() as tmp:
            sizes = [100_000, 1_000_000] + ([10_000_000] if a.full else [])
            synthetic_cases(out, sizes, Path(tmp))
    if "demo" in parts:
        demo_case(out)
    print(f"{'case':<58} {'rows':>10} {'min s':>8} {'med s':>8} {'baseline':<36} "
          f"{'base s':>8} {'ratio':>7} {'RSS MiB':>8} {'CPU user+sys s (baseline)':>26}")
    for r in out:
        cpu = (f"{r['cpu_user_s']}+{r['cpu_sys_s']} ({r['baseline_cpu_user_s']}+"
               f"{r['baseline_cpu_sys_s']})" if "cpu_user_s" in r else "")
        print(f"{r['case']:<58} {r['rows'] or '':>10} {r['seconds_min']:>8} "
              f"{r['seconds_median']:>8} {r.get('baseline') or '':<36} "
              f"{r.get('baseline_min') or '':>8} {r.get('ratio') or '':>7} "
              f"{r.get('peak_rss_mib') or '':>8} {cpu:>26}")
    doc = {"python": sys.version.split()[0], "polars": pl.__version__, "cpus": os.cpu_count(),
           "cases": out}
    (ROOT / "bench" / "latest.json").write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
