"""A report folder never loses a complete report and never mixes two runs' files.

The faults of issue 19, each injected for real: SIGINT, SIGTERM, kill -9 of the controller and
of an xdist worker, a second run into the same folder while one runs (subprocesses of pytest on
a small claims project), a full disk at every file of a write and a kill between the moves of a
write (report.folder, in this process). After each, the folder holds the previous complete
report or the new complete one, and the next run succeeds.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lowdim.report import folder
from lowdim.report.render import csv_text, to_frame
from lowdim.report.schema import load_report
from lowdim.report.write import write

PROJECT = {
    "conftest.py": "lowdim_claims = True\n",
    "test_slow.py": '''
import os
import time

import numpy as np
import pytest

import lowdim as ld


@pytest.mark.claim("slow", statement="waits", source="test")
@pytest.mark.parametrize("i", range(4))
def test_wait(claim, i):
    open(f"started-{i}-{os.getpid()}", "w").close()
    time.sleep(float(os.environ.get("SLOW", "0")))
    n = len(claim.seeds(8))
    claim.record(ld.proportion(np.ones(n) > 0, threshold=0.5))
''',
    "test_other.py": '''
import numpy as np
import pytest

import lowdim as ld


@pytest.mark.claim("other", statement="holds", source="test")
def test_other(claim):
    claim.record(ld.proportion(np.ones(len(claim.seeds(8))) > 0, threshold=0.5))
''',
}
FILES = ("claims.json", "claims.md", "claims.csv", "claims.html")


def run(project: Path, *args, slow: float = 0, wait: bool = True, figures: bool = False):
    env = {**os.environ, "SLOW": str(slow), "LOWDIM_FIGURES": "1" if figures else "0"}
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_ADDOPTS", None)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
           "--lowdim-report-dir", "out", *args]
    # SIGINT as a terminal delivers it, also where this session was started with it ignored
    # (a background job, nohup: children inherit SIG_IGN and Python then keeps ignoring it)
    proc = subprocess.Popen(cmd, cwd=project, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    if wait:
        out, _ = proc.communicate(timeout=240)
        return proc.returncode, out
    return proc


def snapshot(out: Path) -> dict[str, bytes]:
    """Every file of the report folder but the kept history (bytes by relative path)."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and "history" not in p.parts}


def assert_one_complete_report(out: Path) -> dict:
    """claims.json, .md, .csv and .html of one complete run; no staging or partial file."""
    report = load_report(out / "claims.json")
    assert "incomplete" not in report["meta"], report["meta"]
    stamp = report["meta"]["started"]
    assert stamp in (out / "claims.md").read_text() and stamp in (out / "claims.html").read_text()
    assert (out / "claims.csv").read_text() == csv_text(to_frame(report))
    assert not list(out.glob(f"{folder.STAGE_PREFIX}*"))
    assert not (out / folder.LOCK_NAME).exists()
    return report


