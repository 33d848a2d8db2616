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
        arithmetic; it is stated here, not tested. Wall-clock seconds per batch size (one
        batched run of all seeds, on whatever machine runs the suite) are kept in the
        evidence's details (`wall_s`), never asserted on.
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
Outcome (quick, reported seeds 0-15) training accuracy 0.950 / 0.878 / 0.832 / 0.838 at B =
        16 / 64 / 256 / 400: the decreasing trend is supported, though not strictly monotone
        (full batch ends at or above B = 256, as in the design block). Test accuracy 0.792 /
        0.802 / 0.788 / 0.796: flat, inconclusive both ways (xfail), as expected. Control:
        identical on 16 of 16 seeds. Wall seconds per B are in the records' conditions.
Known artefacts of the source: 4 unseeded runs; accuracy curves computed on the training set
        while titled test accuracy (per the source notes; the stored upstream experiments.py
        predates Experiment8, so this was not re-read here); run time measured on a TF session
        including its per-step feed_dict overhead; "time until acc 0.8" used that training-set
        curve.
"""

from __future__ import annotations

import dataclasses
import functools
import time

import numpy as np
import pytest

import lowdim as ld

pytestmark = pytest.mark.claim(
    "batch-size",
    statement="with a fixed number of epochs, test accuracy decreases monotonically with batch "
    "size (quick: over B in {16, 64, 256, 400}); running time decreases",
    source="seed 001, experiment 8 (figure, no number)",
)

# Power, from the design block (16 seeds at --lowdim-seed-offset 100000, quick batch sizes):
# final training accuracy 0.961 / 0.930 / 0.890 / 0.917 at B = 16 / 64 / 256 / 400, mean
# per-seed Spearman rho 0.57, Page's L p = 6e-5: 16 seeds decide it at alpha 0.01 with margin.
# Final test accuracy 0.860 / 0.870 / 0.854 / 0.871: rho -0.16 (the wrong sign), p = 0.86; no
# affordable seed count would support a decrease of that size, so the statement is kept as
# written (xfail) beside the training-set one. Control: 16 of 16 seeds identical.
# Quick: about 40 s CPU (4 batch sizes + 2 control runs, 16 seeds batched).
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
    """(S,) train and test accuracy of one batch size, and the run's wall seconds."""
    data = _data(seeds, key)
    start = time.perf_counter()
    result = ld.train(MODEL, data, _config(batch, sampling), seeds=list(seeds), key=key,
                      device=device)
    wall = time.perf_counter() - start
    return {
        "train": ld.accuracy(result.predict(data.x), data.y),
        "test": ld.accuracy(result.predict(data.x_test), data.y_test),
        "wall_s": wall,
    }


def _seeds(claim) -> tuple[int, ...]:
    return tuple(claim.seeds(claim.choose(quick=N_SEEDS["quick"], full=N_SEEDS["full"])))


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
    # Wall time is a measurement, reported and never asserted: it rides in the evidence's
    # details, not in the conditions (which define the method and enter its hash).
    wall = {str(b): round(r["wall_s"], 2) for b, r in zip(batches, runs, strict=True)}
    ev = claim.record(dataclasses.replace(ev, details={**ev.details, "wall_s": wall}),
                      steps={b: _config(b).steps for b in batches})
    assert ev.supported, ev


def test_negative_control_gathering_all_points_equals_full_batch(claim):
    seeds = _seeds(claim)
    gathered = _run(seeds, claim.id, claim.device, 400, "epoch")
    full = _run(seeds, claim.id, claim.device, None)
    ev = claim.record(ld.equivalence(gathered["test"], full["test"], margin=CONTROL_MARGIN,
                                     alpha=ALPHA, statistic="pseudo-median(test acc B=400 "
                                                            "gathered - full batch)"))
    assert ev.supported, ev
