"""Deeper weight-tied nets at a fixed parameter count classify alternating points on a line better.

Claim   "As the number of layers increase in a neural network with a fixed number of parameters,
        the accuracy on a difficult classification problem will improve." Conclusion: "Accuracy
        increases with increasing depth in most runs of the experiments." (section "Why are deeper
        networks better?", which presents the problem as "easier for deeper neural networks" and
        the deeper nets as solving it).
Source  seed 001 (AtomsOfDeepLearning notebook), experiment 2; one run per depth, no number given
        beyond the per-depth accuracy in the figure titles.
Method  x = 0, 1/16, ..., 15/16 (16 points), one-hot labels alternating with x = 0 in class 1; every
        seed sees the same 16 points, only the init differs. ReLU; w_in 1x10, ONE shared 10x10
        layer applied k in {1, 2, 3} times, w_out 10x2; every layer has a bias; 152 parameters at
        every depth. TF glorot_uniform on weights and biases (U(+-sqrt(3/n)) on a bias of size n).
        Softmax cross-entropy, Adam lr 0.003, full batch (the notebook's random batch of 64 out of
        16 points is the full batch), 15,000 steps in the full profile; the quick profile trains
        3,000 steps (a budget chosen from the cost alone, before any run of the claim: 15,000 steps
        of the nine nets below take several CPU minutes) and its statements say so.
        Accuracy on the 16 training points.
        Untied comparison, 1-D input, 2 outputs, no sharing, widths chosen for 152 parameters:
        (38,) 154 params (37 would give 150: the shallow net gets the extra two), (10, 10) 152 (the
        same net as the tied k = 1 net: a shared layer used once is an ordinary layer), (7, 7, 8)
        152, (6, 6, 6, 6) 152. Tied k has k + 1 hidden ReLU layers, so untied depth 4 is tied k = 3.
        Negative control: the same nets and budget on an easy labelling of the same 16 points, two
        contiguous blocks of 8 (x < 1/2 in class 1): one kink suffices, every depth must fit it.
Test    alpha 0.01, one-sided.
        (1) deeper is better: per-seed accuracy at k = 1, 2, 3 as an (S, 3) table, Page's L for an
            increasing order.
        (2) deeper solves it: P(accuracy = 16/16 at k = 3) > 0.5, exact binomial; the shares at
            k = 1, 2 ride along in the evidence's details.
        (3) depth or weight sharing: (a) untied nets of ~152 params with 1, 2, 3, 4 hidden layers,
            Page's L for increasing accuracy; (b) tied k = 3 vs untied (6, 6, 6, 6), same depth and
            parameter count, Wilcoxon signed-rank tied - untied > 0.
        (4) negative control: on the two-block labelling P(accuracy = 16/16) > 0.8 at every k
            (the trend cannot appear where every depth fits).
Expect  written before the first 15,000-step run; seen so far: 2,000 steps on 32 design seeds
        (offset 100000) gave mean accuracy 0.57 / 0.62 / 0.70 at k = 1 / 2 / 3 and no seed at 16/16.
        (1) SUPPORTED at both budgets: composing a layer multiplies the number of linear pieces
        (Telgarsky's sawtooth), and the 2,000-step design runs already order the depths.
        (2) not supported, likely REFUTED: gradient training of 152 parameters rarely places all
        15 sign changes; I guess 10-40 % of seeds reach 16/16 at k = 3 after 15,000 steps, fewer
        after 3,000; k = 1, 2 fewer still. (The first full run: 1 of 100 at k = 3.)
        (3a) not supported: without sharing, a fixed budget of 152 parameters makes deep layers
        narrow (6 units), and narrow ReLU layers lose units; the 38-unit shallow net has more kinks
        to place than it needs. (The first full run: REFUTED, the 38-unit net the best untied
        net; docs/claims/depth-alternating.md.) (3b) SUPPORTED: at equal depth the tied 10-wide
        net beats the 6-wide untied one, i.e. the gain of (1) comes from depth bought by weight
        sharing.
        (4) SUPPORTED at every depth.
Known artefacts of the source
        One run per depth (np / tf seeded once with 0, the three depths trained one after the
        other); "1 layers" in its titles is the net with one application of the shared layer, i.e.
        two hidden ReLU layers; accuracy is measured on the training points (there is no test set);
        its code has an untied path (recurrent=False) but that path passes an undefined `bias`
        and cannot have run, so the source never separated depth from weight sharing; "most runs"
        is not quantified.

Design notes and history: docs/claims/depth-alternating.md
"""

