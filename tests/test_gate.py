"""The regression gate on every machine: baselines per CPU kind, the fragility rule where a kind
has none, baselines refused at start-up when they hold what no run writes, and method-hash
values that stay the same from run to run.

pytester sessions run in this process on a claim file that records Evidence from fixed numpy
arrays (no training). A machine of "another CPU kind" is faked by editing the baseline's meta
"numerics" (the fingerprint of its CPU kernels' rounding): to the gate that is a baseline
recorded on other kernels.
"""

import copy
import json
import math

import numpy as np
import pytest
import torch

from lowdim import cli
from lowdim import regress as bl
from lowdim.regress import method

CLAIM = '''
import numpy as np
import pytest

import lowdim as ld

pytestmark = pytest.mark.claim("gate", statement="most seeds succeed", source="tests")


def test_robust(claim):
    seeds = claim.seeds(40)
    ev = claim.record(ld.proportion(np.ones(len(seeds), dtype=bool), threshold=0.5))
    assert ev.supported, ev


def test_fragile(claim):
    seeds = claim.seeds(20)
    ev = claim.record(ld.proportion(np.arange(len(seeds)) < 17, threshold=0.5))
    assert ev.supported, ev
'''
ROBUST, FRAGILE = "test_kind.py::test_robust", "test_kind.py::test_fragile"
OTHER_KIND = "0123456789ab"  # a fingerprint no CPU of this test run has


def run(pytester, *args):
    result = pytester.runpytest_inprocess("--lowdim-report-dir=out", "-p", "no:cacheprovider",
                                          "-p", "no:randomly", "-n", "0", *args)
    path = pytester.path / "out" / "claims.json"
    return result, (json.loads(path.read_text()) if path.exists() else None)


def flipped(report: dict, test: str, *, kind: str | None = None) -> dict:
    """A copy of the report in which `test` has the opposite verdict and values (REFUTED, every
    seed failing), optionally recorded on another CPU kind."""
    out = copy.deepcopy(report)
    row = next(r for r in out["rows"] if r["test"] == test)
    ev = row["evidence"]
    ev.update(verdict="REFUTED", estimate=0.0, values=[0.0] * len(ev["values"]))
    if kind is not None:
        out["meta"]["numerics"] = kind
    return out


@pytest.fixture
def saved(pytester):
    """This machine's baseline, saved into the folder `baselines/`: (its path, the report)."""
    pytester.makepyfile(test_kind=CLAIM)
    result, report = run(pytester, "--lowdim-save-baseline=baselines/")
    assert result.ret == 0
    kind = report["meta"]["numerics"]
    path = pytester.path / "baselines" / f"{kind}.json"
    assert path.is_file() and [p.name for p in path.parent.iterdir()] == [path.name]
    result.stdout.fnmatch_lines([f"baseline written: *{kind}.json (2 rows) for CPU kind *"])
    rows = {r["test"]: r for r in report["rows"]}
    assert rows[ROBUST]["fragility"]["flips"] > 2 and rows[FRAGILE]["fragility"]["flips"] <= 2
    return path, report


def test_a_robust_row_changed_on_another_cpu_kind_fails_the_run_naming_the_claim(pytester,
                                                                                  saved):
    _, report = saved
    (pytester.path / "copy.json").write_text(json.dumps(flipped(report, ROBUST, kind=OTHER_KIND)))
    result, second = run(pytester, "--lowdim-baseline=copy.json")
    result.assert_outcomes(passed=2)  # every test is fine, and yet
    assert result.ret == pytest.ExitCode.TESTS_FAILED and second["meta"]["exitstatus"] == 1
    result.stdout.fnmatch_lines([
        "lowdim: NO BASELINE OF THIS CPU KIND: *copy.json ran on other CPU kernels*",
        "  gate  test_kind.py::test_robust: VERDICT CHANGED: REFUTED → SUPPORTED on another "
        "CPU (*), and the baseline row is robust*",
    ])
    assert second["meta"]["baseline"]["other_cpu"] is True
    # the same change of a fragile row (2 flips change it) is reported, not failing
    (pytester.path / "copy.json").write_text(json.dumps(flipped(report, FRAGILE,
                                                                kind=OTHER_KIND)))
    result, second = run(pytester, "--lowdim-baseline=copy.json")
    assert result.ret == 0
    status = {r["test"]: r["vs_baseline"]["status"] for r in second["rows"]}
    assert status == {ROBUST: "unchanged", FRAGILE: "verdict changed on another CPU"}
    result.stdout.fnmatch_lines(["*the baseline row is fragile (flips 2): reported, not failing*"])


