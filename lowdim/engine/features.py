"""Random-features regression batched over seeds: a fixed random first layer, a linear read-out
fitted in closed form (minimum-norm least squares, or ridge), in float64.

    w = random_features(seeds, d=1, n_features=40, kind="relu", key=claim.id)
    phi = featurize(x, w)                     # x (S, N, d) -> features (S, N, F)
    coef = ridge_fit(phi, y, ridge=0.0)       # (S, F, k); ridge 0: the min-norm solution
    pred = phi_test @ coef                    # (S, N_test, k)

Why closed form: the read-out of a random-features model is linear least squares, which gradient
descent from zero would only approach (slowly near the interpolation threshold, where the Gram
matrix is nearly singular); the double-descent claims are about the exact minimiser. Seed i's
features come from its own stream (purpose "features"), so they never depend on S.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .seeding import check_seeds, torch_generator

FEATURE_KINDS = ("relu", "fourier")


@dataclass(frozen=True)
class Features:
    """A random first layer per seed. kind "relu": relu(x a + b); "fourier": the real random
    Fourier features sqrt(2) cos(x a + b) (Rahimi & Recht), b ~ U[0, 2 pi).

    a  (S, d, F) input weights; b (S, 1, F) offsets."""

    kind: str
    a: torch.Tensor
    b: torch.Tensor

    @property
    def n_features(self) -> int:
        return self.a.shape[-1]

    def head(self, n: int) -> Features:
        """The first n features of every seed: nested feature sets, so a sweep over the number
        of features adds features to the same model instead of drawing a new one each time."""
        return Features(self.kind, self.a[..., :n], self.b[..., :n])


def random_features(seeds: Sequence[int], *, d: int, n_features: int, key: str,
                    kind: str = "relu", scale: float = 1.0) -> Features:
    """Seed i's random first layer, float64. relu: a ~ N(0, scale^2 / d) per entry, b ~ N(0, 1)
    (kinks spread over inputs of unit scale); fourier: a ~ N(0, scale^2) (the frequencies of a
    Gaussian kernel of bandwidth 1 / scale), b ~ U[0, 2 pi)."""
    seeds = check_seeds(seeds)
    for name, v in (("d", d), ("n_features", n_features)):
        if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name}: got {v!r}; need an int >= 1")
    if kind not in FEATURE_KINDS:
        raise ValueError(f"kind: got {kind!r}; allowed: {', '.join(FEATURE_KINDS)}")
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not 0 < scale < math.inf:
        raise ValueError(f"scale: got {scale!r}; need a finite number > 0")
    a, b = [], []
    for s in seeds:
        g = torch_generator(key, s, "features")
        std = scale / math.sqrt(d) if kind == "relu" else scale
        a.append(torch.randn((d, n_features), generator=g, dtype=torch.float64) * std)
        if kind == "relu":
            b.append(torch.randn((1, n_features), generator=g, dtype=torch.float64))
        else:
            b.append(torch.rand((1, n_features), generator=g, dtype=torch.float64) * 2 * math.pi)
    return Features(kind, torch.stack(a), torch.stack(b))


def featurize(x: torch.Tensor, features: Features) -> torch.Tensor:
    """x (S, N, d) -> features (S, N, F), float64."""
    z = torch.baddbmm(features.b.to(x.device), x.to(torch.float64), features.a.to(x.device))
    return torch.relu(z) if features.kind == "relu" else math.sqrt(2.0) * torch.cos(z)


def ridge_fit(phi: torch.Tensor, y: torch.Tensor, ridge: float | torch.Tensor = 0.0
              ) -> torch.Tensor:
    """Per seed, argmin_c |phi c - y|^2 + ridge |c|^2; ridge 0: the minimum-norm least-squares
    solution (numpy.linalg.lstsq's). phi (S, N, F); y (S, N) or (S, N, k); ridge a number or
    (S,) per seed. Returns coefficients (S, F, k) (k = 1 for (S, N) targets), float64.

    Ridge > 0 solves the smaller of the primal (F x F) and dual (N x N) normal equations by
    Cholesky; ridge 0 goes through the SVD (pinv), exact also at the threshold F = N where the
    Gram matrix is nearly singular."""
    phi = phi.to(torch.float64)
    y = y.to(phi.device, torch.float64)
    y = y.unsqueeze(-1) if y.dim() == 2 else y  # (S, N, k)
    if phi.dim() != 3 or y.shape[:2] != phi.shape[:2]:
        raise ValueError(f"phi, y: got shapes {tuple(phi.shape)}, {tuple(y.shape)}; need "
                         "(S, N, F) and (S, N) or (S, N, k)")
    lam = torch.as_tensor(ridge, dtype=torch.float64, device=phi.device).reshape(-1)
    if not torch.isfinite(lam).all() or (lam < 0).any() or lam.numel() not in (1, phi.shape[0]):
        raise ValueError(f"ridge: got {ridge!r}; need a finite number >= 0 or one per seed (S,)")
    if (lam == 0).all():
        return torch.linalg.pinv(phi) @ y  # (S, F, N) @ (S, N, k)
    if (lam == 0).any():
        raise ValueError("ridge: got 0 for some seeds and > 0 for others; fit the two groups "
                         "separately (0 takes the min-norm path)")
    lam = lam.reshape(-1, 1, 1)
    n, f = phi.shape[1], phi.shape[2]
    pt = phi.transpose(1, 2)  # (S, F, N)
    if f <= n:  # (phi^T phi + lam I)^-1 phi^T y
        gram = pt @ phi + lam * torch.eye(f, dtype=phi.dtype, device=phi.device)
        return torch.cholesky_solve(pt @ y, torch.linalg.cholesky(gram))
    gram = phi @ pt + lam * torch.eye(n, dtype=phi.dtype, device=phi.device)  # dual: phi^T (.)^-1 y
    return pt @ torch.cholesky_solve(y, torch.linalg.cholesky(gram))


__all__ = ["FEATURE_KINDS", "Features", "featurize", "random_features", "ridge_fit"]
