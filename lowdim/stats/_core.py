"""Decisions over seeds: small pure functions, per-seed arrays in, one Evidence out.

Every function states its hypothesis up front (`alternative`, `threshold`, `alpha`) and returns a
frozen Evidence with a point estimate, an interval at level 1 - alpha (one-sided when the test
is), the test's p-value and a verdict:
    SUPPORTED     the claimed direction is shown at alpha
    REFUTED       the opposite direction is shown at alpha (not merely "not supported")
    INCONCLUSIVE  neither
scipy.stats does the tests; only what it lacks (the signed-rank null distribution for the
Hodges-Lehmann interval, the inversion of Page's test for the trend's interval) is written here.

Diverged seeds (a NaN / inf value, or a seed flagged in `diverged=`, e.g. TrainResult.diverged)
are never dropped silently: `nonfinite` says how they enter the decision, and the Evidence
records the policy and their count (details "nonfinite", "n_nonfinite"):
    "raise"    (default) a ValueError naming how many seeds are affected and the two choices
    "fail"     counted against the claim: each takes the least favourable value for the claimed
               direction (a proportion's flag: not having the property for "greater", having it
               for "less"; a location or paired difference: -inf for "greater", +inf for
               "less"; equivalence: +inf or -inf, whichever gives the larger TOST p; a trend:
               the seed ranks the conditions in exactly the opposite order). Needs a direction:
               two-sided tests take "exclude" or "raise".
    "exclude"  dropped before the test (n counts the seeds that remain)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

import numpy as np
from scipy import stats as st

ALTERNATIVES = ("greater", "less", "two-sided")
NONFINITE = ("raise", "fail", "exclude")
# The decision rule behind an Evidence, as data: what lowdim.stats.power, --lowdim-adaptive and
# the report's figures dispatch on (Evidence.test is its display name and may be reworded).
RULES = ("proportion", "wilcoxon", "sign", "location", "trend", "equivalence",
         "seq-proportion", "seq-sign")
Rule = Literal["proportion", "wilcoxon", "sign", "location", "trend", "equivalence",
               "seq-proportion", "seq-sign"]


class Verdict(str, Enum):
    SUPPORTED = "SUPPORTED"
    REFUTED = "REFUTED"
    INCONCLUSIVE = "INCONCLUSIVE"

    def __str__(self) -> str:
        return self.value


def _fmt(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.3g}"


@dataclass(frozen=True)
class Evidence:
    """The outcome of one pre-registered test over seeds.

    statistic    what `estimate` estimates, in words, e.g. "P(acc > 0.9)"
    n            seeds that entered the test
    estimate     point estimate of the statistic
    interval     (low, high) at level 1 - alpha; one-sided tests have an infinite / 0 / 1 side
    test         the test, e.g. "exact binomial, one-sided"
    p            p-value of the claimed direction
    alpha        the level the decision is made at
    threshold    the value the statistic is compared with (null boundary)
    alternative  "greater", "less", "two-sided" (or "increasing"/"decreasing" for trends,
                 "equivalence" for TOST)
    verdict      SUPPORTED / REFUTED / INCONCLUSIVE
    values       per-seed values of the statistic (for re-analysis and plots)
    p_opposite   p-value of the opposite direction (the REFUTED decision); nan if two-sided
    details      extra figures: effect sizes, counts, per-arm values (plain floats / lists)
    rule         the decision rule, one of RULES: proportion (exact binomial), wilcoxon (paired
                 signed-rank), sign (paired sign test), location (signed-rank of one arm against
                 a threshold), trend (Page's L), equivalence (TOST), seq-proportion and seq-sign
                 (anytime-valid); "" for an Evidence built by hand from another rule
    """

    statistic: str
    n: int
    estimate: float
    interval: tuple[float, float]
    test: str
    p: float
    alpha: float
    threshold: float
    alternative: str
    verdict: Verdict
    values: tuple[float, ...] = ()
    p_opposite: float = float("nan")
    details: dict = field(default_factory=dict, compare=False, hash=False)
    rule: str = ""

    def __post_init__(self) -> None:
        if self.rule and self.rule not in RULES:
            raise ValueError(f"rule: got {self.rule!r}; allowed: {', '.join(RULES)} (or '' for "
                             "a rule lowdim does not know)")

    def __repr__(self) -> str:
        lo, hi = self.interval
        if self.alternative == "equivalence":
            hypothesis = f"within +-{_fmt(self.threshold)}"
        else:
            hypothesis = f"vs {_fmt(self.threshold)} ({self.alternative})"
        return (
            f"{self.statistic} = {_fmt(self.estimate)} [{_fmt(lo)}, {_fmt(hi)}], n={self.n}, "
            f"{self.test} {hypothesis}: p={self.p:.3g}, alpha={self.alpha:g}: {self.verdict.value}"
        )

    __str__ = __repr__

    @property
    def supported(self) -> bool:
        return self.verdict is Verdict.SUPPORTED

    def to_dict(self) -> dict:
        """Plain JSON-able Python values only (xdist drops reports holding numpy scalars)."""
        return {
            "statistic": self.statistic,
            "n": int(self.n),
            "estimate": plain(self.estimate),
            "interval": [plain(self.interval[0]), plain(self.interval[1])],
            "test": self.test,
            "p": plain(self.p),
            "p_opposite": plain(self.p_opposite),
            "alpha": float(self.alpha),
            "threshold": plain(self.threshold),
            "alternative": self.alternative,
            "verdict": self.verdict.value,
            "values": [plain(v) for v in self.values],
            "details": plain(self.details),
            "repr": repr(self),
            "rule": self.rule,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Evidence:
        return cls(
            statistic=d["statistic"], n=d["n"], estimate=_num(d["estimate"]),
            interval=(_bound(d["interval"][0], -math.inf), _bound(d["interval"][1], math.inf)),
            test=d["test"],
            p=_num(d["p"]), alpha=d["alpha"], threshold=_num(d["threshold"]),
            alternative=d["alternative"], verdict=Verdict(d["verdict"]),
            values=tuple(_num(v) for v in d.get("values", ())),
            p_opposite=_num(d.get("p_opposite")), details=d.get("details", {}),
            rule=d.get("rule") or "",
        )


def _num(v) -> float:
    return float("nan") if v is None else float(v)


def _bound(v, infinite: float) -> float:
    # to_dict writes an infinite interval side as None (JSON has no inf): a missing lower bound
    # is -inf, a missing upper bound +inf.
    return infinite if v is None else float(v)


def plain(v):
    """numpy / torch scalars and arrays, tuples, dicts -> plain Python; non-finite -> None/str."""
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if hasattr(v, "tolist"):  # numpy arrays and scalars, torch tensors
        return plain(v.tolist())
    if isinstance(v, Enum):
        return v.value
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    return str(v)


# --------------------------------------------------------------------------------------------
# input checks


def _check_alpha(alpha: float) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)):
        raise ValueError(f"alpha: got {_brief(alpha)}; need a number, 0 < alpha < 0.5")
    if not 0.0 < alpha < 0.5:
        raise ValueError(f"alpha: got {alpha}; need 0 < alpha < 0.5 (e.g. 0.01)")
    return float(alpha)


def _check_alternative(alternative: str) -> str:
    if not isinstance(alternative, str) or alternative not in ALTERNATIVES:
        raise ValueError(f"alternative: got {alternative!r}; allowed: {', '.join(ALTERNATIVES)}")
    return alternative


def _brief(v) -> str:
    text = repr(v)
    return f"{type(v).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def _numbers(values, name: str) -> np.ndarray:
    if hasattr(values, "detach"):  # a torch tensor, possibly on a GPU
        values = values.detach().cpu().numpy()
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: got {_brief(values)}; need numbers, one per seed") from None


def _as_1d(values, name: str) -> np.ndarray:
    """(S,) float64, one number per seed; NaN and inf are kept (see `_bad_seeds`)."""
    a = _numbers(values, name)
    if sum(d > 1 for d in a.shape) > 1:
        raise ValueError(f"{name}: got shape {a.shape}; need one value per seed, shape (S,)")
    a = a.reshape(-1)
    if a.size == 0:
        raise ValueError(f"{name}: got no values; need one per seed")
    return a


def _check_nonfinite(nonfinite: str) -> str:
    if not isinstance(nonfinite, str) or nonfinite not in NONFINITE:
        raise ValueError(f"nonfinite: got {nonfinite!r}; allowed: {', '.join(NONFINITE)}")
    return nonfinite


def _as_mask(diverged, n: int) -> np.ndarray:
    if hasattr(diverged, "detach"):
        diverged = diverged.detach().cpu().numpy()
    m = np.asarray(diverged)
    if m.shape != (n,) or m.dtype == object or not np.isin(m, (0, 1)).all():
        raise ValueError(f"diverged: got {_brief(diverged)} of shape {m.shape}; need ({n},) "
                         "booleans, one per seed (e.g. TrainResult.diverged)")
    return m.astype(bool)


def _bad_seeds(n: int, arrays: dict[str, np.ndarray], diverged, nonfinite: str) -> np.ndarray:
    """(S,) bool: seeds with a NaN / inf in any of `arrays` (first axis = seeds) or flagged in
    `diverged`. Under nonfinite="raise" any such seed is a ValueError saying which and how many."""
    bad = np.zeros(n, dtype=bool)
    parts = []
    for name, a in arrays.items():
        nf = ~np.isfinite(a.reshape(n, -1)).all(axis=1)
        if nf.any():
            parts.append(f"{name}: holds NaN or inf in {int(nf.sum())} of {n} rows (seeds)"
                         if a.ndim == 2 else
                         f"{name}: {int(nf.sum())} of {n} values are NaN or infinite")
        bad |= nf
    if diverged is not None:
        flagged = _as_mask(diverged, n)
        if flagged.any():
            parts.append(f"diverged: {int(flagged.sum())} of {n} seeds are flagged")
        bad |= flagged
    if bad.any() and nonfinite == "raise":
        raise ValueError(
            "; ".join(parts) + f" ({int(bad.sum())} diverged seeds in all); decide how they count: "
            "nonfinite='fail' counts them against the claim, nonfinite='exclude' drops them "
            "(the count is reported either way)")
    return bad


def _kept(bad: np.ndarray, minimum: int = 1) -> np.ndarray:
    if (~bad).sum() < minimum:
        raise ValueError(f"nonfinite='exclude': {int(bad.sum())} of {bad.size} seeds diverged, "
                         f"fewer than {minimum} left to test")
    return ~bad


def _against(alternative: str, low: float, high: float) -> float:
    """The least favourable value for the claimed direction (nonfinite="fail")."""
    if alternative not in ("greater", "less"):
        raise ValueError(f"nonfinite='fail' with alternative={alternative!r}: a two-sided test has "
                         "no side to count diverged seeds against; use nonfinite='exclude'")
    return low if alternative == "greater" else high


def _finite_number(x, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name}: got {_brief(x)}; need a finite number")
    if not math.isfinite(x):
        raise ValueError(f"{name}: got {x}; need a finite number")
    return float(x)


def _decide(p: float, p_opp: float, alpha: float) -> Verdict:
    """SUPPORTED when p < alpha, REFUTED when the opposite direction's p is (never for a
    two-sided test, whose p_opp is nan), else INCONCLUSIVE."""
    if p < alpha:
        return Verdict.SUPPORTED
    if p_opp < alpha:
        return Verdict.REFUTED
    return Verdict.INCONCLUSIVE


_OPPOSITE = {"greater": "less", "less": "greater", "two-sided": None}


# The p-values of each test and of its opposite direction (nan when two-sided): the one place
# the decision functions below, and lowdim.power's what-if verdicts, compute them.


def binomial_ps(k: int, n: int, p0: float, alternative: str) -> tuple[float, float]:
    """Exact binomial test of k successes in n trials against rate p0."""
    opposite = _OPPOSITE[alternative]
    p = float(st.binomtest(k, n, p0, alternative=alternative).pvalue)
    return p, (float(st.binomtest(k, n, p0, alternative=opposite).pvalue)
               if opposite else float("nan"))


def signed_rank_ps(d: np.ndarray, alternative: str) -> tuple[float, float]:
    """Wilcoxon signed-rank test of d (values minus the threshold); (1, 1) when every d is 0."""
    if not (d != 0).any():
        return 1.0, 1.0
    opposite = _OPPOSITE[alternative]
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


# --------------------------------------------------------------------------------------------
# proportion of seeds with a property


def clopper_pearson(k: int, n: int, alpha: float, alternative: str) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval for a binomial proportion at level 1 - alpha;
    one-sided for 'greater' (lower bound) and 'less' (upper bound)."""
    _check_alternative(alternative)
    if not (isinstance(n, (int, np.integer)) and isinstance(k, (int, np.integer))
            and not isinstance(n, bool) and 0 <= k <= n and n >= 1):
        raise ValueError(f"k, n: got k={k!r}, n={n!r}; need integers with 0 <= k <= n, n >= 1")
    if not 0.0 < _finite_number(alpha, "alpha") < 1.0:
        raise ValueError(f"alpha: got {alpha}; need 0 < alpha < 1")
    if alternative == "two-sided":
        ci = st.binomtest(k, n).proportion_ci(confidence_level=1 - alpha, method="exact")
        return float(ci.low), float(ci.high)
    lo = 0.0 if k == 0 else float(st.beta.ppf(alpha, k, n - k + 1))
    hi = 1.0 if k == n else float(st.beta.ppf(1 - alpha, k + 1, n - k))
    return (lo, 1.0) if alternative == "greater" else (0.0, hi)


