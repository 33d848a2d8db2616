"""The report read by people and by notebooks (lowdim.report.render): the claims overview that
opens claims.md, claims.html and the terminal table; text from a report made safe for each
medium (Markdown, terminal, CSV, the GitHub step summary); the per-seed frame read_report.

Reports are built from lowdim.stats on fixed arrays (no training).
"""

import csv
import io
import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lowdim as ld
from lowdim import report
from lowdim.cli import main
from lowdim.regress import write_step_summary
from lowdim.report import render
from lowdim.report.figures import FigureSet
from lowdim.report.html import render_html

SUPPORTED = ld.proportion(np.arange(16) < 15, threshold=0.5)
REFUTED = ld.proportion(np.arange(16) < 1, threshold=0.5)
INCONCLUSIVE = ld.proportion(np.arange(16) < 9, threshold=0.5)


def _row(test, ev, outcome="passed", claim="c", statement="s", **extra) -> dict:
    return {"test": f"claims/test_x.py::{test}", "claim": claim, "statement": statement,
            "source": "tests", "outcome": outcome,
            "evidence": ev.to_dict() if ev is not None else None, "conditions": {},
            "duration_s": 0.1, "reproduce": f"pytest {test}", **extra}


def _report(rows, claims=None) -> dict:
    return {"schema_version": report.SCHEMA_VERSION,
            "meta": {"started": "2026-01-01T00:00:00+00:00", "git_commit": "abc123",
                     "options": {"profile": "quick", "seed_offset": 0}},
            "rows": sorted(rows, key=lambda r: r["test"]), "claims": claims or {}}


def table_lines(md: str) -> list[list[str]]:
    """The Markdown tables of md, each as its lines."""
    tables, current = [], []
    for line in md.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables + ([current] if current else [])


def columns(line: str) -> int:
    """Unescaped pipes of a GitHub table line (\\| is text; so is \\\\ before it)."""
    return re.sub(r"\\.", "", line).count("|")


# ------------------------------------------------------------------------------------------------
# whether a test held: outcome and verdict only


@pytest.mark.parametrize("outcome, ev, expect", [
    ("passed", SUPPORTED, "supported"),
    ("xfailed", REFUTED, "refuted as claimed"),  # a strict xfail: the source's statement fails
    ("passed", REFUTED, "refuted as claimed"),  # a test that asserts the refutation
    ("xfailed", INCONCLUSIVE, "inconclusive"),  # not shown false, only not shown
    ("failed", INCONCLUSIVE, "inconclusive"),
    ("failed", REFUTED, "not held"),
    ("failed", SUPPORTED, "not held"),  # recorded SUPPORTED, then an assert failed
    ("xpassed", SUPPORTED, "not held"),
    ("xfailed", SUPPORTED, "not held"),
    ("skipped", None, "undecided"),
    ("passed", None, "undecided"),  # passed without recording evidence
    ("error", SUPPORTED, "undecided"),
    ("crashed", None, "undecided"),
])
def test_holds_reads_only_outcome_and_verdict(outcome, ev, expect):
    row = _row("t", ev, outcome)
    assert render.holds(row) == expect
    if ev is not None:  # display strings play no part
        row["evidence"].update(test="?", statistic="?", repr="?")
        assert render.holds(row) == expect


def mixed_report() -> dict:
    rows = [
        _row("test_a_holds", SUPPORTED, claim="alpha", statement="alpha holds"),
        _row("test_a_weaker", ld.proportion(np.arange(16) < 14, threshold=0.5), claim="alpha"),
        _row("test_b_source_fails", REFUTED, "xfailed", claim="beta", statement="beta holds"),
        _row("test_b_open", INCONCLUSIVE, "failed", claim="beta"),
        _row("test_b_skipped", None, "skipped", claim="beta"),
        _row("test_c_wrong", REFUTED, "failed", claim="gamma", statement="gamma holds"),
        _row("test_plain", None, claim=None, statement=None),
    ]
    return _report(rows, claims={"beta": {"statement": "beta, as the source says"}})


