"""Wording and severity fixes of check messages (INPUT002 on snapshots, quoting, units)."""

from __future__ import annotations

import polars as pl

from auditor.engine import audit
from auditor.model import ISSUE_SCHEMA, Model
from checks._util import quote_expr, quote_name


def _model_with_empty_rows(detail: str | None) -> Model:
    units = pl.LazyFrame({"contest": ["c"], "unit_id": ["u1"], "source_file": [0],
                          "source_row": [2], "valid": [10]})
    votes = pl.LazyFrame({"contest": ["c"], "unit_id": ["u1"], "choice": ["A"], "votes": [10]})
    issues = pl.DataFrame([{"code": "INPUT002", "source_file": 0, "source_row": r,
                            "column": None, "value": None, "unit_id": f"m{r}",
                            "contest": None, "rejected": True, "detail": detail}
                           for r in (3, 4)], schema=ISSUE_SCHEMA)
    return Model(units=units, votes=votes, issues=issues.lazy())


def test_input002_not_yet_reported_is_info_else_warning() -> None:
    run = audit(_model_with_empty_rows("not yet reported"), only=["INPUT002"])
    fs = [f for f in run.findings if f.code == "INPUT002"]
    assert [(f.source_row, f.severity) for f in fs] == [(3, "info"), (4, "info")]
    assert fs[0].message == "row 3 (m3) has no numbers at all (not yet reported); it is not audited"
    run = audit(_model_with_empty_rows(None), only=["INPUT002"])
    fs = [f for f in run.findings if f.code == "INPUT002"]
    assert [f.severity for f in fs] == ["warning", "warning"]
    assert fs[1].message == "row 4 (m4) has no numbers at all; it is not audited"


def test_choice_names_are_quoted_when_they_read_as_numbers_or_phrases() -> None:
    assert quote_name("5. Всероссийская партия") == "“5. Всероссийская партия”"
    assert quote_name("Georgian Dream") == "“Georgian Dream”"
    assert quote_name("CDU") == "CDU"
    assert quote_name('"ЕДИНАЯ РОССИЯ"') == '"ЕДИНАЯ РОССИЯ"'
    got = pl.DataFrame({"c": ["41 GD", "SPD", "«A B»"]}).select(quote_expr(pl.col("c")).alias("c"))
    assert got["c"].to_list() == ["“41 GD”", "SPD", "«A B»"]


def test_turn001_abroad_is_info_after_ordinary_stations_and_turn005_separators() -> None:
    units = pl.LazyFrame({"contest": ["c"] * 3, "unit_id": ["a1", "b2", "c3"],
                          "unit_type": ["abroad", "regular", "regular"],
                          "registered": [1486, 2000, 900], "voters": [1486, 2000, 500],
                          "valid": [1486, 2000, 500]})
    votes = pl.LazyFrame({"contest": ["c"] * 6, "unit_id": ["a1", "a1", "b2", "b2", "c3", "c3"],
                          "choice": ["5. Party", "B"] * 3,
                          "votes": [1486, 0, 1000, 1000, 250, 250]})
    m = Model(units=units, votes=votes)
    run = audit(m, only=["TURN001", "TURN005"])
    t1 = [f for f in run.findings if f.code == "TURN001"]
    assert sorted((f.unit_id, f.severity) for f in t1) == [("a1", "info"), ("b2", "warning")]
    abroad = next(f for f in t1 if f.unit_id == "a1")
    assert abroad.message.startswith("turnout is exactly 100 %: 1,486 voters of 1,486 registered")
    assert "abroad" in abroad.message
    (t5,) = [f for f in run.findings if f.code == "TURN005"]
    assert t5.message == "“5. Party” received all 1,486 valid votes"
