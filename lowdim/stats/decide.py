"""The decision functions: per-seed arrays in, one Evidence out.

proportion   share of seeds with a property vs a threshold  exact binomial, Clopper-Pearson
paired       two arms on the same seeds                     Wilcoxon signed-rank or sign test
location     a per-seed statistic vs a threshold            Wilcoxon signed-rank, median interval
trend        a statistic over K >= 3 ordered conditions     Page's L, its dual shift bound
equivalence  "no meaningful difference" within +-margin     TOST of two Wilcoxon tests
holm         Holm's adjusted p-values over a run's decisions

Every function states its hypothesis up front (`alternative`, `threshold`, `alpha`) and returns a
frozen Evidence with a point estimate, an interval at level 1 - alpha (one-sided when the test
is), the test's p-value and a Verdict (SUPPORTED: the claimed direction is shown at alpha;
REFUTED: the opposite direction is, not merely "not supported"; INCONCLUSIVE: neither).
The p-values come from lowdim.stats._pvalues and the intervals from lowdim.stats.intervals,
which fragility, power and calibrate share, so every figure about a decision re-decides with
the same test.

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
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats as st

from ._pvalues import binomial_ps, page_ps, signed_rank_ps, tost_ps
from ._validate import (
    against,
    as_1d,
    bad_seeds,
    check_alpha,
    check_alternative,
    check_nonfinite,
    finite_number,
    kept,
    numbers,
    trend_table,
    two_arms,
    verdict_of,
)
from .evidence import Evidence
from .intervals import clopper_pearson, hodges_lehmann, median_interval, page_shift


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
    alpha, alternative = check_alpha(alpha), check_alternative(alternative)
    nonfinite = check_nonfinite(nonfinite)
    if not 0.0 < finite_number(threshold, "threshold") < 1.0:
        raise ValueError(
            f"threshold: got {threshold}; a proportion threshold lies strictly between 0 and 1"
        )
    a = as_1d(flags, "flags")
    bad = bad_seeds(a.size, {"flags": a}, diverged, nonfinite)
    if bad.any() and nonfinite == "exclude":
        a = a[kept(bad)]
    elif bad.any():
        a = np.where(bad, against(alternative, 0.0, 1.0), a)
    if not np.isin(a, (0.0, 1.0)).all():
        raise ValueError("flags: need booleans (or 0/1), one per seed")
    n, k = a.size, int(a.sum())
    p, p_opp = binomial_ps(k, n, threshold, alternative)
    return Evidence(
        statistic=statistic, n=n, estimate=k / n,
        interval=clopper_pearson(k, n, alpha, alternative),
        test="exact binomial", p=p, alpha=alpha, threshold=float(threshold),
        alternative=alternative, verdict=verdict_of(p, p_opp, alpha),
        values=tuple(float(v) for v in a), p_opposite=p_opp,
        details={"k": k, "nonfinite": nonfinite, "n_nonfinite": int(bad.sum())},
        rule="proportion",
    )


def paired(
    a: Sequence[float] | np.ndarray | Mapping[object, Sequence[float] | np.ndarray],
    b: Sequence[float] | np.ndarray | None = None,
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

    a, b: (S,) per-seed values of each arm, in the same seed order; or, in place of both, one
    mapping {name_a: a, name_b: b} (b left out): the arms by name, a - b in the mapping's order,
    and the default statistic names them, e.g. "pseudo-median(wide - narrow)".
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
    a, b, arms = two_arms(a, b, "paired")
    if b is None:
        raise TypeError("paired: the second arm b is missing; pass paired(a, b) or "
                        "paired({name_a: a, name_b: b})")
    alpha, alternative = check_alpha(alpha), check_alternative(alternative)
    nonfinite = check_nonfinite(nonfinite)
    margin = finite_number(margin, "margin")
    la, lb = arms or ("a", "b")
    x, y = as_1d(a, "a" if arms is None else f"a ({la})"), as_1d(b, "b" if arms is None
                                                                 else f"b ({lb})")
    if x.shape != y.shape:
        raise ValueError(f"a, b: need one value per seed in each arm, got {x.size} and {y.size}")
    if test not in ("wilcoxon", "sign"):
        raise ValueError(f"test: got {test!r}; allowed: wilcoxon, sign")
    bad = bad_seeds(x.size, {"a": x, "b": y}, diverged, nonfinite)
    if bad.any() and nonfinite == "exclude":
        keep = kept(bad)
        x, y = x[keep], y[keep]
    d = x - y
    if bad.any() and nonfinite == "fail":
        d = np.where(bad, against(alternative, -math.inf, math.inf), d)
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
        **({"arms": list(arms)} if arms else {}),
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
        name = statistic or f"P({la} - {lb} > {margin:g})"
        thr, test_name, rule = 0.5, "exact sign test", "sign"
    else:
        p, p_opp = signed_rank_ps(dm, alternative)
        est, lo, hi = hodges_lehmann(d, alpha, alternative)
        ci = (lo, hi)
        name = statistic or f"pseudo-median({la} - {lb})"
        thr, test_name, rule = float(margin), "Wilcoxon signed-rank", "wilcoxon"
    verdict = verdict_of(p, p_opp, alpha)
    return Evidence(
        statistic=name, n=n, estimate=float(est), interval=(float(ci[0]), float(ci[1])),
        test=test_name, p=p, alpha=alpha, threshold=thr, alternative=alternative,
        verdict=verdict, values=tuple(float(v) for v in d), p_opposite=p_opp, details=details,
        rule=rule,
    )


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
    alpha, alternative = check_alpha(alpha), check_alternative(alternative)
    nonfinite = check_nonfinite(nonfinite)
    threshold = finite_number(threshold, "threshold")
    v = as_1d(values, "values")
    bad = bad_seeds(v.size, {"values": v}, diverged, nonfinite)
    if bad.any() and nonfinite == "exclude":
        v = v[kept(bad)]
    elif bad.any():
        v = np.where(bad, against(alternative, -math.inf, math.inf), v)
    dm = v - threshold
    p, p_opp = signed_rank_ps(dm, alternative)
    lo, hi = median_interval(v, alpha, alternative)
    verdict = verdict_of(p, p_opp, alpha)
    return Evidence(
        statistic=statistic, n=v.size, estimate=float(np.median(v)), interval=(lo, hi),
        test="Wilcoxon signed-rank", p=p, alpha=alpha, threshold=float(threshold),
        alternative=alternative, verdict=verdict, values=tuple(float(x) for x in v),
        p_opposite=p_opp,
        details={"mean": float(v.mean()), "nonfinite": nonfinite, "n_nonfinite": int(bad.sum())},
        rule="location",
    )


def trend(
    table: Sequence[Sequence[float]] | np.ndarray | Mapping[object, Sequence[float] | np.ndarray],
    *,
    conditions: Sequence | None = None,
    alpha: float = 0.01,
    alternative: str = "increasing",
    statistic: str = "change per condition step",
    nonfinite: str = "raise",
    diverged=None,
) -> Evidence:
    """Does a per-seed statistic rise (fall) across K >= 3 ordered conditions, on the same seeds?

    table: (S, K), column k = condition k in the predicted order; or a mapping {condition: (S,)
    values}, the conditions in the mapping's order (its keys become `conditions`), which cannot
    be transposed by mistake: `trend({lr: acc_at[lr] for lr in LRS})`. A list of per-condition
    arrays is (K, S), not (S, K): stack it with axis=1 or pass the mapping (a table with more
    columns than rows and no `conditions` warns). Page's L test (scipy), the
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
    alpha = check_alpha(alpha)
    nonfinite = check_nonfinite(nonfinite)
    if not isinstance(alternative, str) or alternative not in ("increasing", "decreasing"):
        raise ValueError(f"alternative: got {alternative!r}; allowed: increasing, decreasing")
    t, conditions = trend_table(table, conditions)  # (S, K) as given
    t_given = t
    bad = bad_seeds(t.shape[0], {"table": t}, diverged, nonfinite)
    finite_rows = t[~bad]  # (S', K) for the per-condition summaries
    if bad.any() and nonfinite == "exclude":
        t = t[kept(bad, minimum=2)]
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
        verdict=verdict_of(p, p_opp, alpha), values=tuple(float(sign * v + 0.0) for v in per_seed),
        p_opposite=p_opp,
        details={
            "rho": rho.tolist(),
            "mean_rho": float(rho.mean()),
            "conditions": [str(c) for c in conditions] if conditions is not None else None,
            "column_means": finite_rows.mean(0).tolist() if finite_rows.size else None,
            "column_medians": np.median(finite_rows, 0).tolist() if finite_rows.size else None,
            "table": t_given.tolist(),
            "nonfinite": nonfinite,
            "n_nonfinite": int(bad.sum()),
        },
        rule="trend",
    )


