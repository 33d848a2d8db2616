"""plugin: lowdim inside pytest. The `claim` marker and fixture, run options, the run's state.

Installed, it is in every pytest session of the environment, and acts only in a claims session
(gate.py): one opted in before collection (`-p lowdim`, ini `lowdim = true`, or a conftest.py
of a folder on the command line that sets `lowdim_claims = True`, as claims/conftest.py does),
or one that collects a test with the `claim` marker or fixture. Anything else runs as if the
plugin were not there: no torch, no thread or scheduler change, no signal handler, no files.
Under xdist, loadfile and longest-first need the opt-in (they are chosen before collection), so
`pytest claims -n auto` gets them and `pytest tests -n auto` keeps xdist's own scheduler.

Owns every pytest hook lowdim implements (hooks.py, each defined once, exposed here for pytest
to find on this module), the claims-session rule (gate.py), the run's one session object
(session.py), its rows and report dict (rows.py), the claim fixture (claim.py), options and
their ini keys (options.py), reliability (time limits, deterministic kernels, SIGTERM,
accounting: reliability.py), the journal of a run that died (journal.py), xdist scheduling and
shards (scheduling.py), the run history's glue (history.py), --lowdim-adaptive (adaptive.py)
and the run cache's store under pytest (runcache.py).
May import every other room, each only inside functions that a claims session calls: loading
this plugin imports pytest and the standard library alone. Nothing imports it (it is the
pytest11 entry point `lowdim.plugin`).
"""

from .hooks import (
    claim,
    pytest_addoption,
    pytest_cmdline_main,
    pytest_collection_finish,
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_configure_node,
    pytest_deselected,
    pytest_pyfunc_call,
    pytest_report_header,
    pytest_runtest_call,
    pytest_runtest_logreport,
    pytest_runtest_logstart,
    pytest_runtest_makereport,
    pytest_runtest_protocol,
    pytest_runtest_setup,
    pytest_runtest_teardown,
    pytest_sessionfinish,
    pytest_sessionstart,
    pytest_terminal_summary,
    pytest_testnodedown,
    pytest_unconfigure,
    pytest_xdist_make_scheduler,
    pytest_xdist_node_collection_finished,
)

__all__ = [
    "claim",
    "pytest_addoption",
    "pytest_cmdline_main",
    "pytest_collection_finish",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_configure_node",
    "pytest_deselected",
    "pytest_pyfunc_call",
    "pytest_report_header",
    "pytest_runtest_call",
    "pytest_runtest_logreport",
    "pytest_runtest_logstart",
    "pytest_runtest_makereport",
    "pytest_runtest_protocol",
    "pytest_runtest_setup",
    "pytest_runtest_teardown",
    "pytest_sessionfinish",
    "pytest_sessionstart",
    "pytest_terminal_summary",
    "pytest_testnodedown",
    "pytest_unconfigure",
    "pytest_xdist_make_scheduler",
    "pytest_xdist_node_collection_finished",
]
