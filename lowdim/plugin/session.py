"""The run's one session object: options, baseline and shard, time limits, accounting, the run
cache's store, and on the controller the rows, the journal and the report.

Every process (the controller and each xdist worker) configures one `RunSession`, kept in
`config.stash[RUN_KEY]`. It starts dormant: it imports nothing heavy and changes nothing until
the session turns out to be a claims session (gate.py), and then `activate` sets threads, the
run cache's store, time limits, SIGTERM and the journal. Workers run tests; the controller alone
turns the test reports into rows (one per collected test) and writes reports/ at the end.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from . import history, runcache
from .claim import PROP_CLAIM, PROP_EVIDENCE, PROP_NOTE, claim_info
from .options import Options
from .reliability import PROP_TIMEOUT, Accounting, Sigterm, TimeLimits, prepare_device
from .rows import build_report, new_row, outcome_of

RUN_KEY = pytest.StashKey["RunSession"]()
_NOT_SET = object()
# The sessions started in this process (sessionstart to unconfigure), innermost last: an
# in-process pytester run nests one inside the run of lowdim's own tests. Hooks whose arguments
# carry no config (logstart, logreport) act on the innermost, the one whose tests are running; a
# config that is only configured (pytester.parseconfigure) runs none and is not on the list.
_ACTIVE: list[RunSession] = []


def active() -> RunSession | None:
    """The session whose tests are running in this process, or None."""
    return _ACTIVE[-1] if _ACTIVE else None


class RunSession:
    """One pytest run's state in one process (configure to unconfigure)."""

    def __init__(self, config: pytest.Config, opts: Options, *, opted_in: str | None = None):
        self.config, self.opts = config, opts
        self.controller = not hasattr(config, "workerinput")  # or a run without xdist
        self.opted_in = opted_in  # why this is a claims session before collection (gate.py)
        self.live = False  # a claims session: activate() ran
        self.regression = None  # lowdim.regress.RunRegression: baseline, shard, seed block
        self.accounting = Accounting()
        self.sigterm = Sigterm()
        self.limits: TimeLimits | None = None
        self.previous_store = _NOT_SET  # the run cache's store before this run, put back after
        self.rows: dict[str, dict] = {}  # nodeid -> row (controller)
        self.claims: dict[str, dict] = {}  # claim id -> statement, source, doc (claims.html)
        self.journal = None  # journal.Journal of the controller, with report files on
        self.lock = None  # the report folder's lock file, held from activate to close
        self.started = time.time()
        self.report: dict | None = None
        self.paths: dict | None = None
        self.deselected = 0  # tests deselected in this process (history.py)
        # A dormant xdist controller (it never collects) keeps what it hears until a report
        # carrying a claim wakes it; a process that collected knows by then and stops listening.
        self.listening = self.controller
        self.heard_ids: list[str] = []
        self.heard_reports: list = []

    # -- configure / sessionstart / unconfigure ---------------------------------------------
    def activate(self, *, late: bool = False) -> None:
        """The session is a claims session: baseline and shard, threads, the run cache's store,
        time limits, SIGTERM and the journal. `close` undoes what this did, also when it
        stopped at a usage error. late: a dormant xdist controller woken by a report while the
        workers run (a usage error is then a line of the summary, and the store is not
        cleared under the workers' feet)."""
        if self.live:
            return
        from ..regress import RunRegression

        config = self.config
        try:  # baseline / shard / seed block (lowdim.regress)
            self.regression = RunRegression.from_options(
                baseline=config.getoption("lowdim_baseline"),
                save=config.getoption("lowdim_save_baseline"),
                shard=config.getoption("lowdim_shard"), profile=self.opts.profile,
                seed_offset=self.opts.seed_offset, seeds=self.opts.seeds,
                root=Path(str(config.invocation_params.dir)), controller=self.controller)
        except ValueError as e:
            if not late:
                raise pytest.UsageError(str(e)) from None
            self.accounting.errors.append(f"lowdim: {e}")
            self.regression = RunRegression()
        import torch

        torch.set_num_threads(self.opts.threads)
        try:  # numpy / scipy BLAS pools too (threadpoolctl comes with scikit-learn)
            from threadpoolctl import threadpool_limits

            threadpool_limits(self.opts.threads)
        except ImportError:  # pragma: no cover
            pass
        self.previous_store = runcache.use_pytest_store(
            config, controller=self.controller and not late)
        prepare_device(self.opts.device)
        self.limits = TimeLimits(config, self.opts.timeout)
        if self.controller:
            self.sigterm.install()
        if self.controller and self.opts.write and not lists_only(config):
            message = self._take_folder()
            if message is not None:
                if not late:
                    raise pytest.UsageError(message)
                self.accounting.errors.append(f"lowdim: {message}")
        self.live = True  # only now: a usage error above leaves the session dormant

    def _take_folder(self) -> str | None:
        """The report folder's lock (report.folder: one writing run at a time), then this run's
        journal (crashed runs' journals are moved aside first, journal.py); the usage error's
        message, None when both are taken."""
        from ..report.folder import FolderBusy, acquire
        from .journal import Journal

        args = self.config.invocation_params.args
        try:
            self.lock = acquire(self.report_dir(), ["pytest", *map(str, args)])
            self.journal = Journal(self.report_dir())
            self.accounting.messages += self.journal.start(args)
        except FolderBusy as e:
            return str(e)
        except OSError as e:
            self.journal = None
            return (f"--lowdim-report-dir {self.opts.report_dir}: cannot write there ({e}); "
                    "pass a writable folder or --lowdim-no-report")
        return None

    def enter(self) -> None:
        """The session starts running tests: it receives the hooks that carry no config, and
        a session opted in before collection activates now."""
        _ACTIVE.append(self)
        if self.opted_in is not None:
            self.activate()
        elif self.controller and self.config.pluginmanager.has_plugin("dsession"):
            runcache.clear_before_workers(self.config)  # before xdist's sessionstart

    def close(self) -> None:
        if self.previous_store is not _NOT_SET:
            runcache.restore_store(self.previous_store)
            self.previous_store = _NOT_SET
        if self.limits is not None:
            self.limits.close()
        self.sigterm.restore()
        if self.lock is not None:
            from ..report.folder import release

            release(self.lock)
            self.lock = None
        if self in _ACTIVE:
            _ACTIVE.remove(self)

    def report_dir(self) -> Path:
        outdir = Path(self.opts.report_dir)
        if not outdir.is_absolute():
            outdir = Path(str(self.config.invocation_params.dir)) / outdir
        return outdir

    def wake(self) -> None:
        """A dormant xdist controller heard a report carrying a claim: activate, then build the
        rows from the workers' collection and the reports heard so far."""
        self.activate(late=True)
        for nodeid in self.heard_ids:
            self.row(nodeid)
        heard, self.heard_reports, self.heard_ids = self.heard_reports, [], []
        for report in heard:
            self.logreport(report)

    # -- rows (controller) ------------------------------------------------------------------
    def row(self, nodeid: str) -> dict:
        if nodeid not in self.rows:
            self.rows[nodeid] = new_row(nodeid, self.opts)
        return self.rows[nodeid]

    def note_claim(self, row: dict, info: dict, *, keep: bool = False) -> None:
        """The row's claim (keep: only where it has none yet) and the claim's description."""
        if not keep or row["claim"] is None:
            row.update(claim=info["id"], statement=info["statement"], source=info["source"])
        c = self.claims.setdefault(info["id"], {"statement": info["statement"],
                                                "source": info["source"], "doc": ""})
        c["doc"] = c["doc"] or info.get("doc", "")

    def collected(self, items: list[pytest.Item]) -> None:
        """Every collected test gets a row, with or without xdist."""
        for item in items:
            row = self.row(item.nodeid)
            info = claim_info(item)
            if info:
                self.note_claim(row, info)

    def worker_collected(self, ids) -> None:
        if not self.live:  # kept for wake(); every worker collects the same tests
            if self.listening and not self.heard_ids:
                self.heard_ids = list(ids)
            return
        for nodeid in ids:
            self.row(nodeid)

    def worker_down(self, node) -> None:
        """A worker's claim map: tests that never ran (-x, a crashed neighbour) get their id;
        and the claims' docstrings, which travel only this way (not in every test report)."""
        output = getattr(node, "workeroutput", {}) or {}
        docs = output.get("lowdim_docs", {})
        for nodeid, info in output.get("lowdim_claims", {}).items():
            self.note_claim(self.row(nodeid), {**info, "doc": docs.get(info["id"], "")},
                            keep=True)

    def logreport(self, report: pytest.TestReport) -> None:
        if not self.live:
            if not self.listening:
                return
            if not any(name in (PROP_CLAIM, PROP_EVIDENCE) for name, _ in report.user_properties):
                self.heard_reports.append(report)
                return
            self.wake()
        row = self.row(report.nodeid)
        for name, value in report.user_properties:
            if name in (PROP_CLAIM, PROP_EVIDENCE) and isinstance(value, str):
                value = json.loads(value)  # sent as JSON text (see collection / record)
            if name == PROP_CLAIM:
                self.note_claim(row, value)
            elif name == PROP_EVIDENCE:
                row["evidence"] = value["evidence"]
                row["conditions"] = value["conditions"]
                row["seeds"] = value.get("seeds")
                row["method_hash"] = value.get("method_hash")
                if value.get("curves"):  # histories over steps, for the figure (figures.py)
                    row["curves"] = value["curves"]
                if value.get("undecidable"):  # too few seeds to reach alpha (claim.py)
                    row["undecidable"] = value["undecidable"]
                if value.get("warnings"):  # Evidence.n vs the seeds drawn (claim.py)
                    row["warnings"] = list(value["warnings"])
            elif name == PROP_NOTE and value not in row.get("warnings", ()):
                row.setdefault("warnings", []).append(value)  # passed without recording
            elif name == runcache.PROP_CACHED and isinstance(value, str):
                value = json.loads(value)  # each report carries the earlier phases' too
                if value.get("when") == report.when:
                    row["cached_s"] = round(row.get("cached_s", 0.0) + float(value["s"]), 3)
        row["duration_s"] = round(row["duration_s"] + float(report.duration or 0.0), 3)
        timed_out = any(name == PROP_TIMEOUT for name, _ in report.user_properties)
        row["outcome"] = outcome_of(report, row["outcome"], timed_out=timed_out)
        if self.journal is not None and (report.when == "teardown"
                                         or row["outcome"] == "crashed"):
            self.journal.append(row)

    # -- the end (controller) ---------------------------------------------------------------
    def finish(self, session: pytest.Session, exitstatus) -> None:
        """Build the report, compare it with the baseline, write it; set the exit status."""
        collect_only = lists_only(self.config)
        if not collect_only:  # a test that ran without a row fails the run
            self.accounting.check(session, self.rows, exitstatus)
        self.report = build_report(self.config, session, self.opts, self.rows, self.claims,
                                   started=self.started)
        if collect_only:
            if self.journal is not None:
                self.journal.discard()
            return
        regression = self.regression  # seed block, shard, --lowdim-baseline
        failed: list[str] = []  # what broke after the tests ran: the report is written anyway
        try:
            changed = regression.annotate(self.report)
        except Exception as e:  # noqa: BLE001 - a baseline that breaks the compare
            changed = False
            self._failed(session, failed, "the baseline comparison", e)
        if changed and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED  # a finding changed
            self.report["meta"]["exitstatus"] = int(session.exitstatus)
        try:  # --lowdim-save-baseline, $GITHUB_STEP_SUMMARY: before the report, which then
            regression.after_run(self.report)  # names a failure here in its meta (one write)
        except Exception as e:  # noqa: BLE001 - OSError included: the report is still written
            self._failed(session, failed, "writing the baseline / step summary", e)
        incomplete = None
        if self.opts.write and self.rows:
            complete = history.complete_files(self.report_dir())
            incomplete = history.incomplete(
                self.config, session, exitstatus, deselected=self.deselected,
                shard=regression.shard, smoke=self.opts.smoke, ran=self.rows, complete=complete)
            if incomplete:
                self.report["meta"]["incomplete"] = incomplete
            self._write(session, failed, incomplete if complete is not None else None)
        if self.paths and not failed and not incomplete:
            line = history.keep(self.report, self.report_dir(), keep_last=self.opts.history)
            if line:
                regression.messages.append(line)

    def _write(self, session: pytest.Session, failed: list[str], beside: str | None) -> None:
        """Write the report, all files or none (report.folder). beside: why this run is not
        complete, where the folder holds a complete report: then the run writes
        claims.partial.json (+ md, csv) and leaves the complete one be. Where figures or html break, the rows are still
        written, with meta "failed" naming what broke; where the folder cannot take the report
        (a full disk), the previous report stands and this run's rows stay in its journal."""
        from ..report.write import PARTIAL_NAME, REPORT_NAME, write

        outdir = self.report_dir()
        name = REPORT_NAME
        if beside:
            name = PARTIAL_NAME
            self.regression.messages.append(
                f"lowdim: this run is not complete ({beside}), so the complete report in "
                f"{outdir} stays as it was; this run's rows are in {outdir / PARTIAL_NAME}")
        try:
            self.paths = write(self.report, outdir, name=name, on_error=lambda what, e:
                               self._failed(session, failed, what, e))
        except Exception as e:  # noqa: BLE001 - OSError (a full disk) among them
            kept = (f"; this run's rows are kept in {self.journal.path}" if self.journal
                    is not None else "")
            self.accounting.errors.append(
                f"lowdim: could not write the report to {outdir} ({type(e).__name__}: {e}); "
                f"the report there is the previous one, untouched{kept}")
            self.journal = None  # kept: the next run moves it to claims.crashed-*.jsonl
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
            return
        if self.journal is not None:
            try:
                self.journal.discard()
            except Exception as e:  # noqa: BLE001
                self._failed(session, failed, "removing the journal", e)

    def _failed(self, session: pytest.Session, failed: list[str], what: str, error: Exception) -> None:
        """Note a step after the tests that broke: meta "failed", a red summary line and a
        non-zero exit status."""
        failed.append(f"{what}: {type(error).__name__}: {error}")
        meta = self.report["meta"]
        meta["failed"] = list(failed)
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
        meta["exitstatus"] = int(session.exitstatus)
        self.accounting.errors.append(f"lowdim: {what} failed after the tests ran "
                                      f"({type(error).__name__}: {error}); the report of what "
                                      "ran is written, with meta 'failed' naming it")

    def summary(self, terminalreporter) -> None:
        """The claims table, the baseline comparison, the rows that cannot decide, then the
        accounting's lines."""
        self._claims_summary(terminalreporter)
        line = undecidable_line(self.report["rows"] if self.report else [], self.opts.smoke)
        if line:
            terminalreporter.write_line(line, yellow=True, bold=True)
        for line in warning_lines(self.report["rows"] if self.report else []):
            terminalreporter.write_line(line, yellow=True)
        self.accounting.summary(terminalreporter)

    def _claims_summary(self, tr) -> None:
        if not self.report or not self.report["rows"]:
            return
        if not any(r["claim"] or r["evidence"] for r in self.report["rows"]):
            return
        from ..regress import render_terminal
        from ..report import render_terminal as render_table  # pandas, tabulate: only here

        tr.section("lowdim claims")
        tr.write_line(render_table(self.report))
        if self.paths:
            beside = "json, csv, html" if "html" in self.paths else "json, csv"
            tr.write_line(f"report: {os.fspath(self.paths['md'])} ({beside} beside it)")
        if self.regression.comparison is not None:
            for line, red in render_terminal(self.regression.comparison):
                tr.write_line(line, red=red, bold=red)
        for line in self.regression.messages:
            tr.write_line(line)


