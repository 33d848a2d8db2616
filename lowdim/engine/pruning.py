"""Fixed per-seed weight masks: magnitude pruning and the masks lowdim.train keeps at zero.

    masks = magnitude_masks(result.params, {"w0": 0.8, "w1": 0.8, "w2": 0.4})
    ticket = train(model, data, config, seeds=seeds, key=key, params=result.init,
                   weight_masks=masks)

A mask is a 0/1 tensor of its parameter's shape (S, ...): seed i's mask is its own. lowdim.train
multiplies each masked parameter by its mask before step 0 and after every optimizer step, so the
pruned entries are exactly zero at every forward pass (their gradient would change nothing that
reaches the loss) and the others train as the pruned net's do: the same as masking the gradient,
for GD, SGD with momentum and Adam alike, since a pruned entry's optimizer state never reaches a
kept one. Pruning is per layer, as Frankle & Carbin (ICLR 2019) prune: in each masked tensor the
given fraction of the weights still unpruned, smallest |w| first.
"""

from __future__ import annotations

import math
import numbers

import torch


def check_masks(masks: dict[str, torch.Tensor], params: dict[str, torch.Tensor]
                ) -> dict[str, torch.Tensor]:
    """The masks as 0/1 tensors of their parameters' dtype and device; a mask whose name or shape
    does not fit, or that holds values other than 0 and 1, is a ValueError naming it."""
    if not isinstance(masks, dict):
        raise TypeError(f"weight_masks: got {type(masks).__name__}; need {{param name: mask}}")
    out = {}
    for name, m in masks.items():
        if name not in params:
            raise ValueError(f"weight_masks[{name!r}]: no parameter of that name; the model has "
                             f"{', '.join(params)}")
        if not isinstance(m, torch.Tensor) or tuple(m.shape) != tuple(params[name].shape):
            raise ValueError(f"weight_masks[{name!r}]: got shape {tuple(getattr(m, 'shape', ()))}"
                             f"; need the parameter's shape {tuple(params[name].shape)}")
        if not ((m == 0) | (m == 1)).all():
            raise ValueError(f"weight_masks[{name!r}]: need 0/1 entries (1 = kept)")
        out[name] = m.to(params[name].device, params[name].dtype)
    return out


@torch.no_grad()
def apply_masks(params: dict[str, torch.Tensor], masks: dict[str, torch.Tensor]) -> None:
    """params[name] *= masks[name], in place, for every masked parameter."""
    for name, m in masks.items():
        params[name].mul_(m)


@torch.no_grad()
def magnitude_masks(params: dict[str, torch.Tensor], rates: dict[str, float], *,
                    masks: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """One round of per-layer magnitude pruning, per seed.

    params  trained parameters, each (S, ...); rates {name: fraction of the still-unpruned
            weights of that tensor to prune now}, e.g. {"w0": 0.2, "w1": 0.2, "w2": 0.1};
    masks   the masks of earlier rounds (iterative pruning), default all ones.
    Returns {name: (S, ...) float 0/1 mask}: per seed, round(rate * kept) of the kept entries with
    the smallest |w| become 0 (ties broken by position, stably)."""
    out = {}
    for name, rate in rates.items():
        if name not in params:
            raise ValueError(f"rates[{name!r}]: no parameter of that name; have {', '.join(params)}")
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate < 1:
            raise ValueError(f"rates[{name!r}]: got {rate!r}; need a fraction 0 <= rate < 1")
        w = params[name]
        s = w.shape[0]
        old = (torch.ones_like(w) if masks is None or name not in masks
               else masks[name].to(w.device, w.dtype))
        flat_w, flat_m = w.reshape(s, -1).abs(), old.reshape(s, -1)  # (S, P)
        kept = flat_m.sum(1)  # (S,)
        score = torch.where(flat_m > 0, flat_w, torch.full_like(flat_w, math.inf))
        order = score.argsort(dim=1, stable=True)  # pruned entries (inf) last
        new = flat_m.clone()
        for i in range(s):  # per seed: its own count of kept weights
            k = int(round(rate * float(kept[i])))
            new[i, order[i, :k]] = 0
        out[name] = new.reshape(w.shape)
    return out


def mask_density(masks: dict[str, torch.Tensor]) -> torch.Tensor:
    """(S,) fraction of the masked entries that are kept, over all masks together."""
    kept = sum(m.reshape(m.shape[0], -1).sum(1) for m in masks.values())
    total = sum(m[0].numel() for m in masks.values())
    return kept / total


__all__ = ["apply_masks", "check_masks", "magnitude_masks", "mask_density"]