import dataclasses

import numpy as np
import pytest

import lowdim as ld

pytestmark = pytest.mark.claim(
    "depth-alternating",
    statement="with a fixed number of parameters (152), deeper nets classify 16 alternating points "
    "on a line better, and the deepest solves it (quick profile: 3,000 Adam steps, not 15,000)",
    source="seed 001 (AtomsOfDeepLearning), experiment 2 'Why are deeper networks better?'",
)

# 40 quick seeds decide the depth trend (1) with power >= 0.98 on two design blocks; the control
# needs >= 21 seeds all fitting (0.8^21 = 0.009), and 40 decide it with up to 2 misses (power
# and the redesign from 24 seeds: docs/claims/depth-alternating.md).
N_SEEDS = {"quick": 40, "full": 100}
STEPS = {"quick": 3_000, "full": 15_000}  # the source: 15,000; quick: chosen from cost alone
ALPHA = 0.01
SOLVED_SHARE = 0.5  # "deeper solves it": more than half the seeds fit all 16 points at k = 3
CONTROL_SHARE = 0.8  # negative control: more than 80 % of seeds fit the two blocks at every k

N_POINTS = 16
DEPTHS = (1, 2, 3)  # applications k of the shared 10x10 layer: k + 1 hidden ReLU layers
XAVIER = ld.Init("xavier")  # TF glorot_uniform, on biases too (U(+-sqrt(3/n)))
TIED = {
    k: ld.MLP((1, 10, *[10] * k, 2), activation="relu", weight_init=XAVIER, tie_hidden=True)
    for k in DEPTHS
}
# Untied nets with 1..4 hidden layers and ~152 parameters (4H+2 = 152 has no integer H: 38 units
# give 154). A shared layer applied once is an ordinary layer, so (10, 10) is TIED[1] itself.
UNTIED = {
    1: ld.MLP((1, 38, 2), activation="relu", weight_init=XAVIER),
    2: TIED[1],
    3: ld.MLP((1, 7, 7, 8, 2), activation="relu", weight_init=XAVIER),
    4: ld.MLP((1, 6, 6, 6, 6, 2), activation="relu", weight_init=XAVIER),
}
assert all(net.n_params() == 152 for net in TIED.values())  # the source's count, every depth


def _config(steps: int) -> ld.TrainConfig:
    # Softmax cross-entropy, Adam lr 0.003, full batch; no loss curve is kept (it is not used).
    return ld.TrainConfig(steps=steps, optimizer="adam", lr=0.003, loss="cross_entropy",
                          record_every=0)


def _grid() -> np.ndarray:
    return np.linspace(0.0, 1.0 - 1.0 / N_POINTS, N_POINTS)[:, None]  # (16, 1)


def _alternating(seeds, key: str) -> ld.Data:
    return ld.make_alternating(seeds, n_points=N_POINTS, key=key)  # x = 0 in class 1


