"""Calibration by simulation: does every decision rule keep its promises?

`python -m lowdim calibrate [--runs N] [--json PATH] [--seed K]` simulates each rule many times

  under the null, at its boundary (the worst case):  type-I error = P(SUPPORTED), should be
      <= alpha (for the discrete exact tests it is below alpha: their attainable levels are few)
  under a stated alternative:  power = P(SUPPORTED), and the coverage of the reported interval
      (the share of runs whose interval contains the true parameter), should be >= its level

and prints one row per rule and seed count, with 95% Clopper-Pearson Monte-Carlo intervals.
The checks: type-I is within Monte-Carlo error of alpha or below (the MC interval's lower end
<= alpha) and coverage >= nominal - 1 percentage point.

Rules and their simulated data (per seed, independent):
  proportion        flags ~ Bernoulli(p); H0 p <= 0.5 (null p = 0.5), alternative p = 0.8;
                    one-sided Clopper-Pearson bound of p
  paired-wilcoxon   d = a - b ~ N(delta, 1); null delta = 0, alternative 0.75; Hodges-Lehmann
                    bound of the pseudo-median (= delta)
  paired-sign       d ~ N(delta, 1); P(d > 0) = Phi(delta): 1/2 under the null, Phi(0.75) = 0.77;
                    Clopper-Pearson bound of P(d > 0)
  location          v ~ N(theta, 1) vs threshold 0; null theta = 0, alternative 0.75;
                    order-statistic (sign-test) bound of the median (= theta)
  trend             y_ij = beta * j + u_i + e_ij, u, e ~ N(0, 1), K = 4 conditions; null beta = 0,
                    alternative 0.5; the bound dual to Page's test (intervals.page_shift) of the
                    change per condition step (= beta)
  equivalence       d ~ N(theta, 1), margin 1; null theta = 1 (the margin), alternative 0;
                    Hodges-Lehmann interval at 1 - 2 alpha (TOST's) of the pseudo-median
  seq-proportion    as proportion, scanned seed by seed with the anytime-valid e-process
                    (lowdim.stats.sequential), stopping at the first crossing; n = the seed budget;
                    confidence sequence at the stop
  seq-sign          as paired-sign, scanned with the anytime-valid sign e-process

Every verdict comes from the library: the fixed-n rules' p-values depend on the data only
through a count or rank sum (k, T+, Page's L; continuous data have no ties), so each distinct
value is decided once and shared by the runs that have it: proportion and sign by the public
functions themselves, the rank tests by the p-value routines they call (signed_rank_p; Page's
through fragility.page_verdict) with their decision rule; tests/test_calibrate.py checks that
every shortcut agrees with the public function on simulated runs. Intervals are computed per run
by lowdim.stats.intervals; the sequential rules run sequential.scan on all runs at once.

What a full run gives (2000 runs, both seed counts), and the intervals that earlier failed this
check and were replaced, are written down in docs/statistics.md.
"""

from __future__ import annotations

import json
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as st
from tabulate import tabulate

from ..report.schema import atomic_write
from ._pvalues import signed_rank_p
from .decide import paired, proportion
from .evidence import Verdict
from .fragility import page_verdict
from .intervals import hodges_lehmann, median_interval, page_shift
from .sequential import confidence_sequence, scan

MC_LEVEL = 0.95  # level of the Monte-Carlo intervals
COVERAGE_SLACK = 0.01  # coverage may fall this far below nominal before the check fails
NS = (10, 30)
CODE = {Verdict.SUPPORTED: 1, Verdict.REFUTED: -1, Verdict.INCONCLUSIVE: 0}


@dataclass(frozen=True)
class Rule:
    """One decision rule under simulation.

    simulate(rng, runs, n, null) -> data for `runs` runs of n seeds (arrays, runs first)
    decide(data, alpha) -> dict with verdict (R,) codes, low/high (R,) interval bounds (or None
    when only verdicts are wanted), seeds (R,) seeds used
    """

    name: str
    null: str
    effect: str
    parameter: str
    truth: float  # the parameter under the alternative (coverage is checked there)
    nominal: Callable[[float], float]  # interval level for alpha
    simulate: Callable
    decide: Callable


# ------------------------------------------------------------------------------------------
# verdict lookups by sufficient statistic


def _representative(t_plus: int, n: int) -> np.ndarray:
    """Values with ranks 1..n whose positive ranks sum to t_plus (0 <= t_plus <= n(n+1)/2):
    the largest ranks first, greedily."""
    signs = -np.ones(n)
    rest = int(t_plus)
    for r in range(n, 0, -1):
        if r <= rest:
            signs[r - 1], rest = 1.0, rest - r
    return signs * np.arange(1, n + 1)


