"""--lowdim-perturb: the engine's knobs moved for a whole run (lowdim.engine.perturb), and what
the plugin makes of it: rows labelled with what it reached, the method hash, the reproduce
command, the header, the run cache, and a baseline of another perturbation refused."""

import json

import pytest
import torch

import lowdim as ld
from lowdim import regress
from lowdim.engine import perturb

CLAIM_FILE = '''
"""A claim that trains through lowdim, and one that does not."""

import numpy as np
import pytest

import lowdim as ld

pytestmark = pytest.mark.claim("perturb-demo", statement="training lowers the loss",
                               source="tests")
CONFIG = ld.TrainConfig(steps=20, optimizer="adam", lr=0.01, batch_size=16,
                        loss="cross_entropy")
MODEL = ld.MLP((2, 8, 2), weight_init=ld.Init("xavier"))


@ld.cached
def final_loss(seeds: tuple, key: str) -> list:
    data = ld.make_moons(list(seeds), n_samples=60, noise=0.1, key=key)
    result = ld.train(MODEL, data, CONFIG, seeds=list(seeds), key=key)
    return result.losses[-1].tolist()


def test_trains_through_lowdim(claim):
    ev = claim.record(ld.location(final_loss(tuple(claim.seeds(8)), claim.id), threshold=5.0,
                                  alternative="less"))
    assert ev.supported, ev


def test_reads_the_cached_training(claim):
    ev = claim.record(ld.location(final_loss(tuple(claim.seeds(8)), claim.id), threshold=5.0,
                                  alternative="less"))
    assert ev.supported, ev


def test_its_own_numpy_loop(claim):
    w = np.zeros(claim.seeds(8)[-1] + 1)
    for _ in range(10):  # gradient descent on (w - 1)^2, no lowdim engine
        w -= 0.3 * 2 * (w - 1)
    ev = claim.record(ld.location(w[claim.seeds(8)], threshold=0.5))
    assert ev.supported, ev
'''
ALL = "lr=x2,steps=x0.5,batch=x2,width=x2,init=x0.5,noise=x3"
KEY = "perturb-demo"


def run(pytester, *args, outcomes=True) -> dict:
    result = pytester.runpytest_inprocess("-p", "no:randomly", "-n", "0", *args)
    if outcomes:
        result.assert_outcomes(passed=3)
    return json.loads((pytester.path / "reports" / "claims.json").read_text())


def direct(*, lr=0.01, steps=20, batch=16, width=8, init=1.0, noise=0.1) -> list[float]:
    """The demo's training called directly, with the perturbed values spelled out."""
    seeds = list(range(8))
    data = ld.make_moons(seeds, n_samples=60, noise=noise, key=KEY)
    model = ld.MLP((2, width, 2), weight_init=ld.Init("xavier"))
    params = {k: v * init if k.startswith("w") else v
              for k, v in model.init(seeds, key=KEY).items()}
    config = ld.TrainConfig(steps=steps, optimizer="adam", lr=lr, batch_size=batch,
                            loss="cross_entropy")
    result = ld.train(model, data, config, seeds=seeds, key=KEY, params=params)
    return result.losses[-1].tolist()


def rows(report: dict) -> dict:
    return {r["test"].split("::")[-1]: r for r in report["rows"]}


def test_a_perturbation_reaches_config_model_and_data_as_a_direct_call_does(pytester):
    pytester.makepyfile(test_demo=CLAIM_FILE)
    own = rows(run(pytester, "--lowdim-no-cache"))
    report = run(pytester, f"--lowdim-perturb={ALL}", "--lowdim-no-cache")
    moved = rows(report)
    assert perturb.active() is None  # the run put the process back as it was
    want = direct(lr=0.02, steps=10, batch=32, width=16, init=0.5, noise=0.3)
    assert moved["test_trains_through_lowdim"]["evidence"]["values"] == want
    assert own["test_trains_through_lowdim"]["evidence"]["values"] == direct()
    assert want != direct()
    assert moved["test_trains_through_lowdim"]["perturbed"] == [
        "lr", "steps", "batch", "width", "init", "noise"]
    assert moved["test_reads_the_cached_training"]["perturbed"] == moved[
        "test_trains_through_lowdim"]["perturbed"]  # served from the memo: reached all the same
    numpy_row = moved["test_its_own_numpy_loop"]
    assert numpy_row["perturbed"] == [] and numpy_row["evidence"] == own[
        "test_its_own_numpy_loop"]["evidence"]
    assert all("perturbed" not in r for r in own.values())  # the own run: no such key
    md = (pytester.path / "reports" / "claims.md").read_text()
    assert "not perturbed" in md and f"perturbation: `{ALL}`" in md
    assert report["meta"]["options"]["perturb"] == ALL and "perturb" not in (
        run(pytester, "--lowdim-no-cache")["meta"]["options"])
    for name, row in moved.items():
        assert f"--lowdim-perturb={ALL}" in row["reproduce"]
        assert row["method_hash"] != own[name]["method_hash"]  # another method: a neighbour


