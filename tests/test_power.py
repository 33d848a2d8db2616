"""lowdim.power: fragility against brute force, seeds-to-decide against exact power, the report.

Flip counts are checked against exhaustive search (every subset of seeds reflected, for small n:
the greedy count must be the minimum), and against a full scan of the path; the verdict helpers
against the public decision functions; the exact binomial seed count against power summed by
hand; the normal approximations against scipy's own.
"""

import itertools
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

import lowdim as ld
from lowdim import Verdict
from lowdim.stats import fragility as fr
from lowdim.stats import power as pw
from lowdim.stats.sequential import sequential_proportion

ALPHA = 0.01
PROPERTY = settings(max_examples=25, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


def flags_with(k, n):
    return np.arange(n) < k


# ------------------------------------------------------------------------------------------
# fragility


def brute_proportion_flips(k, n, threshold, alternative):
    """Fewest flag flips that change ld.proportion's verdict, by trying every k'."""
    v0 = ld.proportion(flags_with(k, n), threshold=threshold, alternative=alternative).verdict
    best = None
    for kk in range(n + 1):
        v = ld.proportion(flags_with(kk, n), threshold=threshold, alternative=alternative).verdict
        if v is not v0 and (best is None or abs(kk - k) < best):
            best = abs(kk - k)
    return best


@pytest.mark.parametrize("k, n, threshold, alternative, flips, to", [
    (19, 20, 0.5, "greater", 4, "INCONCLUSIVE"),  # 15 of 20 is no longer enough at 0.01
    (13, 20, 0.5, "greater", 3, "SUPPORTED"),
    (2, 20, 0.5, "greater", 3, "INCONCLUSIVE"),  # REFUTED up to 4 of 20: P(X <= 4) < 0.01
    (3, 5, 0.5, "greater", None, None),  # 5 seeds can never decide at 0.01
])
def test_proportion_flips_by_hand(k, n, threshold, alternative, flips, to):
    f = pw.fragility(ld.proportion(flags_with(k, n), threshold=threshold,
                                   alternative=alternative))
    assert (f["flips"], f["flips_to"]) == (flips, to)
    assert f["flips"] == brute_proportion_flips(k, n, threshold, alternative)


@settings(PROPERTY, max_examples=15)
@given(n=st.integers(1, 25), data=st.data(), threshold=st.floats(0.1, 0.9),
       alternative=st.sampled_from(["greater", "less", "two-sided"]))
def test_property_proportion_flips_are_the_fewest(n, data, threshold, alternative):
    k = data.draw(st.integers(0, n))
    ev = ld.proportion(flags_with(k, n), threshold=threshold, alternative=alternative)
    assert pw.fragility(ev)["flips"] == brute_proportion_flips(k, n, threshold, alternative)


def wilcoxon_min_reflections(x, alpha, alternative):
    """Fewest seeds whose x is reflected (x -> -x) to change the verdict: every subset."""
    v0 = fr.wilcoxon_verdict(x, alpha, alternative)
    for size in range(1, x.size + 1):
        for idx in itertools.combinations(range(x.size), size):
            y = x.copy()
            y[list(idx)] *= -1
            if fr.wilcoxon_verdict(y, alpha, alternative) is not v0:
                return size
    return None


@settings(PROPERTY, max_examples=12)
@given(mags=st.lists(st.integers(1, 30), min_size=5, max_size=9, unique=True), data=st.data(),
       alternative=st.sampled_from(["greater", "less", "two-sided"]))
def test_property_wilcoxon_greedy_reflections_are_the_minimum(mags, data, alternative):
    signs = data.draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=len(mags),
                               max_size=len(mags)))
    x = np.array(mags, dtype=float) * signs
    ev = ld.location(x + 0.25, threshold=0.25, alpha=0.05, alternative=alternative)
    assert pw.fragility(ev)["flips"] == wilcoxon_min_reflections(x, 0.05, alternative)


