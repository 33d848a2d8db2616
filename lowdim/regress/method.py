"""The method hash: what a row's finding depends on besides lowdim and the seeds.

Two rows with one method hash ran the same claim code, decision, conditions, profile and seed
counts, so a changed verdict between them is a changed finding (regress.compare).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

from ..engine.source import normalised_source
from ..report.schema import EvidenceDict

METHOD_HASH_SCHEME = "lowdim-method-1"  # bump when what the hash covers changes
DECISION_FIELDS = ("statistic", "test", "alternative", "threshold", "alpha")


@functools.lru_cache(maxsize=512)
def _normalised_file(path: str, mtime_ns: int, size: int, test: str | None) -> str:
    return normalised_source(Path(path).read_text(encoding="utf-8"), test)


def method_hash(
    *,
    module_path: str | os.PathLike | None,
    test: str | None,
    evidence: EvidenceDict | dict,
    conditions: dict,
    profile: str,
    seed_counts: Iterable[int],
) -> str:
    """What a row's finding depends on besides the library and the seeds, as 16 hex digits.

    Covers (a) the claim module's code, normalised by `normalised_source` (docstrings, comments
    and layout do not count; constants, thresholds, configs, helpers, decorators such as xfail
    and parametrize, and this test's body do); (b) the evidence's decision: statistic, test,
    alternative, threshold, alpha; (c) the recorded conditions; (d) the profile and the seed
    counts the test asked for (after --lowdim-seeds). Not covered: lowdim itself and its
    dependencies (a change there is what a regression check is for), the seed offset (another
    block is a replication, checked separately), the device. ast.unparse may lay code out
    differently in another Python version: compare runs of one Python (CI pins the baseline's).
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
        "conditions": conditions,
        "profile": profile,
        "seed_counts": sorted({int(n) for n in seed_counts}),
    }
    text = json.dumps(spec, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


__all__ = ["DECISION_FIELDS", "METHOD_HASH_SCHEME", "method_hash", "normalised_source"]
