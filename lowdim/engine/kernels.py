"""Which CPU kernels round a run's floats.

Two machines that run the same seeds through different vector kernels round differently in the
last bits, and a seed that sits on a knife edge (a net between learning and not) can land on
another side. Two things decide the kernels on the CPU: torch's own vectorised ops (its CPU
capability, e.g. AVX2 or AVX512) and the BLAS behind matmul. MKL, torch's BLAS on x86, runs its
AVX-512 code only on Intel CPUs; elsewhere its AVX2 code (measured on an AMD EPYC with AVX-512:
the same numbers with MKL_ENABLE_INSTRUCTIONS=AVX512, ATEN_CPU_CAPABILITY=avx2 or MKL_CBWR=AVX2).
So an Intel and an AMD machine that both report AVX512 still round matmuls differently. numpy and
scipy bring their own BLAS (OpenBLAS, which picks kernels per CPU too): scikit-learn's PCA and SVMs
run on it.

`cpu_kernels()` names the kernels for people and for conditions in claim files; `fingerprint()`
measures them: the hash of a few float32/float64 results (torch and numpy matmuls of odd shapes,
a long sum, vectorised transcendental functions, an SVD) that differ in their last bits whenever
the kernels do; `probe_digests()` keeps each probe's own digest, so that a difference can be
traced to the kernels that cause it.
Reports record all three; baselines compare fingerprints (and name the probes that differ), and
the run cache keys on the fingerprint.
"""

from __future__ import annotations

import functools
import hashlib
import json

import numpy as np
import torch


def _cpu_vendor() -> str:
    """'GenuineIntel', 'AuthenticAMD', ... from /proc/cpuinfo; '' where there is none."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("vendor_id"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


@functools.cache
def cpu_kernels() -> str:
    """'<torch capability>/<blas kernels>', e.g. 'AVX512/mkl-avx512' (Intel), 'AVX512/mkl-avx2'
    (AMD), 'AVX2/mkl-avx2'; the BLAS part is 'blas' where torch was not built with MKL."""
    cap = torch.backends.cpu.get_cpu_capability()
    if not torch.backends.mkl.is_available():
        return f"{cap}/blas"
    avx512 = cap.startswith("AVX512") and _cpu_vendor() == "GenuineIntel"
    return f"{cap}/mkl-{'avx512' if avx512 else 'avx2'}"


@functools.cache
def probe_digests() -> dict[str, str]:
    """{probe: 8 hex digits of its result}: which kernels a fingerprint difference comes from
    (reports keep these as meta `numerics_probes`; a baseline comparison names the probes whose
    digests differ). Cheap; computed once per process."""
    g = torch.Generator().manual_seed(20260101)
    a = torch.rand(67, 131, generator=g) - 0.5  # odd shapes: every kernel's tail code runs
    b = torch.rand(131, 45, generator=g) - 0.5
    x = torch.rand(3, 37, 29, generator=g) - 0.5
    w = torch.rand(3, 29, 11, generator=g) - 0.5
    an, bn = a.double().numpy(), b.double().numpy()
    probes = {
        "torch matmul f32": a @ b,  # (67, 45) GEMM
        "torch bmm f32": torch.bmm(x, w),  # (3, 37, 11) batched GEMM
        "torch sums": torch.cat([a.sum(dim=1), a.reshape(-1).sum().reshape(1)]),
        "torch tanh": a.tanh(), "torch exp": a.exp(), "torch sigmoid": a.sigmoid(),
        "torch log_softmax": torch.log_softmax(a, dim=1),
        "torch matmul f64": a.double() @ b.double(),
        "numpy matmul f64": torch.from_numpy(an @ bn),
        "numpy svd f64": torch.from_numpy(np.linalg.svd(an[:, :45])[1]),
    }
    return {name: hashlib.sha256(p.contiguous().numpy().tobytes()).hexdigest()[:8]
            for name, p in probes.items()}


@functools.cache
def fingerprint() -> str:
    """12 hex digits: equal on two machines whose CPU kernels round the same (as far as these
    probes see, probe_digests()), different where they do not."""
    return hashlib.sha256(json.dumps(probe_digests(), sort_keys=True).encode()).hexdigest()[:12]
