"""The robustness map's heatmap and pages: robustness.json, .md, .html and the figure.

The heatmap has a row per test and a column per run (the own setting first, then each
neighbour): the cell's colour is the verdict there (draw.VERDICT_COLORS), its text the
estimate; a cell whose verdict differs from the own setting's (a flip) gets a black frame, a
cell the perturbation did not reach is pale and hatched, a test without evidence there is
black, a test missing from the run is blank. robustness.html embeds the figure (one
self-contained page) above the claims' and rows' tables. matplotlib is optional: without it
the map is written without the figure and says so.
"""

from __future__ import annotations

import base64
import html
import io
import json
import textwrap
from pathlib import Path

from .draw import VERDICT_COLORS
from .render import fmt_num
from .robustness import HOLDS_RULE, RobustnessMap, cell_text, holds_text, render_markdown
from .schema import atomic_write

FIGURE = "robustness/heatmap"  # beside robustness.md: the figure's path without suffix
_PALE = {"SUPPORTED": "#b7dfc1", "REFUTED": "#f3b9bd", "INCONCLUSIVE": "#d0d7de"}


def draw(rmap: RobustnessMap) -> tuple[bytes, str] | None:
    """(PNG bytes, SVG text) of the heatmap, or None without matplotlib or rows."""
    try:
        from matplotlib.figure import Figure
        from matplotlib.patches import Rectangle
    except ImportError:
        return None
    rows = rmap["rows"]
    if not rows:
        return None
    names = ["own", *(n["perturbation"] for n in rmap["neighbours"])]
    width, height = 4.5 + 0.95 * len(names), 1.5 + 0.2 * len(rows)  # inches
    fig = Figure(figsize=(width, height))
    ax = fig.add_axes((3.2 / width, 0.6 / height, (0.95 * len(names)) / width,
                       1 - 1.3 / height))
    for i, r in enumerate(rows):
        cells = [r["own"], *(r["cells"][n] for n in names[1:])]
        for j, c in enumerate(cells):
            state, verdict = c["state"], c["verdict"]
            face = ("white" if state == "missing" else "black" if verdict is None
                    else _PALE[verdict] if state == "not perturbed" else VERDICT_COLORS[verdict])
            ax.add_patch(Rectangle((j, i), 1, 1, facecolor=face, edgecolor="white", lw=0.5,
                                   hatch="///" if state == "not perturbed" else None))
            if state in ("breaks", "no evidence"):
                ax.add_patch(Rectangle((j + 0.04, i + 0.08), 0.92, 0.84, fill=False,
                                       edgecolor="black", lw=1.6))
            text = ("–" if state == "missing" else c["outcome"] or "" if verdict is None
                    else fmt_num(c["estimate"], 2))
            dark = verdict is not None and state != "not perturbed"
            ax.text(j + 0.5, i + 0.5, text, ha="center", va="center", fontsize=6.5,
                    color="white" if dark or verdict is None and state != "missing" else "black")
        ax.text(len(names) + 0.1, i + 0.5, holds_text(r["holds"], r["counted"]), va="center",
                fontsize=6.5)
    ax.set_xlim(0, len(names))
    ax.set_ylim(len(rows), 0)
    ax.set_xticks([j + 0.5 for j in range(len(names))], names, rotation=30, ha="left",
                  fontsize=7)
    ax.xaxis.tick_top()
    labels = [f"{r['claim'] or '–'}: {r['test'].split('::', 1)[-1]}" for r in rows]
    ax.set_yticks([i + 0.5 for i in range(len(rows))], [t[:70] for t in labels], fontsize=6.5)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    fig.text(0.01, 0.1 / height, textwrap.fill(
        "colour: the verdict (green SUPPORTED, red REFUTED, grey INCONCLUSIVE, black: no "
        "evidence); text: the estimate; framed: a flip against the own setting; hatched: not "
        "perturbed; right: holds in k of m neighbours", int(width * 15)), fontsize=6.5,
        va="bottom")
    png, svg = io.BytesIO(), io.StringIO()
    fig.savefig(png, format="png", dpi=110, metadata={"Software": None})
    fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
    return png.getvalue(), svg.getvalue()


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def render_html(rmap: RobustnessMap, png: bytes | None) -> str:
    """robustness.html: runs, claims (k of m), the heatmap, every row's cells."""
    names = [n["perturbation"] for n in rmap["neighbours"]]
    runs = "".join(
        f"<tr><td>{_e(r['perturbation'] or 'own setting')}</td><td>{_e(fmt_num(r['wall_time_s'], 4))}"
        f"</td><td>{_e(r['rows'])}</td><td>{_e('–' if r['perturbed_rows'] is None else r['perturbed_rows'])}"
        f"</td><td>{_e(r['exitstatus'])}</td><td>{_e(r['path'])}</td></tr>"
        for r in [rmap["own"], *rmap["neighbours"]])
    claims = "".join(
        f"<tr><td>{_e(c or '(no claim)')}</td><td>{m['rows']}</td><td>"
        f"{_e(holds_text(m['holds'], m['counted']))}</td><td>"
        f"{_e('; '.join(f'{n}: {len(t)}' for n, t in m['breaks'].items()) or '–')}</td></tr>"
        for c, m in rmap["claims"].items())
    cells = "".join(
        f"<tr><td>{_e(r['claim'] or '–')}</td><td>{_e(r['test'].split('::', 1)[-1])}</td>"
        f"<td>{_e(cell_text(r['own']))}</td>"
        + "".join(f'<td class="{_e(r["cells"][n]["state"].replace(" ", "-"))}">'
                  f"{_e(cell_text(r['cells'][n]))}</td>" for n in names)
        + f"<td>{_e(holds_text(r['holds'], r['counted']))}</td></tr>" for r in rmap["rows"])
    figure = (f'<img alt="robustness heatmap" src="data:image/png;base64,'
              f'{base64.b64encode(png).decode()}">' if png else
              "<p>(no figure: matplotlib is not installed, or there are no rows)</p>")
    head = "".join(f"<th>{_e(n)}</th>" for n in names)
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        "<title>lowdim robustness map</title><style>body{font-family:sans-serif;margin:2em}"
        "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #d0d7de;"
        "padding:2px 6px}td.breaks,td.no-evidence{font-weight:bold;background:#ffebe9}"
        "td.not-perturbed{color:#6e7781}img{max-width:100%}</style></head><body>",
        "<h1>lowdim robustness map</h1>", f"<p>{_e(HOLDS_RULE)}.</p>",
        "<h2>Runs</h2><table><tr><th>run</th><th>wall time (s)</th><th>rows</th>"
        f"<th>perturbed rows</th><th>exit</th><th>report</th></tr>{runs}</table>",
        "<h2>Claims</h2><table><tr><th>claim</th><th>rows</th><th>holds in</th>"
        f"<th>breaks under (rows)</th></tr>{claims}</table>",
        f"<h2>Heatmap</h2>{figure}",
        f"<h2>Rows</h2><table><tr><th>claim</th><th>test</th><th>own</th>{head}"
        f"<th>holds in</th></tr>{cells}</table>", "</body></html>", ""])


def write_map(rmap: RobustnessMap, outdir: str | Path, *, name: str = "robustness"
              ) -> dict[str, Path]:
    """outdir/<name>.json, .md, .html and the heatmap (outdir/robustness/heatmap.png, .svg).
    Returns {kind: path}."""
    outdir = Path(outdir)
    paths = {k: outdir / f"{name}.{k}" for k in ("json", "md", "html")}
    drawn = draw(rmap)
    if drawn is not None:
        paths["png"], paths["svg"] = (outdir / f"{FIGURE}.png", outdir / f"{FIGURE}.svg")
        atomic_write(paths["png"], drawn[0])
        atomic_write(paths["svg"], drawn[1])
    atomic_write(paths["json"], json.dumps(rmap, indent=1, sort_keys=True, allow_nan=False) + "\n")
    atomic_write(paths["md"], render_markdown(rmap, figure=f"{FIGURE}.png" if drawn else None))
    atomic_write(paths["html"], render_html(rmap, drawn[0] if drawn else None))
    return paths


__all__ = ["FIGURE", "draw", "render_html", "write_map"]
