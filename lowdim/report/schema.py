"""The shape of claims.json, at the bottom of lowdim: imports nothing of lowdim.

Written down once as TypedDicts (Report, Meta, Row, EvidenceDict and their parts) that writers
and readers annotate their dicts with. parse_json reads every JSON lowdim reads, bounded;
load_report (reports, baselines, shards) checks each known key's type (and range, given
publish.in_range), leaving unknown keys (a writer may add one) and missing ones (older reports
lack newer keys: readers use .get) alone; an error is one line: file, key, what was expected.
report.publish makes the JSON Schema. Also `atomic_write`, and numbers for people: fmt_num.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import json
import os
import tempfile
import types
from pathlib import Path
from typing import Any, Literal, TypedDict, Union, get_args, get_origin, get_type_hints

SCHEMA_VERSION = 1
Outcome = Literal["passed", "failed", "xfailed", "xpassed", "skipped", "error", "crashed",
                  "timeout", "not run"]
Verdict = Literal["SUPPORTED", "REFUTED", "INCONCLUSIVE"]
Rule = Literal["", "proportion", "wilcoxon", "sign", "location", "trend", "equivalence",
               "seq-proportion", "seq-sign"]  # "": an Evidence built by hand from another rule
Status = Literal["unchanged", "drift", "claim changed", "verdict changed",  # vs a baseline
                 "verdict changed on another CPU", "not replicated", "replicated",
                 "evidence lost", "outcome changed", "new", "vanished", "neighbour"]
OUTCOMES, VERDICTS, STATUSES = get_args(Outcome), get_args(Verdict), get_args(Status)
RULES = get_args(Rule)[1:]  # the rules of lowdim.stats
Number = float  # a JSON number: an int is a float here, a bool is neither
# What parse_json accepts: file size, nesting, items of a list, |number| (beyond 1e150, spreads
MAX_BYTES, MAX_DEPTH, MAX_ITEMS, MAX_ABS = 2**28, 32, 10**6, 1e150  # over seeds overflow)

# The shapes. A class of total=False holds optional keys; its required ones are in the
# _Required class it extends. The comment beside a field is its description in the JSON Schema.

class _EvidenceRequired(TypedDict):
    statistic: str  # what the estimate estimates, in words, e.g. "P(acc > 0.9)"
    n: int  # seeds that entered the test
    estimate: Number | None  # point estimate of the statistic (null: not finite)
    interval: tuple[Number | None, Number | None]  # [low, high] at 1 - alpha; null: -inf, inf
    test: str  # the test's display name, e.g. "exact binomial"
    p: Number | None  # p-value of the claimed direction
    p_opposite: Number | None  # p-value of the opposite direction (the REFUTED decision)
    alpha: Number  # the level the decision is made at
    threshold: Number | None  # the value the statistic is compared with (TOST: the margin)
    alternative: str  # greater, less, two-sided, increasing, decreasing or equivalence
    verdict: Verdict  # the decision
    values: list[Number | None]  # the per-seed statistic, one number per seed
    details: dict[str, Any]  # the test's extra figures: counts, effect sizes, arms, adaptive looks
    repr: str  # the Evidence as the sentence pytest prints

class EvidenceDict(_EvidenceRequired, total=False):
    """One decision over seeds, as lowdim.stats Evidence.to_dict writes it."""
    rule: Rule  # the decision rule code dispatches on (older reports: from legacy_rule)

class _CurveRequired(TypedDict):
    x: list[Number | None]  # the steps (at most 60, evenly subsampled)
    y: list[list[Number | None]]  # one list per seed, a value per step (4 significant digits)

class Curve(_CurveRequired, total=False):
    """A history over training steps, recorded with claim.record(..., curves=...)."""
    xlabel: str  # the x axis label (default "step")
    ylabel: str  # the y axis label; curves with one ylabel share a plot
    yscale: Literal["linear", "log", "symlog"]  # the y axis scale

class Fragility(TypedDict):
    """How firm a verdict is (lowdim.stats fragility)."""
    log10_p_alpha: Number | None  # log10(p / alpha): below 0 the claimed direction is significant
    flips: int | None  # seeds to reverse to change the verdict (null: no such move changes it)
    flips_to: Verdict | None  # the verdict those reversals lead to
    move: str | None  # what reversing one seed means for this rule

class SeedsToDecide(TypedDict):
    """Seeds an INCONCLUSIVE row would need (lowdim.stats.power.seeds_to_decide)."""
    seeds: int | None  # n' for the target power at the observed effect (null: over max_seeds)
    toward: Verdict  # the verdict aimed at
    power: Number  # the power at n' (or at max_seeds)
    target_power: Number  # the power asked for
    max_seeds: int  # the largest n' searched
    method: str  # how the power was estimated

class _VsBaselineRequired(TypedDict):
    status: Status  # what changed
    text: str  # the status in words, for the report
    old: Verdict | None  # the baseline's verdict
    new: Verdict | None  # this run's verdict

class VsBaseline(_VsBaselineRequired, total=False):
    """A row compared with the baseline's row of the same test (lowdim.regress)."""
    short: str  # a shorter text for the terminal (drift)
    n: int  # per-seed values compared (drift)
    n_changed: int | None  # seeds whose value changed (drift; null: values do not pair up)
    max_abs_diff: Number | None  # the largest per-seed change (drift)
    diverged_in_one_run: int  # seeds non-finite in one run only (drift)
    margin: Number  # the equivalence margin of the drift test
    tost_p: Number  # p of the TOST on the per-seed changes
    tost_verdict: Verdict  # its verdict: SUPPORTED means within the margin
    median_diff: Number  # the median per-seed change

