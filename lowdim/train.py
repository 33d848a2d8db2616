"""One training loop for all seeds.

The seeds' parameters are stacked leaves (S, ...). Each seed's loss is reduced over its own
points, the (S,) vector is summed and back-propagated, so every seed receives exactly its own
gradient; the optimizers used here (GD, SGD with momentum, Adam) act element-wise, so one
torch.optim optimizer over the stacked leaves is S independent optimizers.

Per-seed randomness during training (minibatch draws, dropout masks) comes from per-seed streams
(`seeding.torch_generator(key, seed, purpose)`) drawn in chunks of steps whose size depends only
on the problem's shape, never on S: seed i trains identically whatever else is in the batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from .data import Data
from .losses import get_loss
from .seeding import check_seeds, torch_generator

OPTIMIZERS = ("gd", "sgd", "adam")
SAMPLINGS = ("random", "epoch", "ordered")
DTYPES = {"float32": torch.float32, "float64": torch.float64}
_CHUNK_ELEMS = 1 << 16  # random numbers drawn per seed per chunk of steps


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
        if not isinstance(self.steps, int) or self.steps < 0:
            raise ValueError(f"TrainConfig.steps: got {self.steps!r}; need an int >= 0")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"TrainConfig.optimizer: got {self.optimizer!r}; allowed: {', '.join(OPTIMIZERS)}"
            )
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"TrainConfig.lr: got {self.lr}; need a finite number > 0")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"TrainConfig.batch_size: got {self.batch_size}; need >= 1 or None")
        if self.sampling not in SAMPLINGS:
            raise ValueError(
                f"TrainConfig.sampling: got {self.sampling!r}; allowed: {', '.join(SAMPLINGS)}"
            )
        get_loss(self.loss)
        if self.dtype not in DTYPES:
            raise ValueError(f"TrainConfig.dtype: got {self.dtype!r}; allowed: {', '.join(DTYPES)}")
        if self.l1 < 0 or self.l2 < 0:
            raise ValueError(f"TrainConfig.l1/l2: got {self.l1}/{self.l2}; need >= 0")
        if not self.momentum >= 0:
            raise ValueError(f"TrainConfig.momentum: got {self.momentum}; need >= 0")
        for name in ("record_every", "snapshot_every"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ValueError(f"TrainConfig.{name}: got {getattr(self, name)!r}; need an "
                                 "int >= 0 (0: never)")

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


class _Chunked:
    """Per-seed uniform draws of `shape` per step, produced in chunks and stacked over seeds."""

    def __init__(self, seeds, key, purpose, shape, device):
        self.gens = [torch_generator(key, s, purpose) for s in seeds]
        self.shape = tuple(shape)
        self.chunk = max(1, _CHUNK_ELEMS // max(1, math.prod(self.shape)))
        self.device = device
        self.buf, self.pos = None, 0

    def next(self) -> torch.Tensor:
        if self.buf is None or self.pos == self.chunk:
            draws = [torch.rand((self.chunk, *self.shape), generator=g) for g in self.gens]
            self.buf = torch.stack(draws, dim=1).to(self.device)  # (chunk, S, *shape)
            self.pos = 0
        out = self.buf[self.pos]  # (S, *shape)
        self.pos += 1
        return out


class _Sampler:
    """Batch indices (S, B) per step, or None for the full batch."""

    def __init__(self, seeds, key, n, config: TrainConfig, device):
        b = config.batch_size
        self.n, self.mode, self.device = n, config.sampling, device
        self.full = b is None or (b >= n and config.sampling == "random")
        self.b = n if b is None else min(b, n)
        if self.full:
            return
        if self.mode == "random":
            self.keys = _Chunked(seeds, key, "batches", (n,), device)
        else:
            self.gens = [torch_generator(key, s, "batches") for s in seeds]
            self.order, self.pos = None, n

    def next(self) -> torch.Tensor | None:
        if self.full:
            return None
        if self.mode == "random":
            # argsort of iid uniforms is a uniform random permutation; keep its first B.
            return self.keys.next().argsort(dim=-1)[:, : self.b]  # (S, B)
        if self.pos >= self.n:
            if self.mode == "epoch":
                perms = [torch.randperm(self.n, generator=g) for g in self.gens]
                self.order = torch.stack(perms).to(self.device)  # (S, n)
            else:
                self.order = torch.arange(self.n, device=self.device).expand(len(self.gens), -1)
            self.pos = 0
        idx = self.order[:, self.pos : self.pos + self.b]  # (S, B), last batch may be shorter
        self.pos += self.b
        return idx


def _take(t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Rows idx (S, B) of t (S, N, ...) -> (S, B, ...)."""
    if t.dim() == 2:
        return t.gather(1, idx)
    expand = idx.reshape(*idx.shape, *([1] * (t.dim() - 2))).expand(*idx.shape, *t.shape[2:])
    return t.gather(1, expand)


