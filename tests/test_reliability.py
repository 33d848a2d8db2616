"""Reliability of a claims run: crashed workers and processes, time limits, SIGTERM, lost
reports, determinism, and diverged seeds.

Claim files here record Evidence from fixed numpy arrays (one file trains a tiny net, for the
determinism check). Sessions that must crash, be killed or start xdist workers run in a fresh
process; the rest run in this one.
"""

import json
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch

import lowdim as ld
from lowdim.plugin import journal as jnl
from lowdim.plugin import reliability as rel
from lowdim.report import load_report, table_rows

FAST_FILE = '''
import numpy as np
import pytest

import lowdim as ld

pytestmark = pytest.mark.claim("{claim}", statement="-", source="-")


@pytest.mark.parametrize("k", [19, 2])
def test_proportion(claim, k):
    ev = claim.record(ld.proportion(np.arange(20) < k, threshold=0.5))
    assert ev.supported, ev
'''

CRASH_FILE = '''
import os
import time

import pytest

pytestmark = pytest.mark.claim("crash", statement="-", source="-")


def test_before():
    pass


def test_exits_the_process():
    os._exit(1)


def test_after():
    pass


def test_hangs():
    time.sleep(60)
'''


def rows_of(path):
    return {r["test"]: r for r in json.loads(path.read_text())["rows"]}


@pytest.mark.slow  # subprocess runs: skipped by the inner loop (-m 'not slow')
def test_a_crashed_xdist_worker_leaves_every_other_row_and_a_crashed_row(pytester):
    pytester.makepyfile(test_one=FAST_FILE.format(claim="one"),
                        test_two=FAST_FILE.format(claim="two"), test_crash=CRASH_FILE)
    result = pytester.runpytest_subprocess(
        "-n", "2", "--lowdim-report-dir=out", "--lowdim-timeout=2", "-p", "no:cacheprovider",
        "-p", "no:hypothesispytest", "-p", "no:randomly", timeout=300)
    assert result.ret != 0
    rows = rows_of(pytester.path / "out" / "claims.json")
    outcomes = {t: r["outcome"] for t, r in rows.items()}
    assert outcomes == {
        "test_crash.py::test_after": "passed",
        "test_crash.py::test_before": "passed",
        "test_crash.py::test_exits_the_process": "crashed",
        "test_crash.py::test_hangs": "timeout",  # --lowdim-timeout acts on xdist workers too
        "test_one.py::test_proportion[19]": "passed",
        "test_one.py::test_proportion[2]": "failed",
        "test_two.py::test_proportion[19]": "passed",
        "test_two.py::test_proportion[2]": "failed",
    }, result.stdout.str()
    assert rows["test_crash.py::test_exits_the_process"]["claim"] == "crash"
    assert rows["test_one.py::test_proportion[2]"]["evidence"]["verdict"] == "REFUTED"


STEPS_FILE = '''
import os
import time

import pytest

pytestmark = pytest.mark.claim("steps", statement="-", source="-")


@pytest.mark.parametrize("i", range(8))
def test_step(i):
    if i == 3 and os.environ.get("LOWDIM_TEST_CRASH"):
        os._exit(1)
    time.sleep(float(os.environ.get("LOWDIM_TEST_SLEEP", "0")))
'''


def test_a_crash_without_xdist_keeps_the_completed_rows_for_the_next_run(pytester, monkeypatch):
    pytester.makepyfile(test_steps=STEPS_FILE)
    monkeypatch.setenv("LOWDIM_TEST_CRASH", "1")
    crashed = pytester.runpytest_subprocess("--lowdim-report-dir=out", "-p", "no:cacheprovider",
                                            "-p", "no:hypothesispytest", "-p", "no:randomly")
    assert crashed.ret == 1
    out = pytester.path / "out"
    assert not (out / "claims.json").exists()
    (journal,) = out.glob(".claims.journal.*.jsonl")
    header, rows = jnl.load_journal(journal)
    assert header["lowdim_journal"] == 1
    assert [(r["test"], r["outcome"]) for r in rows] == [
        (f"test_steps.py::test_step[{i}]", "passed") for i in range(3)]

    monkeypatch.delenv("LOWDIM_TEST_CRASH")
    result = pytester.runpytest_inprocess("--lowdim-report-dir=out", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=8)
    (kept,) = out.glob("claims.crashed-*.jsonl")
    assert jnl.load_journal(kept)[1] == rows
    assert not journal.exists() and not list(out.glob(".claims.journal*"))
    result.stdout.fnmatch_lines([
        "lowdim: the previous run * ended without writing its report; its 3 completed row(s) "
        "are kept in *claims.crashed-*.jsonl*"])


