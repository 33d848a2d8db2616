"""Acceptance tests of the pytest plugin: real pytest sessions (pytester), with and without xdist.

The claim files here record Evidence computed from fixed numpy arrays (no training), so each
session costs what starting pytest costs. The lowdim plugin loads through its pytest11 entry
point, as in a user's own test folder. Sessions run in this process (cheap: torch is already
imported) except the xdist one, which needs a fresh process to start its workers.
"""

import csv
import json

import numpy as np
import pytest
import torch

import lowdim as ld

CLAIM_FILE = '''
"""A demo claim file.

Its method.
"""

import numpy as np
import pytest
import torch

import lowdim as ld

pytestmark = pytest.mark.claim("demo-claim", statement="most seeds succeed", source="tests")


def flags(k, n=20):
    return np.arange(n) < k


@pytest.mark.parametrize("k", [19, 10, 2], ids=["supported", "inconclusive", "refuted"])
def test_proportion(claim, k):
    ev = claim.record(ld.proportion(flags(k), threshold=0.5))
    assert ev.supported, ev


def test_records_nothing(claim):
    assert claim.id == "demo-claim"


@pytest.mark.xfail(strict=True, reason="a statement that does not hold as stated")
def test_statement_that_does_not_hold(claim):
    ev = claim.record(ld.proportion(flags(10), threshold=0.5))
    assert ev.supported, ev


@pytest.mark.skip(reason="not in this run")
def test_skipped(claim):
    raise AssertionError("never runs")


@pytest.fixture
def broken():
    raise RuntimeError("the fixture broke")


def test_fixture_error(claim, broken):
    raise AssertionError("never runs")


@pytest.mark.parametrize("width", [np.int64(4)])
def test_conditions(claim, width):
    ev = ld.paired(np.arange(12.0) + 1, np.arange(12.0) * 0.5)
    claim.record(
        ev, lr=np.float32(0.5), widths=np.array([2, 32]), t=torch.tensor([1.5, 2.5]),
        s=torch.tensor(3.0), n=np.int64(7), flag=np.bool_(True), nested={"x": np.float64(0.25)},
    )
    assert ev.supported, ev


@pytest.mark.claim("other-claim", statement="another statement", source="elsewhere")
def test_other_claim(claim):
    table = np.arange(30.0).reshape(10, 3)
    ev = claim.record(ld.trend(table, conditions=["a", "b", "c"]))
    assert ev.supported, ev
'''

PLAIN_FILE = '''
def test_without_a_claim():
    pass
'''

# test id -> (claim, outcome, verdict)
EXPECTED = {
    "test_demo.py::test_conditions[width0]": ("demo-claim", "passed", "SUPPORTED"),
    "test_demo.py::test_fixture_error": ("demo-claim", "error", None),
    "test_demo.py::test_other_claim": ("other-claim", "passed", "SUPPORTED"),
    "test_demo.py::test_proportion[inconclusive]": ("demo-claim", "failed", "INCONCLUSIVE"),
    "test_demo.py::test_proportion[refuted]": ("demo-claim", "failed", "REFUTED"),
    "test_demo.py::test_proportion[supported]": ("demo-claim", "passed", "SUPPORTED"),
    # a claim test that passes without claim.record fails (its row says why: "warnings")
    "test_demo.py::test_records_nothing": ("demo-claim", "failed", None),
    "test_demo.py::test_skipped": ("demo-claim", "skipped", None),
    "test_demo.py::test_statement_that_does_not_hold": ("demo-claim", "xfailed", "INCONCLUSIVE"),
    "test_plain.py::test_without_a_claim": (None, "passed", None),
}