def _optimizer(config: TrainConfig, leaves: list[torch.Tensor]) -> torch.optim.Optimizer:
    # The fused kernels do the same element-wise update in one pass per tensor (about 3x less
    # overhead than the default per-tensor loop for tiny nets); fall back where unsupported.
    if config.optimizer == "adam":
        make = lambda **kw: torch.optim.Adam(leaves, lr=config.lr, **kw)  # noqa: E731
    else:
        momentum = config.momentum if config.optimizer == "sgd" else 0.0
        make = lambda **kw: torch.optim.SGD(leaves, lr=config.lr, momentum=momentum, **kw)  # noqa: E731
    try:
        return make(fused=True)
    except (RuntimeError, TypeError, ValueError):
        return make()


def _penalty(params: dict[str, torch.Tensor], config: TrainConfig) -> torch.Tensor:
    # (S,) = lambda * sum over weight matrices of mean(|W|) / mean(W^2); biases are not penalised.
    total = 0.0
    for name, w in params.items():
        if name.startswith("w"):
            if config.l1:
                total = total + config.l1 * w.abs().mean(dim=(1, 2))
            if config.l2:
                total = total + config.l2 * w.square().mean(dim=(1, 2))
    return total


def train(
    model,
    data: Data,
    config: TrainConfig,
    *,
    seeds: Sequence[int],
    key: str,
    params: dict[str, torch.Tensor] | None = None,
    device: str | torch.device = "cpu",
    monitor: Callable[[dict[str, torch.Tensor]], torch.Tensor] | None = None,
    monitor_every: int = 0,
) -> TrainResult:
    """Train one model per seed, all at once.

    model    a batched model (MLP, TorchModule, ...); data: Data with the same S as seeds
    params   initial parameters (S, ...) to start from; default model.init(seeds, key=key)
    monitor  f(params) -> (S,) evaluated without grad after every `monitor_every` steps
             (and before step 0), e.g. training accuracy over time
    """
    seeds = check_seeds(seeds)
    dev = resolve_device(device)
    if data.n_seeds != len(seeds):
        raise ValueError(f"data: has {data.n_seeds} seeds but seeds has {len(seeds)}; make both "
                         "from the same seed list")
    dtype = config.torch_dtype
    data = data.to(dev, dtype)
    if params is None:
        params = model.init(seeds, key=key, dtype=dtype, device=dev)
    init = {k: v.detach().to(dev, dtype).clone() for k, v in params.items()}
    leaves = {k: v.clone().requires_grad_(True) for k, v in init.items()}
    opt = _optimizer(config, list(leaves.values()))
    loss_fn = get_loss(config.loss)
    sampler = _Sampler(seeds, key, data.n_samples, config, dev)
    mask_shapes = model.dropout_shapes(sampler.b)
    keep = 1.0 - getattr(model, "dropout", 0.0)
    masks_streams = [
        _Chunked(seeds, key, f"dropout{i}", shape, dev) for i, shape in enumerate(mask_shapes)
    ]

    losses, loss_steps, mon, mon_steps = [], [], [], []
    snapshots: dict[int, dict[str, torch.Tensor]] = {}

    def observe(step: int):
        with torch.no_grad():
            if config.snapshot_every and step % config.snapshot_every == 0:
                snapshots[step] = {k: v.detach().clone() for k, v in leaves.items()}
            if monitor is not None and monitor_every and step % monitor_every == 0:
                mon.append(monitor({k: v.detach() for k, v in leaves.items()}))
                mon_steps.append(step)

    observe(0)
    for step in range(config.steps):
        idx = sampler.next()
        if idx is None:
            xb, yb = data.x, data.y
        else:
            xb, yb = _take(data.x, idx), _take(data.y, idx)
        masks = None
        if masks_streams:
            # Inverted dropout: kept units scaled by 1/keep; a short last batch uses a prefix.
            masks = [(s.next()[:, : xb.shape[1]] < keep).to(dtype) / keep for s in masks_streams]
        out = model.forward(leaves, xb, masks)  # (S, B, k)
        loss = loss_fn(out, yb)  # (S,)
        total = loss.sum()
        if config.l1 or config.l2:
            total = total + _penalty(leaves, config).sum()
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        if config.record_every and step % config.record_every == 0:
            losses.append(loss.detach())
            loss_steps.append(step)
        observe(step + 1)
    if config.snapshot_every and config.steps not in snapshots:
        snapshots[config.steps] = {k: v.detach().clone() for k, v in leaves.items()}

    s = len(seeds)
    return TrainResult(
        model=model,
        params={k: v.detach() for k, v in leaves.items()},
        init=init,
        losses=torch.stack(losses) if losses else torch.empty(0, s, device=dev),
        loss_steps=torch.tensor(loss_steps, dtype=torch.long),
        snapshots=snapshots,
        monitor=torch.stack(mon) if mon else None,
        monitor_steps=torch.tensor(mon_steps, dtype=torch.long) if mon else None,
    )
