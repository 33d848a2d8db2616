"""Hand-written backward pass of lowdim's MLP: the gradients autograd would give, op for op.

Why: a small net's step is a few dozen tiny kernels, and autograd's bookkeeping (recording the
graph, saving tensors, walking it back) is a large share of it (bench/seeds.py measures the
ratio as lowdim vs lowdim.autograd; docs/speed.md). Here the forward pass (MLP.trace, the forward that keeps its intermediates) runs without recording and the backward
pass calls the same derivative kernels autograd's formulas call (threshold_backward for ReLU,
tanh_backward, sigmoid_backward, bmm with transposed operands, sum over points for a bias,
_log_softmax_backward_data for cross-entropy), so the gradients are the same numbers; only where
a parameter is used more than once (tied hidden layers) may the summation order differ.
Losses without a hand-written derivative here get theirs from autograd on the outputs alone.

    loss, grads = loss_and_grads(model, params, x, y, loss="mse", masks=None, l1=0, l2=0)
    # loss (S,); grads: one (S, ...) tensor per params entry, in params' order
"""

from __future__ import annotations

import contextlib

import torch

from .losses import float_targets, get_loss
from .models import MLP, runs_as_row

aten = torch.ops.aten


DERIVATIVES = ("relu", "tanh", "sigmoid", "identity", "sin", "square", "sign")  # act_backward's


def act_backward(name: str, g: torch.Tensor, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """dL/dz from dL/da for a = act(z), as autograd's formula for that activation computes it."""
    if name == "relu":
        return aten.threshold_backward(g, a, 0)
    if name == "tanh":
        return aten.tanh_backward(g, a)
    if name == "sigmoid":
        return aten.sigmoid_backward(g, a)
    if name == "identity":
        return g
    if name == "sin":
        return g * z.cos()
    if name == "square":  # torch.square is pow(z, 2): grad * (2 * z)
        return g * (2 * z)
    if name == "sign":  # zero gradient everywhere, as autograd's
        return torch.zeros_like(g)
    raise ValueError(f"activation: no hand-written derivative for {name!r}")


_enabled = True


@contextlib.contextmanager
def disabled():
    """Within this block lowdim.train back-propagates every model with autograd: to cross-check
    or time the hand-written pass (bench/seeds.py reports both)."""
    global _enabled
    before, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = before


def supports(model) -> bool:
    """Exactly lowdim's MLP (a subclass may change forward) in the standard parametrization
    (the others' weight multipliers are left to autograd), unless disabled()."""
    return _enabled and type(model) is MLP and model.parametrization == "standard"


def _loss_backward(loss: str, out: torch.Tensor, y: torch.Tensor):
    """(loss (S,), dL/dout (S, N, k)) of the summed per-seed losses."""
    n, k = out.shape[1], out.shape[2]
    if loss == "mse":
        d = out - float_targets(out, y)
        value = d.square().mean(dim=(1, 2))
        # MeanBackward: 1 / (N k) per element; PowBackward: grad * (2 * d)
        g = torch.full((), 1.0, dtype=out.dtype, device=out.device) / (n * k)
        return value, g * (2 * d)
    if loss == "cross_entropy" and not y.is_floating_point():
        logp = torch.log_softmax(out, dim=-1)  # (S, N, k)
        value = -logp.gather(-1, y.unsqueeze(-1)).squeeze(-1).mean(-1)
        # mean over points, negation, gather's scatter, then log_softmax's own backward
        g_pick = -(torch.full((), 1.0, dtype=out.dtype, device=out.device) / n)
        g_logp = torch.zeros_like(out).scatter_(-1, y.unsqueeze(-1),
                                                g_pick.expand(*y.shape, 1))
        return value, aten._log_softmax_backward_data(g_logp, logp, -1, out.dtype)
    o = out.detach().requires_grad_(True)
    with torch.enable_grad():
        value = get_loss(loss)(o, y)
        (g,) = torch.autograd.grad(value.sum(), o)
    return value.detach(), g


@torch.no_grad()
def loss_and_grads(model: MLP, params: dict[str, torch.Tensor], x: torch.Tensor,
                   y: torch.Tensor, *, loss: str, masks: list[torch.Tensor] | None = None,
                   l1: float = 0.0, l2: float = 0.0):
    """Per-seed loss (S,) of model on (x (S, N, d), y) and the gradients of its sum (plus the
    l1 / l2 penalties of TrainConfig) with respect to every parameter."""
    act = model.activation
    names = model.layer_names()
    last = len(names) - 1
    out, layers = model.trace(params, x, masks)  # per layer: (input, z, act(z))
    value, g = _loss_backward(loss, out, y)  # g = dL/d out (S, N, k)
    g = act_backward(model.out_activation, g, layers[-1][1], out)  # dL/dz of the last layer
    grads: dict[str, torch.Tensor] = {}

    def add(key: str, t: torch.Tensor) -> None:
        grads[key] = t if key not in grads else grads[key] + t

    for layer in range(last, -1, -1):
        name = names[layer]
        w = params["w" + name]
        inp = layers[layer][0]  # (S, N, in)
        if runs_as_row(w):  # the forward ran as a row (models.affine): its gradient
            add("w" + name, torch.bmm(g.transpose(1, 2), inp).transpose(1, 2))
        else:
            add("w" + name, torch.bmm(inp.transpose(1, 2), g))  # (S, in, out)
        if model.bias:
            add("b" + name, g.sum(1, keepdim=True))  # (S, 1, out)
        if layer == 0:
            break
        # dL/d input of this layer (S, N, in); with one output unit an outer product, whose
        # element-wise form is bmm's numbers bit for bit (see models.affine)
        g = g * w.transpose(1, 2) if w.shape[2] == 1 else torch.bmm(g, w.transpose(1, 2))
        if masks:
            g = g * masks[layer - 1]
        g = act_backward(act, g, layers[layer - 1][1], layers[layer - 1][2])
    for key, w in params.items():
        if key.startswith("w") and (l1 or l2):
            numel = w.shape[1] * w.shape[2]
            if l1:  # l1 * mean|W|: MulBackward, MeanBackward, AbsBackward
                add(key, (torch.full((), l1, dtype=w.dtype, device=w.device) / numel) * w.sign())
            if l2:  # l2 * mean(W^2)
                add(key, (torch.full((), l2, dtype=w.dtype, device=w.device) / numel) * (2 * w))
    return value, [grads.get(k) for k in params]
