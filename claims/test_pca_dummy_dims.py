"""Unsupervised PCA before a small sigmoid net, with many useless (dummy) input dimensions.

Claim   "An unsupervised PCA step can provide significant improvement in downstream
        classification when the dimensionality is very large." ... "When the dimensionality
        increases beyond 100 (which, interestingly, is the number of data points in the dataset
        ...), the quality of classification drops significantly. In these cases, PCA to 5 or 10
        dimensions significantly improves downstream classification".
Source  seed 001 (AtomsOfDeepLearning notebook), experiment 6 "Does Unsupervised Feature
        Reduction Help or Hurt?"; no number given (a figure: mean test accuracy of 3 runs
        against the number of dummy dimensions).
Method  Per seed one draw of the notebook's mixture: d = 10, covariance_scale 0.2
        (c ~ 0.2 U[0,1)^{10x10}, cov = c^T c), 50 points of N(0, cov), 50 of N(1, cov) (class_seps
        1 in every dimension), shuffled and split 80/20 (80 train / 20 test). For each number D
        of dummy dimensions, as the notebook's code did (its run call passes noise_level=1, so the
        text's "very low random values" are U[0,1) values): D columns of U[0,1) appended to the
        train and the test points, then every point, all 10 + D columns, multiplied by one
        M ~ U[0,1)^{(10+D)x(10+D)} (called a rotation in the text; it is not one: all entries
        are positive, so it also adds a large common mode of size ~ D/4). Fresh dummies and M per
        D, the same mixture for every D of a seed. Arms: no PCA (the net sees the 10 + D mixed
        columns), or scikit-learn PCA(k, svd_solver="full") fitted on the 80 training points,
        k in {10, 5}; each arm also with the net's inputs standardised (per feature, train mean
        and sd, as StandardScaler; after PCA this whitens the k scores), the "with and without
        input standardisation" question. Net: k-100-100-2 sigmoid MLP, linear output, every
        layer biased, TF glorot on weights and biases (Init("xavier")); softmax cross-entropy
        (the notebook's loss), Adam lr 0.003, 500 full-batch steps; test accuracy on the 20
        test points. Seeds are batched, and so are conditions of one input width (every PCA 10
        arm, over D, standardised or not, and the control, in one batch; PCA 5 likewise; the
        no-PCA arms of a D with their standardised twin). Same data per seed in every arm;
        arms of a seed with the same input width start from the same init. Dummy dimensions
        D: full profile the notebook's {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000}, every
        arm at every D; quick {10, 100, 500}, so in quick "very large" and "beyond 100" are
        D = 500, and only the arms a quick test reads are trained (PCA 5 above 100, the
        standardised arms at 500; the standardised trend over D is full only). PCA to 1
        dimension, plotted by the notebook, enters no statement and is not run.
Test    per seed test accuracy (20 points); alpha 0.01, one-sided where directed:
        - "significant improvement when the dimensionality is very large": the PCA-10 gain
          acc(PCA 10) - acc(no PCA) rises with D, Page's L increasing over the profile's D; and at
          the largest D the gain is > 0 (part of the next item).
        - "drops significantly beyond 100": without PCA, for every D > 100 of the profile,
          Wilcoxon of acc(D = 100) - acc(D) > 0; and the no-PCA accuracy falls with D, Page's L
          decreasing over all D.
        - "PCA to 5 or 10 significantly improves" for D > 100: for every such D and k in {10, 5},
          Wilcoxon of acc(PCA k) - acc(no PCA) > 0.
        - standardisation (not the source's; asked for by the issue): at the largest D, does
          standardising the net's inputs alone lift the no-PCA accuracy (Wilcoxon std - raw > 0),
          and does PCA 10 still help once inputs are standardised (Wilcoxon > 0)? And does the
          standardised no-PCA accuracy still fall with D (Page's L decreasing)? Where PCA does
          not help, TOST of the two standardised arms within +-0.10 (2 of 20 test points).
        - negative control: a draw with class_seps 0 (no signal) at the largest D, PCA 10, the
          net: it cannot beat chance, Wilcoxon of median accuracy < 0.65 (0.5 + 3 of 20 test
          points; on the design block a 0.60 bound needed more seeds than quick affords:
          p=0.0099 with 16); a PCA arm that read the labels would score near 1 and fail it.
          (Not "PCA gain = 0 without signal": a net that predicts one class gets below 0.5 on
          this split, see the artefacts, so a PCA arm that merely fits noise can "gain" over it
          without any signal.)
Expect  (written before the first run) Without PCA the raw mixed inputs carry a common mode of
        size ~ D/4 that saturates the sigmoid layer: accuracy near the source's drop, falling with
        D, far lower at D >= 200 than at D = 100. PCA centres the data and keeps the directions
        of largest variance; with all-positive M those include the class signal, so PCA 10 and 5
        beat no PCA by a wide margin for D > 100, and the gain rises with D: all supported.
        Standardising the inputs alone removes the common mode and the scale, so it lifts the
        no-PCA accuracy at D = 1000 clearly (supported); PCA 10 then still helps (80 points in
        1,010 correlated dimensions) but less: uncertain. The no-signal control sits at or
        below chance: supported.
Known artefacts of the source: 3 runs, unseeded TF init; only 20 test points per run, so one
        run's accuracy moves in steps of 0.05. Its loop overwrites X_train with the PCA scores,
        so PCA 5 was fitted on the PCA 10 scores and PCA 1 on the PCA 5 scores; the PCA of
        PCA scores keeps the leading scores up to sign, so this equals PCA fitted on the mixed
        data up to a sign per column (the Xavier init is sign-symmetric): harmless, and not
        reproduced here. The "rotation" is a random positive matrix, not orthogonal. The 100
        points are exactly 50/50 and the split is random, so the training majority class is the
        test minority: a net that predicts one class everywhere (a saturated sigmoid layer does)
        scores below 0.5 on average, which pulls the no-PCA curve under chance.

Design notes and history: docs/claims/pca-dummy-dims.md
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import norm

import lowdim as ld

pytestmark = pytest.mark.claim(
    "pca-dummy-dims",
    statement="beyond ~100 dummy dimensions (the number of points) a small net's accuracy drops "
    "significantly; PCA to 5 or 10 dimensions then significantly improves it",
    source="seed 001, experiment 6 (figure, no number)",
)

# The weakest quick decision is the drop beyond 100 (D = 500 vs 100, no PCA), whose seeds either
# drop or tie, and a few seeds tie or drop depending on the CPU's float rounding. 24 quick seeds
# decide it with a margin of 2 such seeds with probability 0.999 (a fresh design block, seeds
# 200000-200063: 42 drops, 22 ties, 0 rises), so the verdict holds on every CPU kind; quick
# stops at D = 500, where the no-PCA net already predicts one class
# (docs/claims/pca-dummy-dims.md).
N_SEEDS = {"quick": 24, "full": 100}
DUMMY_DIMS = {
    "quick": (10, 100, 500),
    "full": (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000),
}
N_POINTS = 100
TEST_SIZE = 0.2
D_SIGNAL = 10
COVARIANCE_SCALE = 0.2
NOISE_LEVEL = 1.0  # the notebook's run(noise_level=1): dummies ~ U[0, 1)
N_DATA = 100  # "beyond 100 (the number of data points)"
SAME_MARGIN = 0.10  # "alike": within 2 of 20 test points
CONTROL_MARGIN = 0.15  # 3 of 20 test points (1.3 binomial sds of a 20-point accuracy at 0.5)
ARMS = ("none", "pca10", "pca5", "std-none", "std-pca10")
CONTROL_ARMS = ("pca10",)
CONFIG = ld.TrainConfig(steps=500, optimizer="adam", lr=0.003, batch_size=None,
                        loss="cross_entropy", record_every=0)
ALPHA = 0.01


def _dims(claim) -> tuple[int, ...]:
    return DUMMY_DIMS[claim.profile]


def _seeds(claim) -> tuple[int, ...]:
    return tuple(claim.seeds(claim.choose(N_SEEDS)))


def _features(seed: int, key: str, n_dummy: int, signal: bool) -> dict:
    """One seed at one D: per arm (x_train (80, k), x_test (20, k)), labels and Bayes accuracy."""
    from sklearn.decomposition import PCA

    rng = ld.numpy_rng(key, seed, "data" if signal else "null-data")
    x, y, cov = ld.gaussian_mixture(rng, n_samples=N_POINTS, d=D_SIGNAL,
                                    class_seps=1.0 if signal else 0.0,
                                    covariance_scale=COVARIANCE_SCALE, return_covariance=True)
    order = rng.permutation(N_POINTS)  # train_test_split: the first ceil(0.2 n) are the test set
    n_test = int(np.ceil(TEST_SIZE * N_POINTS))
    te, tr = order[:n_test], order[n_test:]
    seps = np.full(D_SIGNAL, 1.0 if signal else 0.0)
    bayes = float(norm.cdf(np.sqrt(seps @ np.linalg.solve(cov, seps)) / 2))

    # Dummies and the mixing matrix: a stream per D, so the mixture is the same at every D.
    mix = ld.numpy_rng(key, seed, f"dummies-{n_dummy}")
    x_tr = np.concatenate([x[tr], NOISE_LEVEL * mix.random((tr.size, n_dummy))], axis=1)
    x_te = np.concatenate([x[te], NOISE_LEVEL * mix.random((te.size, n_dummy))], axis=1)
    m = mix.random((D_SIGNAL + n_dummy, D_SIGNAL + n_dummy))
    x_tr, x_te = x_tr @ m, x_te @ m  # (80, 10 + D), (20, 10 + D)

    arms = {"none": (x_tr, x_te)}
    for k in (10, 5):
        pca = PCA(n_components=k, svd_solver="full").fit(x_tr)
        arms[f"pca{k}"] = (pca.transform(x_tr), pca.transform(x_te))
    for name in ("none", "pca10"):
        a, b = arms[name]
        mean, sd = a.mean(0), a.std(0)  # StandardScaler: population sd of the training points
        sd = np.where(sd > 0, sd, 1.0)
        arms["std-" + name] = ((a - mean) / sd, (b - mean) / sd)
    return {"arms": arms, "y": (y[tr], y[te]), "bayes": bayes}


def _conditions(profile: str) -> list[tuple[int, str, bool]]:
    """The (D, arm, signal) conditions a profile trains: every arm at every D in full; in quick
    only those a quick test reads (PCA 5 above 100, the standardised arms at the largest D)."""
    dims = DUMMY_DIMS[profile]
    out = []
    for n in dims:
        arms = ARMS if profile == "full" else (
            ("none", "pca10") + (("pca5",) if n > N_DATA else ())
            + (("std-none", "std-pca10") if n == dims[-1] else ()))
        out += [(n, arm, True) for arm in arms]
    return out + [(dims[-1], arm, False) for arm in CONTROL_ARMS]


def _train_group(xs, ys, seeds, key, device) -> list[np.ndarray]:
    """Train one k-100-100-2 net per (condition, seed) in one batch; test accuracy per condition.

    xs: per condition (x_train (S, 80, k), x_test (S, 20, k)), all the same k; ys: per condition
    (y_train (S, 80), y_test (S, 20)). Conditions of one input width are stacked on the seed
    axis (C * S nets): exact, since the nets never interact. Every condition starts from the
    seeds' own init (the same init in every arm of a seed). A full-batch, dropout-free run
    draws no per-seed randomness inside train(), so its seed list only sizes the batch here.
    """
    c, s = len(xs), len(seeds)
    model = ld.MLP((xs[0][0].shape[-1], 100, 100, 2), activation="sigmoid",
                   weight_init=ld.Init("xavier"))
    init = model.init(list(seeds), key=key)  # each (S, ...)
    params = {name: t.repeat(c, *([1] * (t.dim() - 1))) for name, t in init.items()}  # (C*S, ...)
    data = ld.Data(torch.cat([x[0] for x in xs]), torch.cat([y[0] for y in ys]))
    result = ld.train(model, data, CONFIG, seeds=list(range(c * s)), key=key, params=params,
                      device=device)
    acc = ld.accuracy(result.predict(torch.cat([x[1] for x in xs])),
                      torch.cat([y[1] for y in ys]))  # (C*S,)
    return [acc[i * s:(i + 1) * s] for i in range(c)]


@ld.cached
def _accuracies(seeds: tuple[int, ...], device: str, key: str, profile: str) -> dict:
    """{(D, arm, signal): test accuracy (S,)} for every condition of the profile, and
    {(D, signal): Bayes accuracy (S,)}."""
    conditions = _conditions(profile)
    pending: dict[int, list] = {}  # input width -> [(condition, (x_tr, x_te), (y_tr, y_te))]
    acc, bayes = {}, {}
    for n, signal in dict.fromkeys((n, sig) for n, _, sig in conditions):
        per_seed = [_features(seed, key, n, signal) for seed in seeds]
        ys = (torch.as_tensor(np.stack([p["y"][0] for p in per_seed])),  # (S, 80)
              torch.as_tensor(np.stack([p["y"][1] for p in per_seed])))  # (S, 20)
        bayes[(n, signal)] = np.array([p["bayes"] for p in per_seed])
        for cond in conditions:
            if cond[0] == n and cond[2] == signal:
                x = tuple(torch.as_tensor(np.stack([p["arms"][cond[1]][i] for p in per_seed]),
                                          dtype=torch.float32) for i in (0, 1))  # (S, 80|20, k)
                pending.setdefault(x[0].shape[-1], []).append((cond, x, ys))
        # The no-PCA arms (width 10 + D) occur at this D only: train them now, freeing memory;
        # the PCA arms (width 10 or 5) wait to be trained across every D in one batch.
        for width in [w for w in pending if w not in (10, 5)]:
            _flush(pending.pop(width), seeds, key, device, acc)
    for group in pending.values():
        _flush(group, seeds, key, device, acc)
    return acc, bayes


def _flush(group, seeds, key, device, acc: dict) -> None:
    accs = _train_group([g[1] for g in group], [g[2] for g in group], seeds, key, device)
    acc.update({g[0]: a for g, a in zip(group, accs, strict=True)})


def _acc(claim, arm: str, n_dummy: int, signal: bool = True) -> np.ndarray:
    acc, _ = _accuracies(_seeds(claim), claim.device, claim.id, claim.profile)
    return acc[(n_dummy, arm, signal)]


def _table(claim, arm: str) -> np.ndarray:
    """(S, K) accuracy of one arm over the profile's dummy dimensions."""
    return np.stack([_acc(claim, arm, n) for n in _dims(claim)], axis=1)