def proportion(
    flags: Sequence[bool] | np.ndarray,
    *,
    threshold: float,
    alpha: float = 0.01,
    alternative: str = "greater",
    statistic: str = "P(property)",
    nonfinite: str = "raise",
    diverged=None,
) -> Evidence:
    """Is the share of seeds with a property above (below) `threshold`? Exact binomial test,
    Clopper-Pearson interval. flags: (S,) booleans, one per seed (NaN where undefined).
    diverged: optional (S,) booleans, seeds whose run diverged (a comparison such as
    `acc > 0.9` turns NaN into False, so pass the mask); `nonfinite` decides how they count."""
    alpha, alternative = _check_alpha(alpha), _check_alternative(alternative)
    nonfinite = _check_nonfinite(nonfinite)
    if not 0.0 < _finite_number(threshold, "threshold") < 1.0:
        raise ValueError(
            f"threshold: got {threshold}; a proportion threshold lies strictly between 0 and 1"
        )
    a = _as_1d(flags, "flags")
    bad = _bad_seeds(a.size, {"flags": a}, diverged, nonfinite)
    if bad.any() and nonfinite == "exclude":
        a = a[_kept(bad)]
    elif bad.any():
        a = np.where(bad, _against(alternative, 0.0, 1.0), a)
    if not np.isin(a, (0.0, 1.0)).all():
        raise ValueError("flags: need booleans (or 0/1), one per seed")
    n, k = a.size, int(a.sum())
    p, p_opp = binomial_ps(k, n, threshold, alternative)
    return Evidence(
        statistic=statistic, n=n, estimate=k / n,
        interval=clopper_pearson(k, n, alpha, alternative),
        test="exact binomial", p=p, alpha=alpha, threshold=float(threshold),
        alternative=alternative, verdict=_decide(p, p_opp, alpha),
        values=tuple(float(v) for v in a), p_opposite=p_opp,
        details={"k": k, "nonfinite": nonfinite, "n_nonfinite": int(bad.sum())},
        rule="proportion",
    )


