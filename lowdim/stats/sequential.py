"""Anytime-valid decisions over seeds: e-processes that may be checked after every seed.

A fixed-n test (lowdim.stats) is valid only for a seed count fixed before looking: adding seeds
until p < alpha and stopping there makes the type-I error grow towards 1. An e-process is a
non-negative process E_0 = 1, E_1, E_2, ... whose expectation under the null stays <= 1 at every
stopping time; Ville's inequality then gives

    P_H0( E_t >= 1/alpha for some t ) <= alpha,

so one may look after every seed (or every `batch` seeds), stop at the first crossing, and still
err with probability at most alpha. This is the guarantee of every function here: with the null
true, the chance that a scan ever reports SUPPORTED (and, for the opposite process, REFUTED) is at
most alpha, whatever the number of looks and however the stop is chosen. It needs only that, given
the earlier seeds, each seed has the property with probability <= p0 (for 'greater'); independent
seeds with a common rate are the usual case.

The e-process for H0: p <= p0 (alternative 'greater') is a likelihood ratio mixed over a Beta(a, b)
prior restricted to the alternative, q in [p0, 1]:

    E_t(p0) = integral_{p0}^{1} q^k (1 - q)^(t - k) pi(q) dq / (p0^k (1 - p0)^(t - k)),
    pi = Beta(a, b) truncated to [p0, 1],  k = successes among the first t seeds.

Each factor q/p0 (success) or (1 - q)/(1 - p0) (failure) has conditional mean <= 1 for any true
rate <= p0 when q >= p0, so the mixture is a non-negative supermartingale for the whole composite
null, not only at its boundary. With B the beta function and I the regularised incomplete beta,
the integral is B(a + k, b + t - k) (1 - I_p0(a + k, b + t - k)) / (B(a, b) (1 - I_p0(a, b))).
'less' mirrors it (q in [0, p0]); 'two-sided' (H0: p = p0) averages the two, (E+ + E-) / 2.

The reported interval is the confidence sequence at the stopping time: the p0 values the same
e-process does not reject, {p0 : E_tau(p0) < 1/alpha}. It covers the true rate with probability
>= 1 - alpha at any stopping time, so also at this one (one-sided when the test is).
The reported p is the anytime-valid p-value min(1, 1 / max_{looks <= tau} E), so p <= alpha
exactly when the scan stopped on a crossing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import special

from ._validate import ALTERNATIVES, as_1d, check_alpha, check_alternative
from .evidence import Evidence, Verdict

PRIOR = (1.0, 1.0)  # Beta(a, b) before truncation: uniform on the alternative


def _check_threshold(threshold: float) -> float:
    if not 0.0 < threshold < 1.0:
        raise ValueError(
            f"threshold: got {threshold}; a proportion threshold lies strictly between 0 and 1"
        )
    return float(threshold)


def _check_batch(batch: int) -> int:
    if isinstance(batch, bool) or int(batch) != batch or batch < 1:
        raise ValueError(f"batch: got {batch!r}; need a whole number of seeds >= 1 per look")
    return int(batch)


def _finite_1d(values, name: str) -> np.ndarray:
    a = as_1d(values, name)  # (S,)
    bad = ~np.isfinite(a)
    if bad.any():
        raise ValueError(
            f"{name}: {int(bad.sum())} of {a.size} values are NaN or infinite; decide how "
            "diverged seeds count (e.g. as failures of the property) before the scan")
    return a


def _check_prior(prior) -> tuple[float, float]:
    a, b = (float(x) for x in prior)
    if not (a > 0 and b > 0 and math.isfinite(a) and math.isfinite(b)):
        raise ValueError(f"prior: got {prior!r}; need Beta parameters a > 0, b > 0")
    return a, b


def log_e_value(k, t, p0, side: str, prior: tuple[float, float] = PRIOR) -> np.ndarray:
    """log E_t(p0) of the one-sided mixture e-process after t trials with k successes.

    side "greater": against H0 p <= p0 (mixture over q in [p0, 1]); "less": against H0 p >= p0.
    k, t, p0 broadcast against each other (arrays of any shape); t = 0 gives log E = 0.
    """
    a, b = prior
    k, t, p0 = (np.asarray(x, dtype=np.float64) for x in (k, t, p0))
    if side == "greater":  # mass of the posterior and of the prior on [p0, 1]
        post, pri = special.betaincc(a + k, b + t - k, p0), special.betaincc(a, b, p0)
    elif side == "less":  # ... on [0, p0]
        post, pri = special.betainc(a + k, b + t - k, p0), special.betainc(a, b, p0)
    else:
        raise ValueError(f"side: got {side!r}; allowed: greater, less")
    with np.errstate(divide="ignore"):  # a posterior mass that underflows is log 0: E = 0
        tail = np.log(post) - np.log(pri)
    return (special.betaln(a + k, b + t - k) - special.betaln(a, b) + tail
            - k * np.log(p0) - (t - k) * np.log1p(-p0))


def _log_e_pair(k, t, p0, alternative: str, prior, opposite: bool = True):
    """(log e-value for the claim, log e-value for the opposite claim); the opposite is -inf
    (never crosses) for two-sided, which has no REFUTED, and None when opposite=False."""
    def side(s):
        return log_e_value(k, t, p0, s, prior)

    if alternative == "greater":
        return side("greater"), (side("less") if opposite else None)
    if alternative == "less":
        return side("less"), (side("greater") if opposite else None)
    both = np.logaddexp(side("greater"), side("less")) - math.log(2.0)
    return both, (np.full_like(both, -np.inf) if opposite else None)


def scan(
    flags: np.ndarray,
    observed: np.ndarray | None,
    *,
    threshold: float,
    alpha: float,
    alternative: str,
    batch: int = 1,
    prior: tuple[float, float] = PRIOR,
) -> dict[str, np.ndarray]:
    """The sequential scan of many runs at once (the core of the public functions; calibrate
    uses it on thousands of simulated runs).

    flags: (R, N) booleans in seed order; observed: (R, N) booleans, False for seeds that are no
    trial (a tied pair of the sign test) or None (all observed). Looks after seeds batch, 2 batch,
    ... and after the last seed N. Returns (R,) arrays: stop (seeds used), k and t (successes and
    trials among them), verdict (+1 SUPPORTED, -1 REFUTED, 0 INCONCLUSIVE), log_e and log_e_opp
    (at the stop), max_log_e and max_log_e_opp (over the looks up to the stop).
    """
    f = np.asarray(flags, dtype=bool)
    obs = np.ones_like(f) if observed is None else np.asarray(observed, dtype=bool)
    r, n = f.shape  # (R, N)
    k = np.cumsum(f & obs, axis=1)  # (R, N) successes after each seed
    t = np.cumsum(obs, axis=1)  # (R, N) trials after each seed
    look = (np.arange(1, n + 1) % batch == 0) | (np.arange(1, n + 1) == n)  # (N,)
    le, le_opp = _log_e_pair(k, t, threshold, alternative, prior)  # (R, N) each
    bar = math.log(1.0 / alpha)
    crossed = look & ((le >= bar) | (le_opp >= bar))  # (R, N)
    any_cross = crossed.any(axis=1)
    stop_idx = np.where(any_cross, crossed.argmax(axis=1), n - 1)  # (R,)
    rows = np.arange(r)
    masked = np.where(look & (np.arange(n) <= stop_idx[:, None]), 1.0, np.nan)  # looks <= stop
    lt, lo = le[rows, stop_idx], le_opp[rows, stop_idx]
    verdict = np.where(lt >= bar, 1, np.where(lo >= bar, -1, 0))
    return {
        "stop": stop_idx + 1, "k": k[rows, stop_idx], "t": t[rows, stop_idx],
        "verdict": verdict, "log_e": lt, "log_e_opp": lo,
        "max_log_e": np.nanmax(le * masked, axis=1),
        "max_log_e_opp": np.nanmax(le_opp * masked, axis=1),
    }


def _bisect(f, lo: np.ndarray, hi: np.ndarray, iters: int = 44) -> np.ndarray:
    """Vectorised bisection for the point where f changes from True (at lo) to False (at hi)."""
    for _ in range(iters):
        mid = (lo + hi) / 2
        ok = f(mid)
        lo, hi = np.where(ok, mid, lo), np.where(ok, hi, mid)
    return (lo + hi) / 2


def confidence_sequence(
    k, t, *, alpha: float, alternative: str, prior: tuple[float, float] = PRIOR
) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of {p0 : E_t(p0) < 1/alpha} for arrays k, t (any shape, broadcast): the rates the
    e-process does not reject after t trials with k successes. 'greater' gives (low, 1), 'less'
    (0, high), 'two-sided' both, from (E+ + E-)/2 as the tests use. E+ falls and E- rises in p0,
    so each bound is one crossing, found by bisection (to ~1e-13)."""
    k, t = np.broadcast_arrays(np.asarray(k, dtype=np.float64), np.asarray(t, dtype=np.float64))
    bar = math.log(1.0 / alpha)
    shape = k.shape
    eps = np.full(shape, 1e-12)
    one = np.full(shape, 1 - 1e-12)

    def stat(p0):
        return _log_e_pair(k, t, p0, alternative, prior, opposite=False)[0]

    if alternative in ("greater", "two-sided"):
        # below the estimate the claim's process rejects (low p0), above it does not
        centre = np.clip((k + 0.5) / (t + 1.0), eps, one)
        low = _bisect(lambda x: stat(x) >= bar, eps.copy(), centre)
        low = np.where(stat(eps) >= bar, low, 0.0)
    else:
        low = np.zeros(shape)
    if alternative in ("less", "two-sided"):
        # above the estimate the process rejects (high p0), below it does not
        centre = np.clip((k + 0.5) / (t + 1.0), eps, one)
        high = _bisect(lambda x: stat(x) < bar, centre, one.copy())
        high = np.where(stat(one) >= bar, high, 1.0)
    else:
        high = np.ones(shape)
    return low, high


