"""REV on real releases: the figures each dataset's SOURCE.md states, and how ours differ.

Georgia 2024 (three volunteer releases), Russia 2021/2024 (first and final scrape), Baden-
Württemberg 2025 (18 election-night snapshots), Kloop 2020 (no keys) and Delaware 2016
(OpenElections, two releases), plus the Kyrgyz 2021 reconstruction in fixtures/kg2021.
"""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from auditor.commands.diff import audit_chain, diff_releases, materialize
from auditor.engine import audit
from auditor.findings import AuditRun
from auditor.ingest import LoadOptions, load
from auditor.model import Model
from auditor.revisions import Comparison, compare
from tests.conftest import data_file

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
GE = "ge_2024_parliament_sichinava/georgia_parliamentary_elections_{}_2024.xlsx"
RU = "ru_shpilkin_kobak/"
KG = "kg_2020_parliament_kloop/PARTIES_RESULTS_REACT_LEVEL_ONE{}.csv"
DE = "us_de_2016_openelections/20161108__de__general__precinct{}.csv"
EVOTING = "Дистанционное электронное голосование"


def loaded(rel: str, profile: str) -> Model:
    return materialize(load([data_file(rel)], LoadOptions(profile=profile)))


def with_previous(old: Model, new: Model) -> Model:
    new.previous = [old]
    return new


# --- Georgia 2024 -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def georgia() -> dict[str, Model]:
    return {d: loaded(GE.format(d), "ge-cec-2024") for d in ("nov13", "nov14", "nov15")}


@pytest.mark.parametrize(("a", "b", "changed", "rekeyed"), [
    ("nov13", "nov14", 86, 1), ("nov14", "nov15", 26, 0), ("nov13", "nov15", 112, 1)])
def test_georgia_changed_precincts(georgia: dict[str, Model], a: str, b: str, changed: int,
                                   rekeyed: int) -> None:
    cmp = compare(georgia[a], georgia[b])
    c = cmp.counts
    # SOURCE.md: 86, 26 and 112 precincts changed in numeric fields; ours are the same.
    assert (c["changed"], c["rekeyed"], c["added"], c["removed"]) == (changed, rekeyed, 0, 0)
    assert c["same"] + c["changed"] + c["rekeyed"] == 3110


def test_georgia_duplicate_key_fix_is_a_rekeyed_unit(georgia: dict[str, Model]) -> None:
    m = with_previous(georgia["nov13"], georgia["nov14"])
    run = audit(m, only=["REV001", "REV002"])
    [f] = [f for f in run.findings if f.code == "REV001"]
    # nov13 row 2529 is an exact copy of (24, 23); nov14 drops it and adds (25, 33).
    assert (f.key, f.unit_id, f.severity) == ("rekeyed", "25/33", "info")
    assert "24/23#2" in f.message and "repeated the first copy's numbers" in f.message
    assert len({g.unit_id for g in run.findings if g.code == "REV002"}) == 86
    m.previous = []


# --- Russia 2021 and 2024 ----------------------------------------------------------------

@pytest.fixture(scope="module")
def russia2021() -> Comparison:
    a = loaded(RU + "2021_release1_commit4e88b198.csv.zip", "ru-duma-2021")
    b = loaded(RU + "2021.csv.zip", "ru-duma-2021")
    return compare(a, b)


def test_russia_2021_release1_to_final(russia2021: Comparison) -> None:
    p, c = russia2021.pairs, russia2021.counts
    added = p.filter(pl.col("status") == "added")
    assert (c["changed"], c["removed"], c["rekeyed"]) == (16, 0, 0)
    assert added.height == 220
    assert added.filter(pl.col("region") == "Тамбовская область").height == 197
    # SOURCE.md counts 208 added keys (region, tik, uik): the 18 e-voting pseudo-stations
    # added in the final have an empty uik and share 6 such keys; the profile names them by
    # their OIK, so we count 202 stations + 18 e-voting rows = 220 units.
    ev = added.filter(pl.col("new_id").str.contains(EVOTING))
    assert ev.height == 18 and added.height - ev.height == 202
    raw_keys = ev.select(pl.col("new_id").str.split("/").list.slice(0, 2).list.join("/"))
    assert raw_keys.n_unique() == 6 and 202 + 6 == 208
    assert russia2021.counts["changed_cells"] == 67


def test_russia_2024_release1_to_final() -> None:
    a = loaded(RU + "2024_release1_commit3edf9851.csv.zip", "ru-president-2024")
    b = loaded(RU + "2024.csv.zip", "ru-president-2024")
    c = compare(a, b).counts
    # SOURCE.md: 959 keys only in the final, 286 only in release 1, 100 common stations with
    # changed numbers. Ours: the 286 reappear under new keys with identical numbers
    # (re-keyed, 279 of them abroad); the 100 were listed empty in release 1 (newly
    # reported); of the 959 new keys 286 are the re-keyed ones, 30 are stations with numbers
    # and the rest are listed without any number (rejected as INPUT002).
    assert (c["rekeyed"], c["reported"], c["added"], c["removed"], c["changed"]) == (
        286, 100, 30, 0, 0)
    assert (c["old_units"], c["new_units"]) == (91816, 91946)