def test_the_run_cache_keys_and_keeps_what_a_perturbation_reached(pytester):
    pytester.makepyfile(test_demo=CLAIM_FILE)
    run(pytester)  # the own setting, stored
    first = rows(run(pytester, "--lowdim-perturb=lr=x2"))  # its own entries, computed
    again = rows(run(pytester, "--lowdim-perturb=lr=x2"))  # read back from the disk store
    assert again["test_trains_through_lowdim"]["cached_s"] > 0
    for name in first:
        assert again[name]["perturbed"] == first[name]["perturbed"]
        assert again[name]["evidence"]["values"] == first[name]["evidence"]["values"]
    assert first["test_trains_through_lowdim"]["perturbed"] == ["lr"]
    assert first["test_trains_through_lowdim"]["evidence"]["values"] == direct(lr=0.02)


def test_a_neighbour_is_never_a_regression_check(pytester):
    pytester.makepyfile(test_demo=CLAIM_FILE)
    own = run(pytester, "--lowdim-save-baseline=base.json", "--lowdim-no-cache")
    result = pytester.runpytest_inprocess("-p", "no:randomly", "-n", "0", "--lowdim-no-cache",
                                          "--lowdim-perturb=steps=x0.5",
                                          "--lowdim-baseline=base.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "a neighbour, not a regression check" in result.stderr.str()
    moved = run(pytester, "--lowdim-perturb=steps=x0.5", "--lowdim-no-cache",
                "--lowdim-save-baseline=moved.json")
    comparison = regress.compare(own, moved)
    assert comparison["mode"] == "neighbour" and not comparison["failed"]
    assert {d["status"] for d in comparison["rows"].values()} == {"neighbour"}
    # and the other way round: an own-setting run against a perturbed baseline
    result = pytester.runpytest_inprocess("-p", "no:randomly", "-n", "0", "--lowdim-no-cache",
                                          "--lowdim-baseline=moved.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "neighbour" in result.stderr.str()


@pytest.mark.parametrize("spec, message", [
    ("lr=2", "need KNOB=xF"), ("depth=x2", "KNOB one of lr, steps"), ("lr=x1", "other than 1"),
    ("lr=x0", "> 0"), ("lr=x2,lr=x3", "given twice")])
def test_a_bad_perturbation_is_a_usage_error(pytester, spec, message):
    pytester.makepyfile(test_demo=CLAIM_FILE)
    result = pytester.runpytest_inprocess("-n", "0", f"--lowdim-perturb={spec}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


@pytest.mark.slow  # subprocess runs: skipped by the inner loop (-m 'not slow')
def test_the_ini_key_and_xdist_workers_get_the_perturbation(pytester):
    pytester.makepyfile(test_demo=CLAIM_FILE)
    pytester.makeini("[pytest]\nlowdim_perturb = width=x2, lr=x2\n")
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-n", "2", "--lowdim-no-cache")
    result.assert_outcomes(passed=3)
    report = json.loads((pytester.path / "reports" / "claims.json").read_text())
    row = rows(report)["test_trains_through_lowdim"]
    assert report["meta"]["options"]["perturb"] == "lr=x2,width=x2"
    assert row["perturbed"] == ["lr", "width"]
    assert row["evidence"]["values"] == direct(lr=0.02, width=16)


def test_parse_and_the_engine_without_a_perturbation():
    p = perturb.parse("steps=x0.5 lr=x2")
    assert p.text == "lr=x2,steps=x0.5" and perturb.parse(" ") is None
    assert [g.text for g in perturb.parse_grid("lr=x0.5,x2 width=x2")] == [
        "lr=x0.5", "lr=x2", "width=x2"]
    with pytest.raises(ValueError, match="given twice"):
        perturb.parse_grid("lr=x2 lr=x2")
    config, model = ld.TrainConfig(steps=5), ld.MLP((1, 4, 1))
    assert perturb.active() is None
    assert perturb.train_config(config) is config and perturb.widened(model) is model
    own_params = model.init([0], key="k")
    previous = perturb.activate(perturb.parse("width=x2,steps=x2"))
    try:
        wide = perturb.widened(model)
        assert wide.sizes == (1, 8, 1) and perturb.widened(wide) is wide  # never twice
        moved = perturb.train_config(config)
        assert moved.steps == 10 and perturb.train_config(moved) is moved
        assert config.steps == 5 and model.sizes == (1, 4, 1)  # the claim's constants stay
        assert perturb.widened(model, own_params) is model  # params of the own width: kept
        assert ld.MLP((1, 4, 1)).init([0], key="k")["w0"].shape == (1, 1, 8)
        assert perturb.key_part() == {"perturbation": "steps=x2,width=x2"}
        perturb.activate(perturb.parse("width=x0.5,steps=x0.5"))
        perturb.reset()
        chain = ld.MLP((1, 1, 1, 1))  # one unit x0.5 rounds back to one unit
        assert perturb.widened(chain) is chain and perturb.count("steps", 1) == 1
        assert perturb.train_config(ld.TrainConfig(steps=1)) == ld.TrainConfig(steps=1)
        assert perturb.reached() == []  # nothing changed: nothing reached
    finally:
        perturb.activate(previous)
    assert torch.equal(ld.MLP((1, 4, 1)).init([0], key="k")["w0"],
                       ld.MLP((1, 4, 1)).init([0], key="k")["w0"])
    assert perturb.key_part() == {}
