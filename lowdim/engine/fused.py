"""Training lowdim's MLP with the seed axis innermost; its step optionally under torch.compile.

Why: lowdim.train's step for a tiny net (W2: 1-10-10-1 on 16 points) is a few bmm calls over
(S, N, in) x (S, in, out), and MKL spends ~0.3 us on every tiny matrix, however small. Here
every tensor carries the seeds last: inputs and activations (N, H, S), weights (in, out, S),
biases (out, S). A layer's product is then a broadcast multiply and a sum over the shared axis,
element-wise across seeds and vectorised along them:
    z[n, o, s] = sum_i h[n, i, s] * w[i, o, s] + b[o, s]
Eagerly each product stores its (N, in, out, S) broadcast; under torch.compile inductor fuses
a whole step into a few loops that store nothing of that size. Layers above SMALL_LAYER weights
take a batched matmul over the seeds instead (einsum: MKL's GEMM is efficient on such
matrices). The backward pass (as lowdim.backprop: each activation's and loss's derivative) and
the optimizer updates (torch.optim's SGD and Adam formulas, bias correction and eps included)
are written out, so one training step is one function of tensors.

The numbers are lowdim.train's up to float rounding (sums run in another order), not bit for
bit: the claims run the standard path. Measurements in docs/speed.md.

    unsupported(model, data, config, ...) -> None, or why not (field, value, fix)
    worth_compiling(model, data, config, device) -> compile="auto"'s rule
    fit(model, data, config, seeds=..., key=..., params=None, device=..., compile=...)
"""

from __future__ import annotations

import functools
import os
import shutil
from dataclasses import dataclass

import torch

from .backprop import DERIVATIVES, act_backward
from .config import TrainConfig, TrainResult
from .data import Data
from .models import ACTIVATIONS, MLP

SMALL_LAYER = 1024  # in * out weights up to which a layer's product is a broadcast and a sum
# compile="auto" (docs/speed.md has the measurements): a forward pass of at most AUTO_MAX_MACS
# multiply-adds per seed (N points x sum of the layers' in x out; W2: 1,920, W3: 5.2 million),
# where the fused compiled step measured faster than the standard one, and seeds x steps of at
# least AUTO_MIN_SEED_STEPS, where W2's gain per seed-step repays a cold compile
AUTO_MAX_MACS = 12_000
AUTO_MIN_SEED_STEPS = 2_000_000
LOSSES = ("mse", "half_sse", "cross_entropy")
_BETAS, _EPS = (0.9, 0.999), 1e-8  # torch.optim.Adam's defaults, as lowdim's Optimizer uses


@dataclass(frozen=True)
class _Spec:
    """What one compiled graph is specialised on (torch.compile guards on this value)."""

    act: str
    out_act: str
    param_of_layer: tuple[int, ...]  # layer -> index of its weight (tied layers share one)
    shapes: tuple[tuple[int, int], ...]  # (in, out) of each weight, in the packed order
    bias: bool
    loss: str
    optimizer: str  # "sgd" (gd is sgd without momentum) or "adam"
    momentum: bool
    l1: bool
    l2: bool


def unsupported(model, data: Data, config: TrainConfig, *, weight_masks=None, monitor=None,
                monitor_every: int = 0) -> str | None:
    """None when the fused path trains this run, else the first reason why not: a sentence that
    names the field and its value."""
    if type(model) is not MLP:
        return f"model: got {type(model).__name__}; the fused path trains lowdim.MLP only"
    checks = [
        (model.parametrization == "standard", "model.parametrization", model.parametrization,
         "'standard'"),
        (model.dropout == 0.0, "model.dropout", model.dropout, "0"),
        (model.activation in DERIVATIVES, "model.activation", model.activation,
         " or ".join(DERIVATIVES)),
        (model.out_activation in DERIVATIVES, "model.out_activation", model.out_activation,
         " or ".join(DERIVATIVES)),
        (config.loss in LOSSES, "config.loss", config.loss, " or ".join(LOSSES)),
        (config.batch_size is None or config.batch_size >= data.n_samples, "config.batch_size",
         config.batch_size, f"full-batch training (None or >= the {data.n_samples} points)"),
        (config.snapshot_every == 0, "config.snapshot_every", config.snapshot_every, "0"),
        (weight_masks is None, "weight_masks", "given", "None"),
        (monitor is None or not monitor_every, "monitor", "given", "None"),
    ]
    for ok, field, value, need in checks:
        if not ok:
            return f"{field}={value!r}; the fused path needs {need}"
    return None


