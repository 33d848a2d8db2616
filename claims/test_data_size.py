"""Does more data favour (deep) neural networks over SVMs and decision trees?

Claim   "The neural networks consistently perform better than SVMs and random forests across
        dataset size. The gap in performance increases as dataset size increases, at least until
        the accuracy of the neural networks begin to saturate ... However, with enough data, even
        SVMs have a respectable accuracy. Deep networks perform a little bit better than shallow
        networks." Hypothesis: "the accuracy of deep models will grow more than the non-deep
        models."
Source  seed 001 (AtomsOfDeepLearning notebook), experiment 3 "Does More Data Favor Deeper
        Neural Networks?"; no number given (a figure: mean test accuracy of 3 runs against n).
        The text says "random forests"; the code ran DecisionTreeClassifier().
Method  Per seed one draw of the notebook's mixture: d = 12, c ~ U[0,1)^{12x12}, cov = c^T c,
        5,000 points of N(0, cov) then 5,000 of N(s, cov), s_i = 1/(i+1); shuffled and split
        80/20 as train_test_split (8,000 train / 2,000 test), no feature scaling. For each n,
        every classifier is fitted on the first int(0.8 n) training rows and scored on all 2,000
        test points (the notebook's loop). Classifiers, scikit-learn defaults as the notebook
        used them: SVC() with RBF kernel, C = 1 and gamma = 'auto' = 1/12 (the default of the
        2018 scikit-learn the notebook ran; today's default 'scale' would be a different
        classifier), DecisionTreeClassifier(), MLPClassifier() (one hidden layer of 100 ReLU,
        Adam, max_iter 200) as "shallow", MLPClassifier(hidden_layer_sizes=(100, 100)) as
        "deep"; convergence warnings silenced as the notebook did. Two references the notebook
        did not have: a linear baseline (LinearDiscriminantAnalysis(), the plug-in of the
        Bayes rule for two Gaussians with a shared covariance) and the draw's exact Bayes
        accuracy Phi(Delta / 2), Delta^2 = s^T cov^-1 s. Each seed = one mixture draw
        (stream "data") + the classifiers' random_state (stream per classifier), the same
        random_state at every n. scikit-learn runs one fit at a time, single-threaded: nothing
        can be batched over seeds here, so seeds cost linearly.
        Sizes n: full profile the notebook's {20, 50, 100, 200, 500, 1000, 2000, 5000, 10000};
        the quick profile runs n in {20, 200, 500} (small and as large as CI affords: the MLPs
        and the RBF SVM on 8,000 points take seconds per fit), so in quick every statement
        "across dataset size" reads "across n in {20, 200, 500}", the gains run from 20 to 500,
        and the statements that need the notebook's largest n (the SVM's, the Bayes
        references) are skipped there.
Test    per seed test accuracy on the 2,000 test points; alpha 0.01, one-sided where directed:
        - NNs beat SVMs, and NNs beat trees, at every n: per n, Wilcoxon signed-rank of
          min(acc shallow, acc deep) - acc other > 0 (both networks must beat it).
        - the gap grows with n until the nets saturate: Page's L, increasing, of
          min(shallow, deep) - svm over the n <= N_SATURATED (see the constant: where the nets
          reach their plateau, read off the design block, not the reported seeds).
        - SVMs respectable with enough data: at n = 10,000, the SVM within 0.10 of the draw's
          Bayes accuracy, Wilcoxon of acc svm - Bayes > -0.10 (at most 1 test point in 10 more
          than the best possible classifier gets wrong). Set on the design block, before the
          reported run: a first choice, median SVM accuracy > 0.90, assumed Bayes accuracies
          near 1, but 5 of 12 design draws have a Bayes accuracy below 0.90, where no classifier
          can reach 0.90.
        - deep a little better than shallow: per seed the mean over n of acc deep - acc shallow,
          Wilcoxon > 0.
        - hypothesis, deep grows more: per seed gain = acc(largest n) - acc(smallest n) of the
          profile; Wilcoxon of gain deep - gain other > 0, for other in svm, tree, shallow.
        - references: at n = 10,000, shallow, deep and LDA each within 0.01 of the Bayes
          accuracy (Wilcoxon of acc - Bayes > -0.01; 20 of 2,000 test points); at the largest n
          of the profile, LDA no worse than the better net (Wilcoxon of acc LDA -
          max(shallow, deep) > -0.01).
        - negative control: the same pipeline on a draw with class_seps = 0 (no signal) at
          n = 50; every classifier's accuracy must be equivalent to chance, TOST of acc - 0.5
          within +-0.03 (3 binomial sds of a 2,000-point test set at 0.5).
Expect  (written before the first run on the reported seeds, after one cost-measuring seed of
        the design block) every classifier near chance at n = 20 (16 training points in 12
        dimensions), so the "better at every n" tests are inconclusive at n = 20 and supported
        from n = 50 on; trees stay far below the nets at every larger n (axis-aligned splits on a
        strongly correlated covariance). The NN - SVM gap grows up to ~1,000 then shrinks as the
        RBF SVM catches up (~0.95 at 10,000): the saturated trend supported, SVM respectable
        supported. Deep > shallow on average (it saturates earlier): supported. Deep gains more
        than tree and SVM (both start at chance, deep ends at ~1): supported; than shallow: both
        end near 1, inconclusive in full (it came out REFUTED in the first full run: the
        shallow net gains more, -0.015 [-0.0225, inf]; docs/claims/data-size.md). The nets and
        LDA reach Bayes within 0.01 at the largest n, LDA equivalent to the nets there (the
        Bayes boundary is linear: the nets' advantage is over the RBF SVM and the tree, not
        over a linear model). Control: all at chance.
Known artefacts of the source: 3 runs with unseeded fits (the classifier objects were reused,
        drawing from the global numpy RNG); one data set per run shared by all n, so the n are
        nested subsets, as here. The mixture's covariance c^T c of a uniform matrix is very
        ill-conditioned (one huge eigenvalue, several tiny ones) and the mean shift lies partly
        along the tiny ones: many draws are close to linearly separable (Bayes accuracy 1), others
        are not (as low as ~0.7), so "respectable" and "saturate" only make sense relative to
        each draw's Bayes accuracy.

Design notes and history: docs/claims/data-size.md
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.stats import norm

import lowdim as ld

pytestmark = pytest.mark.claim(
    "data-size",
    statement="neural networks beat SVMs and decision trees at every dataset size, the gap grows "
    "with n until the nets saturate, SVMs become respectable with enough data, deep nets are a "
    "little better than shallow ones and gain more with data",
    source="seed 001, experiment 3 (figure, no number)",
)

# 12 quick seeds decide the weakest quick call (deep > shallow over the quick n); full takes 40
# for its close calls, deep - shallow over all n and SVM - Bayes at 10,000 (power on a design
# block: docs/claims/data-size.md; the first full run decided SVM - Bayes, not deep - shallow).
N_SEEDS = {"quick": 12, "full": 40}
NS = {
    "quick": (20, 200, 500),
    "full": (20, 50, 100, 200, 500, 1000, 2000, 5000, 10000),
}
N_POINTS = 10_000  # the notebook's n_max: one draw per seed, every n a prefix of its train split
TEST_SIZE = 0.2
D = 12
CLASS_SEPS = tuple(1 / (i + 1) for i in range(D))
# "until the accuracy of the neural networks begin to saturate": on the design block the median
# of min(shallow, deep) is within 0.1 of its n = 10,000 plateau from n = 1000 on (within 0.01
# from 2000); the trend is tested over n <= 1000 (over n <= 2000 it decided as well there).
N_SATURATED = 1000
CONTROL_N = 50  # the no-signal draw is fitted at this n (40 points: cheap, any n would do)
RESPECTABLE = 0.10  # "respectable": SVM accuracy within 0.10 of the draw's Bayes accuracy
BAYES_MARGIN = 0.01  # "reaches the Bayes accuracy": within 20 of 2,000 test points
CHANCE_MARGIN = 0.03  # negative control: 3 binomial sds of a 2,000-point test set at 0.5
ALPHA = 0.01
CLASSIFIERS = ("svm", "tree", "shallow", "deep", "lda")


def _classifier(name: str, random_state: int):
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeClassifier

    if name == "svm":
        return SVC(gamma="auto")  # 2018 default: gamma = 1 / n_features
    if name == "tree":
        return DecisionTreeClassifier(random_state=random_state)
    if name == "shallow":
        return MLPClassifier(random_state=random_state)
    if name == "deep":
        return MLPClassifier(hidden_layer_sizes=(100, 100), random_state=random_state)
    return LinearDiscriminantAnalysis()


def _score(name: str, random_state: int, x, y, x_test, y_test) -> float:
    if np.unique(y).size < 2:  # a 16-point prefix can (rarely) hold one class: predict it
        return float(np.mean(y_test == y[0]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLPs stop at max_iter unconverged, as in the notebook
        clf = _classifier(name, random_state).fit(x, y)
    return float(clf.score(x_test, y_test))


@ld.cached
def _one_seed(seed: int, key: str, ns: tuple[int, ...], signal: bool):
    """One seed: test accuracy (len(ns),) per classifier, and the draw's Bayes accuracy."""
    seps = np.asarray(CLASS_SEPS) if signal else np.zeros(D)
    rng = ld.numpy_rng(key, seed, "data" if signal else "null-data")
    x, y, cov = ld.gaussian_mixture(rng, n_samples=N_POINTS, d=D, class_seps=seps,
                                    return_covariance=True)
    order = rng.permutation(N_POINTS)  # train_test_split: the first ceil(0.2 n) are the test set
    n_test = int(np.ceil(TEST_SIZE * N_POINTS))
    x_test, y_test = x[order[:n_test]], y[order[:n_test]]
    x_train, y_train = x[order[n_test:]], y[order[n_test:]]
    bayes = float(norm.cdf(np.sqrt(seps @ np.linalg.solve(cov, seps)) / 2))
    acc = {}
    for name in CLASSIFIERS:
        rs = ld.sklearn_state(key, seed, f"classifier-{name}")
        acc[name] = np.array([
            _score(name, rs, x_train[: int(n * (1 - TEST_SIZE))],
                   y_train[: int(n * (1 - TEST_SIZE))], x_test, y_test)
            for n in ns
        ])
    return acc, bayes