class _RowRequired(TypedDict):
    test: str  # the pytest node id, e.g. claims/test_x.py::test_y[a]
    claim: str | None  # the claim id of pytest.mark.claim (null: a test without one)
    statement: str | None  # the source's statement of the claim
    source: str | None  # where the statement comes from
    outcome: Outcome  # what pytest made of the test (or why it did not finish)
    evidence: EvidenceDict | None  # what the test recorded (null: nothing)
    conditions: dict[str, Any]  # the test's parameters and the conditions given to claim.record
    duration_s: Number  # seconds of setup, call and teardown
    reproduce: str  # a command that runs this test alone with this run's options

class Row(_RowRequired, total=False):
    """One collected test of the run; rows are sorted by test id."""
    cached_s: Number  # seconds of training read from the run cache instead of computed
    seeds: tuple[int, int] | None  # [first, last] seed the test trained (null: none recorded)
    method_hash: str | None  # what the finding depends on besides lowdim (regress.method_hash)
    curves: dict[str, Curve]  # histories over training steps, by name, for the row's figure
    p_holm: Number  # p adjusted over the run's decisions (Holm)
    fragility: Fragility | None  # how many seeds would change the verdict
    seeds_to_decide: SeedsToDecide | None  # seeds an INCONCLUSIVE row would need
    undecidable: str  # too few seeds for its test to ever reach alpha (stats.attainable)
    warnings: list[str]  # misuse: Evidence.n is not the seeds drawn; passed without recording
    figures_error: str  # why fragility and seeds_to_decide could not be computed
    vs_baseline: VsBaseline  # the comparison with --lowdim-baseline or `lowdim merge --baseline`
    perturbed: list[str]  # a --lowdim-perturb run: the knobs that reached its numbers ([]: none)

class Options(TypedDict, total=False):
    """The run's --lowdim-* options."""
    seeds: int | None  # --lowdim-seeds (null: each claim's own count)
    seed_offset: int  # --lowdim-seed-offset
    device: str  # --lowdim-device
    report_dir: str  # --lowdim-report-dir
    profile: str  # --lowdim-profile
    threads: int  # --lowdim-threads
    write: bool  # false under --lowdim-no-report
    timeout: Number | None  # --lowdim-timeout, seconds
    adaptive: bool  # --lowdim-adaptive
    perturb: str  # --lowdim-perturb, e.g. "lr=x2,steps=x0.5" (absent: the claims' own setting)

class SeedBlock(TypedDict):
    """Which seeds ran."""
    offset: int  # the first seed of every claim
    seeds: int | None  # the seed count of every claim (null: each its own)
    text: str  # the block in words

class Shard(TypedDict):
    """The shard a run was (--lowdim-shard I/N)."""
    index: int  # I
    count: int  # N

