"""NIST SP 1500-100 (version 2) election results JSON → a long raw table.

The document is an `ElectionReport` holding `GpUnit[]` (reporting units, nested through
`ComposingGpUnitIds`), `Party[]` and `Election[]`; each election holds `Candidate[]` and
`Contest[]` (`CandidateContest`, `BallotMeasureContest`, `PartyContest`, `RetentionContest`);
each contest holds `BallotSelection[]` whose `VoteCounts[]` give `Count` per `GpUnitId` and
count type (`total`, `election-day`, `absentee`, …), plus `SummaryCounts[]` per `GpUnitId`
(`BallotsCast`, `Overvotes`, `Undervotes`, `WriteIns`, `BallotsRejected`).

The reader flattens it to one row per (reporting unit, contest, selection): `votes` is the
`total` count (or the sum of the other types when no total is given, noted), one column per
other count type, the unit's summary counts repeated on each of its rows, and its ancestors
as hierarchy columns named by their `Type` (state, county, …). A unit whose descendants
also carry counts for the same contest is an aggregate: its rows are flagged
`is_aggregate = yes` so that the `nist` profile sets them apart as published totals at the
unit's `Type` level. `__row` is the position of the row's first `VoteCounts` record in the
document, counted from 1.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import polars as pl

from auditor.ingest.readers import ROW, InputError, RawTable, sha256_file

SUMMARY_FIELDS = {
    "BallotsCast": "ballots_cast",
    "Overvotes": "overvotes",
    "Undervotes": "undervotes",
    "WriteIns": "write_ins",
    "BallotsRejected": "ballots_rejected",
}
UNIT_FIELDS = {"VotersRegistered": "registered", "VotersParticipated": "voters"}


def _text(v: Any) -> str | None:
    """An `InternationalizedText` (`{"Text": [{"Content": …, "Language": …}]}`) or a string."""
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, dict):
        texts = v.get("Text") or []
        for t in texts:
            if isinstance(t, dict) and str(t.get("Language", "en")).startswith("en"):
                return str(t.get("Content"))
        if texts and isinstance(texts[0], dict):
            return str(texts[0].get("Content"))
        if "Content" in v:
            return str(v["Content"])
    return str(v)


def _count_type(vc: dict[str, Any]) -> str:
    t = str(vc.get("Type", "total"))
    return str(vc.get("OtherType") or "other") if t == "other" else t


def _list(obj: dict[str, Any], key: str) -> list[dict[str, Any]]:
    v = obj.get(key) or []
    return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []


def _selection_name(sel: dict[str, Any], candidates: dict[str, dict[str, Any]],
                    parties: dict[str, str]) -> tuple[str, str | None]:
    """Display name of a ballot selection and the party it stands for (if any)."""
    if sel.get("CandidateIds"):
        names, party = [], None
        for cid in sel["CandidateIds"]:
            c = candidates.get(cid, {})
            names.append(_text(c.get("BallotName")) or cid)
            party = party or parties.get(str(c.get("PartyId")))
        return " / ".join(names), party
    if sel.get("PartyIds"):
        names = [parties.get(pid, pid) for pid in sel["PartyIds"]]
        return " / ".join(names), names[0]
    if sel.get("Selection") is not None:
        return _text(sel["Selection"]) or str(sel.get("@id")), None
    return str(sel.get("@id", "?")), None


def _ancestors(gp: str, parent: dict[str, str]) -> list[str]:
    out: list[str] = []
    seen = {gp}
    while gp in parent and parent[gp] not in seen:
        gp = parent[gp]
        seen.add(gp)
        out.append(gp)
    return out[::-1]


def read_nist(path: Path) -> RawTable:
    """Read a NIST SP 1500-100 election results JSON file into a long raw string table."""
    if not path.exists():
        raise InputError(f"{path}: no such file.")
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not readable JSON ({exc}).") from exc
    if not isinstance(doc, dict) or "Election" not in doc:
        raise InputError(
            f"{path}: JSON without an `Election` list; not a NIST SP 1500-100 ElectionReport "
            "(expected keys GpUnit, Election → Contest → BallotSelection → VoteCounts)."
        )
    units = {str(g["@id"]): g for g in _list(doc, "GpUnit") if "@id" in g}
    parent: dict[str, str] = {}
    for gid, g in units.items():
        for child in g.get("ComposingGpUnitIds") or []:
            parent[str(child)] = gid
    parties = {str(p["@id"]): _text(p.get("Name")) or str(p["@id"])
               for p in _list(doc, "Party") if "@id" in p}
    notes: list[str] = []
    # (gp, contest, choice) → counts by type; first record position for `__row`.
    records: dict[tuple[str, str, str], dict[str, float]] = defaultdict(dict)
    first_pos: dict[tuple[str, str, str], int] = {}
    party_of: dict[tuple[str, str, str], str | None] = {}
    summary: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    pos = 0
    for el in _list(doc, "Election"):
        candidates = {str(c["@id"]): c for c in _list(el, "Candidate") if "@id" in c}
        for ct in _list(el, "Contest"):
            cname = str(ct.get("Name") or ct.get("@id") or "contest")
            for sel in _list(ct, "BallotSelection") + _list(ct, "ContestSelection"):
                choice, party = _selection_name(sel, candidates, parties)
                for vc in _list(sel, "VoteCounts"):
                    pos += 1
                    gp = str(vc.get("GpUnitId", ""))
                    k = (gp, cname, choice)
                    first_pos.setdefault(k, pos)
                    party_of[k] = party
                    t = _count_type(vc)
                    cnt = vc.get("Count")
                    records[k][t] = records[k].get(t, 0.0) + (
                        float(cnt) if isinstance(cnt, (int, float)) else float("nan"))
            for sc in _list(ct, "SummaryCounts"):
                if str(sc.get("Type", "total")) != "total":
                    continue
                gp = str(sc.get("GpUnitId", ""))
                for f, canon in SUMMARY_FIELDS.items():
                    if isinstance(sc.get(f), (int, float)):
                        summary[(gp, cname)][canon] = float(sc[f])
    if not records:
        raise InputError(f"{path}: the ElectionReport has no VoteCounts; nothing to audit.")
    unknown = sorted({k[0] for k in records if k[0] not in units})
    if unknown:
        notes.append(f"{len(unknown)} GpUnitIds are not declared in GpUnit[] "
                     f"(e.g. {unknown[0]!r}); they are read as top-level units")
    # A unit is an aggregate for a contest when a descendant also reports that contest.
    reported: dict[str, set[str]] = defaultdict(set)
    for gp, cname, _ in records:
        reported[cname].add(gp)
    aggregate: set[tuple[str, str]] = set()
    for cname, gps in reported.items():
        for gp in gps:
            for anc in _ancestors(gp, parent):
                if anc in gps:
                    aggregate.add((anc, cname))
    types = sorted({t for r in records.values() for t in r if t != "total"})
    depth_names: list[str] = []
    rows: list[dict[str, Any]] = []
    summed = 0
    for k in sorted(records, key=lambda x: first_pos[x]):
        gp, cname, choice = k
        counts = records[k]
        if "total" in counts:
            total = counts["total"]
        else:
            total = sum(counts.values())
            summed += 1
        g = units.get(gp, {})
        chain = _ancestors(gp, parent)
        row: dict[str, Any] = {
            "gpunit_id": gp,
            "gpunit_name": g.get("Name") or gp,
            "gpunit_type": str(g.get("OtherType") or g.get("Type") or "unit"),
            "is_aggregate": "yes" if (gp, cname) in aggregate else "no",
            "contest": cname,
            "choice": choice,
            "party": party_of.get(k),
            "votes": _num(total),
            **{t: _num(counts.get(t)) for t in types},
            **{c: _num(v) for c, v in summary.get((gp, cname), {}).items()},
            **{c: _num(g.get(f)) for f, c in UNIT_FIELDS.items() if g.get(f) is not None},
            ROW: first_pos[k],
        }
        for i, a in enumerate(chain):
            if i >= len(depth_names):
                au = units.get(a, {})
                depth_names.append(str(au.get("OtherType") or au.get("Type") or f"level_{i + 1}"))
            row[f"__anc{i}"] = units.get(a, {}).get("Name") or a
        rows.append(row)
    if summed:
        notes.append(f"{summed:,} selections had no `total` count; votes = sum of their types")
    # Hierarchy columns are named by GpUnit Type at each depth (state, county, …).
    names: list[str] = []
    for n in depth_names:
        names.append(n if n not in names else f"{n}_{len(names) + 1}")
    # An aggregate's own level column holds its own name, so that a county's published total
    # and the precincts under it name the county the same way.
    for row in rows:
        gtype = row["gpunit_type"]
        if gtype in depth_names:
            row.setdefault(f"__anc{depth_names.index(gtype)}", row["gpunit_name"])
    df = pl.DataFrame(rows, infer_schema_length=None)
    df = df.rename({f"__anc{i}": n for i, n in enumerate(names) if f"__anc{i}" in df.columns})
    df = df.with_columns(pl.all().exclude(ROW).cast(pl.String), pl.col(ROW).cast(pl.Int64))
    headers = [c for c in df.columns if c != ROW]
    raw = RawTable(path=str(path), frame=df.lazy(), headers=headers, format="nist-json",
                   sha256=sha256_file(path), encoding="utf-8",
                   notes=[f"NIST SP 1500-100 JSON: {pos:,} VoteCounts records, "
                          f"{len(units):,} GpUnits", *notes])
    raw.hierarchy = [(n, n) for n in names]
    return raw


def _num(v: Any) -> str | None:
    """A count as the text an integer would print as (so `12.0` reads like `12`)."""
    if v is None:
        return None
    f = float(v)
    if f != f or f in (float("inf"), float("-inf")):
        return str(f)
    return str(int(f)) if f.is_integer() else repr(f)
