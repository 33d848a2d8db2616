"""Fuzz the public surface: constructors, data makers, training, decisions and plugin options.

The property everywhere: a call either works (and what it made then works end to end: a model
initialises and trains, a decision is JSON-safe) or it fails at once with a ValueError /
TypeError (pytest.UsageError for options) whose message names the field. An IndexError, a
KeyError or a RuntimeError from deep inside torch or numpy fails the test.
"""

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lowdim as ld
from lowdim.plugin import reliability
from lowdim.plugin.options import parse_options

FUZZ = settings(max_examples=40, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
TRAINING = settings(FUZZ, max_examples=25)  # each example trains a tiny net

# values of the wrong type or out of range, and a few right ones
JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 5), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -0.0, 0.5, 2.5]), st.text(max_size=4), st.lists(st.integers(-2, 4),
                                                                         max_size=3),
    st.just(object()), st.just({"a": 1}),
)


def clear(call, *fields: str):
    """call() or None; a ValueError / TypeError must name one of `fields`."""
    try:
        return call()
    except (ValueError, TypeError) as e:
        assert any(f in str(e) for f in fields), f"{type(e).__name__} naming none of {fields}: {e}"
        return None


SEEDS = [0, 1]


def tiny_data(d: int = 2, classes: int = 2) -> ld.Data:
    x = torch.linspace(-1, 1, 2 * 4 * d).reshape(2, 4, d)  # (S=2, N=4, d)
    y = (torch.arange(8).reshape(2, 4) % classes)  # (S, N) labels
    return ld.Data(x, y)


def works_end_to_end(model, config=None) -> None:
    data = tiny_data(model.sizes[0], model.sizes[-1])
    config = config or ld.TrainConfig(steps=2, loss="cross_entropy")
    result = ld.train(model, data, config, seeds=SEEDS, key="fuzz")
    assert result.predict(data.x).shape == (2, 4, model.sizes[-1])
    assert result.diverged.shape == (2,)


# ------------------------------------------------------------------------------------------
# models


MLP_FIELDS = {
    "sizes": st.one_of(JUNK, st.lists(st.integers(-1, 4), max_size=4),
                       st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3))),
    "activation": st.one_of(JUNK, st.sampled_from([*ld.ACTIVATIONS, "softmax", "RELU"])),
    "out_activation": st.one_of(JUNK, st.sampled_from([*ld.ACTIVATIONS, "gelu"])),
    "bias": JUNK,
    "weight_init": st.one_of(JUNK, st.just(ld.Init("xavier"))),
    "bias_init": st.one_of(JUNK, st.just(ld.Init("zeros"))),
    "tie_hidden": JUNK,
    "dropout": JUNK,
}


@TRAINING
@given(field=st.sampled_from(sorted(MLP_FIELDS)), data=st.data())
def test_mlp_takes_a_valid_field_or_names_the_bad_one(field, data):
    value = data.draw(MLP_FIELDS[field], label=field)
    kwargs = {"sizes": (2, 3, 2), field: value}
    model = clear(lambda: ld.MLP(**kwargs), f"MLP.{field}")
    if model is not None:
        works_end_to_end(model)


@TRAINING
@given(kind=st.one_of(JUNK, st.sampled_from(["xavier", "normal", "uniform", "constant", "he",
                                             "torch", "zeros", "glorot"])), value=JUNK)
def test_init_takes_a_valid_rule_or_names_the_bad_field(kind, value):
    init = clear(lambda: ld.Init(kind, value), "Init.kind", "Init.value")
    if init is not None:
        works_end_to_end(ld.MLP((2, 3, 2), weight_init=init))


# ------------------------------------------------------------------------------------------
# training


CONFIG_FIELDS = {
    "steps": JUNK,
    "optimizer": st.one_of(JUNK, st.sampled_from(["gd", "sgd", "adam", "rmsprop"])),
    "lr": JUNK,
    "momentum": JUNK,
    "batch_size": JUNK,
    "sampling": st.one_of(JUNK, st.sampled_from(["random", "epoch", "ordered", "shuffle"])),
    "loss": st.one_of(JUNK, st.sampled_from([*ld.LOSSES, "huber"])),
    "l1": JUNK,
    "l2": JUNK,
    "record_every": JUNK,
    "snapshot_every": JUNK,
    "dtype": st.one_of(JUNK, st.sampled_from(["float32", "float64", "float16"])),
}


@TRAINING
@given(field=st.sampled_from(sorted(CONFIG_FIELDS)), data=st.data())
def test_train_config_takes_a_valid_field_or_names_the_bad_one(field, data):
    value = data.draw(CONFIG_FIELDS[field], label=field)
    kwargs = {"steps": 3, "loss": "cross_entropy", field: value}
    config = clear(lambda: ld.TrainConfig(**kwargs), f"TrainConfig.{field}")
    if config is not None:
        hash(config)  # a cache key
        works_end_to_end(ld.MLP((2, 3, 2)), config)  # may diverge (lr 1e308), never raise


