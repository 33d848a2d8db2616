"""Baselines, shards, merging, step summaries, junit properties and `lowdim new`.

pytester sessions run in this process on claim files that record Evidence from fixed numpy
arrays (no training), as in test_plugin.py; comparisons and merges of report dicts are tested
directly.
"""

import copy
import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from scipy import stats

import lowdim as ld
from lowdim import cli, scaffold
from lowdim import regress as bl

FILE_ONE = '''"""Claim one: a module docstring the method hash ignores."""
import numpy as np
import pytest

import lowdim as ld

pytestmark = pytest.mark.claim("one", statement="most seeds succeed", source="tests")


def test_most_seeds_succeed(claim):
    """A test docstring the method hash ignores."""
    seeds = claim.seeds(20)
    flags = np.arange(len(seeds)) < 17  # a comment the method hash ignores
    ev = claim.record(ld.proportion(flags, threshold=0.5))
    assert ev.supported, ev


@pytest.mark.xfail(strict=True, reason="only half of the seeds succeed")
def test_statement_that_does_not_hold(claim):
    ev = claim.record(ld.proportion(np.arange(20) < 10, threshold=0.5))
    assert ev.supported, ev
'''

FILE_TWO = '''
import numpy as np
import pytest

import lowdim as ld

pytestmark = pytest.mark.claim("two", statement="the gain is positive", source="tests")
THRESHOLD = 0.0


@pytest.mark.parametrize("scale", [0.5, 0.25])
def test_gain_is_positive(claim, scale):
    seeds = claim.seeds(12)
    a = np.arange(len(seeds), dtype=float) + 1
    ev = claim.record(ld.paired(a, a * scale, margin=THRESHOLD))
    assert ev.supported, ev
'''

FILE_THREE = '''
import numpy as np
import pytest

import lowdim as ld


@pytest.mark.claim("three", statement="-", source="-")
def test_location(claim):
    ev = claim.record(ld.location(np.linspace(1, 2, 15), threshold=0.0))
    assert ev.supported, ev


def test_without_a_claim():
    pass
'''

ONE_MOST = "test_one.py::test_most_seeds_succeed"
ONE_XFAIL = "test_one.py::test_statement_that_does_not_hold"


def run(pytester, *args, out="out"):
    result = pytester.runpytest_inprocess(f"--lowdim-report-dir={out}", "-p", "no:cacheprovider",
                                          "-p", "no:randomly", *args)
    path = pytester.path / out / "claims.json"
    return result, (json.loads(path.read_text()) if path.exists() else None)


def by_test(report):
    return {r["test"]: r for r in report["rows"]}


