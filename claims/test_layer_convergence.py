"""Do the weights of later layers converge sooner than those of earlier layers?

Claim   "We find that the weights in later layers do converge more quickly than weights in the
        earlier layers." Discussion: "weights in layers 3 converge almost monotonically to their
        final values, and do so rather quickly. The convergence patterns of the weights in
        previous layers are more complicated and they seem to take longer to settle."
        Hypothesis: "the weights of later layers converge more quickly, as the changes in later
        stages get amplified as they propagate backwards throughout the network."
Source  seed 001 (AtomsOfDeepLearning notebook), experiment 11 "How do the weights in different
        layers converge?"; no number (one run; plots of 50 weights per layer and of the norm of
        their change between stored steps).
Method  The notebook's mixture per seed: d = 12, cov = c^T c with c ~ U[0,1)^{12x12}, class 1
        shifted by s_i = 1/(i+1) (the source notes give experiment 11 the data of experiment 9;
        the text says 1 in every dimension); 500 points, 400 train / 100 test, no scaling.
        12-50-50-50-2 MLP (4 weight layers), sigmoid hidden units, linear outputs, a bias in
        every layer, TF glorot on weights and biases (Init("xavier")). MSE on one-hot targets,
        Adam lr 0.003, 750 steps, each a fresh random batch permutation(400)[:64]; all
        parameters snapshotted every 2 steps (the notebook's store_every). Quick and full run
        the same configuration; seeds are trained in chunks of CHUNK (a seed's numbers do not
        depend on the chunk) to bound the snapshots' memory.
Test    Defined before any run. Per seed and weight layer l (the whole matrix W_l, not 50
        entries; biases excluded, as the notebook plotted weights): the relative distance to the
        end point r_l(t) = ||W_l(t) - W_l(750)||_F / ||W_l(750) - W_l(0)||_F on the stored steps
        t = 0, 2, ..., 750, and the convergence time tau_l = the first stored step after which
        r_l stays below 0.1 (within a tenth of the layer's total displacement) to the end.
        "Later layers converge more quickly": Page's L, tau decreasing over layers 0, 1, 2, 3,
        (S, 4) table, alpha 0.01.
        Negative control: under a zero-gradient loss (0 * MSE, the notebook's "constant" loss)
        the same pipeline must report no movement at all: per seed the largest layer
        displacement ||W_l(750) - W_l(0)||_F, TOST within +-1e-6. A harness that moved weights
        without a gradient, mixed snapshots between steps or seeds, or measured its own
        bookkeeping would fail it. (A control with a flat layer ordering does not exist here:
        the four layers differ in shape and role in every net of this family.)
Expect  (written before the first run) Adam moves every entry by about lr per step whatever its
        gradient's scale, so the "amplification" of the hypothesis does not carry over to step
        sizes; what differs is how long each layer's gradient keeps a consistent sign. The output
        layer (50 x 2) sees the error directly and should settle first; the input layer keeps
        adjusting to the weak input directions longest. I expect the decreasing trend to be
        supported, with the two middle layers close to each other. Control: exactly no movement.
Known artefacts of the source: one run; the 50 plotted weights per layer were
        W.flatten()[-50:], the outgoing weights of the last unit(s) of each layer, not a sample;
        "convergence" was read off a plot of ||w(t+2) - w(t)|| over those 50 entries, which
        under minibatch noise never reaches zero; the x-axis said "Epoch (x2)" for steps.

Design notes and history: docs/claims/layer-convergence.md
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lowdim as ld

pytestmark = pytest.mark.claim(
    "layer-convergence",
    statement="the weights of later layers converge more quickly than those of earlier layers",
    source="seed 001, experiment 11 (one run, figure, no number)",
)

# 24 quick seeds leave a wide margin at alpha 0.01 on the design block (about 12 would do; power:
# docs/claims/layer-convergence.md).
N_SEEDS = {"quick": 24, "full": 100}
CHUNK = 25  # seeds trained together; 376 snapshots of ~5,800 parameters each per seed
D = 12
CLASS_SEPS = tuple(1 / (i + 1) for i in range(D))
MODEL = ld.MLP((D, 50, 50, 50, 2), activation="sigmoid", weight_init=ld.Init("xavier"))
STEPS, STORE_EVERY = 750, 2
NEAR = 0.1  # "converged": within a tenth of the layer's total displacement from its end point
CONTROL_MARGIN = 1e-6
ALPHA = 0.01
LAYERS = ("w0", "w1", "w2", "w3")


def _config(loss: str) -> ld.TrainConfig:
    return ld.TrainConfig(steps=STEPS, optimizer="adam", lr=0.003, batch_size=64,
                          sampling="random", loss=loss, record_every=0,
                          snapshot_every=STORE_EVERY)


def convergence_times(snapshots: dict[int, dict[str, torch.Tensor]]) -> tuple[np.ndarray, ...]:
    """Per seed and weight layer: tau (first stored step after which r stays < NEAR) and the
    total displacement ||W(T) - W(0)||_F. snapshots: {step: {name: (S, ...)}}. -> (S, L) each,
    and r itself, (S, L, M) over the M stored steps (for the report's figure)."""
    steps = sorted(snapshots)
    taus, moved, rs = [], [], []
    for name in LAYERS:
        w = torch.stack([snapshots[t][name].double() for t in steps])  # (M, S, in, out)
        dist = (w - w[-1]).flatten(2).norm(dim=-1)  # (M, S): ||W(t) - W(T)||
        total = dist[0]  # (S,) = ||W(0) - W(T)||
        far = dist >= NEAR * total  # (M, S); the last step is never far when total > 0
        # last stored index that is still far, +1 = first index from which all are near
        idx = torch.arange(len(steps)).unsqueeze(1).expand_as(far)
        last_far = torch.where(far, idx, torch.full_like(idx, -1)).max(dim=0).values  # (S,)
        taus.append(torch.tensor(steps)[(last_far + 1).clamp(max=len(steps) - 1)])
        moved.append(total)
        rs.append((dist / total).T)  # (S, M); NaN where the layer never moved
    return (torch.stack(taus, 1).double().numpy(), torch.stack(moved, 1).cpu().numpy(),
            torch.stack(rs, 1).cpu().numpy())


@ld.cached
def _run(seeds: tuple[int, ...], key: str, device: str, loss: str):
    """(S, 4) convergence steps, (S, 4) total displacements, trained in chunks; and the stored
    steps (M,) with r, (S, 4, M)."""
    data = ld.make_gaussian_mixture(list(seeds), n_samples=500, d=D, class_seps=CLASS_SEPS,
                                    test_size=0.2, key=key)
    taus, moved, rs = [], [], []
    for start in range(0, len(seeds), CHUNK):
        part = list(seeds[start:start + CHUNK])
        sub = data.select(slice(start, start + CHUNK))
        result = ld.train(MODEL, sub, _config(loss), seeds=part, key=key, device=device)
        snaps = {t: {k: v.cpu() for k, v in p.items()} for t, p in result.snapshots.items()}
        t, m, r = convergence_times(snaps)
        taus.append(t)
        moved.append(m)
        rs.append(r)
    return np.concatenate(taus), np.concatenate(moved), (sorted(snaps), np.concatenate(rs))


def _seeds(claim) -> tuple[int, ...]:
    return tuple(claim.seeds(claim.choose(N_SEEDS)))


def test_weights_of_later_layers_converge_more_quickly(claim):
    taus, moved, (steps, r) = _run(_seeds(claim), claim.id, claim.device, "mse")
    displacement = moved.mean(0).round(4).tolist()  # (4,) mean ||W(T) - W(0)|| per layer
    curves = {name: {"x": steps, "y": r[:, i], "ylabel": "r(t) = ||W(t) - W(T)|| / ||W(0) - W(T)||"}
              for i, name in enumerate(LAYERS)}  # what tau is read from, for the report's figure
    ev = claim.record(ld.trend(taus, conditions=LAYERS, alternative="decreasing", alpha=ALPHA,
                               statistic="change in steps to converge per layer"),
                      mean_displacement=dict(zip(LAYERS, displacement, strict=True)),
                      curves=curves)
    assert ev.supported, ev


def test_negative_control_without_a_gradient_no_layer_moves(claim):
    _, moved, _ = _run(_seeds(claim), claim.id, claim.device, "constant")
    ev = claim.record(ld.equivalence(moved.max(axis=1), margin=CONTROL_MARGIN, alpha=ALPHA,
                                     statistic="pseudo-median(max over layers ||W(T) - W(0)||), "
                                               "zero-gradient loss"))
    assert ev.supported, ev
