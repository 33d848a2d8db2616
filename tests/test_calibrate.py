"""lowdim.calibrate: a small simulation keeps every rule's promise; its shortcuts are exact.

The calibration decides runs through lookups by a sufficient statistic (k, T+, Page's L) and
vectorised scans; these tests check that each lookup gives what the public function gives on the
same simulated data, and run a small calibration (200 runs, 10 seeds) whose type-I errors must
lie within Monte-Carlo error of alpha or below.
"""

import json

import numpy as np
import pytest

import lowdim as ld
from lowdim.cli import main
from lowdim.stats import calibrate as cal
from lowdim.stats import signed_rank_p
from lowdim.stats.sequential import sequential_proportion, sequential_sign

ALPHA = 0.01
CODE = {"SUPPORTED": 1, "REFUTED": -1, "INCONCLUSIVE": 0}


def rule(name):
    return next(r for r in cal._rules() if r.name == name)


def simulated(name, runs, n, null=False, seed=1):
    return rule(name).simulate(np.random.default_rng(seed), runs, n, null)


def test_small_calibration_keeps_every_rule_within_alpha_and_its_coverage():
    records = cal.calibrate(runs=200, ns=(10,), seed=3)
    assert [r["rule"] for r in records] == list(cal.RULES)
    for r in records:
        assert r["type1_low"] <= ALPHA, r  # type-I <= alpha within Monte-Carlo error
        # every interval is exact or conservative: coverage within MC error of nominal
        assert r["coverage_high"] >= r["nominal"] - cal.COVERAGE_SLACK, r
        assert 0 <= r["power"] <= 1 and 1 <= r["mean_seeds"] <= 10


def test_calibration_is_deterministic_for_a_seed():
    def strip(recs):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in recs]

    one = cal.calibrate(runs=50, ns=(10,), rules=["proportion", "seq-sign"], seed=7)
    two = cal.calibrate(runs=50, ns=(10,), rules=["seq-sign", "proportion"], seed=7)
    assert strip(one) == strip(two)  # each rule has its own stream: the selection does not matter


@pytest.mark.parametrize("n", [12, 70])  # the exact path and the normal approximation
def test_signed_rank_lookup_equals_signed_rank_p(n):
    x = np.random.default_rng(n).normal(0.3, 1, size=(25, n))
    for alt in ("greater", "less"):
        assert np.allclose(cal._SRP(x, alt), [signed_rank_p(row, alt) for row in x], rtol=1e-12)


def test_count_and_rank_lookups_equal_the_public_functions():
    flags = simulated("proportion", 40, 12)
    out = cal._decide_proportion(flags, ALPHA)
    for i, f in enumerate(flags):
        ev = ld.proportion(f, threshold=0.5, alpha=ALPHA)
        assert (out["verdict"][i], out["low"][i]) == (CODE[ev.verdict.value], ev.interval[0])
    d = simulated("paired-sign", 40, 12)
    out = cal._decide_sign(d, ALPHA)
    for i, row in enumerate(d):
        ev = ld.paired(row, np.zeros(12), test="sign", alpha=ALPHA)
        assert (out["verdict"][i], out["low"][i]) == (CODE[ev.verdict.value], ev.interval[0])
    d = simulated("paired-wilcoxon", 40, 12)
    out = cal._decide_paired(d, ALPHA)
    for i, row in enumerate(d):
        ev = ld.paired(row, np.zeros(12), alpha=ALPHA)
        assert (out["verdict"][i], out["low"][i]) == (CODE[ev.verdict.value], ev.interval[0])
    d = simulated("equivalence", 40, 12, null=True)
    out = cal._decide_equivalence(d, ALPHA)
    for i, row in enumerate(d):
        ev = ld.equivalence(row, margin=1.0, alpha=ALPHA)
        assert out["verdict"][i] == CODE[ev.verdict.value]
        assert (out["low"][i], out["high"][i]) == ev.interval


def test_location_and_trend_rules_equal_the_public_functions():
    v = simulated("location", 20, 10)
    out = cal._decide_location(v, ALPHA)
    for i, row in enumerate(v):
        ev = ld.location(row, threshold=0.0, alpha=ALPHA)
        assert (out["verdict"][i], out["low"][i]) == (CODE[ev.verdict.value], ev.interval[0])
    tables = simulated("trend", 20, 10)
    out = cal._decide_trend(tables, ALPHA)
    for i, t in enumerate(tables):
        ev = ld.trend(t, alpha=ALPHA)
        assert (out["verdict"][i], out["low"][i]) == (CODE[ev.verdict.value], ev.interval[0])


def test_sequential_rules_equal_the_public_functions():
    flags = simulated("seq-proportion", 30, 25)
    out = cal._decide_sequential(flags, ALPHA)
    for i, f in enumerate(flags):
        ev = sequential_proportion(f, threshold=0.5, alpha=ALPHA)
        assert (out["verdict"][i], out["seeds"][i]) == (CODE[ev.verdict.value], ev.n)
        assert out["low"][i] == pytest.approx(ev.interval[0], abs=1e-9)
    d = rule("paired-sign").simulate(np.random.default_rng(2), 30, 25, False)
    out = cal._decide_sequential(d > 0, ALPHA)
    for i, row in enumerate(d):
        ev = sequential_sign(row, np.zeros(25), alpha=ALPHA)
        assert (out["verdict"][i], out["seeds"][i]) == (CODE[ev.verdict.value], ev.n)


def test_cli_prints_the_table_and_writes_json(tmp_path, capsys):
    path = tmp_path / "cal.json"
    rc = main(["calibrate", "--runs", "40", "--n", "10", "--rules", "proportion", "seq-sign",
               "--json", str(path)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "type-I [95% MC]" in out and "seq-sign" in out and f"wrote {path}" in out
    records = json.loads(path.read_text())
    assert [r["rule"] for r in records] == ["proportion", "seq-sign"]
    for r in records:
        for key in ("rule", "alpha", "runs", "type1", "type1_low", "type1_high", "nominal",
                    "coverage", "power", "mean_seeds", "effect", "n"):
            assert key in r, key
        assert r["runs"] == 40 and r["alpha"] == ALPHA


@pytest.mark.parametrize("args, message", [
    (["--rules", "bogus"], "rules: unknown bogus; allowed: proportion"),
    (["--runs", "0"], "runs: got 0"),
    (["--alpha", "0.7"], "alpha: got 0.7"),
    (["--n", "1"], "n: got [1]"),
])
def test_cli_bad_arguments_exit_2_naming_the_argument(args, message, capsys):
    assert main(["calibrate", *args]) == 2
    assert message in capsys.readouterr().err
