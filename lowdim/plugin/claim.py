"""The claim marker's information and the `claim` fixture: what a claim test sees of the run.

A test records its Evidence with `claim.record(...)`; the fixture puts it into the item's
`user_properties` as JSON text (plain values: xdist ships them to the controller inside every
test report, and junit XML shows them), where the session (session.py) turns it into a row.
The claim's id, statement and source travel the same way from collection on; its docstring (the
method, for claims.html) does not: it would be repeated in every test case of a junit XML file.
A decision that cannot reach alpha with the seeds it had (lowdim.stats.attainable) says so in
its row, in its failure, and under --lowdim-smoke skips its test.
The rooms below (regress, report, stats) load when a claim test first records, not with pytest.
"""

from __future__ import annotations

import inspect
import json
import numbers
from typing import TYPE_CHECKING

import pytest

from .options import MAX_SEEDS, Options

if TYPE_CHECKING:
    from ..stats import Evidence

PROP_CLAIM = "lowdim_claim"  # JSON {id, statement, source}, attached at collection
PROP_EVIDENCE = "lowdim_evidence"  # what the `claim` fixture recorded
PROP_NOTE = "lowdim_note"  # a claim test that passed without recording (check_recorded)
UNDECIDABLE = pytest.StashKey[str]()  # the item's "cannot decide at n=...: ..." sentence


def claim_info(item: pytest.Item) -> dict | None:
    """{id, statement, source, doc} of the item's claim marker, None without one; a
    pytest.UsageError for a marker without one claim id string."""
    m = item.get_closest_marker("claim")
    if m is None:
        return None
    if len(m.args) != 1 or not isinstance(m.args[0], str) or not m.args[0]:
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.claim needs one claim id string, e.g. "
            f"pytest.mark.claim('bias-free-ray', statement=..., source=...); got args {m.args!r}")
    module = getattr(item, "module", None)  # its docstring is the claim's method (claims.html)
    return {
        "id": m.args[0],
        "statement": str(m.kwargs.get("statement", "")),
        "source": str(m.kwargs.get("source", "")),
        "doc": (inspect.getdoc(module) or "") if module is not None else "",
    }


def attach_claim_info(items: list[pytest.Item]) -> tuple[dict[str, dict], dict[str, str]]:
    """Attach each item's claim (id, statement, source) to the item at collection, so every
    report of it (setup included, which reaches the controller before the test body runs)
    carries the claim id, even if its worker crashes. Returns ({nodeid: info without the
    docstring} of the items with a marker, {claim id: docstring})."""
    claims, docs = {}, {}
    for item in items:
        info = claim_info(item)
        if info is not None:
            doc = info.pop("doc")
            docs[info["id"]] = docs.get(info["id"]) or doc
            item.user_properties.append((PROP_CLAIM, json.dumps(info, sort_keys=True)))
            claims[item.nodeid] = info
    return claims, docs




