"""Almost any non-linearity works as an activation on two moons, except sign(x).

Claim   "All of the non-linear activation functions besides sign(x) are quite effective for this
        classification task" ... "even the almost completely linear neural network (f(x) = x)
        achieves about 88% accuracy!"
Source  seed 001 (AtomsOfDeepLearning notebook), experiment 7 "Can any non-linearity be used as
        the activation function?"; its own number: identity about 88% test accuracy (3 runs).
Method  make_moons(500, noise 0.1) per seed, 80/20 split (400 train / 100 test), no scaling.
        2-30-30-2 MLP, the activation under test in both hidden layers (relu, tanh, square, sin,
        sign, identity), linear output, every layer biased, TF glorot on weights and biases
        (Init("xavier")). Softmax cross-entropy, Adam lr 0.003, 800 steps, each step a fresh
        random batch permutation(400)[:64]. Per seed, the same data, init stream and batch stream
        in every arm (paired design). Quick and full profiles run the same configuration.
Test    per seed test accuracy after 800 steps, alpha 0.01:
        - effective: median accuracy > 0.95, one-sided Wilcoxon signed-rank, for relu, tanh,
          square, sin. 0.95 is fixed from the task, not from runs: a linear boundary gets about
          88% on these moons (the source's own figure), so "quite effective" for a non-linear
          net means clearly beyond any line; 95% is halfway from 88% to a perfect fit.
        - identity about 88%: TOST (Wilcoxon) of accuracy - 0.88 within +-0.03, i.e. the
          pseudo-median accuracy lies in (0.85, 0.91). 0.03 = 3 test points of 100, the
          resolution "about 88%" quotes (one 100-point test set has a binomial sd of 3.2 points
          at 88%).
        - sign fails: median accuracy < 0.95, one-sided Wilcoxon.
        - sign worse than the others (added after a design run showed the 0.95 bar is missed;
          see the notes page): paired one-sided Wilcoxon, acc(sign) - acc(other) < 0, for each
          of relu, tanh, square, sin.
        - why sign fails: torch.sign, like tf.sign, has zero gradient everywhere, so no gradient
          reaches the layers below it and only the output layer trains on frozen random
          features. Under Adam a zero gradient gives an update of exactly 0, so the hidden
          weights and biases of a sign net must equal their init bit for bit in every seed
          (exact binomial of the share of such seeds vs 0.5, and all seeds). Negative control:
          under every other activation the first-layer weights do move.
Expect  (written before the first run) relu and tanh >= 0.97 in almost every seed; sin and square
        also above 0.95 (the source saw them "about equally effective"). Identity near a logistic
        regression on moons, 0.85-0.89: equivalence to 0.88 at +-0.03 likely holds. Sign: a linear
        read-out of 30 frozen random +-1 features of 30 random half-planes, maybe 0.75-0.90, so
        below 0.95; its hidden layers exactly unchanged in every seed, every other activation's
        first layer moved.
Known artefacts of the source: one data set and 3 runs per activation with unseeded TF init; its
        curve is test accuracy at steps 0, 80, ..., 720 (the last point is after 721 updates, not
        800); we read the accuracy after all 800 steps. "sign fails" in the source is not a
        property of sign as a non-linearity but of its zero derivative: the sign net is an
        untrained random-feature model with a trained linear read-out.

Design notes and history: docs/claims/activations.md
"""

from __future__ import annotations

import pytest

import lowdim as ld

pytestmark = pytest.mark.claim(
    "activations",
    statement="all non-linear activations besides sign(x) are quite effective on two moons; "
    "the identity net gets about 88%",
    source="seed 001, experiment 7; identity about 88% test accuracy",
)

# 32 quick seeds decide every test at alpha 0.01; the hardest is the identity TOST (power on a
# design block: docs/claims/activations.md).
N_SEEDS = {"quick": 32, "full": 100}
ACTIVATIONS = ("relu", "tanh", "square", "sin", "sign", "identity")
EFFECTIVE = ("relu", "tanh", "square", "sin")
CONFIG = ld.TrainConfig(steps=800, optimizer="adam", lr=0.003, batch_size=64, sampling="random",
                        loss="cross_entropy", record_every=0)
EFFECTIVE_ACCURACY = 0.95  # "quite effective": clearly beyond the ~88% of a linear boundary
SOURCE_IDENTITY = 0.88  # the source's own number for f(x) = x
IDENTITY_MARGIN = 0.03  # "about": 3 test points of 100
ALPHA = 0.01