# --------------------------------------------------------------------------------------------
# paired comparison of two arms on the same seeds


def _signed_rank_pmf(ranks: np.ndarray) -> np.ndarray:
    """Null distribution of the signed-rank statistic for integer ranks (each sign +-1 with
    probability 1/2): pmf[k] = P(sum of the positive ranks = k), by dynamic programming;
    scipy has no public pmf for it (and none conditional on tied midranks)."""
    total = int(ranks.sum())
    counts = np.zeros(total + 1)
    counts[0] = 1.0
    for r in ranks:
        counts[r:] = counts[r:] + counts[: total + 1 - r].copy()
    return counts / 2.0 ** ranks.size


def _signed_rank_quantile(n: int, q: float) -> int:
    """Largest c with P(T+ <= c) <= q under H0 for n untied values; -1 if none."""
    cdf = np.cumsum(_signed_rank_pmf(np.arange(1, n + 1)))
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
    pmf = _signed_rank_pmf(r2)  # P(2 T+ = k)
    t = int(r2[d > 0].sum())
    p_ge, p_le = float(pmf[t:].sum()), float(pmf[: t + 1].sum())
    if alternative == "greater":
        return min(1.0, p_ge)
    if alternative == "less":
        return min(1.0, p_le)
    return min(1.0, 2 * min(p_ge, p_le))


