"""The floor under each decision rule's p-value (lowdim.stats.attainable) against brute force:
every possible data set of a few seeds, decided by the rule itself, gives no smaller p."""

import itertools
import math

import numpy as np
import pytest

import lowdim as ld
from lowdim.stats import signed_rank_p
from lowdim.stats.attainable import (
    MAX_SEEDS,
    attainable,
    seeds_to_reach,
    smallest_p,
    undecidable,
)


def brute(decide, datasets) -> float:
    return min(decide(d).p for d in datasets)


@pytest.mark.parametrize("alternative", ["greater", "less", "two-sided"])
@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.8])
def test_proportion_floor_is_the_smallest_p_of_every_set_of_flags(alternative, threshold):
    for n in range(1, 8):
        flags = [np.array(f) for f in itertools.product([0, 1], repeat=n)]  # 2^n data sets
        expect = brute(lambda f: ld.proportion(f, threshold=threshold, alternative=alternative),
                       flags)
        got = smallest_p("proportion", n, alternative=alternative, threshold=threshold)
        assert got == pytest.approx(expect, rel=1e-12), (n, alternative, threshold)


@pytest.mark.parametrize("alternative", ["greater", "less", "two-sided"])
def test_sign_floor_over_every_pattern_of_signs_and_ties(alternative):
    for n in range(1, 6):
        ds = [np.array(d, dtype=float) for d in itertools.product([-1, 0, 1], repeat=n)]
        expect = brute(lambda d: ld.paired(d, np.zeros_like(d), test="sign",
                                           alternative=alternative), ds)
        assert smallest_p("sign", n, alternative=alternative) == pytest.approx(expect)


@pytest.mark.parametrize("alternative", ["greater", "less", "two-sided"])
def test_signed_rank_floor_over_signs_ties_and_zeros(alternative):
    for n in range(1, 5):
        ds = [np.array(d, dtype=float) for d in itertools.product([-2, -1, 0, 1, 2], repeat=n)]
        # the p both rules decide with (the decision functions, checked on fewer seeds below)
        expect = min(signed_rank_p(d, alternative) for d in ds if d.any())
        assert smallest_p("wilcoxon", n, alternative=alternative) == pytest.approx(expect)
        assert smallest_p("location", n, alternative=alternative) == pytest.approx(expect)
    for n in range(1, 4):
        ds = [np.array(d, dtype=float) for d in itertools.product([-2, -1, 0, 1, 2], repeat=n)]
        paired = brute(lambda d: ld.paired(d, np.zeros_like(d), alternative=alternative), ds)
        location = brute(lambda d: ld.location(d, threshold=0.0, alternative=alternative), ds)
        assert smallest_p("wilcoxon", n, alternative=alternative) == pytest.approx(paired)
        assert smallest_p("location", n, alternative=alternative) == pytest.approx(location)


def test_equivalence_floor_over_a_grid_of_differences():
    for n in range(1, 5):
        ds = [np.array(d) for d in itertools.product([-1.0, -0.5, 0.0, 0.25, 1.0], repeat=n)]
        expect = brute(lambda d: ld.equivalence(d, margin=0.75), ds)
        assert smallest_p("equivalence", n, alternative="equivalence") == pytest.approx(expect)
        assert expect == pytest.approx(2.0 ** -n)


@pytest.mark.parametrize("n, k", [(2, 3), (3, 3), (2, 4)])
def test_page_floor_over_every_table_of_rankings(n, k):
    perms = list(itertools.permutations(range(k)))
    tables = [np.array(rows, dtype=float) for rows in itertools.product(perms, repeat=n)]
    names = [f"c{i}" for i in range(k)]
    expect = brute(lambda t: ld.trend(t, conditions=names), tables)  # (k!)^n tables
    got = smallest_p("trend", n, alternative="increasing", conditions=k)
    assert got == pytest.approx(expect) == pytest.approx(math.factorial(k) ** -n)
    assert smallest_p("trend", n, alternative="increasing") is None  # K unknown


