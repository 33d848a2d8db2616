"""The run history under pytest: which runs are complete, and keeping each one's report.

After a complete run writes its report, the controller hands it to
lowdim.regress.history.save_history, which keeps it as <report dir>/history/<n>-<commit>-
<profile>.json, the last --lowdim-history K of them (0: none). A run is complete when it ran
what the suite holds: not interrupted or stopped early (-x, --maxfail, Ctrl-C, SIGTERM), nothing
deselected or picked out (-k, -m, --deselect, --lf, --sw, test ids with ::, a --lowdim-shard),
and not a --lowdim-smoke wiring check, and it left out no test file of the complete report it
would replace. A subset is still a fine report, marked so (meta "incomplete"): next to a
complete report it is written as claims.partial.json (session.py), and it is never kept here.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from .reliability import stopped_early


def complete_files(report_dir: Path) -> set[str] | None:
    """The test files of the complete report in report_dir (its claims.json without meta
    "incomplete"), None when there is none (no file, not a report, or an incomplete run's)."""
    from ..report.schema import load_report
    from ..report.write import REPORT_NAME

    try:
        report = load_report(report_dir / REPORT_NAME)
    except (OSError, ValueError):
        return None
    if report["meta"].get("incomplete"):
        return None
    return {row["test"].split("::", 1)[0] for row in report["rows"]}


def incomplete(config: pytest.Config, session: pytest.Session, exitstatus, *,
               deselected: int, shard: tuple[int, int] | None, smoke: bool,
               ran: Iterable[str] = (), complete: set[str] | None = None) -> str | None:
    """Why this run is not complete, in words; None when it is. ran: the test ids of the run;
    complete: the test files of the complete report it would replace: a run that left out
    some of them that still exist (it named fewer files or folders) is a subset too."""
    if int(exitstatus) != int(pytest.ExitCode.OK) and int(exitstatus) != int(
            pytest.ExitCode.TESTS_FAILED):
        return f"it ended with exit status {int(exitstatus)}"
    if stopped_early(session, exitstatus):
        return "it stopped early"
    if smoke:
        return "it is a --lowdim-smoke run"
    if shard is not None:
        return f"it is shard {shard[0]}/{shard[1]}"
    for dest, flag in (("keyword", "-k"), ("markexpr", "-m"), ("deselect", "--deselect"),
                       ("lf", "--lf"), ("stepwise", "--sw")):
        if getattr(config.option, dest, None):
            return f"{flag} picked its tests"
    if deselected:
        return f"{deselected} test(s) were deselected"
    if any("::" in str(arg) for arg in config.args):
        return "test ids on the command line picked its tests"
    files = {test.split("::", 1)[0] for test in ran}
    left_out = sorted(f for f in (complete or set()) - files if (config.rootpath / f).is_file())
    if left_out:
        return (f"it left out {len(left_out)} test file(s) of the complete report: "
                + ", ".join(left_out[:3]) + (" ..." if len(left_out) > 3 else ""))
    return None


def keep(report: dict, report_dir: Path, *, keep_last: int) -> str | None:
    """Keep the report in the history (lowdim.regress.history.save_history); the line to show,
    None when K is 0 or nothing was kept."""
    if keep_last <= 0:
        return None
    from ..regress.history import save_history

    try:
        path = save_history(report, report_dir, keep=keep_last)
    except OSError as e:
        return f"lowdim: could not keep the run in {report_dir / 'history'}: {e}"
    return f"history: {path} (the last {keep_last} complete runs are kept)" if path else None