def _evidence(res: dict, i: int, *, n_avail: int, threshold: float, alpha: float,
              alternative: str, batch: int, prior, statistic: str, test: str, values,
              details: dict, rule: str) -> Evidence:
    stop, k, t = int(res["stop"][i]), int(res["k"][i]), int(res["t"][i])
    lo, hi = confidence_sequence(k, t, alpha=alpha, alternative=alternative, prior=prior)
    p = float(min(1.0, math.exp(-res["max_log_e"][i])))
    p_opp = (float("nan") if alternative == "two-sided"
             else float(min(1.0, math.exp(-res["max_log_e_opp"][i]))))
    verdict = {1: Verdict.SUPPORTED, -1: Verdict.REFUTED, 0: Verdict.INCONCLUSIVE}[
        int(res["verdict"][i])]
    details = {
        **details, "k": k, "trials": t, "seeds_available": n_avail,
        "stopped_early": stop < n_avail, "batch": batch, "prior_beta": list(prior),
        "log10_e": float(res["log_e"][i] / math.log(10)),
        "log10_e_opposite": (None if alternative == "two-sided"
                             else float(res["log_e_opp"][i] / math.log(10))),
    }
    return Evidence(
        statistic=statistic, n=stop, estimate=k / t if t else float("nan"),
        interval=(float(lo), float(hi)), test=test, p=p, alpha=alpha, threshold=threshold,
        alternative=alternative, verdict=verdict, values=tuple(float(v) for v in values[:stop]),
        p_opposite=p_opp, details=details, rule=rule,
    )


