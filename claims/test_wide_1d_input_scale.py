"""A wide 1-D ReLU net fits raw inputs worse than standardised ones: thresholds or step size?

Claim   The notebook "Investigating the failure of convergence of neural networks on low
        dimensional inputs": a wide ReLU net trained by gradient descent fails to fit a tiny 1-D
        data set (20 points at x = -10..9) because the activation thresholds -b/w of the first
        layer lie near the origin, where few data are; inputs normalised "to within the range where
        most activation threshold lies" (its age example uses (age - 60)/10) fix it.
Source  seed 000 (notebook; no number beyond its loss log: 0.033 after 50,000 steps and 0.010
        after ~800,000 of its 5,000,000 steps on the 20 points).
Method  As the notebook ran it: 1 -> 2000 -> 1 ReLU net, PyTorch default init (U(+-1/sqrt(fan_in))
        on weights and biases, so a, b ~ U(+-1) in the first layer), MSE, full batch, a new
        SGD(momentum 0.9) every step = plain GD at lr 1e-4; x = -10..9 (20 points), y ~ U[0, 1)
        per seed (the text says Gaussian; the code draws uniforms). "std" = the same x
        standardised per seed (lowdim.standardize); same y and same init per seed in both arms.
        Age example (the notebook's data set is private): per seed N_AGE patients, age ~
        N(65, 15) rounded and clipped to [18, 100]; y ~ Bernoulli(0.05 + 0.35 sigmoid((age -
        75) / 6)), a death rate rising non-linearly with age; "raw" = age in years, "std" = (age -
        60) / 10 as the notebook.
        Step rules: "source" = lr 1e-4; "ntk" = each problem's own lr = 1 / lambda_max of the NTK
        Gram at init with the MSE weights 2/N (the rule of seed 004's code; linearised GD is stable
        below 2 / lambda_max). The ntk rule removes "GD is badly scaled at one fixed lr" and leaves
        "the net is badly placed for these inputs" (conditioning, kinks).
        Budget: STEPS steps (quick 2,000; full 50,000 = the notebook's first logged checkpoint);
        GD by lowdim.relu_1d_gd (hand-written gradients, checked against lowdim.train).
        Kinks: fraction of first-layer units whose kink -b/a lies in [min x, max x], at init
        and after the ntk-rule training.
Test    paired over seeds, Wilcoxon signed-rank, one-sided, alpha 0.01:
        (1) source lr, grid: MSE(raw) - MSE(std) > 0 (the notebook's statement);
        (2) ntk lr, grid and ages: MSE(raw) - MSE(std) > 0;
        (3) kinks inside the data range: fraction(std) - fraction(raw) > 0 (the notebook's
            mechanism), grid and ages, at init and after training;
        (4) raw ages at lr 1e-4: P(1e-4 * lambda_max > 2) > 0.5 (exact binomial): beyond the
            stability edge of linearised GD;
        (5) negative control: input already standardised, sent through both arms' pipelines
            (as given vs standardised again): P(|MSE difference| <= 1e-3 MSE) > 0.5 (binomial).
Expect  (written before the first run) Kinks: |b/a| of two U(+-1) is uniform on [0, 1] with
        prob. 1/2 and has P(|t| > s) = 1/(2s) beyond, so ~95% of kinks lie inside the raw grid
        [-10, 9] but ~69% inside the standardised one: (3) REFUTED on the grid, though the kinks
        are dense near 0 (~500 in [0, 1], ~7 in [8, 9]); on ages (all far from 0) ~1% vs ~85%:
        SUPPORTED. (1): at lr 1e-4 the raw grid's lr * lambda_max is ~1 (near the stability edge),
        the standardised one ~30x smaller; fixed lr favours the raw input: standardising will not
        help within the quick budget (INCONCLUSIVE or REFUTED). (2): the standardised Gram is
        better conditioned: SUPPORTED on the grid and on ages. (4): raw ages, lr * lambda_max
        >> 2: SUPPORTED. (5): SUPPORTED.
Known artefacts of the source: y is U[0, 1) while the text says Gaussian; the notebook's plot of
        thresholds is a KDE of b/w (sign flipped) of its age net; the age data are private.

Design notes and history: docs/claims/wide-1d-input-scale.md
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

import lowdim as ld

pytestmark = pytest.mark.claim(
    "wide-1d-input-scale",
    statement="a wide 1-2000-1 ReLU net trained by GD (lr 1e-4) fails to fit 20 points at "
              "x = -10..9 (and raw ages) because its activation thresholds sit near the origin; "
              "normalising the input fixes it (quick: 2,000 GD steps; full: 50,000)",
    source="seed 000 (notebook: loss 0.033 after 50,000 steps on the 20 points)",
)

WIDTH = 2000
LR = 1e-4  # the notebook's
GRID = np.arange(-10.0, 10.0)  # x = -10..9, 20 points
N_AGE = 20  # patients per seed (as many as grid points: the same cost per step)
# 10 seeds give the Wilcoxon test p = 1/1024 when all agree and p < 0.01 with one discordant
# seed of low rank. A step costs ~S x 20 x 2000 memory traffic: seeds and steps trade off one
# for one, and the budget goes to steps (power on a design block:
# docs/claims/wide-1d-input-scale.md).
N_SEEDS = {"quick": 10, "full": 32}
STEPS = {"quick": 2000, "full": 50000}
EDGE = 2.0  # linearised GD diverges for lr * lambda_max > 2
CONTROL_TOL = 1e-3
DIVERGED = 1e30  # stand-in for a non-finite final loss (worse than any finite one)


def _model() -> ld.MLP:
    return ld.MLP((1, WIDTH, 1), activation="relu", weight_init=ld.Init("torch"))


def _age_sample(rng: np.random.Generator):
    age = np.clip(np.rint(rng.normal(65.0, 15.0, N_AGE)), 18.0, 100.0)
    death = 0.05 + 0.35 / (1.0 + np.exp(-(age - 75.0) / 6.0))
    return age[:, None], (rng.random(N_AGE) < death).astype(np.float64)[:, None]


@functools.cache
def _data(seeds: tuple, which: str, scale: str, device: str, key: str):
    """x (S, N, 1) on the requested scale and y (S, N, 1)."""
    if which == "grid":
        data = ld.make_1d(list(seeds), x=GRID, target=lambda x, rng: rng.random(len(x)), key=key)
        std = ld.standardize(data.x)
    else:
        data = ld.per_seed(list(seeds), _age_sample, key=f"{key}:age")
        std = (data.x - 60.0) / 10.0
    x = {"raw": data.x, "std": std, "std-again": ld.standardize(std)}[scale]
    return x.to(device), data.y.to(device)


@functools.cache
def _init(seeds: tuple, device: str, key: str):
    return _model().init(list(seeds), key=key, device=device)


def _lambda_max(seeds, which, scale, device, key) -> torch.Tensor:
    x, _ = _data(seeds, which, scale, device, key)
    return ld.ntk_eigvalsh(_model(), _init(seeds, device, key), x, weight=2.0 / x.shape[1])[:, -1]


@functools.cache
def _checked(device: str, key: str) -> bool:
    """relu_1d_gd takes the same steps as lowdim.train (plain GD on the MSE): check once."""
    seeds = [0, 1]
    data = ld.make_1d(seeds, x=GRID, target=lambda x, rng: rng.random(len(x)), key=key)
    cfg = ld.TrainConfig(steps=3, optimizer="gd", lr=LR, loss="mse", record_every=0)
    ref = ld.train(_model(), data, cfg, seeds=seeds, key=key, device=device).params
    ours, _ = ld.relu_1d_gd(_model().init(seeds, key=key, device=device), data.x.to(device),
                         data.y.to(device), lr=LR, steps=3)
    assert all(torch.allclose(ours[k], ref[k], rtol=1e-4, atol=1e-6) for k in ref), "GD mismatch"
    return True


@ld.cached
def _trained(seeds: tuple, which: str, scale: str, rule: str, steps: int, device: str,
             key: str):
    """Final parameters and final MSE (S,) of one arm."""
    assert _checked(device, key)
    x, y = _data(seeds, which, scale, device, key)
    lr = LR if rule == "source" else 1.0 / _lambda_max(seeds, which, scale, device, key).float()
    params, _ = ld.relu_1d_gd(_init(seeds, device, key), x, y, lr=lr, steps=steps)
    mse = ld.mse(_model().forward(params, x), y)
    return params, np.where(np.isfinite(mse), mse, DIVERGED)


def _setup(claim):
    seeds = tuple(claim.seeds(claim.choose(N_SEEDS)))
    return seeds, claim.choose(STEPS), claim.device


def _paired_loss(claim, which, rule):
    seeds, steps, dev = _setup(claim)
    _, raw = _trained(seeds, which, "raw", rule, steps, dev, claim.id)
    _, std = _trained(seeds, which, "std", rule, steps, dev, claim.id)
    ev = ld.paired(raw, std, alternative="greater", statistic="pseudo-median(MSE raw - MSE std)")
    ev.details["diverged"] = int((raw >= DIVERGED).sum() + (std >= DIVERGED).sum())
    return ev


# --------------------------------------------------------------------------------------------
# tests


@pytest.mark.xfail(strict=True, reason=(
    "at the notebook's fixed lr the raw grid trains faster than the standardised one: its NTK is "
    "larger in every direction and the lr sits near its stability edge, while for standardised "
    "input the same lr is far below its own; standardising does not help at one fixed lr"))
def test_standardising_the_grid_lowers_the_loss_at_the_source_learning_rate(claim):
    ev = claim.record(_paired_loss(claim, "grid", "source"), data="grid", lr=LR)
    assert ev.supported, ev


@pytest.mark.parametrize("which", ["grid", "ages"])
def test_standardising_lowers_the_loss_at_a_step_set_by_the_ntk(claim, which):
    seeds, _, dev = _setup(claim)
    ev = _paired_loss(claim, which, "ntk")
    for scale in ("raw", "std"):
        x, _ = _data(seeds, which, scale, dev, claim.id)
        eig = ld.ntk_eigvalsh(_model(), _init(seeds, dev, claim.id), x,
                              weight=2.0 / x.shape[1])  # (S, N)
        ev.details[f"lr_{scale}_median"] = float((1.0 / eig[:, -1]).median())
        if which == "grid":  # distinct points: the Gram is positive definite
            ev.details[f"condition_{scale}_median"] = float((eig[:, -1] / eig[:, 0]).median())
    ev = claim.record(ev, data=which, lr="1/lambda_max")
    assert ev.supported, ev


GRID_KINKS_XFAIL = pytest.mark.xfail(strict=True, reason=(
    "the kinks -b/a of the default uniform init form a heavy-tailed ratio that covers the raw "
    "grid almost entirely, more of it than of the standardised range: on this centred grid the "
    "thresholds are not away from the data (they are only denser near the origin)"))


@pytest.mark.parametrize("when", ["init", "trained"])
@pytest.mark.parametrize("which", [pytest.param("grid", marks=GRID_KINKS_XFAIL), "ages"])
def test_raw_inputs_have_fewer_kinks_inside_the_data_range(claim, which, when):
    seeds, steps, dev = _setup(claim)
    frac = {}
    for scale in ("raw", "std"):
        x, _ = _data(seeds, which, scale, dev, claim.id)
        params = (_init(seeds, dev, claim.id) if when == "init"
                  else _trained(seeds, which, scale, "ntk", steps, dev, claim.id)[0])
        frac[scale] = ld.kink_fraction_inside(params, x.amin(dim=(1, 2)), x.amax(dim=(1, 2)))
    ev = claim.record(ld.paired(frac["std"], frac["raw"], alternative="greater",
                                statistic="pseudo-median(kinks inside: std - raw)"),
                      data=which, when=when)
    assert ev.supported, ev


def test_gd_at_the_source_learning_rate_is_unstable_on_raw_ages(claim):
    seeds, _, dev = _setup(claim)
    edge = (LR * _lambda_max(seeds, "ages", "raw", dev, claim.id)).cpu().numpy()  # (S,)
    ev = ld.proportion(edge > EDGE, threshold=0.5, alternative="greater",
                       statistic="P(1e-4 * lambda_max > 2), raw ages")
    ev.details["lr_lambda_max_median"] = float(np.median(edge))
    ev.details["lr_lambda_max_median_std"] = float(
        np.median((LR * _lambda_max(seeds, "ages", "std", dev, claim.id)).cpu().numpy()))
    ev = claim.record(ev, data="ages", lr=LR)
    assert ev.supported, ev


def test_standardising_already_standardised_input_changes_nothing(claim):
    seeds, steps, dev = _setup(claim)
    _, once = _trained(seeds, "grid", "std", "source", steps, dev, claim.id)
    _, again = _trained(seeds, "grid", "std-again", "source", steps, dev, claim.id)
    same = np.abs(once - again) <= CONTROL_TOL * once
    ev = ld.proportion(same, threshold=0.5, alternative="greater",
                       statistic="P(|MSE difference| <= 1e-3 MSE), standardised twice")
    ev.details["max_abs_difference"] = float(np.max(np.abs(once - again)))
    ev = claim.record(ev, data="grid (standardised)", lr=LR)
    assert ev.supported, ev
