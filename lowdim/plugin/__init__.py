"""plugin: lowdim inside pytest. The `claim` marker and fixture, run options, the run's state.

Owns every pytest hook lowdim implements (hooks.py, each defined once, exposed here for pytest
to find on this module), the run's one session object (session.py), its rows and report dict
(rows.py), the claim fixture (claim.py), options (options.py), reliability (time limits,
deterministic kernels, SIGTERM, accounting: reliability.py), the journal of a run that died
(journal.py), xdist scheduling and shards (scheduling.py), --lowdim-adaptive (adaptive.py) and
the run cache's store under pytest (runcache.py).
May import every other room (the engine only inside functions: torch loads when a run is
configured, not when pytest loads this plugin); nothing imports it (it is the pytest11 entry
point `lowdim.plugin`).
"""

from .hooks import (
    claim,
    pytest_addoption,
    pytest_cmdline_main,
    pytest_collection_finish,
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_configure_node,
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