def test_paired_wilcoxon_and_location_flips_agree_and_are_verified():
    rng = np.random.default_rng(3)
    d = rng.normal(1.0, 1.0, 25)
    f = pw.fragility(ld.paired(d + 2.0, np.full(25, 2.0)))
    assert f == pw.fragility(ld.location(d, threshold=0.0))
    # reflecting the f["flips"] largest positive seeds changes the verdict, one fewer does not
    order = np.argsort(-np.where(d > 0, d, -np.inf))
    for j, changed in ((f["flips"], True), (f["flips"] - 1, False)):
        y = d.copy()
        y[order[:j]] *= -1
        assert (ld.location(y, threshold=0.0).verdict is not Verdict.SUPPORTED) is changed


def test_sign_flips_leave_ties_alone():
    a = np.r_[np.ones(14), -np.ones(1), np.zeros(5)]
    ev = ld.paired(a, np.zeros(20), test="sign")  # 14 of 15 untied positive
    f = pw.fragility(ev)
    assert ev.verdict is Verdict.SUPPORTED and f["flips_to"] == "INCONCLUSIVE"
    k = 14 - f["flips"]
    assert stats.binomtest(k, 15, 0.5, alternative="greater").pvalue >= ALPHA
    assert stats.binomtest(k + 1, 15, 0.5, alternative="greater").pvalue < ALPHA


def test_trend_and_equivalence_flips_change_the_verdict():
    rng = np.random.default_rng(0)
    table = 0.6 * np.arange(4) + rng.normal(size=(15, 4))
    ev = ld.trend(table)
    f = pw.fragility(ev)
    assert ev.verdict is Verdict.SUPPORTED and f["flips"] >= 1
    order = np.argsort(-np.asarray(ev.values), kind="stable")
    t = table.copy()
    t[order[: f["flips"]]] = t[order[: f["flips"]], ::-1]
    assert ld.trend(t).verdict.value == f["flips_to"]
    eq = ld.equivalence(rng.normal(0, 0.2, 30), margin=0.5)
    fe = pw.fragility(eq)
    assert eq.verdict is Verdict.SUPPORTED and fe["flips"] >= 1 and fe["flips_to"] != "SUPPORTED"
    assert pw.fragility(ld.equivalence(rng.normal(0, 1, 8), margin=0.1))["flips"] is None


def test_log10_distance_uses_the_p_behind_the_verdict():
    sup = ld.proportion(flags_with(19, 20), threshold=0.5)
    assert pw.log10_p_alpha(sup) == pytest.approx(np.log10(sup.p / ALPHA))
    ref = ld.proportion(flags_with(1, 20), threshold=0.5)
    assert pw.log10_p_alpha(ref) == pytest.approx(np.log10(ref.p_opposite / ALPHA))
    assert pw.log10_p_alpha(ref) < 0
    assert pw.log10_p_alpha(ld.proportion(flags_with(11, 20), threshold=0.5)) > 0


# ------------------------------------------------------------------------------------------
# the verdict helpers are the public functions' decisions


@PROPERTY
@given(x=st.lists(st.integers(-6, 6).map(float), min_size=1, max_size=16),
       alternative=st.sampled_from(["greater", "less", "two-sided"]))
def test_property_verdict_helpers_match_the_public_functions(x, alternative):
    x = np.array(x)
    assert fr.wilcoxon_verdict(x, ALPHA, alternative) is ld.paired(
        x, np.zeros(x.size), alpha=ALPHA, alternative=alternative).verdict
    sign = ld.paired(x, np.zeros(x.size), test="sign", alternative=alternative)
    k, m = sign.details["n_pos"], sign.details["n_pos"] + sign.details["n_neg"]
    assert fr.binomial_verdict(k, m, 0.5, ALPHA, alternative) is sign.verdict


@settings(PROPERTY, max_examples=15)
@given(d=st.lists(st.integers(-8, 8).map(lambda v: v / 4), min_size=1, max_size=16),
       margin=st.sampled_from([0.25, 0.5, 1.0]))
def test_property_tost_verdict_helper_matches_equivalence(d, margin):
    d = np.array(d)
    assert fr.tost_verdict(d, margin, ALPHA) is ld.equivalence(d, margin=margin).verdict


def test_page_verdict_helper_matches_trend():
    rng = np.random.default_rng(1)
    for slope in (0.0, 0.4, -0.4, 1.0):
        t = slope * np.arange(4) + rng.normal(size=(10, 4))
        for alt in ("increasing", "decreasing"):
            assert fr.page_verdict(t, ALPHA, alt) is ld.trend(t, alternative=alt).verdict


