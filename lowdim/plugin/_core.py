"""The pytest plugin: the `claim` marker and fixture, run options, and the report.

Workers (or the single process without xdist) record evidence into `item.user_properties` as
plain JSON values; pytest ships those inside every test report, also across xdist. The controller
alone collects the reports, one row per collected test, and writes reports/ at the end.
"""

from __future__ import annotations

import datetime as _dt
import inspect
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from .. import regress as _baseline
from .. import report as _report
from ..report import figures as _figures
from ..stats import Evidence, holm, plain
from . import adaptive as _adaptive
from . import reliability as _rel

PROP_CLAIM = "lowdim_claim"  # (id, statement, source) attached at collection
PROP_EVIDENCE = "lowdim_evidence"  # what the `claim` fixture recorded
PROP_CACHED = "lowdim_cached_s"  # {"when": phase, "s": seconds of training read from the cache}
PROFILES = ("quick", "full")
DEVICES = ("cpu", "cuda", "auto")


# ------------------------------------------------------------------------------------------
# options


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("lowdim", "lowdim: seed-batched statistical claims")
    g.addoption("--lowdim-seeds", type=int, default=None, metavar="N",
                help="override every claim's seed count with N")
    g.addoption("--lowdim-seed-offset", type=int, default=0, metavar="K",
                help="start every claim's seeds at K (seeds K..K+n-1): with K >= the largest seed "
                     "count this is a disjoint block, a true replication (default 0)")
    g.addoption("--lowdim-device", default="cpu", metavar="{cpu,cuda,auto}",
                help="where claims train (default cpu; auto = cuda when available)")
    g.addoption("--lowdim-report-dir", default="reports", metavar="DIR",
                help="folder for claims.json / claims.md / claims.csv (default reports/)")
    g.addoption("--lowdim-profile", default="quick", metavar="{quick,full}",
                help="quick: fewer seeds / stated shorter budgets; full: the sources' sizes")
    g.addoption("--lowdim-threads", type=int, default=1, metavar="N",
                help="torch intra-op threads per process (default 1, so -n 0 and -n auto agree)")
    g.addoption("--lowdim-no-report", action="store_true",
                help="do not write report files (the terminal table is still shown)")
    g.addoption("--lowdim-timeout", type=float, default=None, metavar="SECONDS",
                help="time limit per test (setup and call together): past it the test fails "
                     "as a 'timeout' row and the run goes on (default: none; a claim can set "
                     "its own with pytest.mark.claim(..., timeout=SECONDS))")
    g.addoption("--lowdim-baseline", default=None, metavar="PATH",
                help="compare with a stored report: a verdict that changed for an unchanged "
                     "method fails the session; drift, changed/new/vanished claims are listed")
    g.addoption("--lowdim-save-baseline", default=None, metavar="PATH",
                help="also write this run's report to PATH, as a baseline for later runs")
    g.addoption("--lowdim-shard", default=None, metavar="I/N",
                help="run only shard I of N (whole test files, sorted by path, dealt "
                     "round-robin); merge the reports with `lowdim merge`")
    g.addoption("--lowdim-cache-clear", action="store_true",
                help="empty the run cache (.pytest_cache/d/lowdim-runs) before the run")
    g.addoption("--lowdim-no-cache", action="store_true",
                help="neither read nor write the run cache: train everything again")
    g.addoption("--lowdim-adaptive", action="store_true",
                help="train each claim's seeds in growing prefixes (8, 16, 32, ... up to its "
                     "count) and stop at an anytime-valid decision (lowdim/adaptive.py)")


@dataclass(frozen=True)
class Options:
    seeds: int | None
    seed_offset: int
    device: str
    report_dir: str
    profile: str
    threads: int
    write: bool
    timeout: float | None = None  # --lowdim-timeout (lowdim/reliability.py)
    adaptive: bool = False  # --lowdim-adaptive (lowdim/adaptive.py)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


