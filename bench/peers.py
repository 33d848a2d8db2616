"""The peers bench/seeds.py measures lowdim against: the best approaches a user could write
without lowdim, run on the same initial weights and data as lowdim's rows.

torch.func (W1, W2, W3)
    One seed's step written for one nn.Sequential through `torch.func.functional_call`, its
    gradient by `torch.func.grad_and_value`, the update (plain GD, or Adam with
    torch.optim.Adam's bias correction) in the same function; `torch.func.vmap` over the
    seeds; approach "torch.func" runs that eagerly, "torch.func.compiled" the whole vmapped step
    under `torch.compile(dynamic=False)`, called once per step from Python.
nn_inconsistency (W1)
    The numpy trainer of Holzmüller & Steinwart's code (github.com/dholzmueller/nn_inconsistency,
    mc_training.CheckingNN.train_one_epoch: full-batch GD on many two-layer 1-D ReLU nets at
    once, in preallocated float64 buffers), imported from a checkout the user names with
    `--nn-inconsistency DIR` (never copied into this repository). Its nets share one x and one y
    (each net has its own sample weights), so its row trains every seed on seed 0's data; its
    loss is 1/2 sum_i p_i (f - y)^2, and p_i = 2/N makes it lowdim's "mse".
"""

from __future__ import annotations

import importlib
import sys
import time
import types

import numpy as np
import torch
from torch.func import functional_call, grad_and_value, vmap

ADAM = (0.9, 0.999, 1e-8)  # torch.optim.Adam's defaults (betas, eps), as the loop uses


def sequential(sizes) -> torch.nn.Sequential:
    """The per-seed net the loop trains: Linear layers with ReLU between them."""
    layers = []
    for k, (i, o) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(i, o))
        if k < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def stacked(params, n_layers) -> dict[str, torch.Tensor]:
    """lowdim's (S, in, out) / (S, 1, out) parameters as nn.Sequential's names, seed first."""
    out = {}
    for k in range(n_layers):
        out[f"{2 * k}.weight"] = params[f"w{k}"].transpose(1, 2).contiguous()
        out[f"{2 * k}.bias"] = params[f"b{k}"][:, 0, :].contiguous()
    return out


class FuncPeer:
    """vmap(functional_call) training of every seed at once; `run(steps)` returns (seconds,
    the last step's losses (S,)); `compiled` puts the vmapped step under torch.compile."""

    def __init__(self, w, params, data, *, compiled: bool):
        n_layers = len(w["sizes"]) - 1
        net = sequential(w["sizes"]).to(next(iter(params.values())).dtype)
        self.p0 = stacked(params, n_layers)
        self.x, self.y = data.x, data.y
        self.adam = w["optimizer"] == "adam"
        lr = w["lr"]
        ce = w["loss"] == "cross_entropy"
        b1, b2, eps = ADAM

        def loss_of(p, x, y):
            out = functional_call(net, p, (x,))
            if ce:
                return torch.nn.functional.cross_entropy(out, y)
            return torch.nn.functional.mse_loss(out, y)

        def gd_step(p, x, y):
            g, loss = grad_and_value(loss_of)(p, x, y)
            return {k: p[k] - lr * g[k] for k in p}, loss

        def adam_step(p, m, v, x, y, t):
            g, loss = grad_and_value(loss_of)(p, x, y)
            m = {k: b1 * m[k] + (1 - b1) * g[k] for k in p}
            v = {k: b2 * v[k] + (1 - b2) * g[k] * g[k] for k in p}
            c1, c2 = 1 - b1**t, 1 - b2**t
            new = {k: p[k] - (lr / c1) * m[k] / (v[k].sqrt() / c2.sqrt() + eps) for k in p}
            return new, m, v, loss

        step = (vmap(adam_step, in_dims=(0, 0, 0, 0, 0, None)) if self.adam
                else vmap(gd_step))
        self.step = torch.compile(step, dynamic=False) if compiled else step

    def run(self, steps: int):
        p = {k: v.clone() for k, v in self.p0.items()}
        m = {k: torch.zeros_like(v) for k, v in p.items()}
        v = {k: torch.zeros_like(t) for k, t in p.items()}
        loss = None
        t0 = time.perf_counter()
        with torch.no_grad():
            for t in range(1, steps + 1):
                if self.adam:
                    p, m, v, loss = self.step(p, m, v, self.x, self.y,
                                              torch.tensor(float(t), dtype=self.x.dtype))
                else:
                    p, loss = self.step(p, self.x, self.y)
        return time.perf_counter() - t0, loss


def load_nn_inconsistency(directory: str):
    """mc_training from the user's checkout. Its code predates numpy 1.24, which removed the
    aliases np.bool and np.int; they are set back (to the builtins they meant) if missing."""
    for name, value in (("bool", bool), ("int", int)):
        if name not in np.__dict__:
            setattr(np, name, value)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    return importlib.import_module("mc_training")


class NNInconsistencyPeer:
    """CheckingNN.train_one_epoch on every seed's net, all on seed 0's x and y (the code shares
    them); float64 as the code allocates its buffers. `run(steps)` returns (seconds, the
    losses (S,) before the last step, 1/2 sum p (f - y)^2 = mse with p = 2/N)."""

    def __init__(self, module, params, x, y, lr):
        s = params["w0"].shape[0]
        self.module = module
        a = params["w0"].double().numpy()  # (S, 1, H): the code's a, b, w are (S, 1, H)
        b = params["b0"].double().numpy()
        c = params["b1"].double().numpy()  # (S, 1, 1)
        w = params["w1"].double().numpy().transpose(0, 2, 1)
        self.weights = (a, b, c, w)
        xs = x[0].reshape(-1).double().numpy()
        ys = y[0].reshape(-1).double().numpy()
        n = xs.shape[0]
        setup = types.SimpleNamespace(x=xs, y=ys, x_weights=np.full(n, 2.0 / n))
        self.setups = [setup] * s
        self.lrs = np.full(s, float(lr))

    def run(self, steps: int):
        net = self.module.CheckingNN(self.weights, self.setups, self.lrs)
        vars_ = net.create_training_vars()
        t0 = time.perf_counter()
        for _ in range(steps - 1):
            net.train_one_epoch(vars_)
        loss = self.loss(net, vars_)  # before the last step, as the loop and lowdim record it
        net.train_one_epoch(vars_)
        return time.perf_counter() - t0, torch.from_numpy(loss)

    @staticmethod
    def loss(net, vars_) -> np.ndarray:
        f = (np.maximum(net.a * vars_.X + net.b, 0) * net.w).sum(axis=2, keepdims=True) + net.c
        return ((f - vars_.Y) ** 2).mean(axis=(1, 2))
