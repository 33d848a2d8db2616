"""Figures of a report's evidence: one PNG (and an SVG twin) per row, drawn from claims.json alone.

The controller draws them after a run (so they work under xdist), and `python -m lowdim report`
redraws them without training; draw.py draws one row, this module writes every row's files,
keeps those whose row did not change, and draws the rest on a process pool when there are many.

matplotlib (the `plots` extra) is imported lazily; without it the report is written without
figures and says so once. Output is deterministic: fixed jitter, no dates or versions in the
files, a fixed SVG hash salt.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import draw
from .curves import CURVE_DIGITS, MAX_CURVE_POINTS, pack_curves
from .draw import STYLE, VERDICT_COLORS, XFAIL_NOTE, draw_row, title
from .folder import Transaction
from .schema import Report, Row

FIGURES_DIR = "figures"  # beside claims.json; the markdown and html link figures/<name>.png
INDEX = "index.json"  # in figures/: stem -> fingerprint of what each figure was drawn from
OFF = "figures are turned off (LOWDIM_FIGURES=0)"
NO_MATPLOTLIB = ("matplotlib is not installed, so the report has no figures "
                 "(pip install 'lowdim[plots]')")
try:  # a change to the drawing code (draw.py, or how this module saves) redraws every figure
    _CODE = Path(draw.__file__).read_bytes() + Path(__file__).read_bytes()
except OSError:  # pragma: no cover - e.g. a zipped install
    _CODE = b""


def figure_name(test_id: str) -> str:
    """A file-name-safe, unique stem for a row's figure, readable and stable across runs:
    'claims/test_a.py::test_b[x]' -> 'test_a-test_b-x-<8 hex of the id's sha1>'."""
    path, _, name = test_id.partition("::")
    stem = re.sub(r"\.py$", "", path.rsplit("/", 1)[-1])
    safe = re.sub(r"[^A-Za-z0-9_.]+", "-", f"{stem}-{name}" if name else stem).strip("-.")
    return f"{safe[:100]}-{hashlib.sha1(test_id.encode('utf-8')).hexdigest()[:8]}"


@dataclass(frozen=True)
class FigureSet:
    """What write_figures drew. paths: test id -> PNG path relative to the report folder (posix);
    errors: test id -> why its figure failed; note: why there are no figures at all, if so."""

    paths: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    note: str | None = None


def _matplotlib():
    import matplotlib

    return matplotlib


def _fingerprint(row: Row, mpl_version: str) -> str:
    """What a row's figure depends on: the drawn fields, the drawing code, matplotlib's
    version. An unchanged fingerprint lets a rerun keep the files it would redraw identically."""
    drawn = {k: row.get(k) for k in ("test", "outcome", "evidence", "curves")}
    h = hashlib.sha1(json.dumps(drawn, sort_keys=True, allow_nan=False).encode("utf-8"))
    h.update(_CODE)
    h.update(mpl_version.encode("utf-8"))
    return h.hexdigest()


_STEM = re.compile(r"[A-Za-z0-9_.-]+-[0-9a-f]{8}")  # figure_name's form
_DIGEST = re.compile(r"[0-9a-f]{40}")  # _fingerprint's form


def _read_index(path: Path) -> dict[str, str] | None:
    """figures/index.json as lowdim wrote it (figure stem -> fingerprint); {} when there is none;
    None when the file is not lowdim's (another tool's index.json is neither read nor replaced)."""
    if not path.exists():
        return {}
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = isinstance(index, dict) and all(
        _STEM.fullmatch(k) and isinstance(v, str) and _DIGEST.fullmatch(v)
        for k, v in index.items())
    return index if ok else None


PARALLEL_FROM = 12  # figures to draw before a process pool pays for its start (~1 s a worker)


def _render(row: Row) -> tuple[bytes, str] | str:
    """(PNG bytes, SVG text) of one row's figure, or the error as 'Type: message'."""
    mpl = _matplotlib()
    try:
        with mpl.rc_context(STYLE):
            fig = draw_row(row)
            png, svg = io.BytesIO(), io.StringIO()
            fig.savefig(png, format="png", metadata={"Software": None})
            fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
    except Exception as e:
        return f"{type(e).__name__}: {e}"
    return png.getvalue(), svg.getvalue()