def test_verdict_change_fails_the_session_and_edits_read_as_claim_changes(pytester, monkeypatch):
    summary = pytester.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    pytester.makepyfile(test_one=FILE_ONE, test_two=FILE_TWO)
    result, first = run(pytester, "--lowdim-save-baseline=base.json", "--junitxml=junit.xml")
    result.assert_outcomes(passed=3, xfailed=1)
    assert result.ret == 0
    rows = by_test(first)
    assert all(len(r["method_hash"]) == 16 for r in rows.values())
    assert rows[ONE_MOST]["seeds"] == [0, 19] and rows[ONE_XFAIL]["seeds"] is None
    assert first["meta"]["seed_block"]["offset"] == 0 and first["meta"]["shard"] is None
    saved = json.loads((pytester.path / "base.json").read_text())
    assert saved["rows"] == first["rows"]
    result.stdout.fnmatch_lines(["baseline written: *base.json (4 rows)"])

    # junit XML: flat plain properties per test; the dict properties read as JSON
    tree = ET.parse(pytester.path / "junit.xml")
    case = next(c for c in tree.iter("testcase") if c.get("name") == "test_most_seeds_succeed")
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    ev = rows[ONE_MOST]["evidence"]
    assert props["lowdim_verdict"] == "SUPPORTED"
    assert float(props["lowdim_estimate"]) == ev["estimate"]
    assert float(props["lowdim_p"]) == ev["p"]
    assert props["lowdim_interval"] == f"[{ev['interval'][0]!r}, {ev['interval'][1]!r}]"
    assert props["lowdim_method_hash"] == rows[ONE_MOST]["method_hash"]
    assert json.loads(props["lowdim_claim"])["id"] == "one"
    assert json.loads(props["lowdim_evidence"])["evidence"]["values"] == ev["values"]

    # $GITHUB_STEP_SUMMARY gets the Markdown report
    text = summary.read_text()
    assert text.startswith("# lowdim claims report") and "test_gain_is_positive[0.5]" in text

    # Edit prose in one file and a threshold in the other; tamper with one baseline verdict.
    pytester.makepyfile(
        test_one=FILE_ONE.replace("ignores.", "ignores, edited.").replace("# a comment", "# c"),
        test_two=FILE_TWO.replace("THRESHOLD = 0.0", "THRESHOLD = 0.1"))
    tampered = copy.deepcopy(saved)
    row = next(r for r in tampered["rows"] if r["test"] == ONE_XFAIL)
    row["evidence"]["verdict"] = "SUPPORTED"
    (pytester.path / "copy.json").write_text(json.dumps(tampered))
    result, second = run(pytester, "--lowdim-baseline=copy.json")
    result.assert_outcomes(passed=3, xfailed=1)  # every test is fine, and yet
    assert result.ret == pytest.ExitCode.TESTS_FAILED and second["meta"]["exitstatus"] == 1
    result.stdout.fnmatch_lines([
        "  one  test_one.py::test_statement_that_does_not_hold: "
        "VERDICT CHANGED: SUPPORTED → INCONCLUSIVE",
        "lowdim: 1 verdict(s) changed against *copy.json with the method unchanged: the "
        "session fails",
    ])
    status = {t: r["vs_baseline"]["status"] for t, r in by_test(second).items()}
    assert status == {
        ONE_MOST: "unchanged",  # docstrings and comments are not the method
        ONE_XFAIL: "verdict changed",
        "test_two.py::test_gain_is_positive[0.5]": "claim changed",
        "test_two.py::test_gain_is_positive[0.25]": "claim changed",
    }
    assert second["meta"]["baseline"]["counts"] == {
        "claim changed": 2, "unchanged": 1, "verdict changed": 1}
    md = (pytester.path / "out" / "claims.md").read_text()
    assert "| vs baseline" in md and "## vs baseline `" in md and "SUPPORTED → INCONCLUSIVE" in md


def test_shards_merged_give_the_rows_of_one_full_run(pytester, tmp_path):
    pytester.makepyfile(test_one=FILE_ONE, test_two=FILE_TWO, test_three=FILE_THREE)
    _, full = run(pytester)
    reports = []
    for i in (1, 2):
        result, shard = run(pytester, f"--lowdim-shard={i}/2", out=f"shard{i}")
        assert shard["meta"]["shard"] == {"index": i, "count": 2}
        reports.append((str(pytester.path / f"shard{i}" / "claims.json"), shard))
    files = [sorted({bl.file_of(r["test"]) for r in rep["rows"]}) for _, rep in reports]
    assert files == [["test_one.py", "test_two.py"], ["test_three.py"]]  # whole files
    merged = bl.merge(reports)
    assert merged["meta"]["n_decisions"] == full["meta"]["n_decisions"] == 5

    def strip(rows):
        return [{k: v for k, v in r.items() if k != "duration_s"} for r in rows]

    assert strip(merged["rows"]) == strip(full["rows"])  # p_holm recomputed over all rows
    assert merged.get("claims") == full.get("claims")  # other top-level parts: their union

    # the CLI writes it, compares it with a baseline (the full run), and refuses a double count
    out = tmp_path / "merged.json"
    paths = [p for p, _ in reports]
    assert cli.main(["merge", str(out), *paths,
                     "--baseline", str(pytester.path / "out" / "claims.json")]) == 0
    assert (tmp_path / "merged.md").exists() and (tmp_path / "merged.csv").exists()
    written = json.loads(out.read_text())
    assert {r["vs_baseline"]["status"] for r in written["rows"]} == {"unchanged"}
    assert cli.main(["merge", str(tmp_path / "m2.json"), paths[0], paths[0]]) == 2
    # `lowdim compare`: exit 0 when no verdict changed, 1 when one did
    assert cli.main(["compare", str(pytester.path / "out" / "claims.json"), str(out)]) == 0
    written["rows"][0]["evidence"]["verdict"] = "REFUTED"
    (tmp_path / "changed.json").write_text(json.dumps(written))
    assert cli.main(["compare", str(out), str(tmp_path / "changed.json")]) == 1


