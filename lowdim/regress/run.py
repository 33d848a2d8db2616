"""What a pytest run does about baselines and shards: the plugin builds one RunRegression
per process from its options, then annotates the report and saves the baseline with it.

--lowdim-baseline takes a report file (compared as it is, on any CPU kind) or a folder of
baselines, one per CPU kind: DIR/<fingerprint>.json, keyed by the meta "numerics" fingerprint
of the CPU kernels that ran it (lowdim.engine.kernels). A run compares with the baseline of its
own kind, where every changed verdict fails; on a kind with none it compares with the closest
kind (the most probe digests in common), says so in red, and a changed verdict fails unless
the baseline row is fragile (compare.FRAGILE_RULE). --lowdim-save-baseline DIR (an existing
folder, or a path ending in /) adds or replaces this run's kind there; a file path writes that
file, as before. Every baseline is read and checked at start-up: a bad one is a usage error
before any test runs, never an error after them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..report import render_markdown
from ..report.schema import Meta, Report
from .ci import write_step_summary
from .compare import (
    Comparison,
    annotate,
    check_comparable,
    compare,
    kernels_label,
    load_baseline,
    save_baseline,
)
from .shards import file_of, parse_shard, seed_block, seed_block_text

MAX_KINDS = 100  # baselines in one folder (one per CPU kind)


@dataclass
class RunRegression:
    """What a pytest run does about baselines and shards (built once per process)."""

    shard: tuple[int, int] | None = None
    baseline_path: Path | None = None  # a file, or the folder of `baselines`
    baseline: Report | None = None  # the one compared with (a folder's: chosen in annotate)
    save_path: Path | None = None
    comparison: Comparison | None = None
    messages: list[str] = field(default_factory=list)
    baselines: dict[str, tuple[Path, Report]] = field(default_factory=dict)  # kind -> baseline
    save_to_folder: bool = False

    @classmethod
    def from_options(cls, *, baseline: str | None, save: str | None, shard: str | None,
                     profile: str, seed_offset: int, seeds: int | None, root: Path,
                     controller: bool) -> RunRegression:
        """ValueError (the plugin turns it into a UsageError) for a bad shard or baseline."""
        run = cls(shard=parse_shard(shard))
        if save:
            run.save_path = _resolve(save, root)
            run.save_to_folder = run.save_path.is_dir() or save.endswith(("/", os.sep))
        if baseline and controller:
            run.baseline_path = _resolve(baseline, root)
            here = {"options": {"profile": profile, "seed_offset": seed_offset, "seeds": seeds}}
            if run.baseline_path.is_dir():
                run.baselines = load_folder(run.baseline_path, here, option=baseline)
            else:
                run.baseline = _comparable(run.baseline_path, here, option=baseline)
        return run

    def annotate(self, report: Report) -> bool:
        """Add seed block, shard and the baseline comparison to the report; True when a verdict
        changed (the session must fail)."""
        meta = report["meta"]
        meta["seed_block"] = seed_block(meta)
        meta["shard"] = ({"index": self.shard[0], "count": self.shard[1]}
                         if self.shard else None)
        label, note = str(self.baseline_path), None
        if self.baselines:
            kind, (path, self.baseline) = closest(self.baselines, meta)
            label = str(path)
            if kind != kind_of(meta):
                note = (f"no baseline of this CPU kind ({kernels_label(meta)}) in "
                        f"{self.baseline_path}: compared with {path}, the closest kind "
                        f"({kernels_label(self.baseline['meta'])}); record this kind with "
                        f"--lowdim-save-baseline {self.baseline_path}")
        if self.baseline is None:
            return False
        files = {file_of(r["test"]) for r in report["rows"]}
        self.comparison = compare(self.baseline, report, label=label, files=files)
        if note:
            self.comparison["notes"].insert(0, note)
            self.comparison["other_cpu"] = True  # loud, even where the kernels round alike
        annotate(report, self.comparison)
        return self.comparison["failed"]

    def after_run(self, report: Report) -> None:
        """Save the baseline and the step summary (controller, after the report is built)."""
        if self.save_path is not None:
            path = (self.save_path / f"{kind_of(report['meta'])}.json" if self.save_to_folder
                    else self.save_path)
            save_baseline(report, path)
            kind = f" for CPU kind {kernels_label(report['meta'])}" if self.save_to_folder else ""
            self.messages.append(f"baseline written: {path} ({len(report['rows'])} rows){kind}")
        if os.environ.get("GITHUB_STEP_SUMMARY") and any(
                r.get("claim") or r.get("evidence") for r in report["rows"]):
            p = write_step_summary(render_markdown(report))
            if p is not None:
                self.messages.append(f"step summary appended to {p}")


def kind_of(meta: Meta) -> str:
    """A report's CPU kind: the fingerprint of its kernels' rounding (meta numerics), else its
    torch CPU capability (older reports), else 'unknown'. A folder's file name for it."""
    kind = str(meta.get("numerics") or meta.get("cpu_capability") or "unknown")
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in kind)[:64]


