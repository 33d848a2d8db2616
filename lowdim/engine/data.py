"""Seeded synthetic data, batched over seeds: x is (S, N, d), labels (S, N), targets (S, N, k).

Every generator takes the seed list first and a `key` (usually the claim id); seed i's data come
from `seeding.numpy_rng(key, seed_i, "data")` alone, so they never depend on S or on other seeds.
Per-seed generation is a Python loop over seeds: data are made once per claim, so the loop is cheap
next to training and keeps each seed's stream independent.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from . import perturb
from .seeding import check_seeds, numpy_rng


@dataclass(frozen=True)
class Data:
    """A batch of per-seed data sets.

    x: (S, N, d) inputs. y: (S, N) int64 class labels, or (S, N, k) float targets.
    x_test / y_test: the same for a held-out split, or None.
    """

    x: torch.Tensor
    y: torch.Tensor
    x_test: torch.Tensor | None = None
    y_test: torch.Tensor | None = None

    def __post_init__(self):
        for name in ("x", "y", "x_test", "y_test"):
            t = getattr(self, name)
            if not (isinstance(t, torch.Tensor) or (t is None and name.endswith("_test"))):
                raise TypeError(f"Data.{name}: got {type(t).__name__}; need a torch.Tensor")
        if (self.x_test is None) != (self.y_test is None):
            raise ValueError("Data.x_test, Data.y_test: give both or neither")
        for xn, yn in (("x", "y"), ("x_test", "y_test")):
            x, y = getattr(self, xn), getattr(self, yn)
            if x is None:
                continue
            if x.dim() != 3 or not x.is_floating_point():
                raise ValueError(f"Data.{xn}: got {x.dtype} of shape {tuple(x.shape)}; need "
                                 "floats of shape (S seeds, N points, d features)")
            if y.dim() not in (2, 3) or y.shape[:2] != x.shape[:2]:
                raise ValueError(f"Data.{yn}: got shape {tuple(y.shape)} for {xn} of shape "
                                 f"{tuple(x.shape)}; need (S, N) labels or (S, N, k) targets")
        if self.x_test is not None and (self.x_test.shape[0] != self.x.shape[0]
                                        or self.x_test.shape[2] != self.x.shape[2]):
            raise ValueError(f"Data.x_test: got shape {tuple(self.x_test.shape)} for x of shape "
                             f"{tuple(self.x.shape)}; need the same seeds S and features d")

    @property
    def n_seeds(self) -> int:
        return self.x.shape[0]

    @property
    def n_samples(self) -> int:
        return self.x.shape[1]

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None):
        """Move to a device; cast float tensors (never labels) to dtype."""

        def move(t):
            if t is None:
                return None
            if t.is_floating_point() and dtype is not None:
                return t.to(device=device, dtype=dtype)
            return t.to(device=device)

        return Data(move(self.x), move(self.y), move(self.x_test), move(self.y_test))

    def select(self, index) -> Data:
        """The data of some seeds (index into the seed axis)."""

        def sel(t):
            return None if t is None else t[index]

        return Data(sel(self.x), sel(self.y), sel(self.x_test), sel(self.y_test))


def _int_arg(name: str, v, minimum: int) -> int:
    if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < minimum:
        raise ValueError(f"{name}: got {v!r}; need an int >= {minimum}")
    return int(v)


def _real_arg(name: str, v, minimum: float, *, strict: bool = False) -> float:
    ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
    if not ok or v < minimum or (strict and v == minimum):
        raise ValueError(f"{name}: got {v!r}; need a finite number {'>' if strict else '>='} "
                         f"{minimum:g}")
    return float(v)


def _stack(arrays: list[np.ndarray], dtype) -> torch.Tensor:
    return torch.as_tensor(np.stack(arrays), dtype=dtype)


def _labels_or_targets(arrays: list[np.ndarray], dtype=torch.float32) -> torch.Tensor:
    if np.issubdtype(arrays[0].dtype, np.integer):
        return _stack(arrays, torch.int64)
    return _stack(arrays, dtype)


def per_seed(
    seeds: Sequence[int],
    make: Callable[[np.random.Generator], tuple[np.ndarray, ...]],
    *,
    key: str,
    dtype: torch.dtype = torch.float32,
) -> Data:
    """Build Data from a function of one seed's numpy Generator.

    `make(rng)` returns (x, y) or (x, y, x_test, y_test) as numpy arrays for one seed;
    x is (N, d), y is (N,) integer labels or (N, k) float targets.
    dtype: the float dtype x and float targets are stored in (torch.float64 keeps a float64
    source's values exactly; training casts to its own dtype anyway).
    This is the extension point for a claim's own data: seed isolation comes for free.
    """
    seeds = check_seeds(seeds)
    parts = [make(numpy_rng(key, s, "data")) for s in seeds]
    if len({len(p) for p in parts}) != 1 or len(parts[0]) not in (2, 4):
        raise ValueError("make: must return (x, y) or (x, y, x_test, y_test) for every seed")
    cols = list(zip(*parts))
    for i, name in enumerate(("x", "y", "x_test", "y_test")[: len(cols)]):
        shapes = {np.shape(a) for a in cols[i]}
        if len(shapes) > 1:
            raise ValueError(f"make: returned {name} of different shapes across seeds "
                             f"{sorted(shapes)}; every seed needs the same shape")
    x = _stack([np.asarray(a, dtype=np.float64) for a in cols[0]], dtype)
    y = _labels_or_targets([np.asarray(a) for a in cols[1]], dtype)
    if len(cols) == 2:
        return Data(x, y)
    x_test = _stack([np.asarray(a, dtype=np.float64) for a in cols[2]], dtype)
    y_test = _labels_or_targets([np.asarray(a) for a in cols[3]], dtype)
    return Data(x, y, x_test, y_test)


def make_clusters(
    seeds: Sequence[int],
    *,
    centers: Sequence[Sequence[float]],
    n_per_class: int,
    std: float = 0.1,
    key: str,
) -> Data:
    """Isotropic Gaussian clusters, class k at centers[k]; labels 0..K-1 in class order.

    x: (S, K * n_per_class, d), y: (S, K * n_per_class).
    """
    try:
        c = np.asarray(centers, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"centers: got {centers!r}; need a (K >= 2, d) array of numbers") from None
    if c.ndim != 2 or c.shape[0] < 2 or c.shape[1] < 1 or not np.isfinite(c).all():
        raise ValueError(f"centers: need a (K >= 2, d >= 1) array of finite class centres, got "
                         f"shape {c.shape}")
    n_per_class = _int_arg("n_per_class", n_per_class, 1)
    std = _real_arg("std", std, 0.0)

    def make(rng):
        x = np.concatenate([rng.normal(m, std, size=(n_per_class, c.shape[1])) for m in c])
        y = np.repeat(np.arange(c.shape[0]), n_per_class)
        return x, y

    return per_seed(seeds, make, key=key)


def make_1d(
    seeds: Sequence[int],
    *,
    x: Sequence[float] | np.ndarray,
    target: Callable[[np.ndarray, np.random.Generator], np.ndarray],
    key: str,
) -> Data:
    """1-D regression on fixed inputs x; target(x, rng) gives the (N,) targets of one seed.

    A deterministic function ignores rng (every seed gets the same data, only init differs);
    random targets (e.g. `lambda x, rng: rng.random(len(x))`) differ per seed.
    x: (S, N, 1), y: (S, N, 1).
    """
    try:
        xs = np.asarray(x, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"x: got {x!r}; need the input points as numbers") from None
    if xs.size == 0 or not np.isfinite(xs).all():
        raise ValueError("x: need at least one input point, all finite")
    if not callable(target):
        raise TypeError(f"target: got {type(target).__name__}; need target(x, rng) -> (N,)")

    def make(rng):
        y = np.asarray(target(xs, rng), dtype=np.float64).reshape(-1)
        if y.shape != xs.shape:
            raise ValueError(f"target: returned shape {y.shape}, expected {xs.shape}")
        return xs[:, None], y[:, None]

    return per_seed(seeds, make, key=key)


def gaussian_mixture(
    rng: np.random.Generator,
    *,
    n_samples: int,
    d: int,
    class_seps: Sequence[float] | float = 1.0,
    covariance_scale: float = 1.0,
    return_covariance: bool = False,
) -> tuple[np.ndarray, ...]:
    """One draw of the AtomsOfDeepLearning two-class mixture (numpy, one seed).

    c ~ covariance_scale * U[0,1)^{d x d}, cov = c^T c; n/2 points of class 0 ~ N(0, cov) then
    n/2 of class 1 ~ N(class_seps, cov). Returns x (n, d) and y (n,), unshuffled, and with
    return_covariance=True also cov (d, d) (as the notebook's return_covariance did), e.g. for
    the draw's Bayes accuracy Phi(sqrt(s^T cov^-1 s) / 2).
    """
    seps = np.broadcast_to(np.asarray(class_seps, dtype=np.float64), (d,))
    c = covariance_scale * rng.random((d, d))
    cov = c.T @ c
    half = n_samples // 2
    x0 = rng.multivariate_normal(np.zeros(d), cov, size=half)
    x1 = rng.multivariate_normal(seps, cov, size=half)
    x, y = np.concatenate([x0, x1]), np.repeat([0, 1], half)
    return (x, y, cov) if return_covariance else (x, y)


def make_gaussian_mixture(
    seeds: Sequence[int],
    *,
    n_samples: int,
    d: int,
    class_seps: Sequence[float] | float = 1.0,
    covariance_scale: float = 1.0,
    test_size: float = 0.2,
    key: str,
) -> Data:
    """The notebook's mixture of two Gaussians with a shared random covariance c^T c,
    shuffled and split into train / test like sklearn's train_test_split(test_size).

    x: (S, n_train, d), y: (S, n_train); x_test: (S, n_test, d), y_test: (S, n_test).
    """
    n_samples = _int_arg("n_samples", n_samples, 4)
    d = _int_arg("d", d, 1)
    covariance_scale = _real_arg("covariance_scale", covariance_scale, 0.0)
    if _real_arg("test_size", test_size, 0.0) >= 1.0:
        raise ValueError(f"test_size: got {test_size}; need 0 <= test_size < 1")
    try:
        seps = np.asarray(class_seps, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"class_seps: got {class_seps!r}; need a number or d numbers") from None
    if (seps.ndim > 0 and seps.size not in (1, d)) or seps.ndim > 1 or not np.isfinite(seps).all():
        raise ValueError(f"class_seps: got {seps.size} values; need 1 or d={d} finite numbers")

    def make(rng):
        x, y = gaussian_mixture(
            rng, n_samples=n_samples, d=d, class_seps=class_seps, covariance_scale=covariance_scale
        )
        return _split(rng, x, y, test_size)

    return per_seed(seeds, make, key=key)


def make_alternating(seeds: Sequence[int], *, n_points: int = 16, key: str) -> Data:
    """n points x = 0, 1/n, ..., 1 - 1/n on a line, labels alternating, x = 0 in class 1
    (seed 001 exp 2: np.resize([[0,1],[1,0]], (n,2)) one-hot rows). Same data for every seed.
    x: (S, n, 1), y: (S, n)."""
    n_points = _int_arg("n_points", n_points, 2)

    def make(rng):
        x = np.linspace(0.0, 1.0 - 1.0 / n_points, n_points)[:, None]
        y = (np.arange(n_points) + 1) % 2  # 1, 0, 1, 0, ...
        return x, y

    return per_seed(seeds, make, key=key)


def make_moons(
    seeds: Sequence[int], *, n_samples: int = 500, noise: float = 0.1, test_size: float = 0.2,
    key: str,
) -> Data:
    """scikit-learn's make_moons per seed (random_state from seed i's stream), shuffled and split
    like train_test_split(test_size). x: (S, n_train, 2), y: (S, n_train); test likewise."""
    from sklearn.datasets import make_moons as sk_moons

    noise = perturb.scaled("noise", noise)  # --lowdim-perturb noise=xF

    def make(rng):
        x, y = sk_moons(n_samples=n_samples, noise=noise,
                        random_state=int(rng.integers(0, 2**31 - 1)))
        return _split(rng, x, y, test_size)

    return per_seed(seeds, make, key=key)


def make_classification(
    seeds: Sequence[int], *, test_size: float = 0.2, key: str, **sklearn_kwargs
) -> Data:
    """scikit-learn's make_classification per seed (random_state from seed i's stream unless
    given in sklearn_kwargs, in which case every seed gets that one data set), split like
    train_test_split(test_size) with a per-seed shuffle."""
    from sklearn.datasets import make_classification as sk_make

    def make(rng):
        kw = dict(sklearn_kwargs)
        kw.setdefault("random_state", int(rng.integers(0, 2**31 - 1)))
        x, y = sk_make(**kw)
        return _split(rng, x, y, test_size)

    return per_seed(seeds, make, key=key)


def _split(rng, x, y, test_size):
    if _real_arg("test_size", test_size, 0.0) >= 1.0:
        raise ValueError(f"test_size: got {test_size}; need 0 <= test_size < 1")
    order = rng.permutation(len(y))
    n_test = int(np.ceil(test_size * len(y)))
    if n_test == 0:
        return x[order], y[order]
    return x[order[n_test:]], y[order[n_test:]], x[order[:n_test]], y[order[:n_test]]


def one_hot(labels: torch.Tensor, n_classes: int | None = None) -> torch.Tensor:
    """(…, N) int labels -> (…, N, K) float one-hot targets."""
    if not isinstance(labels, torch.Tensor) or labels.is_floating_point() or labels.numel() == 0:
        raise ValueError(f"labels: got {type(labels).__name__}; need a non-empty int tensor")
    top = int(labels.max())
    if int(labels.min()) < 0:
        raise ValueError(f"labels: got a negative label {int(labels.min())}; need 0..K-1")
    k = top + 1 if n_classes is None else _int_arg("n_classes", n_classes, top + 1)
    return torch.nn.functional.one_hot(labels, k).to(torch.float32)


def standardize(x: torch.Tensor, reference: torch.Tensor | None = None) -> torch.Tensor:
    """Per seed and feature: (x - mean) / std, with mean and std taken from `reference`
    (default x itself) over the sample axis. x: (S, N, d)."""
    ref = x if reference is None else reference
    for name, t in (("x", x), ("reference", ref)):
        if not isinstance(t, torch.Tensor) or t.dim() != 3 or not t.is_floating_point():
            raise ValueError(f"{name}: got {getattr(t, 'shape', type(t).__name__)}; need a float "
                             "tensor of shape (S, N, d)")
    mean = ref.mean(dim=1, keepdim=True)  # (S, 1, d)
    std = ref.std(dim=1, keepdim=True).clamp_min(1e-12)
    return (x - mean) / std
