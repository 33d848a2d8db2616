"""Distribution-free intervals at level 1 - alpha, each the one dual to a test.

clopper_pearson  a binomial proportion: dual to the exact binomial test (proportion, sign test)
hodges_lehmann   the pseudo-median of differences: dual to the Wilcoxon signed-rank test (paired,
                 and equivalence at level 1 - 2 alpha)
median_interval  the median of one arm: order statistics, dual to the sign test (location)
page_shift       the rise per condition step of an (S, K) table: Page's L inverted (trend)

Where the interval is dual to the test that decides, it excludes the null value when the test
rejects (exactly for proportion, the sign test and trend; up to ties for Wilcoxon), so a row's
interval and verdict agree; location decides with Wilcoxon but reports the median's interval.
One-sided alternatives give one-sided intervals (an infinite, 0 or 1 side). Pure functions of
their arrays: lowdim.stats.decide calls them, calibrate checks their coverage by simulation.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as st

from ._pvalues import signed_rank_quantile
from ._validate import as_1d, check_alternative, finite_number


def clopper_pearson(k: int, n: int, alpha: float, alternative: str) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval for a binomial proportion at level 1 - alpha;
    one-sided for 'greater' (lower bound) and 'less' (upper bound)."""
    check_alternative(alternative)
    if not (isinstance(n, (int, np.integer)) and isinstance(k, (int, np.integer))
            and not isinstance(n, bool) and 0 <= k <= n and n >= 1):
        raise ValueError(f"k, n: got k={k!r}, n={n!r}; need integers with 0 <= k <= n, n >= 1")
    if not 0.0 < finite_number(alpha, "alpha") < 1.0:
        raise ValueError(f"alpha: got {alpha}; need 0 < alpha < 1")
    if alternative == "two-sided":
        ci = st.binomtest(k, n).proportion_ci(confidence_level=1 - alpha, method="exact")
        return float(ci.low), float(ci.high)
    lo = 0.0 if k == 0 else float(st.beta.ppf(alpha, k, n - k + 1))
    hi = 1.0 if k == n else float(st.beta.ppf(1 - alpha, k + 1, n - k))
    return (lo, 1.0) if alternative == "greater" else (0.0, hi)


def hodges_lehmann(d: np.ndarray, alpha: float, alternative: str) -> tuple[float, float, float]:
    """Hodges-Lehmann pseudo-median of d and its distribution-free interval (Walsh averages,
    the interval dual to the Wilcoxon signed-rank test), at level 1 - alpha."""
    check_alternative(alternative)
    if not 0.0 < finite_number(alpha, "alpha") < 1.0:
        raise ValueError(f"alpha: got {alpha}; need 0 < alpha < 1")
    d = as_1d(d, "d")
    if np.isnan(d).any():
        raise ValueError(f"d: {int(np.isnan(d).sum())} of {d.size} values are NaN")
    i, j = np.triu_indices(d.size)
    walsh = np.sort((d[i] + d[j]) / 2.0)  # (n(n+1)/2,)
    est = float(np.median(walsh))
    n, m = d.size, walsh.size
    q = alpha if alternative != "two-sided" else alpha / 2
    if n <= 60:
        c = signed_rank_quantile(n, q)  # reject if T+ <= c
    else:
        mu, sd = n * (n + 1) / 4, math.sqrt(n * (n + 1) * (2 * n + 1) / 24)
        c = int(math.floor(mu + st.norm.ppf(q) * sd))
    # The test rejects theta0 when T+(theta0) <= c or >= m - c, T+(theta0) = #{walsh > theta0}:
    # it accepts exactly on [W_(c+1), W_(m-c)] (1-indexed), i.e. walsh[c] .. walsh[m-1-c].
    if c < 0:  # no T+ is extreme enough to reject at this n and alpha
        lo, hi = -math.inf, math.inf
    else:
        lo, hi = float(walsh[c]), float(walsh[m - 1 - c])
    if alternative == "greater":
        hi = math.inf
    elif alternative == "less":
        lo = -math.inf
    return est, lo, hi