@FUZZ
@given(d_model=st.integers(1, 3), d_data=st.integers(1, 3), out=st.integers(1, 3),
       classes=st.integers(1, 4), float_targets=st.booleans(), loss=st.sampled_from(
           ["mse", "cross_entropy", "hinge"]), n_seeds=st.integers(1, 3))
def test_train_names_the_mismatched_shape(d_model, d_data, out, classes, float_targets, loss,
                                          n_seeds):
    x = torch.ones(2, 4, d_data)  # (S, N, d)
    y = (torch.ones(2, 4, classes) if float_targets
         else torch.arange(8).reshape(2, 4) % classes)
    data = ld.Data(x, y)
    model = ld.MLP((d_model, 3, out))
    config = ld.TrainConfig(steps=2, loss=loss)
    result = clear(lambda: ld.train(model, data, config, seeds=list(range(n_seeds)), key="f"),
                   "data.x", "data.y", "data: has")
    if result is not None:
        assert torch.isfinite(result.losses).all()


@FUZZ
@given(model=JUNK, data=JUNK, config=JUNK, key=JUNK, monitor_every=JUNK)
def test_train_names_each_bad_argument(model, data, config, key, monitor_every):
    args = {"model": ld.MLP((2, 3, 2)), "data": tiny_data(), "config": ld.TrainConfig(steps=1),
            "key": "k", "monitor_every": 0}
    for name, value in (("model", model), ("data", data), ("config", config), ("key", key),
                        ("monitor_every", monitor_every)):
        bad = {**args, name: value}
        clear(lambda bad=bad: ld.train(bad.pop("model"), bad.pop("data"), bad.pop("config"),
                                       seeds=SEEDS, **bad), f"{name}:", f"{name} ")


# ------------------------------------------------------------------------------------------
# data


MAKERS = {
    "make_clusters": (ld.make_clusters, {"centers": [[0, 1], [1, 0]], "n_per_class": 3,
                                         "std": 0.1}),
    "make_gaussian_mixture": (ld.make_gaussian_mixture, {"n_samples": 8, "d": 2,
                                                         "class_seps": 1.0,
                                                         "covariance_scale": 1.0,
                                                         "test_size": 0.25}),
    "make_alternating": (ld.make_alternating, {"n_points": 4}),
    "make_moons": (ld.make_moons, {"n_samples": 10, "noise": 0.1, "test_size": 0.2}),
    "make_1d": (ld.make_1d, {"x": [0.0, 0.5, 1.0], "target": lambda x, rng: x ** 2}),
}


@FUZZ
@given(maker=st.sampled_from(sorted(MAKERS)), data=st.data())
def test_data_makers_take_valid_arguments_or_name_the_bad_one(maker, data):
    make, kwargs = MAKERS[maker]
    field = data.draw(st.sampled_from([*sorted(kwargs), "seeds", "key"]), label="field")
    value = data.draw(JUNK, label=field)
    args = {"seeds": SEEDS, "key": "fuzz", **kwargs, field: value}
    seeds = args.pop("seeds")
    made = clear(lambda: make(seeds, **args), field)
    if made is not None:
        assert made.x.shape[0] == 2 and made.y.shape[:2] == made.x.shape[:2]


@FUZZ
@given(x=st.one_of(JUNK, st.just(torch.ones(2, 3))), y=st.one_of(JUNK, st.just(torch.ones(2, 4))),
       test=st.booleans())
def test_data_checks_its_tensors(x, y, test):
    ok_x, ok_y = torch.ones(2, 3, 1), torch.zeros(2, 3, dtype=torch.long)
    for kwargs in ({"x": x, "y": ok_y}, {"x": ok_x, "y": y}):
        if test:
            kwargs = {"x": ok_x, "y": ok_y, "x_test": kwargs["x"], "y_test": kwargs["y"]}
        clear(lambda kwargs=kwargs: ld.Data(**kwargs), "Data.")


# ------------------------------------------------------------------------------------------
# decisions


def per_seed(min_size=0):
    return st.one_of(
        st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=min_size,
                 max_size=12),
        st.lists(st.floats(0, 1), min_size=8, max_size=12),
        st.lists(st.booleans(), min_size=8, max_size=12),
        JUNK,
    )


DECISIONS = {
    "proportion": (ld.proportion, {"flags": [True] * 9 + [False]},
                   {"threshold": 0.5, "alternative": "greater"}),
    "location": (ld.location, {"values": list(np.linspace(0.5, 1, 10))},
                 {"threshold": 0.2, "alternative": "greater"}),
    "paired": (ld.paired, {"a": list(range(1, 11)), "b": [0.5] * 10},
               {"alternative": "greater", "margin": 0.0, "test": "wilcoxon"}),
    "equivalence": (ld.equivalence, {"a": [0.01] * 10, "b": [0.0] * 10}, {"margin": 0.1}),
    "trend": (ld.trend, {"table": np.tile(np.arange(3.0), (8, 1)).tolist()},
              {"alternative": "increasing"}),
}


