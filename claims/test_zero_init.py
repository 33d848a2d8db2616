"""Zero-initialised sigmoid nets train, but not because rounding errors break their symmetry.

Claim   "Interestingly, the constant 0 initialization eventually leads to training [...] the
        constant initialization (which theoretically should not be able to train a neural
        network) leads to training after several epochs. This is probably due to small numerical
        errors caused by core parallelization, which lead to eventually lead to a divergence of
        different weights."
Source  seed 001 (AtomsOfDeepLearning), experiment 10 (initializers); a plot of test accuracy per
        "epoch" over 5 runs, no number in the text.
Method  Data, model and training as claims/test_initializers.py: the notebook's 12-d two-Gaussian
        mixture (means 0 and 1/(i+1), covariance c^T c), 400 train / 100 test points per seed;
        12-100-100-2 MLP with biases, every weight and bias 0; MSE on one-hot targets, Adam
        lr 0.003, 500 steps of random batches of 64.
        Why it can train at all: sigma(0) = 1/2, so at step 0 the output weights get a gradient;
        once they are non-zero the hidden layers get one. But every unit of a layer sees the same
        inputs and the same gradient, so in exact arithmetic the units stay identical forever and
        the net is a 12-1-1-2 chain -- enough for this problem, whose Bayes boundary is linear.
        Arms: sigmoid at zeros in float32 (the notebook's case) and float64; the same net with its
        units tied (OneUnitPerLayer below: one unit per layer stored once, so the symmetry is exact
        whatever the arithmetic); tanh and ReLU at zeros (tanh(0) = relu(0) = 0, and torch's
        relu'(0) = 0, so no weight can get a gradient); N(0, 0.01) on weights and biases as the
        control whose units are distinct from the start.
        Unit spread of a hidden layer: unit j's vector is its incoming weights, bias and outgoing
        weights; spread = max over coordinates of (max_j - min_j) / max |entry|, the larger of the
        two hidden layers; 0 means identical units. Tracked after every step.
Test    alpha 0.01, one-sided.
        "trains": median test accuracy > 0.65 (Wilcoxon signed-rank); 0.65 is 3 standard errors
          above the 0.5 an input-blind predictor scores on 100 balanced test points.
        "units stay (nearly) identical": the largest spread over all steps has median < 0.1
          (Wilcoxon signed-rank); "distinct": the spread after training has median > 0.1.
          0.1 (a tenth of the layer's largest weight) sits between the design block's float32
          zero-init spreads (<= 2e-3) and its N(0, 0.01) spreads (>= 1.8): any cut in
          [1e-2, 0.5] decides the same. The per-seed spreads are in the evidence.
        "same function": share of seeds where the zero-init net and the tied net predict the same
          class on every test point > 1/2.
        Negative control: tanh and ReLU at zeros must fail "trains" (median below 0.65).
Expect  (written before the first run) Sigmoid nets at zeros train to LDA level (supported):
        sigma(0) = 1/2 makes the output weights' gradient non-zero at step 0, which then opens the
        gradient to the hidden layers; the symmetric net is a 12-1-1-2 chain, enough for a linear
        Bayes boundary. The units stay identical: I expect a relative spread of exactly 0 in
        float64 and at (or within a few ulps of) 0 in float32 (same inputs and weights per column
        give the same dot products), so "units diverge" fails -> xfail. The one-unit-per-layer
        tied net trains as well (supported). N(0, 0.01) control: spread O(1). tanh and ReLU at
        zeros: tanh(0) = relu(0) = 0 kills every weight gradient and relu'(0) = 0 in torch: only
        the output bias moves, constant prediction, chance accuracy (supported "does not train");
        hidden weights exactly 0 after training.
        (Design block, before the reported run: "trains" became "above 0.65", not LDA level, as
        the notebook says "leads to training", not "very good training"; the spreads it measured
        are on the notes page.)
Known artefacts of the source
        - Its experiments ran TF 1.x on several cores; ours run one thread and still show rounding
          asymmetry, so parallel cores are not needed for it.
        - "Constant 0" was applied to the biases as well (every initializer was).
        - Past the notebook's budget the rounding asymmetry does grow (design-block seeds trained
          3,000 steps: see the notes page): the symmetric path turns unstable late, and rounding
          seeds the split, as the notebook guessed; but its nets had trained by step 500, before
          any split (tied arm).

Design notes and history: docs/claims/zero-init.md
"""

