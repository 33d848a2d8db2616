"""Run reliability: per-test time limits, SIGTERM as an interrupt, a crashed run's journal, row
accounting, and deterministic torch kernels in claim tests.

The plugin (lowdim/plugin.py) registers one `Reliability` object in every process (controller
and xdist workers): the time limit and the deterministic mode act where tests run, the SIGTERM
handler and the accounting act on the controller, which alone writes the report.
"""

from __future__ import annotations

import datetime as _dt
import faulthandler
import json
import math
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

PROP_TIMEOUT = "lowdim_timeout"  # user property of a report whose phase ran out of time
HARD_GRACE_S = 10.0  # after the soft limit, how long C code may run before the process exits
JOURNAL_FORMAT = 1
STATE_KEY = pytest.StashKey["Reliability"]()


class ClaimTimeout(BaseException):
    """A test ran past its time limit. A BaseException, like pytest's own outcomes, so that an
    `except Exception` inside a claim does not swallow it."""


def check_timeout(value, field: str) -> float | None:
    """A time limit in seconds: None (no limit) or a finite number > 0."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{field}: got {value!r}; need a number of seconds > 0 (or no limit)")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{field}: got {value!r}; need a finite number of seconds > 0")
    return float(value)


# ------------------------------------------------------------------------------------------
# the journal of a run that did not finish


def journal_header(config: pytest.Config) -> str:
    """First line of a run's journal: enough to tell which run left it behind."""
    head = {"lowdim_journal": JOURNAL_FORMAT, "pid": os.getpid(),
            "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "args": [str(a) for a in config.invocation_params.args]}
    return json.dumps(head, sort_keys=True) + "\n"


def load_journal(path: str | os.PathLike) -> tuple[dict, list[dict]]:
    """(header, rows) of a journal: JSON lines, nothing unpickled or executed. A last line cut
    short by the crash is skipped."""
    header: dict = {}
    rows: list[dict] = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict) and "lowdim_journal" in obj:
                header = obj
            elif isinstance(obj, dict) and isinstance(obj.get("test"), str):
                rows.append(obj)
    return header, rows


def journal_path(report_dir: Path) -> Path:
    """This run's journal: one per process, so that runs sharing a report folder at the same
    time never write into (or recover) each other's journal."""
    return report_dir / f".claims.journal.{os.getpid()}.jsonl"


def _alive(pid) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def recover_journals(report_dir: Path) -> list[str]:
    """Journals left in report_dir by runs whose process is gone (killed, out of memory,
    os._exit) before writing their report: keep their completed rows (see `recover_journal`).
    Journals of runs still alive are left alone. Returns the lines to show."""
    notes = []
    for journal in sorted(report_dir.glob(".claims.journal*.jsonl")):
        note = recover_journal(journal)
        if note:
            notes.append(note)
    return notes


def recover_journal(journal: Path) -> str | None:
    """A journal on disk whose run is gone means that run ended without writing its report.
    Keep its completed rows: move the file to claims.crashed-<start time>.jsonl beside it and
    return a line saying so (None: nothing to keep, or its run is still going)."""
    pid = journal.name.split(".")[-2]  # .claims.journal.<pid>.jsonl
    if not journal.exists() or (pid.isdigit() and _alive(int(pid))):
        return None
    try:
        header, rows = load_journal(journal)
    except OSError:
        return None
    if not rows:
        journal.unlink(missing_ok=True)
        return None
    stamp = header.get("started") or _dt.datetime.fromtimestamp(
        journal.stat().st_mtime, _dt.timezone.utc).isoformat(timespec="seconds")
    stamp = stamp.replace("-", "").replace(":", "").replace("+0000", "Z")
    target = journal.with_name(f"claims.crashed-{stamp}.jsonl")
    n = 1
    while target.exists():
        n += 1
        target = journal.with_name(f"claims.crashed-{stamp}-{n}.jsonl")
    os.replace(journal, target)
    started = f" (started {header['started']})" if header.get("started") else ""
    return (f"lowdim: the previous run{started} ended without writing its report; its "
            f"{len(rows)} completed row(s) are kept in {target} (JSON lines, one row each)")


# ------------------------------------------------------------------------------------------
# accounting: every test that ran has its row


def account(rows: dict[str, dict], started: set[str], *, stopped_early: bool
            ) -> tuple[list[str], list[str]]:
    """(errors, warnings) about the report's rows. An error: a test that started (pytest or an
    xdist worker announced it) has no outcome in its row, i.e. its report was lost (e.g. a value
    xdist cannot serialize); such a session must not pass. A warning: collected tests that
    never ran although the session was not stopped early (-x, --maxfail, Ctrl-C)."""
    errors, warnings = [], []
    lost = sorted(t for t in started if rows.get(t, {}).get("outcome", "not run") == "not run")
    if lost:
        errors.append(
            f"lowdim: {len(lost)} test(s) ran but their reports never reached the report "
            f"(the report has fewer rows than tests ran): {', '.join(lost[:5])}"
            + (" ..." if len(lost) > 5 else "")
            + "; a value that xdist cannot serialize in user_properties drops a report")
    idle = sorted(t for t, r in rows.items() if r["outcome"] == "not run" and t not in started)
    if idle and not stopped_early:
        warnings.append(
            f"lowdim: {len(idle)} collected test(s) never ran and the run was not stopped "
            f"early: {', '.join(idle[:5])}" + (" ..." if len(idle) > 5 else ""))
    return errors, warnings


