"""lowdim.engine.fourier against numpy.fft, and on sums of sines whose amplitudes are known."""

import numpy as np
import pytest
import torch

import lowdim as ld


def test_the_coefficients_are_numpy_fft_over_n_at_the_chosen_frequencies():
    rng = np.random.default_rng(0)
    for n in (7, 16, 200):
        y = rng.normal(size=(3, n))
        freqs = list(range(n // 2 + 1))
        ours = ld.fourier_coefficients(y, freqs).numpy()  # (3, K)
        np.testing.assert_allclose(ours, np.fft.fft(y, axis=1)[:, freqs] / n, rtol=1e-12,
                                   atol=1e-14)


def test_the_amplitudes_of_a_sum_of_sines_are_its_amplitudes():
    # Rahaman et al.'s target: 200 points of [0, 1), frequencies 5..50, random phases.
    n, freqs = 200, list(range(5, 55, 5))
    t = np.arange(n) / n
    rng = np.random.default_rng(1)
    amps = rng.uniform(0.1, 2.0, size=(4, len(freqs)))
    phases = rng.uniform(0, 2 * np.pi, size=(4, len(freqs)))
    y = (amps[:, :, None] * np.sin(2 * np.pi * np.array(freqs)[None, :, None] * t
                                   + phases[:, :, None])).sum(1)  # (4, N)
    got = ld.fourier_amplitudes(torch.tensor(y)[..., None], freqs)  # (S, N, 1) net outputs
    np.testing.assert_allclose(got, amps, rtol=1e-10)
    # frequencies that are not in the signal have no amplitude
    assert np.abs(ld.fourier_amplitudes(y, [1, 7, 51, 99])).max() < 1e-10


def test_the_mean_and_the_nyquist_frequency_are_not_doubled():
    n = 8
    y = 0.7 + 0.3 * np.cos(np.pi * np.arange(n))[None]  # constant + Nyquist (+-1 alternating)
    np.testing.assert_allclose(ld.fourier_amplitudes(y, [0, 4]), [[0.7, 0.3]], rtol=1e-12)


def test_a_batched_net_s_spectrum_is_each_seed_s_own():
    model = ld.MLP((1, 16, 1), activation="tanh")
    grid = torch.arange(64, dtype=torch.float32).div(64).reshape(1, 64, 1)
    params = model.init([0, 1, 2], key="t")
    out = model(params, grid.expand(3, 64, 1))  # (3, 64, 1)
    one = model({k: v[1:2] for k, v in params.items()}, grid)
    np.testing.assert_allclose(ld.fourier_amplitudes(out, [1, 2, 3])[1],
                               ld.fourier_amplitudes(one, [1, 2, 3])[0], rtol=1e-5)


@pytest.mark.parametrize("freqs, match", [([], "non-empty"), ([1.5], "whole"),
                                          ([0, 5], r"0\.\.4 \(N/2")])
def test_bad_frequencies_are_refused_by_name(freqs, match):
    with pytest.raises(ValueError, match=match):
        ld.fourier_amplitudes(np.zeros((1, 8)), freqs)


def test_a_table_of_several_outputs_is_refused():
    with pytest.raises(ValueError, match=r"values: need \(S, N\) or \(S, N, 1\)"):
        ld.fourier_amplitudes(np.zeros((2, 8, 3)), [1])
