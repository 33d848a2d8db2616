"""Guards against a silently wrong result (issue 19): an Evidence that contradicts itself is
refused when it is made, and the two-arm and trend decisions take a mapping {name: values},
which cannot be transposed by mistake.

The run cache's check of an entry against its own description is in tests/test_cache.py.
"""

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

import lowdim as ld
from lowdim import Evidence, Verdict

BASELINE = Path(__file__).resolve().parent.parent / "reports" / "baseline.json"


def supported() -> Evidence:
    return ld.proportion(np.arange(20) < 17, threshold=0.5)  # p = 0.0013


# --------------------------------------------------------------------------------------------
# Evidence checks itself


@pytest.mark.parametrize("change, field", [
    (dict(n=1000), "n: got 1000 but values holds 20"),
    (dict(n=2), "n: got 2 but values holds 20"),
    (dict(n=0), "n: got 0"),
    (dict(n=20.0), "n: got 20.0"),
    (dict(n=True), "n: got True"),
    (dict(p=math.nan), "p: got nan"),
    (dict(p=-0.1), "p: got -0.1"),
    (dict(p=1.5), "p: got 1.5"),
    (dict(p="0.001"), "p: got str"),
    (dict(p_opposite=2.0), "p_opposite: got 2.0"),
    (dict(alpha=0.5), "alpha: got 0.5"),
    (dict(alpha=0.0), "alpha: got 0.0"),
    (dict(alpha=math.nan), "alpha: got nan"),
    (dict(verdict=Verdict.INCONCLUSIVE), "verdict: got INCONCLUSIVE .* give SUPPORTED"),
    (dict(verdict=Verdict.REFUTED), "verdict: got REFUTED"),
    (dict(verdict="PROVEN"), "verdict: got 'PROVEN'; allowed: SUPPORTED"),
    (dict(p=0.2), "verdict: got SUPPORTED with p=0.2"),
    (dict(p=0.01), "verdict: got SUPPORTED with p=0.01"),  # p < alpha, not <=
    (dict(values=5), "values: got int"),
])
def test_an_evidence_that_contradicts_itself_is_refused_naming_the_field(change, field):
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(supported(), **change)


def test_the_issues_two_hand_built_evidences_are_refused():
    common = dict(statistic="P(acc > 0.9)", estimate=1.0, interval=(0.5, 1.0), test="exact",
                  alpha=0.01, threshold=0.5, alternative="greater")
    with pytest.raises(ValueError, match="^n: got 1000 but values holds 2 "):
        Evidence(**common, n=1000, p=0.001, verdict=Verdict.SUPPORTED, values=(1.0, 1.0))
    with pytest.raises(ValueError, match="^p: got nan"):
        Evidence(**common, n=2, p=math.nan, verdict=Verdict.SUPPORTED, values=(1.0, 1.0))


def test_a_consistent_hand_built_evidence_is_accepted():
    common = dict(statistic="s", estimate=1.0, interval=(0.5, 1.0), test="t", alpha=0.01,
                  threshold=0.5, alternative="greater")
    ev = Evidence(**common, n=3, p=0.001, verdict="SUPPORTED", values=(1.0, 1.0, 1.0))
    assert ev.verdict is Verdict.SUPPORTED  # its name is stored as the Verdict
    # values=() means "not kept": n cannot be checked against them (the documented exception)
    assert Evidence(**common, n=1000, p=0.5, verdict=Verdict.INCONCLUSIVE).n == 1000
    # p_opposite nan (not computed, or two-sided): no REFUTED, INCONCLUSIVE stands
    assert Evidence(**common, n=3, p=0.9, verdict=Verdict.INCONCLUSIVE).p_opposite != 0
    with pytest.raises(ValueError, match="verdict: got REFUTED"):
        Evidence(**common, n=3, p=0.9, verdict=Verdict.REFUTED)
    refuted = Evidence(**common, n=3, p=0.9, p_opposite=0.001, verdict=Verdict.REFUTED)
    assert refuted.verdict is Verdict.REFUTED
    assert np.int64(3) == Evidence(**common, n=np.int64(3), p=np.float64(0.5),
                                   verdict=Verdict.INCONCLUSIVE, values=(0.0,) * 3).n