@pytest.mark.parametrize("args, message", [
    (("--lowdim-shard=3/2",), "--lowdim-shard: got '3/2'; need 1 <= I <= N"),
    (("--lowdim-baseline=missing.json",), "--lowdim-baseline *missing.json: no such file"),
    (("--lowdim-baseline=bad.json",), "--lowdim-baseline *bad.json: not valid JSON"),
    (("--lowdim-baseline=other.json", "--lowdim-seed-offset=100"),
     "*seed block 0..n-1, this run 100..100+n-1: that is a replication, not a regression check*"),
    (("--lowdim-baseline=strings.json",), "*row t.py::x: 'evidence' needs a verdict and a list"),
], ids=["bad-shard", "missing-file", "not-json", "other-seed-block", "bad-values"])
def test_bad_shard_or_baseline_is_a_usage_error(pytester, args, message):
    pytester.makepyfile(test_three=FILE_THREE)
    (pytester.path / "bad.json").write_text("{not json")
    (pytester.path / "other.json").write_text(json.dumps(report_of([])))
    strings = report_of([{"test": "t.py::x", "evidence": {"verdict": "SUPPORTED",
                                                          "values": ["1"]}}])
    (pytester.path / "strings.json").write_text(json.dumps(strings))
    result, _ = run(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}*"])


def test_new_writes_a_claim_skeleton_that_passes(pytester):
    assert cli.main(["new", "wide-nets", "--dir", str(pytester.path / "claims")]) == 0
    path = pytester.path / "claims" / "test_wide_nets.py"
    text = path.read_text()
    for section in ("Claim ", "Source ", "Method ", "Test ", "Expect ", "Known artefacts"):
        assert f"\n{section}" in text
    assert 'pytest.mark.claim(\n    "wide-nets"' in text
    conftest = pytester.path / "claims" / "conftest.py"  # a new claims folder opts in
    assert "lowdim_claims = True" in conftest.read_text()
    conftest.write_text("# the user's own\n")
    assert cli.main(["new", "other-claim", "--dir", str(pytester.path / "claims")]) == 0
    assert conftest.read_text() == "# the user's own\n"  # never overwritten
    (pytester.path / "claims" / "test_other_claim.py").unlink()
    result, report = run(pytester, str(path))
    result.assert_outcomes(passed=1)
    assert report["rows"][0]["evidence"]["verdict"] == "SUPPORTED"
    # refuses to overwrite, validates the name
    assert cli.main(["new", "wide-nets", "--dir", str(pytester.path / "claims")]) == 2
    for bad in ("Wide", "1x", "a--b", "test_x", "a/b", ""):
        with pytest.raises(ValueError, match="NAME: got"):
            scaffold.check_name(bad)


# ------------------------------------------------------------------------------------------
# report dicts, no session


def evidence(values, *, verdict="SUPPORTED", threshold=0.0):
    ev = ld.location(np.asarray(values, dtype=float), threshold=threshold).to_dict()
    ev["verdict"] = verdict
    return ev


def row(test, values, *, method="m1", verdict="SUPPORTED"):
    return {"test": test, "claim": "c", "outcome": "passed", "method_hash": method,
            "evidence": evidence(values, verdict=verdict), "conditions": {}}


def report_of(rows, **options):
    opts = {"profile": "quick", "seed_offset": 0, "seeds": None, "device": "cpu",
            "report_dir": "reports", "write": True, **options}
    return {"schema_version": 1, "rows": rows,
            "meta": {"options": opts, "versions": {"torch": "x"}, "git_commit": "abc",
                     "device": "cpu", "exitstatus": 0}}


