"""Every real data file enters the model: row counts of its SOURCE.md, profile, accounting.

Each file is read by `auditor inspect --json` (rows as in SOURCE.md, the right profile) and
by `auditor audit --only INPUT` (findings.json valid, rows accounted for, the INPUT findings
SOURCE.md leads one to expect). Figures of the model are checked on a few files, each loaded
once per module.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import math
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from auditor.cli import main
from auditor.ingest import LoadOptions, load, load_one
from auditor.model import Model
from tests.conftest import data_file

pytestmark = pytest.mark.integration

RU = "ru_shpilkin_kobak/"
KG = "kg_2020_parliament_kloop/PARTIES_RESULTS_REACT_LEVEL_ONE"
GE = "ge_2024_parliament_sichinava/georgia_parliamentary_elections_"
BW = "de_btw25_bw_snapshots/"
US = "us_de_2016_openelections/20161108__de__general__precinct"

# file, rows read, in model, published, rejected, profile, INPUT findings expected
FILES: list[tuple[str, int, int, int, int, str, dict[str, int]]] = [
    (RU + "2011.csv.zip", 95_225, 95_225, 0, 0, "ru-duma-2011", {}),
    (RU + "2018.csv.zip", 97_699, 97_699, 0, 0, "ru-president-2018", {}),
    (RU + "2021.csv.zip", 96_325, 96_325, 0, 0, "ru-duma-2021", {}),
    (RU + "2021_release1_commit4e88b198.csv.zip", 96_105, 96_105, 0, 0, "ru-duma-2021", {}),
    (RU + "2024.csv.zip", 94_214, 91_946, 0, 2_268, "ru-president-2024", {"INPUT002": 2_268}),
    (RU + "2024_release1_commit3edf9851.csv.zip", 93_541, 91_816, 0, 1_725, "ru-president-2024",
     {"INPUT002": 1_725}),
    (RU + "2024-electronic-voting.csv", 29, 29, 0, 0, "ru-evoting-2024", {}),
    (KG + "__2020-10-13_commit33dc3caf.csv", 2_399, 2_399, 0, 0, "kg-kloop-2020", {}),
    (KG + "__2020-10-29_commit9ef5a011.csv", 2_413, 2_413, 0, 0, "kg-kloop-2020", {}),
    (KG + "_NEW__2020-10-29_commit9ef5a011.csv", 2_413, 2_413, 0, 0, "kg-kloop-2020", {}),
    (GE + "nov13_2024.xlsx", 3_110, 3_110, 0, 0, "ge-cec-2024", {"INPUT003": 2, "INPUT006": 1}),
    (GE + "nov14_2024.xlsx", 3_110, 3_110, 0, 0, "ge-cec-2024", {"INPUT006": 1}),
    (GE + "nov15_2024.xlsx", 3_110, 3_110, 0, 0, "ge-cec-2024", {"INPUT006": 1}),
    ("de_ew24_wahlbezirke/ew24_wbz.zip", 91_753, 91_753, 0, 0, "de-ew24", {"INPUT003": 11}),
    (US + ".csv", 7_153, 7_056, 97, 0, "openelections", {}),
    (US + "__release1_commitdb9f183a.csv", 9_426, 7_056, 2_370, 0, "openelections", {}),
]
# Baden-Württemberg snapshots: (time stamp, rows, municipalities with results) from SOURCE.md.
SNAPSHOTS = [
    ("2025-02-22-11-59-32", 1_105, 0), ("2025-02-23-17-52-51", 1_103, 0),
    ("2025-02-23-22-29-05", 1_105, 69), ("2025-02-23-22-46-30", 1_105, 107),
    ("2025-02-23-23-05-49", 1_105, 141), ("2025-02-23-23-18-21", 1_105, 159),
    ("2025-02-23-23-29-48", 1_105, 207), ("2025-02-23-23-39-05", 1_105, 278),
    ("2025-02-23-23-47-50", 1_105, 354), ("2025-02-23-23-56-32", 1_105, 411),
    ("2025-02-24-00-07-20", 1_105, 518), ("2025-02-24-00-19-59", 1_105, 635),
    ("2025-02-24-00-28-49", 1_105, 817), ("2025-02-24-00-37-55", 1_105, 883),
    ("2025-02-24-00-46-34", 1_105, 948), ("2025-02-24-00-55-00", 1_105, 1_103),
    ("2025-02-24-01-42-40", 1_105, 1_104), ("2025-03-13-12-59-36", 1_105, 1_104),
]
for stamp, rows, reported in SNAPSHOTS:
    # Every row that has not reported is rejected ("not yet reported"); `BW` is published.
    FILES.append((f"{BW}{stamp}-btw25-bw-gemeinden.csv", rows, reported, 1, rows - 1 - reported,
                  "de-bw-btw25", {"INPUT002": rows - 1 - reported} if rows - 1 - reported else {}))


# Choices per contest (SOURCE.md's party/candidate lists): a column mapped wrongly shows here.
CHOICES = {"ru-duma-2011": 7, "ru-president-2018": 8, "ru-duma-2021": 14,
           "ru-president-2024": 4, "ru-evoting-2024": 4, "kg-kloop-2020": 17, "ge-cec-2024": 18,
           "de-ew24": 35, "de-bw-btw25": 21}


def _cli(args: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(args)
    return rc, out.getvalue()


@functools.cache
def model(rel: str) -> Model:
    """A real file's model, loaded once per test session."""
    return load([data_file(rel)], LoadOptions())