def compiler_available(device: torch.device) -> bool:
    """Can torch.compile build kernels for this device: a C++ compiler (inductor's choice: $CXX,
    else g++) on the CPU, triton on CUDA."""
    if device.type == "cpu":
        return shutil.which(os.environ.get("CXX", "g++")) is not None
    try:
        from torch.utils._triton import has_triton
    except ImportError:
        return False
    return has_triton()


def worth_compiling(model: MLP, data: Data, config: TrainConfig, device: torch.device) -> bool:
    """compile="auto"'s rule, given a supported run: on the CPU, with a C++ compiler, a forward
    pass of at most AUTO_MAX_MACS multiply-adds per seed (forward_macs) and seeds x steps at
    least AUTO_MIN_SEED_STEPS. It depends on the run alone (not on what this process compiled
    before), so a run's numbers do not depend on which tests an xdist worker ran first."""
    return (device.type == "cpu" and compiler_available(device)
            and forward_macs(model, data.n_samples) <= AUTO_MAX_MACS
            and data.n_seeds * config.steps >= AUTO_MIN_SEED_STEPS)


def forward_macs(model: MLP, n_points: int) -> int:
    """Multiply-adds of one seed's forward pass over n_points: n_points x sum of in x out."""
    return n_points * sum(i * o for i, o in zip(model.sizes[:-1], model.sizes[1:]))


