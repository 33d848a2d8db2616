"""Very long full-batch GD on the logistic loss of tiny homogeneous models, and their margins.

    out = homogeneous_gd(params, x, y, lr=lr, steps=100_000, record_at=(100, 1000, 10_000))
    # out[t] = the parameters after t steps, each (S, ...)

The models are lowdim's bias-free MLPs with one output: the linear model f(x) = x w0
(params {"w0": (S, d, 1)}) and the two-layer ReLU net f(x) = relu(x w0) w1 (params
{"w0": (S, d, H), "w1": (S, H, 1)}), both positively homogeneous; the loss is lowdim's "logistic"
(mean over points of log(1 + exp(-s f(x))), s = 2t - 1 for targets t in {0, 1}). The step is
lowdim.train's plain GD on that loss (tests/test_margin.py checks the numbers), with the gradient
written out by hand: the implicit-bias claims need 10^5 steps and more, and a tiny model's step
through lowdim.train is ~0.5 ms of per-op overhead (docs/speed.md), ~20x this loop's.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch


def _check(params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> None:
    if set(params) not in ({"w0"}, {"w0", "w1"}):
        raise ValueError(f"params: got {sorted(params)}; need {{'w0'}} (linear) or "
                         "{'w0', 'w1'} (two-layer ReLU), as MLP(..., bias=False).init gives")
    last = params["w1" if "w1" in params else "w0"]
    if last.shape[-1] != 1 or x.dim() != 3 or x.shape[-1] != params["w0"].shape[1]:
        raise ValueError(f"x, params: got x {tuple(x.shape)}, w0 {tuple(params['w0'].shape)}, "
                         f"output {tuple(last.shape)}; need x (S, N, d), w0 (S, d, .), one output")
    if y.shape[:2] != x.shape[:2]:
        raise ValueError(f"y: got shape {tuple(y.shape)}; need (S, N) or (S, N, 1) targets in "
                         "{0, 1} for x of shape " f"{tuple(x.shape)}")


@torch.no_grad()
def homogeneous_gd(params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor, *,
                   lr: float | torch.Tensor, steps: int, record_at: Iterable[int] = ()
                   ) -> dict[int, dict[str, torch.Tensor]]:
    """Plain GD on the mean logistic loss, every seed at once, in the params' dtype.

    params  {"w0": (S, d, 1)} or {"w0": (S, d, H), "w1": (S, H, 1)}; x (S, N, d); y (S, N) or
            (S, N, 1) targets in {0, 1}; lr a number or (S,) per seed.
    Returns {t: parameters after t steps} for every t in record_at (0 <= t <= steps) and steps."""
    _check(params, x, y)
    w = {k: v.detach().clone() for k, v in params.items()}
    dt = w["w0"].dtype
    x = x.to(w["w0"].device, dt)
    sign = (2 * y.to(x.device, dt) - 1).reshape(x.shape[0], x.shape[1], 1)  # (S, N, 1) of +-1
    lr = torch.as_tensor(lr, dtype=dt, device=x.device).reshape(-1, 1, 1)
    # -lr * d(mean loss)/dz = sigmoid(-s z) * s lr / N: the constant factors are folded into the
    # operands once, so a linear step is three kernels (bmm, sigmoid, baddbmm)
    neg_x = -sign * x  # (S, N, d): bmm(neg_x, w0) = -s z
    coef = sign * lr / x.shape[1]  # (S, N, 1)
    xt_coef = (x * coef).transpose(1, 2).contiguous()  # (S, d, N)
    xt = x.transpose(1, 2).contiguous()  # (S, d, N)
    marks = sorted({int(t) for t in record_at} | {int(steps)})
    if marks and (marks[0] < 0 or marks[-1] > steps):
        raise ValueError(f"record_at: got {marks}; need steps in 0..{steps}")
    out: dict[int, dict[str, torch.Tensor]] = {}
    two = "w1" in w
    for t in range(steps + 1):
        if marks and t == marks[0]:
            out[t] = {k: v.clone() for k, v in w.items()}
            marks.pop(0)
        if t == steps:
            break
        if two:
            h = torch.relu(torch.bmm(x, w["w0"]))  # (S, N, H)
            r = torch.sigmoid(torch.bmm(h, w["w1"]).mul_(-sign)).mul_(coef)  # -lr dL/dz (S, N, 1)
            g = torch.ops.aten.threshold_backward(r * w["w1"].transpose(1, 2), h, 0)  # -lr dL/da
            w["w1"].baddbmm_(h.transpose(1, 2), r)
            w["w0"].baddbmm_(xt, g)
        else:
            w["w0"].baddbmm_(xt_coef, torch.sigmoid(torch.bmm(neg_x, w["w0"])))
    return out


@torch.no_grad()
def normalized_margin(params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor
                      ) -> np.ndarray:
    """(S,) min over points of s f(x) / |theta|^L, the normalised margin of an L-homogeneous model
    (L = 1 linear, 2 two-layer; |theta| the norm of all parameters together, Lyu & Li 2020)."""
    _check(params, x, y)
    dt = params["w0"].dtype
    x = x.to(params["w0"].device, dt)
    z = torch.bmm(x, params["w0"])
    if "w1" in params:
        z = torch.bmm(torch.relu(z), params["w1"])
    sign = (2 * y.to(x.device, dt) - 1).reshape(z.shape)
    sq = sum(v.reshape(v.shape[0], -1).square().sum(1) for v in params.values())
    return ((sign * z).amin(dim=(1, 2)) / sq ** (len(params) / 2)).cpu().double().numpy()


def max_margin_direction(x: np.ndarray, y: np.ndarray, *, c: float = 1e6) -> np.ndarray:
    """Unit direction of the hard-margin linear SVM through the origin (no intercept) on one
    seed's data x (N, d), labels y (N,) in {0, 1}: scikit-learn's LinearSVC with the hinge loss
    and a very large C. Raises ValueError if the data are not separated by it (every point's
    margin must be positive), since the direction is then not the hard-margin one."""
    from sklearn.svm import LinearSVC

    s = 2 * np.asarray(y) - 1
    # random_state fixed: liblinear's dual coordinate descent visits the points in a random
    # order, and with the default (numpy's global state) the direction differed between runs
    svm = LinearSVC(C=c, loss="hinge", fit_intercept=False, tol=1e-12, max_iter=1_000_000,
                    dual=True, random_state=0)
    svm.fit(np.asarray(x, dtype=np.float64), s)
    w = svm.coef_.reshape(-1).astype(np.float64)
    if not (s * (x @ w) > 0).all():
        raise ValueError("x, y: the SVM direction does not separate the data; the implicit-bias "
                         "statement needs linearly separable data through the origin")
    return w / np.linalg.norm(w)


def direction_angle(w: torch.Tensor, direction: np.ndarray | torch.Tensor) -> np.ndarray:
    """(S,) angle in radians between each seed's weight vector w (S, d, 1) or (S, d) and its
    direction (S, d)."""
    w = w.reshape(w.shape[0], -1).double().cpu()
    u = torch.tensor(np.array(direction, dtype=np.float64)).reshape(w.shape)  # a copy
    a, b = w / w.norm(dim=1, keepdim=True), u / u.norm(dim=1, keepdim=True)
    # Kahan's 2 atan2(|a - b|, |a + b|): accurate for small angles, where arccos(a.b) is not
    return (2 * torch.atan2((a - b).norm(dim=1), (a + b).norm(dim=1))).numpy()


__all__ = ["direction_angle", "homogeneous_gd", "max_margin_direction", "normalized_margin"]