def hodges_lehmann(d: np.ndarray, alpha: float, alternative: str) -> tuple[float, float, float]:
    """Hodges-Lehmann pseudo-median of d and its distribution-free interval (Walsh averages,
    the interval dual to the Wilcoxon signed-rank test), at level 1 - alpha."""
    _check_alternative(alternative)
    if not 0.0 < _finite_number(alpha, "alpha") < 1.0:
        raise ValueError(f"alpha: got {alpha}; need 0 < alpha < 1")
    d = _as_1d(d, "d")
    if np.isnan(d).any():
        raise ValueError(f"d: {int(np.isnan(d).sum())} of {d.size} values are NaN")
    i, j = np.triu_indices(d.size)
    walsh = np.sort((d[i] + d[j]) / 2.0)  # (n(n+1)/2,)
    est = float(np.median(walsh))
    n, m = d.size, walsh.size
    q = alpha if alternative != "two-sided" else alpha / 2
    if n <= 60:
        c = _signed_rank_quantile(n, q)  # reject if T+ <= c
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


def paired(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    alpha: float = 0.01,
    alternative: str = "greater",
    test: str = "wilcoxon",
    margin: float = 0.0,
    statistic: str | None = None,
    nonfinite: str = "raise",
    diverged=None,
) -> Evidence:
    """Paired comparison of arm a against arm b on the same seeds.

    H1 ('greater'): a - b tends to exceed `margin`. test:
      "wilcoxon"  signed-rank test on d = a - b - margin; estimate = Hodges-Lehmann
                  pseudo-median of a - b with its exact interval
      "sign"      exact sign test; estimate = P(a - b > margin) among untied seeds, with a
                  Clopper-Pearson interval; threshold 0.5
    details carry the effect sizes: P(a > b) with ties counted half, the matched-pairs
    rank-biserial correlation, mean and median difference, and both arms' values.
    A seed with a NaN / inf in either arm, or flagged in `diverged` (S,), counts as `nonfinite`
    says (module docstring).
    """
    alpha, alternative = _check_alpha(alpha), _check_alternative(alternative)
    nonfinite = _check_nonfinite(nonfinite)
    margin = _finite_number(margin, "margin")
    x, y = _as_1d(a, "a"), _as_1d(b, "b")
    if x.shape != y.shape:
        raise ValueError(f"a, b: need one value per seed in each arm, got {x.size} and {y.size}")
    if test not in ("wilcoxon", "sign"):
        raise ValueError(f"test: got {test!r}; allowed: wilcoxon, sign")
    bad = _bad_seeds(x.size, {"a": x, "b": y}, diverged, nonfinite)
    if bad.any() and nonfinite == "exclude":
        keep = _kept(bad)
        x, y = x[keep], y[keep]
    d = x - y
    if bad.any() and nonfinite == "fail":
        d = np.where(bad, _against(alternative, -math.inf, math.inf), d)
    dm = d - margin
    n = d.size
    untied = dm[dm != 0]
    n_pos, n_neg = int((untied > 0).sum()), int((untied < 0).sum())
    details = {
        "P(a>b)": float(((d > 0).sum() + 0.5 * (d == 0).sum()) / n),
        "mean_diff": float(d.mean()),
        "median_diff": float(np.median(d)),
        "n_pos": n_pos,
        "n_neg": n_neg,
        "n_tied": int(n - untied.size),
        "a": x.tolist(),
        "b": y.tolist(),
        "nonfinite": nonfinite,
        "n_nonfinite": int(bad.sum()),
    }
    if untied.size:
        ranks = st.rankdata(np.abs(untied))
        details["rank_biserial"] = float(
            (ranks[untied > 0].sum() - ranks[untied < 0].sum()) / ranks.sum()
        )

    if test == "sign":
        k, m = n_pos, untied.size
        if m == 0:
            p, p_opp, est, ci = 1.0, 1.0, float("nan"), (0.0, 1.0)
        else:
            p, p_opp = binomial_ps(k, m, 0.5, alternative)
            est, ci = k / m, clopper_pearson(k, m, alpha, alternative)
        name = statistic or f"P(a - b > {margin:g})"
        thr, test_name, rule = 0.5, "exact sign test", "sign"
    else:
        p, p_opp = signed_rank_ps(dm, alternative)
        est, lo, hi = hodges_lehmann(d, alpha, alternative)
        ci = (lo, hi)
        name = statistic or "pseudo-median(a - b)"
        thr, test_name, rule = float(margin), "Wilcoxon signed-rank", "wilcoxon"
    verdict = _decide(p, p_opp, alpha)
    return Evidence(
        statistic=name, n=n, estimate=float(est), interval=(float(ci[0]), float(ci[1])),
        test=test_name, p=p, alpha=alpha, threshold=thr, alternative=alternative,
        verdict=verdict, values=tuple(float(v) for v in d), p_opposite=p_opp, details=details,
        rule=rule,
    )