def pytest_generate_tests(metafunc):
    # The dummy dimensions above the number of points depend on the profile.
    if "n_dummy" in metafunc.fixturenames:
        dims = DUMMY_DIMS[metafunc.config.getoption("lowdim_profile")]
        metafunc.parametrize("n_dummy", [n for n in dims if n > N_DATA])


def test_the_gain_from_pca_grows_with_the_dimensionality(claim):
    gain = _table(claim, "pca10") - _table(claim, "none")  # (S, K)
    ev = claim.record(ld.trend(gain, conditions=_dims(claim), alternative="increasing",
                               alpha=ALPHA, statistic="change in acc PCA 10 - acc no PCA "
                                                      "per D step"))
    assert ev.supported, ev


def test_without_pca_accuracy_falls_as_dummy_dimensions_are_added(claim):
    ev = claim.record(ld.trend(_table(claim, "none"), conditions=_dims(claim),
                               alternative="decreasing", alpha=ALPHA,
                               statistic="change in acc no PCA per D step"))
    assert ev.supported, ev


def test_beyond_100_dimensions_accuracy_drops_significantly(claim, n_dummy):
    ev = claim.record(ld.paired(_acc(claim, "none", N_DATA), _acc(claim, "none", n_dummy),
                                alternative="greater", alpha=ALPHA,
                                statistic=f"pseudo-median(acc D={N_DATA} - acc D={n_dummy}), "
                                          "no PCA"))
    assert ev.supported, ev