def run_claims(pytester: pytest.Pytester, *args: str, subprocess: bool = False):
    """Run the claim files; in a fresh process (where xdist can start workers) or, cheaper, in
    this one. Returns pytest's result and the claims.json it wrote."""
    pytester.makepyfile(test_demo=CLAIM_FILE, test_plain=PLAIN_FILE)
    args = ("--lowdim-report-dir=out", "-p", "no:cacheprovider", *args)
    if subprocess:
        # hypothesis's plugin is not needed in there; loading (and assertion-rewriting) it in
        # each of the three processes cost ~4 s of CPU
        result = pytester.runpytest_subprocess(*args, "-p", "no:hypothesispytest", timeout=300)
    else:
        result = pytester.runpytest_inprocess(*args)
    report = json.loads((pytester.path / "out" / "claims.json").read_text())
    return result, report


def by_test(report):
    return {row["test"]: row for row in report["rows"]}


def without_timing(rows):
    return [{k: v for k, v in row.items() if k != "duration_s"} for row in rows]


def test_report_has_a_row_per_test_with_outcome_claim_and_verdict(pytester):
    result, report = run_claims(pytester, "-n", "0")
    result.assert_outcomes(passed=4, failed=3, skipped=1, xfailed=1, errors=1)
    rows = by_test(report)
    assert sorted(rows) == sorted(EXPECTED) == [row["test"] for row in report["rows"]]
    for test, (claim, outcome, verdict) in EXPECTED.items():
        row = rows[test]
        assert (row["claim"], row["outcome"]) == (claim, outcome), row
        assert (row["evidence"] or {}).get("verdict") == verdict, row
    # the report carries the source's statement and what reproduces the row
    row = rows["test_demo.py::test_proportion[refuted]"]
    assert (row["statement"], row["source"]) == ("most seeds succeed", "tests")
    assert row["conditions"] == {"k": 2}
    assert row["reproduce"].startswith("pytest 'test_demo.py::test_proportion[refuted]'")
    assert "--lowdim-seed-offset=0" in row["reproduce"]
    assert rows["test_demo.py::test_other_claim"]["statement"] == "another statement"
    # the evidence in the report is exactly what lowdim.stats computed
    expect = ld.proportion(np.arange(20) < 2, threshold=0.5).to_dict()
    assert row["evidence"] == json.loads(json.dumps(expect))
    assert report["schema_version"] == 1
    assert report["meta"]["options"]["seed_offset"] == 0 and report["meta"]["exitstatus"] == 1
    assert not (pytester.path / "out" / ".claims.journal.jsonl").exists()  # removed once written

    md = (pytester.path / "out" / "claims.md").read_text()
    for test in EXPECTED:
        assert test.split("::")[1] in md
    assert "| REFUTED" in md and "| INCONCLUSIVE" in md and "xfailed" in md
    with open(pytester.path / "out" / "claims.csv", newline="") as f:
        table = {r["test"]: r for r in csv.DictReader(f)}
    assert sorted(table) == sorted(EXPECTED)
    assert {t: r["outcome"] for t, r in table.items()} == {t: e[1] for t, e in EXPECTED.items()}

    # the terminal summary shows the same table
    result.stdout.fnmatch_lines([
        "*lowdim claims*",
        "claim*test*statistic*estimate [[]interval[]]*vs*n*p*verdict*outcome",
        "*other-claim*test_other_claim*SUPPORTED*passed",  # rows in test id order
        "*demo-claim*test_proportion[[]refuted[]]*REFUTED*failed",
        "report: *claims.md*",
    ])


def test_conditions_are_coerced_to_plain_json(pytester):
    _, report = run_claims(pytester, "-n", "0", "-k", "conditions")
    row = by_test(report)["test_demo.py::test_conditions[width0]"]
    assert row["outcome"] == "passed"
    expect = {"width": 4, "lr": 0.5, "widths": [2, 32], "t": [1.5, 2.5], "s": 3.0, "n": 7,
              "flag": True, "nested": {"x": 0.25}}
    assert row["conditions"] == expect
    assert type(row["conditions"]["n"]) is int and type(row["conditions"]["flag"]) is bool


