"""Xavier and small-Gaussian initialisations train a sigmoid MLP; all-ones does not; a large
Gaussian trains slower.

Claim   "The Xavier and Gaussian (with lower variance) initializations lead to very good training.
        Interestingly, the constant 0 initialization eventually leads to training, while the other
        initializations do not." -- "A Gaussian distribution with a small standard deviation works
        as well (but not as good as Xavier). If the variance becomes too big, then training is
        slower, probably because most the outputs through the neural network explode. [...]
        Interestingly, this doesn't work when the weights are all equally 1."
        (Why zeros train is claim `zero-init`, claims/test_zero_init.py.)
Source  seed 001 (AtomsOfDeepLearning), experiment 10, "Performance for Various Initializers": a
        plot of test accuracy per "epoch" averaged over 5 runs; the text gives no number.
Method  Data: the notebook's mixture of two 12-d Gaussians with a shared covariance c^T c,
        c ~ U[0,1)^{12x12}, class means 0 and (1/1, 1/2, ..., 1/12); 500 points split 80/20
        (400 train, 100 test); a fresh draw per seed, the same draw in every arm (paired).
        Model: 12-100-100-2, sigmoid hidden units, linear outputs, a bias in every layer; the
        initializer under test on weights AND biases: Xavier (TF glorot_uniform; on a bias of size
        n, U(+-sqrt(3/n)) as TF applied it), zeros, ones, N(0, 0.01^2), N(0, 1).
        Training: MSE on one-hot targets, Adam lr 0.003, 500 steps, each a fresh random batch of
        64 of the 400 points. Test accuracy is read every 50 steps (the notebook's "epochs").
        Reference: per seed, scikit-learn's LDA fitted on the 400 training points and scored on
        the same 100 test points (the textbook rule for two Gaussians with one covariance).
Test    alpha 0.01, one-sided; per seed final test accuracy unless said.
        "very good training" (Xavier, N(0, 0.01)): accuracy - LDA accuracy > -0.05 (within 5 points
          of the reference), Wilcoxon signed-rank, Hodges-Lehmann estimate.
        "leads to training" (zeros) / "do not" (ones, N(0, 1)): median accuracy above / below 0.65,
          Wilcoxon signed-rank; 0.65 is 3 standard errors above the 0.5 that an input-blind
          predictor scores on 100 balanced test points.
        "not as good as Xavier" and "training is slower": per seed, the mean of the 10 test
          accuracies at steps 50, 100, ..., 500 (the notebook's curve); paired Wilcoxon
          Xavier > N(0, 0.01) and N(0, 0.01) > N(0, 1).
        Negative control: the Xavier nets before training (step 0) must fail both "training"
          criteria, so neither criterion passes on its own.
Expect  (written before the first run) Xavier and N(0, 0.01) reach LDA level (within 0.05) at 500
        steps: the problem is nearly linear and 500 x 64 draws are 80 passes over 400 points;
        Adam's scale-free steps let N(0, 0.01) leave its near-symmetric start within tens of
        steps. Zeros: all units of a layer stay identical, so the net is a 12-1-1-2 chain, but the
        Bayes boundary here is linear, so it can still reach LDA level: I expect it to train
        (supported). Ones: units are also identical and the second layer starts saturated
        (pre-activation 100*h1 + 1) with outputs near 100; I expect it not to reach LDA level in
        500 steps (supported "does not train"). N(0, 1): first- and second-layer
        pre-activations of std ~7 saturate the sigmoids; slower (supported), and below LDA level
        at 500 steps (supported, less sure). Xavier vs N(0, 0.01) on the curve: a small edge for
        Xavier early on; at the quick seed count I expect INCONCLUSIVE rather than supported (an
        xfail if so).
        (The two "training" criteria were fixed after a first design-block run, before any run
        on the reported seeds: the notebook's "very good training" and "leads to training" are
        two levels, and the zeros nets, near chance until step 300, reach the second only.)
Known artefacts of the source
        - The method text says the class means are 1 apart in every dimension; the source notes
          give experiment 10 the data of experiment 9 (means 1/(i+1)); we follow the notes. The
          Experiment10 class itself is not in the stored copy of the upstream code.
        - 5 runs with unseeded TF weight init; the conclusions are read off one plot of mean curves.
        - Every initializer was applied to the biases too, so "zeros" and "ones" start with every
          hidden unit of a layer identical.
        - TF 1.x Adam places epsilon slightly differently from torch's; immaterial at these scales.

Design notes and history: docs/claims/initializers.md
"""

