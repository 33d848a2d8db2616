"""Bias-free ReLU nets cannot separate clusters that lie on one ray from the origin.

Claim   (A) "Think of data that is closely clustered around (0, 1) and (0, 2) for binary
        classification. No linear boundary that passes through (0, 0) can separate those
        clusters." (B) On the asker's data set: "I believe the problem lies in the fact that you
        have no bias terms ... adding bias terms should allow for convergence."
Source  seed 002 (a StackOverflow answer to a question built on Grokking Deep Learning, ch. 8).
        The asker reports train accuracy ~0.60 (measured with dropout on) and test accuracy
        ~0.78-0.81 from the first epoch to the 300th; the asker's follow-up comment says a hidden
        bias did not fix it.
Method  (A) Two Gaussian clusters, class 0 at (0, 1) and class 1 at (0, 2), std 0.1 per axis
        ("closely clustered": a tenth of the distance between the centres); 50 training and
        500 test points per class, fresh per seed. Negative control: class 1 at (0, -1) instead
        (the same draws, class 1 moved; the clusters are symmetric about the origin). 2-32-2
        ReLU MLP (and 2-32-32-2, a depth variant) with and without biases, PyTorch's default
        init; Adam lr 0.01, 300 full-batch steps, softmax cross-entropy. Same data per seed in
        both arms. 40 seeds (quick), 400 (full).
        (B) The asker's program: make_classification(n_samples=10000, n_features=5,
        n_classes=4, n_clusters_per_class=1, random_state=1), train_test_split(test_size=0.2,
        random_state=1): the same data for every seed; seeds vary the weight init and the
        dropout masks. 5-10-4 ReLU net without biases, weights 0.2*U[0,1) - 0.1, dropout
        mask randint(2) with kept units * 2 on the hidden layer in training, linear outputs,
        online SGD (one point per step, in the data's order, no shuffling) with lr 0.002 on the
        one-hot targets, updates as the asker's hand-written backprop made them (see Known
        artefacts), numpy float64 as the asker ran it. The quick profile trains 3 epochs
        (24,000 steps), the full profile the asker's 300. 120 seeds (quick), 100 (full).
        Bias arm: the same net with a zero-initialised bias on the hidden and the output layer,
        updated by the same backprop (the answer's "adding bias terms"), same init, same masks.
        Diagnostic arms, same seeds: stated before any run, the nets trained without dropout;
        added on the design block (after seeing its 300-epoch runs, before the reported seeds
        ran), the bias x dropout 2 x 2 design and the true ReLU derivative in the backprop.
        Train accuracy "with dropout on" is the asker's Train-Acc exactly: the share of
        training points the net classified right, dropout on, just before its update on that
        point, over the last epoch. "Train acc" is the final net on the training set, dropout off.
        Porting check (design time, not in the suite): over 2,000 steps the numpy loop matched
        lowdim.train with autograd (the asker's rule written as a ReLU whose backward is the
        constant 1 - p; the plain MLP for the true derivative; the same masks) to < 1e-9 in every
        weight and bias, in all 8 arm types.
Test    alpha 0.01, one-sided throughout; per seed values.
        (A) test accuracy. Bias-free nets fail: P(acc < 0.9) > 0.75, exact binomial. Biased
        nets succeed: P(acc > 0.99) > 0.75. Paired: biased - bias-free > 0.1, Wilcoxon
        signed-rank. Control: on origin-symmetric clusters bias-free nets succeed,
        P(acc > 0.99) > 0.75, and biased - bias-free < 0.01 there (Wilcoxon, "less").
        (B) paired Wilcoxon signed-rank on the same seeds. The asker's symptom: test acc - train
        acc with dropout on > 0.1 (bias-free). The answer: bias - no bias > 0.02 in test acc and
        in train acc with dropout on, after the profile's budget. What we test instead: train
        acc (dropout off) - train acc with dropout on > 0.1, same nets; without dropout,
        bias - no bias test acc > 0.02; with the true ReLU derivative, bias - no bias test
        acc > 0.02.
Expect  written before the first run.
        (A) A bias-free ReLU net is positively homogeneous, f(cx) = c f(x) for c > 0, so its
        predicted class depends only on the direction of x. With std 0.1 the angle of a class-0
        point (0, 1) + noise spreads ~0.1 rad, of a class-1 point ~0.05 rad about the same
        direction; the best rule on angle alone gets ~0.66. So bias-free nets sit near 0.5-0.66
        at any depth, biased nets reach ~1.0, and on the origin-symmetric control both reach ~1.0.
        (B) make_classification puts the 4 class centres at the vertices (+-1, +-1) of a square
        about the origin (then linear redundant features, no shift): the classes are separable
        by directions from the origin about as well as by any affine boundary, so a bias should
        not matter. We expect the symptom to reproduce (test ~0.8, train with dropout ~0.6), the
        bias arm to gain well under 0.02 (the answer's statement fails, as the asker's comment
        says), and the gap to come from measuring train accuracy with dropout on: 10 hidden
        units at p = 0.5 leave ~5 active, a noisy net; without dropout the same nets score about
        their test accuracy on the training set. (B) proved wrong on the design block (biases
        help after 3 epochs; over 300 the biased net decays): the revised expectation, written
        before the reported seeds ran, is on the notes page.
Known artefacts of the source
        The asker's relu2deriv(output) = output >= 0 is applied to the post-ReLU (and
        post-dropout) hidden activations, which are never negative: it is 1 everywhere, so the
        hidden layer's update ignores which units were active (the gradient passes through dead
        units), and the hidden delta is multiplied by the raw 0/1 mask, not by mask * 2. The
        update is therefore not the gradient of 1/2 * sum of squares. We port the update as the
        asker ran it, line by line (see the porting check in Method). The asker's follow-up
        bias was on the hidden layer only and was updated with the opposite sign
        (b += -alpha * delta where the weights use +alpha * delta); we test the answer's
        suggestion (a correctly updated bias on every layer), not the comment's code.
        Weight init was unseeded (np.random.random); the asker's run is one seed.

Design notes and history: docs/claims/bias-free-ray.md
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

import lowdim as ld

pytestmark = pytest.mark.claim(
    "bias-free-ray",
    statement="bias-free nets cannot separate clusters on one ray from the origin; "
    "adding biases should let the asker's net converge",
    source="seed 002 (StackOverflow answer); the asker: train acc ~0.60, test ~0.78-0.81",
)
ALPHA = 0.01

# --- (A) two clusters on one ray from the origin -----------------------------------------------
# With every seed showing the property the binomial test gives p = 0.75^n; n = 40 still decides
# at alpha 0.01 with 3 seeds against it (power on a design block: docs/claims/bias-free-ray.md).
N_SEEDS_A = {"quick": 40, "full": 400}
CLUSTER_STD = 0.1  # "closely clustered": a tenth of the distance between the centres
N_TRAIN_PER_CLASS, N_TEST_PER_CLASS = 50, 500
CENTRES = {"ray": ((0.0, 1.0), (0.0, 2.0)), "symmetric": ((0.0, 1.0), (0.0, -1.0))}
SIZES = {"1 hidden layer": (2, 32, 2), "2 hidden layers": (2, 32, 32, 2)}
CONFIG_A = ld.TrainConfig(steps=300, optimizer="adam", lr=0.01, loss="cross_entropy",
                          record_every=0)
FAIL_BELOW = 0.9  # a bias-free net "cannot separate": test accuracy below this
SUCCEED_ABOVE = 0.99  # a net "separates": test accuracy above this
SHARE = 0.75  # the property must hold for more than this share of seeds
RAY_MARGIN = 0.1  # biases must win by more than this on the ray
CONTROL_MARGIN = 0.01  # ... and by less than this on the origin-symmetric control


def _clusters(seeds: tuple[int, ...], layout: str, key: str) -> ld.Data:
    c0, c1 = CENTRES[layout]

    def make(rng):
        def draw(n):  # (2n, 2) points, class 0 first
            x = np.concatenate([rng.normal(c0, CLUSTER_STD, (n, 2)),
                                rng.normal(c1, CLUSTER_STD, (n, 2))])
            return x, np.repeat([0, 1], n)

        return (*draw(N_TRAIN_PER_CLASS), *draw(N_TEST_PER_CLASS))

    # Same key and stream for both layouts: the control is the ray data with class 1 moved.
    return ld.per_seed(seeds, make, key=key)


@ld.cached
def cluster_accuracy(seeds: tuple[int, ...], key: str, device: str, layout: str, depth: str,
                     bias: bool) -> np.ndarray:
    """(S,) held-out accuracy of the nets trained on one layout."""
    data = _clusters(seeds, layout, key)
    model = ld.MLP(SIZES[depth], bias=bias)
    result = ld.train(model, data, CONFIG_A, seeds=seeds, key=key, device=device)
    return ld.accuracy(result.predict(data.x_test), data.y_test)


def _seeds_a(claim) -> tuple[int, ...]:
    return tuple(claim.seeds(claim.choose(N_SEEDS_A)))


@pytest.mark.parametrize("depth", SIZES)
def test_bias_free_nets_cannot_separate_clusters_on_a_ray(claim, depth):
    acc = cluster_accuracy(_seeds_a(claim), claim.id, claim.device, "ray", depth, False)
    ev = claim.record(ld.proportion(acc < FAIL_BELOW, threshold=SHARE, alpha=ALPHA,
                                    statistic=f"P(test acc < {FAIL_BELOW})"), depth=depth)
    assert ev.supported, ev


@pytest.mark.parametrize("depth", SIZES)
def test_biased_nets_separate_clusters_on_a_ray(claim, depth):
    acc = cluster_accuracy(_seeds_a(claim), claim.id, claim.device, "ray", depth, True)
    ev = claim.record(ld.proportion(acc > SUCCEED_ABOVE, threshold=SHARE, alpha=ALPHA,
                                    statistic=f"P(test acc > {SUCCEED_ABOVE})"), depth=depth)
    assert ev.supported, ev


@pytest.mark.parametrize("depth", SIZES)
def test_biases_beat_no_biases_on_clusters_on_a_ray(claim, depth):
    seeds = _seeds_a(claim)
    with_b = cluster_accuracy(seeds, claim.id, claim.device, "ray", depth, True)
    without = cluster_accuracy(seeds, claim.id, claim.device, "ray", depth, False)
    ev = claim.record(ld.paired(with_b, without, alpha=ALPHA, alternative="greater",
                                margin=RAY_MARGIN,
                                statistic="pseudo-median(acc biased - acc bias-free)"),
                      depth=depth)
    assert ev.supported, ev


@pytest.mark.parametrize("depth", SIZES)
def test_bias_free_nets_separate_origin_symmetric_clusters(claim, depth):
    # Negative control: the same net, but class 1 at (0, -1): a line through the origin
    # separates the clusters, so the missing bias must not matter.
    acc = cluster_accuracy(_seeds_a(claim), claim.id, claim.device, "symmetric", depth, False)
    ev = claim.record(ld.proportion(acc > SUCCEED_ABOVE, threshold=SHARE, alpha=ALPHA,
                                    statistic=f"P(test acc > {SUCCEED_ABOVE})"), depth=depth)
    assert ev.supported, ev


@pytest.mark.parametrize("depth", SIZES)
def test_biases_gain_nothing_on_origin_symmetric_clusters(claim, depth):
    seeds = _seeds_a(claim)
    with_b = cluster_accuracy(seeds, claim.id, claim.device, "symmetric", depth, True)
    without = cluster_accuracy(seeds, claim.id, claim.device, "symmetric", depth, False)
    ev = claim.record(ld.paired(with_b, without, alpha=ALPHA, alternative="less",
                                margin=CONTROL_MARGIN,
                                statistic="pseudo-median(acc biased - acc bias-free)"),
                      depth=depth)
    assert ev.supported, ev


# --- (B) the asker's program ---------------------------------------------------------------------
# The test acc gain lies ~0.5 sd above its 0.02 margin: 120 quick seeds decide it with power
# >= 0.98 on two design blocks (power and the redesign: docs/claims/bias-free-ray.md).
N_SEEDS_B = {"quick": 120, "full": 100}
EPOCHS = {"quick": 3, "full": 300}  # the asker ran 300; 3 is the quick profile's stated budget
N_HIDDEN, N_CLASSES, LR = 10, 4, 0.002
ARMS = {  # name: (bias on every layer, dropout on the hidden layer, backprop)
    "no bias": (False, True, "asker"),  # the asker's program
    "bias": (True, True, "asker"),  # the answer's fix
    # diagnostics, added on the design block: the 2 x 2 design bias x dropout, and the true
    # ReLU derivative in place of the asker's relu2deriv
    "no bias, no dropout": (False, False, "asker"),
    "bias, no dropout": (True, False, "asker"),
    "no bias, true gradient": (False, True, "true"),
    "bias, true gradient": (True, True, "true"),
}
GAIN_MARGIN = 0.02  # "allows convergence": biases lift accuracy by more than this
SYMPTOM_GAP = 0.1  # the asker's gap: test accuracy above train accuracy by more than this


@functools.lru_cache(maxsize=1)
def asker_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x_train (8000, 5), x_test (2000, 5), y_train, y_test: the asker's data, the same for
    every seed (random_state=1 in both calls, as the asker wrote them)."""
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split

    x, y = make_classification(n_samples=10000, n_features=5, n_classes=4,
                               n_clusters_per_class=1, shuffle=True, random_state=1)
    return tuple(train_test_split(x, y, test_size=0.2, random_state=1))


