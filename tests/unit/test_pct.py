"""PCT checks on tiny tables: impossible shares, sums and their denominators, recomputation."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from auditor.engine import audit, prepare
from auditor.findings import Finding
from auditor.ingest import LoadOptions, load
from auditor.ingest.published import is_published_table, sidecar_of, with_sidecars

STATIONS = """region,district,station,registered,ballots_cast,valid,invalid,Alpha,Beta,Against
R1,D1,001,1000,600,590,10,300,200,90
R1,D1,002,1000,610,600,10,310,200,90
R1,D1,003,1000,620,610,10,320,200,90
"""
# Totals: ballots 1,830, valid 1,800, invalid 30, Alpha 930, Beta 600, Against 270.
VOTES = {"Alpha": 930, "Beta": 600, "Against": 270}
HEADER = "contest,level,unit_id,choice,measure,value,base,decimals,field\n"
PROFILE = """name = "pct-test"
extends = "synthetic"
[rules]
against_all = "Against"
percent_base = "ballots_cast"
"""


def _published(shares: dict[str, str], base: str = "ballots_cast",
               counts: dict[str, int] | None = None, invalid: str | None = None,
               fld: str = "percent") -> str:
    rows = [f"national,total,,,{k},{v},,,{k}" for k, v in (counts or {}).items()]
    rows += [f"national,total,,{c},votes,{VOTES[c]},,,votes" for c in shares]
    rows += [f"national,total,,{c},percent,{p},{base},2,{fld}" for c, p in shares.items()]
    if invalid is not None:
        rows.append(f"national,total,,,percent,{invalid},{base},2,invalid")
    return HEADER + "\n".join(rows) + "\n"


def _run(tmp_path: Path, published: str, code: str, profile: bool = True) -> list[Finding]:
    csv = tmp_path / "release.csv"
    csv.write_text(STATIONS, encoding="utf-8")
    (tmp_path / "release.published.csv").write_text(published, encoding="utf-8")
    opts = LoadOptions()
    if profile:
        prof = tmp_path / "pct-test.toml"
        prof.write_text(PROFILE, encoding="utf-8")
        opts = LoadOptions(profile=str(prof))
    m = load([csv], opts)
    prepare(m)
    run = audit(m, only=[code])
    failed = [s for s in run.checks if s.status == "failed"]
    assert not failed, failed
    return [f for f in run.findings if f.code == code]


def _shares(base_value: int, **override: str) -> dict[str, str]:
    out = {c: f"{100 * v / base_value:.2f}" for c, v in VOTES.items()}
    out.update(override)
    return out


# --- the published-figures table ---------------------------------------------------------

def test_published_table_is_recognised_and_sidecar_found(tmp_path: Path) -> None:
    assert is_published_table(["contest", "choice", "measure", "value", "base"])
    assert not is_published_table(["region", "measure", "value"])
    a = tmp_path / "r.csv"
    a.write_text(STATIONS)
    assert sidecar_of(a) is None
    side = tmp_path / "r.published.csv"
    side.write_text(HEADER)
    assert sidecar_of(a) == side
    assert with_sidecars([a]) == [a, side]
    assert with_sidecars([a, side]) == [a, side]  # named explicitly: not added twice


def test_published_figures_are_loaded_with_base_and_decimals(tmp_path: Path) -> None:
    csv = tmp_path / "release.csv"
    csv.write_text(STATIONS)
    (tmp_path / "release.published.csv").write_text(
        _published(_shares(1830), invalid="1.64", counts={"ballots_cast": 1830}))
    m = load([csv])
    pub = m.published.collect()
    assert pub.height == 1 + 3 + 3 + 1
    row = pub.filter((pl.col("choice") == "Alpha") & (pl.col("measure") == "percent"))
    assert row["value"].to_list() == [50.82]
    assert row["base"].to_list() == ["ballots_cast"] and row["decimals"].to_list() == [2]
    assert m.profile is not None and m.profile.name == "synthetic"  # from the station file
    assert [i.rows_published for i in m.inputs] == [0, 8]


# --- PCT001 ------------------------------------------------------------------------------

def test_pct001_flags_above_100_negative_and_not_finite(tmp_path: Path) -> None:
    text = HEADER + "".join(
        f"national,total,,{c},percent,{v},ballots_cast,2,percent\n"
        for c, v in (("Alpha", "117.11"), ("Beta", "inf"), ("Against", "-0.50")))
    text += "national,total,,,turnout_percent,nan,registered,2,turnout\n"
    text += "national,total,,,turnout_percent,100.00,registered,2,turnout2\n"
    fs = _run(tmp_path, text, "PCT001")
    finite = [(f.choice or "", f.observed) for f in fs
              if f.observed is not None and math.isfinite(f.observed)]
    assert sorted(finite) == [("Against", -0.5), ("Alpha", 117.11)]
    assert len(fs) == 4  # inf and NaN are findings too
    msgs = " | ".join(f.message for f in fs)
    assert "117.11 %: a share cannot exceed 100 %" in msgs
    assert "infinite" in msgs and "not a number" in msgs and "negative" in msgs


def test_pct001_accepts_0_and_100(tmp_path: Path) -> None:
    text = HEADER + "national,total,,Alpha,percent,100.00,valid,2,percent\n" \
        "national,total,,Beta,percent,0.00,valid,2,percent\n"
    assert _run(tmp_path, text, "PCT001") == []


# --- PCT002 ------------------------------------------------------------------------------

def test_pct002_correct_shares_give_nothing(tmp_path: Path) -> None:
    pub = _published(_shares(1830), invalid="1.64", counts={"ballots_cast": 1830})
    assert _run(tmp_path, pub, "PCT002") == []


def test_pct002_stale_denominator_140(tmp_path: Path) -> None:
    # The portal divides the 1,830 ballots' votes by 1,307, the ballots of an earlier refresh.
    pub = _published(_shares(1307), invalid=f"{100 * 30 / 1307:.2f}",
                     counts={"ballots_cast": 1307})
    fs = _run(tmp_path, pub, "PCT002")
    assert len(fs) == 1
    f = fs[0]
    assert f.severity == "error" and f.observed == pytest.approx(140.03, abs=0.01)
    assert f.message.startswith("published shares sum to 140.0 % of ballots cast (1,307)")
    assert "they sum to 100.0 % of ballots in the 3 reported units (1,830)" in f.message
    assert "the denominator is wrong" in f.message
    assert f.votes_affected == 1830 - 1307


def test_pct002_lost_fourteen_percent(tmp_path: Path) -> None:
    pub = _published(_shares(2128), invalid=f"{100 * 30 / 2128:.2f}",
                     counts={"ballots_cast": 2128})
    (f,) = _run(tmp_path, pub, "PCT002")
    assert "sum to 86.0 % of ballots cast (2,128)" in f.message
    assert "100.0 % of ballots in the 3 reported units" in f.message


def test_pct002_rounding_allowance(tmp_path: Path) -> None:
    # 4 figures with 2 decimals may miss 100 by up to 4 × 0.005 = 0.02 points.
    ok = _shares(1830, Alpha="50.83")  # 100.01
    assert _run(tmp_path, _published(ok, invalid="1.64"), "PCT002") == []
    off = _shares(1830, Alpha="50.90")  # 100.08
    (f,) = _run(tmp_path, _published(off, invalid="1.64"), "PCT002")
    assert f.observed == pytest.approx(100.08, abs=1e-6)


def test_pct002_partial_list_only_fails_above_100(tmp_path: Path) -> None:
    two = {"Alpha": "50.82", "Beta": "32.79"}  # the 3rd choice and invalid not printed
    assert _run(tmp_path, _published(two), "PCT002") == []
    (f,) = _run(tmp_path, _published({"Alpha": "70.00", "Beta": "40.00"}), "PCT002")
    assert f.observed == pytest.approx(110.0)


def test_pct002_names_valid_without_against_all(tmp_path: Path) -> None:
    # All three lines printed as shares of "valid", but computed on 1,530 = valid − against
    # all: they sum to 117.7 %, and 1,530 is the base that reproduces them.
    shares = {c: f"{100 * v / 1530:.2f}" for c, v in VOTES.items()}
    (f,) = _run(tmp_path, _published(shares, base="valid"), "PCT002")
    assert f.message.startswith("published shares sum to 117.7 % of valid votes (1,800)")
    assert "shares of valid votes without against-all (1,530)" in f.message


# --- PCT003 ------------------------------------------------------------------------------

def test_pct003_exact_shares_give_nothing(tmp_path: Path) -> None:
    pub = _published(_shares(1830), invalid="1.64", counts={"ballots_cast": 1830})
    assert _run(tmp_path, pub, "PCT003") == []


def test_pct003_wrong_share_is_an_error_with_the_recomputed_value(tmp_path: Path) -> None:
    pub = _published(_shares(1830, Alpha="52.00"), invalid="1.64")
    (f,) = _run(tmp_path, pub, "PCT003")
    assert f.severity == "error" and f.choice == "Alpha"
    assert f.expected == pytest.approx(100 * 930 / 1830)
    assert "52.00 % ≠ 50.82 % recomputed (930 / 1,830 ballots cast)" in f.message
    assert f.votes_affected == 22  # 52.00 % of 1,830 is 951.6 ballots, 21.6 more than 930


def test_pct003_shares_of_valid_stated_as_ballots_are_explained(tmp_path: Path) -> None:
    pub = _published(_shares(1800))  # stated "ballots_cast", really shares of valid votes
    (f,) = _run(tmp_path, pub, "PCT003")
    assert f.severity == "info"
    assert "computed on valid votes (1,800), not on ballots cast" in f.message


def test_pct003_names_valid_without_against_all(tmp_path: Path) -> None:
    shares = {"Alpha": f"{100 * 930 / 1530:.2f}", "Beta": f"{100 * 600 / 1530:.2f}"}
    (f,) = _run(tmp_path, _published(shares, base="valid"), "PCT003")
    assert f.severity == "info"
    assert "computed on valid votes without against-all (1,530), not on valid votes" \
        in f.message


def test_pct003_unstated_base_is_inferred(tmp_path: Path) -> None:
    (f,) = _run(tmp_path, _published(_shares(1800), base=""), "PCT003")
    assert f.severity == "info" and "valid votes (1,800)" in f.message


def test_pct003_stated_other_base_than_the_commission(tmp_path: Path) -> None:
    (f,) = _run(tmp_path, _published(_shares(1800), base="valid", fld="encyclopaedia"),
                "PCT003")
    assert f.severity == "info" and f.choice == "Alpha"
    assert "of valid votes (1,800), not of ballots cast (1,830)" in f.message
    assert "51.67 % of valid votes is 50.82 % of ballots cast" in f.message


def test_pct003_without_profile_accepts_any_exact_base(tmp_path: Path) -> None:
    findings: Any = _run(tmp_path, _published(_shares(1800), base=""), "PCT003",
                         profile=False)
    assert findings == []


def test_unit_level_percent_columns_are_checked_per_unit(tmp_path: Path) -> None:
    # A table printing each station's shares of valid votes in columns next to the counts.
    csv = tmp_path / "stations.csv"
    csv.write_text(
        "region,district,station,registered,ballots_cast,valid,invalid,Alpha,Beta,"
        "pct_Alpha,pct_Beta\n"
        "R1,D1,001,1000,600,590,10,300,290,50.85,49.15\n"
        "R1,D1,002,1000,610,600,10,310,290,61.67,58.33\n", encoding="utf-8")
    prof = tmp_path / "p.toml"
    prof.write_text('name = "unit-pct"\nextends = "synthetic"\n[choices]\nrest = false\n'
                    'columns = ["Alpha", "Beta"]\n[published]\npercent = [\n'
                    ' { column = "pct_Alpha", base = "valid", decimals = 2, choice = "Alpha" },\n'
                    ' { column = "pct_Beta", base = "valid", decimals = 2, choice = "Beta" },\n]\n',
                    encoding="utf-8")
    m = load([csv], LoadOptions(profile=str(prof)))
    prepare(m)
    run = audit(m, only=["PCT002", "PCT003"])
    (sum_f,) = [f for f in run.findings if f.code == "PCT002"]
    assert sum_f.unit_id == "R1/D1/002" and sum_f.observed == pytest.approx(120.0)
    # Station 002's shares are of 502.7 votes: no count of the station gives them.
    assert "no count of this release makes them sum to 100 %" in sum_f.message
    pct003 = sorted(f.choice or "" for f in run.findings if f.code == "PCT003")
    assert pct003 == ["Alpha", "Beta"]


def test_pct003_unstated_base_is_checked_on_the_commissions_base(tmp_path: Path) -> None:
    (f,) = _run(tmp_path, _published(_shares(1830, Beta="40.00"), base=""), "PCT003")
    assert f.severity == "error" and f.choice == "Beta"
    assert "≠ 32.79 % recomputed (600 / 1,830 ballots cast, the commission's base (none is " \
        "printed))" in f.message


def test_pct003_no_base_printed_or_known_and_none_fits(tmp_path: Path) -> None:
    (f,) = _run(tmp_path, _published(_shares(1830, Beta="40.00"), base=""), "PCT003",
                profile=False)
    assert f.severity == "error" and f.expected is None
    assert "Beta's published 40.00 % is no share of the counts of this release" in f.message