# --- Baden-Württemberg 2025: the chain of 18 snapshots ----------------------------------

@pytest.fixture(scope="module")
def bw_chain() -> dict[str, Any]:
    folder = data_file("de_btw25_bw_snapshots/2025-03-13-12-59-36-btw25-bw-gemeinden.csv").parent
    doc, _ = audit_chain(folder, "de-bw-btw25", only="REV")
    return doc


def test_bw_chain_progress_and_hashes(bw_chain: dict[str, Any]) -> None:
    s = bw_chain["snapshots"]
    assert len(s) == 18 and bw_chain["skipped_identical"] == 0
    progress = [e["units_reported"].get("Zweitstimmen", 0) for e in s]
    # SOURCE.md counts rows with numbers including the `BW` state-total row (present in the
    # last two snapshots only): 0 … 1,103, 1,105, 1,105. Without it:
    assert progress == [0, 0, 69, 107, 141, 159, 207, 278, 354, 411, 518, 635, 817, 883, 948,
                        1103, 1104, 1104]
    assert all(e["previous_sha256"] == p["sha256"] for p, e in itertools.pairwise(s))


def test_bw_no_decrease_on_election_night(bw_chain: dict[str, Any]) -> None:
    s = bw_chain["snapshots"]
    night = [f for e in s[:-1] for f in e["findings"] if f["code"] in ("REV001", "REV002",
                                                                       "REV003")]
    assert night == []
    dec = sorted((f["contest"], f["key"]) for f in s[-1]["findings"] if f["code"] == "REV003")
    # The official final lowers invalid votes, the electorate and four small parties.
    assert dec == [
        ("Erststimmen", "national:invalid"), ("Erststimmen", "national:registered"),
        ("Zweitstimmen", "national:invalid"), ("Zweitstimmen", "national:registered"),
        ("Zweitstimmen", "national:votes:BÜNDNIS_DEUTSCHLAND"),
        ("Zweitstimmen", "national:votes:Bündnis_C"), ("Zweitstimmen", "national:votes:MLPD"),
        ("Zweitstimmen", "national:votes:dieBasis")]


def test_bw_preliminary_to_final(bw_chain: dict[str, Any]) -> None:
    prelim, final = bw_chain["snapshots"][-2], bw_chain["snapshots"][-1]
    assert prelim["file"].startswith("2025-02-24-01-42-40")
    # SOURCE.md: Σ BSW second votes 519,576 → 520,438 including the BW row (twice the state).
    bsw = (prelim["totals"]["Zweitstimmen"]["votes:BSW"], final["totals"]["Zweitstimmen"]["votes:BSW"])
    assert bsw == (259_788, 260_219) and (2 * bsw[0], 2 * bsw[1]) == (519_576, 520_438)
    inv = (prelim["totals"]["Zweitstimmen"]["invalid"], final["totals"]["Zweitstimmen"]["invalid"])
    assert (2 * inv[0], 2 * inv[1]) == (66_262, 64_896)
    rev2 = [f for f in final["findings"] if f["code"] == "REV002"]
    assert len({f["unit_id"] for f in rev2}) == 243


def test_bw_changed_vote_columns_are_237_rows() -> None:
    d = "de_btw25_bw_snapshots/{}-btw25-bw-gemeinden.csv"
    a = loaded(d.format("2025-02-24-01-42-40"), "de-bw-btw25")
    b = loaded(d.format("2025-03-13-12-59-36"), "de-bw-btw25")
    cells = compare(a, b).cells
    # SOURCE.md's 237 rows with changed vote columns = 236 municipalities + the BW row; 7
    # more municipalities changed only their electorate (243 in all).
    votes = cells.filter(pl.col("field") != "registered")
    assert votes["new_id"].n_unique() == 236
    assert cells["new_id"].n_unique() == 243


# --- Kloop 2020: no keys ------------------------------------------------------------------

@pytest.fixture(scope="module")
def kloop() -> dict[str, Model]:
    return {
        "13": loaded(KG.format("__2020-10-13_commit33dc3caf"), "kg-kloop-2020"),
        "29": loaded(KG.format("__2020-10-29_commit9ef5a011"), "kg-kloop-2020"),
        "new": loaded(KG.format("_NEW__2020-10-29_commit9ef5a011"), "kg-kloop-2020"),
    }


def test_kloop_matched_without_keys(kloop: dict[str, Model]) -> None:
    cmp = compare(kloop["13"], kloop["29"])
    s = cmp.summary()
    assert cmp.keyless and (s["old_units"], s["new_units"]) == (2399, 2413)
    assert (s["same"], s["changed"], s["added"], s["removed"]) == (1987, 353, 73, 59)
    assert s["uncertain"] == 353 and s["uncertain_share"] == 0.1509
    # Release 1 has no station abroad; the 29 Oct release adds the 45 МИД КР rows.
    added = cmp.pairs.filter(pl.col("status") == "added")
    assert added.filter(pl.col("region") == "МИД КР").height == 45
    # SOURCE.md: the first row's Birimdik 83 → 85, total 924 → 931.
    first = cmp.cells.filter(pl.col("new_id") == "row 2")
    got = {r["field"]: (r["old"], r["new"]) for r in first.iter_rows(named=True)}
    assert got["«БИРИМДИК»"] == (83, 85) and got["valid"] == (924, 931)


