"""The HTML report: determinism, escaping of hostile names, CSV neutralising, size, languages."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

from auditor.cli import main
from auditor.findings import AuditRun, Finding, neutralise_cell
from auditor.registry import FAMILIES
from auditor.report import render_html
from auditor.report.render import MAX_ROWS_PER_CHECK, load_catalogue_text, row_caps
from fixtures.synth import Injection, generate, inject

ROOT = Path(__file__).resolve().parents[2]

HOSTILE_PARTIES = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    '=HYPERLINK("http://x")',
    "حزب الشعب",
    "🗳️ Vote Party",
)
HOSTILE_REGIONS = {
    "Region 01": "<script>alert(1)</script>",
    "Region 02": '"><img src=x onerror=alert(1)>',
    "Region 03": '=HYPERLINK("http://x")',
    "Region 04": "מחוז הצפון",
    "Region 05": "Регион 🐻",
}


def hostile_election(n: int = 3000, seed: int = 3) -> pl.DataFrame:
    """A synthetic election whose party and region names try to break out of the page.

    One station of every hostile region gets an injected arithmetic error, so that the
    names reach the findings' paths as well as the choices and figures.
    """
    df = generate(n_stations=n, seed=seed, parties=HOSTILE_PARTIES)
    df = df.with_columns(pl.col("region").replace(HOSTILE_REGIONS))
    regions = df["region"].to_list()
    for name in HOSTILE_REGIONS.values():
        df = inject(df, Injection("valid_mismatch", regions.index(name), 40), HOSTILE_PARTIES)
    df = inject(df, Injection("over_registered", 77, 30), HOSTILE_PARTIES)
    return inject(df, Injection("cast_mismatch", 91, 20), HOSTILE_PARTIES)


# The families these tests lean on: the report is under test here, not the other checks.
FAMILIES_USED = "INPUT,ARITH,SEAT"


def audit_to(src: Path, out: Path, *extra: str) -> AuditRun:
    """Run `auditor audit` in-process (INPUT, ARITH and SEAT checks) and load the saved run."""
    code = main(["audit", str(src), "--out", str(out), "--fail-on", "never", "--quiet",
                 "--only", FAMILIES_USED, *extra])
    assert code == 0
    return AuditRun.from_dict(json.loads((out / "findings.json").read_text("utf-8")))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, AuditRun]:
    """The hostile election audited once: its output folder and run."""
    d = tmp_path_factory.mktemp("hostile")
    src = d / "hostile.csv"
    hostile_election().write_csv(src)
    return d, audit_to(src, d / "out")


def test_hostile_names_are_text_in_html(hostile: tuple[Path, AuditRun]) -> None:
    d, run = hostile
    html = (d / "out" / "report.html").read_text("utf-8")
    assert run.counts_by_severity()["error"] == 7  # 5 + 1 + 1 injected errors
    # Never as markup, anywhere in the file (tables, summary, figure data).
    assert "<script>alert(1)" not in html
    assert "<img src=x" not in html
    assert "onerror=alert(1)>" not in html.replace("&gt;", "")  # only in escaped form
    # As text: escaped in the tables, and in the figure data as JSON escapes.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "=HYPERLINK(&#34;http://x&#34;)" in html
    assert "\\u0026lt;script\\u0026gt;alert(1)" in html  # plotly label, escaped twice
    for text in ("حزب الشعب", "מחוז הצפון", "🗳️ Vote Party", "Регион 🐻"):
        assert text in html
    # Only the report's own three script elements exist.
    assert len(re.findall(r"<script[ >]", html)) == 3


def test_hostile_names_neutralised_in_csv(hostile: tuple[Path, AuditRun]) -> None:
    d, _ = hostile
    rows = list(csv.DictReader(io.StringIO((d / "out" / "findings.csv").read_text("utf-8"))))
    assert rows
    cells = [v for r in rows for v in r.values() if v]
    assert not [c for c in cells if c[0] in "=+@\t\r" or (c[0] == "-" and not _is_number(c))]
    assert "'=HYPERLINK(\"http://x\")" in {r["choice"] for r in rows}
    paths = {r["path"].split(" / ")[0] for r in rows if r["code"] == "ARITH001"}
    assert paths == set(HOSTILE_REGIONS.values()) - {'=HYPERLINK("http://x")'} | {
        '\'=HYPERLINK("http://x")'}
    assert any("מחוז הצפון" in (r["path"] or "") for r in rows)


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(("cell", "out"), [
    ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("-x", "'-x"),
    ("\t=1", "'\t=1"),
    ("-3", "-3"),
    ("+7.5", "+7.5"),
    ("Alpha", "Alpha"),
    ("", ""),
])
def test_neutralise_cell(cell: str, out: str) -> None:
    assert neutralise_cell(cell) == out


def test_two_renders_identical_and_render_command(hostile: tuple[Path, AuditRun],
                                                  tmp_path: Path) -> None:
    d, run = hostile
    a, b = render_html(run, "en"), render_html(run, "en")
    assert a == b
    assert main(["render", str(d / "out" / "findings.json"), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "report.html").read_text("utf-8") == a
    assert "run at" not in a  # no time stamp unless the run has one
    stamped = replace(run, timestamp="2026-01-02T03:04:05+00:00")
    assert "2026-01-02T03:04:05+00:00" in render_html(stamped, "en")


def test_render_command_errors(tmp_path: Path) -> None:
    assert main(["render", str(tmp_path / "nope.json")]) == 2
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": 1}', encoding="utf-8")
    assert main(["render", str(bad)]) == 2
    bad.write_text("not json", encoding="utf-8")
    assert main(["render", str(bad)]) == 2


def test_russian_report(hostile: tuple[Path, AuditRun]) -> None:
    _, run = hostile
    html = render_html(run, "ru")
    assert html.startswith("<!DOCTYPE html>\n<html lang=\"ru\">")
    assert "Опубликованные итоги не сходятся" in html
    assert "Находки по семействам" in html
    n = run.counts_by_severity()["error"]
    assert f"не могут быть верными, — {n}" in html
    with pytest.raises(ValueError):
        render_html(run, "de")


def test_catalogue_languages_have_the_same_keys_and_cover_the_code() -> None:
    cat = load_catalogue_text()
    assert set(cat) == {"en", "ru"}
    assert set(cat["en"]) == set(cat["ru"])
    used: set[str] = set()
    for p in (ROOT / "auditor" / "report").rglob("*"):
        if p.suffix in (".py", ".j2"):
            used |= set(re.findall(r"""\bt\(\s*["']([a-z_A-Z0-9]+)["']""", p.read_text("utf-8")))
    assert len(used) > 50, "message keys not found in the report code"
    # Keys built at run time ("sev_" ~ severity) are listed with every value they can take.
    dynamic = {"sev_": ["error", "warning", "info", "error_short", "warning_short",
                        "info_short"],
               "status_": ["ok", "findings", "not_applicable", "failed"],
               "check_certainty_": ["exact", "statistical"]}
    assert {k for k in used if k.endswith("_")} == set(dynamic)
    used = {k for k in used if not k.endswith("_")}
    used |= {p + v for p, vs in dynamic.items() for v in vs}
    used |= {f"family_{fam}" for fam in FAMILIES}
    assert used - set(cat["en"]) == set()


def test_first_screen_numbers(hostile: tuple[Path, AuditRun]) -> None:
    _, run = hostile
    html = render_html(run, "en")
    first = html.split('<section id="findings">')[0]
    c = run.counts_by_severity()
    assert f'<tr class="total"><td>total</td><td class="n">{c["error"]:,}</td>' in first
    i = run.inputs[0]
    assert i.sha256 in first
    assert f"{i.rows_read:,} = {i.rows_in_model:,} + 0 + 0" in first
    assert f"auditor {run.tool_version}" in first
    assert "<code>synthetic</code>" in first
    assert "does not hold together" not in first  # it is "do not"
    assert "The published results do not hold together" in first
    # Every check with findings has its section with the explain text one click away.
    for code in {f.code for f in run.findings}:
        section = html.split(f'id="check-{code}"')[1].split("</section>")[0]
        assert '<details class="explain">' in section


def _finding(i: int, code: str = "TURN001", sev: str = "warning") -> Finding:
    return Finding(code=code, name="x", family=code[:4], severity=sev,  # type: ignore[arg-type]
                   certainty="statistical", message=f"unit {i} is odd", unit_id=f"u{i:06d}",
                   path=f"R{i % 7}", observed=float(i), p_value=(i + 1) / 1e6,
                   q_value=(i + 1) / 1e5)


def _run(findings: list[Finding], figures: dict[str, object] | None = None) -> AuditRun:
    return AuditRun(tool_version="0.0-test", inputs=[], checks=[], findings=findings,
                    figures=dict(figures or {}))


def test_top_findings_link_the_csv() -> None:
    n = MAX_ROWS_PER_CHECK + 500
    html = render_html(_run([_finding(i) for i in range(n)]), "en")
    table = html.split('id="tbl-TURN001"')[1].split("</table>")[0]
    assert table.count("<tr>") == MAX_ROWS_PER_CHECK + 1  # + the header row
    assert f"Showing the top 2,000 of {n:,} findings" in html
    assert '<a href="findings.csv">findings.csv</a>' in html
    # The strongest (smallest q) come first: unit 0 has the smallest q.
    assert table.index("u000000") < table.index("u000001")
    assert "u002499" not in table


def test_row_caps_share_the_total_fairly() -> None:
    assert row_caps({"A": 10, "B": 5000}) == {"A": 10, "B": 2000}
    caps = row_caps({"A": 100, "B": 5000, "C": 5000, "D": 5000, "E": 5000}, total=6000)
    assert caps["A"] == 100 and sum(caps.values()) <= 6000
    assert caps["B"] == caps["E"] == 1475


_BINS = [0] * 1001
_BINS[750], _BINS[500] = 9, 30
# Figure data of every kind the report draws (see `auditor.report.figures`).
ALL_FIGURES: dict[str, object] = {
    "turnout_hist": {"bin_start": -0.05, "bin_width": 0.1, "counts": _BINS},
    "share_hist": {"bin_start": -0.05, "bin_width": 0.1, "n": 39, "contest": "c",
                   "denominator": "valid", "series": [{"name": "A", "counts": _BINS}]},
    "fingerprint": {"x_edges": [0, 50, 100], "y_edges": [0, 50, 100], "z": [[1, 2], [3, 4]],
                    "x_label": "turnout", "y_label": "share", "choice": "A", "n": 10},
    "integer_spikes": {"turnout": {"observed": _BINS, "null_mean": [0.5] * 1001,
                                   "null_lo": [0] * 1001, "null_hi": [2] * 1001,
                                   "p_value": 1e-12, "excess": 8.5}},
    "releases": {"labels": ["r1", "r2", "r3"], "series": [{"name": "A", "values": [1, 2, 4]}],
                 "waterfall": {"labels": ["added", "removed"], "values": [208, -50]}},
    "region_flags": {"level": "oblast", "names": ["N1", "N2"], "flagged": [1, 0],
                     "units": [10, 10]},
}


def test_figures_present_only_when_their_data_is() -> None:
    bins = [0] * 1001
    bins[750] = 9
    figs = {
        "turnout_hist": {"bin_start": -0.05, "bin_width": 0.1, "counts": bins},
        "integer_spikes": {"turnout": {"observed": bins, "null_mean": [0.5] * 1001,
                                       "null_lo": [0] * 1001, "null_hi": [2] * 1001,
                                       "p_value": 1e-12, "excess": 8.5}},
        "releases": {"labels": ["r1", "<b>r2</b>"], "series": [{"name": "A", "values": [1, 2]}],
                     "waterfall": {"labels": ["added"], "values": [208]}},
        "region_flags": {"level": "oblast", "names": ["N1", "N2"], "flagged": [1, 0],
                         "units": [10, 10]},
    }
    html = render_html(_run([_finding(1)], figs), "en")
    for fid in ("fig-turnout", "fig-spikes-1", "fig-releases", "fig-waterfall",
                "fig-region-flags"):
        assert f'id="{fid}"' in html
    for fid in ("fig-share", "fig-fingerprint"):
        assert f'id="{fid}"' not in html
    assert "\\u0026lt;b\\u0026gt;r2" in html and "<b>r2" not in html
    assert "Integer-percentage spikes: turnout" in html
    bare = render_html(_run([]), "en")
    assert 'class="fig"' not in bare and 'id="plotly-gz"' not in bare
    assert "No figure" in bare


def test_figure_data_bins(tmp_path: Path) -> None:
    from auditor.ingest import LoadOptions, load
    from auditor.report.figures import figure_data

    df = generate(n_stations=500, seed=5).with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(1537).otherwise(pl.col("registered"))
        .alias("registered"),
    )
    # Station 0: 1,153 of 1,537 is 75.016 %: the 0.1-point bin centred on 75.0 (bin 750).
    df = df.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(1153).otherwise(pl.col("ballots_cast"))
        .alias("ballots_cast"))
    src = tmp_path / "e.csv"
    df.write_csv(src)
    figs = figure_data(load([src], LoadOptions()))
    th = figs["turnout_hist"]
    t = (df["ballots_cast"] / df["registered"] * 1000).round(0).cast(pl.Int64)
    expected = [0] * len(th["counts"])
    for b in t.to_list():
        expected[b] += 1
    assert th["counts"] == expected and th["counts"][750] >= 1
    assert th["n"] == 500 and th["above"] == 0 and th["undefined"] == 0
    assert sum(map(sum, figs["fingerprint"]["z"])) == 500
    assert sum(figs["region_units"]["units"]) == 500
    assert [s["n"] for s in figs["share_hist"]["series"]] == [500, 500, 500]