def seed_count(n) -> int:
    """n as claim.seeds takes it: an int (numpy's too) from 1 to MAX_SEEDS."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"claim.seeds n: got {n!r} ({type(n).__name__}), not a whole number "
                        "of seeds; pass an int, e.g. claim.seeds(8) "
                        "(round a computed count yourself: int(round(x)))")
    if not 1 <= int(n) <= MAX_SEEDS:
        raise ValueError(f"claim.seeds n: got {int(n)}; a claim needs at least one seed and "
                         f"at most {MAX_SEEDS:,}; pass a count in that range")
    return int(n)


class Claim:
    """The `claim` fixture: seeds, device and profile for this run; `record` the evidence."""

    def __init__(self, item: pytest.Item, opts: Options):
        self._item = item
        self._opts = opts
        info = claim_info(item) or {"id": "", "statement": "", "source": ""}
        self.id: str = info["id"] or item.module.__name__.rsplit(".", 1)[-1]
        self.statement: str = info["statement"]
        self.source: str = info["source"]
        self._recorded = False
        self._seed_counts: set[int] = set()  # what seeds() handed out: part of the method hash
        self._diverged: set[int] = set()  # seeds that diverged in a lowdim.train of this test
        from ..engine.observe import listen

        self.close = listen(self._trained)  # the fixture's teardown stops listening
        # --lowdim-adaptive: seeds() hands out the current look's prefix, record() converts
        self._adaptive = None
        if opts.adaptive:
            from . import adaptive

            self._adaptive = adaptive.attach(item, restart=self._restart)

    def _restart(self) -> None:
        # a new look of --lowdim-adaptive runs the test function again on this same fixture
        self._recorded = False
        self._seed_counts.clear()
        self._diverged.clear()

    def _trained(self, result, seeds) -> None:
        bad = result.diverged.tolist()
        self._diverged.update(seed for seed, b in zip(seeds, bad, strict=True) if b)

    @property
    def device(self) -> str:
        from ..engine.train import resolve_device

        return str(resolve_device(self._opts.device))

    @property
    def profile(self) -> str:
        return self._opts.profile

    def choose(self, by_profile=None, /, *, quick=None, full=None):
        """The value for the active profile: claim.choose({"quick": 8, "full": 32}) (a claim
        file's N_SEEDS-style dict) or claim.choose(quick=8, full=32)."""
        if by_profile is not None:
            if quick is not None or full is not None:
                raise TypeError("claim.choose: pass a {quick, full} dict or quick=/full=, not both")
            if not isinstance(by_profile, dict) or set(by_profile) != {"quick", "full"}:
                raise ValueError(f"claim.choose: got {by_profile!r}; need a dict with exactly "
                                 "the keys 'quick' and 'full'")
            quick, full = by_profile["quick"], by_profile["full"]
        return full if self._opts.profile == "full" else quick

    def seeds(self, n: int) -> list[int]:
        """The claim's seeds: n of them (or --lowdim-seeds), starting at --lowdim-seed-offset.
        n is a whole number from 1 to MAX_SEEDS: a bool, a float (2.9 would silently be 2) or
        a string is a TypeError, a count out of range a ValueError (not a MemoryError)."""
        count = seed_count(n)  # checked also where --lowdim-seeds overrides it
        if self._opts.seeds is not None:
            count = self._opts.seeds
        self._seed_counts.add(count)  # the budget (the method), also under --lowdim-adaptive
        if self._adaptive is not None:
            count = self._adaptive.prefix(count)
        return list(range(self._opts.seed_offset, self._opts.seed_offset + count))

    def record(self, evidence: Evidence, *, curves: dict[str, dict] | None = None,
               **conditions) -> Evidence:
        """Attach the evidence (and the condition parameters) to this test's report row.
        Call it before asserting, so a failing claim still lands in the report.
        curves: optional histories over training steps for the report's figure,
        {name: {"x": (R,) steps, "y": (S, R) per seed, "ylabel": ...}}
        (lowdim.report.curves.pack_curves).
        Under --lowdim-smoke a decision that cannot reach alpha with its seeds skips the test
        (pytest.skip, after recording), with the sentence that says why as the reason."""
        from ..regress import conditions_of, junit_properties, method_hash
        from ..report.curves import pack_curves
        from ..stats import Evidence
        from ..stats.attainable import undecidable

        if not isinstance(evidence, Evidence):
            raise TypeError(f"evidence: got {type(evidence).__name__}; pass a lowdim Evidence")
        packed = pack_curves(curves) if curves is not None else None
        if self._adaptive is not None and not self._recorded:
            evidence = self._adaptive.convert(evidence)  # or NeedMoreSeeds: the next look
        if self._recorded:
            raise RuntimeError(f"{self._item.nodeid}: record() was called twice; one Evidence "
                               "per test (parametrize to record several)")
        self._recorded = True
        params = dict(getattr(getattr(self._item, "callspec", None), "params", {}) or {})
        params.update(conditions)
        test = getattr(self._item, "originalname", None) or self._item.name
        payload = {"evidence": evidence.to_dict(), "conditions": conditions_of(params, test)}
        k = self._opts.seed_offset
        trained = (self._adaptive.trained if self._adaptive is not None
                   else max(self._seed_counts, default=0))
        payload["seeds"] = [k, k + trained - 1] if trained else None
        drawn = set(self._seed_counts) | ({trained} if self._adaptive is not None else set())
        warnings = [w for w in (seed_mismatch(evidence, drawn),
                                diverged_uncounted(evidence, self._diverged)) if w]
        if warnings:
            payload["warnings"] = warnings
        payload["method_hash"] = method_hash(
            module_path=getattr(self._item.module, "__file__", None),
            test=test,
            evidence=payload["evidence"], conditions=payload["conditions"],
            profile=self._opts.profile, seed_counts=self._seed_counts,
            perturbation=self._opts.perturb)  # a neighbour's rows: another method
        if packed:
            payload["curves"] = packed
        note = undecidable(evidence)
        if note:
            payload["undecidable"] = note
            self._item.stash[UNDECIDABLE] = note
        self._item.user_properties.append((PROP_EVIDENCE, json.dumps(payload, sort_keys=True)))
        self._item.user_properties.extend(junit_properties(payload))
        if note and self._opts.smoke:
            pytest.skip(f"{note}; --lowdim-smoke skips it")
        return evidence


def seed_mismatch(evidence: Evidence, drawn: set[int]) -> str | None:
    """The row's warning when Evidence.n plus the seeds it excluded as non-finite
    (details "n_nonfinite", nonfinite="exclude") is none of the seed counts the test drew with
    claim.seeds: most often a (K conditions, S seeds) table handed to a function that takes
    (S seeds, K conditions), such as ld.trend, which then decides on K "seeds". None when it
    matches, when the test drew no seeds, and for the sequential rules (seq-*), which stop
    early on fewer seeds by design."""
    if not drawn or evidence.rule.startswith("seq-"):
        return None
    details = evidence.details or {}
    excluded = (int(details.get("n_nonfinite", 0) or 0)  # dropped, not counted against
                if details.get("nonfinite") == "exclude" else 0)
    if evidence.n + excluded in drawn:
        return None
    counts = " or ".join(str(n) for n in sorted(drawn))
    besides = f" + {excluded} non-finite seed(s) excluded" if excluded else ""
    return (f"Evidence.n = {evidence.n}{besides}, but the test drew {counts} seeds with "
            "claim.seeds: is a (conditions, seeds) table passed where (seeds, conditions) is "
            "expected (ld.trend, ld.paired take one row per seed)? Pass one value per seed")


def diverged_uncounted(evidence: Evidence, diverged: set[int]) -> str | None:
    """The row's warning when seeds diverged in a lowdim.train of the test (a NaN or inf loss
    or parameter, TrainResult.diverged) but the Evidence counts fewer non-finite seeds (details
    "n_nonfinite"): their values, e.g. the accuracy of a net full of NaN, entered the decision
    as ordinary numbers. None when there were none or all are counted."""
    counted = int((evidence.details or {}).get("n_nonfinite", 0) or 0)
    if len(diverged) <= counted:
        return None
    seeds = sorted(diverged)
    named = ", ".join(map(str, seeds[:8])) + (" ..." if len(seeds) > 8 else "")
    return (f"{len(seeds)} seed(s) diverged in lowdim.train (seeds {named}) but the Evidence "
            f"counts {counted} as non-finite: their values entered the decision as ordinary "
            "numbers; pass diverged=result.diverged to the decision so they count as its "
            "nonfinite policy says")


def check_recorded(item: pytest.Item, rep: pytest.TestReport) -> None:
    """A claim test's passing call report without recorded evidence: a test that takes the
    `claim` fixture fails (its row "failed", the note in its warnings); a test that has the
    claim marker only (it cannot record) keeps its outcome, with the note as a warning.
    Skipped, xfailed and failed tests are left as they are."""
    if rep.when != "call" or not rep.passed or hasattr(rep, "wasxfail"):
        return
    if any(name == PROP_EVIDENCE for name, _ in item.user_properties):
        return
    if "claim" in (getattr(item, "fixturenames", None) or ()):
        note = ("passed without recording evidence: call claim.record(evidence) before "
                "asserting (or skip the test)")
        rep.outcome = "failed"
        rep.longrepr = f"lowdim: {item.nodeid} {note}"
    elif item.get_closest_marker("claim") is not None:
        note = ("has the claim marker but passed without recording evidence: take the `claim` "
                "fixture and call claim.record(evidence) before asserting")
    else:
        return
    rep.user_properties.append((PROP_NOTE, note))
