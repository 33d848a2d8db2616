"""What each claim costs: a per-claim table of seeds, tests and CPU-seconds from one report or
several side by side (a quick and a full run), as Markdown; `lowdim costs` prints it.

A claim's CPU-seconds are its rows' `duration_s` (setup, call and teardown of each test, in its
worker, one torch thread by default) plus their `cached_s` (training the run cache served
instead of computing): what a cold run spends, whether or not this run was cold. Its share is
of the report's total. No torch; tabulate for the table.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

from .fmt import fmt_num
from .schema import Report, Row

NO_CLAIM = "(no claim)"  # rows of tests without a claim id


def _seed_count(row: Row) -> int | None:
    """Seeds the row trained: its [first, last] seed range, else its evidence's n."""
    seeds = row.get("seeds")
    if seeds:
        return int(seeds[1]) - int(seeds[0]) + 1
    ev = row.get("evidence")
    return int(ev["n"]) if ev else None


def _span(counts: set[int]) -> str:
    if not counts:
        return "\u2013"
    lo, hi = min(counts), max(counts)
    return str(lo) if lo == hi else f"{lo}\u2013{hi}"


def claim_costs(report: Report) -> dict[str, dict]:
    """claim id -> {"seeds": "32" or "16–32", "tests", "run_s", "cached_s", "cpu_s"}, where
    run_s sums the rows' duration_s, cached_s their cached_s and cpu_s is both together."""
    out: dict[str, dict] = {}
    for row in report["rows"]:
        c = out.setdefault(row.get("claim") or NO_CLAIM,
                           {"counts": set(), "tests": 0, "run_s": 0.0, "cached_s": 0.0})
        c["tests"] += 1
        c["run_s"] += float(row.get("duration_s") or 0.0)
        c["cached_s"] += float(row.get("cached_s") or 0.0)
        if (k := _seed_count(row)) is not None:
            c["counts"].add(k)
    for c in out.values():
        c["seeds"] = _span(c.pop("counts"))
        c["cpu_s"] = c["run_s"] + c["cached_s"]
    return out


def label(report: Report) -> str:
    """The report's profile (meta.options.profile), with --lowdim-seeds / --lowdim-perturb."""
    opts = report["meta"].get("options") or {}
    parts = [str(opts.get("profile") or "?")]
    if opts.get("seeds") is not None:
        parts.append(f"seeds={opts['seeds']}")
    if opts.get("perturb"):
        parts.append(str(opts["perturb"]))
    return " ".join(parts)


def _labels(inputs: Sequence[tuple[str, Report]]) -> list[str]:
    labels = [label(rep) for _, rep in inputs]
    return [f"{lab} #{i + 1}" if labels.count(lab) > 1 else lab  # two runs of one profile
            for i, lab in enumerate(labels)]


def cost_rows(inputs: Sequence[tuple[str, Report]]) -> tuple[list[str], list[dict]]:
    """(labels, one record per claim) for (path, report) pairs: each record has "claim" and, per
    report label L, "L" -> that claim's claim_costs entry plus "share" (of the report's cpu_s),
    or None where the report lacks the claim. Sorted by CPU-seconds in the costliest report
    (largest total), most first, then by claim id."""
    if not inputs:
        raise ValueError("no reports given; pass one or more claims.json files")
    labels = _labels(inputs)
    costs = [claim_costs(rep) for _, rep in inputs]
    totals = [sum(c["cpu_s"] for c in cc.values()) for cc in costs]
    key = max(range(len(inputs)), key=lambda i: (totals[i], -i))
    records = []
    for claim in sorted(set().union(*costs)):
        rec: dict = {"claim": claim}
        for lab, cc, total in zip(labels, costs, totals):
            entry = cc.get(claim)
            rec[lab] = None if entry is None else {
                **entry, "share": entry["cpu_s"] / total if total > 0 else 0.0}
        records.append(rec)
    kl = labels[key]
    records.sort(key=lambda r: (-(r[kl]["cpu_s"] if r[kl] else -1.0), r["claim"]))
    return labels, records