# --------------------------------------------------------------------------------------------
# location of a per-seed statistic


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


def location(
    values: Sequence[float] | np.ndarray,
    *,
    threshold: float,
    alpha: float = 0.01,
    alternative: str = "greater",
    statistic: str = "median",
    nonfinite: str = "raise",
    diverged=None,
) -> Evidence:
    """Does a per-seed statistic sit above (below) `threshold`? Wilcoxon signed-rank test of
    values - threshold; estimate = median over seeds with its distribution-free order-statistic
    interval (`median_interval`, infinite on a side when S is too small for alpha).
    values: (S,) one number per seed; NaN / inf values and seeds flagged in `diverged` (S,)
    count as `nonfinite` says (module docstring); under "fail" they are -inf (+inf) and an
    interval bound that falls on one of them is infinite."""
    alpha, alternative = _check_alpha(alpha), _check_alternative(alternative)
    nonfinite = _check_nonfinite(nonfinite)
    threshold = _finite_number(threshold, "threshold")
    v = _as_1d(values, "values")
    bad = _bad_seeds(v.size, {"values": v}, diverged, nonfinite)
    if bad.any() and nonfinite == "exclude":
        v = v[_kept(bad)]
    elif bad.any():
        v = np.where(bad, _against(alternative, -math.inf, math.inf), v)
    dm = v - threshold
    p, p_opp = signed_rank_ps(dm, alternative)
    lo, hi = median_interval(v, alpha, alternative)
    verdict = _decide(p, p_opp, alpha)
    return Evidence(
        statistic=statistic, n=v.size, estimate=float(np.median(v)), interval=(lo, hi),
        test="Wilcoxon signed-rank", p=p, alpha=alpha, threshold=float(threshold),
        alternative=alternative, verdict=verdict, values=tuple(float(x) for x in v),
        p_opposite=p_opp,
        details={"mean": float(v.mean()), "nonfinite": nonfinite, "n_nonfinite": int(bad.sum())},
        rule="location",
    )