@FUZZ
@given(name=st.sampled_from(sorted(DECISIONS)), data=st.data())
def test_decisions_take_valid_input_or_name_the_bad_argument(name, data):
    decide, arrays, options = DECISIONS[name]
    fields = [*arrays, *options, "alpha", "nonfinite", "diverged"]
    field = data.draw(st.sampled_from(fields), label="field")
    if field in arrays or field == "diverged":
        value = data.draw(per_seed(), label=field)
    elif field == "nonfinite":
        value = data.draw(st.one_of(JUNK, st.sampled_from(["raise", "fail", "exclude"])))
    else:
        value = data.draw(st.one_of(JUNK, st.sampled_from(
            ["two-sided", "less", "decreasing", "sign", 0.01, 0.99, -0.5, 1.5])), label=field)
    args = {**arrays, **options, field: value}
    positional = [args.pop(k) for k in arrays]
    ev = clear(lambda: decide(*positional, **args), f"{field}", "a, b", "k, n", "nonfinite=")
    if ev is not None:
        json.dumps(ev.to_dict(), allow_nan=False)
        assert ev.verdict in tuple(ld.Verdict)


@FUZZ
@given(values=per_seed(min_size=1), policy=st.sampled_from(["raise", "fail", "exclude"]),
       alternative=st.sampled_from(["greater", "less", "two-sided"]))
def test_non_finite_seeds_are_never_dropped_silently(values, policy, alternative):
    ev = clear(lambda: ld.location(values, threshold=0.5, nonfinite=policy,
                                   alternative=alternative), "values", "nonfinite")
    if ev is None:
        return
    v = np.asarray(values, dtype=np.float64)
    bad = int((~np.isfinite(v)).sum())
    assert ev.details["n_nonfinite"] == bad and ev.details["nonfinite"] == policy
    assert ev.n == (v.size - bad if policy == "exclude" else v.size)


@FUZZ
@given(k=JUNK, n=JUNK, alpha=JUNK, pvalues=per_seed())
def test_the_small_statistics_helpers_check_their_input(k, n, alpha, pvalues):
    clear(lambda: ld.clopper_pearson(k, n, 0.05, "greater"), "k, n")
    clear(lambda: ld.clopper_pearson(3, 10, alpha, "two-sided"), "alpha")
    adjusted = clear(lambda: ld.holm(pvalues), "pvalues")
    if adjusted is not None:
        assert ((adjusted >= 0) & (adjusted <= 1)).all()


# ------------------------------------------------------------------------------------------
# plugin options


class Options:
    """A stand-in for pytest.Config: what argparse hands the plugin after type conversion."""

    def __init__(self, **values):
        self.values = {"lowdim_seeds": None, "lowdim_seed_offset": 0, "lowdim_device": "cpu",
                       "lowdim_report_dir": "reports", "lowdim_profile": "quick",
                       "lowdim_threads": 1, "lowdim_no_report": False, "lowdim_timeout": None,
                       "lowdim_adaptive": False, "lowdim_smoke": False, "lowdim_history": 20,
                       "lowdim_perturb": None, **values}

    def getoption(self, name):
        return self.values[name]


OPTION_VALUES = {
    "lowdim_seeds": st.one_of(st.none(), st.integers(-5, 5)),
    "lowdim_seed_offset": st.integers(-5, 5),
    "lowdim_device": st.sampled_from(["cpu", "auto", "cuda", "cuda:0", "tpu", "", "CPU"]),
    "lowdim_profile": st.one_of(st.text(max_size=5), st.sampled_from(["quick", "full"])),
    "lowdim_threads": st.integers(-2, 4),
    "lowdim_timeout": st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
    "lowdim_history": st.integers(-3, 30),
    "lowdim_perturb": st.one_of(st.none(), st.text(max_size=12), st.sampled_from(
        ["lr=x2", "lr=x0", "lr=x1", "width=x0.5,steps=x2", "bogus=x2", "lr=x2,lr=x3",
         "noise=xnan", "init=x-1"])),
}


@FUZZ
@given(name=st.sampled_from(sorted(OPTION_VALUES)), data=st.data())
def test_options_are_valid_or_a_usage_error_naming_the_option(name, data):
    value = data.draw(OPTION_VALUES[name], label=name)
    option = "--" + name.replace("_", "-")
    try:
        opts = parse_options(Options(**{name: value}))
    except pytest.UsageError as e:
        assert str(e).startswith(option), e
        return
    if name == "lowdim_device" and value.startswith("cuda"):
        assert torch.cuda.is_available()  # only a machine with a GPU takes cuda
    if name == "lowdim_timeout":
        assert value is None or (value > 0 and math.isfinite(value))
    if name == "lowdim_perturb":  # kept in its canonical spelling (None: no perturbation)
        from lowdim.engine.perturb import parse

        assert opts.perturb is None or parse(opts.perturb).text == opts.perturb
        assert (opts.perturb is None) == (parse(value) is None)
        return
    assert getattr(opts, name.removeprefix("lowdim_")) == value


def test_a_marker_time_limit_is_checked_like_the_option():
    for bad in (0, -1, float("nan"), float("inf"), "10", True):
        with pytest.raises(ValueError, match="timeout"):
            reliability.check_timeout(bad, "timeout")
    assert reliability.check_timeout(2, "timeout") == 2.0