def test_the_journal_of_a_run_still_going_is_left_alone(tmp_path):
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        journal = tmp_path / f".claims.journal.{live.pid}.jsonl"
        journal.write_text('{"lowdim_journal": 1}\n{"test": "t.py::a", "outcome": "passed"}\n')
        assert jnl.recover_journals(tmp_path) == [] and journal.exists()
    finally:
        live.kill()
        live.wait()
    (note,) = jnl.recover_journals(tmp_path)
    assert "1 completed row(s)" in note and not journal.exists()
    (kept,) = tmp_path.glob("claims.crashed-*.jsonl")
    assert jnl.load_journal(kept)[1] == [{"test": "t.py::a", "outcome": "passed"}]


TIMEOUT_FILE = '''
import time

import pytest

pytestmark = pytest.mark.claim("slow", statement="-", source="-")


def test_sleeps_and_swallows_exceptions():
    try:
        time.sleep(30)
    except Exception:
        pass


@pytest.mark.xfail(strict=True, reason="a hung xfail is a timeout, not an expected failure")
def test_sleeps_while_marked_xfail():
    time.sleep(30)


@pytest.mark.claim("own-limit", statement="-", source="-", timeout=0.3)
def test_has_its_own_shorter_limit():
    time.sleep(0.8)


def test_after_them_runs():
    time.sleep(0.5)  # within the 1 s limit
'''


def test_a_test_past_the_time_limit_is_a_timeout_row_and_the_run_goes_on(pytester):
    pytester.makepyfile(test_slow=TIMEOUT_FILE)
    t0 = time.monotonic()
    result = pytester.runpytest_inprocess("--lowdim-report-dir=out", "--lowdim-timeout=1",
                                          "-p", "no:cacheprovider")
    assert time.monotonic() - t0 < 20
    result.assert_outcomes(passed=1, failed=3)
    outcomes = {t.split("::")[1]: r["outcome"]
                for t, r in rows_of(pytester.path / "out" / "claims.json").items()}
    assert outcomes == {"test_after_them_runs": "passed",
                        "test_has_its_own_shorter_limit": "timeout",
                        "test_sleeps_and_swallows_exceptions": "timeout",
                        "test_sleeps_while_marked_xfail": "timeout"}
    result.stdout.fnmatch_lines(["*ClaimTimeout: test_slow.py::test_has_its_own_shorter_limit "
                                 "ran past its time limit of 0.3 s (in call)*"])
    assert signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.default_int_handler, None)


@pytest.mark.parametrize("args, message", [
    (("--lowdim-timeout=0",), "--lowdim-timeout: got 0.0; need a finite number of seconds > 0"),
    (("--lowdim-timeout=nan",), "--lowdim-timeout: got nan"),
])
def test_bad_time_limits_are_usage_errors(pytester, args, message):
    pytester.makepyfile(test_slow=TIMEOUT_FILE)
    result = pytester.runpytest_inprocess("--lowdim-report-dir=out", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


def test_a_bad_marker_time_limit_is_a_usage_error(pytester):
    pytester.makepyfile(test_bad='''
import pytest

@pytest.mark.claim("x", timeout="soon")
def test_x():
    pass
''')
    result = pytester.runpytest_inprocess("--lowdim-report-dir=out")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "pytest.mark.claim(timeout=): got 'soon'" in result.stderr.str()


SIGTERM_FILE = '''
import os
import signal

import pytest


@pytest.mark.parametrize("i", range(6))
def test_step(i):
    if i == 2:  # what CI does to a job it cancels; the handler turns it into Ctrl-C
        os.kill(os.getpid(), signal.SIGTERM)
'''


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                    reason="signal handlers live on the main thread")
def test_sigterm_mid_run_leaves_a_complete_report_of_the_tests_so_far(pytester):
    pytester.makepyfile(test_term=SIGTERM_FILE)
    out = pytester.path / "out"
    out.mkdir()
    (out / "claims.json").write_text('{"previous": "report"}')
    before = signal.getsignal(signal.SIGTERM)
    # a file without claims: opted in (-p lowdim), as a claims session it gets the handler
    result = pytester.runpytest_inprocess("--lowdim-report-dir=out", "-p", "no:cacheprovider",
                                          "-p", "lowdim", no_reraise_ctrlc=True)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert signal.getsignal(signal.SIGTERM) == before  # the handler is removed at the end
    report = load_report(out / "claims.json")  # complete and valid, not the previous one
    assert report["meta"]["exitstatus"] == pytest.ExitCode.INTERRUPTED
    outcomes = [r["outcome"] for r in report["rows"]]
    assert outcomes == ["passed", "passed", "not run", "not run", "not run", "not run"]
    assert not list(out.glob(".claims.*"))  # no temporary file, no journal left


