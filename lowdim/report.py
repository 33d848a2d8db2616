"""Render a run's report (a plain dict, the content of claims.json) as JSON, Markdown and CSV.

No pytest import here: the plugin builds the dict, this module only formats and writes it, so
`python -m lowdim report claims.json` can re-render without running anything.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import pandas as pd
from tabulate import tabulate

SCHEMA_VERSION = 1
OUTCOMES = ("passed", "failed", "xfailed", "xpassed", "skipped", "error", "crashed", "timeout",
            "not run")


def atomic_write(path: str | os.PathLike, text: str | bytes) -> None:
    """Write text (UTF-8) or bytes to path via a temporary file in the same folder and an atomic
    rename, so a reader (or an interrupted run) sees either the old file or the complete new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a report is an ordinary file
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode("utf-8") if isinstance(text, str) else text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _num(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–" if x is None else str(x)
    if isinstance(x, int):
        return str(x)
    return f"{x:.{digits}g}"


def _interval(ev: dict) -> str:
    lo, hi = ev["interval"]
    # to_dict writes an infinite side as None (JSON has no inf): lower -inf, upper +inf
    lo = "-inf" if lo is None else _num(lo)
    hi = "inf" if hi is None else _num(hi)
    return f"[{lo}, {hi}]"


def _n(ev: dict):
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


def _conditions(row: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted((row.get("conditions") or {}).items()))


def table_rows(report: dict, *, wide: bool = True) -> list[dict]:
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
                "estimate [interval]": f"{_num(ev['estimate'])} {_interval(ev)}" if ev else "–",
                "vs": _num(ev["threshold"]) if ev else "–",
                "n": _n(ev) if ev else "–",
                "p": _num(ev["p"], 2) if ev else "–",
                "verdict": ev["verdict"] if ev else "–",
                "outcome": row["outcome"],
            }
        )
        if "vs_baseline" in row:  # compared with --lowdim-baseline (lowdim.baseline)
            vb = row["vs_baseline"]
            d["vs baseline"] = vb["text"] if wide else vb.get("short", vb["text"])
        if firmness:  # flips to change the verdict, seeds to decide (lowdim.power)
            from .power import report_cells

            d.update(report_cells(row))
        out.append(d)
    return out


def render_markdown(report: dict) -> str:
    meta = report["meta"]
    counts = pd.Series([r["outcome"] for r in report["rows"]]).value_counts()
    head = [
        "# lowdim claims report",
        "",
        f"- run: {meta.get('started', '?')}, {_num(meta.get('wall_time_s'))} s wall, "
        f"profile `{meta.get('options', {}).get('profile', '?')}`, "
        f"seed offset {meta.get('options', {}).get('seed_offset', 0)}, "
        f"device `{meta.get('device', '?')}`, commit `{meta.get('git_commit') or '?'}`",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items()),
        *([f"- CPU kernels: `{meta['cpu_kernels']}` (numerics fingerprint "
           f"`{meta.get('numerics', '?')}`; see lowdim.kernels)"] if meta.get("cpu_kernels") else []),
        "- outcomes: " + ", ".join(f"{k} {int(v)}" for k, v in counts.items()),
        "",
    ]
    from .baseline import header_lines, render_section  # seed block, shard, vs baseline

    head[-1:-1] = header_lines(meta)
    rows = table_rows(report, wide=True)
    body = tabulate(rows, headers="keys", tablefmt="github") if rows else "_no tests_"
    return "\n".join(head) + "\n" + body + "\n" + render_section(meta)


def render_terminal(report: dict) -> str:
    rows = table_rows(report, wide=False)
    return tabulate(rows, headers="keys", tablefmt="simple") if rows else "(no lowdim rows)"


def to_frame(report: dict) -> pd.DataFrame:
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


def write_reports(report: dict, outdir: str | os.PathLike) -> dict[str, Path]:
    """Write claims.json (the source of truth), claims.md and claims.csv atomically, and the
    figures (figures/, needs matplotlib) and claims.html (lowdim.figures, lowdim.html)."""
    from . import figures as _figures
    from . import html as _html

    outdir = Path(outdir)
    paths = {
        "json": outdir / "claims.json",
        "md": outdir / "claims.md",
        "csv": outdir / "claims.csv",
        "html": outdir / "claims.html",
    }
    atomic_write(paths["json"], json.dumps(report, indent=1, sort_keys=True, allow_nan=False) + "\n")
    figs = _figures.write_figures(report, outdir)
    atomic_write(paths["md"], render_markdown(report) + _html.render_figure_links(report, figs))
    atomic_write(paths["csv"], to_frame(report).to_csv(index=False))
    atomic_write(paths["html"], _html.render_html(report, figs, outdir))
    if figs.paths:
        paths["figures"] = outdir / _figures.FIGURES_DIR
    return paths


def load_report(path: str | os.PathLike) -> dict:
    """Read a claims.json (plain JSON: nothing is unpickled or executed) and check its schema."""
    try:
        with open(path, encoding="utf-8") as f:
            report = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e}); regenerate it with pytest claims") from None
    if not isinstance(report, dict) or "rows" not in report or "meta" not in report:
        raise ValueError(f"{path}: not a lowdim report (needs 'meta' and 'rows')")
    if report.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(
            f"{path}: schema_version {report.get('schema_version')!r}, this lowdim reads "
            f"{SCHEMA_VERSION}; regenerate the report"
        )
    return report
