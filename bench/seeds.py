"""Seeds per second: lowdim's batched trainer against a per-seed nn.Module loop, in one run.

    python bench/seeds.py [--json out.json] [--sizes 1 10 100 1000] [--seconds 1.5]

Workloads (the three regimes of DESIGN.md's performance notes):
    W1  1 -> 2000 -> 1 ReLU, 20 points, full-batch GD, MSE       (wide 1-D: memory-bound)
    W2  1 -> 10 -> 10 -> 1 ReLU, 16 points, full-batch GD, MSE   (tiny: overhead-bound)
    W3  2 -> 64 -> 64 -> 2 ReLU, 1,200 points, Adam, CE          (many points: compute-bound)
The loop is what the sources do: one torch.nn.Sequential + torch.optim per seed, one thread,
no host sync per step. lowdim runs through the code path the claims use: `lowdim.train` for W2
and W3; for W1 `lowdim.ntk.relu_1d_gd`, the hand-written GD the wide-1-D claim trains with
(`lowdim.train` on W1 is reported too, as approach "lowdim.train"; on W2 and W3 lowdim.train
with autograd instead of lowdim.backprop's hand-written backward, as "lowdim.autograd").
Useful FLOPs per seed-step = 3 x the forward matmul FLOPs (forward, and two matmuls in
backward). Loop throughput does not
depend on S (seeds are independent), so the loop is timed on min(S, 4) seeds. Both approaches
start from the same initial weights; the script checks, in float64, that their losses agree
(relative 1e-6) after the same number of steps (lowdim on those min(S, 4) seeds).
Each workload also runs lowdim's compiled path (approach "lowdim.compiled": on W1
`relu_1d_gd(compile=True)`, on W2 and W3 `lowdim.train(compile=True)`, the fused seed-innermost
step of lowdim.engine.fused; the claims run the default, uncompiled path, and
`compile="auto"` picks the fused one for small nets on long runs): its compile_s is the first
call's time beyond what its steps cost afterwards, and breakeven_steps the step count after which compiling beats the
claims path in one process (compile_s 0, breakeven_steps 0 in every other row). The load
average is printed and stored: on a shared machine it says how far to trust the timings.

Peers (bench/peers.py; --no-peers skips them): the best approach a user could write without
lowdim, on the same init and data: `torch.func.vmap` over `functional_call` with the update in
the same function, eager ("torch.func") and with the whole vmapped step under torch.compile
("torch.func.compiled", its compile_s and breakeven_steps as above); on W1 also the numpy trainer
of the wide-1-D source's own code ("nn_inconsistency", from the checkout --nn-inconsistency DIR
names). The run ends with the targets at S = 100: W2 >= 150x the loop, W1 >= 15x, W3 >= 50% of
peak GEMM, and lowdim >= the best peer on W1, W2 and W3.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402  (bench/peers.py)

import lowdim as ld  # noqa: E402
from lowdim.engine import backprop  # noqa: E402
from lowdim.engine.ntk import relu_1d_gd  # noqa: E402

WORKLOADS = {
    "W1": dict(sizes=(1, 2000, 1), n=20, optimizer="gd", lr=1e-4, loss="mse",
               claims_path="relu_1d_gd"),
    "W2": dict(sizes=(1, 10, 10, 1), n=16, optimizer="gd", lr=1e-2, loss="mse"),
    "W3": dict(sizes=(2, 64, 64, 2), n=1200, optimizer="adam", lr=3e-3, loss="cross_entropy"),
}


def forward_flops(sizes, n):
    return sum(2 * n * i * o for i, o in zip(sizes[:-1], sizes[1:]))


def peak_gemm(seconds: float) -> float:
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    torch.mm(a, b)
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        torch.mm(a, b)
        reps += 1
    return reps * 2 * 2048**3 / (time.perf_counter() - t0) / 1e9


def make_data(w, seeds):
    if w["loss"] == "mse":
        x = torch.linspace(-1, 1, w["n"]).tolist()
        return ld.make_1d(seeds, x=x, target=lambda x, r: r.random(len(x)), key="bench")
    return ld.make_clusters(seeds, centers=[[0, 0], [1, 1]], n_per_class=w["n"] // 2, std=0.5,
                            key="bench")


def loop_modules(model, params, i):
    """seed i's lowdim parameters as a plain nn.Sequential (the loop's and the peers' net)."""
    net = peers.sequential(model.sizes)
    with torch.no_grad():
        for k in range(len(model.sizes) - 1):
            net[2 * k].weight.copy_(params[f"w{k}"][i].T)
            net[2 * k].bias.copy_(params[f"b{k}"][i, 0])
    return net