def test_every_seed_count_the_decisions_make_satisfies_the_check():
    """The legitimate ways n differs from the seeds given: nonfinite='exclude' (n = the seeds
    kept), a sequential rule that stops early (n = the seeds used); values follow n."""
    flags = np.r_[np.ones(8), np.nan, np.nan]
    ex = ld.proportion(flags, threshold=0.5, nonfinite="exclude")
    assert ex.n == len(ex.values) == 8 and ex.details["n_nonfinite"] == 2
    fail = ld.location(np.r_[np.ones(8), np.nan], threshold=0.5, nonfinite="fail")
    assert fail.n == len(fail.values) == 9 and fail.values[-1] == -math.inf
    table = np.tile(np.arange(3.0), (6, 1))
    table[0, 1] = np.nan
    tr = ld.trend(table, nonfinite="exclude")
    assert tr.n == len(tr.values) == 5
    seq = ld.sequential_proportion([True] * 40, threshold=0.5)
    assert seq.details["stopped_early"] and seq.n == len(seq.values) < 40


def test_the_anytime_valid_rules_decide_at_p_equal_to_alpha():
    # p = 1 / (largest e-value) is alpha itself when the e-value lands on 1/alpha: SUPPORTED
    seq = ld.sequential_proportion([True] * 40, threshold=0.5)
    assert seq.verdict is Verdict.SUPPORTED
    at_alpha = dataclasses.replace(seq, p=seq.alpha)
    assert at_alpha.verdict is Verdict.SUPPORTED
    assert dataclasses.replace(at_alpha, p=seq.alpha * (1 + 1e-15)).supported  # rounding
    with pytest.raises(ValueError, match="verdict: got SUPPORTED.*p <= alpha"):
        dataclasses.replace(seq, p=2 * seq.alpha)
    with pytest.raises(ValueError, match="verdict: got SUPPORTED.*p < alpha"):
        dataclasses.replace(seq, p=seq.alpha, rule="")  # a fixed-n rule: p < alpha


def test_a_p_value_that_rounds_just_above_one_is_accepted_as_is():
    # scipy's exact Page's L sums its null distribution: 4 seeds x 6 conditions all in the
    # opposite order give p = 1 + 2e-16 (the decision function's number is kept unchanged)
    ev = ld.trend(np.tile(np.arange(6.0, 0, -1), (4, 1)), conditions=range(6))
    assert ev.verdict is Verdict.REFUTED and 1.0 <= ev.p <= 1.0 + 1e-12


def test_every_row_of_the_committed_baseline_loads_as_evidence():
    rows = json.loads(BASELINE.read_text())["rows"]
    loaded = [Evidence.from_dict(r["evidence"]) for r in rows if r["evidence"]]
    assert len(loaded) > 100
    for ev, row in zip(loaded, (r for r in rows if r["evidence"])):
        assert ev.n == len(ev.values) and ev.verdict.value == row["evidence"]["verdict"]


def test_a_report_row_with_a_wrong_verdict_does_not_load():
    d = supported().to_dict()
    with pytest.raises(ValueError, match="verdict: got INCONCLUSIVE"):
        Evidence.from_dict({**d, "verdict": "INCONCLUSIVE"})
    with pytest.raises(ValueError, match="n: got 3 but values holds 20"):
        Evidence.from_dict({**d, "n": 3})


# --------------------------------------------------------------------------------------------
# a mapping {name: (S,) values} cannot be transposed


RNG = np.random.default_rng(19)
LRS = (0.001, 0.01, 0.1, 1.0, 10.0)
AT_LR = {lr: -np.log10(lr) + 0.3 * RNG.normal(size=16) for lr in LRS}  # falls with lr, 16 seeds


