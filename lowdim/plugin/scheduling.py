"""Which tests run where, and in what order: xdist's distribution mode, a crash-safe scheduler,
claim files dealt longest first, and the files of a --lowdim-shard.

A claim file's tests share their training (module-level caches, the run cache), so under `-n`
whole files go to one worker (loadfile). The workers then take the files longest first, by the
times the last report (or the baseline) recorded. Both are chosen before any collection, so they
apply only to a session opted in before it (gate.py): `pytest claims -n auto` through
claims/conftest.py; `pytest tests -n auto` keeps xdist's own scheduler. A shard is whole files
too, dealt longest first over the shards (LPT) by the baseline's recorded times.
"""

from __future__ import annotations

from pathlib import Path

import pytest

LONGEST_FIRST = "lowdim_longest_first"  # the option (and worker input) that turns the order on


def default_to_loadfile(option) -> None:
    """Under `-n N` without an explicit --dist, keep each claim file on one worker (loadfile):
    spreading a file's tests over workers would train the same models twice. An explicit
    --dist is respected. Must run before xdist's own pytest_cmdline_main, which turns a bare
    `-n N` into --dist load."""
    if getattr(option, "numprocesses", None) and getattr(option, "dist", None) == "no":
        option.dist = "loadfile"
        # ... and hand out the files longest first (see longest_files_first), which needs
        # xdist to keep the collection's order of files instead of sorting them by test count.
        if hasattr(option, "loadscopereorder"):  # pytest-xdist >= 3.6
            option.loadscopereorder = False
            setattr(option, LONGEST_FIRST, True)


def tell_worker(node) -> None:
    """xdist workers re-parse the command line: hand them the order chosen above."""
    node.workerinput[LONGEST_FIRST] = getattr(node.config.option, LONGEST_FIRST, False)


def select(config: pytest.Config, items: list, shard: tuple[int, int] | None) -> None:
    """After -k / -m / --deselect: keep this --lowdim-shard's files (the rest are reported
    deselected), and on an xdist worker told to, order the files longest first. In place."""
    from ..regress import file_of

    if shard is not None:  # --lowdim-shard I/N: keep whole files of this shard
        mine = shard_files([it.nodeid for it in items], shard, baseline_file_seconds(config))
        dropped = [it for it in items if file_of(it.nodeid) not in mine]
        items[:] = [it for it in items if file_of(it.nodeid) in mine]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
    if getattr(config, "workerinput", {}).get(LONGEST_FIRST):
        items[:] = longest_files_first(items, expected_file_seconds(config))


def shard_files(nodeids: list[str], shard: tuple[int, int], seconds: dict[str, float]
                ) -> set[str]:
    """The files of shard I of N. With recorded times: the longest-processing-time rule, each
    file in decreasing time (ties by path) to the shard with the least time so far (ties: the
    lowest index); a file without a time counts as the mean of the known ones. Without any:
    the sorted files dealt round-robin. Every shard of a run computes the same deal from the
    same inputs, so each file lands in exactly one shard."""
    from ..regress import file_of

    index, count = shard
    files = sorted({file_of(n) for n in nodeids})
    known = [seconds[f] for f in files if f in seconds]
    if not known:
        return set(files[index - 1::count])
    mean = sum(known) / len(known)
    cost = {f: seconds.get(f, mean) for f in files}
    load = [0.0] * count
    mine = set()
    for f in sorted(files, key=lambda f: (-cost[f], f)):
        k = min(range(count), key=lambda i: (load[i], i))
        load[k] += cost[f]
        if k == index - 1:
            mine.add(f)
    return mine


def recorded_file_seconds(paths: list[Path]) -> dict[str, float]:
    """Seconds each test file took to run cold (its rows' duration_s plus cached_s, the
    training they read from the run cache) in these reports, a later path overriding an
    earlier one file by file; unreadable paths are skipped."""
    from ..regress import file_of
    from ..report import load_report

    seconds: dict[str, float] = {}
    for path in paths:
        try:
            rows = load_report(path)["rows"]
            these: dict[str, float] = {}
            for r in rows:
                f = file_of(r["test"])
                these[f] = these.get(f, 0.0) + float(r.get("duration_s") or 0.0) + float(
                    r.get("cached_s") or 0.0)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        seconds.update(these)
    return seconds