def _accuracies(claim, *, signal: bool = True, ns: tuple[int, ...] | None = None):
    """{classifier: (S, len(ns))} test accuracies and the Bayes accuracies (S,)."""
    ns = _ns(claim) if ns is None else ns
    seeds = claim.seeds(claim.choose(N_SEEDS))
    runs = [_one_seed(s, claim.id, ns, signal) for s in seeds]
    acc = {name: np.stack([r[0][name] for r in runs]) for name in CLASSIFIERS}
    return acc, np.array([r[1] for r in runs])


def _ns(claim) -> tuple[int, ...]:
    return NS[claim.profile]


def _skip_unless_largest_n(claim) -> None:
    if _ns(claim)[-1] != NS["full"][-1]:
        pytest.skip(f"needs the notebook's largest n ({NS['full'][-1]}): full profile only")


def _nets_min(acc) -> np.ndarray:
    return np.minimum(acc["shallow"], acc["deep"])  # (S, K): both networks must win


def pytest_generate_tests(metafunc):
    # The dataset sizes depend on the profile (--lowdim-profile), known at collection.
    if "n" in metafunc.fixturenames:
        metafunc.parametrize("n", NS[metafunc.config.getoption("lowdim_profile")])


def test_neural_networks_beat_svms_at_every_dataset_size(claim, n):
    acc, _ = _accuracies(claim)
    k = _ns(claim).index(n)
    ev = claim.record(ld.paired(_nets_min(acc)[:, k], acc["svm"][:, k], alternative="greater",
                                alpha=ALPHA, statistic=f"pseudo-median(min(acc shallow, deep) - "
                                                       f"acc svm), n={n}"))
    assert ev.supported, ev