import dataclasses
import functools

import numpy as np
import pytest
import torch

import lowdim as ld

pytestmark = pytest.mark.claim(
    "zero-init",
    statement="zero-initialised sigmoid nets eventually train, because numerical errors from "
    "parallel cores make the weights of different units diverge",
    source="seed 001 (AtomsOfDeepLearning), experiment 10",
)

# Seeds, designed on a disjoint block (never the reported seeds 0..n-1): 32 give "trains" power
# 0.98; the controls are deterministic in kind, and 16 seeds give p = 1.5e-5 when all agree
# (power: docs/claims/zero-init.md).
N_SEEDS = {"quick": 32, "full": 100}
N_CONTROL = {"quick": 16, "full": 100}

D = 12
CLASS_SEPS = tuple(1 / (i + 1) for i in range(D))
WIDTH = 100
CONFIG = ld.TrainConfig(steps=500, optimizer="adam", lr=0.003, batch_size=64, sampling="random",
                        loss="mse")
TRAINED = 0.65  # 3 standard errors (0.05 each on 100 points) above chance
SPREAD_TOL = 0.1  # units closer than a tenth of the layer's largest weight count as identical


class OneUnitPerLayer:
    """The 12-H-H-2 sigmoid net with all H units of a hidden layer equal, each layer's unit stored
    once, every parameter starting at 0: exact symmetry by construction.

    w0 (S, d, 1), b0 (S, 1, 1): the incoming weights and bias every layer-1 unit shares;
    w1, b1 (S, 1, 1): the value of every layer-1 -> layer-2 weight and of every layer-2 bias;
    w2 (S, 1, k), b2 (S, 1, k): each layer-2 unit's outgoing weights, and the output biases.
    A layer-2 unit sums H equal terms, an output H equal terms. The tied gradient is the untied
    one summed over H or H^2 entries; Adam's step does not depend on the gradient's scale (up to
    its epsilon), so the tied net follows the zero-init untied net's path in exact arithmetic.
    """

    def __init__(self, d: int, width: int, k: int):
        self.d, self.width, self.k = d, width, k

    def dropout_shapes(self, n: int) -> list:
        return []

    def init(self, seeds, *, key, dtype=torch.float32, device="cpu"):
        s = len(seeds)

        def zeros(*shape):
            return torch.zeros(s, *shape, dtype=dtype, device=device)

        return {"w0": zeros(self.d, 1), "b0": zeros(1, 1), "w1": zeros(1, 1), "b1": zeros(1, 1),
                "w2": zeros(1, self.k), "b2": zeros(1, self.k)}

    def forward(self, params, x, masks=None):
        h1 = torch.sigmoid(torch.baddbmm(params["b0"], x, params["w0"]))  # (S, N, 1): any unit
        h2 = torch.sigmoid(params["b1"] + self.width * torch.bmm(h1, params["w1"]))  # (S, N, 1)
        return params["b2"] + self.width * torch.bmm(h2, params["w2"])  # (S, N, k)

    __call__ = forward