OPTIONS_KEY = pytest.StashKey[Options]()
SESSION_KEY = pytest.StashKey["ReportSession"]()
REGRESSION_KEY = pytest.StashKey[_baseline.RunRegression]()  # baseline / shard (baseline.py)
CACHE_KEY = pytest.StashKey[object]()  # the run cache's previous folder, restored at the end
SERVED_KEY = pytest.StashKey[float]()  # cache.served_seconds() when the item's last phase ended


def _options(config: pytest.Config) -> Options:
    o = Options(
        seeds=config.getoption("lowdim_seeds"),
        seed_offset=config.getoption("lowdim_seed_offset"),
        device=config.getoption("lowdim_device"),
        report_dir=config.getoption("lowdim_report_dir"),
        profile=config.getoption("lowdim_profile"),
        threads=config.getoption("lowdim_threads"),
        write=not config.getoption("lowdim_no_report"),
        timeout=config.getoption("lowdim_timeout"),
        adaptive=bool(config.getoption("lowdim_adaptive")),
    )
    try:
        _rel.check_timeout(o.timeout, "--lowdim-timeout")
    except ValueError as e:
        raise pytest.UsageError(str(e)) from None
    if o.seeds is not None and o.seeds < 1:
        raise pytest.UsageError(f"--lowdim-seeds: got {o.seeds}; need a seed count >= 1")
    if o.seed_offset < 0:
        raise pytest.UsageError(f"--lowdim-seed-offset: got {o.seed_offset}; need >= 0")
    if o.device not in DEVICES and not o.device.startswith("cuda:"):
        raise pytest.UsageError(
            f"--lowdim-device: got {o.device!r}; allowed: {', '.join(DEVICES)} or cuda:N")
    if o.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise pytest.UsageError(
                f"--lowdim-device {o.device}: no CUDA device is visible to torch here; "
                "use --lowdim-device cpu (or auto, which falls back to the CPU)")
    if o.profile not in PROFILES:
        raise pytest.UsageError(
            f"--lowdim-profile: got {o.profile!r}; allowed: {', '.join(PROFILES)}")
    if o.threads < 1:
        raise pytest.UsageError(f"--lowdim-threads: got {o.threads}; need >= 1")
    return o


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    # Under `-n N` without an explicit --dist, keep each claim file on one worker (loadfile):
    # a file's tests share their training through module-level caches, and spreading them over
    # workers would train the same models twice. An explicit --dist is respected.
    opt = config.option
    if getattr(opt, "numprocesses", None) and getattr(opt, "dist", None) == "no":
        opt.dist = "loadfile"
        # ... and hand out the files longest first (see _longest_files_first), which needs
        # xdist to keep the collection's order of files instead of sorting them by test count.
        if hasattr(opt, "loadscopereorder"):  # pytest-xdist >= 3.6
            opt.loadscopereorder = False
            opt.lowdim_longest_first = True


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    # xdist workers re-parse the command line: tell them the order chosen above
    node.workerinput["lowdim_longest_first"] = getattr(node.config.option,
                                                       "lowdim_longest_first", False)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "claim(id, *, statement='', source='', timeout=None): the lowdim claim this test "
        "decides (timeout: its own per-test time limit in seconds)",
    )
    opts = _options(config)
    config.stash[OPTIONS_KEY] = opts
    try:
        config.stash[REGRESSION_KEY] = _baseline.RunRegression.from_options(
            baseline=config.getoption("lowdim_baseline"),
            save=config.getoption("lowdim_save_baseline"), shard=config.getoption("lowdim_shard"),
            profile=opts.profile, seed_offset=opts.seed_offset, seeds=opts.seeds,
            root=Path(str(config.invocation_params.dir)),
            controller=not hasattr(config, "workerinput"))
    except ValueError as e:
        raise pytest.UsageError(str(e)) from None
    import torch

    torch.set_num_threads(opts.threads)
    try:  # numpy / scipy BLAS pools too (threadpoolctl comes with scikit-learn)
        from threadpoolctl import threadpool_limits

        threadpool_limits(opts.threads)
    except ImportError:  # pragma: no cover
        pass
    from ..engine import cache as _cache  # the run cache's folder (lowdim/cache.py)

    config.stash[CACHE_KEY] = _cache.configure_pytest(config)
    # time limits, deterministic kernels in claim tests, SIGTERM, accounting (reliability.py)
    _rel.configure(config, opts.timeout, device=opts.device,
                   controller=not hasattr(config, "workerinput"))
    if not hasattr(config, "workerinput"):  # the controller (or a run without xdist)
        session = ReportSession(config, opts)
        config.stash[SESSION_KEY] = session
        config.pluginmanager.register(session, "lowdim-report")


