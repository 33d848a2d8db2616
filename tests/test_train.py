"""The seed-batched core: one seed of a batch equals the same net trained alone.

References are plain torch (nn.Sequential of nn.Linear, torch.optim), written independently of
lowdim's batched code. lowdim stores a layer as w (S, in, out), b (S, 1, out), so for seed i
nn.Linear.weight = w[i].T and nn.Linear.bias = b[i, 0].
"""

import math
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import lowdim as ld

KEY = "tests-train"
STEPS = 25
CENTERS = [[0.0, 1.0], [1.0, -0.5], [-1.0, -0.5]]
TORCH_ACT = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "identity": nn.Identity}


def clusters(seeds, n_per_class=6):
    return ld.make_clusters(seeds, centers=CENTERS, n_per_class=n_per_class, std=0.4, key=KEY)


def curve(seeds):
    return ld.make_1d(seeds, x=np.linspace(-1, 1, 15), target=lambda x, rng: np.sin(3 * x),
                      key=KEY)


def reference_net(model: ld.MLP, params: dict, i: int) -> nn.Sequential:
    """Seed i of a batched MLP as an nn.Sequential with the same weights."""
    layers = []
    n = len(model.sizes) - 1
    for k, (fan_in, fan_out) in enumerate(zip(model.sizes[:-1], model.sizes[1:], strict=True)):
        lin = nn.Linear(fan_in, fan_out, dtype=params["w0"].dtype)
        with torch.no_grad():
            lin.weight.copy_(params[f"w{k}"][i].T)
            lin.bias.copy_(params[f"b{k}"][i, 0])
        layers.append(lin)
        layers.append(TORCH_ACT[model.activation if k < n - 1 else model.out_activation]())
    return nn.Sequential(*layers)


def reference_optimizer(config: ld.TrainConfig, parameters):
    if config.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=config.lr)
    if config.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=config.lr, momentum=config.momentum)
    return torch.optim.SGD(parameters, lr=config.lr)


def reference_loss(name, out, y):
    if name == "cross_entropy":
        return F.cross_entropy(out, y)
    target = y if y.is_floating_point() else F.one_hot(y, out.shape[-1]).to(out.dtype)
    return F.mse_loss(out, target)


def train_alone(net: nn.Module, x, y, config: ld.TrainConfig):
    """Plain torch training of one net; batches in data order when config.sampling="ordered"."""
    opt = reference_optimizer(config, net.parameters())
    n = x.shape[0]
    b = n if config.batch_size is None else config.batch_size
    starts = [s for s in range(0, n, b)]
    losses = []
    for step in range(config.steps):
        s = starts[step % len(starts)]
        out = net(x[s : s + b])
        loss = reference_loss(config.loss, out, y[s : s + b])
        penalty = sum(config.l1 * m.weight.abs().mean() + config.l2 * m.weight.square().mean()
                      for m in net.modules() if isinstance(m, nn.Linear))
        opt.zero_grad()
        (loss + penalty).backward()
        opt.step()
        losses.append(loss.item())
    return torch.tensor(losses, dtype=torch.float64)


OPTIMIZERS = {
    "gd": dict(optimizer="gd", lr=0.2),
    "sgd": dict(optimizer="sgd", lr=0.05, momentum=0.9),
    "adam": dict(optimizer="adam", lr=0.02),
}
# float32 differences measured here were ~1e-7 (summation order); the bound leaves room.
TOLERANCE = {"float64": dict(rtol=1e-9, atol=1e-11), "float32": dict(rtol=1e-4, atol=1e-5)}


def check_against_reference(model, data, config, seeds):
    result = ld.train(model, data, config, seeds=seeds, key=KEY)
    dtype = config.torch_dtype
    tol = TOLERANCE[config.dtype]
    for i in range(len(seeds)):
        net = reference_net(model, result.init, i)
        x = data.x[i].to(dtype)
        y = data.y[i].to(dtype) if data.y.is_floating_point() else data.y[i]
        losses = train_alone(net, x, y, config)
        torch.testing.assert_close(result.losses[:, i].double(), losses, **tol)
        trained = reference_net(model, result.params, i)
        for mine, ref in zip(trained.parameters(), net.parameters(), strict=True):
            torch.testing.assert_close(mine, ref.detach(), **tol)
    return result


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_each_seed_of_a_batched_mlp_equals_the_net_trained_alone(optimizer, loss, dtype):
    config = ld.TrainConfig(steps=STEPS, loss=loss, dtype=dtype, **OPTIMIZERS[optimizer])
    model = ld.MLP((2, 8, 8, 3), activation="tanh")
    result = check_against_reference(model, clusters([0, 1, 2]), config, [0, 1, 2])
    assert (result.losses[-1] < result.losses[0]).all()  # it did train


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_regression_targets_and_ordered_minibatches_equal_the_net_trained_alone(optimizer):
    # 15 points in batches of 4 (the last one short), in data order, as online SGD runs.
    config = ld.TrainConfig(steps=STEPS, loss="mse", dtype="float64", batch_size=4,
                            sampling="ordered", **OPTIMIZERS[optimizer])
    model = ld.MLP((1, 12, 1), activation="sigmoid", weight_init=ld.Init("xavier"))
    check_against_reference(model, curve([4, 7]), config, [4, 7])


