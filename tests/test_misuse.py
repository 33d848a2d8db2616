"""Claim misuse guards of the plugin (issue 19): values that would put a memory address into the
method hash enter by name, claim.seeds(n) takes a whole number in range, a claim test that passes
without recording fails, a row whose Evidence.n is not the seeds the test drew
says so, and a step that breaks after the tests ran (baseline comparison, figures, html) still
leaves the report of what ran, with meta "failed" naming it, and a non-zero exit status.

pytester sessions run in this process on claim files that record Evidence from fixed numpy
arrays (no training).
"""

import json

import numpy as np
import pytest

import lowdim as ld
from lowdim.plugin.claim import MAX_SEEDS, seed_count, seed_mismatch

CONDITIONS = '''
import numpy as np
import pytest
import torch

import lowdim as ld

pytestmark = pytest.mark.claim("by-name", statement="-", source="-")


@pytest.mark.parametrize("act", [torch.tanh])
def test_act(claim, act):
    claim.seeds(8)
    claim.record(ld.proportion(np.ones(8, dtype=bool), threshold=0.5), module=np)
'''


def _rows(pytester, out):
    report = json.loads((pytester.path / out / "claims.json").read_text())
    return {r["test"].split("::", 1)[1]: r for r in report["rows"]}


def test_a_function_condition_enters_by_name_and_keeps_its_method_hash(pytester):
    pytester.makepyfile(test_cond=CONDITIONS)
    hashes = []
    for out in ("a", "b"):
        result = pytester.runpytest_inprocess(f"--lowdim-report-dir={out}", "-p",
                                              "no:cacheprovider")
        result.assert_outcomes(passed=1)
        row = _rows(pytester, out)["test_act[tanh]"]
        assert row["conditions"] == {"act": "torch.tanh", "module": "numpy"}
        assert "0x" not in json.dumps(row)
        hashes.append(row["method_hash"])
    assert hashes[0] == hashes[1]


@pytest.mark.parametrize("n, error, match", [
    (True, TypeError, "claim.seeds n: got True [(]bool[)].*pass an int"),
    (2.9, TypeError, "claim.seeds n: got 2.9 [(]float[)].*pass an int"),
    ("7", TypeError, "claim.seeds n: got '7' [(]str[)]"),
    (None, TypeError, "claim.seeds n: got None"),
    (0, ValueError, "claim.seeds n: got 0; a claim needs at least one seed"),
    (-3, ValueError, "claim.seeds n: got -3"),
    (10**9, ValueError, "claim.seeds n: got 1000000000;.*at most 100,000"),
])
def test_seed_count_takes_a_whole_number_in_range(n, error, match):
    with pytest.raises(error, match=match):
        seed_count(n)


def test_seed_count_takes_ints_of_numpy_and_the_cap():
    assert seed_count(np.int64(3)) == 3 and type(seed_count(np.int64(3))) is int
    assert seed_count(MAX_SEEDS) == MAX_SEEDS


SEEDS = '''
import pytest

import lowdim as ld

pytestmark = pytest.mark.claim("seeds", statement="-", source="-")


def test_bad_counts(claim):
    for bad in (2.9, "7", True):
        with pytest.raises(TypeError, match="claim.seeds n"):
            claim.seeds(bad)
    with pytest.raises(ValueError, match="at most 100,000"):
        claim.seeds(10**9)
    seeds = claim.seeds(6)
    claim.record(ld.proportion([True] * len(seeds), threshold=0.5, alpha=0.05))
'''


@pytest.mark.parametrize("args, seeds", [((), [0, 5]), (("--lowdim-seeds=4",), [0, 3])])
def test_claim_seeds_refuses_bad_counts_also_under_lowdim_seeds(pytester, args, seeds):
    pytester.makepyfile(test_seeds=SEEDS)
    result = pytester.runpytest_inprocess("--lowdim-report-dir=out", "-p", "no:cacheprovider",
                                          *args)
    result.assert_outcomes(passed=1)
    row = _rows(pytester, "out")["test_bad_counts"]
    assert row["seeds"] == seeds and "warnings" not in row


