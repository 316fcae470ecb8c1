"""The peer a data journalist would write: an idiomatic, vectorised pandas script of the basic
exact checks (Σ choices = valid, cast = valid + invalid, cast ≤ registered) on one wide table.

Usage: python -m bench.peers.pandas_checks FILE --registered COL --valid COL --invalid COL
       [--cast COL] --choices-from N   (choices = columns from index N on, minus --drop)
       [--key COL ... --same OUT.csv]

With `--same`, the script runs the exact checks `auditor audit --only INPUT,ARITH,PCT,AGG`
runs on such a table, row by row: unreadable, fractional and negative count cells, empty
required counts (registered, cast, valid, invalid), rows without any number, duplicated
`--key`s and the three identities; it writes every flagged row (its line in the file, its
key, the codes it fails) to OUT.csv and prints the count per code.
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from typing import Any

import numpy as np
import pandas as pd


def read(path: str, sep: str, **na: Any) -> pd.DataFrame:
    """Read a CSV, also the first member of a zip, or a Parquet file (`na`: read_csv's
    options for missing values)."""
    if path.endswith(".parquet"):
        return pd.read_parquet(path)
    if path.endswith(".zip"):
        with zipfile.ZipFile(path) as z:
            name = max(z.infolist(), key=lambda i: i.file_size).filename
            with z.open(name) as f:
                return pd.read_csv(f, sep=sep, encoding="utf-8-sig", low_memory=False, **na)
    return pd.read_csv(path, sep=sep, encoding="utf-8-sig", low_memory=False, **na)


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


def same_checks(df: pd.DataFrame, key: list[str], required: list[str], choices: list[str],
                out: str, first_row: int) -> dict[str, int]:
    """The exact checks row by row; flagged rows to `out`, counts per code returned."""
    cols = [*required, *choices]
    given = df[cols].notna()
    text = df[cols].select_dtypes(exclude="number").columns
    if len(text):  # blank text is no value
        given[text] = df[text].apply(lambda c: c.astype("string").str.strip().str.len() > 0)
    num = df[cols].apply(pd.to_numeric, errors="coerce").astype("float64")
    finite = np.isfinite(num)
    flags: dict[str, pd.Series] = {}
    for c in cols:
        flags[f"INPUT001:{c}"] = given[c] & ~finite[c]
        flags[f"INPUT004:{c}"] = finite[c] & ((num[c] - num[c].round()).abs() > 1e-9)
        flags[f"INPUT005:{c}"] = num[c] < 0
    has_data = given.any(axis=1)
    flags["INPUT002"] = ~has_data
    for c in required:
        flags[f"INPUT006:{c}"] = has_data & ~given[c]
    flags["INPUT003"] = df.duplicated(subset=key, keep=False)
    registered, cast, valid, invalid = (num[c] for c in required)
    both = cast.notna() & valid.notna() & invalid.notna()
    flags["ARITH001"] = valid.notna() & (num[choices].sum(axis=1) != valid)
    flags["ARITH002"] = both & (cast != valid + invalid)
    flags["ARITH003"] = cast > registered
    f = pd.DataFrame(flags)
    hit = f.any(axis=1)
    rows = df.loc[hit, key].copy()
    rows.insert(0, "row", rows.index + first_row)
    rows["checks"] = f[hit].apply(lambda r: " ".join(r.index[r]), axis=1) if hit.any() else ""
    rows.to_csv(out, index=False)
    by_code: dict[str, int] = {}
    for name, n in f.sum().items():
        code = str(name).split(":")[0]
        by_code[code] = by_code.get(code, 0) + int(n)
    return {**by_code, "rows_flagged": int(hit.sum())}


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
    ap.add_argument("--key", nargs="*", default=[])
    ap.add_argument("--same", help="run the same exact checks as auditor; flagged rows here")
    a = ap.parse_args(argv)
    # For the same checks as auditor, only an empty cell is missing: `n/a` is unreadable.
    na = {"keep_default_na": False, "na_values": [""]} if a.same else {}
    df = read(a.file, a.sep, **na)
    choices = [c for c in df.columns[a.choices_from:] if c not in a.drop]
    if a.same:
        required = [a.registered, a.cast or a.valid, a.valid, a.invalid]
        first = 1 if a.file.endswith(".parquet") else 2  # CSV lines: the header is line 1
        print(json.dumps(same_checks(df, a.key, required, choices, a.same, first)))
    else:
        print(json.dumps(checks(df, a.registered, a.valid, a.invalid, a.cast, choices)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
