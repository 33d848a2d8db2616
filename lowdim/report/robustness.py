"""The robustness map: each row's verdict at the claims' own setting and at each neighbour
(a run under --lowdim-perturb), and how many neighbours it holds in. No pytest, no torch.

    own        the run without a perturbation (the claims as their files state them)
    neighbour  a run with one (lr=x2, steps=x0.5, ...); its rows carry "perturbed", the knobs
               that reached their numbers
    holds      a row holds at a neighbour when its verdict there is its verdict at the own
               setting (its finding survived); it breaks when the verdict differs or the test
               left no evidence there (an error, a crash, a time limit); a row the
               perturbation did not reach ("not perturbed") or that is missing from the
               neighbour's run is left out of its count
    k of m     per row: neighbours held / neighbours counted; per claim: a claim holds at a
               neighbour when every counted row of it holds there

`build(own, neighbours)` makes the map (a `RobustnessMap`, robustness.json) from report dicts;
`render_markdown` its robustness.md; report.robustmap draws its heatmap and robustness.html.
Flips are reported, never fixed: the map reads verdicts and writes nothing back.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, TypedDict

from tabulate import tabulate

from .render import fmt_num, md_cell, one_line
from .schema import MAX_BYTES, Number, Report, Row, Verdict, parse_json

FORMAT = "lowdim-robustness-1"
MAP_NAME = "robustness.json"  # beside claims.json: claims.html gets a robustness column
State = Literal["own", "holds", "breaks", "no evidence", "not perturbed", "missing"]
HOLDS_RULE = ("a row holds at a neighbour when its verdict there equals its verdict at the "
              "claims' own setting; a different verdict, or no evidence (error, crash, time "
              "limit), breaks it; rows the perturbation did not reach ('not perturbed') and rows "
              "missing from a run are left out of k of m; a claim holds at a neighbour when every "
              "counted row of it does")
SHORT = {"SUPPORTED": "SUP", "REFUTED": "REF", "INCONCLUSIVE": "INC"}


class Run(TypedDict):
    """One run of the map: the own setting or a neighbour."""
    perturbation: str  # the neighbour's --lowdim-perturb ("" for the own setting)
    path: str  # its claims.json
    wall_time_s: Number | None  # the run's own wall time (meta.wall_time_s)
    command_s: Number | None  # the whole pytest command, start-up included (--lowdim-robustness)
    exitstatus: int | None  # pytest's exit status (1: some tests failed, as flips do)
    started: str | None  # when it started
    git_commit: str | None  # its commit
    rows: int  # its rows
    perturbed_rows: int | None  # rows the perturbation reached (null: the own setting)


class Cell(TypedDict):
    """One row at one run."""
    state: State  # what the cell says (see the module docstring)
    verdict: Verdict | None  # the row's verdict there (null: no evidence)
    estimate: Number | None  # its estimate
    outcome: str | None  # pytest's outcome (null: missing)
    perturbed: list[str] | None  # the knobs that reached it (null: own setting or unknown)


class MapRow(TypedDict):
    """A test: its own cell, one per neighbour, and k of m."""
    test: str  # the test id
    claim: str | None  # its claim id
    own: Cell  # at the claims' own setting
    cells: dict[str, Cell]  # by neighbour
    holds: int  # neighbours it holds in (k)
    counted: int  # neighbours counted (m)
    breaks: list[str]  # the neighbours it breaks under


class ClaimMap(TypedDict):
    """A claim id: k of m over its rows."""
    holds: int  # neighbours where every counted row holds
    counted: int  # neighbours where at least one row counts
    rows: int  # its rows
    breaks: dict[str, list[str]]  # neighbour -> the tests that break there


class RobustnessMap(TypedDict):
    """robustness.json."""
    format: str  # FORMAT
    rule: str  # HOLDS_RULE
    own: Run  # the own setting's run
    neighbours: list[Run]  # in the order given
    rows: list[MapRow]  # by test id
    claims: dict[str, ClaimMap]  # by claim id


def _perturb(report: Report) -> str:
    return str((report["meta"].get("options") or {}).get("perturb") or "")


def _run(report: Report, path: str, command_s: float | None) -> Run:
    meta = report["meta"]
    rows = report["rows"]
    perturbed = [r for r in rows if r.get("perturbed")]
    return {"perturbation": _perturb(report), "path": str(path),
            "wall_time_s": meta.get("wall_time_s"), "command_s": command_s,
            "exitstatus": meta.get("exitstatus"), "started": meta.get("started"),
            "git_commit": meta.get("git_commit"), "rows": len(rows),
            "perturbed_rows": len(perturbed) if _perturb(report) else None}


def _cell(row: Row | None, own: Row | None) -> Cell:
    if row is None:
        return {"state": "missing", "verdict": None, "estimate": None, "outcome": None,
                "perturbed": None}
    ev = row.get("evidence")
    cell: Cell = {"state": "own", "verdict": ev["verdict"] if ev else None,
                  "estimate": ev["estimate"] if ev else None, "outcome": row["outcome"],
                  "perturbed": row.get("perturbed")}
    if own is None:  # this is the own cell
        return cell
    own_ev = own.get("evidence")
    if cell["perturbed"] == []:
        cell["state"] = "not perturbed"
    elif ev is None:
        cell["state"] = "no evidence"
    else:
        cell["state"] = "holds" if own_ev and own_ev["verdict"] == ev["verdict"] else "breaks"
    return cell


def build(own: Report, neighbours: list[Report], *, paths: list[str] | None = None,
          command_s: list[float | None] | None = None) -> RobustnessMap:
    """The map of the own run and its neighbours (report dicts, as lowdim.report.load_report
    reads them). paths / command_s: per run, own first (for the runs table). ValueError where
    the own run is perturbed, a neighbour is not, or two neighbours share a perturbation."""
    paths = paths or ["own", *(_perturb(n) for n in neighbours)]
    command_s = command_s or [None] * (1 + len(neighbours))
    if _perturb(own):
        raise ValueError(f"{paths[0]}: ran at perturbation {_perturb(own)}; the first run must "
                         "be the claims' own setting (no --lowdim-perturb)")
    names = [_perturb(n) for n in neighbours]
    for name, path in zip(names, paths[1:]):
        if not name:
            raise ValueError(f"{path}: ran at the claims' own setting; a neighbour is a run "
                             "with --lowdim-perturb")
        if names.count(name) > 1:
            raise ValueError(f"{path}: two runs at perturbation {name}; give each neighbour once")
    by_test = [{r["test"]: r for r in n["rows"]} for n in neighbours]
    rows: list[MapRow] = []
    for row in sorted(own["rows"], key=lambda r: r["test"]):
        if not row.get("evidence"):
            continue  # nothing to hold: a row without evidence at its own setting
        cells = {name: _cell(found.get(row["test"]), row) for name, found in zip(names, by_test)}
        counted = [n for n, c in cells.items() if c["state"] in ("holds", "breaks", "no evidence")]
        breaks = [n for n in counted if cells[n]["state"] != "holds"]
        rows.append({"test": row["test"], "claim": row.get("claim"), "own": _cell(row, None),
                     "cells": cells, "holds": len(counted) - len(breaks),
                     "counted": len(counted), "breaks": breaks})
    claims: dict[str, ClaimMap] = {}
    for claim in sorted({r["claim"] or "" for r in rows}):
        mine = [r for r in rows if (r["claim"] or "") == claim]
        counted = [n for n in names if any(n in r["breaks"] or r["cells"][n]["state"] == "holds"
                                           for r in mine)]
        broken = {n: [r["test"] for r in mine if n in r["breaks"]] for n in counted}
        claims[claim] = {"holds": sum(not b for b in broken.values()), "counted": len(counted),
                         "rows": len(mine), "breaks": {n: b for n, b in broken.items() if b}}
    return {"format": FORMAT, "rule": HOLDS_RULE,
            "own": _run(own, paths[0], command_s[0]),
            "neighbours": [_run(n, p, c) for n, p, c in zip(neighbours, paths[1:], command_s[1:])],
            "rows": rows, "claims": claims}


def cell_text(cell: Cell) -> str:
    """'SUP 0.91', 'REF 0.12', 'not perturbed', 'error (no evidence)', 'missing'."""
    if cell["state"] == "missing":
        return "missing"
    if cell["verdict"] is None:
        return f"{cell['outcome']} (no evidence)"
    text = f"{SHORT[cell['verdict']]} {fmt_num(cell['estimate'])}"
    return f"{text} (not perturbed)" if cell["state"] == "not perturbed" else text


def holds_text(k: int, m: int) -> str:
    return f"{k} of {m}" if m else "–"


def _runs_table(rmap: RobustnessMap) -> str:
    rows = []
    for run in [rmap["own"], *rmap["neighbours"]]:
        rows.append({"run": run["perturbation"] or "own setting",
                     "wall time (s)": fmt_num(run["wall_time_s"], 4),
                     "command (s)": fmt_num(run["command_s"], 4),
                     "rows": run["rows"],
                     "perturbed rows": "–" if run["perturbed_rows"] is None
                     else run["perturbed_rows"],
                     "exit": run["exitstatus"], "report": md_cell(run["path"])})
    return tabulate(rows, headers="keys", tablefmt="github")


def render_markdown(rmap: RobustnessMap, *, figure: str | None = None) -> str:
    """robustness.md: the runs, the claims (k of m), then every row's cells; flips in bold."""
    names = [n["perturbation"] for n in rmap["neighbours"]]
    total = sum(r["wall_time_s"] or 0 for r in [rmap["own"], *rmap["neighbours"]])
    out = ["# lowdim robustness map", "",
           f"- own setting: `{rmap['own']['path']}` (commit "
           f"`{rmap['own']['git_commit'] or '?'}`, {rmap['own']['started'] or '?'})",
           f"- neighbours: {', '.join(f'`{n}`' for n in names)}; {len(rmap['rows'])} rows "
           f"with evidence; runs' wall time {fmt_num(total, 4)} s in all",
           f"- rule: {rmap['rule']}", ""]
    if figure:
        out += [f"![robustness heatmap]({figure})", ""]
    out += ["## Runs", "", _runs_table(rmap), "", "## Claims", ""]
    claims = [{"claim": md_cell(c or "(no claim)"), "rows": m["rows"],
               "holds in": holds_text(m["holds"], m["counted"]),
               "breaks under": md_cell("; ".join(
                   f"{n} ({len(t)} row{'s' * (len(t) > 1)})" for n, t in m["breaks"].items())
                   or "–")}
              for c, m in rmap["claims"].items()]
    out += [tabulate(claims, headers="keys", tablefmt="github") if claims else "_no claims_", ""]
    out += ["## Rows", "", "Cells: verdict (SUP, REF, INC) and estimate; **bold**: the verdict "
            "differs from the own setting's (a flip).", ""]
    table = []
    for r in rmap["rows"]:
        d = {"claim": md_cell(r["claim"] or "–"), "test": md_cell(r["test"].split("::", 1)[-1]),
             "own": cell_text(r["own"])}
        for n in names:
            text = cell_text(r["cells"][n])
            d[n] = f"**{text}**" if r["cells"][n]["state"] in ("breaks", "no evidence") else text
        d["holds in"] = holds_text(r["holds"], r["counted"])
        table.append(d)
    out.append(tabulate(table, headers="keys", tablefmt="github") if table else "_no rows_")
    return "\n".join(one_line(line) if not line.startswith("|") else line
                     for line in "\n".join(out).split("\n")) + "\n"


