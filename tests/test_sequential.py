"""lowdim.sequential: the e-process against its integral, its guarantee computed exactly.

The mixture e-value is checked against numerical integration of its definition; the
supermartingale property (the reason Ville's inequality applies) is checked exactly, one step at
a time, for the whole composite null; the probability that a scan ever crosses under the null is
computed exactly by dynamic programming over (seeds, successes) and must stay <= alpha, where
the naive "test after every seed" rule does not.
"""

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from lowdim import Evidence, Verdict
from lowdim.stats.sequential import (
    confidence_sequence,
    log_e_value,
    scan,
    sequential_proportion,
    sequential_sign,
)

ALPHA = 0.01
PROPERTY = settings(max_examples=30, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("k, t, p0", [(0, 0, 0.5), (7, 10, 0.5), (3, 20, 0.3), (19, 20, 0.9)])
def test_e_value_is_the_truncated_beta_mixture_of_likelihood_ratios(k, t, p0):
    def lr(q):
        return q**k * (1 - q) ** (t - k) / (p0**k * (1 - p0) ** (t - k))

    up = integrate.quad(lr, p0, 1)[0] / (1 - p0)  # uniform prior on [p0, 1]
    down = integrate.quad(lr, 0, p0)[0] / p0
    assert math.exp(log_e_value(k, t, p0, "greater")) == pytest.approx(up, rel=1e-7)
    assert math.exp(log_e_value(k, t, p0, "less")) == pytest.approx(down, rel=1e-7)


@PROPERTY
@given(t=st.integers(0, 200), data=st.data(), p0=st.floats(0.05, 0.95),
       shrink=st.floats(0.0, 1.0), side=st.sampled_from(["greater", "less"]))
def test_property_one_step_expectation_is_at_most_one_under_the_whole_null(t, data, p0, shrink,
                                                                             side):
    # E[E_{t+1} | first t seeds] <= E_t for every true rate in the null (p <= p0 for 'greater'):
    # a non-negative supermartingale, so Ville's inequality bounds the chance of ever crossing.
    k = data.draw(st.integers(0, t))
    p = p0 * shrink if side == "greater" else p0 + (1 - p0) * shrink
    now = log_e_value(k, t, p0, side)
    nxt = (p * np.exp(log_e_value(k + 1, t + 1, p0, side) - now)
           + (1 - p) * np.exp(log_e_value(k, t + 1, p0, side) - now))
    assert nxt <= 1 + 1e-9


def crossing_probability(n_max: int, p: float, crosses) -> float:
    """P(the scan crosses by seed n_max) for Bernoulli(p) seeds, exactly: dynamic programming
    over the successes of the paths that have not crossed yet. crosses(k, t) -> bool array."""
    alive = np.array([1.0])  # P(k successes after t seeds and no crossing yet), k = 0..t
    total = 0.0
    for t in range(1, n_max + 1):
        nxt = np.zeros(t + 1)
        nxt[:-1] += alive * (1 - p)
        nxt[1:] += alive * p
        hit = crosses(np.arange(t + 1), t)
        total += nxt[hit].sum()
        alive = np.where(hit, 0.0, nxt)
    return total


@pytest.mark.parametrize("p0", [0.5, 0.8])
def test_the_chance_of_ever_crossing_under_the_null_is_at_most_alpha(p0):
    bar = math.log(1 / ALPHA)
    for p in (p0, p0 - 0.1):  # the boundary and inside the null
        seq = crossing_probability(300, p, lambda k, t: log_e_value(k, t, p0, "greater") >= bar)
        assert seq <= ALPHA
    # the naive rule (an exact binomial test after every seed, stop at p < alpha) does not keep
    # its level: this is what the e-process is for
    naive = crossing_probability(
        300, p0, lambda k, t: stats.binom.sf(k - 1, t, p0) < ALPHA)
    assert naive > 2 * ALPHA


def test_scan_stops_at_the_first_crossing_and_reports_the_seeds_used():
    flags = np.array([1] * 9 + [0] * 5 + [1] * 20, dtype=bool)  # 9 in a row crosses 1/alpha
    ev = sequential_proportion(flags, threshold=0.5)
    assert ev.verdict is Verdict.SUPPORTED and ev.n == 9 and ev.p <= ALPHA
    assert math.exp(log_e_value(8, 8, 0.5, "greater")) < 1 / ALPHA
    assert math.exp(log_e_value(9, 9, 0.5, "greater")) >= 1 / ALPHA
    assert ev.values == (1.0,) * 9 and ev.details["stopped_early"]
    assert ev.details["seeds_available"] == 34 and ev.details["k"] == 9
    assert ev.test == "anytime-valid binomial e-process (beta mixture), one-sided"
    # looking only every 4 seeds: the first look whose e-value is over the bar; the crossing at
    # seed 9 has faded by the look at seed 12, so this scan goes on
    k = np.cumsum(flags)
    first = next(t for t in range(4, 35, 4)
                 if log_e_value(k[t - 1], t, 0.5, "greater") >= math.log(1 / ALPHA))
    ev4 = sequential_proportion(flags, threshold=0.5, batch=4)
    assert ev4.n == first > 12 and ev4.verdict is Verdict.SUPPORTED


def test_opposite_crossing_refutes_and_running_out_is_inconclusive():
    ev = sequential_proportion(np.zeros(30, dtype=bool), threshold=0.5)
    assert ev.verdict is Verdict.REFUTED and ev.p_opposite <= ALPHA and ev.p == 1.0
    ev = sequential_proportion([1, 0] * 10, threshold=0.5)
    assert ev.verdict is Verdict.INCONCLUSIVE and ev.n == 20 and not ev.details["stopped_early"]
    ev = sequential_proportion([1] * 30, threshold=0.5, alternative="two-sided")
    assert ev.verdict is Verdict.SUPPORTED and math.isnan(ev.p_opposite)
    assert sequential_proportion([0] * 30, threshold=0.5, alternative="less").supported


def test_confidence_sequence_bound_is_where_the_e_process_crosses():
    low, high = confidence_sequence(40, 50, alpha=ALPHA, alternative="greater")
    assert high == 1.0 and 0 < low < 0.8
    assert log_e_value(40, 50, low, "greater") == pytest.approx(math.log(1 / ALPHA), abs=1e-6)
    low2, high2 = confidence_sequence(40, 50, alpha=ALPHA, alternative="two-sided")
    assert low2 < 0.8 < high2 < 1 and low2 < low  # two-sided spends alpha on both sides
    assert confidence_sequence(0, 10, alpha=ALPHA, alternative="greater") == (0.0, 1.0)


def test_sign_version_skips_ties_and_matches_the_proportion_scan():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.8, 1, 40), np.zeros(40)
    ev = sequential_sign(a, b)
    ref = sequential_proportion(a > 0, threshold=0.5)
    assert (ev.verdict, ev.n, ev.p) == (ref.verdict, ref.n, ref.p)
    assert ev.values == pytest.approx(tuple(a[: ev.n]))
    tied = sequential_sign(np.r_[0.0, 0.0, a], np.zeros(42))  # two ties first: two more seeds
    assert tied.n == ev.n + 2 and tied.details["n_tied"] == 2 and tied.p == ev.p
    assert sequential_sign(a, b, margin=100.0).verdict is Verdict.REFUTED