def lists_only(config: pytest.Config) -> bool:
    """A session that lists its tests or fixtures (--co, --fixtures, --fixtures-per-test) and
    runs none: it keeps no journal and writes no report."""
    option = config.option
    return bool(option.collectonly or getattr(option, "showfixtures", False)
                or getattr(option, "show_fixtures_per_test", False))


def undecidable_line(rows: list[dict], smoke: bool) -> str | None:
    """One line about the rows whose decision cannot reach alpha with their seeds (each row's
    "undecidable" says why), or None when there are none."""
    rows = [r for r in rows if r.get("undecidable")]
    if not rows:
        return None
    why: dict[str, list[str]] = {}
    for r in rows:  # "cannot decide at n=4: needs >= 7 seeds (...)" -> "n=4: needs >= 7 seeds"
        short = r["undecidable"].split(" (", 1)[0].removeprefix("cannot decide at ")
        why.setdefault(short, []).append(r["test"].split("::", 1)[-1])
    groups = "; ".join(f"{short}: {', '.join(tests)}" for short, tests in why.items())
    then = ("skipped (--lowdim-smoke)" if smoke else
            "give them more seeds, or check the wiring with --lowdim-smoke, which skips them")
    return (f"lowdim: {len(rows)} row(s) cannot decide with the seeds given (their test's "
            f"smallest attainable p > alpha), {then}: {groups}")


def warning_lines(rows: list[dict]) -> list[str]:
    """The rows' warnings (claim.py: Evidence.n against the seeds the test drew, a claim test
    that passed without recording), a line each under one heading; [] when there are none."""
    found = [(r["test"], w) for r in rows for w in r.get("warnings", ())]
    if not found:
        return []
    return [f"lowdim: {len(found)} warning(s) about how claim tests used their claim:",
            *(f"  {test}: {w}" for test, w in found)]