UNRECORDED = '''
import numpy as np
import pytest

import lowdim as ld

pytestmark = pytest.mark.claim("forgot", statement="-", source="-")


def test_forgets_to_record(claim):
    assert claim.seeds(4)


def test_records(claim):
    claim.record(ld.proportion(np.ones(len(claim.seeds(8)), dtype=bool), threshold=0.5))


def test_marker_only():
    pass


@pytest.mark.skip(reason="not today")
def test_skipped(claim):
    pass


@pytest.mark.xfail(reason="known")
def test_xfailed(claim):
    raise AssertionError("as expected")


@pytest.mark.xfail(reason="flaky")
def test_xpassed(claim):
    pass
'''


def test_a_claim_test_that_passes_without_recording_fails(pytester):
    pytester.makepyfile(test_forgot=UNRECORDED)
    result = pytester.runpytest_inprocess("--lowdim-report-dir=out", "-p", "no:cacheprovider",
                                          "-rA")
    result.assert_outcomes(passed=2, failed=1, skipped=1, xfailed=1, xpassed=1)
    result.stdout.fnmatch_lines([
        "*lowdim: test_forgot.py::test_forgets_to_record passed without recording evidence: "
        "call claim.record(evidence) before asserting*"])
    rows = _rows(pytester, "out")
    forgot = rows["test_forgets_to_record"]
    assert forgot["outcome"] == "failed" and forgot["evidence"] is None
    assert forgot["warnings"] == ["passed without recording evidence: call "
                                  "claim.record(evidence) before asserting (or skip the test)"]
    # a test with the marker only cannot record: it passes, with a warning
    marker = rows["test_marker_only"]
    assert marker["outcome"] == "passed" and "take the `claim` fixture" in marker["warnings"][0]
    for test, outcome in [("test_records", "passed"), ("test_skipped", "skipped"),
                          ("test_xfailed", "xfailed"), ("test_xpassed", "xpassed")]:
        assert rows[test]["outcome"] == outcome and "warnings" not in rows[test], test
    result.stdout.fnmatch_lines(["lowdim: 2 warning(s) about how claim tests used their claim:",
                                 "  test_forgot.py::test_forgets_to_record: passed without recording*",
                                 "  test_forgot.py::test_marker_only: *"])


MISMATCH = '''
import warnings

import numpy as np
import pytest

import lowdim as ld

pytestmark = pytest.mark.claim("shapes", statement="-", source="-")
LRS = [0.1, 0.2, 0.4]


def test_transposed_trend(claim):
    seeds = claim.seeds(8)
    table = [[-lr * (s + 1) for s in seeds] for lr in LRS]  # (K, S): the natural mistake
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        claim.record(ld.trend(table))


def test_trend_by_seed(claim):
    seeds = claim.seeds(8)
    claim.record(ld.trend([[-lr * (s + 1) for lr in LRS] for s in seeds],
                          alternative="decreasing"))


def test_excluded_nonfinite(claim):
    v = np.arange(1.0, 1.0 + len(claim.seeds(9)))
    v[2] = np.nan
    claim.record(ld.location(v, threshold=0, nonfinite="exclude"))


def test_a_prefix_of_its_seeds(claim):
    seeds = claim.seeds(12)
    head = claim.seeds(6)
    assert seeds[:6] == head
    claim.record(ld.proportion(np.ones(len(head), dtype=bool), threshold=0.5))
'''


def test_a_row_whose_n_is_not_the_seeds_drawn_warns(pytester):
    pytester.makepyfile(test_shapes=MISMATCH)
    result = pytester.runpytest_inprocess("--lowdim-report-dir=out", "-p", "no:cacheprovider")
    rows = _rows(pytester, "out")
    wrong = rows["test_transposed_trend"]
    assert wrong["evidence"]["n"] == 3 and wrong["seeds"] == [0, 7]
    assert wrong["warnings"] == [
        "Evidence.n = 3, but the test drew 8 seeds with claim.seeds: is a (conditions, seeds) "
        "table passed where (seeds, conditions) is expected (ld.trend, ld.paired take one row "
        "per seed)? Pass one value per seed"]
    for test in ("test_trend_by_seed", "test_excluded_nonfinite", "test_a_prefix_of_its_seeds"):
        assert "warnings" not in rows[test], rows[test]
    assert rows["test_excluded_nonfinite"]["evidence"]["details"]["n_nonfinite"] == 1
    # a warning, not a failure: the outcome is the test's own
    assert wrong["outcome"] in ("passed", "failed")
    assert rows["test_trend_by_seed"]["outcome"] == "passed"
    result.stdout.fnmatch_lines(["lowdim: 1 warning(s) about how claim tests used their claim:",
                                 "  test_shapes.py::test_transposed_trend: Evidence.n = 3, *"])