DROP_CONFTEST = '''
import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    # what xdist does with a report it cannot serialize: the test starts and finishes, but its
    # report never reaches the controller's hooks
    if item.name == "test_lost":
        item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True
'''


def test_a_report_that_never_arrives_fails_the_session(pytester):
    pytester.makeconftest(DROP_CONFTEST)
    pytester.makepyfile(test_drop='''
def test_kept():
    pass


def test_lost():
    pass
''')
    result = pytester.runpytest_inprocess("--lowdim-report-dir=out", "-p", "no:cacheprovider",
                                          "-p", "lowdim")
    result.assert_outcomes(passed=1)  # what pytest alone would call a green run
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "lowdim: 1 test(s) ran but their reports never reached the report*test_drop.py::test_lost*"])
    report = json.loads((pytester.path / "out" / "claims.json").read_text())
    assert report["meta"]["exitstatus"] == pytest.ExitCode.TESTS_FAILED


def test_accounting_warns_about_tests_that_never_ran_unless_the_run_stopped_early():
    rows = {"a": {"outcome": "passed"}, "b": {"outcome": "not run"}, "c": {"outcome": "not run"}}
    errors, warnings = rel.account(rows, {"a", "b"}, stopped_early=False)
    assert len(errors) == 1 and "1 test(s) ran but" in errors[0] and ": b;" in errors[0]
    assert len(warnings) == 1 and "1 collected test(s) never ran" in warnings[0]
    assert rel.account(rows, {"a", "b"}, stopped_early=True)[1] == []
    assert rel.account({"a": {"outcome": "passed"}}, {"a"}, stopped_early=False) == ([], [])


DETERMINISM_FILE = '''
import numpy as np
import pytest
import torch

import lowdim as ld

CONFIG = ld.TrainConfig(steps=30, optimizer="adam", lr=0.05, batch_size=8,
                        loss="cross_entropy")


@pytest.mark.claim("tiny-training", statement="-", source="-")
def test_a_tiny_net_fits_two_clusters(claim):
    seeds = claim.seeds(8)
    data = ld.make_clusters(seeds, centers=[[0, 1], [0, -1]], n_per_class=8, std=0.5,
                            key=claim.id)
    result = ld.train(ld.MLP((2, 8, 2)), data, CONFIG, seeds=seeds, key=claim.id)
    loss = result.losses[-1].double().numpy()  # (S,) full float precision in the report
    ev = claim.record(ld.location(loss, threshold=1.0, alternative="less"),
                      deterministic=torch.are_deterministic_algorithms_enabled())
    assert ev.supported, ev


def test_outside_claims_torch_is_left_as_it_was():
    assert not torch.are_deterministic_algorithms_enabled()
'''


def without_run_metadata(report: dict) -> str:
    report = json.loads(json.dumps(report))
    for key in ("started", "wall_time_s"):
        report["meta"].pop(key)
    for row in report["rows"]:
        row.pop("duration_s")
    return json.dumps(report, sort_keys=True)


def test_two_runs_give_byte_identical_claims_apart_from_timing(pytester):
    pytester.makepyfile(test_tiny=DETERMINISM_FILE)
    texts = []
    for _ in range(2):
        result = pytester.runpytest_inprocess("--lowdim-report-dir=out", "-p", "no:cacheprovider")
        result.assert_outcomes(passed=2)
        texts.append((pytester.path / "out" / "claims.json").read_text())
    first, second = (json.loads(t) for t in texts)
    assert without_run_metadata(first) == without_run_metadata(second)
    row = first["rows"][0]
    assert row["conditions"]["deterministic"] is True  # the claim ran with deterministic kernels
    assert len(row["evidence"]["values"]) == 8
    assert not torch.are_deterministic_algorithms_enabled()


# ------------------------------------------------------------------------------------------
# diverged seeds


def test_train_result_flags_the_seeds_whose_run_diverged():
    seeds = [0, 1, 2]
    data = ld.make_1d(seeds, x=np.linspace(-1, 1, 8), target=lambda x, rng: x, key="div")
    model = ld.MLP((1, 4, 1), activation="tanh")
    params = model.init(seeds, key="div")
    params["w0"][1, 0, 0] = float("nan")  # seed 1 starts broken
    result = ld.train(model, data, ld.TrainConfig(steps=5, optimizer="gd", lr=0.1),
                      seeds=seeds, key="div", params=params)
    assert result.diverged.tolist() == [False, True, False] and result.n_diverged == 1
    blown = ld.train(model, data, ld.TrainConfig(steps=40, optimizer="gd", lr=1e30),
                     seeds=seeds, key="div")
    assert blown.n_diverged == 3 and blown.diverged.dtype == torch.bool


