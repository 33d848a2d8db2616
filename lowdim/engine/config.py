"""How to train (TrainConfig), what training returns (TrainResult), and where (resolve_device).

TrainConfig is frozen and hashable: it is part of a claim's method and of run-cache keys, and
it checks every field when made, naming the field, the value and what is allowed.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import torch

from .losses import LOSSES

OPTIMIZERS = ("gd", "sgd", "adam")
SAMPLINGS = ("random", "epoch", "ordered")
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def is_real(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


@dataclass(frozen=True)
class TrainConfig:
    """How to train. Frozen and hashable: it is part of a claim's method and of cache keys.

    steps          optimizer steps
    optimizer      "gd" (plain full-step gradient descent), "sgd" (with `momentum`), "adam"
    lr             learning rate
    momentum       SGD momentum (torch semantics); ignored by gd and adam
    batch_size     points per step; None = full batch
    sampling       "random": each step takes permutation(n)[:batch_size] afresh (the notebook's
                   random_batch); "epoch": reshuffle every epoch, consecutive batches;
                   "ordered": the data's order, consecutive batches (online SGD as seed 002 ran)
    loss           a key of lowdim.losses.LOSSES
    l1, l2         penalty lambda * sum over weight matrices of mean(|W|) / mean(W^2); no biases
    record_every   keep the (S,) training loss every this many steps (0: never)
    snapshot_every keep a copy of all parameters every this many steps (0: never)
    dtype          "float32" or "float64"
    """

    steps: int
    optimizer: str = "adam"
    lr: float = 0.003
    momentum: float = 0.0
    batch_size: int | None = None
    sampling: str = "random"
    loss: str = "mse"
    l1: float = 0.0
    l2: float = 0.0
    record_every: int = 1
    snapshot_every: int = 0
    dtype: str = "float32"

    def __post_init__(self):
        def need(name: str, ok: bool, what: str) -> None:
            if not ok:
                raise ValueError(f"TrainConfig.{name}: got {getattr(self, name)!r}; need {what}")

        def choice(name: str, allowed) -> None:
            value = getattr(self, name)
            need(name, isinstance(value, str) and value in allowed,
                 f"one of {', '.join(allowed)}")

        need("steps", is_int(self.steps) and self.steps >= 0, "an int >= 0")
        choice("optimizer", OPTIMIZERS)
        need("lr", is_real(self.lr) and 0 < self.lr < math.inf, "a finite number > 0")
        need("momentum", is_real(self.momentum) and 0 <= self.momentum < math.inf,
             "a finite number >= 0")
        need("batch_size", self.batch_size is None or (is_int(self.batch_size)
                                                       and self.batch_size >= 1),
             "an int >= 1, or None for the full batch")
        choice("sampling", SAMPLINGS)
        choice("loss", tuple(LOSSES))
        choice("dtype", tuple(DTYPES))
        for name in ("l1", "l2"):
            need(name, is_real(getattr(self, name)) and 0 <= getattr(self, name) < math.inf,
                 "a finite number >= 0")
        for name in ("record_every", "snapshot_every"):
            need(name, is_int(getattr(self, name)) and getattr(self, name) >= 0,
                 "an int >= 0 (0: never)")

    @property
    def torch_dtype(self) -> torch.dtype:
        return DTYPES[self.dtype]


@dataclass
class TrainResult:
    """What training left behind.

    params      final parameters, each (S, ...)
    init        initial parameters, each (S, ...)
    losses      (R, S) training loss (of the step's batch, before the update) at `loss_steps`
    loss_steps  (R,) step indices of `losses`
    snapshots   {step: params} every `snapshot_every` steps (step 0 = init, and the final step)
    monitor     (M, S) values of the `monitor` function at `monitor_steps` (after those steps)
    """

    model: object
    params: dict[str, torch.Tensor]
    init: dict[str, torch.Tensor]
    losses: torch.Tensor
    loss_steps: torch.Tensor
    snapshots: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)
    monitor: torch.Tensor | None = None
    monitor_steps: torch.Tensor | None = None

    @property
    @torch.no_grad()
    def diverged(self) -> torch.Tensor:
        """(S,) bool: seeds whose run diverged, i.e. a final parameter or a recorded training
        loss is NaN or inf. Hand it to the stats functions (`diverged=`), which then count
        these seeds as their `nonfinite` policy says instead of testing garbage values."""
        leaves = list(self.params.values())
        s = leaves[0].shape[0]
        bad = torch.zeros(s, dtype=torch.bool, device=leaves[0].device)
        for v in leaves:
            bad |= ~torch.isfinite(v.reshape(s, -1)).all(dim=1)
        if self.losses.numel():
            bad |= ~torch.isfinite(self.losses).all(dim=0).to(bad.device)  # (R, S) -> (S,)
        return bad

    @property
    def n_diverged(self) -> int:
        """How many seeds diverged (see `diverged`)."""
        return int(self.diverged.sum())

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs (S, N, out) of the trained nets on x (S, N, d), no dropout."""
        x = x.to(device=next(iter(self.params.values())).device,
                 dtype=next(iter(self.params.values())).dtype)
        return self.model.forward(self.params, x)


def resolve_device(device: str | torch.device) -> torch.device:
    """'cpu', 'cuda', 'cuda:N' or 'auto' (cuda when available) -> torch.device."""
    name = str(device)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"device: got {name!r} but torch.cuda.is_available() is False on this machine; "
            "use 'cpu' or 'auto'"
        )
    if name != "cpu" and not name.startswith("cuda"):
        raise ValueError(f"device: got {name!r}; allowed: cpu, cuda, cuda:N, auto")
    return torch.device(name)
