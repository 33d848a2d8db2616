"""stats: deciding a claim over seeds. Per-seed arrays in, one Evidence out.

Owns Evidence and Verdict (evidence), the fixed-n decision functions proportion, paired,
location, trend, equivalence and Holm (decide) with their intervals (intervals), the
anytime-valid ones (sequential), the firmness of a verdict (fragility; power: seeds to decide
and a report row's figures) and the simulation check of every rule (calibrate). Room-internal:
_validate (input checks, the verdict rule) and _pvalues (every test's p-values, shared by
decide, fragility, power and calibrate so that each re-decides with the same test).
May import: numpy, scipy, and lowdim.report.schema (atomic writes). Never torch, never another
room of lowdim: a report can be re-rendered and re-decided without the engine.
"""

from ._pvalues import signed_rank_p
from .decide import equivalence, holm, location, paired, proportion, trend
from .evidence import Evidence, Verdict, plain
from .intervals import clopper_pearson, hodges_lehmann, median_interval
from .sequential import sequential_proportion, sequential_sign

__all__ = [
    "Evidence",
    "Verdict",
    "clopper_pearson",
    "equivalence",
    "hodges_lehmann",
    "holm",
    "location",
    "median_interval",
    "paired",
    "plain",
    "proportion",
    "sequential_proportion",
    "sequential_sign",
    "signed_rank_p",
    "trend",
]
