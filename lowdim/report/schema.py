"""The report's file formats, at the bottom of lowdim: imports nothing else of lowdim.

What a claims.json holds (SCHEMA_VERSION, the outcomes a row can have), how it is read back
(`load_report`), how numbers are formatted for people (`fmt_num`, `fmt_interval`) and how every
file lowdim writes reaches the disk (`atomic_write`). Every other room may import this module.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

SCHEMA_VERSION = 1
OUTCOMES = ("passed", "failed", "xfailed", "xpassed", "skipped", "error", "crashed", "timeout",
            "not run")


def atomic_write(path: str | os.PathLike, text: str | bytes) -> None:
    """Write text (UTF-8) or bytes to path via a temporary file in the same folder and an atomic
    rename, so a reader (or an interrupted run) sees either the old file or the complete new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a report is an ordinary file
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode("utf-8") if isinstance(text, str) else text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def fmt_num(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–" if x is None else str(x)
    if isinstance(x, int):
        return str(x)
    return f"{x:.{digits}g}"


def fmt_interval(ev: dict) -> str:
    lo, hi = ev["interval"]
    # to_dict writes an infinite side as None (JSON has no inf): lower -inf, upper +inf
    lo = "-inf" if lo is None else fmt_num(lo)
    hi = "inf" if hi is None else fmt_num(hi)
    return f"[{lo}, {hi}]"


# Reports written before Evidence carried its rule: the rule each test name stood for. Used
# only to read such files (load_report fills in the missing "rule"); nothing dispatches on names.
LEGACY_RULES = {
    "exact binomial": "proportion",
    "exact sign test": "sign",
    "TOST Wilcoxon": "equivalence",
    "Page's L": "trend",
}


def legacy_rule(evidence: dict) -> str:
    """The rule of an evidence dict from a report that predates Evidence.rule ("" if unknown)."""
    test = str(evidence.get("test") or "")
    if test == "Wilcoxon signed-rank":  # paired rows carry both arms, location rows do not
        details = evidence.get("details") or {}
        return "wilcoxon" if "a" in details and "b" in details else "location"
    if test.startswith("anytime-valid binomial"):
        return "seq-proportion"
    if test.startswith("anytime-valid sign"):
        return "seq-sign"
    return LEGACY_RULES.get(test, "")


def load_report(path: str | os.PathLike) -> dict:
    """Read a claims.json (plain JSON: nothing is unpickled or executed) and check its schema."""
    try:
        with open(path, encoding="utf-8") as f:
            report = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e}); regenerate it with pytest claims") from None
    if not isinstance(report, dict) or "rows" not in report or "meta" not in report:
        raise ValueError(f"{path}: not a lowdim report (needs 'meta' and 'rows')")
    if report.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(
            f"{path}: schema_version {report.get('schema_version')!r}, this lowdim reads "
            f"{SCHEMA_VERSION}; regenerate the report"
        )
    for row in report["rows"] if isinstance(report["rows"], list) else ():
        ev = row.get("evidence") if isinstance(row, dict) else None
        if isinstance(ev, dict) and "rule" not in ev:
            ev["rule"] = legacy_rule(ev)
    return report
