"""How many seeds would settle an open verdict, and a report row's firmness figures.

fragility(evidence)       for any row: how far p sits from alpha, and the fewest seeds whose
                          outcome, reversed, changes the verdict (lowdim.stats.fragility)
seeds_to_decide(evidence) for an INCONCLUSIVE row: the seed count at which the observed effect
                          would be decided with probability >= 80%
row_figures(evidence)     both, as plain JSON values, for a report row
report_cells(row)         the two markdown columns drawn from them

Both figures work from what an Evidence already holds and re-decide with the library's own
tests, so they describe exactly the decision that was made. seeds_to_decide is a table of small
functions, one per decision rule, looked up on Evidence.rule (never on Evidence.test, a display
string). Deterministic: resampling uses a fixed stream (`seed`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats as st

from .evidence import Evidence, Verdict
from .fragility import as_evidence, finite_values, fragility, kind_of, log10_p_alpha

POWER = 0.8  # the probability of a decision that `seeds_to_decide` asks for
MAX_SEEDS = 1024  # the largest seed count it considers
N_BOOT = 400  # resamples per seed count for the rank tests


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


@dataclass(frozen=True)
class _Ask:
    """What every rule's search shares: the power asked for, the seed range searched, and the
    bootstrap stream of the rank tests."""

    power: float  # the probability of a decision to reach
    n0: int  # the row's own seed count: the search starts here
    cap: int  # ... and ends here (max_seeds, or n0 when that is larger)
    n_boot: int  # resamples per seed count
    seed: int  # the resampling stream

    def answer(self, found: tuple[int | None, float], toward: Verdict, method: str) -> dict:
        n_found, pw = found
        return {"seeds": n_found, "toward": toward.value, "power": round(pw, 4),
                "target_power": self.power, "max_seeds": self.cap, "method": method}

    def search(self, power_at: Callable[[int], float]) -> tuple[int | None, float]:
        return _smallest_n(power_at, self.n0, self.cap, self.power)

    def resample(self, n_obs: int) -> Callable[[int], np.ndarray]:
        """n -> (B, n_obs) counts: how often each observed seed enters each of the n_boot
        resamples of n seeds; the same stream at every n."""
        def counts(n: int) -> np.ndarray:
            idx = np.random.default_rng(self.seed).integers(0, n_obs, size=(self.n_boot, n))
            idx += np.arange(self.n_boot)[:, None] * n_obs  # (B, n), row b offset by b * n_obs
            return np.bincount(idx.ravel(), minlength=self.n_boot * n_obs).reshape(
                self.n_boot, n_obs)
        return counts

    def bootstrap_method(self) -> str:
        return (f"bootstrap of the observed seeds ({self.n_boot} resamples), "
                "normal approximation")


def _alpha_per_side(ev: Evidence) -> float:
    """Two-sided rules are approximated by the one-sided test at alpha / 2 on the observed side."""
    return ev.alpha / 2 if ev.alternative == "two-sided" else ev.alpha


def _counts(ev: Evidence, ask: _Ask, k: float, m: float, tie: float, p0: float,
            test: str) -> dict | None:
    """Exact power of a binomial test with k of m trials successes (rate k / m) and a share
    `tie` of seeds that are no trial, at every seed count from n0 to cap."""
    if m == 0:
        return None
    rate = k / m
    if rate == p0:
        return None
    side = "greater" if rate > p0 else "less"
    two_sided = ev.alternative == "two-sided"
    toward = Verdict.SUPPORTED if two_sided or side == ev.alternative else Verdict.REFUTED
    mm = np.arange(ask.cap + 1)
    reject = _binomial_reject(mm, p0, rate, _alpha_per_side(ev), side)  # (cap + 1,) given mm trials
    if tie == 0:  # every seed is a trial: the binomial answer, exact for every n
        hit = np.nonzero(reject[ask.n0:] >= ask.power)[0]
        found = ((ask.n0 + int(hit[0]), float(reject[ask.n0 + hit[0]])) if hit.size
                 else (None, float(reject[-1])))
        return ask.answer(found, toward, f"exact {test} power at the observed rate")

    def power_at(n):  # the untied pairs among n seeds are Binomial(n, 1 - tie)
        return float(np.sum(st.binom.pmf(mm[: n + 1], n, 1 - tie) * reject[: n + 1]))
    return ask.answer(ask.search(power_at), toward,
                      "exact sign-test power at the observed P(a > b) and tie rate")


def _proportion(ev: Evidence, ask: _Ask) -> dict | None:
    k = float(np.sum(np.asarray(ev.values) > 0.5))
    return _counts(ev, ask, k, float(ev.n), 0.0, ev.threshold, "binomial")


def _sign(ev: Evidence, ask: _Ask) -> dict | None:
    pos, neg, tied = ev.details["n_pos"], ev.details["n_neg"], ev.details["n_tied"]
    return _counts(ev, ask, float(pos), float(pos + neg), float(tied) / ev.n, 0.5, "sign-test")


def _wilcoxon(ev: Evidence, ask: _Ask) -> dict | None:
    """Signed-rank test of values - threshold (paired Wilcoxon and location)."""
    x = np.asarray(ev.values, dtype=np.float64) - ev.threshold  # (S,)
    z_obs = float(_z_signed_rank(np.ones((1, x.size)), x)[0])
    if z_obs == 0:
        return None
    two_sided = ev.alternative == "two-sided"
    claim_sign = -1.0 if ev.alternative == "less" else 1.0
    toward = Verdict.SUPPORTED if two_sided or z_obs * claim_sign > 0 else Verdict.REFUTED
    resample, a_side = ask.resample(x.size), _alpha_per_side(ev)

    def power_at(n):
        z = claim_sign * _z_signed_rank(resample(n), x)
        return _decision_share(z, a_side, toward, two_sided)
    return ask.answer(ask.search(power_at), toward, ask.bootstrap_method())


def _tost(ev: Evidence, ask: _Ask) -> dict | None:
    """Equivalence: both one-sided signed-rank tests inside the margin, or the outer one."""
    x = np.asarray(ev.values, dtype=np.float64)  # (S,) differences
    m, alpha = ev.threshold, ev.alpha
    inside = abs(ev.estimate) < m
    toward = Verdict.SUPPORTED if inside else Verdict.REFUTED
    resample = ask.resample(x.size)

    def power_at(n):
        c = resample(n)
        z_low, z_high = _z_signed_rank(c, x + m), _z_signed_rank(c, x - m)
        if inside:  # both one-sided tests: d > -m and d < m
            return float(np.mean((st.norm.sf(z_low) < alpha) & (st.norm.cdf(z_high) < alpha)))
        p_out = 2 * np.minimum(st.norm.sf(z_high), st.norm.cdf(z_low))
        return float(np.mean(p_out < alpha))
    return ask.answer(ask.search(power_at), toward, ask.bootstrap_method())


def _page(ev: Evidence, ask: _Ask) -> dict | None:
    """Page's L = sum over seeds of sum_j j * rank_j, normal approximation."""
    table = np.asarray(ev.details["table"], dtype=np.float64)  # (S, K)
    up = table if ev.alternative == "increasing" else table[:, ::-1]
    k_cond = up.shape[1]
    l_seed = (st.rankdata(up, axis=1) * np.arange(1, k_cond + 1)).sum(axis=1)  # (S,)

    def z_page(c):  # c: (B, S) counts -> (B,)
        n = c.sum(axis=1)
        mean = n * k_cond * (k_cond + 1) ** 2 / 4
        sd = np.sqrt(n * k_cond**2 * (k_cond + 1) * (k_cond**2 - 1) / 144)
        return (c @ l_seed - mean) / sd

    z_obs = float(z_page(np.ones((1, len(ev.values))))[0])
    if z_obs == 0:
        return None
    toward = Verdict.SUPPORTED if z_obs > 0 else Verdict.REFUTED
    resample = ask.resample(len(ev.values))
    return ask.answer(ask.search(lambda n: _decision_share(z_page(resample(n)), ev.alpha, toward,
                                                           False)),
                      toward, ask.bootstrap_method())


