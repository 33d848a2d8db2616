"""The empirical neural tangent kernel (NTK) per seed; kinks and fast GD of 1-D ReLU nets.

The NTK Gram of seed s on points x_1..x_N is K_s = J_s J_s^T, J_s the Jacobian of the N*k outputs
with respect to all of seed s's parameters. Linearised full-batch gradient descent on the loss
    1/2 * sum_i p_i * ||f(x_i) - y_i||^2
moves the outputs by f <- f - lr * K P (f - y), P = diag(p), so its step sizes are set by the
eigenvalues of P^{1/2} K P^{1/2}: it is stable for lr < 2 / lambda_max, and lr = 1 / lambda_max is
the rule of Holzmueller & Steinwart's code (seed 004). The mean-squared error of lowdim's "mse"
loss over N points and k outputs is the case p_i = 2 / (N k).

Also here, for two-layer ReLU nets on 1-D inputs: where the units bend (their kinks -b/w), and
fast full-batch gradient descent with per-seed step sizes and per-point loss weights.
"""

from __future__ import annotations

import functools

import torch

from . import perturb
from .models import ACTIVATIONS, MLP


def _as_float(params: dict[str, torch.Tensor], x: torch.Tensor, dtype: torch.dtype):
    dev = next(iter(params.values())).device
    p = {k: v.detach().to(dev, dtype) for k, v in params.items()}
    return p, x.detach().to(dev, dtype)


