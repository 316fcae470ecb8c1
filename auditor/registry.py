"""The check catalogue: the `@check` decorator and the registry it fills.

A check is a pure function `fn(m: Model) -> pl.LazyFrame | pl.DataFrame | CheckOutput` that
returns the violating rows. Recognised columns of the returned frame (all optional but
`unit_id` for unit-level checks): `contest`, `unit_id`, `path`, `choice`, `observed`,
`expected`, `delta`, `p_value`, `q_value`, `votes_affected`, `source_file`, `source_row`,
`key` (disambiguates several findings of one check at one place, e.g. which relation),
`severity` (overrides the default for that row), `message` (else the template is formatted
with the row's fields). The engine turns rows into `Finding`s.

A check registered with `after_findings=True` runs after all the others of the audit and may
read their findings with `earlier_findings(m)` (None when the check is called on its own, e.g.
by a test): `EarlierFindings.ran` names the checks that ran, so the check can compute what
it needs itself for the others and give the same result whatever the selection.

Codes are stable forever: a retired code is never reused.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Union

import polars as pl

if TYPE_CHECKING:
    from auditor.findings import Finding
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


# How a user gives a rule the profile lacks (`audit` has no option per rule): said by the
# not-applicable reasons of the checks that need one.
RULE_HINT = "(write it under [rules] in a profile .toml and give that with --profile)"


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
    after_findings: bool = False

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
    after_findings: bool = False,
) -> Callable[[CheckFn], CheckFn]:
    """Register a check under a stable code.

    `requires` names what the check needs: unit columns (`registered`), or the special tokens
    `votes` (a non-empty votes table), `published`, `previous` (an earlier release),
    `rule:NAME` (a profile rule such as `rule:threshold`). `applies(m)` may return a reason
    why the check does not apply, for conditions that are not a column. `after_findings`:
    the engine runs the check after the others and hands it their findings (see
    `earlier_findings`).
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
            after_findings=after_findings,
        )
        return fn

    return deco


def load_catalogue(only: Sequence[str] = (), skip: Sequence[str] = ()) -> dict[str, CheckSpec]:
    """Import the check modules a selection needs (all by default) and return the registry
    sorted by code. With a selection the registry may hold more than it asks for (modules
    imported earlier); `auditor.engine.select_checks` applies the selection itself."""
    import importlib

    from checks import modules_for

    only_l = [o.strip().upper() for o in only if o.strip()]
    skip_l = [s.strip().upper() for s in skip if s.strip()]
    for mod in modules_for(only_l, skip_l):
        importlib.import_module(f"checks.{mod}")  # importing a module registers its checks
    return dict(sorted(REGISTRY.items()))


# The key of `Model.options` under which the engine hands a post-phase check the findings
# of the checks that ran before it (a copy of the model: the caller's is left untouched).
EARLIER_FINDINGS_OPTION = "_earlier_findings"


@dataclass(frozen=True)
class EarlierFindings:
    """The findings of the checks the engine ran before the post phase of one audit.

    `ran`: the codes of those checks, whatever their status (ok, findings, not applicable,
    failed); a code not in it was not selected, and its findings are unknown, not absent.
    """

    ran: frozenset[str]
    findings: tuple[Finding, ...]


def with_earlier_findings(m: Model, earlier: EarlierFindings) -> Model:
    """A view of `m` (same frames) that carries `earlier` for the post-phase checks."""
    return replace(m, options={**m.options, EARLIER_FINDINGS_OPTION: earlier})


def earlier_findings(m: Model) -> EarlierFindings | None:
    """The findings of the checks run before this one in the same audit, or None outside an
    audit's post phase (see `check(after_findings=True)`)."""
    got = m.options.get(EARLIER_FINDINGS_OPTION)
    return got if isinstance(got, EarlierFindings) else None
