"""The check catalogue: one module per family, one function per check.

Importing a module registers its checks (see `auditor.registry`); `auditor.registry.
load_catalogue` imports the modules a selection needs (`--skip STAT` leaves the statistical
modules, and numpy with them, unimported: ~0.2 s of every exact-only run). Codes are stable
forever; `auditor checks` lists them and `auditor explain CODE` prints a check's docs.
"""

from __future__ import annotations

# module → the families whose checks it registers (a module may only register these)
MODULES: dict[str, tuple[str, ...]] = {
    "input": ("INPUT",),
    "arith": ("ARITH",),
    "arith_relations": ("ARITH",),
    "agg": ("AGG",),
    "pct": ("PCT",),
    "turn": ("TURN",),
    "seat": ("SEAT",),
    "rev": ("REV",),
    "stat": ("STAT",),
    "stat_dist": ("STAT",),
    "stat_rank": ("STAT",),
}


def modules_for(only: list[str], skip: list[str]) -> list[str]:
    """The check modules a selection (`--only`/`--skip` codes or family prefixes) needs.

    Example: modules_for([], ["STAT"]) names every module but the three statistical ones.
    """
    out = []
    for mod, fams in MODULES.items():
        if only and not any(f.startswith(o) or o.startswith(f) for o in only for f in fams):
            continue
        if all(any(f.startswith(s) for s in skip) for f in fams):
            continue
        out.append(mod)
    return out
