"""The plugin as a good pytest citizen: installed, it leaves a plain test session alone (no torch,
no thread, scheduler or signal change, no files, no cost), acts in a claims session (gate.py),
and takes every --lowdim-* option from the ini file too.

Sessions that time, start xdist workers or must show what a fresh process imports run in a
fresh process; the rest run in this one.
"""

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from lowdim.plugin import gate
from lowdim.plugin.options import SPECS
from lowdim.plugin.session import RUN_KEY

REPO = Path(__file__).resolve().parents[1]

PLAIN = {
    "test_plain": '''
import time


def test_one():
    time.sleep(0.05)


def test_two():
    assert sum(range(10)) == 45
''',
}

# What each process of a session looked like at its end: what it imported, its SIGTERM handler,
# and (on the xdist controller) the scheduler it ran.
FACTS_CONFTEST = '''
import json
import os
import signal
import sys

import pytest


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    config = session.config
    dsession = config.pluginmanager.getplugin("dsession")
    facts = {
        "worker": hasattr(config, "workerinput"),
        "torch": "torch" in sys.modules,
        "scipy": "scipy" in sys.modules,
        "threadpoolctl": "threadpoolctl" in sys.modules,
        "sigterm": signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None),
        "dist": getattr(config.option, "dist", None),
        "scheduler": type(dsession.sched).__name__ if dsession is not None else None,
    }
    with open(os.path.join(os.environ["LOWDIM_FACTS"], f"{os.getpid()}.json"), "w") as f:
        json.dump(facts, f)
'''


def facts_of(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")
            if "__pycache__" not in p.parts}


def lowdim_files(paths) -> set[str]:
    """The files a claims session makes: reports, journals, the run cache's store."""
    return {p for p in paths if p.startswith("reports") or "claims." in p
            or ".claims.journal" in p or "lowdim-runs" in p or p.startswith("out")}


def test_a_plain_folder_is_left_alone_with_and_without_xdist(pytester, tmp_path, monkeypatch):
    pytester.makepyfile(**PLAIN)
    pytester.makeconftest(FACTS_CONFTEST)
    before = files_under(pytester.path)
    for args in (("-n", "0"), ("-n", "2")):
        facts_dir = tmp_path / args[1]
        facts_dir.mkdir()
        monkeypatch.setenv("LOWDIM_FACTS", str(facts_dir))
        # the run cache's folder would be in pytest's cache: keep the cache plugin on
        result = pytester.runpytest_subprocess(*args, "-p", "no:hypothesispytest", timeout=300)
        result.assert_outcomes(passed=2)
        facts = facts_of(facts_dir)
        assert len(facts) == (3 if args[1] == "2" else 1), facts
        for f in facts:
            assert not f["torch"] and not f["scipy"] and not f["threadpoolctl"], f
            assert f["sigterm"], f  # no SIGTERM handler left in place (none installed)
        if args[1] == "2":  # xdist's own choice for a bare -n: load, its LoadScheduling
            (controller,) = [f for f in facts if not f["worker"]]
            assert (controller["dist"], controller["scheduler"]) == ("load", "LoadScheduling")
        assert "lowdim claims" not in result.stdout.str()
    made = files_under(pytester.path) - before
    assert not lowdim_files(made), sorted(made)


@pytest.mark.slow  # subprocess runs: skipped by the inner loop (-m 'not slow')
def test_the_installed_plugin_costs_a_plain_session_nothing_measurable(pytester):
    """Wall time of a plain session with the plugin against `-p no:lowdim`, each the fastest
    of three, alternating, in one run (printed with -s)."""
    pytester.makepyfile(**PLAIN)
    common = ("-p", "no:hypothesispytest", "-p", "no:cacheprovider", "-q")
    times: dict[str, list[float]] = {"plugin": [], "no:lowdim": []}
    for _ in range(3):
        for name, extra in (("plugin", ()), ("no:lowdim", ("-p", "no:lowdim"))):
            t0 = time.perf_counter()
            result = pytester.runpytest_subprocess(*common, *extra, timeout=300)
            times[name].append(time.perf_counter() - t0)
            result.assert_outcomes(passed=2)
    best = {name: min(ts) for name, ts in times.items()}
    print(f"\nplain session, fastest of 3: with the plugin {best['plugin']:.2f} s, "
          f"-p no:lowdim {best['no:lowdim']:.2f} s, ratio {best['plugin'] / best['no:lowdim']:.3f}"
          f" (all: {times})")
    # within 10 %, plus 0.25 s of slack for a noisy 2-core machine
    assert best["plugin"] <= 1.10 * best["no:lowdim"] + 0.25, times


