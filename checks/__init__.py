"""The check catalogue: one module per family, one function per check.

Importing this package registers every check (see `auditor.registry`). Codes are stable
forever; `auditor checks` lists them and `auditor explain CODE` prints a check's docs.
"""

from checks import (  # noqa: F401  # noqa: F401  # noqa: F401
    agg,
    arith,
    arith_relations,
    input,
    pct,
    rev,
    seat,
    stat,
    stat_dist,
    stat_rank,
    turn,
)