def closest(baselines: dict[str, tuple[Path, Report]], meta: Meta) -> tuple[str, tuple]:
    """(kind, (path, report)) of the baseline for a run of this meta: its own kind, else the one
    whose numerics probes agree most with this run's (ties: by kind)."""
    if kind_of(meta) in baselines:
        return kind_of(meta), baselines[kind_of(meta)]
    probes = meta.get("numerics_probes") or {}

    def score(item):
        theirs = item[1][1]["meta"].get("numerics_probes") or {}
        return -sum(theirs.get(k) == v for k, v in probes.items()), item[0]

    return min(baselines.items(), key=score)


def load_folder(folder: Path, here: Meta, *, option: str) -> dict[str, tuple[Path, Report]]:
    """Every DIR/*.json baseline, checked as one file would be, keyed by its CPU kind.
    ValueError for an empty folder, two baselines of one kind, or a bad one."""
    files = sorted(folder.glob("*.json"))
    if not files:
        raise ValueError(f"--lowdim-baseline {option}: a folder with no baseline (*.json) in it; "
                         f"write one with --lowdim-save-baseline {option}/ (one per CPU kind)")
    if len(files) > MAX_KINDS:
        raise ValueError(f"--lowdim-baseline {option}: {len(files)} files, more than "
                         f"{MAX_KINDS} CPU kinds; keep one baseline per kind there")
    out: dict[str, tuple[Path, Report]] = {}
    for path in files:
        rep = _comparable(path, here, option=str(path))
        kind = kind_of(rep["meta"])
        if kind in out:
            raise ValueError(f"--lowdim-baseline {option}: {out[kind][0].name} and {path.name} "
                             f"are baselines of one CPU kind ({kind}); keep one")
        out[kind] = (path, rep)
    return out


def _comparable(path: Path, here: Meta, *, option: str) -> Report:
    rep = load_baseline(path, option="--lowdim-baseline")
    try:
        mode, notes = check_comparable(rep["meta"], here)
    except ValueError as e:
        raise ValueError(f"--lowdim-baseline {option}: {e}") from None
    if mode == "neighbour":  # another --lowdim-perturb: never a regression check
        raise ValueError(f"--lowdim-baseline {option}: {notes[0]}; run without --lowdim-baseline")
    if mode == "replication":
        raise ValueError(
            f"--lowdim-baseline {option}: the baseline ran seed block "
            f"{seed_block_text(rep['meta'])}, this run {seed_block_text(here)}: that is a "
            "replication, not a regression check. Run without --lowdim-baseline and "
            "compare the reports with `lowdim compare BASELINE reports/claims.json`, "
            "which reports replicated / not replicated verdicts")
    return rep


def _resolve(path: str, root: Path) -> Path:
    p = Path(path)
    return p if p.is_absolute() else Path(root) / p


__all__ = ["MAX_KINDS", "RunRegression", "closest", "kind_of", "load_folder"]