def test_a_folder_of_baselines_gates_each_cpu_kind_with_its_own(pytester, saved):
    path, report = saved
    # this kind's own baseline: every verdict change fails, the fragile row's too
    path.write_text(json.dumps(flipped(report, FRAGILE)))
    result, _ = run(pytester, "--lowdim-baseline=baselines")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["  gate  test_kind.py::test_fragile: VERDICT CHANGED: "
                                 "REFUTED → SUPPORTED"])
    assert "NO BASELINE OF THIS CPU KIND" not in result.stdout.str()

    # a folder with only another kind's baseline: compared with it, loudly, by the rule
    other = pytester.path / "kinds"
    other.mkdir()
    (other / f"{OTHER_KIND}.json").write_text(json.dumps(flipped(report, FRAGILE,
                                                                 kind=OTHER_KIND)))
    result, second = run(pytester, "--lowdim-baseline=kinds")
    assert result.ret == 0
    result.stdout.fnmatch_lines([
        f"  no baseline of this CPU kind (*) in *kinds: compared with *{OTHER_KIND}.json, the "
        "closest kind (*); record this kind with --lowdim-save-baseline *kinds",
        "lowdim: NO BASELINE OF THIS CPU KIND*"])
    assert second["meta"]["baseline"]["label"].endswith(f"{OTHER_KIND}.json")
    (other / f"{OTHER_KIND}.json").write_text(json.dumps(flipped(report, ROBUST,
                                                                 kind=OTHER_KIND)))
    result, _ = run(pytester, "--lowdim-baseline=kinds")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["  gate  test_kind.py::test_robust: VERDICT CHANGED*"])

    # --lowdim-save-baseline with the folder adds this kind beside the other
    result, _ = run(pytester, "--lowdim-baseline=kinds", "--lowdim-save-baseline=kinds")
    assert sorted(p.name for p in other.iterdir()) == sorted([f"{OTHER_KIND}.json", path.name])
    result, _ = run(pytester, "--lowdim-baseline=kinds")
    assert result.ret == 0 and "NO BASELINE OF THIS CPU KIND" not in result.stdout.str()


@pytest.mark.parametrize("folder, message", [
    ({}, "*--lowdim-baseline empty: a folder with no baseline (*.json) in it*"),
    ({"a.json": "same", "b.json": "same"}, "*a.json and b.json are baselines of one CPU kind*"),
    ({"a.json": "{"}, "*--lowdim-baseline *a.json: not valid JSON*"),
], ids=["empty", "two-of-one-kind", "a-bad-one"])
def test_a_bad_folder_of_baselines_is_a_usage_error(pytester, saved, folder, message):
    _, report = saved
    (pytester.path / "empty").mkdir()
    for name, text in folder.items():
        (pytester.path / "empty" / name).write_text(json.dumps(report) if text == "same" else text)
    result, _ = run(pytester, "--lowdim-baseline=empty")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


@pytest.mark.parametrize("value, expected", [
    ("Infinity", "got Infinity"), ("NaN", "got NaN"), ("-1e400", "got -Infinity"),
    (str(10**400), "got 1000000000"), ("1e300", "got 1e+300"),
], ids=["inf", "nan", "overflow", "huge-int", "huge"])
def test_a_baseline_with_a_number_no_run_writes_is_refused_at_start_up(pytester, saved, value,
                                                                       expected):
    _, report = saved
    text = json.dumps(report).replace('"values": [1.0,', f'"values": [{value},', 1)
    assert text != json.dumps(report)
    (pytester.path / "bad.json").write_text(text)
    result, _ = run(pytester, "--lowdim-baseline=bad.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # before any test ran, not after
    result.stderr.fnmatch_lines([f"*--lowdim-baseline *bad.json: rows[[]0[]].evidence.values[[]0[]]: "
                                 f"expected a number within ±1e+150, {expected}*"])
    assert "passed" not in result.stdout.str()


@pytest.mark.parametrize("shape, message", [
    ({"shard": {"index": 1, "count": 10**7}}, "meta.shard.count: expected a number from 1 to 1000"),
    ({"options": {"seeds": -3}}, "meta.options.seeds: expected a number >= 1, got -3"),
], ids=["shard-count", "negative-seeds"])
def test_merge_refuses_out_of_range_inputs_in_one_line_without_allocating(tmp_path, capsys,
                                                                          shape, message):
    import tracemalloc

    rep = {"schema_version": 1, "meta": {"options": {}, **shape}, "rows": []}
    (tmp_path / "s.json").write_text(json.dumps(rep))
    tracemalloc.start()
    code = cli.main(["merge", str(tmp_path / "out.json"), str(tmp_path / "s.json")])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert peak < 50 * 2**20  # a range of 10**7 shard numbers would take hundreds of MiB
    with pytest.raises(ValueError, match="--lowdim-shard: got '1/100000'; need N <= 1000"):
        bl.parse_shard("1/100000")


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"a": ' * 40 + "1" + "}" * 40,
                                  "{", '{"schema_version": 1, "meta": {}, "rows": [NaN]}'],
                         ids=["deeper-than-python", "deep", "truncated", "nan"])