def test_kloop_form2_percent_redefined(kloop: dict[str, Model]) -> None:
    run = audit(with_previous(kloop["29"], kloop["new"]), only=["REV"])
    assert run.summary["revisions"]["same"] == 2413
    [f] = [f for f in run.findings if f.code == "REV005"]
    assert (f.key, f.observed) == ("form2_percent", 2371)
    assert f.delta is not None and 0.5 < f.delta < 0.6
    # 36 finite values above 100; the 2 infinite ones are counted apart (not twice)
    assert "values above 100: 36 → 0" in f.message and "infinite: 2 → 0" in f.message
    assert [g.code for g in run.findings] == ["REV005"]
    kloop["new"].previous = []


# --- Delaware 2016 (OpenElections) -------------------------------------------------------

def test_delaware_release1_to_current() -> None:
    run = diff_releases([data_file(DE.format("__release1_commitdb9f183a")),
                         data_file(DE.format(""))], "openelections")
    rows = {i.path.rsplit("/", 1)[-1]: i for i in run.inputs}
    r1, cur = rows["20161108__de__general__precinct__release1_commitdb9f183a.csv"], rows[
        "20161108__de__general__precinct.csv"]
    # 9,426 = 7,056 candidate rows + 2,370 per-district `candidate = Total` rows;
    # 7,153 = the same 7,056 candidate rows + 97 `election_district = Total` contest totals.
    assert (r1.rows_read, r1.rows_in_model, r1.rows_published) == (9426, 7056, 2370)
    assert (cur.rows_read, cur.rows_in_model, cur.rows_published) == (7153, 7056, 97)
    s = run.summary["revisions"]
    # Names went from upper case (CLINTON H) to mixed case (Clinton H); no vote changed.
    assert (s["same"], s["changed"], s["choices_renamed"], s["fields_compared"]) == (
        2370, 0, 97, 97)
    assert s["notes"] == ["vote breakdown column(s) only in the new release, not compared: "
                          "absentee, election_day"]
    assert (s["published_rows_old"], s["published_rows_new"]) == (2370, 97)
    assert all(v.get("changed", 0) == 0 for v in s["by_contest"].values())
    assert run.findings == []


# --- Kyrgyzstan 2021 (reconstruction) ----------------------------------------------------

@pytest.fixture(scope="module")
def kg2021() -> AuditRun:
    rel = ROOT / "fixtures" / "kg2021" / "releases"
    names = ("1-glitch-140", "2-glitch-86", "3-preliminary", "4-manual-count", "5-final")
    if not all((rel / f"{n}.csv").exists() for n in names):
        pytest.skip("fixtures/kg2021 releases are absent")
    return diff_releases([rel / f"{n}.csv" for n in names])


def _by_pair(run: AuditRun, code: str) -> Counter[tuple[str, str]]:
    return Counter(((f.key or "").split("|")[0].split(" → ")[0], (f.key or "").split("|")[-1])
                   for f in run.findings if f.code == code)


def test_kg2021_glitches_give_rev004(kg2021: AuditRun) -> None:
    c = _by_pair(kg2021, "REV004")
    # 140 % → 86 %: every printed share and their sum moved beyond what 499 new boxes allow;
    # 86 % → preliminary: the sum of printed shares jumped 76.66 % → 89.13 %.
    assert c[("1-glitch-140.csv", "published:sum")] == 1
    assert c[("1-glitch-140.csv", "published:share")] == 22
    assert c[("2-glitch-86.csv", "published:sum")] == 1
    # The station counts themselves only grew: no count-based REV004 on election night.
    assert c[("1-glitch-140.csv", "national")] == c[("2-glitch-86.csv", "national")] == 0
    [s] = [f for f in kg2021.findings if f.code == "REV004" and f.key
           == "2-glitch-86.csv → 3-preliminary.csv|published:sum"]
    assert (s.observed, round(s.expected or 0, 2)) == (89.13, 78.34)


def test_kg2021_threshold_flips_give_rev006(kg2021: AuditRun) -> None:
    flips = sorted((f.key or "", f.choice or "") for f in kg2021.findings
                   if f.code == "REV006" and (f.key or "").endswith("threshold"))
    assert flips == [
        ("1-glitch-140.csv → 2-glitch-86.csv|published-threshold", "Azattyk"),
        ("1-glitch-140.csv → 2-glitch-86.csv|published-threshold", "El Umutu"),
        ("3-preliminary.csv → 4-manual-count.csv|published-threshold", "El Umutu"),
        ("3-preliminary.csv → 4-manual-count.csv|threshold", "El Umutu"),
        ("4-manual-count.csv → 5-final.csv|published-threshold", "El Umutu"),
        ("4-manual-count.csv → 5-final.csv|threshold", "El Umutu"),
    ]