def test_the_overview_counts_each_claim_and_says_what_its_evidence_says():
    by = {o["claim"]: o for o in render.overview(mixed_report())}
    assert list(by) == ["alpha", "beta", "gamma", None]  # the order of each claim's first row
    counts = {c: tuple(o[k] for k in render.COUNTS) for c, o in by.items()}
    assert counts == {"alpha": (2, 0, 0, 0), "beta": (1, 0, 1, 1), "gamma": (0, 1, 0, 0),
                      None: (0, 0, 0, 1)}
    assert by["beta"]["statement"] == "beta, as the source says"  # report["claims"] first
    assert by["alpha"]["statement"] == "alpha holds"  # else the first row's
    weaker = f"P(property) = {ld.proportion(np.arange(16) < 14, threshold=0.5).estimate:.3g}"
    assert by["alpha"]["evidence"].startswith("all 2 supported; weakest: " + weaker)
    assert by["beta"]["evidence"].startswith(
        "1 refuted the source's statement as the claim file says; 1 inconclusive: P(property) "
        "= 0.0625")
    assert by["gamma"]["evidence"].startswith("1 did not hold: P(property) = 0.0625")
    assert by[None]["evidence"] == "no evidence recorded"


def test_markdown_opens_with_the_overview_linked_to_the_per_test_rows():
    md = render.render_markdown(mixed_report())
    assert md.startswith("# lowdim claims report")
    assert md.index("## Claims") < md.index("## Tests") and render.HOLDS_RULE in md
    overview, tests = table_lines(md)
    assert len(overview) == 2 + 4 and len(tests) == 2 + 7
    assert overview[0].split("|")[1].strip() == "claim" and "what the evidence says" in overview[0]
    links = re.findall(r"\]\(#([^)]+)\)", "\n".join(overview))
    targets = re.findall(r'<a id="([^"]+)"></a>', "\n".join(tests))
    assert links == targets == ["tests-alpha", "tests-beta", "tests-gamma", "tests-none"]
    assert {columns(line) for line in tests} == {columns(tests[0])}


def test_html_opens_with_the_overview_linked_to_the_per_test_rows(tmp_path):
    page = render_html(mixed_report(), FigureSet(), tmp_path)
    assert page.index('id="overview"') < page.index('id="summary"') < page.index("<h2>Claims")
    overview = page[page.index('id="overview"'):page.index('id="summary"')]
    assert overview.count('<tr class="claim">') == 4
    targets = re.findall(r'href="#([^"]+)"', overview)
    assert targets == ["tests-alpha", "tests-beta", "tests-gamma", "tests-none"]
    for target in targets:  # each the claim's cell in the per-test table
        assert re.search(rf'<tr><td[^>]* id="{target}"', page), target


def test_the_terminal_opens_with_the_overview():
    text = render.render_terminal(mixed_report())
    head, _, table = text.partition("\n\n")
    assert head.splitlines()[0].split()[:3] == ["claim", "source's", "statement"]
    assert [line.split()[0] for line in head.splitlines()[2:]] == [
        "alpha", "beta", "gamma", "(no"]
    assert table.splitlines()[0].split()[:2] == ["claim", "test"]


# ------------------------------------------------------------------------------------------------
# hostile text: ids and statements with |, line breaks, HTML, ANSI escapes, formula prefixes

NASTY = "a|b\nc\r\nd <script>x</script> & \x1b[31mred\x1b[0m \\|e\u2028f\x85g\x07 [x](y) ]"


def nasty_report() -> dict:
    return _report([
        _row(f"test_{NASTY}[x|y]", SUPPORTED, claim=NASTY, statement=NASTY),
        _row("test_formula", REFUTED, "failed", claim="=HYPERLINK(1)", statement="@SUM(A1)",
             conditions={"f": "-1+1"}),
        _row("test_plus", None, "skipped", claim="+1", statement="-"),
    ], claims={NASTY: {"statement": NASTY}})