def online_epoch(params, x, targets, keep, scale, has_bias, true_relu, lr=LR) -> np.ndarray:
    """One pass of the asker's online loop over the points in order, all nets at once, in place.

    params  w0 (M, d, H), b0 (M, H), w1 (M, H, k), b1 (M, k): M nets (arms x seeds)
    x       (N, d) inputs; targets (N, k) one-hot
    keep    (N, M, H) the asker's dropout_mask (randint(2)) per point and net; ones: no dropout
    scale   (M, 1) factor on kept units in the forward pass: 2 with dropout (mask * 2), 1 without
    has_bias (M, 1) 1.0 for nets with biases (0.0 leaves b0, b1 at exactly zero)
    true_relu (M, 1) True: back-propagate the true derivative (relu'(z) * mask * 2) instead of
            the asker's (mask alone: its relu2deriv is 1 everywhere)
    Returns (N, M) the class each net predicted for each point before its update (the asker's
    correct_cnt is the share of these that equal the label: train accuracy with dropout on).
    """
    w0, b0, w1, b1 = params["w0"], params["b0"], params["w1"], params["b1"]
    pred = np.empty((x.shape[0], w0.shape[0]), dtype=np.int8)
    for i in range(x.shape[0]):
        xi, m = x[i], keep[i]  # (d,), (M, H)
        h = np.maximum(xi @ w0 + b0, 0.0) * (m * scale)  # layer_1 = relu(.) * mask * 2  (M, H)
        out = np.matmul(h[:, None, :], w1)[:, 0] + b1  # layer_2  (M, k)
        pred[i] = out.argmax(1)
        d2 = targets[i] - out  # layer_2_delta
        # layer_1_delta = layer_2_delta . W12^T * relu2deriv(layer_1) * dropout_mask, where
        # relu2deriv(layer_1) = layer_1 >= 0 is 1 everywhere (layer_1 is post-ReLU).
        gate = np.where(true_relu, (h > 0) * scale, m)  # (M, H)
        d1 = np.matmul(d2[:, None, :], w1.transpose(0, 2, 1))[:, 0] * gate  # (M, H)
        w1 += lr * h[:, :, None] * d2[:, None, :]
        w0 += lr * xi[None, :, None] * d1[:, None, :]
        b1 += lr * has_bias * d2
        b0 += lr * has_bias * d1
    return pred