def run_loop(w, model, params, data, n_seeds, steps, dtype=torch.float32):
    """Per-seed loop; returns (seconds, final losses of the seeds)."""
    nets = [loop_modules(model, params, i).to(dtype) for i in range(n_seeds)]
    opts = [torch.optim.Adam(m.parameters(), lr=w["lr"]) if w["optimizer"] == "adam"
            else torch.optim.SGD(m.parameters(), lr=w["lr"]) for m in nets]
    ce = w["loss"] == "cross_entropy"
    crit = torch.nn.CrossEntropyLoss() if ce else torch.nn.MSELoss()
    t0 = time.perf_counter()
    losses = []
    for i, (net, opt) in enumerate(zip(nets, opts)):
        x, y = data.x[i], data.y[i]
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            loss = crit(net(x), y)
            loss.backward()
            opt.step()
        losses.append(loss.detach())
    dt = time.perf_counter() - t0
    return dt, torch.stack(losses)


def run_lowdim(w, model, params, data, seeds, steps, path="claims"):
    """lowdim on these seeds; returns (seconds, the last step's losses (S,)). path "claims": the
    code path the claims use for this workload; "train": lowdim.train whatever the workload;
    "compiled": relu_1d_gd(compile=True) on W1, lowdim.train(compile=True) (the fused,
    seed-innermost step under torch.compile: lowdim.engine.fused) on W2/W3; "autograd":
    lowdim.train with the MLP's
    hand-written backward off (lowdim.backprop.disabled())."""
    if path in ("claims", "compiled") and w.get("claims_path") == "relu_1d_gd":
        t0 = time.perf_counter()
        _, rec = relu_1d_gd(params, data.x, data.y, lr=w["lr"], steps=steps,
                            record_every=max(1, steps - 1), compile=path == "compiled")
        return time.perf_counter() - t0, rec[-1]
    dtype = "float64" if next(iter(params.values())).dtype == torch.float64 else "float32"
    cfg = ld.TrainConfig(steps=steps, optimizer=w["optimizer"], lr=w["lr"], loss=w["loss"],
                         record_every=max(1, steps - 1), dtype=dtype)
    with backprop.disabled() if path == "autograd" else contextlib.nullcontext():
        t0 = time.perf_counter()
        res = ld.train(model, data, cfg, seeds=seeds, key="bench", params=params,
                       compile=path == "compiled")
        dt = time.perf_counter() - t0
    return dt, res.losses[-1]


def calibrate_steps(fn, seconds):
    """Steps so that fn(steps) takes about `seconds`."""
    steps = 5
    while True:
        dt = fn(steps)
        if dt > seconds / 4 or steps >= 100_000:
            return max(5, int(steps * seconds / max(dt, 1e-6)))
        steps *= 4


