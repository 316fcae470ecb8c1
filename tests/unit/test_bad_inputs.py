"""Bad inputs: each gives exit code 2 and a one-paragraph message naming the problem."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import polars as pl
import pytest

from auditor.cli import main

BAD = Path(__file__).resolve().parents[2] / "fixtures" / "bad_inputs"


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    rc = main(args)
    err = capsys.readouterr().err
    return rc, err


def minimal_xlsx(rows: list[list[object]]) -> bytes:
    """A valid one-sheet .xlsx written by hand (inline strings), for readers' tests."""
    def cell(r: int, c: int, v: object) -> str:
        ref = f"{chr(65 + c)}{r + 1}"
        if isinstance(v, int):
            return f'<c r="{ref}"><v>{v}</v></c>'
        return f'<c r="{ref}" t="inlineStr"><is><t>{v}</t></is></c>'

    ns = "http://schemas.openxmlformats.org"
    sheet = (f'<worksheet xmlns="{ns}/spreadsheetml/2006/main"><sheetData>'
             + "".join(f'<row r="{i + 1}">' + "".join(cell(i, j, v) for j, v in enumerate(r))
                       + "</row>" for i, r in enumerate(rows))
             + "</sheetData></worksheet>")
    ct = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    files = {
        "[Content_Types].xml": (
            f'<Types xmlns="{ns}/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{ct}.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{ct}.worksheet+xml"/>'
            "</Types>"),
        "_rels/.rels": (
            f'<Relationships xmlns="{ns}/package/2006/relationships"><Relationship Id="rId1" '
            f'Type="{ns}/officeDocument/2006/relationships/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>'),
        "xl/workbook.xml": (
            f'<workbook xmlns="{ns}/spreadsheetml/2006/main" '
            f'xmlns:r="{ns}/officeDocument/2006/relationships"><sheets>'
            '<sheet name="results" sheetId="1" r:id="rId1"/></sheets></workbook>'),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{ns}/package/2006/relationships"><Relationship Id="rId1" '
            f'Type="{ns}/officeDocument/2006/relationships/worksheet" '
            'Target="worksheets/sheet1.xml"/></Relationships>'),
        "xl/worksheets/sheet1.xml": sheet,
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for k, v in files.items():
            z.writestr(k, v)
    return buf.getvalue()


HEAD: list[object] = ["region", "station", "registered", "valid", "invalid", "A", "B"]
ROWS: list[list[object]] = [HEAD, *([["North", i, 100 + i, 80, 2, 50, 30] for i in range(1, 40)])]


@pytest.mark.parametrize("name, words", [
    ("empty.csv", "empty"),
    ("binary.csv", "binary file"),
    ("page.csv", "web page"),
    ("dup_header.csv", "names column 'valid' twice"),
    ("truncated.xlsx", "not a readable Excel workbook"),
])
def test_bad_file_exit_2(name: str, words: str, capsys: pytest.CaptureFixture[str]) -> None:
    for cmd in ("inspect", "audit"):
        rc, err = run([cmd, str(BAD / name), "--out", "/nonexistent/never-written"]
                      if cmd == "audit" else [cmd, str(BAD / name)], capsys)
        assert rc == 2, (cmd, name, err)
        assert words in err and str(BAD / name) in err
        assert "Traceback" not in err
        assert err.count("\n") == 1  # one paragraph


