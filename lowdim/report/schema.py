"""The report's file format, at the bottom of lowdim: imports nothing of lowdim but its own
two helpers, report._meta (the run-level shapes) and report._typeddict (checking a value against
a TypedDict, writing its JSON Schema), which import nothing of lowdim either.

The shape of claims.json, written down once as TypedDicts (`Report`, `Meta`, `Row`,
`EvidenceDict` and the parts they hold), which the plugin, regress and the renderers annotate
their dicts with; how a file is read back and checked against them (`load_report`); its JSON
Schema (`json_schema`, published as docs/claims.schema.json); how numbers are formatted for
people (`fmt_num`, `fmt_interval`) and how every file lowdim writes reaches the disk
(`atomic_write`). Every other room may import this module.

A key marked optional below may be missing from a report of this schema version (written before
the key existed, or built by hand): readers use .get for it. load_report checks the type of
every key it knows and leaves keys it does not know alone, so a writer can add one.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Literal, TypedDict

from ._meta import (
    STATUSES,
    BaselineMeta,
    BaselineRun,
    Change,
    MergedFrom,
    Meta,
    Number,
    Options,
    SeedBlock,
    Shard,
    Status,
    Verdict,
    VsBaseline,
)
from ._typeddict import check, schema_of

SCHEMA_VERSION = 1
OUTCOMES = ("passed", "failed", "xfailed", "xpassed", "skipped", "error", "crashed", "timeout",
            "not run")
Outcome = Literal["passed", "failed", "xfailed", "xpassed", "skipped", "error", "crashed",
                  "timeout", "not run"]
VERDICTS = ("SUPPORTED", "REFUTED", "INCONCLUSIVE")
# The decision rules (lowdim.stats RULES), "" for an Evidence built by hand from another rule.
RULES = ("proportion", "wilcoxon", "sign", "location", "trend", "equivalence",
         "seq-proportion", "seq-sign")
Rule = Literal["", "proportion", "wilcoxon", "sign", "location", "trend", "equivalence",
               "seq-proportion", "seq-sign"]


# The shapes. A docstring's field lines ("    name   what it is") become the JSON Schema's
# descriptions; a key of a total=False class is optional.


class _EvidenceRequired(TypedDict):
    statistic: str
    n: int
    estimate: Number | None
    interval: tuple[Number | None, Number | None]
    test: str
    p: Number | None
    p_opposite: Number | None
    alpha: Number
    threshold: Number | None
    alternative: str
    verdict: Verdict
    values: list[Number | None]
    details: dict[str, Any]
    repr: str


class EvidenceDict(_EvidenceRequired, total=False):
    """One decision over seeds, as lowdim.stats Evidence.to_dict writes it (null for a
    non-finite number).

    statistic    what the estimate estimates, in words, e.g. "P(acc > 0.9)"
    n            seeds that entered the test
    estimate     point estimate of the statistic
    interval     [low, high] at level 1 - alpha; null is an infinite side (low -inf, high +inf)
    test         the test's display name, e.g. "exact binomial"
    p            p-value of the claimed direction
    p_opposite   p-value of the opposite direction (the REFUTED decision)
    alpha        the level the decision is made at
    threshold    the value the statistic is compared with (the equivalence margin for TOST)
    alternative  greater, less, two-sided, increasing, decreasing or equivalence
    verdict      the decision
    values       the per-seed statistic, one number per seed
    details      extra figures of the test: counts, effect sizes, per-arm values, adaptive looks
    repr         the Evidence as the sentence pytest prints
    rule         the decision rule, what code dispatches on (optional: reports that predate it
                 get it from `legacy_rule` when loaded)
    """

    rule: Rule


class _CurveRequired(TypedDict):
    x: list[Number | None]
    y: list[list[Number | None]]


class Curve(_CurveRequired, total=False):
    """A history over training steps recorded with claim.record(..., curves=...).

    x       the steps (at most 60, evenly subsampled)
    y       one list per seed, a value per step (4 significant digits)
    xlabel  the x axis label (default "step")
    ylabel  the y axis label; curves with one ylabel share a plot
    yscale  linear, log or symlog
    """

    xlabel: str
    ylabel: str
    yscale: Literal["linear", "log", "symlog"]


class Fragility(TypedDict):
    """How firm a verdict is (lowdim.stats.power.fragility).

    log10_p_alpha  log10(p / alpha): below 0 the claimed direction is significant
    flips          seeds to reverse to change the verdict (null: no such move changes it)
    flips_to       the verdict those reversals lead to
    move           what reversing one seed means for this rule
    """

    log10_p_alpha: Number | None
    flips: int | None
    flips_to: Verdict | None
    move: str | None


class SeedsToDecide(TypedDict):
    """Seeds an INCONCLUSIVE row would need (lowdim.stats.power.seeds_to_decide).

    seeds         n' for the target power at the observed effect (null: not even max_seeds)
    toward        the verdict aimed at
    power         the power at n' (or at max_seeds)
    target_power  the power asked for
    max_seeds     the largest n' searched
    method        how the power was estimated
    """

    seeds: int | None
    toward: Verdict
    power: Number
    target_power: Number
    max_seeds: int
    method: str


class _RowRequired(TypedDict):
    test: str
    claim: str | None
    statement: str | None
    source: str | None
    outcome: Outcome
    evidence: EvidenceDict | None
    conditions: dict[str, Any]
    duration_s: Number
    reproduce: str


class Row(_RowRequired, total=False):
    """One collected test of the run; rows are sorted by test id.

    test             the pytest node id, e.g. claims/test_x.py::test_y[a]
    claim            the claim id of pytest.mark.claim (null for a test without one)
    statement        the source's statement of the claim
    source           where the statement comes from
    outcome          what pytest made of the test (or why it did not finish)
    evidence         what the test recorded (null when it recorded nothing)
    conditions       the test's parameters and the conditions passed to claim.record
    duration_s       seconds of setup, call and teardown
    cached_s         seconds of training read from the run cache instead of computed
    reproduce        a command that runs this test alone with this run's options
    seeds            [first, last] seed the test trained (null: none recorded)
    method_hash      what the finding depends on besides lowdim (lowdim.regress.method_hash)
    curves           histories over training steps, by name, for the row's figure
    p_holm           p adjusted over the run's decisions (Holm)
    fragility        how many seeds would change the verdict
    seeds_to_decide  seeds an INCONCLUSIVE row would need (null when not computable)
    figures_error    why fragility and seeds_to_decide could not be computed
    vs_baseline      the comparison with --lowdim-baseline or `lowdim merge --baseline`
    """

    cached_s: Number
    seeds: tuple[int, int] | None
    method_hash: str | None
    curves: dict[str, Curve]
    p_holm: Number
    fragility: Fragility | None
    seeds_to_decide: SeedsToDecide | None
    figures_error: str
    vs_baseline: VsBaseline


class ClaimInfo(TypedDict, total=False):
    """A claim of the run, for claims.html.

    statement  the source's statement
    source     where it comes from
    doc        the claim file's docstring (its method)
    """

    statement: str | None
    source: str | None
    doc: str


class _ReportRequired(TypedDict):
    schema_version: Literal[1]  # = SCHEMA_VERSION: change both together
    meta: Meta
    rows: list[Row]


class Report(_ReportRequired, total=False):
    """A lowdim claims report (claims.json): a run's metadata and one row per collected test.

    schema_version  the version of this format
    meta            the run
    rows            one per collected test, sorted by test id
    claims          the run's claims by id
    """

    claims: dict[str, ClaimInfo]


def json_schema() -> dict:
    """The JSON Schema (draft 2020-12) of claims.json, from the TypedDicts above; published as
    docs/claims.schema.json (`python -m lowdim.report docs/claims.schema.json` writes it)."""
    return schema_of(Report, title="lowdim claims report (claims.json)")



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
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def dump_report(report: Report) -> str:
    """claims.json's text: sorted keys (stable diffs), no NaN (JSON has none), one newline."""
    return json.dumps(report, indent=1, sort_keys=True, allow_nan=False) + "\n"


