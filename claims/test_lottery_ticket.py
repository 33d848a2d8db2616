"""A subnetwork found by magnitude pruning and reset to its original initialisation (a winning
ticket) trains to the full net's accuracy, and beats the same mask randomly re-initialised.

Claim   Frankle & Carbin: "dense, randomly-initialized, feed-forward networks contain
        subnetworks (winning tickets) that - when trained in isolation - reach test accuracy
        comparable to the original network in a similar number of iterations"; "above this size
        [10-20% of the weights], the winning tickets that we find learn faster than the original
        network and reach higher test accuracy"; "when randomly reinitialized, winning tickets
        perform far worse", at moderate sparsity as well (their fig. 4: from Pm = 51% down).
Source  Frankle & Carbin, "The Lottery Ticket Hypothesis: Finding Sparse, Trainable Neural
        Networks", ICLR 2019, sec. 2 and fig. 3-4: Lenet-300-100 on MNIST, Adam 1.2e-3, batch 60,
        50K iterations; per-layer magnitude pruning, 20% per round (output layer 10%), weights
        reset to their initial values; at Pm = 21.1% tickets beat the original's test accuracy
        (~98% MNIST) and the randomly re-initialised tickets fall behind; one-shot pruning also
        finds tickets (less small). Five trials per point.
Method  Two interleaved spirals in 2-D instead of MNIST (a ReLU net needs most of its capacity for
        1.5 turns, so pruning and re-initialisation can matter; MNIST is out of the suite's
        budget): t ~ U[0, 1], angle 3 pi t, radius t, class 1 the negation of class 0, + N(0,
        0.03^2) per coordinate; 200 training and 1,000 test points per class, fresh per seed.
        2-64-64-2 ReLU MLP, PyTorch's default init (theta_0), Adam lr 1.2e-3 (Frankle & Carbin's
        Lenet rate), batch 60 (theirs), 2,000 steps, softmax cross-entropy. Pruning: per layer,
        smallest |w| of the trained net (biases kept, never pruned): one-shot, hidden layers 80%
        and the output layer 40% (half the rate, as theirs), Pm = 20.7% of the weights; full
        profile also iterative, 7 rounds of 20% (output 10%) with a reset to theta_0 and
        retraining between rounds, Pm = 21.8% (0.8^7 per layer, rounded per round). Arms on the same seed, data and batches: full net
        (theta_0), ticket (mask, theta_0), random re-init (the same mask on a fresh init from the
        same distribution); test accuracy after the 2,000 steps (not at an early-stopping
        iteration). Seeds: 24 (quick), 150 (full); see docs/claims/lottery-ticket.md.
Test    alpha 0.01, paired Wilcoxon signed-rank on test accuracy, same seeds, one-sided.
        Ticket vs full net: comparable, ticket - full > -0.01 (one point of accuracy), and
        higher, ticket - full > 0. Ticket vs random re-init: ticket - re-init > 0.
Expect  written before the first run. The dense net should fit the spirals (test accuracy ~0.97
        or more); pruned to ~21% of its weights (~870 of 4,224) it keeps enough capacity, and
        the reset ticket should match it (within a point) and beat the re-initialised sparse
        net, whose random weights on the pruned pattern train slower. Whether the ticket beats
        the full net outright is the weakest of the three; we expect it to be inconclusive or
        to fail in 2-D, where the full net is not over-fitting much.
Known artefacts of the source
        Their accuracy is read at the early-stopping iteration (minimum validation loss); five
        trials per point; the random re-init draws a fresh init of the original distribution
        (as here).
Outcome (quick, seeds 0-23, one-shot, Pm = 21.2%): the ticket beats the re-initialised mask
        by 0.146 [0.099, inf] test accuracy (p 1e-7) but ends behind the full net, ticket - full
        -0.057 [-0.12, inf]: "comparable" and "higher" refuted (xfail). Full (seeds 0-149):
        one-shot: ticket - re-init 0.122 [0.105, inf] (p 2e-25), ticket - full -0.039 [-0.051,
        inf]; iterative (Pm = 21.8%): ticket - re-init 0.101 [0.084, inf] (p 3e-24), ticket -
        full -0.036 [-0.041, inf]: both ticket-vs-full statements refuted (xfail).

Design notes and history: docs/claims/lottery-ticket.md
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lowdim as ld

pytestmark = pytest.mark.claim(
    "lottery-ticket",
    statement="a subnetwork found by magnitude pruning and reset to its original initialisation "
              "trains to at least the full net's accuracy and beats the same mask with a random "
              "re-initialisation, at moderate sparsity (Pm ~ 21%)",
    source="Frankle & Carbin ICLR 2019 (Lenet-300-100 / MNIST: tickets at Pm = 21.1% beat the "
           "original; random re-init falls behind)",
)
ALPHA = 0.01
N_SEEDS = {"quick": 24, "full": 150}  # design block: docs/claims/lottery-ticket.md
N_TRAIN, N_TEST = 200, 1000  # per class
NOISE, TURNS = 0.03, 1.5
MODEL = ld.MLP((2, 64, 64, 2), activation="relu")
CONFIG = ld.TrainConfig(steps=2000, optimizer="adam", lr=1.2e-3, batch_size=60,
                        loss="cross_entropy", record_every=0)
ONE_SHOT = {"w0": 0.8, "w1": 0.8, "w2": 0.4}  # fraction pruned per layer, output at half rate
ROUNDS, PER_ROUND = 7, {"w0": 0.2, "w1": 0.2, "w2": 0.1}  # iterative: 0.8^7 = 21%
COMPARABLE = -0.01  # ticket - full > -0.01: "comparable accuracy"
MONITOR_EVERY = 100
PRUNINGS = {"quick": ("one-shot",), "full": ("one-shot", "iterative")}


def _spirals(rng):
    def draw(n):
        t = rng.uniform(0, 1, n)
        a = 2 * np.pi * TURNS * t
        x0 = np.stack([t * np.cos(a), t * np.sin(a)], 1)
        t1 = rng.uniform(0, 1, n)
        a1 = 2 * np.pi * TURNS * t1
        x1 = -np.stack([t1 * np.cos(a1), t1 * np.sin(a1)], 1)
        x = np.concatenate([x0, x1]) + rng.normal(0, NOISE, (2 * n, 2))
        return x, np.repeat([0, 1], n)

    return (*draw(N_TRAIN), *draw(N_TEST))


def _train(data, seeds, key, params, masks=None) -> dict:
    def test_acc(p):
        with torch.no_grad():
            return torch.as_tensor(ld.accuracy(MODEL.forward(p, data.x_test), data.y_test))

    res = ld.train(MODEL, data, CONFIG, seeds=seeds, key=key, params=params, weight_masks=masks,
                   monitor=test_acc, monitor_every=MONITOR_EVERY)
    return {"params": res.params, "curve": res.monitor.T.numpy(),  # (S, R)
            "acc": ld.accuracy(res.predict(data.x_test), data.y_test)}


@ld.cached
def arms(seeds: tuple[int, ...], key: str, pruning: str) -> dict:
    """Per seed test accuracy (and curves) of the full net, the ticket and the re-init."""
    data = ld.per_seed(seeds, _spirals, key=key)
    theta0 = MODEL.init(seeds, key=key)
    full = _train(data, seeds, key, theta0)
    if pruning == "one-shot":
        masks = ld.magnitude_masks(full["params"], ONE_SHOT)
    else:
        masks, trained = None, full["params"]
        for _ in range(ROUNDS):
            masks = ld.magnitude_masks(trained, PER_ROUND, masks=masks)
            trained = _train(data, seeds, key, theta0, masks)["params"]
    ticket = _train(data, seeds, key, theta0, masks)
    reinit = _train(data, seeds, key, MODEL.init(seeds, key=f"{key}/reinit"), masks)
    return {"full": full["acc"], "ticket": ticket["acc"], "reinit": reinit["acc"],
            "curves": {"full": full["curve"], "ticket": ticket["curve"],
                       "reinit": reinit["curve"]},
            "density": ld.mask_density(masks).numpy()}


def _arms(claim, pruning):
    if pruning not in claim.choose(PRUNINGS):
        pytest.skip("iterative pruning runs in the full profile only (cost: 8 trainings)")
    return arms(tuple(claim.seeds(claim.choose(N_SEEDS))), claim.id, pruning)


def _curves(out) -> dict:
    steps = [MONITOR_EVERY * i for i in range(out["curves"]["full"].shape[1])]
    return {arm: {"x": steps, "y": c, "xlabel": "Adam steps", "ylabel": "test accuracy"}
            for arm, c in out["curves"].items()}


def _record(claim, ev, out, pruning):
    ev.details["density_mean"] = float(np.mean(out["density"]))
    return claim.record(ev, pruning=pruning, curves=_curves(out))


_BEHIND = pytest.mark.xfail(strict=True, reason="at Pm ~ 21% the one-shot ticket does not reach "
                            "the full net's test accuracy on the spirals: it ends several points "
                            "behind the dense net after the same training")
_BEHIND_ITERATIVE = pytest.mark.xfail(strict=True, reason="after seven rounds of iterative "
                                      "pruning (Pm ~ 22%) the ticket does not reach the full "
                                      "net's test accuracy either: it ends a few points behind")
PRUNED = [pytest.param("one-shot", marks=_BEHIND), pytest.param("iterative",
                                                                marks=_BEHIND_ITERATIVE)]


@pytest.mark.parametrize("pruning", PRUNED)
def test_a_winning_ticket_reaches_accuracy_comparable_to_the_full_net(claim, pruning):
    out = _arms(claim, pruning)
    ev = ld.paired({"ticket": out["ticket"], "full net": out["full"]}, margin=COMPARABLE,
                   alpha=ALPHA, statistic="test accuracy, ticket minus full net")
    ev = _record(claim, ev, out, pruning)
    assert ev.supported, ev


@pytest.mark.parametrize("pruning", PRUNED)
def test_a_winning_ticket_reaches_higher_accuracy_than_the_full_net(claim, pruning):
    out = _arms(claim, pruning)
    ev = ld.paired({"ticket": out["ticket"], "full net": out["full"]}, alpha=ALPHA,
                   statistic="test accuracy, ticket minus full net")
    ev = _record(claim, ev, out, pruning)
    assert ev.supported, ev


@pytest.mark.parametrize("pruning", ["one-shot", "iterative"])
def test_a_winning_ticket_beats_the_same_mask_randomly_reinitialised(claim, pruning):
    out = _arms(claim, pruning)
    ev = ld.paired({"ticket": out["ticket"], "random re-init": out["reinit"]}, alpha=ALPHA,
                   statistic="test accuracy, ticket minus random re-init")
    ev = _record(claim, ev, out, pruning)
    assert ev.supported, ev