# --------------------------------------------------------------------------------------------
# ordered trend over conditions


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


def trend(
    table: Sequence[Sequence[float]] | np.ndarray,
    *,
    conditions: Sequence | None = None,
    alpha: float = 0.01,
    alternative: str = "increasing",
    statistic: str = "change per condition step",
    nonfinite: str = "raise",
    diverged=None,
) -> Evidence:
    """Does a per-seed statistic rise (fall) across K >= 3 ordered conditions, on the same seeds?

    table: (S, K), column k = condition k in the predicted order. Page's L test (scipy), the
    standard test for an ordered alternative with blocks (seeds); it uses each seed's ranking of
    the conditions, so it needs no scale assumption across seeds. Estimate and interval: the
    change of the value per condition step (in the table's units, along the columns as given)
    from `page_shift`, the interval dual to Page's test, so it excludes 0 exactly when the test
    decides SUPPORTED: (bound, inf) for "increasing", (-inf, bound) for "decreasing". Per-seed
    values are each seed's own such estimate; details "rho" holds each seed's Spearman rho
    between condition order and value (L is a linear function of their mean, "mean_rho").
    REFUTED: Page's test shows the opposite order at alpha.
    A seed with a NaN / inf in its row, or flagged in `diverged` (S,), counts as `nonfinite`
    says; under "fail" it ranks the conditions in exactly the opposite of the claimed order
    (at every shift: its per-step change is -inf for "increasing", +inf for "decreasing").
    """
    alpha = _check_alpha(alpha)
    nonfinite = _check_nonfinite(nonfinite)
    if not isinstance(alternative, str) or alternative not in ("increasing", "decreasing"):
        raise ValueError(f"alternative: got {alternative!r}; allowed: increasing, decreasing")
    t = _numbers(table, "table")
    if t.ndim != 2 or t.shape[1] < 3 or t.shape[0] < 2:
        raise ValueError(f"table: need shape (S >= 2 seeds, K >= 3 conditions), got {t.shape}")
    if conditions is not None and len(conditions) != t.shape[1]:
        raise ValueError(f"conditions: got {len(conditions)} names for {t.shape[1]} columns")
    bad = _bad_seeds(t.shape[0], {"table": t}, diverged, nonfinite)
    finite_rows = t[~bad]  # (S', K) for the per-condition summaries
    if bad.any() and nonfinite == "exclude":
        t = t[_kept(bad, minimum=2)]
    elif bad.any():  # "fail": the claimed order exactly reversed
        reverse = np.arange(t.shape[1], 0, -1, dtype=np.float64)  # (K,) K..1
        t = np.where(bad[:, None], reverse if alternative == "increasing" else reverse[::-1], t)
    up = t if alternative == "increasing" else t[:, ::-1]
    p, p_opp = page_ps(up)
    k = t.shape[1]
    ranks = st.rankdata(up, axis=1)  # (S, K), ties averaged
    order = np.arange(1, k + 1, dtype=np.float64)
    rc, oc = ranks - ranks.mean(1, keepdims=True), order - order.mean()
    denom = np.sqrt((rc**2).sum(1) * (oc**2).sum())
    rho = np.divide((rc * oc).sum(1), denom, out=np.zeros(t.shape[0]), where=denom > 0)  # (S,)
    shift, bound, per_seed = page_shift(up, alpha, reversed_rows=bad if nonfinite == "fail"
                                        else None)
    sign = 1.0 if alternative == "increasing" else -1.0  # back to the columns' own order
    interval = (bound, math.inf) if sign > 0 else (-math.inf, -bound + 0.0)  # + 0.0: no -0
    return Evidence(
        statistic=statistic,
        n=t.shape[0], estimate=sign * shift + 0.0, interval=interval,
        test="Page's L", p=p, alpha=alpha, threshold=0.0, alternative=alternative,
        verdict=_decide(p, p_opp, alpha), values=tuple(float(sign * v + 0.0) for v in per_seed),
        p_opposite=p_opp,
        details={
            "rho": rho.tolist(),
            "mean_rho": float(rho.mean()),
            "conditions": [str(c) for c in conditions] if conditions is not None else None,
            "column_means": finite_rows.mean(0).tolist() if finite_rows.size else None,
            "column_medians": np.median(finite_rows, 0).tolist() if finite_rows.size else None,
            "table": _numbers(table, "table").tolist(),
            "nonfinite": nonfinite,
            "n_nonfinite": int(bad.sum()),
        },
        rule="trend",
    )


