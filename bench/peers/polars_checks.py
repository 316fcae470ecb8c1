"""The polars peer: a plain polars query of the same exact checks on a synthetic election
(Σ choices = valid, cast = valid + invalid, cast ≤ registered), as a user would write it."""

from __future__ import annotations

import json
import sys

import polars as pl

PARTIES = ["Alpha", "Beta", "Gamma", "Delta", "Epsilon"]


def main(argv: list[str]) -> int:
    """Scan the file, run the three checks in one query, print the counts."""
    path = argv[0]
    lf = pl.scan_parquet(path) if path.endswith(".parquet") else pl.scan_csv(path)
    res = lf.select(
        (pl.sum_horizontal(PARTIES) != pl.col("valid")).sum().alias("choices_ne_valid"),
        (pl.col("ballots_cast") != pl.col("valid") + pl.col("invalid")).sum()
        .alias("cast_ne_valid_invalid"),
        (pl.col("ballots_cast") > pl.col("registered")).sum().alias("cast_gt_registered"),
        pl.len().alias("rows"),
    ).collect()
    print(json.dumps(res.row(0, named=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