@pytest.mark.parametrize("k", [10, 5])
def test_beyond_100_dimensions_pca_to_5_or_10_improves_classification(claim, n_dummy, k):
    ev = claim.record(ld.paired(_acc(claim, f"pca{k}", n_dummy), _acc(claim, "none", n_dummy),
                                alternative="greater", alpha=ALPHA,
                                statistic=f"pseudo-median(acc PCA {k} - acc no PCA), "
                                          f"D={n_dummy}"))
    assert ev.supported, ev


def test_standardising_the_inputs_lifts_accuracy_without_pca(claim):
    n = _dims(claim)[-1]
    ev = claim.record(ld.paired(_acc(claim, "std-none", n), _acc(claim, "none", n),
                                alternative="greater", alpha=ALPHA,
                                statistic=f"pseudo-median(acc standardised - acc raw), no PCA, "
                                          f"D={n}"))
    assert ev.supported, ev


@pytest.mark.xfail(strict=True, reason="once the net's inputs are standardised, PCA to 10 "
                   "dimensions no longer improves classification: the no-PCA net recovers on "
                   "its own, so the source's PCA gain is a gain over badly scaled raw inputs")
def test_with_standardised_inputs_pca_still_improves_classification(claim):
    n = _dims(claim)[-1]
    ev = claim.record(ld.paired(_acc(claim, "std-pca10", n), _acc(claim, "std-none", n),
                                alternative="greater", alpha=ALPHA,
                                statistic=f"pseudo-median(acc PCA 10 - acc no PCA), both "
                                          f"standardised, D={n}"))
    assert ev.supported, ev


