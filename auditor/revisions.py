"""Matching reporting units across two releases of the same election, and what changed.

`compare(old, new)` pairs every unit of the earlier release with a unit of the later one and
returns a `Comparison`: the pairs with their status, the changed cells, and a summary.

- With a key (the profile's `units.key`, so `unit_id` is e.g. `24/23`): units are paired by
  key; a key duplicated by a typo (ingest names the copies `24/23`, `24/23#2`) is resolved by
  content first. A unit that disappears while another appears with identical content is a
  **re-keyed** unit (a corrected key), not a removal plus an addition.
- Without a key (rows identified only by position, `unit_id = "row N"`, Kloop 2020): rows
  with identical content (region + all counts) in both releases are the same unit wherever
  the row moved; those that keep the row order (the longest order-preserving chain) are
  anchors, and the rows left between two anchors are paired by position inside the same
  region. Those position pairs are *uncertain* (nothing but order says they are the same
  station) and are counted as such.

Statuses: `same`, `changed` (some count differs), `added`, `removed`, `rekeyed`, `reported`
(listed without numbers before, with numbers now), `withdrawn` (had numbers, now listed empty).
Releases are compared in wide form (one row per unit, one column per count or choice): a
64-bit content fingerprint per unit, polars joins on the keys, and cell-by-cell comparison
only for the few pairs whose fingerprints differ (`python -m bench.rev` times it on Russia
2021 against a plain polars keyed join).
"""

from __future__ import annotations

import bisect
import re
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from auditor.model import Model

_DUP_SUFFIX = r"#\d+$"
_ROW_ID = r"^row \d+$"

PAIR_SCHEMA: pl.Schema = pl.Schema({
    "contest": pl.String(),
    "old_id": pl.String(),
    "new_id": pl.String(),
    "method": pl.String(),
    "uncertain": pl.Boolean(),
})