def _accuracy(params, x, y) -> np.ndarray:
    """(M,) accuracy of every net on (x, y), no dropout (the asker's test loop)."""
    h = np.maximum(np.einsum("nd,mdh->mnh", x, params["w0"]) + params["b0"][:, None], 0.0)
    out = np.einsum("mnh,mhk->mnk", h, params["w1"]) + params["b1"][:, None]  # (M, N, k)
    return (out.argmax(-1) == y[None]).mean(axis=1)


@ld.cached
def train_asker_nets(seeds: tuple[int, ...], key: str,
                     epochs: int) -> dict[str, dict[str, np.ndarray]]:
    """Every arm on every seed, trained as the asker did; per arm (S,) arrays:
    "train acc, dropout on" (running accuracy over the last epoch, the asker's Train-Acc),
    "train acc" (final nets, no dropout) and "test acc" (final nets, the asker's Test-Acc).

    numpy float64 on the CPU, as the asker ran it (the run's device is not used): online SGD is
    one tiny step after another, bound by per-op overhead.
    """
    x_tr, x_te, y_tr, y_te = asker_data()
    n, d = x_tr.shape
    s, a, h = len(seeds), len(ARMS), N_HIDDEN
    w0, w1 = np.empty((s, d, h)), np.empty((s, h, N_CLASSES))
    for j, seed in enumerate(seeds):  # weights_0_1, weights_1_2 = 0.2 * random(...) - 0.1
        g = ld.numpy_rng(key, seed, "init")
        w0[j] = 0.2 * g.random((d, h)) - 0.1
        w1[j] = 0.2 * g.random((h, N_CLASSES)) - 0.1
    params = {  # arm-major (A * S, ...): every arm of a seed starts from that seed's weights
        "w0": np.tile(w0, (a, 1, 1)), "w1": np.tile(w1, (a, 1, 1)),
        "b0": np.zeros((a * s, h)), "b1": np.zeros((a * s, N_CLASSES)),
    }
    has_bias = np.repeat([float(b) for b, _, _ in ARMS.values()], s)[:, None]  # (A*S, 1)
    dropped = np.repeat([p for _, p, _ in ARMS.values()], s)  # (A*S,) arms with dropout
    true_relu = np.repeat([bp == "true" for _, _, bp in ARMS.values()], s)[:, None]
    scale = np.where(dropped, 2.0, 1.0)[:, None]  # (A*S, 1)
    mask_streams = [ld.numpy_rng(key, seed, "dropout") for seed in seeds]
    targets = np.eye(N_CLASSES)[y_tr]  # (N, k) one-hot
    for _ in range(epochs):
        # One mask draw per seed and epoch, shared by that seed's dropout arms.
        m = np.stack([g.integers(0, 2, size=(n, h)) for g in mask_streams], axis=1)  # (N, S, H)
        keep = np.where(dropped[None, :, None], np.tile(m, (1, a, 1)), 1).astype(np.float64)
        pred = online_epoch(params, x_tr, targets, keep, scale, has_bias, true_relu)  # (N, A*S)
    stats = {
        "train acc, dropout on": (pred == y_tr[:, None]).mean(axis=0),
        "train acc": _accuracy(params, x_tr, y_tr),
        "test acc": _accuracy(params, x_te, y_te),
    }
    return {arm: {k: v.reshape(a, s)[i] for k, v in stats.items()} for i, arm in enumerate(ARMS)}