# --------------------------------------------------------------------------------------------
# "no meaningful difference": equivalence by two one-sided tests


def equivalence(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray | None = None,
    *,
    margin: float,
    alpha: float = 0.01,
    statistic: str | None = None,
    nonfinite: str = "raise",
    diverged=None,
) -> Evidence:
    """Is the (paired) difference a - b within +-margin? TOST with Wilcoxon signed-rank tests.

    With b=None, tests the location of a itself against +-margin. H1 (SUPPORTED): the
    pseudo-median of d lies in (-margin, +margin): both one-sided tests d > -margin and
    d < +margin reject at alpha; p = the larger of the two. REFUTED: a difference beyond the
    margin is shown (d > +margin or d < -margin at alpha / 2 each). The interval is the
    Hodges-Lehmann interval at level 1 - 2*alpha, the one TOST at alpha corresponds to.
    Never read "p > alpha" in an ordinary test as equivalence: use this.
    A seed with a NaN / inf, or flagged in `diverged` (S,), counts as `nonfinite` says; under
    "fail" its difference is +inf or -inf, whichever makes the TOST p larger.
    """
    alpha = _check_alpha(alpha)
    nonfinite = _check_nonfinite(nonfinite)
    if not (_finite_number(margin, "margin") > 0):
        raise ValueError(f"margin: got {margin}; need a finite equivalence margin > 0")
    x = _as_1d(a, "a")
    arms = {"a": x}
    if b is not None:
        y = _as_1d(b, "b")
        if x.shape != y.shape:
            raise ValueError(f"a, b: need one value per seed in each arm, got {x.size} and {y.size}")
        arms["b"] = y
    bad = _bad_seeds(x.size, arms, diverged, nonfinite)
    if bad.any() and nonfinite == "exclude":
        arms = {k: v[_kept(bad)] for k, v in arms.items()}
    d = arms["a"] - arms["b"] if b is not None else arms["a"]

    if bad.any() and nonfinite == "fail":  # the side that makes the TOST p larger
        d = max((np.where(bad, side, d) for side in (math.inf, -math.inf)),
                key=lambda v: tost_ps(v, margin)[0])
    p, p_lower, p_upper, p_out = tost_ps(d, margin)
    est, lo, hi = hodges_lehmann(d, 2 * alpha, "two-sided")
    verdict = _decide(p, p_out, alpha)
    return Evidence(
        statistic=statistic or ("pseudo-median(a - b)" if b is not None else "pseudo-median"),
        n=d.size, estimate=est, interval=(lo, hi), test="TOST Wilcoxon",
        p=p, alpha=alpha, threshold=float(margin), alternative="equivalence", verdict=verdict,
        values=tuple(float(v) for v in d), p_opposite=p_out,
        details={"p_lower": p_lower, "p_upper": p_upper, "interval_level": 1 - 2 * alpha,
                 "mean_diff": float(d.mean()), "nonfinite": nonfinite,
                 "n_nonfinite": int(bad.sum())},
        rule="equivalence",
    )


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control over a run's decisions);
    scipy.stats offers only FDR adjustments (false_discovery_control), so it is written here.
    pvalues: (m,) -> (m,) in the input order."""
    p = _numbers(pvalues, "pvalues").reshape(-1)
    if not ((p >= 0) & (p <= 1)).all():  # NaN fails this too
        raise ValueError(f"pvalues: need p-values in [0, 1], got {p[~((p >= 0) & (p <= 1))][:5]}")
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(stepped, 1.0)
    return out