def test_diverged_seeds_must_be_counted_explicitly():
    acc = np.r_[np.full(14, 0.95), np.nan, np.nan]  # (16,), two seeds diverged
    with pytest.raises(ValueError, match=r"values: 2 of 16 values are NaN or infinite.*"
                                         r"nonfinite='fail'.*nonfinite='exclude'"):
        ld.location(acc, threshold=0.9)
    mask = np.isnan(acc)
    with pytest.raises(ValueError, match="diverged: 2 of 16 seeds are flagged"):
        ld.proportion(np.nan_to_num(acc) > 0.9, threshold=0.5, diverged=mask)
    with pytest.raises(ValueError, match="nonfinite: got 'drop'; allowed: raise, fail, exclude"):
        ld.location(acc, threshold=0.9, nonfinite="drop")
    with pytest.raises(ValueError, match="two-sided test has no side"):
        ld.location(acc, threshold=0.9, nonfinite="fail", alternative="two-sided")
    with pytest.raises(ValueError, match="diverged: got .* need \\(16,\\) booleans"):
        ld.location(acc, threshold=0.9, nonfinite="fail", diverged=[True])


def test_fail_counts_diverged_seeds_against_the_claim_and_exclude_drops_them():
    acc = np.r_[np.full(14, 0.95), np.nan, np.inf]
    fail = ld.location(acc, threshold=0.9, nonfinite="fail")
    drop = ld.location(acc, threshold=0.9, nonfinite="exclude")
    assert (fail.n, drop.n) == (16, 14)
    assert fail.values[-2:] == (-np.inf, -np.inf)  # least favourable for "greater"
    assert fail.p > drop.p and drop.supported
    assert (fail.details["n_nonfinite"], fail.details["nonfinite"]) == (2, "fail")
    assert (drop.details["n_nonfinite"], drop.details["nonfinite"]) == (2, "exclude")
    less = ld.location(acc, threshold=1.0, alternative="less", nonfinite="fail")
    assert less.values[-2:] == (np.inf, np.inf)
    json.dumps(fail.to_dict(), allow_nan=False)  # the report is written with allow_nan=False

    flags, mask = np.ones(16, bool), np.arange(16) < 3
    ev = ld.proportion(flags, threshold=0.5, diverged=torch.from_numpy(mask), nonfinite="fail")
    assert (ev.n, ev.details["k"]) == (16, 13)  # diverged seeds lack the property
    ev = ld.proportion(flags, threshold=0.5, alternative="less", diverged=mask, nonfinite="fail")
    assert ev.details["k"] == 16  # ... or have it, where having it is the claim's opposite
    assert ld.proportion(flags, threshold=0.5, diverged=mask, nonfinite="exclude").n == 13

    a, b = np.arange(12.0) + 1, np.arange(12.0) * 0.5
    a[0] = np.nan
    ev = ld.paired(a, b, nonfinite="fail")
    assert ev.values[0] == -np.inf and ev.n == 12 and ev.details["n_nonfinite"] == 1
    assert ld.paired(a, b, nonfinite="exclude").n == 11

    d = np.r_[np.zeros(15), np.nan]
    ev = ld.equivalence(d, margin=0.1, nonfinite="fail")
    assert abs(ev.values[-1]) == np.inf and ev.n == 16
    assert ld.equivalence(d, margin=0.1, nonfinite="exclude").n == 15

    table = np.tile(np.arange(3.0), (8, 1))  # (8, 3) every seed increasing
    table[0, 1] = np.nan
    ev = ld.trend(table, nonfinite="fail")
    assert ev.details["rho"][0] == -1.0 and ev.n == 8  # the diverged seed: in reverse
    assert ev.values[0] == -np.inf  # ... at every shift
    assert ld.trend(table, nonfinite="exclude").n == 7
    with pytest.raises(ValueError, match="fewer than 2 left"):
        ld.trend(np.full((3, 3), np.nan), nonfinite="exclude")


def test_the_report_shows_how_many_seeds_diverged():
    acc = np.r_[np.full(14, 0.95), np.nan, np.nan]
    rows = [{"test": f"t.py::{p}", "outcome": "passed",
             "evidence": ld.location(acc, threshold=0.9, nonfinite=p).to_dict()}
            for p in ("fail", "exclude")]
    shown = [r["n"] for r in table_rows({"rows": rows})]
    assert shown == ["16 (2 diverged, counted against)", "14 (2 diverged, excluded)"]
