"""Profiles: how a known source maps to the canonical model and what the election's rules are.

A profile is a TOML file in this package (`auditor profiles` lists them). Sections:

- top level: `name`, `title`, `description`.
- `[detect]`: `headers` (regexes, case-insensitive; all must match some header for the
  profile to be picked automatically), `priority` (higher wins among matches).
- `[read]`: `format` (csv, xlsx, parquet, openelections, nist-json), `delimiter`, `encoding`,
  `sheet`, `skip_rows`, `thousands` (e.g. "." for German `1.413`), `decimal`, `member`
  (file inside a zip).
- `[units]`: `key` (source columns whose values form `unit_id`; none = row position),
  `hierarchy` (ordered table canonical level → source column), `contest` (contest name when
  the file has one), `unit_type` (`{column=…, map={value=type}}` or `{rules=[{column, regex,
  type}]}`), `drop_empty` (bool, default true: rows with no number at all are rejected as
  `INPUT002`).
- `[columns]`: canonical count name → source column (exact, or `re:` regex).
- `[choices]`: `pattern` (`re:` regex; its first group, if any, is the choice name), or
  `rest = true` (every column not mapped, not a key and not in `ignore`), `ignore` list,
  `rename` table (source → display name).
- `[[contests]]`: several contests in one row: `name`, `choices` (regex with a group),
  `columns` (canonical → source for that contest). Shared columns (`[columns]`) apply to all.
- `[long]`: long shapes (one row per unit × choice): `unit` (key columns), `contest`
  (columns joined into the contest name), `choice` (columns joined into the choice name),
  `votes`, `breakdown` (columns that must add up to `votes`).
- `[published]`: `total_rows` (`[{column=…, values=[…]}]` or `regex`), rows set apart as
  published totals; `percent` (`[{column, base, decimals, choice}]`) published percentage
  columns with their stated base.
- `[rules]`: `threshold`, `threshold_base`, `seats`, `method`, `against_all` (choice name),
  `extra_registered` (canonical columns added to `registered` for ARITH003),
  `turnout_base`, `z`, …; `[[rules.relations]]` (`name`, `lhs`, `op`, `rhs`, `words`);
  `[[rules.baselines]]` (`measure`, `min`/`max`, `source`).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any


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


def builtin_profiles() -> dict[str, Profile]:
    """All profiles shipped with the package, by name."""
    out: dict[str, Profile] = {}
    for entry in sorted(resources.files(__name__).iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            doc = tomllib.loads(entry.read_text(encoding="utf-8"))
            p = _from_dict(doc, f"builtin:{entry.name}")
            out[p.name] = p
    return out


def load_profile(name_or_path: str) -> Profile:
    """A built-in profile by name, or a TOML file by path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        try:
            return _from_dict(tomllib.loads(path.read_text(encoding="utf-8")), str(path))
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
