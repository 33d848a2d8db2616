"""The journal of a run: each finished row on disk as it finishes, so a run that dies keeps them.

The controller writes `.claims.journal.<pid>.jsonl` into the report folder: a header line, then
one JSON line per finished test. A run that writes its report deletes its journal; a journal
whose process is gone therefore belongs to a run that died (killed, out of memory, os._exit),
and the next run moves it to `claims.crashed-<start time>.jsonl` and says so.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path

from ..report.publish import in_range
from ..report.schema import MAX_BYTES, MAX_ITEMS, Row, check, parse_json

JOURNAL_FORMAT = 1


def journal_header(args: list) -> str:
    """First line of a run's journal: enough to tell which run left it behind."""
    head = {"lowdim_journal": JOURNAL_FORMAT, "pid": os.getpid(),
            "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "args": [str(a) for a in args]}
    return json.dumps(head, sort_keys=True) + "\n"


def load_journal(path: str | os.PathLike) -> tuple[dict, list[dict]]:
    """(header, rows) of a journal, its JSON lines read through report.schema's loader
    (parse_json: bounded, finite numbers; nothing unpickled or executed). The header keeps only
    its fields of the right type, `started` only as an ISO time (it names the file a crashed
    run's rows are kept in); a row must fit report.schema.Row. A line that is not JSON (the last
    one, cut short by the crash), a damaged header and rows that do not fit are skipped: a
    damaged journal never stops a later run. At most MAX_ITEMS lines of MAX_BYTES are read."""
    fields = {"lowdim_journal": int, "pid": int, "started": str, "args": list[str]}
    header: dict = {}
    rows: list[dict] = []
    with open(path, "rb") as f:
        for i, line in enumerate(iter(lambda: f.readline(MAX_BYTES), b""), 1):
            if i > MAX_ITEMS:
                break
            try:
                obj = parse_json(line, f"{path}:{i}")
            except ValueError:
                continue
            if isinstance(obj, dict) and "lowdim_journal" in obj:
                header = {k: v for k, v in obj.items()
                          if k in fields and check(v, fields[k]) is None}
                try:
                    _dt.datetime.fromisoformat(header.get("started", ""))
                except ValueError:
                    header.pop("started", None)
            elif isinstance(obj, dict) and isinstance(obj.get("test"), str) and check(
                    obj, Row, "", in_range) is None:
                rows.append(obj)
    return header, rows


def journal_path(report_dir: Path) -> Path:
    """This run's journal: one per process, so that runs sharing a report folder at the same
    time never write into (or recover) each other's journal."""
    return report_dir / f".claims.journal.{os.getpid()}.jsonl"


def _alive(pid) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def recover_journals(report_dir: Path) -> list[str]:
    """Journals left in report_dir by runs whose process is gone (killed, out of memory,
    os._exit) before writing their report: keep their completed rows (see `recover_journal`).
    Journals of runs still alive are left alone. Returns the lines to show."""
    notes = []
    for journal in sorted(report_dir.glob(".claims.journal*.jsonl")):
        note = recover_journal(journal)
        if note:
            notes.append(note)
    return notes


def recover_journal(journal: Path) -> str | None:
    """A journal on disk whose run is gone means that run ended without writing its report.
    Keep its completed rows: move the file to claims.crashed-<start time>.jsonl beside it and
    return a line saying so (None: nothing to keep, or its run is still going)."""
    pid = journal.name.split(".")[-2]  # .claims.journal.<pid>.jsonl
    if not journal.exists() or (pid.isdigit() and _alive(int(pid))):
        return None
    try:
        header, rows = load_journal(journal)
    except OSError:
        return None
    if not rows:
        journal.unlink(missing_ok=True)
        return None
    stamp = header.get("started") or _dt.datetime.fromtimestamp(
        journal.stat().st_mtime, _dt.timezone.utc).isoformat(timespec="seconds")
    stamp = stamp.replace("-", "").replace(":", "").replace("+0000", "Z")
    target = journal.with_name(f"claims.crashed-{stamp}.jsonl")
    n = 1
    while target.exists():
        n += 1
        target = journal.with_name(f"claims.crashed-{stamp}-{n}.jsonl")
    os.replace(journal, target)
    started = f" (started {header['started']})" if header.get("started") else ""
    return (f"lowdim: the previous run{started} ended without writing its report; its "
            f"{len(rows)} completed row(s) are kept in {target} (JSON lines, one row each)")


class Journal:
    """This run's journal in `report_dir` (the controller's, with report files on)."""

    def __init__(self, report_dir: Path):
        self.path = journal_path(report_dir)

    def start(self, args: list) -> list[str]:
        """Recover the journals of runs that died (their lines to show are returned), then
        begin this run's with its header. OSError when the folder is not writable."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        notes = recover_journals(self.path.parent)
        self.path.write_text(journal_header(args), encoding="utf-8")
        return notes

    def append(self, row: dict) -> None:
        """One finished row, one line: a crash of the whole run still leaves it on disk."""
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row, sort_keys=True) + "\n")

    def discard(self) -> None:
        """The run wrote its report (or only collected): its rows need no keeping."""
        self.path.unlink(missing_ok=True)
