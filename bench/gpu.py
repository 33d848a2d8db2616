"""The GPU check of issue 23, as one script that fits a lent device's minutes.

    python bench/gpu.py [--out DIR] [--seeds 10000] [--steps 1000] [--no-claims]

1. W1 (1 -> 2000 -> 1 ReLU, 20 points, full-batch GD, MSE; bench/seeds.py) with --seeds seeds
   for --steps steps through the claims' path (`relu_1d_gd`), on cuda, timed after a warm-up of
   10 steps, with torch.cuda.synchronize() around the timed region; also lowdim.train on the
   same work. Target: 10,000 seeds x 1,000 steps in <= 10 s.
2. Unless --no-claims: the quick claim suite on the GPU, `pytest claims -n 0 --lowdim-device
   cuda --lowdim-report-dir DIR/gpu-quick`, its exit status and wall time.
Writes DIR/gpu.json (the numbers, the device name, torch and CUDA versions) and prints a line
per target. Exits 2 without a GPU (nothing to check), else 0 when every target is met.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lowdim as ld  # noqa: E402
from lowdim.engine.ntk import relu_1d_gd  # noqa: E402


def w1_seconds(seeds: int, steps: int, path: str, device: str = "cuda") -> float:
    """Seconds for `steps` GD steps of W1 on `seeds` seeds, after a 10-step warm-up."""
    s = list(range(seeds))
    model = ld.MLP((1, 2000, 1), activation="relu")
    x = torch.linspace(-1, 1, 20).tolist()
    data = ld.make_1d(s, x=x, target=lambda x, r: r.random(len(x)), key="bench").to(device)
    params = {k: v.to(device) for k, v in model.init(s, key="bench").items()}
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    def run(k):
        if path == "relu_1d_gd":
            return relu_1d_gd(params, data.x, data.y, lr=1e-4, steps=k)[0]
        cfg = ld.TrainConfig(steps=k, optimizer="gd", lr=1e-4, loss="mse", record_every=0)
        return ld.train(model, data, cfg, seeds=s, key="bench", params=params, device=device)

    run(10)
    sync()
    t0 = time.perf_counter()
    run(steps)
    sync()
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", default=os.environ.get("OUT", "."))
    ap.add_argument("--seeds", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=1_000)
    ap.add_argument("--no-claims", dest="claims", action="store_false")
    ap.add_argument("--device", default="cuda", help="cpu: a dry run of the script's own code")
    args = ap.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu: no CUDA device visible to torch; nothing to check")
        return 2
    name = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else args.device
    out = {"device": name, "torch": torch.__version__,
           "cuda": torch.version.cuda, "seeds": args.seeds, "steps": args.steps}
    ok = True
    for path in ("relu_1d_gd", "lowdim.train"):
        dt = w1_seconds(args.seeds, args.steps, path, args.device)
        out[f"w1_{path}_s"] = dt
        out[f"w1_{path}_seed_steps_per_s"] = args.seeds * args.steps / dt
        met = dt <= 10.0
        ok &= met or path != "relu_1d_gd"
        print(f"target W1 on {out['device']}: {args.seeds} seeds x {args.steps} steps via {path} "
              f"in {dt:.2f} s (goal <= 10 s{', the claims path' if path == 'relu_1d_gd' else ''})"
              f": {'met' if met else 'NOT met'}", flush=True)
    if args.claims:
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, "-m", "pytest", "claims", "-n", "0", "-q",
                              "--lowdim-device", args.device, "--lowdim-report-dir",
                              os.path.join(args.out, "gpu-quick")])
        out["claims_rc"], out["claims_wall_s"] = rc, time.perf_counter() - t0
        ok &= rc == 0
        print(f"target quick claims on {args.device}: exit {rc} in {out['claims_wall_s']:.0f} s "
              f"(goal: green): {'met' if rc == 0 else 'NOT met'}", flush=True)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "gpu.json"), "w") as f:
        json.dump(out, f, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
