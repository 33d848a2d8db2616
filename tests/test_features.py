"""Random-features regression (lowdim.engine.features): closed-form fits against numpy."""

import numpy as np
import pytest
import torch

from lowdim.engine.features import featurize, random_features, ridge_fit


def _problem(n=12, f=12, s=3, k=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    phi = torch.randn(s, n, f, generator=g, dtype=torch.float64)
    y = torch.randn(s, n, k, generator=g, dtype=torch.float64)
    return phi, y


@pytest.mark.parametrize("f", [4, 11, 12, 13, 40])  # under, at and over the threshold n = 12
def test_min_norm_fit_equals_numpy_lstsq(f):
    phi, y = _problem(f=f)
    coef = ridge_fit(phi, y)
    for i in range(phi.shape[0]):
        ref = np.linalg.lstsq(phi[i].numpy(), y[i].numpy(), rcond=None)[0]
        np.testing.assert_allclose(coef[i].numpy(), ref, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("f", [5, 12, 30])
def test_ridge_fit_solves_the_regularised_normal_equations(f):
    phi, y = _problem(f=f, k=2)
    lam = torch.tensor([0.1, 1.0, 10.0], dtype=torch.float64)
    coef = ridge_fit(phi, y, ridge=lam)
    for i in range(3):
        a, b = phi[i].numpy(), y[i].numpy()
        ref = np.linalg.solve(a.T @ a + lam[i].item() * np.eye(f), a.T @ b)
        np.testing.assert_allclose(coef[i].numpy(), ref, rtol=1e-9, atol=1e-12)
    assert coef.shape == (3, f, 2)


def test_a_tiny_ridge_approaches_the_min_norm_solution():
    phi, y = _problem(f=30)
    np.testing.assert_allclose(ridge_fit(phi, y, 1e-10).numpy(), ridge_fit(phi, y).numpy(),
                               rtol=1e-5, atol=1e-7)


def test_features_are_per_seed_streams_nested_and_float64():
    a = random_features([0, 1, 2], d=2, n_features=50, key="k", kind="relu")
    b = random_features([2], d=2, n_features=50, key="k", kind="relu")
    assert torch.equal(a.a[2], b.a[0]) and torch.equal(a.b[2], b.b[0])  # seed 2 whatever S
    assert a.a.dtype == torch.float64 and a.head(7).n_features == 7
    x = torch.rand(3, 5, 2)
    phi = featurize(x, a)
    assert phi.shape == (3, 5, 50) and (phi >= 0).all()
    torch.testing.assert_close(featurize(x, a.head(7)), phi[..., :7])  # nested feature sets
    ref = torch.relu(x.double()[0] @ a.a[0] + a.b[0])
    torch.testing.assert_close(phi[0], ref)
    four = random_features([0], d=2, n_features=4, key="k", kind="fourier")
    z = x[:1].double() @ four.a + four.b
    torch.testing.assert_close(featurize(x[:1], four), np.sqrt(2) * torch.cos(z))


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="kind"):
        random_features([0], d=1, n_features=3, key="k", kind="tanh")
    with pytest.raises(ValueError, match="n_features"):
        random_features([0], d=1, n_features=0, key="k")
    phi, y = _problem()
    with pytest.raises(ValueError, match="ridge"):
        ridge_fit(phi, y, ridge=-1.0)
    with pytest.raises(ValueError, match="ridge"):
        ridge_fit(phi, y, ridge=torch.tensor([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="phi, y"):
        ridge_fit(phi, y[:, :3])
