"""A report (the content of claims.json) as text for people: the Markdown page, the terminal
table, the CSV frame, the per-seed frame (read_report), and the parts they share (the claims
overview, table rows, header lines, the baseline section).

Every page opens with the overview: one row per claim id with how many of its tests held, did
not hold, stayed inconclusive or were not decided, and one line of what the evidence says,
linked to the claim's first per-test row below. Whether a test held is read from its row's
outcome and verdict only (`holds`): held = passed with SUPPORTED, or xfailed (a strict xfail)
with REFUTED, i.e. the source's statement fails as the claim file says; inconclusive = verdict
INCONCLUSIVE; not decided = no evidence or an outcome other than passed/failed/x(fail|pass)ed;
did not hold = every other row (failed, xpassed, xfailed with SUPPORTED).

Text from a report (ids, statements, conditions) is untrusted: Markdown cells escape `|` and
`<>&` and fold line breaks (`md_cell`), terminal cells drop control characters and ANSI escapes
(`one_line`), CSV text cells that start with = + - @ get a leading quote (`csv_text`).
No pytest and no files here: write.py writes what these return.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
from collections.abc import Mapping
from typing import Literal, get_args

import pandas as pd
from tabulate import tabulate

from ..stats.power import report_cells
from .fmt import fmt_interval, fmt_num
from .schema import Change, EvidenceDict, Meta, Report, Row, load_report

# Line breaks as str.splitlines sees them (folded to a space), then ANSI escape sequences, C0/C1
# controls and bidirectional overrides (dropped).
_BREAKS = re.compile(r"[\t\n\v\f\r\x1c-\x1e\x85\u2028\u2029]+")
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet may run as a formula


def strip_controls(text) -> str:
    """str(text) without ANSI escapes and control characters; newlines and tabs kept."""
    return _CONTROL.sub("", _ANSI.sub("", "" if text is None else str(text)))


def one_line(text) -> str:
    """str(text) as one line of plain text: line breaks folded to a space, controls dropped."""
    return strip_controls(_BREAKS.sub(" ", _ANSI.sub("", "" if text is None else str(text))))


def md_cell(text) -> str:
    """text as one GitHub Markdown table cell: one line, <>& as entities, \\ and | escaped."""
    return html.escape(one_line(text), quote=False).replace("\\", "\\\\").replace("|", "\\|")


def anchor(prefix: str, name: str) -> str:
    """An id attribute value for a claim or a test: prefix-<name with only [A-Za-z0-9_.-]>."""
    return f"{prefix}-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")


def csv_text(frame: pd.DataFrame) -> str:
    """frame as CSV, each text cell that starts with = + - @ (or a tab, a CR) prefixed with ',
    so a spreadsheet shows it instead of running it; numbers are left as numbers."""
    def safe(v):
        return "'" + v if isinstance(v, str) and v.startswith(_FORMULA) else v

    out = frame.copy()
    for col in out.columns:
        if not pd.api.types.is_numeric_dtype(out[col]):  # text (object or str dtype)
            out[col] = out[col].map(safe)
    return out.to_csv(index=False)


Holds = Literal["supported", "refuted as claimed", "not held", "inconclusive", "undecided"]
HOLDS: tuple[str, ...] = get_args(Holds)
HELD = ("supported", "refuted as claimed")  # the two kinds the overview counts as held
_DECIDED = ("passed", "failed", "xfailed", "xpassed")


def holds(row: Row) -> Holds:
    """Whether a row's test held, from its outcome and its evidence's verdict (no text):

    - undecided: no evidence, or an outcome other than passed/failed/xfailed/xpassed (skipped,
      not run, error, crashed, timeout): nothing was decided.
    - inconclusive: the verdict is INCONCLUSIVE, whatever the outcome (a strict xfail too: its
      source statement was not shown false, only not shown).
    - supported (held): passed with SUPPORTED.
    - refuted as claimed (held): xfailed with REFUTED, i.e. a strict xfail whose source statement
      failed as the claim file says; also passed with REFUTED (a test that asserts refutation).
    - not held: every other decided row: failed or xpassed, or xfailed with SUPPORTED.
    """
    ev, outcome = row.get("evidence"), row.get("outcome")
    if not ev or outcome not in _DECIDED:
        return "undecided"
    if ev.get("verdict") == "INCONCLUSIVE":
        return "inconclusive"
    if outcome == "passed":
        return "supported" if ev.get("verdict") == "SUPPORTED" else "refuted as claimed"
    if outcome == "xfailed" and ev.get("verdict") == "REFUTED":
        return "refuted as claimed"
    return "not held"


HOLDS_RULE = ("held: passed, or a strict xfail whose evidence refutes the source's statement as "
              "the claim file says; did not hold: failed, or an xfail whose evidence supports it; "
              "inconclusive: verdict INCONCLUSIVE; not decided: no evidence (skipped, error, not "
              "run)")
COUNTS = {"held": HELD, "did not hold": ("not held",), "inconclusive": ("inconclusive",),
          "not decided": ("undecided",)}  # overview column -> the holds() kinds it counts


def _compact(ev: EvidenceDict) -> str:
    return (f"{ev['statistic']} = {fmt_num(ev['estimate'])} {fmt_interval(ev)} vs "
            f"{fmt_num(ev['threshold'])}, p {fmt_num(ev['p'], 2)}")


def evidence_line(rows: list[Row]) -> str:
    """One line of what a claim's rows found: how many did not hold, refuted the source's
    statement as the claim file says, stayed inconclusive, and the first such row's evidence;
    when every decided row is supported, the evidence of the weakest (largest p) of them."""
    kinds = [holds(r) for r in rows]
    parts, lead = [], None
    for kind, label in (("not held", "did not hold"),
                        ("refuted as claimed",
                         "refuted the source's statement as the claim file says"),
                        ("inconclusive", "inconclusive")):
        these = [r for r, k in zip(rows, kinds) if k == kind]
        if these:
            parts.append(f"{len(these)} {label}")
            lead = lead or these[0]
    if lead is None:
        held = [r for r, k in zip(rows, kinds) if k == "supported"]
        if not held:
            return "no evidence recorded"
        lead = max(held, key=lambda r: -1.0 if r["evidence"]["p"] is None else r["evidence"]["p"])
        parts = [f"all {len(held)} supported", "weakest"]
    return "; ".join(parts) + f": {_compact(lead['evidence'])}"


def overview(report: Report) -> list[dict]:
    """One dict per claim id (rows without a claim under None), in the order of each claim's
    first row: claim, statement, anchor (of its first per-test row), one count per COUNTS column
    and 'evidence' (evidence_line)."""
    groups: dict[str | None, list[Row]] = {}
    for row in report["rows"]:
        groups.setdefault(row.get("claim") or None, []).append(row)
    infos = report.get("claims") or {}
    out = []
    for claim, rows in groups.items():
        kinds = [holds(r) for r in rows]
        statement = (infos.get(claim) or {}).get("statement") if claim else None
        out.append({"claim": claim, "anchor": anchor("tests", claim or "none"),
                    "statement": statement or rows[0].get("statement") or "",
                    **{col: sum(k in ks for k in kinds) for col, ks in COUNTS.items()},
                    "evidence": evidence_line(rows)})
    return out


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
    """One display dict per row of the report, in the report's (test id) order (raw text: the
    renderers make it safe for their medium)."""
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
        if "perturbed" in row:  # a neighbour run (--lowdim-perturb): the knobs that reached it
            d["perturbed"] = ", ".join(row["perturbed"]) or "not perturbed"
        if firmness:  # flips to change the verdict, seeds to decide (stats.power)
            d.update(report_cells(row))
        out.append(d)
    return out


def _md_table(rows: list[dict]) -> str:
    return tabulate(rows, headers="keys", tablefmt="github") if rows else "_no tests_"


def render_overview(report: Report) -> str:
    """The Markdown overview: one row per claim, each linked to its first per-test row."""
    label = {ord("["): "&#91;", ord("]"): "&#93;"}  # brackets in a link's text: entities
    rows = [{"claim": f"[{md_cell(o['claim'] or '(no claim)').translate(label)}]"
                      f"(#{o['anchor']})",
             "source's statement": md_cell(o["statement"]),
             **{col: o[col] for col in COUNTS},
             "what the evidence says": md_cell(o["evidence"])} for o in overview(report)]
    return f"{_md_table(rows)}\n\n_{HOLDS_RULE}._\n"


def render_markdown(report: Report) -> str:
    meta = report["meta"]
    counts = pd.Series([r["outcome"] for r in report["rows"]], dtype=object).value_counts()
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
    seen: set[str] = set()
    for row, d in zip(report["rows"], rows):
        d.update({k: md_cell(v) if isinstance(v, str) else v for k, v in d.items()})
        claim = row.get("claim") or None
        if claim not in seen:  # the overview links the first row of each claim
            seen.add(claim)
            d["claim"] = f'<a id="{anchor("tests", claim or "none")}"></a>{d["claim"]}'
    parts = [one_line(line) for line in head]
    if rows:
        parts += ["## Claims", "", render_overview(report), "## Tests", ""]
    return "\n".join(parts) + "\n" + _md_table(rows) + "\n" + render_section(meta)


def _clip(text, width: int) -> str:
    text = one_line(text)
    return text if len(text) <= width else text[:width - 1] + "…"


def render_terminal(report: Report) -> str:
    """The claims overview, then the per-test table; plain text without control characters."""
    rows = [{k: one_line(v) if isinstance(v, str) else v for k, v in d.items()}
            for d in table_rows(report, wide=False)]
    if not rows:
        return "(no lowdim rows)"
    claims = [{"claim": _clip(o["claim"] or "(no claim)", 28),
               "source's statement": _clip(o["statement"], 44),
               **{col: o[col] for col in COUNTS},
               "what the evidence says": _clip(o["evidence"], 90)} for o in overview(report)]
    return (tabulate(claims, headers="keys", tablefmt="simple") + "\n\n"
            + tabulate(rows, headers="keys", tablefmt="simple"))


def to_frame(report: Report) -> pd.DataFrame:
    """One flat row per test: ids, outcome, conditions (JSON), and the evidence's scalars."""
    recs = []
    for row in report["rows"]:
        ev, frag = row.get("evidence") or {}, row.get("fragility") or {}
        low, high = ev.get("interval") or (None, None)
        recs.append({
            "test": row["test"], "claim": row.get("claim"), "outcome": row["outcome"],
            "conditions": json.dumps(row.get("conditions") or {}, sort_keys=True),
            "statistic": ev.get("statistic"), "n": ev.get("n"),
            "n_diverged": (ev.get("details") or {}).get("n_nonfinite"),
            "estimate": ev.get("estimate"), "low": low, "high": high, "test_name": ev.get("test"),
            **{k: ev.get(k) for k in ("alternative", "threshold", "p", "alpha", "verdict")},
            "duration_s": row.get("duration_s"), "flips": frag.get("flips"),
            "log10_p_alpha": frag.get("log10_p_alpha"),
            "seeds_to_decide": (row.get("seeds_to_decide") or {}).get("seeds"),
            "seeds": "{}-{}".format(*row["seeds"]) if row.get("seeds") else None,
            "vs_baseline": (row.get("vs_baseline") or {}).get("text"),
            "statement": row.get("statement"), "source": row.get("source")})
    return pd.DataFrame.from_records(recs)


