"""Every pytest hook lowdim implements, each defined once, and the `claim` fixture.

The hooks only find the run's session (session.py) and hand over to plain objects and
functions: gate.py, options.py, claim.py, rows.py, journal.py, reliability.py, scheduling.py,
runcache.py, history.py and adaptive.py. Until the session is a claims session (gate.py) every
hook returns at once, having imported nothing heavy: a plain test session runs as without the
plugin. Where a hook's order among other plugins matters, its tryfirst / trylast / wrapper says
so in a comment. Hooks of pytest-xdist are optional: without xdist nobody calls them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from . import gate, perturbation, robustness, runcache, scheduling
from .claim import UNDECIDABLE, Claim, attach_claim_info, check_recorded
from .options import add_options, parse_options, resolve_options
from .reliability import timeout_of
from .session import RUN_KEY, RunSession, active

MARKER = ("claim(id, *, statement='', source='', timeout=None): the lowdim claim this test "
          "decides (timeout: its own per-test time limit in seconds)")


def _run(config: pytest.Config) -> RunSession | None:
    return config.stash.get(RUN_KEY, None)


def _live(config: pytest.Config) -> RunSession | None:
    run = _run(config)
    return run if run is not None and run.live else None


def _controller(config: pytest.Config) -> RunSession | None:
    run = _live(config)
    return run if run is not None and run.controller else None


# start and end of the run

def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)
    gate.add_flag(parser)


# tryfirst: before xdist's, which turns a bare -n N into --dist load. Only a session opted in
# before collection gets loadfile (gate.py): `pytest tests -n 2` keeps xdist's scheduler.
@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    if robustness.requested(config):  # --lowdim-robustness: runs pytest once per neighbour
        return robustness.main(config)
    if gate.opted_in(config):
        scheduling.default_to_loadfile(config.option)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    run = _run(node.config)
    if run is not None and run.opted_in is not None:
        scheduling.tell_worker(node)
        gate.tell_worker(node, True)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)
    resolve_options(config)  # the ini file's --lowdim-* values, where the command line has none
    config.stash[RUN_KEY] = RunSession(config, parse_options(config),
                                       opted_in=gate.opted_in(config))
    perturbation.configure(config, config.stash[RUN_KEY].opts)  # --lowdim-perturb, every process


def pytest_unconfigure(config: pytest.Config) -> None:
    run = _run(config)
    if run is not None:
        run.close()
    perturbation.unconfigure(config)


# tryfirst: a session opted in activates (threads, journal: its recovery notes) before the
# terminal's sessionstart prints the header, and before xdist's (trylast) starts the workers
@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    run = _run(session.config)
    if run is not None:
        run.enter()
        if run.live:  # a neighbour run's baseline must be of the same perturbation
            perturbation.check_baseline(run.regression, run.opts)


def pytest_report_header(config: pytest.Config) -> list[str]:
    run = _live(config)
    return [*run.accounting.messages, *perturbation.header(run.opts)] if run is not None else []


@pytest.hookimpl(optionalhook=True, tryfirst=True)  # before xdist's default choice (trylast)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    run = _run(config)
    if run is None or run.opted_in is None:
        return None  # not a claims session before collection: xdist's own scheduler
    return scheduling.crash_safe_scheduler(config, log)


# collection

# A wrapper: before every other plugin's changes, a bad marker timeout is a usage error for each
# collected test (also one that -k / -m deselect); after them (-k, -m, --deselect done), the
# shard, the order of files and the claim map see the selected tests only.
@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]):
    for item in items:
        timeout_of(item)
    result = yield
    run = _run(config)
    if run is None:
        return result
    run.listening = False  # this process collected: it is a claims session now or never
    if not run.live and any(gate.is_claim_test(item) for item in items):
        run.activate()
        perturbation.check_baseline(run.regression, run.opts)
    if run.live:
        scheduling.select(config, items, run.regression.shard)
        claims, docs = attach_claim_info(items)
        if hasattr(config, "workeroutput"):
            # Also hand the whole map to the controller when this worker ends, so a test that
            # never runs (-x, --maxfail, a crashed neighbour) still gets its claim id, and the
            # claims' docstrings (claims.html), which no test report carries.
            config.workeroutput["lowdim_claims"] = claims
            config.workeroutput["lowdim_docs"] = docs
    return result


def pytest_deselected(items) -> None:
    run = active()
    if run is not None:
        run.deselected += len(items)  # a run with deselected tests keeps no history


@pytest.hookimpl(trylast=True)  # the final list of items, after every plugin's changes
def pytest_collection_finish(session: pytest.Session) -> None:
    run = _controller(session.config)
    if run is not None:
        run.collected(session.items)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids) -> None:
    run = _run(node.config)
    if run is not None and run.controller:
        run.worker_collected(ids)  # also while dormant: kept for its rows if it wakes


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    run = _controller(node.config)
    if run is not None:
        run.worker_down(node)


# running a test (in the process that runs it)

@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem):
    if (run := _live(item.config)) is not None:
        runcache.start_item(item)
        perturbation.start_item(run.opts)
    return (yield)


# tryfirst wrappers: the outermost, so the time limit and the deterministic mode cover every
# other plugin's work in the phase (fixtures included)
@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item):
    run = _live(item.config)
    if run is None:
        return (yield)
    with run.limits.phase(item, "setup"):
        return (yield)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item):
    run = _live(item.config)
    if run is None:
        return (yield)
    with run.limits.phase(item, "call"):
        return (yield)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem):
    run = _live(item.config)
    if run is None:
        return (yield)
    with run.limits.phase(item, "teardown"):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function):
    # --lowdim-adaptive: a look that did not decide asks (from Claim.record) for more seeds;
    # the test function runs again with the next look. Without the option nothing is caught.
    run = _live(pyfuncitem.config)
    if run is None or not run.opts.adaptive:
        return (yield)
    from .adaptive import NeedMoreSeeds, rerun

    try:
        return (yield)
    except NeedMoreSeeds as more:
        return rerun(pyfuncitem, more)


# tryfirst wrapper: the outermost. Before the report is made, the phase's cached seconds join
# item.user_properties (the report copies them); after every other plugin made its report
# (skipping's xfail handling included), a timeout turns it into a failure, a claim test that
# passed without recording evidence fails, and a failed
# decision that could not reach alpha with its seeds says so in the failure's report.
@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    run = _live(item.config)
    if run is None:
        return (yield)
    runcache.note_served(item, call.when)
    perturbation.note_reached(item, run.opts)
    rep = yield
    run.limits.mark_report(item, call, rep)
    check_recorded(item, rep)  # a claim test that passed without claim.record fails
    note = item.stash.get(UNDECIDABLE, None)
    if note and rep.when == "call" and rep.failed:
        rep.sections.append(("lowdim: too few seeds", note))
    return rep


@pytest.fixture
def claim(request: pytest.FixtureRequest) -> Iterator[Claim]:
    """Seeds, device and profile of this run, and `record(evidence, **conditions)`."""
    claim = Claim(request.node, request.config.stash[RUN_KEY].opts)
    yield claim
    claim.close()


# the controller: rows, accounting and the report

def pytest_runtest_logstart(nodeid: str, location) -> None:
    run = active()
    if run is not None and run.controller and (run.live or run.listening):
        run.accounting.started.add(nodeid)  # under xdist the controller hears every worker's


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    run = active()
    if run is not None and run.controller:
        run.logreport(report)
        if run.live:
            perturbation.note_report(run.rows, run.opts, report)  # the row's "perturbed"


# tryfirst: the report is built and the exit status settled (a lost row or a changed finding
# fails the run) before other plugins' sessionfinish reads session.exitstatus
@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus) -> None:
    run = _controller(session.config)
    if run is not None:
        from .reliability import HoldInterrupts

        with HoldInterrupts():
            run.finish(session, exitstatus)


def pytest_terminal_summary(terminalreporter) -> None:
    run = _controller(terminalreporter.config)
    if run is not None:
        run.summary(terminalreporter)
