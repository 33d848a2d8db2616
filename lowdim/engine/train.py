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

import os
import sys
import time
from collections.abc import Callable, Sequence

import torch

from . import backprop, fused, perturb
from ._step import Chunked, Optimizer, Sampler, penalty, take
from .config import TrainConfig, TrainResult, is_int, resolve_device
from .data import Data
from .losses import get_loss
from .observe import trained as heard
from .pruning import apply_masks, check_masks
from .seeding import check_seeds

__all__ = ["TrainConfig", "TrainResult", "resolve_device", "train"]

_SEED_CHUNK_BYTES = 8 << 20  # CPU: a step's activations per chunk of seeds (see _seed_chunks)


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
    if not is_int(monitor_every) or monitor_every < 0:
        raise ValueError(f"monitor_every: got {monitor_every!r}; need an int >= 0 (0: never)")
    sizes = getattr(model, "sizes", None)
    if sizes is None:  # a TorchModule: its output width is checked once it has parameters
        return
    if data.x.shape[-1] != sizes[0]:
        raise ValueError(f"data.x: has {data.x.shape[-1]} input features (shape "
                         f"{tuple(data.x.shape)}) but the model takes {sizes[0]} (sizes {sizes})")
    _check_output_width(sizes[-1], data, config, f"sizes {sizes}")


def _check_output_width(k: int, data: Data, config: TrainConfig, model_text: str) -> None:
    """The model's output width k must fit the targets: float targets of width k, or int labels
    0..k-1 that use every output (labels 0..1 on a 7-unit output would train silently, the
    losses on raw outputs against one-hot rows of width 7)."""
    y = data.y
    if y.is_floating_point():  # (S, N, k) targets, or (S, N) for one output
        if (y.shape[-1] if y.dim() == 3 else 1) != k:
            raise ValueError(f"data.y: float targets of width {y.shape[-1]} (shape "
                             f"{tuple(y.shape)}) but the model outputs {k} ({model_text})")
        return
    if not y.numel():
        return
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or hi >= k:
        raise ValueError(f"data.y: labels {lo}..{hi} but the model outputs {k} classes "
                         f"({model_text}); labels must lie in 0..{k - 1}")
    if hi + 1 < k:
        raise ValueError(
            f"data.y: labels {lo}..{hi} ({hi + 1} classes) but the model outputs {k} "
            f"({model_text}); with loss {config.loss!r} outputs {hi + 1}..{k - 1} are fit to "
            f"classes no point has: make the output width {hi + 1}, or pass float targets of "
            f"width {k} (e.g. one-hot rows)")


