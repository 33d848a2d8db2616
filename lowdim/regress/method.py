"""The method hash: what a row's finding depends on besides lowdim and the seeds.

Two rows with one method hash ran the same claim code, decision, conditions, profile and seed
counts, so a changed verdict between them is a changed finding (regress.compare).
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import os
import re
import sys
from collections.abc import Iterable
from enum import Enum
from pathlib import Path

from ..engine.source import normalised_source
from ..report.schema import EvidenceDict
from ..stats import plain

METHOD_HASH_SCHEME = "lowdim-method-1"  # bump when what the hash covers changes
DECISION_FIELDS = ("statistic", "test", "alternative", "threshold", "alpha")
ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")  # a repr naming a memory address: new every run


@functools.lru_cache(maxsize=512)
def _normalised_file(path: str, mtime_ns: int, size: int, test: str | None) -> str:
    return normalised_source(Path(path).read_text(encoding="utf-8"), test)


def qualified_name(value) -> str | None:
    """'torch.tanh', 'torch.nn.modules.activation.Tanh', 'math': the name a module, class,
    function or builtin is found by (its module and its name, or its qualified name where the
    module does not hold it by that name); None for anything else (instances, bound methods of
    an instance: their state is not in a name)."""
    if inspect.ismodule(value):
        return value.__name__
    owner = getattr(value, "__self__", None)
    if not callable(value) or not hasattr(value, "__name__") or (
            owner is not None and not isinstance(owner, type) and not inspect.ismodule(owner)):
        return None
    module = getattr(value, "__module__", None) or getattr(
        getattr(value, "__objclass__", None), "__module__", None)
    name, qualname = value.__name__, getattr(value, "__qualname__", value.__name__)
    if module and getattr(sys.modules.get(module), name, None) is value:
        return f"{module}.{name}"
    return f"{module}.{qualname}" if module else qualname


def method_value(value, where: str = "condition"):
    """A condition's value as the method hash covers it: JSON values stay as they are (so the
    hash of plain conditions is what it always was), numpy / torch numbers and arrays become
    plain numbers and lists, modules, classes and functions their qualified name
    (torch.tanh -> "torch.tanh"), anything else its str(). ValueError naming `where` for a
    value whose text holds a memory address (" at 0x..."): it would differ on every run and
    report "claim changed" each time, the regression gate silently off for that row."""
    if isinstance(value, dict):
        return {k if isinstance(k, (str, int, float, bool)) or k is None
                else method_value(k, f"a key of {where}"): method_value(v, f"{where}[{k!r}]")
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [method_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    if isinstance(value, Enum) or (hasattr(value, "tolist") and not isinstance(value, type)):
        return method_value(plain(value), where)
    text = value if isinstance(value, str) else qualified_name(value) or str(value)
    if ADDRESS.search(text):
        raise ValueError(
            f"{where}: {text[:80]!r} holds a memory address, which changes on every run, so "
            "the method hash (and the baseline gate) would read 'claim changed' every time; "
            "parametrize over a name or a plain value (e.g. 'tanh' and look the function up "
            "in the test), or over a module-level function or class, which enters by its "
            "qualified name")
    return text


def conditions_of(params: dict, test: str | None = None) -> dict:
    """A row's conditions (a test's parameters and what it gave claim.record) as plain JSON
    values, each as the method hash covers it (method_value: functions, classes and modules by
    qualified name); ValueError naming the condition and the test for a value whose text holds
    a memory address. For plain values this is lowdim.stats.plain, so no hash changes."""
    return {str(k): plain(method_value(v, f"condition {k!r} of {test or 'the test'}"))
            for k, v in params.items()}


def method_hash(
    *,
    module_path: str | os.PathLike | None,
    test: str | None,
    evidence: EvidenceDict | dict,
    conditions: dict,
    profile: str,
    seed_counts: Iterable[int],
    perturbation: str | None = None,
) -> str:
    """What a row's finding depends on besides the library and the seeds, as 16 hex digits.

    Covers (a) the claim module's code, normalised by `normalised_source` (docstrings, comments
    and layout do not count; constants, thresholds, configs, helpers, decorators such as xfail
    and parametrize, and this test's body do); (b) the evidence's decision: statistic, test,
    alternative, threshold, alpha; (c) the recorded conditions, each as `method_value` writes
    it (functions and classes by qualified name; a value whose text holds a memory address is
    a ValueError naming it); (d) the profile and the seed counts the test asked for (after
    --lowdim-seeds); (e) a --lowdim-perturb perturbation, where there is one (a neighbour's
    row is another method than the claim's own, never its regression). Not covered: lowdim
    itself and its dependencies (a change there is what a regression check is for), the seed
    offset (another block is a replication, checked separately), the device. ast.unparse may
    lay code out differently in another Python version: compare runs of one Python (CI pins
    the baseline's).
    """
    source = ""
    if module_path is not None:
        p = Path(module_path)
        try:
            s = p.stat()
            source = _normalised_file(str(p), s.st_mtime_ns, s.st_size, test)
        except (OSError, SyntaxError, ValueError):
            source = f"<unreadable: {p.name}>"
    spec = {
        "scheme": METHOD_HASH_SCHEME,
        "source": source,
        "decision": {k: evidence.get(k) for k in DECISION_FIELDS},
        "conditions": {k: method_value(v, f"condition {k!r} of {test or 'the test'}")
                       for k, v in conditions.items()},
        "profile": profile,
        "seed_counts": sorted({int(n) for n in seed_counts}),
    }
    if perturbation:  # absent without one: the hashes of unperturbed rows stay what they were
        spec["perturbation"] = perturbation
    text = json.dumps(spec, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


__all__ = ["ADDRESS", "DECISION_FIELDS", "METHOD_HASH_SCHEME", "conditions_of", "method_hash",
           "method_value", "normalised_source", "qualified_name"]