# ------------------------------------------------------------------------------------------
# seeds to decide


def exact_power(n, p0, rate, alternative="greater", scipy_test=False):
    """P(reject) summed over the outcomes; the one-sided binomial p by its tail sum, or (slower)
    by scipy's binomtest."""
    ks = np.arange(n + 1)
    if scipy_test:
        p = np.array([stats.binomtest(int(k), n, p0, alternative=alternative).pvalue for k in ks])
    else:
        p = stats.binom.sf(ks - 1, n, p0) if alternative == "greater" else stats.binom.cdf(ks, n, p0)
    return float(stats.binom.pmf(ks, n, rate)[p < ALPHA].sum())


@pytest.mark.parametrize("k, n, threshold", [(13, 20, 0.5), (8, 12, 0.4), (26, 30, 0.75)])
def test_proportion_seeds_to_decide_is_the_exact_smallest_n(k, n, threshold):
    ev = ld.proportion(flags_with(k, n), threshold=threshold)
    assert ev.verdict is Verdict.INCONCLUSIVE
    s = pw.seeds_to_decide(ev)
    n2, rate = s["seeds"], k / n
    assert s["toward"] == "SUPPORTED" and n2 > n
    assert exact_power(n2, threshold, rate) >= 0.8 > max(
        exact_power(m, threshold, rate) for m in range(n, n2))
    assert s["power"] == pytest.approx(exact_power(n2, threshold, rate, scipy_test=True), abs=1e-4)


def test_seeds_to_decide_leans_the_way_of_the_observed_effect():
    ev = ld.proportion(flags_with(7, 20), threshold=0.5)  # INCONCLUSIVE, leaning below
    s = pw.seeds_to_decide(ev)
    assert s["toward"] == "REFUTED" and s["seeds"] == next(
        m for m in range(20, 400) if exact_power(m, 0.5, 0.35, "less") >= 0.8)
    assert pw.seeds_to_decide(ld.proportion(flags_with(10, 20), threshold=0.5)) is None
    assert pw.seeds_to_decide(ld.proportion(flags_with(20, 20), threshold=0.5)) is None  # decided
    tiny = pw.seeds_to_decide(ld.proportion(flags_with(11, 20), threshold=0.5), max_seeds=100)
    assert tiny["seeds"] is None and tiny["power"] < 0.8 and tiny["max_seeds"] == 100


def test_sign_seeds_to_decide_without_ties_is_the_binomial_answer():
    a = np.r_[np.ones(13), -np.ones(7)]
    via_sign = pw.seeds_to_decide(ld.paired(a, np.zeros(20), test="sign"))
    via_prop = pw.seeds_to_decide(ld.proportion(a > 0, threshold=0.5))
    assert via_sign["seeds"] == via_prop["seeds"]
    # ties dilute: a third of the seeds tied needs about 3/2 as many seeds
    tied = pw.seeds_to_decide(ld.paired(np.r_[a, np.zeros(10)], np.zeros(30), test="sign"))
    assert 1.3 * via_prop["seeds"] < tied["seeds"] < 1.7 * via_prop["seeds"]


def test_signed_rank_z_is_scipys_normal_approximation():
    x = np.array([1.0, -2, 3, 3, 4, -5, 6, 0, -3, 7, 2, 2])
    z = pw._z_signed_rank(np.ones((1, x.size)), x)[0]
    assert abs(z) == pytest.approx(abs(stats.wilcoxon(x, method="approx").zstatistic))
    counts = np.array([[2, 0, 1, 1, 1, 1, 1, 0, 1, 1, 2, 1]])  # a resample, as counts
    z2 = pw._z_signed_rank(counts, x)[0]
    resample = np.repeat(x, counts[0])
    ref = stats.wilcoxon(resample, method="approx", alternative="greater")
    assert stats.norm.sf(z2) == pytest.approx(ref.pvalue)