@pytest.mark.parametrize("case", FILES, ids=[f[0].split("/")[-1][:48] for f in FILES])
def test_inspect_reports_source_row_counts(case: tuple[Any, ...]) -> None:
    rel, rows, in_model, published, rejected, profile, _ = case
    rc, out = _cli(["inspect", "--json", str(data_file(rel))])
    assert rc == 0
    doc = json.loads(out)
    assert doc["rows"] == rows
    assert (doc["rows_in_model"], doc["rows_published"], doc["rows_rejected"]) == (
        in_model, published, rejected)
    assert doc["profile"] == profile
    assert doc["profile_reason"].startswith("headers match")
    if profile in CHOICES:
        assert [len(c["choices"]) for c in doc["mapping"]["contests"]] == [CHOICES[profile]] * (
            2 if profile == "de-bw-btw25" else 1)


AUDITED = [f for f in FILES if not f[0].startswith(BW)] + [
    f for f in FILES if f[0].startswith(BW) and any(s in f[0] for s in (
        "2025-02-22-11-59-32", "2025-02-23-23-05-49", "2025-03-13-12-59-36"))]


@pytest.mark.parametrize("case", AUDITED, ids=[f[0].split("/")[-1][:48] for f in AUDITED])
def test_audit_accounts_for_every_row(case: tuple[Any, ...], tmp_path: Path) -> None:
    rel, rows, in_model, published, rejected, _, expected = case
    rc, _ = _cli(["audit", str(data_file(rel)), "--only", "INPUT", "--format", "json", "--out",
                  str(tmp_path), "--fail-on", "never", "-q"])
    assert rc == 0
    doc = json.loads((tmp_path / "findings.json").read_text(encoding="utf-8"))
    inp = doc["inputs"][0]
    assert inp["rows_read"] == rows
    assert inp["rows_read"] == inp["rows_in_model"] + inp["rows_published"] + inp["rows_rejected"]
    assert (inp["rows_in_model"], inp["rows_published"], inp["rows_rejected"]) == (
        in_model, published, rejected)
    got: dict[str, int] = {}
    for f in doc["findings"]:
        got[f["code"]] = got.get(f["code"], 0) + 1
    assert got == expected


def test_georgia_known_input_problems(tmp_path: Path) -> None:
    nov15 = model(GE + "nov15_2024.xlsx")
    iss = nov15.issues.collect()
    assert iss.select("code", "unit_id", "column").rows() == [
        ("INPUT006", "81/12", "ballots_received")]
    nov13 = load_one(data_file(GE + "nov13_2024.xlsx"), LoadOptions())
    dup = nov13.parts.issues.collect().filter(pl.col("code") == "INPUT003")
    assert dup["value"].to_list() == ["24/23", "24/23"]
    # SOURCE.md's sums are over the 3,109 rows without the empty f_02 of 81/12.
    units = nov15.units.collect().filter(pl.col("unit_id") != "81/12")
    assert units["registered"].sum() == 3_493_101
    assert units["voters"].sum() == 2_111_484
    votes = nov15.votes.collect().filter(pl.col("unit_id") != "81/12")
    assert votes.filter(pl.col("choice") == "41 Georgian Dream")["votes"].sum() == 1_119_506
    assert votes["choice"].n_unique() == 18


def test_kloop_floats_percent_and_against_all() -> None:
    m = model(KG + "__2020-10-13_commit33dc3caf.csv")
    assert any("within 1e-9 of an integer were read as integers" in n for n in m.inputs[0].notes)
    assert m.issues.collect().height == 0  # no float noise and no percentage as a count error
    units, votes = m.units.collect(), m.votes.collect()
    assert units["valid"].sum() == 1_920_214  # `total`, SOURCE.md
    assert votes.filter(pl.col("choice") == "«БИРИМДИК»")["votes"].sum() == 479_481
    assert "form2_percent" not in votes["choice"].to_list()
    assert m.rule("against_all") in votes["choice"].to_list()
    assert units.filter(pl.col("unit_type") == "abroad").height == 0  # abroad came later
    later = model(KG + "__2020-10-29_commit9ef5a011.csv").units.collect()
    assert later.filter(pl.col("unit_type") == "abroad").height == 45
    pub = m.published.collect()
    assert pub["measure"].unique().to_list() == ["percent"] and pub.height == 2_399
    vals = pub["value"].to_list()
    assert sum(1 for v in vals if math.isinf(v)) == 1
    assert sum(1 for v in vals if math.isfinite(v) and v > 100) == 35
    first = units.sort("source_row").row(0, named=True)
    assert (first["unit_id"], first["valid"]) == ("row 2", 924)


