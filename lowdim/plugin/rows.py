"""A report row per test and the report dict around the rows (lowdim.report.schema's shape).

A row starts as "not run" at collection; each of the test's reports (setup, call, teardown)
adds its duration and may settle its outcome. At the session's end the rows get their
Holm-adjusted p and firmness figures, and the run's metadata goes around them.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import platform
import shlex
import subprocess
import time
from pathlib import Path

import pytest

from .options import Options


def new_row(nodeid: str, opts: Options) -> dict:
    """The row of a collected test before any of its reports arrived."""
    return {
        "test": nodeid, "claim": None, "statement": None, "source": None,
        "outcome": "not run", "evidence": None, "conditions": {}, "duration_s": 0.0,
        "cached_s": 0.0, "reproduce": reproduce(nodeid, opts),
    }


def reproduce(nodeid: str, opts: Options) -> str:
    """The command line that runs this one test again with the same numbers."""
    args = ["pytest", nodeid, "-n", "0", f"--lowdim-profile={opts.profile}",
            f"--lowdim-seed-offset={opts.seed_offset}", f"--lowdim-device={opts.device}"]
    if opts.seeds is not None:
        args.append(f"--lowdim-seeds={opts.seeds}")
    if opts.adaptive:
        args.append("--lowdim-adaptive")
    if opts.perturb:
        args.append(f"--lowdim-perturb={opts.perturb}")
    return shlex.join(args)


def outcome_of(report: pytest.TestReport, outcome: str, *, timed_out: bool) -> str:
    """The row's outcome after this report (`outcome`: before it). timed_out: the report
    carries reliability's PROP_TIMEOUT (the test ran past its time limit)."""
    xfail = hasattr(report, "wasxfail")
    if timed_out:
        return "timeout"
    if "crashed while running" in str(report.longrepr or ""):
        return "crashed"
    if report.when == "call":
        if report.passed:
            return "xpassed" if xfail else "passed"
        if report.failed and "XPASS(strict)" in str(report.longrepr or ""):
            return "xpassed"  # a strict xfail that passed: it fails the run
        if report.skipped:
            return "xfailed" if xfail else "skipped"
        return "failed"
    if report.failed:  # setup or teardown
        return "error"
    if report.skipped and report.when == "setup":
        return "xfailed" if xfail else "skipped"
    return outcome


def build_report(config: pytest.Config, session: pytest.Session, opts: Options,
                 rows: dict[str, dict], claims: dict[str, dict], *, started: float) -> dict:
    """The report dict (claims.json): the rows sorted by test id, each decided row with its
    Holm-adjusted p and firmness figures, and the run's metadata."""
    from ..report import SCHEMA_VERSION
    from ..stats import holm

    decided = [r for r in rows.values() if r["evidence"] and r["evidence"]["p"] is not None]
    for r, p_adj in zip(decided, holm([r["evidence"]["p"] for r in decided])):
        r["p_holm"] = float(p_adj)
    from ..stats.power import row_figures  # fragility, seeds to decide

    for r in decided:
        r.update(row_figures(r["evidence"]))
    workers = getattr(config.option, "numprocesses", None)
    return {
        "schema_version": SCHEMA_VERSION,
        "meta": {
            "started": _dt.datetime.fromtimestamp(started, _dt.timezone.utc)
            .isoformat(timespec="seconds"),
            "wall_time_s": round(time.time() - started, 3),
            "versions": _versions(),
            "platform": platform.platform(),
            **_cpu_kernels(),
            "device": opts.device,
            "git_commit": _git_commit(Path(str(config.rootpath))),
            "options": opts.to_dict(),
            "xdist_workers": workers if workers else 0,
            "args": list(config.invocation_params.args),
            "exitstatus": int(session.exitstatus),
            "n_decisions": len(decided),
        },
        "rows": [rows[k] for k in sorted(rows)],
        "claims": {k: claims[k] for k in sorted(claims)},  # + method (docstring)
    }


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

    return {"python": platform.python_version(), "torch": torch.__version__,
            "numpy": numpy.__version__, "scipy": scipy.__version__, "lowdim": _lowdim_version()}


def _lowdim_version() -> str:
    # The installed distribution's version (pyproject.toml), read without importing the top
    # of lowdim from below it; pytest loads this plugin through that distribution's entry point.
    try:
        return importlib.metadata.version("lowdim")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - run from a bare tree
        return "unknown"


def _cpu_kernels() -> dict:
    """The CPU kernels that round this run's floats (lowdim.engine.kernels): runs on CPUs whose
    kernels differ round differently, and lowdim.regress compares across them leniently."""
    import torch

    from ..engine import kernels

    return {"cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "cpu_kernels": kernels.cpu_kernels(), "numerics": kernels.fingerprint(),
            "numerics_probes": kernels.probe_digests()}
