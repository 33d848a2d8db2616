"""The parts of one training step for all seeds: per-seed random draws in chunks (Chunked), the
batches of a step (Sampler), the optimizer step (Optimizer) and the weight penalty (penalty).

Room-internal: lowdim.engine.train builds its loop from these.
"""

from __future__ import annotations

import math

import torch

from .config import TrainConfig
from .seeding import torch_generator

CHUNK_ELEMS = 1 << 16  # random numbers drawn per seed per chunk of steps


class Chunked:
    """Per-seed uniform draws of `shape` per step, produced in chunks and stacked over seeds."""

    def __init__(self, seeds, key, purpose, shape, device):
        self.gens = [torch_generator(key, s, purpose) for s in seeds]
        self.shape = tuple(shape)
        self.chunk = max(1, CHUNK_ELEMS // max(1, math.prod(self.shape)))
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


class Sampler:
    """Batch indices (S, B) per step, or None for the full batch."""

    def __init__(self, seeds, key, n, config: TrainConfig, device):
        b = config.batch_size
        self.n, self.mode, self.device = n, config.sampling, device
        self.full = b is None or (b >= n and config.sampling == "random")
        self.b = n if b is None else min(b, n)
        if self.full:
            return
        if self.mode == "random":
            self.keys = Chunked(seeds, key, "batches", (n,), device)
        else:
            self.gens = [torch_generator(key, s, "batches") for s in seeds]
            self.order, self.pos = None, n

    def next(self) -> torch.Tensor | None:
        if self.full:
            return None
        if self.mode == "random":
            # argsort of iid uniforms is a uniform random permutation; keep its first B.
            return first_of_argsort(self.keys.next(), self.b)  # (S, B)
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


def first_of_argsort(u: torch.Tensor, b: int) -> torch.Tensor:
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


def take(t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Rows idx (S, B) of t (S, N, ...) -> (S, B, ...)."""
    if t.dim() == 2:
        return t.gather(1, idx)
    expand = idx.reshape(*idx.shape, *([1] * (t.dim() - 2))).expand(*idx.shape, *t.shape[2:])
    return t.gather(1, expand)


class Optimizer:
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


def penalty(params: dict[str, torch.Tensor], config: TrainConfig) -> torch.Tensor:
    # (S,) = lambda * sum over weight matrices of mean(|W|) / mean(W^2); biases are not penalised.
    total = 0.0
    for name, w in params.items():
        if name.startswith("w"):
            if config.l1:
                total = total + config.l1 * w.abs().mean(dim=(1, 2))
            if config.l2:
                total = total + config.l2 * w.square().mean(dim=(1, 2))
    return total
