"""Writing a report: claims.json (the source of truth) and every rendering of it, as one write.

The plugin (at the end of a run), `lowdim report` (re-rendering a claims.json) and `lowdim merge`
(the merged report) all write through `write`: under the folder's lock, every file staged and
then moved into place together, claims.json last (report.folder). No pytest here.
"""

from __future__ import annotations

import html as _html
import json
import os
from collections.abc import Callable
from pathlib import Path

from .folder import Transaction, locked
from .schema import Report

REPORT_NAME = "claims.json"  # the name that gets figures/ and claims.html beside it
PARTIAL_NAME = "claims.partial.json"  # a run that is not complete, beside a complete report


def dump_report(report: Report) -> str:
    """claims.json's text: sorted keys (stable diffs), no NaN (JSON has none), one newline."""
    return json.dumps(report, indent=1, sort_keys=True, allow_nan=False) + "\n"


def _stub_html(error: str) -> str:
    """claims.html of a run whose page could not be rendered: says so, instead of keeping an
    older run's page beside this run's claims.json."""
    return ("<!doctype html><meta charset=utf-8><title>lowdim claims</title>"
            f"<p>claims.html could not be rendered for this run ({_html.escape(error)}); "
            "claims.md and claims.json beside it hold the report.</p>\n")


def write(report: Report, outdir: str | os.PathLike, *, name: str = REPORT_NAME,
          on_error: Callable[[str, Exception], None] | None = None) -> dict[str, Path]:
    """Write report into outdir as `name` with its .md and .csv beside it (same stem), all or
    nothing (report.folder: the folder's lock, a staged write, claims.json moved last). Under
    the name claims.json also the figures (figures/, needs matplotlib) and claims.html, which
    belong to a report folder, and any claims.partial.* there goes (the complete report
    supersedes it). Returns {kind: path}: json, md, csv (html, figures). In figures/ only
    files that lowdim's figures/index.json lists are ever removed.
    on_error(what, error): where the figures or the html break (not OSError: the folder
    itself), it is told, and the report is written without figures, with a claims.html saying
    why; without it, the error propagates and nothing is written."""
    # imported here, not above: `import lowdim.report` binds `write` without loading pandas,
    # tabulate, lowdim.stats and matplotlib, which only writing needs
    from . import figures, html
    from .render import csv_text, render_markdown, to_frame

    outdir = Path(outdir)
    if not name.endswith(".json") or "/" in name or name.startswith("."):
        raise ValueError(f"name: got {name!r}; need a .json file name (.md and .csv go beside it)")
    stem = name[:-len(".json")]
    paths = {"json": outdir / name, "md": outdir / f"{stem}.md", "csv": outdir / f"{stem}.csv"}
    with locked(outdir), Transaction(outdir, last=name) as txn:
        links = ""
        if name == REPORT_NAME:
            paths["html"] = outdir / "claims.html"
            try:
                figs = figures.write_figures(report, txn)
                page = html.render_html(report, figs, txn)
                links = html.render_figure_links(report, figs)
            except OSError:
                raise
            except Exception as e:  # noqa: BLE001 - the rows must not be lost
                if on_error is None:
                    raise
                on_error("writing the figures / html", e)  # may add to report["meta"]
                figs, page = figures.FigureSet(), _stub_html(f"{type(e).__name__}: {e}")
            txn.put("claims.html", page)
            for old in ("json", "md", "csv"):
                txn.remove(f"{PARTIAL_NAME[:-len('.json')]}.{old}")
            if figs.paths:
                paths["figures"] = outdir / figures.FIGURES_DIR
        txn.put(paths["md"].name, render_markdown(report) + links)
        txn.put(paths["csv"].name, csv_text(to_frame(report)))
        txn.put(name, dump_report(report))
    return paths


write_reports = write  # the name the plugin and the CLI have always called


__all__ = ["PARTIAL_NAME", "REPORT_NAME", "dump_report", "write", "write_reports"]
