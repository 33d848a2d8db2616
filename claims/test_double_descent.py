"""With noisy labels, min-norm random-features regression has a test-error peak where the number
of features reaches the number of training points; a well-tuned ridge penalty removes the peak.

Claim   (A) Belkin et al.: "increasing model capacity beyond the point of interpolation results
        in improved performance": the test risk of the minimum-norm random-features predictor
        rises as the number of features N approaches the number of training points n, peaks at
        the interpolation threshold N = n, and falls again for N > n ("double descent").
        (B) Nakkiran et al.: "optimally-tuned l2 regularization achieves monotonic test
        performance as we grow either the sample size or the model size", and "can mitigate
        double descent" for random features: with the tuned ridge penalty the peak is gone.
Source  Belkin, Hsu, Ma & Mandal, "Reconciling modern machine-learning practice and the classical
        bias-variance trade-off", PNAS 116 (2019), fig. 2: random Fourier features
        (Gaussian kernel) on an MNIST subset of n = 10^4, min-norm least squares; the squared
        and zero-one test losses peak sharply at N = 10^4 features and fall for N up to 6 x 10^4.
        Nakkiran, Venkat, Kakade & Ma, "Optimal regularization can mitigate double descent"
        (arXiv 2003.01897, 2020; ICLR 2021), fig. 1: isotropic linear regression in d = 500,
        noise sigma 0.5, where the unregularised risk is non-monotonic and the optimally tuned
        ridge's is monotonic; the same shown empirically for random ReLU features.
Method  Low-dimensional inputs instead of MNIST (the claim is about the feature count relative to
        n, not about images; in 2-D a seed's whole curve costs milliseconds): x ~ U[-1, 1]^2,
        target f(x) = sin(2 x_1) + cos(3 x_2), labels y = f(x) + N(0, 0.5^2) noise; n = 40
        training points (full: 100), 1,000 noisy validation points, 1,000 test points, fresh per
        seed. Random Fourier features sqrt(2) cos(x a + b), a ~ N(0, 2^2 I) (a Gaussian kernel
        of bandwidth 1/2, as Belkin's RFF), b ~ U[0, 2 pi), one draw of 16 n features per seed,
        nested (the model with N features uses the first N). Read-out: minimum-norm least
        squares (pseudo-inverse, float64; lowdim.engine.features.ridge_fit), and ridge with the
        penalty chosen per seed and per N from 10^-8 .. 10^2 (21 values, log-spaced) by the
        validation error (Nakkiran's "optimally tuned" takes the best penalty for the risk;
        1,000 validation points estimate it). N in {n/4, n/2, 3n/4, n, 2n, 4n, 16n}. Test
        error: mean squared error against the noise-free f on the test points.
        Seeds: 40 (quick), 200 (full); see docs/claims/double-descent.md.
Test    alpha 0.01, per seed; Page's L over the seeds (ld.trend).
        (A) rise: min-norm test error increases over N = n/2, 3n/4, n; fall: it decreases over
        N = n, 2n, 4n, 16n; peak: the error at N = n exceeds the error at N = 16n, paired
        Wilcoxon signed-rank on log10 errors, margin 1 (a peak at least ten times the
        over-parameterised error).
        Added on the design block (before the reported seeds ran): Belkin's fig. 2 ends below
        the classical sweet spot, so at N = 16 n the min-norm error is below the best error
        over N < n (paired Wilcoxon on log10 errors).
        (B) tuned ridge: test error decreases over N = n/4, n/2, 3n/4, n, 2n, 4n, 16n (monotone,
        no peak), and at N = n the tuned ridge beats min-norm (paired Wilcoxon).
Expect  written before the first run. Near N = n the n x N feature matrix is square and its
        smallest singular value is ~ 1/sqrt(n) of the typical one, so the min-norm solution
        fits the noise with huge coefficients: the error at N = n should be 10-1000x the error
        on either side, rising over n/2 .. n and falling over n .. 16n in nearly every seed. With
        the ridge tuned per N the noise is never interpolated at the threshold and extra
        features only refine the kernel approximation: a monotone decrease, though at large N
        the tuned curve flattens (the kernel limit), so the ordering of 4n vs 16n may be noisy
        per seed; Page's test over seven conditions should still decide.
Known artefacts of the source
        Belkin's MNIST figure is one run per N with independent feature draws; Nakkiran's
        "optimal" penalty is chosen on the population risk (an oracle); we choose it on a
        validation set, which is what a user can do.
Outcome (quick, seeds 0-39, n = 40) as expected: the min-norm error rises to N = n and falls
        beyond (Page p 2e-19, 5e-22), the peak is 10^1.93 times the error at 16 n, the tuned
        ridge falls monotonically and beats min-norm at N = n; refuted (xfail): at 16 n the
        min-norm error is 10^3.6 times the best under-parameterised one. Full (seeds 0-199,
        n = 100): the rise (p 3e-89), the fall (p 0.009) and ridge < min-norm at N = n hold;
        the min-norm error stays ~10^6-10^7 up to 16 n, so the tenfold peak is refuted (median
        log10 gap -0.21) and the tuned ridge does not fall with N (+0.0014 per step, highest at
        16 n): both xfail in the full profile.

Design notes and history: docs/claims/double-descent.md
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lowdim as ld

pytestmark = pytest.mark.claim(
    "double-descent",
    statement="with noisy labels the test error of min-norm random-features regression peaks "
              "where the number of features reaches the number of training points and falls "
              "beyond it; with a tuned ridge penalty the peak disappears",
    source="Belkin et al. PNAS 2019 (fig. 2: peak at N = n = 10^4 on MNIST); Nakkiran et al. "
           "2020 (optimal ridge: monotone test risk)",
)
ALPHA = 0.01
N_TRAIN = {"quick": 40, "full": 100}
N_SEEDS = {"quick": 40, "full": 200}  # design block: docs/claims/double-descent.md
N_VAL = N_TEST = 1000
NOISE = 0.5
SCALE = 2.0  # RFF frequencies a ~ N(0, SCALE^2 I): Gaussian kernel exp(-SCALE^2 |x - x'|^2 / 2)
RATIOS = (0.25, 0.5, 0.75, 1.0, 2.0, 4.0, 16.0)  # N / n
RIDGES = tuple(float(v) for v in np.logspace(-8, 2, 21))
CHUNK = 10  # seeds per closed-form batch (memory)
PEAK_MARGIN = 1.0  # log10 units: the peak is at least 10x the over-parameterised error


def _target(x: np.ndarray) -> np.ndarray:
    return np.sin(2 * x[:, 0]) + np.cos(3 * x[:, 1])


@ld.cached
def curves(seeds: tuple[int, ...], key: str, n: int) -> dict:
    """Per seed (S, len(RATIOS)) test MSE of the min-norm and the tuned-ridge read-outs, in
    chunks of seeds (a seed's numbers do not depend on its chunk; the float64 feature matrices
    of 200 seeds at 16 n = 1,600 features would hold GBs)."""
    parts = [_sweep(seeds[i:i + CHUNK], key, n) for i in range(0, len(seeds), CHUNK)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _sweep(seeds: tuple[int, ...], key: str, n: int) -> dict:
    def make(rng):
        def draw(m, noisy):
            x = rng.uniform(-1, 1, (m, 2))
            y = _target(x) + (rng.normal(0, NOISE, m) if noisy else 0.0)
            return x, y[:, None]

        x, y = draw(n, True)
        xv, yv = draw(N_VAL, True)
        xt, yt = draw(N_TEST, False)
        return np.concatenate([x, xv]), np.concatenate([y, yv]), xt, yt

    data = ld.per_seed(seeds, make, key=key, dtype=torch.float64)
    x, y = data.x[:, :n], data.y[:, :n]
    xv, yv = data.x[:, n:], data.y[:, n:]
    feats = ld.random_features(seeds, d=2, n_features=int(RATIOS[-1] * n), key=key,
                            kind="fourier", scale=SCALE)
    phi_all, phiv_all, phit_all = (ld.featurize(v, feats) for v in (x, xv, data.x_test))
    min_norm, tuned = [], []
    for r in RATIOS:
        m = int(r * n)
        phi, phiv, phit = phi_all[..., :m], phiv_all[..., :m], phit_all[..., :m]

        def err(coef, feats_, target):
            return ((feats_ @ coef - target) ** 2).mean(dim=(1, 2))  # (S,)

        min_norm.append(err(ld.ridge_fit(phi, y), phit, data.y_test))
        fits = [ld.ridge_fit(phi, y, lam) for lam in RIDGES]
        val = torch.stack([err(c, phiv, yv) for c in fits])  # (R, S)
        best = val.argmin(0)  # per seed
        test = torch.stack([err(c, phit, data.y_test) for c in fits])  # (R, S)
        tuned.append(test.gather(0, best[None])[0])
    return {"min_norm": torch.stack(min_norm, 1).numpy(), "tuned": torch.stack(tuned, 1).numpy()}


def _run(claim) -> tuple[dict, int]:
    n = claim.choose(N_TRAIN)
    seeds = tuple(claim.seeds(claim.choose(N_SEEDS)))
    return curves(seeds, claim.id, n), n


def _columns(table: np.ndarray, ratios) -> dict:
    return {f"N = {r:g} n": table[:, RATIOS.index(r)] for r in ratios}


def _curves(out: dict, n: int) -> dict:
    feats = [int(r * n) for r in RATIOS]
    return {arm: {"x": feats, "y": out[arm], "xlabel": "random features N",
                  "ylabel": "test MSE", "yscale": "log"} for arm in ("min_norm", "tuned")}


@pytest.mark.parametrize("part, ratios, direction", [
    pytest.param("rise", (0.5, 0.75, 1.0), "increasing", id="rise"),
    pytest.param("fall", (1.0, 2.0, 4.0, 16.0), "decreasing", id="fall"),
])
def test_min_norm_test_error_rises_to_the_interpolation_threshold_and_falls_beyond(
        claim, part, ratios, direction):
    out, n = _run(claim)
    ev = claim.record(ld.trend(_columns(out["min_norm"], ratios), alternative=direction,
                               alpha=ALPHA, statistic="change in test MSE per N step"),
                      part=part, n=n, features=[int(r * n) for r in ratios],
                      curves=_curves(out, n))
    assert ev.supported, ev


_FULL = "config.getoption('lowdim_profile') == 'full'"


@pytest.mark.xfail(_FULL, strict=True, reason="with n = 100 points in 2-D the min-norm "
                   "interpolant at 16 n features is as wild as at the threshold: the peak is not "
                   "ten times the over-parameterised error")
def test_the_peak_at_the_threshold_is_ten_times_the_overparameterised_error(claim):
    out, n = _run(claim)
    log = np.log10(out["min_norm"])
    ev = claim.record(ld.paired({"N = n": log[:, RATIOS.index(1.0)],
                                 "N = 16 n": log[:, RATIOS.index(16.0)]},
                                margin=PEAK_MARGIN, alpha=ALPHA,
                                statistic="log10 test MSE, N = n minus N = 16 n"), n=n)
    assert ev.supported, ev


@pytest.mark.xfail(strict=True, reason="in 2-D the second descent does not reach the classical "
                   "regime's error: min-norm interpolation of noisy labels with a smooth kernel "
                   "stays far worse at 16 n features than the best under-parameterised model")
def test_far_beyond_the_threshold_min_norm_beats_every_under_parameterised_model(claim):
    out, n = _run(claim)
    log = np.log10(out["min_norm"])
    under = log[:, [RATIOS.index(r) for r in RATIOS if r < 1.0]].min(1)
    ev = claim.record(ld.paired({"best N < n": under, "N = 16 n": log[:, RATIOS.index(16.0)]},
                                alpha=ALPHA, statistic="log10 test MSE, best N < n minus N = 16 n"),
                      n=n)
    assert ev.supported, ev


@pytest.mark.xfail(_FULL, strict=True, reason="with n = 100 the tuned ridge's test error does not "
                   "fall with the number of features: it is flat up to 4 n and higher at 16 n "
                   "(the penalty grid, capped at 10^2, may not reach the optimum there)")
def test_with_a_tuned_ridge_penalty_the_test_error_falls_monotonically_with_features(claim):
    out, n = _run(claim)
    ev = claim.record(ld.trend(_columns(out["tuned"], RATIOS), alternative="decreasing",
                               alpha=ALPHA, statistic="change in tuned-ridge test MSE per N step"),
                      n=n, features=[int(r * n) for r in RATIOS], curves=_curves(out, n))
    assert ev.supported, ev


def test_at_the_threshold_the_tuned_ridge_beats_min_norm(claim):
    out, n = _run(claim)
    i = RATIOS.index(1.0)
    ev = claim.record(ld.paired({"min-norm": out["min_norm"][:, i], "tuned ridge":
                                 out["tuned"][:, i]}, alpha=ALPHA,
                                statistic="test MSE at N = n, min-norm minus tuned ridge"), n=n)
    assert ev.supported, ev