PER_SEED_COLUMNS = ("claim", "test", "conditions", "seed_index", "seed", "value", "a", "b",
                    "statistic", "estimate", "threshold", "p", "alpha", "verdict", "outcome",
                    "holds", "run_started", "run_commit", "profile")


def read_report(source: str | os.PathLike | Mapping) -> pd.DataFrame:
    """A report as a tidy DataFrame: one row per test and seed (PER_SEED_COLUMNS).

    source: a claims.json path (read and checked with load_report) or a loaded report dict.
    value: the seed's statistic (NaN where it was not finite); a, b: the seed's two arms of a
    paired test (else NaN); seed_index: the position in the evidence's values; seed: the seed
    number where the row's [first, last] seeds match the values one to one (else <NA>, e.g.
    when diverged seeds were excluded); conditions: the test's conditions as JSON (sorted
    keys; pd.json_normalize(df.conditions.map(json.loads)) spreads them into columns); holds:
    `holds(row)`; run_started, run_commit, profile: the run's. A test without evidence keeps
    one row with seed_index <NA> and value NaN, so every test's outcome is in the frame.
    """
    report = source if isinstance(source, Mapping) else load_report(source)
    meta = report.get("meta") or {}
    run = {"run_started": meta.get("started"), "run_commit": meta.get("git_commit"),
           "profile": (meta.get("options") or {}).get("profile")}
    nan, recs = math.nan, []

    def num(v):
        return nan if v is None else float(v)

    for row in report["rows"]:
        ev = row.get("evidence") or {}
        base = {"claim": row.get("claim"), "test": row["test"],
                "conditions": json.dumps(row.get("conditions") or {}, sort_keys=True),
                **{k: ev.get(k) for k in ("statistic", "estimate", "threshold", "p", "alpha",
                                          "verdict")},
                "outcome": row["outcome"], "holds": holds(row), **run}
        values = ev.get("values") or []
        details = ev.get("details") or {}
        arms = [details.get(k) if isinstance(details.get(k), list)
                and len(details[k]) == len(values) else [None] * len(values) for k in "ab"]
        first, last = row.get("seeds") or (None, None)
        numbered = first is not None and last - first + 1 == len(values)
        if not values:
            recs.append({**base, "seed_index": None, "seed": None, "value": nan})
        for i, (v, a, b) in enumerate(zip(values, *arms)):
            recs.append({**base, "seed_index": i, "seed": first + i if numbered else None,
                         "value": num(v), "a": num(a), "b": num(b)})
    frame = pd.DataFrame.from_records(recs, columns=list(PER_SEED_COLUMNS))
    for col in ("seed_index", "seed"):
        frame[col] = frame[col].astype("Int64")
    for col in ("value", "a", "b", "estimate", "threshold", "p", "alpha"):
        frame[col] = frame[col].astype("float64")
    return frame