def test_markdown_cells_keep_the_table_columns_and_pass_no_html():
    md = render.render_markdown(nasty_report())
    for table in table_lines(md):
        assert {columns(line) for line in table} == {columns(table[0])}, table
    overview = table_lines(md)[0]
    assert [len(re.findall(r"^\| \[[^\[\]]*\]\(#tests-[^)]*\)", line)) for line in overview[2:]] \
        == [1, 1, 1]  # each claim one link, whatever brackets its id holds
    assert "<script>" not in md and "&lt;script&gt;" in md and "&amp;" in md
    assert "\x1b" not in md and "\x07" not in md and "\r" not in md
    assert "a\\|b c d" in md  # | escaped, line breaks folded to one space


def test_the_terminal_has_no_control_characters():
    text = render.render_terminal(nasty_report())
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]", text)
    assert "red" in text and "[31m" not in text  # the escape sequence goes whole
    assert {len(line) for line in text.partition("\n\n")[0].splitlines()[:2]} != {0}


def test_csv_text_cells_cannot_run_as_formulas(tmp_path):
    paths = report.write_reports(nasty_report(), tmp_path)
    with open(paths["csv"], newline="") as f:
        rows = list(csv.DictReader(f))
    cells = [v for r in rows for k, v in r.items() if k not in ("estimate", "low", "high",
                                                                 "threshold", "p", "alpha")]
    assert not [v for v in cells if v[:1] in ("=", "+", "-", "@")]
    claims = [r["claim"] for r in rows]
    assert "'=HYPERLINK(1)" in claims and "'+1" in claims
    assert "'@SUM(A1)" in [r["statement"] for r in rows]
    frame = render.to_frame(nasty_report())  # the frame keeps the data as it is
    assert "=HYPERLINK(1)" in list(frame["claim"])


def test_csv_leaves_negative_numbers_as_numbers():
    frame = pd.DataFrame({"x": [-0.5, 1.0], "s": ["-x", "y"]})
    assert render.csv_text(frame).splitlines() == ["x,s", "-0.5,'-x", "1.0,y"]


def test_the_step_summary_is_escaped_and_has_no_control_characters(tmp_path):
    target = tmp_path / "summary.md"
    write_step_summary(render.render_markdown(nasty_report()), path=target)
    text = target.read_text(encoding="utf-8")
    for table in table_lines(text):
        assert {columns(line) for line in table} == {columns(table[0])}
    assert "\x1b" not in text and "<script>" not in text
    write_step_summary("plain \x1b[2Jtext\x00\n", path=target)
    assert target.read_text(encoding="utf-8").endswith("\nplain text\n")


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40) | \
    st.sampled_from(["|", "\\", "\\|", "\n", "\r\n", "\x1b[1m", "`", "<b>", "&amp;", "\u2028",
                     "=1", "-", "[x](y)", "]", "\x85", "\t", "\x00", "\u202e"])


@settings(max_examples=60, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(TEXT, TEXT, TEXT, st.booleans()), min_size=1, max_size=4))
def test_fuzz_markdown_keeps_its_columns_and_the_terminal_has_no_controls(cases):
    rows = [_row(f"{i}{test}", SUPPORTED if ev else None, "passed" if ev else "skipped",
                 claim=claim, statement=statement)
            for i, (claim, test, statement, ev) in enumerate(cases)]
    rep = _report(rows, claims={c: {"statement": s} for c, _, s, _ in cases})
    md = render.render_markdown(rep)
    tables = table_lines(md)
    assert len(tables) == 2 and len(tables[0]) == 2 + len(render.overview(rep))
    assert len(tables[1]) == 2 + len(rows)
    for table in tables:
        assert {columns(line) for line in table} == {columns(table[0])}, table
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", md)
    text = render.render_terminal(rep)
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]", text)
    assert len(text.splitlines()) == 2 + len(render.overview(rep)) + 1 + 2 + len(rows)


