"""The smallest p-value a decision rule can reach at n seeds, and the fewest seeds that can decide.

An exact test over few seeds has a floor under its p-value: a one-sided sign or signed-rank test
of 4 seeds gives p >= 2^-4 = 1/16 even when every seed points the claimed way, so at alpha 0.01
it can never be SUPPORTED, whatever the data. Such a row is not evidence against the claim; the
run gave it too few seeds to decide (e.g. --lowdim-seeds 4 for a quick wiring check). These
functions find the floor for each Evidence.rule, best case over every possible data set of n
seeds, with the rule's own p-value functions (so exact where scipy is exact):

    proportion    exact binomial, all n seeds (none) with the property        threshold^n ...
    sign          exact sign test, all n pairs untied and one-signed           2^-n (one-sided)
    wilcoxon,     signed-rank, all n differences one-signed                    2^-n (one-sided)
    location
    equivalence   TOST: both one-sided signed-rank tests at d = 0              2^-n
    trend         Page's L, every seed orders the K conditions as claimed      (K!)^-n (exact)
    seq-proportion,  the e-process of lowdim.stats.sequential after n all-favourable seeds
    seq-sign         (its p is 1 / the largest e-value; n = the seeds available, not used)

`seeds_to_reach(...)` is the smallest n whose floor is <= alpha; `attainable(evidence)` does both
for a recorded Evidence and `undecidable(evidence)` is the sentence a report row carries.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ._pvalues import binomial_ps, page_ps, signed_rank_p, tost_ps
from .evidence import Evidence, Verdict
from .sequential import PRIOR, log_e_value

MAX_SEEDS = 1_000_000  # seeds_to_reach searches no further
FIRST_N = {"trend": 2}  # the fewest seeds a rule accepts (the others: 1)


@functools.lru_cache(maxsize=4096)
def smallest_p(rule: str, n: int, *, alternative: str, threshold: float = 0.5,
               conditions: int | None = None, prior: tuple[float, float] = PRIOR
               ) -> float | None:
    """The smallest p of the claimed direction that `rule` can give at n seeds, over every
    possible data set; None for a rule this module does not know ("" or another).

    threshold: the proportion's null rate (proportion, seq-proportion; the sign rules use 1/2);
    conditions: K, the trend's number of conditions; prior: the seq-* rules' Beta prior."""
    floor = _FLOORS.get(rule)
    if floor is None or (rule == "trend" and (conditions is None or conditions < 3)):
        return None
    if n < FIRST_N.get(rule, 1):
        return 1.0
    return float(floor(n, alternative, threshold, conditions, prior))


def _binomial(n, alternative, p0, conditions, prior) -> float:
    # the p of a one-sided binomial test falls monotonically towards an end; a two-sided one is
    # smallest at the least likely end; either way k = 0 or k = n
    return min(binomial_ps(k, n, p0, alternative)[0] for k in (0, n))


def _sign(n, alternative, threshold, conditions, prior) -> float:
    return _binomial(n, alternative, 0.5, conditions, prior)


def _signed_rank(n, alternative, threshold, conditions, prior) -> float:
    ranks = np.arange(1.0, n + 1.0)  # (n,) one-signed, untied: the extreme of T+
    return min(signed_rank_p(ranks, alternative), signed_rank_p(-ranks, alternative))


def _tost(n, alternative, threshold, conditions, prior) -> float:
    return tost_ps(np.zeros(n), 1.0)[0]  # d = 0: both one-sided tests at their extreme


def _page(n, alternative, threshold, conditions, prior) -> float:
    perfect = np.tile(np.arange(float(conditions)), (n, 1))  # (n, K) every seed in order
    return page_ps(perfect)[0]


def _e_process(n, alternative, p0, conditions, prior) -> float:
    # all-favourable seeds: the e-value grows with every seed, so the last look holds its max
    def log_e(k, side):
        return float(log_e_value(k, n, p0, side, prior))

    if alternative == "greater":
        best = log_e(n, "greater")
    elif alternative == "less":
        best = log_e(0, "less")
    else:  # two-sided: the mean of the two one-sided processes, at either end
        best = max(np.logaddexp(log_e(k, "greater"), log_e(k, "less")) - math.log(2.0)
                   for k in (0, n))
    return min(1.0, math.exp(-best))


def _seq_sign(n, alternative, threshold, conditions, prior) -> float:
    return _e_process(n, alternative, 0.5, conditions, prior)


# Evidence.rule -> its floor (n, alternative, threshold, conditions, prior) -> smallest p
_FLOORS = {
    "proportion": _binomial,
    "sign": _sign,
    "wilcoxon": _signed_rank,
    "location": _signed_rank,
    "equivalence": _tost,
    "trend": _page,
    "seq-proportion": _e_process,
    "seq-sign": _seq_sign,
}


def seeds_to_reach(rule: str, alpha: float, *, alternative: str, threshold: float = 0.5,
                   conditions: int | None = None, prior: tuple[float, float] = PRIOR,
                   max_seeds: int = MAX_SEEDS) -> int | None:
    """The fewest seeds at which `rule` can reach p <= alpha (smallest_p); None when not within
    max_seeds or the rule is unknown. The floor falls as n grows: a linear scan over small n,
    then doubling and bisection."""
    def reaches(n: int) -> bool:
        p = smallest_p(rule, n, alternative=alternative, threshold=threshold,
                       conditions=conditions, prior=prior)
        return p is not None and p <= alpha

    first = FIRST_N.get(rule, 1)
    if smallest_p(rule, first, alternative=alternative, threshold=threshold,
                  conditions=conditions, prior=prior) is None:
        return None
    for n in range(first, min(64, max_seeds) + 1):
        if reaches(n):
            return n
    lo, hi = 64, 128  # reaches(lo) is False
    while not reaches(min(hi, max_seeds)):
        if hi >= max_seeds:
            return None
        lo, hi = hi, hi * 2
    hi = min(hi, max_seeds)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if reaches(mid) else (mid, hi)
    return hi


@dataclass(frozen=True)
class Attainable:
    """What a recorded decision could have reached with its seeds."""

    rule: str  # Evidence.rule
    n: int  # the seeds it had (the seq-* rules: the seeds available, not the seeds used)
    alpha: float  # its level
    smallest_p: float  # the floor of its p at n seeds
    seeds_needed: int | None  # the fewest seeds whose floor is <= alpha (None: > MAX_SEEDS)
    test: str = ""  # Evidence.test, the rule's display name

    @property
    def can_decide(self) -> bool:
        return self.smallest_p <= self.alpha

    def sentence(self) -> str:
        need = (f"needs >= {self.seeds_needed} seeds" if self.seeds_needed is not None
                else f"needs more than {MAX_SEEDS} seeds")
        return (f"cannot decide at n={self.n}: {need} (the smallest p {self.test or self.rule} "
                f"can reach with {self.n} seeds is {self.smallest_p:.3g} > alpha {self.alpha:g})")


def attainable(evidence: Evidence | dict) -> Attainable | None:
    """The floor of a recorded Evidence (or its to_dict()); None for a rule without one."""
    ev = evidence if isinstance(evidence, Evidence) else Evidence.from_dict(evidence)
    details = ev.details or {}
    n = int(details.get("seeds_available", ev.n)) if ev.rule.startswith("seq-") else int(ev.n)
    table = details.get("table")
    kwargs = {
        "alternative": ev.alternative,
        "threshold": float(ev.threshold) if ev.rule in ("proportion", "seq-proportion") else 0.5,
        "conditions": len(table[0]) if ev.rule == "trend" and table else None,
        "prior": tuple(float(x) for x in details.get("prior_beta", PRIOR)),
    }
    p = smallest_p(ev.rule, n, **kwargs)
    if p is None:
        return None
    need = None if p <= ev.alpha else seeds_to_reach(ev.rule, ev.alpha, **kwargs)
    return Attainable(ev.rule, n, float(ev.alpha), p, need, ev.test)


def undecidable(evidence: Evidence | dict) -> str | None:
    """"cannot decide at n=4: needs >= 7 seeds (...)" for a decision whose rule cannot reach
    alpha with the seeds it had, and that did not decide the other way (REFUTED); else None."""
    ev = evidence if isinstance(evidence, Evidence) else Evidence.from_dict(evidence)
    if ev.verdict is not Verdict.INCONCLUSIVE:
        return None
    a = attainable(ev)
    return None if a is None or a.can_decide else a.sentence()


__all__ = ["MAX_SEEDS", "Attainable", "attainable", "seeds_to_reach", "smallest_p",
           "undecidable"]
