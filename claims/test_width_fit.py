"""More hidden units fit a 1-D function better (AtomsOfDeepLearning, experiment 1).

Claim   "As the number of hidden units increase, the approximation error on the training data
        generally decreases." (the notebook's conclusion; its hypothesis: "As the number of units
        in the hidden layer increases, the accuracy of the resulting fit will increase (error will
        decrease).")
Source  seed 001 (abidlabs/AtomsOfDeepLearning, "Atomic Experiments in Deep Learning", experiment 1
        "Why do we use neural networks?"; `Experiment1` in experiments.py).
Method  x = linspace(-1, 1, 100) (the code's num_values=100; the text says 50 points); targets
        sin(12x), the polynomial -2x^4 + x^3 + x^2 - 2x (polyval coefficients [0, -2, 1, 1, -2])
        and |x|. The data are the same for every seed: only the init differs. 1-H-1 MLP, sigmoid
        hidden units, linear output, a bias in every layer, TF glorot-uniform on weights and biases
        (Init("xavier")); H in {2, 4, 16, 64} (the notebook ran {2, 4, 16}). MSE, Adam lr 0.003
        (the code's learning_rate), full batch, 10,000 steps (the code's num_steps) in both
        profiles. Per seed and (target, H): the training MSE after the last step. Seeds: quick 8,
        full 100. The three targets and the control at one width train as one batch of 4*S nets
        (same architecture; full batch and no dropout, so training draws nothing per net and the
        batch is exact); seed i starts from the same init on every target.
Test    alpha 0.01, one-sided.
        (1) trend: Page's L on the (S, 4) table of final MSE, decreasing in H, one test per target.
        (2) each seed ordered: share of seeds whose MSE falls strictly at every step
            2 -> 4 -> 16 -> 64; exact binomial test of "more than half of the seeds" (threshold
            0.5). Not the source's words: it asks whether "generally" holds seed by seed.
        (3) negative control, y = x: a line every width fits, so width must not matter. Per seed
            the largest final MSE over the four widths; TOST (Wilcoxon) within +-0.01 of zero. The
            margin is a third of the smallest width effect the claim rests on (the narrowest net's
            plateau on the polynomial, ~0.03 above the wide nets in the design block). It fails if
            any width cannot fit the line, e.g. when the batched lanes' targets and nets are
            misaligned or the hidden layer is broken.
Expect  (written before the first run at the source's budget) sin(12x): H = 2 and 4 cannot follow
        about four periods and stay near MSE 0.5 (the target's variance); H = 16 and 64 leave that
        plateau within 10,000 steps: trend supported. Polynomial: every width fits, wider a little
        better: trend supported, weakly. |x|: H = 2 sometimes stuck near 0.085 (a 2,000-step
        pilot), wider nets reach ~1e-3: trend supported. Strict order in most seeds: not expected
        for sin (H = 2 and 4 both on the plateau, their order set by noise), doubtful for the others
        (H = 16 and 64 both at the floor). Control: every width fits y = x: supported.
Known artefacts of the source: one run per (target, width), TF init not seeded per run; the
        title's MSE is the loss of the last step before its update (ours: after the last update).

Design notes and history: docs/claims/width-fit.md
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lowdim as ld

pytestmark = pytest.mark.claim(
    "width-fit",
    statement="the approximation error on the training data generally decreases as the number "
    "of hidden units increases",
    source="seed 001 (AtomsOfDeepLearning), experiment 1",
)

# 8 quick seeds decide the polynomial and |x| trends and the control (1) and (3); they decide the
# sin(12x) trend in only about half of the seed blocks, and a share of seeds only when all 8
# agree, so the quick profile skips those rows and the full profile's 100 seeds run them (the
# first full run decided the sin(12x) trend and share, not the polynomial and |x| shares; power
# and the redesign: docs/claims/width-fit.md).
N_SEEDS = {"quick": 8, "full": 100}
WIDTHS = (2, 4, 16, 64)
X = np.linspace(-1.0, 1.0, 100)
TARGETS = {
    "sin(12x)": lambda x: np.sin(12 * x),
    "-2x^4+x^3+x^2-2x": lambda x: np.polynomial.polynomial.polyval(x, [0, -2, 1, 1, -2]),
    "|x|": np.abs,
}
CONTROL = {"x": lambda x: x}  # a line: every width fits it
CONFIG = ld.TrainConfig(steps=10_000, optimizer="adam", lr=0.003, loss="mse", record_every=0)
ALPHA = 0.01
ORDERED_THRESHOLD = 0.5  # "most seeds"
CONTROL_MARGIN = 0.01  # MSE


def _model(width: int) -> ld.MLP:
    return ld.MLP((1, width, 1), activation="sigmoid", weight_init=ld.Init("xavier"))


@ld.cached
def final_mse(seeds: tuple[int, ...], device: str, key: str) -> dict[str, np.ndarray]:
    """{target name: (S, len(WIDTHS)) training MSE after CONFIG.steps}, for TARGETS and CONTROL."""
    funcs = {**TARGETS, **CONTROL}
    parts = [ld.make_1d(seeds, x=X, target=lambda x, rng, f=f: f(x), key=key)
             for f in funcs.values()]
    data = ld.Data(torch.cat([p.x for p in parts]), torch.cat([p.y for p in parts]))  # (F*S, N, 1)
    n_f, n_s = len(funcs), len(seeds)
    # Lane f*S + i is seed i on target f. Training is full batch without dropout, so lane ids only
    # label the nets; each lane starts from seed i's own init at this width.
    lanes = list(range(n_f * n_s))
    table = np.empty((n_f, n_s, len(WIDTHS)))
    for j, width in enumerate(WIDTHS):
        model = _model(width)
        init = model.init(seeds, key=key)  # each (S, ...)
        params = {k: v.repeat(n_f, *([1] * (v.dim() - 1))) for k, v in init.items()}  # (F*S, ...)
        result = ld.train(model, data, CONFIG, seeds=lanes, key=key, params=params, device=device)
        table[:, :, j] = ld.mse(result.predict(data.x), data.y).reshape(n_f, n_s)
    return dict(zip(funcs, table, strict=True))


def _table(claim, name: str) -> np.ndarray:
    seeds = claim.seeds(claim.choose(N_SEEDS))
    return final_mse(tuple(seeds), claim.device, claim.id)[name]


@pytest.mark.parametrize("target", list(TARGETS))
def test_training_error_falls_as_hidden_units_increase(claim, target):
    if target == "sin(12x)" and claim.profile == "quick":
        pytest.skip("full profile only: the quick profile's 8 seeds decide the sin(12x) trend in "
                    "only about half of the seed blocks (docs/claims/width-fit.md)")
    table = _table(claim, target)  # (S, 4)
    ev = claim.record(ld.trend(table, conditions=WIDTHS, alternative="decreasing", alpha=ALPHA,
                               statistic="change in final MSE per width step"), target=target)
    assert ev.supported, ev


@pytest.mark.xfail(
    strict=True,
    reason="the fall in error is a trend over seeds, not an order within each seed: each step up "
    "in width lowers the error in most but not all seeds (a wider net can still sit on the "
    "plateau at the end of training, or reach the same floor as a narrower one, where noise sets "
    "the order), so fewer than most seeds fall strictly at every step up in width",
)
@pytest.mark.parametrize("target", list(TARGETS))
def test_most_seeds_fit_strictly_better_at_every_step_up_in_width(claim, target):
    if claim.profile == "quick":
        pytest.skip("full profile only: 8 seeds decide a share of seeds only when all 8 agree "
                    "(docs/claims/width-fit.md)")
    table = _table(claim, target)  # (S, 4)
    ordered = (np.diff(table, axis=1) < 0).all(axis=1)  # (S,)
    ev = claim.record(ld.proportion(ordered, threshold=ORDERED_THRESHOLD, alpha=ALPHA,
                                    statistic="P(MSE strictly falls 2->4->16->64)"), target=target)
    assert ev.supported, ev


def test_width_does_not_matter_on_a_line(claim):
    worst = _table(claim, "x").max(axis=1)  # (S,) the largest final MSE over the four widths
    ev = claim.record(ld.equivalence(worst, margin=CONTROL_MARGIN, alpha=ALPHA,
                                     statistic="pseudo-median(max over H of final MSE on y = x)"),
                      target="x")
    assert ev.supported, ev