def render_summary(rmap: RobustnessMap) -> str:
    """The terminal's lines: per claim, holds in k of m and the neighbours that break it."""
    rows = [{"claim": c or "(no claim)", "rows": m["rows"],
             "holds in": holds_text(m["holds"], m["counted"]),
             "breaks under": ", ".join(m["breaks"]) or "–"} for c, m in rmap["claims"].items()]
    return tabulate(rows, headers="keys", tablefmt="simple") if rows else "(no rows)"


def parse_map(data: bytes, where: str) -> RobustnessMap:
    """A robustness.json's bytes (bounded JSON, schema.parse_json) -> the map; ValueError
    naming `where` for one that is not a map."""
    if len(data) > MAX_BYTES:
        raise ValueError(f"{where}: over {MAX_BYTES >> 20} MiB, larger than a robustness map")
    rmap = parse_json(data, where)
    if not isinstance(rmap, dict) or rmap.get("format") != FORMAT or not isinstance(
            rmap.get("rows"), list):
        raise ValueError(f"{where}: not a lowdim robustness map (format {FORMAT})")
    return rmap  # type: ignore[return-value]


def load_map(path: str | os.PathLike) -> RobustnessMap:
    with open(path, "rb") as f:
        return parse_map(f.read(MAX_BYTES + 1), str(path))