def _torch_module_width(model, params: dict[str, torch.Tensor], data: Data) -> int:
    """Output width of a user's module: one forward of the first seed on its first point."""
    with torch.no_grad():
        one = {k: v[:1] for k, v in params.items()}
        return int(model.forward(one, data.x[:1, :1], None).shape[-1])


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
    weight_masks: dict[str, torch.Tensor] | None = None,
    compile: bool | str = False,
) -> TrainResult:
    """Train one model per seed, all at once.

    model    a batched model (MLP, TorchModule, ...); data: Data with the same S as seeds
    params   initial parameters (S, ...) to start from; default model.init(seeds, key=key)
    monitor  f(params) -> (S,) evaluated without grad after every `monitor_every` steps
             (and before step 0), e.g. training accuracy over time
    weight_masks  {parameter name: (S, ...) 0/1 mask} (default none): those parameters are
             multiplied by their mask before step 0 and after every step, so masked entries stay
             exactly 0 and the rest train as the pruned net's (lowdim.engine.pruning)
    compile  False (the default, what the claims run): the standard path below. True: the fused
             path (lowdim.engine.fused: the seed axis innermost, hand-written backward, the step
             under torch.compile; needs a C++ compiler on the CPU), ValueError where it does not
             apply (an MLP in the standard parametrization, full batch, no dropout, masks,
             monitor or snapshots; losses fused.LOSSES). "auto": the fused path where it applies
             and pays for its compile: on the CPU, a C++ compiler found, at most
             fused.AUTO_MAX_MACS (12,000) multiply-adds per seed in a forward pass (points x
             sum of in x out: W2 1,920; W3 5.2 million, where the fused path is slower) and
             seeds x steps at least fused.AUTO_MIN_SEED_STEPS (2 million); else the standard
             path. The fused path's numbers equal
             the standard path's up to float rounding (sums in another order), not bit for bit.
    """
    _check_train_args(model, data, config, key, monitor, monitor_every)
    config = perturb.train_config(config)  # --lowdim-perturb lr, steps, batch (else as given)
    model = perturb.widened(model, params)  # and width
    seeds = check_seeds(seeds)
    dev = resolve_device(device)
    if data.n_seeds != len(seeds):
        raise ValueError(f"data: has {data.n_seeds} seeds but seeds has {len(seeds)}; make both "
                         "from the same seed list")
    if compile is not False:  # after --lowdim-perturb: the fused path trains the perturbed run
        if not (compile is True or compile == "auto"):
            raise ValueError(f"compile: got {compile!r}; allowed: False, True, 'auto'")
        why = fused.unsupported(model, data, config, weight_masks=weight_masks, monitor=monitor,
                                monitor_every=monitor_every)
        if compile is True and why is not None:
            raise ValueError(f"compile=True: {why}; use compile=False or 'auto'")
        if why is None and (compile is True or fused.worth_compiling(model, data, config, dev)):
            result = fused.fit(model, data, config, seeds=seeds, key=key, params=params,
                               device=dev, compile=True)
            heard(result, seeds)
            return result
    chunks = [slice(0, len(seeds))] if monitor else _seed_chunks(model, data, config, dev,
                                                                  len(seeds))
    if len(chunks) > 1:  # (a monitor may read all S seeds' data: it keeps one batch)
        return _concat([train(model, data.select(c), config, seeds=seeds[c], key=key,
                              params=params and {k: v[c] for k, v in params.items()},
                              device=dev, weight_masks=weight_masks and {
                                  k: v[c] for k, v in weight_masks.items()}) for c in chunks])
    dtype = config.torch_dtype
    data = data.to(dev, dtype)
    if params is None:
        params = model.init(seeds, key=key, dtype=dtype, device=dev)
    init = {k: v.detach().to(dev, dtype).clone() for k, v in params.items()}
    if weight_masks:
        weight_masks = check_masks(weight_masks, init)
        apply_masks(init, weight_masks)
    if getattr(model, "sizes", None) is None:
        _check_output_width(_torch_module_width(model, init, data), data, config,
                            type(model).__name__)
    hand_written = backprop.supports(model)
    leaves = {k: v.clone().requires_grad_(not hand_written) for k, v in init.items()}
    leaf_list = list(leaves.values())
    opt = Optimizer(config, leaf_list)
    loss_fn = get_loss(config.loss)
    sampler = Sampler(seeds, key, data.n_samples, config, dev)
    mask_shapes = model.dropout_shapes(sampler.b)
    keep = 1.0 - getattr(model, "dropout", 0.0)
    masks_streams = [
        Chunked(seeds, key, f"dropout{i}", shape, dev) for i, shape in enumerate(mask_shapes)
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
            xb, yb = take(data.x, idx), take(data.y, idx)
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
                total = total + penalty(leaves, config).sum()
            # The gradients the leaves' .grad would receive from backward(), without storing them.
            opt.step(torch.autograd.grad(total, leaf_list, allow_unused=True))
        if weight_masks:
            apply_masks(leaves, weight_masks)
        if config.record_every and step % config.record_every == 0:
            losses.append(loss.detach())
            loss_steps.append(step)
        observe(step + 1)
    progress.close()
    if config.snapshot_every and config.steps not in snapshots:
        snapshots[config.steps] = {k: v.detach().clone() for k, v in leaves.items()}

    s = len(seeds)
    result = TrainResult(
        model=model,
        params={k: v.detach() for k, v in leaves.items()},
        init=init,
        losses=torch.stack(losses) if losses else torch.empty(0, s, device=dev),
        loss_steps=torch.tensor(loss_steps, dtype=torch.long),
        snapshots=snapshots,
        monitor=torch.stack(mon) if mon else None,
        monitor_steps=torch.tensor(mon_steps, dtype=torch.long) if mon else None,
    )
    heard(result, seeds)  # listeners, e.g. the plugin, naming seeds that diverged (observe.py)
    return result
