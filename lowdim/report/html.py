"""claims.html: a run's report as one self-contained page (no network: figures are embedded).

At the top the overview (one row per claim: the source's statement, how many of its tests held,
did not hold, stayed inconclusive or were not decided, one line of what the evidence says; the
rule is render.holds), each linked to the claim's first row of the per-test table (claim, the
source's statement, verdict badge, estimate [interval], seeds, time), then one section per
claim: the claim file's docstring (its method), and for each test its figure and evidence. Built from the report dict and the figures that
`figures.write_figures` drew, with the standard library's html escaping. A few lines of
inline script mark every figure as loaded (data-loaded="1") once the page has loaded, and write
its position (data-rect), so a browser test can check what a user sees.
"""

from __future__ import annotations

import base64
import html
import json
import struct
from pathlib import Path

import pandas as pd

from .draw import VERDICT_COLORS, XFAIL_NOTE
from .figures import FigureSet
from .fmt import fmt_interval, fmt_num
from .folder import Transaction
from .render import COUNTS, HOLDS_RULE, anchor, md_cell, one_line, overview, strip_controls
from .robustness import column_for  # robustness.json beside the report: a column
from .schema import ClaimInfo, Report, Row

_OUTCOME_COLORS = {"passed": "#1a7f37", "xfailed": "#6e7781", "failed": "#cf222e",
                   "error": "#bc4c00", "crashed": "#bc4c00", "xpassed": "#bc4c00",
                   "skipped": "#6e7781", "not run": "#6e7781"}
_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto;
       max-width: 1200px; padding: 0 16px 48px; color: #1f2328; background: #fff; }
