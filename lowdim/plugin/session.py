"""The run's one session object: options, baseline and shard, time limits, accounting, the run
cache's store, and on the controller the rows, the journal and the report.

Every process (the controller and each xdist worker) configures one `RunSession`, kept in
`config.stash[RUN_KEY]`. Workers run tests; the controller alone turns the test reports into
rows (one per collected test) and writes reports/ at the end.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from ..regress import RunRegression, render_terminal
from ..report import write_reports
from . import runcache
from .claim import PROP_CLAIM, PROP_EVIDENCE, claim_info
from .journal import Journal
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

    def __init__(self, config: pytest.Config, opts: Options):
        self.config, self.opts = config, opts
        self.controller = not hasattr(config, "workerinput")  # or a run without xdist
        try:  # baseline / shard / seed block (lowdim.regress)
            self.regression = RunRegression.from_options(
                baseline=config.getoption("lowdim_baseline"),
                save=config.getoption("lowdim_save_baseline"),
                shard=config.getoption("lowdim_shard"), profile=opts.profile,
                seed_offset=opts.seed_offset, seeds=opts.seeds,
                root=Path(str(config.invocation_params.dir)), controller=self.controller)
        except ValueError as e:
            raise pytest.UsageError(str(e)) from None
        self.accounting = Accounting()
        self.sigterm = Sigterm()
        self.limits: TimeLimits | None = None
        self.previous_store = _NOT_SET  # the run cache's store before this run, put back after
        self.rows: dict[str, dict] = {}  # nodeid -> row (controller)
        self.claims: dict[str, dict] = {}  # claim id -> statement, source, doc (claims.html)
        self.journal: Journal | None = None
        self.started = time.time()
        self.report: dict | None = None
        self.paths: dict | None = None

    # -- configure / unconfigure ------------------------------------------------------------
    def start(self) -> None:
        """Threads, the run cache's store, time limits, SIGTERM and the journal. `close` undoes
        what this did, also when it stopped at a usage error."""
        import torch

        torch.set_num_threads(self.opts.threads)
        try:  # numpy / scipy BLAS pools too (threadpoolctl comes with scikit-learn)
            from threadpoolctl import threadpool_limits

            threadpool_limits(self.opts.threads)
        except ImportError:  # pragma: no cover
            pass
        self.previous_store = runcache.use_pytest_store(self.config, controller=self.controller)
        prepare_device(self.opts.device)
        self.limits = TimeLimits(self.config, self.opts.timeout)
        if not self.controller:
            return
        self.sigterm.install()
        if self.opts.write:
            self.journal = Journal(self.report_dir())
            try:  # a journal per run; crashed runs' are moved aside first (journal.py)
                self.accounting.messages += self.journal.start(self.config.invocation_params.args)
            except OSError as e:
                raise pytest.UsageError(
                    f"--lowdim-report-dir {self.opts.report_dir}: cannot write there ({e}); "
                    "pass a writable folder or --lowdim-no-report") from None

    def enter(self) -> None:
        """The session starts running tests: it receives the hooks that carry no config."""
        _ACTIVE.append(self)

    def close(self) -> None:
        if self.previous_store is not _NOT_SET:
            runcache.restore_store(self.previous_store)
            self.previous_store = _NOT_SET
        if self.limits is not None:
            self.limits.close()
        self.sigterm.restore()
        if self in _ACTIVE:
            _ACTIVE.remove(self)

    def report_dir(self) -> Path:
        outdir = Path(self.opts.report_dir)
        if not outdir.is_absolute():
            outdir = Path(str(self.config.invocation_params.dir)) / outdir
        return outdir

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
        for nodeid in ids:
            self.row(nodeid)

    def worker_down(self, node) -> None:
        """A worker's claim map: tests that never ran (-x, a crashed neighbour) get their id."""
        claims = (getattr(node, "workeroutput", {}) or {}).get("lowdim_claims", {})
        for nodeid, info in claims.items():
            self.note_claim(self.row(nodeid), info, keep=True)

    def logreport(self, report: pytest.TestReport) -> None:
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
        collect_only = self.config.option.collectonly
        if not collect_only:  # a test that ran without a row fails the run
            self.accounting.check(session, self.rows, exitstatus)
        self.report = build_report(self.config, session, self.opts, self.rows, self.claims,
                                   started=self.started)
        if collect_only:
            if self.journal is not None:
                self.journal.discard()
            return
        regression = self.regression  # seed block, shard, --lowdim-baseline
        if regression.annotate(self.report) and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED  # a finding changed
            self.report["meta"]["exitstatus"] = int(session.exitstatus)
        if self.opts.write and self.rows:
            outdir = self.report_dir()
            try:
                self.paths = write_reports(self.report, outdir)
                self.journal.discard()
            except OSError as e:
                sys.stderr.write(f"lowdim: could not write the report to {outdir}: {e}\n")
                session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
        try:  # --lowdim-save-baseline, $GITHUB_STEP_SUMMARY
            regression.after_run(self.report)
        except OSError as e:
            sys.stderr.write(f"lowdim: could not write the baseline / step summary: {e}\n")
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR

    def summary(self, terminalreporter) -> None:
        """The claims table, the baseline comparison, then the accounting's lines."""
        self._claims_summary(terminalreporter)
        self.accounting.summary(terminalreporter)

    def _claims_summary(self, tr) -> None:
        if not self.report or not self.report["rows"]:
            return
        if not any(r["claim"] or r["evidence"] for r in self.report["rows"]):
            return
        from ..report import render_terminal as render_table  # pandas, tabulate: only here

        tr.section("lowdim claims")
        tr.write_line(render_table(self.report))
        if self.paths:
            tr.write_line(f"report: {os.fspath(self.paths['md'])} (json, csv, html beside it)")
        if self.regression.comparison is not None:
            for line, red in render_terminal(self.regression.comparison):
                tr.write_line(line, red=red, bold=red)
        for line in self.regression.messages:
            tr.write_line(line)