@pytest.mark.parametrize("l1, l2", [(0.1, 0.0), (0.0, 1.0), (0.05, 0.5)])
def test_weight_penalties_equal_the_penalised_net_trained_alone(l1, l2):
    # lambda * mean(|W|) / mean(W^2) per weight matrix, biases free; recorded losses are the
    # data loss alone
    config = ld.TrainConfig(steps=STEPS, loss="mse", dtype="float64", l1=l1, l2=l2,
                            **OPTIMIZERS["adam"])
    check_against_reference(ld.MLP((2, 8, 8, 3), activation="sigmoid"), clusters([0, 1]),
                            config, [0, 1])


def test_a_plain_torch_module_trained_across_seeds_equals_each_module_trained_alone():
    def factory():
        return nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 3))

    seeds = [0, 3, 4]
    data = clusters(seeds)
    config = ld.TrainConfig(steps=STEPS, optimizer="adam", lr=0.02, loss="cross_entropy",
                            dtype="float64")
    rng_before = torch.get_rng_state()
    result = ld.train(ld.TorchModule(factory), data, config, seeds=seeds, key=KEY)
    assert torch.equal(torch.get_rng_state(), rng_before)  # the global RNG was restored
    assert set(result.init) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert result.init["0.weight"].shape == (3, 8, 2)
    for i in range(len(seeds)):
        net = factory().double()
        net.load_state_dict({k: v[i] for k, v in result.init.items()})
        losses = train_alone(net, data.x[i].double(), data.y[i], config)
        torch.testing.assert_close(result.losses[:, i], losses, **TOLERANCE["float64"])
        for k, v in net.state_dict().items():
            torch.testing.assert_close(result.params[k][i], v, **TOLERANCE["float64"])
    # its init is torch's own, drawn per seed: bounded by 1/sqrt(fan_in) and different per seed
    w = result.init["0.weight"]
    assert w.abs().max() <= 1 / math.sqrt(2) and not torch.equal(w[0], w[1])
    alone = ld.TorchModule(factory).init([3], key=KEY)
    assert torch.equal(alone["2.weight"][0], result.init["2.weight"][1])


# --------------------------------------------------------------------------------------------
# seed isolation: seed 5 is the same whether trained alone, among 3 or among 7 seeds

BATCHES = ([5], [3, 5, 9], list(range(7)))


def at_seed(seed, seeds):
    return list(seeds).index(seed)


@pytest.mark.parametrize(
    "make",
    [
        lambda s: ld.make_clusters(s, centers=CENTERS, n_per_class=5, std=0.3, key=KEY),
        lambda s: ld.make_gaussian_mixture(s, n_samples=40, d=3, key=KEY),
        lambda s: ld.make_1d(s, x=np.linspace(0, 1, 9), target=lambda x, rng: rng.random(9),
                             key=KEY),
        lambda s: ld.make_moons(s, n_samples=40, noise=0.1, key=KEY),
        lambda s: ld.make_classification(s, n_samples=30, n_features=4, key=KEY),
    ],
    ids=["clusters", "gaussian_mixture", "1d", "moons", "classification"],
)
def test_a_seeds_data_do_not_depend_on_the_other_seeds(make):
    one, three, seven = (make(s) for s in BATCHES)
    for batch, seeds in ((three, BATCHES[1]), (seven, BATCHES[2])):
        mine = batch.select(slice(at_seed(5, seeds), at_seed(5, seeds) + 1))
        for name in ("x", "y", "x_test", "y_test"):
            a, b = getattr(one, name), getattr(mine, name)
            assert (a is None) == (b is None)
            if a is not None:
                assert torch.equal(a, b), name
    # negative control: seeds 3 and 5 differ (1d has fixed inputs: its targets differ)
    assert not (torch.equal(three.x[0], three.x[1]) and torch.equal(three.y[0], three.y[1]))


