"""ARITH checks on tiny hand-made models: exact counts of findings at exact units."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from auditor.engine import audit
from auditor.findings import AuditRun
from auditor.model import Model
from auditor.profiles import Profile
from checks._protocol import cast_column
from checks.arith_relations import builtin_identities, own_relations


def model(units: dict[str, list[Any]], votes: dict[str, list[int | None]] | None = None,
          rules: dict[str, Any] | None = None, contest: str = "c") -> Model:
    """A model from columns of units (unit_id first) and votes per choice (aligned lists)."""
    n = len(units["unit_id"])
    u = pl.DataFrame({"contest": [contest] * n, **units,
                      "source_file": [0] * n, "source_row": list(range(2, n + 2))})
    u = u.with_columns(pl.col(c).cast(pl.Int64) for c in units if c not in ("unit_id", "unit_type"))
    rows = []
    for choice, vals in (votes or {}).items():
        for uid, v in zip(units["unit_id"], vals, strict=True):
            rows.append({"contest": contest, "unit_id": uid, "choice": choice, "votes": v})
    v = pl.DataFrame(rows, schema={"contest": pl.String, "unit_id": pl.String,
                                   "choice": pl.String, "votes": pl.Int64})
    prof = Profile(name="t", title="t", description="", rules=rules or {})
    return Model(units=u.lazy(), votes=v.lazy(), profile=prof)


def found(run: AuditRun, code: str) -> list[tuple[str | None, int | None]]:
    return sorted((f.unit_id, f.votes_affected) for f in run.findings if f.code == code)


def status(run: AuditRun, code: str) -> str:
    return next(s.status for s in run.checks if s.code == code)


# ARITH001 ------------------------------------------------------------------------------------

def test_arith001_counts_only_units_whose_choices_do_not_sum_to_valid() -> None:
    m = model({"unit_id": ["a", "b", "c", "d"], "valid": [100, 90, 80, 70]},
              {"X": [60, 50, 40, None], "Y": [40, 44, 40, None]})
    run = audit(m, only=["ARITH001"])
    assert found(run, "ARITH001") == [("b", 4)]  # d: every choice empty, not checked
    f = run.findings[0]
    assert f.observed == 94 and f.expected == 90 and f.delta == 4
    assert f.message == ("votes for all choices sum to 94 but valid ballots are 90 "
                         "(4 more votes than valid ballots)")


def test_arith001_message_with_thousands_and_more_votes() -> None:
    m = model({"unit_id": ["a"], "valid": [1200]}, {"X": [1000], "Y": [234]})
    run = audit(m, only=["ARITH001"])
    assert run.findings[0].message == ("votes for all choices sum to 1,234 but valid ballots "
                                       "are 1,200 (34 more votes than valid ballots)")


def test_arith001_ignores_empty_choice_cells_in_the_sum() -> None:
    m = model({"unit_id": ["a", "b"], "valid": [100, 100]}, {"X": [100, 60], "Y": [None, 30]})
    assert found(audit(m, only=["ARITH001"]), "ARITH001") == [("b", 10)]


def test_arith001_separate_against_all_count_is_part_of_valid() -> None:
    m = model({"unit_id": ["a", "b"], "valid": [100, 100], "against_all": [10, 10]},
              {"X": [90, 100]})
    assert found(audit(m, only=["ARITH001"]), "ARITH001") == [("b", 10)]


def test_arith001_against_all_choice_excluded_when_valid_excludes_it() -> None:
    rules = {"against_all": "Against all", "valid_includes_against_all": False}
    m = model({"unit_id": ["a", "b"], "valid": [90, 100]},
              {"X": [90, 90], "Against all": [10, 10]}, rules)
    assert found(audit(m, only=["ARITH001"]), "ARITH001") == [("b", 10)]


# ARITH002 ------------------------------------------------------------------------------------

def test_arith002_cast_vs_valid_plus_invalid() -> None:
    m = model({"unit_id": ["a", "b", "c"], "ballots_cast": [110, 110, None],
               "valid": [100, 100, 100], "invalid": [10, 7, 10]}, {"X": [100, 100, 100]})
    run = audit(m, only=["ARITH002"])
    assert found(run, "ARITH002") == [("b", 3)]  # c has an empty cast cell: skipped
    assert run.findings[0].message == ("ballots cast are 110 but valid ballots + invalid "
                                       "ballots add up to 107 (3 more ballots cast than "
                                       "ballots counted)")


def test_arith002_blank_is_added_when_separate_and_not_when_in_invalid() -> None:
    units = {"unit_id": ["a", "b"], "ballots_cast": [115, 110], "valid": [100, 100],
             "invalid": [10, 10], "blank": [5, 5]}
    sep = audit(model(units, {"X": [100, 100]}), only=["ARITH002"])
    assert found(sep, "ARITH002") == [("b", 5)]
    inv = audit(model(units, {"X": [100, 100]}, {"blank_in": "invalid"}), only=["ARITH002"])
    assert found(inv, "ARITH002") == [("a", 5)]


def test_arith002_without_valid_uses_sum_of_choices_and_the_cast_column_rule() -> None:
    # Georgia: voters (signatures) vs parties + invalid.
    m = model({"unit_id": ["a", "b"], "voters": [110, 110], "invalid": [10, 10]},
              {"X": [60, 60], "Y": [40, 43]}, {"cast_column": "voters"})
    run = audit(m, only=["ARITH002"])
    assert found(run, "ARITH002") == [("b", 3)]
    assert run.findings[0].message.startswith("voters are 110 but votes for all choices + "
                                              "invalid ballots add up to 113 (3 fewer voters")


def test_arith002_voters_need_the_profile_to_say_they_are_ballots_cast() -> None:
    m = model({"unit_id": ["a"], "voters": [110], "invalid": [10]}, {"X": [60]})
    run = audit(m, only=["ARITH002"])
    assert status(run, "ARITH002") == "not_applicable"


def test_arith002_cast_column_implied_by_a_declared_relation() -> None:
    rel = [{"name": "v", "lhs": ["voters"], "op": "==", "rhs": ["choices", "invalid"]}]
    m = model({"unit_id": ["a", "b"], "voters": [110, 111], "invalid": [10, 10]},
              {"X": [100, 100]}, {"relations": rel})
    assert cast_column(m) == "voters"
    run = audit(m, only=["ARITH002", "ARITH005"])
    assert found(run, "ARITH002") == [("b", 1)]
    assert found(run, "ARITH005") == []  # the same identity is reported once
    assert status(run, "ARITH005") == "not_applicable"


def test_arith002_against_all_outside_valid_is_a_separate_line() -> None:
    rules = {"valid_includes_against_all": False}
    m = model({"unit_id": ["a", "b"], "ballots_cast": [120, 110], "valid": [100, 100],
               "invalid": [10, 10], "against_all": [10, 10]}, {"X": [100, 100]}, rules)
    assert found(audit(m, only=["ARITH002"]), "ARITH002") == [("b", 10)]


# ARITH003 ------------------------------------------------------------------------------------

def test_arith003_over_registered_with_extra_lists() -> None:
    units = {"unit_id": ["a", "b", "c"], "registered": [100, 100, 0],
             "registered_extra": [5, 5, 0], "voters": [105, 106, 7]}
    run = audit(model(units, rules={"extra_registered": ["registered_extra"]}),
                only=["ARITH003"])
    assert found(run, "ARITH003") == [("b", 1), ("c", 7)]
    msgs = {f.unit_id: f.message for f in run.findings}
    assert msgs["b"] == ("voters are 106 but registered voters + voters on additional lists "
                         "are 105: 1 more than registered (turnout 101.0 %)")
    assert "turnout not defined: no registered voters" in msgs["c"]


def test_arith003_prefers_ballots_cast_then_voters_then_valid_plus_invalid() -> None:
    m = model({"unit_id": ["a"], "registered": [100], "valid": [95], "invalid": [10]})
    run = audit(m, only=["ARITH003"])
    assert found(run, "ARITH003") == [("a", 5)]
    assert run.findings[0].message.startswith("valid + invalid ballots are 105")


def test_arith003_postal_districts_are_not_applicable_not_findings() -> None:
    m = model({"unit_id": ["home", "post"], "unit_type": ["regular", "postal"],
               "registered": [100, 0], "voters": [50, 400]})
    run = audit(m, only=["ARITH003"])
    assert status(run, "ARITH003") == "ok"


def test_arith003_postal_caveat_and_severity_rule() -> None:
    m = model({"unit_id": ["a"], "registered": [2922], "voters": [3233]},
              rules={"postal_counted_at_unit": True, "over_registered_severity": "warning"})
    run = audit(m, only=["ARITH003"])
    f = run.findings[0]
    assert f.severity == "warning" and f.votes_affected == 311
    assert "postal voters (Wahlschein) can make this legal — check" in f.message
    plain = audit(model({"unit_id": ["a"], "registered": [2922], "voters": [3233]}),
                  only=["ARITH003"])
    assert plain.findings[0].severity == "error" and "postal" not in plain.findings[0].message


def test_arith003_postal_voters_column_triggers_the_caveat() -> None:
    m = model({"unit_id": ["a", "b"], "registered": [100, 100], "voters": [120, 120],
               "voters_postal": [30, 0]})
    run = audit(m, only=["ARITH003"])
    cav = {f.unit_id: "Wahlschein" in f.message for f in run.findings}
    assert cav == {"a": True, "b": False}


def test_arith003_one_finding_for_counts_shared_by_two_contests() -> None:
    a = model({"unit_id": ["u"], "registered": [100], "voters": [120]}, contest="first")
    b = model({"unit_id": ["u"], "registered": [100], "voters": [120]}, contest="second")
    m = Model(units=pl.concat([a.units, b.units]), votes=a.votes, profile=a.profile)
    run = audit(m, only=["ARITH003"])
    assert [(f.contest, f.unit_id) for f in run.findings] == [("first", "u")]


# ARITH004 ------------------------------------------------------------------------------------

def test_arith004_voters_over_ballots_received() -> None:
    m = model({"unit_id": ["a", "b", "c"], "ballots_received": [100, 100, None],
               "voters": [100, 112, 500]})
    run = audit(m, only=["ARITH004"])
    assert found(run, "ARITH004") == [("b", 12)]
    assert run.findings[0].message == ("voters (112) exceed ballots received (100) by 12: "
                                       "more ballots out than in")


def test_arith004_chain_received_issued_cast() -> None:
    m = model({"unit_id": ["ok", "issued", "cast"],
               "ballots_received": [100, 100, 100],
               "ballots_issued_early": [0, 10, 0], "ballots_issued_station": [80, 95, 80],
               "ballots_issued_outside": [5, 0, 5],
               "valid": [80, 90, 88], "invalid": [5, 5, 2]})
    run = audit(m, only=["ARITH004"])
    assert sorted((f.unit_id, f.key, f.votes_affected) for f in run.findings) == [
        ("cast", "cast>issued", 5), ("issued", "issued>received", 5)]


# ARITH005 ------------------------------------------------------------------------------------

NOON = {"name": "noon-before-afternoon", "words": "Signatures by 12:00 cannot exceed those "
        "by 17:00.", "lhs": ["voters_by_noon"], "op": "<=", "rhs": ["voters_by_afternoon"],
        "lhs_words": "signatures by 12:00", "rhs_words": "signatures by 17:00"}


def test_arith005_names_the_relation_in_words() -> None:
    m = model({"unit_id": ["a", "b", "c"], "voters_by_noon": [100, 412, None],
               "voters_by_afternoon": [300, 398, 5]}, rules={"relations": [NOON]})
    run = audit(m, only=["ARITH005"])
    assert found(run, "ARITH005") == [("b", 14)]
    f = run.findings[0]
    assert f.key == "noon-before-afternoon"
    assert f.message == ("Signatures by 12:00 cannot exceed those by 17:00, but signatures "
                         "by 12:00 (412) exceed signatures by 17:00 (398) by 14")


def test_arith005_each_relation_has_its_own_fingerprint_and_ops() -> None:
    rels = [
        NOON,
        {"name": "eq", "lhs": ["ballots_mobile", "ballots_stationary"], "op": "==",
         "rhs": ["valid", "invalid"]},
        {"name": "ge", "lhs": ["registered"], "op": ">=",
         "rhs": ["voters_by_afternoon"]},
        {"name": "strict", "lhs": ["voters_by_noon"], "op": "<", "rhs": ["registered"]},
        {"name": "absent", "lhs": ["ballots_lost"], "op": "==", "rhs": ["invalid"]},
    ]
    m = model({"unit_id": ["a", "b"], "voters_by_noon": [500, 10],
               "voters_by_afternoon": [400, 20], "registered": [450, 100],
               "ballots_mobile": [10, 10], "ballots_stationary": [90, 90], "valid": [95, 95],
               "invalid": [5, 6]}, rules={"relations": rels})
    run = audit(m, only=["ARITH005"])
    got = sorted((f.unit_id, f.key, f.votes_affected) for f in run.findings)
    # `ge` holds everywhere and `absent` names a column the table lacks (skipped).
    assert got == [("a", "noon-before-afternoon", 100), ("a", "strict", 50), ("b", "eq", 1)]
    assert len({f.fingerprint for f in run.findings}) == 3


def test_arith005_contest_filter_and_choices_token() -> None:
    rel = {"name": "valid-choices-first", "lhs": ["valid"], "op": ">=", "rhs": ["choices"],
           "contest": "first"}
    a = model({"unit_id": ["u"], "valid": [10]}, {"X": [12]}, contest="first")
    b = model({"unit_id": ["u"], "valid": [10]}, {"X": [12]}, contest="second")
    prof = Profile(name="t", title="t", description="", rules={"relations": [rel]})
    m = Model(units=pl.concat([a.units, b.units]), votes=pl.concat([a.votes, b.votes]),
              profile=prof)
    run = audit(m, only=["ARITH005"])
    assert [(f.contest, f.unit_id, f.votes_affected) for f in run.findings] == [
        ("first", "u", 2)]


def test_builtin_identities_are_not_tested_twice() -> None:
    rels = [
        {"name": "valid-choices", "lhs": ["valid"], "op": "==", "rhs": ["choices"]},
        {"name": "cast", "lhs": ["invalid", "valid"], "op": "==", "rhs": ["ballots_cast"]},
        {"name": "reg", "lhs": ["registered"], "op": ">=", "rhs": ["ballots_cast"]},
        NOON,
    ]
    m = model({"unit_id": ["a"], "registered": [10], "ballots_cast": [10], "valid": [9],
               "invalid": [1], "voters_by_noon": [1], "voters_by_afternoon": [2]},
              {"X": [9]}, {"relations": rels})
    codes = set(builtin_identities(m).values())
    assert codes == {"ARITH001", "ARITH002", "ARITH003"}
    assert [r["name"] for r in own_relations(m)] == ["noon-before-afternoon"]


# ARITH006 ------------------------------------------------------------------------------------

def test_arith006_breakdown_must_add_up_to_votes() -> None:
    votes = pl.DataFrame({
        "contest": ["P"] * 3, "unit_id": ["a", "a", "b"], "choice": ["X", "Y", "X"],
        "votes": [679, 68, 10], "election_day": [636, 64, 5], "absentee": [43, 3, None],
        "party": ["D", "R", "D"], "source_row": [2, 3, 4],
    }).lazy()
    units = pl.DataFrame({"contest": ["P", "P"], "unit_id": ["a", "b"],
                          "source_row": [2, 4]}).lazy()
    run = audit(Model(units=units, votes=votes), only=["ARITH006"])
    assert [(f.unit_id, f.choice, f.votes_affected, f.source_row) for f in run.findings] == [
        ("a", "Y", 1, 3)]
    assert run.findings[0].message == ("absentee + election_day add up to 67 but the "
                                       "published total for Y is 68 (1 more in the total)")


@pytest.mark.parametrize("code", ["ARITH001", "ARITH002", "ARITH003", "ARITH004", "ARITH005",
                                  "ARITH006"])
def test_row_order_does_not_change_findings(code: str) -> None:
    units = {"unit_id": ["a", "b", "c", "d"], "registered": [100, 100, 100, 100],
             "ballots_received": [100, 90, 100, 100], "ballots_cast": [95, 95, 101, 60],
             "valid": [90, 90, 95, 55], "invalid": [5, 5, 6, 4],
             "voters_by_noon": [50, 60, 10, 5], "voters_by_afternoon": [40, 70, 20, 5]}
    votes = {"X": [50, 50, 50, 30], "Y": [40, 41, 45, 25]}
    m1 = model(units, votes, {"relations": [NOON]})
    rev = {k: list(reversed(v)) for k, v in units.items()}
    m2 = model(rev, {k: list(reversed(v)) for k, v in votes.items()}, {"relations": [NOON]})
    a, b = audit(m1, only=[code]), audit(m2, only=[code])
    assert [f.fingerprint for f in a.findings] == [f.fingerprint for f in b.findings]
    assert [f.message for f in a.findings] == [f.message for f in b.findings]


def test_arith002_valid_excluding_against_all_without_any_against_all_line() -> None:
    m = model({"unit_id": ["a", "b"], "ballots_cast": [110, 111], "valid": [100, 100],
               "invalid": [10, 10]}, {"X": [100, 100]}, {"valid_includes_against_all": False})
    assert found(audit(m, only=["ARITH002"]), "ARITH002") == [("b", 1)]


def test_arith002_against_all_choice_outside_valid() -> None:
    rules = {"against_all": "Against all", "valid_includes_against_all": False}
    m = model({"unit_id": ["a", "b"], "ballots_cast": [120, 110], "valid": [100, 100],
               "invalid": [10, 10]}, {"X": [100, 100], "Against all": [10, 10]}, rules)
    run = audit(m, only=["ARITH002"])
    assert found(run, "ARITH002") == [("b", 10)]
    assert "valid ballots + invalid ballots + against-all ballots" in run.findings[0].message


def test_arith003_summary_counts_units_without_a_register() -> None:
    m = model({"unit_id": ["home", "post1", "post2"],
               "unit_type": ["regular", "postal", "postal"],
               "registered": [100, 0, 0], "voters": [50, 400, 300]})
    run = audit(m, only=["ARITH003"])
    assert run.findings == []
    assert run.summary["arith003_turnout_not_applicable"] == {"units": 2,
                                                              "unit_types": ["postal"]}


def test_fast_unit_key_gives_the_same_findings_as_the_text_key(tmp_path: Path) -> None:
    from auditor.ingest import LoadOptions, load
    from checks._protocol import unit_key

    rows = ["region,district,station,registered,ballots_cast,valid,invalid,A,B",
            "R1,D1,1,100,90,85,5,50,35", "R1,D1,2,100,90,85,5,50,36",
            "R1,D2,1,100,90,85,5,40,44", "R1,D2,1,100,90,85,5,40,45"]  # a duplicated key
    src = tmp_path / "e.csv"
    src.write_text("\n".join(rows) + "\n", encoding="utf-8")
    fast = load([src], LoadOptions(profile="synthetic"))
    assert unit_key(fast) == ["source_row"]
    slow = load([src], LoadOptions(profile="synthetic"))
    slow.inputs = []
    assert unit_key(slow) == ["contest", "unit_id"]
    a, b = audit(fast, only=["ARITH001"]), audit(slow, only=["ARITH001"])
    assert [f.fingerprint for f in a.findings] == [f.fingerprint for f in b.findings]
    assert sorted((f.unit_id, f.votes_affected) for f in a.findings) == [
        ("R1/D1/2", 1), ("R1/D2/1", 1)]