@pytest.mark.slow  # subprocess runs: skipped by the inner loop (-m 'not slow')
def test_xdist_rows_equal_serial_rows_apart_from_timing(pytester):
    _, serial = run_claims(pytester, "-n", "0")
    result, parallel = run_claims(pytester, "-n", "2", subprocess=True)
    result.assert_outcomes(passed=4, failed=3, skipped=1, xfailed=1, errors=1)
    assert parallel["meta"]["xdist_workers"] == 2
    assert without_timing(parallel["rows"]) == without_timing(serial["rows"])
    # the claims' docstrings (claims.html) reach the controller once per worker, not per test
    assert parallel["claims"] == serial["claims"]
    assert serial["claims"]["demo-claim"]["doc"] == "A demo claim file.\n\nIts method."
    result.stdout.fnmatch_lines(["*lowdim claims*", "*other-claim*test_other_claim*SUPPORTED*"])


OPTIONS_FILE = '''
import pytest

import lowdim as ld

pytestmark = pytest.mark.claim("options", statement="-", source="-")


def test_seeds(claim):
    claim.record(ld.proportion([True] * 5, threshold=0.5), seeds=claim.seeds(5),
                 profile=claim.profile, chosen=claim.choose(quick=1, full=2),
                 device=claim.device)
    assert claim.choose({"quick": 1, "full": 2}) == claim.choose(quick=1, full=2)
    with pytest.raises(ValueError, match="exactly the keys"):
        claim.choose({"quick": 1})
    with pytest.raises(TypeError, match="not both"):
        claim.choose({"quick": 1, "full": 2}, quick=3)


def test_record_is_once_and_only_evidence(claim):
    with pytest.raises(TypeError, match="evidence: got dict"):
        claim.record({"p": 0.1})
    claim.record(ld.proportion([True] * 5, threshold=0.5))
    with pytest.raises(RuntimeError, match="called twice"):
        claim.record(ld.proportion([True] * 5, threshold=0.5))
    with pytest.raises(ValueError, match="n: got 0"):
        claim.seeds(0)
'''


@pytest.mark.parametrize(
    "args, seeds, profile",
    [
        ((), [0, 1, 2, 3, 4], "quick"),
        (("--lowdim-seeds", "3"), [0, 1, 2], "quick"),
        (("--lowdim-seed-offset", "100"), [100, 101, 102, 103, 104], "quick"),
        (("--lowdim-seeds=2", "--lowdim-seed-offset=7", "--lowdim-profile=full"), [7, 8], "full"),
    ],
)
def test_seed_options_change_claim_seeds(pytester, args, seeds, profile):
    pytester.makepyfile(test_options=OPTIONS_FILE)
    result = pytester.runpytest_inprocess("--lowdim-report-dir=out", *args)
    result.assert_outcomes(passed=2)
    row = by_test(json.loads((pytester.path / "out" / "claims.json").read_text()))[
        "test_options.py::test_seeds"]
    assert row["conditions"]["seeds"] == seeds
    assert row["conditions"]["profile"] == profile
    assert row["conditions"]["chosen"] == (2 if profile == "full" else 1)
    assert row["conditions"]["device"] == "cpu"
    for option in args:  # the reproduce command carries the run's options
        if option.startswith("--lowdim-seed"):
            assert option.split("=")[0] in row["reproduce"]


BAD_OPTIONS = [
    (("--lowdim-seeds", "0"), "--lowdim-seeds: got 0"),
    (("--lowdim-seed-offset", "-1"), "--lowdim-seed-offset: got -1"),
    (("--lowdim-profile", "bogus"), "--lowdim-profile: got 'bogus'; allowed: quick, full"),
    (("--lowdim-device", "tpu"), "--lowdim-device: got 'tpu'"),
    (("--lowdim-threads", "0"), "--lowdim-threads: got 0"),
]
if not torch.cuda.is_available():
    BAD_OPTIONS.append((("--lowdim-device", "cuda"), "--lowdim-device cuda: no CUDA device"))