def pytest_unconfigure(config: pytest.Config) -> None:
    if CACHE_KEY in config.stash:  # an in-process pytester run must not move the outer store
        from ..engine import cache as _cache

        _cache.restore_store(config.stash[CACHE_KEY])


# ------------------------------------------------------------------------------------------
# the marker and the fixture (worker side)


def _claim_info(item: pytest.Item) -> dict | None:
    m = item.get_closest_marker("claim")
    if m is None:
        return None
    if len(m.args) != 1 or not isinstance(m.args[0], str) or not m.args[0]:
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.claim needs one claim id string, e.g. "
            f"pytest.mark.claim('bias-free-ray', statement=..., source=...); got args {m.args!r}")
    module = getattr(item, "module", None)  # its docstring is the claim's method (claims.html)
    return {
        "id": m.args[0],
        "statement": str(m.kwargs.get("statement", "")),
        "source": str(m.kwargs.get("source", "")),
        "doc": (inspect.getdoc(module) or "") if module is not None else "",
    }


@pytest.hookimpl(trylast=True)  # after -k / -m / --deselect: the map holds selected tests only
def pytest_collection_modifyitems(session, config, items) -> None:
    shard = config.stash[REGRESSION_KEY].shard
    if shard is not None:  # --lowdim-shard I/N: keep whole files of this shard
        items[:], dropped = _baseline.split_shard(items, shard)
        if dropped:
            config.hook.pytest_deselected(items=dropped)
    if getattr(config, "workerinput", {}).get("lowdim_longest_first"):
        items[:] = _longest_files_first(items, _expected_file_seconds(config))
    # Attach the claim id at collection, so every report of the item (setup included, which
    # reaches the controller before the test body runs) carries it, even if the worker crashes.
    # Properties travel as JSON text: plain values for xdist, and junit XML shows them as JSON.
    claims = {}
    for item in items:
        info = _claim_info(item)
        if info is not None:
            item.user_properties.append((PROP_CLAIM, json.dumps(info, sort_keys=True)))
            claims[item.nodeid] = info
    if hasattr(config, "workeroutput"):
        # Also hand the whole map to the controller when this worker ends, so a test that never
        # runs (-x, --maxfail, a crashed neighbour) still gets its claim id in the report.
        config.workeroutput["lowdim_claims"] = claims


def _expected_file_seconds(config: pytest.Config) -> dict[str, float]:
    """Seconds each test file takes to run cold (its rows' duration_s plus cached_s, the
    training they read from the run cache) when last recorded: the --lowdim-baseline file's
    times, overridden file by file by the report folder's claims.json (the latest run here,
    which may hold other files: `pytest tests` writes one too); {} when neither is readable."""
    paths = [Path(config.getoption("lowdim_report_dir")) / "claims.json"]
    if config.getoption("lowdim_baseline"):
        paths.insert(0, Path(config.getoption("lowdim_baseline")))
    root = Path(str(config.invocation_params.dir))
    seconds: dict[str, float] = {}
    for path in paths:
        try:
            rows = _report.load_report(path if path.is_absolute() else root / path)["rows"]
            these: dict[str, float] = {}
            for r in rows:
                f = _baseline.file_of(r["test"])
                these[f] = these.get(f, 0.0) + float(r.get("duration_s") or 0.0) + float(
                    r.get("cached_s") or 0.0)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        seconds.update(these)
    return seconds


