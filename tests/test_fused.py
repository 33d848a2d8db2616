"""The fused path (lowdim.engine.fused; lowdim.train(compile=True / "auto")): in float64 the
standard path's parameters and losses, eagerly and compiled; a ValueError naming the field
where it does not apply with compile=True, and the standard path with "auto"."""

from __future__ import annotations

import pytest
import torch

import lowdim as ld
from lowdim.engine import fused, perturb

KEY = "fused"
SEEDS = [0, 1, 2]
CPU = torch.device("cpu")
needs_compiler = pytest.mark.skipif(not fused.compiler_available(CPU),
                                    reason="torch.compile on the CPU needs a C++ compiler")


def _data(sizes, loss: str, n: int = 9, soft: bool = False) -> ld.Data:
    g = torch.Generator().manual_seed(sum(sizes) + n)
    x = torch.randn(len(SEEDS), n, sizes[0], generator=g, dtype=torch.float64)
    k = sizes[-1]
    if loss == "cross_entropy" and soft:  # probabilities
        y = torch.rand(len(SEEDS), n, k, generator=g, dtype=torch.float64).softmax(-1)
    elif loss == "cross_entropy":  # every label used (lowdim.train checks it)
        y = torch.stack([torch.randperm(n, generator=g) % k for _ in SEEDS])  # (S, N)
    else:
        y = torch.randn(len(SEEDS), n, k, generator=g, dtype=torch.float64)
    return ld.Data(x, y)


# (sizes, activation, bias, tie_hidden, TrainConfig fields)
CASES = {
    "1-H-1 relu gd mse": ((1, 8, 1), "relu", True, False, dict(optimizer="gd", lr=0.05)),
    "1-H-1 tanh adam, no bias": ((1, 8, 1), "tanh", False, False, dict(optimizer="adam")),
    "2-H-H-3 relu adam ce": ((2, 5, 6, 3), "relu", True, False,
                             dict(optimizer="adam", lr=0.01, loss="cross_entropy")),
    "2-H-H-3 tanh gd ce l1, no bias": ((2, 5, 6, 3), "tanh", False, False,
                                       dict(optimizer="gd", lr=0.1, loss="cross_entropy",
                                            l1=0.01)),
    "tied sigmoid sgd momentum l2": ((2, 4, 4, 4, 2), "sigmoid", True, True,
                                     dict(optimizer="sgd", lr=0.1, momentum=0.9, l2=0.1)),
    "half_sse sin": ((1, 6, 2), "sin", True, False, dict(optimizer="gd", lr=0.01,
                                                         loss="half_sse")),
    "wide layers (einsum)": ((3, 40, 30, 2), "relu", True, False,
                             dict(optimizer="adam", loss="cross_entropy")),
}


def _case(name: str, steps: int = 12, soft: bool = False):
    sizes, act, bias, tie, fields = CASES[name]
    model = ld.MLP(sizes, activation=act, bias=bias, tie_hidden=tie)
    config = ld.TrainConfig(steps=steps, dtype="float64", record_every=5, **fields)
    return model, _data(sizes, config.loss, soft=soft), config


def _assert_same(ours: ld.TrainResult, ref: ld.TrainResult, rtol: float = 1e-10) -> None:
    assert list(ours.params) == list(ref.params)
    for k in ref.params:
        assert ours.params[k].shape == ref.params[k].shape, k
        torch.testing.assert_close(ours.params[k], ref.params[k], rtol=rtol, atol=rtol * 1e-2)
        assert torch.equal(ours.init[k], ref.init[k]), k
    assert torch.equal(ours.loss_steps, ref.loss_steps)
    torch.testing.assert_close(ours.losses, ref.losses, rtol=rtol, atol=rtol * 1e-2)


@pytest.mark.parametrize("name", list(CASES))
def test_the_eager_fused_step_takes_the_standard_paths_steps(name):
    model, data, config = _case(name)
    ref = ld.train(model, data, config, seeds=SEEDS, key=KEY)
    ours = fused.fit(model, data, config, seeds=SEEDS, key=KEY, device=CPU, compile=False)
    _assert_same(ours, ref)


def test_soft_cross_entropy_targets_and_given_params_train_alike():
    model, data, config = _case("2-H-H-3 relu adam ce", soft=True)
    params = model.init(SEEDS, key="other", dtype=torch.float64)
    ref = ld.train(model, data, config, seeds=SEEDS, key=KEY, params=params)
    _assert_same(fused.fit(model, data, config, seeds=SEEDS, key=KEY, params=params, device=CPU,
                           compile=False), ref)


def test_float32_agrees_to_float32_rounding():
    model, data, config = _case("2-H-H-3 relu adam ce")
    config = ld.TrainConfig(**{**config.__dict__, "dtype": "float32"})
    ref = ld.train(model, data, config, seeds=SEEDS, key=KEY)
    ours = fused.fit(model, data, config, seeds=SEEDS, key=KEY, device=CPU, compile=False)
    assert ours.params["w0"].dtype == torch.float32
    _assert_same(ours, ref, rtol=1e-4)


