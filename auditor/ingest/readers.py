"""Readers: turn a file of any supported format into a raw table of strings.

Every reader returns a `RawTable`: a LazyFrame whose columns are all strings (so nothing is
lost or guessed before the mapping is known) plus `__row`, the row number a person sees in the
file (the header is row 1 for CSV; Excel's own row number for xlsx). Bad input raises
`InputError` with a one-paragraph message naming the file, row and column.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from auditor import prefetch

ROW = "__row"
SAMPLE_BYTES = 1 << 20


class InputError(Exception):
    """Input the user gave that cannot be read; the CLI turns it into exit code 2."""


@dataclass
class RawTable:
    """A file read as strings, with where it came from and how it was read."""

    path: str
    frame: pl.LazyFrame
    headers: list[str]
    format: str
    sha256: str
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    member: str | None = None
    notes: list[str] = field(default_factory=list)
    # Hierarchy a reader knows from the format itself (NIST GpUnit nesting): level → column.
    hierarchy: list[tuple[str, str]] = field(default_factory=list)
    # The same table with the named columns parsed by the reader itself as the given types
    # (CSV): the builder tries it for the count columns, since parsing a clean count column
    # while reading costs less than reading it as text and casting it. Reading fails (a
    # `polars` error) when a cell does not parse; the text table then serves as before.
    retype: Callable[[dict[str, pl.DataType]], pl.LazyFrame] | None = None
    # The CSV scan (the file, or the decoded bytes of a zip member), for `reading`.
    source: Scanner | None = None


# What polars says when a CSV cannot be split or a cell cannot be parsed (lower case).
_CSV_ERRORS = ("could not parse", "csv malformed", "invalid csv", "not properly escaped")


@contextmanager
def reading(path: str, scan: Scanner | None = None, *, any_error: bool = False) -> Iterator[None]:
    """Turn the error polars raises on a CSV it cannot read (a cell with an unmatched quote,
    a line that cannot be split) into an `InputError` naming the file, the line and the
    column where it can: exit code 2, one paragraph. `scan`: the CSV's `Scanner`
    (`RawTable.source`); without one, or for any other error (unless `any_error`, for a
    step that only reads), the error goes on as it is: a bug is not blamed on the file.

    Around the steps that read the file: a lazily scanned CSV is parsed there.
    """
    try:
        yield
    except pl.exceptions.PolarsError as exc:
        text = str(exc)
        if scan is not None and "invalid utf-8" in text.lower():
            raise InputError(_utf8_error(path, scan)) from exc
        if scan is None or not (any_error or any(e in text.lower() for e in _CSV_ERRORS)):
            raise
        raise InputError(_csv_error(path, scan, text)) from exc


def _utf8_error(path: str, scan: Scanner) -> str:
    """The one-paragraph message of a file read as UTF-8 that is not (`--encoding utf-8`
    given for a cp1252 file, or a guess from its first bytes proved wrong further on)."""
    data = _source_bytes(scan)
    where = _not_utf8_at(data, scan.skipped) if data is not None else ""
    return (f"{path}: the file is not valid UTF-8{where}. Give its encoding with --encoding "
            "(cp1252 for Western European files, cp1251 for Cyrillic ones), or leave "
            "--encoding out to let auditor guess it.")


def _not_utf8_at(data: bytes, skipped: int = 0) -> str:
    """` at line N (byte K: b'\\xa7' after '…')`: where `data` first stops being UTF-8
    (lines counted as the file's, `skipped` rows before the header included); "" if never."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1 + skipped
        start = data.rfind(b"\n", 0, exc.start) + 1
        near = data[start:exc.start].decode("utf-8", errors="replace")[-40:]
        return (f" at line {line} (byte {exc.start:,}: {data[exc.start:exc.start + 1]!r}"
                f" after {near!r})")
    return ""


def _csv_error(path: str, scan: Scanner, text: str) -> str:
    """The one-paragraph message of a CSV that polars could not read (`reading`)."""
    cell = re.search(r"could not parse `(.*?)` as dtype", text, re.S)
    column = re.search(r"at column '(.*?)'", text)
    why = text.split("Original error:", 1)[-1] if "Original error:" in text else \
        text.split("\n\n", 1)[0]
    why = " ".join(why.replace("`", "").split())
    if len(why) > 160:  # the quoted cell may run to the end of the file
        why = why[:160] + " …"
    line = _line_of(scan, cell.group(1)) if cell else None
    line = line or _first_bad_line(scan)
    where = [f"line {line}"] if line else []
    if cell and column:
        shown = " ".join(cell.group(1).split())
        where.append(f"column {column.group(1)!r}, the cell starting {shown[:60]!r}")
    at = f" at {', '.join(where)}" if where else ""
    return (f"{path}: not a readable CSV table{at} ({why}). Check the delimiter (--delimiter) "
            "and the quoting there: a quote that opens a cell must close it, and a cell that "
            "holds a quote must be quoted.")


def _source_bytes(scan: Scanner) -> bytes | None:
    try:
        return scan.source.read_bytes() if isinstance(scan.source, Path) else scan.source
    except OSError:
        return None


def _line_of(scan: Scanner, cell: str) -> int | None:
    """The line of the file where the cell polars quotes (`cell`, as it runs on) starts a
    field, counted as the file is (header line 1, rows skipped before it included). An
    error path only: the whole source is read."""
    data = _source_bytes(scan)
    if data is None or not cell:
        return None
    starts = (scan.d.encode("utf-8"), b"\n")
    for needle in (cell.encode("utf-8"), cell.split("\n", 1)[0].encode("utf-8")):
        at = data.find(needle)
        while at > 0 and data[at - 1:at] not in starts:
            at = data.find(needle, at + 1)
        if at >= 0:
            return data.count(b"\n", 0, at) + 1 + scan.skipped
    return None


def _first_bad_line(scan: Scanner) -> int | None:
    """The first line Python's CSV reader (strict) cannot split, else the first whose
    cell holds a quote without being quoted (`N"x`, which polars does not split), if any."""
    data = _source_bytes(scan)
    if data is None:
        return None
    text = data.decode("utf-8", errors="replace")
    reader = csv.reader(io.StringIO(text), delimiter=scan.d, strict=True)
    try:
        for _ in reader:
            pass
    except csv.Error:
        return reader.line_num + scan.skipped
    for i, line in enumerate(text.splitlines(), start=1):
        # a quoted cell loses its quotes when split; a quote left over was inside a cell
        if '"' in line and '""' not in line and any(
                '"' in c for c in next(csv.reader([line], delimiter=scan.d), [])):
            return i + scan.skipped
    return None


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes (taken from `auditor.prefetch` when it read the file)."""
    done = prefetch.sha256(path)
    return done if done is not None else prefetch.file_sha256(path)[0]


_TAB_NAMES = ("\t", "\\t", "\\\\t", "tab", "TAB", "Tab")


def normalise_delimiter(delimiter: str | None) -> str | None:
    """`--delimiter` as one character; `tab`, `\\t` (as a shell passes it) mean a tab.

    Anything longer than one character is a usage error (exit 2), not a reader crash.
    """
    if delimiter is None:
        return None
    if delimiter in _TAB_NAMES:
        return "\t"
    if len(delimiter) != 1:
        raise InputError(
            f"--delimiter {delimiter!r}: the delimiter must be one character (e.g. ';' or ','; "
            "'tab' or '\\t' for a tab)."
        )
    return delimiter


def check_input_path(path: Path) -> None:
    """A missing path or a folder given as an input file: a usage error (exit 2)."""
    if not path.exists():
        raise InputError(f"{path}: no such file. Give the path of a results file (CSV, XLSX, "
                         "Parquet, zip/gz of a CSV, or NIST JSON).")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a file of results. Give the files inside "
                         "it one by one (e.g. `auditor audit FOLDER/*.csv`); a folder of "
                         "timestamped snapshots is audited with `auditor chain FOLDER`.")


def detect_format(path: Path) -> str:
    """Format from the file name and its first bytes: csv, xlsx, parquet, json, zip, gz."""
    name = path.name.lower()
    with path.open("rb") as f:
        head = f.read(8)
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"PK\x03\x04"):
        return "xlsx" if name.endswith((".xlsx", ".xlsm")) else "zip"
    if head.startswith(b"\x1f\x8b"):
        return "gz"
    if name.endswith(".json"):
        return "json"
    if name.endswith((".xlsx", ".xls", ".xlsm")):
        return "xlsx"
    if name.endswith(".parquet"):
        return "parquet"
    return "csv"


def _decode_guess(sample: bytes, path: str) -> str:
    """Encoding of a text sample: BOMs first, then UTF-8, then a statistical detector."""
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if not sample.strip():
        raise InputError(f"{path}: the file is empty (no header, no rows).")
    if b"\x00" in sample[:4096]:
        # UTF-16 without BOM has a NUL in every other byte; anything else with NULs is binary.
        even = sample[0:4096:2].count(b"\x00")
        odd = sample[1:4096:2].count(b"\x00")
        if odd > 0.4 * len(sample[1:4096:2]) and even == 0:
            return "utf-16-le"
        if even > 0.4 * len(sample[0:4096:2]) and odd == 0:
            return "utf-16-be"
        raise InputError(
            f"{path}: this is a binary file, not a table of results (it contains NUL bytes "
            "in its first 4 KiB). Give a CSV, XLSX, Parquet or NIST JSON file."
        )
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start > len(sample) - 4:  # a multi-byte character cut by the sample's end
            return "utf-8"
    from charset_normalizer import from_bytes

    best = from_bytes(
        sample[:200_000], cp_isolation=["cp1251", "cp1252", "latin_1", "koi8_r", "cp1250"]
    ).best()
    if best is None:
        raise InputError(
            f"{path}: cannot tell the text encoding (not UTF-8, cp1251, cp1252 or UTF-16; "
            f"it stops being UTF-8{_not_utf8_at(sample)}). A file that mixes encodings needs "
            "mending first; else give its encoding with --encoding."
        )
    enc = str(best.encoding)
    if enc in ("cp1252", "cp1250", "latin_1", "iso8859_15") and _cyrillic_words(sample):
        return "cp1251"
    if enc in ("cp1250", "latin_1", "iso8859_15"):
        # Western European text decodes under several code pages; cp1252 is what Windows
        # exports in practice, so it wins whenever it decodes the sample.
        try:
            sample[:200_000].decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            pass
    return enc


def _cyrillic_words(sample: bytes) -> bool:
    """Whether `sample`, read as cp1251, has its non-ASCII letters in words of their own.

    A short sample gives the statistical detector too little to go on (two rows of
    `Москва` came out as cp1252 `Ìîñêâà`). Read as cp1251, a Western European text puts
    its few non-ASCII letters inside Latin words (`Müns` → `Mьns`), a Russian or Kyrgyz one
    writes whole words of them: at least nine in ten words with a non-ASCII letter have no
    ASCII letter."""
    try:
        text = sample[:200_000].decode("cp1251")
    except UnicodeDecodeError:
        return False
    # (words of two letters or more: a French `à` read as cp1251 is a lone Cyrillic `а`)
    words = [w for w in re.findall(r"[^\W\d_]{2,}", text) if not w.isascii()]
    if not words:
        return False
    pure = sum(1 for w in words if not any(c.isascii() for c in w))
    return pure >= 0.9 * len(words)


def _sniff_delimiter(text_head: str, path: str) -> str:
    lines = [ln for ln in text_head.splitlines()[:50] if ln.strip()]
    if not lines:
        raise InputError(f"{path}: the file is empty (no header, no rows).")
    try:
        d = csv.Sniffer().sniff("\n".join(lines[:20]), delimiters=",;\t|").delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in ",;\t|"}
        d = max(counts, key=lambda k: counts[k])
        if counts[d] == 0:
            d = ","
    return d


def _check_not_html(text_head: str, path: str) -> None:
    low = text_head.lstrip()[:512].lower()
    if low.startswith(("<!doctype html", "<html", "<?xml", "<head", "<body")):
        raise InputError(
            f"{path}: this is a web page (HTML/XML), not a table of results; it was probably "
            "saved from a browser instead of downloaded. Save the CSV/XLSX link itself."
        )


def _headers_check(headers: list[str], path: str) -> None:
    seen: dict[str, int] = {}
    for i, h in enumerate(headers, start=1):
        if h in seen and h != "":
            raise InputError(
                f"{path}: row 1 (the header) names column {h!r} twice (columns {seen[h]} and "
                f"{i}); a duplicated header makes the table ambiguous. Rename one of them."
            )
        seen[h] = i


def _csv_from_bytes(data: bytes, path: str, encoding: str | None, delimiter: str | None,
                    fmt: str, sha: str, member: str | None, skip_rows: int = 0) -> RawTable:
    enc = encoding or _decode_guess(data[:SAMPLE_BYTES], path)
    if enc in ("utf-8", "utf8", "utf-8-sig") and not skip_rows:
        # Fast path: polars reads UTF-8 bytes itself; no decode/encode round trip.
        body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
        head = body[:65536].decode("utf-8", errors="ignore")
        _check_not_html(head[:4096], path)
        d = delimiter or _sniff_delimiter(head, path)
        first = next(csv.reader(io.StringIO(head), delimiter=d), [])
        headers = [h.strip() for h in first]
        _headers_check(headers, path)
        return _finish_csv(Scanner(body, d), headers, path, enc, d, fmt, sha, member,
                           skip_rows)
    try:
        text = data.decode(enc)
    except (UnicodeDecodeError, LookupError) as exc:
        raise InputError(
            f"{path}: cannot decode the file as {enc} ({exc}). Give the right --encoding."
        ) from exc
    if text.startswith("\ufeff"):
        text = text[1:]
    return _csv_from_text(text, path, enc, delimiter, fmt, sha, member, skip_rows)


def _csv_from_text(text: str, path: str, enc: str, delimiter: str | None, fmt: str, sha: str,
                   member: str | None, skip_rows: int) -> RawTable:
    _check_not_html(text[:4096], path)
    if skip_rows:
        text = "\n".join(text.splitlines()[skip_rows:]) + "\n"
    d = delimiter or _sniff_delimiter(text[:65536], path)
    first = next(csv.reader(io.StringIO(text[:65536]), delimiter=d), [])
    headers = [h.strip() for h in first]
    _headers_check(headers, path)
    return _finish_csv(Scanner(text.encode("utf-8"), d, skip_rows), headers, path, enc, d,
                       fmt, sha, member, skip_rows)


class Scanner:
    """A lazy scan of a CSV file or of UTF-8 bytes: every column text, except those given
    types (by their names in the file). Nothing is parsed until the scan is collected, and
    errors in the file show then (see `reading`)."""

    def __init__(self, source: Path | bytes, d: str, skipped: int = 0) -> None:
        # `skipped`: lines of the file before `source`'s first (the header), for messages
        self.source, self.d, self.skipped = source, d, skipped

    def __call__(self, types: dict[str, pl.DataType] | None = None) -> pl.LazyFrame:
        return pl.scan_csv(self.source, separator=self.d, infer_schema=False, has_header=True,
                           truncate_ragged_lines=True, schema_overrides=types)


def _finish_csv(scan: Scanner, headers: list[str], path: str, enc: str, d: str, fmt: str,
                sha: str, member: str | None, skip_rows: int) -> RawTable:
    lf = scan(None)
    with reading(path, scan, any_error=True):  # reads the header only
        names = lf.collect_schema().names()
    notes: list[str] = []
    # Trailing empty columns (`;;;;;;` in German files) carry no header and no data: they are
    # dropped by position, and the note says so.
    drop = [n for n, h in zip(names, headers, strict=False) if h == ""]
    drop += names[len(headers):]
    rename = {n: h for n, h in zip(names, headers, strict=False) if n != h and h != ""}
    if drop:
        notes.append(f"{len(drop)} columns with an empty header were ignored")
    headers = [h for h in headers if h != ""]
    if len(headers) <= 1:
        head = headers[0] if headers else ""
        shown = repr(head) if len(head) <= 80 else f"{head[:80]!r}… ({len(head):,} characters)"
        others = [c for c in ",;\t|" if c != d and c in head]
        hint = f" (it holds {', '.join(repr(c) for c in others)})" if others else ""
        raise InputError(
            f"{path}: row 1 has a single column {shown} with delimiter {d!r}; the delimiter "
            f"is probably wrong{hint}. Give it with --delimiter."
        )

    def shaped(frame: pl.LazyFrame) -> pl.LazyFrame:
        frame = frame.drop(drop) if drop else frame
        frame = frame.rename(rename) if rename else frame
        return frame.with_row_index(ROW, offset=2 + skip_rows).with_columns(
            pl.col(ROW).cast(pl.Int64))

    in_file = {h: n for n, h in rename.items()}

    def retype(types: dict[str, pl.DataType]) -> pl.LazyFrame:
        return shaped(scan({in_file.get(c, c): t for c, t in types.items()}))

    return RawTable(path=path, frame=shaped(lf), headers=headers, format=fmt, sha256=sha,
                    encoding=enc, delimiter=d, member=member, notes=notes, retype=retype,
                    source=scan)


def read_csv(path: Path, encoding: str | None = None, delimiter: str | None = None,
             skip_rows: int = 0) -> RawTable:
    """A CSV file, plain (scanned lazily when UTF-8) or decoded from another encoding."""
    sha = sha256_file(path)
    with path.open("rb") as f:
        sample = f.read(SAMPLE_BYTES)
    enc = encoding or _decode_guess(sample, str(path))
    if enc in ("utf-8", "utf8") and not skip_rows:
        text_head = sample.decode("utf-8", errors="ignore")
        _check_not_html(text_head[:4096], str(path))
        d = delimiter or _sniff_delimiter(text_head[:65536], str(path))
        first = next(csv.reader(io.StringIO(text_head[:65536]), delimiter=d), [])
        headers = [h.strip() for h in first]
        _headers_check(headers, str(path))
        return _finish_csv(Scanner(path, d), headers, str(path), enc, d, "csv", sha,
                           None, 0)
    return _csv_from_bytes(path.read_bytes(), str(path), enc, delimiter, "csv", sha, None,
                           skip_rows)


def read_zip(path: Path, member: str | None = None, encoding: str | None = None,
             delimiter: str | None = None, skip_rows: int = 0) -> RawTable:
    """The results table inside a zip: the named member, else the largest CSV."""
    sha = sha256_file(path)
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise InputError(f"{path}: not a readable zip archive ({exc}).") from exc
    with zf:
        names = [i for i in zf.infolist() if not i.is_dir()]
        if member:
            cands = [i for i in names if i.filename == member or i.filename.endswith(member)]
        else:
            cands = [i for i in names if i.filename.lower().endswith((".csv", ".txt"))]
        if not cands:
            listing = ", ".join(i.filename for i in names) or "nothing"
            raise InputError(f"{path}: no CSV inside the zip (it holds {listing}).")
        info = max(cands, key=lambda i: i.file_size)
        data = prefetch.zip_member(path, info.filename) or zf.read(info)
    raw = _csv_from_bytes(data, str(path), encoding, delimiter, "csv+zip", sha, info.filename,
                          skip_rows)
    raw.notes.append(f"read member {info.filename} of the zip")
    return raw


def read_gz(path: Path, encoding: str | None = None, delimiter: str | None = None,
            skip_rows: int = 0) -> RawTable:
    """A gzip-compressed CSV."""
    sha = sha256_file(path)
    try:
        data = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: not a readable gzip file ({exc}).") from exc
    return _csv_from_bytes(data, str(path), encoding, delimiter, "csv+gz", sha, None, skip_rows)


def read_xlsx(path: Path, sheet: str | int | None = None, skip_rows: int = 0) -> RawTable:
    """An Excel sheet read as strings (so empty or mixed columns lose nothing)."""
    import fastexcel

    sha = sha256_file(path)
    try:
        reader = fastexcel.read_excel(path)
        names = reader.sheet_names
        idx: str | int = 0 if sheet is None else sheet
        if isinstance(idx, str) and idx.isdigit():
            idx = int(idx)
        if isinstance(idx, str) and idx not in names:
            raise InputError(f"{path}: no sheet {idx!r}; the sheets are {', '.join(names)}.")
        if isinstance(idx, int) and not 0 <= idx < len(names):
            raise InputError(
                f"{path}: no sheet {idx} (sheets are numbered from 0); the sheets are "
                f"{', '.join(f'{i} {n!r}' for i, n in enumerate(names))}."
            )
        ws = reader.load_sheet(idx, header_row=skip_rows, dtypes="string")
        df = ws.to_polars()
    except InputError:
        raise
    except Exception as exc:  # fastexcel raises its own error types for broken files
        why = " ".join(str(exc).split())  # calamine's message spans lines; keep one paragraph
        raise InputError(
            f"{path}: not a readable Excel workbook ({type(exc).__name__}: {why}). "
            "The file may be truncated or not an .xlsx."
        ) from exc
    headers = [str(c) for c in df.columns]
    _headers_check(headers, str(path))
    df = df.with_columns(pl.all().cast(pl.String))
    lf = df.lazy().with_row_index(ROW, offset=2 + skip_rows).with_columns(pl.col(ROW).cast(pl.Int64))
    sheet_name = names[idx] if isinstance(idx, int) and idx < len(names) else str(idx)
    return RawTable(path=str(path), frame=lf, headers=headers, format="xlsx", sha256=sha,
                    sheet=sheet_name, notes=[f"sheet {sheet_name!r} of {', '.join(names)}"])


def read_parquet(path: Path) -> RawTable:
    """A Parquet file, scanned lazily; numeric columns stay typed, the others become text."""
    sha = sha256_file(path)
    try:
        lf = pl.scan_parquet(path)
        headers = lf.collect_schema().names()
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{path}: not a readable Parquet file ({exc}).") from exc
    _headers_check(headers, str(path))
    # Numeric columns stay typed (the builder uses them as they are: no string round trip for
    # 10M rows); every other column is read as text like in every other format.
    schema = lf.collect_schema()
    text = [c for c, t in schema.items() if not t.is_numeric()]
    lf = lf.with_columns(pl.col(text).cast(pl.String)).with_row_index(ROW, offset=1)
    lf = lf.with_columns(pl.col(ROW).cast(pl.Int64))
    return RawTable(path=str(path), frame=lf, headers=headers, format="parquet", sha256=sha)


def read_table(path: Path, *, encoding: str | None = None, delimiter: str | None = None,
               sheet: str | None = None, member: str | None = None,
               skip_rows: int = 0) -> RawTable:
    """Read any supported tabular file into a raw string table."""
    check_input_path(path)
    delimiter = normalise_delimiter(delimiter)
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty (0 bytes).")
    fmt = detect_format(path)
    if fmt == "parquet":
        return read_parquet(path)
    if fmt == "xlsx":
        return read_xlsx(path, sheet, skip_rows)
    if fmt == "zip":
        return read_zip(path, member, encoding, delimiter, skip_rows)
    if fmt == "gz":
        return read_gz(path, encoding, delimiter, skip_rows)
    if fmt == "json":
        raise InputError(f"{path}: JSON input is read by the NIST reader (use read_input).")
    if skip_rows or encoding not in (None, "utf-8", "utf8"):
        return _csv_from_bytes(path.read_bytes(), str(path), encoding, delimiter, "csv",
                               sha256_file(path), None, skip_rows)
    return read_csv(path, encoding, delimiter)
