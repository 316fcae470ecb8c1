"""REV checks and the release matcher on small hand-made releases (no real data)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

from auditor.cli import main
from auditor.engine import audit
from auditor.findings import AuditRun, Finding
from auditor.ingest import LoadOptions, load
from auditor.model import Model
from auditor.release_totals import totals
from auditor.revisions import compare, wide_votes
from fixtures.synth import generate

HEADER = "region,district,station,registered,ballots_cast,valid,invalid,Alpha,Beta,Gamma\n"
ROWS = [
    "R1,D1,001,1000,600,590,10,354,205,31",
    "R1,D1,002,1000,610,600,10,350,210,40",
    "R1,D2,003,1000,620,610,10,360,200,50",
    "R2,D3,004,800,500,490,10,290,150,50",
]
KEYLESS_PROFILE = """
name = "keyless-test"
[units]
key = []
hierarchy = { region = "region" }
contest = "national"
[columns]
valid = "valid"
[choices]
rest = true
ignore = ["region"]
"""


def write(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def pair(tmp_path: Path, old: list[str], new: list[str], profile: str | None = None,
         header: str = HEADER) -> Model:
    """Load two releases; the new one carries the old one as `previous`."""
    opts = LoadOptions(profile=profile)
    a = load([write(tmp_path / "old.csv", old, header)], opts)
    b = load([write(tmp_path / "new.csv", new, header)], opts)
    b.previous = [a]
    return b


def rev(m: Model) -> AuditRun:
    return audit(m, only=["REV"])


def codes(run: AuditRun, code: str) -> list[Finding]:
    return [f for f in run.findings if f.code == code]


def test_identical_releases_give_nothing(tmp_path: Path) -> None:
    run = rev(pair(tmp_path, ROWS, ROWS))
    assert run.findings == []
    s = run.summary["revisions"]
    assert (s["same"], s["changed"], s["added"], s["removed"]) == (4, 0, 0, 0)
    assert {c.code: c.status for c in run.checks if c.code.startswith("REV")} == {
        "REV001": "ok", "REV002": "ok", "REV003": "ok", "REV004": "ok",
        "REV005": "not_applicable", "REV006": "ok"}


def test_one_changed_cell_is_one_rev002_with_old_new_delta(tmp_path: Path) -> None:
    new = [*ROWS]
    new[1] = "R1,D1,002,1000,610,600,10,357,210,40"
    run = rev(pair(tmp_path, ROWS, new))
    [f] = codes(run, "REV002")
    assert (f.unit_id, f.choice, f.expected, f.observed, f.delta) == ("R1/D1/002", "Alpha", 350,
                                                                     357, 7)
    assert f.votes_affected == 7
    assert "Alpha 350 → 357 (+7)" in f.message


def test_added_and_removed_units(tmp_path: Path) -> None:
    new = [*ROWS[:3], "R2,D3,005,900,450,440,10,200,200,40"]
    run = rev(pair(tmp_path, ROWS, new))
    f1 = {f.key: f for f in codes(run, "REV001")}
    assert set(f1) == {"added", "removed"}
    assert f1["added"].unit_id == "R2/D3/005" and f1["added"].severity == "info"
    assert f1["removed"].unit_id == "R2/D3/004" and f1["removed"].severity == "warning"
    assert f1["removed"].source_file is not None and f1["removed"].source_file.endswith("old.csv")
    assert codes(run, "REV002") == []


def test_rekeyed_unit_with_identical_numbers(tmp_path: Path) -> None:
    new = [*ROWS]
    new[3] = "R2,D3,044,800,500,490,10,290,150,50"  # the station number was mistyped before
    m = pair(tmp_path, ROWS, new)
    cmp = compare(m.previous[0], m)
    assert cmp.counts["rekeyed"] == 1 and cmp.counts["added"] == 0
    [f] = codes(rev(m), "REV001")
    assert f.key == "rekeyed" and f.severity == "info" and "reappears as R2/D3/044" in f.message


def test_duplicated_key_replaced_by_the_right_key(tmp_path: Path) -> None:
    # Georgia nov13 → nov14: a second copy of (24, 23) gave way to (25, 33).
    old = [*ROWS, ROWS[3]]
    new = [*ROWS, "R2,D4,006,700,300,290,10,100,100,90"]
    m = pair(tmp_path, old, new)
    cmp = compare(m.previous[0], m)
    pr = cmp.pairs.filter(pl.col("status") == "rekeyed")
    assert pr.select("old_id", "new_id", "method").row(0) == ("R2/D3/004#2", "R2/D4/006",
                                                              "rekeyed-duplicate")
    assert cmp.counts["uncertain"] == 1
    run = rev(m)
    [f] = codes(run, "REV001")
    assert "repeated the first copy's numbers" in f.message
    assert codes(run, "REV002") == []  # a different station's numbers are not a revision


def test_empty_cell_filled_in_is_a_revision(tmp_path: Path) -> None:
    old = [*ROWS]
    old[0] = "R1,D1,001,,600,590,10,354,205,31"
    [f] = codes(rev(pair(tmp_path, old, ROWS)), "REV002")
    assert "registered empty → 1,000" in f.message and f.delta is None


def test_keyless_releases_matched_by_position_and_content(tmp_path: Path) -> None:
    prof = tmp_path / "keyless.toml"
    prof.write_text(KEYLESS_PROFILE, encoding="utf-8")
    header = "region,valid,Alpha,Beta\n"
    old = ["N,100,60,40", "N,200,150,50", "N,300,100,200", "S,400,300,100", "S,500,250,250"]
    # A row inserted at the top, the third station revised (100 → 110 Alpha).
    new = ["N,50,25,25", "N,100,60,40", "N,200,150,50", "N,310,110,200", "S,400,300,100",
           "S,500,250,250"]
    m = pair(tmp_path, old, new, str(prof), header)
    cmp = compare(m.previous[0], m)
    assert cmp.keyless
    c = cmp.counts
    assert (c["same"], c["changed"], c["added"], c["removed"], c["uncertain"]) == (4, 1, 1, 0, 1)
    assert cmp.summary()["uncertain_share"] == 0.2
    run = rev(m)
    [f2] = codes(run, "REV002")
    assert f2.unit_id == "row 5" and f2.severity == "info"  # row 4 before, row 5 now
    assert "was row 4" in f2.message and "matched by position only" in f2.message
    [f1] = codes(run, "REV001")
    assert (f1.key, f1.unit_id) == ("added", "row 2")


def test_cumulative_count_decreased(tmp_path: Path) -> None:
    new = [*ROWS]
    new[1] = "R1,D1,002,1000,590,580,10,350,190,40"
    run = rev(pair(tmp_path, ROWS, new))
    keys = {f.key: f for f in codes(run, "REV003")}
    # Nationally: ballots cast, valid, votes and Beta; in R1 the same counts (no choices).
    assert set(keys) == {"national:ballots_cast", "national:valid", "national:votes",
                         "national:votes:Beta", "region:ballots_cast", "region:valid",
                         "region:votes"}
    beta = keys["national:votes:Beta"]
    assert (beta.expected, beta.observed, beta.delta, beta.choice) == (765, 745, -20, "Beta")


def test_messages_name_the_contest_of_a_multi_contest_release(tmp_path: Path) -> None:
    new = [*ROWS]
    new[1] = "R1,D1,002,1000,590,580,10,350,190,40"
    m = pair(tmp_path, ROWS, new)
    # the same release as two contests (first and second vote), the second unchanged
    def two(x: Model) -> Model:
        x.units = pl.concat([x.units, x.units.with_columns(pl.lit("second").alias("contest"))])
        x.votes = pl.concat([x.votes, x.votes.with_columns(pl.lit("second").alias("contest"))])
        return x
    two(m)
    two(m.previous[0])
    run = rev(m)
    r2 = codes(run, "REV002")
    assert len(r2) == 2
    assert all(f"({f.contest})" in f.message for f in r2)
    assert {f.message.split(" changed")[0] for f in r2} == {"3 numbers"}
    beta = [f for f in codes(run, "REV003") if f.key == "national:votes:Beta"]
    assert sorted(f.message.split(" went")[0] for f in beta) == [
        "Σ votes for Beta overall in national", "Σ votes for Beta overall in second"]
    # REV004 without newly reported units: no "between x % and x %"
    r4 = [f for f in codes(run, "REV004") if f.key == "national" and f.choice == "Beta"]
    assert len(r4) == 2 and all("no unit was newly reported" in f.message for f in r4)
    assert all("between" not in f.message for f in r4)


def test_share_band_of_new_units(tmp_path: Path) -> None:
    # Old: Alpha 1,354 of 2,290. One new station with 20 votes; station 002 rewritten.
    new = [*ROWS]
    new[1] = "R1,D1,002,1000,610,600,10,300,260,40"
    new.append("R2,D3,005,100,20,20,0,10,5,5")
    run = rev(pair(tmp_path, ROWS, new))
    nat = {f.choice: f for f in codes(run, "REV004") if f.key == "national"}
    a = nat["Alpha"]
    lo = 1354 / (2290 + 20)  # the most the new station could pull Alpha down
    assert a.expected == pytest.approx(round(lo * 100, 4))
    assert a.observed == pytest.approx(round(1314 / 2310 * 100, 4))
    assert a.delta == pytest.approx(round((lo - 1314 / 2310) * 100, 4))
    assert "20 votes in newly reported units" in a.message


def test_new_units_alone_never_trigger_rev004(tmp_path: Path) -> None:
    extra = ["R2,D3,005,1000,900,890,10,800,80,10", "R2,D3,006,1000,900,890,10,10,80,800"]
    run = rev(pair(tmp_path, ROWS, [*ROWS, *extra]))
    assert codes(run, "REV004") == [] and codes(run, "REV003") == []
    assert len(codes(run, "REV001")) == 2


def test_rev006_threshold_flip_and_seats(tmp_path: Path) -> None:
    # synthetic profile: 100 seats, 5 % of valid votes, D'Hondt.
    old = ["R1,D1,001,1000,600,590,10,350,210,30", "R1,D1,002,1000,610,600,10,355,215,30"]
    new = [*old, "R1,D1,003,1000,600,590,10,400,190,0"]
    run = rev(pair(tmp_path, old, new))
    f6 = {f.key: f for f in codes(run, "REV006") if f.choice == "Gamma"}
    assert f6["threshold"].expected == pytest.approx(round(60 / 1190 * 100, 4))
    assert f6["threshold"].observed == pytest.approx(round(60 / 1780 * 100, 4))
    assert (f6["seats"].expected, f6["seats"].observed) == (5, 0)


def test_totals_per_region(tmp_path: Path) -> None:
    m = load([write(tmp_path / "a.csv", ROWS)], LoadOptions())
    t = totals(m, "region")
    got = {(r["region"], r["measure"]): r["value"] for r in t.iter_rows(named=True)}
    assert got[("R1", "units_reported")] == 3 and got[("R2", "votes:Alpha")] == 290
    assert got[("R1", "valid")] == 1800


def test_diff_command_writes_findings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write(tmp_path / "a.csv", ROWS)
    new = [*ROWS]
    new[2] = "R1,D2,003,1000,620,610,10,361,199,50"
    b = write(tmp_path / "b.csv", new)
    c = write(tmp_path / "c.csv", new[:3])
    out = tmp_path / "out"
    assert main(["diff", str(a), str(b), str(c), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "a.csv → b.csv: matched 4 units by key: 3 same, 1 changed" in text
    doc = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    got = sorted((f["code"], f["key"].split("|")[0]) for f in doc["findings"])
    assert ("REV002", "a.csv → b.csv") in got and ("REV001", "b.csv → c.csv") in got
    assert len(doc["summary"]["revisions"]) == 2
    assert main(["diff", str(a)]) == 2


def test_chain_hashes_and_skips_identical(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    snaps = tmp_path / "snaps"
    snaps.mkdir()
    write(snaps / "2025-01-01-10-00.csv", ROWS[:2])
    write(snaps / "2025-01-01-10-10.csv", ROWS[:2])  # byte-identical: skipped
    write(snaps / "2025-01-01-10-20.csv", ROWS)
    (snaps / "SOURCE.md").write_text("not a snapshot", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["chain", str(snaps), "--out", str(out), "--only", "REV"]) == 0
    doc = json.loads((out / "chain.json").read_text(encoding="utf-8"))
    s = doc["snapshots"]
    assert [e["file"] for e in s] == ["2025-01-01-10-00.csv", "2025-01-01-10-10.csv",
                                      "2025-01-01-10-20.csv"]
    assert doc["skipped_identical"] == 1 and doc["n_distinct"] == 2
    assert s[1]["identical_to_previous"] and s[1]["sha256"] == s[0]["sha256"]
    assert s[2]["previous_sha256"] == s[1]["sha256"] and s[0]["previous_sha256"] is None
    assert [e.get("units_reported") for e in s] == [{"national": 2}, None, {"national": 4}]
    assert s[2]["totals"]["national"]["votes:Alpha"] == 1354
    assert s[2]["revisions"]["added"] == 2
    assert len({e["chain_sha256"] for e in s}) == 3 and doc["chain_sha256"] == s[2]["chain_sha256"]
    assert "identical to the previous snapshot, skipped" in capsys.readouterr().out


def test_shuffled_large_release_matches_entirely(tmp_path: Path) -> None:
    # 5,000 stations in another row order still match entirely, by key.
    df = generate(n_stations=5000, seed=3)
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    df.write_csv(a)
    df.sample(fraction=1.0, shuffle=True, seed=1).write_csv(b)
    m = load([b], LoadOptions())
    m.previous = [load([a], LoadOptions())]
    cmp = compare(m.previous[0], m)
    assert cmp.counts["same"] == 5000 and cmp.counts["changed_cells"] == 0


def test_wide_votes_fast_path_equals_pivot(tmp_path: Path) -> None:
    m = load([write(tmp_path / "a.csv", ROWS)], LoadOptions())
    fast = wide_votes(m.votes).sort("unit_id")
    shuffled = m.votes.collect().sample(fraction=1.0, shuffle=True, seed=2).lazy()
    slow = wide_votes(shuffled).sort("unit_id").select(fast.columns)
    assert fast.equals(slow)
    assert fast.columns == ["contest", "unit_id", "v:Alpha", "v:Beta", "v:Gamma"]
    assert fast["v:Beta"].to_list() == [205, 210, 200, 150]


def test_a_release_whose_regions_are_text_compares_with_one_whose_regions_are_categorical(
        tmp_path: Path) -> None:
    # A wide file holds its hierarchy as categoricals; a release read otherwise (long format,
    # a model built by hand) may hold text. Every REV check runs, with the same findings.
    new = [*ROWS]
    new[1] = "R1,D1,002,1000,610,600,10,300,260,40"
    m = pair(tmp_path, ROWS, new)
    assert m.units.collect_schema()["region"] == pl.Categorical
    want = sorted((f.code, f.key, f.message) for f in rev(m).findings)
    old = m.previous[0]
    text = replace(old, units=old.units.with_columns(pl.col("region", "district").cast(pl.String)),
                   _schema_cache={})
    run = rev(replace(m, previous=[text], _schema_cache={}))
    assert [c.code for c in run.checks if c.status == "failed"] == []
    assert sorted((f.code, f.key, f.message) for f in run.findings) == want
    assert {"REV002", "REV004"} <= {c for c, _, _ in want}
