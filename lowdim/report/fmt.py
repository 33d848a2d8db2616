"""Numbers and intervals as the report's tables show them (Markdown, terminal, html)."""

from __future__ import annotations

import math

from .schema import EvidenceDict


def fmt_num(x, digits: int = 3) -> str:
    """3 significant digits; None as an en dash; ints and non-finite numbers as they are."""
    if x is None or isinstance(x, int) or not math.isfinite(x):
        return "\u2013" if x is None else str(x)
    return f"{x:.{digits}g}"


def fmt_interval(ev: EvidenceDict) -> str:
    lo, hi = ev["interval"]  # to_dict writes an infinite side as None (JSON has no inf)
    return f"[{'-inf' if lo is None else fmt_num(lo)}, {'inf' if hi is None else fmt_num(hi)}]"


__all__ = ["fmt_interval", "fmt_num"]
