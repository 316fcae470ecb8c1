"""Read the inputs of `auditor audit` in a background thread while Python imports polars.

Importing polars and the checks takes ~0.2 s of a ~1 s audit of 100k stations and keeps one
core busy; the readers' first steps (the SHA-256 of each file, the decompressed member of a
zip) need no polars and release the GIL, so the CLI starts them here on the other core first.
The readers take what is ready (`sha256`, `zip_member`) and do the work themselves for
anything else: a file changed since (size or mtime), another zip member, a failure here.
Standard library only: importing this module must not import polars.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

# Key of a file: its resolved path, size and modification time (a changed file is read anew).
_Key = tuple[str, int, int]

_lock = threading.Lock()
_pending: dict[_Key, threading.Event] = {}
_sha: dict[_Key, str] = {}
_members: dict[_Key, tuple[str, bytes]] = {}


def _key(path: Path) -> _Key | None:
    try:
        st = path.stat()
        return (str(path.resolve()), st.st_size, st.st_mtime_ns)
    except (OSError, ValueError):
        return None


def _largest_table_member(path: Path) -> tuple[str, bytes] | None:
    """The member `readers.read_zip` takes without `member`: the largest .csv/.txt."""
    import zipfile

    with zipfile.ZipFile(path) as zf:
        cands = [i for i in zf.infolist()
                 if not i.is_dir() and i.filename.lower().endswith((".csv", ".txt"))]
        if not cands:
            return None
        info = max(cands, key=lambda i: i.file_size)
        return info.filename, zf.read(info)


def _work(items: list[tuple[_Key, Path]]) -> None:
    for key, path in items:
        try:
            h = hashlib.sha256()
            with path.open("rb") as f:
                head = f.read(4)
                h.update(head)
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            _sha[key] = h.hexdigest()
            if head == b"PK\x03\x04" and not path.name.lower().endswith((".xlsx", ".xlsm")):
                got = _largest_table_member(path)
                if got is not None:
                    _members[key] = got
        except Exception:
            pass  # the reader does the work again and reports what went wrong
        finally:
            _pending[key].set()


def start(paths: list[Path]) -> None:
    """Hash `paths` and decompress their zip members in a daemon thread (regular files only)."""
    items = []
    with _lock:
        for p in paths:
            key = _key(p)
            if key is None or key in _pending or not p.is_file():
                continue
            _pending[key] = threading.Event()
            items.append((key, p))
    if items:
        threading.Thread(target=_work, args=(items,), name="auditor-prefetch",
                         daemon=True).start()


def _ready(path: Path) -> _Key | None:
    """The key of `path` once its prefetch is done, or None if it was never started."""
    key = _key(path)
    ev = _pending.get(key) if key is not None else None
    if ev is None:
        return None
    ev.wait()
    return key


def sha256(path: Path) -> str | None:
    """The SHA-256 of `path` (hex) when it was prefetched, else None."""
    key = _ready(path)
    return _sha.get(key) if key is not None else None


def zip_member(path: Path, name: str) -> bytes | None:
    """The bytes of member `name` of zip `path` when prefetched (handed out once), else None."""
    key = _ready(path)
    if key is None:
        return None
    with _lock:
        got = _members.get(key)
        if got is None or got[0] != name:
            return None
        del _members[key]
    return got[1]