def header_lines(meta: Meta) -> list[str]:
    """Markdown bullet lines for the report's head: seed block, shard, merge."""
    lines = []
    perturb = (meta.get("options") or {}).get("perturb")
    if perturb:  # a neighbour run (docs/robustness.md)
        lines.append(f"- perturbation: `{perturb}`, a neighbour of the claims' own setting "
                     "(thresholds and marks unchanged; 'not perturbed': rows it did not reach)")
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
    return [one_line(line) for line in lines]


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
    out = [one_line(line) for line in out]
    if b["changes"]:
        table = [{"claim": md_cell(c.get("claim") or "–"), "test": md_cell(c["test"]),
                  "vs baseline": md_cell(c["text"])}
                 for c in sorted(b["changes"], key=change_order)]
        out += ["", tabulate(table, headers="keys", tablefmt="github")]
    return "\n".join(out) + "\n"


def change_order(c: Change) -> tuple[int, str]:
    rank = {"verdict changed": 0, "not replicated": 0, "verdict changed on another CPU": 0,
            "evidence lost": 1, "claim changed": 2,
            "drift": 3, "new": 4, "vanished": 5}
    return rank.get(c["status"], 6), c["test"]


__all__ = ["COUNTS", "HELD", "HOLDS", "HOLDS_RULE", "PER_SEED_COLUMNS", "Holds", "anchor",
           "change_order", "csv_text", "evidence_line", "header_lines", "holds", "md_cell",
           "one_line", "overview", "read_report", "render_markdown", "render_overview",
           "render_section", "render_terminal", "strip_controls", "table_rows", "to_frame"]