@pytest.mark.parametrize("args, message", BAD_OPTIONS, ids=lambda v: " ".join(v)
                         if isinstance(v, tuple) else None)
def test_bad_option_values_are_usage_errors_naming_the_option(pytester, args, message):
    pytester.makepyfile(test_options=OPTIONS_FILE)
    result = pytester.runpytest_inprocess("--lowdim-report-dir=out", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()
    assert not (pytester.path / "out").exists()


def test_no_report_option_writes_nothing_but_still_prints_the_table(pytester):
    pytester.makepyfile(test_options=OPTIONS_FILE)
    result = pytester.runpytest_inprocess("--lowdim-report-dir=out", "--lowdim-no-report")
    result.assert_outcomes(passed=2)
    assert not (pytester.path / "out").exists()
    result.stdout.fnmatch_lines(["*lowdim claims*", "options*test_seeds*P(property)*passed"])


def test_a_run_opted_in_without_claims_prints_no_table(pytester):
    # a plain session is left alone (tests/test_citizen.py); `-p lowdim` opts it in
    pytester.makepyfile(test_plain=PLAIN_FILE)
    result = pytester.runpytest_inprocess("--lowdim-report-dir=out", "-p", "lowdim")
    result.assert_outcomes(passed=1)
    assert "lowdim claims" not in result.stdout.str()
    rows = json.loads((pytester.path / "out" / "claims.json").read_text())["rows"]
    assert [(r["test"], r["claim"], r["outcome"]) for r in rows] == [
        ("test_plain.py::test_without_a_claim", None, "passed")]


def test_an_unwritable_report_dir_is_a_usage_error_before_anything_runs(pytester):
    pytester.makepyfile(test_plain=PLAIN_FILE)
    (pytester.path / "blocker").write_text("a file, not a folder")
    result = pytester.runpytest_inprocess("--lowdim-report-dir=blocker/out", "-p", "lowdim")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--lowdim-report-dir blocker/out: cannot write there" in result.stderr.str()
    assert "passed" not in result.stdout.str()


def test_a_claim_marker_without_an_id_is_a_usage_error(pytester):
    pytester.makepyfile(test_bad='''
import pytest

@pytest.mark.claim(statement="no id")
def test_x(claim):
    pass
''')
    result = pytester.runpytest_inprocess("--lowdim-report-dir=out")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "@pytest.mark.claim needs one claim id string" in result.stderr.str()


STOP_FILE = '''
import time

import pytest

pytestmark = pytest.mark.claim("stop-claim", statement="-", source="-")


def test_fails_first():
    assert False


@pytest.mark.parametrize("i", range(4))
def test_never_reached(i):
    time.sleep(0.3)  # the run stops (-x) before these report
'''


def test_rows_of_tests_that_never_ran_under_xdist_carry_their_claim_id(pytester):
    pytester.makepyfile(test_stop=STOP_FILE)
    # in this process: xdist's worker is a fresh process anyway, the controller need not be
    pytester.runpytest_inprocess("-x", "-n", "1", "-p", "no:hypothesispytest",
                                 "--lowdim-report-dir=out")
    rows = json.loads((pytester.path / "out" / "claims.json").read_text())["rows"]
    assert len(rows) == 5 and any(r["outcome"] == "not run" for r in rows)
    assert [r["claim"] for r in rows] == ["stop-claim"] * 5, rows


def test_files_are_dealt_longest_first_from_the_last_runs_times():
    from types import SimpleNamespace

    from lowdim.plugin.scheduling import longest_files_first

    items = [SimpleNamespace(nodeid=n) for n in (
        "claims/a.py::t1", "claims/a.py::t2", "claims/b.py::t1", "claims/c.py::t1",
        "claims/a.py::t3", "claims/d.py::t1")]
    order = lambda seconds: [it.nodeid for it in longest_files_first(items, seconds)]  # noqa: E731
    # d.py is new (no time yet): first; then c (30 s), a (20 s), b (5 s); each file's own order
    assert order({"claims/a.py": 20.0, "claims/b.py": 5.0, "claims/c.py": 30.0}) == [
        "claims/d.py::t1", "claims/c.py::t1", "claims/a.py::t1", "claims/a.py::t2",
        "claims/a.py::t3", "claims/b.py::t1"]
    # no times at all: more tests first, ties in collection order (xdist's own rule)
    assert order({})[:3] == ["claims/a.py::t1", "claims/a.py::t2", "claims/a.py::t3"]
    assert order({})[3:] == ["claims/b.py::t1", "claims/c.py::t1", "claims/d.py::t1"]
    # times of other files only (the last report was of `pytest tests`): as without times
    assert order({"tests/test_x.py": 9.0}) == order({})


def test_expected_file_times_merge_the_baseline_and_the_latest_report(tmp_path):
    from types import SimpleNamespace

    from lowdim.plugin.scheduling import expected_file_seconds
    from lowdim.report import SCHEMA_VERSION

    def write(path, rows):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"schema_version": SCHEMA_VERSION, "meta": {}, "rows": [
            {"test": t, "duration_s": d} for t, d in rows]}))

    write(tmp_path / "base.json", [("claims/a.py::x", 10.0), ("claims/a.py::y", 5.0),
                                   ("claims/b.py::x", 7.0)])
    write(tmp_path / "reports" / "claims.json", [("claims/b.py::x", 3.0), ("tests/t.py::z", 1.0)])
    opts = {"lowdim_report_dir": "reports", "lowdim_baseline": "base.json"}
    config = SimpleNamespace(getoption=opts.get,
                             invocation_params=SimpleNamespace(dir=tmp_path))
    assert expected_file_seconds(config) == {"claims/a.py": 15.0, "claims/b.py": 3.0,
                                              "tests/t.py": 1.0}
    # a run served from the run cache: its rows' cached_s count as what a cold run costs
    report = tmp_path / "reports" / "claims.json"
    data = json.loads(report.read_text())
    data["rows"][0].update(duration_s=0.1, cached_s=8.9)
    report.write_text(json.dumps(data))
    assert expected_file_seconds(config)["claims/b.py"] == 9.0
    opts["lowdim_baseline"] = None
    (tmp_path / "reports" / "claims.json").write_text("not json")  # unreadable: no times
    assert expected_file_seconds(config) == {}