class MergedFrom(TypedDict, total=False):
    """One input of `lowdim merge`."""
    path: str  # the input's path
    shard: str | None  # "I/N" (null: a full run)
    started: str | None  # when that run started
    wall_time_s: Number | None  # its wall time
    exitstatus: int | None  # its pytest exit status
    args: list[str] | None  # its command line
    n_rows: int  # its rows

class BaselineRun(TypedDict):
    """The baseline's run."""
    started: str | None  # when it started
    git_commit: str | None  # its commit
    seed_block: str  # its seeds, in words

class Change(VsBaseline):
    """A row that is not unchanged against the baseline: its VsBaseline and its test."""
    test: str  # the test id
    claim: str | None  # its claim id

class BaselineMeta(TypedDict, total=False):
    """The comparison with a baseline (lowdim.regress.compare, less its rows)."""
    label: str  # the baseline's path
    mode: Literal["regression", "replication", "neighbour"]  # same seeds, others, or perturbed
    notes: list[str]  # what differs between the runs, in words
    margin_rule: str  # how the drift margin is chosen, in words
    baseline_run: BaselineRun  # the baseline's run
    outside: dict[str, int]  # baseline rows not compared, by test file (other shards)
    counts: dict[str, int]  # rows by status
    failed: bool  # a verdict changed for an unchanged method
    other_cpu: bool  # the baseline ran on other CPU kernels: a changed robust verdict still fails
    changes: list[Change]  # every row that is not unchanged, and the vanished ones

class Meta(TypedDict, total=False):
    """The run: where, when, with what."""
    started: str | None  # start time, ISO 8601 in UTC (after a merge: the earliest)
    wall_time_s: Number  # seconds of the whole run
    versions: dict[str, str]  # python, torch, numpy, scipy and lowdim versions
    platform: str  # the OS, as Python's platform.platform()
    cpu_capability: str | None  # torch's CPU capability (AVX2, AVX512, ...)
    cpu_kernels: str  # the CPU kernels that round this run's floats (engine.kernels)
    numerics: str  # a fingerprint of their rounding
    numerics_probes: dict[str, str]  # each probe's own digest of that fingerprint
    device: str  # cpu, cuda or cuda:N
    git_commit: str | None  # the commit of the run (null: outside git)
    options: Options  # the --lowdim-* options
    xdist_workers: int  # pytest-xdist workers (0 without -n)
    args: list[str] | None  # pytest's command line (null after a merge)
    exitstatus: int  # pytest's exit status
    n_decisions: int  # rows with a p-value (the Holm family)
    failed: list[str]  # steps that broke after the tests ran (baseline, figures, html, ...)
    incomplete: str  # why this run is not a complete run of its suite (absent: complete)
    seed_block: SeedBlock  # which seeds ran
    shard: Shard | None  # the shard this run was (null: the whole suite)
    merged_from: list[MergedFrom]  # the inputs of `lowdim merge`
    shard_count: int  # N of the merged shards
    shards_missing: list[int]  # shards of N not among the merged inputs
    baseline: BaselineMeta  # the comparison with a baseline

class ClaimInfo(TypedDict, total=False):
    """A claim of the run, for claims.html."""
    statement: str | None  # the source's statement
    source: str | None  # where it comes from
    doc: str  # the claim file's docstring (its method)

class _ReportRequired(TypedDict):
    schema_version: Literal[1]  # the version of this format (= SCHEMA_VERSION)
    meta: Meta  # the run
    rows: list[Row]  # one per collected test, sorted by test id

class Report(_ReportRequired, total=False):
    """A lowdim claims report (claims.json): a run's metadata and one row per collected test."""
    claims: dict[str, ClaimInfo]  # the run's claims by id


# Checking a value against a shape: the annotation forms above, nothing more.
_EXACT = {float: (int, float), int: (int,), bool: (bool,), str: (str,),
          type(None): (type(None),)}  # the types json.load makes for each (a bool is no int)
_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
          type(None): "null"}

hints = functools.cache(get_type_hints)  # a TypedDict's fields: evaluated once, that is slow

def arms(tp) -> tuple | None:
    """The arms of a union annotation (X | Y), None for any other."""
    return get_args(tp) if get_origin(tp) in (Union, types.UnionType) else None

