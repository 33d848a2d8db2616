"""Long full-batch GD of tiny homogeneous models (lowdim.engine.margin) equals lowdim.train's GD
on the logistic loss; the SVM direction and the margins are what they say."""

import math

import numpy as np
import pytest
import torch

import lowdim as ld
from lowdim.engine.margin import (
    direction_angle,
    homogeneous_gd,
    max_margin_direction,
    normalized_margin,
)

SEEDS = [0, 1, 2]


def _data():
    data = ld.make_clusters(SEEDS, centers=[[-1.0, -1.0], [1.0, 1.0]], n_per_class=6, std=0.3,
                            key="margin")
    return data.x.double(), data.y.double().unsqueeze(-1)  # targets (S, N, 1) in {0, 1}


@pytest.mark.parametrize("sizes", [(2, 1), (2, 8, 1)])
def test_homogeneous_gd_equals_lowdim_train_gd_on_the_logistic_loss(sizes):
    x, y = _data()
    model = ld.MLP(sizes, bias=False, activation="relu")
    params = model.init(SEEDS, key="margin", dtype=torch.float64)
    cfg = ld.TrainConfig(steps=300, optimizer="gd", lr=0.7, loss="logistic", dtype="float64",
                         snapshot_every=100)
    ref = ld.train(model, ld.Data(x, y), cfg, seeds=SEEDS, key="margin", params=params)
    out = homogeneous_gd(params, x, y, lr=0.7, steps=300, record_at=(0, 100, 200))
    assert sorted(out) == [0, 100, 200, 300]
    for t in out:
        for k in params:
            torch.testing.assert_close(out[t][k], ref.snapshots[t][k], rtol=1e-12, atol=1e-14)


def test_per_seed_learning_rates():
    x, y = _data()
    params = ld.MLP((2, 1), bias=False).init(SEEDS, key="margin", dtype=torch.float64)
    lr = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64)
    out = homogeneous_gd(params, x, y, lr=lr, steps=50)[50]
    for i in range(3):
        one = homogeneous_gd({"w0": params["w0"][i:i + 1]}, x[i:i + 1], y[i:i + 1],
                             lr=lr[i].item(), steps=50)[50]
        torch.testing.assert_close(out["w0"][i:i + 1], one["w0"], rtol=1e-13, atol=1e-15)


def test_the_svm_direction_is_the_known_max_margin_one():
    # Soudry et al.'s figure-1 data: support vectors (0.5, 1.5), (1.5, 0.5) and their negatives
    x = np.array([[0.5, 1.5], [1.5, 0.5], [-0.5, -1.5], [-1.5, -0.5], [2.0, 3.0], [-3.0, -2.5]])
    y = np.array([1, 1, 0, 0, 1, 0])
    u = max_margin_direction(x, y)
    np.testing.assert_allclose(u, [math.sqrt(0.5), math.sqrt(0.5)], atol=1e-6)
    with pytest.raises(ValueError, match="separate"):
        max_margin_direction(np.array([[1.0, 0.0], [2.0, 0.0]]), np.array([1, 0]))


def test_angle_and_normalized_margin():
    w = torch.tensor([[[1.0], [0.0]], [[1.0], [1.0]]], dtype=torch.float64)  # (2, 2, 1)
    np.testing.assert_allclose(direction_angle(w, np.array([[0.0, 1.0], [1.0, 1.0]])), [math.pi / 2, 0.0],
                               atol=1e-12)
    x = torch.tensor([[[1.0, 0.0], [-2.0, 0.0]]] * 2, dtype=torch.float64)
    y = torch.tensor([[1.0, 0.0]] * 2, dtype=torch.float64)
    # linear: min s f(x) / |w| = 1 / 1 and 1 / sqrt(2); scale-free
    np.testing.assert_allclose(normalized_margin({"w0": 3 * w}, x, y), [1.0, 1 / math.sqrt(2)])
    two = {"w0": torch.eye(2, dtype=torch.float64).expand(2, 2, 2).clone(),
           "w1": torch.tensor([[[1.0], [0.0]]] * 2, dtype=torch.float64)}
    # f(x) = relu(x_1): point 2 has f = 0, so the margin is 0 / |theta|^2
    np.testing.assert_allclose(normalized_margin(two, x, y), [0.0, 0.0])
    with pytest.raises(ValueError, match="params"):
        homogeneous_gd({"w0": w, "b0": w}, x, y, lr=0.1, steps=1)


def test_the_svm_direction_does_not_depend_on_numpy_global_state():
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(2, 0.5, (10, 2)), rng.normal(-2, 0.5, (10, 2))])
    y = np.repeat([1, 0], 10)
    np.random.seed(1)
    a = ld.max_margin_direction(x, y)
    np.random.seed(2)
    assert np.array_equal(a, ld.max_margin_direction(x, y))  # liblinear's order is fixed
