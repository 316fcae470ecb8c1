"""NIST SP 1500-100 JSON: the hand-written fixture read into the canonical model."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from auditor.cli import main
from auditor.ingest import LoadOptions, load, load_one
from auditor.ingest.nist import read_nist

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "nist" / "small_county.json"


def test_nist_rows_accounted_and_profile_picked() -> None:
    ld = load_one(FIXTURE, LoadOptions())
    assert ld.profile is not None and ld.profile.name == "nist"
    c = ld.info
    # 2 contests × 2 choices × 3 precincts in the model, 2 county totals published.
    assert (c.rows_read, c.rows_in_model, c.rows_published, c.rows_rejected) == (14, 12, 2, 0)
    assert c.format == "nist-json (long)"


def test_nist_votes_breakdown_and_names() -> None:
    m = load([FIXTURE])
    votes = m.votes.collect()
    gov = votes.filter(pl.col("contest") == "Governor")
    assert gov.group_by("choice").agg(pl.col("votes").sum()).sort("choice").rows() == [
        ("Ada Able", 700), ("Ben Baker", 725)]
    assert (gov["election-day"] + gov["absentee"] == gov["votes"]).all()
    assert set(gov["party"].to_list()) == {"Alpha Party", "Beta Party"}
    q = votes.filter(pl.col("contest") == "Question 1")
    assert sorted(q["choice"].unique().to_list()) == ["No", "Yes"]
    assert q["votes"].sum() == 1360


def test_nist_units_summary_counts_and_hierarchy() -> None:
    m = load([FIXTURE])
    assert m.hierarchy == ["state", "county"]
    units = m.units.collect().filter(pl.col("contest") == "Governor").sort("unit_id")
    assert units["unit_id"].to_list() == ["gp-p1", "gp-p2", "gp-p3"]
    assert units["ballots_cast"].to_list() == [640, 525, 280]
    assert units["registered"].to_list() == [1000, 800, 500]
    assert units["county"].to_list() == ["Example County"] * 3
    pub = m.published.collect().sort("choice")
    assert pub.select("level", "unit_id", "choice", "value").rows() == [
        ("county", "Example County", "Ada Able", 700.0),
        ("county", "Example County", "Ben Baker", 725.0),
    ]


def test_nist_sums_types_when_total_missing(tmp_path: Path) -> None:
    doc = json.loads(FIXTURE.read_text(encoding="utf-8"))
    sel = doc["Election"][0]["Contest"][0]["BallotSelection"][0]
    sel["VoteCounts"] = [v for v in sel["VoteCounts"] if v["Type"] != "total"]
    p = tmp_path / "nototal.json"
    p.write_text(json.dumps(doc), encoding="utf-8")
    raw = read_nist(p)
    assert any("had no `total` count" in n for n in raw.notes)
    df = raw.frame.collect().filter((pl.col("choice") == "Ada Able")
                                    & (pl.col("is_aggregate") == "no"))
    assert sorted(df["votes"].to_list()) == ["110", "240", "350"]


def test_nist_audit_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["audit", str(FIXTURE), "--out", str(tmp_path), "--format", "json", "-q",
               "--fail-on", "never"])
    assert rc == 0
    doc = json.loads((tmp_path / "findings.json").read_text(encoding="utf-8"))
    inp = doc["inputs"][0]
    assert inp["rows_read"] == inp["rows_in_model"] + inp["rows_published"] + inp["rows_rejected"]
    # The county totals equal the precinct sums: no aggregation finding.
    assert not [f for f in doc["findings"] if f["code"].startswith("AGG")]


@pytest.mark.parametrize("text, words", [
    ("{not json", "not readable JSON"),
    ('{"GpUnit": []}', "not a NIST SP 1500-100"),
    ('{"Election": [{"Contest": []}]}', "no VoteCounts"),
])
def test_nist_bad_json_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                              words: str) -> None:
    p = tmp_path / "bad.json"
    p.write_text(text, encoding="utf-8")
    assert main(["inspect", str(p)]) == 2
    assert words in capsys.readouterr().err