def started(project: Path, count: int = 1, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while len(list(project.glob("started-*"))) < count:
        assert time.monotonic() < end, "the slow test never started"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def complete(tmp_path_factory) -> Path:
    """A project whose report folder holds one complete run's report (figures on)."""
    project = tmp_path_factory.mktemp("complete")
    for name, text in PROJECT.items():
        (project / name).write_text(text)
    rc, out = run(project, figures=True)
    assert rc == 0, out
    assert_one_complete_report(project / "out")
    return project


@pytest.fixture
def project(complete, tmp_path) -> Path:
    shutil.copytree(complete, tmp_path / "p")
    for f in (tmp_path / "p").glob("started-*"):
        f.unlink()
    return tmp_path / "p"


def kill_worker(proc, project):
    started(project)
    pid = int(sorted(project.glob("started-*"))[0].name.rsplit("-", 1)[1])
    os.kill(pid, signal.SIGKILL)


FAULTS = {
    "SIGINT": lambda proc, project: (started(project), proc.send_signal(signal.SIGINT)),
    "SIGTERM": lambda proc, project: (started(project), proc.send_signal(signal.SIGTERM)),
    "kill -9 controller": lambda proc, project: (started(project), proc.kill()),
    "kill -9 worker": kill_worker,
}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.slow  # subprocess runs: skipped by the inner loop (-m 'not slow')
def test_a_fault_leaves_the_previous_or_a_new_complete_report(project, fault):
    out = project / "out"
    before = snapshot(out)
    xdist = ("-n", "2") if fault == "kill -9 worker" else ()
    proc = run(project, *xdist, slow=1.5, wait=False)
    FAULTS[fault](proc, project)
    log, _ = proc.communicate(timeout=240)
    after = snapshot(out)
    old = {k: v for k, v in after.items() if k in before}
    if after.get("claims.json") == before["claims.json"]:  # the previous report, untouched
        assert {k: after[k] for k in FILES} == {k: before[k] for k in FILES}, log
    if fault == "kill -9 worker":  # the run went on: a new complete report, the row crashed
        report = assert_one_complete_report(out)
        outcomes = sorted(r["outcome"] for r in report["rows"])
        assert outcomes.count("crashed") == 1 and outcomes.count("passed") == 4, log
    else:
        assert old == before, log  # interrupted or killed: nothing of the report changed
    if fault in ("SIGINT", "SIGTERM"):
        partial = load_report(out / "claims.partial.json")
        assert partial["meta"]["incomplete"].startswith("it ended with exit status 2")
        assert "Traceback" not in log, log
    rc, log = run(project)  # the next run succeeds, and says what a killed run left
    assert rc == 0, log
    assert_one_complete_report(out)
    assert not (out / "claims.partial.json").exists()
    if fault == "kill -9 controller":
        assert "ended without writing its report" in log, log


@pytest.mark.slow  # subprocess runs: skipped by the inner loop (-m 'not slow')
def test_a_second_run_into_the_same_folder_fails_fast_naming_the_first(project):
    out = project / "out"
    first = run(project, slow=2, wait=False)
    started(project)
    rc, log = run(project)  # the second run, while the first holds the folder
    assert rc == pytest.ExitCode.USAGE_ERROR, log
    assert f"another lowdim run is writing its report there (pid {first.pid}" in log, log
    assert "--lowdim-report-dir" in log
    log, _ = first.communicate(timeout=240)
    assert first.returncode == 0, log
    assert_one_complete_report(out)


def test_a_second_sigint_while_the_report_is_written_abandons_it_cleanly():
    from lowdim.plugin.reliability import HoldInterrupts

    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
    try:
        with HoldInterrupts() as hold:
            if hold._old is None:
                pytest.skip("not on the main thread")
            os.kill(os.getpid(), signal.SIGINT)  # the first: a line, the write goes on
            time.sleep(0.01)
            with pytest.raises(KeyboardInterrupt, match="report abandoned"):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.5)
        assert hold.heard == 2
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # started ignoring SIGINT: it stays so
        with HoldInterrupts():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


# -- subsets: -k, fewer files ------------------------------------------------------------------
@pytest.mark.parametrize("subset", [("-k", "other"), ("test_other.py",)], ids=["-k", "a file"])
@pytest.mark.slow  # subprocess runs: skipped by the inner loop (-m 'not slow')
def test_a_subset_writes_a_partial_report_beside_the_complete_one(project, subset):
    out = project / "out"
    before = snapshot(out)
    rc, log = run(project, *subset)
    assert rc == 0, log
    assert {k: snapshot(out)[k] for k in FILES} == {k: before[k] for k in FILES}
    partial = load_report(out / "claims.partial.json")
    assert [r["test"] for r in partial["rows"]] == ["test_other.py::test_other"]
    why = {"-k": "-k picked its tests",
           "test_other.py": "it left out 1 test file(s) of the complete report: test_slow.py"}
    assert partial["meta"]["incomplete"] == why[subset[0]]
    assert "this run is not complete" in log and "claims.partial.json" in log
    assert (out / "claims.partial.md").is_file()
    rc, log = run(project)  # a complete run replaces the report and drops the partial one
    assert rc == 0, log
    assert_one_complete_report(out)
    assert not list(out.glob("claims.partial.*"))


@pytest.mark.slow  # subprocess runs: skipped by the inner loop (-m 'not slow')
def test_a_subset_into_an_empty_folder_writes_claims_json_marked_incomplete(project):
    shutil.rmtree(project / "out")
    rc, log = run(project, "-k", "other")
    assert rc == 0, log
    report = load_report(project / "out" / "claims.json")
    assert report["meta"]["incomplete"] == "-k picked its tests"
    rc, log = run(project)  # not a complete report: a complete run replaces it
    assert rc == 0 and assert_one_complete_report(project / "out")


