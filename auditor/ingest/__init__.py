"""Ingest: any supported input file into the canonical model, every row accounted for.

`load(paths, …)` reads each file (CSV, CSV in zip/gz, XLSX, Parquet, OpenElections long,
NIST SP 1500-100 JSON), picks or applies a profile, maps the columns, builds the canonical
frames and records how each input's rows were accounted for (read = model + published +
rejected).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl

from auditor.findings import InputInfo
from auditor.ingest.build import Parts, build, count_headers, numeric_headers
from auditor.ingest.mapping import Mapping, resolve
from auditor.ingest.published import (
    PUBLISHED_HOW,
    build_published,
    is_published_table,
    with_sidecars,
)
from auditor.ingest.readers import (
    InputError,
    RawTable,
    check_input_path,
    detect_format,
    normalise_delimiter,
    read_table,
    reading,
)
from auditor.model import ISSUE_SCHEMA, Model, empty_issues
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
    # Before anything opens the path: a folder would otherwise crash `detect_format`.
    check_input_path(path)
    opts = replace(opts, delimiter=normalise_delimiter(opts.delimiter))
    prof: Profile | None = load_profile(opts.profile) if opts.profile else None
    fmt = detect_format(path)
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
    _note_sheet(raw, path, opts)
    if prof is not None:
        return raw, prof, "given with --profile"
    found, why = detect_profile(raw.headers)
    if found is not None and (found.read.get("skip_rows") or found.read.get("sheet")):
        raw = read_table(path, encoding=opts.encoding or found.read.get("encoding"),
                         delimiter=opts.delimiter or found.read.get("delimiter"),
                         sheet=opts.sheet or found.read.get("sheet"),
                         member=opts.member or found.read.get("member"),
                         skip_rows=int(found.read.get("skip_rows", 0)))
        _note_sheet(raw, path, opts)
    return raw, found, why


def _shown(headers: list[str]) -> str:
    """Header names for a one-paragraph message: each on one line, cut at 60 characters."""
    out = []
    for h in headers:
        h = " ".join(h.split())
        out.append(h if len(h) <= 60 else h[:60] + " …")
    return ", ".join(out)


def _note_sheet(raw: RawTable, path: Path, opts: LoadOptions) -> None:
    """`--sheet` on a file that has no sheets is ignored, and the input's notes say so."""
    if opts.sheet is not None and raw.format != "xlsx":
        raw.notes.append(f"--sheet {opts.sheet} ignored: {path.name} is not an Excel workbook")


def load_one(path: Path, opts: LoadOptions, file_idx: int = 0) -> Loaded:
    """Read, map and build one input."""
    raw, prof, why = read_raw(path, opts)
    if is_published_table(raw.headers):  # what a portal printed (auditor/ingest/published.py)
        with reading(raw.path, raw.source):  # small tables, built lazily over it: read once here
            raw.frame = raw.frame.collect().lazy()
        return _load_published(raw, path, file_idx)
    with reading(raw.path, raw.source):  # the samples below are the first reads of a scanned CSV
        nums = None if prof is not None else numeric_headers(raw)
        ints = None if prof is not None else count_headers(raw)
    mp = resolve(raw.headers, prof, list(opts.overrides), str(path), nums, ints)
    if not mp.hierarchy and raw.hierarchy:
        # The format itself knows the hierarchy (NIST GpUnit nesting).
        mp.hierarchy = list(raw.hierarchy)
        mp.unmapped = [h for h in mp.unmapped if h not in {src for _, src in raw.hierarchy}]
    if not mp.long and not any(c.choices for c in mp.contests) and not mp.counts:
        hint = (" A header cell holding a line break usually means a quote in row 1 that "
                "does not close." if any("\n" in h for h in raw.headers) else "")
        raise InputError(
            f"{path}: no column could be read as counts (registered voters, ballots, votes "
            f"per choice). Columns seen: {_shown(raw.headers[:30])}. Choose a profile with "
            f"--profile or map columns with --map canonical=source.{hint}"
        )
    with reading(raw.path, raw.source):
        number_notes = _guess_number_format(raw, mp) if prof is None else []
        if mp.long:  # the long builder stays lazy over the raw table: read it once here
            raw.frame = raw.frame.collect().lazy()
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
        notes=tuple(raw.notes + number_notes + parts.notes),
    )
    if c["rows_read"] == 0:
        raise InputError(f"{path}: the table has a header but no data rows.")
    return Loaded(raw, prof, why, mp, parts, info)


_DOTTED_RX = r"^-?\d{1,3}(\.\d{3})+$"
_SHORT_RX = r"^-?\d{1,3}$"