def test_wrong_delimiter(capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = run(["inspect", "--delimiter", ",", str(BAD / "semicolon.csv")], capsys)
    assert rc == 2
    assert "delimiter" in err and "single column" in err and "(it holds ';')" in err
    rc, _ = run(["inspect", str(BAD / "semicolon.csv")], capsys)  # sniffed correctly
    assert rc == 0


def test_a_long_header_read_as_one_column_is_shown_short(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "wide.csv"
    header = ",".join(f"party_number_{i}" for i in range(100))
    src.write_text(header + "\n" + ",".join(["1"] * 100) + "\n", encoding="utf-8")
    rc, err = run(["inspect", "--delimiter", ";", str(src)], capsys)
    assert rc == 2 and f"({len(header):,} characters)" in err and "(it holds ',')" in err
    assert len(err) < 400 and "party_number_99" not in err


def test_text_only_count_column_names_file_row_column(capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = run(["inspect", str(BAD / "text_counts.csv")], capsys)
    assert rc == 2
    assert "text_counts.csv" in err and "'registered'" in err and "row 2" in err
    assert "'many'" in err


def test_text_only_column_under_map(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "t.csv"
    p.write_text("unit,Electorate,A,B\n1,n/a,5,6\n2,n/a,7,8\n", encoding="utf-8")
    rc, err = run(["inspect", str(p), "--map", "registered=Electorate"], capsys)
    assert rc == 2 and "'Electorate'" in err and "row 2" in err


def test_a_few_garbage_cells_are_findings_not_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = run(["audit", str(BAD / "garbage_cells.csv"), "--out", str(tmp_path), "--format",
                   "json", "--only", "INPUT", "--fail-on", "never", "-q"], capsys)
    assert rc == 0, err
    doc = json.loads((tmp_path / "findings.json").read_text(encoding="utf-8"))
    got = sorted((f["code"], f["source_row"]) for f in doc["findings"])
    assert got == [("INPUT001", 3), ("INPUT001", 5)]
    assert doc["inputs"][0]["rows_in_model"] == 4


def test_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = run(["inspect", "no/such/results.csv"], capsys)
    assert rc == 2 and "no such file" in err


def test_unknown_profile(capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = run(["inspect", "--profile", "atlantis", str(BAD / "semicolon.csv")], capsys)
    assert rc == 2 and "unknown profile 'atlantis'" in err and "ru-duma-2021" in err


@pytest.mark.parametrize("spec, words", [
    ("registered", "expected canonical=source"),
    ("registered=Nope", "there is no column 'Nope'"),
    ("voterz=A", "'voterz' is not a canonical name"),
])
def test_bad_map(spec: str, words: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = BAD / "semicolon.csv"
    rc, err = run(["inspect", "--map", spec.replace("=A", "=Alpha"), str(text)], capsys)
    assert rc == 2 and words in err


def test_truncated_xlsx_differs_from_a_good_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.xlsx"
    good.write_bytes(minimal_xlsx(ROWS))
    rc, _ = run(["inspect", str(good)], capsys)
    assert rc == 0  # the same workbook whole is readable: the failure is the truncation
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(good.read_bytes()[:1000])
    rc, err = run(["inspect", str(cut)], capsys)
    assert rc == 2 and "truncated" in err


def test_header_only_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "h.csv"
    p.write_text("region,station,registered,valid,invalid,A,B\n", encoding="utf-8")
    rc, err = run(["inspect", str(p)], capsys)
    assert rc == 2 and "no data rows" in err


def test_table_without_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "notes.csv"
    p.write_text("district,precinct,note\n1,2,checked\n3,4,typo fixed\n", encoding="utf-8")
    rc, err = run(["inspect", str(p)], capsys)
    assert rc == 2 and "no column could be read as counts" in err


@pytest.mark.parametrize("how", ["csv", "zip", "cp1251"])
def test_an_unclosed_quote_names_the_line_and_the_column(
        how: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = ["район,station,registered,valid,invalid,A,B"]
    rows += [f"Север,{i},{100 + i},80,2,50,30" for i in range(1, 6)]
    rows[4] = 'Север,4,104,80,2,"50,30'  # line 5: the quote opened in column A never closes
    text = "\n".join(rows) + "\n"
    if how == "zip":
        p = tmp_path / "r.zip"
        with zipfile.ZipFile(p, "w") as z:
            z.writestr("r.csv", text)
        args = [str(p)]
    else:
        p = tmp_path / "r.csv"
        p.write_bytes(text.encode("utf-8" if how == "csv" else "cp1251"))
        args = [str(p)] + (["--encoding", "cp1251"] if how == "cp1251" else [])
    for cmd in ("inspect", "audit"):
        extra = ["--out", str(tmp_path / "out"), "-q"] if cmd == "audit" else []
        rc, err = run([cmd, *args, *extra], capsys)
        assert rc == 2, err
        assert str(p) in err and "line 5" in err and "column 'A'" in err, err
        assert "Traceback" not in err and err.count("\n") == 1


def test_an_unclosed_quote_is_found_on_its_own_line_in_a_short_message(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = ["region:station:registered:valid:invalid:A:B"]
    rows += [f"N:{i}:{100 + i}:80:2:50:30" for i in range(1, 3000)]
    rows[2] = 'N:2:102:80:2:"50:30":30'  # a quoted cell, closed: fine
    rows[6] = 'N:6:106:80:2:"50:30'  # line 7: the same text, never closed
    p = tmp_path / "colon.csv"
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    rc, err = run(["inspect", str(p), "--delimiter", ":"], capsys)
    assert rc == 2 and "line 7" in err and "column 'A'" in err, err
    assert len(err) < 800  # the cell runs to the end of the file; the message does not


def test_a_parquet_error_that_is_not_the_files_is_not_blamed_on_a_csv() -> None:
    from auditor.ingest.readers import reading

    # no CSV: the error goes on as it is
    with pytest.raises(pl.exceptions.ComputeError), reading("x.parquet"):
        raise pl.exceptions.ComputeError("conversion from `u64` to `i64` failed")


def test_the_line_of_an_unclosed_quote_counts_the_rows_skipped_before_the_header(
        tmp_path: Path) -> None:
    from auditor.ingest.readers import InputError, read_csv, reading

    lines = ["Results of the count", "published 2024-03-17", "region,station,registered,A"]
    lines += [f"N,{i},{100 + i},50" for i in range(1, 6)]
    lines[5] = 'N,3,"103,50'  # line 6 of the file
    p = tmp_path / "pre.csv"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    raw = read_csv(p, skip_rows=2)
    with pytest.raises(InputError, match=r"line 6, column 'registered'"), \
            reading(raw.path, raw.source):
        raw.frame.collect()


def test_a_quote_inside_an_unquoted_cell_names_its_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "q.csv"
    p.write_text('region,station,registered,valid,invalid,A,B\nN,1,100,80,2,50,30\n'
                 'N,2,"200, ok",80,2,50,30\nN"x,3,100,80,2,50,30\nN,4,100,80,2,50,30\n',
                 encoding="utf-8")
    rc, err = run(["inspect", str(p)], capsys)
    assert rc == 2 and "line 4" in err and "Traceback" not in err, err


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_count_too_large_for_64_bits_is_an_unreadable_cell_not_a_crash(
        kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = {"region": ["N"] * 30, "station": [str(i) for i in range(30)],
            "registered": [100 + i for i in range(30)], "valid": [80] * 30,
            "invalid": [2] * 30, "A": [50] * 30, "B": [30] * 30}
    if kind == "csv":
        p = tmp_path / "big.csv"
        df = pl.DataFrame(rows).with_columns(pl.col("registered").cast(pl.String))
        df = df.with_columns(pl.when(pl.int_range(pl.len()) == 4).then(pl.lit("9" * 20))
                             .otherwise(pl.col("registered")).alias("registered"))
        df.write_csv(p)
    else:
        p = tmp_path / "big.parquet"
        df = pl.DataFrame(rows).with_columns(pl.col("registered").cast(pl.UInt64))
        df = df.with_columns(pl.when(pl.int_range(pl.len()) == 4).then(pl.lit(2**64 - 1,
                                                                            pl.UInt64))
                             .otherwise(pl.col("registered")).alias("registered"))
        df.write_parquet(p)
    rc, err = run(["audit", str(p), "--out", str(tmp_path / "o"), "--format", "json",
                   "--only", "INPUT", "--fail-on", "never", "-q"], capsys)
    assert rc == 0, err
    doc = json.loads((tmp_path / "o" / "findings.json").read_text(encoding="utf-8"))
    got = [(f["code"], f["source_row"], f["message"]) for f in doc["findings"]]
    row = 6 if kind == "csv" else 5  # CSV: the header is row 1; Parquet: rows count from 1
    assert [(c, r) for c, r, _ in got] == [("INPUT001", row)]
    assert "too large for a count" in got[0][2]
    assert doc["inputs"][0]["rows_in_model"] == 30


def test_an_unclosed_quote_in_the_header_gives_one_paragraph_with_a_hint(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "hq.csv"
    p.write_text('region,"station,registered,valid\nN,1,100,80\nN,2,200,90\n', encoding="utf-8")
    rc, err = run(["inspect", str(p)], capsys)
    assert rc == 2 and err.count("\n") == 1, err
    assert "no column could be read as counts" in err and "quote in row 1" in err


@pytest.mark.parametrize("cmd", ["audit", "inspect"])
def test_a_file_forced_to_utf8_that_is_not_names_the_line_and_byte(
        cmd: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--encoding utf-8` on a cp1252 file: exit 2 and the first byte that is not UTF-8,
    not an internal error."""
    src = tmp_path / "west.csv"
    rows = ["region,station,registered,valid,invalid,A,B"]
    rows += [f"North,{i},1000,500,10,300,200" for i in range(40)]
    rows += ["Müns,41,1000,500,10,300,200"]
    src.write_bytes("\n".join(rows).encode("cp1252") + b"\n")
    args = [cmd, str(src), "--encoding", "utf-8"]
    if cmd == "audit":
        args += ["--out", str(tmp_path / "out"), "--format", "json"]
    rc, err = run(args, capsys)
    assert rc == 2
    assert "not valid UTF-8 at line 42 (byte" in err and "b'\\xfc' after 'M'" in err
    assert "Traceback" not in err and "internal error" not in err
    assert main(["inspect", str(src)]) == 0  # guessed, it reads


def test_a_negative_vote_names_its_row(tmp_path: Path) -> None:
    """INPUT005 of a choice column says the row, as every other INPUT finding does."""
    src = tmp_path / "neg.csv"
    rows = ["region,uik,registered,valid,invalid,A,B"]
    rows += [f"X,{i},1000,500,10,300,200" for i in range(1, 13)]
    rows[5] = "X,5,1000,500,10,503,-3"
    src.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert main(["audit", str(src), "--out", str(tmp_path / "o"), "--format", "json",
                 "--quiet", "--fail-on", "never"]) == 0
    found = json.loads((tmp_path / "o" / "findings.json").read_text("utf-8"))["findings"]
    neg = [f for f in found if f["code"] == "INPUT005"]
    assert [(f["source_row"], f["message"]) for f in neg] == [
        (6, "row 6: the `B` count is negative (-3)")]


@pytest.mark.parametrize("bad", ["#REF!", "N/A", "abc", "-"])
def test_one_bad_cell_in_a_short_table_keeps_its_party(bad: str, tmp_path: Path) -> None:
    """8 rows, one unreadable party cell: the party stays a choice, the cell is one
    INPUT001 and its row one ARITH001, not an ARITH001 on every row."""
    src = tmp_path / "short.csv"
    rows = ["region,uik,registered,valid,invalid,PartyA,PartyB"]
    rows += [f"X,{i},1000,500,10,300,200" for i in range(1, 9)]
    rows[3] = f"X,3,1000,500,10,{bad},200"
    src.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert main(["audit", str(src), "--out", str(tmp_path / "o"), "--format", "json",
                 "--quiet", "--fail-on", "never"]) == 0
    found = json.loads((tmp_path / "o" / "findings.json").read_text("utf-8"))["findings"]
    assert sorted((f["code"], f["source_row"]) for f in found
                  if f["code"].startswith(("INPUT", "ARITH"))) == [("ARITH001", 4),
                                                                   ("INPUT001", 4)]


@pytest.mark.parametrize(("numbers", "cells", "expected"), [
    (9, 10, True), (7, 8, True), (6, 8, True), (5, 8, False), (2, 3, True), (1, 2, False),
    (0, 8, False), (1800, 2000, True), (1797, 2000, False), (3, 3, True)])
def test_mostly_numbers(numbers: int, cells: int, expected: bool) -> None:
    from auditor.ingest.build import mostly_numbers

    assert mostly_numbers(numbers, cells) is expected


def test_a_utf8_file_with_one_latin1_byte_names_where(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Cyrillic UTF-8 headers and one cp1252 `é` further down: no code page decodes the
    whole, and the message says where the file stops being UTF-8."""
    src = tmp_path / "mixed.csv"
    head = "region,uik,\"Число избирателей, включенных в список\",valid,invalid,A,B\n"
    body = "".join(f"Область,{i},1000,500,10,300,200\n" for i in range(1, 60))
    src.write_bytes(head.encode() + body.encode() + b"Caf" + b"\xe9,60,1,1,0,1,0\n")
    rc, err = run(["inspect", str(src)], capsys)
    assert rc == 2
    assert "cannot tell the text encoding" in err
    assert "it stops being UTF-8 at line 61 (byte" in err and "b'\\xe9' after 'Caf'" in err