# Evidence.rule -> its power search; the sequential rules have none (a scan already stops when
# its evidence suffices).
SEEDS_TO_DECIDE: dict[str, Callable[[Evidence, _Ask], dict | None]] = {
    "proportion": _proportion,
    "sign": _sign,
    "wilcoxon": _wilcoxon,
    "location": _wilcoxon,  # the same signed-rank test, of values - threshold
    "equivalence": _tost,
    "trend": _page,
}


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
    ev = as_evidence(evidence)
    if not 0 < power < 1:
        raise ValueError(f"power: got {power}; need a probability strictly between 0 and 1")
    if int(max_seeds) < 1:
        raise ValueError(f"max_seeds: got {max_seeds}; need >= 1")
    search = SEEDS_TO_DECIDE.get(ev.rule)
    if ev.verdict is not Verdict.INCONCLUSIVE or search is None or not finite_values(ev):
        return None
    ask = _Ask(power=power, n0=int(ev.n), cap=max(int(max_seeds), int(ev.n)),
               n_boot=n_boot, seed=seed)
    return search(ev, ask)


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


__all__ = ["MAX_SEEDS", "POWER", "SEEDS_TO_DECIDE", "fragility", "kind_of", "log10_p_alpha",
           "report_cells", "row_figures", "seeds_to_decide"]
