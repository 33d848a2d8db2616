"""lowdim.kernels: the name and the measured fingerprint of the CPU kernels."""

import json
import re
import subprocess
import sys

import torch

import lowdim as ld
from lowdim.engine import kernels


def test_the_kernel_name_joins_torchs_capability_and_the_blas_path():
    name = ld.cpu_kernels()
    cap = torch.backends.cpu.get_cpu_capability()
    assert name.startswith(cap + "/")
    assert name.split("/")[1] in ("mkl-avx512", "mkl-avx2", "blas")
    if name.endswith("mkl-avx512"):  # MKL runs AVX-512 code on Intel CPUs only
        assert kernels._cpu_vendor() == "GenuineIntel"


def test_the_fingerprint_is_stable_across_processes_and_thread_counts():
    fp = kernels.fingerprint()
    assert re.fullmatch(r"[0-9a-f]{12}", fp)
    code = ("import torch; torch.set_num_threads(1); from lowdim.engine import kernels; "
            "print(kernels.fingerprint())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == fp


def test_the_fingerprint_sees_other_kernels():
    # torch's AVX2 kernels instead of this machine's default (where they differ) round
    # transcendental functions and reductions otherwise: the fingerprint must change with them
    cap = torch.backends.cpu.get_cpu_capability()
    if cap not in ("AVX512",):
        return  # nothing narrower to switch to that is guaranteed to round differently
    code = ("import json; from lowdim.engine import kernels; "
            "print(json.dumps([kernels.fingerprint(), kernels.probe_digests()]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "ATEN_CPU_CAPABILITY": "avx2"})
    fp, probes = json.loads(out.stdout)
    assert fp != kernels.fingerprint()
    # and the probes say where: torch's own vector kernels, not the BLAS behind numpy
    ours = kernels.probe_digests()
    differ = {k for k in ours if probes[k] != ours[k]}
    assert differ and all(k.startswith("torch ") for k in differ), differ