import functools

import numpy as np
import pytest
import torch
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

import lowdim as ld

pytestmark = pytest.mark.claim(
    "initializers",
    statement="Xavier and N(0, 0.01) train very well, zeros eventually, ones and N(0, 1) not; "
    "N(0, 0.01) trains not quite as well as Xavier, N(0, 1) slower",
    source="seed 001 (AtomsOfDeepLearning), experiment 10",
)

# Seed counts, designed on disjoint blocks (never the reported seeds 0..n-1): N(0, 1)'s "does not
# train" is the closest call of the common tests (80 seeds); Xavier's "very good training" needs
# 200 (power >= 0.97 on two design blocks); N(0, 0.01)'s is decided by no affordable count, so the
# quick profile skips that row (power and the redesign: docs/claims/initializers.md).
N_SEEDS = {"quick": 40, "full": 100}
N_SEEDS_LARGE_GAUSSIAN = {"quick": 80, "full": 200}
N_SEEDS_XAVIER = {"quick": 200, "full": 200}

D = 12
CLASS_SEPS = tuple(1 / (i + 1) for i in range(D))
SIZES = (D, 100, 100, 2)
CONFIG = ld.TrainConfig(steps=500, optimizer="adam", lr=0.003, batch_size=64, sampling="random",
                        loss="mse")
EVAL_EVERY = 50  # the notebook's "epoch": num_steps / 10
INITS = {
    "xavier": ld.Init("xavier"),
    "zeros": ld.Init("zeros"),
    "ones": ld.Init("constant", 1.0),
    "normal-0.01": ld.Init("normal", 0.01),
    "normal-1": ld.Init("normal", 1.0),
}
LDA_MARGIN = 0.05  # "very good": within 5 points of LDA on the same test points
TRAINED = 0.65  # "training": 3 standard errors (0.05 each on 100 points) above chance


@functools.cache
def _data(seeds: tuple[int, ...], key: str) -> ld.Data:
    return ld.make_gaussian_mixture(list(seeds), n_samples=500, d=D, class_seps=CLASS_SEPS,
                                    test_size=0.2, key=key)


@ld.cached
def _lda_accuracy(seeds: tuple[int, ...], key: str) -> np.ndarray:
    """(S,) test accuracy of LDA fitted on each seed's training split."""
    d = _data(seeds, key)
    return np.array([
        LinearDiscriminantAnalysis().fit(x.numpy(), y.numpy()).score(xt.numpy(), yt.numpy())
        for x, y, xt, yt in zip(d.x, d.y, d.x_test, d.y_test, strict=True)
    ])


@ld.cached
def _curve(seeds: tuple[int, ...], key: str, device: str, init: str) -> np.ndarray:
    """(11, S) test accuracy at steps 0, 50, ..., 500."""
    data = _data(seeds, key).to(device)
    model = ld.MLP(SIZES, activation="sigmoid", weight_init=INITS[init], bias_init=INITS[init])

    def test_accuracy(params):
        return torch.from_numpy(ld.accuracy(model.forward(params, data.x_test), data.y_test))

    result = ld.train(model, data, CONFIG, seeds=list(seeds), key=key, device=device,
                      monitor=test_accuracy, monitor_every=EVAL_EVERY)
    return result.monitor.cpu().numpy()