def fmt_num(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–" if x is None else str(x)
    if isinstance(x, int):
        return str(x)
    return f"{x:.{digits}g}"


def fmt_interval(ev: EvidenceDict) -> str:
    lo, hi = ev["interval"]
    # to_dict writes an infinite side as None (JSON has no inf): lower -inf, upper +inf
    lo = "-inf" if lo is None else fmt_num(lo)
    hi = "inf" if hi is None else fmt_num(hi)
    return f"[{lo}, {hi}]"


# Reports written before Evidence carried its rule: the rule each test name stood for. Used
# only to read such files (load_report fills in the missing "rule"); nothing dispatches on names.
LEGACY_RULES = {
    "exact binomial": "proportion",
    "exact sign test": "sign",
    "TOST Wilcoxon": "equivalence",
    "Page's L": "trend",
}


def legacy_rule(evidence: dict) -> str:
    """The rule of an evidence dict from a report that predates Evidence.rule ("" if unknown)."""
    test = str(evidence.get("test") or "")
    if test == "Wilcoxon signed-rank":  # paired rows carry both arms, location rows do not
        details = evidence.get("details") or {}
        return "wilcoxon" if "a" in details and "b" in details else "location"
    if test.startswith("anytime-valid binomial"):
        return "seq-proportion"
    if test.startswith("anytime-valid sign"):
        return "seq-sign"
    return LEGACY_RULES.get(test, "")


def load_report(path: str | os.PathLike, *, check: bool = True) -> Report:
    """Read a claims.json (plain JSON: nothing is unpickled or executed) and check it against
    `Report` (check_report). check=False: only that it is JSON of this schema version, for a
    caller that first checks what it needs in its own words, then calls check_report."""
    try:
        with open(path, encoding="utf-8") as f:
            report = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e}); regenerate it with pytest claims") from None
    if not isinstance(report, dict) or "rows" not in report or "meta" not in report:
        raise ValueError(f"{path}: not a lowdim report (needs 'meta' and 'rows')")
    if report.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(
            f"{path}: schema_version {report.get('schema_version')!r}, this lowdim reads "
            f"{SCHEMA_VERSION}; regenerate the report"
        )
    if check:
        check_report(report, path)
    for row in report["rows"] if isinstance(report["rows"], list) else ():
        ev = row.get("evidence") if isinstance(row, dict) else None
        if isinstance(ev, dict) and "rule" not in ev:
            ev["rule"] = legacy_rule(ev)
    return report


