"""--lowdim-robustness: one command that runs the claims at their own setting and at each
neighbour, one pytest run after another, and maps the verdicts (lowdim.report.robustness).

    pytest claims -n auto --lowdim-robustness lr=x0.5,x2 steps=x0.5,x2

runs `pytest <the same arguments>` into <report dir>/robustness/own/ and, per neighbour,
`pytest <the same arguments> --lowdim-perturb lr=x0.5` into <report dir>/robustness/lr=x0.5/,
then writes <report dir>/robustness.json, .md, .html (and robustness/heatmap.png, .svg). The
runs keep no history and compare with no baseline (a neighbour is no regression check); the
report folder's own claims.json is never written. The command's exit status is the own run's
(a neighbour's failing tests are its flips, which the map reports), or 2 when a run left no
report. It acts in pytest_cmdline_main, before any session starts: this process runs no test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .options import SPECS, ini_value

DROPPED = ("--lowdim-robustness", "--lowdim-perturb", "--lowdim-report-dir", "--lowdim-baseline",
           "--lowdim-save-baseline", "--lowdim-history")  # the driver sets these per run
OWN = "own"  # the own setting's folder under <report dir>/robustness/
CHILD = "LOWDIM_ROBUSTNESS_RUN"  # set in the runs' environment: they run, they do not drive
KNOB_ARG = re.compile(r"^(lr|steps|batch|width|init|noise)=")


def _option(config: pytest.Config, flag: str):
    """An option's command-line value, else its ini value (pytest_configure has not run yet)."""
    spec = next(s for s in SPECS if s.flag == flag)
    value = getattr(config.option, spec.ini, None)
    if value is None:
        raw = config.getini(spec.ini)
        value = spec.default if raw in ("", None) else ini_value(spec, raw)
    return value


def requested(config: pytest.Config) -> bool:
    """--lowdim-robustness given (not in one of the runs it starts, which inherit the ini)."""
    return not os.environ.get(CHILD) and bool(_option(config, "--lowdim-robustness"))


def runs_args(args: list[str]) -> list[str]:
    """The invocation's arguments less the options the driver sets per run (--opt VALUE and
    --opt=VALUE; --lowdim-robustness with every KNOB=... value after it)."""
    out, i = [], 0
    while i < len(args):
        arg, i = args[i], i + 1
        name = arg.split("=", 1)[0]
        if name not in DROPPED:
            out.append(arg)
            continue
        if name == "--lowdim-robustness":
            while i < len(args) and KNOB_ARG.match(args[i]):
                i += 1
        elif "=" not in arg:
            i += 1  # the option's value
    return out


def main(config: pytest.Config) -> int:
    """Run the own setting and every neighbour, then write the map; the exit status."""
    from ..engine.perturb import parse_grid
    from ..report import load_report
    from ..report.robustmap import write_map
    from ..report.robustness import build, render_summary

    spec = _option(config, "--lowdim-robustness")
    if _option(config, "--lowdim-perturb"):
        raise pytest.UsageError("--lowdim-robustness runs the neighbours itself: drop "
                                "--lowdim-perturb")
    try:
        grid = parse_grid(spec)
    except ValueError as e:
        raise pytest.UsageError(f"--lowdim-robustness {e} (put the option after the test "
                                "paths, or quote its value)") from None
    root = Path(str(config.invocation_params.dir))
    outdir = Path(_option(config, "--lowdim-report-dir"))
    outdir = outdir if outdir.is_absolute() else root / outdir
    base = runs_args(list(config.invocation_params.args))
    names = [OWN, *(p.text for p in grid)]
    reports, command_s, paths, status = [], [], [], 0
    for i, name in enumerate(names):
        folder = outdir / "robustness" / name
        cmd = [sys.executable, "-m", "pytest", *base, f"--lowdim-report-dir={folder}",
               "--lowdim-history=0", *([f"--lowdim-perturb={name}"] if name != OWN else [])]
        print(f"lowdim robustness: run {i + 1} of {len(names)} ({name}): {' '.join(cmd[1:])}",
              flush=True)
        start = time.monotonic()
        code = subprocess.run(cmd, cwd=root, env={**os.environ, CHILD: name}).returncode
        command_s.append(round(time.monotonic() - start, 3))
        print(f"lowdim robustness: {name} took {command_s[-1]:.0f} s (exit {code})", flush=True)
        if i == 0:
            status = code
        try:
            reports.append(load_report(folder / "claims.json"))
        except (OSError, ValueError) as e:
            print(f"lowdim robustness: {name} left no report ({e})", file=sys.stderr)
            return 2
        paths.append(os.path.relpath(folder / "claims.json", outdir))
    rmap = build(reports[0], reports[1:], paths=paths, command_s=command_s)
    written = write_map(rmap, outdir)
    print(render_summary(rmap))
    print(f"lowdim robustness: map written to {written['md']} (json, html beside it)")
    return status


__all__ = ["DROPPED", "OWN", "main", "requested", "runs_args"]
