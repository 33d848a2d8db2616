"""The --lowdim-* options, each also an ini key, and the run-level choices parsed into `Options`.

Every option is spelled twice: `--lowdim-seeds 4` on the command line, `lowdim_seeds = 4` in the
ini file ([pytest] of pytest.ini / tox.ini / setup.cfg, [tool.pytest.ini_options] of
pyproject.toml); the ini key is the option's name with underscores. The command line wins; a
flag set in the ini file is turned off with `-o lowdim_no_report=false`. Paths in the ini file
are read as on the command line, relative to the folder pytest runs in. `resolve_options` puts
the winner into config.option at configure, so every reader's config.getoption sees it.

The options that shape a claim's numbers (seeds, offset, device, profile, threads) and the run
(report folder, time limit, adaptive looks, smoke mode, history) become one frozen `Options`,
whose `to_dict()` is the report's meta.options. The baseline, shard and run-cache options are
read where they act (lowdim.regress.RunRegression, the session, scheduling.py, runcache.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from .reliability import check_timeout

PROFILES = ("quick", "full")
DEVICES = ("cpu", "cuda", "auto")
MAX_SEEDS = 100_000  # claim.seeds(n)'s cap: far above any claim's budget, far below memory's
HISTORY_KEEP = 20  # --lowdim-history default: the runs kept in reports/history


@dataclass(frozen=True)
class Spec:
    """One option: `flag` on the command line, `ini` in the ini file, its type and default."""

    flag: str  # --lowdim-...
    kind: type  # int, float, str or bool (a bool is a flag: store_true)
    default: object  # when neither the command line nor the ini file sets it
    metavar: str | None
    help: str
    nargs: str | None = None  # "+": several values on the command line (the ini: one line)

    @property
    def ini(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")


SPECS = (
    Spec("--lowdim-seeds", int, None, "N", "override every claim's seed count with N"),
    Spec("--lowdim-seed-offset", int, 0, "K",
         "start every claim's seeds at K (seeds K..K+n-1): with K >= the largest seed count "
         "this is a disjoint block, a true replication (default 0)"),
    Spec("--lowdim-device", str, "cpu", "{cpu,cuda,auto}",
         "where claims train (default cpu; auto = cuda when available)"),
    Spec("--lowdim-report-dir", str, "reports", "DIR",
         "folder for claims.json / claims.md / claims.csv (default reports/)"),
    Spec("--lowdim-profile", str, "quick", "{quick,full}",
         "quick: fewer seeds / stated shorter budgets; full: the sources' sizes"),
    Spec("--lowdim-threads", int, 1, "N",
         "torch intra-op threads per process (default 1, so -n 0 and -n auto agree)"),
    Spec("--lowdim-no-report", bool, False, None,
         "do not write report files (the terminal table is still shown)"),
    Spec("--lowdim-timeout", float, None, "SECONDS",
         "time limit per test (setup and call together): past it the test fails as a "
         "'timeout' row and the run goes on (default: none; a claim can set its own with "
         "pytest.mark.claim(..., timeout=SECONDS))"),
    Spec("--lowdim-baseline", str, None, "PATH",
         "compare with a stored report: a verdict that changed for an unchanged method fails "
         "the session; drift, changed/new/vanished claims are listed"),
    Spec("--lowdim-save-baseline", str, None, "PATH",
         "also write this run's report to PATH, as a baseline for later runs"),
    Spec("--lowdim-shard", str, None, "I/N",
         "run only shard I of N: whole test files, dealt longest first by the --lowdim-baseline "
         "report's times (round-robin by path without them); merge with `lowdim merge`"),
    Spec("--lowdim-cache-clear", bool, False, None,
         "empty the run cache (.pytest_cache/d/lowdim-runs) before the run"),
    Spec("--lowdim-no-cache", bool, False, None,
         "neither read nor write the run cache: train everything again"),
    Spec("--lowdim-adaptive", bool, False, None,
         "train each claim's seeds in growing prefixes (8, 16, 32, ... up to its count) and "
         "stop at an anytime-valid decision (lowdim/plugin/adaptive.py)"),
    Spec("--lowdim-smoke", bool, False, None,
         "a quick wiring check (e.g. with --lowdim-seeds 4): a test whose decision cannot "
         "reach alpha at its seed count is skipped with the reason, never passed"),
    Spec("--lowdim-history", int, HISTORY_KEEP, "K",
         f"keep each complete run's report in <report dir>/history, the last K of them "
         f"(default {HISTORY_KEEP}; 0: keep none)"),
    Spec("--lowdim-perturb", str, None, "KNOB=xF[,...]",
         "a neighbour run: move engine knobs by a factor in every training a claim runs "
         "through lowdim (lr, steps, batch, width, init, noise; e.g. lr=x2,steps=x0.5); "
         "thresholds and marks stay; see docs/robustness.md"),
    Spec("--lowdim-robustness", str, None, "KNOB=xF,xG", "run the claims at their own setting "
         "and at each neighbour (e.g. lr=x0.5,x2 steps=x0.5,x2; after the test paths), one run "
         "after another into <report dir>/robustness/<neighbour>/, and write the claim x "
         "neighbour verdict map <report dir>/robustness.md, .json, .html", nargs="+"),
)


def add_options(parser: pytest.Parser) -> None:
    """Register every --lowdim-* option and its ini key (pytest_addoption)."""
    g = parser.getgroup("lowdim", "lowdim: seed-batched statistical claims")
    for spec in SPECS:
        # default None: "not on the command line", so the ini file (then spec.default) decides
        if spec.kind is bool:
            g.addoption(spec.flag, action="store_true", default=None, help=spec.help)
        else:
            g.addoption(spec.flag, type=spec.kind, default=None, metavar=spec.metavar,
                        help=spec.help, nargs=spec.nargs)
        parser.addini(spec.ini, f"{spec.flag} in the ini file (the command line wins)",
                      type="bool" if spec.kind is bool else "string",
                      default=False if spec.kind is bool else "")


def resolve_options(config: pytest.Config) -> None:
    """Each option's value, the command line's over the ini file's over the default, put into
    config.option; a pytest.UsageError naming the ini key for an ini value of the wrong type."""
    for spec in SPECS:
        dest = spec.ini
        if getattr(config.option, dest, None) is not None:
            continue  # given on the command line
        raw = config.getini(spec.ini)
        value = spec.default if raw in ("", None) else ini_value(spec, raw)
        setattr(config.option, dest, value)


def ini_value(spec: Spec, raw) -> object:
    """An ini file's value (a string, or a TOML scalar) as the option's type."""
    if spec.kind is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off"):
            return False
        need = "true or false"
    else:
        convert = {int: int, float: float, str: str}[spec.kind]
        try:  # str() first: a TOML 4 is "4", a TOML true is "True" (no number)
            return convert(str(raw).strip())
        except ValueError:
            pass
        need = {int: "a whole number", float: "a number"}[spec.kind]
    raise pytest.UsageError(f"ini {spec.ini}: got {raw!r}; need {need} (the ini spelling of "
                            f"{spec.flag})")


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
    smoke: bool = False  # --lowdim-smoke: undecidable tests skip (claim.py)
    history: int = HISTORY_KEEP  # --lowdim-history: complete runs kept (session.py)
    perturb: str | None = None  # --lowdim-perturb, canonical (engine.perturb): a neighbour run

    def to_dict(self) -> dict:
        """meta.options: the fields lowdim.report.schema's Options declares (smoke runs keep
        no history and say so in their skipped rows; the history size changes no row)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__
                if k not in ("smoke", "history") and (k != "perturb" or self.perturb)}


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
        smoke=bool(config.getoption("lowdim_smoke")),
        history=config.getoption("lowdim_history"),
        perturb=perturb_text(config.getoption("lowdim_perturb")),
    )
    try:
        check_timeout(o.timeout, "--lowdim-timeout")
    except ValueError as e:
        raise pytest.UsageError(str(e)) from None
    if o.seeds is not None and not 1 <= o.seeds <= MAX_SEEDS:
        raise pytest.UsageError(f"--lowdim-seeds: got {o.seeds}; need a seed count from 1 to "
                                f"{MAX_SEEDS:,}")
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
    if o.history < 0:
        raise pytest.UsageError(f"--lowdim-history: got {o.history}; need the number of runs "
                                "to keep, >= 0 (0: keep none)")
    return o


def perturb_text(spec) -> str | None:
    """--lowdim-perturb's canonical text ('lr=x2,steps=x0.5'), None without one; a
    pytest.UsageError naming the item and what is allowed."""
    if not spec:
        return None
    from ..engine import perturb  # the standard library only: no torch

    try:
        p = perturb.parse(spec)
    except ValueError as e:
        raise pytest.UsageError(f"--lowdim-perturb {e}") from None
    return p.text if p is not None else None