h1 { margin: 20px 0 4px; } h2 { margin-top: 36px; border-bottom: 1px solid #d0d7de; }
h3 { margin: 22px 0 6px; font-size: 15px; word-break: break-word; }
.meta, .note { color: #57606a; margin: 2px 0; }
.note { background: #fff8c5; padding: 6px 10px; border-radius: 4px; }
table.summary { border-collapse: collapse; width: 100%; font-size: 13px; }
table.summary th, table.summary td { border: 1px solid #d0d7de; padding: 3px 6px;
       vertical-align: top; text-align: left; }
table.summary th { background: #f6f8fa; position: sticky; top: 0; }
td.num { text-align: right; white-space: nowrap; } td.test { word-break: break-word; }
.badge { display: inline-block; padding: 0 7px; border-radius: 10px; color: #fff;
         font-size: 12px; font-weight: 600; white-space: nowrap; }
.xfail { display: block; color: #57606a; font-size: 11px; }
.statement { font-style: italic; } .source { color: #57606a; }
pre { background: #f6f8fa; padding: 8px 10px; overflow-x: auto; font-size: 12px;
      white-space: pre-wrap; border-radius: 4px; }
.rowbody { display: flex; flex-wrap: wrap; gap: 0 24px; align-items: flex-start; }
.rowbody dl { flex: 1 1 320px; }
figure { margin: 8px 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eaeef2; }
.placeholder { display: inline-block; padding: 18px 24px; background: #f6f8fa; color: #57606a;
               border: 1px dashed #d0d7de; border-radius: 4px; margin: 8px 0; }
dl { display: grid; grid-template-columns: max-content auto; gap: 2px 12px; font-size: 13px; }
dt { color: #57606a; } dd { margin: 0; word-break: break-word; }
"""
# Marks each figure as loaded (complete, with a width) and records its place on the page.
_SCRIPT = """
window.addEventListener("load", function () {
  var figs = document.querySelectorAll("img.figure"), ok = 0;
  figs.forEach(function (im) {
    var good = im.complete && im.naturalWidth > 0, r = im.getBoundingClientRect();
    im.dataset.loaded = good ? "1" : "0"; if (good) { ok += 1; }
    im.dataset.rect = [r.left + window.scrollX, r.top + window.scrollY, r.width, r.height]
      .map(Math.round).join(",");
  });
  document.body.dataset.figuresLoaded = ok + "/" + figs.length;
});
"""


def _e(text) -> str:
    """text for HTML: escaped (quotes too), without ANSI escapes and control characters."""
    return html.escape(strip_controls(text), quote=True)


def badge(row: Row) -> str:
    """The verdict badge of a row (its outcome where it holds no evidence); an xfailed row says
    that the source's statement does not hold."""
    ev = row.get("evidence")
    label = ev["verdict"] if ev else row.get("outcome", "")
    color = (VERDICT_COLORS.get(label) if ev else _OUTCOME_COLORS.get(label)) or "#6e7781"
    out = f'<span class="badge" style="background:{color}">{_e(label)}</span>'
    if row.get("outcome") == "xfailed":
        out += f'<span class="xfail">{_e(XFAIL_NOTE)}</span>'
    elif ev and row.get("outcome") not in ("passed", "xfailed"):
        out += f'<span class="xfail">outcome: {_e(row.get("outcome"))}</span>'
    return out


def _groups(report: Report) -> list[tuple[str, list[Row]]]:
    """Rows grouped by claim id, claims in the order of their first row (rows are sorted)."""
    groups: dict[str, list[Row]] = {}
    for row in report["rows"]:
        groups.setdefault(row.get("claim") or "", []).append(row)
    return list(groups.items())


def _claim_info(report: Report, claim: str, rows: list[Row]) -> ClaimInfo:
    info = dict((report.get("claims") or {}).get(claim) or {})
    info.setdefault("statement", rows[0].get("statement") or "")
    info.setdefault("source", rows[0].get("source") or "")
    info.setdefault("doc", "")
    return info


def _overview(report: Report) -> str:
    """One row per claim, its link to the claim's first row in the per-test table below."""
    head = ("claim", "source's statement", *COUNTS, "what the evidence says")
    out = ['<table class="summary" id="overview"><thead><tr>',
           "".join(f"<th>{_e(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for o in overview(report):
        out.append('<tr class="claim">'
                   f'<td><a href="#{o["anchor"]}">{_e(o["claim"] or "(no claim)")}</a></td>'
                   f'<td class="statement">{_e(o["statement"])}</td>'
                   + "".join(f'<td class="num">{o[c]}</td>' for c in COUNTS)
                   + f"<td>{_e(o['evidence'])}</td></tr>")
    out.append(f'</tbody></table><p class="meta">{_e(HOLDS_RULE)}.</p>')
    return "\n".join(out)


def _summary(report: Report, robust: dict[str, str] | None = None) -> str:
    head = ("claim", "source's statement", "test", "verdict", "estimate [interval]", "seeds",
            "time (s)", *(("robustness",) if robust is not None else ()))
    out = ['<table class="summary" id="summary"><thead><tr>',
           "".join(f"<th>{_e(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for claim, rows in _groups(report):
        info = _claim_info(report, claim, rows)
        for i, row in enumerate(rows):
            ev = row.get("evidence")
            cells = []
            if i == 0:
                span = f' rowspan="{len(rows)}"' if len(rows) > 1 else ""
                link = (f'<a href="#{anchor("claim", claim)}">{_e(claim)}</a>' if claim
                        else "(no claim)")
                cells += [f'<td{span} id="{anchor("tests", claim or "none")}">{link}</td>',
                          f'<td{span} class="statement">{_e(info["statement"])}</td>']
            name = row["test"].split("::", 1)[-1]
            estimate = f"{fmt_num(ev['estimate'])} {fmt_interval(ev)}" if ev else "–"
            seeds = ev["n"] if ev else "–"
            cells += [
                f'<td class="test"><a href="#{anchor("row", row["test"])}">{_e(name)}</a></td>',
                f"<td>{badge(row)}</td>",
                f'<td class="num">{_e(estimate)}</td>',
                f'<td class="num">{_e(seeds)}</td>',
                f'<td class="num">{_e(fmt_num(row.get("duration_s")))}</td>',
                *([f"<td>{_e(robust.get(row['test'], '–'))}</td>"] if robust is not None else []),
            ]
            out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _png_size(data: bytes) -> tuple[int, int] | None:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or len(data) < 24:
        return None
    return struct.unpack(">II", data[16:24])


def _figure(row: Row, figures: FigureSet, outdir: Path | Transaction) -> str:
    rel = figures.paths.get(row["test"])
    why = None
    if not row.get("evidence"):
        why = f"no evidence recorded (outcome: {row.get('outcome')})"
    elif row["test"] in figures.errors:
        why = f"the figure could not be drawn: {figures.errors[row['test']]}"
    elif rel is None:
        why = figures.note or "no figure"
    else:
        try:
            data = outdir.read(rel) if hasattr(outdir, "read") else (outdir / rel).read_bytes()
        except OSError as e:
            data, why = b"", f"the figure could not be read: {e}"
    if why is not None:
        return f'<div class="placeholder">{_e(why)}</div>'
    size = _png_size(data)
    wh = f' width="{size[0]}" height="{size[1]}"' if size else ""
    src = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return (f'<figure><img class="figure" src="{src}"{wh} '
            f'alt="{_e("figure of " + row["test"])}" data-test="{_e(row["test"])}"></figure>')


def _row_section(row: Row, figures: FigureSet, outdir: Path | Transaction) -> str:
    ev = row.get("evidence")
    facts = {"outcome": row.get("outcome"), "time": f"{fmt_num(row.get('duration_s'))} s"}
    if row.get("cached_s"):
        facts["time"] += f" (+ {fmt_num(row['cached_s'])} s of training read from the run cache)"
    if ev:
        facts.update({"statistic": ev["statistic"], "test": f"{ev['test']} ({ev['alternative']})",
                      "estimate [interval]": f"{fmt_num(ev['estimate'])} {fmt_interval(ev)}",
                      "threshold": fmt_num(ev["threshold"]), "seeds": ev["n"],
                      "p": f"{fmt_num(ev['p'], 3)} (alpha {ev['alpha']:g})"})
        if row.get("p_holm") is not None:
            facts["p, Holm-adjusted over the run"] = fmt_num(row["p_holm"], 3)
        scalars = {k: v for k, v in (ev.get("details") or {}).items()
                   if isinstance(v, (int, float, str)) or v is None}
        if scalars:
            facts["details"] = ", ".join(f"{k} = {fmt_num(v) if isinstance(v, float) else v}"
                                         for k, v in scalars.items())
    if row.get("conditions"):
        facts["conditions"] = json.dumps(row["conditions"], sort_keys=True)
    facts["reproduce"] = row.get("reproduce") or ""
    dl = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts.items())
    return "\n".join([
        f'<article id="{anchor("row", row["test"])}">',
        f"<h3>{_e(row['test'].split('::', 1)[-1])} {badge(row)}</h3>",
        f'<pre class="evidence">{_e(ev["repr"])}</pre>' if ev and ev.get("repr") else "",
        f'<div class="rowbody">{_figure(row, figures, outdir)}<dl>{dl}</dl></div>',
        "</article>",
    ])


def render_html(report: Report, figures: FigureSet, outdir: str | Path | Transaction) -> str:
    """The whole page; figures are read from outdir (the report folder, or a report.folder
    Transaction on it: the files as they will be) and embedded."""
    outdir = outdir if hasattr(outdir, "read") else Path(outdir)
    meta = report.get("meta", {})
    opts = meta.get("options", {})
    counts = pd.Series([r["outcome"] for r in report["rows"]], dtype=object).value_counts()
    notes = [figures.note] if figures.note else []
    if figures.errors:
        notes.append(f"{len(figures.errors)} figure(s) could not be drawn; see their sections.")
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>lowdim claims report</title>", f"<style>{_CSS}</style></head><body>",
        "<h1>lowdim claims report</h1>",
        f'<p class="meta">run {_e(meta.get("started", "?"))}, {_e(fmt_num(meta.get("wall_time_s")))}'
        f" s wall, profile {_e(opts.get('profile', '?'))}, seed offset "
        f"{_e(opts.get('seed_offset', 0))}, device {_e(meta.get('device', '?'))}, commit "
        f"{_e(meta.get('git_commit') or '?')}</p>",
        '<p class="meta">versions: ' + _e(", ".join(
            f"{k} {v}" for k, v in sorted(meta.get("versions", {}).items()))) + "</p>",
        *([f'<p class="meta">CPU kernels: {_e(meta["cpu_kernels"])} (numerics fingerprint '
           f'{_e(meta.get("numerics", "?"))})</p>'] if meta.get("cpu_kernels") else []),
        '<p class="meta">outcomes: ' + _e(", ".join(
            f"{k} {int(v)}" for k, v in counts.items())) + "</p>",
        *(f'<p class="note">{_e(n)}</p>' for n in notes),
        "<h2>Overview</h2>", _overview(report),
        "<h2>Tests</h2>", _summary(report, column_for(outdir)), "<h2>Claims</h2>",
    ]
    for claim, rows in _groups(report):
        info = _claim_info(report, claim, rows)
        parts += [
            f'<section class="claim" id="{anchor("claim", claim or "none")}">',
            f"<h2>{_e(claim or '(no claim)')}</h2>",
            f'<p class="statement">{_e(info["statement"])}</p>' if info["statement"] else "",
            f'<p class="source">source: {_e(info["source"])}</p>' if info["source"] else "",
            (f"<details open><summary>method (the claim file's docstring)</summary>"
             f"<pre>{_e(info['doc'])}</pre></details>") if info["doc"] else "",
            *(_row_section(row, figures, outdir) for row in rows),
            "</section>",
        ]
    parts += [f"<script>{_SCRIPT}</script>", "</body></html>", ""]
    return "\n".join(p for p in parts if p is not None)


def render_figure_links(report: Report, figures: FigureSet) -> str:
    """A markdown section linking each row's figure (paths relative to the report folder)."""
    lines = ["", "## Figures", ""]
    if figures.note:
        lines += [f"_{figures.note}_", ""]
    if not figures.paths:
        return "\n".join(lines + ["_no figures_", ""]) if figures.note else ""
    lines += ["Per-seed values, threshold, estimate and interval of each row (SVG beside each "
              "PNG); `claims.html` shows them with each claim's method.", ""]
    for row in report["rows"]:
        rel = figures.paths.get(row["test"])
        if rel:
            label = one_line(row["test"].split("::", 1)[-1]).replace("`", "'")
            lines.append(f"- {md_cell(row.get('claim') or '–')}: [`{label}`]({rel})")
    return "\n".join(lines) + "\n"