def test_with_standardised_inputs_pca_and_no_pca_classify_alike(claim):
    # What holds where the test above fails: with standardised inputs the two arms are within
    # 2 of 20 test points of each other.
    n = _dims(claim)[-1]
    ev = claim.record(ld.equivalence(_acc(claim, "std-pca10", n), _acc(claim, "std-none", n),
                                     margin=SAME_MARGIN, alpha=ALPHA,
                                     statistic=f"pseudo-median(acc PCA 10 - acc no PCA), both "
                                               f"standardised, D={n}"))
    assert ev.supported, ev


def test_with_standardised_inputs_accuracy_still_falls_with_dummy_dimensions(claim):
    if claim.profile != "full":
        pytest.skip("standardised arms at every D run in the full profile only")
    ev = claim.record(ld.trend(_table(claim, "std-none"), conditions=_dims(claim),
                               alternative="decreasing", alpha=ALPHA,
                               statistic="change in acc no PCA per D step, standardised"))
    assert ev.supported, ev


def test_without_signal_pca_and_a_net_stay_at_chance(claim):
    # Negative control: with class_seps 0 no pipeline can beat chance; a PCA arm that did would
    # be reading the labels somewhere.
    n = _dims(claim)[-1]
    acc = _acc(claim, "pca10", n, signal=False)
    ev = claim.record(ld.location(acc, threshold=0.5 + CONTROL_MARGIN, alternative="less",
                                  alpha=ALPHA, statistic=f"median acc PCA 10, no signal, D={n}"))
    assert ev.supported, ev
