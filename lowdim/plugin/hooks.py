"""Every pytest hook lowdim implements, each defined once, and the `claim` fixture.

The hooks only find the run's session (session.py) and hand over to plain objects and
functions: options.py, claim.py, rows.py, journal.py, reliability.py, scheduling.py,
runcache.py and adaptive.py. Where a hook's order among other plugins matters, its
tryfirst / trylast / wrapper says so in a comment. Hooks of pytest-xdist are optional: without
xdist nobody calls them.
"""

from __future__ import annotations

import pytest

from . import runcache, scheduling
from .adaptive import NeedMoreSeeds, rerun
from .claim import Claim, attach_claim_info
from .options import add_options, parse_options
from .reliability import timeout_of
from .session import RUN_KEY, RunSession, active

MARKER = ("claim(id, *, statement='', source='', timeout=None): the lowdim claim this test "
          "decides (timeout: its own per-test time limit in seconds)")


def _run(config: pytest.Config) -> RunSession | None:
    return config.stash.get(RUN_KEY, None)


def _controller(config: pytest.Config) -> RunSession | None:
    run = _run(config)
    return run if run is not None and run.controller else None


# start and end of the run

def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(tryfirst=True)  # before xdist's, which turns a bare -n N into --dist load
def pytest_cmdline_main(config: pytest.Config) -> None:
    scheduling.default_to_loadfile(config.option)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    scheduling.tell_worker(node)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)
    run = RunSession(config, parse_options(config))
    config.stash[RUN_KEY] = run  # before start(): unconfigure undoes a start cut short
    run.start()


def pytest_unconfigure(config: pytest.Config) -> None:
    run = _run(config)
    if run is not None:
        run.close()


def pytest_sessionstart(session: pytest.Session) -> None:
    run = _run(session.config)
    if run is not None:
        run.enter()


def pytest_report_header(config: pytest.Config) -> list[str]:
    run = _run(config)
    return list(run.accounting.messages) if run is not None else []


@pytest.hookimpl(optionalhook=True, tryfirst=True)  # before xdist's default choice (trylast)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
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
    if run is not None:
        scheduling.select(config, items, run.regression.shard)
        claims = attach_claim_info(items)
        if hasattr(config, "workeroutput"):
            # Also hand the whole map to the controller when this worker ends, so a test that
            # never runs (-x, --maxfail, a crashed neighbour) still gets its claim id.
            config.workeroutput["lowdim_claims"] = claims
    return result


@pytest.hookimpl(trylast=True)  # the final list of items, after every plugin's changes
def pytest_collection_finish(session: pytest.Session) -> None:
    run = _controller(session.config)
    if run is not None:
        run.collected(session.items)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids) -> None:
    run = _controller(node.config)
    if run is not None:
        run.worker_collected(ids)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    run = _controller(node.config)
    if run is not None:
        run.worker_down(node)


# running a test (in the process that runs it)

@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem):
    runcache.start_item(item)
    return (yield)


# tryfirst wrappers: the outermost, so the time limit and the deterministic mode cover every
# other plugin's work in the phase (fixtures included)
@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item):
    with _run(item.config).limits.phase(item, "setup"):
        return (yield)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item):
    with _run(item.config).limits.phase(item, "call"):
        return (yield)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem):
    with _run(item.config).limits.phase(item, "teardown"):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function):
    # --lowdim-adaptive: a look that did not decide asks (from Claim.record) for more seeds;
    # the test function runs again with the next look. Without the option nothing is caught.
    try:
        return (yield)
    except NeedMoreSeeds as more:
        return rerun(pyfuncitem, more)


# tryfirst wrapper: the outermost. Before the report is made, the phase's cached seconds join
# item.user_properties (the report copies them); after every other plugin made its report
# (skipping's xfail handling included), a timeout turns it into a failure.
@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    runcache.note_served(item, call.when)
    rep = yield
    _run(item.config).limits.mark_report(item, call, rep)
    return rep


@pytest.fixture
def claim(request: pytest.FixtureRequest) -> Claim:
    """Seeds, device and profile of this run, and `record(evidence, **conditions)`."""
    return Claim(request.node, request.config.stash[RUN_KEY].opts)


# the controller: rows, accounting and the report

def pytest_runtest_logstart(nodeid: str, location) -> None:
    run = active()
    if run is not None and run.controller:
        run.accounting.started.add(nodeid)  # under xdist the controller hears every worker's


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    run = active()
    if run is not None and run.controller:
        run.logreport(report)


# tryfirst: the report is built and the exit status settled (a lost row or a changed finding
# fails the run) before other plugins' sessionfinish reads session.exitstatus
@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus) -> None:
    run = _controller(session.config)
    if run is not None:
        run.finish(session, exitstatus)


def pytest_terminal_summary(terminalreporter) -> None:
    run = _controller(terminalreporter.config)
    if run is not None:
        run.summary(terminalreporter)