def column_for(outdir) -> dict[str, str] | None:
    """claims.html's robustness column: {test: 'holds in k of m (breaks: ...)'} from the
    robustness.json in the report folder (a Path, or a report.folder Transaction), or None
    where there is none or it cannot be read."""
    try:
        if hasattr(outdir, "read"):  # a Transaction: the folder as it will be
            data = outdir.read(MAP_NAME) if outdir.exists(MAP_NAME) else None
        else:
            path = Path(outdir) / MAP_NAME
            data = path.read_bytes() if path.is_file() else None
        return None if data is None else holds_by_test(parse_map(data, MAP_NAME))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def holds_by_test(rmap: RobustnessMap) -> dict[str, str]:
    """{test: 'holds in k of m (breaks: lr=x2)'}: the robustness column of claims.html."""
    out = {}
    for r in rmap["rows"]:
        text = f"holds in {holds_text(r['holds'], r['counted'])}"
        out[r["test"]] = text + (f" (breaks: {', '.join(r['breaks'])})" if r["breaks"] else "")
    return out


__all__ = ["FORMAT", "HOLDS_RULE", "MAP_NAME", "Cell", "ClaimMap", "MapRow", "RobustnessMap",
           "Run", "build", "cell_text", "column_for", "holds_by_test", "holds_text", "load_map",
           "parse_map", "render_markdown", "render_summary"]