def test_neural_networks_beat_decision_trees_at_every_dataset_size(claim, n):
    acc, _ = _accuracies(claim)
    k = _ns(claim).index(n)
    ev = claim.record(ld.paired(_nets_min(acc)[:, k], acc["tree"][:, k], alternative="greater",
                                alpha=ALPHA, statistic=f"pseudo-median(min(acc shallow, deep) - "
                                                       f"acc tree), n={n}"))
    assert ev.supported, ev


def test_the_gap_to_svms_grows_with_dataset_size_until_the_networks_saturate(claim):
    acc, _ = _accuracies(claim)
    ns = _ns(claim)
    keep = [k for k, n in enumerate(ns) if n <= N_SATURATED]
    gap = (_nets_min(acc) - acc["svm"])[:, keep]  # (S, K)
    ev = claim.record(ld.trend(gap, conditions=[ns[k] for k in keep], alternative="increasing",
                               alpha=ALPHA, statistic="change in min(acc nets) - acc svm per n "
                                                      "step, n <= saturation"))
    assert ev.supported, ev


def test_with_enough_data_even_svms_are_respectable(claim):
    _skip_unless_largest_n(claim)
    acc, bayes = _accuracies(claim)
    ev = claim.record(ld.location(acc["svm"][:, -1] - bayes, threshold=-RESPECTABLE,
                                  alternative="greater", alpha=ALPHA,
                                  statistic=f"median(acc svm - Bayes acc), n={_ns(claim)[-1]}"),
                      median_bayes_accuracy=float(np.median(bayes)))
    assert ev.supported, ev