def _longest_files_first(items: list, seconds: dict[str, float]) -> list:
    """Items regrouped file by file, the files in decreasing expected time (files without a
    recorded time first: their time is unknown), each file's tests in their own order. xdist's
    loadfile then deals files longest first to whichever worker is free: the longest-processing-
    time rule, whose makespan is within 4/3 of the best. When no file here has a time, files with
    more tests first (xdist's own order). Measured on the quick suite, 2 workers: the simulated
    makespan of the files' recorded times drops from 181 s (by test count) to 174 s (sum / 2 =
    173.5 s)."""
    by_file: dict[str, list] = {}
    for it in items:
        by_file.setdefault(_baseline.file_of(it.nodeid), []).append(it)
    known = {f: seconds[f] for f in by_file if f in seconds}

    def cost(f: str) -> tuple:
        return (-known.get(f, float("inf")),) if known else (-len(by_file[f]),)

    return [it for f in sorted(by_file, key=cost) for it in by_file[f]]


class Claim:
    """The `claim` fixture: seeds, device and profile for this run; `record` the evidence."""

    def __init__(self, request: pytest.FixtureRequest):
        self._item = request.node
        self._opts: Options = request.config.stash[OPTIONS_KEY]
        info = _claim_info(self._item) or {"id": "", "statement": "", "source": ""}
        self.id: str = info["id"] or self._item.module.__name__.rsplit(".", 1)[-1]
        self.statement: str = info["statement"]
        self.source: str = info["source"]
        self._recorded = False
        self._seed_counts: set[int] = set()  # what seeds() handed out: part of the method hash
        # --lowdim-adaptive: seeds() hands out the current look's prefix, record() converts
        self._adaptive = _adaptive.attach(self, self._item) if self._opts.adaptive else None

    @property
    def device(self) -> str:
        from ..engine.train import resolve_device

        return str(resolve_device(self._opts.device))

    @property
    def profile(self) -> str:
        return self._opts.profile

    def choose(self, by_profile=None, /, *, quick=None, full=None):
        """The value for the active profile: claim.choose({"quick": 8, "full": 32}) (a claim
        file's N_SEEDS-style dict) or claim.choose(quick=8, full=32)."""
        if by_profile is not None:
            if quick is not None or full is not None:
                raise TypeError("claim.choose: pass a {quick, full} dict or quick=/full=, not both")
            if not isinstance(by_profile, dict) or set(by_profile) != {"quick", "full"}:
                raise ValueError(f"claim.choose: got {by_profile!r}; need a dict with exactly "
                                 "the keys 'quick' and 'full'")
            quick, full = by_profile["quick"], by_profile["full"]
        return full if self._opts.profile == "full" else quick

    def seeds(self, n: int) -> list[int]:
        """The claim's seeds: n of them (or --lowdim-seeds), starting at --lowdim-seed-offset."""
        if int(n) < 1:
            raise ValueError(f"n: got {n}; a claim needs at least one seed")
        count = self._opts.seeds if self._opts.seeds is not None else int(n)
        self._seed_counts.add(count)  # the budget (the method), also under --lowdim-adaptive
        if self._adaptive is not None:
            count = self._adaptive.prefix(count)
        return list(range(self._opts.seed_offset, self._opts.seed_offset + count))

    def record(self, evidence: Evidence, *, curves: dict[str, dict] | None = None,
               **conditions) -> Evidence:
        """Attach the evidence (and the condition parameters) to this test's report row.
        Call it before asserting, so a failing claim still lands in the report.
        curves: optional histories over training steps for the report's figure,
        {name: {"x": (R,) steps, "y": (S, R) per seed, "ylabel": ...}} (lowdim.figures.pack_curves)."""
        if not isinstance(evidence, Evidence):
            raise TypeError(f"evidence: got {type(evidence).__name__}; pass a lowdim Evidence")
        packed = _figures.pack_curves(curves) if curves is not None else None
        if self._adaptive is not None and not self._recorded:
            evidence = self._adaptive.convert(evidence)  # or _NeedMoreSeeds: the next look
        if self._recorded:
            raise RuntimeError(f"{self._item.nodeid}: record() was called twice; one Evidence "
                               "per test (parametrize to record several)")
        self._recorded = True
        params = dict(getattr(getattr(self._item, "callspec", None), "params", {}) or {})
        params.update(conditions)
        payload = {"evidence": evidence.to_dict(), "conditions": plain(params)}
        k = self._opts.seed_offset
        trained = (self._adaptive.trained if self._adaptive is not None
                   else max(self._seed_counts, default=0))
        payload["seeds"] = [k, k + trained - 1] if trained else None
        payload["method_hash"] = _baseline.method_hash(
            module_path=getattr(self._item.module, "__file__", None),
            test=getattr(self._item, "originalname", None) or self._item.name,
            evidence=payload["evidence"], conditions=payload["conditions"],
            profile=self._opts.profile, seed_counts=self._seed_counts)
        if packed:
            payload["curves"] = packed
        self._item.user_properties.append((PROP_EVIDENCE, json.dumps(payload, sort_keys=True)))
        self._item.user_properties.extend(_baseline.junit_properties(payload))
        return evidence


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function):
    # --lowdim-adaptive: a look that did not decide asks (from Claim.record) for more seeds;
    # the test function runs again with the next look. Without the option nothing is caught.
    try:
        return (yield)
    except _adaptive._NeedMoreSeeds as more:
        return _adaptive.rerun(pyfuncitem, more)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem):
    from ..engine import cache as _cache

    item.stash[SERVED_KEY] = _cache.served_seconds()
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    # The seconds of training this phase read from the run cache instead of computing, on the
    # item before its report is made from item.user_properties: the report's `cached_s`, so
    # that a cached run still records what a cold run of each file costs (for the order in
    # which -n deals files, see _expected_file_seconds).
    from ..engine import cache as _cache

    now = _cache.served_seconds()
    saved = now - item.stash.get(SERVED_KEY, now)
    item.stash[SERVED_KEY] = now
    if saved > 0:
        item.user_properties.append((PROP_CACHED, json.dumps({"when": call.when,
                                                               "s": round(saved, 3)})))
    return (yield)