@torch.no_grad()
def unit_spread(params: dict[str, torch.Tensor]) -> torch.Tensor:
    """(S,) how far the hidden units of an MLP (d, H1, H2, k) are from identical: for each hidden
    layer, unit j's vector is [incoming weights; bias; outgoing weights]; spread = max over
    coordinates of (max_j - min_j), over max |entry| (0 for an all-zero layer); the larger of
    the two layers. Exactly 0 when the units are identical."""
    spreads = []
    for layer in (0, 1):
        u = torch.cat([params[f"w{layer}"], params[f"b{layer}"],
                       params[f"w{layer + 1}"].transpose(1, 2)], dim=1)  # (S, in + 1 + out, H)
        width = (u.amax(dim=-1) - u.amin(dim=-1)).amax(dim=-1)  # (S,)
        scale = u.abs().amax(dim=(1, 2))  # (S,)
        rel = width / scale.clamp_min(1e-300)
        spreads.append(torch.where(scale > 0, rel, torch.zeros_like(rel)))
    return torch.stack(spreads, dim=1).amax(dim=1)


# arm -> (activation, init, dtype); "tied" is OneUnitPerLayer
ARMS = {
    "sigmoid-zeros": ("sigmoid", "zeros", "float32"),
    "sigmoid-zeros-float64": ("sigmoid", "zeros", "float64"),
    "sigmoid-tied": ("sigmoid", "tied", "float32"),
    "sigmoid-normal-0.01": ("sigmoid", "normal-0.01", "float32"),
    "tanh-zeros": ("tanh", "zeros", "float32"),
    "relu-zeros": ("relu", "zeros", "float32"),
}


@functools.cache
def _data(seeds: tuple[int, ...], key: str) -> ld.Data:
    return ld.make_gaussian_mixture(list(seeds), n_samples=500, d=D, class_seps=CLASS_SEPS,
                                    test_size=0.2, key=key)


@ld.cached
def _train(seeds: tuple[int, ...], key: str, device: str, arm: str) -> dict[str, np.ndarray]:
    """Per seed: test accuracy, test predictions (S, 100), the largest unit spread at any step,
    the spread after training, and whether every weight (and hidden bias) is still exactly 0;
    for the report's figure, the training loss and the unit spread over steps."""
    activation, init, dtype = ARMS[arm]
    data = _data(seeds, key).to(device)
    config = dataclasses.replace(CONFIG, dtype=dtype)
    if init == "tied":
        model, monitor = OneUnitPerLayer(D, WIDTH, 2), None
    else:
        rule = ld.Init("zeros") if init == "zeros" else ld.Init("normal", 0.01)
        model = ld.MLP((D, WIDTH, WIDTH, 2), activation=activation, weight_init=rule,
                       bias_init=rule)
        monitor = unit_spread
    result = ld.train(model, data, config, seeds=list(seeds), key=key, device=device,
                      monitor=monitor, monitor_every=1 if monitor else 0)
    out = result.predict(data.x_test)  # (S, 100, 2)
    p = result.params
    still_zero = torch.stack([(p[k] == 0).flatten(1).all(dim=1) for k in p if k != "b2"]).all(0)
    return {
        "acc": ld.accuracy(out, data.y_test),
        "pred": out.argmax(-1).cpu().numpy(),
        "spread_ever": result.monitor.amax(0).cpu().double().numpy() if monitor else None,
        "spread_final": unit_spread(p).cpu().double().numpy() if monitor else None,
        "still_zero": still_zero.cpu().numpy(),
        "loss_curve": {"x": result.loss_steps, "y": result.losses.T, "ylabel": "training loss",
                       "yscale": "log"},  # (S, R)
        "spread_curve": {"x": result.monitor_steps, "y": result.monitor.T, "yscale": "symlog",
                         "ylabel": "unit spread"} if monitor else None,  # (S, M)
    }


def _run(claim, arm: str, counts=N_SEEDS) -> dict[str, np.ndarray]:
    return _train(tuple(claim.seeds(claim.choose(counts))), claim.id, claim.device, arm)