def describe(tp) -> str:
    """What a value of annotation tp looks like, in words ('a number or null')."""
    origin, args = get_origin(tp), get_args(tp)
    if tp in _NAMES or tp is Any:
        return _NAMES.get(tp, "any value")
    if isinstance(tp, type) and issubclass(tp, dict):  # a TypedDict
        return f"an object ({tp.__name__})"
    if arms(tp):
        return " or ".join(describe(a) for a in arms(tp))
    if origin is Literal:
        return "one of " + ", ".join(json.dumps(a) for a in args)
    return {list: "a list", dict: "an object"}.get(origin, f"a list of length {len(args)}")

@functools.cache
def _exact(tp) -> frozenset | None:
    """The JSON types a scalar annotation (or a union of scalars) allows; None for others."""
    scalars = arms(tp) or (tp,)
    if not all(a in _EXACT for a in scalars):
        return None
    return frozenset(t for a in scalars for t in _EXACT[a])

def _found(value) -> str:
    return ("an object" if isinstance(value, dict) else f"a list of length {len(value)}"
            if isinstance(value, list) else json.dumps(value)[:60])

def check(value, tp, where: str = "", extra=None) -> tuple[str, str, str] | None:
    """The first place where a JSON value does not fit annotation tp, as (key path, expected,
    found), e.g. ('rows[3].evidence.n', 'an integer', '"12"'); None when it fits. extra(shape,
    key, value, key path): a further check of each field of a shape (e.g. publish.in_range)."""
    here, origin, args, union = where or "(top level)", get_origin(tp), get_args(tp), arms(tp)
    if tp is Any:
        return None
    if _exact(tp) is not None:
        return None if type(value) in _exact(tp) else (here, describe(tp), _found(value))
    if union:
        if value is None and type(None) in union:
            return None
        rest = [a for a in union if a is not type(None)]
        if len(rest) == 1:  # X | null, not null: say what is wrong inside X
            inner = check(value, rest[0], where, extra)
            return (here, describe(tp), inner[2]) if inner and inner[0] == here else inner
        ok = any(check(value, a, where, extra) is None for a in rest)
        return None if ok else (here, describe(tp), _found(value))
    if origin is Literal:
        ok = any(value == a and type(value) is type(a) for a in args)
        return None if ok else (here, describe(tp), _found(value))
    if origin is dict or (isinstance(tp, type) and issubclass(tp, dict)):
        if not isinstance(value, dict):
            return here, describe(tp), _found(value)
        fields = {k: args[1] for k in value} if origin is dict else hints(tp)
        problems = (check(v, fields[k], at, extra) or (extra and extra(tp, k, v, at))
                    for k, v in value.items() if k in fields
                    for at in [f"{where}.{k}" if where else k])
        return next((p for p in problems if p is not None), None)
    if not isinstance(value, list) or (origin is tuple and len(value) != len(args)):
        return here, describe(tp), _found(value)
    each = _exact(args[0]) if origin is list else None
    if each is not None and all(type(v) in each for v in value):  # long per-seed lists: fast
        return None
    subs = args if origin is tuple else args * len(value)
    problems = (check(v, sub, f"{where}[{i}]", extra)
                for i, (v, sub) in enumerate(zip(value, subs)))
    return next((p for p in problems if p is not None), None)


