"""Random labels are learned more slowly than true labels, and memorised only up to a capacity
(AtomsOfDeepLearning, experiment 5).

Claim   Hypothesis: "We expect that training should take longer for random labels as opposed to
        real labels." Conclusion: "The capacity of the neural network to memorize seems to be about
        150 training points. But, even then, the neural network takes longer to learn random labels
        as opposed to ground truth labels."
Source  seed 001 (abidlabs/AtomsOfDeepLearning, "Atomic Experiments in Deep Learning", experiment 5
        "Are Neural Networks Memorizing Or Generalizing During Training?"; `Experiment5` in
        experiments.py).
Method  Per seed one mixture of two 6-D Gaussians (c ~ U[0,1)^{6x6}, cov = c^T c,
        class 0 ~ N(0, cov), class 1 ~ N(1, cov), 150 + 150 points), shuffled (the code's
        train_test_split with test_size=0); a data set of size n is its first n rows. Random
        labels: the 300 one-hot rows permuted (np.random.permutation(y_train_)), then the first n
        taken, so the arms share x. Training accuracy only, as the notebook measured.
        (6, 200, 200, 200, 2) MLP, sigmoid hidden units, linear output, biases, TF glorot-uniform
        on weights and biases; softmax cross-entropy, Adam lr 0.003, 2,500 steps, each on a fresh
        random batch permutation(n)[:64] (the full set when n <= 64); training accuracy on all n
        points every 250 steps. Same init and batch stream per seed in every arm (paired). n = 150
        for the time-to-fit statements (the notebook's right-hand panel). Capacity: random labels
        at n in {50, 100, 150, 200, 250, 300} (full profile; quick: n = 150 and 300), and at
        n = 300 also for 4x the budget (10,000 steps, whose first 2,500 steps are the 2,500-step
        run; full profile). Every quick test runs at the source's budget; runs whose tests read
        only the accuracy after 250 steps stop there (their first 250 steps are those of the
        2,500-step run: same init, same batch stream). Seeds: quick 16 at n <= 150 and 8 at
        n > 150, full 100 (power calculations on the notes page).
Test    alpha 0.01 throughout.
        (1) "takes longer": per seed the time to fit = first monitored step with training accuracy
            >= 0.95, never within 2,500 steps = 2,750 (censored); paired Wilcoxon signed-rank,
            random - true > 0, one-sided, n = 150. Full profile only (power: see N_SEEDS).
        (2) early accuracy: training accuracy after 250 steps, paired Wilcoxon true - random > 0.
        (3) negative control: flipped labels (every label 1 - y: the label structure kept, every
            label changed) vs true labels, accuracy after 250 steps, TOST (Wilcoxon) within +-0.05,
            a third of the median true-vs-random gap (0.15) in the first design block; it fails if
            the label path or the accuracy monitor, not the loss of structure, made labels look
            harder.
        (4) memorised up to about 150 points at the source's budget: random-label training
            accuracy after 2,500 steps, Wilcoxon signed-rank of acc - 0.95: median > 0.95 for
            n <= 150, < 0.95 for n > 150. Quick: n = 150 and n = 300; full: every n.
        (5) capacity as stated: if ~150 points were the net's capacity, 300 random labels (twice
            that) could not be memorised with a longer budget either: median accuracy on n = 300
            after 10,000 steps < 0.95 (full profile only). Beside it, (6) the same median > 0.95.
Expect  (written before the first run) (1) random slower at n = 150: supported, though the
        true-label mixtures overlap (Bayes error median ~9%, up to 20-30%), so reaching 95% on true
        labels also needs memorising the overlap. (2) supported: true labels near the Bayes
        accuracy at once, random labels ~0.5-0.6. (3) supported. (4) memorised at n <= 150, not
        beyond, at this budget. (5) refuted: a 200-200-200 net (~80k parameters) can memorise 300
        points; the drop beyond 150 is the budget (2,500 steps x 64 = ~530 epochs at n = 300).
        (Re-design, written before the reported quick run at 16 / 8 seeds: (4) at n = 150
        supported at 16 seeds, n = 300 supported at 8.)
Known artefacts of the source: 3 runs (iters=3), TF init unseeded; the true- and random-label runs
        drew different data; its monitored accuracies are taken after steps 1, 251, ..., 2,251 (ours
        after 250, ..., 2,500), and its capacity panel plots the one after step 2,251.

Design notes and history: docs/claims/random-labels.md
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lowdim as ld

pytestmark = pytest.mark.claim(
    "random-labels",
    statement="training takes longer for random labels than for real labels; the capacity to "
    "memorize seems to be about 150 training points",
    source="seed 001 (AtomsOfDeepLearning), experiment 5",
)

# Seed counts, decided on seed blocks disjoint from the reported seeds 0..n-1, never by
# re-running reported seeds: 16 give the n = 150 memorisation test power >= 0.9, 8 decide
# n = 300, and time to fit needs the full profile's 100 (design history and power:
# docs/claims/random-labels.md).
N_SEEDS = {"quick": 16, "full": 100}  # n <= 150, and the time-to-fit arms
N_SEEDS_BEYOND = {"quick": 8, "full": 100}  # n > 150, the 10,000-step run included
N_MAX = 300
N_TIME = 150  # the notebook's right-hand panel
N_ALL = (50, 100, 150, 200, 250, 300)
N_QUICK = (150, 300)
CAPACITY = 150  # the source's estimate
N_LONG = 300  # twice the stated capacity
STEPS = 2_500
LONG_STEPS = 10_000  # 4x the source's budget
EVERY = 250  # monitored steps: 0, 250, ..., steps
FIT = 0.95  # "fitted" / "memorised": training accuracy at least this
NEVER = STEPS + EVERY  # time to fit when not fitted within STEPS
CONTROL_MARGIN = 0.05  # accuracy
ALPHA = 0.01
MODEL = ld.MLP((6, 200, 200, 200, 2), activation="sigmoid", weight_init=ld.Init("xavier"))


def _config(steps: int) -> ld.TrainConfig:
    return ld.TrainConfig(steps=steps, optimizer="adam", lr=0.003, loss="cross_entropy",
                          batch_size=64, sampling="random", record_every=0)


def _labels(arm: str):
    def make(rng):
        x, y = ld.gaussian_mixture(rng, n_samples=N_MAX, d=6, class_seps=1.0)
        order = rng.permutation(N_MAX)  # the split's shuffle
        x, y = x[order], y[order]
        perm = rng.permutation(N_MAX)  # drawn in every arm, so x is the same in all of them
        if arm == "random":
            y = y[perm]
        elif arm == "flipped":
            y = 1 - y
        return x, y

    return make


@ld.cached  # in memory and on disk (the run cache): nothing trains twice
def accuracy_curve(seeds: tuple[int, ...], device: str, key: str, arm: str, n: int,
                   steps: int) -> np.ndarray:
    """(steps / EVERY + 1, S) training accuracy on all n points after 0, EVERY, ..., steps."""
    data = ld.per_seed(seeds, _labels(arm), key=key)
    data = ld.Data(data.x[:, :n], data.y[:, :n])  # (S, n, 6), (S, n)
    x = data.x.to(device)

    def monitor(params):
        return torch.from_numpy(ld.accuracy(MODEL.forward(params, x), data.y))  # (S,)

    result = ld.train(MODEL, data, _config(steps), seeds=seeds, key=key, device=device,
                      monitor=monitor, monitor_every=EVERY)
    return result.monitor.numpy()


def _seeds(claim, n: int) -> tuple[int, ...]:
    counts = N_SEEDS if n <= CAPACITY else N_SEEDS_BEYOND
    return tuple(claim.seeds(claim.choose(counts)))


def _full(claim) -> bool:
    # Time to fit and the 4x-budget run exist in the full profile only (power: the notes page).
    return claim.choose(quick=False, full=True)


def _steps(claim, arm: str, n: int) -> int:
    """Steps a run needs: the tests read flipped labels, and in quick true labels, only after
    EVERY steps; in full, random labels at N_LONG come from the long run. A shorter run is the
    longer one's prefix (same init, same batch stream), so the values read are the same."""
    if arm == "flipped" or (arm == "true" and not _full(claim)):
        return EVERY
    if arm == "random" and n == N_LONG and _full(claim):
        return LONG_STEPS
    return STEPS


