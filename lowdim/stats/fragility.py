"""How firm a verdict is: how far p sits from alpha, and the fewest seeds that reverse it.

fragility(evidence) works from what an Evidence already holds (per-seed values, alternative,
threshold, alpha; the sign test's counts and the trend's table in details), reverses seeds one
at a time, the most influential first, and re-decides each candidate with the verdict functions
here (binomial_verdict, wilcoxon_verdict, tost_verdict, page_verdict: each decision function's
verdict without its interval, on the same p-value routines as lowdim.stats.decide), so the count
describes exactly the decision that was made; calibrate decides its trend runs with page_verdict. The decision rule is read from Evidence.rule (data), never from
Evidence.test (a display string). Also owns the rule families (KINDS, kind_of), log10_p_alpha
and reading an Evidence or its dict (as_evidence), which lowdim.stats.power shares.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import stats as st

from ._pvalues import binomial_ps, page_ps, signed_rank_p, signed_rank_ps, tost_ps
from ._validate import verdict_of
from .evidence import Evidence, Verdict

KINDS = {  # Evidence.rule -> its family: how fragility moves and power resamples its seeds
    "proportion": "proportion",
    "sign": "sign",
    "wilcoxon": "wilcoxon",
    "location": "wilcoxon",  # the same signed-rank test, of values - threshold
    "equivalence": "tost",
    "trend": "page",
    "seq-proportion": "sequential",
    "seq-sign": "sequential",
}
MOVES = {  # family -> what reversing one seed means
    "proportion": "flip one seed's flag",
    "sign": "reverse one untied pair's sign",
    "wilcoxon": "reflect one seed's value about the threshold (x - t -> t - x)",
    "tost": "reflect one seed's difference about the margin its one-sided test is against",
    "page": "reverse one seed's order of conditions",
}


def as_evidence(evidence: Evidence | dict) -> Evidence:
    if isinstance(evidence, Evidence):
        return evidence
    if isinstance(evidence, dict):
        return Evidence.from_dict(evidence)
    raise TypeError(f"evidence: got {type(evidence).__name__}; pass an Evidence or its to_dict()")


def kind_of(evidence: Evidence) -> str | None:
    """The decision rule behind an Evidence ('proportion', 'sign', 'wilcoxon', 'tost', 'page',
    'sequential'), or None for one this module does not know."""
    return KINDS.get(evidence.rule)


def log10_p_alpha(evidence: Evidence | dict) -> float | None:
    """log10(p / alpha) of the p-value behind the verdict (p_opposite for REFUTED, p otherwise):
    below 0 the decision has |value| orders of magnitude to spare; above 0 (INCONCLUSIVE) p is
    that many orders of magnitude short of alpha. p is floored at 1e-300."""
    ev = as_evidence(evidence)
    p = ev.p_opposite if ev.verdict is Verdict.REFUTED else ev.p
    if p is None or math.isnan(p):
        return None
    return math.log10(max(p, 1e-300) / ev.alpha)



def _first_change(v0: Verdict, steps: int, verdict_at: Callable[[int], Verdict],
                  prefix: bool) -> tuple[int, Verdict] | None:
    """Smallest j in 1..steps with verdict_at(j) != v0, or None. With prefix=True the verdicts
    equal to v0 form a prefix of the path (a score moving monotonically through regions), so
    bisection finds it in log2(steps) calls; otherwise a scan with early exit."""
    if steps < 1:
        return None
    if not prefix:
        for j in range(1, steps + 1):
            v = verdict_at(j)
            if v is not v0:
                return j, v
        return None
    v_end = verdict_at(steps)
    if v_end is v0:
        return None
    lo, hi, v_hi = 0, steps, v_end  # verdict_at(lo) == v0, verdict_at(hi) != v0
    while hi - lo > 1:
        mid = (lo + hi) // 2
        v = verdict_at(mid)
        if v is v0:
            lo = mid
        else:
            hi, v_hi = mid, v
    return hi, v_hi


def _paths_of_counts(score: int, n_up: int, n_down: int, centre: float, two_sided: bool,
                     supported: bool) -> tuple[int, int]:
    """Lengths of the up / down paths of a count-type score; for a two-sided SUPPORTED verdict
    the path towards the null centre stops there (beyond it lies the other rejection tail)."""
    if two_sided and supported:
        if score > centre:
            n_down = min(n_down, int(math.floor(score - centre)))
        else:
            n_up = min(n_up, int(math.floor(centre - score)))
    return n_up, n_down


def binomial_verdict(k: int, m: int, p0: float, alpha: float, alternative: str) -> Verdict:
    """The verdict proportion() (and paired(test='sign') with p0 = 1/2 on m untied pairs) gives
    for k successes in m trials: the same scipy test and decision, without the interval."""
    if m == 0:
        return Verdict.INCONCLUSIVE
    return verdict_of(*binomial_ps(k, m, p0, alternative), alpha)


def _counts(ev: Evidence, k: int, m: int, p0: float):
    def at(kk: int) -> Verdict:
        return binomial_verdict(kk, m, p0, ev.alpha, ev.alternative)

    n_up, n_down = _paths_of_counts(k, m - k, k, m * p0, ev.alternative == "two-sided",
                                    ev.verdict is Verdict.SUPPORTED)
    return [_first_change(ev.verdict, n_up, lambda j: at(k + j), True),
            _first_change(ev.verdict, n_down, lambda j: at(k - j), True)]


def _proportion(ev: Evidence):
    f = np.asarray(ev.values) > 0.5
    return _counts(ev, int(f.sum()), f.size, ev.threshold)


def _sign(ev: Evidence):
    if not {"n_pos", "n_neg", "n_tied"} <= set(ev.details):  # no counts recorded: no path
        return []
    pos, neg = int(ev.details["n_pos"]), int(ev.details["n_neg"])
    return _counts(ev, pos, pos + neg, 0.5)  # ties stay ties: m = untied pairs


def wilcoxon_verdict(x: np.ndarray, alpha: float, alternative: str) -> Verdict:
    """The verdict paired(test='wilcoxon') / location give for x = values - threshold."""
    return verdict_of(*signed_rank_ps(x, alternative), alpha)


def _reflect_path(x: np.ndarray, chosen: np.ndarray) -> Callable[[int], np.ndarray]:
    """x with the first j seeds of `chosen` (indices, most influential first) reflected."""
    def at(j: int) -> np.ndarray:
        y = x.copy()
        y[chosen[:j]] = -y[chosen[:j]]
        return y
    return at


def _by_magnitude(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    idx = np.nonzero(mask)[0]
    return idx[np.argsort(-np.abs(x[idx]), kind="stable")]  # largest |x| first, ties by seed


def _wilcoxon(ev: Evidence):
    x = np.asarray(ev.values, dtype=np.float64) - ev.threshold
    up, down = _by_magnitude(x, x < 0), _by_magnitude(x, x > 0)
    n_up, n_down = up.size, down.size
    if ev.alternative == "two-sided" and ev.verdict is Verdict.SUPPORTED:
        # stop the path towards the centre where T+ passes its null mean
        ranks = st.rankdata(np.abs(x[x != 0]))
        r = dict(zip(np.nonzero(x != 0)[0], ranks))
        t_plus, mean = ranks[x[x != 0] > 0].sum(), ranks.sum() / 2
        moves = down if t_plus > mean else up
        steps = np.cumsum([r[i] for i in moves])
        limit = int(np.searchsorted(steps, abs(t_plus - mean), side="right"))
        n_down, n_up = (limit, n_up) if t_plus > mean else (n_down, limit)
    at_up, at_down = _reflect_path(x, up), _reflect_path(x, down)

    def verdict(y):
        return wilcoxon_verdict(y, ev.alpha, ev.alternative)

    return [_first_change(ev.verdict, n_up, lambda j: verdict(at_up(j)), True),
            _first_change(ev.verdict, n_down, lambda j: verdict(at_down(j)), True)]


def tost_verdict(d: np.ndarray, margin: float, alpha: float) -> Verdict:
    """The verdict equivalence() gives for differences d (its tests, without its interval)."""
    p, _, _, p_out = tost_ps(d, margin)
    return verdict_of(p, p_out, alpha)


def _tost(ev: Evidence):
    d, m = np.asarray(ev.values, dtype=np.float64), ev.threshold

    def verdict(y):
        return tost_verdict(y, m, ev.alpha)

    def path(boundary: float, mask: np.ndarray):
        order = _by_magnitude(d - boundary, mask)

        def at(j):
            y = d.copy()
            y[order[:j]] = 2 * boundary - y[order[:j]]
            return y
        return order.size, at

    if ev.verdict is Verdict.SUPPORTED:  # break either one-sided test: lower (> -m), upper (< m)
        paths = [path(-m, d > -m), path(m, d < m)]
    elif ev.verdict is Verdict.REFUTED:  # undo the outer side that shows it
        p_hi, p_lo = signed_rank_p(d - m, "greater"), signed_rank_p(d + m, "less")
        paths = [path(m, d > m)] if p_hi <= p_lo else [path(-m, d < -m)]
    else:
        return []  # no single-side move leads to equivalence reliably: not defined
    prefix = ev.verdict is Verdict.SUPPORTED  # one p rises, the other falls: a prefix
    return [_first_change(ev.verdict, n, lambda j, at=at: verdict(at(j)), prefix)
            for n, at in paths]


def page_verdict(table: np.ndarray, alpha: float, alternative: str) -> Verdict:
    """The verdict stats.trend gives for this table."""
    return verdict_of(*page_ps(table if alternative == "increasing" else table[:, ::-1]), alpha)


def _page(ev: Evidence):
    if "table" not in ev.details:  # the table was not recorded: nothing to reorder
        return []
    table = np.asarray(ev.details["table"], dtype=np.float64)  # (S, K)
    # (S,) each seed's Spearman rho in the claim's orientation (older evidence: the values)
    rho = np.asarray(ev.details.get("rho", ev.values), dtype=np.float64)
    up, down = _by_magnitude(rho, rho < 0), _by_magnitude(rho, rho > 0)

    def at(order):
        def f(j):
            t = table.copy()
            t[order[:j]] = t[order[:j], ::-1]
            return page_verdict(t, ev.alpha, ev.alternative)
        return f

    return [_first_change(ev.verdict, up.size, at(up), True),
            _first_change(ev.verdict, down.size, at(down), True)]


# Evidence.rule -> its reversal paths: a list of (seeds reversed, verdict reached) or None per
# path; the sequential rules have no such move (a scan's stop depends on the order of seeds).
FRAGILITY: dict[str, Callable[[Evidence], list]] = {
    "proportion": _proportion,
    "sign": _sign,
    "wilcoxon": _wilcoxon,
    "location": _wilcoxon,
    "equivalence": _tost,
    "trend": _page,
}


def finite_values(ev: Evidence) -> bool:
    """Whether the per-seed values can be moved or resampled (none missing or infinite)."""
    return len(ev.values) > 0 and bool(np.isfinite(np.asarray(ev.values, dtype=float)).all())


def fragility(evidence: Evidence | dict) -> dict:
    """How firm the verdict is. Returns plain values:

    log10_p_alpha  log10(p / alpha) of the p behind the verdict (see log10_p_alpha)
    flips          the fewest seeds whose outcome, reversed, changes the verdict; None when no
                   number of such reversals changes it (e.g. too few seeds to ever decide) or
                   the rule has no such move (sequential scans; an INCONCLUSIVE TOST)
    flips_to       the verdict those flips lead to
    move           what reversing one seed means for this rule:
        proportion  a seed's flag flips (True <-> False)
        sign test   an untied pair's sign reverses (ties stay ties)
        Wilcoxon    (paired and location) a seed's x - threshold becomes threshold - x
        TOST        a difference is reflected about the margin of the one-sided test it breaks
        Page's L    a seed's order of conditions is reversed (its ranks k -> K + 1 - k)
    Seeds are reversed greedily, the most influential first: any seed for the counts, the
    largest |x - threshold| (the largest rank) for Wilcoxon, the largest |rho| for Page's L.
    A reflection leaves every rank in place, so for the rank and count tests the greedy count
    is the minimum. Every candidate verdict is recomputed with the library's own test.
    For an INCONCLUSIVE row the count is the smaller of the moves towards SUPPORTED and towards
    REFUTED (flips_to says which); for a two-sided SUPPORTED row, towards the null centre.
    """
    ev = as_evidence(evidence)
    out = {"log10_p_alpha": log10_p_alpha(ev), "flips": None, "flips_to": None,
           "move": MOVES.get(kind_of(ev) or "", None)}
    paths = FRAGILITY.get(ev.rule)
    if paths is None or not finite_values(ev):
        return out
    found = [c for c in paths(ev) if c is not None]
    if found:
        j, v = min(found, key=lambda c: c[0])
        out.update(flips=int(j), flips_to=v.value)
    return out


__all__ = ["FRAGILITY", "KINDS", "MOVES", "as_evidence", "binomial_verdict", "finite_values",
           "fragility", "kind_of", "log10_p_alpha", "page_verdict", "tost_verdict",
           "wilcoxon_verdict"]
