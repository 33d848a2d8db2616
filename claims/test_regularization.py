"""L1 and L2 penalties shrink the weights; strong L1 makes them sparse, L2 does not.

Claim   "regularization does indeed decrease the magnitude of the weights and in the case of
        strong L1 regularization, lead to sparsity. The effect on accuracy is less clear."
        Discussion: "with large regularization strength, this leads to a compromise in accuracy.
        L2 regularization does not lead to sparsity, only weights with smaller magnitude. At
        the same time, the effect on accuracy seems to be less detrimental."
Source  seed 001 (AtomsOfDeepLearning notebook), experiment 12 "How does regularization affect
        weight evolution?"; no number (one run per condition, plots of 50 weights).
Method  The notebook's mixture per seed: d = 12, cov = c^T c with c ~ U[0,1)^{12x12}, class 1
        shifted by s_i = 1/(i+1); 500 points, 400 train / 100 test, no scaling. 12-50-50-2
        sigmoid MLP, linear output, every layer biased, TF glorot on weights and biases
        (Init("xavier")). Loss MSE on one-hot + lambda * sum over the 3 weight matrices (output
        layer included, biases not) of mean(|W|) (L1) or mean(W^2) (L2), exactly as the
        notebook's loss_op; lambda in {0, 0.1, 1}; Adam lr 0.003, 750 steps (the notebook's
        num_steps), each step a fresh random batch permutation(400)[:64]. lambda = 0 is one run
        shared by both penalties. Per seed the same data, init and batch stream in every
        condition (paired). Quick and full run the same configuration.
Test    per seed, after 750 steps, defined before any run:
          magnitude  mean over the 3 weight matrices of mean |w|
          sparsity   share of all 3,200 weight entries with |w| < 1e-3. Adam with an L1
                     subgradient does not land on 0: a weight whose data gradient is weaker
                     than the penalty's flips sign every step and hovers within about
                     lr * (1 - beta1) / (1 + beta1) ~ 1.6e-4 of 0, so "zero" means |w| < 1e-3
                     (about 1/150 of a typical initial |w|); the share below 1e-2 is kept
                     in the details, not decided on.
          accuracy   test accuracy (100 points)
        alpha 0.01 throughout.
        - shrinkage: Page's L, magnitude decreasing over lambda = 0, 0.1, 1, (S, 3) table, for L1
          and for L2.
        - strong L1 sparsity: median sparsity at L1 lambda = 1 > 0.5 (most weights are zero),
          one-sided Wilcoxon; and Page's L, sparsity increasing over lambda for L1.
        - L2 not sparse: median sparsity at L2 lambda = 1 < 0.05 (a tenth of the L1 bar),
          one-sided Wilcoxon.
        - strong L1 costs accuracy: paired Wilcoxon acc(lambda 0) - acc(L1, 1) > 0.
        - L2 less detrimental: paired Wilcoxon acc(L2, 1) - acc(L1, 1) > 0.
        - "less clear" for mild penalties: TOST (paired Wilcoxon) of acc(lambda 0.1) - acc(0)
          within +-0.03 (3 test points of 100; one net's accuracy on 100 points has a binomial sd
          of ~3.5 points, the source's single run could not resolve less), for L1 and L2.
Expect  (written before the first run) magnitude trends: supported for both penalties. At
        lambda = 1 the L1 term (~0.45 at init) outweighs the MSE (<= 0.25), so most hidden
        weights go to 0: sparsity > 0.5 likely, though the Adam jitter around 0 could exceed
        1e-3 and make it fail. L2 under Adam is nearly sign-like for weights without data signal
        too, so some near-zero weights may appear, but they diffuse on the data-gradient noise:
        L2 sparsity < 0.05 expected, uncertain. L1 lambda = 1 costs accuracy (supported), L2
        lambda = 1 costs less (supported, less sure). Mild L2 (0.1): equivalent to no penalty.
        Mild L1 (0.1) may prune the weak input dimensions and help or hurt slightly:
        equivalence uncertain.
Known artefacts of the source: one run per condition, each with a NEW data set and init, so its
        accuracy comparisons across lambda confound the data draw; the plotted 50 weights are
        w0.flatten()[-50:], the outgoing weights of the last input (separation 1/12, the least
        informative one), the first an L1 penalty would zero; accuracy was read on the test set
        every 2 steps.

Design notes and history: docs/claims/regularization.md
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import lowdim as ld

pytestmark = pytest.mark.claim(
    "regularization",
    statement="L1/L2 regularization decreases weight magnitude; strong L1 leads to sparsity, "
    "L2 does not; the effect on accuracy is less clear",
    source="seed 001, experiment 12 (one run per condition, no number)",
)

# 24 quick seeds decide the hardest test, the mild-L1 TOST, on a design block (power:
# docs/claims/regularization.md).
N_SEEDS = {"quick": 24, "full": 100}
LAMBDAS = (0.0, 0.1, 1.0)
PENALTIES = ("l1", "l2")
STEPS = 750
ZERO_TOL = 1e-3  # |w| below this counts as zero
MOST = 0.5  # "sparse": most weights are zero
FEW = 0.05  # "not sparse": at most a twentieth of the weights are zero
MARGIN = 0.03  # "no clear effect on accuracy": within 3 test points of 100
ALPHA = 0.01
CLASS_SEPS = tuple(1 / (i + 1) for i in range(12))
MODEL = ld.MLP((12, 50, 50, 2), activation="sigmoid", weight_init=ld.Init("xavier"))


def _config(penalty: str, lam: float) -> ld.TrainConfig:
    return ld.TrainConfig(steps=STEPS, optimizer="adam", lr=0.003, batch_size=64,
                          sampling="random", loss="mse", record_every=0,
                          l1=lam if penalty == "l1" else 0.0, l2=lam if penalty == "l2" else 0.0)


def _run(seeds: tuple[int, ...], device: str, penalty: str, lam: float, key: str) -> dict:
    """Per seed (S,) arrays: magnitude, sparsity (and at 1e-2), test accuracy."""
    # One unpenalised run serves both penalties.
    return _train(seeds, device, "none" if lam == 0.0 else penalty, lam, key)


@ld.cached
def _train(seeds: tuple[int, ...], device: str, penalty: str, lam: float, key: str) -> dict:
    data = ld.make_gaussian_mixture(list(seeds), n_samples=500, d=12, class_seps=CLASS_SEPS,
                                    test_size=0.2, key=key)
    result = ld.train(MODEL, data, _config(penalty, lam), seeds=list(seeds), key=key,
                      device=device)
    ws = [result.params[k].abs().flatten(1).double().cpu().numpy()  # (S, fan_in * fan_out)
          for k in sorted(result.params) if k.startswith("w")]
    pooled = np.concatenate(ws, axis=1)  # (S, 3200)
    return {
        "magnitude": np.mean([w.mean(axis=1) for w in ws], axis=0),
        "sparsity": (pooled < ZERO_TOL).mean(axis=1),
        "sparsity_1e-2": (pooled < 1e-2).mean(axis=1),
        "accuracy": ld.accuracy(result.predict(data.x_test), data.y_test),
    }


def _with_looser_tolerance(ev: ld.Evidence, run: dict) -> ld.Evidence:
    # The share below 1e-2 rides along for re-analysis; the decision stays on 1e-3.
    below = run["sparsity_1e-2"]
    return dataclasses.replace(ev, details={**ev.details, "share_below_1e-2": below.tolist(),
                                            "median_share_below_1e-2": float(np.median(below))})


def _seeds(claim) -> tuple[int, ...]:
    return tuple(claim.seeds(claim.choose(N_SEEDS)))


def _table(claim, penalty: str, figure: str) -> np.ndarray:
    """(S, 3): the figure at lambda = 0, 0.1, 1 under one penalty."""
    seeds = _seeds(claim)
    return np.stack([_run(seeds, claim.device, penalty, lam, claim.id)[figure]
                     for lam in LAMBDAS], axis=1)


@pytest.mark.parametrize("penalty", PENALTIES)
def test_regularization_decreases_weight_magnitude(claim, penalty):
    ev = claim.record(ld.trend(_table(claim, penalty, "magnitude"), conditions=LAMBDAS,
                               alternative="decreasing", alpha=ALPHA,
                               statistic=f"change in mean |w| per lambda step ({penalty})"))
    assert ev.supported, ev


def test_strong_l1_regularization_makes_most_weights_zero(claim):
    run = _run(_seeds(claim), claim.device, "l1", 1.0, claim.id)
    ev = ld.location(run["sparsity"], threshold=MOST, alternative="greater", alpha=ALPHA,
                     statistic="median share of |w| < 1e-3 (L1, 1)")
    ev = claim.record(_with_looser_tolerance(ev, run))
    assert ev.supported, ev


def test_l1_sparsity_grows_with_strength(claim):
    ev = claim.record(ld.trend(_table(claim, "l1", "sparsity"), conditions=LAMBDAS,
                               alternative="increasing", alpha=ALPHA,
                               statistic="change in share of |w| < 1e-3 per lambda step (L1)"))
    assert ev.supported, ev


def test_l2_regularization_does_not_make_weights_sparse(claim):
    run = _run(_seeds(claim), claim.device, "l2", 1.0, claim.id)
    ev = ld.location(run["sparsity"], threshold=FEW, alternative="less", alpha=ALPHA,
                     statistic="median share of |w| < 1e-3 (L2, 1)")
    ev = claim.record(_with_looser_tolerance(ev, run))
    assert ev.supported, ev


def test_strong_l1_regularization_compromises_accuracy(claim):
    seeds = _seeds(claim)
    none = _run(seeds, claim.device, "l1", 0.0, claim.id)["accuracy"]
    strong = _run(seeds, claim.device, "l1", 1.0, claim.id)["accuracy"]
    ev = claim.record(ld.paired(none, strong, alternative="greater", alpha=ALPHA,
                                statistic="pseudo-median(acc lambda 0 - acc L1 lambda 1)"))
    assert ev.supported, ev


def test_strong_l2_is_less_detrimental_to_accuracy_than_strong_l1(claim):
    seeds = _seeds(claim)
    l2 = _run(seeds, claim.device, "l2", 1.0, claim.id)["accuracy"]
    l1 = _run(seeds, claim.device, "l1", 1.0, claim.id)["accuracy"]
    ev = claim.record(ld.paired(l2, l1, alternative="greater", alpha=ALPHA,
                                statistic="pseudo-median(acc L2 lambda 1 - acc L1 lambda 1)"))
    assert ev.supported, ev


@pytest.mark.parametrize("penalty", PENALTIES)
def test_mild_regularization_has_no_clear_effect_on_accuracy(claim, penalty):
    seeds = _seeds(claim)
    none = _run(seeds, claim.device, penalty, 0.0, claim.id)["accuracy"]
    mild = _run(seeds, claim.device, penalty, 0.1, claim.id)["accuracy"]
    ev = claim.record(ld.equivalence(mild, none, margin=MARGIN, alpha=ALPHA,
                                     statistic=f"pseudo-median(acc {penalty} 0.1 - acc lambda 0)"))
    assert ev.supported, ev
