"""Run history: each complete run kept as <report dir>/history/<n>-<commit>-<profile>.json.

n counts up across runs (1, 2, 3, ...; never reused while a run is kept), commit is the run's
git commit ("nocommit" outside git) and profile its --lowdim-profile. save_history keeps the
newest `keep` entries and deletes older ones (only files named like an entry, never others).
`lowdim compare` and `lowdim history` name an entry by a reference: "last" (the newest), "-K"
(the K-th newest: -1 is last, -2 the run before it), its number n, its id (the file name
without .json), or else a path of a report. Entries are plain claims.json reports, less any
baseline comparison, read back through the one loader (compare.load_baseline).
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..report import dump_report
from ..report.schema import Report, atomic_write
from .compare import load_baseline, strip_comparison

try:  # serialises the numbering of runs that finish at once (POSIX); elsewhere a rare clash
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

HISTORY_DIR = "history"  # the folder under the report dir
ENTRY = re.compile(r"(?P<n>[0-9]{1,9})-(?P<commit>[A-Za-z0-9]+)-(?P<profile>[A-Za-z0-9_]+)")
REF_HELP = ("last (the newest run kept), -K (the K-th newest: -2 is the run before last), a run "
            "number or id from `lowdim history`, or a path of a claims.json")


@dataclass(frozen=True)
class Entry:
    """One kept run: its number, file, commit and profile."""

    n: int
    path: Path
    commit: str
    profile: str

    @property
    def id(self) -> str:
        return self.path.stem


def entries(history_dir: str | os.PathLike) -> list[Entry]:
    """The kept runs in history_dir, oldest first (by n); [] when there is no such folder."""
    folder = Path(history_dir)
    if not folder.is_dir():
        return []
    found = [(ENTRY.fullmatch(p.stem), p) for p in folder.glob("*.json")]
    return sorted((Entry(int(m["n"]), p, m["commit"], m["profile"]) for m, p in found if m),
                  key=lambda e: (e.n, e.id))


def _token(text: object, default: str) -> str:
    """A commit or profile as a file-name part: letters, digits and _ only."""
    return re.sub(r"[^A-Za-z0-9_]", "", str(text or ""))[:40] or default


def save_history(report: Report, report_dir: Path, *, keep: int) -> Path | None:
    """Keep `report` (a complete run's, as written to claims.json) as the next history entry,
    report_dir/history/<n>-<commit>-<profile>.json, written atomically (a reader sees the whole
    file or none), then delete all but the newest `keep` entries. Returns the new entry's path;
    None when keep is 0 (no history) or the report has no rows. ValueError for a keep that is not
    an int >= 0; OSError where the folder cannot be written (the caller reports it)."""
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
        raise ValueError(f"keep: got {keep!r}; need an int >= 0 (runs to keep, 0: no history)")
    if keep == 0 or not report.get("rows"):
        return None
    meta = report.get("meta") or {}
    commit = _token(meta.get("git_commit"), "nocommit")
    profile = _token((meta.get("options") or {}).get("profile"), "unknown")
    folder = Path(report_dir) / HISTORY_DIR
    folder.mkdir(parents=True, exist_ok=True)
    text = dump_report(strip_comparison(report))
    with open(folder / ".lock", "a") as lock:  # held until the entry is written and pruned
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        n = max((e.n for e in entries(folder)), default=0) + 1
        path = folder / f"{n}-{commit}-{profile}.json"
        atomic_write(path, text)
        for old in entries(folder)[:-keep]:
            with contextlib.suppress(FileNotFoundError):
                old.path.unlink()
    return path


def resolve(ref: str, history_dir: str | os.PathLike) -> Path:
    """The report file a reference names (REF_HELP). ValueError naming the reference, the
    history folder and what it holds, for one that names no kept run."""
    ref, folder = str(ref), Path(history_dir)
    by_number = re.fullmatch(r"-?[0-9]{1,9}", ref)
    kept = entries(folder) if ref == "last" or by_number or ENTRY.fullmatch(ref) else []
    if ref == "last" or (by_number and ref.startswith("-")):
        k = 1 if ref == "last" else -int(ref)
        if k < 1:
            raise ValueError(f"{ref}: need last, -1, -2, ... (-1 is the newest run)")
        if k > len(kept):
            held = f"only {len(kept)} run(s)" if kept else "no runs"
            raise ValueError(f"{ref}: {folder} holds {held}; every complete `pytest claims` run "
                             "is kept there (`lowdim history` lists them)")
        return kept[-k].path
    match = [e for e in kept if (by_number and e.n == int(ref)) or e.id == ref]
    if match:
        return match[-1].path
    if by_number and not Path(ref).exists():
        span = f"runs {kept[0].n}..{kept[-1].n}" if kept else "no runs"
        raise ValueError(f"{ref}: no run {ref} in {folder}, which holds {span} (`lowdim history`)")
    return Path(ref)


def summary(entry: Entry) -> dict:
    """What `lowdim history` shows of a kept run: id, started, commit, profile, rows, verdict
    counts (SUPPORTED, REFUTED, INCONCLUSIVE, none: rows without evidence), exit status; or
    {"id", "error"} for an entry the loader refuses."""
    try:
        rep = load_baseline(entry.path, option="history entry")
    except (ValueError, OSError) as e:
        return {"id": entry.id, "error": str(e)}
    meta, counts = rep["meta"], {"SUPPORTED": 0, "REFUTED": 0, "INCONCLUSIVE": 0, "none": 0}
    for row in rep["rows"]:
        counts[(row.get("evidence") or {}).get("verdict") or "none"] += 1
    return {"id": entry.id, "started": meta.get("started"), "commit": meta.get("git_commit"),
            "profile": (meta.get("options") or {}).get("profile"), "rows": len(rep["rows"]),
            **counts, "exitstatus": meta.get("exitstatus")}


def render_history(history_dir: str | os.PathLike) -> list[str]:
    """`lowdim history`: one line per kept run, oldest first, with its -K reference."""
    kept = entries(history_dir)
    if not kept:
        return [f"no runs in {history_dir} yet: every complete `pytest claims` run is kept there"]
    head = (f"{'ref':>4}  {'id':<32} {'started':<25} {'rows':>5} {'SUPPORTED':>9} "
            f"{'REFUTED':>7} {'INCONCL.':>8} {'none':>5} {'exit':>4}")
    lines = [head]
    for k, entry in zip(range(len(kept), 0, -1), kept):
        s = summary(entry)
        if "error" in s:
            lines.append(f"{-k:>4}  {entry.id:<32} unreadable: {s['error']}")
            continue
        lines.append(f"{-k:>4}  {entry.id:<32} {str(s['started'] or '?'):<25} {s['rows']:>5} "
                     f"{s['SUPPORTED']:>9} {s['REFUTED']:>7} {s['INCONCLUSIVE']:>8} "
                     f"{s['none']:>5} {str(s['exitstatus']):>4}")
    return lines


__all__ = ["ENTRY", "HISTORY_DIR", "REF_HELP", "Entry", "entries", "render_history", "resolve",
           "save_history", "summary"]