def stopped_early(session: pytest.Session, exitstatus) -> bool:
    maxfail = session.config.getoption("maxfail", 0) or 0
    return bool(
        int(exitstatus) == int(pytest.ExitCode.INTERRUPTED)
        or session.shouldfail or session.shouldstop
        or (maxfail and session.testsfailed >= maxfail)
    )


# ------------------------------------------------------------------------------------------
# xdist: a crashed worker's test is reported once, and the rest of its file still runs


class _CrashSafe:
    """remove_node of xdist's loadscope/loadfile scheduling (xdist 3.8), less two faults that
    hit a claims run: the test a worker died on went back on the queue and crashed every
    replacement worker until --max-worker-restart was spent, leaving the rest of its file
    never run (pytest-xdist PR #1371); and work units the dead worker had finished were queued
    again as empty units, which can hang the run's end (pytest-xdist #1378)."""

    def remove_node(self, node):
        workload = self.assigned_work.pop(node)
        if not self._pending_of(workload):
            return None
        crashitem = next(nodeid for unit in workload.values()
                         for nodeid, done in unit.items() if not done)
        for scope, unit in workload.items():
            if crashitem in unit:
                unit[crashitem] = True  # reported as crashed by xdist: never run it again
            if not all(unit.values()):  # only units with tests still to run go back
                self.workqueue[scope] = unit
        for other in self.assigned_work:
            self._reschedule(other)
        return crashitem


def crash_safe_scheduler(config: pytest.Config, log):
    """The scheduler for --dist loadfile / loadscope (loadfile is the plugin's default), or
    None to leave the choice to xdist."""
    dist = config.getvalue("dist")
    if dist not in ("loadfile", "loadscope"):
        return None
    try:
        from xdist.scheduler import LoadFileScheduling, LoadScopeScheduling
    except ImportError:  # pragma: no cover
        return None
    base = LoadFileScheduling if dist == "loadfile" else LoadScopeScheduling
    if not all(hasattr(base, a) for a in ("remove_node", "_pending_of", "_reschedule")):
        return None  # an xdist whose scheduler has changed: use it as it is
    return type(f"CrashSafe{base.__name__}", (_CrashSafe, base), {})(config, log)


# ------------------------------------------------------------------------------------------
# the per-process plugin object


def _timeout_of(item: pytest.Item) -> float | None:
    m = item.get_closest_marker("claim")
    if m is None or "timeout" not in m.kwargs:
        return None
    try:
        return check_timeout(m.kwargs["timeout"], f"{item.nodeid}: pytest.mark.claim(timeout=)")
    except ValueError as e:
        raise pytest.UsageError(str(e)) from None


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


