"""Full-batch gradient descent trains at the edge of stability: the sharpness rises to 2/eta and
hovers there while the loss keeps falling, non-monotonically.

Claim   "the maximum eigenvalue of the training loss Hessian hovers just above the value
        2/(step size), and the training loss behaves non-monotonically over short timescales,
        yet consistently decreases over long timescales" (abstract); "so long as the sharpness
        is less than the value 2/eta, it tends to continually rise" (progressive sharpening);
        Fig. 1: "the sharpness rises to 2/eta ... and then hovers right at, or just above, this
        value."
Source  Cohen, Kaur, Li, Kolter & Talwalkar, "Gradient Descent on Neural Networks Typically Occurs
        at the Edge of Stability" (ICLR 2021). The number: sharpness ~ 2/eta (at or just above)
        once there; below 2/eta gradient descent on a quadratic is stable, above it diverges.
Method  The source trained fully-connected tanh nets on a 5,000-image subset of CIFAR-10 with MSE;
        here the same kind of net on a low-dimensional regression set where the effect shows in
        a few thousand steps: x = linspace(-1, 1, 32), y = sin(2 pi x), the same for every seed
        (seeds vary the init). 1-32-32-32-1 tanh MLP with biases, PyTorch's default init
        (sharpness at init ~5-12 on the design seeds, below every 2/eta tested). Full-batch GD on
        lowdim's "mse" (the mean over points: the loss GD minimises is the one whose Hessian is
        measured), float32, step sizes eta = 2/20 and 2/30 (full: also 2/25 and 2/40). Sharpness
        = the largest Hessian eigenvalue by 20 Lanczos steps (ld.hessian_max_eig, float64),
        every 50 steps (full: 25) from init; the loss after every step. Quick 2,000 steps,
        full 5,000. Control: eta = 2/100, the stable regime (its 2/eta is above the ~35-50 the
        sharpness reaches on the design seeds when trained at small steps).
        Per seed: ratio(t) = sharpness(t) * eta / 2; "late" = the measurements in the last third
        of training; the onset t* = the first measurement with ratio >= 1; a loss "rise" = a
        step whose loss exceeds the previous step's by more than 1e-5 of it (float32 noise is
        ~1e-7). Seeds: quick 12, full 24.
Test    alpha 0.01, per eta.
        (1) "hovers at or just above 2/eta": the median late ratio per seed lies in (0.9, 1.2):
            TOST (Wilcoxon) of (ratio - 1.05) within +-0.15.
        (2) progressive sharpening: median late ratio - ratio at init > 0.25 (paired Wilcoxon,
            one-sided): the sharpness rises from below 2/eta by more than a quarter of it.
        (3) the loss falls non-monotonically: share of seeds with at least one rise after t* AND
            a final loss (median of the last 100 steps) below half the loss at t* > 1/2 (exact
            binomial). A seed that never reaches 2/eta does not count as showing it.
        Control (eta = 2/100): share of seeds whose loss never rises and whose sharpness stays
            below 2/eta > 1/2 (exact binomial): gradient descent below the edge is monotone.
Expect  written before the first run of the reported seeds, after pilots on design seeds
        100000+ (eta = 0.08: sharpness 6-10 -> 25-27 = 1.0-1.1 x 2/eta by step ~800, loss
        0.4 -> 0.02-0.05 with spikes). (1) supported at both eta, the late ratio ~1.0-1.1;
        (2) supported (init ratio 0.25-0.6); (3) supported: spikes after the onset in most seeds,
        loss at the end a fraction of the loss at onset. Control: supported (loss monotone,
        sharpness peaking ~40 < 100). If a seed has not reached 2/eta = 30 by step ~1,300 at
        eta = 2/30, its late ratio falls below 0.9: the quick budget is part of (1).
Known artefacts of the source: its sharpness is measured by Lanczos on the full training set
        every few steps, as here; its nets and data are larger; "just above" is read off plots
        (no tolerance stated): the band (0.9, 1.2) is ours.

Design notes and history: docs/claims/edge-of-stability.md
"""

