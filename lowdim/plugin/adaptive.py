"""--lowdim-adaptive: train a claim's seeds in growing batches and stop at an anytime-valid decision.

A claim's fixed seed count n (after --lowdim-seeds) becomes its budget. The test runs first on a
prefix of FIRST seeds, then 2 FIRST, 4 FIRST, ... up to n (the looks), and stops at the first look
where an e-process of lowdim.stats.sequential crosses 1/alpha. Seed i's numbers never depend on
which other seeds train beside it (DESIGN: the seed axis), so a prefix run gives exactly the
first values of the full run, and the scan over them is one valid sequential test:

    rule "proportion"                         -> sequential_proportion on the per-seed flags
    rules "wilcoxon" and "sign" (paired a, b) -> sequential_sign on the signs of a - b - margin
    anything else (location, trend, TOST...)  -> one more run at the full budget, fixed-n test

Inside a look the scan may stop at any multiple of BATCH seeds (valid for any stopping rule), so
Evidence.n can be below the seeds trained. How it works: `Claim.record` calls `convert`, which
either returns the Evidence to store or raises NeedMoreSeeds; the plugin's pytest_pyfunc_call
wrapper (hooks.py) catches that and calls the test function again (`rerun`) with the next look. No
randomness is added: the same seeds in the same order give the same looks and the same verdict.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pytest

from ..stats import Evidence, Verdict, sequential_proportion, sequential_sign

FIRST = 8  # seeds at the first look; look k trains min(n, FIRST * 2**k)
BATCH = 8  # the scan may stop after every BATCH seeds
FIXED_MODE = "fixed (no sequential rule)"


class NeedMoreSeeds(BaseException):
    """Raised by Claim.record when the current look does not decide: the test runs again with
    more seeds. A BaseException, so a test's own `except Exception` cannot swallow it."""

    def __init__(self, full: bool = False):
        super().__init__("lowdim --lowdim-adaptive: this look did not decide; more seeds")
        self.full = full  # jump straight to the full budget (a row with no sequential rule)


class Adaptive:
    """One test item's looks: the current look index and the seed counts its test asked for."""

    def __init__(self, restart: Callable[[], None]) -> None:
        self.restart = restart  # resets the item's Claim fixture for the next look
        self.look = 0  # index k of the current look
        self.looks = 1  # looks run so far, this one included
        self.budgets: set[int] = set()  # the fixed counts asked for (after --lowdim-seeds)
        self.trained = 0  # the largest prefix handed out at this look

    def prefix(self, n: int) -> int:
        """Seeds for a call claim.seeds(n) at this look: the same look applies to every arm."""
        self.budgets.add(n)
        count = min(n, FIRST * 2 ** self.look)
        self.trained = max(self.trained, count)
        return count

    @property
    def budget(self) -> int:
        return max(self.budgets) if self.budgets else 0

    def at_full_budget(self) -> bool:
        return FIRST * 2 ** self.look >= self.budget

    def next_look(self, full: bool) -> None:
        self.look += 1
        while full and not self.at_full_budget():
            self.look += 1
        self.looks += 1
        self.trained = 0
        self.budgets.clear()

    def convert(self, ev: Evidence) -> Evidence:
        """The Evidence to record at this look, or NeedMoreSeeds to train more seeds first."""
        if not self.budgets:  # the test asked for no seeds: nothing to adapt
            return ev
        full = self.at_full_budget()
        seq = sequential_evidence(ev)
        info = {"seeds_trained": self.trained, "budget": self.budget, "looks": self.looks}
        if seq is None:
            if not full:
                raise NeedMoreSeeds(full=True)
            return _with_details(ev, {"mode": FIXED_MODE, "seeds_used": ev.n, **info})
        if seq.verdict is Verdict.INCONCLUSIVE and not full:
            raise NeedMoreSeeds()
        kept = {k: ev.details[k] for k in ("nonfinite", "n_nonfinite") if k in ev.details}
        return _with_details(dataclasses.replace(seq, details={**seq.details, **kept}), {
            "mode": "sequential", "seeds_used": seq.n, **info, "fixed_evidence": repr(ev)})


def _with_details(ev: Evidence, adaptive: dict) -> Evidence:
    return dataclasses.replace(ev, details={**ev.details, "adaptive": adaptive})


def sequential_evidence(ev: Evidence) -> Evidence | None:
    """The anytime-valid counterpart of a fixed-n Evidence, computed on its per-seed values in
    seed order (looks every BATCH seeds), or None for a test with no sequential rule here."""
    values = np.asarray(ev.values, dtype=np.float64)  # (S,)
    if ev.rule == "proportion":
        return sequential_proportion(values, threshold=ev.threshold, alpha=ev.alpha,
                                     alternative=ev.alternative, batch=BATCH,
                                     statistic=ev.statistic)
    if ev.rule == "wilcoxon":
        margin, statistic, known = ev.threshold, f"P(a - b > {ev.threshold:g})", {
            "margin": float(ev.threshold)}
    elif ev.rule == "sign" and _signs_match(values, ev.details):
        margin, statistic, known = 0.0, ev.statistic, {}  # same signs as against its margin
    else:
        return None
    # Only the signs of a - b - margin enter the sign e-process; passing them (not the
    # differences) also carries seeds that stats.paired set to -inf / +inf (nonfinite="fail").
    signs = np.sign(values - margin)  # (S,)
    seq = sequential_sign(signs, np.zeros_like(signs), margin=0.0, alpha=ev.alpha,
                          alternative=ev.alternative, batch=BATCH, statistic=None)
    details = {k: v for k, v in seq.details.items() if k != "margin"}  # a sign row: unknown
    return dataclasses.replace(seq, statistic=statistic, details={**details, **known},
                               values=tuple(float(v) for v in values[:seq.n]))


def _signs_match(d: np.ndarray, details: dict) -> bool:
    """A sign-test row stores no margin. If a - b has the row's counts of positive, negative and
    tied seeds, no difference lies between 0 and the margin, so every seed's sign is the same
    against 0 as against the margin and the scan with margin 0 is the row's own."""
    return ((int((d > 0).sum()), int((d < 0).sum()), int((d == 0).sum()))
            == (details.get("n_pos"), details.get("n_neg"), details.get("n_tied")))


def rerun(item: pytest.Function, more: NeedMoreSeeds) -> bool:
    """Call the test function again, one look further each time, until its record() stops
    raising NeedMoreSeeds (as pytest's own pytest_pyfunc_call calls it: funcargs by argname).
    Fixtures are not set up again: the same Claim serves every look."""
    state: Adaptive = item.stash[STATE_KEY]
    testargs = {arg: item.funcargs[arg] for arg in item._fixtureinfo.argnames}
    props = list(item.user_properties)  # record() appends only once a look decides, but a
    while True:  # test's own record_property() of an undecided look must not stay behind
        item.user_properties[:] = props
        state.next_look(more.full)
        state.restart()
        try:
            item.obj(**testargs)
        except NeedMoreSeeds as e:
            more = e
            continue
        return True


STATE_KEY = pytest.StashKey[Adaptive]()


def attach(item: pytest.Item, *, restart: Callable[[], None]) -> Adaptive:
    """The item's adaptive state, created with its Claim fixture (one Claim per test item);
    `restart` makes that Claim ready to record again (a look that did not decide)."""
    state = Adaptive(restart)
    item.stash[STATE_KEY] = state
    return state


__all__ = ["BATCH", "FIRST", "Adaptive", "NeedMoreSeeds", "attach", "rerun", "sequential_evidence"]