def test_rank_test_seeds_to_decide_is_deterministic_and_shrinks_with_the_effect():
    rng = np.random.default_rng(5)
    noise = rng.normal(size=20)
    seeds = []
    for shift in (0.35, 0.5):
        ev = ld.location(noise + shift, threshold=0.0)
        if ev.verdict is Verdict.INCONCLUSIVE:
            s = pw.seeds_to_decide(ev)
            assert s == pw.seeds_to_decide(ev) and s["toward"] == "SUPPORTED"
            seeds.append(s["seeds"])
    assert len(seeds) == 2 and seeds[0] > seeds[1] > 20
    page = ld.trend(0.15 * np.arange(4) + rng.normal(size=(10, 4)))
    if page.verdict is Verdict.INCONCLUSIVE:
        assert pw.seeds_to_decide(page)["seeds"] > 10


# ------------------------------------------------------------------------------------------
# rows of the report


def evidence_of_every_kind():
    rng = np.random.default_rng(7)
    a, b = rng.normal(0.4, 1, 16), np.zeros(16)
    return [
        ld.proportion(flags_with(12, 20), threshold=0.5),
        ld.proportion(flags_with(17, 20), threshold=0.5, alternative="two-sided"),
        ld.paired(a, b), ld.paired(a, b, test="sign", alternative="less"),
        ld.paired(a, a), ld.location(a, threshold=0.1, alternative="two-sided"),
        ld.trend(0.2 * np.arange(4) + rng.normal(size=(9, 4))),
        ld.equivalence(a, b, margin=0.5),
        sequential_proportion(flags_with(12, 20), threshold=0.5),
    ]


@pytest.mark.parametrize("ev", evidence_of_every_kind(), ids=lambda ev: ev.test)
def test_row_figures_are_plain_json_and_equal_for_evidence_and_its_dict(ev):
    d = json.loads(json.dumps(ev.to_dict(), allow_nan=False))
    figures = pw.row_figures(d)
    assert "figures_error" not in figures
    assert figures == pw.row_figures(ev)
    assert json.loads(json.dumps(figures, allow_nan=False)) == figures
    assert (figures["seeds_to_decide"] is None) is (
        ev.verdict is not Verdict.INCONCLUSIVE or pw.kind_of(ev) == "sequential"
        or figures["seeds_to_decide"] is None)
    cells = pw.report_cells(figures)
    assert set(cells) == {"flips", "seeds to decide"}


def test_rows_without_usable_values_get_no_figures_but_no_error():
    ev = ld.proportion(flags_with(12, 20), threshold=0.5).to_dict()
    ev["values"] = [None] * 20  # e.g. non-finite values written as null
    figures = pw.row_figures(ev)
    assert figures["fragility"]["flips"] is None and figures["seeds_to_decide"] is None
    assert pw.row_figures({"test": "exact binomial"})["figures_error"].startswith("KeyError")


REPORT_FILE = '''
import numpy as np
import pytest

import lowdim as ld

pytestmark = pytest.mark.claim("firmness", statement="-", source="tests")


@pytest.mark.parametrize("k", [19, 13])
def test_proportion(claim, k):
    claim.record(ld.proportion(np.arange(20) < k, threshold=0.5))


def test_no_evidence():
    pass
'''


def test_the_report_carries_fragility_and_seeds_to_decide(pytester):
    pytester.makepyfile(test_firm=REPORT_FILE)
    result = pytester.runpytest_inprocess("--lowdim-report-dir=out", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    report = json.loads((pytester.path / "out" / "claims.json").read_text())
    rows = {r["test"].split("::")[1]: r for r in report["rows"]}
    sup, inc = rows["test_proportion[19]"], rows["test_proportion[13]"]
    assert sup["fragility"]["flips"] == 4 and sup["seeds_to_decide"] is None
    assert inc["fragility"] == pw.fragility(inc["evidence"])
    assert inc["seeds_to_decide"]["seeds"] == pw.seeds_to_decide(inc["evidence"])["seeds"]
    assert "fragility" not in rows["test_no_evidence"]
    md = (pytester.path / "out" / "claims.md").read_text()
    assert "| flips" in md and "seeds to decide" in md
    assert f"{inc['seeds_to_decide']['seeds']} (sup)" in md
    csv = (pytester.path / "out" / "claims.csv").read_text()
    assert "seeds_to_decide" in csv.splitlines()[0]
