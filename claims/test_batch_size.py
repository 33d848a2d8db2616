"""At a fixed number of epochs and a fixed learning rate, larger batches lower accuracy.

Claim   "The running time did decrease with increasing batch size, as we expected. However, this
        led to a compromise in test accuracy, as the test accuracy monotonically decreased with
        increasing batch size." Hypothesis: "larger batch sizes will increase test accuracy
        (less noisy gradient updates), up to a certain extent, after which the test accuracy
        will decrease. We expect the running time to go down with increasing batch size."
Source  seed 001 (AtomsOfDeepLearning notebook), experiment 8 "How does batch size affect the
        results?"; no number (accuracy curves of 4 runs per batch size, a run-time plot).
Method  The notebook's mixture per seed: d = 12, cov = c^T c with c ~ U[0,1)^{12x12}, class 1
        shifted by 1 in every dimension; 500 points, 400 train / 100 test, no scaling; the same
        draw in every condition (paired). 12-100-100-2, sigmoid hidden units, linear outputs, a
        bias in every layer, TF glorot on weights and biases (Init("xavier")). Softmax
        cross-entropy, Adam lr 0.003 at every batch size (not rescaled, as in the notebook),
        each step a fresh random batch permutation(400)[:B]; int(150 * 500 / B) steps, i.e. the
        same number of sampled points (75,000, ~187 epochs) at every B. Batch sizes: full the
        notebook's {1, 4, 16, 64, 256, 400}; quick {16, 64, 256, 400} (B = 1 is 75,000 steps,
        beyond CI), so in quick the statements read "over B in {16, 64, 256, 400}". Each
        seed's init is the same at every B.
        Running time: the number of optimizer steps, int(75,000 / B), falls with B by
        arithmetic; it is stated here, not tested. Wall-clock time is not evidence: a report
        row's duration_s is the test's time on whatever machine ran it.
Test    per seed final accuracy (after the last step), alpha 0.01:
        - test accuracy decreases with B (the statement as written): Page's L over the
          profile's B, decreasing, on the 100 test points.
        - training accuracy decreases with B: the same on the 400 training points. The
          notebook's accuracy curve (titled "Test Accuracy") was computed on the training set,
          so this is what its plot showed.
        - negative control: B = 400 drawn through the minibatch path ("epoch" sampling: every
          step gathers all 400 points in a fresh order) must equal full-batch training up to
          float summation order: TOST of test acc(B = 400, gathered) - acc(full batch) within
          +-0.005 (half a test point). A harness bug that mixed seeds' rows or dropped points in
          the gather fails it.
Expect  (written before the first run) training accuracy falls with B: with the epoch budget
        fixed, B = 16 takes 4,687 Adam steps and B = 400 only 187, and the small-batch nets
        fit the training set more closely (supported). Test accuracy: the small-batch nets also
        get more steps to find the near-linear boundary, but may overfit 400 points with
        20,000 parameters; I expect a weaker decrease, INCONCLUSIVE at the quick seed count
        rather than supported (an xfail if so). Control: equivalent.
Known artefacts of the source: 4 unseeded runs; accuracy curves computed on the training set
        while titled test accuracy (per the source notes; the stored upstream experiments.py
        predates Experiment8, so this was not re-read here); run time measured on a TF session
        including its per-step feed_dict overhead; "time until acc 0.8" used that training-set
        curve.

Design notes and history: docs/claims/batch-size.md
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

import lowdim as ld

pytestmark = pytest.mark.claim(
    "batch-size",
    statement="with a fixed number of epochs, test accuracy decreases monotonically with batch "
    "size (quick: over B in {16, 64, 256, 400}); running time decreases",
    source="seed 001, experiment 8 (figure, no number)",
)

# 16 quick seeds decide the training-set trend with margin; no affordable count would decide a
# test-set decrease the size of the design block's (power: docs/claims/batch-size.md).
N_SEEDS = {"quick": 16, "full": 60}
BATCHES = {"quick": (16, 64, 256, 400), "full": (1, 4, 16, 64, 256, 400)}
SAMPLES = 150 * 500  # the notebook's steps * B
D = 12
MODEL = ld.MLP((D, 100, 100, 2), activation="sigmoid", weight_init=ld.Init("xavier"))
CONTROL_MARGIN = 0.005  # half a test point of 100
ALPHA = 0.01


def _config(batch: int | None, sampling: str = "random") -> ld.TrainConfig:
    steps = int(SAMPLES / (400 if batch is None else batch))
    return ld.TrainConfig(steps=steps, optimizer="adam", lr=0.003, batch_size=batch,
                          sampling=sampling, loss="cross_entropy", record_every=0)


@functools.cache
def _data(seeds: tuple[int, ...], key: str) -> ld.Data:
    return ld.make_gaussian_mixture(list(seeds), n_samples=500, d=D, class_seps=1.0,
                                    test_size=0.2, key=key)


@ld.cached
def _run(seeds: tuple[int, ...], key: str, device: str, batch: int | None,
         sampling: str = "random") -> dict:
    """(S,) train and test accuracy of one batch size."""
    data = _data(seeds, key)
    result = ld.train(MODEL, data, _config(batch, sampling), seeds=list(seeds), key=key,
                      device=device)
    return {
        "train": ld.accuracy(result.predict(data.x), data.y),
        "test": ld.accuracy(result.predict(data.x_test), data.y_test),
    }


def _seeds(claim) -> tuple[int, ...]:
    return tuple(claim.seeds(claim.choose(N_SEEDS)))


@pytest.mark.parametrize("split", [
    pytest.param("test", marks=pytest.mark.xfail(strict=True, reason=(
        "Test accuracy does not decrease with batch size at a fixed number of epochs: the final "
        "test accuracies of the batch sizes show no ordered decrease (the design block leaned "
        "the other way); the decrease the notebook plotted was computed on the training set."))),
    "train",
])
def test_accuracy_decreases_with_batch_size_at_a_fixed_number_of_epochs(claim, split):
    seeds, batches = _seeds(claim), BATCHES[claim.profile]
    runs = [_run(seeds, claim.id, claim.device, b) for b in batches]
    table = np.stack([r[split] for r in runs], axis=1)  # (S, K)
    ev = ld.trend(table, conditions=batches, alternative="decreasing", alpha=ALPHA,
                  statistic=f"change in final {split} acc per batch-size step")
    ev = claim.record(ev, steps={b: _config(b).steps for b in batches})
    assert ev.supported, ev


def test_negative_control_gathering_all_points_equals_full_batch(claim):
    seeds = _seeds(claim)
    gathered = _run(seeds, claim.id, claim.device, 400, "epoch")
    full = _run(seeds, claim.id, claim.device, None)
    ev = claim.record(ld.equivalence(gathered["test"], full["test"], margin=CONTROL_MARGIN,
                                     alpha=ALPHA, statistic="pseudo-median(test acc B=400 "
                                                            "gathered - full batch)"))
    assert ev.supported, ev