def _model(activation: str) -> ld.MLP:
    return ld.MLP((2, 30, 30, 2), activation=activation, weight_init=ld.Init("xavier"))


@ld.cached
def _run(seeds: tuple[int, ...], device: str, activation: str, key: str):
    """Per seed: test accuracy (S,), and the change of each layer's weights and biases (S, 3)."""
    data = ld.make_moons(list(seeds), n_samples=500, noise=0.1, test_size=0.2, key=key)
    result = ld.train(_model(activation), data, CONFIG, seeds=list(seeds), key=key,
                      device=device)
    acc = ld.accuracy(result.predict(data.x_test), data.y_test)  # (S,)
    dw = ld.param_change(result.init, result.params, kind="w")  # (S, 3)
    db = ld.param_change(result.init, result.params, kind="b")  # (S, 3)
    return acc, dw, db


def _seeds(claim) -> tuple[int, ...]:
    return tuple(claim.seeds(claim.choose(N_SEEDS)))


@pytest.mark.parametrize("activation", EFFECTIVE)
def test_nonlinear_activations_other_than_sign_are_effective(claim, activation):
    acc, _, _ = _run(_seeds(claim), claim.device, activation, claim.id)
    ev = claim.record(ld.location(acc, threshold=EFFECTIVE_ACCURACY, alternative="greater",
                                  alpha=ALPHA, statistic=f"median test accuracy ({activation})"))
    assert ev.supported, ev


def test_the_identity_network_reaches_about_88_percent(claim):
    acc, _, _ = _run(_seeds(claim), claim.device, "identity", claim.id)
    ev = claim.record(ld.equivalence(acc - SOURCE_IDENTITY, margin=IDENTITY_MARGIN, alpha=ALPHA,
                                     statistic="pseudo-median(identity test accuracy - 0.88)"))
    assert ev.supported, ev


@pytest.mark.xfail(strict=True, reason="sign(x) is not ineffective here: with zero gradient its "
                   "hidden layers stay at init, yet a trained linear read-out of those frozen "
                   "random sign features already classifies the moons above the effectiveness "
                   "bar in most seeds; only the relative statement (worse than the others) holds")
def test_sign_activation_is_not_effective(claim):
    acc, _, _ = _run(_seeds(claim), claim.device, "sign", claim.id)
    ev = claim.record(ld.location(acc, threshold=EFFECTIVE_ACCURACY, alternative="less",
                                  alpha=ALPHA, statistic="median test accuracy (sign)"))
    assert ev.supported, ev


@pytest.mark.parametrize("other", EFFECTIVE)
def test_sign_is_worse_than_every_other_nonlinearity(claim, other):
    seeds = _seeds(claim)
    sign, _, _ = _run(seeds, claim.device, "sign", claim.id)
    acc, _, _ = _run(seeds, claim.device, other, claim.id)
    ev = claim.record(ld.paired(sign, acc, alternative="less", alpha=ALPHA,
                                statistic=f"pseudo-median(acc sign - acc {other})"))
    assert ev.supported, ev


def test_sign_passes_no_gradient_so_its_hidden_layers_never_move(claim):
    _, dw, db = _run(_seeds(claim), claim.device, "sign", claim.id)
    frozen = (dw[:, :2] == 0).all(axis=1) & (db[:, :2] == 0).all(axis=1)  # (S,)
    trained_readout = dw[:, 2] > 0  # the output layer does train: the loop ran
    ev = claim.record(ld.proportion(frozen & trained_readout, threshold=0.5, alpha=ALPHA,
                                    statistic="P(hidden layers bit-identical to init, "
                                              "output layer moved)"))
    assert ev.supported and ev.estimate == 1.0, ev


@pytest.mark.parametrize("activation", [a for a in ACTIVATIONS if a != "sign"])
def test_first_layer_moves_under_a_differentiable_activation(claim, activation):
    # Negative control of the test above: the frozen layers must be sign's doing, not the loop's.
    _, dw, _ = _run(_seeds(claim), claim.device, activation, claim.id)
    moved = dw[:, 0] > 0
    ev = claim.record(ld.proportion(moved, threshold=0.5, alpha=ALPHA,
                                    statistic=f"P(first-layer weights moved) ({activation})"))
    assert ev.supported and ev.estimate == 1.0, ev

