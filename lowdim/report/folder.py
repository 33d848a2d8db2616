"""A report folder's integrity: one writer at a time (the lock) and all files at once (a write).

A report is several files (claims.json, .md, .csv, .html, figures/). Written one by one, an
interrupted run or a full disk leaves a folder whose files come from two runs. So a report is
written as a transaction (`Transaction`): every file goes first into a staging folder inside the
report folder (`.lowdim-write-<pid>-<n>/`, same file system, so a move is a rename); when all are
there, a plan naming each move is written (`PLAN`, atomically), and then the files move into
place, claims.json last, old figures removed after it. A run killed before the plan leaves its
staging folder, which the next writer deletes (the previous report stands); one killed after it
leaves a plan, which the next writer finishes (the new report stands). Signals (SIGINT, SIGTERM)
wait while the files move.

The lock (`.lowdim.lock`, holding the writer's pid, host and start time) makes a second run that
writes the same folder fail at start-up with a message naming the first; a lock whose process is
gone (killed) is taken over. The same process may take it again (an in-process nested run).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import itertools
import json
import os
import shutil
import signal
import socket
import threading
from pathlib import Path

from .schema import atomic_write, parse_json

LOCK_NAME = ".lowdim.lock"
STAGE_PREFIX = ".lowdim-write-"
PLAN = "PLAN"
_held: dict[Path, int] = {}  # lock path -> times this process took it
_count = itertools.count()


class FolderBusy(OSError):
    """Another live run holds the report folder's lock (an OSError: the CLI shows one line)."""


def _proc_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), telling a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]  # field 22 of stat, after the command's name


def _alive(holder: dict) -> bool:
    """Whether the lock's holder still runs. A lock written on another host (a shared file
    system) cannot be checked from here and counts as live; one lowdim did not write, as gone."""
    pid = holder.get("pid")
    if holder.get("host") != socket.gethostname():
        return isinstance(holder.get("host"), str) and isinstance(pid, int)
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, another user's
        return True
    started = holder.get("proc_start")
    return started is None or started == _proc_start(pid)


def describe_holder(holder: dict) -> str:
    args = " ".join(holder.get("args") or [])
    return (f"pid {holder.get('pid')} on {holder.get('host')}, started {holder.get('started')}"
            + (f", `{args}`" if args else ""))


def acquire(folder: str | os.PathLike, args: list | None = None) -> Path:
    """Take the folder's lock (creating the folder); FolderBusy naming the holder when a live
    run has it; OSError when the folder cannot be written. Re-entrant within one process."""
    folder = Path(folder)
    path = folder / LOCK_NAME
    if path in _held:
        _held[path] += 1
        return path
    folder.mkdir(parents=True, exist_ok=True)
    me = {"pid": os.getpid(), "host": socket.gethostname(), "proc_start": _proc_start(os.getpid()),
          "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
          "args": [str(a) for a in (args or [])]}
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = read_lock(path)
            if holder is not None and _alive(holder):
                raise FolderBusy(
                    f"{folder}: another lowdim run is writing its report there ({describe_holder(holder)}); "
                    "wait for it to finish, or pass --lowdim-report-dir <another folder> "
                    f"(a lock left by a process that is gone is taken over; {path})") from None
            stale = path.with_name(f"{LOCK_NAME}.stale-{os.getpid()}")
            with contextlib.suppress(FileNotFoundError):
                os.replace(path, stale)  # one taker wins the rename; the others retry
                stale.unlink()
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(me, sort_keys=True) + "\n")
        _held[path] = 1
        recover(folder)
        return path
    raise FolderBusy(f"{folder}: could not take {path}; remove it if no lowdim run is writing")


def read_lock(path: Path) -> dict | None:
    """The lock's holder, None when the file is gone; {} when it is not a lock lowdim wrote."""
    try:
        obj = parse_json(path.read_bytes()[:4096], str(path))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return obj if isinstance(obj, dict) else {}


