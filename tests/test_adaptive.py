"""--lowdim-adaptive: looks of growing seed prefixes, anytime-valid stops, fixed mode untouched.

The claim files compute per-seed values from each seed's own generator (no training), so a prefix
of the seeds gives exactly the first values of the full run, as a real claim's training does.
"""

import json

import numpy as np
import pytest

import lowdim as ld
from lowdim.plugin.adaptive import sequential_evidence

ADAPTIVE_FILE = '''
import numpy as np
import pytest

import lowdim as ld

pytestmark = pytest.mark.claim("adaptive-demo", statement="demo", source="tests")
CALLS = []  # test name per call of a test body: one entry per look


def draws(seeds):
    return np.array([np.random.default_rng(s).random() for s in seeds])  # (S,)


def test_clear_proportion(claim):
    CALLS.append("clear")
    seeds = claim.seeds(64)
    try:
        ev = claim.record(ld.proportion(draws(seeds) < 0.99, threshold=0.2))
    except Exception:  # a test's own handler must not swallow the request for more seeds
        raise AssertionError("record raised an Exception")
    assert ev.supported, ev


def test_null_proportion(claim):
    CALLS.append("null")
    ev = claim.record(ld.proportion(draws(claim.seeds(64)) < 0.5, threshold=0.5))
    assert ev.supported, ev


def test_paired_arms(claim):
    CALLS.append("paired")
    x = draws(claim.seeds(64))
    short = claim.seeds(16)  # a second arm with a smaller count: the same look applies
    assert list(short) == list(range(min(16, len(x))))
    ev = claim.record(ld.paired(x + 1.0, x))
    assert ev.supported, ev


def test_location(claim):
    CALLS.append("location")
    ev = claim.record(ld.location(draws(claim.seeds(64)), threshold=0.1))
    assert ev.supported, ev


def test_no_claim_fixture():
    CALLS.append("plain")


def test_zz_calls(claim):
    ev = claim.record(ld.proportion([True] * 3, threshold=0.1), calls=",".join(CALLS))
'''


def run(pytester: pytest.Pytester, *args: str):
    pytester.makepyfile(test_adapt=ADAPTIVE_FILE)
    result = pytester.runpytest_inprocess("--lowdim-report-dir=out", "-p", "no:cacheprovider",
                                          "-p", "no:randomly", *args)
    report = json.loads((pytester.path / "out" / "claims.json").read_text())
    return result, {row["test"].split("::")[-1]: row for row in report["rows"]}, report


def draws(n):
    return np.array([np.random.default_rng(s).random() for s in range(n)])