def test_figure_data_same_by_source_row_and_by_unit_id(tmp_path: Path) -> None:
    from auditor.ingest import LoadOptions, load
    from auditor.report.figures import figure_data

    df = generate(n_stations=400, seed=9)
    src = tmp_path / "e.csv"
    df.write_csv(src)
    m = load([src], LoadOptions())
    by_row = figure_data(m)  # a wide file: votes find their unit by source row, by position
    assert set(by_row) >= {"turnout_hist", "share_hist", "fingerprint", "region_units"}
    m.units, m.votes = m.units.drop("source_row"), m.votes.drop("source_row")
    m._schema_cache.clear()
    assert figure_data(m) == by_row  # joined on the unit_id instead
    # without valid ballots the share is of the sum of the choices
    m.units = m.units.drop("valid")
    m._schema_cache.clear()
    no_valid = figure_data(m)
    assert no_valid["share_hist"]["denominator"] == "sum of choices"
    assert no_valid["fingerprint"]["n"] == 400


def test_figure_data_in_one_pass_equal_the_per_choice_plans(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    from auditor.ingest import LoadOptions, load

    figures = importlib.import_module("auditor.report.figures")
    df = generate(n_stations=600, seed=11)
    i = pl.int_range(pl.len())
    # odd stations: no valid ballots (share undefined), a share of 10⁹ % (past the last
    # bin, beyond 32 bits), a turnout of 300 % (outside the fingerprint), no one registered
    df = df.with_columns(
        pl.when(i == 0).then(0).otherwise(pl.col("valid")).alias("valid"),
        pl.when(i == 1).then(1).when(i == 3).then(0).otherwise(pl.col("registered"))
        .alias("registered"),
        pl.when(i == 2).then(3 * pl.col("registered")).otherwise(pl.col("ballots_cast"))
        .alias("ballots_cast"))
    df = df.with_columns(pl.when(i == 1).then(1).otherwise(pl.col("valid")).alias("valid"),
                         pl.when(i == 1).then(10_000_000).otherwise(pl.col(df.columns[-1]))
                         .alias(df.columns[-1]))
    src = tmp_path / "e.csv"
    df.write_csv(src)
    m = load([src], LoadOptions())
    calls: list[bool] = []
    real = figures._aligned

    def spy(*args: object) -> object:
        got = real(*args)
        calls.append(got is not None)
        return got

    monkeypatch.setattr(figures, "_aligned", spy)
    once = figures.figure_data(m)
    monkeypatch.setattr(figures, "_aligned", lambda *args: None)
    assert figures.figure_data(m) == once and calls == [True]
    hists = once["share_hist"]["series"]
    assert sum(h["undefined"] for h in hists) == 3  # station 0, in each series
    assert sum(h["above"] for h in hists) >= 1  # station 1
    assert once["fingerprint"]["n"] < 600 - 2


def test_size_does_not_grow_with_clean_stations(tmp_path: Path) -> None:
    sizes = {}
    for n in (2_000, 40_000):
        src = tmp_path / f"e{n}.csv"
        generate(n_stations=n, seed=1, injections=(Injection("valid_mismatch", 5, 40),)
                 ).write_csv(src)
        audit_to(src, tmp_path / f"o{n}")
        sizes[n] = (tmp_path / f"o{n}" / "report.html").stat().st_size
    assert sizes[40_000] < 3_000_000
    # Twenty times the stations: only the figures' fixed-size bins fill in a little.
    assert sizes[40_000] - sizes[2_000] < 150_000, sizes


def test_timings_only_when_asked(hostile: tuple[Path, AuditRun]) -> None:
    _, run = hostile
    assert "<th>seconds</th>" not in render_html(run, "en")
    timed = replace(run, include_timings=True)
    html = render_html(timed, "en")
    table = html.split('id="timings"')[1].split("</table>")[0]
    assert "<th>seconds</th>" in table
    assert table.count("<tr>") == len(run.checks) + 1
    assert f"total check time {sum(c.seconds for c in run.checks):.2f} s" in html


def test_location_drops_what_the_path_says() -> None:
    from auditor.report.render import location

    f = Finding(code="ARITH001", name="x", family="ARITH", severity="error", certainty="exact",
                message="m", unit_id="Moscow/TIK 5/1234", path="Moscow / TIK 5",
                source_file="/data/x.csv", source_row=17)
    assert location(f) == {"path": "Moscow / TIK 5", "unit": "1234", "contest": "",
                           "source": "x.csv:17"}
    g = replace(f, unit_id="9/1234", path="Moscow")
    assert location(g)["unit"] == "9/1234"


def test_malformed_figure_costs_only_that_figure() -> None:
    bins = [0] * 1001
    figs = {"turnout_hist": {"counts": bins}, "fingerprint": {"x_edges": [0, 1],
                                                              "y_edges": [0, 1], "z": "oops"},
            "integer_spikes": 42}
    html = render_html(_run([_finding(1)], figs), "en")
    assert 'id="fig-turnout"' in html and 'id="fig-fingerprint"' not in html
    assert html.count("A figure could not be drawn from its data (fingerprint: ") == 1


def test_json_only_audit_imports_neither_plotly_jinja_nor_typer(tmp_path: Path) -> None:
    import subprocess
    import sys

    src = tmp_path / "e.csv"
    generate(n_stations=200, seed=2).write_csv(src)
    code = (
        "import sys\nfrom auditor.cli import main\n"
        f"rc = main(['audit', {str(src)!r}, '--out', {str(tmp_path / 'o')!r}, '--format', "
        "'json', '--quiet', '--fail-on', 'never', '--only', 'ARITH'])\n"
        "print(rc, *(m in sys.modules for m in ('plotly', 'jinja2', 'typer', 'click', "
        "'pydantic')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout.split()
    assert out == ["0", "False", "False", "False", "False", "False"]
    doc = json.loads((tmp_path / "o" / "findings.json").read_text("utf-8"))
    assert doc["figures"]["turnout_hist"]["n"] == 200
    assert not (tmp_path / "o" / "report.html").exists()


def test_location_shows_a_hierarchical_path_once() -> None:
    from auditor.report.render import location

    f = Finding(code="ARITH001", name="x", family="ARITH", severity="error", certainty="exact",
                message="m", unit_id="Обл/ОИК №98/Калининград/1234",
                path="Обл / Обл/ОИК №98 / Обл/ОИК №98/Калининград")
    loc = location(f)
    assert loc["path"] == "Обл / ОИК №98 / Калининград"
    assert loc["unit"] == "1234"


def test_summary_keys_are_labels_in_both_languages() -> None:
    run = replace(_run([_finding(1)]), summary={
        "turn002_z": 4.5, "flagged_units": 3,
        "decisive": [{"kind": "threshold", "contest": "c", "choice": "A", "margin_votes": 10,
                      "flagged_votes": 20, "could_change": True, "text": "x"}]})
    en = render_html(run, "en")
    ru = render_html(run, "ru")
    for html in (en, ru):
        assert "turn002 z" not in html and "turn002_z" not in html
        assert "margin votes" not in html
    assert "flagged units" not in ru and "could change" not in ru
    assert "TURN002 robust z threshold" in en and "votes in flagged units" in en
    assert "порог робастного z для TURN002" in ru and "разрыв, голосов" in ru
    assert "отмеченных участков" in ru


def test_plotly_labels_keep_quotes_but_escape_tags() -> None:
    from auditor.report import plots
    from auditor.report.render import Messages

    fig = plots.share({"series": [{"name": '"ЕДИНАЯ РОССИЯ"', "counts": [1, 2]},
                                  {"name": "<b>x</b> & y", "counts": [1, 2]}]}, Messages("en"))
    assert fig is not None
    names = [d["name"] for d in fig.spec["data"]]
    assert names == ['"ЕДИНАЯ РОССИЯ"', "&lt;b&gt;x&lt;/b&gt; &amp; y"]


def test_loading_note_shown_until_the_figures_are_drawn() -> None:
    bins = [0] * 1001
    bins[500] = 3
    html = render_html(_run([_finding(1)], {"turnout_hist": {"counts": bins}}), "ru")
    assert '<p class="fig-loading">Загрузка графиков…</p>' in html
    assert "clearLoading()" in html


def test_turnout_figure_counts_the_extra_lists_and_says_what_is_not_drawn() -> None:
    from auditor.model import Model
    from auditor.report import plots
    from auditor.report.figures import figure_data
    from auditor.report.render import Messages

    # u2 and u3 are on a special list only (registered 0); u4 has no electorate at all
    units = pl.LazyFrame({"contest": ["c"] * 4, "unit_id": ["u1", "u2", "u3", "u4"],
                          "registered": [100, 0, 0, 0], "registered_extra": [0, 50, 20, 0],
                          "voters": [60, 40, 10, 0]})
    votes = pl.LazyFrame({"contest": ["c"] * 4, "unit_id": ["u1", "u2", "u3", "u4"],
                          "choice": ["A"] * 4, "votes": [60, 40, 10, 0]})
    m = Model(units=units, votes=votes, options={"extra_registered": ["registered_extra"]})
    h = figure_data(m)["turnout_hist"]
    assert (h["n"], h["undefined"], h["above"]) == (3, 1, 0)
    assert h["counts"][600] == 1 and h["counts"][800] == 1 and h["counts"][500] == 1
    fig = plots.turnout(h, Messages("en"))
    assert fig is not None
    assert fig.note == "Not drawn: units without registered voters or without a turnout count: 1."


def test_label_of_check_codes_and_choice_shares() -> None:
    from auditor.registry import load_catalogue
    from auditor.report.render import Messages

    load_catalogue()
    ru = Messages("ru")
    assert ru.label("share of CDU") == "доля CDU"
    assert ru.label("STAT002") == "STAT002 turnout share fingerprint"
    assert ru.label("regions_skipped") == "регионы без проверки"
    assert Messages("en").label("some_new_key") == "some new key"


def test_the_compressed_plotly_js_is_kept_and_gives_the_same_bytes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """plotly.js compressed for the report is kept beside the byte code, named by the
    bundle's file: a later process reads the same text; an empty copy is made anew; a
    place where nothing can be written changes nothing."""
    import base64
    import gzip
    from importlib import resources

    from auditor.report import render

    bundle = resources.files("auditor.report").joinpath("static", render.PLOTLY_JS)

    def fresh() -> str:
        render.plotly_bundle.cache_clear()
        return render.plotly_bundle()

    monkeypatch.setattr(render, "_STASH_DIR", tmp_path)
    made = fresh()
    assert gzip.decompress(base64.b64decode(made)) == bundle.read_bytes()
    (copy,) = tmp_path.glob("plotly-*.b64")
    assert render._plotly_key() in copy.name
    assert copy.read_text(encoding="utf-8") == made
    copy.write_text(made[:100], encoding="utf-8")  # what a later process reads is the copy
    assert fresh() == made[:100]
    copy.write_text("", encoding="utf-8")  # an empty copy is no copy
    assert fresh() == made and copy.read_text(encoding="utf-8") == made
    (tmp_path / "plotly-0.0-1-2.b64").write_text("stale", encoding="utf-8")
    copy.unlink()
    assert fresh() == made
    assert [p.name for p in tmp_path.glob("plotly-*")] == [copy.name]  # the stale one is gone
    monkeypatch.setattr(render, "_STASH_DIR", tmp_path / "file" / "sub")
    (tmp_path / "file").write_text("not a folder", encoding="utf-8")
    assert fresh() == made
    render.plotly_bundle.cache_clear()


def test_the_embedded_plotly_js_is_the_published_cartesian_bundle() -> None:
    """The bundle in `static/` is plotly's `plotly.js-cartesian-dist-min` 3.7.0 as published
    (its SHA-256 is recorded), with its MIT licence beside it, and it holds every trace type
    the report's figures use."""
    import hashlib
    from importlib import resources

    from auditor.report import render

    static = resources.files("auditor.report").joinpath("static")
    js = static.joinpath(render.PLOTLY_JS).read_bytes()
    assert hashlib.sha256(js).hexdigest() == render.PLOTLY_JS_SHA256
    assert b"plotly.js (cartesian - minified) v3.7.0" in js[:200]
    assert "MIT" in static.joinpath("plotly-LICENSE.txt").read_text("utf-8")
    from auditor.report.render import Messages, figure_views

    views, errors = figure_views(_run([_finding(1)], ALL_FIGURES), Messages("en"))
    assert errors == [] and len(views) == 7
    used = {tr["type"] for v in views for tr in v.spec["data"]}
    assert used == {"bar", "scatter", "heatmap"}
    for kind in used:  # each trace module registers itself by name
        assert f'name:"{kind}"'.encode() in js, kind
    assert b'name:"waterfall"' not in js  # hence `waterfall_bars`


@pytest.mark.parametrize("steps", [[208.0, -50.0], [5.0, None, -7.5, 3.0], [-1.0], []])
def test_waterfall_bars_run_from_the_total_before_to_the_total_after(
        steps: list[float | None]) -> None:
    from auditor.report.plots import WATERFALL_COLORS, waterfall_bars

    x = [f"s{i}" for i in range(len(steps))] + ["total"]
    tr = waterfall_bars(x, steps)
    assert tr["type"] == "bar" and tr["x"] == x
    run = 0.0
    for i, v in enumerate(steps):
        assert tr["base"][i] == pytest.approx(run)
        assert tr["y"][i] == v
        assert tr["marker"]["color"][i] == WATERFALL_COLORS[0 if (v or 0) >= 0 else 1]
        run += v or 0.0
    assert tr["base"][-1] == 0 and tr["y"][-1] == pytest.approx(run)
    assert tr["marker"]["color"][-1] == WATERFALL_COLORS[2]


def test_every_figure_spec_is_valid_for_plotly() -> None:
    """The report's figure specs are hand-made dicts: plotly's own schema (the plotly
    package's figure validation, which rejects unknown or mistyped properties) accepts
    every one of them."""
    import plotly.graph_objects as go

    from auditor.report.render import Messages, figure_views

    for lang in ("en", "ru"):
        views, _ = figure_views(_run([_finding(1)], ALL_FIGURES), Messages(lang))
        for v in views:
            fig = go.Figure(v.spec)  # raises ValueError on an invalid property
            assert len(fig.data) == len(v.spec["data"]), v.id


@pytest.mark.parametrize(("labels", "short"), [
    (["georgia_elections_nov13_2024.xlsx", "georgia_elections_nov14_2024.xlsx"],
     ["nov13", "nov14"]),
    (["2025-02-23-20-00-btw25.csv", "2025-02-24-01-42-btw25.csv"], ["23-20-00", "24-01-42"]),
    (["1-glitch-140.csv", "2-glitch-86.csv", "3-final.csv"],
     ["1-glitch-140", "2-glitch-86", "3-final"]),
    (["a_2023.xlsx", "a_2024.xlsx"], ["2023", "2024"]),
    (["r1", "r2"], ["r1", "r2"]),  # no word end in what they share: kept whole
    (["x.csv", "x.csv"], ["x.csv", "x.csv"]),  # the cut would make them empty
    (["only.csv"], ["only.csv"]),
])
def test_release_names_lose_what_they_all_share(labels: list[str], short: list[str]) -> None:
    from auditor.report.plots import short_labels

    assert short_labels(labels) == short


def test_a_waterfall_of_small_changes_is_zoomed_and_labelled() -> None:
    """Georgia 2024: 2,076,930 votes, then -196: from 0 the step is invisible; zoomed, it
    fills half the height, and every bar says its value."""
    from auditor.report.plots import releases, waterfall_zoom
    from auditor.report.render import Messages

    assert waterfall_zoom([2_076_930, -196, 0]) == (2_076_636.0, 2_077_028.0)
    assert waterfall_zoom([750_000, 230_000, -720_000]) is None  # large steps: from 0
    assert waterfall_zoom([5]) is None
    assert waterfall_zoom([2_076_734, 0, 0]) is None  # no change: nothing to zoom on
    assert waterfall_zoom([1000, 1]) == (998.0, 1003.0)  # at least 2 votes each side
    t = Messages("en")
    (wf,) = releases({"waterfall": {"labels": ["g_nov13.xlsx", "g_nov14.xlsx", "g_nov15.xlsx"],
                                    "values": [2_076_930, -196, 0]}}, t, t.num)
    trace = wf.spec["data"][0]
    assert trace["x"] == ["nov13", "nov14", "nov15", "total"]
    assert trace["customdata"][0] == "g_nov13.xlsx"
    assert trace["text"] == ["2,076,930", "-196", "0", "2,076,734"]
    ru = Messages("ru")
    (steps,) = releases({"waterfall": {
        "labels": ["previous release", "units added", "units revised", "units removed"],
        "values": [1000, 50, -3, 0], "title": "Votes from the previous release to this one (c)",
        "title_key": "fig_waterfall_steps", "contest": "c"}}, ru, ru.num)
    assert steps.title == "Голоса от предыдущего выпуска к этому (c)"
    from auditor.report.render import figure_views

    views, _ = figure_views(_run([_finding(1)], ALL_FIGURES), ru)
    assert {v.spec["layout"]["separators"] for v in views} == {",\u00a0"}
    views, _ = figure_views(_run([_finding(1)], ALL_FIGURES), t)
    assert all("separators" not in v.spec["layout"] for v in views)
    assert steps.spec["data"][0]["x"] == ["предыдущий выпуск", "добавленные участки",
                                          "исправленные участки", "убранные участки", "итого"]
    assert wf.spec["layout"]["yaxis"]["range"] == [2_076_636.0, 2_077_028.0]
    assert wf.note == t("fig_waterfall_zoomed")
    (big,) = releases({"waterfall": {"labels": ["a", "b"], "values": [10, 50]}}, t, t.num)
    assert "range" not in big.spec["layout"]["yaxis"] and big.note == ""
    assert big.spec["data"][0]["text"] == ["10", "+50", "60"]


def test_the_counts_a_histogram_leaves_out_are_written_with_separators() -> None:
    from auditor.report.plots import turnout
    from auditor.report.render import Messages

    h = {"bin_start": -0.05, "bin_width": 0.1, "counts": [1] * 1001, "above": 25_339,
         "undefined": 1_204}
    for lang, above, undefined in (("en", "25,339", "1,204"),
                                   ("ru", "25\u00a0339", "1\u00a0204")):
        t = Messages(lang)
        view = turnout(h, t, t.num)
        assert view is not None and above in view.note and undefined in view.note
