"""CI surfaces: GitHub's step summary ($GITHUB_STEP_SUMMARY) and the flat junit XML
properties of a row, for tools that read junit rather than claims.json.
"""

from __future__ import annotations

import os
from pathlib import Path

STEP_SUMMARY_LIMIT = 1024 * 1024  # GitHub's limit on one step's summary, in bytes


def junit_properties(payload: dict) -> list[tuple[str, object]]:
    """Flat plain-valued properties for junit XML (pytest writes str(value) of each)."""
    ev = payload["evidence"]
    lo, hi = ev["interval"]
    lo = "-inf" if lo is None else repr(float(lo))
    hi = "inf" if hi is None else repr(float(hi))
    return [
        ("lowdim_verdict", ev["verdict"]),
        ("lowdim_estimate", "nan" if ev["estimate"] is None else repr(float(ev["estimate"]))),
        ("lowdim_interval", f"[{lo}, {hi}]"),
        ("lowdim_p", "nan" if ev["p"] is None else repr(float(ev["p"]))),
        ("lowdim_alpha", repr(float(ev["alpha"]))),
        ("lowdim_method_hash", payload.get("method_hash") or ""),
    ]


def fit_step_summary(markdown: str, budget: int) -> str:
    """The markdown cut at a line boundary to at most `budget` UTF-8 bytes, with a note saying
    how much was left out; "" when not even the note fits."""
    data = markdown.encode("utf-8")
    if len(data) <= budget:
        return markdown
    lines = markdown.splitlines(keepends=True)
    kept, used = [], 0
    note = "\n_… {} more lines left out to stay under GitHub's 1 MiB step-summary limit; the " \
           "full report is in claims.md (uploaded with the run)._\n"
    reserve = len(note.format(len(lines)).encode("utf-8"))
    for line in lines:
        size = len(line.encode("utf-8"))
        if used + size + reserve > budget:
            break
        kept.append(line)
        used += size
    if used + reserve > budget:
        return ""
    return "".join(kept) + note.format(len(lines) - len(kept))


def write_step_summary(markdown: str, *, path: str | os.PathLike | None = None,
                       limit: int = STEP_SUMMARY_LIMIT) -> Path | None:
    """Append markdown to $GITHUB_STEP_SUMMARY (or `path`) when set, keeping the file under
    `limit` bytes; returns the path written, None when not set or nothing fit. Appending (not
    an atomic replace) because the runner owns that file and other steps' tools append too.
    Its tables come escaped from lowdim.report.render (md_cell: | and <>& escaped, line breaks
    folded); here ANSI escapes and control characters go too, whatever the text's source."""
    target = path if path is not None else os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    from ..report.render import strip_controls  # pandas, tabulate: only when writing

    markdown = strip_controls(markdown)
    p = Path(target)
    used = p.stat().st_size if p.exists() else 0
    sep = "\n" if used else ""  # a blank line after what other steps wrote
    text = fit_step_summary(markdown, limit - used - len(sep))
    if not text:
        return None
    with open(p, "a", encoding="utf-8") as f:
        f.write(sep + text)
    return p


__all__ = ["STEP_SUMMARY_LIMIT", "fit_step_summary", "junit_properties", "write_step_summary"]