def atomic_write(path: str | os.PathLike, text: str | bytes) -> None:
    """Write text (UTF-8) or bytes to path via a temporary file in the same folder and an atomic
    rename, so a reader (or an interrupted run) sees either the old file or the complete new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a report is an ordinary file
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode("utf-8") if isinstance(text, str) else text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# Reports written before Evidence carried its rule: the rule each test name stood for. Used
# only to read such files (load_report fills in the missing "rule"); nothing dispatches on names.
LEGACY_RULES = {"exact binomial": "proportion", "exact sign test": "sign",
                "TOST Wilcoxon": "equivalence", "Page's L": "trend"}


def legacy_rule(evidence: dict) -> str:
    """The rule of an evidence dict from a report that predates Evidence.rule ("" if unknown)."""
    test, details = str(evidence.get("test") or ""), evidence.get("details") or {}
    if test == "Wilcoxon signed-rank":  # paired rows carry both arms, location rows do not
        return "wilcoxon" if "a" in details and "b" in details else "location"
    starts = {"anytime-valid binomial": "seq-proportion", "anytime-valid sign": "seq-sign"}
    return next((r for t, r in starts.items() if test.startswith(t)), LEGACY_RULES.get(test, ""))


def parse_json(text: str | bytes, where: str):
    """JSON text from `where` -> its value; ValueError naming where, the key and what was expected
    for text that is not JSON or out of bounds (MAX_*; a number not finite: Python reads NaN,
    Infinity, and 1e400 as inf). Nothing is unpickled or executed; no recursion."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeDecodeError, too deep
        raise ValueError(f"{where}: not valid JSON ({e})") from None
    todo = collections.deque([(value, ())])  # (value, key path), breadth first
    while todo:
        v, at = todo.popleft()
        box = type(v) in (dict, list)
        bad = ((len(at) >= MAX_DEPTH and f"at most {MAX_DEPTH} levels of nesting") or (
            len(v) > MAX_ITEMS and f"at most {MAX_ITEMS} items") if box else type(v) in (
            int, float) and not -MAX_ABS <= v <= MAX_ABS and f"a number within ±{MAX_ABS:g}")
        if bad:
            key = "".join(f"[{k}]" if type(k) is int else f".{k}" for k in at).lstrip(".")
            raise ValueError(f"{where}: {key or '(top level)'}: expected {bad}, got {_found(v)}")
        if box:
            items = v.items() if type(v) is dict else enumerate(v)
            todo.extend((x, (*at, k)) for k, x in items if type(x) in (dict, list) or type(x)
                        in (int, float) and not -MAX_ABS <= x <= MAX_ABS)  # push what to look at
    return value


def load_report(path: str | os.PathLike, *, check: bool = True) -> Report:
    """Read a claims.json of at most MAX_BYTES through parse_json and check it against `Report`
    (check_report). check=False: only that it is bounded JSON of this schema version, for a
    caller that first checks what it needs in its own words, then calls check_report."""
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size > MAX_BYTES:
            raise ValueError(f"{path}: over {MAX_BYTES >> 20} MiB, larger than a lowdim report")
        text = f.read()
    report = parse_json(text, str(path))
    if not isinstance(report, dict) or "rows" not in report or "meta" not in report:
        raise ValueError(f"{path}: not a lowdim report (needs 'meta' and 'rows')")
    if report.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"{path}: schema_version {report.get('schema_version')!r}, this lowdim "
                         f"reads {SCHEMA_VERSION}; regenerate the report")
    if check:
        check_report(report, path)
    for row in report["rows"] if isinstance(report["rows"], list) else ():
        ev = row.get("evidence") if isinstance(row, dict) else None
        if isinstance(ev, dict) and "rule" not in ev:
            ev["rule"] = legacy_rule(ev)
    return report


def check_report(report: dict, path: str | os.PathLike = "report", *, extra=None) -> None:
    """ValueError naming path, the first key whose value does not fit `Report` (e.g.
    rows[3].evidence.n, with the row's test id) and what was expected there (check, extra)."""
    if (problem := check(report, Report, "", extra)) is None:
        return
    where, expected, got = problem
    row = report["rows"][int(where[5:where.index("]")])] if where.startswith("rows[") else None
    test = row.get("test") if isinstance(row, dict) else None
    of = f" (test {test})" if isinstance(test, str) and not where.endswith("].test") else ""
    raise ValueError(f"{path}: {where}{of}: expected {expected}, got {got}; fix or regenerate "
                     "the report")


__all__ = [
    "OUTCOMES", "RULES", "SCHEMA_VERSION", "STATUSES", "VERDICTS", "BaselineMeta", "BaselineRun",
    "Change", "ClaimInfo", "Curve", "EvidenceDict", "Fragility", "MAX_ABS", "MAX_BYTES",
    "MAX_DEPTH", "MAX_ITEMS", "MergedFrom", "Meta", "Number", "Options", "Outcome", "Report",
    "Row", "Rule", "SeedBlock", "SeedsToDecide", "Shard", "Status", "Verdict", "VsBaseline",
    "arms", "atomic_write", "check", "check_report", "describe", "hints", "legacy_rule", "load_report", "parse_json",
]
