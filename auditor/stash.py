"""Text computed once per installed version and kept beside the package's byte code.

What: `read` and `write` a file in a `__pycache__` folder of the package, named by a key
that changes whenever what the text is computed from changes (a hash, a version).
Why: some start-up work gives the same text in every process (the built-in profiles parsed
from TOML, plotly.js compressed for the report); reading a copy costs milliseconds where
computing it costs tens or hundreds. A stale copy is never read (its key differs), and a
read-only install computes the text each time, as if there were no copy.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def read(path: Path, parse: Callable[[str], T]) -> T | None:
    """`parse` of the copy at `path`; None when there is none or `parse` rejects it
    (raises ValueError)."""
    try:
        return parse(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write(path: Path, text: str, prefix: str) -> None:
    """Keep `text` at `path` for the next process, removing the older copies (`prefix*` in
    the same folder). Written under a temporary name and renamed, so that no process reads
    half a copy; nothing is written where the folder cannot be."""
    try:
        path.parent.mkdir(exist_ok=True)
        for old in path.parent.glob(f"{prefix}*"):
            if old != path:
                old.unlink(missing_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass
