"""--lowdim-perturb in a pytest run: the engine's perturbation set in every process, what it
reached per test, and the rows, header and baseline rule of a neighbour run.

Every process (the controller and each xdist worker) configures the run's perturbation into
lowdim.engine.perturb before any claim file is imported, and puts back the previous one at
unconfigure (an in-process pytester run must not leave its outer run perturbed). Per test, the
engine's note of what the perturbation changed is reset before the first phase and attached to
the item after each phase (PROP_PERTURBED, a JSON list of knobs); the controller writes the
last of them into the row as "perturbed" ([]: "not perturbed", the test's numbers came from
code the perturbation does not reach). Without --lowdim-perturb nothing here acts: no row key,
no property, the engine untouched, so an unperturbed run is bit for bit what it was.
A neighbour is not a regression check: a baseline of another perturbation is refused at
start-up (lowdim compare labels such rows "neighbour"; lowdim robustness maps them).
"""

from __future__ import annotations

import json

import pytest

from .options import Options

PROP_PERTURBED = "lowdim_perturbed"  # JSON list: the knobs that reached the test's numbers
_PREVIOUS = pytest.StashKey[object]()  # the engine's perturbation before this run


def configure(config: pytest.Config, opts: Options) -> None:
    """Set the run's perturbation in this process (pytest_configure; a no-op without one)."""
    if opts.perturb is None:
        return
    from ..engine import perturb

    config.stash[_PREVIOUS] = perturb.activate(perturb.parse(opts.perturb))


def unconfigure(config: pytest.Config) -> None:
    if _PREVIOUS in config.stash:
        from ..engine import perturb

        perturb.activate(config.stash[_PREVIOUS])
        del config.stash[_PREVIOUS]


def start_item(opts: Options) -> None:
    """Before a test's first phase: forget what earlier tests reached."""
    if opts.perturb is not None:
        from ..engine import perturb

        perturb.reset()


def note_reached(item: pytest.Item, opts: Options) -> None:
    """After a phase, before its report is made from item.user_properties: what the
    perturbation has reached in this test so far (the last report carries all phases)."""
    if opts.perturb is not None:
        from ..engine import perturb

        item.user_properties.append((PROP_PERTURBED, json.dumps(perturb.reached())))


def note_report(rows: dict[str, dict], opts: Options, report: pytest.TestReport) -> None:
    """Controller, after the session made the report's row: the row's "perturbed" knobs."""
    if opts.perturb is None or report.nodeid not in rows:
        return
    for name, value in report.user_properties:
        if name == PROP_PERTURBED and isinstance(value, str):
            rows[report.nodeid]["perturbed"] = [str(k) for k in json.loads(value)]


def header(opts: Options) -> list[str]:
    """The terminal header's line of a neighbour run."""
    if opts.perturb is None:
        return []
    return [f"lowdim: perturbation {opts.perturb}: a neighbour of the claims' own setting "
            "(thresholds and marks unchanged; rows it does not reach say 'not perturbed')"]


def check_baseline(regression, opts: Options) -> None:
    """A pytest.UsageError where --lowdim-baseline ran at another perturbation than this run:
    that comparison is a neighbour, not a regression check."""
    if regression is None:
        return
    found = [(str(regression.baseline_path), regression.baseline)] if regression.baseline else []
    found += [(str(path), rep) for path, rep in regression.baselines.values()]
    for path, rep in found:
        theirs = (rep["meta"].get("options") or {}).get("perturb")
        if theirs != opts.perturb:
            from ..regress.compare import setting_text

            raise pytest.UsageError(
                f"--lowdim-baseline {path}: the baseline ran {setting_text(theirs)}, this run "
                f"{setting_text(opts.perturb)}: that is a neighbour, not a regression check "
                "(every method differs). Run without --lowdim-baseline and map the two with "
                "`lowdim robustness OWN.json NEIGHBOUR.json` (or `lowdim compare`, which labels "
                "the rows 'neighbour')")