# -- report.folder in this process: a full disk, a kill between moves, the lock -----------------
@pytest.fixture
def two_reports(complete, tmp_path, monkeypatch):
    """A folder holding the complete report A (with figures), and a report B to write over it."""
    monkeypatch.setenv("LOWDIM_FIGURES", "1")
    out = tmp_path / "out"
    shutil.copytree(complete / "out", out)
    a = load_report(out / "claims.json")
    b = json.loads(json.dumps(a))
    b["meta"]["started"] = "2030-01-01T00:00:00+00:00"
    b["rows"] = [r for r in b["rows"] if "test_wait[3]" not in r["test"]]  # a figure goes
    b["rows"][0]["evidence"]["estimate"] = 0.5  # a figure is redrawn
    return out, snapshot(out), b


@pytest.mark.slow  # subprocess runs: skipped by the inner loop (-m 'not slow')
def test_a_full_disk_at_any_file_of_a_write_keeps_the_previous_report(two_reports, monkeypatch):
    out, before, b = two_reports
    real, calls = folder.atomic_write, []
    monkeypatch.setattr(folder, "atomic_write", lambda *a: (calls.append(a), real(*a)))
    shutil.copytree(out, out.parent / "probe")
    write(b, out.parent / "probe")  # how many files a write of B stages
    n = len(calls)
    assert n >= 6  # json, md, csv, html, figures and their index, the plan
    for k in range(n):
        count = iter(range(n + 1))

        def full(path, data, k=k, count=count):
            if next(count) == k:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
            real(path, data)

        monkeypatch.setattr(folder, "atomic_write", full)
        with pytest.raises(OSError, match="No space left"):
            write(b, out)
        assert snapshot(out) == before, k  # every file as it was; no staging folder left
    monkeypatch.setattr(folder, "atomic_write", real)
    write(b, out)  # the disk has room again: the next write succeeds
    assert snapshot(out) == snapshot(out.parent / "probe")
    assert load_report(out / "claims.json")["meta"]["started"] == b["meta"]["started"]


@pytest.mark.slow  # subprocess runs: skipped by the inner loop (-m 'not slow')
def test_a_write_killed_between_its_moves_is_finished_by_the_next_writer(two_reports,
                                                                          monkeypatch):
    out, before, b = two_reports
    probe = out.parent / "probe"
    shutil.copytree(out, probe)
    write(b, probe)
    real, moved = os.replace, []

    def killed_after(k):
        def replace(src, dst):
            if folder.STAGE_PREFIX not in str(dst):  # a move into place, not a staged file
                if len(moved) == k:
                    raise KeyboardInterrupt("killed")
                moved.append(dst)
            real(src, dst)
        return replace

    for k in range(len(snapshot(probe)) + 1):
        shutil.rmtree(out)
        for rel, data in before.items():
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            (out / rel).write_bytes(data)
        moved.clear()
        monkeypatch.setattr(os, "replace", killed_after(k))
        try:
            write(b, out)
        except KeyboardInterrupt:
            pass
        finally:
            monkeypatch.setattr(os, "replace", real)
        folder._held.clear()  # the killed process's hold on the lock died with it
        with folder.locked(out):  # the next writer finishes the killed one's moves
            pass
        after = snapshot(out)
        assert after == snapshot(probe), (k, sorted(set(after) ^ set(snapshot(probe))))


def test_a_staged_write_without_its_plan_is_dropped_by_the_next_writer(two_reports):
    out, before, _ = two_reports
    stage = out / f"{folder.STAGE_PREFIX}99999-0"
    stage.mkdir()
    (stage / "00000-claims.json").write_text("{}")
    with folder.locked(out):
        pass
    assert snapshot(out) == before


def test_the_lock_names_a_live_holder_and_is_taken_over_from_a_dead_one(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from lowdim.report.folder import acquire; "
         f"acquire({str(tmp_path)!r}, ['pytest', 'claims']); print('held', flush=True); "
         "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(folder.FolderBusy, match=rf"pid {holder.pid} on .*`pytest claims`"):
            folder.acquire(tmp_path)
    finally:
        holder.kill()
        holder.wait()
    with folder.locked(tmp_path) as lock:  # its process is gone: the lock is taken over
        assert folder.read_lock(lock)["pid"] == os.getpid()
        with folder.locked(tmp_path):  # the same process again (a nested run): fine
            pass
        assert lock.exists()
    assert not lock.exists()
    (tmp_path / folder.LOCK_NAME).write_text("not json")  # a damaged lock: taken over
    with folder.locked(tmp_path):
        pass
