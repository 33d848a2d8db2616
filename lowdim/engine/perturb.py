"""A perturbation: knobs of the engine moved by a factor for a whole run (--lowdim-perturb).

A neighbour run asks whether a claim's finding survives a small change of its setting: twice
the learning rate, half the steps, nets twice as wide. The plugin sets one Perturbation per
process (`activate`, controller and every xdist worker) before any claim file is imported, and
the engine consults it where each knob lives:

    lr     the learning rate lowdim.train uses (TrainConfig.lr), and relu_1d_gd's lr     x F
    steps  the steps lowdim.train takes (TrainConfig.steps), and relu_1d_gd's; rounded, >= 1
    batch  TrainConfig.batch_size where it is set (full-batch training stays full batch)
    width  every hidden width of an MLP (MLP.init and lowdim.train); rounded, >= 1
    init   the initial weights, not the biases, of MLP.init and TorchModule.init
    noise  the `noise` argument of a data maker that has one (make_moons)

A claim's own objects are never changed: its TrainConfig and MLP constants stay what the file
says (training runs a perturbed copy), so its thresholds, marks and arithmetic on its constants
stay as written. What a perturbation changed is noted as it happens (`reach`); the plugin reads
`reached()` per test, so a test whose numbers it never touched (its own numpy loop, a closed
form, scikit-learn) is labelled "not perturbed" in its row instead of passing for a robust one.
With no perturbation (the default) every function here hands its argument back untouched.
Standard library only: the plugin parses the option without importing torch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import re
from collections.abc import Callable, Iterable, Iterator

KNOBS = ("lr", "steps", "batch", "width", "init", "noise")  # also the order of a perturbation's text
_ITEM = re.compile(r"^([a-z_]+)=x([0-9.eE+-]+)$")
_MARK = "_lowdim_perturbed"  # set on the copies made here, so none is perturbed twice


@dataclasses.dataclass(frozen=True)
class Perturbation:
    """Knobs and their factors, in KNOBS order: ((knob, factor), ...), each knob at most once."""

    factors: tuple[tuple[str, float], ...]

    def factor(self, knob: str) -> float | None:
        return dict(self.factors).get(knob)

    @property
    def text(self) -> str:
        """'lr=x2,steps=x0.5': the option's canonical spelling, and a neighbour's folder name."""
        return ",".join(f"{k}=x{f:g}" for k, f in self.factors)

    def __str__(self) -> str:
        return self.text


def _factor(item: str, raw: str) -> float:
    try:
        f = float(raw)
    except ValueError:
        f = math.nan
    if not (math.isfinite(f) and f > 0) or f == 1:
        raise ValueError(f"{item!r}: the factor must be a finite number > 0 other than 1 "
                         "(e.g. x2, x0.5)")
    return f


def _item(item: str) -> tuple[str, str]:
    m = _ITEM.match(item.strip())
    if m is None or m.group(1) not in KNOBS:
        raise ValueError(f"{item!r}: need KNOB=xF with KNOB one of {', '.join(KNOBS)} and F a "
                         "factor, e.g. lr=x2 or steps=x0.5")
    return m.group(1), m.group(2)


def parse(spec: str | Iterable[str] | None) -> Perturbation | None:
    """'lr=x2', 'lr=x2,steps=x0.5' or 'lr=x2 steps=x0.5' (or a list of such strings) -> a
    Perturbation; None for an empty spec. ValueError naming the item and what is allowed."""
    text = spec if isinstance(spec, str) or spec is None else " ".join(spec)
    items = [t for t in re.split(r"[,\s]+", text or "") if t]
    if not items:
        return None
    found: dict[str, float] = {}
    for item in items:
        knob, raw = _item(item)
        if knob in found:
            raise ValueError(f"{item!r}: {knob} is given twice; give each knob once")
        found[knob] = _factor(item, raw)
    return Perturbation(tuple((k, found[k]) for k in KNOBS if k in found))


def parse_grid(spec: str | Iterable[str] | None) -> list[Perturbation]:
    """The neighbours of --lowdim-robustness: 'lr=x0.5,x2 steps=x0.5,x2' (knobs apart by spaces,
    a knob's factors by commas) -> one single-knob Perturbation per factor, in the order given.
    ValueError for an empty grid, a bad item or a neighbour given twice."""
    text = spec if isinstance(spec, str) or spec is None else " ".join(spec)
    out: list[Perturbation] = []
    for group in (text or "").split():
        knob, _, rest = group.partition("=")
        for raw in rest.split(","):
            p = parse(f"{knob}={raw}")
            if p in out:
                raise ValueError(f"{group!r}: the neighbour {p} is given twice")
            out.append(p)  # type: ignore[arg-type]
    if not out:
        raise ValueError("need at least one neighbour, e.g. 'lr=x0.5,x2 steps=x0.5,x2'")
    return out


# The process's perturbation and what it reached. _scopes[0] collects since the last reset (the
# plugin resets it per test); `capture` pushes an inner scope (the run cache keeps, per entry,
# what computing it reached, and notes it again when it serves the entry).
_active: Perturbation | None = None
_scopes: list[set[str]] = [set()]


def activate(p: Perturbation | None) -> Perturbation | None:
    """Make p the process's perturbation (None: none); returns the previous one, to restore."""
    global _active
    previous, _active = _active, p
    _scopes[0] = set()
    return previous


def active() -> Perturbation | None:
    return _active


def reach(knob: str) -> None:
    """Note that the perturbation changed a number through `knob`."""
    for scope in _scopes:
        scope.add(knob)


def reset() -> None:
    _scopes[0] = set()


def reached() -> list[str]:
    """The knobs that changed something since the last reset, in KNOBS order."""
    return [k for k in KNOBS if k in _scopes[0]]


@contextlib.contextmanager
def capture() -> Iterator[set[str]]:
    """The knobs reached inside the block (they count outside it too)."""
    scope: set[str] = set()
    _scopes.append(scope)
    try:
        yield scope
    finally:
        _scopes.remove(scope)


_entries: dict[str, list[str]] = {}  # run-cache key -> the knobs its computing reached


@contextlib.contextmanager
def computing(key: str) -> Iterator[None]:
    """The run cache computes its entry `key` inside: what that reaches is kept for the entry."""
    with capture() as knobs:
        yield
    _entries[key] = [k for k in KNOBS if k in knobs]


def served(key: str, stored: Iterable[str] | None = None) -> None:
    """The run cache serves entry `key` (stored: what its file says it reached): reach it again,
    so a test served from the cache is labelled as the test that computed it."""
    if stored is not None:
        _entries[key] = [k for k in KNOBS if k in set(map(str, stored))]
    for knob in _entries.get(key, ()):
        reach(knob)


def stored(key: str) -> dict:
    """What an entry's file keeps of the perturbation: {} without one (files as before)."""
    return {} if _active is None else {"perturbed": _entries.get(key, [])}


def key_part() -> dict:
    """What the run cache adds to its keys: {} without a perturbation (keys as before)."""
    return {} if _active is None else {"perturbation": _active.text}


def _copy(obj, **changes):
    new = dataclasses.replace(obj, **changes)
    object.__setattr__(new, _MARK, True)  # not a field: equality, hash and repr as before
    return new


def _count(n: int, f: float) -> int:
    return max(1, round(n * f))


def train_config(config):
    """The TrainConfig lowdim.train runs: lr, steps and batch_size moved (a marked copy), or
    config itself when nothing applies."""
    if _active is None or getattr(config, _MARK, False):
        return config
    changes: dict[str, object] = {}
    if (f := _active.factor("lr")) is not None:
        changes["lr"] = config.lr * f
    if (f := _active.factor("steps")) is not None and config.steps > 0:
        changes["steps"] = _count(config.steps, f)
    if (f := _active.factor("batch")) is not None and config.batch_size is not None:
        changes["batch_size"] = _count(config.batch_size, f)
    changes = {k: v for k, v in changes.items() if v != getattr(config, k)}  # rounding kept it
    if not changes:
        return config
    for name in changes:
        reach({"batch_size": "batch"}.get(name, name))
    return _copy(config, **changes)


def widened(model, params: dict | None = None):
    """An MLP-like frozen dataclass with `sizes` and every hidden width x the width factor (a
    marked copy), or the model itself: no width factor, no hidden layer, already widened, or
    `params` given whose first layer has the model's own width (the caller made them)."""
    f = None if _active is None else _active.factor("width")
    sizes = getattr(model, "sizes", None)
    if (f is None or sizes is None or len(sizes) < 3 or getattr(model, _MARK, False)
            or not dataclasses.is_dataclass(model)):
        return model
    wide = (sizes[0], *(_count(h, f) for h in sizes[1:-1]), sizes[-1])
    first = (params or {}).get("w0")
    if wide == tuple(sizes) or (first is not None and first.shape[-1] != wide[1]):
        return model  # (one unit x0.5 rounds back to one unit: nothing changed)
    reach("width")
    return _copy(model, sizes=wide)


def scale_init(params: dict, is_weight: Callable[[str], bool]) -> dict:
    """Initial parameters with every weight (is_weight(name)) x the init factor."""
    f = None if _active is None else _active.factor("init")
    if f is None:
        return params
    reach("init")
    return {k: v * f if is_weight(k) else v for k, v in params.items()}


def scaled(knob: str, value):
    """value x the knob's factor (a number or a tensor: lr, noise), or value itself."""
    f = None if _active is None else _active.factor(knob)
    if f is None:
        return value
    reach(knob)
    return value * f


def count(knob: str, n: int) -> int:
    """A count (steps) x the knob's factor, rounded, >= 1; n itself without one (or n = 0)."""
    f = None if _active is None else _active.factor(knob)
    if f is None or n <= 0 or _count(n, f) == n:
        return n
    reach(knob)
    return _count(n, f)


__all__ = ["KNOBS", "Perturbation", "activate", "active", "capture", "computing", "count",
           "key_part", "parse", "parse_grid", "reach", "reached", "reset", "scale_init", "scaled",
           "served", "stored", "train_config", "widened"]