def test_help_and_listings_leave_nothing_behind(pytester):
    pytester.makepyfile(**PLAIN)
    before = files_under(pytester.path)
    for args in (("--help",), ("-p", "lowdim", "--help"), ("-o", "lowdim=true", "--help")):
        result = pytester.runpytest_inprocess(*args)
        assert result.ret == 0
        result.stdout.fnmatch_lines(["*--lowdim-seeds=N*"])
    # opted in, a session that only lists its tests or fixtures writes no report either
    for args in (("-p", "lowdim", "--co"), ("-p", "lowdim", "--fixtures")):
        assert pytester.runpytest_inprocess(*args, "-p", "no:cacheprovider").ret == 0
    made = files_under(pytester.path) - before
    assert not lowdim_files(made), sorted(made)


CLAIM_FILE = '''
import numpy as np
import pytest

import lowdim as ld

pytestmark = pytest.mark.claim("demo", statement="most seeds succeed", source="tests")


@pytest.mark.parametrize("k", [1, 2])
def test_most_seeds_succeed(claim, k):
    seeds = claim.seeds(20)
    ev = claim.record(ld.proportion(np.arange(len(seeds)) >= k, threshold=0.5))
    assert ev.supported, ev
'''


@pytest.mark.slow  # subprocess runs: skipped by the inner loop (-m 'not slow')
def test_in_a_copy_of_this_repository_tests_write_nothing_and_claims_get_loadfile(
        pytester, tmp_path, monkeypatch):
    """`pytest tests -n 2` and `pytest claims -n 2` with this repository's pyproject.toml,
    conftest.py and claims/conftest.py (a plain library test and a claim file in their
    folders): only the claims session writes reports/, and only it gets loadfile."""
    shutil.copy(REPO / "pyproject.toml", pytester.path / "pyproject.toml")
    shutil.copy(REPO / "conftest.py", pytester.path / "conftest.py")
    (pytester.path / "claims").mkdir()
    shutil.copy(REPO / "claims" / "conftest.py", pytester.path / "claims" / "conftest.py")
    (pytester.path / "claims" / "test_demo.py").write_text(CLAIM_FILE)
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_lib.py").write_text(PLAIN["test_plain"])
    (pytester.path / "facts_conftest.py").write_text(FACTS_CONFTEST)
    common = ("-n", "2", "-p", "facts_conftest", "-p", "no:hypothesispytest")
    monkeypatch.setenv("PYTHONPATH", str(pytester.path), prepend=os.pathsep)
    for folder, dist, scheduler in (("tests", "load", "LoadScheduling"),
                                    ("claims", "loadfile", "CrashSafeLoadFileScheduling")):
        facts_dir = tmp_path / folder
        facts_dir.mkdir()
        monkeypatch.setenv("LOWDIM_FACTS", str(facts_dir))
        result = pytester.runpytest_subprocess(folder, *common, timeout=300)
        result.assert_outcomes(passed=2)
        (controller,) = [f for f in facts_of(facts_dir) if not f["worker"]]
        assert (controller["dist"], controller["scheduler"]) == (dist, scheduler), folder
        written = sorted(p.name for p in (pytester.path / "reports").glob("*")) if (
            pytester.path / "reports").exists() else []
        if folder == "tests":
            assert written == [], written
        else:
            assert {"claims.json", "claims.md", "claims.csv"} <= set(written), written


def test_this_session_of_lowdims_own_tests_is_no_claims_session(request):
    """What `pytest tests [-n auto]` in this repository does with reports/: nothing. No test
    here is a claim test, and nothing opts the session in, so in no process (the xdist
    controller included: it wakes only at a report that carries a claim) does it activate."""
    run = request.config.stash[RUN_KEY]
    assert run.opted_in is None and not run.live
    assert not any(gate.is_claim_test(item) for item in request.session.items)


# ---------------------------------------------------------------------------------------
# options from the ini file

INI_CLAIM = '''
import numpy as np
import pytest

import lowdim as ld
from lowdim.engine import cache

pytestmark = pytest.mark.claim("ini", statement="-", source="-")


def test_records(claim):
    seeds = claim.seeds(5)
    claim.record(ld.proportion(np.ones(len(seeds)), threshold=0.5), seeds=seeds,
                 store=str(cache.store_dir()))
'''


def ini_run(pytester, ini: str, *args: str):
    pytester.makeini("[pytest]\n" + ini)
    pytester.makepyfile(test_ini=INI_CLAIM)
    return pytester.runpytest_inprocess("-p", "no:randomly", *args)


def report_of(pytester, folder: str = "out") -> dict:
    return json.loads((pytester.path / folder / "claims.json").read_text())