@pytest.mark.parametrize("sampling", ["random", "epoch"])
def test_a_seeds_init_batches_dropout_and_training_do_not_depend_on_the_other_seeds(sampling):
    model = ld.MLP((2, 16, 16, 3), activation="relu", dropout=0.3)
    config = ld.TrainConfig(steps=30, optimizer="adam", lr=0.01, loss="cross_entropy",
                            batch_size=5, sampling=sampling, dtype="float64")
    results = [ld.train(model, clusters(s), config, seeds=s, key=KEY) for s in BATCHES]
    ref = results[0]
    for seeds, result in zip(BATCHES[1:], results[1:], strict=True):
        i = at_seed(5, seeds)
        for k in ref.init:
            torch.testing.assert_close(result.init[k][i], ref.init[k][0], rtol=0, atol=0)
            torch.testing.assert_close(result.params[k][i], ref.params[k][0],
                                       rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(result.losses[:, i], ref.losses[:, 0], rtol=1e-12, atol=1e-14)
    # negative controls: the isolation is not vacuous
    three = results[1]
    assert not torch.equal(three.init["w0"][0], three.init["w0"][1])
    no_dropout = ld.train(ld.MLP((2, 16, 16, 3), activation="relu"), clusters([5]), config,
                          seeds=[5], key=KEY)
    assert not torch.allclose(no_dropout.losses, ref.losses)
    full = ld.train(model, clusters([5]), ld.TrainConfig(
        steps=30, optimizer="adam", lr=0.01, loss="cross_entropy", dtype="float64"),
        seeds=[5], key=KEY)
    assert not torch.allclose(full.losses, ref.losses)


def batches_seen(seeds, *, n, batch_size, sampling, steps):
    """The index sets each step used, read back from the training losses.

    Point j has target 2^j and the net outputs ~0 (zero init, lr 1e-300 leaves it there), so a
    batch's MAE times its size is the sum of 2^j over the batch: its bits are the batch.
    """
    data = ld.make_1d(seeds, x=np.zeros(n), target=lambda x, rng: 2.0 ** np.arange(n), key=KEY)
    model = ld.MLP((1, 1), weight_init=ld.Init("zeros"))
    config = ld.TrainConfig(steps=steps, optimizer="gd", lr=1e-300, loss="mae",
                            batch_size=batch_size, sampling=sampling, dtype="float64")
    losses = ld.train(model, data, config, seeds=seeds, key=KEY).losses  # (steps, S)
    sizes = [min(batch_size, n - s) for s in range(0, n, batch_size)]
    out = []
    for i in range(len(seeds)):
        seq = []
        for t in range(steps):
            b = batch_size if sampling == "random" else sizes[t % len(sizes)]
            code = int(round(losses[t, i].item() * b))
            assert bin(code).count("1") == b, "a batch repeated a point"
            seq.append(frozenset(j for j in range(n) if code >> j & 1))
        out.append(seq)
    return out


def test_random_batches_are_fresh_draws_without_replacement():
    (seq,) = batches_seen([5], n=12, batch_size=4, sampling="random", steps=60)
    assert all(len(b) == 4 for b in seq)  # distinct points (checked bitwise inside)
    assert len(set(seq)) > 40  # drawn afresh each step (495 possible sets)
    counts = np.bincount([j for b in seq for j in b], minlength=12)
    assert counts.min() > 5  # every point is drawn (expected 20 each)


def test_epoch_batches_partition_the_data_every_epoch_in_a_new_order():
    (seq,) = batches_seen([5], n=12, batch_size=4, sampling="epoch", steps=12)
    epochs = [seq[e * 3 : e * 3 + 3] for e in range(4)]
    for epoch in epochs:
        assert frozenset().union(*epoch) == frozenset(range(12))
    assert len({tuple(e) for e in epochs}) > 1  # reshuffled: not the same batches each epoch


def test_ordered_batches_follow_the_data_and_the_last_one_is_short():
    (seq,) = batches_seen([5], n=10, batch_size=4, sampling="ordered", steps=6)
    expect = [{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}]
    assert seq == expect + expect


@pytest.mark.parametrize("sampling", ["random", "epoch"])
def test_a_seeds_batch_order_does_not_depend_on_the_other_seeds(sampling):
    seqs = [batches_seen(s, n=12, batch_size=3, sampling=sampling, steps=20) for s in BATCHES]
    alone = seqs[0][0]
    assert seqs[1][at_seed(5, BATCHES[1])] == alone
    assert seqs[2][at_seed(5, BATCHES[2])] == alone
    assert seqs[1][0] != alone  # seed 3 draws other batches


def test_dropout_drops_each_hidden_unit_with_probability_p_and_predict_does_not():
    # One point, 20 identity hidden units of weight 1, output weights 1: the output is
    # (number kept) / keep, so the training loss (MAE vs 0) counts the kept units per step.
    p, h = 0.25, 20
    model = ld.MLP((1, h, 1), activation="identity", dropout=p,
                   weight_init=ld.Init("constant", 1.0), bias_init=ld.Init("zeros"))
    data = ld.make_1d([5], x=[1.0], target=lambda x, rng: np.zeros(1), key=KEY)
    config = ld.TrainConfig(steps=400, optimizer="gd", lr=1e-300, loss="mae", dtype="float64")
    result = ld.train(model, data, config, seeds=[5], key=KEY)
    kept = (result.losses[:, 0] * (1 - p)).round()
    assert torch.allclose(kept, result.losses[:, 0] * (1 - p))  # whole units are kept
    share = kept.mean().item() / h
    assert abs(share - (1 - p)) < 0.03  # 8000 draws: the standard error is 0.005
    assert kept.unique().numel() > 3  # redrawn every step
    assert result.predict(data.x).item() == pytest.approx(h)  # no dropout at prediction


# --------------------------------------------------------------------------------------------
# the weight-shared MLP of seed 001, experiment 2

TIED = [(1, 10, 10, 2), (1, 10, 10, 10, 2), (1, 10, 10, 10, 10, 2)]


@pytest.mark.parametrize("sizes", TIED, ids=["k1", "k2", "k3"])
def test_the_tied_depth_nets_all_have_152_parameters(sizes):
    model = ld.MLP(sizes, activation="relu", tie_hidden=True)
    params = model.init([0, 1], key=KEY)
    assert model.n_params() == 152
    assert sum(v[0].numel() for v in params.values()) == 152  # per seed, counted by hand
    last = str(len(sizes) - 2)
    assert sorted(params) == sorted(["w0", "b0", "w1", "b1", "w" + last, "b" + last])
    assert params["w1"].shape == (2, 10, 10)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_the_tied_layer_is_one_tensor_applied_k_times(k):
    model = ld.MLP((1,) + (10,) * (k + 1) + (2,), activation="relu", tie_hidden=True)
    params = model.init([0, 1, 2], key=KEY, dtype=torch.float64)
    x = torch.linspace(0, 15 / 16, 16, dtype=torch.float64).reshape(1, 16, 1).expand(3, 16, 1)
    for i in range(3):
        w = {n: v[i] for n, v in params.items()}
        h = torch.relu(x[i] @ w["w0"] + w["b0"])
        for _ in range(k):
            h = torch.relu(h @ w["w1"] + w["b1"])
        last = str(k + 1)
        torch.testing.assert_close(model.forward(params, x)[i], h @ w["w" + last] + w["b" + last])
    # one tensor: its gradient is the sum of the gradients of k separate copies of it
    leaves = {n: v.clone().requires_grad_(True) for n, v in params.items()}
    model.forward(leaves, x).square().sum().backward()
    copies = [params["w1"].clone().requires_grad_(True) for _ in range(k)]
    h = torch.relu(torch.baddbmm(params["b0"], x, params["w0"]))
    for c in copies:
        h = torch.relu(torch.baddbmm(params["b1"], h, c))
    torch.baddbmm(params["b" + last], h, params["w" + last]).square().sum().backward()
    torch.testing.assert_close(leaves["w1"].grad, sum(c.grad for c in copies))
    assert set(leaves) == {"w0", "b0", "w1", "b1", "w" + last, "b" + last}


def test_untied_nets_count_every_layer():
    assert ld.MLP((1, 10, 10, 10, 2)).n_params() == 20 + 110 + 110 + 22
    assert ld.MLP((5, 10, 4), bias=False).n_params() == 90


# --------------------------------------------------------------------------------------------
# init rules


def sampled(weight_init, bias_init=None, fan_in=300, fan_out=200):
    model = ld.MLP((fan_in, fan_out), weight_init=weight_init, bias_init=bias_init)
    p = model.init([0, 1, 2, 3], key=KEY, dtype=torch.float64)
    return p["w0"], p["b0"]  # (4, fan_in, fan_out), (4, 1, fan_out)


def assert_uniform(t, a):
    assert t.abs().max() <= a
    assert t.abs().max() > 0.97 * a
    assert abs(t.mean().item()) < 0.05 * a
    assert t.std().item() == pytest.approx(a / math.sqrt(3), rel=0.03)


def test_xavier_init_is_tf_glorot_uniform_on_weights_and_biases():
    w, b = sampled(ld.Init("xavier"))
    assert_uniform(w, math.sqrt(6 / (300 + 200)))
    assert_uniform(b, math.sqrt(3 / 200))  # a bias of size n: U(+-sqrt(3/n)), as TF did


def test_torch_default_init_matches_nn_linear():
    w, b = sampled(ld.Init("torch"))
    assert_uniform(w, 1 / math.sqrt(300))
    assert_uniform(b, 1 / math.sqrt(300))
    lin = nn.Linear(300, 200)
    assert lin.weight.abs().max() <= 1 / math.sqrt(300) and lin.bias.abs().max() <= 1 / 300**0.5
    assert ld.MLP((3, 4)).weight_init == ld.Init("torch")  # the default


def test_he_init_is_normal_with_zero_biases():
    w, b = sampled(ld.Init("he"))
    assert w.std().item() == pytest.approx(math.sqrt(2 / 300), rel=0.03)
    assert abs(w.mean().item()) < 0.01 * math.sqrt(2 / 300) * 10
    assert (b == 0).all()


def test_normal_uniform_constant_and_zeros_init():
    w, b = sampled(ld.Init("normal", 0.01))
    assert w.std().item() == pytest.approx(0.01, rel=0.03)
    assert b.std().item() == pytest.approx(0.01, rel=0.15)  # biases follow the weight rule
    w, b = sampled(ld.Init("uniform", 0.5))
    assert_uniform(w, 0.5)
    w, b = sampled(ld.Init("constant", 1.0))
    assert (w == 1).all() and (b == 1).all()
    w, b = sampled(ld.Init("zeros"))
    assert (w == 0).all() and (b == 0).all()
    w, b = sampled(ld.Init("xavier"), bias_init=ld.Init("constant", 0.1))
    assert (b == 0.1).all() and w.std() > 0


def test_init_differs_per_seed_and_per_key_and_is_reproducible():
    model = ld.MLP((2, 5, 2))
    a = model.init([0, 1], key=KEY)
    assert torch.equal(a["w0"], model.init([0, 1], key=KEY)["w0"])
    assert not torch.equal(a["w0"][0], a["w0"][1])
    assert not torch.equal(a["w0"], model.init([0, 1], key="another")["w0"])


@pytest.mark.parametrize(
    "make, field",
    [
        (lambda: ld.Init("glorot"), "Init.kind"),
        (lambda: ld.Init("normal", 0.0), "Init.value"),
        (lambda: ld.Init("uniform", -1.0), "Init.value"),
        (lambda: ld.MLP((2, 3), activation="gelu"), "MLP.activation"),
        (lambda: ld.MLP((2, 3), out_activation="softmax"), "MLP.out_activation"),
        (lambda: ld.MLP((2,)), "MLP.sizes"),
        (lambda: ld.MLP((2, 0, 1)), "MLP.sizes"),
        (lambda: ld.MLP((2, 3, 1), dropout=1.0), "MLP.dropout"),
        (lambda: ld.MLP((2, 3, 1), dropout=-0.1), "MLP.dropout"),
        (lambda: ld.MLP((1, 10, 8, 2), tie_hidden=True), "MLP.tie_hidden"),
        (lambda: ld.TrainConfig(steps=-1), "TrainConfig.steps"),
        (lambda: ld.TrainConfig(steps=2.5), "TrainConfig.steps"),
        (lambda: ld.TrainConfig(steps=1, optimizer="rmsprop"), "TrainConfig.optimizer"),
        (lambda: ld.TrainConfig(steps=1, lr=0), "TrainConfig.lr"),
        (lambda: ld.TrainConfig(steps=1, lr=float("inf")), "TrainConfig.lr"),
        (lambda: ld.TrainConfig(steps=1, lr=float("nan")), "TrainConfig.lr"),
        (lambda: ld.TrainConfig(steps=1, batch_size=0), "TrainConfig.batch_size"),
        (lambda: ld.TrainConfig(steps=1, sampling="shuffle"), "TrainConfig.sampling"),
        (lambda: ld.TrainConfig(steps=1, loss="huber"), "loss: got 'huber'"),
        (lambda: ld.TrainConfig(steps=1, dtype="float16"), "TrainConfig.dtype"),
        (lambda: ld.TrainConfig(steps=1, l1=-1.0), "TrainConfig.l1"),
        (lambda: ld.TrainConfig(steps=1, l2=-1.0), "TrainConfig.l2"),
        (lambda: ld.TrainConfig(steps=1, optimizer="sgd", momentum=-0.5),
         "TrainConfig.momentum"),
        (lambda: ld.TrainConfig(steps=1, record_every=-1), "TrainConfig.record_every"),
        (lambda: ld.TrainConfig(steps=1, snapshot_every=-2), "TrainConfig.snapshot_every"),
    ],
)
def test_invalid_settings_raise_a_value_error_naming_the_field(make, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.").replace("(", r"\(")):
        make()


def test_train_rejects_mismatched_seeds_and_unknown_devices():
    data = clusters([0, 1, 2])
    config = ld.TrainConfig(steps=1)
    with pytest.raises(ValueError, match="data: has 3 seeds but seeds has 2"):
        ld.train(ld.MLP((2, 3)), data, config, seeds=[0, 1], key=KEY)
    with pytest.raises(ValueError, match="device: got 'tpu'"):
        ld.train(ld.MLP((2, 3)), data, config, seeds=[0, 1, 2], key=KEY, device="tpu")
    with pytest.raises(ValueError, match="seeds: got duplicate"):
        ld.train(ld.MLP((2, 3)), data, config, seeds=[0, 0, 1], key=KEY)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device: got 'cuda'"):
            ld.train(ld.MLP((2, 3)), data, config, seeds=[0, 1, 2], key=KEY, device="cuda")


def test_snapshots_monitor_and_recorded_losses():
    seeds = [0, 1]
    data = clusters(seeds)
    model = ld.MLP((2, 4, 3))
    config = ld.TrainConfig(steps=10, loss="cross_entropy", record_every=3, snapshot_every=4)
    result = ld.train(model, data, config, seeds=seeds, key=KEY,
                      monitor=lambda p: torch.tensor(ld.accuracy(model(p, data.x), data.y)),
                      monitor_every=5)
    assert result.loss_steps.tolist() == [0, 3, 6, 9] and result.losses.shape == (4, 2)
    assert sorted(result.snapshots) == [0, 4, 8, 10]
    assert torch.equal(result.snapshots[0]["w0"], result.init["w0"])
    assert torch.equal(result.snapshots[10]["w0"], result.params["w0"])
    assert result.monitor_steps.tolist() == [0, 5, 10] and result.monitor.shape == (3, 2)


# --------------------------------------------------------------------------------------------
# metrics


def test_accuracy_per_seed():
    out = torch.tensor([[[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]],
                        [[0.0, 1.0], [0.0, 3.0], [5.0, 0.0]]])  # (S=2, N=3, k=2)
    labels = torch.tensor([[0, 1, 1], [0, 0, 0]])
    np.testing.assert_array_equal(ld.accuracy(out, labels), [2 / 3, 1 / 3])
    np.testing.assert_array_equal(ld.accuracy(out, F.one_hot(labels, 2)), [2 / 3, 1 / 3])
    score = torch.tensor([[[0.5], [-1.0], [2.0]]])  # one output column: class 1 when > 0
    np.testing.assert_array_equal(ld.accuracy(score, torch.tensor([[1, 0, 0]])), [2 / 3])
    assert ld.accuracy(out, labels).dtype == np.float64


def test_mse_per_seed():
    out = torch.tensor([[[1.0], [2.0]], [[0.0], [0.0]]])
    target = torch.tensor([[[0.0], [0.0]], [[3.0], [1.0]]])
    np.testing.assert_allclose(ld.mse(out, target), [(1 + 4) / 2, (9 + 1) / 2])
    np.testing.assert_allclose(ld.mse(out, target[..., 0]), [2.5, 5.0])  # (S, N) targets too


def test_param_change_absolute_and_relative():
    before = {"w0": torch.zeros(2, 2, 2), "w1": torch.ones(2, 2, 1), "w10": torch.ones(2, 1, 1),
              "b0": torch.zeros(2, 1, 2)}
    after = {"w0": torch.full((2, 2, 2), 0.5), "w1": torch.ones(2, 2, 1) * 2,
             "w10": torch.ones(2, 1, 1), "b0": torch.zeros(2, 1, 2)}
    after["w0"][1] = 0.0  # seed 1's first layer stays at exactly zero
    absolute = ld.param_change(before, after)  # columns w0, w1, w10 (numeric order)
    np.testing.assert_allclose(absolute, [[1.0, math.sqrt(2), 0.0], [0.0, math.sqrt(2), 0.0]])
    relative = ld.param_change(before, after, relative=True)
    # a layer starting at exactly 0 is still defined: ||delta|| / max(||before||, ||after||)
    np.testing.assert_allclose(relative, [[1.0, 0.5, 0.0], [0.0, 0.5, 0.0]])
    assert np.isfinite(relative).all()
    np.testing.assert_allclose(ld.param_change(before, after, kind="b"), [[0.0], [0.0]])
    with pytest.raises(ValueError, match="kind: no parameters named 'v'"):
        ld.param_change(before, after, kind="v")


def test_share_of_change_rows_sum_to_one():
    model = ld.MLP((2, 6, 6, 3))
    seeds = [0, 1, 2]
    result = ld.train(model, clusters(seeds), ld.TrainConfig(steps=5, loss="cross_entropy"),
                      seeds=seeds, key=KEY)
    share = ld.share_of_change(result.init, result.params)
    assert share.shape == (3, 3) and (share >= 0).all()
    np.testing.assert_allclose(share.sum(axis=1), 1.0)
    frozen = ld.share_of_change(result.init, result.init)
    assert (frozen == 0).all()  # nothing moved: a row of zeros, not NaN


# --------------------------------------------------------------------------------------------
# losses


@pytest.mark.parametrize("name", list(ld.LOSSES))
def test_every_loss_is_per_seed(name):
    torch.manual_seed(0)
    out = torch.randn(3, 5, 4, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(0, 4, (3, 5))
    loss = ld.LOSSES[name](out, labels)
    assert loss.shape == (3,)
    assert ld.LOSSES[name](out, F.one_hot(labels, 4).double()).shape == (3,)
    # seed 0's loss does not depend on seed 1's outputs
    (grad,) = torch.autograd.grad(loss[0], out)
    assert (grad[1:] == 0).all()
    if name != "constant":
        assert grad[0].abs().sum() > 0


def test_losses_match_torch_references():
    torch.manual_seed(1)
    out = torch.randn(2, 6, 3, dtype=torch.float64)
    labels = torch.randint(0, 3, (2, 6))
    t = F.one_hot(labels, 3).double()
    for i in range(2):
        assert ld.LOSSES["mse"](out, labels)[i] == pytest.approx(F.mse_loss(out[i], t[i]).item())
        assert ld.LOSSES["mae"](out, labels)[i] == pytest.approx(F.l1_loss(out[i], t[i]).item())
        assert ld.LOSSES["cross_entropy"](out, labels)[i] == pytest.approx(
            F.cross_entropy(out[i], labels[i]).item())
        assert ld.LOSSES["half_sse"](out, labels)[i] == pytest.approx(
            0.5 * ((out[i] - t[i]) ** 2).sum().item())
        assert ld.LOSSES["fourth"](out, labels)[i] == pytest.approx(
            ((out[i] - t[i]) ** 4).mean().item())
        assert ld.LOSSES["hinge"](out, labels)[i] == pytest.approx(
            torch.clamp(1 - (2 * t[i] - 1) * out[i], min=0).mean().item())


def test_the_constant_loss_gives_exactly_zero_gradients_and_training_does_not_move():
    out = torch.randn(3, 5, 2, requires_grad=True)
    loss = ld.LOSSES["constant"](out, torch.randint(0, 2, (3, 5)))
    (grad,) = torch.autograd.grad(loss.sum(), out)
    assert (loss == 0).all() and (grad == 0).all()
    seeds = [0, 1]
    for optimizer in ("gd", "adam"):
        result = ld.train(ld.MLP((2, 4, 3)), clusters(seeds),
                          ld.TrainConfig(steps=5, optimizer=optimizer, loss="constant"),
                          seeds=seeds, key=KEY)
        for k in result.init:
            assert torch.equal(result.init[k], result.params[k])


@pytest.mark.parametrize("n, b", [(400, 64), (8000, 64), (300, 16), (96, 32)])
def test_random_batches_are_exactly_argsorts_first_b_even_with_tied_draws(n, b):
    from lowdim.engine._step import first_of_argsort as _first_of_argsort

    g = torch.Generator().manual_seed(n)
    for coarse in (2**24, 2**10):  # float32 draws, and draws with many ties
        u = (torch.rand((64, n), generator=g) * coarse).floor() / coarse
        assert torch.equal(_first_of_argsort(u, b), u.argsort(dim=-1)[:, :b])


@pytest.mark.parametrize("optimizer, momentum", [("gd", 0.0), ("sgd", 0.9), ("adam", 0.0)])
def test_the_optimizer_step_is_torch_optims_step_to_the_bit(optimizer, momentum):
    from lowdim.engine._step import Optimizer as _Optimizer

    g = torch.Generator().manual_seed(0)
    leaves = [torch.randn(3, 4, 5, generator=g), torch.randn(3, 1, 5, generator=g)]
    ref = [t.clone() for t in leaves]
    config = ld.TrainConfig(steps=1, optimizer=optimizer, lr=0.01, momentum=momentum)
    ours = _Optimizer(config, leaves)
    make = torch.optim.Adam if optimizer == "adam" else torch.optim.SGD
    kw = {} if optimizer == "adam" else {"momentum": momentum}
    theirs = make(ref, lr=0.01, fused=True, **kw)
    for step in range(6):
        grads = [torch.randn(t.shape, generator=g) for t in leaves]
        if step == 2:
            grads[1] = None  # a leaf without a gradient is left alone, its state too
        ours.step(grads)
        for p, grad in zip(ref, grads):
            p.grad = grad
        theirs.step()
        assert all(torch.equal(a, b) for a, b in zip(leaves, ref))


@pytest.mark.parametrize("model, config", [
    (ld.MLP((2, 16, 16, 3), activation="sigmoid"),
     ld.TrainConfig(steps=30, batch_size=8, l2=0.1, snapshot_every=10, loss="cross_entropy")),
    (ld.MLP((2, 64, 3), dropout=0.3), ld.TrainConfig(steps=20, optimizer="sgd", momentum=0.9,
                                                     batch_size=12, sampling="epoch")),
])
def test_training_in_chunks_of_seeds_gives_the_whole_batchs_numbers(model, config, monkeypatch):
    import importlib

    train_module = importlib.import_module("lowdim.engine.train")
    seeds = list(range(7))
    data = clusters(seeds)
    whole = ld.train(model, data, config, seeds=seeds, key=KEY)
    monkeypatch.setattr(train_module, "_SEED_CHUNK_BYTES", 1)  # the smallest chunks: 2 to 3 seeds
    chunks = train_module._seed_chunks(model, data, config, torch.device("cpu"), 7)
    assert [(c.start, c.stop) for c in chunks] == [(0, 2), (2, 4), (4, 7)]
    parts = ld.train(model, data, config, seeds=seeds, key=KEY)
    assert whole.snapshots.keys() == parts.snapshots.keys()
    for a, b in ((whole.params, parts.params), (whole.init, parts.init),
                 *((whole.snapshots[t], parts.snapshots[t]) for t in whole.snapshots)):
        assert a.keys() == b.keys()
        for k in a:  # equal up to float rounding (element-wise kernels round a tail their way)
            torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(whole.losses, parts.losses, rtol=1e-4, atol=1e-6)


def _relu_1d_problem(dtype):
    seeds = [0, 1, 2]
    params = ld.MLP((1, 16, 1), activation="relu").init(seeds, key=KEY, dtype=dtype)
    x = torch.linspace(-1, 1, 6, dtype=dtype).expand(3, 6)[..., None].clone()  # (S, N, 1)
    y = torch.sin(3 * x)
    return params, x, y


def test_relu_1d_gd_takes_the_steps_of_lowdim_train():
    params, x, y = _relu_1d_problem(torch.float64)
    ours, losses = ld.relu_1d_gd(params, x, y, lr=0.05, steps=30, record_every=10)
    cfg = ld.TrainConfig(steps=30, optimizer="gd", lr=0.05, loss="mse", record_every=10,
                         dtype="float64")
    ref = ld.train(ld.MLP((1, 16, 1), activation="relu"), ld.Data(x, y), cfg, seeds=[0, 1, 2],
                   key=KEY, params=params)
    for k in ours:
        torch.testing.assert_close(ours[k], ref.params[k], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(losses, ref.losses[:3], rtol=1e-10, atol=1e-12)


@pytest.mark.skipif(not shutil.which("g++") and not shutil.which("cc"),
                    reason="torch.compile on the CPU needs a C++ compiler")
def test_relu_1d_gd_compiled_takes_the_same_steps():
    params, x, y = _relu_1d_problem(torch.float64)
    eager, le = ld.relu_1d_gd(params, x, y, lr=0.05, steps=30, record_every=10)
    fused, lf = ld.relu_1d_gd(params, x, y, lr=0.05, steps=30, record_every=10, compile=True)
    for k in eager:
        torch.testing.assert_close(fused[k], eager[k], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(lf, le, rtol=1e-10, atol=1e-12)


def test_relu_1d_gd_in_seed_chunks_changes_no_number(monkeypatch):
    from lowdim.engine import ntk

    seeds = list(range(7))
    params = ld.MLP((1, 37, 1)).init(seeds, key="chunks")
    data = ld.make_1d(seeds, x=[-1.0, -0.3, 0.2, 0.5, 0.9], target=lambda x, r: r.random(len(x)),
                      key="chunks")
    lr = torch.linspace(1e-3, 5e-3, 7)  # per-seed steps travel with their seeds
    whole = ld.relu_1d_gd(params, data.x, data.y, lr=lr, steps=25, record_every=4)
    monkeypatch.setattr(ntk, "_GD_CHUNK_BYTES", 3 * 5 * 37 * 4)  # chunks of 3, 3 and 1 seeds
    chunked = ld.relu_1d_gd(params, data.x, data.y, lr=lr, steps=25, record_every=4)
    assert torch.equal(whole[1], chunked[1])
    for k in whole[0]:
        assert torch.equal(whole[0][k], chunked[0][k]), k


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_an_output_wider_than_the_labels_is_a_clear_error_for_torch_modules_and_mlps(loss):
    def factory():
        return nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 7))

    seeds = [0, 1]
    data = ld.make_clusters(seeds, n_per_class=10, centers=[[0, 0], [3, 3]], key=KEY)
    config = ld.TrainConfig(steps=1, loss=loss)
    for model in (ld.TorchModule(factory), ld.MLP((2, 8, 7))):
        with pytest.raises(ValueError, match=r"labels 0\.\.1 \(2 classes\) but the model outputs 7"):
            ld.train(model, data, config, seeds=seeds, key=KEY)
    narrow = ld.TorchModule(lambda: nn.Linear(2, 1))
    with pytest.raises(ValueError, match=r"labels 0\.\.1 but the model outputs 1 classes"):
        ld.train(narrow, data, config, seeds=seeds, key=KEY)