def issue22_rows(sizes, seconds, peak, load):
    """Rows for issue 22's engine capabilities, each against a per-seed loop on the same work:
    LM  linear logistic model 2 -> 1, 16 points, GD (the implicit-max-margin claim): the loop
        (nn.Linear + torch.optim.SGD per seed), lowdim.train ("lowdim.train") and
        lowdim.engine.margin.homogeneous_gd ("lowdim");
    RF  min-norm random-features fits, 40 points x 40 features (double descent at the
        threshold): numpy.linalg.lstsq per seed ("loop") and ridge_fit over all seeds; a
        "step" is one fit;
    MASK  W2's net with weight masks (lottery ticket): lowdim.train with weight_masks of half
        the weights ("lowdim.masked") against the same training unmasked ("lowdim")."""
    import numpy as np

    from lowdim.engine.margin import homogeneous_gd

    rows = []

    def timed(fn, steps):
        t0 = time.perf_counter()
        out = fn(steps)
        return time.perf_counter() - t0, out

    for S in sizes:
        seeds = list(range(S))
        n = min(S, 4)
        data = ld.make_clusters(seeds, centers=[[-1, -1], [1, 1]], n_per_class=8, std=0.5,
                                key="bench")
        x, t = data.x.double(), data.y.double().unsqueeze(-1)
        w0 = {"w0": torch.zeros(S, 2, 1, dtype=torch.float64)}
        cfg = dict(optimizer="gd", lr=0.5, loss="logistic", record_every=0, dtype="float64")

        def lm_loop(k, m=n):
            ws = []
            for i in range(m):
                lin = torch.nn.Linear(2, 1, bias=False).double()
                torch.nn.init.zeros_(lin.weight)
                opt = torch.optim.SGD(lin.parameters(), lr=0.5)
                for _ in range(k):
                    opt.zero_grad(set_to_none=True)
                    loss = torch.nn.functional.binary_cross_entropy_with_logits(lin(x[i]), t[i])
                    loss.backward()
                    opt.step()
                ws.append(lin.weight.detach().T)
            return torch.stack(ws)

        def lm_train(k, m=S):
            res = ld.train(ld.MLP((2, 1), bias=False), ld.Data(x[:m], t[:m]),
                           ld.TrainConfig(steps=k, **cfg), seeds=seeds[:m], key="bench",
                           params={"w0": w0["w0"][:m]})
            return res.params["w0"]

        def lm_fast(k, m=S):
            return homogeneous_gd({"w0": w0["w0"][:m]}, x[:m], t[:m], lr=0.5, steps=k)[k]["w0"]

        g = torch.Generator().manual_seed(0)
        phi = torch.randn(S, 40, 40, generator=g, dtype=torch.float64)
        yy = torch.randn(S, 40, 1, generator=g, dtype=torch.float64)

        def rf_loop(k, m=n):
            for _ in range(k):
                out = [np.linalg.lstsq(phi[i].numpy(), yy[i].numpy(), rcond=None)[0]
                       for i in range(m)]
            return torch.tensor(np.stack(out))

        def rf_fast(k, m=S):
            for _ in range(k):
                out = ld.ridge_fit(phi[:m], yy[:m])
            return out

        w2 = WORKLOADS["W2"]
        model = ld.MLP(w2["sizes"], activation="relu")
        data2 = make_data(w2, seeds)
        params = model.init(seeds, key="bench", dtype=torch.float64)
        half = ld.magnitude_masks(params, {"w1": 0.5})

        def mask_run(k, masks):
            return ld.train(model, data2, ld.TrainConfig(
                steps=k, optimizer="gd", lr=w2["lr"], record_every=0, dtype="float64"),
                seeds=seeds, key="bench", params=params, weight_masks=masks).params["w1"]

        cases = {
            "LM": (3 * 2 * 16 * 2, {"loop": (lm_loop, n), "lowdim.train": (lm_train, S),
                                    "lowdim": (lm_fast, S)}),
            "RF": (4 * 40**3, {"loop": (rf_loop, n), "lowdim": (rf_fast, S)}),
            "MASK": (3 * forward_flops(w2["sizes"], w2["n"]),
                     {"loop": (lambda k: mask_run(k, None), S),
                      "lowdim.masked": (lambda k: mask_run(k, half), S)}),
        }
        for name, (flops, approaches) in cases.items():
            rates, ref = {}, None
            for approach, (fn, m) in approaches.items():
                fn(2)  # warm-up
                k = calibrate_steps(lambda k, f=fn: timed(f, k)[0], seconds)
                dt, out = timed(fn, k)
                rates[approach] = m * k / dt
                head = fn(5)[:n]  # agreement on the loop's seeds
                ref = head if ref is None else ref
                diff = float((head - ref).abs().max())
                if name == "MASK":  # masked vs unmasked differ by design: check the zeros
                    agree = bool((mask_run(5, half)[half["w1"] == 0] == 0).all())
                else:
                    agree = diff <= 1e-9 * (float(ref.abs().max()) + 1e-12) + 1e-12
                rows.append({
                    "workload": name, "S": S, "approach": approach,
                    "path": {"LM": "homogeneous_gd", "RF": "ridge_fit",
                             "MASK": "lowdim.train(weight_masks=)"}[name],
                    "seed_steps_per_s": rates[approach],
                    "speedup_vs_loop": rates[approach] / rates["loop"],
                    "gflops": rates[approach] * flops / 1e9,
                    "frac_peak": rates[approach] * flops / 1e9 / peak, "compile_s": 0.0,
                    "breakeven_steps": 0, "losses_agree": agree, "max_loss_diff": diff,
                    "peak_gflops": peak, "load_average_start": load,
                    "cpu_kernels": ld.cpu_kernels(), "torch": torch.__version__,
                })
                if approach != "loop":
                    print(f"{name} S={S:5d} {approach:15s} {rates[approach]:10.0f} seed-steps/s "
                          f"(loop {rates['loop']:8.0f})  x{rates[approach] / rates['loop']:6.1f}"
                          f"  agree: {agree}", flush=True)
    return rows