class Reliability:
    """Time limits and deterministic kernels around each test's phases; SIGTERM and the
    accounting on the controller."""

    def __init__(self, config: pytest.Config, timeout: float | None):
        self.config = config
        self.timeout = timeout
        self.started: set[str] = set()
        self.messages: list[str] = []  # shown in the terminal summary (and the header)
        self.errors: list[str] = []
        self._deadline = pytest.StashKey[float]()
        self._old_sigterm = None
        # pytest's own faulthandler_timeout uses the same single faulthandler timer
        self._hard = not float(config.getini("faulthandler_timeout") or 0)
        self._stderr = None  # the terminal's stderr (fd 2 is captured while tests run)
        if self._hard:
            try:
                self._stderr = os.dup(sys.__stderr__.fileno())
            except (AttributeError, ValueError, OSError):
                self._hard = False

    # -- SIGTERM (controller) ----------------------------------------------------------------
    def install_sigterm(self) -> None:
        """First SIGTERM: a KeyboardInterrupt, so pytest ends the session and the report of the
        tests so far is written (atomically); a second SIGTERM kills at once (the files on disk
        are then the previous complete ones)."""
        if not _on_main_thread() or not hasattr(signal, "SIGTERM"):
            return

        def on_term(signum, frame):
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            raise KeyboardInterrupt("SIGTERM")

        self._old_sigterm = signal.signal(signal.SIGTERM, on_term)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self._stderr is not None:
            os.close(self._stderr)
            self._stderr = None
        if self._old_sigterm is not None and _on_main_thread():
            signal.signal(signal.SIGTERM, self._old_sigterm)
            self._old_sigterm = None

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        return list(self.messages)

    @pytest.hookimpl(optionalhook=True, tryfirst=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log):
        return crash_safe_scheduler(config, log)

    def pytest_runtest_logstart(self, nodeid: str, location) -> None:
        self.started.add(nodeid)  # under xdist the controller hears every worker's logstart

    # -- accounting (controller) --------------------------------------------------------------
    def check(self, session: pytest.Session, rows: dict[str, dict], exitstatus) -> None:
        """Run at sessionfinish before the report is written: a lost report fails the session."""
        errors, warnings = account(rows, self.started,
                                   stopped_early=stopped_early(session, exitstatus))
        self.errors = errors
        self.messages += warnings
        if errors and session.exitstatus in (pytest.ExitCode.OK,
                                             pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter) -> None:
        for line in self.errors:
            terminalreporter.write_line(line, red=True, bold=True)
        for line in self.messages:
            terminalreporter.write_line(line, yellow=True)

    # -- time limit and deterministic kernels (where tests run) ------------------------------
    def pytest_collection_modifyitems(self, items) -> None:
        for item in items:  # a bad marker timeout is a usage error before anything runs
            _timeout_of(item)

    def _limit(self, item: pytest.Item) -> float | None:
        marked = _timeout_of(item)
        return marked if marked is not None else self.timeout

    @contextmanager
    def _phase(self, item: pytest.Item, when: str):
        limit = self._limit(item)
        claim = item.get_closest_marker("claim") is not None
        with _deterministic(claim):
            if limit is None:
                yield
                return
            if when == "setup" or self._deadline not in item.stash:
                item.stash[self._deadline] = time.monotonic() + limit
            # setup and call share the test's budget; teardown gets the whole limit again
            left = limit if when == "teardown" else item.stash[self._deadline] - time.monotonic()
            with _alarm(max(left, 1e-3), hard=self._stderr,
                        message=f"{item.nodeid} ran past its time limit of {limit:g} s (in "
                                f"{when}); raise it with --lowdim-timeout SECONDS or "
                                f"pytest.mark.claim(..., timeout=SECONDS)"):
                yield

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item):
        with self._phase(item, "setup"):
            return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item):
        with self._phase(item, "call"):
            return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item, nextitem):
        with self._phase(item, "teardown"):
            return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(self, item, call):
        rep = yield
        if call.excinfo is not None and call.excinfo.errisinstance(ClaimTimeout):
            # a timeout is a failure even where the test is marked xfail
            rep.outcome = "failed"
            if hasattr(rep, "wasxfail"):
                del rep.wasxfail
            rep.user_properties.append((PROP_TIMEOUT, self._limit(item)))
        return rep


@contextmanager
def _deterministic(on: bool):
    """torch.use_deterministic_algorithms for a claim test's phases (warn_only: an op with no
    deterministic kernel warns rather than fails); the previous mode is restored after."""
    import torch

    if not on or torch.are_deterministic_algorithms_enabled():
        yield
        return
    _set_deterministic(True)
    try:
        yield
    finally:
        _set_deterministic(False)


def _set_deterministic(mode: bool) -> None:
    # torch.use_deterministic_algorithms imports torch._inductor to set its `deterministic`
    # config: seconds of import per process for a flag. Set the flag itself, and inductor's
    # only where a claim has already loaded it (torch.compile).
    import torch

    setter = getattr(torch._C, "_set_deterministic_algorithms", None)
    if setter is None:  # pragma: no cover - a torch without the private setter
        torch.use_deterministic_algorithms(mode, warn_only=True)
        return
    setter(mode, warn_only=True)
    inductor = sys.modules.get("torch._inductor.config")
    if inductor is not None:
        inductor.deterministic = mode


@contextmanager
def _alarm(seconds: float, *, hard: int | None, message: str):
    """Raise ClaimTimeout in the main thread after `seconds` (SIGALRM); if the code is stuck in
    C and never returns to Python, dump every thread's stack and exit the process
    HARD_GRACE_S later (under xdist the worker is then reported crashed and replaced)."""
    soft = _on_main_thread() and hasattr(signal, "setitimer")
    old = None
    if soft:
        def on_alarm(signum, frame):
            raise ClaimTimeout(message)

        old = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
    if hard is not None:  # hard: a file descriptor for the stack dump
        faulthandler.dump_traceback_later(seconds + (HARD_GRACE_S if soft else 0.0),
                                          exit=True, file=hard)
    try:
        yield
    finally:
        if hard is not None:
            faulthandler.cancel_dump_traceback_later()
        if soft:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)


def configure(config: pytest.Config, timeout: float | None, *, device: str,
              controller: bool) -> Reliability:
    """Register the reliability hooks in this process (called from the plugin's configure)."""
    if device != "cpu":  # cuBLAS is deterministic only with a fixed workspace (set before CUDA
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # starts; workers inherit)
    rel = Reliability(config, timeout)
    config.stash[STATE_KEY] = rel
    config.pluginmanager.register(rel, "lowdim-reliability")
    if controller:
        rel.install_sigterm()
    return rel
