"""`python -m bench.rev`: time release matching (`auditor.revisions.compare`) on Russia 2021.

Baseline measured in the same run: a plain polars full join of the two raw releases on
(region, tik, uik) with a row-wise comparison of every numeric column — what one would
write by hand for a keyed diff. Frames are read once beforehand (`materialize`), so both
sides time the matching only. Nothing is asserted: it measures.
"""

from __future__ import annotations

import statistics
import sys
import time
import zipfile
from pathlib import Path

import polars as pl

from auditor.commands.diff import materialize
from auditor.ingest import LoadOptions, load
from auditor.revisions import _CACHE, compare

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ru_shpilkin_kobak"
OLD, NEW = "2021_release1_commit4e88b198.csv.zip", "2021.csv.zip"


def _raw(name: str) -> pl.DataFrame:
    with zipfile.ZipFile(DATA / name) as z:
        df = pl.read_csv(z.read(z.infolist()[0]), infer_schema=False)
    return df.rename({"reg": "region"}) if "reg" in df.columns else df


def _baseline(a: pl.DataFrame, b: pl.DataFrame) -> int:
    key = ["region", "tik", "uik"]
    num = [c for c in a.columns[5:] if c in b.columns and c != "url"]
    j = a.select(*key, *num).join(b.select(*key, *num), on=key, how="full", nulls_equal=True)
    diff = pl.any_horizontal([pl.col(c).ne_missing(pl.col(f"{c}_right")) for c in num])
    return j.filter(diff).height


def _times(fn: object, runs: int = 5) -> tuple[float, float]:
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        ts.append(time.perf_counter() - t0)
    return min(ts), statistics.median(ts)


def main() -> int:
    """Print min/median seconds of compare() and of the baseline, and their ratio."""
    if not DATA.exists():
        print(f"{DATA} is absent", file=sys.stderr)
        return 2
    opts = LoadOptions(profile="ru-duma-2021")
    a, b = materialize(load([DATA / OLD], opts)), materialize(load([DATA / NEW], opts))
    ra, rb = _raw(OLD), _raw(NEW)

    def run() -> None:
        _CACHE.clear()
        compare(a, b)

    c_min, c_med = _times(run)
    b_min, b_med = _times(lambda: _baseline(ra, rb))
    s = compare(a, b).summary()
    print(f"compare (96k stations, {s['changed_cells']} changed cells): min {c_min:.3f} s, "
          f"median {c_med:.3f} s")
    print(f"plain polars keyed diff:                   min {b_min:.3f} s, median {b_med:.3f} s")
    print(f"ratio (median): {c_med / b_med:.1f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