def _two_blocks(seeds, key: str) -> ld.Data:
    """The control labelling of the same 16 points: x < 1/2 in class 1, the rest class 0."""
    labels = (np.arange(N_POINTS) < N_POINTS // 2).astype(np.int64)  # (16,)
    return ld.per_seed(seeds, lambda rng: (_grid(), labels), key=key)


LABELLINGS = {"alternating": _alternating, "two_blocks": _two_blocks}


@ld.cached
def _accuracy(net: ld.MLP, labelling: str, seeds: tuple[int, ...], key: str, device: str,
              steps: int) -> np.ndarray:
    """(S,) accuracy on the 16 training points after `steps` steps; trained once per process."""
    data = LABELLINGS[labelling](seeds, key)
    result = ld.train(net, data, _config(steps), seeds=seeds, key=key, device=device)
    return ld.accuracy(result.predict(data.x), data.y)


def _run(claim):
    """Seeds and budget of this profile, and a function net, labelling -> (S,) accuracy."""
    seeds = tuple(claim.seeds(claim.choose(N_SEEDS)))
    steps = claim.choose(STEPS)
    return steps, lambda net, labelling="alternating": _accuracy(
        net, labelling, seeds, claim.id, claim.device, steps)


def test_deeper_tied_nets_classify_alternating_points_better(claim):
    steps, acc = _run(claim)
    table = np.stack([acc(TIED[k]) for k in DEPTHS], axis=1)  # (S, 3), columns k = 1, 2, 3
    ev = claim.record(
        ld.trend(table, conditions=[f"k={k}" for k in DEPTHS], alpha=ALPHA,
                 statistic="change in accuracy per depth step"),
        steps=steps,
    )
    assert ev.supported, ev


@pytest.mark.xfail(strict=True, reason="deeper nets do not solve the problem: the deepest tied "
                   "net fits every alternating point in only a small minority of seeds, not in "
                   "most, so the solved problem the source presents is not the typical run")
def test_the_deepest_tied_net_fits_all_alternating_points_in_most_seeds(claim):
    steps, acc = _run(claim)
    solved = {k: acc(TIED[k]) == 1.0 for k in DEPTHS}  # (S,) each: 16 of 16 points right
    ev = ld.proportion(solved[DEPTHS[-1]], threshold=SOLVED_SHARE, alpha=ALPHA,
                       statistic=f"P(accuracy = 16/16 at k = {DEPTHS[-1]})")
    # The shallower depths' solved shares ride along for the report; the test is on k = 3.
    ev = dataclasses.replace(ev, details={**ev.details, "solved_share_by_depth": {
        f"k={k}": float(s.mean()) for k, s in solved.items()}})
    ev = claim.record(ev, steps=steps, depth=DEPTHS[-1])
    assert ev.supported, ev


@pytest.mark.xfail(strict=True, reason="the source's statement for any net of a fixed parameter "
                   "count fails without weight sharing: untied deep nets at this count are narrow "
                   "and fit the alternating points no better than the shallow wide one")
def test_deeper_untied_nets_of_the_same_parameter_count_classify_better(claim):
    steps, acc = _run(claim)
    table = np.stack([acc(net) for net in UNTIED.values()], axis=1)  # (S, 4), 1..4 hidden layers
    names = [f"{d} hidden {net.sizes[1:-1]} {net.n_params()}p" for d, net in UNTIED.items()]
    ev = claim.record(
        ld.trend(table, conditions=names, alpha=ALPHA,
                 statistic="change in accuracy per untied-depth step"),
        steps=steps,
    )
    assert ev.supported, ev


def test_weight_sharing_beats_untied_layers_of_equal_depth_and_parameter_count(claim):
    steps, acc = _run(claim)
    tied, untied = acc(TIED[3]), acc(UNTIED[4])  # both 4 hidden ReLU layers, 152 parameters
    ev = claim.record(
        ld.paired(tied, untied, alternative="greater", alpha=ALPHA,
                  statistic="pseudo-median(acc tied k=3 - acc untied (6,6,6,6))"),
        steps=steps,
    )
    assert ev.supported, ev


@pytest.mark.parametrize("depth", DEPTHS)
def test_every_depth_fits_two_blocks_of_the_same_points(claim, depth):
    steps, acc = _run(claim)
    fitted = acc(TIED[depth], "two_blocks") == 1.0  # (S,)
    ev = claim.record(
        ld.proportion(fitted, threshold=CONTROL_SHARE, alpha=ALPHA,
                      statistic=f"P(accuracy = 16/16 on two blocks at k = {depth})"),
        steps=steps,
    )
    assert ev.supported, ev
