"""The p-values of every fixed-n test, each with its opposite direction's, in one place.

Room-internal. The decision functions (lowdim.stats.decide), the what-if verdicts of fragility
and power, and calibrate's shortcuts all call these, so a figure about a decision re-decides with
exactly the test that made it. scipy.stats does the tests; written here is only what it lacks:
the null distribution of the Wilcoxon signed-rank statistic conditional on tied midranks (scipy
falls back to a slow permutation test with ties or zeros, and has no public pmf for it; the
Hodges-Lehmann interval needs its quantiles).
Each *_ps function returns (p of the claimed direction, p of the opposite one), nan for the
opposite of a two-sided test, which has no REFUTED.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as st

OPPOSITE = {"greater": "less", "less": "greater", "two-sided": None}


def signed_rank_pmf(ranks: np.ndarray) -> np.ndarray:
    """Null distribution of the signed-rank statistic for integer ranks (each sign +-1 with
    probability 1/2): pmf[k] = P(sum of the positive ranks = k), by dynamic programming;
    scipy has no public pmf for it (and none conditional on tied midranks)."""
    total = int(ranks.sum())
    counts = np.zeros(total + 1)
    counts[0] = 1.0
    for r in ranks:
        counts[r:] = counts[r:] + counts[: total + 1 - r].copy()
    return counts / 2.0 ** ranks.size


def signed_rank_quantile(n: int, q: float) -> int:
    """Largest c with P(T+ <= c) <= q under H0 for n untied values; -1 if none."""
    cdf = np.cumsum(signed_rank_pmf(np.arange(1, n + 1)))
    below = np.nonzero(cdf <= q)[0]
    return int(below[-1]) if below.size else -1


def signed_rank_p(d: np.ndarray, alternative: str) -> float:
    """Wilcoxon signed-rank p-value of d (zeros dropped, as zero_method="wilcox").

    Up to 60 non-zero values: the exact distribution of T+ conditional on the observed
    midranks (ties included), by dynamic programming over doubled ranks. scipy.stats.wilcoxon
    gives the same p where it is exact, but with ties or zeros it falls back to a permutation
    test that costs seconds per call for n <= 13; beyond 60 values scipy's normal approximation.
    """
    d = np.asarray(d, dtype=np.float64)
    d = d[d != 0]
    n = d.size
    if n == 0:
        return 1.0
    if n > 60:
        return float(st.wilcoxon(d, alternative=alternative, method="approx").pvalue)
    r2 = np.rint(2 * st.rankdata(np.abs(d))).astype(np.int64)  # midranks * 2 are integers
    pmf = signed_rank_pmf(r2)  # P(2 T+ = k)
    t = int(r2[d > 0].sum())
    p_ge, p_le = float(pmf[t:].sum()), float(pmf[: t + 1].sum())
    if alternative == "greater":
        return min(1.0, p_ge)
    if alternative == "less":
        return min(1.0, p_le)
    return min(1.0, 2 * min(p_ge, p_le))


def binomial_ps(k: int, n: int, p0: float, alternative: str) -> tuple[float, float]:
    """Exact binomial test of k successes in n trials against rate p0."""
    opposite = OPPOSITE[alternative]
    p = float(st.binomtest(k, n, p0, alternative=alternative).pvalue)
    return p, (float(st.binomtest(k, n, p0, alternative=opposite).pvalue)
               if opposite else float("nan"))


def signed_rank_ps(d: np.ndarray, alternative: str) -> tuple[float, float]:
    """Wilcoxon signed-rank test of d (values minus the threshold); (1, 1) when every d is 0."""
    if not (d != 0).any():
        return 1.0, 1.0
    opposite = OPPOSITE[alternative]
    return signed_rank_p(d, alternative), (signed_rank_p(d, opposite) if opposite
                                           else float("nan"))


def page_ps(up: np.ndarray) -> tuple[float, float]:
    """Page's L for an increasing order of the (S, K) table's columns, and for the reverse;
    (1, 1) when every seed is tied across all conditions (nothing to rank)."""
    if np.all(up == up[:, :1]):
        return 1.0, 1.0
    return float(st.page_trend_test(up).pvalue), float(st.page_trend_test(up[:, ::-1]).pvalue)


def tost_ps(d: np.ndarray, margin: float) -> tuple[float, float, float, float]:
    """TOST (Wilcoxon) of |pseudo-median(d)| < margin: (p, p_lower, p_upper, p_out), where p is
    the larger one-sided p and p_out the (Bonferroni two-sided) p of lying beyond the margin."""
    p_lower = signed_rank_p(d + margin, "greater")
    p_upper = signed_rank_p(d - margin, "less")
    p_out = min(1.0, 2 * min(signed_rank_p(d - margin, "greater"),
                             signed_rank_p(d + margin, "less")))
    return max(p_lower, p_upper), p_lower, p_upper, p_out


__all__ = ["OPPOSITE", "binomial_ps", "page_ps", "signed_rank_p", "signed_rank_pmf",
           "signed_rank_ps", "signed_rank_quantile", "tost_ps"]