def test_every_option_has_an_ini_key_listed_in_help(pytester):
    result = pytester.runpytest_inprocess("--help")
    text = result.stdout.str()
    for spec in SPECS:
        assert spec.flag in text and f"{spec.ini} (string)" in text or (
            f"{spec.ini} (bool)" in text), spec
    flags = {line.split()[0].split("=")[0] for line in text.splitlines()
             if line.startswith("  --lowdim-")}
    assert flags == {spec.flag for spec in SPECS}
    assert f"{gate.INI_FLAG} (bool)" in text


def test_the_run_options_work_from_the_ini_file(pytester):
    import torch

    threads = torch.get_num_threads()
    try:
        result = ini_run(pytester, "\n".join([
            "lowdim_seeds = 3", "lowdim_seed_offset = 5", "lowdim_device = auto",
            "lowdim_report_dir = out", "lowdim_profile = full", "lowdim_threads = 2",
            "lowdim_timeout = 30", "lowdim_save_baseline = base.json", "lowdim_shard = 1/1",
            "lowdim_adaptive = true", "lowdim_history = 0", ""]))
    finally:
        torch.set_num_threads(threads)  # the session set this process's threads
    result.assert_outcomes(passed=1)
    report = report_of(pytester)
    assert report["meta"]["options"] == {
        "seeds": 3, "seed_offset": 5, "device": "auto", "report_dir": "out",
        "profile": "full", "threads": 2, "write": True, "timeout": 30.0, "adaptive": True}
    (row,) = report["rows"]
    assert row["conditions"]["seeds"] == [5, 6, 7]
    assert row["evidence"]["details"]["adaptive"]["budget"] == 3
    assert report["meta"]["shard"] == {"index": 1, "count": 1}
    assert (pytester.path / "base.json").exists()
    assert "history" not in result.stdout.str()  # lowdim_history = 0 (and a shard)


def test_the_command_line_wins_over_the_ini_file(pytester):
    result = ini_run(pytester, "lowdim_seeds = 3\nlowdim_report_dir = out\n",
                     "--lowdim-seeds=2", "--lowdim-report-dir=there")
    result.assert_outcomes(passed=1)
    assert report_of(pytester, "there")["rows"][0]["conditions"]["seeds"] == [0, 1]
    assert not (pytester.path / "out").exists()
    result = ini_run(pytester, "lowdim_no_report = true\n", "-o", "lowdim_no_report=false",
                     "--lowdim-report-dir=again")
    assert (pytester.path / "again" / "claims.json").exists()


@pytest.mark.parametrize("ini, check", [
    ("lowdim_no_report = true", "no report"),
    ("lowdim_baseline = missing.json", "baseline"),
    ("lowdim_cache_clear = true", "cache cleared"),
    ("lowdim_no_cache = true", "no cache"),
    ("lowdim_smoke = true\nlowdim_seeds = 4", "smoke"),
    ("lowdim_history = 3", "history"),
    ("lowdim_seeds = many", "bad value"),
])
def test_each_switch_works_from_the_ini_file(pytester, ini, check):
    store = pytester.path / ".pytest_cache" / "d" / "lowdim-runs"
    if check == "cache cleared":
        store.mkdir(parents=True)
        (store / "old.npz").write_text("an old entry")
    result = ini_run(pytester, ini + "\nlowdim_report_dir = out\n")
    if check == "no report":
        result.assert_outcomes(passed=1)
        assert not (pytester.path / "out").exists()
    elif check == "baseline":
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        assert "--lowdim-baseline" in result.stderr.str() and "missing.json" in (
            result.stderr.str())
    elif check == "cache cleared":
        result.assert_outcomes(passed=1)
        assert not (store / "old.npz").exists()
    elif check == "no cache":
        assert report_of(pytester)["rows"][0]["conditions"]["store"] == "None"
    elif check == "smoke":  # 4 seeds: a proportion test's smallest p is 1/16
        result.assert_outcomes(skipped=1)
        (row,) = report_of(pytester)["rows"]
        assert row["outcome"] == "skipped" and row["undecidable"].startswith(
            "cannot decide at n=4: needs >= 7 seeds")
    elif check == "history":
        result.assert_outcomes(passed=1)
        result.stdout.fnmatch_lines(["*histor*"])  # kept, or why not (regress.history)
    else:
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        assert "ini lowdim_seeds: got 'many'; need a whole number" in result.stderr.str()


def test_the_ini_flag_opts_a_plain_session_in(pytester):
    pytester.makeini("[pytest]\nlowdim = true\n")
    pytester.makepyfile(**PLAIN)
    result = pytester.runpytest_inprocess("--lowdim-report-dir=out", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert [r["test"] for r in report_of(pytester)["rows"]] == [
        "test_plain.py::test_one", "test_plain.py::test_two"]