def test_russia_2021_evoting_and_2024_empty_rows() -> None:
    m = model(RU + "2021.csv.zip")
    units = m.units.collect()
    ev = units.filter(pl.col("unit_type") == "evoting")
    assert ev.height == 18
    assert ev["unit_id"].n_unique() == 18
    assert units["unit_id"].n_unique() == 96_325  # the key is unique once e-voting uses OIK
    assert "ballots_cast" not in units.columns
    assert m.hierarchy == ["region", "oik", "tik"]
    votes = m.votes.collect()
    # Σ choices == valid on every row (SOURCE.md): the mapping took the right columns.
    per = votes.group_by("unit_id").agg(pl.col("votes").sum()).join(
        units.select("unit_id", "valid"), on="unit_id")
    assert (per["votes"] == per["valid"]).all()


def test_germany_ew24_thousands_and_district_types() -> None:
    m = model("de_ew24_wahlbezirke/ew24_wbz.zip")
    units = m.units.collect()
    assert units["voters"].sum() == 40_114_939
    assert units["valid"].sum() == 39_810_489
    types = dict(units.group_by("unit_type").len().iter_rows())
    assert types == {"regular": 66_586, "postal": 25_162, "special": 1, "unspecified": 4}
    assert any("thousands separators were read as integers" in n for n in m.inputs[0].notes)
    assert m.votes.collect().filter(pl.col("choice") == "BSW")["votes"].sum() == 2_456_460
    assert units.filter(pl.col("unit_type") == "postal")["registered"].max() == 0


def test_bw_final_two_contests_and_state_row() -> None:
    m = model(BW + "2025-03-13-12-59-36-btw25-bw-gemeinden.csv")
    votes = m.votes.collect()
    bsw = votes.filter((pl.col("contest") == "Zweitstimmen") & (pl.col("choice") == "BSW"))
    assert bsw["votes"].sum() * 2 == 520_438  # SOURCE.md sums include the BW row
    pub = m.published.collect().filter((pl.col("contest") == "Zweitstimmen")
                                       & (pl.col("choice") == "BSW"))
    assert pub["value"].to_list() == [bsw["votes"].sum()]
    units = m.units.collect()
    bad_buchau = units.filter((pl.col("unit_id") == "08426013")
                              & (pl.col("contest") == "Zweitstimmen")).row(0, named=True)
    assert (bad_buchau["registered"], bad_buchau["voters"]) == (2_922, 3_233)
    assert m.issues.collect().height == 0


def test_delaware_totals_set_apart() -> None:
    m = model(US + ".csv")
    votes = m.votes.collect().filter(pl.col("contest") == "President")
    sums = dict(votes.group_by("choice").agg(pl.col("votes").sum()).iter_rows())
    assert (sums["Clinton H"], sums["Trump D"], sums["Johnson G"], sums["Stein J"]) == (
        235_603, 185_127, 14_757, 6_103)
    pub = m.published.collect()
    state = pub.filter((pl.col("contest") == "President") & (pl.col("choice") == "Clinton H"))
    assert state.select("level", "unit_id", "value").rows() == [("county", "Sussex", 235_603.0)]
    assert (votes["election_day"] + votes["absentee"] == votes["votes"]).all()


def test_full_audit_runs_to_the_end(tmp_path: Path) -> None:
    for rel in (RU + "2024-electronic-voting.csv", KG + "_NEW__2020-10-29_commit9ef5a011.csv"):
        out = tmp_path / rel.split("/")[-1]
        rc, _ = _cli(["audit", str(data_file(rel)), "--format", "json", "--out", str(out), "-q",
                      "--reps", "50"])
        assert rc in (0, 1)
        doc = json.loads((out / "findings.json").read_text(encoding="utf-8"))
        assert [c["code"] for c in doc["checks"] if c["status"] == "failed"] == []
        assert len(doc["checks"]) > 10


def test_notes_xlsx_is_refused_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["inspect", str(data_file(GE.rsplit("/", 1)[0] + "/notes.xlsx"))])
    assert rc == 2
    assert "no column could be read as counts" in capsys.readouterr().err
