"""The sharpness (largest eigenvalue of the training loss's Hessian) of every seed's net at once.

The seeds' losses are summed, so the Hessian of the sum is block-diagonal: one product of it
with a stacked vector (S, P) is every seed's own Hessian-vector product, H_s v_s. Products come
from autograd's double backward (the gradient's graph built once per call), and Lanczos
iteration with full reorthogonalisation turns m of them into a tridiagonal T_s = Q_s^T H_s Q_s
per seed, whose largest eigenvalue is the estimate (exact once m reaches the seed's P
parameters; the largest eigenvalue is found first, in a handful of steps, when it stands apart
from the rest).

    lam = hessian_max_eig(model, params, x, y, loss="mse")   # (S,) float64
    train(..., monitor=lambda p: hessian_max_eig(model, p, x, y), monitor_every=10)

The start vector is one fixed draw (seed `seed`) shared by every seed's lane, so a seed's value
does not depend on which other seeds are in the batch.
"""

from __future__ import annotations

import torch

from .losses import get_loss


def _flat(tree: dict[str, torch.Tensor]) -> torch.Tensor:
    s = next(iter(tree.values())).shape[0]
    return torch.cat([v.reshape(s, -1) for v in tree.values()], dim=1)  # (S, P)


def _tree(flat: torch.Tensor, like: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out, i = {}, 0
    for k, v in like.items():
        m = v[0].numel()
        out[k] = flat[:, i:i + m].reshape(v.shape)
        i += m
    return out


def _prepare(params, x, y, dtype):
    dev = next(iter(params.values())).device
    p = {k: v.detach().to(dev, dtype) for k, v in params.items()}
    x = x.detach().to(dev, dtype)
    y = y.detach().to(dev, dtype if y.is_floating_point() else y.dtype)
    return p, x, y


def _hvp_fn(model, p, x, y, loss: str):
    """v -> H v (dicts like p). The gradient's graph is built once (double backward), so each
    product is one backward pass through it: ~3x faster on small nets than torch.func's
    jvp(grad(f)), which re-runs the forward and backward every time."""
    loss_fn = get_loss(loss)
    with torch.enable_grad():
        leaves = {k: v.clone().requires_grad_(True) for k, v in p.items()}
        total = loss_fn(model.forward(leaves, x), y).sum()  # over seeds: block-diagonal Hessian
        grads = torch.autograd.grad(total, list(leaves.values()), create_graph=True)

    def hvp(v: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        with torch.enable_grad():
            hv = torch.autograd.grad(grads, list(leaves.values()), [v[k] for k in leaves],
                                     retain_graph=True, allow_unused=True)
        return {k: torch.zeros_like(leaves[k]) if h is None else h.detach()
                for k, h in zip(leaves, hv)}

    return hvp


def hessian_vector_product(model, params: dict[str, torch.Tensor], x: torch.Tensor,
                           y: torch.Tensor, v: dict[str, torch.Tensor], *, loss: str = "mse",
                           dtype: torch.dtype = torch.float64) -> dict[str, torch.Tensor]:
    """H_s v_s for every seed s: the Hessian of seed s's training loss on (x (S, N, d), y) at
    its params, times its slice of v (a dict shaped like params). Dropout is off."""
    p, x, y = _prepare(params, x, y, dtype)
    v = {k: t.detach().to(p[k].device, dtype) for k, t in v.items()}
    return _hvp_fn(model, p, x, y, loss)(v)


def hessian_max_eig(model, params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor,
                    *, loss: str = "mse", iters: int = 20, seed: int = 0,
                    dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The sharpness (S,) float64: the largest eigenvalue of each seed's training loss Hessian
    at params, by `iters` Lanczos steps (capped at the parameter count P).

    model   a batched model (MLP, TorchModule, ...); params {name: (S, ...)}
    x, y    (S, N, d) inputs and the targets the loss takes; loss a key of lowdim.LOSSES
            (the Hessian of the loss as training minimises it: "mse" is the mean over points)
    A seed whose parameters or loss are not finite (a diverged run) gets NaN.
    """
    if not isinstance(iters, int) or isinstance(iters, bool) or iters < 1:
        raise ValueError(f"iters: got {iters!r}; need an int >= 1 (Lanczos steps)")
    p, x, y = _prepare(params, x, y, dtype)
    hvp = _hvp_fn(model, p, x, y, loss)
    flat = _flat(p)
    s, n_par = flat.shape
    m = min(iters, n_par)
    g = torch.Generator().manual_seed(seed)
    fresh = torch.randn(m, n_par, generator=g, dtype=dtype).to(flat.device)  # (m, P) per step
    q = fresh[0].expand(s, n_par)
    q = q / q.norm(dim=1, keepdim=True)
    basis = torch.zeros(s, m, n_par, dtype=dtype, device=flat.device)  # (S, m, P) rows q_j
    alpha = torch.zeros(s, m, dtype=dtype, device=flat.device)
    beta = torch.zeros(s, m, dtype=dtype, device=flat.device)  # beta[:, j] links q_j, q_j+1
    for j in range(m):
        basis[:, j] = q
        w = _flat(hvp(_tree(q, p)))  # (S, P)
        alpha[:, j] = (w * q).sum(1)
        for _ in range(2):  # full reorthogonalisation against q_0..q_j, twice for stability
            w = w - torch.einsum("sm,smp->sp", torch.einsum("smp,sp->sm", basis[:, :j + 1], w),
                                 basis[:, :j + 1])
        if j == m - 1:
            break
        b = w.norm(dim=1)  # (S,)
        scale = alpha[:, : j + 1].abs().amax(1).clamp_min(torch.finfo(dtype).tiny)
        broke = b <= 1e-10 * scale  # the Krylov space is invariant: T holds exact eigenvalues
        beta[:, j] = torch.where(broke, 0.0, b)
        # a lane that broke down goes on from a fresh direction orthogonal to its basis
        r = fresh[j + 1].expand(s, n_par)
        r = r - torch.einsum("sm,smp->sp", torch.einsum("smp,sp->sm", basis[:, :j + 1], r),
                             basis[:, :j + 1])
        nxt = torch.where(broke[:, None], r, w)
        q = nxt / nxt.norm(dim=1, keepdim=True).clamp_min(torch.finfo(dtype).tiny)
    t = torch.diag_embed(alpha) + torch.diag_embed(beta[:, :-1], 1) + torch.diag_embed(
        beta[:, :-1], -1)  # (S, m, m) = Q^T H Q
    bad = ~torch.isfinite(t).all(dim=2).all(dim=1)  # a diverged seed: NaN, not an error
    top = torch.linalg.eigvalsh(torch.where(bad[:, None, None], 0.0, t))[:, -1]
    return torch.where(bad, torch.nan, top).to("cpu", torch.float64)


__all__ = ["hessian_max_eig", "hessian_vector_product"]