def check_report(report: dict, path: str | os.PathLike = "report") -> None:
    """ValueError naming path, the first key whose value does not fit `Report` (e.g.
    rows[3].evidence.n, with the row's test id) and what was expected there."""
    problem = check(report, Report)
    if problem is not None:
        where, expected, got = problem
        raise ValueError(f"{path}: {where}{_test_at(report, where)}: expected {expected}, got "
                         f"{got}; fix or regenerate the report")


def _test_at(report: dict, where: str) -> str:
    """' (test <id>)' when `where` is inside a row that has a test id, else ''."""
    if not where.startswith("rows["):
        return ""
    row = report["rows"][int(where[5:where.index("]")])]
    test = row.get("test") if isinstance(row, dict) else None
    return f" (test {test})" if isinstance(test, str) and not where.endswith("].test") else ""


__all__ = [
    "OUTCOMES", "RULES", "SCHEMA_VERSION", "STATUSES", "VERDICTS", "BaselineMeta", "BaselineRun",
    "Change", "ClaimInfo", "Curve", "EvidenceDict", "Fragility", "MergedFrom", "Meta", "Number",
    "Options", "Outcome", "Report", "Row", "Rule", "SeedBlock", "SeedsToDecide", "Shard",
    "Status", "Verdict", "VsBaseline", "atomic_write", "check_report", "dump_report",
    "fmt_interval", "fmt_num", "json_schema", "legacy_rule", "load_report",
]