def test_compare_statuses_and_drift_margin():
    rng = np.random.default_rng(0)
    v = rng.normal(1.0, 0.1, 40)
    base = report_of([row("f.py::same", v), row("f.py::tiny", v), row("f.py::shift", v),
                      row("f.py::edited", v), row("f.py::gone", v), row("g.py::other", v)])
    new = report_of([row("f.py::same", v), row("f.py::tiny", v + rng.normal(0, 1e-4, 40)),
                     row("f.py::shift", v + 0.5), row("f.py::edited", v, method="m2",
                                                      verdict="REFUTED"),
                     row("f.py::added", v)])
    c = bl.compare(base, new, files={"f.py"})
    status = {t: d["status"] for t, d in c["rows"].items()}
    assert status == {"f.py::same": "unchanged", "f.py::tiny": "drift", "f.py::shift": "drift",
                      "f.py::edited": "claim changed", "f.py::added": "new"}
    assert c["rows"]["f.py::tiny"]["tost_verdict"] == "SUPPORTED"  # within the margin
    assert c["rows"]["f.py::shift"]["tost_verdict"] == "REFUTED"  # beyond it
    margin = c["rows"]["f.py::tiny"]["margin"]
    mad = np.median(np.abs(v - np.median(v)))
    assert margin == pytest.approx(0.5 * mad / stats.norm.ppf(0.75))  # 0.5 x normal-scaled MAD
    assert [d["test"] for d in c["vanished"]] == ["f.py::gone"]
    assert c["outside"] == {"g.py": 1} and not c["failed"]  # claim changed does not fail

    new["rows"][0]["evidence"]["verdict"] = "INCONCLUSIVE"
    assert bl.compare(base, new)["failed"]
    # another seed block: a replication, verdicts only
    rep = bl.compare(base, report_of(new["rows"], seed_offset=100))
    assert rep["mode"] == "replication" and rep["rows"]["f.py::same"]["status"] == "not replicated"
    assert rep["rows"]["f.py::tiny"]["status"] == "replicated"
    with pytest.raises(ValueError, match="profile 'quick', this run 'full'"):
        bl.compare(base, report_of([], profile="full"))


def test_method_hash_ignores_prose_and_neighbours_but_not_code():
    src = FILE_ONE
    norm = bl.normalised_source(src, "test_most_seeds_succeed")
    assert norm == bl.normalised_source(
        src.replace("ignores.", "ignores!").replace("# a comment", "# another"),
        "test_most_seeds_succeed")
    assert norm == bl.normalised_source(src.replace("np.arange(20) < 10", "np.arange(20) < 9"),
                                        "test_most_seeds_succeed")  # another test's body
    assert norm != bl.normalised_source(src.replace("< 17", "< 16"), "test_most_seeds_succeed")


def test_merge_refuses_mismatches_and_double_counts():
    a = report_of([row("a.py::t", [1.0, 2.0, 3.0])])
    a["meta"]["shard"] = {"index": 1, "count": 2}
    b = report_of([row("b.py::t", [1.0, 2.0, 4.0])])
    b["meta"]["shard"] = {"index": 2, "count": 2}
    merged = bl.merge([("a", a), ("b", b)])
    assert [r["test"] for r in merged["rows"]] == ["a.py::t", "b.py::t"]
    assert merged["meta"]["shards_missing"] == []
    assert all("p_holm" in r for r in merged["rows"])
    cases = [
        (report_of([], profile="full"), "options differ between b and a: profile 'full' vs"),
        ({**b, "meta": {**b["meta"], "versions": {"torch": "y"}}}, "versions differ"),
        ({**b, "meta": {**b["meta"], "shard": {"index": 1, "count": 2}}}, "shard 1/2 given twice"),
        ({**b, "rows": a["rows"]}, "test a.py::t is in both a and b"),
    ]
    for other, message in cases:
        if "shard" not in other["meta"]:
            other["meta"]["shard"] = {"index": 2, "count": 2}
        with pytest.raises(ValueError, match=message.replace("(", r"\(")):
            bl.merge([("a", a), ("b", other)])


def test_step_summary_is_appended_and_kept_under_the_limit(tmp_path):
    target = tmp_path / "summary.md"
    table = "# title\n" + "".join(f"| row {i} | {'x' * 50} |\n" for i in range(1000))
    assert bl.write_step_summary(table, path=target, limit=10_000) == target
    text = target.read_text()
    assert len(text.encode()) < 10_000 and text.startswith("# title\n| row 0 |")
    assert "more lines left out to stay under GitHub's 1 MiB step-summary limit" in text
    assert bl.write_step_summary(table, path=target, limit=10_000) is None  # no room left
    assert bl.write_step_summary("ok\n", path=target, limit=len(text.encode()) + 4) == target
    assert target.read_text() == text + "\nok\n"  # appended after a blank line, at the limit