# ------------------------------------------------------------------------------------------
# shards, undecidable rows, junit properties, run history (issue 20)


def test_every_file_lands_in_exactly_one_shard_dealt_longest_first():
    import random

    from lowdim.plugin.scheduling import shard_files

    rng = random.Random(0)
    files = [f"claims/test_{c}.py" for c in "abcdefghij"]
    nodeids = [f"{f}::t{i}" for f in files for i in range(3)]
    for count in range(1, 6):
        for seconds in ({}, {f: rng.uniform(1, 100) for f in files},
                        {f: rng.uniform(1, 100) for f in files[:4]}):  # some times unknown
            shards = [shard_files(nodeids, (i, count), seconds) for i in range(1, count + 1)]
            assert sorted(f for s in shards for f in s) == sorted(files), (count, seconds)
    # no times: the sorted files round-robin, as before
    assert shard_files(nodeids, (2, 4), {}) == {"claims/test_b.py", "claims/test_f.py",
                                                "claims/test_j.py"}
    # times: longest first to the least loaded shard; here a perfect split, 60 s each, where
    # round-robin by path gives 96 / 42 / 37 / 66 s (the measurement)
    times = dict(zip(files, [30, 20, 12, 10, 25, 22, 8, 35, 3, 15]))
    shards = [shard_files(nodeids, (i, 4), times) for i in range(1, 5)]
    loads = [sum(times[f] for f in s) for s in shards]
    round_robin = [sum(times[f] for f in sorted(files)[i::4]) for i in range(4)]
    assert max(loads) < max(round_robin) and max(loads) - min(loads) <= 10, (loads, round_robin)
    # a file without a time counts as the mean of the known ones
    assert shard_files(["x.py::t", "y.py::t", "z.py::t"], (1, 2), {"x.py": 10.0, "y.py": 2.0}) \
        == {"x.py"}


