"""The --lowdim-* command line: every option, and the run-level choices parsed into `Options`.

The options that shape a claim's numbers (seeds, offset, device, profile, threads) and the run
(report folder, time limit, adaptive looks) become one frozen `Options`, whose `to_dict()` is
the report's meta.options. The baseline, shard and run-cache options are read where they act
(lowdim.regress.RunRegression, the session, runcache.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from .reliability import check_timeout

PROFILES = ("quick", "full")
DEVICES = ("cpu", "cuda", "auto")


def add_options(parser: pytest.Parser) -> None:
    """Register every --lowdim-* option (pytest_addoption)."""
    g = parser.getgroup("lowdim", "lowdim: seed-batched statistical claims")
    g.addoption("--lowdim-seeds", type=int, default=None, metavar="N",
                help="override every claim's seed count with N")
    g.addoption("--lowdim-seed-offset", type=int, default=0, metavar="K",
                help="start every claim's seeds at K (seeds K..K+n-1): with K >= the largest seed "
                     "count this is a disjoint block, a true replication (default 0)")
    g.addoption("--lowdim-device", default="cpu", metavar="{cpu,cuda,auto}",
                help="where claims train (default cpu; auto = cuda when available)")
    g.addoption("--lowdim-report-dir", default="reports", metavar="DIR",
                help="folder for claims.json / claims.md / claims.csv (default reports/)")
    g.addoption("--lowdim-profile", default="quick", metavar="{quick,full}",
                help="quick: fewer seeds / stated shorter budgets; full: the sources' sizes")
    g.addoption("--lowdim-threads", type=int, default=1, metavar="N",
                help="torch intra-op threads per process (default 1, so -n 0 and -n auto agree)")
    g.addoption("--lowdim-no-report", action="store_true",
                help="do not write report files (the terminal table is still shown)")
    g.addoption("--lowdim-timeout", type=float, default=None, metavar="SECONDS",
                help="time limit per test (setup and call together): past it the test fails "
                     "as a 'timeout' row and the run goes on (default: none; a claim can set "
                     "its own with pytest.mark.claim(..., timeout=SECONDS))")
    g.addoption("--lowdim-baseline", default=None, metavar="PATH",
                help="compare with a stored report: a verdict that changed for an unchanged "
                     "method fails the session; drift, changed/new/vanished claims are listed")
    g.addoption("--lowdim-save-baseline", default=None, metavar="PATH",
                help="also write this run's report to PATH, as a baseline for later runs")
    g.addoption("--lowdim-shard", default=None, metavar="I/N",
                help="run only shard I of N (whole test files, sorted by path, dealt "
                     "round-robin); merge the reports with `lowdim merge`")
    g.addoption("--lowdim-cache-clear", action="store_true",
                help="empty the run cache (.pytest_cache/d/lowdim-runs) before the run")
    g.addoption("--lowdim-no-cache", action="store_true",
                help="neither read nor write the run cache: train everything again")
    g.addoption("--lowdim-adaptive", action="store_true",
                help="train each claim's seeds in growing prefixes (8, 16, 32, ... up to its "
                     "count) and stop at an anytime-valid decision (lowdim/plugin/adaptive.py)")


@dataclass(frozen=True)
class Options:
    """The run-level choices every process shares (the report's meta.options)."""

    seeds: int | None  # --lowdim-seeds: every claim's seed count, or None for the claim's own
    seed_offset: int  # --lowdim-seed-offset: the first seed
    device: str  # --lowdim-device: cpu, cuda, cuda:N or auto
    report_dir: str  # --lowdim-report-dir, as given (relative to the invocation folder)
    profile: str  # --lowdim-profile: quick or full
    threads: int  # --lowdim-threads: torch (and BLAS) threads per process
    write: bool  # not --lowdim-no-report
    timeout: float | None = None  # --lowdim-timeout (reliability.py)
    adaptive: bool = False  # --lowdim-adaptive (adaptive.py)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def parse_options(config: pytest.Config) -> Options:
    """The run's Options; a pytest.UsageError that names the option, the value and what is
    allowed for a bad one."""
    o = Options(
        seeds=config.getoption("lowdim_seeds"),
        seed_offset=config.getoption("lowdim_seed_offset"),
        device=config.getoption("lowdim_device"),
        report_dir=config.getoption("lowdim_report_dir"),
        profile=config.getoption("lowdim_profile"),
        threads=config.getoption("lowdim_threads"),
        write=not config.getoption("lowdim_no_report"),
        timeout=config.getoption("lowdim_timeout"),
        adaptive=bool(config.getoption("lowdim_adaptive")),
    )
    try:
        check_timeout(o.timeout, "--lowdim-timeout")
    except ValueError as e:
        raise pytest.UsageError(str(e)) from None
    if o.seeds is not None and o.seeds < 1:
        raise pytest.UsageError(f"--lowdim-seeds: got {o.seeds}; need a seed count >= 1")
    if o.seed_offset < 0:
        raise pytest.UsageError(f"--lowdim-seed-offset: got {o.seed_offset}; need >= 0")
    if o.device not in DEVICES and not o.device.startswith("cuda:"):
        raise pytest.UsageError(
            f"--lowdim-device: got {o.device!r}; allowed: {', '.join(DEVICES)} or cuda:N")
    if o.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise pytest.UsageError(
                f"--lowdim-device {o.device}: no CUDA device is visible to torch here; "
                "use --lowdim-device cpu (or auto, which falls back to the CPU)")
    if o.profile not in PROFILES:
        raise pytest.UsageError(
            f"--lowdim-profile: got {o.profile!r}; allowed: {', '.join(PROFILES)}")
    if o.threads < 1:
        raise pytest.UsageError(f"--lowdim-threads: got {o.threads}; need >= 1")
    return o
