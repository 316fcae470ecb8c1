"""Column mapping: from a file's headers to canonical names, by profile, by hand or by synonyms.

`resolve()` returns a `Mapping` saying which source column feeds each canonical count, which
columns are choices (per contest), which form the unit key and the hierarchy, which rows are
published totals and which columns are published percentages. `inspect` shows it, including
what was left unmapped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from auditor.ingest.readers import ROW, InputError
from auditor.model import COUNT_COLUMNS
from auditor.profiles import Profile

# Synonyms for files without a profile (lower-case, matched as whole words or prefixes).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "registered": (
        "registered", "registered voters", "electorate", "eligible", "eligible voters",
        "voters registered", "число избирателей", "избирателей в списке", "wahlberechtigte",
        "зарегистрировано", "registered_voters",
    ),
    "ballots_received": ("ballots received", "ballots_received", "получено бюллетеней"),
    "ballots_issued": ("ballots issued", "ballots_issued", "выдано бюллетеней"),
    "voters": ("voters", "voted", "wähler", "wählende", "wähler(innen)", "проголосовало"),
    "ballots_cast": (
        "ballots cast", "ballots_cast", "total votes cast", "votes cast", "total ballots",
        "total votes", "бюллетеней в ящиках", "turnout_votes",
    ),
    "valid": ("valid", "valid votes", "valid ballots", "valid_votes", "gültige", "gültig",
              "действительных", "действительные"),
    "invalid": ("invalid", "invalid votes", "invalid ballots", "spoiled", "spoilt",
                "spoiled ballots", "spoilt ballots", "rejected", "rejected ballots",
                "blank or spoilt", "blank or spoiled", "null", "nuls", "invalid_votes",
                "ungültige", "ungültig", "недействительных", "недействительные"),
    "blank": ("blank", "blank votes", "blank ballots", "пустые"),
    "against_all": ("against all", "against_all", "против всех", "баарына каршы"),
}
KEY_SYNONYMS = (
    "unit_id", "unit", "station", "polling station", "polling_station", "precinct", "uik", "уик",
    "wahlbezirk", "ward", "station_id", "precinct_id", "pec", "участок",
)
LEVEL_SYNONYMS = (
    "region", "state", "oblast", "province", "county", "district", "constituency", "tik", "тик",
    "регион", "land", "kreis", "gemeinde", "municipality", "okrug", "oik",
)
IGNORE_SYNONYMS = ("url", "link", "note", "notes", "comment", "name", "code")
# Columns that state a percentage or a total are published figures, never choices: a column
# named `form2_percent` read as a party would add a percentage to the votes.
PERCENT_RX = re.compile(r"(percent|pct|%|процент|prozent|anteil)|(^|[_ ])(share|rate)$", re.IGNORECASE)
TOTAL_SYNONYMS = ("total", "totals", "sum", "итого", "всего", "summe", "insgesamt")


@dataclass
class ContestMap:
    """One contest's columns: its own counts (canonical → source) and its choices."""

    name: str
    counts: dict[str, str]
    choices: dict[str, str]  # display name → source column


@dataclass
class Mapping:
    """How a file's columns map to the canonical model."""

    key: list[str]
    hierarchy: list[tuple[str, str]]
    counts: dict[str, str]
    contests: list[ContestMap]
    total_rows: list[dict[str, Any]] = field(default_factory=list)
    percents: list[dict[str, Any]] = field(default_factory=list)
    unit_type: dict[str, Any] = field(default_factory=dict)
    unmapped: list[str] = field(default_factory=list)
    long: dict[str, Any] = field(default_factory=dict)
    drop_empty: bool = True
    hier_cols: dict[str, list[str]] = field(default_factory=dict)
    hierarchy_paths: bool = False
    key_fill: dict[str, str] = field(default_factory=dict)
    required: list[str] | None = None
    empty_detail: str | None = None
    thousands: str | None = None
    decimal: str | None = None
    how: str = "auto"

    def as_dict(self) -> dict[str, Any]:
        """The mapping for `inspect --json` and `findings.json` (canonical → source)."""
        d: dict[str, Any] = {
            "how": self.how,
            "key": self.key,
            "hierarchy": {lvl: src for lvl, src in self.hierarchy},
            "counts": dict(self.counts),
            "contests": [
                {"name": c.name, "counts": c.counts, "choices": c.choices} for c in self.contests
            ],
            "unmapped": self.unmapped,
        }
        if self.total_rows:
            d["total_rows"] = self.total_rows
        if self.percents:
            d["percents"] = self.percents
        if self.long:
            d["long"] = self.long
        return d

    def flat(self) -> dict[str, str]:
        """canonical → source for the findings' `inputs[].mapping`."""
        out = {f"key{i + 1}": k for i, k in enumerate(self.key)}
        out.update({f"level:{lvl}": src for lvl, src in self.hierarchy})
        out.update(self.counts)
        for c in self.contests:
            out.update({f"{c.name}:{k}": v for k, v in c.counts.items()})
        return out