SHARD_FILE = '''
import pytest

import lowdim as ld

pytestmark = pytest.mark.claim("{claim}", statement="-", source="-")


def test_it(claim):
    claim.record(ld.proportion([True] * 12, threshold=0.5))
'''


def test_a_shard_of_a_run_against_a_baseline_takes_its_files_longest_first(pytester):
    pytester.makepyfile(**{f"test_{c}": SHARD_FILE.format(claim=c) for c in "abc"})
    args = ("-p", "no:cacheprovider", "-p", "no:randomly")
    pytester.runpytest_inprocess("--lowdim-report-dir=full", "--lowdim-save-baseline=base.json",
                                 *args).assert_outcomes(passed=3)
    base = json.loads((pytester.path / "base.json").read_text())
    for row, seconds in zip(base["rows"], (10.0, 6.0, 5.0)):  # a: 10 s, b: 6 s, c: 5 s
        row["duration_s"] = seconds
    (pytester.path / "base.json").write_text(json.dumps(base))
    files = []
    for i in (1, 2):
        result = pytester.runpytest_inprocess(f"--lowdim-shard={i}/2", f"--lowdim-report-dir=s{i}",
                                              "--lowdim-baseline=base.json", *args)
        assert result.ret == 0
        rows = json.loads((pytester.path / f"s{i}" / "claims.json").read_text())["rows"]
        files.append(sorted(r["test"].split("::")[0] for r in rows))
    # LPT: a (10 s) to shard 1, b (6 s) to shard 2, c (5 s) to the lighter shard 2;
    # round-robin by path would have given [a, c] and [b]
    assert files == [["test_a.py"], ["test_b.py", "test_c.py"]]


FEW_SEEDS_FILE = '''
"""A claim file whose docstring must not travel with every test case."""

import numpy as np
import pytest

import lowdim as ld

pytestmark = pytest.mark.claim("few", statement="most seeds succeed", source="tests")


@pytest.mark.parametrize("rule", ["proportion", "paired"])
def test_decides_with_its_seeds(claim, rule):
    n = len(claim.seeds(16))
    if rule == "proportion":
        ev = claim.record(ld.proportion(np.ones(n), threshold=0.5))
    else:
        ev = claim.record(ld.paired(np.arange(n) + 1.0, np.zeros(n)))
    assert ev.supported, ev


def test_refuted_at_any_count(claim):
    n = len(claim.seeds(16))
    ev = claim.record(ld.proportion(np.zeros(n), threshold=0.9))  # REFUTED even at n=4
    assert not ev.supported, ev
'''


