"""The check catalogue: the `@check` decorator and the registry it fills.

A check is a pure function `fn(m: Model) -> pl.LazyFrame | pl.DataFrame | CheckOutput` that
returns the violating rows. Recognised columns of the returned frame (all optional but
`unit_id` for unit-level checks): `contest`, `unit_id`, `path`, `choice`, `observed`,
`expected`, `delta`, `p_value`, `q_value`, `votes_affected`, `source_file`, `source_row`,
`key` (disambiguates several findings of one check at one place, e.g. which relation),
`severity` (overrides the default for that row), `message` (else the template is formatted
with the row's fields). The engine turns rows into `Finding`s.

Codes are stable forever: a retired code is never reused.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

import polars as pl

if TYPE_CHECKING:
    from auditor.model import Model

FAMILIES: dict[str, str] = {
    "INPUT": "input",
    "ARITH": "arithmetic",
    "AGG": "aggregation",
    "PCT": "percentages",
    "TURN": "turnout",
    "SEAT": "seats",
    "STAT": "statistics",
    "REV": "revisions",
}


@dataclass
class CheckOutput:
    """What a check may return besides its rows: figure data and summary numbers."""

    rows: pl.LazyFrame | pl.DataFrame
    figures: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)


CheckResult = Union[pl.LazyFrame, pl.DataFrame, CheckOutput]  # noqa: UP007
CheckFn = Callable[["Model"], CheckResult]


@dataclass(frozen=True)
class CheckSpec:
    """A registered check: metadata plus the function."""

    code: str
    name: str
    family: str
    severity: str
    certainty: str
    since: str
    requires: tuple[str, ...]
    message: str
    fn: CheckFn
    applies: Callable[[Model], str | None] | None = None
    module: str = ""

    @property
    def doc(self) -> str:
        """The check's documentation (What / Why / Example), dedented."""
        return inspect.cleandoc(self.fn.__doc__ or "")

    @property
    def family_name(self) -> str:
        """Long name of the family (e.g. `arithmetic`)."""
        return FAMILIES.get(self.family, self.family.lower())


REGISTRY: dict[str, CheckSpec] = {}
_CODE_RE = re.compile(r"^(INPUT|ARITH|AGG|PCT|TURN|SEAT|STAT|REV)\d{3}$")


def check(
    *,
    code: str,
    name: str,
    severity: str = "error",
    certainty: str = "exact",
    since: str = "0.1",
    requires: Sequence[str] = (),
    message: str = "",
    applies: Callable[[Model], str | None] | None = None,
) -> Callable[[CheckFn], CheckFn]:
    """Register a check under a stable code.

    `requires` names what the check needs: unit columns (`registered`), or the special tokens
    `votes` (a non-empty votes table), `published`, `previous` (an earlier release),
    `rule:NAME` (a profile rule such as `rule:threshold`). `applies(m)` may return a reason
    why the check does not apply, for conditions that are not a column.
    """
    m = _CODE_RE.match(code)
    if not m:
        raise ValueError(f"bad check code {code!r}")
    if severity not in ("error", "warning", "info"):
        raise ValueError(f"bad severity {severity!r}")

    def deco(fn: CheckFn) -> CheckFn:
        if code in REGISTRY and REGISTRY[code].fn.__qualname__ != fn.__qualname__:
            raise ValueError(f"check code {code} registered twice")
        REGISTRY[code] = CheckSpec(
            code=code,
            name=name,
            family=m.group(1),
            severity=severity,
            certainty=certainty,
            since=since,
            requires=tuple(requires),
            message=message,
            fn=fn,
            applies=applies,
            module=fn.__module__,
        )
        return fn

    return deco


def load_catalogue() -> dict[str, CheckSpec]:
    """Import every check module and return the registry sorted by code."""
    import checks  # noqa: F401  (importing the package registers all checks)

    return dict(sorted(REGISTRY.items()))