def _product(h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """h (N, in, S) times w (in, out, S), seed by seed -> (N, out, S)."""
    if w.shape[0] == 1:  # one input: an outer product
        return h * w
    if w.shape[0] * w.shape[1] > SMALL_LAYER:
        return torch.einsum("nis,ios->nos", h, w)
    return (h.unsqueeze(2) * w).sum(1)  # (N, in, 1, S) * (in, out, S), summed over in


def _weight_grad(h: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """dL/dw (in, out, S) from the layer's input h (N, in, S) and dL/dz g (N, out, S)."""
    if h.shape[1] * g.shape[1] > SMALL_LAYER:
        return torch.einsum("nis,nos->ios", h, g)
    return (h.unsqueeze(2) * g.unsqueeze(1)).sum(0)


def _input_grad(g: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """dL/dh (N, in, S) from dL/dz g (N, out, S) and the weights w (in, out, S)."""
    if w.shape[1] == 1:  # one output: an outer product
        return g * w[:, 0]
    if w.shape[0] * w.shape[1] > SMALL_LAYER:
        return torch.einsum("nos,ios->nis", g, w)
    return (g.unsqueeze(1) * w).sum(2)  # (N, 1, out, S) * (in, out, S), summed over out


def _loss(name: str, out: torch.Tensor, t: torch.Tensor):
    """(per-seed loss (S,), dL/dout (N, k, S)) of outputs and float targets t, both (N, k, S)."""
    n, k = out.shape[0], out.shape[1]
    if name == "cross_entropy":  # t: one-hot rows (labels) or probabilities
        logp = torch.log_softmax(out, dim=1)
        value = -(t * logp).sum(1).mean(0)
        return value, (logp.exp() * t.sum(1, keepdim=True) - t) / n
    d = out - t
    if name == "half_sse":
        return 0.5 * d.square().sum((0, 1)), d
    return d.square().sum((0, 1)) / (n * k), d * (2.0 / (n * k))  # mse


def _unpack(flat: torch.Tensor, spec: _Spec):
    """Views of the packed parameters (P, S): weights (in, out, S), biases (out, S)."""
    ws, bs, at = [], [], 0
    for i, o in spec.shapes:
        ws.append(flat[at:at + i * o].view(i, o, flat.shape[1]))
        at += i * o
        if spec.bias:
            bs.append(flat[at:at + o])
            at += o
    return ws, bs


def _step(flat, state, x, t, hyper, spec: _Spec):
    """One training step of every seed. flat: the parameters packed (P, S) (see _unpack),
    state: the optimizer's (P, S) tensors (Adam's two moments, SGD's momentum buffer, or none),
    x (N, d, S), t (N, k, S), hyper (4,): (lr, momentum, l1, l2), Adam's first two
    (lr / bias correction 1, sqrt(bias correction 2)). Returns the new flat and state and the
    loss (S,) before the step. One tensor of parameters keeps the compiled call's guards and the
    optimizer's kernels few."""
    act, n_layers = ACTIVATIONS[spec.act], len(spec.param_of_layer)
    ws, bs = _unpack(flat, spec)
    layers, h = [], x  # per layer: (input, z, act(z))
    for layer, j in enumerate(spec.param_of_layer):
        z = _product(h, ws[j])
        if spec.bias:
            z = z + bs[j]
        a = act(z) if layer < n_layers - 1 else ACTIVATIONS[spec.out_act](z)
        layers.append((h, z, a))
        h = a
    loss, g = _loss(spec.loss, h, t)
    g = act_backward(spec.out_act, g, layers[-1][1], h)  # dL/dz of the last layer
    gw: list = [None] * len(ws)
    gb: list = [None] * len(ws)
    for layer in range(n_layers - 1, -1, -1):
        j, (inp, _, _) = spec.param_of_layer[layer], layers[layer]
        dw = _weight_grad(inp, g)
        gw[j] = dw if gw[j] is None else gw[j] + dw
        if spec.bias:
            gb[j] = g.sum(0) if gb[j] is None else gb[j] + g.sum(0)
        if layer:
            _, z, a = layers[layer - 1]
            g = act_backward(spec.act, _input_grad(g, ws[j]), z, a)
    parts = []
    for j, w in enumerate(ws):  # TrainConfig's penalties: lambda * mean over the matrix
        numel = w.shape[0] * w.shape[1]
        if spec.l1:
            gw[j] = gw[j] + (hyper[2] / numel) * w.sign()
        if spec.l2:
            gw[j] = gw[j] + (hyper[3] / numel) * (2 * w)
        parts += [gw[j].reshape(numel, -1), *([gb[j]] if spec.bias else [])]
    grad = torch.cat(parts)  # (P, S), packed as flat
    if spec.optimizer == "adam":
        m = state[0] + (1 - _BETAS[0]) * (grad - state[0])  # exp_avg.lerp_(grad, 1 - beta1)
        v = state[1] * _BETAS[1] + (1 - _BETAS[1]) * grad * grad
        return flat - hyper[0] * m / (v.sqrt() / hyper[1] + _EPS), [m, v], loss
    if spec.momentum:  # the buffer starts at 0, so the first step's buffer is grad itself
        buf = state[0] * hyper[1] + grad
        return flat - hyper[0] * buf, [buf], loss
    return flat - hyper[0] * grad, [], loss


@functools.cache
def _compiled_step():
    """One compiled function per process; torch.compile keeps a graph per spec, shape, dtype."""
    return torch.compile(_step, dynamic=False)


def _targets(y: torch.Tensor, k: int, dtype: torch.dtype) -> torch.Tensor:
    """(S, N) labels or (S, N, k) / (S, N) float targets -> float targets (N, k, S)."""
    if not y.is_floating_point():
        y = torch.nn.functional.one_hot(y, k)
    return _dense(y.reshape(y.shape[0], y.shape[1], k).to(dtype).permute(1, 2, 0))


def _dense(t: torch.Tensor) -> torch.Tensor:
    """A copy of t with row-major strides, size-1 axes included (contiguous() keeps a size-1
    axis's odd stride, the compiled step's outputs do not, and dynamo would compile twice)."""
    return torch.empty(t.shape, dtype=t.dtype, device=t.device).copy_(t)


def fit(model: MLP, data: Data, config: TrainConfig, *, seeds: list[int], key: str,
        params: dict[str, torch.Tensor] | None = None, device: torch.device,
        compile: bool) -> TrainResult:
    """lowdim.train's run in the seed-innermost layout (a run `unsupported` accepts; lowdim.train
    has checked the arguments and applied --lowdim-perturb). compile: the step under
    torch.compile(dynamic=False), else eager. Returns lowdim.train's TrainResult (params and
    init (S, ...), losses (R, S) before the recorded steps)."""
    reason = unsupported(model, data, config)
    if reason is not None:
        raise ValueError(f"fused path: {reason}")
    dtype, s = config.torch_dtype, len(seeds)
    data = data.to(device, dtype)
    if params is None:
        params = model.init(seeds, key=key, dtype=dtype, device=device)
    init = {k: v.detach().to(device, dtype).clone() for k, v in params.items()}
    names = list(dict.fromkeys(model.layer_names()))  # each weight once, in layer order
    blocks = []  # per weight (in * out, S), then its bias (out, S)
    for n in names:
        blocks.append(init["w" + n].permute(1, 2, 0).reshape(-1, s))  # (in, out, S) flattened
        if model.bias:
            blocks.append(init["b" + n][:, 0, :].T)  # (out, S)
    flat = _dense(torch.cat(blocks))  # (P, S)
    x = _dense(data.x.permute(1, 2, 0))  # (N, d, S)
    t = _targets(data.y, model.sizes[-1], dtype)  # (N, k, S)
    adam = config.optimizer == "adam"
    momentum = config.momentum if config.optimizer == "sgd" else 0.0
    spec = _Spec(model.activation, model.out_activation,
                 tuple(names.index(n) for n in model.layer_names()),
                 tuple(tuple(init["w" + n].shape[1:]) for n in names), model.bias, config.loss,
                 "adam" if adam else "sgd", bool(momentum), bool(config.l1), bool(config.l2))
    n_state = 2 if adam else (1 if momentum else 0)
    state = [torch.zeros_like(flat) for _ in range(n_state)]
    # hyper per step (steps, 4): Adam's bias corrections as torch's fused Adam computes them
    steps = torch.arange(1, config.steps + 1, dtype=torch.float64)
    if adam:
        first = config.lr / (1 - _BETAS[0] ** steps)
        second = (1 - _BETAS[1] ** steps).sqrt()
    else:
        first, second = torch.full_like(steps, config.lr), torch.full_like(steps, momentum)
    hyper = torch.stack([first, second, torch.full_like(steps, config.l1),
                         torch.full_like(steps, config.l2)], 1).to(device, dtype)
    step_fn = _compiled_step() if compile else _step
    losses, loss_steps = [], []
    # one graph per spec, shape and dtype, all on _step's code: a process (a test file, an
    # xdist worker) may train more kinds of nets than dynamo's default limit of 8
    with torch.no_grad(), torch._dynamo.config.patch(recompile_limit=64):
        for k in range(config.steps):
            flat, state, loss = step_fn(flat, state, x, t, hyper[k], spec)
            if config.record_every and k % config.record_every == 0:
                losses.append(loss)
                loss_steps.append(k)
    ws, bs = _unpack(flat, spec)
    out = {}
    for j, n in enumerate(names):
        out["w" + n] = ws[j].permute(2, 0, 1).contiguous()  # (S, in, out)
        if model.bias:
            out["b" + n] = bs[j].T[:, None, :].contiguous()  # (S, 1, out)
    return TrainResult(
        model=model, params={k: out[k] for k in init}, init=init,
        losses=torch.stack(losses) if losses else torch.empty(0, s, device=device),
        loss_steps=torch.tensor(loss_steps, dtype=torch.long),
    )


__all__ = ["AUTO_MAX_MACS", "AUTO_MIN_SEED_STEPS", "LOSSES", "SMALL_LAYER", "compiler_available",
           "fit", "forward_macs", "unsupported", "worth_compiling"]
