"""The run-level parts of claims.json: meta (the run, its options, seeds, shard, merge) and
the comparison with a baseline (per row and for the run). Re-exported by report.schema, which
is where other modules import them from; imports nothing of lowdim.
"""

from __future__ import annotations

from typing import Literal, TypedDict

Number = float  # JSON numbers: an int is a float here; a bool is neither
Verdict = Literal["SUPPORTED", "REFUTED", "INCONCLUSIVE"]
# What a comparison with a baseline says about a row (lowdim.regress).
STATUSES = ("unchanged", "drift", "claim changed", "verdict changed",
            "verdict changed on another CPU", "not replicated", "replicated", "evidence lost",
            "outcome changed", "new", "vanished")
Status = Literal["unchanged", "drift", "claim changed", "verdict changed",
                 "verdict changed on another CPU", "not replicated", "replicated",
                 "evidence lost", "outcome changed", "new", "vanished"]


class _VsBaselineRequired(TypedDict):
    status: Status
    text: str
    old: Verdict | None
    new: Verdict | None


class VsBaseline(_VsBaselineRequired, total=False):
    """A row compared with the baseline's row of the same test (lowdim.regress).

    status               what changed
    text                 the status in words, for the report
    old                  the baseline's verdict
    new                  this run's verdict
    short                a shorter text for the terminal (drift)
    n                    per-seed values compared (drift)
    n_changed            seeds whose value changed (drift; null when values do not pair up)
    max_abs_diff         the largest per-seed change (drift)
    diverged_in_one_run  seeds non-finite in one run only (drift)
    margin               the equivalence margin of the drift test
    tost_p               p of the TOST on the per-seed changes
    tost_verdict         its verdict: SUPPORTED means within the margin
    median_diff          the median per-seed change
    """

    short: str
    n: int
    n_changed: int | None
    max_abs_diff: Number | None
    diverged_in_one_run: int
    margin: Number
    tost_p: Number
    tost_verdict: Verdict
    median_diff: Number


class Options(TypedDict, total=False):
    """The run's --lowdim-* options (the plugin's Options).

    seeds        --lowdim-seeds (null: each claim's own count)
    seed_offset  --lowdim-seed-offset
    device       --lowdim-device
    report_dir   --lowdim-report-dir
    profile      --lowdim-profile
    threads      --lowdim-threads
    write        false under --lowdim-no-report
    timeout      --lowdim-timeout in seconds
    adaptive     --lowdim-adaptive
    """

    seeds: int | None
    seed_offset: int
    device: str
    report_dir: str
    profile: str
    threads: int
    write: bool
    timeout: Number | None
    adaptive: bool


class SeedBlock(TypedDict):
    """Which seeds ran.

    offset  the first seed of every claim
    seeds   the seed count of every claim (null: each its own)
    text    the block in words
    """

    offset: int
    seeds: int | None
    text: str


class Shard(TypedDict):
    """The shard this run was (--lowdim-shard I/N).

    index  I
    count  N
    """

    index: int
    count: int


class MergedFrom(TypedDict, total=False):
    """One input of `lowdim merge`.

    path         the input's path
    shard        "I/N", null for a full run
    started      when that run started
    wall_time_s  its wall time
    exitstatus   its pytest exit status
    args         its command line
    n_rows       its rows
    """

    path: str
    shard: str | None
    started: str | None
    wall_time_s: Number | None
    exitstatus: int | None
    args: list[str] | None
    n_rows: int


class BaselineRun(TypedDict):
    """The baseline's run.

    started     when it started
    git_commit  its commit
    seed_block  its seeds in words
    """

    started: str | None
    git_commit: str | None
    seed_block: str


class _ChangeRequired(VsBaseline):
    test: str


class Change(_ChangeRequired, total=False):
    """A row that is not unchanged against the baseline: a VsBaseline and its test.

    test   the test id
    claim  its claim id
    """

    claim: str | None


class BaselineMeta(TypedDict, total=False):
    """The comparison with a baseline (lowdim.regress.compare, less its rows).

    label         the baseline's path
    mode          regression (same seeds) or replication (another seed block)
    notes         what differs between the runs, in words
    margin_rule   how the drift margin is chosen, in words
    baseline_run  the baseline's run
    outside       baseline rows not compared, by file (other shards)
    counts        rows by status
    failed        a verdict changed for an unchanged method
    changes       every row that is not unchanged, and the vanished ones
    """

    label: str
    mode: Literal["regression", "replication"]
    notes: list[str]
    margin_rule: str
    baseline_run: BaselineRun
    outside: dict[str, int]
    counts: dict[str, int]
    failed: bool
    changes: list[Change]


class Meta(TypedDict, total=False):
    """The run: where, when, with what.

    started          start time, ISO 8601 in UTC (the earliest shard's after a merge)
    wall_time_s      seconds of the whole run
    versions         python, torch, numpy, scipy and lowdim versions
    platform         the OS, as Python's platform.platform()
    cpu_capability   torch's CPU capability (AVX2, AVX512, ...)
    cpu_kernels      the CPU kernels that round this run's floats (lowdim.kernels)
    numerics         a fingerprint of their rounding
    numerics_probes  each probe's own digest of that fingerprint
    device           cpu, cuda or cuda:N
    git_commit       the commit of the run (null outside git)
    options          the --lowdim-* options
    xdist_workers    pytest-xdist workers (0 without -n)
    args             pytest's command line (null after a merge)
    exitstatus       pytest's exit status
    n_decisions      rows with a p-value (the Holm family)
    seed_block       which seeds ran
    shard            the shard this run was (null: the whole suite)
    merged_from      the inputs of `lowdim merge`
    shard_count      N of the merged shards
    shards_missing   shards of N not among the merged inputs
    baseline         the comparison with a baseline
    """

    started: str | None
    wall_time_s: Number
    versions: dict[str, str]
    platform: str
    cpu_capability: str | None
    cpu_kernels: str
    numerics: str
    numerics_probes: dict[str, str]
    device: str
    git_commit: str | None
    options: Options
    xdist_workers: int
    args: list[str] | None
    exitstatus: int
    n_decisions: int
    seed_block: SeedBlock
    shard: Shard | None
    merged_from: list[MergedFrom]
    shard_count: int
    shards_missing: list[int]
    baseline: BaselineMeta