def median_interval(values: np.ndarray, alpha: float, alternative: str) -> tuple[float, float]:
    """Distribution-free interval for the median at level 1 - alpha (one-sided when the
    alternative is): order statistics chosen by the binomial distribution, i.e. the interval
    dual to the sign test (scipy.stats.quantile_test). Exact for any continuous distribution,
    conservative with ties. values: (S,), may hold +-inf (diverged seeds under
    nonfinite="fail"): they are order statistics like any other, so a bound lands on +-inf
    exactly when the order statistic it uses is one. When S is too small for the level (e.g.
    S < 7 at alpha = 0.01, one-sided: even all S seeds on one side have probability
    2^-S > alpha) scipy returns nan for that side, reported here as an infinite bound."""
    v = np.asarray(values, dtype=np.float64)
    ci = st.quantile_test(v, q=0.0, p=0.5, alternative=alternative).confidence_interval(1 - alpha)
    lo = -math.inf if math.isnan(ci.low) else float(ci.low)
    hi = math.inf if math.isnan(ci.high) else float(ci.high)
    return lo, hi


def page_shift(up: np.ndarray, alpha: float, reversed_rows=None) -> tuple[float, float, np.ndarray]:
    """Estimate and lower bound at level 1 - alpha of theta, the rise of the (S, K) table's
    values per condition step, by inverting Page's L test (the interval dual to the trend test,
    as Hodges-Lehmann's is to Wilcoxon's).

    Page's test of the rows y_i - theta * (0, 1, ..., K - 1) rejects "no increase" for small
    theta and stops rejecting as theta grows: seed i ranks conditions a < b in the increasing
    order exactly when theta < (y_ib - y_ia) / (b - a), and L = const + sum over seeds and pairs
    a < b of (b - a) [that pair is in increasing order], so L falls in steps at these pairwise
    slopes. The lower bound is the smallest theta at which Page's test (scipy's, the one trend
    decides with) no longer rejects at alpha: bisection over the intervals between sorted
    slopes, one test per interval visited. So the bound lies above 0 exactly when the test
    rejects at theta = 0, i.e. when trend decides SUPPORTED. The estimate is where L meets its
    null mean: the median of the slopes weighted by b - a (a Theil-Sen slope blocked by seed).
    Exact (in the test's level) when each seed's values are a common shift theta * j plus
    errors exchangeable across conditions; otherwise the rise per step that Page's test cannot
    tell from no rise. reversed_rows (S,) bool: seeds that rank the conditions in the reverse
    order at every theta (diverged seeds under nonfinite="fail"): their slopes are -inf.
    Returns (estimate, lower bound, per-seed estimate (S,)); the bound is -inf when even
    theta -> -inf is not rejected (too few seeds for the level). The confidence set is open at
    the bound when the test still rejects there: with tied values (accuracies in steps of
    1/n) many slopes are exactly 0, and a SUPPORTED trend can report the bound 0 itself,
    meaning every shift above 0 is kept and 0 is not.
    """
    s, k = up.shape
    bad = np.zeros(s, bool) if reversed_rows is None else np.asarray(reversed_rows, bool)
    a, b = np.triu_indices(k, 1)  # (P,) pairs a < b
    slopes = (up[:, b] - up[:, a]) / (b - a)  # (S, P)
    slopes[bad] = -np.inf
    # the weights b - a are whole numbers: a weighted median is the median of the slopes
    # repeated b - a times (a < b over at most K(K - 1)/2 pairs, so the copies stay small)
    weighted = np.repeat(slopes, b - a, axis=1)  # (S, sum of weights)
    per_seed, estimate = np.median(weighted, axis=1), float(np.median(weighted))  # (S,), ()
    steps = np.arange(k, dtype=np.float64)  # (K,)
    reverse = steps[::-1] + 1.0  # (K,) K..1

    def p_at(theta: float) -> float:
        z = np.where(bad[:, None], reverse, up - theta * steps)  # (S, K)
        return float(st.page_trend_test(z).pvalue)

    cuts = np.unique(slopes[np.isfinite(slopes)])  # (m,) where some pair's order flips
    if cuts.size == 0:  # every seed reversed: no theta is rejected
        return estimate, -math.inf, per_seed
    # region j = (cuts[j - 1], cuts[j]) with cuts[-1] = -inf, cuts[m] = inf; p rises with j
    inner = (cuts[:-1] + cuts[1:]) / 2.0
    spread = max(float(cuts[-1] - cuts[0]), float(np.abs(cuts).max()), 1.0)
    point = np.concatenate([[cuts[0] - spread], inner, [cuts[-1] + spread]])  # (m + 1,)
    lo, hi = 0, point.size  # the first region whose p > alpha lies in [lo, hi]
    while lo < hi:
        mid = (lo + hi) // 2
        if p_at(float(point[mid])) > alpha:
            hi = mid
        else:
            lo = mid + 1
    bound = -math.inf if lo == 0 else float(cuts[min(lo, cuts.size) - 1])
    return estimate, bound, per_seed


__all__ = ["clopper_pearson", "hodges_lehmann", "median_interval", "page_shift"]