def test_rows_that_cannot_decide_with_the_seeds_given_say_so(pytester):
    pytester.makepyfile(test_few=FEW_SEEDS_FILE)
    args = ("--lowdim-report-dir=out", "-p", "no:cacheprovider", "-p", "no:randomly")
    result = pytester.runpytest_inprocess(*args)  # 16 seeds: every row decides
    result.assert_outcomes(passed=3)
    assert not any("undecidable" in r for r in json.loads(
        (pytester.path / "out" / "claims.json").read_text())["rows"])

    result = pytester.runpytest_inprocess("--lowdim-seeds=4", *args)
    result.assert_outcomes(passed=1, failed=2)  # the REFUTED row decided: it passes
    rows = by_test(json.loads((pytester.path / "out" / "claims.json").read_text()))
    for rule in ("proportion", "paired"):
        row = rows[f"test_few.py::test_decides_with_its_seeds[{rule}]"]
        assert row["outcome"] == "failed" and row["evidence"]["verdict"] == "INCONCLUSIVE"
        assert row["undecidable"].startswith("cannot decide at n=4: needs >= 7 seeds (")
    assert "undecidable" not in rows["test_few.py::test_refuted_at_any_count"]
    result.stdout.fnmatch_lines([
        "*- lowdim: too few seeds -*",  # in each failure's report
        "cannot decide at n=4: needs >= 7 seeds (the smallest p exact binomial can reach *",
        "lowdim: 2 row(s) cannot decide with the seeds given (their test's smallest attainable "
        "p > alpha), give them more seeds, or check the wiring with --lowdim-smoke, which skips "
        "them: n=4: needs >= 7 seeds: test_decides_with_its_seeds[[]paired[]], "
        "test_decides_with_its_seeds[[]proportion[]]",
    ])

    # the smoke mode: those rows skip with the reason, never pass; the run is green
    result = pytester.runpytest_inprocess("--lowdim-seeds=4", "--lowdim-smoke", "-rs", *args)
    result.assert_outcomes(passed=1, skipped=2)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["SKIPPED *cannot decide at n=4: needs >= 7 seeds*"
                                 "--lowdim-smoke skips it"])
    # a smoke run is not a complete run: beside the complete report, its own file
    assert by_test(json.loads((pytester.path / "out" / "claims.json").read_text())) == rows
    partial = json.loads((pytester.path / "out" / "claims.partial.json").read_text())
    assert partial["meta"]["incomplete"] == "it is a --lowdim-smoke run"
    rows = partial["rows"]
    assert sorted(r["outcome"] for r in rows) == ["passed", "skipped", "skipped"]
    assert all(r["evidence"] for r in rows)  # recorded before the skip


def test_junit_properties_carry_the_claim_but_not_its_docstring(pytester):
    import xml.etree.ElementTree as ET

    pytester.makepyfile(test_few=FEW_SEEDS_FILE)
    pytester.runpytest_inprocess("--lowdim-report-dir=out", "-p", "no:cacheprovider",
                                 "--junitxml=junit.xml").assert_outcomes(passed=3)
    text = (pytester.path / "junit.xml").read_text()
    assert "must not travel" not in text
    case = next(ET.parse(pytester.path / "junit.xml").iter("testcase"))
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert json.loads(props["lowdim_claim"]) == {
        "id": "few", "statement": "most seeds succeed", "source": "tests"}
    report = json.loads((pytester.path / "out" / "claims.json").read_text())
    assert report["claims"]["few"]["doc"].startswith("A claim file whose docstring")


def test_a_complete_run_is_kept_in_the_history_and_a_subset_is_not(pytester):
    history = pytest.importorskip(
        "lowdim.regress.history",
        reason="lowdim.regress.history (save_history) is written by another change")
    pytester.makepyfile(test_few=FEW_SEEDS_FILE)
    args = ("--lowdim-report-dir=out", "-p", "no:cacheprovider", "-p", "no:randomly")
    kept = pytester.path / "out" / "history"
    result = pytester.runpytest_inprocess(*args)
    result.stdout.fnmatch_lines(["history: *out/history/1-*-quick.json*"])
    assert len(history.entries(kept)) == 1
    for subset in (("-k", "refuted"), ("test_few.py::test_refuted_at_any_count",),
                   ("--lowdim-shard=1/1",), ("--lowdim-smoke", "--lowdim-seeds=4"), ("-x",
                    "--lowdim-seeds=4")):
        pytester.runpytest_inprocess(*args, *subset)
        assert len(history.entries(kept)) == 1, subset
    pytester.runpytest_inprocess(*args, "--lowdim-history=2")
    pytester.runpytest_inprocess(*args, "--lowdim-history=2")
    assert [e.n for e in history.entries(kept)] == [2, 3]  # the last 2 kept
    pytester.runpytest_inprocess(*args, "--lowdim-history=0")
    assert len(history.entries(kept)) == 2