def _t_plus(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signed-rank statistic of each run (rows of x, (R, n)) and whether the run is untied
    (no zero, no equal magnitudes): only then does the p-value depend on T+ alone."""
    ranks = st.rankdata(np.abs(x), axis=1)  # (R, n)
    s = np.sort(np.abs(x), axis=1)
    clean = (np.diff(s, axis=1) > 0).all(axis=1) & (s[:, 0] > 0)
    return np.rint((ranks * (x > 0)).sum(axis=1)).astype(np.int64), clean


class _SignedRankP:
    """signed_rank_p of untied data of size n, looked up by T+ (computed once per value)."""

    def __init__(self):
        self.cache: dict[tuple, float] = {}

    def __call__(self, x: np.ndarray, alternative: str) -> np.ndarray:
        t, clean = _t_plus(x)
        out = np.empty(x.shape[0])
        n = x.shape[1]
        for i in range(x.shape[0]):
            if not clean[i]:
                out[i] = signed_rank_p(x[i], alternative)
                continue
            key = (n, int(t[i]), alternative)
            if key not in self.cache:
                self.cache[key] = signed_rank_p(_representative(t[i], n), alternative)
            out[i] = self.cache[key]
        return out


_SRP = _SignedRankP()


def _codes_from_p(p: np.ndarray, p_opp: np.ndarray, alpha: float) -> np.ndarray:
    """The verdict rule (p < alpha, else p_opp < alpha) over arrays: +1 where p < alpha, else -1 where p_opp < alpha, else 0."""
    return np.where(p < alpha, 1, np.where(p_opp < alpha, -1, 0))


def _by_count(k: np.ndarray, decide_k: Callable[[int], tuple]) -> tuple:
    """Apply decide_k(k) -> (verdict, low, high) once per distinct k; map back to the runs."""
    uniq, inv = np.unique(k, return_inverse=True)
    table = [decide_k(int(u)) for u in uniq]
    code = np.array([CODE[v] for v, _, _ in table])[inv]
    low = np.array([lo for _, lo, _ in table])[inv]
    high = np.array([hi for _, _, hi in table])[inv]
    return code, low, high


# ------------------------------------------------------------------------------------------
# the rules


def _normal(rng, runs, n, mean):
    return rng.normal(mean, 1.0, size=(runs, n))  # (R, n)


def _decide_proportion(flags, alpha, intervals=True):
    n = flags.shape[1]

    def one(k):
        ev = proportion(np.arange(n) < k, threshold=0.5, alpha=alpha)
        return ev.verdict, ev.interval[0], ev.interval[1]

    code, lo, hi = _by_count(flags.sum(axis=1), one)
    return {"verdict": code, "low": lo, "high": hi, "seeds": np.full(flags.shape[0], n)}


def _decide_sign(d, alpha, intervals=True):
    n = d.shape[1]

    def one(k):
        ev = paired(np.where(np.arange(n) < k, 1.0, -1.0), np.zeros(n), test="sign", alpha=alpha)
        return ev.verdict, ev.interval[0], ev.interval[1]

    code, lo, hi = _by_count((d > 0).sum(axis=1), one)  # continuous d: no ties
    return {"verdict": code, "low": lo, "high": hi, "seeds": np.full(d.shape[0], d.shape[1])}


def _decide_wilcoxon(x, alpha, intervals=True, interval_fn=None):
    code = _codes_from_p(_SRP(x, "greater"), _SRP(x, "less"), alpha)
    out = {"verdict": code, "seeds": np.full(x.shape[0], x.shape[1]), "low": None, "high": None}
    if intervals:
        bounds = np.array([interval_fn(row) for row in x])  # (R, 2)
        out["low"], out["high"] = bounds[:, 0], bounds[:, 1]
    return out


def _decide_paired(d, alpha, intervals=True):
    return _decide_wilcoxon(d, alpha, intervals,
                            lambda row: hodges_lehmann(row, alpha, "greater")[1:])


def _decide_location(v, alpha, intervals=True):
    return _decide_wilcoxon(v, alpha, intervals,
                            lambda row: median_interval(row, alpha, "greater"))


def _decide_equivalence(d, alpha, intervals=True, margin=1.0):
    p_lower, p_upper = _SRP(d + margin, "greater"), _SRP(d - margin, "less")
    p_out = np.minimum(1.0, 2 * np.minimum(_SRP(d - margin, "greater"), _SRP(d + margin, "less")))
    code = np.where(np.maximum(p_lower, p_upper) < alpha, 1, np.where(p_out < alpha, -1, 0))
    out = {"verdict": code, "seeds": np.full(d.shape[0], d.shape[1]), "low": None, "high": None}
    if intervals:
        bounds = np.array([hodges_lehmann(row, 2 * alpha, "two-sided")[1:] for row in d])
        out["low"], out["high"] = bounds[:, 0], bounds[:, 1]
    return out


def _trend_table(rng, runs, n, beta, k=4):
    j = np.arange(k)
    return beta * j + rng.normal(size=(runs, n, 1)) + rng.normal(size=(runs, n, k))  # (R, n, K)


def _decide_trend(tables, alpha, intervals=True):
    runs, n, k = tables.shape
    l_stat = np.rint((st.rankdata(tables, axis=-1) * np.arange(1, k + 1)).sum(axis=(1, 2)))
    uniq, first, inv = np.unique(l_stat, return_index=True, return_inverse=True)
    # Page's p depends on the table only through L (untied rows): decide one run per L value
    codes = np.array([CODE[page_verdict(tables[i], alpha, "increasing")]
                      for i in first])
    out = {"verdict": codes[inv], "seeds": np.full(runs, n), "low": None, "high": None}
    if intervals:
        out["low"] = np.array([page_shift(t, alpha)[1] for t in tables])  # as stats.trend
        out["high"] = np.full(runs, np.inf)
    return out


def _decide_sequential(flags, alpha, intervals=True):
    res = scan(flags, None, threshold=0.5, alpha=alpha, alternative="greater")
    out = {"verdict": res["verdict"], "seeds": res["stop"], "low": None, "high": None}
    if intervals:
        out["low"], out["high"] = confidence_sequence(
            res["k"], res["t"], alpha=alpha, alternative="greater")
    return out


DELTA = 0.75


def _rules() -> list[Rule]:
    def level(alpha):
        return 1 - alpha

    return [
        Rule("proportion", "p = 0.5 (H0: p <= 0.5)", "p = 0.8", "p", 0.8, level,
             lambda rng, r, n, null: rng.random((r, n)) < (0.5 if null else 0.8),
             _decide_proportion),
        Rule("paired-wilcoxon", "d ~ N(0, 1)", f"d ~ N({DELTA}, 1)", "pseudo-median", DELTA,
             level, lambda rng, r, n, null: _normal(rng, r, n, 0.0 if null else DELTA),
             _decide_paired),
        Rule("paired-sign", "P(d > 0) = 0.5", f"d ~ N({DELTA}, 1)", "P(d > 0)",
             float(st.norm.cdf(DELTA)), level,
             lambda rng, r, n, null: _normal(rng, r, n, 0.0 if null else DELTA), _decide_sign),
        Rule("location", "v ~ N(0, 1) vs 0", f"v ~ N({DELTA}, 1)", "median", DELTA, level,
             lambda rng, r, n, null: _normal(rng, r, n, 0.0 if null else DELTA),
             _decide_location),
        Rule("trend", "beta = 0, K = 4", "beta = 0.5", "change per step", 0.5, level,
             lambda rng, r, n, null: _trend_table(rng, r, n, 0.0 if null else 0.5),
             _decide_trend),
        Rule("equivalence", "d ~ N(1, 1), margin 1", "d ~ N(0, 1)", "pseudo-median", 0.0,
             lambda a: 1 - 2 * a,
             lambda rng, r, n, null: _normal(rng, r, n, 1.0 if null else 0.0),
             _decide_equivalence),
        Rule("seq-proportion", "p = 0.5 (H0: p <= 0.5)", "p = 0.8", "p", 0.8, level,
             lambda rng, r, n, null: rng.random((r, n)) < (0.5 if null else 0.8),
             _decide_sequential),
        Rule("seq-sign", "P(d > 0) = 0.5", f"d ~ N({DELTA}, 1)", "P(d > 0)",
             float(st.norm.cdf(DELTA)), level,
             lambda rng, r, n, null: _normal(rng, r, n, 0.0 if null else DELTA) > 0,
             _decide_sequential),
    ]


RULES = tuple(r.name for r in _rules())


# ------------------------------------------------------------------------------------------
# running


def _mc(x: int, runs: int) -> tuple[float, float]:
    ci = st.binomtest(int(x), runs).proportion_ci(confidence_level=MC_LEVEL, method="exact")
    return float(ci.low), float(ci.high)


def calibrate_rule(rule: Rule, *, n: int, runs: int, alpha: float, seed: int = 0) -> dict:
    """Simulate one rule at n seeds: `runs` null runs and `runs` alternative runs. Returns the
    JSON record (see the module docstring); deterministic for a given seed."""
    started = time.perf_counter()
    key = [int(seed), zlib.crc32(rule.name.encode()), int(n)]
    null = rule.decide(rule.simulate(np.random.default_rng(key + [0]), runs, n, True), alpha,
                       intervals=False)
    alt = rule.decide(rule.simulate(np.random.default_rng(key + [1]), runs, n, False), alpha)
    truth = rule.truth
    x1 = int((null["verdict"] == 1).sum())
    xp = int((alt["verdict"] == 1).sum())
    xc = int(((alt["low"] <= truth) & (truth <= alt["high"])).sum())
    nominal = rule.nominal(alpha)
    rec = {
        "rule": rule.name, "n": int(n), "alpha": float(alpha), "runs": int(runs),
        "null": rule.null, "effect": rule.effect, "parameter": rule.parameter,
        "truth": round(float(truth), 6),
        "type1": x1 / runs, "type1_low": _mc(x1, runs)[0], "type1_high": _mc(x1, runs)[1],
        "nominal": nominal,
        "coverage": xc / runs, "coverage_low": _mc(xc, runs)[0], "coverage_high": _mc(xc, runs)[1],
        "power": xp / runs, "power_low": _mc(xp, runs)[0], "power_high": _mc(xp, runs)[1],
        "mean_seeds": float(np.mean(alt["seeds"])),
        "mean_seeds_null": float(np.mean(null["seeds"])),
    }
    rec["type1_ok"] = bool(rec["type1_low"] <= alpha)
    rec["coverage_ok"] = bool(rec["coverage"] >= nominal - COVERAGE_SLACK)
    rec["seconds"] = round(time.perf_counter() - started, 2)
    return rec


def calibrate(
    *,
    runs: int = 2000,
    alpha: float = 0.01,
    ns: Sequence[int] = NS,
    rules: Sequence[str] | None = None,
    seed: int = 0,
    progress: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Calibrate the named rules (default: all of RULES) at each seed count in ns."""
    if int(runs) < 1:
        raise ValueError(f"runs: got {runs}; need >= 1 simulated run per case")
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha: got {alpha}; need 0 < alpha < 0.5")
    if not ns or any(int(n) < 2 for n in ns):
        raise ValueError(f"n: got {list(ns)}; need seed counts >= 2")
    chosen = list(RULES) if rules is None else list(rules)
    unknown = [r for r in chosen if r not in RULES]
    if unknown:
        raise ValueError(f"rules: unknown {', '.join(unknown)}; allowed: {', '.join(RULES)}")
    out = []
    for rule in _rules():
        if rule.name not in chosen:
            continue
        for n in ns:
            rec = calibrate_rule(rule, n=int(n), runs=int(runs), alpha=alpha, seed=seed)
            out.append(rec)
            if progress:
                progress(rec)
    return out


def render(records: list[dict]) -> str:
    """The records as a table (tabulate), one line per rule and n, then the checks."""
    rows = []
    for r in records:
        rows.append({
            "rule": r["rule"], "n": r["n"], "alpha": r["alpha"],
            "type-I [95% MC]": f"{r['type1']:.4f} [{r['type1_low']:.4f}, {r['type1_high']:.4f}]",
            "coverage (nominal)": f"{r['coverage']:.4f} ({r['nominal']:.2f})",
            "power": f"{r['power']:.3f}",
            "at": r["effect"],
            "mean seeds": f"{r['mean_seeds']:.1f}",
            "ok": "yes" if r["type1_ok"] and r["coverage_ok"] else "NO",
        })
    lines = [tabulate(rows, headers="keys", tablefmt="simple")]
    misses = [r for r in records if not (r["type1_ok"] and r["coverage_ok"])]
    for r in misses:
        what = []
        if not r["type1_ok"]:
            what.append(f"type-I {r['type1']:.4f} > alpha {r['alpha']} beyond MC error")
        if not r["coverage_ok"]:
            what.append(f"coverage {r['coverage']:.4f} < nominal {r['nominal']:.2f} - "
                        f"{COVERAGE_SLACK:g}")
        lines.append(f"MISS {r['rule']} n={r['n']}: " + "; ".join(what))
    if records and not misses:
        lines.append(f"all {len(records)} cases: type-I <= alpha within MC error, coverage >= "
                     f"nominal - {COVERAGE_SLACK * 100:g} pp")
    return "\n".join(lines)


def write_json(records: list[dict], path) -> None:
    atomic_write(path, json.dumps(records, indent=1, sort_keys=True, allow_nan=False) + "\n")


__all__ = ["NS", "RULES", "calibrate", "calibrate_rule", "render", "write_json"]


def run_cli(args) -> int:
    """`python -m lowdim calibrate`: print each case as it finishes, then the table."""
    def progress(rec):
        print(f"  {rec['rule']:<16} n={rec['n']:<4} {rec['seconds']:6.1f} s", file=sys.stderr,
              flush=True)

    started = time.perf_counter()
    records = calibrate(runs=args.runs, alpha=args.alpha, ns=args.n, rules=args.rules,
                        seed=args.seed, progress=progress)
    print(render(records))
    print(f"{len(records)} cases, {args.runs} runs each under the null and the alternative, "
          f"{time.perf_counter() - started:.0f} s")
    if args.json:
        write_json(records, args.json)
        print(f"wrote {args.json}")
    missed = any(not (r["type1_ok"] and r["coverage_ok"]) for r in records)
    return 1 if missed and args.strict else 0
