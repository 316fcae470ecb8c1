"""The polars peers on a synthetic election (`fixtures/synth.py`), as a user would write them.

- `python -m bench.peers.polars_checks FILE`: a plain query of three identities (Σ choices =
  valid, cast = valid + invalid, cast ≤ registered), counts only.
- `python -m bench.peers.polars_checks FILE --read`: no check, the whole file read into
  memory (every column, as an audit must read it): the floor of any tool that looks at
  every cell.
- `python -m bench.peers.polars_checks FILE --same OUT.csv`: the exact checks `auditor audit
  --only INPUT,ARITH,PCT,AGG` runs on such a file, row by row like `auditor`: unreadable,
  fractional and negative count cells, empty required counts, rows without any number,
  duplicated keys and the three identities. It writes every flagged row (its line in the
  file, its key, the codes it fails) to OUT.csv and prints the count per code. (`PCT` and
  `AGG` have nothing to look at in a file without percentages or published totals.)
"""

from __future__ import annotations

import json
import sys

import polars as pl

PARTIES = ["Alpha", "Beta", "Gamma", "Delta", "Epsilon"]
KEY = ["region", "district", "station"]
COUNTS = ["registered", "ballots_cast", "valid", "invalid"]


def scan(path: str) -> pl.LazyFrame:
    """The file as a lazy frame: Parquet, or CSV with the types polars infers."""
    return pl.scan_parquet(path) if path.endswith(".parquet") else pl.scan_csv(path)


def three_identities(path: str) -> dict[str, int]:
    """Rows violating each of the three identities, in one query."""
    return scan(path).select(
        (pl.sum_horizontal(PARTIES) != pl.col("valid")).sum().alias("choices_ne_valid"),
        (pl.col("ballots_cast") != pl.col("valid") + pl.col("invalid")).sum()
        .alias("cast_ne_valid_invalid"),
        (pl.col("ballots_cast") > pl.col("registered")).sum().alias("cast_gt_registered"),
        pl.len().alias("rows"),
    ).collect().row(0, named=True)


def same_checks(path: str, out: str) -> dict[str, int]:
    """The exact checks row by row; flagged rows to `out`, counts per code returned."""
    lf = scan(path)
    schema = lf.collect_schema()
    # CSV line numbers (the header is line 1), Parquet row numbers from 1: as auditor's rows
    lf = lf.with_row_index("row", offset=1 if path.endswith(".parquet") else 2)
    num: dict[str, pl.Expr] = {}
    given: dict[str, pl.Expr] = {}
    flags: list[pl.Expr] = []
    for c in [*COUNTS, *PARTIES]:
        if schema[c].is_numeric():  # the reader parsed every cell
            num[c], given[c] = pl.col(c).cast(pl.Float64), pl.col(c).is_not_null()
        else:
            text = pl.col(c).str.strip_chars()
            num[c] = text.cast(pl.Float64, strict=False)
            given[c] = (text.str.len_bytes() > 0).fill_null(False)
        finite = num[c].is_finite().fill_null(False)
        flags += [(given[c] & ~finite).alias(f"INPUT001:{c}"),
                  (finite & ((num[c] - num[c].round(0)).abs() > 1e-9)).alias(f"INPUT004:{c}"),
                  (num[c] < 0).alias(f"INPUT005:{c}")]
    has_data = pl.any_horizontal(list(given.values()))
    flags.append((~has_data).alias("INPUT002"))
    flags += [(has_data & ~given[c]).alias(f"INPUT006:{c}") for c in COUNTS]
    flags.append(pl.struct(KEY).is_duplicated().alias("INPUT003"))
    flags += [
        (pl.sum_horizontal([num[p] for p in PARTIES]) != num["valid"]).alias("ARITH001"),
        (num["ballots_cast"] != num["valid"] + num["invalid"]).alias("ARITH002"),
        (num["ballots_cast"] > num["registered"]).alias("ARITH003"),
    ]
    names = [f.meta.output_name() for f in flags]
    flagged = (lf.with_columns([f.fill_null(False) for f in flags])
               .filter(pl.any_horizontal(names))
               .select("row", *KEY, *names).collect())
    codes = flagged.select(
        pl.concat_list([pl.when(pl.col(n)).then(pl.lit(n)) for n in names])
        .list.drop_nulls().list.join(" ").alias("checks"))
    flagged.select("row", *KEY).hstack(codes).write_csv(out)
    counts = flagged.select([pl.col(n).sum() for n in names]).row(0, named=True) \
        if flagged.height else dict.fromkeys(names, 0)
    by_code: dict[str, int] = {}
    for n, k in counts.items():
        by_code[n.split(":")[0]] = by_code.get(n.split(":")[0], 0) + int(k)
    return {**by_code, "rows_flagged": flagged.height}


def main(argv: list[str]) -> int:
    """Run a peer from the command line; prints its counts as JSON."""
    if len(argv) == 2 and argv[1] == "--read":
        print(json.dumps({"rows": scan(argv[0]).collect().height}))
    elif len(argv) == 3 and argv[1] == "--same":
        print(json.dumps(same_checks(argv[0], argv[2])))
    else:
        print(json.dumps(three_identities(argv[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
