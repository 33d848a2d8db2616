"""How firm is a verdict, and how many seeds would settle an open one.

fragility(evidence)       for any row: how far p sits from alpha, and the fewest seeds whose
                          outcome, reversed, changes the verdict
seeds_to_decide(evidence) for an INCONCLUSIVE row: the seed count at which the observed effect
                          would be decided with probability >= 80%
row_figures(evidence)     both, as plain JSON values, for a report row

Both work from what an Evidence already holds (per-seed values, test, alternative, threshold,
alpha; the sign test's counts and the trend's table in details) and re-decide with the library's
own tests (lowdim.stats), so the figures describe exactly the decision that was made.
Deterministic: resampling uses a fixed stream (`seed`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import stats as st

from ._core import (
    Evidence,
    Verdict,
    _decide,
    binomial_ps,
    page_ps,
    signed_rank_p,
    signed_rank_ps,
    tost_ps,
)

POWER = 0.8  # the probability of a decision that `seeds_to_decide` asks for
MAX_SEEDS = 1024  # the largest seed count it considers
N_BOOT = 400  # resamples per seed count for the rank tests

KINDS = {  # Evidence.rule -> how this module moves and resamples its seeds
    "proportion": "proportion",
    "sign": "sign",
    "wilcoxon": "wilcoxon",
    "location": "wilcoxon",  # the same signed-rank test, of values - threshold
    "equivalence": "tost",
    "trend": "page",
    "seq-proportion": "sequential",
    "seq-sign": "sequential",
}
MOVES = {
    "proportion": "flip one seed's flag",
    "sign": "reverse one untied pair's sign",
    "wilcoxon": "reflect one seed's value about the threshold (x - t -> t - x)",
    "tost": "reflect one seed's difference about the margin its one-sided test is against",
    "page": "reverse one seed's order of conditions",
}


def _as_evidence(evidence: Evidence | dict) -> Evidence:
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
    ev = _as_evidence(evidence)
    p = ev.p_opposite if ev.verdict is Verdict.REFUTED else ev.p
    if p is None or math.isnan(p):
        return None
    return math.log10(max(p, 1e-300) / ev.alpha)


# ------------------------------------------------------------------------------------------
# fragility: the fewest seeds to reverse


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


def _binomial_verdict(k: int, m: int, p0: float, alpha: float, alternative: str) -> Verdict:
    """The verdict proportion() (and paired(test='sign') with p0 = 1/2 on m untied pairs) gives
    for k successes in m trials: the same scipy test and decision, without the interval."""
    if m == 0:
        return Verdict.INCONCLUSIVE
    return _decide(*binomial_ps(k, m, p0, alternative), alpha)


def _fragility_counts(ev: Evidence, k: int, m: int, p0: float):
    def at(kk: int) -> Verdict:
        return _binomial_verdict(kk, m, p0, ev.alpha, ev.alternative)

    n_up, n_down = _paths_of_counts(k, m - k, k, m * p0, ev.alternative == "two-sided",
                                    ev.verdict is Verdict.SUPPORTED)
    return [_first_change(ev.verdict, n_up, lambda j: at(k + j), True),
            _first_change(ev.verdict, n_down, lambda j: at(k - j), True)]


def _fragility_proportion(ev: Evidence):
    f = np.asarray(ev.values) > 0.5
    return _fragility_counts(ev, int(f.sum()), f.size, ev.threshold)


def _fragility_sign(ev: Evidence):
    pos, neg = int(ev.details["n_pos"]), int(ev.details["n_neg"])
    return _fragility_counts(ev, pos, pos + neg, 0.5)  # ties stay ties: m = untied pairs


def _wilcoxon_verdict(x: np.ndarray, alpha: float, alternative: str) -> Verdict:
    """The verdict paired(test='wilcoxon') / location give for x = values - threshold."""
    return _decide(*signed_rank_ps(x, alternative), alpha)


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


def _fragility_wilcoxon(ev: Evidence):
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
        return _wilcoxon_verdict(y, ev.alpha, ev.alternative)

    return [_first_change(ev.verdict, n_up, lambda j: verdict(at_up(j)), True),
            _first_change(ev.verdict, n_down, lambda j: verdict(at_down(j)), True)]


def _tost_verdict(d: np.ndarray, margin: float, alpha: float) -> Verdict:
    """The verdict equivalence() gives for differences d (its tests, without its interval)."""
    p, _, _, p_out = tost_ps(d, margin)
    return _decide(p, p_out, alpha)


def _fragility_tost(ev: Evidence):
    d, m = np.asarray(ev.values, dtype=np.float64), ev.threshold

    def verdict(y):
        return _tost_verdict(y, m, ev.alpha)

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


def _page_verdict(table: np.ndarray, alpha: float, alternative: str) -> Verdict:
    """The verdict stats.trend gives for this table."""
    return _decide(*page_ps(table if alternative == "increasing" else table[:, ::-1]), alpha)


def _fragility_page(ev: Evidence):
    table = np.asarray(ev.details["table"], dtype=np.float64)  # (S, K)
    # (S,) each seed's Spearman rho in the claim's orientation (older evidence: the values)
    rho = np.asarray(ev.details.get("rho", ev.values), dtype=np.float64)
    up, down = _by_magnitude(rho, rho < 0), _by_magnitude(rho, rho > 0)

    def at(order):
        def f(j):
            t = table.copy()
            t[order[:j]] = t[order[:j], ::-1]
            return _page_verdict(t, ev.alpha, ev.alternative)
        return f

    return [_first_change(ev.verdict, up.size, at(up), True),
            _first_change(ev.verdict, down.size, at(down), True)]


FRAGILITY = {
    "proportion": _fragility_proportion,
    "sign": _fragility_sign,
    "wilcoxon": _fragility_wilcoxon,
    "tost": _fragility_tost,
    "page": _fragility_page,
}


def _finite_values(ev: Evidence) -> bool:
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
    ev = _as_evidence(evidence)
    kind = kind_of(ev)
    out = {"log10_p_alpha": log10_p_alpha(ev), "flips": None, "flips_to": None,
           "move": MOVES.get(kind or "", None)}
    if kind not in FRAGILITY or not _finite_values(ev):
        return out
    if kind == "sign" and not {"n_pos", "n_neg", "n_tied"} <= set(ev.details):
        return out
    if kind == "page" and "table" not in ev.details:
        return out
    found = [c for c in FRAGILITY[kind](ev) if c is not None]
    if found:
        j, v = min(found, key=lambda c: c[0])
        out.update(flips=int(j), flips_to=v.value)
    return out


# ------------------------------------------------------------------------------------------
# seeds to decide: power at the observed effect


def _binomial_reject(mm: np.ndarray, p0: float, rate: float, alpha: float,
                     side: str) -> np.ndarray:
    """P(the exact one-sided binomial test rejects at alpha) with mm (array) trials at `rate`.
    side 'greater': reject when P0(X >= k) < alpha; 'less': when P0(X <= k) < alpha."""
    mm = np.asarray(mm)
    if side == "greater":
        k_crit = st.binom.isf(alpha, mm, p0)  # smallest k with P0(X > k) <= alpha
        return np.nan_to_num(st.binom.sf(k_crit, mm, rate))  # P(X >= k_crit + 1)
    k_crit = st.binom.ppf(alpha, mm, p0) - 1  # largest k with P0(X <= k) < alpha
    return np.nan_to_num(st.binom.cdf(k_crit, mm, rate))


def _smallest_n(power_at: Callable[[int], float], n0: int, cap: int, target: float):
    """Smallest n in [n0, cap] with power_at(n) >= target along a doubling search from n0
    followed by bisection of the last doubling step (power grows with n up to Monte-Carlo
    noise and the sawtooth of discrete tests). Returns (n or None, power there or at cap)."""
    cache: dict[int, float] = {}

    def pw(n):
        if n not in cache:
            cache[n] = float(power_at(n))
        return cache[n]

    if pw(n0) >= target:
        return n0, pw(n0)
    lo = n0
    while True:
        if lo >= cap:
            return None, pw(lo)
        hi = min(2 * lo, cap)
        if pw(hi) >= target:
            break
        lo = hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if pw(mid) >= target:
            hi = mid
        else:
            lo = mid
    return hi, pw(hi)


def _z_signed_rank(counts: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Normal-approximation z of the signed-rank statistic (zeros dropped, tie-corrected
    variance, as scipy.stats.wilcoxon(method='approx')) for resamples given as counts.

    counts: (B, n) how often each observed seed enters each resample; x: (n,) observed
    values - boundary. Seeds with equal |x| tie; a resample's midranks follow from the counts.
    Returns z: (B,), positive when x tends to be > 0."""
    nz = x != 0
    absx, sign = np.abs(x[nz]), np.sign(x[nz])
    levels, group = np.unique(absx, return_inverse=True)  # groups by |x|, ascending
    c = counts[:, nz].astype(np.float64)  # (B, n_nz)
    if levels.size == absx.size:  # no ties among the observed |x|: a group is a seed
        order = np.argsort(absx, kind="stable")
        g, pos = c[:, order], (c * (sign > 0))[:, order]  # (B, G)
    else:
        onehot = np.zeros((absx.size, levels.size))
        onehot[np.arange(absx.size), group] = 1.0
        g = c @ onehot  # (B, G) seeds per |x| level
        pos = (c * (sign > 0)) @ onehot  # (B, G) positive seeds per level
    midrank = np.cumsum(g, axis=1) - (g - 1) / 2  # (B, G)
    t_plus = (pos * midrank).sum(axis=1)  # (B,)
    n = g.sum(axis=1)
    var = n * (n + 1) * (2 * n + 1) / 24 - (g**3 - g).sum(axis=1) / 48
    sd = np.sqrt(np.maximum(var, 0.0))
    return np.divide(t_plus - n * (n + 1) / 4, sd, out=np.zeros_like(sd), where=sd > 0)