def _curve(claim, arm: str, n: int) -> np.ndarray:
    """(steps / EVERY + 1, S) training accuracy of `arm` at n points."""
    return accuracy_curve(_seeds(claim, n), claim.device, claim.id, arm, n, _steps(claim, arm, n))


def _at(curve: np.ndarray, step: int) -> np.ndarray:
    return curve[step // EVERY]  # (S,)


def _plotted(curve: np.ndarray) -> dict:
    """A (steps / EVERY + 1, S) accuracy curve as the report's figure takes it."""
    return {"x": np.arange(curve.shape[0]) * EVERY, "y": curve.T, "ylabel": "training accuracy"}


def time_to_fit(curve: np.ndarray) -> np.ndarray:
    """(S,) first monitored step in EVERY..STEPS with accuracy >= FIT; NEVER if none."""
    acc = curve[1 : STEPS // EVERY + 1]  # (STEPS / EVERY, S), steps EVERY..STEPS
    hit = acc >= FIT
    return np.where(hit.any(axis=0), (hit.argmax(axis=0) + 1) * EVERY, NEVER).astype(float)


def test_random_labels_take_longer_to_fit_than_true_labels(claim):
    if not _full(claim):
        pytest.skip("time to fit needs the full profile's seeds (docs/claims/random-labels.md)")
    t_true, t_random = time_to_fit(_curve(claim, "true", N_TIME)), time_to_fit(
        _curve(claim, "random", N_TIME))
    ev = claim.record(ld.paired(t_random, t_true, alternative="greater", alpha=ALPHA,
                                statistic="pseudo-median(steps to 95%: random - true)"),
                      n=N_TIME, curves={arm: _plotted(_curve(claim, arm, N_TIME))
                                        for arm in ("random", "true")})
    assert ev.supported, ev


def test_true_labels_are_ahead_after_250_steps(claim):
    a_true, a_random = (_at(_curve(claim, arm, N_TIME), EVERY) for arm in ("true", "random"))
    ev = claim.record(ld.paired(a_true, a_random, alternative="greater", alpha=ALPHA,
                                statistic="pseudo-median(acc@250: true - random)"), n=N_TIME)
    assert ev.supported, ev


def test_flipped_labels_are_learned_as_fast_as_true_labels(claim):
    a_true, a_flip = (_at(_curve(claim, arm, N_TIME), EVERY) for arm in ("true", "flipped"))
    ev = claim.record(ld.equivalence(a_flip, a_true, margin=CONTROL_MARGIN, alpha=ALPHA,
                                     statistic="pseudo-median(acc@250: flipped - true)"),
                      n=N_TIME)
    assert ev.supported, ev


@pytest.mark.parametrize("n", N_ALL)
def test_random_labels_are_memorised_only_up_to_about_150_points_in_2500_steps(claim, n):
    if n not in claim.choose(quick=N_QUICK, full=N_ALL):
        pytest.skip(f"the quick profile runs n in {N_QUICK} (docs/claims/random-labels.md); "
                    "--lowdim-profile full runs all n")
    acc = _at(_curve(claim, "random", n), STEPS)  # (S,)
    side = "greater" if n <= CAPACITY else "less"
    ev = claim.record(ld.location(acc, threshold=FIT, alternative=side, alpha=ALPHA,
                                  statistic=f"median random-label train acc at {STEPS} steps"),
                      n=n, curves={f"random, n={n}": _plotted(_curve(claim, "random", n))})
    assert ev.supported, ev


def _accuracy_long(claim) -> np.ndarray:
    if not _full(claim):
        pytest.skip(f"{LONG_STEPS} steps at n = {N_LONG} run in --lowdim-profile full only")
    return _curve(claim, "random", N_LONG)[-1]  # (S,) after LONG_STEPS


@pytest.mark.xfail(
    strict=True,
    reason="the drop in random-label training accuracy beyond about 150 points is the training "
    "budget, not the net's capacity: given four times the source's steps the same net memorises "
    "twice as many random labels",
)
def test_capacity_to_memorise_is_about_150_points(claim):
    ev = claim.record(ld.location(_accuracy_long(claim), threshold=FIT, alternative="less",
                                  alpha=ALPHA, statistic=f"median train acc on {N_LONG} random "
                                  f"labels at {LONG_STEPS} steps"), n=N_LONG)
    assert ev.supported, ev


def test_a_longer_budget_memorises_twice_as_many_random_labels(claim):
    ev = claim.record(ld.location(_accuracy_long(claim), threshold=FIT, alternative="greater",
                                  alpha=ALPHA, statistic=f"median train acc on {N_LONG} random "
                                  f"labels at {LONG_STEPS} steps"), n=N_LONG)
    assert ev.supported, ev
