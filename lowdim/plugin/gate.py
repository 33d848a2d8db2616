"""Whether a pytest session is a claims session: the plugin acts in those alone.

Installed, the plugin is loaded into every pytest session of the environment. It stays inert
(no torch import, no thread or scheduler change, no signal handler, no journal, no report, no
cache folder) until the session is a claims session, which it is when

  (a) the run opts in, known before collection:
        `-p lowdim` on the command line (or in addopts),
        `lowdim = true` in the ini file (or `-o lowdim=true`),
        a conftest.py loaded before collection that sets `lowdim_claims = True` (pytest loads
        the conftest.py of every folder named on the command line first: claims/conftest.py
        makes `pytest claims ...` one), or
        an xdist worker whose controller opted in (told through its workerinput); or
  (b) a collected test carries the `claim` marker or uses the `claim` fixture, found by the
      process that collects (pytest alone, or each xdist worker). The xdist controller never
      collects: it wakes at the first test report that carries a claim, and its rows are built
      from what it kept of the workers' collection and reports until then.

Choices that must be made before collection (loadfile and longest-first under -n, the crash-safe
scheduler) follow (a) alone: `pytest claims -n auto` gets them, `pytest tests -n auto` keeps
xdist's own scheduler, and a user's claim folder without the opt-in still gets its report.
"""

from __future__ import annotations

import os

import pytest

INI_FLAG = "lowdim"  # ini: `lowdim = true` opts a session in
CONFTEST_FLAG = "lowdim_claims"  # conftest.py: `lowdim_claims = True` opts its runs in
PLUGIN_NAMES = ("lowdim", "lowdim.plugin")  # `-p NAME` opts a session in
WORKER_FLAG = "lowdim_claims_session"  # the controller's decision, in each worker's workerinput


def add_flag(parser: pytest.Parser) -> None:
    parser.addini(INI_FLAG, "treat every session as a lowdim claims session (otherwise only "
                  "one that collects a claim test, or is opted in with -p lowdim or a "
                  f"conftest.py setting {CONFTEST_FLAG} = True)", type="bool", default=False)


def opted_in(config: pytest.Config) -> str | None:
    """Why this session is a claims session before collection ((a) above), or None."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and workerinput.get(WORKER_FLAG):
        return "the xdist controller's session is a claims session"
    if any(name in PLUGIN_NAMES for name in (getattr(config.option, "plugins", None) or ())):
        return "-p lowdim"
    if config.getini(INI_FLAG):
        return f"ini {INI_FLAG} = true"
    for plugin in config.pluginmanager.get_plugins():
        if (os.path.basename(getattr(plugin, "__file__", None) or "") == "conftest.py"
                and getattr(plugin, CONFTEST_FLAG, False) is True):
            return f"{plugin.__file__}: {CONFTEST_FLAG} = True"
    return None


def is_claim_test(item: pytest.Item) -> bool:
    """A test that makes a session a claims session ((b) above)."""
    return (item.get_closest_marker("claim") is not None
            or "claim" in (getattr(item, "fixturenames", None) or ()))


def tell_worker(node, decision: bool) -> None:
    """Hand the controller's decision to an xdist worker (its own conftests may differ)."""
    if decision:
        node.workerinput[WORKER_FLAG] = True