def _decision_share(z_claim: np.ndarray, alpha: float, target: Verdict, two_sided: bool):
    """Share of resamples decided as `target`, from the z of the claim's direction."""
    if two_sided:
        return float(np.mean(2 * st.norm.sf(np.abs(z_claim)) < alpha))
    if target is Verdict.SUPPORTED:
        return float(np.mean(st.norm.sf(z_claim) < alpha))
    return float(np.mean(st.norm.cdf(z_claim) < alpha))


def seeds_to_decide(
    evidence: Evidence | dict,
    *,
    power: float = POWER,
    max_seeds: int = MAX_SEEDS,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> dict | None:
    """For an INCONCLUSIVE row: the smallest seed count n' >= n at which the rule would decide in
    the direction of the observed effect with probability >= `power` (SUPPORTED when the
    estimate leans the claim's way, REFUTED when it leans the other way; two-sided: SUPPORTED),
    if the per-seed effect were exactly what was observed. None for decided rows, sequential
    scans and unknown rules.

    proportion  exact binomial power at the observed rate k/n, for every n' (the exact smallest)
    sign        the same without ties; with ties, exact power at the observed P(a - b > margin)
                and tie rate (a binomial mixture over the number of untied seeds)
    Wilcoxon, TOST, Page's L
                `n_boot` bootstrap resamples of n' seeds from the observed ones (a fixed stream
                from `seed`), each decided with the test's normal approximation (tie-corrected;
                exact tests at small n are slightly more conservative)
    Two-sided rules are approximated by the one-sided test at alpha / 2 on the observed side.
    n' is searched by doubling from n up to `max_seeds`, then bisecting the last step: up to
    Monte-Carlo noise and the sawtooth of discrete tests it is the smallest such n'.

    Returns plain values: seeds (n', or None when even max_seeds does not reach `power`),
    toward (the verdict aimed at), power (at n', or at max_seeds), target_power, max_seeds,
    method.
    """
    ev = _as_evidence(evidence)
    if not 0 < power < 1:
        raise ValueError(f"power: got {power}; need a probability strictly between 0 and 1")
    if int(max_seeds) < 1:
        raise ValueError(f"max_seeds: got {max_seeds}; need >= 1")
    kind = kind_of(ev)
    if ev.verdict is not Verdict.INCONCLUSIVE or kind in (None, "sequential"):
        return None
    if not _finite_values(ev):
        return None
    n0, cap = int(ev.n), max(int(max_seeds), int(ev.n))
    alpha, alt = ev.alpha, ev.alternative
    two_sided = alt == "two-sided"
    a_side = alpha / 2 if two_sided else alpha

    def result(found, toward, method):
        n_found, pw = found
        return {"seeds": n_found, "toward": toward.value, "power": round(pw, 4),
                "target_power": power, "max_seeds": cap, "method": method}

    if kind in ("proportion", "sign"):
        if kind == "proportion":
            k, m, tie = float(np.sum(np.asarray(ev.values) > 0.5)), float(ev.n), 0.0
            p0 = ev.threshold
        else:
            k, m = float(ev.details["n_pos"]), float(ev.details["n_pos"] + ev.details["n_neg"])
            tie, p0 = float(ev.details["n_tied"]) / ev.n, 0.5
        if m == 0:
            return None
        rate = k / m
        if rate == p0:
            return None
        side = "greater" if rate > p0 else "less"
        toward = (Verdict.SUPPORTED if two_sided or side == alt else Verdict.REFUTED)
        mm = np.arange(cap + 1)
        reject = _binomial_reject(mm, p0, rate, a_side, side)  # (cap + 1,) given mm trials
        if tie == 0:  # every seed is a trial: the binomial answer, exact for every n
            hit = np.nonzero(reject[n0:] >= power)[0]
            found = ((n0 + int(hit[0]), float(reject[n0 + hit[0]])) if hit.size
                     else (None, float(reject[-1])))
            return result(found, toward, f"exact {'binomial' if kind == 'proportion' else 'sign-test'}"
                                         " power at the observed rate")

        def power_at(n):  # the untied pairs among n seeds are Binomial(n, 1 - tie)
            return float(np.sum(st.binom.pmf(mm[: n + 1], n, 1 - tie) * reject[: n + 1]))
        return result(_smallest_n(power_at, n0, cap, power), toward,
                      "exact sign-test power at the observed P(a > b) and tie rate")

    x = np.asarray(ev.values, dtype=np.float64)
    n_obs = x.size

    def resample(n):  # (B, n_obs): how often each seed is drawn; the same stream at every n
        idx = np.random.default_rng(seed).integers(0, n_obs, size=(n_boot, n))  # (B, n)
        idx += np.arange(n_boot)[:, None] * n_obs
        return np.bincount(idx.ravel(), minlength=n_boot * n_obs).reshape(n_boot, n_obs)

    method = f"bootstrap of the observed seeds ({n_boot} resamples), normal approximation"
    if kind == "wilcoxon":
        xs = x - ev.threshold
        z_obs = float(_z_signed_rank(np.ones((1, n_obs)), xs)[0])
        if z_obs == 0:
            return None
        claim_sign = -1.0 if alt == "less" else 1.0
        toward = (Verdict.SUPPORTED if two_sided or z_obs * claim_sign > 0 else Verdict.REFUTED)

        def power_at(n):
            z = claim_sign * _z_signed_rank(resample(n), xs)
            return _decision_share(z, a_side, toward, two_sided)
        return result(_smallest_n(power_at, n0, cap, power), toward, method)

    if kind == "tost":
        m = ev.threshold
        inside = abs(ev.estimate) < m
        toward = Verdict.SUPPORTED if inside else Verdict.REFUTED

        def power_at(n):
            c = resample(n)
            z_low, z_high = _z_signed_rank(c, x + m), _z_signed_rank(c, x - m)
            if inside:  # both one-sided tests: d > -m and d < m
                return float(np.mean((st.norm.sf(z_low) < alpha) & (st.norm.cdf(z_high) < alpha)))
            p_out = 2 * np.minimum(st.norm.sf(z_high), st.norm.cdf(z_low))
            return float(np.mean(p_out < alpha))
        return result(_smallest_n(power_at, n0, cap, power), toward, method)

    # Page's L: L = sum over seeds of sum_j j * rank_j, normal approximation
    table = np.asarray(ev.details["table"], dtype=np.float64)  # (S, K)
    up = table if alt == "increasing" else table[:, ::-1]
    k_cond = up.shape[1]
    l_seed = (st.rankdata(up, axis=1) * np.arange(1, k_cond + 1)).sum(axis=1)  # (S,)

    def z_page(c):
        n = c.sum(axis=1)
        mean = n * k_cond * (k_cond + 1) ** 2 / 4
        sd = np.sqrt(n * k_cond**2 * (k_cond + 1) * (k_cond**2 - 1) / 144)
        return (c @ l_seed - mean) / sd

    z_obs = float(z_page(np.ones((1, n_obs)))[0])
    if z_obs == 0:
        return None
    toward = Verdict.SUPPORTED if z_obs > 0 else Verdict.REFUTED
    return result(_smallest_n(lambda n: _decision_share(z_page(resample(n)), alpha, toward,
                                                        False), n0, cap, power), toward, method)


def row_figures(evidence: dict | Evidence) -> dict:
    """The report row's figures: {'fragility': fragility(...), 'seeds_to_decide': ...}.
    A row whose evidence these cannot read gets None for both and the reason."""
    try:
        return {"fragility": fragility(evidence), "seeds_to_decide": seeds_to_decide(evidence)}
    except (ValueError, TypeError, KeyError, IndexError) as e:
        return {"fragility": None, "seeds_to_decide": None,
                "figures_error": f"{type(e).__name__}: {e}"}




def report_cells(row: dict) -> dict:
    """The markdown columns of a report row: 'flips' (seeds to reverse to change the verdict,
    '–' when none would) and 'seeds to decide' (INCONCLUSIVE rows: n' for 80% power at the
    observed effect, '>max' when even the cap falls short)."""
    frag = row.get("fragility") or {}
    s2d = row.get("seeds_to_decide")
    flips = frag.get("flips")
    if s2d is None:
        seeds = "–"
    elif s2d.get("seeds") is None:
        seeds = f">{s2d.get('max_seeds')}"
    else:
        seeds = f"{s2d['seeds']} ({s2d['toward'][:3].lower()})"
    return {"flips": "–" if flips is None else str(flips), "seeds to decide": seeds}


__all__ = ["MAX_SEEDS", "POWER", "fragility", "kind_of", "log10_p_alpha", "report_cells",
           "row_figures", "seeds_to_decide"]
