"""Fixed weight masks in lowdim.train (lowdim.engine.pruning): pruned weights stay exactly zero,
the rest train as the pruned net's, and no mask leaves every number as before."""

import contextlib

import pytest
import torch

import lowdim as ld
from lowdim.engine import backprop
from lowdim.engine.pruning import magnitude_masks, mask_density

SEEDS = [0, 1, 2, 3, 4]


def _setup(sizes=(2, 16, 16, 2)):
    data = ld.make_moons(SEEDS, n_samples=60, noise=0.2, key="masks")
    model = ld.MLP(sizes)
    params = model.init(SEEDS, key="masks")
    rates = {"w0": 0.5, "w1": 0.8, "w2": 0.4}
    return data, model, params, magnitude_masks(params, rates)


@pytest.mark.parametrize("optimizer", ["gd", "sgd", "adam"])
@pytest.mark.parametrize("autograd", [False, True])
def test_masked_weights_stay_exactly_zero_through_training(optimizer, autograd):
    data, model, params, masks = _setup()
    cfg = ld.TrainConfig(steps=60, optimizer=optimizer, lr=0.05, momentum=0.9,
                         loss="cross_entropy", batch_size=16, snapshot_every=20)
    with backprop.disabled() if autograd else contextlib.nullcontext():
        res = ld.train(model, data, cfg, seeds=SEEDS, key="masks", params=params,
                       weight_masks=masks)
    for snap in [res.init, res.params, *res.snapshots.values()]:
        for k, m in masks.items():
            assert (snap[k][m == 0] == 0).all(), k
    kept = masks["w1"] == 1  # the kept weights did move
    assert not torch.equal(res.params["w1"][kept], res.init["w1"][kept])


def test_all_ones_masks_change_no_number():
    data, model, params, _ = _setup()
    cfg = ld.TrainConfig(steps=40, optimizer="adam", lr=0.01, loss="cross_entropy")
    plain = ld.train(model, data, cfg, seeds=SEEDS, key="masks", params=params)
    ones = {k: torch.ones_like(v) for k, v in params.items() if k.startswith("w")}
    masked = ld.train(model, data, cfg, seeds=SEEDS, key="masks", params=params,
                      weight_masks=ones)
    for k in params:
        assert torch.equal(plain.params[k], masked.params[k])
    assert torch.equal(plain.losses, masked.losses)


def test_masked_training_equals_training_the_pruned_net_by_hand():
    # GD on the masked net = GD whose gradient is masked (the pruned weights carry no signal)
    data, model, params, masks = _setup()
    cfg = ld.TrainConfig(steps=25, optimizer="gd", lr=0.1, loss="cross_entropy",
                         dtype="float64")
    res = ld.train(model, data, cfg, seeds=SEEDS, key="masks", params=params,
                   weight_masks=masks)
    p = {k: (v.double() * masks[k].double() if k in masks else v.double()).requires_grad_()
         for k, v in params.items()}
    x, y = data.x.double(), data.y
    for _ in range(25):
        loss = ld.LOSSES["cross_entropy"](model.forward(p, x), y).sum()
        grads = torch.autograd.grad(loss, list(p.values()))
        with torch.no_grad():
            for (k, v), g in zip(p.items(), grads):
                v -= 0.1 * (g * masks[k].double() if k in masks else g)
    for k in p:
        torch.testing.assert_close(res.params[k], p[k].detach(), rtol=1e-10, atol=1e-12)


def test_seed_chunks_slice_the_masks_with_the_seeds():
    data, model, params, masks = _setup((2, 256, 256, 2))
    cfg = ld.TrainConfig(steps=3, optimizer="adam", lr=0.01, loss="cross_entropy")
    whole = ld.train(model, data, cfg, seeds=SEEDS, key="masks", params=params,
                     weight_masks=magnitude_masks(params, {"w1": 0.9}))
    assert (whole.params["w1"][magnitude_masks(params, {"w1": 0.9})["w1"] == 0] == 0).all()


def test_magnitude_pruning_removes_the_smallest_of_the_kept_weights_per_seed_and_layer():
    w = torch.tensor([[[0.1, -3.0], [2.0, -0.5]], [[5.0, 4.0], [-0.2, 1.0]]])  # (2, 2, 2)
    m = magnitude_masks({"w0": w}, {"w0": 0.5})["w0"]
    assert m.tolist() == [[[0, 1], [1, 0]], [[1, 1], [0, 0]]]
    m2 = magnitude_masks({"w0": w}, {"w0": 0.5}, masks={"w0": m})["w0"]  # iterative
    assert m2.sum((1, 2)).tolist() == [1, 1] and (m2 <= m).all()
    assert mask_density({"w0": m2}).tolist() == [0.25, 0.25]


def test_bad_masks_name_the_problem():
    data, model, params, masks = _setup()
    cfg = ld.TrainConfig(steps=1, loss="cross_entropy")
    with pytest.raises(ValueError, match="no parameter"):
        ld.train(model, data, cfg, seeds=SEEDS, key="masks", weight_masks={"w9": masks["w0"]})
    with pytest.raises(ValueError, match="shape"):
        ld.train(model, data, cfg, seeds=SEEDS, key="masks", weight_masks={"w0": masks["w1"]})
    with pytest.raises(ValueError, match="0/1"):
        ld.train(model, data, cfg, seeds=SEEDS, key="masks",
                 weight_masks={"w0": masks["w0"] * 0.5})
    with pytest.raises(ValueError, match="rates"):
        magnitude_masks(params, {"w0": 1.0})