@pytest.mark.xfail(strict=True, reason="deep networks are not shown to be better than shallow "
                   "ones: averaged over the dataset sizes the two MLPs differ by a small, "
                   "non-significant amount (deep is ahead at middle sizes only)")
def test_deep_networks_are_a_little_better_than_shallow_ones(claim):
    acc, _ = _accuracies(claim)
    ev = claim.record(ld.paired(acc["deep"].mean(1), acc["shallow"].mean(1), alternative="greater",
                                alpha=ALPHA, statistic="pseudo-median(mean over n of acc deep - "
                                                       "acc shallow)"))
    assert ev.supported, ev


@pytest.mark.parametrize("other", [
    pytest.param("svm", marks=pytest.mark.xfail(
        "config.getoption('lowdim_profile') == 'full'", strict=True,
        reason="over the notebook's whole range (20 to 10,000) the RBF SVM catches up: its gain "
               "matches the deep net's; deep gains more only up to the sizes the quick profile "
               "runs")),
    "tree",
    pytest.param("shallow", marks=pytest.mark.xfail(
        strict=True, reason="deep networks do not gain more than shallow ones: both start near "
                            "chance and end at the same plateau")),
])
def test_deep_networks_gain_more_accuracy_from_data_than_non_deep_models(claim, other):
    acc, _ = _accuracies(claim)
    ns = _ns(claim)
    gain = {name: acc[name][:, -1] - acc[name][:, 0] for name in ("deep", other)}
    ev = claim.record(ld.paired(gain["deep"], gain[other], alternative="greater", alpha=ALPHA,
                                statistic=f"pseudo-median(gain deep - gain {other}), "
                                          f"gain = acc(n={ns[-1]}) - acc(n={ns[0]})"))
    assert ev.supported, ev


@pytest.mark.parametrize("name", [
    "shallow",
    pytest.param("deep", marks=pytest.mark.xfail(
        strict=True, reason="the (100, 100) MLP is not shown to come within the margin of the "
                            "Bayes accuracy at 10,000 points: on the draws that are not "
                            "separable it ends slightly below the shallow net and LDA")),
    "lda",
])
def test_with_the_most_data_a_classifier_reaches_the_bayes_accuracy(claim, name):
    _skip_unless_largest_n(claim)
    acc, bayes = _accuracies(claim)
    ev = claim.record(ld.location(acc[name][:, -1] - bayes, threshold=-BAYES_MARGIN,
                                  alternative="greater", alpha=ALPHA,
                                  statistic=f"median(acc {name} - Bayes acc), n={_ns(claim)[-1]}"),
                      median_bayes_accuracy=float(np.median(bayes)))
    assert ev.supported, ev


def test_a_linear_model_is_no_worse_than_the_networks_at_the_largest_size(claim):
    # The Bayes boundary of two Gaussians with one covariance is linear: LDA is its plug-in.
    acc, _ = _accuracies(claim)
    best_net = np.maximum(acc["shallow"], acc["deep"])[:, -1]
    ev = claim.record(ld.paired(acc["lda"][:, -1], best_net, alternative="greater",
                                margin=-BAYES_MARGIN, alpha=ALPHA,
                                statistic=f"pseudo-median(acc lda - max(acc shallow, deep)), "
                                          f"n={_ns(claim)[-1]}"))
    assert ev.supported, ev


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_without_signal_every_classifier_is_at_chance(claim, name):
    acc, _ = _accuracies(claim, signal=False, ns=(CONTROL_N,))
    ev = claim.record(ld.equivalence(acc[name][:, 0] - 0.5, margin=CHANCE_MARGIN, alpha=ALPHA,
                                     statistic=f"pseudo-median(acc {name} - 0.5), no signal, "
                                               f"n={CONTROL_N}"))
    assert ev.supported, ev
