"""MLP(parametrization=...): the NTK and mean-field multipliers against a forward scaled by hand."""

import math

import pytest
import torch

import lowdim as ld
from lowdim.engine import backprop


def _hand_forward(params, x, scales, act=torch.tanh):
    """The net written out: z_l = (h @ W_l) * scale_l + b_l, act between layers."""
    h = x
    n = len(scales)
    for i, s in enumerate(scales):
        z = torch.bmm(h, params[f"w{i}"]) * s + params[f"b{i}"]
        h = act(z) if i < n - 1 else z
    return h


@pytest.mark.parametrize("parametrization, scales", [
    ("standard", lambda n: [1.0, 1.0, 1.0]),
    ("ntk", lambda n: [1.0 / math.sqrt(2), 1.0 / math.sqrt(n), 1.0 / math.sqrt(n)]),
    ("mean-field", lambda n: [1.0 / math.sqrt(2), 1.0 / math.sqrt(n), 1.0 / n]),
])
def test_the_forward_pass_multiplies_each_layer_as_the_parametrization_says(parametrization,
                                                                           scales):
    n = 37
    model = ld.MLP((2, n, n, 1), activation="tanh", weight_init=ld.Init("normal", 1.0),
                   parametrization=parametrization)
    params = {k: v.double() for k, v in model.init([0, 1, 2], key="t").items()}
    x = torch.randn(3, 5, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert model.weight_scales() == pytest.approx(scales(n), rel=1e-15)
    torch.testing.assert_close(model(params, x), _hand_forward(params, x, scales(n)),
                               rtol=1e-12, atol=1e-12)


def test_the_default_is_the_standard_parametrization_and_changes_no_number():
    old = ld.MLP((1, 16, 1))
    assert old.parametrization == "standard" and old.weight_scales() == [1.0, 1.0]
    params = old.init([3, 4], key="t")
    x = torch.linspace(-1, 1, 9).reshape(1, 9, 1).expand(2, 9, 1).contiguous()
    plain = params["w1"].transpose(1, 2)  # the unscaled forward, bit for bit
    h = torch.relu(x * params["w0"] + params["b0"])
    expected = torch.bmm(plain, h.transpose(1, 2)).transpose(1, 2) + params["b1"]
    assert torch.equal(old(params, x), expected)
    assert backprop.supports(old)


@pytest.mark.parametrize("parametrization", ["ntk", "mean-field"])
def test_training_takes_the_gradient_of_the_scaled_net(parametrization):
    # Not the hand-written backward (it knows no multipliers): autograd, checked against
    # the gradient of the hand-scaled forward after one GD step.
    model = ld.MLP((1, 8, 1), activation="tanh", weight_init=ld.Init("normal", 1.0),
                   parametrization=parametrization)
    assert not backprop.supports(model)
    seeds = [0, 1]
    data = ld.make_1d(seeds, x=[-1.0, -0.3, 0.4, 1.0], target=lambda x, r: x**2, key="t")
    config = ld.TrainConfig(steps=1, optimizer="gd", lr=0.5, loss="mse", dtype="float64")
    result = ld.train(model, data, config, seeds=seeds, key="t")
    p0 = {k: v.clone().requires_grad_(True) for k, v in result.init.items()}
    out = _hand_forward(p0, data.x.double(), model.weight_scales())
    loss = (out - data.y.double().reshape(out.shape)).square().mean(dim=(1, 2)).sum()
    grads = torch.autograd.grad(loss, list(p0.values()))
    for (k, v), g in zip(p0.items(), grads):
        torch.testing.assert_close(result.params[k], v.detach() - 0.5 * g, rtol=1e-12,
                                   atol=1e-12)


def test_the_ntk_gram_of_a_scaled_net_is_its_jacobian_product():
    model = ld.MLP((1, 6, 1), activation="tanh", weight_init=ld.Init("normal", 1.0),
                   parametrization="ntk")
    params = {k: v.double() for k, v in model.init([5], key="t").items()}
    x = torch.linspace(-1, 1, 4, dtype=torch.float64).reshape(1, 4, 1)
    flat = torch.cat([v.reshape(-1) for v in params.values()])
    shapes = [(k, v.shape) for k, v in params.items()]

    def f(theta):
        p, i = {}, 0
        for k, shape in shapes:
            m = math.prod(shape)
            p[k] = theta[i:i + m].reshape(shape)
            i += m
        return model(p, x).reshape(-1)

    jac = torch.autograd.functional.jacobian(f, flat)  # (N, P)
    torch.testing.assert_close(ld.ntk_gram(model, params, x)[0], jac @ jac.T)


def test_an_unknown_parametrization_is_refused_by_name():
    with pytest.raises(ValueError, match="MLP.parametrization: got 'mup'; allowed: standard, "
                                         "ntk, mean-field"):
        ld.MLP((1, 4, 1), parametrization="mup")