@dataclass
class Comparison:
    """Two releases compared: unit pairs, changed cells and counts.

    `pairs`: contest, old_id, new_id (one of them null for added/removed), method (`key`,
    `content`, `position`, `rekeyed`, `rekeyed-duplicate`), uncertain, status, the hierarchy
    columns of the new (else old) unit, old_pos/new_pos (source rows), old_mass/new_mass
    (sum of the unit's numbers compared), old_votes/new_votes (sum of its votes compared).
    `cells`: one row per changed cell of a matched unit: contest, old_id, new_id, field,
    is_vote, old, new, delta. Only the counts and choices present in both releases are
    compared (`counts["fields_compared"]`); choice names differing only in case are aligned.
    """

    pairs: pl.DataFrame
    cells: pl.DataFrame
    keyless: bool
    hierarchy: list[str]
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    by_contest: dict[str, dict[str, int]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Small JSON-ready counts: how units were matched and what happened to them."""
        matched = self.counts.get("matched", 0)
        unc = self.counts.get("uncertain", 0)
        return {
            "matching": "position + content fingerprint" if self.keyless else "key",
            **self.counts,
            "uncertain_share": round(unc / matched, 4) if matched else 0.0,
            "notes": list(self.notes),
            "by_contest": self.by_contest,
        }


C_PREFIX, V_PREFIX = "c:", "v:"


def wide_of(m: Model, hier: list[str]) -> pl.DataFrame:
    """Every number of a release as one wide row per unit (the shape matching works on).

    Columns: contest, unit_id, pos (source row), the hierarchy columns, `c:<count>` for
    each protocol count and `v:<choice>` for each choice's votes (Int64, null = empty).
    Votes are turned back from the long `votes` table with `wide_votes`.
    """
    counts = m.counts()
    cols = m.unit_columns()
    pos = pl.col("source_row") if "source_row" in cols else pl.int_range(pl.len())
    # Ingest makes (contest, unit_id) unique (a repeated key gets `#2`, `#3`, …).
    u = m.units.select(
        "contest", "unit_id", pos.cast(pl.Int64).alias("pos"),
        *[pl.col(h).cast(pl.String) if h in cols else pl.lit(None, pl.String).alias(h)
          for h in hier],
        *[pl.col(c).cast(pl.Int64).alias(C_PREFIX + c) for c in counts],
    ).collect()
    if "choice" not in m.vote_columns():
        return u
    wv = wide_votes(m.votes)
    # Usually the votes come back in the units' own order: then no join is needed.
    if wv.height == u.height and (wv["unit_id"] == u["unit_id"]).all() and (
            wv["contest"] == u["contest"]).all():
        return u.hstack(wv.drop("contest", "unit_id"))
    return u.join(wv, on=["contest", "unit_id"], how="left")


def wide_votes(votes: pl.LazyFrame) -> pl.DataFrame:
    """Votes per unit as one column per choice (`v:<choice>`), one row per (contest, unit).

    Ingest unpivots wide files into blocks, one per choice, each listing the units in the
    same order; those blocks are put side by side again without hashing millions of keys.
    Anything else (long files, repeated rows) goes through a group-by and a pivot.
    """
    v = votes.select("contest", "unit_id", "choice", pl.col("votes").cast(pl.Int64)).collect()
    fast = _side_by_side(v)
    if fast is not None:
        return fast
    g = v.group_by("contest", "unit_id", "choice", maintain_order=True).agg(
        pl.when(pl.col("votes").null_count() == pl.len()).then(None)
        .otherwise(pl.col("votes").sum()).alias("votes"))
    w = g.with_columns((V_PREFIX + pl.col("choice")).alias("choice")).pivot(
        on="choice", index=["contest", "unit_id"], values="votes", aggregate_function="first")
    return w


def _side_by_side(v: pl.DataFrame) -> pl.DataFrame | None:
    """The fast path of `wide_votes`, or None when the rows are not in aligned blocks.

    A wide file unpivoted chunk by chunk gives rounds of runs: within a round one run per
    choice, all of the same length and listing the same units in the same order.
    """
    if v.height == 0:
        return None
    runs = v.select(pl.struct("contest", "choice").rle().alias("r")).unnest("r")
    lens = runs["len"].to_list()
    keys = [(r["contest"], r["choice"]) for r in runs["value"].to_list()]
    rounds: list[tuple[int, int, list[str]]] = []  # (start row, units, choices)
    start = 0
    k = 0
    while k < len(keys):
        contest, n = keys[k][0], lens[k]
        choices: list[str] = []
        while k < len(keys) and keys[k][0] == contest and lens[k] == n \
                and keys[k][1] not in choices:
            choices.append(keys[k][1])
            k += 1
        rounds.append((start, n, choices))
        start += n * len(choices)
    parts = []
    for start, n, choices in rounds:
        first = v.slice(start, n).select("contest", "unit_id")
        cols = {}
        for b, ch in enumerate(choices):
            block = v.slice(start + b * n, n)
            if not (block["unit_id"] == first["unit_id"]).all():
                return None
            cols[V_PREFIX + str(ch)] = block["votes"]
        parts.append(first.with_columns(**cols))
    out = pl.concat(parts, how="diagonal_relaxed") if len(parts) > 1 else parts[0]
    if out.select(pl.struct("contest", "unit_id").n_unique()).item() != out.height:
        return None
    return out


def _unit_table(w: pl.DataFrame, fields: list[str]) -> pl.DataFrame:
    """Per unit: content fingerprint over `fields`, whether it has numbers, the sum of its
    numbers (`mass`) and of its votes."""
    if not fields:
        return w.with_columns(pl.lit(0, pl.UInt64).alias("fp"), pl.lit(False).alias("has_data"),
                              pl.lit(0, pl.Int64).alias("mass"), pl.lit(0, pl.Int64).alias("votes"))
    return w.with_columns(
        pl.struct(fields).hash().alias("fp"),
        pl.any_horizontal([pl.col(f).is_not_null() for f in fields]).alias("has_data"),
        pl.sum_horizontal([pl.col(f).abs() for f in fields]).fill_null(0).alias("mass"),
        pl.sum_horizontal([pl.col(f) for f in fields if f.startswith(V_PREFIX)] or [pl.lit(0)])
        .fill_null(0).alias("votes"),
    )


def is_keyless(units: pl.DataFrame) -> bool:
    """True when units are identified by row position only (`unit_id = "row N"`)."""
    return units.height > 0 and bool(units["unit_id"].str.contains(_ROW_ID).all())


def _pairs_keyed(o: pl.DataFrame, n: pl.DataFrame) -> pl.DataFrame:
    """Pair by key; duplicated keys by content; then re-keyed units by identical content."""
    # Keys that are not duplicated in either release pair by one join; only the few units
    # left over (and any duplicated key) go through the content rules below.
    dup = pl.col("unit_id").str.contains(_DUP_SUFFIX)
    dup_base = pl.concat([o.filter(dup).select("contest", "unit_id"),
                          n.filter(dup).select("contest", "unit_id")]).select(
        "contest", pl.col("unit_id").str.replace(_DUP_SUFFIX, "")).unique()
    if dup_base.height == 0:
        ids = ["contest", "unit_id"]
        j = o.select(*ids, pl.lit(True).alias("_o")).join(
            n.select(*ids, pl.lit(True).alias("_n")), on=ids, how="full", coalesce=True)
        easy = j.filter(pl.col("_o") & pl.col("_n")).select(
            "contest", pl.col("unit_id").alias("old_id"), pl.col("unit_id").alias("new_id"),
            pl.lit("key").alias("method"), pl.lit(False).alias("uncertain"))
        rest_o = j.filter(pl.col("_n").is_null()).select(ids)
        rest_n = j.filter(pl.col("_o").is_null()).select(ids)
        if rest_o.height == 0 or rest_n.height == 0:
            return easy
        o = o.join(rest_o, on=ids, how="semi")
        n = n.join(rest_n, on=ids, how="semi")
        return pl.concat([easy, _pairs_keyed_slow(o, n)])
    return _pairs_keyed_slow(o, n)


def _pairs_keyed_slow(o: pl.DataFrame, n: pl.DataFrame) -> pl.DataFrame:
    o = o.with_columns(pl.col("unit_id").str.replace(_DUP_SUFFIX, "").alias("base"))
    n = n.with_columns(pl.col("unit_id").str.replace(_DUP_SUFFIX, "").alias("base"))
    # 1. same key and same content (this also picks the right copy of a duplicated key).
    k1 = ["contest", "base", "fp"]
    a = _pair(_ranked(o, k1), _ranked(n, k1), [*k1, "r"], "key")
    o2, n2 = _unpaired(o, n, a)
    # 2. same key, content changed (copies of a duplicated key in order).
    k2 = ["contest", "base"]
    b = _pair(_ranked(o2, k2), _ranked(n2, k2), [*k2, "r"], "key")
    o3, n3 = _unpaired(o2, n2, b)
    # 3. re-keyed: a unit gone and one new with identical, non-empty content, unique on both
    # sides (a unique 64-bit content hash of real numbers does not repeat by chance).
    def uniq(x: pl.DataFrame) -> pl.DataFrame:
        return x.filter(pl.col("mass") > 0).filter(pl.len().over("contest", "fp") == 1)

    c = _pair(uniq(o3), uniq(n3), ["contest", "fp"], "rekeyed")
    o4, n4 = _unpaired(o3, n3, c)
    o4 = o4.filter(pl.col("unit_id").str.contains(_DUP_SUFFIX))
    # 4. a surplus copy of a duplicated key gone while as many new keys appear in the same
    # contest: the key typo was corrected (Georgia nov13 → nov14: the second (24, 23) row, a
    # copy of the first, gave way to (25, 33)). Paired in row order, uncertain, never diffed.
    on, nn = o4.group_by("contest").len(), n4.group_by("contest").len()
    same_n = on.join(nn, on=["contest", "len"], how="inner").select("contest")
    o4 = _ranked(o4.join(same_n, on="contest", how="semi").sort("pos"), ["contest"])
    n4 = _ranked(n4.join(same_n, on="contest", how="semi").sort("pos"), ["contest"])
    d = _pair(o4, n4, ["contest", "r"], "rekeyed-duplicate")
    return pl.concat([a, b, c, d]).with_columns(
        (pl.col("method") == "rekeyed-duplicate").alias("uncertain"))


def _ranked(x: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Number the rows within each key (`r`), so that copies of a key pair up in order."""
    return x.with_columns(pl.int_range(pl.len()).over(keys).alias("r"))


def _pair(o: pl.DataFrame, n: pl.DataFrame, on: list[str], method: str) -> pl.DataFrame:
    """Old/new unit pairs agreeing on `on`, labelled with the matching method."""
    return o.join(n, on=on, how="inner", suffix="_n").select(
        "contest", pl.col("unit_id").alias("old_id"), pl.col("unit_id_n").alias("new_id"),
        pl.lit(method).alias("method"))


def _unpaired(o: pl.DataFrame, n: pl.DataFrame,
              pairs: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The old and the new units that `pairs` left unmatched."""
    return (
        o.join(pairs.select("contest", pl.col("old_id").alias("unit_id")),
               on=["contest", "unit_id"], how="anti"),
        n.join(pairs.select("contest", pl.col("new_id").alias("unit_id")),
               on=["contest", "unit_id"], how="anti"),
    )


def _lis(seq: list[int]) -> list[int]:
    """Indices of a longest strictly increasing subsequence of `seq` (patience sorting)."""
    tails: list[int] = []
    tails_idx: list[int] = []
    prev = [-1] * len(seq)
    for i, x in enumerate(seq):
        j = bisect.bisect_left(tails, x)
        if j == len(tails):
            tails.append(x)
            tails_idx.append(i)
        else:
            tails[j] = x
            tails_idx[j] = i
        prev[i] = tails_idx[j - 1] if j > 0 else -1
    out: list[int] = []
    k = tails_idx[-1] if tails_idx else -1
    while k >= 0:
        out.append(k)
        k = prev[k]
    return out[::-1]


def _pairs_keyless(o: pl.DataFrame, n: pl.DataFrame, hier: list[str]) -> pl.DataFrame:
    """Content matches first, then position pairs between order-preserving anchors."""
    # 1. Identical content in the same region: the same unit, wherever the row moved. Copies
    # of identical content are paired in row order (either pairing changes nothing).
    k = ["contest", *hier, "fp"]
    o1 = o.sort("pos").with_columns(pl.int_range(pl.len()).over(k).alias("r"))
    n1 = n.sort("pos").with_columns(pl.int_range(pl.len()).over(k).alias("r"))
    cand = o1.join(n1, on=[*k, "r"], how="inner", suffix="_n", nulls_equal=True).select(
        "contest", "unit_id", "pos", "unit_id_n", "pos_n").sort("contest", "pos")
    a = cand.select("contest", pl.col("unit_id").alias("old_id"),
                    pl.col("unit_id_n").alias("new_id"), pl.lit("content").alias("method"))
    # 2. The content matches that keep the row order (a longest increasing chain) delimit
    # the gaps; rows left inside the same gap on both sides are paired by position.
    gap_parts = []
    for contest in sorted(set(o["contest"].to_list()) | set(n["contest"].to_list())):
        cc = cand.filter(pl.col("contest") == contest)
        ac = cc[_lis(cc["pos_n"].to_list())] if cc.height else cc
        ao, an = ac["pos"].sort(), ac["pos_n"].sort()
        og = o.filter(pl.col("contest") == contest).join(
            cc.select(pl.col("unit_id")), on="unit_id", how="anti")
        ng = n.filter(pl.col("contest") == contest).join(
            cc.select(pl.col("unit_id_n").alias("unit_id")), on="unit_id", how="anti")
        og = og.with_columns(pl.Series("gap", ao.search_sorted(og["pos"], side="left")))
        ng = ng.with_columns(pl.Series("gap", an.search_sorted(ng["pos"], side="left")))
        gk = ["gap", *hier]
        og = og.sort("pos").with_columns(pl.int_range(pl.len()).over(gk).alias("r"))
        ng = ng.sort("pos").with_columns(pl.int_range(pl.len()).over(gk).alias("r"))
        gap_parts.append(og.join(ng, on=[*gk, "r"], how="inner", suffix="_n", nulls_equal=True)
                         .select("contest", pl.col("unit_id").alias("old_id"),
                                 pl.col("unit_id_n").alias("new_id"),
                                 pl.lit("position").alias("method")))
    b = pl.concat(gap_parts) if gap_parts else a.clear()
    # Only position pairs are uncertain: nothing but the row order says they are one unit.
    return pl.concat([a, b]).with_columns((pl.col("method") == "position").alias("uncertain"))


def _empty_listed(m: Model) -> pl.LazyFrame:
    """Units listed in the file without any number (rejected as INPUT002)."""
    return (m.issues.filter((pl.col("code") == "INPUT002") & pl.col("unit_id").is_not_null())
            .select(pl.col("unit_id")).unique())


_CACHE: dict[int, tuple[weakref.ref[Model], weakref.ref[Model], Comparison]] = {}
_LOCK = threading.RLock()


def compare(old: Model, new: Model) -> Comparison:
    """Match the units of `old` and `new` and list every changed cell (cached per pair)."""
    with _LOCK:  # checks run two at a time: the second one waits for the first's match
        hit = _CACHE.get(id(new))
        if hit is not None and hit[0]() is old and hit[1]() is new:
            return hit[2]
        cmp = _compare(old, new)
        _CACHE[id(new)] = (weakref.ref(old), weakref.ref(new), cmp)
        return cmp


def _compare(old: Model, new: Model) -> Comparison:
    hier = [h for h in new.hierarchy if h in old.hierarchy]
    # One pass over each release: lazy frames re-read their file on every collect.
    ow, nw = wide_of(old, hier), wide_of(new, hier)
    ol, nl = pl.collect_all([_empty_listed(old), _empty_listed(new)])
    ren = _choice_renames(_fields(ow), _fields(nw))
    if ren:
        ow = ow.rename(ren)
    of, nf = set(_fields(ow)), set(_fields(nw))
    fields = sorted(of & nf)
    keyless = is_keyless(ow) or is_keyless(nw)
    o, n = _unit_table(ow, fields), _unit_table(nw, fields)
    pairs = _pairs_keyless(o, n, hier) if keyless else _pairs_keyed(o, n)
    pairs = pairs.select(list(PAIR_SCHEMA)).cast(PAIR_SCHEMA)
    side = ["contest", "unit_id", "fp", "has_data", "pos", "mass", "votes"]
    ou = o.select(side).rename({c: f"old_{c}" for c in side[1:]})
    nu = n.select(side).rename({c: f"new_{c}" for c in side[1:]})
    pairs = (pairs.join(ou, left_on=["contest", "old_id"], right_on=["contest", "old_unit_id"],
                        how="left")
             .join(nu, left_on=["contest", "new_id"], right_on=["contest", "new_unit_id"],
                   how="left"))
    # Only pairs whose fingerprints differ can hold a changed cell; a re-keyed duplicate is a
    # different station, so its numbers are not a revision.
    diffed = pairs.filter((pl.col("old_fp") != pl.col("new_fp"))
                          & (pl.col("method") != "rekeyed-duplicate"))
    diff = _changed_cells(ow, nw, diffed, fields)
    changed = diff.select("contest", "new_id").unique().with_columns(pl.lit(True).alias("ch"))
    od = o.select("contest", pl.col("unit_id").alias("old_id"), pl.col("has_data").alias("od"),
                  *[pl.col(h).alias(f"o_{h}") for h in hier],
                  *[pl.col(c).alias(f"old_{c}") for c in ("pos", "mass", "votes")])
    nd = n.select("contest", pl.col("unit_id").alias("new_id"), pl.col("has_data").alias("nd"),
                  *[pl.col(h).alias(f"n_{h}") for h in hier],
                  *[pl.col(c).alias(f"new_{c}") for c in ("pos", "mass", "votes")])
    full = (
        pairs.select(list(PAIR_SCHEMA))
        .join(od, on=["contest", "old_id"], how="full", coalesce=True)
        .join(nd, on=["contest", "new_id"], how="full", coalesce=True)
        .join(changed, on=["contest", "new_id"], how="left")
    )
    if keyless:
        full = full.with_columns(pl.lit(False).alias("was_listed"),
                                 pl.lit(False).alias("now_listed"))
    else:
        full = full.with_columns(
            pl.col("new_id").is_in(ol["unit_id"].implode()).fill_null(False).alias("was_listed"),
            pl.col("old_id").is_in(nl["unit_id"].implode()).fill_null(False).alias("now_listed"),
        )
    status = (
        pl.when(pl.col("old_id").is_null())
        .then(pl.when(pl.col("was_listed")).then(pl.lit("reported")).otherwise(pl.lit("added")))
        .when(pl.col("new_id").is_null())
        .then(pl.when(pl.col("now_listed")).then(pl.lit("withdrawn")).otherwise(pl.lit("removed")))
        .when(pl.col("method").str.starts_with("rekeyed")).then(pl.lit("rekeyed"))
        .when(pl.col("od").fill_null(False) & ~pl.col("nd").fill_null(False))
        .then(pl.lit("withdrawn"))
        .when(~pl.col("od").fill_null(False) & pl.col("nd").fill_null(False))
        .then(pl.lit("reported"))
        .when(pl.col("ch").fill_null(False)).then(pl.lit("changed"))
        .otherwise(pl.lit("same"))
    )
    full = full.with_columns(
        status.alias("status"),
        pl.col("uncertain").fill_null(False),
        *[pl.coalesce(f"n_{h}", f"o_{h}").alias(h) for h in hier],
    ).select("contest", "old_id", "new_id", "method", "uncertain", "status", *hier,
             "old_pos", "new_pos", "old_mass", "new_mass", "old_votes", "new_votes")
    st = full["status"].value_counts()
    counts = {s: 0 for s in ("same", "changed", "added", "removed", "rekeyed", "reported",
                             "withdrawn")}
    counts.update({str(r[0]): int(r[1]) for r in st.iter_rows()})
    counts["old_units"] = o.height
    counts["new_units"] = n.height
    counts["matched"] = int(full.filter(pl.col("old_id").is_not_null()
                                        & pl.col("new_id").is_not_null()).height)
    counts["uncertain"] = int(full["uncertain"].sum())
    counts["changed_cells"] = diff.height
    counts["fields_compared"] = len(fields)
    counts["fields_only_old"] = len(of - nf)
    counts["fields_only_new"] = len(nf - of)
    counts["choices_renamed"] = len(ren)
    by_c = full.group_by("contest", "status").len().sort("contest", "status")
    per: dict[str, dict[str, int]] = {}
    for c, st_, k in by_c.iter_rows():
        per.setdefault(str(c), {})[str(st_)] = int(k)
    extra = sorted(_breakdown(new) - _breakdown(old))
    cmp = Comparison(full, diff, keyless, hier, counts, by_contest=per)
    cmp.notes = [f"vote breakdown column(s) only in the new release, not compared: "
                 f"{', '.join(extra)}"] if extra else []
    return cmp


def _fields(w: pl.DataFrame) -> list[str]:
    return [c for c in w.columns if c.startswith((C_PREFIX, V_PREFIX))]


def _changed_cells(ow: pl.DataFrame, nw: pl.DataFrame, diffed: pl.DataFrame,
                   fields: list[str]) -> pl.DataFrame:
    """One row per differing cell of the few pairs whose fingerprints differ."""
    schema = {"contest": pl.String, "old_id": pl.String, "new_id": pl.String,
              "field": pl.String, "is_vote": pl.Boolean, "old": pl.Int64, "new": pl.Int64,
              "delta": pl.Int64}
    if diffed.height == 0 or not fields:
        return pl.DataFrame(schema=schema)

    def long(w: pl.DataFrame, side: str) -> pl.DataFrame:
        d = diffed.select("contest", pl.col(side).alias("unit_id"), "old_id", "new_id")
        few = w.join(d, on=["contest", "unit_id"], how="inner")
        return few.select("contest", "old_id", "new_id", *fields).unpivot(
            index=["contest", "old_id", "new_id"], on=fields, variable_name="f",
            value_name="value")

    j = long(ow, "old_id").join(long(nw, "new_id"), on=["contest", "old_id", "new_id", "f"],
                                how="inner", suffix="_n")
    return (
        j.filter(pl.col("value").ne_missing(pl.col("value_n")))
        .select(
            "contest", "old_id", "new_id", pl.col("f").str.slice(2).alias("field"),
            pl.col("f").str.starts_with(V_PREFIX).alias("is_vote"),
            pl.col("value").alias("old"), pl.col("value_n").alias("new"),
            (pl.col("value_n") - pl.col("value")).alias("delta"),
        )
        .cast(schema)  # type: ignore[arg-type]
        .sort("contest", "new_id", "is_vote", "field")
    )


def _breakdown(m: Model) -> set[str]:
    return m.vote_columns() - {"contest", "unit_id", "choice", "votes", "source_row"}


def _norm(name: str) -> str:
    return re.sub(r"[\s._-]+", " ", name.upper()).strip()


def _choice_renames(of: list[str], nf: list[str]) -> dict[str, str]:
    """Old choice columns to rename to the new release's spelling when they differ only in
    case or spacing (OpenElections Delaware: `CLINTON H` in release 1, `Clinton H` later)."""
    o_only = [f for f in of if f.startswith(V_PREFIX) and f not in set(nf)]
    n_only = [f for f in nf if f.startswith(V_PREFIX) and f not in set(of)]
    on: dict[str, list[str]] = {}
    nn: dict[str, list[str]] = {}
    for f in o_only:
        on.setdefault(_norm(f), []).append(f)
    for f in n_only:
        nn.setdefault(_norm(f), []).append(f)
    return {on[k][0]: nn[k][0] for k in on if len(on[k]) == 1 and len(nn.get(k, [])) == 1}