def _test_name(kind: str, alternative: str) -> str:
    sides = "two-sided" if alternative == "two-sided" else "one-sided"
    return f"anytime-valid {kind} e-process (beta mixture), {sides}"


def sequential_proportion(
    flags: Sequence[bool] | np.ndarray,
    *,
    threshold: float,
    alpha: float = 0.01,
    alternative: str = "greater",
    batch: int = 1,
    prior: tuple[float, float] = PRIOR,
    statistic: str = "P(property)",
) -> Evidence:
    """Is the share of seeds with a property above (below) `threshold`? Scans the seeds in the
    order given, looking after every `batch` seeds (and after the last), and stops at the first
    look where the e-process crosses 1/alpha: SUPPORTED for the claim's process, REFUTED for the
    opposite one (none for 'two-sided'); INCONCLUSIVE when the seeds run out first.

    flags: (S,) booleans in seed order. Evidence.n = seeds used (<= S); values = their flags;
    details: k, trials, seeds_available, stopped_early, batch, log10 e-values at the stop.
    The error guarantee (module docstring) holds for any batch and any S.
    """
    alpha, alternative = check_alpha(alpha), check_alternative(alternative)
    threshold, batch, prior = _check_threshold(threshold), _check_batch(batch), _check_prior(prior)
    a = _finite_1d(flags, "flags")
    if not np.isin(a, (0.0, 1.0)).all():
        raise ValueError("flags: need booleans (or 0/1), one per seed")
    res = scan(a[None, :] > 0.5, None, threshold=threshold, alpha=alpha,
               alternative=alternative, batch=batch, prior=prior)
    return _evidence(res, 0, n_avail=a.size, threshold=threshold, alpha=alpha,
                     alternative=alternative, batch=batch, prior=prior, statistic=statistic,
                     test=_test_name("binomial", alternative), values=a, details={},
                     rule="seq-proportion")


