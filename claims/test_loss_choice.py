"""The choice of loss barely matters for a Gaussian-mixture net; a constant loss does not train.

Claim   "All of the losses had similar performance, besides the negative control. The loss
        function that is the difference between the labels and logits raised to the fourth
        power, had performance slightly worse than the others."
Source  seed 001 (AtomsOfDeepLearning notebook), experiment 9 "How does the loss function
        matter?"; no number given (a figure of mean test accuracy over 5 runs).
Method  The notebook's mixture per seed: d = 12, c ~ U[0,1)^{12x12}, cov = c^T c, class 0 ~
        N(0, cov), class 1 ~ N(s, cov) with s_i = 1/(i+1) (the code's separations; the text says
        1); 500 points, 400 train / 100 test, no scaling. 12-100-100-2 sigmoid MLP, linear
        output, every layer biased, TF glorot on weights and biases (Init("xavier")). Adam lr
        0.003, 500 steps, each step a fresh random batch permutation(400)[:64]. Losses on the raw
        logits against one-hot targets, as the notebook wrote them: softmax cross-entropy, mean
        |out - y|, mean (out - y)^2, mean (out - y)^4, tf.losses.hinge_loss (targets to +-1, mean
        relu(1 - t * out)), and the negative control 0 * MSE. Per seed the same data, init and
        batch stream under every loss (paired by seed). Quick and full run the same
        configuration.
Test    per seed test accuracy after 500 steps, alpha 0.01:
        - "similar performance": for each loss vs cross-entropy, TOST (paired Wilcoxon) of
          acc(loss) - acc(CE) within +-0.03. The margin is fixed from the test set, not from
          runs: accuracy on 100 test points moves in steps of 0.01, and one net's accuracy on
          one such test set has a binomial sd of about 3.5 points at 85%, so a gap under 3 test
          points is below what the source's single figure could resolve. Similar = within 3.
        - fourth power "slightly worse than the others": paired one-sided Wilcoxon of
          acc(fourth) - mean(acc of CE, MAE, MSE, hinge) < 0.
        - negative control: 0 * MSE has an exactly zero gradient, Adam's update is then exactly
          0, so every parameter must equal its init in every seed (share of such seeds vs 0.5,
          and all); and CE must beat it by more than the equivalence margin (paired Wilcoxon of
          acc(CE) - acc(constant) > 0.03), which shows the equivalence test can see a gap.
        - seeds: quick 32, full 200 (power calculations on the notes page).
Expect  (written before the first run) CE, MSE and hinge within 3 points of each other: the
        equivalence holds for MSE and hinge. MAE's gradient is a sign, rescaled by Adam, so it
        trains too; equivalent or inconclusive. Fourth power has vanishing gradients near the
        targets and large ones far off: slightly worse than the rest, maybe 1-3 points, the
        one-sided test supported, its equivalence to CE perhaps inconclusive. Constant: every
        parameter bit-identical to init, accuracy near 0.5, far below CE.
Known artefacts of the source: 5 runs, each with a new data set (the same one across losses
        within a run) and unseeded TF init; the curve is test accuracy at steps 0, 50, ..., 450
        (last point after 451 updates); we read it after all 500. The text's "separated by 1 in
        every dimension" is not what the code ran (1/(i+1)).

Design notes and history: docs/claims/loss-choice.md
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lowdim as ld

pytestmark = pytest.mark.claim(
    "loss-choice",
    statement="all losses (CE, MAE, MSE, 4th power, hinge) perform similarly, besides the "
    "constant negative control; the 4th power is slightly worse than the others",
    source="seed 001, experiment 9 (figure, no number)",
)

# 32 quick seeds decide the hardest quick test (fourth worse than the others); the fourth-vs-CE
# TOST needed ~200 seeds on a design block, hence full = 200 (the first full run left it
# INCONCLUSIVE at 200: docs/claims/loss-choice.md).
N_SEEDS = {"quick": 32, "full": 200}
LOSSES = ("cross_entropy", "mae", "mse", "fourth", "hinge", "constant")
TRAINED = ("cross_entropy", "mae", "mse", "fourth", "hinge")  # all but the negative control
STEPS = 500
MARGIN = 0.03  # "similar": within 3 test points of 100
ALPHA = 0.01
CLASS_SEPS = tuple(1 / (i + 1) for i in range(12))
MODEL = ld.MLP((12, 100, 100, 2), activation="sigmoid", weight_init=ld.Init("xavier"))


def _config(loss: str) -> ld.TrainConfig:
    return ld.TrainConfig(steps=STEPS, optimizer="adam", lr=0.003, batch_size=64,
                          sampling="random", loss=loss, record_every=0)


@ld.cached
def _run(seeds: tuple[int, ...], device: str, loss: str, key: str):
    """Per seed: test accuracy (S,) and whether every parameter equals its init (S,) bool."""
    data = ld.make_gaussian_mixture(list(seeds), n_samples=500, d=12, class_seps=CLASS_SEPS,
                                    test_size=0.2, key=key)
    result = ld.train(MODEL, data, _config(loss), seeds=list(seeds), key=key, device=device)
    acc = ld.accuracy(result.predict(data.x_test), data.y_test)  # (S,)
    same = torch.stack([(result.params[k] == result.init[k]).flatten(1).all(1)
                        for k in result.params]).all(0)  # (S,)
    return acc, same.cpu().numpy()


def _seeds(claim) -> tuple[int, ...]:
    return tuple(claim.seeds(claim.choose(N_SEEDS)))


_FOURTH_NOT_SHOWN_SIMILAR = pytest.mark.xfail(
    strict=True,
    reason="'all losses similar' is not shown for the fourth-power loss: it trails cross-entropy "
    "by a gap about the size of the 3-point margin, with a tail of seeds far behind (the source "
    "itself calls it slightly worse), so its equivalence to cross-entropy stays undecided")


@pytest.mark.parametrize("loss", [
    "mae", "mse", pytest.param("fourth", marks=_FOURTH_NOT_SHOWN_SIMILAR), "hinge"])
def test_each_loss_reaches_the_accuracy_of_cross_entropy(claim, loss):
    seeds = _seeds(claim)
    acc, _ = _run(seeds, claim.device, loss, claim.id)
    ce, _ = _run(seeds, claim.device, "cross_entropy", claim.id)
    ev = claim.record(ld.equivalence(acc, ce, margin=MARGIN, alpha=ALPHA,
                                     statistic=f"pseudo-median(acc {loss} - acc CE)"))
    assert ev.supported, ev


def test_fourth_power_loss_is_slightly_worse_than_the_others(claim):
    seeds = _seeds(claim)
    fourth, _ = _run(seeds, claim.device, "fourth", claim.id)
    others = np.mean([_run(seeds, claim.device, loss, claim.id)[0]
                      for loss in TRAINED if loss != "fourth"], axis=0)  # (S,)
    ev = claim.record(ld.paired(fourth, others, alternative="less", alpha=ALPHA,
                                statistic="pseudo-median(acc fourth - mean acc of the others)"))
    assert ev.supported, ev


def test_constant_loss_leaves_every_parameter_at_its_init(claim):
    _, same = _run(_seeds(claim), claim.device, "constant", claim.id)
    ev = claim.record(ld.proportion(same, threshold=0.5, alpha=ALPHA,
                                    statistic="P(all parameters bit-identical to init)"))
    assert ev.supported and ev.estimate == 1.0, ev


def test_cross_entropy_beats_the_constant_loss_by_more_than_the_margin(claim):
    # Negative control of the equivalence tests: a loss that cannot train must be told apart.
    seeds = _seeds(claim)
    ce, ce_same = _run(seeds, claim.device, "cross_entropy", claim.id)
    const, _ = _run(seeds, claim.device, "constant", claim.id)
    ev = claim.record(ld.paired(ce, const, alternative="greater", margin=MARGIN, alpha=ALPHA,
                                statistic="pseudo-median(acc CE - acc constant)"))
    assert ev.supported and not ce_same.any(), ev
