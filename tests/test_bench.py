"""bench/seeds.py runs end to end on a tiny budget and writes the fields issue #7 names."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import lowdim as ld

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # subprocess runs: skipped by the inner loop (-m 'not slow')
def test_the_seed_benchmark_writes_one_object_per_workload_size_and_approach(tmp_path):
    out = tmp_path / "bench.json"
    subprocess.run([sys.executable, str(ROOT / "bench" / "seeds.py"), "--sizes", "2",
                    "--seconds", "0.02", "--no-compiled", "--json", str(out)],
                   check=True, capture_output=True, text=True, timeout=300)
    rows = json.loads(out.read_text())
    keys = {(r["workload"], r["approach"]) for r in rows}
    assert keys == {("W1", "loop"), ("W1", "lowdim"), ("W1", "lowdim.train"),
                    ("W2", "loop"), ("W2", "lowdim"), ("W2", "lowdim.autograd"),
                    ("W3", "loop"), ("W3", "lowdim"), ("W3", "lowdim.autograd"),
                    ("W1", "torch.func"), ("W2", "torch.func"), ("W3", "torch.func"),  # peers
                    ("LM", "loop"), ("LM", "lowdim"), ("LM", "lowdim.train"),  # issue 22
                    ("RF", "loop"), ("RF", "lowdim"), ("MASK", "loop"), ("MASK", "lowdim.masked"),
                    ("HESS", "loop"), ("HESS", "lowdim"), ("FFT", "loop"), ("FFT", "lowdim"),
                    ("NTK", "loop"), ("NTK", "lowdim")}
    for r in rows:
        assert r["S"] == 2 and r["seed_steps_per_s"] > 0 and r["frac_peak"] > 0
        assert r["losses_agree"], r  # the same losses as the loop from the same init (float64)
        assert r["cpu_kernels"] == ld.cpu_kernels() and r["torch"] == torch.__version__
    loop = {r["workload"]: r["seed_steps_per_s"] for r in rows if r["approach"] == "loop"}
    for r in rows:
        assert abs(r["speedup_vs_loop"] - r["seed_steps_per_s"] / loop[r["workload"]]) < 1e-9