def sequential_sign(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    alpha: float = 0.01,
    alternative: str = "greater",
    margin: float = 0.0,
    batch: int = 1,
    prior: tuple[float, float] = PRIOR,
    statistic: str | None = None,
) -> Evidence:
    """Anytime-valid paired sign test: does a - b exceed `margin` on most seeds? The e-process of
    sequential_proportion on the signs of a - b - margin with threshold 1/2; a tied pair is no
    trial (the process does not move) but counts as a seed used.

    a, b: (S,) per-seed values of the two arms, in seed order. Evidence as paired(test="sign"):
    estimate = P(a - b > margin) among the untied seeds used, values = a - b of the seeds used.
    """
    alpha, alternative = check_alpha(alpha), check_alternative(alternative)
    batch, prior = _check_batch(batch), _check_prior(prior)
    x, y = _finite_1d(a, "a"), _finite_1d(b, "b")
    if x.shape != y.shape:
        raise ValueError(f"a, b: need one value per seed in each arm, got {x.size} and {y.size}")
    if not math.isfinite(margin):
        raise ValueError(f"margin: got {margin}; need a finite number")
    d = x - y
    dm = d - margin
    res = scan((dm > 0)[None, :], (dm != 0)[None, :], threshold=0.5, alpha=alpha,
               alternative=alternative, batch=batch, prior=prior)
    used = dm[: int(res["stop"][0])]
    details = {"n_pos": int((used > 0).sum()), "n_neg": int((used < 0).sum()),
               "n_tied": int((used == 0).sum()), "margin": float(margin)}
    return _evidence(res, 0, n_avail=d.size, threshold=0.5, alpha=alpha,
                     alternative=alternative, batch=batch, prior=prior,
                     statistic=statistic or f"P(a - b > {margin:g})",
                     test=_test_name("sign", alternative), values=d, details=details,
                     rule="seq-sign")


__all__ = ["ALTERNATIVES", "confidence_sequence", "log_e_value", "scan", "sequential_proportion",
           "sequential_sign"]