# ------------------------------------------------------------------------------------------------
# the per-seed frame


def seeds_report() -> dict:
    a = np.linspace(0.5, 1.0, 8)
    paired = ld.paired(a + 0.1, a)
    rows = [
        _row("test_prop", SUPPORTED, conditions={"width": 4}, seeds=[10, 25]),
        _row("test_paired", paired, claim="d", seeds=[0, 7]),
        _row("test_excluded", ld.location([1.0, np.nan, 2.0, 3.0], threshold=0.5,
                                          nonfinite="exclude"),
             claim="d", seeds=[0, 3]),
        _row("test_skip", None, "skipped"),
    ]
    return _report(rows)


def test_read_report_is_one_row_per_test_and_seed(tmp_path):
    rep = seeds_report()
    path = tmp_path / "claims.json"
    path.write_text(report.dump_report(rep))
    df = ld.read_report(path)
    assert list(df.columns) == list(render.PER_SEED_COLUMNS)
    assert pd.testing.assert_frame_equal(df, ld.read_report(rep)) is None  # a dict works too
    by = dict(tuple(df.groupby("test", sort=False)))
    prop = by["claims/test_x.py::test_prop"]
    assert len(prop) == 16 and list(prop.seed) == list(range(10, 26))
    assert list(prop.seed_index) == list(range(16)) and list(prop.value) == list(SUPPORTED.values)
    assert set(prop.conditions) == {'{"width": 4}'} and set(prop.verdict) == {"SUPPORTED"}
    assert set(prop.run_started) == {"2026-01-01T00:00:00+00:00"} and set(prop.profile) == {
        "quick"} and set(prop.run_commit) == {"abc123"} and set(prop.holds) == {"supported"}
    paired = by["claims/test_x.py::test_paired"]
    assert np.allclose(paired.a - paired.b, paired.value) and paired.a.notna().all()
    excluded = by["claims/test_x.py::test_excluded"]  # 3 values for 4 seeds: no seed numbers
    assert len(excluded) == 3 and excluded.seed.isna().all() and excluded.a.isna().all()
    skip = by["claims/test_x.py::test_skip"]
    assert len(skip) == 1 and skip.seed_index.isna().all() and skip.outcome.item() == "skipped"
    assert str(df.seed.dtype) == "Int64" and str(df.value.dtype) == "float64"
    assert df.groupby("test").value.median()["claims/test_x.py::test_prop"] == 1.0


def test_lowdim_report_per_seed_writes_the_frame(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LOWDIM_FIGURES", "0")
    path = tmp_path / "claims.json"
    path.write_text(report.dump_report(seeds_report()))
    out = tmp_path / "seeds.csv"
    assert main(["report", str(path), "--out", str(tmp_path / "r"), "--per-seed", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    back = pd.read_csv(io.StringIO(out.read_text()))
    assert list(back.columns) == list(render.PER_SEED_COLUMNS)
    assert len(back) == len(ld.read_report(path)) == 16 + 8 + 3 + 1
    assert (tmp_path / "r" / "claims.md").is_file()  # the report is re-rendered as before


def test_read_report_is_public_and_loads_no_torch():
    assert "read_report" in ld.__all__ and ld.read_report is render.read_report
    code = ("import sys, lowdim as ld; ld.read_report; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_read_report_of_a_broken_file_names_the_key(tmp_path):
    rep = seeds_report()
    rep["rows"][0]["evidence"]["n"] = "16"
    path = tmp_path / "claims.json"
    path.write_text(json.dumps(rep))
    with pytest.raises(ValueError, match=r"rows\[\d\]\.evidence\.n .*expected an integer"):
        ld.read_report(path)
