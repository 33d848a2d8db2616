"""One training loop for all seeds.

The seeds' parameters are stacked leaves (S, ...). Each seed's loss is reduced over its own
points, the (S,) vector is summed and back-propagated, so every seed receives exactly its own
gradient; the optimizers used here (GD, SGD with momentum, Adam) act element-wise, so one
optimizer over the stacked leaves (torch.optim's fused kernels) is S independent optimizers.

Per-seed randomness during training (minibatch draws, dropout masks) comes from per-seed streams
(`seeding.torch_generator(key, seed, purpose)`) drawn in chunks of steps whose size depends only
on the problem's shape, never on S: seed i trains identically whatever else is in the batch.
"""

from __future__ import annotations

import math
import numbers
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from . import backprop
from .data import Data
from .losses import LOSSES, get_loss
from .seeding import check_seeds, torch_generator

OPTIMIZERS = ("gd", "sgd", "adam")
SAMPLINGS = ("random", "epoch", "ordered")
DTYPES = {"float32": torch.float32, "float64": torch.float64}
_CHUNK_ELEMS = 1 << 16  # random numbers drawn per seed per chunk of steps
_SEED_CHUNK_BYTES = 8 << 20  # CPU: a step's activations per chunk of seeds (see _seed_chunks)


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v) -> bool:
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

        need("steps", _is_int(self.steps) and self.steps >= 0, "an int >= 0")
        choice("optimizer", OPTIMIZERS)
        need("lr", _is_real(self.lr) and 0 < self.lr < math.inf, "a finite number > 0")
        need("momentum", _is_real(self.momentum) and 0 <= self.momentum < math.inf,
             "a finite number >= 0")
        need("batch_size", self.batch_size is None or (_is_int(self.batch_size)
                                                       and self.batch_size >= 1),
             "an int >= 1, or None for the full batch")
        choice("sampling", SAMPLINGS)
        choice("loss", tuple(LOSSES))
        choice("dtype", tuple(DTYPES))
        for name in ("l1", "l2"):
            need(name, _is_real(getattr(self, name)) and 0 <= getattr(self, name) < math.inf,
                 "a finite number >= 0")
        for name in ("record_every", "snapshot_every"):
            need(name, _is_int(getattr(self, name)) and getattr(self, name) >= 0,
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
            return _first_of_argsort(self.keys.next(), self.b)  # (S, B)
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


def _first_of_argsort(u: torch.Tensor, b: int) -> torch.Tensor:
    """u.argsort(dim=-1)[:, :b] for uniforms u (S, n) in [0, 1), without sorting all of u.

    topk over the keys (float bits << 32 | index) finds the b smallest in order, faster than the
    sort on the CPU. It is argsort's answer unless equal values occur among them
    (float32 draws tie now and then), where argsort's unstable order is its own: such rows are
    argsorted as before, so the batches are exactly the ones argsort gives."""
    s, n = u.shape
    if u.device.type != "cpu" or u.dtype != torch.float32 or 4 * b > n:
        return u.argsort(dim=-1)[:, :b]
    keys = (u.view(torch.int32).to(torch.int64) << 32) | torch.arange(n)  # (S, n), distinct
    first = keys.topk(min(b + 1, n), dim=-1, largest=False).values  # (S, b + 1) ascending
    bits = first >> 32
    tied = (bits[:, 1:] == bits[:, :-1]).any(dim=1).nonzero()[:, 0]  # rows with equal draws
    idx = (first[:, :b] & 0xFFFFFFFF).contiguous()  # (S, b)
    if tied.numel():
        idx[tied] = u[tied].argsort(dim=-1)[:, :b]
    return idx


class _Progress:
    """'lowdim.train: S seeds x K steps, k done' on a terminal's stderr once a run has taken a few
    seconds; off when stderr is not a terminal (pytest without -s) and under xdist."""

    def __init__(self, n_seeds: int, steps: int):
        tty = getattr(sys.stderr, "isatty", None)
        self.on = bool(tty and tty()) and "PYTEST_XDIST_WORKER" not in os.environ
        self.text = f"lowdim.train: {n_seeds} seeds x {steps} steps"
        self.steps, self.start, self.shown = steps, time.monotonic(), 0.0

    def update(self, step: int) -> None:
        if not self.on or step % 64:
            return
        now = time.monotonic()
        if now - self.start > 3.0 and now - self.shown > 0.5:
            self.shown = now
            sys.stderr.write(f"\r{self.text}: {step}/{self.steps} ({step / self.steps:.0%})")
            sys.stderr.flush()

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\r" + " " * (len(self.text) + 24) + "\r")
            sys.stderr.flush()


def _take(t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Rows idx (S, B) of t (S, N, ...) -> (S, B, ...)."""
    if t.dim() == 2:
        return t.gather(1, idx)
    expand = idx.reshape(*idx.shape, *([1] * (t.dim() - 2))).expand(*idx.shape, *t.shape[2:])
    return t.gather(1, expand)


class _Optimizer:
    """`step(grads)` = torch.optim's Adam / SGD step with those gradients.

    Where torch.optim would run its fused kernels (fused=True validates the tensors), they are
    called here directly with the same arguments: the same numbers, without torch.optim's
    Python per step (most of a tiny net's step). Elsewhere torch.optim itself runs.
    Like torch.optim, a leaf whose gradient is None is left alone (its state does not advance).
    """

    def __init__(self, config: TrainConfig, leaves: list[torch.Tensor]):
        self.leaves, self.lr, self.adam = leaves, config.lr, config.optimizer == "adam"
        self.momentum = config.momentum if config.optimizer == "sgd" else 0.0
        if self.adam:
            make = lambda **kw: torch.optim.Adam(leaves, lr=config.lr, **kw)  # noqa: E731
        else:
            make = lambda **kw: torch.optim.SGD(leaves, lr=config.lr, momentum=self.momentum, **kw)  # noqa: E731
        try:
            make(fused=True)
            self.fallback = None
        except (RuntimeError, TypeError, ValueError):
            self.fallback = make()
        self.state: dict[int, list[torch.Tensor]] = {}  # leaf index -> its optimizer state

    def _state(self, i: int) -> list[torch.Tensor]:
        if i not in self.state:
            p = self.leaves[i]
            zeros = lambda: torch.zeros_like(p, memory_format=torch.preserve_format)  # noqa: E731
            self.state[i] = ([zeros(), zeros(), torch.zeros((), dtype=torch.float32,
                                                            device=p.device)]
                             if self.adam else [])  # Adam: exp_avg, exp_avg_sq, step
        return self.state[i]

    @torch.no_grad()
    def step(self, grads) -> None:
        if self.fallback is not None:
            for p, g in zip(self.leaves, grads):
                p.grad = g
            self.fallback.step()
            return
        used = [i for i, g in enumerate(grads) if g is not None]
        params = [self.leaves[i] for i in used]
        grads = [grads[i].contiguous() for i in used]
        if self.adam:
            states = [self._state(i) for i in used]
            steps = [st[2] for st in states]
            torch._foreach_add_(steps, 1)
            torch._fused_adam_(params, grads, [st[0] for st in states], [st[1] for st in states],
                               [], steps, amsgrad=False, lr=self.lr, beta1=0.9, beta2=0.999,
                               weight_decay=0.0, eps=1e-8, maximize=False, grad_scale=None,
                               found_inf=None)
            return
        bufs, first = [], False
        if self.momentum:
            first = all(not self._state(i) for i in used)
            for i, g in zip(used, grads):
                if not self.state[i]:
                    self.state[i].append(torch.empty_like(g))
                bufs.append(self.state[i][0])
        torch._fused_sgd_(params, grads, bufs, weight_decay=0.0, momentum=self.momentum,
                          lr=self.lr, dampening=0.0, nesterov=False, maximize=False,
                          is_first_step=first, grad_scale=None, found_inf=None)


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


def _check_train_args(model, data, config, key, monitor, monitor_every) -> None:
    """Clear errors at the boundary instead of a shape error from deep inside torch."""
    if not all(callable(getattr(model, m, None)) for m in ("init", "forward", "dropout_shapes")):
        raise TypeError(f"model: got {type(model).__name__}; need a batched model (lowdim.MLP, "
                        "lowdim.TorchModule, or an object with init/forward/dropout_shapes)")
    if not isinstance(data, Data):
        raise TypeError(f"data: got {type(data).__name__}; need a lowdim.Data (make_* or per_seed)")
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config: got {type(config).__name__}; need a lowdim.TrainConfig")
    if not isinstance(key, str):
        raise TypeError(f"key: got {type(key).__name__}; need a string (usually the claim id)")
    if monitor is not None and not callable(monitor):
        raise TypeError(f"monitor: got {type(monitor).__name__}; need f(params) -> (S,) or None")
    if not _is_int(monitor_every) or monitor_every < 0:
        raise ValueError(f"monitor_every: got {monitor_every!r}; need an int >= 0 (0: never)")
    sizes = getattr(model, "sizes", None)
    if sizes is None:  # a TorchModule: its shapes are the user's module's business
        return
    d, k = sizes[0], sizes[-1]
    if data.x.shape[-1] != d:
        raise ValueError(f"data.x: has {data.x.shape[-1]} input features (shape "
                         f"{tuple(data.x.shape)}) but the model takes {d} (sizes {sizes})")
    if data.y.is_floating_point():  # (S, N, k) targets, or (S, N) for one output
        if (data.y.shape[-1] if data.y.dim() == 3 else 1) != k:
            raise ValueError(f"data.y: float targets of width {data.y.shape[-1]} (shape "
                             f"{tuple(data.y.shape)}) but the model outputs {k} (sizes {sizes})")
    elif data.y.numel() and (int(data.y.min()) < 0 or int(data.y.max()) >= k):
        raise ValueError(f"data.y: labels {int(data.y.min())}..{int(data.y.max())} but the model "
                         f"outputs {k} classes (sizes {sizes}); labels must lie in 0..{k - 1}")


def _seed_chunks(model, data: Data, config: TrainConfig, dev: torch.device, s: int) -> list:
    """Slices of the seed axis to train one after another. On the CPU a batch whose per-step
    activations outgrow the caches runs slower per seed than chunks of it (the chunk size is the
    fastest of those tried on bench/seeds.py's W3; docs/speed.md). A seed's numbers equal those of
    the whole batch up to float rounding, as they already depend on the batch at that level:
    vectorised kernels round a tensor's tail elements their own way (sigmoid, tanh, and the
    fused Adam step on a small leaf such as a 2-unit output bias, found in a 1-ulp difference
    after 3 steps). Chunks hold >= 2 seeds (a batch of one may take other kernels)."""
    sizes = getattr(model, "sizes", None)  # MLPs; a user's module keeps one batch
    if dev.type != "cpu" or sizes is None or s < 4:
        return [slice(0, s)]
    b = data.n_samples if config.batch_size is None else min(config.batch_size, data.n_samples)
    per_seed = 3 * b * sum(sizes[1:]) * config.torch_dtype.itemsize  # activations, grads, saved
    n = min(s // 2, -(-s * per_seed // _SEED_CHUNK_BYTES))
    bounds = [i * s // n for i in range(n + 1)]
    return [slice(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]


def _concat(parts: list[TrainResult]) -> TrainResult:
    """The chunks' results as one, seeds in order."""
    def cat(dicts):
        return {k: torch.cat([d[k] for d in dicts]) for k in dicts[0]}

    first = parts[0]
    return TrainResult(
        model=first.model, params=cat([p.params for p in parts]),
        init=cat([p.init for p in parts]),
        losses=torch.cat([p.losses for p in parts], dim=1), loss_steps=first.loss_steps,
        snapshots={t: cat([p.snapshots[t] for p in parts]) for t in first.snapshots},
    )


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
    _check_train_args(model, data, config, key, monitor, monitor_every)
    seeds = check_seeds(seeds)
    dev = resolve_device(device)
    if data.n_seeds != len(seeds):
        raise ValueError(f"data: has {data.n_seeds} seeds but seeds has {len(seeds)}; make both "
                         "from the same seed list")
    chunks = [slice(0, len(seeds))] if monitor else _seed_chunks(model, data, config, dev,
                                                                  len(seeds))
    if len(chunks) > 1:  # (a monitor may read all S seeds' data: it keeps one batch)
        return _concat([train(model, data.select(c), config, seeds=seeds[c], key=key,
                              params=params and {k: v[c] for k, v in params.items()},
                              device=dev) for c in chunks])
    dtype = config.torch_dtype
    data = data.to(dev, dtype)
    if params is None:
        params = model.init(seeds, key=key, dtype=dtype, device=dev)
    init = {k: v.detach().to(dev, dtype).clone() for k, v in params.items()}
    hand_written = backprop.supports(model)
    leaves = {k: v.clone().requires_grad_(not hand_written) for k, v in init.items()}
    leaf_list = list(leaves.values())
    opt = _Optimizer(config, leaf_list)
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
    progress = _Progress(len(seeds), config.steps)
    for step in range(config.steps):
        progress.update(step)
        idx = sampler.next()
        if idx is None:
            xb, yb = data.x, data.y
        else:
            xb, yb = _take(data.x, idx), _take(data.y, idx)
        masks = None
        if masks_streams:
            # Inverted dropout: kept units scaled by 1/keep; a short last batch uses a prefix.
            masks = [(s.next()[:, : xb.shape[1]] < keep).to(dtype) / keep for s in masks_streams]
        if hand_written:  # the same gradients without autograd's bookkeeping
            loss, grads = backprop.loss_and_grads(model, leaves, xb, yb, loss=config.loss,
                                                  masks=masks, l1=config.l1, l2=config.l2)
            opt.step(grads)
        else:
            out = model.forward(leaves, xb, masks)  # (S, B, k)
            loss = loss_fn(out, yb)  # (S,)
            total = loss.sum()
            if config.l1 or config.l2:
                total = total + _penalty(leaves, config).sum()
            # The gradients the leaves' .grad would receive from backward(), without storing them.
            opt.step(torch.autograd.grad(total, leaf_list, allow_unused=True))
        if config.record_every and step % config.record_every == 0:
            losses.append(loss.detach())
            loss_steps.append(step)
        observe(step + 1)
    progress.close()
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
