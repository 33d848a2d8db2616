"""What a pytest run does about baselines and shards: the plugin builds one RunRegression
per process from its options, then annotates the report and saves the baseline with it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..report import render_markdown
from ..report.schema import Report
from .ci import write_step_summary
from .compare import (
    Comparison,
    annotate,
    check_comparable,
    compare,
    load_baseline,
    save_baseline,
)
from .shards import file_of, parse_shard, seed_block, seed_block_text


@dataclass
class RunRegression:
    """What a pytest run does about baselines and shards (built once per process)."""

    shard: tuple[int, int] | None = None
    baseline_path: Path | None = None
    baseline: Report | None = None
    save_path: Path | None = None
    comparison: Comparison | None = None
    messages: list[str] = field(default_factory=list)

    @classmethod
    def from_options(cls, *, baseline: str | None, save: str | None, shard: str | None,
                     profile: str, seed_offset: int, seeds: int | None, root: Path,
                     controller: bool) -> RunRegression:
        """ValueError (the plugin turns it into a UsageError) for a bad shard or baseline."""
        run = cls(shard=parse_shard(shard))
        if save:
            run.save_path = _resolve(save, root)
        if baseline and controller:
            run.baseline_path = _resolve(baseline, root)
            rep = load_baseline(run.baseline_path, option="--lowdim-baseline")
            here = {"options": {"profile": profile, "seed_offset": seed_offset, "seeds": seeds}}
            try:
                mode, _ = check_comparable(rep["meta"], here)
            except ValueError as e:
                raise ValueError(f"--lowdim-baseline {baseline}: {e}") from None
            if mode == "replication":
                raise ValueError(
                    f"--lowdim-baseline {baseline}: the baseline ran seed block "
                    f"{seed_block_text(rep['meta'])}, this run {seed_block_text(here)}: that is a "
                    "replication, not a regression check. Run without --lowdim-baseline and "
                    "compare the reports with `lowdim compare BASELINE reports/claims.json`, "
                    "which reports replicated / not replicated verdicts")
            run.baseline = rep
        return run

    def annotate(self, report: Report) -> bool:
        """Add seed block, shard and the baseline comparison to the report; True when a verdict
        changed (the session must fail)."""
        meta = report["meta"]
        meta["seed_block"] = seed_block(meta)
        meta["shard"] = ({"index": self.shard[0], "count": self.shard[1]}
                         if self.shard else None)
        if self.baseline is None:
            return False
        files = {file_of(r["test"]) for r in report["rows"]}
        self.comparison = compare(self.baseline, report, label=str(self.baseline_path),
                                  files=files)
        annotate(report, self.comparison)
        return self.comparison["failed"]

    def after_run(self, report: Report) -> None:
        """Save the baseline and the step summary (controller, after the report is built)."""
        if self.save_path is not None:
            save_baseline(report, self.save_path)
            self.messages.append(f"baseline written: {self.save_path} "
                                 f"({len(report['rows'])} rows)")
        if os.environ.get("GITHUB_STEP_SUMMARY") and any(
                r.get("claim") or r.get("evidence") for r in report["rows"]):
            p = write_step_summary(render_markdown(report))
            if p is not None:
                self.messages.append(f"step summary appended to {p}")


def _resolve(path: str, root: Path) -> Path:
    p = Path(path)
    return p if p.is_absolute() else Path(root) / p


__all__ = ["RunRegression"]