def _run(claim, init: str, n: int | None = None) -> tuple[tuple[int, ...], np.ndarray]:
    """Seeds and (11, S) curve of one arm: its own seed count, or the first n of them (a seed's
    numbers do not depend on which other seeds trained beside it)."""
    counts = {"normal-1": N_SEEDS_LARGE_GAUSSIAN, "xavier": N_SEEDS_XAVIER}.get(init, N_SEEDS)
    own = claim.choose(counts)
    seeds = tuple(claim.seeds(own))
    curve = _curve(seeds, claim.id, claim.device, init)
    if n is None:
        return seeds, curve
    head = tuple(claim.seeds(n))
    assert seeds[: len(head)] == head, "claim.seeds(n) is a prefix of claim.seeds(m), n <= m"
    return head, curve[:, : len(head)]


def _curve_mean(curve: np.ndarray) -> np.ndarray:
    return curve[1:].mean(axis=0)  # (S,): steps 50..500, the notebook's plotted points


@pytest.mark.parametrize("init", [
    "xavier",
    pytest.param("normal-0.01", marks=pytest.mark.xfail(strict=True, reason=(
        "Not established that N(0, 0.01) nets train 'very well': after the notebook's 500 steps "
        "their typical shortfall from the LDA reference sits at the stated margin, with a tail "
        "of seeds far below it, so neither profile decides it."))),
])
def test_xavier_and_small_gaussian_inits_lead_to_very_good_training(claim, init):
    if init == "normal-0.01" and claim.profile == "quick":
        pytest.skip("full profile only: N(0, 0.01)'s typical shortfall from LDA sits at the "
                    "margin, which no affordable quick seed count decides (docs/claims/initializers.md)")
    seeds, curve = _run(claim, init)
    lda = _lda_accuracy(seeds, claim.id)
    ev = claim.record(ld.paired(curve[-1], lda, margin=-LDA_MARGIN, alternative="greater",
                                statistic="pseudo-median(test acc - LDA test acc)"))
    assert ev.supported, ev


def test_zero_init_eventually_leads_to_training(claim):
    _, curve = _run(claim, "zeros")
    ev = claim.record(ld.location(curve[-1], threshold=TRAINED, alternative="greater",
                                  statistic="median test accuracy"))
    assert ev.supported, ev


@pytest.mark.parametrize("init", ["ones", "normal-1"])
def test_ones_and_large_gaussian_inits_do_not_lead_to_training(claim, init):
    _, curve = _run(claim, init)
    ev = claim.record(ld.location(curve[-1], threshold=TRAINED, alternative="less",
                                  statistic="median test accuracy"))
    assert ev.supported, ev


def test_small_gaussian_init_trains_not_quite_as_well_as_xavier(claim):
    seeds, small = _run(claim, "normal-0.01")
    _, xavier = _run(claim, "xavier", n=len(seeds))  # paired on N(0, 0.01)'s seeds
    ev = claim.record(ld.paired(_curve_mean(xavier), _curve_mean(small), alternative="greater",
                                statistic="pseudo-median(curve mean: Xavier - N(0, 0.01))"))
    assert ev.supported, ev


def test_large_gaussian_init_trains_slower_than_small_one(claim):
    seeds, small = _run(claim, "normal-0.01")
    _, large = _run(claim, "normal-1", n=len(seeds))
    ev = claim.record(ld.paired(_curve_mean(small), _curve_mean(large), alternative="greater",
                                statistic="pseudo-median(curve mean: N(0, 0.01) - N(0, 1))"))
    assert ev.supported, ev


@pytest.mark.parametrize("criterion", ["very-good", "trains"])
def test_negative_control_untrained_nets_meet_neither_criterion(claim, criterion):
    seeds, curve = _run(claim, "xavier")
    before = curve[0]  # test accuracy at step 0
    if criterion == "very-good":
        ev = ld.paired(before, _lda_accuracy(seeds, claim.id), margin=-LDA_MARGIN,
                       alternative="less", statistic="pseudo-median(test acc - LDA test acc)")
    else:
        ev = ld.location(before, threshold=TRAINED, alternative="less",
                         statistic="median test accuracy")
    ev = claim.record(ev, steps=0)
    assert ev.supported, ev