def _find(spec: str, headers: list[str], used: set[str] | None = None) -> str | None:
    """A header named exactly, or the first header matching a `re:` pattern."""
    if spec.startswith("re:"):
        rx = re.compile(spec[3:], re.IGNORECASE)
        for h in headers:
            if rx.search(h) and (used is None or h not in used):
                return h
        return None
    return spec if spec in headers else None


def _norm(h: str) -> str:
    return re.sub(r"[\s_]+", " ", h.strip().lower())


def _synonym(headers: list[str], names: tuple[str, ...], used: set[str]) -> str | None:
    for h in headers:
        if h in used:
            continue
        n = _norm(h)
        if any(n == s or n.startswith(s + " ") or n.startswith(s + ",") for s in names):
            return h
    return None


def _parse_overrides(overrides: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for o in overrides:
        if "=" not in o:
            raise InputError(f"--map {o!r}: expected canonical=source, e.g. registered=Electorate")
        k, v = o.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _ignored(specs: list[str] | set[str], headers: list[str]) -> set[str]:
    """Headers named by an `ignore` list (exact names or `re:` regexes)."""
    out: set[str] = set()
    for spec in specs:
        if spec.startswith("re:"):
            rx = re.compile(spec[3:], re.IGNORECASE)
            out |= {h for h in headers if rx.search(h)}
        elif spec in headers:
            out.add(spec)
    return out


def _choice_columns(spec: dict[str, Any], headers: list[str], taken: set[str]) -> dict[str, str]:
    rename: dict[str, str] = spec.get("rename", {})
    ignore = _ignored(spec.get("ignore", []), headers)
    out: dict[str, str] = {}
    pat = spec.get("pattern")
    if pat:
        rx = re.compile(pat[3:] if pat.startswith("re:") else pat)
        for h in headers:
            if h in taken or h in ignore:
                continue
            mt = rx.search(h)
            if mt and h != ROW:
                name = mt.group(1) if mt.groups() else h
                out[rename.get(h, name.strip())] = h
    elif spec.get("columns"):
        for h in spec["columns"]:
            if h in headers:
                out[rename.get(h, h)] = h
    elif spec.get("rest", True):
        for h in headers:
            if h not in taken and h not in ignore and h != ROW:
                out[rename.get(h, h)] = h
    return out


def resolve(headers: list[str], profile: Profile | None, overrides: list[str],
            path: str, numeric_headers: set[str] | None = None,
            count_headers: set[str] | None = None) -> Mapping:
    """Map headers to the canonical model using the profile, `--map` options and synonyms.

    `count_headers` (whole numbers, some above 100) decides whether a `turnout` column is
    a count of ballots cast; a turnout rate or percentage is left unmapped, never a choice.
    """
    ov = _parse_overrides(overrides)
    used: set[str] = set()
    p = profile
    counts: dict[str, str] = {}
    key: list[str] = []
    hierarchy: list[tuple[str, str]] = []
    how = f"profile {p.name}" if p else "auto-detected by synonyms"

    units = p.units if p else {}
    for k in units.get("key", []):
        h = _find(k, headers)
        if h is None:
            raise InputError(f"{path}: the profile's unit key column {k!r} is not in the header.")
        key.append(h)
    hier_cols: dict[str, list[str]] = {}
    for lvl, src in units.get("hierarchy", {}).items():
        if isinstance(src, list):
            # A level named by several code columns (German Kreis = Reg.-Bezirk + Kreis).
            found = [h for h in (_find(x, headers) for x in src) if h is not None]
            if found:
                hierarchy.append((lvl, found[-1]))
                hier_cols[lvl] = found
            continue
        h = _find(src, headers)
        if h is not None:
            hierarchy.append((lvl, h))
    for canon, src in (p.columns if p else {}).items():
        h = _find(src, headers, used)
        if h is not None:
            counts[canon] = h
            used.add(h)
    if p is None:
        for canon, names in SYNONYMS.items():
            # A header named like a count is mapped even when its cells are not numbers, so
            # that a column of text under `registered` is reported, not silently skipped.
            h = _synonym(headers, names, used)
            if h is not None:
                counts[canon] = h
                used.add(h)
        th = _synonym(headers, ("turnout",), used)
        if th is not None and "ballots_cast" not in counts and th in (count_headers or set()):
            counts["ballots_cast"] = th
            used.add(th)
        kh = _synonym(headers, KEY_SYNONYMS, used)
        levels = [h for h in headers if _norm(h) in LEVEL_SYNONYMS and h not in used]
        for h in levels:
            hierarchy.append((_norm(h).replace(" ", "_"), h))
        key = [h for _, h in hierarchy] + ([kh] if kh else [])
    # --map overrides everything: canonical=source, or key=a,b / level:region=col / choice:X=col
    for canon, src in ov.items():
        if src not in headers:
            raise InputError(
                f"{path}: --map {canon}={src}: there is no column {src!r}; the columns are: "
                + ", ".join(headers[:40])
            )
        if canon == "key":
            key = [s for s in src.split(",") if s]
        elif canon.startswith("level:"):
            hierarchy = [(lvl, h) for lvl, h in hierarchy if lvl != canon[6:]]
            hierarchy.append((canon[6:], src))
        elif canon in COUNT_COLUMNS:
            counts = {k: v for k, v in counts.items() if v != src}
            counts[canon] = src
        else:
            raise InputError(
                f"--map {canon}={src}: {canon!r} is not a canonical name; use one of "
                + ", ".join(COUNT_COLUMNS) + ", key, level:NAME"
            )
    used = set(counts.values()) | set(key) | {h for _, h in hierarchy}
    used |= {h for cols in hier_cols.values() for h in cols}

    long = dict(p.long) if p and p.long else {}
    contests: list[ContestMap] = []
    ignore = _ignored((p.choices if p else {}).get("ignore", []), headers)
    percents = [dict(x) for x in (p.published.get("percent", []) if p else [])]
    if p is None:
        ignore |= {h for h in headers if _norm(h) in IGNORE_SYNONYMS}
        ignore |= {h for h in headers if _norm(h) in TOTAL_SYNONYMS}
        # A turnout rate that is not a count of ballots is no party.
        ignore |= {h for h in headers if _norm(h).startswith("turnout") and h not in used}
        for h in headers:
            if h not in used and PERCENT_RX.search(h):
                percents.append({"column": h, "base": None, "measure": "percent"})
        if numeric_headers is not None:
            ignore |= {h for h in headers if h not in numeric_headers}
    for pc in percents:
        used.add(pc["column"])
    unit_type = dict(units.get("unit_type", {}))
    if unit_type.get("column"):
        col = _find(str(unit_type["column"]), headers)
        if col is None:
            unit_type.pop("column")
        else:
            unit_type["column"] = col
            used.add(col)
    rules = []
    for r in unit_type.get("rules", []):
        col = _find(str(r["column"]), headers)
        if col is not None:  # a rule on a column this file lacks cannot match
            rules.append({**r, "column": col})
            used.add(col)
    unit_type["rules"] = rules
    if not long:
        if p and p.contests:
            for c in p.contests:
                cc = {}
                for canon, src in c.get("columns", {}).items():
                    h = _find(src, headers, used)
                    if h is not None:
                        cc[canon] = h
                        used.add(h)
                spec = {"pattern": c["choices"], "rename": c.get("rename", {}),
                        "ignore": sorted(ignore | _ignored(c.get("ignore", []), headers))}
                contests.append(ContestMap(str(c["name"]), cc, _choice_columns(spec, headers, used)))
        else:
            spec = dict(p.choices) if p else {"rest": True}
            spec["ignore"] = sorted(ignore)
            name = str(units.get("contest", "all"))
            contests.append(ContestMap(name, {}, _choice_columns(spec, headers, used)))
    taken = used | {src for c in contests for src in c.choices.values()}
    taken |= {src for c in contests for src in c.counts.values()}
    taken |= {v for v in long.values() if isinstance(v, str)}
    taken |= {x for v in long.values() if isinstance(v, list) for x in v}
    taken |= {x for v in long.values() if isinstance(v, dict) for x in v.values()}
    taken |= {r["column"] for r in (p.published if p else {}).get("total_rows", [])}
    if long and not key:
        key = [c for c in long.get("unit", []) if c in headers]
    unmapped = [h for h in headers if h not in taken]
    pub = p.published if p else {}
    read = p.read if p else {}
    return Mapping(
        key=key,
        hierarchy=hierarchy,
        counts=counts,
        contests=contests,
        total_rows=list(pub.get("total_rows", [])),
        percents=percents,
        unit_type=unit_type,
        unmapped=unmapped,
        long=long,
        drop_empty=bool(units.get("drop_empty", True)),
        hier_cols=hier_cols,
        hierarchy_paths=bool(units.get("hierarchy_paths", False)),
        key_fill={h: f for h, f in ((_find(str(k), headers), _find(str(v), headers))
                                    for k, v in units.get("key_fill", {}).items())
                  if h is not None and f is not None},
        required=list(units["required"]) if "required" in units else None,
        empty_detail=units.get("empty_detail"),
        thousands=read.get("thousands"),
        decimal=read.get("decimal"),
        how=how,
    )