@pytest.mark.parametrize("alternative", ["greater", "less", "two-sided"])
def test_sequential_floors_over_every_sequence(alternative):
    for n in range(1, 7):
        flags = [np.array(f) for f in itertools.product([0, 1], repeat=n)]
        expect = brute(lambda f: ld.sequential_proportion(f, threshold=0.4,
                                                          alternative=alternative), flags)
        got = smallest_p("seq-proportion", n, alternative=alternative, threshold=0.4)
        assert got == pytest.approx(expect), (n, alternative)
        signs = [np.array(d, dtype=float) for d in itertools.product([-1, 0, 1], repeat=n)]
        if n <= 4:
            expect = brute(lambda d: ld.sequential_sign(d, np.zeros_like(d),
                                                        alternative=alternative), signs)
            assert smallest_p("seq-sign", n, alternative=alternative) == pytest.approx(expect)


@pytest.mark.parametrize("rule, kwargs", [
    ("proportion", {"alternative": "greater", "threshold": 0.5}),
    ("proportion", {"alternative": "greater", "threshold": 0.9}),
    ("proportion", {"alternative": "less", "threshold": 0.9}),
    ("proportion", {"alternative": "two-sided", "threshold": 0.7}),
    ("sign", {"alternative": "two-sided"}),
    ("wilcoxon", {"alternative": "greater"}),
    ("location", {"alternative": "two-sided"}),
    ("equivalence", {"alternative": "equivalence"}),
    ("trend", {"alternative": "increasing", "conditions": 3}),
    ("seq-proportion", {"alternative": "greater", "threshold": 0.5}),
    ("seq-sign", {"alternative": "two-sided"}),
])
@pytest.mark.parametrize("alpha", [0.05, 0.01, 0.001])
def test_seeds_to_reach_is_the_first_n_whose_floor_is_at_most_alpha(rule, kwargs, alpha):
    n = seeds_to_reach(rule, alpha, **kwargs)
    first = 2 if rule == "trend" else 1
    linear = next(m for m in range(first, 2000) if smallest_p(rule, m, **kwargs) <= alpha)
    assert n == linear


def test_the_floors_in_closed_form():
    assert smallest_p("proportion", 4, alternative="greater", threshold=0.5) == 1 / 16
    assert seeds_to_reach("proportion", 0.01, alternative="greater", threshold=0.5) == 7
    # 0.99^n <= 0.01 first at n = ceil(log 0.01 / log 0.99) = 459: past the linear scan
    assert seeds_to_reach("proportion", 0.01, alternative="greater", threshold=0.99) == 459
    assert seeds_to_reach("wilcoxon", 0.01, alternative="two-sided") == 8  # 2 * 2^-n
    assert seeds_to_reach("proportion", 1e-12, alternative="greater", threshold=1 - 1e-9,
                          max_seeds=1000) is None
    assert smallest_p("", 4, alternative="greater") is None  # a hand-made Evidence
    assert seeds_to_reach("", 0.01, alternative="greater") is None
    assert MAX_SEEDS >= 1000


def test_a_recorded_decision_says_when_it_cannot_decide():
    ev = ld.paired(np.arange(4.0) + 1, np.zeros(4))  # 4 seeds, all positive: p = 1/16
    note = undecidable(ev)
    assert note.startswith("cannot decide at n=4: needs >= 7 seeds (")
    assert "0.0625 > alpha 0.01" in note and "Wilcoxon signed-rank" in note
    assert undecidable(ev.to_dict()) == note  # a report row's evidence too
    a = attainable(ev)
    assert (a.n, a.seeds_needed, a.can_decide) == (4, 7, False)
    assert undecidable(ld.paired(np.arange(8.0) + 1, np.zeros(8))) is None  # SUPPORTED
    assert undecidable(ld.paired(np.arange(8.0) - 3.5, np.zeros(8))) is None  # can decide
    # REFUTED at n=4 (the opposite side reaches alpha): it decided, only not as claimed
    refuted = ld.proportion(np.zeros(4), threshold=0.9)
    assert refuted.verdict is ld.Verdict.REFUTED and undecidable(refuted) is None
    # the seq-* rules count the seeds available, not the seeds the scan used
    seq = ld.sequential_proportion(np.ones(6), threshold=0.5)
    assert attainable(seq).n == 6 and "needs >= 9 seeds" in undecidable(seq)
    table = np.tile(np.arange(3.0), (2, 1))  # (2, 3): p = 1/36 at best
    trend = ld.trend(table, conditions=["a", "b", "c"])
    assert "cannot decide at n=2: needs >= 3 seeds" in undecidable(trend)