def measurement_rows(sizes, seconds, peak, load):
    """Rows for issue 22's measurements (claims 1-3), each batched over S seeds against the same
    function called seed by seed ("loop"); a "step" is one call's work for one seed:
    HESS  the sharpness of W2's net on its 16 points (ld.hessian_max_eig, 20 Lanczos steps);
    FFT   the Fourier coefficients of a 200-point signal at 10 frequencies
          (ld.fourier_coefficients);
    NTK   one GD step of a 1-256-1 tanh net in the NTK parametrization on 16 points
          (lowdim.train, autograd: the hand-written backward is standard-only).
    Agreement: the batched values of the loop's seeds equal the loop's (relative 1e-9)."""
    rows = []
    w2 = WORKLOADS["W2"]
    for S in sizes:
        seeds, n = list(range(S)), min(S, 4)
        net = ld.MLP(w2["sizes"], activation="relu")
        params, data = net.init(seeds, key="bench", dtype=torch.float64), make_data(w2, seeds)
        signal = torch.randn(S, 200, generator=torch.Generator().manual_seed(0),
                             dtype=torch.float64)
        ntk = ld.MLP((1, 256, 1), activation="tanh", weight_init=ld.Init("normal", 1.0),
                     parametrization="ntk")
        ntk_params = ntk.init(seeds, key="bench", dtype=torch.float64)
        cfg = ld.TrainConfig(steps=1, optimizer="gd", lr=1.0, record_every=0, dtype="float64")

        def hess(sl):
            return ld.hessian_max_eig(net, {k: v[sl] for k, v in params.items()}, data.x[sl],
                                      data.y[sl])

        def fft(sl):
            return ld.fourier_coefficients(signal[sl], range(5, 55, 5)).abs()

        def ntk_step(sl):
            return ld.train(ntk, data.select(sl), cfg, seeds=seeds[sl], key="bench",
                            params={k: v[sl] for k, v in ntk_params.items()}).params["w1"]

        flops = {"HESS": 20 * 4 * 3 * forward_flops(w2["sizes"], w2["n"]), "FFT": 200 * 8 * 10,
                 "NTK": 3 * forward_flops((1, 256, 1), w2["n"])}
        for name, fn in {"HESS": hess, "FFT": fft, "NTK": ntk_step}.items():
            def loop(k, f=fn):
                for _ in range(k):
                    out = torch.cat([f(slice(i, i + 1)) for i in range(n)])
                return out

            def batched(k, f=fn):
                for _ in range(k):
                    out = f(slice(0, S))
                return out

            def seconds_of(run, k):
                t0 = time.perf_counter()
                run(k)
                return time.perf_counter() - t0

            rates = {}
            for approach, (run, m) in {"loop": (loop, n), "lowdim": (batched, S)}.items():
                run(1)  # warm-up
                k = calibrate_steps(lambda k, r=run: seconds_of(r, k), seconds)
                rates[approach] = m * k / seconds_of(run, k)
            ref, got = loop(1), batched(1)[:n]
            diff = float((got - ref).abs().max())
            agree = diff <= 1e-9 * (float(ref.abs().max()) + 1e-12) + 1e-12
            for approach, rate in rates.items():
                rows.append({
                    "workload": name, "S": S, "approach": approach,
                    "path": {"HESS": "hessian_max_eig", "FFT": "fourier_coefficients",
                             "NTK": "lowdim.train(MLP(parametrization='ntk'))"}[name],
                    "seed_steps_per_s": rate, "speedup_vs_loop": rate / rates["loop"],
                    "gflops": rate * flops[name] / 1e9,
                    "frac_peak": rate * flops[name] / 1e9 / peak, "compile_s": 0.0,
                    "breakeven_steps": 0, "losses_agree": agree, "max_loss_diff": diff,
                    "peak_gflops": peak, "load_average_start": load,
                    "cpu_kernels": ld.cpu_kernels(), "torch": torch.__version__,
                })
            print(f"{name} S={S:5d} lowdim {rates['lowdim']:10.0f} seed-steps/s (loop "
                  f"{rates['loop']:8.0f})  x{rates['lowdim'] / rates['loop']:6.1f}  agree: "
                  f"{agree} ({diff:.1e})", flush=True)
    return rows


