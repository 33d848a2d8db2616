"""Evidence: the outcome of one pre-registered test over seeds, and its plain-value form.

Owns Verdict, the decision rules as data (RULES, Rule) and the frozen Evidence every decision
function returns, with its JSON round trip (to_dict / from_dict) and `plain`, which turns numpy
and torch values into plain Python: evidence crosses xdist workers and lands in claims.json, and
a numpy scalar in a report makes xdist drop it silently. Imports nothing else of lowdim, so a
report can be loaded and re-decided from its rows alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from numbers import Integral, Real

# The decision rule behind an Evidence, as data: what lowdim.stats.power, --lowdim-adaptive and
# the report's figures dispatch on (Evidence.test is its display name and may be reworded).
# Written down once, with the rest of the report's shape, in lowdim.report.schema.
from ..report.schema import RULES, Rule


class Verdict(str, Enum):
    """SUPPORTED     the claimed direction (or the equivalence) is shown at alpha
    REFUTED       the opposite direction (or a difference beyond the margin) is shown at alpha,
                  not merely "not supported"
    INCONCLUSIVE  neither"""

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

    An Evidence checks itself when it is made (also by dataclasses.replace and from_dict), so a
    hand-built or edited one cannot carry a result that contradicts itself; a ValueError names
    the field, the value and what would be consistent:
    - n is a whole number >= 1 and equals len(values): one per-seed value for each seed that
      entered the test. Seeds that did not enter are not in values either: a sequential rule
      that stopped early (n = seeds used, values = theirs; details "seeds_available" counts
      the rest) and nonfinite="exclude" (n = seeds kept; details "n_nonfinite" counts the
      dropped). Under nonfinite="fail" the diverged seeds stay, as -inf / +inf values. The one
      exception: values=() (the default) means the per-seed values were not kept, and then n
      cannot be checked against them.
    - p lies in [0, 1] (not NaN); p_opposite in [0, 1] or NaN (a two-sided test has no
      opposite direction, or it was not computed: then there is no REFUTED). A p a summed
      null distribution rounds to just above 1 (by up to ROUNDING) is accepted as is.
    - alpha lies in (0, 0.5).
    - verdict follows from p, p_opposite and alpha: SUPPORTED iff p < alpha; REFUTED iff not
      SUPPORTED and p_opposite < alpha; else INCONCLUSIVE. The anytime-valid rules (rule
      seq-proportion, seq-sign) decide on their e-value crossing 1/alpha and report p = 1 / the
      largest e-value, so for them "< alpha" reads "<= alpha" (within ROUNDING of alpha).
    verdict may be given as its name ("SUPPORTED"); it is stored as the Verdict.
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
        if not isinstance(self.verdict, Verdict):
            try:  # its name, as a report holds it: stored as the Verdict
                object.__setattr__(self, "verdict", Verdict(self.verdict))
            except ValueError:
                raise ValueError(f"verdict: got {self.verdict!r}; allowed: "
                                 f"{', '.join(v.value for v in Verdict)}") from None
        _check_n(self.n, self.values)
        p = _probability(self.p, "p", nan_ok=False)
        p_opp = _probability(self.p_opposite, "p_opposite", nan_ok=True)
        alpha = self.alpha
        if isinstance(alpha, bool) or not isinstance(alpha, Real) or not 0.0 < alpha < 0.5:
            raise ValueError(f"alpha: got {alpha!r}; need a number, 0 < alpha < 0.5 (e.g. 0.01)")
        expected = consistent_verdict(p, p_opp, float(alpha), self.rule)
        if self.verdict is not expected:
            rule = ("SUPPORTED iff p <= alpha, REFUTED iff not and p_opposite <= alpha"
                    if self.rule in SEQUENTIAL else
                    "SUPPORTED iff p < alpha, REFUTED iff not and p_opposite < alpha")
            raise ValueError(
                f"verdict: got {self.verdict.value} with p={p:.6g}, p_opposite={p_opp:.6g}, "
                f"alpha={alpha:g}; those give {expected.value} ({rule}, else INCONCLUSIVE): "
                "make the verdict the one the p-values give, or fix the p-values")

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


# The anytime-valid rules: their verdict is the e-value's crossing of 1/alpha, and p = 1 / the
# largest e-value reaches alpha itself at a crossing.
SEQUENTIAL = ("seq-proportion", "seq-sign")
# How far a computed p-value may stray past a boundary by float rounding alone: a p summed from
# an exact null distribution (scipy's Page's L) can come out as 1 + 2e-16, and exp(-log(1/alpha))
# as alpha + 2e-18.
ROUNDING = 1e-9


def consistent_verdict(p: float, p_opposite: float, alpha: float, rule: str = "") -> Verdict:
    """The verdict p, p_opposite and alpha give (the rule every Evidence is checked against):
    SUPPORTED iff p < alpha, REFUTED iff not and p_opposite < alpha (never for a NaN
    p_opposite), else INCONCLUSIVE; for the anytime-valid rules "<=" within ROUNDING."""
    if rule in SEQUENTIAL:
        bar = alpha * (1.0 + ROUNDING)
        return (Verdict.SUPPORTED if p <= bar else
                Verdict.REFUTED if p_opposite <= bar else Verdict.INCONCLUSIVE)
    return (Verdict.SUPPORTED if p < alpha else
            Verdict.REFUTED if p_opposite < alpha else Verdict.INCONCLUSIVE)


def _check_n(n, values) -> None:
    if isinstance(n, bool) or not isinstance(n, Integral) or n < 1:
        raise ValueError(f"n: got {n!r}; need a whole number of seeds >= 1 (the seeds that "
                         "entered the test)")
    try:
        count = len(values)
    except TypeError:
        raise ValueError(f"values: got {type(values).__name__}; need the per-seed values as a "
                         "tuple of numbers, one per seed") from None
    if count and count != n:
        raise ValueError(
            f"n: got {n} but values holds {count} per-seed values; n counts the seeds that "
            f"entered the test, one value each: make n = len(values) = {count} (or pass the "
            f"values of all {n} seeds)")


def _probability(x, name: str, *, nan_ok: bool) -> float:
    if isinstance(x, bool) or not isinstance(x, Real):
        raise ValueError(f"{name}: got {type(x).__name__} {x!r:.60}; need a p-value in [0, 1]")
    x = float(x)
    if math.isnan(x):
        if nan_ok:
            return x
        raise ValueError(f"{name}: got nan; need a p-value in [0, 1] (a test that gives no "
                         "p-value has no verdict to record)")
    if not 0.0 <= x <= 1.0 + ROUNDING:
        raise ValueError(f"{name}: got {x!r}; need a p-value in [0, 1]"
                         + (" (or nan: no opposite direction)" if nan_ok else ""))
    return x


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


__all__ = ["ROUNDING", "RULES", "SEQUENTIAL", "Evidence", "Rule", "Verdict", "consistent_verdict",
           "plain"]
