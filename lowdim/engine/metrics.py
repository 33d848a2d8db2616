"""Per-seed statistics: everything here returns a float64 numpy array of shape (S,)
(or (S, L) for per-layer figures), ready for lowdim.stats."""

from __future__ import annotations

import numpy as np
import torch


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float64).numpy()


@torch.no_grad()
def accuracy(outputs: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
    """Fraction of points whose argmax output is the label. outputs (S, N, k), labels (S, N)
    int (or (S, N, k) one-hot). A single output column is read as a score: class 1 if > 0."""
    if labels.dim() == 3:
        labels = labels.argmax(-1)
    labels = labels.to(outputs.device)
    pred = (outputs[..., 0] > 0).long() if outputs.shape[-1] == 1 else outputs.argmax(-1)
    return _np((pred == labels).double().mean(dim=1))


@torch.no_grad()
def mse(outputs: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
    """Mean squared error per seed. outputs (S, N, k), targets (S, N, k)."""
    targets = targets.to(outputs.device, outputs.dtype).reshape(outputs.shape)
    return _np((outputs - targets).square().mean(dim=(1, 2)))


def _layer_keys(params: dict[str, torch.Tensor], kind: str) -> list[str]:
    return sorted((k for k in params if k.startswith(kind)), key=lambda k: (len(k), k))


@torch.no_grad()
def param_change(
    before: dict[str, torch.Tensor],
    after: dict[str, torch.Tensor],
    *,
    kind: str = "w",
    relative: bool = False,
    eps: float = 1e-12,
) -> np.ndarray:
    """Per seed and layer: how far the parameters named kind<i> moved.

    relative=False: absolute change ||Δ||_F, shape (S, L) for the parameters named kind<i>.
    relative=True:  ||Δ||_F / max(||before||_F, ||after||_F, eps) — defined (and in [0, 2])
                    even when a layer starts at exactly zero, unlike a percent change.
    """
    keys = _layer_keys(before, kind)
    if not keys:
        raise ValueError(f"kind: no parameters named {kind!r}<i>; have {sorted(before)}")
    cols = []
    for k in keys:
        b, a = before[k].double(), after[k].double().to(before[k].device)
        dims = tuple(range(1, b.dim()))
        delta = (a - b).square().sum(dim=dims).sqrt()  # (S,)
        if relative:
            scale = torch.maximum(b.square().sum(dim=dims), a.square().sum(dim=dims)).sqrt()
            delta = delta / scale.clamp_min(eps)
        cols.append(delta)
    return _np(torch.stack(cols, dim=1))  # (S, L)


def share_of_change(before, after, *, kinds=("w", "b")) -> np.ndarray:
    """Each layer's share of the total absolute parameter change, per seed: (S, L), rows sum to 1
    (a row of zeros when nothing moved). Counts weights and biases of a layer together."""
    total = None
    for kind in kinds:
        if _layer_keys(before, kind):
            sq = param_change(before, after, kind=kind) ** 2
            total = sq if total is None else total + sq
    mag = np.sqrt(total)
    s = mag.sum(axis=1, keepdims=True)
    return np.divide(mag, s, out=np.zeros_like(mag), where=s > 0)