def _asker_nets(claim) -> dict[str, dict[str, np.ndarray]]:
    seeds = tuple(claim.seeds(claim.choose(N_SEEDS_B)))
    return train_asker_nets(seeds, claim.id, claim.choose(EPOCHS))


def test_the_asker_net_scores_far_lower_on_train_with_dropout_than_on_test(claim):
    # The question's symptom (a reproduction check): Train-Acc ~0.60 against Test-Acc ~0.80.
    net = _asker_nets(claim)["no bias"]
    ev = claim.record(ld.paired(net["test acc"], net["train acc, dropout on"], alpha=ALPHA,
                                alternative="greater", margin=SYMPTOM_GAP,
                                statistic="pseudo-median(test acc - train acc, dropout on)"),
                      epochs=claim.choose(EPOCHS), arm="no bias")
    assert ev.supported, ev


_FULL = "config.getoption('lowdim_profile') == 'full'"
_DECAYS = pytest.mark.xfail(
    _FULL, strict=True,
    reason="over the asker's 300 epochs the net with biases, dropout and the asker's backprop "
    "does not converge: its accuracy decays far below the bias-free net's",
)


@pytest.mark.parametrize("metric", [
    pytest.param("test acc", marks=_DECAYS),
    pytest.param("train acc, dropout on", marks=_DECAYS),
])
def test_adding_biases_lifts_the_asker_net(claim, metric):
    # The answer's statement, at the profile's budget (quick: after 3 epochs; full: 300).
    nets = _asker_nets(claim)
    ev = claim.record(ld.paired(nets["bias"][metric], nets["no bias"][metric], alpha=ALPHA,
                                alternative="greater", margin=GAIN_MARGIN,
                                statistic=f"pseudo-median({metric}: bias - no bias)"),
                      epochs=claim.choose(EPOCHS), metric=metric)
    assert ev.supported, ev


