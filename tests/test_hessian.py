"""lowdim.engine.hessian against torch.autograd.functional.hessian on tiny nets."""

import math

import numpy as np
import pytest
import torch

import lowdim as ld
from lowdim.engine.hessian import hessian_vector_product


def _full_hessian(model, params, x, y, seed, loss="mse"):
    """(P, P) Hessian of one seed's loss by autograd, parameters flattened in params' order."""
    one = {k: v[seed:seed + 1].double() for k, v in params.items()}
    shapes = [(k, v.shape) for k, v in one.items()]
    flat = torch.cat([v.reshape(-1) for v in one.values()])

    def f(theta):
        p, i = {}, 0
        for k, shape in shapes:
            m = math.prod(shape)
            p[k] = theta[i:i + m].reshape(shape)
            i += m
        return ld.LOSSES[loss](model(p, x[seed:seed + 1].double()),
                               y[seed:seed + 1].double())[0]

    return torch.autograd.functional.hessian(f, flat, vectorize=True)


def _problem(sizes, activation, seeds=(0, 1, 2), n=6):
    model = ld.MLP(sizes, activation=activation)
    x = torch.randn(len(seeds), n, sizes[0], generator=torch.Generator().manual_seed(1))
    y = torch.randn(len(seeds), n, sizes[-1], generator=torch.Generator().manual_seed(2))
    return model, model.init(list(seeds), key="t"), x, y


@pytest.mark.parametrize("sizes, activation", [((1, 3, 1), "tanh"), ((2, 4, 3, 1), "relu"),
                                               ((2, 5, 2), "sigmoid")])
def test_each_seed_s_hessian_vector_product_is_its_own_hessian_times_v(sizes, activation):
    model, params, x, y = _problem(sizes, activation)
    v = {k: torch.randn(t.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
         for k, t in params.items()}
    hv = hessian_vector_product(model, params, x, y, v)
    for s in range(3):
        h = _full_hessian(model, params, x, y, s)
        vs = torch.cat([t[s].reshape(-1) for t in v.values()])
        got = torch.cat([t[s].reshape(-1) for t in hv.values()])
        torch.testing.assert_close(got, h @ vs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("sizes, activation", [((1, 3, 1), "tanh"), ((2, 4, 3, 1), "relu")])
def test_with_as_many_steps_as_parameters_the_largest_eigenvalue_is_exact(sizes, activation):
    model, params, x, y = _problem(sizes, activation)
    got = ld.hessian_max_eig(model, params, x, y, iters=1000)  # capped at P
    want = [torch.linalg.eigvalsh(_full_hessian(model, params, x, y, s))[-1].item()
            for s in range(3)]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-9)


def test_twenty_steps_find_the_top_of_a_larger_net_s_spectrum():
    model, params, x, y = _problem((1, 24, 24, 1), "tanh", n=16)  # P = 673
    got = ld.hessian_max_eig(model, params, x, y, iters=20)
    want = [torch.linalg.eigvalsh(_full_hessian(model, params, x, y, s))[-1].item()
            for s in range(3)]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)


def test_a_linear_model_s_sharpness_is_twice_the_top_eigenvalue_of_its_data_covariance():
    # mse = mean (w.x + b - y)^2: Hessian 2/N [X 1]^T [X 1], whatever the targets
    model = ld.MLP((3, 1), activation="identity")
    x = torch.randn(2, 10, 3, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    xa = torch.cat([x, torch.ones(2, 10, 1, dtype=torch.float64)], dim=2)
    want = torch.linalg.eigvalsh(2 / 10 * xa.transpose(1, 2) @ xa)[:, -1]
    got = ld.hessian_max_eig(model, model.init([0, 1], key="t"), x, torch.zeros(2, 10, 1))
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-10)


def test_a_seed_s_sharpness_does_not_depend_on_the_other_seeds_in_the_batch():
    model, params, x, y = _problem((1, 8, 1), "tanh")
    batch = ld.hessian_max_eig(model, params, x, y, iters=6)
    alone = ld.hessian_max_eig(model, {k: v[1:2] for k, v in params.items()}, x[1:2], y[1:2],
                               iters=6)
    assert batch[1].item() == pytest.approx(alone[0].item(), rel=1e-12)


def test_a_plain_torch_module_and_the_ntk_parametrization_work_too():
    model = ld.TorchModule(lambda: torch.nn.Sequential(torch.nn.Linear(1, 4), torch.nn.Tanh(),
                                                       torch.nn.Linear(4, 1)))
    params = model.init([0, 1], key="t")
    x = torch.linspace(-1, 1, 5).reshape(1, 5, 1).expand(2, 5, 1)
    y = x.square()
    got = ld.hessian_max_eig(model, params, x, y, iters=100)
    mlp = ld.MLP((1, 4, 1), activation="tanh")
    mine = {"w0": params["0.weight"].transpose(1, 2), "b0": params["0.bias"][:, None],
            "w1": params["2.weight"].transpose(1, 2), "b1": params["2.bias"][:, None]}
    np.testing.assert_allclose(got.numpy(), ld.hessian_max_eig(mlp, mine, x, y, iters=100),
                               rtol=1e-9)
    ntk = ld.MLP((1, 4, 1), activation="tanh", parametrization="ntk")
    want = [torch.linalg.eigvalsh(_full_hessian(ntk, mine, x, y, s))[-1].item() for s in (0, 1)]
    np.testing.assert_allclose(ld.hessian_max_eig(ntk, mine, x, y, iters=100), want, rtol=1e-9)


def test_the_sharpness_can_be_recorded_during_training_as_a_monitor():
    model = ld.MLP((1, 8, 1), activation="tanh")
    seeds = [0, 1]
    data = ld.make_1d(seeds, x=np.linspace(-1, 1, 8), target=lambda x, r: np.sin(3 * x), key="t")
    config = ld.TrainConfig(steps=6, optimizer="gd", lr=0.1, loss="mse")
    result = ld.train(model, data, config, seeds=seeds, key="t", monitor_every=3,
                      monitor=lambda p: ld.hessian_max_eig(model, p, data.x, data.y))
    assert result.monitor.shape == (3, 2) and result.monitor_steps.tolist() == [0, 3, 6]
    final = ld.hessian_max_eig(model, result.params, data.x, data.y)
    np.testing.assert_allclose(result.monitor[-1].numpy(), final.numpy(), rtol=1e-12)


def test_a_bad_step_count_is_refused_by_name():
    model, params, x, y = _problem((1, 3, 1), "tanh")
    with pytest.raises(ValueError, match="iters: got 0"):
        ld.hessian_max_eig(model, params, x, y, iters=0)
