"""Writing a report: claims.json (the source of truth) and every rendering of it, atomically.

The plugin (at the end of a run), `lowdim report` (re-rendering a claims.json) and `lowdim merge`
(the merged report) all write through `write`. No pytest here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .schema import Report, atomic_write

REPORT_NAME = "claims.json"  # the name that gets figures/ and claims.html beside it


def dump_report(report: Report) -> str:
    """claims.json's text: sorted keys (stable diffs), no NaN (JSON has none), one newline."""
    return json.dumps(report, indent=1, sort_keys=True, allow_nan=False) + "\n"


def write(report: Report, outdir: str | os.PathLike, *,
          name: str = REPORT_NAME) -> dict[str, Path]:
    """Write report into outdir as `name` with its .md and .csv beside it (same stem); under
    the name claims.json also the figures (figures/, needs matplotlib) and claims.html, which
    belong to a report folder. Returns {kind: path}: json, md, csv (html, figures). In
    figures/ only files that lowdim's figures/index.json lists are ever removed."""
    # imported here, not above: `import lowdim.report` binds `write` without loading pandas,
    # tabulate, lowdim.stats and matplotlib, which only writing needs
    from . import figures, html
    from .render import csv_text, render_markdown, to_frame

    outdir = Path(outdir)
    if not name.endswith(".json"):
        raise ValueError(f"name: got {name!r}; need a .json file name (.md and .csv go beside it)")
    json_path = outdir / name
    paths = {"json": json_path, "md": json_path.with_suffix(".md"),
             "csv": json_path.with_suffix(".csv")}
    atomic_write(paths["json"], dump_report(report))
    if name != REPORT_NAME:
        atomic_write(paths["md"], render_markdown(report))
        atomic_write(paths["csv"], csv_text(to_frame(report)))
        return paths
    paths["html"] = outdir / "claims.html"
    figs = figures.write_figures(report, outdir)
    atomic_write(paths["md"], render_markdown(report) + html.render_figure_links(report, figs))
    atomic_write(paths["csv"], csv_text(to_frame(report)))
    atomic_write(paths["html"], html.render_html(report, figs, outdir))
    if figs.paths:
        paths["figures"] = outdir / figures.FIGURES_DIR
    return paths


write_reports = write  # the name the plugin and the CLI have always called


__all__ = ["REPORT_NAME", "dump_report", "write", "write_reports"]