def _s(x: float) -> str:
    return f"{x:,.1f}"


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _ratio(a: dict | None, b: dict | None) -> str:
    if not a or not b or a["cpu_s"] <= 0:
        return "\u2013"
    return f"{fmt_num(b['cpu_s'] / a['cpu_s'], 2)}\u00d7"


def render_costs(inputs: Sequence[tuple[str, Report]]) -> str:
    """The cost table as Markdown: one row per claim (seeds, tests, CPU-s, cached where the run
    cache served any, share; per report, side by side, and each later report's CPU-s over the
    first's), a total line, and below it one line per report (path, wall time, workers)."""
    from tabulate import tabulate

    labels, records = cost_rows(inputs)
    costs = [claim_costs(rep) for _, rep in inputs]
    cached = [any(c["cached_s"] > 0 for c in cc.values()) for cc in costs]
    one = len(inputs) == 1

    def cols(entry: dict | None, with_cached: bool, total: bool = False) -> list[str]:
        dash = "\u2013"
        if entry is None:
            return [dash] * (5 if with_cached else 4)
        out = ["" if total else entry["seeds"], str(entry["tests"]), _s(entry["cpu_s"])]
        if with_cached:
            out.append(_s(entry["cached_s"]))
        return out + [_pct(entry["share"])]

    head = ["claim"]
    for lab, wc in zip(labels, cached):
        sfx = "" if one else f" ({lab})"
        head += [f"seeds{sfx}", f"tests{sfx}", f"CPU-s{sfx}"]
        head += [f"cached s{sfx}"] if wc else []
        head += [f"share{sfx}"]
    head += [f"CPU-s {lab} / {labels[0]}" for lab in labels[1:]]
    body = []
    for rec in records:
        line = [rec["claim"]]
        for lab, wc in zip(labels, cached):
            line += cols(rec[lab], wc)
        line += [_ratio(rec[labels[0]], rec[lab]) for lab in labels[1:]]
        body.append(line)
    sums = []
    for cc in costs:
        t = {k: sum(c[k] for c in cc.values()) for k in ("tests", "cpu_s", "cached_s")}
        sums.append({**t, "seeds": "", "share": 1.0 if t["cpu_s"] > 0 else 0.0})
    line = ["**total**"]
    for wc, t in zip(cached, sums):
        line += cols(t, wc, total=True)
    line += [_ratio(sums[0], t) for t in sums[1:]]
    body.append(line)
    align = ["left"] + ["right"] * (len(head) - 1)
    table = tabulate(body, headers=head, tablefmt="github", colalign=align, disable_numparse=True)
    notes = [f"- {lab}: {describe(path, rep)}" for lab, (path, rep) in zip(labels, inputs)]
    return table + "\n\n" + "\n".join(notes) + "\n"


def describe(path: str | os.PathLike, report: Report) -> str:
    """One line on a report for under the table: its path, tests, CPU-s against wall time."""
    meta = report["meta"]
    cpu = sum(c["cpu_s"] for c in claim_costs(report).values())
    wall, workers = meta.get("wall_time_s"), meta.get("xdist_workers") or 0
    text = f"`{path}`, {len(report['rows'])} tests, {_s(cpu)} CPU-s"
    if isinstance(wall, (int, float)) and math.isfinite(wall) and wall > 0:
        text += (f" in {_s(wall)} s wall with {workers} xdist worker{'s' * (workers != 1)}"
                 if workers else f" in {_s(wall)} s wall in one process")
    if meta.get("device") not in (None, "cpu"):
        text += f" on {meta['device']}"
    if meta.get("git_commit"):
        text += f", commit {str(meta['git_commit'])[:10]}"
    if meta.get("incomplete"):
        text += f"; not a complete run: {meta['incomplete']}"
    return text


__all__ = ["NO_CLAIM", "claim_costs", "cost_rows", "describe", "label", "render_costs"]