def test_adaptive_stops_early_on_clear_rows_and_runs_the_rest_to_the_budget(pytester):
    result, rows, report = run(pytester, "--lowdim-adaptive")
    assert report["meta"]["options"]["adaptive"] is True
    clear, null = rows["test_clear_proportion"], rows["test_null_proportion"]
    paired, loc = rows["test_paired_arms"], rows["test_location"]
    # a clearly supported proportion: 8 of 8 against 0.2 crosses 1/alpha at the first look
    a = clear["evidence"]["details"]["adaptive"]
    assert (clear["evidence"]["n"], a["budget"], a["looks"], a["mode"]) == (8, 64, 1, "sequential")
    assert clear["outcome"] == "passed" and clear["seeds"] == [0, 7]
    assert clear["evidence"]["test"].startswith("anytime-valid binomial")
    assert "exact binomial" in a["fixed_evidence"]
    # a rate at the threshold: every look 8, 16, 32, 64, then INCONCLUSIVE at the budget
    a = null["evidence"]["details"]["adaptive"]
    assert (null["evidence"]["n"], a["looks"], null["evidence"]["verdict"]) == (
        64, 4, "INCONCLUSIVE")
    assert null["outcome"] == "failed"
    # paired a - b = 1 on every seed: 8 positives give e = 56.9 < 100, 16 cross; the 16-seed
    # arm followed the same look
    a = paired["evidence"]["details"]["adaptive"]
    assert (paired["evidence"]["n"], a["looks"], paired["outcome"]) == (16, 2, "passed")
    assert paired["evidence"]["values"] == pytest.approx([1.0] * 16)
    # location has no sequential rule here: one look at 8, then the fixed test at the budget
    a = loc["evidence"]["details"]["adaptive"]
    assert (loc["evidence"]["n"], a["looks"], a["mode"]) == (64, 2, "fixed (no sequential rule)")
    assert loc["evidence"]["test"] == "Wilcoxon signed-rank"
    calls = rows["test_zz_calls"]["conditions"]["calls"].split(",")
    assert calls == ["clear", "null", "null", "null", "null", "paired", "paired",
                     "location", "location", "plain"]
    md = (pytester.path / "out" / "claims.md").read_text()
    assert "8 of 64 (adaptive)" in md and "64 of 64 (fixed)" in md
    assert "--lowdim-adaptive" in clear["reproduce"]
    # deterministic for a given seed order, whatever else runs in the session
    _, again, _ = run(pytester, "--lowdim-adaptive", "-k", "null or paired")
    for name in ("test_null_proportion", "test_paired_arms"):
        assert ([rows[name][k] for k in ("evidence", "seeds", "outcome", "method_hash")]
                == [again[name][k] for k in ("evidence", "seeds", "outcome", "method_hash")])


def test_without_the_option_rows_are_the_fixed_tests(pytester):
    _, rows, report = run(pytester)
    assert report["meta"]["options"]["adaptive"] is False
    x = draws(64)
    fixed = {
        "test_clear_proportion": ld.proportion(x < 0.99, threshold=0.2),
        "test_null_proportion": ld.proportion(x < 0.5, threshold=0.5),
        "test_paired_arms": ld.paired(x + 1.0, x),
        "test_location": ld.location(x, threshold=0.1),
    }
    for name, ev in fixed.items():
        assert rows[name]["evidence"] == json.loads(json.dumps(ev.to_dict())), name
        assert rows[name]["seeds"] == [0, 63]
        assert "--lowdim-adaptive" not in rows[name]["reproduce"]
    calls = rows["test_zz_calls"]["conditions"]["calls"].split(",")
    assert calls == ["clear", "null", "paired", "location", "plain"]  # one call each
    assert "(adaptive)" not in (pytester.path / "out" / "claims.md").read_text()


def test_sign_rows_convert_only_when_their_margin_is_recoverable():
    x = np.arange(1.0, 25.0)  # (24,) differences 1..24
    zero = np.zeros_like(x)
    seq = sequential_evidence(ld.paired(x, zero, test="sign"))
    assert seq.test.startswith("anytime-valid sign") and seq.n == 16 and seq.supported
    # margin 0.5 puts no difference between 0 and the margin: the same signs, the same scan
    assert sequential_evidence(ld.paired(x, zero, test="sign", margin=0.5)).n == 16
    # margin 4.5 does: the counts differ from a - b's, the margin is unknown, no sequential rule
    assert sequential_evidence(ld.paired(x, zero, test="sign", margin=4.5)) is None
    # Wilcoxon paired rows carry their margin as the threshold; location rows have no arms
    seq = sequential_evidence(ld.paired(x, zero, margin=4.5))
    assert seq.details["n_neg"] == 4 and seq.details["margin"] == 4.5
    assert sequential_evidence(ld.location(x, threshold=0.0)) is None


def test_paired_seeds_counted_against_keep_their_sign():
    x = np.r_[np.full(12, 1.0), np.nan]  # (13,) the last seed diverged
    ev = ld.paired(x, np.zeros(13), nonfinite="fail", alternative="less")
    seq = sequential_evidence(ev)
    assert seq.values[-1] == np.inf and seq.details["n_pos"] == 13  # +inf: against 'less'