def test_evidence_round_trips_through_json():
    ev = sequential_sign(np.arange(20.0), np.full(20, 3.0), alternative="two-sided")
    d = ev.to_dict()
    back = Evidence.from_dict(json.loads(json.dumps(d, allow_nan=False)))
    assert repr(back) == repr(ev)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: sequential_proportion([], threshold=0.5), "flags: got no values"),
        (lambda: sequential_proportion([1, np.nan], threshold=0.5), "flags: 1 of 2 values are NaN"),
        (lambda: sequential_proportion([1, 0.5], threshold=0.5), "flags: need booleans"),
        (lambda: sequential_proportion([1, 0], threshold=0.0), "threshold: got 0.0"),
        (lambda: sequential_proportion([1, 0], threshold=1.5), "threshold: got 1.5"),
        (lambda: sequential_proportion([1, 0], threshold=0.5, alpha=0), "alpha: got 0"),
        (lambda: sequential_proportion([1, 0], threshold=0.5, alpha=1.0), "alpha: got 1.0"),
        (lambda: sequential_proportion([1, 0], threshold=0.5, batch=0), "batch: got 0"),
        (lambda: sequential_proportion([1, 0], threshold=0.5, alternative="up"),
         "alternative: got 'up'"),
        (lambda: sequential_proportion([1, 0], threshold=0.5, prior=(0, 1)), "prior: got"),
        (lambda: sequential_sign([1, 2], [1]), "a, b: need one value per seed"),
        (lambda: sequential_sign([1, np.inf], [0, 0]), "a: 1 of 2 values are NaN or infinite"),
        (lambda: sequential_sign([1, 2], [0, 0], margin=math.nan), "margin: got nan"),
    ],
)
def test_bad_input_raises_a_value_error_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@PROPERTY
@given(flags=st.lists(st.booleans(), min_size=1, max_size=80),
       threshold=st.floats(0.05, 0.95),
       alternative=st.sampled_from(["greater", "less", "two-sided"]),
       batch=st.integers(1, 10))
def test_property_sequential_proportion(flags, threshold, alternative, batch):
    ev = sequential_proportion(flags, threshold=threshold, alternative=alternative, batch=batch)
    assert 1 <= ev.n <= len(flags) and len(ev.values) == ev.n
    assert 0.0 <= ev.p <= 1.0
    assert (ev.verdict is Verdict.SUPPORTED) == (ev.p <= ALPHA)
    assert ev.interval[0] - 1e-9 <= ev.estimate <= ev.interval[1] + 1e-9
    if ev.n < len(flags):  # it stopped on a crossing at a look
        assert ev.verdict is not Verdict.INCONCLUSIVE and ev.n % batch == 0
    # the scan is a function of the seeds it used: the same call on them decides alike
    again = sequential_proportion(flags[: ev.n], threshold=threshold, alternative=alternative,
                                  batch=batch)
    assert (again.verdict, again.n, again.p) == (ev.verdict, ev.n, ev.p)


@PROPERTY
@given(flags=st.lists(st.booleans(), min_size=2, max_size=60), batch=st.integers(1, 5))
def test_property_scan_of_many_runs_equals_one_run_at_a_time(flags, batch):
    f = np.array(flags)
    runs = np.stack([f, ~f, np.roll(f, 1)])  # (3, N)
    res = scan(runs, None, threshold=0.4, alpha=ALPHA, alternative="greater", batch=batch)
    for i, row in enumerate(runs):
        ev = sequential_proportion(row, threshold=0.4, batch=batch)
        assert res["stop"][i] == ev.n and ev.details["k"] == res["k"][i]