from __future__ import annotations

import numpy as np
import pytest

import lowdim as ld

pytestmark = pytest.mark.claim(
    "edge-of-stability",
    statement="under full-batch GD with step eta the sharpness rises to 2/eta and hovers at or "
    "just above it while the loss keeps falling non-monotonically",
    source="Cohen et al., ICLR 2021 (sharpness hovers just above 2/eta)",
)

# A share of seeds is decided at 12 with 11 of 12 (p = 0.003); the TOST and the signed-rank
# tests with every seed on one side at 8 (p = 1/256) (docs/claims/edge-of-stability.md).
N_SEEDS = {"quick": 12, "full": 24}
STEPS = {"quick": 2_000, "full": 5_000}
EVERY = {"quick": 50, "full": 25}  # steps between sharpness measurements
ETAS = {"quick": (2 / 20, 2 / 30), "full": (2 / 20, 2 / 25, 2 / 30, 2 / 40)}
CONTROL_ETA = 2 / 100
MODEL = ld.MLP((1, 32, 32, 32, 1), activation="tanh")
X = np.linspace(-1.0, 1.0, 32)
BAND = (0.9, 1.2)  # "at or just above 2/eta", as a ratio sharpness * eta / 2
RISE_MARGIN = 0.25  # progressive sharpening: the ratio rises by more than this
RISE_TOL = 1e-5  # a loss "rise": above the previous step's loss by more than this fraction
FALL = 0.5  # "keeps falling": final loss below this fraction of the loss at the onset
SHARE = 0.5
ALPHA = 0.01


@ld.cached
def gd_run(seeds: tuple[int, ...], key: str, device: str, eta: float, steps: int,
           every: int) -> dict[str, np.ndarray]:
    """{"sharpness": (S, M) at "steps_m" (M,), "loss": (S, steps) training loss before each
    step, "final": (S,) loss after the last step}."""
    data = ld.make_1d(list(seeds), x=X, target=lambda x, rng: np.sin(2 * np.pi * x), key=key)
    config = ld.TrainConfig(steps=steps, optimizer="gd", lr=eta, loss="mse", record_every=1)
    result = ld.train(MODEL, data, config, seeds=list(seeds), key=key, device=device,
                      monitor=lambda p: ld.hessian_max_eig(MODEL, p, data.x, data.y),
                      monitor_every=every)
    return {"sharpness": result.monitor.double().cpu().numpy().T,
            "steps_m": result.monitor_steps.numpy(),
            "loss": result.losses.double().cpu().numpy().T,
            "final": ld.mse(result.predict(data.x), data.y)}


def _run(claim, eta: float) -> dict[str, np.ndarray]:
    seeds = tuple(claim.seeds(claim.choose(N_SEEDS)))
    steps = claim.choose(STEPS)
    every = claim.choose(EVERY) if eta != CONTROL_ETA else 4 * claim.choose(EVERY)
    return gd_run(seeds, claim.id, claim.device, eta, steps, every)


def late_ratio(run: dict[str, np.ndarray], eta: float) -> np.ndarray:
    """(S,) median of sharpness * eta / 2 over the measurements in the last third."""
    late = run["steps_m"] >= 2 * run["steps_m"][-1] / 3
    return np.median(run["sharpness"][:, late] * eta / 2, axis=1)


def falls_non_monotonically(run: dict[str, np.ndarray], eta: float) -> np.ndarray:
    """(S,) bool: the sharpness reached 2/eta, the loss rose at least once after that, and the
    final loss is below FALL times the loss at that point."""
    ratio = run["sharpness"] * eta / 2  # (S, M)
    loss = run["loss"]  # (S, T) before each step
    out = np.zeros(len(loss), dtype=bool)
    for s in range(len(loss)):
        reached = np.flatnonzero(ratio[s] >= 1.0)
        if not reached.size:
            continue
        onset = int(run["steps_m"][reached[0]])
        after = loss[s, onset:]
        rose = (np.diff(after) > RISE_TOL * after[:-1]).any()
        final = np.median(loss[s, -100:])
        out[s] = rose and final < FALL * loss[s, min(onset, loss.shape[1] - 1)]
    return out