def equivalence(
    a: Sequence[float] | np.ndarray | Mapping[object, Sequence[float] | np.ndarray],
    b: Sequence[float] | np.ndarray | None = None,
    *,
    margin: float,
    alpha: float = 0.01,
    statistic: str | None = None,
    nonfinite: str = "raise",
    diverged=None,
) -> Evidence:
    """Is the (paired) difference a - b within +-margin? TOST with Wilcoxon signed-rank tests.

    With b=None, tests the location of a itself against +-margin. In place of a and b, one
    mapping {name_a: a, name_b: b} names the two arms (a - b in the mapping's order; the
    default statistic names them). H1 (SUPPORTED): the
    pseudo-median of d lies in (-margin, +margin): both one-sided tests d > -margin and
    d < +margin reject at alpha; p = the larger of the two. REFUTED: a difference beyond the
    margin is shown (d > +margin or d < -margin at alpha / 2 each). The interval is the
    Hodges-Lehmann interval at level 1 - 2*alpha, the one TOST at alpha corresponds to.
    Never read "p > alpha" in an ordinary test as equivalence: use this.
    A seed with a NaN / inf, or flagged in `diverged` (S,), counts as `nonfinite` says; under
    "fail" its difference is +inf or -inf, whichever makes the TOST p larger.
    """
    a, b, names = two_arms(a, b, "equivalence")
    alpha = check_alpha(alpha)
    nonfinite = check_nonfinite(nonfinite)
    if not (finite_number(margin, "margin") > 0):
        raise ValueError(f"margin: got {margin}; need a finite equivalence margin > 0")
    la, lb = names or ("a", "b")
    x = as_1d(a, "a" if names is None else f"a ({la})")
    arms = {"a": x}
    if b is not None:
        y = as_1d(b, "b" if names is None else f"b ({lb})")
        if x.shape != y.shape:
            raise ValueError(f"a, b: need one value per seed in each arm, got {x.size} and {y.size}")
        arms["b"] = y
    bad = bad_seeds(x.size, arms, diverged, nonfinite)
    if bad.any() and nonfinite == "exclude":
        arms = {k: v[kept(bad)] for k, v in arms.items()}
    d = arms["a"] - arms["b"] if b is not None else arms["a"]

    if bad.any() and nonfinite == "fail":  # the side that makes the TOST p larger
        d = max((np.where(bad, side, d) for side in (math.inf, -math.inf)),
                key=lambda v: tost_ps(v, margin)[0])
    p, p_lower, p_upper, p_out = tost_ps(d, margin)
    est, lo, hi = hodges_lehmann(d, 2 * alpha, "two-sided")
    verdict = verdict_of(p, p_out, alpha)
    return Evidence(
        statistic=statistic or (f"pseudo-median({la} - {lb})" if b is not None
                                else "pseudo-median"),
        n=d.size, estimate=est, interval=(lo, hi), test="TOST Wilcoxon",
        p=p, alpha=alpha, threshold=float(margin), alternative="equivalence", verdict=verdict,
        values=tuple(float(v) for v in d), p_opposite=p_out,
        details={"p_lower": p_lower, "p_upper": p_upper, "interval_level": 1 - 2 * alpha,
                 "mean_diff": float(d.mean()), "nonfinite": nonfinite,
                 "n_nonfinite": int(bad.sum()), **({"arms": list(names)} if names else {})},
        rule="equivalence",
    )


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control over a run's decisions);
    scipy.stats offers only FDR adjustments (false_discovery_control), so it is written here.
    pvalues: (m,) -> (m,) in the input order."""
    p = numbers(pvalues, "pvalues").reshape(-1)
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


__all__ = ["equivalence", "holm", "location", "paired", "proportion", "trend"]