def release(path: Path) -> None:
    """Give the lock back (the last of this process's takes removes the file)."""
    if path not in _held:
        return
    _held[path] -= 1
    if _held[path] == 0:
        del _held[path]
        holder = read_lock(path)
        if holder and holder.get("pid") == os.getpid():
            path.unlink(missing_ok=True)


@contextlib.contextmanager
def locked(folder: str | os.PathLike, args: list | None = None):
    path = acquire(folder, args)
    try:
        yield path
    finally:
        release(path)


def _apply(stage: Path) -> None:
    """Move a staged write into place as its plan says; moves already done are skipped."""
    plan = parse_json((stage / PLAN).read_bytes(), str(stage / PLAN))
    folder = stage.parent
    for staged, rel in plan["moves"]:
        src = stage / staged
        if src.exists():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, folder / rel)
    for rel in plan["removes"]:
        (folder / rel).unlink(missing_ok=True)
    shutil.rmtree(stage, ignore_errors=True)


def recover(folder: str | os.PathLike) -> list[str]:
    """Finish the writes whose plan was written (their run died while moving files) and delete
    the staging folders of writes that never got that far; the lines to show. Call it holding
    the lock: a live writer's staging folder is not another's to touch."""
    notes = []
    for stage in sorted(Path(folder).glob(f"{STAGE_PREFIX}*")):
        if not stage.is_dir():
            continue
        if (stage / PLAN).is_file():
            try:
                _apply(stage)
                notes.append(f"lowdim: finished the report write a killed run left in {stage}")
                continue
            except (OSError, ValueError, KeyError, TypeError):
                pass
        shutil.rmtree(stage, ignore_errors=True)
    return notes


@contextlib.contextmanager
def _signals_wait():
    """SIGINT and SIGTERM are held back while files move (main thread, POSIX), then delivered."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not \
            threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class Transaction:
    """Files of one report folder, written together: `put` and `remove` stage, `commit` moves
    them into place (claims.json last), `abort` (or an exception in a `with`) drops them."""

    def __init__(self, folder: str | os.PathLike, *, last: str = "claims.json"):
        self.folder = Path(folder)
        self.last = last  # the source of truth moves last: a reader who sees it sees the rest
        self.stage = self.folder / f"{STAGE_PREFIX}{os.getpid()}-{next(_count)}"
        self.moves: dict[str, str] = {}  # rel path -> staged name
        self.removes: set[str] = set()

    def put(self, rel: str, data: str | bytes) -> None:
        staged = f"{len(self.moves):05d}-{Path(rel).name}"
        atomic_write(self.stage / staged, data)  # fsync'd: the plan never names a torn file
        self.moves[rel] = staged
        self.removes.discard(rel)

    def remove(self, rel: str) -> None:
        if rel not in self.moves:
            self.removes.add(rel)

    def read(self, rel: str) -> bytes:
        """The file as the folder will hold it after the commit."""
        if rel in self.moves:
            return (self.stage / self.moves[rel]).read_bytes()
        if rel in self.removes:
            raise FileNotFoundError(self.folder / rel)
        return (self.folder / rel).read_bytes()

    def exists(self, rel: str) -> bool:
        return rel in self.moves or (rel not in self.removes and (self.folder / rel).is_file())

    def commit(self) -> None:
        order = sorted(self.moves, key=lambda rel: (rel == self.last, rel))
        plan = {"moves": [[self.moves[rel], rel] for rel in order],
                "removes": sorted(self.removes)}
        try:
            atomic_write(self.stage / PLAN, json.dumps(plan, indent=0))
        except BaseException:  # no plan: nothing moved, the previous report stands
            self.abort()
            raise
        with _signals_wait():
            _apply(self.stage)

    def abort(self) -> None:
        shutil.rmtree(self.stage, ignore_errors=True)

    def __enter__(self) -> Transaction:
        return self

    def __exit__(self, kind, value, tb) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()


__all__ = ["LOCK_NAME", "PLAN", "STAGE_PREFIX", "FolderBusy", "Transaction", "acquire",
           "describe_holder", "locked", "read_lock", "recover", "release"]
