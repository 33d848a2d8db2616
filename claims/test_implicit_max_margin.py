"""Gradient descent on the logistic loss of separable data converges in direction to the
hard-margin SVM, slowly; for a homogeneous ReLU net the normalised margin increases.

Claim   (A) Soudry et al.: "We show the predictor converges to the direction of the max-margin
        (hard margin SVM) solution ... Furthermore, we show this convergence is very slow, and
        only logarithmic in the convergence of the loss itself": w(t) = w_svm log t + O(1), so
        the angle between w(t) and the SVM direction falls like 1 / log t.
        (B) Lyu & Li: for homogeneous nets (bias-free ReLU) trained by gradient descent on the
        logistic loss, once the training loss is small "the normalized margin increases over
        time" (it converges to a KKT point of the margin-maximisation problem).
Source  Soudry, Hoffer, Nacson, Gunasekar & Srebro, "The Implicit Bias of Gradient Descent on
        Separable Data", JMLR 19 (2018), fig. 1: a synthetic 2-D data set whose max-margin
        vector is known: four support vectors x1 = (0.5, 1.5), x2 = (1.5, 0.5) (y = +1) and
        -x1, -x2 (y = -1), and 12 random points off the margin (6 per class); GD from the origin
        with step 1 / sigma_max(X)^2 (our reading of their step rule), 10^5 iterations on a
        log-scaled axis; the angle gap and the margin gap fall to 0 logarithmically (no number).
        Lyu & Li, "Gradient Descent Maximizes the Margin of Homogeneous Neural Networks",
        ICLR 2020 (MNIST / CIFAR-10 CNNs, constant step: the normalised margin keeps increasing
        after the data are fitted, "but the speed is very slow").
Method  (A) Soudry's data, per seed: the four support vectors and 12 random points, 6 of class +1
        drawn uniformly from [-1, 4]^2 conditioned on x_1 + x_2 > 2.5 (margin >= 1.77 along
        (1, 1), the support vectors' is sqrt(2)), and 6 of class -1 drawn the same way and
        negated. The max-margin direction is then (1, 1) / sqrt(2) exactly; scikit-learn's
        LinearSVC (hinge loss, no intercept, C = 10^6) is fitted per seed, checked to separate
        the data and to agree with it to 10^-3 rad. Linear model f(x) = w.x without bias, w(0) = 0,
        full-batch GD on the mean logistic loss with step N / sigma_max(X)^2 (the sum loss's
        1 / sigma_max^2), 10^5 steps (lowdim.engine.margin.homogeneous_gd, equal to lowdim.train's
        GD in tests/test_margin.py); angle theta(t) at t = 10^2, 10^3, 10^4, 10^5.
        (B) the same data; bias-free 2-20-1 ReLU net, PyTorch's default init, GD at step 0.5 on
        the mean logistic loss; normalised margin min_i y_i f(x_i) / |theta|^2 (f is
        2-homogeneous) at t = 10^3, 3 x 10^3, 10^4 (quick), 10^3, 10^4, 10^5 (full).
        Seeds: 60 (quick), 200 (full); see docs/claims/implicit-max-margin.md.
Test    alpha 0.01, per seed.
        (A) the angle falls over t = 10^2 .. 10^5 (Page's L, decreasing). Slowly: theta(10^5) /
        theta(10^4) > 0.5 (Wilcoxon on the per-seed ratio; a 1 / log t law gives 0.8, a rate
        like the loss's 1 / t gives 0.1). Like 1 / log t: theta(t) log t is the same at 10^4 and
        10^5 within a factor 1.22 (TOST on log(theta log t), margin 0.2).
        Added on the design block (before the reported seeds ran), where the 1 / log t test was
        refuted: what the angle does instead, theta(10^5) / theta(10^4) < log 4 / log 5 = 0.8
        (Wilcoxon), a decade shrinking it faster than the 1 / log t law.
        (B) the normalised margin increases over the three checkpoints (Page's L), on the seeds
        whose net classifies every point at the first checkpoint (Lyu & Li's premise).
Expect  written before the first run. (A) w(t) = w_svm log t + rho(t) with rho bounded and the
        support vectors spanning R^2, so the angle is ~ |rho_perp| / (|w_svm| log t): falling in
        every seed, by a factor ~0.8 per decade late on; the equivalence may fail if rho(t) is
        still moving at 10^4 (the non-support points' pull decays only like t^-0.25 here).
        (B) after fitting, the smoothed margin rises monotonically for gradient flow; with a small
        step GD follows it, so the normalised margin should rise in most seeds, slowly.
Known artefacts of the source
        Soudry's figure is one data set; its 12 random points are not given; GD's step and the
        loss normalisation (sum or mean) only rescale time.
Outcome (quick, seeds 0-59): the angle falls in every seed (Page p 5e-32), slowly:
        theta(10^5)/theta(10^4) = 0.539 [0.511, inf] (> 0.5, p 0.0035; < 0.8, p 1e-13); the
        1/log t law is refuted (xfail; log(theta log t) falls by 0.40 per decade); the net's
        normalised margin rises (p 3e-28). Full (seeds 0-199, net to 10^5 steps): the same,
        ratio 0.527 [0.511, inf] (p 1.5e-5), log(theta log t) -0.41 per decade, margin rise
        p 2.8e-89.

Design notes and history: docs/claims/implicit-max-margin.md
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import lowdim as ld

pytestmark = pytest.mark.claim(
    "implicit-max-margin",
    statement="GD on the logistic loss of separable data converges in direction to the "
              "hard-margin SVM, slowly (the angle falls like 1/log t); for a homogeneous ReLU "
              "net the normalised margin increases",
    source="Soudry et al. JMLR 2018 (fig. 1, synthetic 2-D data, 10^5 steps); Lyu & Li ICLR 2020",
)
ALPHA = 0.01
N_SEEDS = {"quick": 60, "full": 200}  # design block: docs/claims/implicit-max-margin.md
SUPPORT = np.array([[0.5, 1.5], [1.5, 0.5]])  # class +1; their negatives are class -1
N_RANDOM = 6  # per class, off the margin
W_SVM = np.array([1.0, 1.0]) / math.sqrt(2.0)
TIMES = (100, 1_000, 10_000, 100_000)
SLOW = 0.5  # theta(10^5) / theta(10^4) above this: slower than any power of t
RATE_MARGIN = 0.2  # |log(theta log t) at 10^5 - at 10^4| below this: the 1 / log t law
NET_WIDTH, NET_LR = 20, 0.5
NET_TIMES = {"quick": (1_000, 3_000, 10_000), "full": (1_000, 10_000, 100_000)}


def _points(rng) -> tuple[np.ndarray, np.ndarray]:
    def off_margin():
        out = []
        while len(out) < N_RANDOM:
            p = rng.uniform(-1.0, 4.0, 2)
            if p.sum() > 2.5:
                out.append(p)
        return np.array(out)

    pos = np.concatenate([SUPPORT, off_margin()])
    neg = -np.concatenate([SUPPORT, off_margin()])
    return np.concatenate([pos, neg]), np.repeat([1.0, 0.0], len(pos))[:, None]


def _data(seeds, key) -> ld.Data:
    return ld.per_seed(seeds, _points, key=key, dtype=torch.float64)


@ld.cached
def linear_angles(seeds: tuple[int, ...], key: str) -> dict:
    data = _data(seeds, key)
    x, y = data.x, data.y  # (S, 16, 2), (S, 16, 1)
    svm = np.stack([ld.max_margin_direction(x[i].numpy(), y[i, :, 0].numpy())
                    for i in range(len(seeds))])
    svm_off = ld.direction_angle(torch.tensor(svm)[..., None], np.broadcast_to(W_SVM, svm.shape))
    lr = x.shape[1] / torch.linalg.matrix_norm(x, ord=2) ** 2  # (S,) N / sigma_max(X)^2
    w0 = {"w0": torch.zeros(len(seeds), 2, 1, dtype=torch.float64)}
    out = ld.homogeneous_gd(w0, x, y, lr=lr, steps=TIMES[-1], record_at=TIMES)
    theta = np.stack([ld.direction_angle(out[t]["w0"], svm) for t in TIMES], 1)  # (S, len(TIMES))
    return {"theta": theta, "svm_off": svm_off}


@ld.cached
def net_margins(seeds: tuple[int, ...], key: str, times: tuple[int, ...]) -> dict:
    data = _data(seeds, key)
    model = ld.MLP((2, NET_WIDTH, 1), bias=False, activation="relu")
    params = model.init(seeds, key=key, dtype=torch.float64)
    out = ld.homogeneous_gd(params, data.x, data.y, lr=NET_LR, steps=times[-1], record_at=times)
    margins = np.stack([ld.normalized_margin(out[t], data.x, data.y) for t in times], 1)
    return {"margin": margins}


def _seeds(claim) -> tuple[int, ...]:
    return tuple(claim.seeds(claim.choose(N_SEEDS)))


def _theta(claim) -> np.ndarray:
    run = linear_angles(_seeds(claim), claim.id)
    assert (run["svm_off"] < 1e-3).all(), "LinearSVC's direction is not (1, 1)/sqrt(2)"
    return run["theta"]


def test_the_angle_to_the_svm_direction_falls_from_100_to_100000_steps(claim):
    theta = _theta(claim)
    ev = claim.record(ld.trend({t: theta[:, i] for i, t in enumerate(TIMES)},
                               alternative="decreasing", alpha=ALPHA,
                               statistic="change in angle (rad) per decade of steps"),
                      steps=list(TIMES), curves={"angle to the SVM direction": {
                          "x": list(TIMES), "y": theta, "xlabel": "GD steps t",
                          "ylabel": "angle (rad)", "yscale": "log"}})
    assert ev.supported, ev


def test_the_convergence_is_slow_the_angle_falls_by_less_than_half_in_the_last_decade(claim):
    theta = _theta(claim)
    ratio = theta[:, 3] / theta[:, 2]
    ev = claim.record(ld.location(ratio, threshold=SLOW, alpha=ALPHA,
                                  statistic="theta(10^5) / theta(10^4)"), steps=[10**4, 10**5])
    assert ev.supported, ev


@pytest.mark.xfail(strict=True, reason="the angle does not yet fall like 1/log t between 10^4 "
                   "and 10^5 steps on these data: it falls faster, as the pull of the points "
                   "off the margin still decays (like a power of t), so theta log t keeps "
                   "shrinking")
def test_the_angle_falls_like_one_over_log_t(claim):
    theta = _theta(claim)
    scaled = np.log(theta * np.log(np.array(TIMES, dtype=float)))  # log(theta(t) log t)
    ev = claim.record(ld.equivalence({"t = 10^5": scaled[:, 3], "t = 10^4": scaled[:, 2]},
                                     margin=RATE_MARGIN, alpha=ALPHA,
                                     statistic="log(theta log t), 10^5 minus 10^4"),
                      steps=[10**4, 10**5])
    assert ev.supported, ev


def test_in_the_last_decade_the_angle_falls_faster_than_one_over_log_t(claim):
    theta = _theta(claim)
    ev = claim.record(ld.location(theta[:, 3] / theta[:, 2], threshold=math.log(1e4) /
                                  math.log(1e5), alternative="less", alpha=ALPHA,
                                  statistic="theta(10^5) / theta(10^4)"), steps=[10**4, 10**5])
    assert ev.supported, ev


def test_the_normalised_margin_of_a_homogeneous_relu_net_increases(claim):
    times = claim.choose(NET_TIMES)
    margin = net_margins(_seeds(claim), claim.id, times)["margin"]
    fitted = margin[:, 0] > 0  # every point classified at the first checkpoint
    kept = np.where(fitted[:, None], margin, np.nan)  # the others are excluded, and counted
    ev = ld.trend({t: kept[:, i] for i, t in enumerate(times)}, alternative="increasing",
                  alpha=ALPHA, statistic="change in normalised margin per checkpoint",
                  nonfinite="exclude")
    ev = claim.record(ev, steps=list(times), width=NET_WIDTH, curves={
        "normalised margin": {"x": list(times), "y": margin[fitted], "xlabel": "GD steps t",
                              "ylabel": "min y f(x) / |theta|^2"}})
    assert ev.supported, ev