def test_zero_initialised_sigmoid_nets_eventually_train(claim):
    run = _run(claim, "sigmoid-zeros")
    ev = claim.record(ld.location(run["acc"], threshold=TRAINED,
                                  alternative="greater", statistic="median test accuracy"),
                      curves={"sigmoid-zeros": run["loss_curve"]})
    assert ev.supported, ev


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_negative_control_zero_initialised_tanh_and_relu_nets_do_not_train(claim, activation):
    run = _run(claim, f"{activation}-zeros", N_CONTROL)
    ev = claim.record(ld.location(run["acc"],
                                  threshold=TRAINED, alternative="less",
                                  statistic="median test accuracy"),
                      curves={f"{activation}-zeros": run["loss_curve"]})
    assert ev.supported, ev


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_zero_initialised_tanh_and_relu_nets_move_only_their_output_bias(claim, activation):
    ev = claim.record(ld.proportion(_run(claim, f"{activation}-zeros", N_CONTROL)["still_zero"],
                                    threshold=0.5, statistic="P(every weight still exactly 0)"))
    assert ev.supported, ev


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_hidden_units_of_zero_initialised_sigmoid_nets_stay_nearly_identical(claim, dtype):
    run = (_run(claim, "sigmoid-zeros") if dtype == "float32"
           else _run(claim, "sigmoid-zeros-float64", N_CONTROL))
    ev = claim.record(ld.location(run["spread_ever"], threshold=SPREAD_TOL, alternative="less",
                                  statistic="median of the largest unit spread over all steps"),
                      curves={f"sigmoid-zeros {dtype}": run["spread_curve"]})
    assert ev.supported, ev


def test_control_small_gaussian_init_gives_distinct_units(claim):
    run = _run(claim, "sigmoid-normal-0.01", N_CONTROL)
    ev = claim.record(ld.location(run["spread_final"], threshold=SPREAD_TOL, alternative="greater",
                                  statistic="median unit spread after training"),
                      curves={"sigmoid-normal-0.01": run["spread_curve"]})
    assert ev.supported, ev


def test_exactly_symmetric_one_unit_per_layer_nets_train_as_well(claim):
    ev = claim.record(ld.location(_run(claim, "sigmoid-tied")["acc"], threshold=TRAINED,
                                  alternative="greater", statistic="median test accuracy"),
                      curves={arm: _run(claim, arm)["loss_curve"]
                              for arm in ("sigmoid-tied", "sigmoid-zeros")})
    assert ev.supported, ev


def test_zero_initialised_nets_predict_exactly_what_one_unit_per_layer_nets_predict(claim):
    same = (_run(claim, "sigmoid-zeros")["pred"] == _run(claim, "sigmoid-tied")["pred"]).all(1)
    ev = claim.record(ld.proportion(same, threshold=0.5,
                                    statistic="P(same class on every test point)"))
    assert ev.supported, ev


@pytest.mark.xfail(strict=True, reason=(
    "The units of a zero-initialised net do not diverge within the notebook's 500 steps: "
    "rounding makes them differ, but only by a tiny fraction of their weights (by far less in "
    "float64), far below what distinct units show, and the nets have trained by then."))
def test_numerical_errors_make_the_units_of_zero_initialised_nets_diverge(claim):
    run = _run(claim, "sigmoid-zeros")
    ev = claim.record(ld.location(run["spread_final"],
                                  threshold=SPREAD_TOL, alternative="greater",
                                  statistic="median unit spread after training"),
                      curves={"sigmoid-zeros": run["spread_curve"]})
    assert ev.supported, ev


@pytest.mark.xfail(strict=True, reason=(
    "Broken symmetry is not why zero-initialised sigmoid nets train: nets whose units are tied, "
    "and so exactly symmetric, train just as well and predict the same classes. Identical units "
    "make a one-unit-per-layer chain, which suffices for this nearly linear problem, and "
    "sigmoid(0) = 1/2 gives the output weights a gradient from the first step."))
def test_zero_initialised_nets_train_only_because_numerical_errors_break_symmetry(claim):
    # If training needed the symmetry broken, nets that cannot break it would not train.
    ev = claim.record(ld.location(_run(claim, "sigmoid-tied")["acc"], threshold=TRAINED,
                                  alternative="less", statistic="median test accuracy"))
    assert ev.supported, ev
