"""Ingest: any supported input file into the canonical model, every row accounted for.

`load(paths, …)` reads each file (CSV, CSV in zip/gz, XLSX, Parquet, OpenElections long,
NIST SP 1500-100 JSON), picks or applies a profile, maps the columns, builds the canonical
frames and records how each input's rows were accounted for (read = model + published +
rejected).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from auditor.findings import InputInfo
from auditor.ingest.build import Parts, build, numeric_headers
from auditor.ingest.mapping import Mapping, resolve
from auditor.ingest.published import (
    PUBLISHED_HOW,
    build_published,
    is_published_table,
    with_sidecars,
)
from auditor.ingest.readers import InputError, RawTable, detect_format, read_table
from auditor.model import Model, empty_issues
from auditor.profiles import Profile, detect_profile, load_profile

__all__ = ["InputError", "LoadOptions", "Loaded", "load", "load_one", "read_raw"]


@dataclass(frozen=True)
class LoadOptions:
    """What the user said about how to read the inputs (all optional)."""

    profile: str | None = None
    overrides: tuple[str, ...] = ()
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    member: str | None = None


@dataclass
class Loaded:
    """One input read and mapped: the raw table, the profile, the mapping and the parts."""

    raw: RawTable
    profile: Profile | None
    profile_reason: str
    mapping: Mapping
    parts: Parts
    info: InputInfo


def read_raw(path: Path, opts: LoadOptions) -> tuple[RawTable, Profile | None, str]:
    """Read a file as strings, using the profile's read settings when one is given or found."""
    prof: Profile | None = load_profile(opts.profile) if opts.profile else None
    fmt = detect_format(path) if path.exists() else "csv"
    if fmt == "json" or (prof is not None and prof.read.get("format") == "nist-json"):
        from auditor.ingest.nist import read_nist

        raw = read_nist(path)
        if prof is None:
            prof = load_profile("nist")
        return raw, prof, "NIST SP 1500-100 JSON"
    r = prof.read if prof else {}
    raw = read_table(
        path,
        encoding=opts.encoding or r.get("encoding"),
        delimiter=opts.delimiter or r.get("delimiter"),
        sheet=opts.sheet or r.get("sheet"),
        member=opts.member or r.get("member"),
        skip_rows=int(r.get("skip_rows", 0)),
    )
    if prof is not None:
        return raw, prof, "given with --profile"
    found, why = detect_profile(raw.headers)
    if found is not None and (found.read.get("skip_rows") or found.read.get("sheet")):
        raw = read_table(path, encoding=opts.encoding or found.read.get("encoding"),
                         delimiter=opts.delimiter or found.read.get("delimiter"),
                         sheet=opts.sheet or found.read.get("sheet"),
                         member=opts.member or found.read.get("member"),
                         skip_rows=int(found.read.get("skip_rows", 0)))
    return raw, found, why


def load_one(path: Path, opts: LoadOptions, file_idx: int = 0) -> Loaded:
    """Read, map and build one input."""
    raw, prof, why = read_raw(path, opts)
    if is_published_table(raw.headers):  # what a portal printed (auditor/ingest/published.py)
        return _load_published(raw, path, file_idx)
    nums = None if prof is not None else numeric_headers(raw)
    mp = resolve(raw.headers, prof, list(opts.overrides), str(path), nums)
    if not mp.hierarchy and raw.hierarchy:
        # The format itself knows the hierarchy (NIST GpUnit nesting).
        mp.hierarchy = list(raw.hierarchy)
        mp.unmapped = [h for h in mp.unmapped if h not in {src for _, src in raw.hierarchy}]
    if not mp.long and not any(c.choices for c in mp.contests) and not mp.counts:
        raise InputError(
            f"{path}: no column could be read as counts (registered voters, ballots, votes "
            f"per choice). Columns seen: {', '.join(raw.headers[:30])}. Choose a profile with "
            "--profile or map columns with --map canonical=source."
        )
    parts = build(raw, mp, file_idx)
    c = parts.counters
    info = InputInfo(
        path=str(path),
        sha256=raw.sha256,
        format=raw.format if not mp.long else f"{raw.format} (long)",
        encoding=raw.encoding,
        rows_read=c["rows_read"],
        rows_in_model=c["rows_in_model"],
        rows_published=c["rows_published"],
        rows_rejected=c["rows_rejected"],
        profile=prof.name if prof else None,
        sheet=raw.sheet,
        delimiter=raw.delimiter,
        mapping=mp.flat(),
        notes=tuple(raw.notes + parts.notes),
    )
    if c["rows_read"] == 0:
        raise InputError(f"{path}: the table has a header but no data rows.")
    return Loaded(raw, prof, why, mp, parts, info)


def _load_published(raw: RawTable, path: Path, file_idx: int) -> Loaded:
    """A published-figures table: every row goes to `published` (or is rejected)."""
    parts = build_published(raw, file_idx)
    c = parts.counters
    info = InputInfo(
        path=str(path), sha256=raw.sha256, format=f"{raw.format} (published figures)",
        encoding=raw.encoding, rows_read=c["rows_read"], rows_in_model=c["rows_in_model"],
        rows_published=c["rows_published"], rows_rejected=c["rows_rejected"],
        delimiter=raw.delimiter, notes=tuple(raw.notes + parts.notes),
    )
    return Loaded(raw, None, PUBLISHED_HOW, Mapping([], [], {}, [], how=PUBLISHED_HOW), parts,
                  info)


def load(paths: list[Path], opts: LoadOptions | None = None, label: str | None = None) -> Model:
    """Load one or more inputs of the same election into one model."""
    opts = opts or LoadOptions()
    paths = with_sidecars(list(paths))
    loaded = [load_one(p, opts, i) for i, p in enumerate(paths)]
    # A published-figures table has no profile or hierarchy: take them from the results file.
    main = next((x for x in loaded if x.mapping.how != PUBLISHED_HOW), loaded[0])
    profile = main.profile
    hier = main.parts.hierarchy
    if len(loaded) == 1:
        p = loaded[0].parts
        units, votes, published, issues = p.units, p.votes, p.published, p.issues
    else:
        units = pl.concat([x.parts.units for x in loaded], how="diagonal_relaxed")
        votes = pl.concat([x.parts.votes for x in loaded], how="diagonal_relaxed")
        published = pl.concat([x.parts.published for x in loaded], how="diagonal_relaxed")
        issues = pl.concat([x.parts.issues for x in loaded], how="diagonal_relaxed")
    m = Model(
        units=units,
        votes=votes,
        published=published,
        issues=issues if issues is not None else empty_issues(),
        hierarchy=hier,
        inputs=[x.info for x in loaded],
        profile=profile,
        label=label or Path(paths[0]).name,
    )
    return m
