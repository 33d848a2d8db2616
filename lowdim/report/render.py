"""A report (the content of claims.json) as text for people: the Markdown page, the terminal
table, the CSV frame, and the parts they share (table rows, header lines, the baseline section).

No pytest and no files here: write.py writes what these return, so `python -m lowdim report
claims.json` can re-render without running anything.
"""

from __future__ import annotations

import json

import pandas as pd
from tabulate import tabulate

from ..stats.power import report_cells
from .schema import Change, EvidenceDict, Meta, Report, fmt_interval, fmt_num


def _n(ev: EvidenceDict):
    """Seeds in the test, and how many diverged and how they counted (stats `nonfinite`);
    under --lowdim-adaptive also the seed budget (lowdim.adaptive)."""
    k = (ev.get("details") or {}).get("n_nonfinite") or 0
    a = (ev.get("details") or {}).get("adaptive")
    n = ev["n"] if not a else f"{ev['n']} of {a['budget']} " + (
        "(fixed)" if a["mode"] != "sequential" else "(adaptive)" if a["seeds_trained"] == ev["n"]
        else f"(adaptive, {a['seeds_trained']} trained)")
    if not k:
        return n
    how = {"fail": "counted against", "exclude": "excluded"}.get(ev["details"].get("nonfinite"),
                                                                  "")
    return f"{n} ({k} diverged{', ' + how if how else ''})"


def table_rows(report: Report, *, wide: bool = True) -> list[dict]:
    """One display dict per row of the report, in the report's (test id) order."""
    out = []
    firmness = wide and any("fragility" in row for row in report["rows"])
    for row in report["rows"]:
        ev = row.get("evidence")
        d = {
            "claim": row.get("claim") or "–",
            "test": row["test"].split("::", 1)[-1],
        }
        if wide:
            d["statement"] = row.get("statement") or ""
        d.update(
            {
                "statistic": ev["statistic"] if ev else "–",
                "estimate [interval]": f"{fmt_num(ev['estimate'])} {fmt_interval(ev)}" if ev else "–",
                "vs": fmt_num(ev["threshold"]) if ev else "–",
                "n": _n(ev) if ev else "–",
                "p": fmt_num(ev["p"], 2) if ev else "–",
                "verdict": ev["verdict"] if ev else "–",
                "outcome": row["outcome"],
            }
        )
        if "vs_baseline" in row:  # compared with --lowdim-baseline (lowdim.regress)
            vb = row["vs_baseline"]
            d["vs baseline"] = vb["text"] if wide else vb.get("short", vb["text"])
        if firmness:  # flips to change the verdict, seeds to decide (stats.power)
            d.update(report_cells(row))
        out.append(d)
    return out


def render_markdown(report: Report) -> str:
    meta = report["meta"]
    counts = pd.Series([r["outcome"] for r in report["rows"]]).value_counts()
    head = [
        "# lowdim claims report",
        "",
        f"- run: {meta.get('started', '?')}, {fmt_num(meta.get('wall_time_s'))} s wall, "
        f"profile `{meta.get('options', {}).get('profile', '?')}`, "
        f"seed offset {meta.get('options', {}).get('seed_offset', 0)}, "
        f"device `{meta.get('device', '?')}`, commit `{meta.get('git_commit') or '?'}`",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items()),
        *([f"- CPU kernels: `{meta['cpu_kernels']}` (numerics fingerprint "
           f"`{meta.get('numerics', '?')}`; see lowdim.kernels)"] if meta.get("cpu_kernels") else []),
        "- outcomes: " + ", ".join(f"{k} {int(v)}" for k, v in counts.items()),
        "",
    ]
    head[-1:-1] = header_lines(meta)
    rows = table_rows(report, wide=True)
    body = tabulate(rows, headers="keys", tablefmt="github") if rows else "_no tests_"
    return "\n".join(head) + "\n" + body + "\n" + render_section(meta)


