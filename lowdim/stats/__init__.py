"""stats: deciding a claim over seeds. Per-seed arrays in, one Evidence out.

Owns Evidence and Verdict, the fixed-n decision functions (proportion, paired, location, trend,
equivalence, Holm), the anytime-valid ones (sequential), the firmness of a verdict (power:
fragility, seeds to decide) and the simulation check of every rule (calibrate).
May import: numpy, scipy, and lowdim.report.schema (atomic writes). Never torch, never another
room of lowdim: a report can be re-rendered and re-decided without the engine.
"""

from ._core import (
    Evidence,
    Verdict,
    clopper_pearson,
    equivalence,
    hodges_lehmann,
    holm,
    location,
    median_interval,
    paired,
    plain,
    proportion,
    signed_rank_p,
    trend,
)
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
