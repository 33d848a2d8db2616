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


__all__ = ["RULES", "Evidence", "Rule", "Verdict", "plain"]
