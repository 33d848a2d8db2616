"""Curves over training steps that a claim records with `claim.record(..., curves=...)`:
checked and shrunk on the worker, so a report row carries plain, small lists (figures draw them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

MAX_CURVE_POINTS = 60  # steps kept per curve in the report (evenly spaced, first and last kept)
CURVE_DIGITS = 4  # significant digits of curve values in the report


def _round(v: float) -> float | int | None:
    if not math.isfinite(v):
        return None
    return int(v) if v == int(v) and abs(v) < 2**53 else float(f"{v:.{CURVE_DIGITS}g}")


def _as_array(v, where: str) -> np.ndarray:
    if hasattr(v, "detach"):  # a torch tensor, possibly on a GPU
        v = v.detach().cpu().numpy()
    try:
        return np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: not an array of numbers ({e})") from None


def pack_curves(curves: Mapping[str, Mapping]) -> dict[str, dict]:
    """Check curves passed to `claim.record(..., curves=...)` and shrink them for the report.

    curves: {name: {"x": (R,) steps, "y": (S, R) one row per seed, and optionally "xlabel",
    "ylabel", "yscale" ('linear', 'log', 'symlog')}}; curves with the same ylabel share one plot.
    Returns plain lists: at most MAX_CURVE_POINTS steps (evenly subsampled, first and last kept),
    values rounded to CURVE_DIGITS significant digits, non-finite values as None.
    """
    if not isinstance(curves, Mapping):
        raise TypeError(f"curves: got {type(curves).__name__}; pass a dict "
                        "{name: {'x': steps, 'y': (seeds, steps) values}}")
    out = {}
    for name, c in curves.items():
        where = f"curves[{name!r}]"
        if not isinstance(c, Mapping) or "x" not in c or "y" not in c:
            got = f"keys {sorted(c)}" if isinstance(c, Mapping) else type(c).__name__
            raise ValueError(f"{where}: need a dict with 'x' (R steps) and 'y' (S seeds x R "
                             f"steps); got {got}")
        unknown = set(c) - {"x", "y", "xlabel", "ylabel", "yscale"}
        if unknown:
            raise ValueError(f"{where}: unknown keys {sorted(unknown)}; allowed: x, y, xlabel, "
                             "ylabel, yscale")
        x, y = _as_array(c["x"], f"{where}['x']"), _as_array(c["y"], f"{where}['y']")
        if x.ndim != 1 or x.size == 0 or not np.isfinite(x).all():
            raise ValueError(f"{where}['x']: need a 1-D array of finite steps, got shape {x.shape}")
        if y.ndim != 2 or y.shape[1] != x.size:
            raise ValueError(f"{where}['y']: got shape {y.shape}; need (S seeds, R = {x.size} "
                             "steps), one row per seed (transpose a (R, S) history)")
        if c.get("yscale", "linear") not in ("linear", "log", "symlog"):
            raise ValueError(f"{where}['yscale']: got {c['yscale']!r}; allowed: linear, log, "
                             "symlog")
        keep = np.unique(np.linspace(0, x.size - 1, min(x.size, MAX_CURVE_POINTS)).round()
                         .astype(np.int64))  # (R',) indices, first and last included
        packed = {"x": [_round(v) for v in x[keep]],
                  "y": [[_round(v) for v in row] for row in y[:, keep]]}
        packed.update({k: str(c[k]) for k in ("xlabel", "ylabel", "yscale") if k in c})
        out[str(name)] = packed
    return out


__all__ = ["CURVE_DIGITS", "MAX_CURVE_POINTS", "pack_curves"]
