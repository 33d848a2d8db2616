"""lowdim: deep-learning folklore as seed-batched, pre-registered statistical pytest claims."""

from .cache import cached
from .data import (
    Data,
    gaussian_mixture,
    make_1d,
    make_alternating,
    make_classification,
    make_clusters,
    make_gaussian_mixture,
    make_moons,
    one_hot,
    per_seed,
    standardize,
)
from .kernels import cpu_kernels
from .losses import LOSSES
from .metrics import accuracy, mse, param_change, share_of_change
from .models import ACTIVATIONS, MLP, Init, TorchModule
from .ntk import (
    kink_fraction_inside,
    ntk_eigvalsh,
    ntk_gram,
    ntk_max_eig,
    relu_1d_gd,
    relu_kinks,
)
from .seeding import numpy_rng, sklearn_state, torch_generator
from .sequential import sequential_proportion, sequential_sign
from .stats import (
    Evidence,
    Verdict,
    clopper_pearson,
    equivalence,
    hodges_lehmann,
    holm,
    location,
    paired,
    proportion,
    trend,
)
from .train import TrainConfig, TrainResult, resolve_device, train

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "MLP",
    "Data",
    "Evidence",
    "Init",
    "TorchModule",
    "TrainConfig",
    "TrainResult",
    "Verdict",
    "accuracy",
    "cached",
    "clopper_pearson",
    "cpu_kernels",
    "equivalence",
    "gaussian_mixture",
    "hodges_lehmann",
    "kink_fraction_inside",
    "holm",
    "location",
    "make_1d",
    "make_alternating",
    "make_classification",
    "make_clusters",
    "make_gaussian_mixture",
    "make_moons",
    "mse",
    "ntk_eigvalsh",
    "ntk_gram",
    "ntk_max_eig",
    "numpy_rng",
    "one_hot",
    "paired",
    "param_change",
    "per_seed",
    "proportion",
    "relu_1d_gd",
    "relu_kinks",
    "resolve_device",
    "sequential_proportion",
    "sequential_sign",
    "share_of_change",
    "sklearn_state",
    "standardize",
    "torch_generator",
    "trend",
    "train",
]