PEER_PATHS = {
    "torch.func": "vmap(grad_and_value(functional_call)) + update, eager",
    "torch.func.compiled": "torch.compile(vmap(grad_and_value(functional_call)) + update)",
    "nn_inconsistency": "nn_inconsistency mc_training.CheckingNN.train_one_epoch (numpy, "
                        "float64, every seed on seed 0's data)",
}


def peer_rates(w, params, data, head_params64, head64, loop_steps, loss_loop64, compile_s, args):
    """{approach: (seed-steps/s, agree, max loss diff)} of the peers (bench/peers.py) on this
    workload; compile_s gets the compiled peer's compile seconds. Agreement in float64 on the
    loop's seeds and steps: torch.func eagerly against the loop (the compiled step is the same
    function, fused); nn_inconsistency against lowdim's claims path on its shared data."""
    s = data.x.shape[0]
    out = {}

    def measure(run, m):
        first = run(3)[0]
        k = calibrate_steps(lambda k: run(k)[0], args.seconds)
        return first, m * k / run(k)[0]

    ref64 = peers.FuncPeer(w, head_params64, head64, compiled=False).run(loop_steps)[1]
    diff = float((ref64 - loss_loop64).abs().max())
    agree = diff <= 1e-6 * (float(loss_loop64.abs().max()) + 1e-12) + 1e-9
    for approach, compiled in (("torch.func", False), ("torch.func.compiled", True))[
            :2 if args.compiled else 1]:
        first, rate = measure(peers.FuncPeer(w, params, data, compiled=compiled).run, s)
        if compiled:
            compile_s[approach] = max(0.0, first - 3 * s / rate)
        out[approach] = (rate, agree, diff)
    if args.nn_inconsistency and w.get("claims_path") == "relu_1d_gd":
        module = peers.load_nn_inconsistency(args.nn_inconsistency)
        first, rate = measure(peers.NNInconsistencyPeer(module, params, data.x, data.y,
                                                        w["lr"]).run, s)
        shared_y = head64.y[:1].expand_as(head64.y).contiguous()
        theirs = peers.NNInconsistencyPeer(module, head_params64, head64.x, shared_y,
                                           w["lr"]).run(loop_steps)[1]
        _, rec = relu_1d_gd(head_params64, head64.x, shared_y, lr=w["lr"], steps=loop_steps,
                            record_every=max(1, loop_steps - 1))
        d = float((theirs - rec[-1]).abs().max())
        out["nn_inconsistency"] = (rate, d <= 1e-6 * (float(rec[-1].abs().max()) + 1e-12) + 1e-9,
                                   d)
    return out