def _curves(run: dict[str, np.ndarray], eta: float) -> dict:
    return {"sharpness x eta/2": {"x": run["steps_m"], "y": run["sharpness"] * eta / 2,
                                  "ylabel": "sharpness x eta / 2 (1 = the edge 2/eta)"},
            "training loss": {"x": np.arange(run["loss"].shape[1]), "y": run["loss"],
                              "ylabel": "training loss (MSE)", "yscale": "log"}}


def _etas(claim) -> list[float]:
    return list(claim.choose(ETAS))


def _eta_param():
    return pytest.mark.parametrize("eta_over_2", [20, 25, 30, 40], ids=lambda v: f"2/eta={v}")


def _eta(claim, eta_over_2: int) -> float:
    eta = 2 / eta_over_2
    if not any(np.isclose(eta, e) for e in _etas(claim)):
        pytest.skip("full profile only: the quick profile runs eta = 2/20 and 2/30")
    return eta


@_eta_param()
def test_the_sharpness_hovers_at_or_just_above_2_over_eta(claim, eta_over_2):
    eta = _eta(claim, eta_over_2)
    run = _run(claim, eta)
    center, margin = (BAND[0] + BAND[1]) / 2, (BAND[1] - BAND[0]) / 2
    ev = claim.record(ld.equivalence(late_ratio(run, eta) - center, margin=margin, alpha=ALPHA,
                                     statistic=f"pseudo-median(late sharpness x eta/2 - "
                                     f"{center:g})"),
                      eta=round(eta, 6), curves=_curves(run, eta))
    assert ev.supported, ev


@_eta_param()
def test_the_sharpness_rises_from_below_2_over_eta(claim, eta_over_2):
    eta = _eta(claim, eta_over_2)
    run = _run(claim, eta)
    init = run["sharpness"][:, 0] * eta / 2
    ev = claim.record(ld.paired({"late": late_ratio(run, eta), "init": init}, alpha=ALPHA,
                                alternative="greater", margin=RISE_MARGIN,
                                statistic="pseudo-median(sharpness x eta/2: late - init)"),
                      eta=round(eta, 6), median_init_ratio=float(np.median(init)))
    assert ev.supported, ev


@_eta_param()
def test_the_loss_keeps_falling_non_monotonically_at_the_edge(claim, eta_over_2):
    eta = _eta(claim, eta_over_2)
    run = _run(claim, eta)
    ev = claim.record(ld.proportion(falls_non_monotonically(run, eta), threshold=SHARE,
                                    alpha=ALPHA, statistic="P(loss rises after the onset and "
                                    f"ends below {FALL} x its onset value)"),
                      eta=round(eta, 6))
    assert ev.supported, ev


@pytest.mark.xfail("config.getoption('lowdim_profile') == 'full'", strict=True,
                   reason="the control's premise fails at the full budget: over 5,000 steps "
                   "progressive sharpening carries the sharpness up to 2/eta = 100 even at "
                   "eta = 2/100 in about half the seeds, which then enter the edge of stability "
                   "and their loss rises; eta = 2/100 stays below the edge only within the "
                   "quick budget's 2,000 steps")
def test_below_the_edge_gradient_descent_is_monotone(claim):
    # Control: at eta = 2/100 the sharpness stays below 2/eta and the loss never rises.
    run = _run(claim, CONTROL_ETA)
    loss = run["loss"]
    monotone = ~(np.diff(loss, axis=1) > RISE_TOL * loss[:, :-1]).any(axis=1)  # (S,)
    below = (run["sharpness"] * CONTROL_ETA / 2 < 1.0).all(axis=1)
    ev = claim.record(ld.proportion(monotone & below, threshold=SHARE, alpha=ALPHA,
                                    statistic="P(loss never rises, sharpness < 2/eta)"),
                      eta=CONTROL_ETA, curves=_curves(run, CONTROL_ETA))
    assert ev.supported, ev