def test_trend_takes_a_mapping_of_conditions_as_its_columns():
    ev = ld.trend(AT_LR, alternative="decreasing")
    same = ld.trend(np.stack([AT_LR[lr] for lr in LRS], axis=1), conditions=LRS,
                    alternative="decreasing")
    assert ev.to_dict() == same.to_dict() and ev.n == 16 and ev.supported
    assert ev.details["conditions"] == [str(lr) for lr in LRS]
    assert ld.trend(AT_LR, conditions=LRS, alternative="decreasing") == ev  # the same names
    assert ld.trend(dict(reversed(AT_LR.items()))).supported  # the mapping's order is the order


def test_the_issues_transposed_trend_warns_and_a_named_one_is_an_error():
    rows = [AT_LR[lr] for lr in LRS]  # (K, S) = (5, 16): the natural list is transposed
    with pytest.warns(UserWarning, match=r"shape \(5, 16\) is read as 5 seeds .*transposed"):
        ld.trend(rows, alternative="decreasing")
    with pytest.raises(ValueError, match=r"conditions: got 5 names for 16 columns; .*transposed"):
        ld.trend(rows, conditions=LRS, alternative="decreasing")


@pytest.mark.parametrize("call, message", [
    (lambda: ld.trend({1: [1.0, 2.0], 2: [1.0, 2.0], 3: [1.0]}), "different numbers of seeds"),
    (lambda: ld.trend(AT_LR, conditions=LRS[::-1]), "conditions: got .* leave conditions out"),
    (lambda: ld.trend({1: [1.0, 2.0], 2: [2.0, 3.0]}), r"K >= 3 conditions\), got \(2, 2\)"),
    (lambda: ld.trend({1: [1.0, 2.0], 2: [2.0, 3.0], 3: ["x", 1]}), r"table\[3\]: got list"),
    (lambda: ld.paired({"a": [1.0]}), "a: got a mapping of 1 arms"),
    (lambda: ld.paired({"a": [1.0], "b": [2.0], "c": [3.0]}), "need exactly two"),
    (lambda: ld.paired({"a": [1.0], "b": [2.0]}, [3.0]), "b: got list .* beside a mapping"),
    (lambda: ld.equivalence({"a": [1.0], "b": [2.0]}, [3.0], margin=1), "beside a mapping"),
    (lambda: ld.paired({"x": [1.0, 2.0], "y": [1.0]}), r"need one value per seed.*2 and 1"),
])
def test_a_mapping_that_does_not_fit_is_an_error_naming_it(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_paired_without_its_second_arm_says_how_to_pass_it():
    with pytest.raises(TypeError, match=r"paired\(\{name_a: a, name_b: b\}\)"):
        ld.paired([1.0, 2.0])


@pytest.mark.parametrize("test", ["wilcoxon", "sign"])
def test_paired_takes_a_mapping_of_two_named_arms(test):
    wide, narrow = AT_LR[0.001], AT_LR[1.0]
    ev = ld.paired({"wide": wide, "narrow": narrow}, test=test)
    plain = ld.paired(wide, narrow, test=test)
    assert (ev.p, ev.p_opposite, ev.values, ev.interval) == (
        plain.p, plain.p_opposite, plain.values, plain.interval)
    assert "wide - narrow" in ev.statistic and ev.details["arms"] == ["wide", "narrow"]
    assert ld.paired({"narrow": narrow, "wide": wide}, test=test).verdict is Verdict.REFUTED
    assert ld.paired({"wide": wide, "narrow": narrow}, test=test, statistic="s").statistic == "s"


def test_equivalence_takes_a_mapping_of_two_named_arms():
    a = AT_LR[1.0]
    b = a + 0.01 * RNG.normal(size=a.size)
    ev = ld.equivalence({"fp64": a, "fp32": b}, margin=0.1)
    plain = ld.equivalence(a, b, margin=0.1)
    assert (ev.p, ev.values, ev.verdict) == (plain.p, plain.values, plain.verdict)
    assert ev.statistic == "pseudo-median(fp64 - fp32)" and ev.supported
