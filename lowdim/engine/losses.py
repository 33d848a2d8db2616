"""Per-seed losses: outputs (S, N, k) and targets -> loss (S,).

Targets are (S, N) int labels (cross_entropy, or converted to one-hot for the losses on raw
outputs, as the AtomsOfDeepLearning notebook compared them) or (S, N, k) float targets.
Each seed's loss is reduced over its own points only, so summing the (S,) vector and calling
backward gives every seed exactly its own gradient.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def float_targets(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if y.is_floating_point():
        return y.reshape(out.shape)
    return F.one_hot(y, out.shape[-1]).to(out.dtype)


def mse(out, y):
    """mean over points and outputs of (out - y)^2 (torch MSELoss, tf.reduce_mean(square))."""
    return (out - float_targets(out, y)).square().mean(dim=(1, 2))


def half_sse(out, y):
    """1/2 * sum of squared errors over points and outputs (the seeds' hand-written backprop)."""
    return 0.5 * (out - float_targets(out, y)).square().sum(dim=(1, 2))


def mae(out, y):
    return (out - float_targets(out, y)).abs().mean(dim=(1, 2))


def fourth(out, y):
    """mean of (out - y)^4: the notebook's 'mean_fourth_pow_error'."""
    return (out - float_targets(out, y)).pow(4).mean(dim=(1, 2))


def hinge(out, y):
    """tf.losses.hinge_loss: labels in {0,1} mapped to {-1,+1}, mean of max(0, 1 - t*out)."""
    t = 2 * float_targets(out, y) - 1
    return torch.relu(1 - t * out).mean(dim=(1, 2))


def constant(out, y):
    """0 * MSE: a loss whose gradient is exactly zero (the notebook's negative control)."""
    return 0.0 * mse(out, y)


def logistic(out, y):
    """binary logistic loss per output, mean over points and outputs: softplus(-s * out) with
    s = 2t - 1 in {-1, +1} for targets t in {0, 1} (torch BCEWithLogitsLoss); one output and
    float (S, N, 1) targets: the logistic regression loss log(1 + exp(-s f(x)))."""
    s = 2 * float_targets(out, y) - 1
    return F.softplus(-s * out).mean(dim=(1, 2))


def cross_entropy(out, y):
    """softmax cross-entropy, mean over points. y: (S, N) labels or (S, N, k) one-hot/probs."""
    logp = F.log_softmax(out, dim=-1)  # (S, N, k)
    if y.is_floating_point():
        return -(y.reshape(out.shape) * logp).sum(-1).mean(-1)
    return -logp.gather(-1, y.unsqueeze(-1)).squeeze(-1).mean(-1)


LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "mse": mse,
    "half_sse": half_sse,
    "mae": mae,
    "fourth": fourth,
    "hinge": hinge,
    "constant": constant,
    "cross_entropy": cross_entropy,
    "logistic": logistic,
}


def get_loss(name: str):
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"loss: got {name!r}; allowed: {', '.join(LOSSES)}") from None
