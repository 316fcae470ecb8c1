"""The peer a data journalist would write: an idiomatic, vectorised pandas script of the basic
exact checks (Σ choices = valid, cast = valid + invalid, cast ≤ registered) on one wide table.

Usage: python -m bench.peers.pandas_checks FILE --registered COL --valid COL --invalid COL
       [--cast COL] --choices-from N   (choices = columns from index N on, minus --drop)
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile

import pandas as pd


def read(path: str, sep: str) -> pd.DataFrame:
    """Read a CSV, also the first member of a zip, or a Parquet file."""
    if path.endswith(".parquet"):
        return pd.read_parquet(path)
    if path.endswith(".zip"):
        with zipfile.ZipFile(path) as z:
            name = max(z.infolist(), key=lambda i: i.file_size).filename
            with z.open(name) as f:
                return pd.read_csv(f, sep=sep, encoding="utf-8-sig", low_memory=False)
    return pd.read_csv(path, sep=sep, encoding="utf-8-sig", low_memory=False)


def checks(df: pd.DataFrame, registered: str, valid: str, invalid: str, cast: str | None,
           choices: list[str]) -> dict[str, int]:
    """Counts of rows violating each basic identity."""
    num = df[[registered, valid, invalid, *choices, *([cast] if cast else [])]].apply(
        pd.to_numeric, errors="coerce")
    total_cast = num[cast] if cast else num[valid] + num[invalid]
    return {
        "choices_ne_valid": int((num[choices].sum(axis=1) != num[valid]).sum()),
        "cast_ne_valid_invalid": int((total_cast != num[valid] + num[invalid]).sum()),
        "cast_gt_registered": int((total_cast > num[registered]).sum()),
        "rows": len(df),
    }


def main(argv: list[str]) -> int:
    """Run the peer script from the command line; prints its counts as JSON."""
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--sep", default=",")
    ap.add_argument("--registered", required=True)
    ap.add_argument("--valid", required=True)
    ap.add_argument("--invalid", required=True)
    ap.add_argument("--cast")
    ap.add_argument("--choices-from", type=int, required=True)
    ap.add_argument("--drop", nargs="*", default=[])
    a = ap.parse_args(argv)
    df = read(a.file, a.sep)
    choices = [c for c in df.columns[a.choices_from:] if c not in a.drop]
    print(json.dumps(checks(df, a.registered, a.valid, a.invalid, a.cast, choices)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
