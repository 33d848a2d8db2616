"""Fourier coefficients of per-seed signals on a uniform grid: what a net has learned of each
frequency (Rahaman et al.'s spectral bias).

A signal sampled at t_n = n / N, n = 0..N-1 (one period) has the discrete Fourier coefficient
    c_k = 1/N * sum_n y_n exp(-2 pi i k n / N)        (numpy.fft.fft(y)[k] / N)
and A sin(2 pi k t + phi) with 0 < k < N/2 has |c_k| = A / 2, so its amplitude is 2 |c_k|
(|c_k| itself at k = 0 and k = N/2, where the two sides of the spectrum coincide).

    coef = fourier_coefficients(out - y, freqs)   # (S, K) complex: the residual's components
    amp = fourier_amplitudes(out, freqs)          # (S, K) float64 amplitudes A_k
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def _signals(values) -> torch.Tensor:
    """(S, N) float64 on the CPU from (S, N) or (S, N, 1) tensors or arrays."""
    t = values.detach() if isinstance(values, torch.Tensor) else torch.as_tensor(
        np.asarray(values, dtype=np.float64))
    if t.dim() == 3 and t.shape[-1] == 1:
        t = t[..., 0]
    if t.dim() != 2 or t.shape[1] < 2:
        raise ValueError(f"values: need (S, N) or (S, N, 1) samples of one output on a grid of "
                         f"N >= 2 points, got shape {tuple(t.shape)}")
    return t.to("cpu", torch.float64)


def _freqs(freqs: Sequence[int], n: int) -> torch.Tensor:
    k = np.asarray(freqs)
    if k.ndim != 1 or k.size == 0 or not np.issubdtype(k.dtype, np.integer):
        raise ValueError(f"freqs: need a non-empty sequence of whole frequencies, got {freqs!r}")
    if k.min() < 0 or k.max() > n // 2:
        raise ValueError(f"freqs: got {k.tolist()}; on a grid of N = {n} points a frequency "
                         f"lies in 0..{n // 2} (N/2 is the Nyquist frequency)")
    return torch.as_tensor(k, dtype=torch.long)


def fourier_coefficients(values, freqs: Sequence[int]) -> torch.Tensor:
    """c_k (S, K) complex128 of each seed's signal at the whole frequencies `freqs` (cycles per
    grid period). values: (S, N) or (S, N, 1) samples at t_n = n / N (e.g. a batched net's
    outputs on the grid, or its residual outputs - targets)."""
    y = _signals(values)  # (S, N)
    k = _freqs(freqs, y.shape[1])
    return torch.fft.rfft(y, dim=1)[:, k] / y.shape[1]  # (S, K)


def fourier_amplitudes(values, freqs: Sequence[int]) -> np.ndarray:
    """Amplitude A_k (S, K) float64 of each frequency component: 2 |c_k| for 0 < k < N/2,
    |c_k| at k = 0 and k = N/2. For outputs on the grid, A_k / (the target's A_k) is the
    "normalised magnitude" of Rahaman et al.'s Fig. 1."""
    y = _signals(values)
    k = _freqs(freqs, y.shape[1])
    c = torch.fft.rfft(y, dim=1)[:, k].abs() / y.shape[1]  # (S, K)
    edge = (k == 0) | (2 * k == y.shape[1])
    return (c * torch.where(edge, 1.0, 2.0).to(c.dtype)).numpy()


__all__ = ["fourier_amplitudes", "fourier_coefficients"]