def report_targets(rows) -> None:
    """Print issue 23's targets at S = 100: W2 >= 150x the loop, W1 >= 15x, W3 >= 50% of peak
    (lowdim's claims path), and lowdim >= the best peer on each of W1-W3 (the claims path, and
    lowdim's fastest path, e.g. a compiled one)."""
    at = {(r["workload"], r["approach"]): r for r in rows if r["S"] == 100}
    goals = (("W2", "speedup_vs_loop", 150, "x the loop"), ("W1", "speedup_vs_loop", 15,
             "x the loop"), ("W3", "frac_peak", 0.5, " of peak"))
    for name, field, goal, unit in goals:
        ours = {a: r for (wl, a), r in at.items() if wl == name and a.startswith("lowdim")}
        if "lowdim" not in ours:
            continue
        best = max(ours.values(), key=lambda r: r[field])
        for label, row in (("claims path", ours["lowdim"]), ("fastest", best)):
            print(f"target {name} at S=100: {field} {row[field]:.3g} (goal >= {goal:g}{unit}; "
                  f"{label}: {row['approach']}): {'met' if row[field] >= goal else 'NOT met'}")
    for name in ("W1", "W2", "W3"):
        peer = max((r for (wl, a), r in at.items() if wl == name and a in PEER_PATHS),
                   key=lambda r: r["seed_steps_per_s"], default=None)
        ours = {a: r for (wl, a), r in at.items() if wl == name and a.startswith("lowdim")}
        if peer is None or not ours:
            continue
        best = max(ours.values(), key=lambda r: r["seed_steps_per_s"])
        for label, row in (("claims path", ours.get("lowdim")), ("fastest", best)):
            if row is None:
                continue
            ratio = row["seed_steps_per_s"] / peer["seed_steps_per_s"]
            print(f"target {name} at S=100: lowdim ({label}: {row['approach']}) / best peer "
                  f"({peer['approach']}) = {ratio:.2f} (goal >= 1): "
                  f"{'met' if ratio >= 1 else 'NOT met'}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--json", help="write one object per (workload, S, approach) here")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 100, 1000])
    ap.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    ap.add_argument("--seconds", type=float, default=1.5, help="target time per measurement")
    ap.add_argument("--no-peers", dest="peers", action="store_false",
                    help="skip the peer approaches (torch.func vmap eager and compiled; "
                         "nn_inconsistency)")
    ap.add_argument("--nn-inconsistency", metavar="DIR",
                    help="a checkout of github.com/dholzmueller/nn_inconsistency: W1 also runs "
                         "its numpy trainer (bench/peers.py)")
    ap.add_argument("--no-compiled", dest="compiled", action="store_false",
                    help="skip the torch.compile'd approaches (W1's lowdim.compiled and the "
                         "torch.func.compiled peer: ~10 s of compiling each, cold)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)

    load = os.getloadavg()[0]
    peak = peak_gemm(args.seconds)
    print(f"peak float32 GEMM (torch.mm 2048^2, 1 thread): {peak:.1f} GFLOP/s; "
          f"load average {load:.2f} on {os.cpu_count()} cores; torch {torch.__version__}, "
          f"CPU kernels {ld.cpu_kernels()}", flush=True)
    rows = []
    for name in args.workloads:
        w = WORKLOADS[name]
        flops = 3 * forward_flops(w["sizes"], w["n"])
        model = ld.MLP(w["sizes"], activation="relu")
        paths = ["claims", "train"] if w.get("claims_path") else ["claims", "autograd"]
        if args.compiled:
            paths.append("compiled")
        for S in args.sizes:
            seeds = list(range(S))
            data = make_data(w, seeds)
            params = model.init(seeds, key="bench")
            n_loop = min(S, 4)
            loop_steps = calibrate_steps(
                lambda k: run_loop(w, model, params, data, n_loop, k)[0], args.seconds)
            dt_loop, loss_loop = run_loop(w, model, params, data, n_loop, loop_steps)
            loop_rate = n_loop * loop_steps / dt_loop
            rates = {"loop": (loop_rate, True, 0.0)}
            compile_s = {}
            # The agreement check runs in float64: float32 Adam trajectories of a few thousand
            # steps drift apart in the last bits whenever two kernels sum in another order
            # (a batch of 1 vs 4 seeds), and the drift grows; in float64 it stays ~1e-12, so
            # any visible difference is a difference in the math (lr, loss, update rule).
            head = data.select(slice(0, n_loop))
            head64 = ld.Data(head.x.double(), head.y.double() if head.y.is_floating_point()
                             else head.y)
            head_params64 = {k: v[:n_loop].double() for k, v in params.items()}
            _, loss_loop64 = run_loop(w, model, head_params64, head64, n_loop, loop_steps,
                                      dtype=torch.float64)
            for path in paths:
                def run(k, p=path):
                    return run_lowdim(w, model, params, data, seeds, k, p)[0]

                first = run(3)  # warm-up (allocator, first-call costs; compiling)
                ld_steps = calibrate_steps(run, args.seconds)
                rate = S * ld_steps / run(ld_steps)
                if path == "compiled":  # the first call minus what its 3 steps cost now
                    compile_s["lowdim.compiled"] = max(0.0, first - 3 * S / rate)
                # agreement: the loop's seeds and number of steps, the same init, in float64
                _, loss_ld = run_lowdim(w, model, head_params64, head64, seeds[:n_loop],
                                        loop_steps, path)
                diff = float((loss_ld - loss_loop64).abs().max())
                agree = diff <= 1e-6 * (float(loss_loop64.abs().max()) + 1e-12) + 1e-9
                approach = {"claims": "lowdim", "train": "lowdim.train",
                            "compiled": "lowdim.compiled", "autograd": "lowdim.autograd"}[path]
                rates[approach] = (rate, agree, diff)
            if args.peers:
                rates.update(peer_rates(w, params, data, head_params64, head64, loop_steps,
                                        loss_loop64, compile_s, args))
            for approach, (rate, agree, diff) in rates.items():
                gflops = rate * flops / 1e9
                c_s, breakeven = compile_s.get(approach, 0.0), 0
                if c_s:  # steps after which compiling beats the claims path, per process
                    gain = S / rates["lowdim"][0] - S / rate  # seconds saved per step
                    breakeven = math.ceil(c_s / gain) if gain > 0 else None
                rows.append({
                    "workload": name, "S": S, "approach": approach,
                    "path": {"loop": "nn.Sequential + torch.optim per seed",
                             "lowdim": w.get("claims_path", "lowdim.train"),
                             "lowdim.train": "lowdim.train",
                             "lowdim.autograd": "lowdim.train, backprop.disabled()",
                             "lowdim.compiled": ("relu_1d_gd(compile=True)" if w.get(
                                 "claims_path") else "lowdim.train(compile=True)"),
                             **PEER_PATHS}[approach],
                    "seed_steps_per_s": rate, "speedup_vs_loop": rate / loop_rate,
                    "gflops": gflops, "frac_peak": gflops / peak, "compile_s": c_s,
                    "breakeven_steps": breakeven, "losses_agree": agree, "max_loss_diff": diff,
                    "peak_gflops": peak, "load_average_start": load,
                    "cpu_kernels": ld.cpu_kernels(), "torch": torch.__version__,
                })
                if approach != "loop":
                    print(f"{name} S={S:5d} {approach:19s} {rate:10.0f} seed-steps/s (loop "
                          f"{loop_rate:8.0f})  x{rate / loop_rate:6.1f}  {gflops:7.2f} GFLOP/s "
                          f"({gflops / peak:6.1%} of peak)  losses agree: {agree} ({diff:.1e})"
                          + (f"  compile {c_s:.1f} s, " + (
                              f"pays off after {breakeven} steps" if breakeven is not None else
                              "never pays off against lowdim's claims path") if c_s else ""),
                          flush=True)
    rows += issue22_rows(args.sizes, args.seconds, peak, load)
    rows += measurement_rows(args.sizes, args.seconds, peak, load)
    report_targets(rows)
    end = os.getloadavg()[0]
    for row in rows:
        row["load_average_end"] = end
    print(f"load average at the end: {end:.2f}")
    if args.json:
        from lowdim.report.schema import atomic_write

        atomic_write(args.json, json.dumps(rows, indent=1) + "\n")
    return 0 if all(r.get("losses_agree", True) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