def _resolved(config: pytest.Config, path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else Path(str(config.invocation_params.dir)) / p


def baseline_paths(config: pytest.Config) -> list[Path]:
    """The --lowdim-baseline report, or every report of a folder of baselines (one per CPU
    kind) in sorted order: the same list on every machine, whatever its CPU; [] without one."""
    baseline = config.getoption("lowdim_baseline")
    if not baseline:
        return []
    path = _resolved(config, baseline)
    return sorted(path.glob("*.json")) if path.is_dir() else [path]


def expected_file_seconds(config: pytest.Config) -> dict[str, float]:
    """Seconds each test file takes to run cold when last recorded (recorded_file_seconds): the
    --lowdim-baseline's times, overridden file by file by the report folder's claims.json (the
    latest run here, which may hold other files); {} when none is readable."""
    report = _resolved(config, str(Path(config.getoption("lowdim_report_dir")) / "claims.json"))
    return recorded_file_seconds([*baseline_paths(config), report])


def baseline_file_seconds(config: pytest.Config) -> dict[str, float]:
    """The times a shard is dealt by: the --lowdim-baseline's alone ({} without one). Not the
    report folder's claims.json: each shard's run writes one, so a shard run after another on
    the same folder would see other times and deal the files differently."""
    return recorded_file_seconds(baseline_paths(config))


def longest_files_first(items: list, seconds: dict[str, float]) -> list:
    """Items regrouped file by file, the files in decreasing expected time, each file's tests
    in their own order. Files without a recorded time go first: their time is unknown, and a
    long one started last would finish alone. xdist's loadfile then deals the files to
    whichever worker is free: the longest-processing-time rule, whose makespan is within 4/3
    of the best, where dealing by test count can leave one long file to run after every other
    worker is idle. When no file here has a time, files with more tests first (xdist's own
    order)."""
    from ..regress import file_of

    by_file: dict[str, list] = {}
    for it in items:
        by_file.setdefault(file_of(it.nodeid), []).append(it)
    known = {f: seconds[f] for f in by_file if f in seconds}

    def cost(f: str) -> tuple:
        return (-known.get(f, float("inf")),) if known else (-len(by_file[f]),)

    return [it for f in sorted(by_file, key=cost) for it in by_file[f]]


# xdist: a crashed worker's test is reported once, and the rest of its file still runs
class _CrashSafe:
    """remove_node of xdist's loadscope/loadfile scheduling (xdist 3.8), less two faults that
    hit a claims run: the test a worker died on went back on the queue and crashed every
    replacement worker until --max-worker-restart was spent, leaving the rest of its file
    never run (pytest-xdist PR #1371); and work units the dead worker had finished were queued
    again as empty units, which can hang the run's end (pytest-xdist #1378)."""

    def remove_node(self, node):
        workload = self.assigned_work.pop(node)
        if not self._pending_of(workload):
            return None
        crashitem = next(nodeid for unit in workload.values()
                         for nodeid, done in unit.items() if not done)
        for scope, unit in workload.items():
            if crashitem in unit:
                unit[crashitem] = True  # reported as crashed by xdist: never run it again
            if not all(unit.values()):  # only units with tests still to run go back
                self.workqueue[scope] = unit
        for other in self.assigned_work:
            self._reschedule(other)
        return crashitem


def crash_safe_scheduler(config: pytest.Config, log):
    """The scheduler for --dist loadfile / loadscope (loadfile is the plugin's default), or
    None to leave the choice to xdist."""
    dist = config.getvalue("dist")
    if dist not in ("loadfile", "loadscope"):
        return None
    try:
        from xdist.scheduler import LoadFileScheduling, LoadScopeScheduling
    except ImportError:  # pragma: no cover
        return None
    base = LoadFileScheduling if dist == "loadfile" else LoadScopeScheduling
    if not all(hasattr(base, a) for a in ("remove_node", "_pending_of", "_reschedule")):
        return None  # an xdist whose scheduler has changed: use it as it is
    return type(f"CrashSafe{base.__name__}", (_CrashSafe, base), {})(config, log)