def test_every_command_says_what_is_wrong_with_a_file_in_one_line(tmp_path, capsys, text):
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    for args in (["compare", str(bad), str(bad)], ["merge", str(tmp_path / "o.json"), str(bad)],
                 ["report", str(bad)], ["compare", "last", str(bad),
                                        "--history-dir", str(tmp_path)]):
        assert cli.main(args) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"lowdim {args[0]}: "), err


# ------------------------------------------------------------------------------------------
# method-hash values


def test_functions_classes_and_modules_enter_the_hash_by_qualified_name():
    assert method.method_value(torch.tanh) == "torch.tanh"
    assert method.method_value(torch.nn.functional.relu) == "torch.nn.functional.relu"
    assert method.method_value(torch.nn.Tanh) == "torch.nn.modules.activation.Tanh"
    assert method.method_value(math) == "math" and method.method_value(math.sin) == "math.sin"
    assert method.method_value(np.sin) == "numpy.sin"
    assert method.method_value({"act": [torch.tanh, np.float32(0.5)]}) == {
        "act": ["torch.tanh", 0.5]}
    assert bl.conditions_of({"act": torch.tanh, "lr": float("nan")}) == {"act": "torch.tanh",
                                                                        "lr": None}
    hashes = {method.method_hash(module_path=None, test="t", evidence={}, profile="quick",
                                 seed_counts=[8], conditions={"act": act})
              for act in (torch.tanh, torch.tanh, "torch.tanh")}
    assert len(hashes) == 1  # the same on every call (and run), and the same as its name


@pytest.mark.parametrize("value", [object(), [1, object()], {"gen": torch.Generator()},
                                   [].append, "<function f at 0x7f3a2b1c0d10>"],
                         ids=["object", "nested", "generator", "bound-method", "its-repr"])
def test_a_value_whose_text_holds_a_memory_address_is_refused_naming_it(value):
    with pytest.raises(ValueError, match=r"condition 'act' of test_x.*holds a memory address.*"
                                         r"parametrize over a name or a plain value"):
        method.method_hash(module_path=None, test="test_x", evidence={}, profile="quick",
                           seed_counts=[8], conditions={"act": value})


def test_plain_conditions_keep_their_method_hash():
    # pinned: what lowdim-method-1 gave these before functions entered by name
    ev = {"statistic": "P(acc > 0.9)", "test": "exact binomial", "alternative": "greater",
          "threshold": 0.5, "alpha": 0.01}
    conditions = {"lr": 0.1, "act": "relu", "sizes": [1, 10, 1], "seed": None, "tied": True,
                  "arm": {"wide": 64}}
    h = method.method_hash(module_path=None, test="test_x", evidence=ev, conditions=conditions,
                           profile="quick", seed_counts=[16, 8])
    assert h == "699ee0fb0174574a", h


def test_a_claim_parametrized_over_an_object_fails_with_the_fix(pytester):
    pytester.makepyfile(test_obj='''
import numpy as np
import pytest

import lowdim as ld


class Act:
    pass


@pytest.mark.claim("obj", statement="-", source="-")
@pytest.mark.parametrize("act", [Act()])
def test_it(claim, act):
    claim.record(ld.proportion(np.ones(8, dtype=bool), threshold=0.5))
''')
    result, _ = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*condition 'act' of test_it: '<test_obj.Act object at 0x*"
                                 "holds a memory address*"])