def test_seed_mismatch_rule():
    ev = ld.proportion(np.ones(5, dtype=bool), threshold=0.5)
    assert seed_mismatch(ev, {5}) is None and seed_mismatch(ev, {10, 5}) is None
    assert seed_mismatch(ev, set()) is None  # the test drew no seeds: nothing to compare
    assert seed_mismatch(ev, {8}).startswith("Evidence.n = 5, but the test drew 8 seeds")
    v = np.array([1.0, np.inf, 3.0, 4.0, 5.0, 6.0])
    kept = ld.location(v, threshold=0, nonfinite="exclude")
    assert seed_mismatch(kept, {6}) is None
    assert "+ 1 non-finite seed(s) excluded" in seed_mismatch(kept, {7})
    # a sequential rule stops early on fewer seeds by design
    seq = ld.Evidence.from_dict({**ev.to_dict(), "rule": "seq-proportion"})
    assert seq.rule == "seq-proportion" and seed_mismatch(seq, {40}) is None


def _broken(*args, **kwargs):
    raise RuntimeError("it broke")


@pytest.mark.parametrize("where, what", [
    ("lowdim.report.figures.write_figures", "writing the figures / html"),
    ("lowdim.report.html.render_html", "writing the figures / html"),
    ("lowdim.regress.RunRegression.annotate", "the baseline comparison"),
])
def test_a_failure_after_the_tests_ran_still_writes_the_report(pytester, monkeypatch, where,
                                                               what):
    monkeypatch.setattr(where, _broken)
    pytester.makepyfile(test_seeds=SEEDS)
    result = pytester.runpytest_inprocess("--lowdim-report-dir=out", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.INTERNAL_ERROR
    report = json.loads((pytester.path / "out" / "claims.json").read_text())
    assert report["meta"]["failed"] == [f"{what}: RuntimeError: it broke"]
    assert report["meta"]["exitstatus"] == int(pytest.ExitCode.INTERNAL_ERROR)
    assert [r["outcome"] for r in report["rows"]] == ["passed"]
    md = (pytester.path / "out" / "claims.md").read_text()
    assert "test_bad_counts" in md and (pytester.path / "out" / "claims.csv").exists()
    assert not (pytester.path / "out" / "history").exists()  # not a complete run
    result.stdout.fnmatch_lines([f"lowdim: {what} failed after the tests ran (RuntimeError: "
                                 "it broke); the report of what ran is written*"])


DIVERGED = '''
import pytest
import torch

import lowdim as ld

pytestmark = pytest.mark.claim("diverges", statement="-", source="-")


def run(claim):
    seeds = claim.seeds(8)
    data = ld.make_moons(seeds, n_samples=40, key="d")
    result = ld.train(ld.MLP((2, 8, 2)), data, ld.TrainConfig(steps=3, optimizer="gd", lr=1e12,
                      loss="cross_entropy"), seeds=seeds, key="m")
    out = result.model.forward(result.params, data.x_test)
    return result, ld.accuracy(out, data.y_test)


def test_uncounted(claim):
    result, acc = run(claim)
    claim.record(ld.proportion(acc > 0.9, threshold=0.5))


def test_counted(claim):
    result, acc = run(claim)
    claim.record(ld.proportion(acc > 0.9, threshold=0.5, diverged=result.diverged,
                               nonfinite="fail"))
'''


def test_seeds_that_diverged_but_are_not_counted_are_named_in_the_row(pytester):
    pytester.makepyfile(test_div=DIVERGED)
    result = pytester.runpytest_inprocess("--lowdim-report-dir=out", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)  # both REFUTED (no seed reaches 0.9); neither asserts
    rows = _rows(pytester, "out")
    (warning,) = rows["test_uncounted"]["warnings"]
    assert warning.startswith("8 seed(s) diverged in lowdim.train (seeds 0, 1, 2, 3, 4, 5, 6, 7)"
                              " but the Evidence counts 0 as non-finite")
    assert "diverged=result.diverged" in warning
    assert "warnings" not in rows["test_counted"]  # counted against the claim: nothing to say
    result.stdout.fnmatch_lines(["*test_uncounted: 8 seed(s) diverged in lowdim.train*"])
