"""Per-seed random streams: seed i's randomness depends only on (key, seed i, purpose).

Every random draw in lowdim goes through a stream made here. Streams are keyed by a string
(usually the claim id), the integer seed and a *purpose* ("data", "init", "batches", "dropout",
...), so that changing how a model is initialised never changes the data a seed sees, and seed i
gives the same numbers whatever the batch size S is and whatever else runs in the process.
No global RNG state is read or written.
"""

from __future__ import annotations

import hashlib
import numbers
from collections.abc import Sequence

import numpy as np
import torch


def _word(text: str) -> int:
    # A stable 32-bit word from a string (Python's hash() is salted per process).
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "little")


def check_seeds(seeds: Sequence[int]) -> list[int]:
    """Validate a seed list: non-empty, non-negative ints, no duplicates."""
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise TypeError(f"seeds: got {type(seeds).__name__}; pass a sequence of ints, e.g. "
                        "range(32) or claim.seeds(32)")
    seeds = list(seeds)
    odd = [s for s in seeds if not isinstance(s, numbers.Integral) or isinstance(s, bool)]
    if odd:
        raise TypeError(f"seeds: got non-integer seeds {odd[:5]!r}; use ints >= 0")
    out = [int(s) for s in seeds]
    if not out:
        raise ValueError("seeds: got an empty sequence; pass at least one seed, e.g. range(32)")
    if any(s < 0 for s in out):
        raise ValueError(f"seeds: got negative seeds {[s for s in out if s < 0][:5]}; use ints >= 0")
    if len(set(out)) != len(out):
        raise ValueError("seeds: got duplicate seeds; each seed must appear once")
    return out


def numpy_rng(key: str, seed: int, purpose: str) -> np.random.Generator:
    """A numpy Generator for one seed and one purpose."""
    for name, v in (("key", key), ("purpose", purpose)):
        if not isinstance(v, str):
            raise TypeError(f"{name}: got {type(v).__name__} {v!r}; need a string (the key is "
                            "usually the claim id)")
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed: got {seed!r}; need an int >= 0")
    return np.random.default_rng([int(seed), _word(key), _word(purpose)])


def torch_generator(key: str, seed: int, purpose: str, device: str | torch.device = "cpu"):
    """A torch.Generator for one seed and one purpose (seeded from the numpy stream)."""
    g = torch.Generator(device=device)
    g.manual_seed(int(numpy_rng(key, seed, purpose).integers(0, 2**63 - 1)))
    return g


def sklearn_state(key: str, seed: int, purpose: str = "data") -> int:
    """An int random_state for scikit-learn functions, derived from the same stream."""
    return int(numpy_rng(key, seed, purpose).integers(0, 2**31 - 1))