def _workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _render_all(rows: list[Row]) -> list:
    """_render over rows, in order; on a process pool (spawned, so no forked torch state) when
    there are enough figures and more than one CPU: at the end of a run the pytest-xdist
    workers are gone and the cores idle. Drawing is deterministic, so the files do not depend
    on where they were drawn; if the pool cannot start or breaks, the rest is drawn here."""
    workers = min(_workers(), 8)
    if len(rows) < PARALLEL_FROM or workers < 2:
        return [_render(r) for r in rows]
    import concurrent.futures as cf
    import multiprocessing as mp

    try:
        with cf.ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
            return list(pool.map(_render, rows, chunksize=max(1, len(rows) // (4 * workers))))
    except (OSError, cf.process.BrokenProcessPool, RuntimeError) as e:
        sys.stderr.write(f"lowdim: drawing figures in one process ({type(e).__name__}: {e})\n")
        return [_render(r) for r in rows]


def write_figures(report: Report, outdir: str | Path | Transaction) -> FigureSet:
    """Draw figures/<figure_name>.png and .svg for every row with evidence, into outdir (the
    report folder); remove the figures of rows no longer in the report, and only those: a file
    is removed only when the figures/index.json that lowdim wrote lists it, so whatever else
    lives in figures/ (a paper's own figures) stays, and a figures/index.json that is not
    lowdim's means no figures (a note). A figure whose row, drawing code and matplotlib are
    unchanged since the files were written (figures/index.json) is kept, not redrawn. Without matplotlib: no figures, a note (printed once to stderr);
    LOWDIM_FIGURES=0 in the environment turns figures off. A row whose figure fails to draw
    keeps a placeholder in the report and its error in `errors`; the other rows are unaffected.
    outdir: the report folder, or a Transaction on it (the files then move with the rest of the
    report, report.folder); a folder gets a transaction of its own."""
    if not isinstance(outdir, Transaction):
        with Transaction(outdir) as txn:
            return write_figures(report, txn)
    txn = outdir
    rows = [r for r in report["rows"] if r.get("evidence")]
    if not rows:
        return FigureSet()
    if os.environ.get("LOWDIM_FIGURES", "1") == "0":  # e.g. lowdim's own plugin tests
        return FigureSet(note=OFF)
    try:
        mpl = _matplotlib()
    except ImportError:
        sys.stderr.write(f"lowdim: {NO_MATPLOTLIB}\n")
        return FigureSet(note=NO_MATPLOTLIB)
    figdir = txn.folder / FIGURES_DIR
    old_index = _read_index(figdir / INDEX)
    if old_index is None:
        note = (f"{figdir / INDEX} is not lowdim's figure index, so no figures were drawn "
                "there (nothing in that folder was touched); write the report to another "
                "folder, or move that file")
        sys.stderr.write(f"lowdim: {note}\n")
        return FigureSet(note=note)
    index, paths, errors = {}, {}, {}
    todo = []  # (stem, row) to draw: new or changed since the files were written
    for row in rows:
        stem = figure_name(row["test"])
        index[stem] = _fingerprint(row, mpl.__version__)
        if old_index.get(stem) != index[stem] or not all(
                (figdir / f"{stem}{ext}").is_file() for ext in (".png", ".svg")):
            todo.append((stem, row))
    for (stem, row), drawn in zip(todo, _render_all([row for _, row in todo]), strict=True):
        if isinstance(drawn, str):  # a bad row must not cost the whole report
            errors[row["test"]] = drawn
            del index[stem]
            continue
        txn.put(f"{FIGURES_DIR}/{stem}.png", drawn[0])
        txn.put(f"{FIGURES_DIR}/{stem}.svg", drawn[1])
    for row in rows:
        if figure_name(row["test"]) in index:
            paths[row["test"]] = f"{FIGURES_DIR}/{figure_name(row['test'])}.png"
    if errors:
        sys.stderr.write(f"lowdim: {len(errors)} figure(s) could not be drawn: "
                         + "; ".join(f"{k}: {v}" for k, v in sorted(errors.items())) + "\n")
    if index or old_index:
        txn.put(f"{FIGURES_DIR}/{INDEX}", json.dumps(index, indent=0, sort_keys=True) + "\n")
    for stem in sorted(set(old_index) - set(index)):  # lowdim's figures of rows now gone
        for ext in (".png", ".svg"):
            txn.remove(f"{FIGURES_DIR}/{stem}{ext}")
    return FigureSet(paths=paths, errors=errors)


__all__ = ["CURVE_DIGITS", "FIGURES_DIR", "INDEX", "MAX_CURVE_POINTS", "NO_MATPLOTLIB", "OFF",
           "PARALLEL_FROM", "VERDICT_COLORS", "XFAIL_NOTE", "FigureSet", "draw_row",
           "figure_name", "pack_curves", "title", "write_figures"]
