"""The hand-written MLP backward (lowdim.backprop) gives autograd's gradients."""

import pytest
import torch

import lowdim as ld
from lowdim.engine import backprop
from lowdim.engine._step import penalty as _penalty
from lowdim.engine.losses import LOSSES


def autograd_grads(model, params, x, y, loss, masks, config):
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    value = LOSSES[loss](model.forward(leaves, x, masks), y)
    total = value.sum()
    if config.l1 or config.l2:
        total = total + _penalty(leaves, config).sum()
    return value.detach(), torch.autograd.grad(total, list(leaves.values()))


def case(sizes, *, loss="mse", dtype=torch.float64, dropout=0.0, seed=0, **kw):
    model = ld.MLP(sizes, dropout=dropout, **kw)
    params = model.init(range(3), key="bp", dtype=dtype)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(3, 7, sizes[0], generator=g, dtype=dtype)
    if loss == "cross_entropy" or loss == "hinge":
        y = torch.randint(0, sizes[-1], (3, 7), generator=g)
    else:
        y = torch.randn(3, 7, sizes[-1], generator=g, dtype=dtype)
    masks = None
    if dropout:
        masks = [(torch.rand(3, 7, h, generator=g) < 0.5).to(dtype) * 2 for h in sizes[1:-1]]
    return model, params, x, y, masks


@pytest.mark.parametrize("activation", list(ld.ACTIVATIONS))
@pytest.mark.parametrize("loss", list(LOSSES))
def test_every_activation_and_loss_matches_autograd_bit_for_bit(activation, loss):
    model, params, x, y, _ = case((2, 5, 4, 3), loss=loss, activation=activation)
    config = ld.TrainConfig(steps=1, loss=loss)
    v0, g0 = autograd_grads(model, params, x, y, loss, None, config)
    v1, g1 = backprop.loss_and_grads(model, params, x, y, loss=loss)
    assert torch.equal(v0, v1)
    for a, b in zip(g0, g1, strict=True):
        assert torch.equal(a, b), (activation, loss)


@pytest.mark.parametrize("kw", [
    dict(bias=False), dict(out_activation="sigmoid"), dict(dropout=0.5),
    dict(sizes=(1, 6, 6, 6, 6, 2), tie_hidden=True), dict(dtype=torch.float32),
    dict(sizes=(3, 1, 1, 1, 1), out_activation="sigmoid", activation="sigmoid"),
])
@pytest.mark.parametrize("pen", [dict(), dict(l1=0.1), dict(l2=0.3), dict(l1=0.05, l2=0.02)])
def test_structure_options_and_penalties_match_autograd(kw, pen):
    kw = dict(kw)
    sizes = kw.pop("sizes", (2, 5, 4, 2))
    dtype = kw.pop("dtype", torch.float64)
    model, params, x, y, masks = case(sizes, loss="cross_entropy", dtype=dtype, **kw)
    config = ld.TrainConfig(steps=1, loss="cross_entropy", **pen)
    v0, g0 = autograd_grads(model, params, x, y, "cross_entropy", masks, config)
    v1, g1 = backprop.loss_and_grads(model, params, x, y, loss="cross_entropy", masks=masks,
                                     **pen)
    assert torch.equal(v0, v1)
    tol = dict(rtol=1e-6, atol=1e-7) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-14)
    for a, b in zip(g0, g1, strict=True):
        torch.testing.assert_close(a, b, **tol)


def test_train_takes_the_hand_written_path_only_for_lowdims_own_mlp():
    class Custom(ld.MLP):
        pass

    assert backprop.supports(ld.MLP((1, 2, 1)))
    assert not backprop.supports(Custom((1, 2, 1)))
    assert not backprop.supports(ld.TorchModule(lambda: torch.nn.Linear(1, 1)))


def test_training_with_the_hand_written_backward_equals_autograd_training():
    model = ld.MLP((2, 8, 8, 2), dropout=0.2)
    data = ld.make_moons(range(4), n_samples=64, key="bp")
    config = ld.TrainConfig(steps=30, optimizer="adam", lr=0.01, loss="cross_entropy",
                            batch_size=16, l2=0.01, dtype="float64")
    fast = ld.train(model, data, config, seeds=range(4), key="bp")
    with backprop.disabled():
        assert not backprop.supports(model)
        slow = ld.train(model, data, config, seeds=range(4), key="bp")
    assert backprop.supports(model)
    torch.testing.assert_close(fast.losses, slow.losses, rtol=1e-12, atol=1e-14)
    for k in fast.params:
        torch.testing.assert_close(fast.params[k], slow.params[k], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("s,n,h", [(1, 1, 1), (3, 16, 10), (100, 16, 10), (7, 20, 2000),
                                   (33, 1200, 64), (2, 40, 3)])
def test_one_input_feature_outer_product_equals_bmm_bit_for_bit(dtype, s, n, h):
    """models.affine and backprop's input gradient take h * w for a (., 1) x (1, .) product:
    bmm's numbers exactly, on torch's small-matrix loop and on MKL's path alike."""
    from lowdim.engine.models import affine

    g = torch.Generator().manual_seed(s * n + h)
    x, w = torch.randn(s, n, 1, generator=g, dtype=dtype), torch.randn(s, 1, h, generator=g,
                                                                        dtype=dtype)
    b = 3 * torch.randn(s, 1, h, generator=g, dtype=dtype)
    with torch.no_grad():
        assert torch.equal(affine(x, w, b), torch.baddbmm(b, x, w))
        assert torch.equal(affine(x, w), torch.bmm(x, w))
    r, v = torch.randn(s, n, 1, generator=g, dtype=dtype), torch.randn(s, h, 1, generator=g,
                                                                       dtype=dtype)
    assert torch.equal(r * v.transpose(1, 2), torch.bmm(r, v.transpose(1, 2)))


@pytest.mark.parametrize("sizes", [(1, 5, 4, 1), (1, 6, 1), (1, 1), (3, 1, 4, 1), (2, 80, 1),
                                   (1, 300, 1)])
@pytest.mark.parametrize("bias,dropout", [(True, 0.0), (False, 0.0), (True, 0.5)])
def test_one_wide_ends_match_autograd_bit_for_bit(sizes, bias, dropout):
    """1-D inputs and single outputs take models.affine's outer products and rows (7 points x
    80 or 300 units reach MKL's kernels; fewer, torch's small-matrix loop)."""
    for dtype in (torch.float32, torch.float64):
        model, params, x, y, masks = case(sizes, dtype=dtype, activation="relu", bias=bias,
                                          dropout=dropout)
        config = ld.TrainConfig(steps=1)
        value, grads = backprop.loss_and_grads(model, params, x, y, loss="mse", masks=masks)
        ref_value, ref_grads = autograd_grads(model, params, x, y, "mse", masks, config)
        assert torch.equal(value, ref_value)
        for a, b in zip(grads, ref_grads):
            assert torch.equal(a, b)
