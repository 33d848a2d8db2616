"""Input checks shared by every decision function of the room, and the verdict rule itself.

Room-internal (its names are public so that sibling modules import them without reaching for
private names). Put the care at the boundary: each check names the argument, the value it got and
what is allowed. The nonfinite policy for diverged seeds (NaN / inf values, or seeds flagged in
`diverged=`) is applied here: `bad_seeds` finds them (and raises under "raise"), `kept` drops
them ("exclude"), `against` gives the least favourable value for the claimed direction ("fail");
lowdim.stats.decide documents what each policy means for each test.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping

import numpy as np

from .evidence import Verdict, consistent_verdict

ALTERNATIVES = ("greater", "less", "two-sided")
NONFINITE = ("raise", "fail", "exclude")


def check_alpha(alpha: float) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)):
        raise ValueError(f"alpha: got {brief(alpha)}; need a number, 0 < alpha < 0.5")
    if not 0.0 < alpha < 0.5:
        raise ValueError(f"alpha: got {alpha}; need 0 < alpha < 0.5 (e.g. 0.01)")
    return float(alpha)


def check_alternative(alternative: str) -> str:
    if not isinstance(alternative, str) or alternative not in ALTERNATIVES:
        raise ValueError(f"alternative: got {alternative!r}; allowed: {', '.join(ALTERNATIVES)}")
    return alternative


def brief(v) -> str:
    text = repr(v)
    return f"{type(v).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def numbers(values, name: str) -> np.ndarray:
    if hasattr(values, "detach"):  # a torch tensor, possibly on a GPU
        values = values.detach().cpu().numpy()
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: got {brief(values)}; need numbers, one per seed") from None


def as_1d(values, name: str) -> np.ndarray:
    """(S,) float64, one number per seed; NaN and inf are kept (see `bad_seeds`)."""
    a = numbers(values, name)
    if sum(d > 1 for d in a.shape) > 1:
        raise ValueError(f"{name}: got shape {a.shape}; need one value per seed, shape (S,)")
    a = a.reshape(-1)
    if a.size == 0:
        raise ValueError(f"{name}: got no values; need one per seed")
    return a


def two_arms(a, b, fn: str):
    """(a, b, names): the two arms of paired / equivalence, given as a and b or as one mapping
    {name_a: a, name_b: b} in place of a (b left out); names is None for the positional form.
    A mapping names each arm, so the order a - b is written where the values are."""
    if not isinstance(a, Mapping):
        return a, b, None
    if b is not None:
        raise ValueError(f"b: got {brief(b)} beside a mapping of arms as a; pass either "
                         f"{fn}({{name_a: a, name_b: b}}) or {fn}(a, b)")
    if len(a) != 2:
        raise ValueError(f"a: got a mapping of {len(a)} arms ({', '.join(map(repr, a))}); need "
                         "exactly two, {name_a: a, name_b: b}: the test is on a - b")
    (name_a, x), (name_b, y) = a.items()
    return x, y, (str(name_a), str(name_b))


def trend_table(table, conditions) -> tuple[np.ndarray, list | None]:
    """trend's (S, K) table, float64, and its conditions. A mapping {condition: (S,) values}
    gives the table of its values as columns, in the mapping's order, and its keys as the
    conditions; anything else is read as (S, K) as given. A shape that looks transposed (the
    conditions match the rows, not the columns) is named in the error; with no conditions to
    tell, more columns than rows only warns (a table may have few seeds)."""
    mapped = isinstance(table, Mapping)
    if mapped:
        keys = list(table)
        if conditions is not None and [str(c) for c in conditions] != [str(k) for k in keys]:
            raise ValueError(f"conditions: got {list(conditions)!r} beside a mapping whose "
                             f"keys {keys!r} already name the conditions; leave conditions out")
        cols = [as_1d(v, f"table[{k!r}]") for k, v in table.items()]  # K x (S,)
        sizes = {k: c.size for k, c in zip(keys, cols)}
        if len(set(sizes.values())) > 1:
            raise ValueError(f"table: the conditions hold different numbers of seeds, {sizes}; "
                             "need the same seeds, one value each, under every condition")
        t, conditions = (np.stack(cols, axis=1) if cols else np.zeros((0, 0))), keys  # (S, K)
    else:
        t = numbers(table, "table")
    if t.ndim != 2 or t.shape[1] < 3 or t.shape[0] < 2:
        raise ValueError(f"table: need shape (S >= 2 seeds, K >= 3 conditions), got {t.shape}")
    s, k = t.shape
    fix = ("pass np.stack(per_condition, axis=1), or the mapping {condition: (S,) values}, "
           "which cannot be transposed")
    if conditions is not None and len(conditions) != k:
        raise ValueError(f"conditions: got {len(conditions)} names for {k} columns" + (
            f"; the table's {s} rows match them: it looks transposed, (K, S) instead of "
            f"(S, K): {fix}" if len(conditions) == s else ""))
    if conditions is None and not mapped and k > s:
        warnings.warn(f"trend: table of shape {t.shape} is read as {s} seeds (rows) x {k} "
                      f"conditions (columns); if its rows are the conditions it is transposed: "
                      f"{fix} (naming the conditions silences this)", UserWarning, stacklevel=3)
    return t, conditions


def check_nonfinite(nonfinite: str) -> str:
    if not isinstance(nonfinite, str) or nonfinite not in NONFINITE:
        raise ValueError(f"nonfinite: got {nonfinite!r}; allowed: {', '.join(NONFINITE)}")
    return nonfinite


def as_mask(diverged, n: int) -> np.ndarray:
    """`diverged` as (n,) bool, one flag per seed (a tensor, array or list of 0/1 values)."""
    if hasattr(diverged, "detach"):
        diverged = diverged.detach().cpu().numpy()
    m = np.asarray(diverged)
    if m.shape != (n,) or m.dtype == object or not np.isin(m, (0, 1)).all():
        raise ValueError(f"diverged: got {brief(diverged)} of shape {m.shape}; need ({n},) "
                         "booleans, one per seed (e.g. TrainResult.diverged)")
    return m.astype(bool)


def bad_seeds(n: int, arrays: dict[str, np.ndarray], diverged, nonfinite: str) -> np.ndarray:
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
        flagged = as_mask(diverged, n)
        if flagged.any():
            parts.append(f"diverged: {int(flagged.sum())} of {n} seeds are flagged")
        bad |= flagged
    if bad.any() and nonfinite == "raise":
        raise ValueError(
            "; ".join(parts) + f" ({int(bad.sum())} diverged seeds in all); decide how they count: "
            "nonfinite='fail' counts them against the claim, nonfinite='exclude' drops them "
            "(the count is reported either way)")
    return bad


def kept(bad: np.ndarray, minimum: int = 1) -> np.ndarray:
    """(S,) bool: the seeds nonfinite="exclude" keeps; a ValueError when fewer than `minimum`."""
    if (~bad).sum() < minimum:
        raise ValueError(f"nonfinite='exclude': {int(bad.sum())} of {bad.size} seeds diverged, "
                         f"fewer than {minimum} left to test")
    return ~bad


def against(alternative: str, low: float, high: float) -> float:
    """The least favourable value for the claimed direction (nonfinite="fail")."""
    if alternative not in ("greater", "less"):
        raise ValueError(f"nonfinite='fail' with alternative={alternative!r}: a two-sided test has "
                         "no side to count diverged seeds against; use nonfinite='exclude'")
    return low if alternative == "greater" else high


def finite_number(x, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name}: got {brief(x)}; need a finite number")
    if not math.isfinite(x):
        raise ValueError(f"{name}: got {x}; need a finite number")
    return float(x)


def verdict_of(p: float, p_opp: float, alpha: float) -> Verdict:
    """SUPPORTED when p < alpha, REFUTED when the opposite direction's p is (never for a
    two-sided test, whose p_opp is nan), else INCONCLUSIVE: the rule every Evidence checks
    itself against (lowdim.stats.evidence.consistent_verdict), written there once."""
    return consistent_verdict(p, p_opp, alpha)


__all__ = ["ALTERNATIVES", "NONFINITE", "against", "as_1d", "as_mask", "bad_seeds", "brief",
           "check_alpha", "check_alternative", "check_nonfinite", "finite_number", "kept",
           "numbers", "trend_table", "two_arms", "verdict_of"]