def _mlp_gram(model: MLP, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    # Layer by layer, without the full Jacobian: for layer l with inputs H_l (S, N, in) and
    # gradients G_l = d f_k / d z_l (S, N, out) of output k w.r.t. that layer's pre-activations,
    # the weights contribute (H_l H_l^T) * (G_l G_l^T) and the bias 1 * (G_l G_l^T). Points do
    # not interact in the forward pass, so one backward of sum_n f_k(x_n) gives every G_l.
    act = ACTIVATIONS[model.activation]
    names = model.layer_names()
    params = {key: v.clone().requires_grad_(True) for key, v in params.items()}
    inputs, zs = [], []
    h = x
    for layer, name in enumerate(names):
        inputs.append(h.detach())
        w = params["w" + name]  # (S, in, out)
        z = torch.baddbmm(params["b" + name], h, w) if model.bias else torch.bmm(h, w)
        zs.append(z)  # (S, N, out): the pre-activations to take gradients at
        h = act(z) if layer < len(names) - 1 else z
    out = ACTIVATIONS[model.out_activation](h)  # (S, N, k)
    s, n, k = out.shape
    hh = [torch.bmm(a, a.transpose(1, 2)) + (1.0 if model.bias else 0.0) for a in inputs]  # (S,N,N)
    grads = []  # per output: list over layers of (S, N, out_l)
    for j in range(k):
        g = torch.autograd.grad(out[..., j].sum(), zs, retain_graph=j < k - 1, allow_unused=True)
        grads.append([torch.zeros_like(z) if gi is None else gi
                      for gi, z in zip(g, zs, strict=True)])
    gram = out.new_zeros(s, n, k, n, k)
    for j in range(k):
        for jj in range(j, k):
            block = sum(a * torch.bmm(g1, g2.transpose(1, 2))
                        for a, g1, g2 in zip(hh, grads[j], grads[jj], strict=True))  # (S, N, N)
            gram[:, :, j, :, jj] = block
            gram[:, :, jj, :, j] = block.transpose(1, 2)
    return gram.reshape(s, n * k, n * k)


def _generic_gram(model, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    # Any batched model whose seeds do not interact: the gradient of sum over seeds of output
    # (n, j) is, seed by seed, that seed's Jacobian row. N*k backward passes.
    leaves = {key: v.clone().requires_grad_(True) for key, v in params.items()}
    out = model.forward(leaves, x)  # (S, N, k)
    s, n, k = out.shape
    rows = []
    for i in range(n):
        for j in range(k):
            g = torch.autograd.grad(out[:, i, j].sum(), list(leaves.values()),
                                    retain_graph=True, allow_unused=True)
            parts = [(torch.zeros_like(v) if gi is None else gi).reshape(s, -1)
                     for gi, v in zip(g, leaves.values(), strict=True)]
            rows.append(torch.cat(parts, dim=1))  # (S, P)
    jac = torch.stack(rows, dim=1)  # (S, N*k, P)
    return torch.bmm(jac, jac.transpose(1, 2))


def ntk_gram(
    model,
    params: dict[str, torch.Tensor],
    x: torch.Tensor,
    *,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """The empirical NTK Gram matrix of every seed: (S, N*k, N*k), row n*k + j = output j at x_n.

    model   a batched model (lowdim.MLP takes a fast layer-wise path unless its hidden layers are
            tied; anything else with forward(params, x) -> (S, N, k) takes N*k backward passes);
            dropout is off (the kernel of the deterministic net)
    params  {name: (S, ...)} parameters at which to linearise (e.g. model.init(...) or
            result.params); x (S, N, d) inputs. Computed in `dtype` (float64 by default: the
            small eigenvalues of a 1-D Gram are lost in float32).
    """
    p, xx = _as_float(params, x, dtype)
    with torch.enable_grad():
        if isinstance(model, MLP) and not model.tie_hidden and model.parametrization == "standard":
            gram = _mlp_gram(model, p, xx)
        else:
            gram = _generic_gram(model, p, xx)
    return gram.detach()


def _weighted(gram: torch.Tensor, weight, k: int) -> torch.Tensor:
    if weight is None:
        return gram
    w = torch.as_tensor(weight, dtype=gram.dtype, device=gram.device)
    s, nk = gram.shape[0], gram.shape[1]
    if w.dim() == 0:
        w = w.expand(s, nk // k)
    elif w.dim() == 1:
        w = w.expand(s, -1)
    if w.shape != (s, nk // k) or (w < 0).any():
        raise ValueError(f"weight: need (N,) or (S, N) non-negative per-point weights for "
                         f"S={s}, N={nk // k}; got shape {tuple(w.shape)}")
    r = w.sqrt().repeat_interleave(k, dim=1)  # (S, N*k)
    return gram * r[:, :, None] * r[:, None, :]


def ntk_eigvalsh(
    model,
    params: dict[str, torch.Tensor],
    x: torch.Tensor,
    *,
    weight=None,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """Eigenvalues (S, N*k), ascending, of P^{1/2} K P^{1/2}: K the NTK Gram (see ntk_gram),
    P = diag(weight) the per-point weights of the loss 1/2 sum_i p_i ||f(x_i) - y_i||^2.

    weight  None (p_i = 1), a number, (N,) shared by all seeds or (S, N) per seed; "mse" over N
            points and k outputs is weight 2 / (N k). These are the rates of linearised
            gradient descent.
    """
    gram = ntk_gram(model, params, x, dtype=dtype)
    k = gram.shape[1] // x.shape[1]
    return torch.linalg.eigvalsh(_weighted(gram, weight, k))


def ntk_max_eig(model, params, x, *, weight=None, dtype: torch.dtype = torch.float64):
    """lambda_max (S,) of P^{1/2} K P^{1/2} (see ntk_eigvalsh); 1 / lambda_max is the step
    size of seed 004's code, 2 / lambda_max the stability edge of linearised GD."""
    return ntk_eigvalsh(model, params, x, weight=weight, dtype=dtype)[:, -1]


# --------------------------------------------------------------------------------------------
# 1-D inputs: where the first layer's ReLU units bend


@torch.no_grad()
def relu_kinks(params: dict[str, torch.Tensor], *, layer: str = "0") -> torch.Tensor:
    """Kinks t_j = -b_j / w_j (S, H) of the units of a layer with ONE input (weights (S, 1, H)):
    unit j is active on the side of t_j where w_j x + b_j > 0. A unit with w_j = 0 has no kink
    (inf or nan)."""
    w, b = params["w" + layer], params["b" + layer]
    if w.dim() != 3 or w.shape[1] != 1:
        raise ValueError(f"params['w{layer}']: need (S, 1, H) weights of a 1-D-input layer, got "
                         f"shape {tuple(w.shape)}")
    return -(b[:, 0, :] / w[:, 0, :])


def kink_fraction_inside(params: dict[str, torch.Tensor], lo, hi, *, layer: str = "0"):
    """Per seed, the fraction of the layer's units whose kink lies in [lo, hi]: (S,) float64.
    lo, hi: numbers, or (S,) per seed (e.g. each seed's min and max input)."""
    t = relu_kinks(params, layer=layer).double().cpu()  # (S, H)
    lo_t = torch.as_tensor(lo).to("cpu", torch.float64).reshape(-1, 1)  # (S or 1, 1)
    hi_t = torch.as_tensor(hi).to("cpu", torch.float64).reshape(-1, 1)
    inside = (t >= lo_t) & (t <= hi_t)
    return inside.double().mean(dim=1).numpy()


# --------------------------------------------------------------------------------------------
# gradient descent on 1-input, 1-output two-layer ReLU nets


@torch.no_grad()
def _relu_1d_fused_step(a, b, w, c, xx, yy, scale):
    """One GD step of relu_1d_gd written as elementwise products and sums only, so that
    torch.compile fuses it into loops that never store an (S, N, H) tensor. Returns the new
    (a, b, w, c) and the residuals e (S, N) before the step."""
    z = b[:, None, :] + a[:, None, :] * xx[:, :, None]  # (S, N, H), recomputed, never stored
    h = z.clamp_min(0)
    e = (h * w[:, None, :]).sum(-1) + c[:, None] - yy  # (S, N)
    r = e * scale
    m = (z > 0).to(z.dtype) * r[:, :, None]  # (S, N, H)
    gw, gb, ga = (h * r[:, :, None]).sum(1), m.sum(1), (m * xx[:, :, None]).sum(1)  # (S, H)
    return a - ga * w, b - gb * w, w - gw, c - r.sum(1), e


@functools.cache
def _compiled_step():
    """One compiled function per process; torch.compile keeps a graph per shape and dtype."""
    return torch.compile(_relu_1d_fused_step, dynamic=False)


def relu_1d_gd(
    params: dict[str, torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    lr,
    steps: int,
    weight=None,
    record_every: int = 0,
    compile: bool = False,
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Full-batch gradient descent on f(x) = c + sum_j w_j relu(a_j x + b_j), with hand-written
    gradients: the parameters of lowdim.MLP((1, H, 1), activation="relu"), w0 (S, 1, H) = a,
    b0 (S, 1, H) = b, w1 (S, H, 1) = w, b1 (S, 1, 1) = c. For this shape both layers are outer
    products, and autograd through baddbmm costs several times more per step.

    Loss 1/2 sum_i p_i (f(x_i) - y_i)^2. x, y: (S, N, 1) (or (S, N)). lr: a number or (S,) per
    seed. weight: p, a number, (N,) or (S, N); None = 2/N, i.e. the "mse" loss (mean squared
    error), so that lr = l is the step of lowdim.train(..., optimizer="gd", lr=l, loss="mse").
    record_every: keep the (S,) loss (before the step, as lowdim.train) every this many steps.
    compile: run each step through torch.compile (needs a C++ compiler on the CPU): the step is
    fused into loops that never store an (S, N, H) tensor: faster per step once compiled, but
    the compile costs seconds per shape and process (bench/seeds.py reports both and the step
    count where it pays off; docs/speed.md). Sums run in another
    order, so results differ from the default path in the last bits (~1e-7 in float32); the
    claims use the default path.
    Returns the final parameters (new tensors, same names and shapes) and the recorded losses
    (R, S).
    """
    lr, steps = perturb.scaled("lr", lr), perturb.count("steps", steps)  # --lowdim-perturb
    if params["w0"].shape[1] != 1 or params["w1"].shape[2] != 1 or len(params) != 4:
        raise ValueError("params: need a two-layer net with one input and one output, i.e. "
                         "lowdim.MLP((1, H, 1)).init(...): w0 (S, 1, H), b0, w1 (S, H, 1), b1")
    a, b = params["w0"][:, 0, :].clone(), params["b0"][:, 0, :].clone()  # (S, H)
    w, c = params["w1"][:, :, 0].clone(), params["b1"][:, 0, 0].clone()  # (S, H), (S,)
    s, n = x.shape[0], x.shape[1]
    xx = x.reshape(s, n).to(a)  # (S, N)
    yy = y.reshape(s, n).to(a)
    p = torch.as_tensor(2.0 / n if weight is None else weight, dtype=a.dtype, device=a.device)
    p = p.expand(s, n) if p.dim() < 2 else p  # (S, N)
    step = torch.as_tensor(lr, dtype=a.dtype, device=a.device).reshape(-1, 1)  # (S or 1, 1)
    scale = p * step  # (S, N)
    # On the CPU, seeds in chunks of equal size whose per-step data stay in the cache instead
    # of streaming through memory every step (the chunk sizes are the fastest of those tried on
    # bench W1, docs/speed.md). In the eager
    # steps each seed's arithmetic is its own (per-element ops, one bmm per seed): chunks
    # change no number.
    per_seed = n * a.shape[1] * a.element_size()
    budget = _COMPILED_CHUNK_BYTES if compile else _GD_CHUNK_BYTES
    size = s if a.device.type != "cpu" else max(1, min(s, budget // per_seed))
    n_chunks = -(-s // size)
    bounds = [i * s // n_chunks for i in range(n_chunks + 1)]
    scale = scale.expand(s, n)
    parts = [_gd_steps(a[lo:hi], b[lo:hi], w[lo:hi], c[lo:hi], xx[lo:hi], yy[lo:hi], p[lo:hi],
                       scale[lo:hi], steps, record_every, compile)
             for lo, hi in zip(bounds[:-1], bounds[1:])]
    a, b, w, c, rec = (torch.cat(t, dim=1 if j == 4 else 0) for j, t in enumerate(zip(*parts)))
    out = {"w0": a[:, None, :], "b0": b[:, None, :], "w1": w[:, :, None], "b1": c[:, None, None]}
    return out, rec


_GD_CHUNK_BYTES = 2 << 20  # one (chunk, N, H) tensor of relu_1d_gd's eager steps
_COMPILED_CHUNK_BYTES = 4 << 20  # the compiled step's chunks, sized by the same (N, H) product


def _gd_steps(a, b, w, c, xx, yy, p, scale, steps: int, record_every: int, compile: bool):
    """relu_1d_gd's steps on one chunk of seeds: a, b, w (S, H), c (S,), xx, yy, p,
    scale (S, N). Returns the new a, b, w, c and the recorded losses (R, S)."""
    losses = []
    if compile:
        fused = _compiled_step()
        for k in range(steps):
            a, b, w, c, e = fused(a, b, w, c, xx, yy, scale)
            if record_every and k % record_every == 0:
                losses.append(0.5 * (p * e * e).sum(1))
    else:
        # The two (S, N, H) tensors of a step live in buffers allocated once: allocated afresh
        # every step, glibc's malloc returned their pages to the system and faulted them back in,
        # which halved the step rate.
        h_buf = torch.empty(a.shape[0], xx.shape[1], a.shape[1], dtype=a.dtype, device=a.device)
        mask_buf = torch.empty_like(h_buf)
        for k in range(steps):
            # relu(b + a x) in place: (S, N, H); the derivative's mask [z > 0] is sign(h)
            h = torch.addcmul(b[:, None, :], a[:, None, :], xx[:, :, None],
                              out=h_buf).clamp_min_(0)
            # (S, N) residuals; h @ w as the row w @ h^T (far faster in MKL, see models.affine).
            # Not models.affine(h, w[:, :, None]): that row's operand has other strides, for
            # which MKL picks another kernel and other last bits (measured)
            e = torch.bmm(w[:, None, :], h.transpose(1, 2))[:, 0] + c[:, None] - yy
            if record_every and k % record_every == 0:
                losses.append(0.5 * (p * e * e).sum(1))
            r = e * scale  # (S, N): step * dLoss/df
            gw = torch.bmm(r[:, None, :], h)[:, 0]  # (S, H)
            gba = torch.bmm(torch.stack([r, r * xx], 1), torch.sign(h, out=mask_buf))  # (S, 2, H)
            a, b, w, c = a - gba[:, 1] * w, b - gba[:, 0] * w, w - gw, c - r.sum(1)
    rec = torch.stack(losses) if losses else torch.empty(0, a.shape[0], dtype=a.dtype,
                                                          device=a.device)
    return a, b, w, c, rec


__all__ = [
    "kink_fraction_inside",
    "ntk_eigvalsh",
    "ntk_gram",
    "ntk_max_eig",
    "relu_1d_gd",
    "relu_kinks",
]