def test_train_accuracy_with_dropout_on_understates_what_the_net_learned(claim):
    # The same final bias-free nets on the same training points, dropout off vs on.
    net = _asker_nets(claim)["no bias"]
    ev = claim.record(ld.paired(net["train acc"], net["train acc, dropout on"], alpha=ALPHA,
                                alternative="greater", margin=SYMPTOM_GAP,
                                statistic="pseudo-median(train acc: dropout off - on)"),
                      epochs=claim.choose(EPOCHS), arm="no bias")
    assert ev.supported, ev


def test_without_dropout_biases_lift_the_asker_net(claim):
    # Diagnostic arms (added on the design block): the answer's mechanism with dropout removed.
    nets = _asker_nets(claim)
    ev = claim.record(ld.paired(nets["bias, no dropout"]["test acc"],
                                nets["no bias, no dropout"]["test acc"], alpha=ALPHA,
                                alternative="greater", margin=GAIN_MARGIN,
                                statistic="pseudo-median(test acc: bias - no bias), no dropout"),
                      epochs=claim.choose(EPOCHS))
    assert ev.supported, ev


def test_with_the_true_relu_derivative_biases_lift_the_asker_net(claim):
    # Diagnostic arm (added on the design block): the asker's program with dropout, but the
    # hidden delta gated by the true ReLU derivative, with and without biases.
    nets = _asker_nets(claim)
    ev = claim.record(ld.paired(nets["bias, true gradient"]["test acc"],
                                nets["no bias, true gradient"]["test acc"], alpha=ALPHA,
                                alternative="greater", margin=GAIN_MARGIN,
                                statistic="pseudo-median(test acc: bias - no bias), true ReLU "
                                "derivative"),
                      epochs=claim.choose(EPOCHS))
    assert ev.supported, ev