def _guess_number_format(raw: RawTable, mp: Mapping, sample_rows: int = 2000) -> list[str]:
    """German-style numbers in a file without a profile: `.` groups thousands, `,` decimals.

    Read as English, `1.413` would be a fraction (INPUT004) and `3.000` would quietly become 3.
    A `;`-delimited file is taken as German (the delimiter Excel writes where `,` is the
    decimal mark); any other file only when a mapped count column's sample is made of
    `1.413`-shaped and short whole numbers, with at least one dotted. Sets `mp.thousands`
    (and `mp.decimal`) and returns the note for the input.
    """
    if mp.thousands is not None or mp.long:
        return []
    if raw.delimiter == ";":
        mp.thousands, mp.decimal = ".", ","
        return ["no profile and ';' delimiter: '.' was read as the thousands separator and ',' "
                "as the decimal comma (German style)"]
    cols = list(mp.counts.values()) + [s for c in mp.contests for s in c.choices.values()]
    cols += [s for c in mp.contests for s in c.counts.values()]
    if not cols:
        return []
    df = raw.frame.select([pl.col(c) for c in dict.fromkeys(cols)]).head(sample_rows).collect()
    for col in df.columns:
        v = df[col].cast(pl.String).str.strip_chars()
        v = v.filter(v.is_not_null() & (v != ""))
        dotted = v.str.contains(_DOTTED_RX)
        if dotted.any() and (dotted | v.str.contains(_SHORT_RX)).all():
            mp.thousands = "."
            return [f"no profile: column {col!r} holds only numbers like "
                    f"{v.filter(dotted)[0]!r}, so '.' was read as the thousands separator"]
    return []


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
        sums, wide = p.choice_sums, p.wide_votes
    else:
        _mark_cross_file_duplicates(loaded)
        units = pl.concat([x.parts.units for x in loaded], how="diagonal_relaxed")
        votes = pl.concat([x.parts.votes for x in loaded], how="diagonal_relaxed")
        published = pl.concat([x.parts.published for x in loaded], how="diagonal_relaxed")
        issues = pl.concat([x.parts.issues for x in loaded], how="diagonal_relaxed")
        sums = wide = None  # keyed by source row, which several inputs share
    m = Model(
        units=units,
        votes=votes,
        published=published,
        issues=issues if issues is not None else empty_issues(),
        hierarchy=hier,
        inputs=[x.info for x in loaded],
        profile=profile,
        label=label or Path(paths[0]).name,
        choice_sums=sums,
        wide_votes=wide,
    )
    return m


def _mark_cross_file_duplicates(loaded: list[Loaded]) -> None:
    """Units whose (contest, key) already came from an earlier input: INPUT003, kept apart.

    Two inputs holding the same units (`audit x.csv x.csv`, or a release passed twice by a
    mistyped `--previous A B`) would otherwise be merged under one id and every vote counted
    twice. Each later copy stays in the model under `ID#fN` (N = the input's position), like
    a duplicated key inside one file, and is reported. Published-figures tables and keyless
    inputs (ids are row positions) take no part; a second file of other contests (single-
    member districts beside the party list) shares no (contest, key) and is untouched.
    """
    seen: pl.DataFrame | None = None
    counts: list[tuple[int, pl.DataFrame]] = []
    for i, x in enumerate(loaded):
        if x.mapping.how == PUBLISHED_HOW or not x.mapping.key:
            continue
        keys = x.parts.units.select("contest", "unit_id").unique().collect()
        if seen is not None and keys.height:
            dup = keys.join(seen, on=["contest", "unit_id"], how="semi")
            if dup.height:
                counts.append((i, dup))
        seen = keys if seen is None else pl.concat([seen, keys]).unique()
    for idx, dup in counts:
        x = loaded[idx]
        n_copies = _copies(loaded, dup)
        ids = dup.with_columns(pl.lit(True).alias("__dup"))
        suffix = f"#f{idx + 1}"

        def renamed(lf: pl.LazyFrame, ids: pl.DataFrame = ids, suffix: str = suffix) -> pl.LazyFrame:
            return (
                lf.join(ids.lazy(), on=["contest", "unit_id"], how="left")
                .with_columns(
                    pl.when(pl.col("__dup")).then(pl.col("unit_id") + suffix)
                    .otherwise(pl.col("unit_id")).alias("unit_id")
                )
                .drop("__dup")
            )

        p = x.parts
        dup_units = (
            p.units.join(ids.lazy(), on=["contest", "unit_id"], how="semi")
            .select("contest", "unit_id", "source_row").collect()
            .join(n_copies, on=["contest", "unit_id"], how="left")
        )
        p.units = renamed(p.units)
        p.votes = renamed(p.votes)
        p.published = renamed(p.published)
        new_issues = pl.DataFrame({
            "code": ["INPUT003"] * dup_units.height,
            "source_file": [idx] * dup_units.height,
            "source_row": dup_units["source_row"],
            "column": [", ".join(x.mapping.key)] * dup_units.height,
            "value": dup_units["unit_id"],
            "unit_id": dup_units["unit_id"] + suffix,
            "contest": dup_units["contest"],
            "rejected": [False] * dup_units.height,
            "detail": dup_units["copies"].cast(pl.String),
        }).select(list(ISSUE_SCHEMA)).cast(ISSUE_SCHEMA)
        p.issues = pl.concat([p.issues.select(list(ISSUE_SCHEMA)).cast(ISSUE_SCHEMA),
                              new_issues.lazy()])
        x.info = replace(x.info, notes=(
            *x.info.notes,
            f"{dup_units.height:,} units repeat a key of an earlier input (INPUT003); they are "
            f"audited apart as ID{suffix}"))


def _copies(loaded: list[Loaded], dup: pl.DataFrame) -> pl.DataFrame:
    """How many keyed results inputs hold each duplicated (contest, unit_id)."""
    frames = [
        x.parts.units.select("contest", "unit_id").join(dup.lazy(), on=["contest", "unit_id"],
                                                         how="semi")
        for x in loaded if x.mapping.how != PUBLISHED_HOW and x.mapping.key
    ]
    return pl.concat(frames).group_by("contest", "unit_id").len("copies").collect()