@needs_compiler
@pytest.mark.parametrize("name", ["1-H-1 relu gd mse", "2-H-H-3 tanh gd ce l1, no bias"])
@pytest.mark.slow  # subprocess runs: skipped by the inner loop (-m 'not slow')
def test_the_compiled_fused_step_takes_the_standard_paths_steps(name):
    model, data, config = _case(name)
    ref = ld.train(model, data, config, seeds=SEEDS, key=KEY)
    _assert_same(ld.train(model, data, config, seeds=SEEDS, key=KEY, compile=True), ref)


@pytest.mark.parametrize("change, field", [
    (dict(config={"batch_size": 4}), "config.batch_size=4"),
    (dict(config={"snapshot_every": 3}), "config.snapshot_every=3"),
    (dict(config={"loss": "hinge"}), "config.loss='hinge'"),
    (dict(model={"dropout": 0.5}), "model.dropout=0.5"),
    (dict(model={"parametrization": "ntk"}), "model.parametrization='ntk'"),
    (dict(train={"monitor": lambda p: p["w0"].sum((1, 2)), "monitor_every": 2}), "monitor="),
    (dict(train={"weight_masks": "ones"}), "weight_masks="),
    (dict(torch_module=True), "model: got TorchModule"),
])
def test_unsupported_runs_raise_with_true_and_fall_back_with_auto(change, field, monkeypatch):
    model, data, config = _case("1-H-1 relu gd mse")
    model = ld.MLP(**{**model.__dict__, **change.get("model", {})})
    config = ld.TrainConfig(**{**config.__dict__, **change.get("config", {})})
    extra = dict(change.get("train", {}))
    if extra.get("weight_masks"):
        extra["weight_masks"] = {k: torch.ones_like(v) for k, v in
                                 model.init(SEEDS, key=KEY, dtype=torch.float64).items()
                                 if k.startswith("w")}
    if change.get("torch_module"):
        model = ld.TorchModule(lambda: torch.nn.Sequential(torch.nn.Linear(1, 4),
                                                           torch.nn.ReLU(), torch.nn.Linear(4, 1)))
    with pytest.raises(ValueError, match="compile=True: .*" + field.replace("(", r"\(")) as err:
        ld.train(model, data, config, seeds=SEEDS, key=KEY, compile=True, **extra)
    assert "use compile=False or 'auto'" in str(err.value)
    monkeypatch.setattr(fused, "worth_compiling", lambda *a: True)  # would pick it if it could
    ref = ld.train(model, data, config, seeds=SEEDS, key=KEY, **extra)
    auto = ld.train(model, data, config, seeds=SEEDS, key=KEY, compile="auto", **extra)
    for k in ref.params:
        assert torch.equal(auto.params[k], ref.params[k]), k  # the standard path, bit for bit


def test_compile_takes_false_true_or_auto():
    model, data, config = _case("1-H-1 relu gd mse")
    with pytest.raises(ValueError, match="compile: got 'yes'; allowed: False, True, 'auto'"):
        ld.train(model, data, config, seeds=SEEDS, key=KEY, compile="yes")


def test_auto_picks_the_fused_path_for_long_runs_of_tiny_nets_only(monkeypatch):
    monkeypatch.setattr(fused, "compiler_available", lambda device: True)
    w2, w3 = ld.MLP((1, 10, 10, 1)), ld.MLP((2, 64, 64, 2))
    long = ld.TrainConfig(steps=700_000)  # x 3 seeds: 2.1 million seed-steps
    assert fused.worth_compiling(w2, _data(w2.sizes, "mse", n=16), long, CPU)
    assert not fused.worth_compiling(w2, _data(w2.sizes, "mse", n=16),
                                     ld.TrainConfig(steps=200), CPU)  # 600 seed-steps
    assert not fused.worth_compiling(w3, _data(w3.sizes, "mse", n=1200), long, CPU)
    assert fused.forward_macs(w2, 16) == 1920 and fused.forward_macs(w3, 1200) == 5_222_400
    monkeypatch.setattr(fused, "compiler_available", lambda device: False)
    assert not fused.worth_compiling(w2, _data(w2.sizes, "mse", n=16), long, CPU)


def test_auto_and_the_fused_path_train_the_perturbed_run(monkeypatch):
    calls = []

    def eager_fit(*args, **kwargs):  # the fused path without compiling, noting its config
        calls.append(args[2])
        return fused_fit(*args, **{**kwargs, "compile": False})

    fused_fit = fused.fit
    monkeypatch.setattr(fused, "fit", eager_fit)
    monkeypatch.setattr(fused, "worth_compiling", lambda *a: True)
    model, data, config = _case("1-H-1 relu gd mse")
    doubled = ld.TrainConfig(**{**config.__dict__, "lr": 2 * config.lr})
    ref = ld.train(model, data, doubled, seeds=SEEDS, key=KEY)
    before = perturb.activate(perturb.parse("lr=x2"))
    try:
        ours = ld.train(model, data, config, seeds=SEEDS, key=KEY, compile="auto")
    finally:
        perturb.activate(before)
    assert [c.lr for c in calls] == [doubled.lr]
    _assert_same(ours, ref)