@pytest.fixture
def claim(request: pytest.FixtureRequest) -> Claim:
    """Seeds, device and profile of this run, and `record(evidence, **conditions)`."""
    return Claim(request)


# ------------------------------------------------------------------------------------------
# the report (controller side)


def _git_commit(root: Path) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root,
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _versions() -> dict:
    import numpy
    import scipy
    import torch

    from .. import __version__

    return {"python": platform.python_version(), "torch": torch.__version__,
            "numpy": numpy.__version__, "scipy": scipy.__version__, "lowdim": __version__}


def _cpu_kernels() -> dict:
    """The CPU kernels that round this run's floats (lowdim.kernels): runs on CPUs whose kernels
    differ round differently, and lowdim.baseline compares across them leniently."""
    import torch

    from ..engine import kernels

    return {"cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "cpu_kernels": kernels.cpu_kernels(), "numerics": kernels.fingerprint(),
            "numerics_probes": kernels.probe_digests()}


class ReportSession:
    """Collects one row per collected test from the test reports; writes the report files."""

    def __init__(self, config: pytest.Config, opts: Options):
        self.config, self.opts = config, opts
        self.rows: dict[str, dict] = {}
        self.claims: dict[str, dict] = {}  # claim id -> statement, source, doc (claims.html)
        self.started = time.time()
        self.report: dict | None = None
        self.journal = _rel.journal_path(self._report_dir()) if opts.write else None
        if self.journal is not None:
            try:  # a journal per run; crashed runs' are moved aside first (reliability.py)
                self.journal.parent.mkdir(parents=True, exist_ok=True)
                config.stash[_rel.STATE_KEY].messages += _rel.recover_journals(self.journal.parent)
                self.journal.write_text(_rel.journal_header(config), encoding="utf-8")
            except OSError as e:
                raise pytest.UsageError(
                    f"--lowdim-report-dir {opts.report_dir}: cannot write there ({e}); "
                    "pass a writable folder or --lowdim-no-report") from None

    def _note_claim(self, info: dict) -> None:
        c = self.claims.setdefault(info["id"], {"statement": info["statement"],
                                                "source": info["source"], "doc": ""})
        c["doc"] = c["doc"] or info.get("doc", "")

    def _report_dir(self) -> Path:
        outdir = Path(self.opts.report_dir)
        if not outdir.is_absolute():
            outdir = Path(str(self.config.invocation_params.dir)) / outdir
        return outdir

    def _journal(self, row: dict) -> None:
        # Each finished test is appended as one JSON line, so a crash of the whole run still
        # leaves every completed row on disk.
        if self.journal is None:
            return
        with open(self.journal, "a", encoding="utf-8") as f:
            f.write(json.dumps(row, sort_keys=True) + "\n")

    def _row(self, nodeid: str) -> dict:
        return self.rows.setdefault(nodeid, {
            "test": nodeid, "claim": None, "statement": None, "source": None,
            "outcome": "not run", "evidence": None, "conditions": {}, "duration_s": 0.0,
            "cached_s": 0.0,
            "reproduce": self._reproduce(nodeid),
        })

    def _reproduce(self, nodeid: str) -> str:
        args = ["pytest", nodeid, "-n", "0", f"--lowdim-profile={self.opts.profile}",
                f"--lowdim-seed-offset={self.opts.seed_offset}",
                f"--lowdim-device={self.opts.device}"]
        if self.opts.seeds is not None:
            args.append(f"--lowdim-seeds={self.opts.seeds}")
        if self.opts.adaptive:
            args.append("--lowdim-adaptive")
        return shlex.join(args)

    # collection: every collected test gets a row, with or without xdist
    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            row = self._row(item.nodeid)
            info = _claim_info(item)
            if info:
                row.update(claim=info["id"], statement=info["statement"], source=info["source"])
                self._note_claim(info)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids) -> None:
        for nodeid in ids:
            self._row(nodeid)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        for nodeid, info in (getattr(node, "workeroutput", {}) or {}).get("lowdim_claims", {}).items():
            row = self._row(nodeid)
            self._note_claim(info)
            if row["claim"] is None:
                row.update(claim=info["id"], statement=info["statement"], source=info["source"])

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        row = self._row(report.nodeid)
        for name, value in report.user_properties:
            if name in (PROP_CLAIM, PROP_EVIDENCE) and isinstance(value, str):
                value = json.loads(value)  # sent as JSON text (see collection / record)
            if name == PROP_CLAIM:
                row.update(claim=value["id"], statement=value["statement"],
                           source=value["source"])
                self._note_claim(value)
            elif name == PROP_EVIDENCE:
                row["evidence"] = value["evidence"]
                row["conditions"] = value["conditions"]
                row["seeds"] = value.get("seeds")
                row["method_hash"] = value.get("method_hash")
                if value.get("curves"):  # histories over steps, for the figure (figures.py)
                    row["curves"] = value["curves"]
            elif name == PROP_CACHED and isinstance(value, str):
                value = json.loads(value)  # each report carries the earlier phases' too
                if value.get("when") == report.when:
                    row["cached_s"] = round(row.get("cached_s", 0.0) + float(value["s"]), 3)
        row["duration_s"] = round(row["duration_s"] + float(report.duration or 0.0), 3)
        xfail = hasattr(report, "wasxfail")
        if any(name == _rel.PROP_TIMEOUT for name, _ in report.user_properties):
            row["outcome"] = "timeout"  # ran past --lowdim-timeout (reliability.py)
        elif "crashed while running" in str(report.longrepr or ""):
            row["outcome"] = "crashed"
        elif report.when == "call":
            if report.passed:
                row["outcome"] = "xpassed" if xfail else "passed"
            elif report.failed and "XPASS(strict)" in str(report.longrepr or ""):
                row["outcome"] = "xpassed"  # a strict xfail that passed: it fails the run
            elif report.skipped:
                row["outcome"] = "xfailed" if xfail else "skipped"
            else:
                row["outcome"] = "failed"
        elif report.failed:  # setup or teardown
            row["outcome"] = "error"
        elif report.skipped and report.when == "setup":
            row["outcome"] = "xfailed" if xfail else "skipped"
        if report.when == "teardown" or row["outcome"] == "crashed":
            self._journal(row)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus) -> None:
        opts = self.opts
        root = Path(str(self.config.rootpath))
        workers = getattr(self.config.option, "numprocesses", None)
        decided = [r for r in self.rows.values() if r["evidence"] and r["evidence"]["p"] is not None]
        for r, p_adj in zip(decided, holm([r["evidence"]["p"] for r in decided])):
            r["p_holm"] = float(p_adj)
        from ..stats.power import row_figures  # fragility, seeds to decide (lowdim/power.py)

        for r in decided:
            r.update(row_figures(r["evidence"]))
        if not self.config.option.collectonly:  # a test that ran without a row fails the run
            self.config.stash[_rel.STATE_KEY].check(session, self.rows, exitstatus)
        self.report = {
            "schema_version": _report.SCHEMA_VERSION,
            "meta": {
                "started": _dt.datetime.fromtimestamp(self.started, _dt.timezone.utc)
                .isoformat(timespec="seconds"),
                "wall_time_s": round(time.time() - self.started, 3),
                "versions": _versions(),
                "platform": platform.platform(),
                **_cpu_kernels(),
                "device": opts.device,
                "git_commit": _git_commit(root),
                "options": opts.to_dict(),
                "xdist_workers": workers if workers else 0,
                "args": list(self.config.invocation_params.args),
                "exitstatus": int(session.exitstatus),
                "n_decisions": len(decided),
            },
            "rows": [self.rows[k] for k in sorted(self.rows)],
            "claims": {k: self.claims[k] for k in sorted(self.claims)},  # + method (docstring)
        }
        if self.config.option.collectonly:
            if self.journal is not None:
                self.journal.unlink(missing_ok=True)
            return
        regression = self.config.stash[REGRESSION_KEY]  # seed block, shard, --lowdim-baseline
        if regression.annotate(self.report) and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED  # a finding changed
            self.report["meta"]["exitstatus"] = int(session.exitstatus)
        if opts.write and self.rows:
            outdir = self._report_dir()
            try:
                self.paths = _report.write_reports(self.report, outdir)
                self.journal.unlink(missing_ok=True)
            except OSError as e:
                sys.stderr.write(f"lowdim: could not write the report to {outdir}: {e}\n")
                session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
        try:  # --lowdim-save-baseline, $GITHUB_STEP_SUMMARY
            regression.after_run(self.report)
        except OSError as e:
            sys.stderr.write(f"lowdim: could not write the baseline / step summary: {e}\n")
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.report or not self.report["rows"]:
            return
        if not any(r["claim"] or r["evidence"] for r in self.report["rows"]):
            return
        tr = terminalreporter
        tr.section("lowdim claims")
        tr.write_line(_report.render_terminal(self.report))
        if getattr(self, "paths", None):
            tr.write_line(f"report: {os.fspath(self.paths['md'])} (json, csv, html beside it)")
        regression = self.config.stash[REGRESSION_KEY]
        if regression.comparison is not None:
            for line, red in _baseline.render_terminal(regression.comparison):
                tr.write_line(line, red=red, bold=red)
        for line in regression.messages:
            tr.write_line(line)
