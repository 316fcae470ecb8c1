"""Profiles: how a known source maps to the canonical model and what the election's rules are.

A profile is a TOML file in this package (`auditor profiles` lists them). Sections:

- top level: `name`, `title`, `description`, `extends` (name of another built-in profile whose
  sections this one starts from: tables are merged key by key, lists and values replaced,
  and the tables `hierarchy`, `unit_type`, `rename`, `unit_counts`, `key_fill` replaced whole;
  profiles whose name starts with `_` are bases only, never picked or listed).
- `[detect]`: `headers` (regexes, case-insensitive; all must match some header for the
  profile to be picked automatically), `absent` (regexes none of which may match any header,
  to tell apart files that share most columns), `priority` (higher wins among matches).
- `[read]`: `format` (csv, xlsx, parquet, openelections, nist-json), `delimiter`, `encoding`,
  `sheet`, `skip_rows`, `thousands` (e.g. "." for German `1.413`), `decimal`, `member`
  (file inside a zip).
- `[units]`: `key` (source columns whose values form `unit_id`; none = row position, written
  `row N`), `key_fill` (table key column → column whose value stands in when the key cell is
  empty, e.g. Russia 2021's e-voting rows with no `uik` take their `oik`),
  `hierarchy` (ordered table canonical level → source column, exact or `re:`, or a list of
  columns joined by `/` when a level is named by several codes), `hierarchy_paths` (bool:
  each level's value is prefixed by its parents', so same-named TIKs or Kreis codes in two
  regions stay apart), `contest` (contest name when the file has one), `unit_type`
  (`{value=type}` for every row, `{column=…, map={value=type}, default=…}` or
  `{rules=[{column, regex, type}], default=…}`, first matching rule wins; a rule on a column
  the file lacks is skipped),
  `drop_empty` (bool, default true: rows with no number at all are rejected as `INPUT002`),
  `empty_detail` (why such rows are empty, e.g. "not yet reported", shown in the finding),
  `required` (canonical counts whose empty cell is `INPUT006`; default: every mapped count).
- `[columns]`: canonical count name → source column (exact, or `re:` regex).
- `[choices]`: `pattern` (`re:` regex; its first group, if any, is the choice name), or
  `rest = true` (every column not mapped, not a key and not in `ignore`), `ignore` list
  (exact names or `re:` regexes), `rename` table (source → display name).
- `[[contests]]`: several contests in one row: `name`, `choices` (regex with a group),
  `columns` (canonical → source for that contest), `rename`. Shared columns (`[columns]`)
  apply to all.
- `[long]`: long shapes (one row per unit × choice): `unit` (key columns), `contest`
  (columns joined into the contest name), `choice` (columns joined into the choice name),
  `votes`, `breakdown` (columns that must add up to `votes`), `extra` (columns copied into
  `votes` as they are, e.g. `party`), `unit_counts` (canonical → source column repeated on
  every row of a unit, e.g. NIST `BallotsCast`), `total_level` (column naming the level of a
  published total row).
- `[published]`: `total_rows` (`[{column=…, values=[…]}]`, `regex`, or `empty=true`; with
  `level` = the level those totals are at, e.g. "county", default "total"), rows set apart as
  published totals; `percent` (`[{column, base, decimals, choice, measure}]`) published
  percentage columns with their stated base, kept as printed (NaN/inf included).
- `[rules]`: `threshold` (fraction, 0.05), `threshold_base` (canonical count, e.g. `valid`
  or `ballots_cast`; `ballots_cast` is derived as valid + invalid when the source has no such
  column), `threshold_contest` (the contest a threshold applies to), `seats`, `method`
  (`hare`, `dhondt`, `sainte_lague`), `office` ("president" …) with `majority` (fraction)
  and `majority_base` for single-winner contests, `regional_threshold`, `against_all`
  (choice name), `extra_registered` (canonical columns added to
  `registered` for ARITH003), `turnout_base`, `z`, …; `[[rules.relations]]` identities that
  hold by law: `name`, `words` (a plain-language sentence), `lhs` and `rhs` (lists of
  canonical counts summed; the token `choices` means Σ votes of the contest), `op` (one of
  `==`, `<=`, `>=`, `<`, `>`), optional `contest`, `lhs_words`/`rhs_words`; rules of the
  exact checks (documented in `checks/arith.py`, `checks/agg.py`): `cast_column`,
  `valid_includes_against_all`, `blank_in`, `no_register_types`, `postal_counted_at_unit`,
  `over_registered_severity`, `agg_universe_share`, `agg_whole_territory`;
  `[[rules.baselines]]` (`measure`, `min`/`max`, `source`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from auditor import stash


class ProfileError(ValueError):
    """A profile that does not exist or cannot be read."""


@dataclass(frozen=True)
class Profile:
    """A parsed profile (see the module docstring for the sections)."""

    name: str
    title: str
    description: str
    detect: dict[str, Any] = field(default_factory=dict)
    read: dict[str, Any] = field(default_factory=dict)
    units: dict[str, Any] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    choices: dict[str, Any] = field(default_factory=dict)
    contests: list[dict[str, Any]] = field(default_factory=list)
    long: dict[str, Any] = field(default_factory=dict)
    published: dict[str, Any] = field(default_factory=dict)
    rules: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    def matches(self, headers: list[str]) -> bool:
        """True when every `detect.headers` regex matches at least one header."""
        pats = self.detect.get("headers", [])
        if not pats:
            return False
        for p in pats:
            rx = re.compile(p, re.IGNORECASE)
            if not any(rx.search(h) for h in headers):
                return False
        for p in self.detect.get("absent", []):
            rx = re.compile(p, re.IGNORECASE)
            if any(rx.search(h) for h in headers):
                return False
        return True


def _from_dict(doc: dict[str, Any], source: str) -> Profile:
    if "name" not in doc:
        raise ProfileError(f"profile {source} has no `name`")
    return Profile(
        name=str(doc["name"]),
        title=str(doc.get("title", doc["name"])),
        description=str(doc.get("description", "")),
        detect=dict(doc.get("detect", {})),
        read=dict(doc.get("read", {})),
        units=dict(doc.get("units", {})),
        columns={str(k): str(v) for k, v in doc.get("columns", {}).items()},
        choices=dict(doc.get("choices", {})),
        contests=list(doc.get("contests", [])),
        long=dict(doc.get("long", {})),
        published=dict(doc.get("published", {})),
        rules=dict(doc.get("rules", {})),
        source=source,
    )


# Tables whose order or whole content is the point: an extending profile replaces them.
_REPLACED = frozenset({"hierarchy", "unit_type", "rename", "unit_counts", "key_fill"})


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` laid on `base`: tables merged key by key, everything else replaced."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and k not in _REPLACED:
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _builtin_docs() -> dict[str, tuple[dict[str, Any], str]]:
    entries = sorted((e for e in resources.files(__name__).iterdir() if e.name.endswith(".toml")),
                     key=lambda e: e.name)
    texts = [(e.name, e.read_text(encoding="utf-8")) for e in entries]
    return {str(doc.get("name", name)): (doc, f"builtin:{name}")
            for (name, _), doc in zip(texts, _parsed(texts), strict=True)}


# Where `_parsed` keeps the built-in profiles as JSON (beside the package's byte code).
_PARSED_DIR = Path(__file__).parent / "__pycache__"


def _parsed(texts: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The built-in profiles' TOML texts parsed, through a JSON copy named by their hash.

    Parsing the 15 files with `tomllib` took 25 ms of every command (3 % of a whole audit of
    Russia 2018); reading the JSON copy takes 1 ms. The copy is written where Python writes
    byte code, and not at all where it cannot be (a read-only install); any change to a
    profile changes the hash, so a stale copy is never read, and older copies are removed.
    """
    digest = hashlib.sha256("\0".join(f"{n}\0{t}" for n, t in texts).encode()).hexdigest()
    path = _PARSED_DIR / f"profiles-{digest[:16]}.json"

    def whole(text: str) -> list[dict[str, Any]]:
        docs = json.loads(text)
        if not isinstance(docs, list) or len(docs) != len(texts):
            raise ValueError("not a copy of these profiles")
        return docs

    docs = stash.read(path, whole)
    if docs is not None:
        return docs
    docs = [tomllib.loads(t) for _, t in texts]
    with contextlib.suppress(TypeError, ValueError):  # a value JSON cannot hold: no copy
        stash.write(path, json.dumps(docs, ensure_ascii=False), "profiles-")
    return docs


