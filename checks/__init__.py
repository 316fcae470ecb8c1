"""The check catalogue: one module per family, one function per check.

Importing this package registers every check (see `auditor.registry`). Codes are stable
forever; `auditor checks` lists them and `auditor explain CODE` prints a check's docs.
"""

from checks import input  # noqa: F401  (registers INPUT checks)
