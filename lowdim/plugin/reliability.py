"""Run reliability: per-test time limits, deterministic torch kernels in claim tests, SIGTERM as
an interrupt, and the accounting that every test that ran has its row.

The time limit and the deterministic mode act where tests run (every process); SIGTERM and the
accounting act on the controller, which alone writes the report. The hooks that call these live
in hooks.py; their state lives in the run's session (session.py).
"""

from __future__ import annotations

import faulthandler
import math
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager

import pytest

PROP_TIMEOUT = "lowdim_timeout"  # user property of a report whose phase ran out of time
HARD_GRACE_S = 10.0  # after the soft limit, how long C code may run before the process exits


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


def timeout_of(item: pytest.Item) -> float | None:
    """The item's own limit, pytest.mark.claim(..., timeout=SECONDS); a pytest.UsageError for a
    bad one."""
    m = item.get_closest_marker("claim")
    if m is None or "timeout" not in m.kwargs:
        return None
    try:
        return check_timeout(m.kwargs["timeout"], f"{item.nodeid}: pytest.mark.claim(timeout=)")
    except ValueError as e:
        raise pytest.UsageError(str(e)) from None


def prepare_device(device: str) -> None:
    """cuBLAS is deterministic only with a fixed workspace, set before CUDA starts (xdist
    workers inherit the environment)."""
    if device != "cpu":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def account(rows: dict[str, dict], started: set[str], *, stopped_early: bool,
            interrupted: bool = False) -> tuple[list[str], list[str]]:
    """(errors, warnings) about the report's rows. An error: a test that started (pytest or an
    xdist worker announced it) has no outcome in its row, i.e. its report was lost (e.g. a value
    xdist cannot serialize); such a session must not pass. A warning: collected tests that
    never ran although the session was not stopped early (-x, --maxfail, Ctrl-C)."""
    errors, warnings = [], []
    lost = sorted(t for t in started if rows.get(t, {}).get("outcome", "not run") == "not run")
    if lost and interrupted:  # the interrupt ended them before they reported
        warnings.append("lowdim: interrupted while running (no outcome, row 'not run'): "
                        + ", ".join(lost[:5]) + (" ..." if len(lost) > 5 else ""))
    elif lost:
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


class Accounting:
    """The tests that started (the controller hears every worker's logstart) and the lines the
    terminal shows about the run's rows."""

    def __init__(self) -> None:
        self.started: set[str] = set()
        self.messages: list[str] = []  # shown in the header and the terminal summary
        self.errors: list[str] = []  # shown in the terminal summary, in red

    def check(self, session: pytest.Session, rows: dict[str, dict], exitstatus) -> None:
        """Run at sessionfinish before the report is written: a lost report fails the session."""
        errors, warnings = account(
            rows, self.started, stopped_early=stopped_early(session, exitstatus),
            interrupted=int(exitstatus) == int(pytest.ExitCode.INTERRUPTED))
        self.errors = errors
        self.messages += warnings
        if errors and session.exitstatus in (pytest.ExitCode.OK,
                                             pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def summary(self, terminalreporter) -> None:
        for line in self.errors:
            terminalreporter.write_line(line, red=True, bold=True)
        for line in self.messages:
            terminalreporter.write_line(line, yellow=True)


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


class Sigterm:
    """First SIGTERM: a KeyboardInterrupt, so pytest ends the session and the report of the
    tests so far is written (atomically); a second SIGTERM kills at once (the files on disk are
    then the previous complete ones). `restore` puts the previous handler back."""

    def __init__(self) -> None:
        self._old = None

    def install(self) -> None:
        if not _on_main_thread() or not hasattr(signal, "SIGTERM"):
            return

        def on_term(signum, frame):
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            raise KeyboardInterrupt("SIGTERM")

        self._old = signal.signal(signal.SIGTERM, on_term)

    def restore(self) -> None:
        if self._old is not None and _on_main_thread():
            signal.signal(signal.SIGTERM, self._old)
            self._old = None


class HoldInterrupts:
    """While the controller writes the report: the first SIGINT says that the report of what
    ran is being written and that another abandons it; the second raises KeyboardInterrupt
    (the write is all or nothing, report.folder, so the previous report then stands)."""

    def __init__(self) -> None:
        self._old = None
        self.heard = 0

    def __enter__(self) -> HoldInterrupts:
        # a process started with SIGINT ignored (nohup, a background job) keeps ignoring it
        if _on_main_thread() and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            self._old = signal.signal(signal.SIGINT, self._on_int)
        return self

    def _on_int(self, signum, frame):
        self.heard += 1
        if self.heard > 1:
            raise KeyboardInterrupt("lowdim: report abandoned")
        sys.stderr.write("\nlowdim: writing the report of what ran; interrupt again to abandon "
                         "it (the previous report then stays as it was)\n")

    def __exit__(self, *exc) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
            self._old = None


class TimeLimits:
    """Each test's time limit (its marker's, else --lowdim-timeout) around its phases: setup
    and call share one budget, teardown gets the whole limit again. Past it, ClaimTimeout in
    the main thread (SIGALRM); code stuck in C is ended HARD_GRACE_S later by faulthandler,
    which dumps every thread's stack to the terminal's stderr and exits the process."""

    def __init__(self, config: pytest.Config, timeout: float | None):
        self.timeout = timeout
        self._deadline = pytest.StashKey[float]()
        # pytest's own faulthandler_timeout uses the same single faulthandler timer
        hard = not float(config.getini("faulthandler_timeout") or 0)
        self._stderr = None  # the terminal's stderr (fd 2 is captured while tests run)
        if hard:
            try:
                self._stderr = os.dup(sys.__stderr__.fileno())
            except (AttributeError, ValueError, OSError):
                self._stderr = None

    def close(self) -> None:
        if self._stderr is not None:
            os.close(self._stderr)
            self._stderr = None

    def limit(self, item: pytest.Item) -> float | None:
        marked = timeout_of(item)
        return marked if marked is not None else self.timeout

    @contextmanager
    def phase(self, item: pytest.Item, when: str):
        """One phase of a test (setup, call, teardown): its time limit, and deterministic
        kernels where the test is a claim's."""
        limit = self.limit(item)
        claim = item.get_closest_marker("claim") is not None
        with deterministic(claim):
            if limit is None:
                yield
                return
            if when == "setup" or self._deadline not in item.stash:
                item.stash[self._deadline] = time.monotonic() + limit
            left = limit if when == "teardown" else item.stash[self._deadline] - time.monotonic()
            with _alarm(max(left, 1e-3), hard=self._stderr,
                        message=f"{item.nodeid} ran past its time limit of {limit:g} s (in "
                                f"{when}); raise it with --lowdim-timeout SECONDS or "
                                f"pytest.mark.claim(..., timeout=SECONDS)"):
                yield

    def mark_report(self, item: pytest.Item, call: pytest.CallInfo, rep: pytest.TestReport
                    ) -> None:
        """A phase that ran out of time fails its report, even where the test is marked xfail,
        and names the limit (the row's outcome becomes 'timeout')."""
        if call.excinfo is not None and call.excinfo.errisinstance(ClaimTimeout):
            rep.outcome = "failed"
            if hasattr(rep, "wasxfail"):
                del rep.wasxfail
            rep.user_properties.append((PROP_TIMEOUT, self.limit(item)))


@contextmanager
def deterministic(on: bool):
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