def test_a_verdict_changed_on_other_cpu_kernels_fails_unless_the_baseline_row_is_fragile():
    v = np.random.default_rng(1).normal(1.0, 0.1, 20)
    base, new = report_of([row("f.py::a", v)]), report_of([row("f.py::a", v)])
    new["rows"][0]["evidence"]["verdict"] = "INCONCLUSIVE"
    base["meta"]["cpu_capability"], new["meta"]["cpu_capability"] = "AVX2", "AVX512"
    # fragile by the report's own measure: <= 2 seeds reversed change it, or p within 10x alpha
    for fragility in ({"flips": 2, "log10_p_alpha": -4.0}, {"flips": 9, "log10_p_alpha": -0.9}):
        base["rows"][0]["fragility"] = {**fragility, "flips_to": "INCONCLUSIVE", "move": "-"}
        c = bl.compare(base, new)
        d = c["rows"]["f.py::a"]
        assert d["status"] == "verdict changed on another CPU" and not c["failed"]
        assert "AVX2 → AVX512" in d["text"] and "the baseline row is fragile" in d["text"]
        assert c["other_cpu"] and any("CPU kernels differ" in n for n in c["notes"])
    # robust (its recorded fragility, or computed from its evidence: 3 flips): the gate holds
    for fragility in ({"flips": 3, "log10_p_alpha": -4.0, "flips_to": None, "move": "-"}, None):
        base["rows"][0]["fragility"] = fragility
        c = bl.compare(base, new)
        d = c["rows"]["f.py::a"]
        assert d["status"] == "verdict changed" and c["failed"], d
        assert "on another CPU (AVX2 → AVX512), and the baseline row is robust" in d["text"]
    lines = [line for line, red in bl.render_terminal(c) if red]
    assert lines[0].startswith("lowdim: NO BASELINE OF THIS CPU KIND: baseline ran on other CPU")
    base["rows"][0]["fragility"] = {"flips": 1, "log10_p_alpha": -4.0, "flips_to": None,
                                    "move": "-"}
    # the same kernels, or a baseline that did not record them: the gate holds
    for cap in ("AVX512", None):
        base["meta"]["cpu_capability"] = cap
        assert bl.compare(base, new)["failed"]
    # a GPU run is not excused by its host's CPU kernels
    base["meta"]["cpu_capability"] = "AVX2"
    new["meta"]["device"] = base["meta"]["device"] = "cuda"
    assert bl.compare(base, new)["failed"]


def test_measured_kernel_fingerprints_decide_other_cpu_over_the_capability_name():
    # Intel and AMD both report AVX512, but MKL runs other matmul kernels on them
    v = np.random.default_rng(1).normal(1.0, 0.1, 20)
    base, new = report_of([row("f.py::a", v)]), report_of([row("f.py::a", v)])
    new["rows"][0]["evidence"]["verdict"] = "INCONCLUSIVE"
    for m, kern, fp in ((base, "AVX512/mkl-avx512", "aaaaaaaaaaaa"),
                        (new, "AVX512/mkl-avx2", "bbbbbbbbbbbb")):
        m["meta"].update(cpu_capability="AVX512", cpu_kernels=kern, numerics=fp)
    base["rows"][0]["fragility"] = {"flips": 1, "log10_p_alpha": -1.5, "flips_to": "INCONCLUSIVE",
                                    "move": "-"}
    c = bl.compare(base, new)
    assert c["rows"]["f.py::a"]["status"] == "verdict changed on another CPU" and not c["failed"]
    assert "AVX512/mkl-avx512 (aaaaaaaaaaaa) → AVX512/mkl-avx2 (bbbbbbbbbbbb)" in c["rows"][
        "f.py::a"]["text"]
    # with per-probe digests recorded, the note names the probes that round differently
    base["meta"]["numerics_probes"] = {"torch bmm f32": "1", "numpy svd f64": "2", "old": "3"}
    new["meta"]["numerics_probes"] = {"torch bmm f32": "9", "numpy svd f64": "2", "new": "4"}
    assert any("(probes that round differently: torch bmm f32)" in n
               for n in bl.compare(base, new)["notes"])
    new["meta"]["numerics"] = "aaaaaaaaaaaa"  # the same measured kernels: the gate holds
    new["meta"]["cpu_capability"] = "AVX2"
    assert bl.compare(base, new)["failed"]


def test_the_report_header_names_the_cpu_kernels_when_recorded():
    from lowdim.report import render_markdown

    rep = report_of([row("f.py::a", np.linspace(0, 1, 8))])
    assert "CPU kernels" not in render_markdown(rep)  # an older report: no line
    rep["meta"].update(cpu_kernels="AVX512/mkl-avx2", numerics="0123456789ab")
    assert ("- CPU kernels: `AVX512/mkl-avx2` (numerics fingerprint `0123456789ab`"
            in render_markdown(rep))