def _resolve_extends(doc: dict[str, Any], docs: dict[str, tuple[dict[str, Any], str]],
                     source: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    parent = doc.get("extends")
    if not parent:
        return doc
    if parent in seen or parent not in docs:
        why = "a cycle" if parent in seen else "no such built-in profile"
        raise ProfileError(f"profile {source} extends {parent!r}: {why}")
    base = _resolve_extends(docs[parent][0], docs, docs[parent][1], (*seen, str(parent)))
    merged = _merge(base, {k: v for k, v in doc.items() if k != "extends"})
    merged.pop("extends", None)
    return merged


_CACHE: dict[str, Profile] = {}


def builtin_profiles(include_bases: bool = False) -> dict[str, Profile]:
    """All profiles shipped with the package, by name (bases named `_…` only on request)."""
    if not _CACHE:
        docs = _builtin_docs()
        for name, (doc, source) in docs.items():
            _CACHE[name] = _from_dict(_resolve_extends(doc, docs, source), source)
    return {k: v for k, v in _CACHE.items() if include_bases or not k.startswith("_")}


def load_profile(name_or_path: str) -> Profile:
    """A built-in profile by name, or a TOML file by path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
            return _from_dict(_resolve_extends(doc, _builtin_docs(), str(path)), str(path))
        except tomllib.TOMLDecodeError as exc:
            raise ProfileError(f"profile {path}: not valid TOML ({exc})") from exc
    profiles = builtin_profiles()
    if name_or_path in profiles:
        return profiles[name_or_path]
    known = ", ".join(sorted(profiles)) or "none"
    raise ProfileError(f"unknown profile {name_or_path!r}; built-in profiles: {known}")


def detect_profile(headers: list[str]) -> tuple[Profile | None, str]:
    """The built-in profile whose header patterns match, and why (for `inspect`)."""
    matches = [p for p in builtin_profiles().values() if p.matches(headers)]
    if not matches:
        return None, "no built-in profile matches these headers"
    matches.sort(key=lambda p: (-int(p.detect.get("priority", 0)), p.name))
    best = matches[0]
    pats = ", ".join(repr(x) for x in best.detect.get("headers", []))
    others = f" (also matched: {', '.join(p.name for p in matches[1:])})" if matches[1:] else ""
    return best, f"headers match {pats}{others}"