def render_terminal(report: Report) -> str:
    rows = table_rows(report, wide=False)
    return tabulate(rows, headers="keys", tablefmt="simple") if rows else "(no lowdim rows)"


def to_frame(report: Report) -> pd.DataFrame:
    """One flat row per test: ids, outcome, conditions (JSON), and the evidence's scalars."""
    recs = []
    for row in report["rows"]:
        ev = row.get("evidence") or {}
        recs.append(
            {
                "test": row["test"],
                "claim": row.get("claim"),
                "outcome": row["outcome"],
                "conditions": json.dumps(row.get("conditions") or {}, sort_keys=True),
                "statistic": ev.get("statistic"),
                "n": ev.get("n"),
                "n_diverged": (ev.get("details") or {}).get("n_nonfinite"),
                "estimate": ev.get("estimate"),
                "low": (ev.get("interval") or [None, None])[0],
                "high": (ev.get("interval") or [None, None])[1],
                "test_name": ev.get("test"),
                "alternative": ev.get("alternative"),
                "threshold": ev.get("threshold"),
                "p": ev.get("p"),
                "alpha": ev.get("alpha"),
                "verdict": ev.get("verdict"),
                "duration_s": row.get("duration_s"),
                "flips": (row.get("fragility") or {}).get("flips"),
                "log10_p_alpha": (row.get("fragility") or {}).get("log10_p_alpha"),
                "seeds_to_decide": (row.get("seeds_to_decide") or {}).get("seeds"),
                "seeds": "{}-{}".format(*row["seeds"]) if row.get("seeds") else None,
                "vs_baseline": (row.get("vs_baseline") or {}).get("text"),
                "statement": row.get("statement"),
                "source": row.get("source"),
            }
        )
    return pd.DataFrame.from_records(recs)


def header_lines(meta: Meta) -> list[str]:
    """Markdown bullet lines for the report's head: seed block, shard, merge."""
    lines = []
    sb = meta.get("seed_block")
    if sb:
        lines.append(f"- seeds: {sb['text']}")
    sh = meta.get("shard")
    if sh:
        lines.append(f"- shard {sh['index']} of {sh['count']} (whole files, sorted by path, dealt "
                     "round-robin); merge the shards with `lowdim merge`")
    mf = meta.get("merged_from")
    if mf:
        parts = [f"{m.get('shard') or 'full'} ({m['n_rows']} rows)" for m in mf]
        lines.append(f"- merged from {len(mf)} reports: " + ", ".join(parts))
    return lines


def render_section(meta: Meta) -> str:
    """The Markdown 'vs baseline' section of a report (empty when no baseline was compared)."""
    b = meta.get("baseline")
    if not b:
        return ""
    out = ["", f"## vs baseline `{b['label']}`", "",
           f"- {b['mode']}: baseline run {b['baseline_run'].get('started') or '?'}, commit "
           f"`{b['baseline_run'].get('git_commit') or '?'}`, seeds {b['baseline_run']['seed_block']}",
           "- " + ", ".join(f"{k} {v}" for k, v in b["counts"].items()),
           f"- {b['margin_rule']}"]
    out += [f"- {n}" for n in b.get("notes", [])]
    if b.get("failed"):
        out.append("- **a verdict changed for an unchanged method: the run fails**")
    if b["changes"]:
        table = [{"claim": c.get("claim") or "–", "test": c["test"], "vs baseline": c["text"]}
                 for c in sorted(b["changes"], key=change_order)]
        out += ["", tabulate(table, headers="keys", tablefmt="github")]
    return "\n".join(out) + "\n"


def change_order(c: Change) -> tuple[int, str]:
    rank = {"verdict changed": 0, "not replicated": 0, "verdict changed on another CPU": 0,
            "evidence lost": 1, "claim changed": 2,
            "drift": 3, "new": 4, "vanished": 5}
    return rank.get(c["status"], 6), c["test"]


__all__ = ["change_order", "header_lines", "render_markdown", "render_section", "render_terminal",
           "table_rows", "to_frame"]
