"""lowdim: deep-learning folklore as seed-batched, pre-registered statistical pytest claims.

A claim author needs `import lowdim as ld` (the names in `__all__`, below) and the `claim`
fixture. The package is five rooms, each importing only the rooms below it:

    plugin/   pytest: the claim marker and fixture, options, the run's state    (top)
    regress/  method hash, baseline comparison, shards and merge, CI surfaces
    report/   renderings of a report; report/schema.py is the bottom of all
    stats/    Evidence and the decisions over seeds (numpy, scipy)
    engine/   seeding, data, batched models, training (torch)

Names load on first use, so `import lowdim` (and `lowdim report|compare|merge|new`) does not
import torch until a claim touches the engine.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

__version__ = "0.1.0"

_ENGINE = "lowdim.engine"
_EXPORTS = {
    "ACTIVATIONS": f"{_ENGINE}.models",
    "Data": f"{_ENGINE}.data",
    "Evidence": "lowdim.stats",
    "Init": f"{_ENGINE}.models",
    "LOSSES": f"{_ENGINE}.losses",
    "MLP": f"{_ENGINE}.models",
    "TorchModule": f"{_ENGINE}.models",
    "TrainConfig": f"{_ENGINE}.train",
    "TrainResult": f"{_ENGINE}.train",
    "Verdict": "lowdim.stats",
    "accuracy": f"{_ENGINE}.metrics",
    "cached": f"{_ENGINE}.cache",
    "clopper_pearson": "lowdim.stats",
    "cpu_kernels": f"{_ENGINE}.kernels",
    "direction_angle": f"{_ENGINE}.margin",
    "equivalence": "lowdim.stats",
    "featurize": f"{_ENGINE}.features",
    "fourier_amplitudes": f"{_ENGINE}.fourier",
    "fourier_coefficients": f"{_ENGINE}.fourier",
    "gaussian_mixture": f"{_ENGINE}.data",
    "hessian_max_eig": f"{_ENGINE}.hessian",
    "hodges_lehmann": "lowdim.stats",
    "holm": "lowdim.stats",
    "homogeneous_gd": f"{_ENGINE}.margin",
    "kink_fraction_inside": f"{_ENGINE}.ntk",
    "location": "lowdim.stats",
    "magnitude_masks": f"{_ENGINE}.pruning",
    "make_1d": f"{_ENGINE}.data",
    "make_alternating": f"{_ENGINE}.data",
    "make_classification": f"{_ENGINE}.data",
    "make_clusters": f"{_ENGINE}.data",
    "make_gaussian_mixture": f"{_ENGINE}.data",
    "make_moons": f"{_ENGINE}.data",
    "mask_density": f"{_ENGINE}.pruning",
    "max_margin_direction": f"{_ENGINE}.margin",
    "mse": f"{_ENGINE}.metrics",
    "normalized_margin": f"{_ENGINE}.margin",
    "ntk_eigvalsh": f"{_ENGINE}.ntk",
    "ntk_gram": f"{_ENGINE}.ntk",
    "ntk_max_eig": f"{_ENGINE}.ntk",
    "numpy_rng": f"{_ENGINE}.seeding",
    "one_hot": f"{_ENGINE}.data",
    "paired": "lowdim.stats",
    "param_change": f"{_ENGINE}.metrics",
    "per_seed": f"{_ENGINE}.data",
    "proportion": "lowdim.stats",
    "random_features": f"{_ENGINE}.features",
    "read_report": "lowdim.report",
    "relu_1d_gd": f"{_ENGINE}.ntk",
    "relu_kinks": f"{_ENGINE}.ntk",
    "resolve_device": f"{_ENGINE}.train",
    "ridge_fit": f"{_ENGINE}.features",
    "sequential_proportion": "lowdim.stats",
    "sequential_sign": "lowdim.stats",
    "share_of_change": f"{_ENGINE}.metrics",
    "sklearn_state": f"{_ENGINE}.seeding",
    "standardize": f"{_ENGINE}.data",
    "torch_generator": f"{_ENGINE}.seeding",
    "train": f"{_ENGINE}.train",
    "trend": "lowdim.stats",
}
__all__ = sorted(_EXPORTS)

# Modules that lived at the top of lowdim before the rooms: old imports keep working (with a
# DeprecationWarning naming the new path). lowdim.train is not here: `ld.train` is the function.
_MOVED = {
    **{f"lowdim.{m}": f"{_ENGINE}.{m}" for m in (
        "backprop", "cache", "data", "kernels", "losses", "metrics", "models", "ntk", "seeding")},
    "lowdim.sequential": "lowdim.stats.sequential",
    "lowdim.power": "lowdim.stats.power",
    "lowdim.calibrate": "lowdim.stats.calibrate",
    "lowdim.figures": "lowdim.report.figures",
    "lowdim.html": "lowdim.report.html",
    "lowdim.baseline": "lowdim.regress",
    "lowdim.reliability": "lowdim.plugin.reliability",
    "lowdim.adaptive": "lowdim.plugin.adaptive",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    if f"{__name__}.{name}" in _MOVED:  # `from lowdim import kernels`
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'lowdim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Moved(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """`import lowdim.ntk` and `from lowdim.ntk import x` load lowdim.engine.ntk."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in _MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        return None  # a placeholder; exec_module puts the real module in its place

    def exec_module(self, module) -> None:
        new = _MOVED[module.__name__]
        warnings.warn(f"{module.__name__} moved to {new}; import lowdim as ld and use ld.<name> "
                      f"(or import {new})", DeprecationWarning, stacklevel=2)
        sys.modules[module.__name__] = importlib.import_module(new)


if not any(isinstance(f, _Moved) for f in sys.meta_path):
    sys.meta_path.append(_Moved())
