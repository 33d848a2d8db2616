"""Comparing a run with a stored report (a baseline, e.g. reports/baseline.json), row by row:

    claim changed     the row's method hash differs: the claim file's code, its decision or
                      conditions, the profile or the seed count changed; not a finding
    VERDICT CHANGED   same method, another verdict: the finding changed (the session fails),
                      also where the baseline ran on another CPU kind and its row is robust
    verdict changed on another CPU
                      the same, but the baseline ran on a CPU whose kernels round differently
                      (meta numerics, a measured fingerprint, lowdim.kernels; e.g. AVX2 vs
                      AVX512, or Intel's MKL AVX-512 path vs AMD's) and its row is fragile by
                      the report's own measure (FRAGILE_RULE): float rounding differs, and a
                      seed whose outcome is on a knife edge can go the other way; reported, not
                      failing. A robust row (more seeds than that, p far from alpha) does not
                      move with rounding: its change fails the session on every CPU kind.
                      Record a baseline per CPU kind (regress.run: --lowdim-baseline DIR) to
                      gate every row there. Other versions of torch / numpy / scipy are never
                      excused: a finding that moves with an upgrade is what the gate is for.
    drift             same method and verdict, other per-seed values; an equivalence test (TOST)
                      on the per-seed differences says whether they stay within a stated margin
    unchanged         same method, identical per-seed values
    new / vanished    a test only in the run / only in the baseline
    neighbour         the runs ran at different --lowdim-perturb perturbations: verdicts side by
                      side, never a regression (the plugin refuses such a baseline)

A comparison is a regression check only on the same seeds. Runs on different seed blocks
(--lowdim-seed-offset) are a replication: the plugin refuses such a baseline, and
`lowdim compare` labels rows "replicated" / "NOT REPLICATED" instead.

Plain dicts in, plain dicts out, no pytest import: the plugin and the CLI both call this.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Literal, TypedDict

import numpy as np
from scipy import stats as st

from ..report import change_order, dump_report
from ..report.publish import in_range
from ..report.schema import (
    BaselineRun,
    Change,
    EvidenceDict,
    Meta,
    Report,
    Row,
    Status,
    VsBaseline,
    atomic_write,
    check_report,
    load_report,
)
from ..stats import equivalence
from ..stats.fragility import fragility
from .shards import file_of, seed_block_text

DRIFT_MARGIN_SCALE = 0.5  # margin = this x the baseline's robust per-seed spread
FRAGILE_FLIPS, FRAGILE_LOG10 = 2, 1.0  # a fragile row: <= 2 seeds flip it, or p within 10x alpha
FRAGILE_RULE = (
    f"on another CPU kind a changed verdict fails unless the baseline row is fragile: at most "
    f"{FRAGILE_FLIPS} seeds reversed change its verdict (fragility flips), or its p is within "
    f"{FRAGILE_LOG10:g} order of magnitude of alpha (|log10(p/alpha)| <= {FRAGILE_LOG10:g})"
)
FAILING: tuple[Status, ...] = ("verdict changed", "not replicated")  # fail a session / `compare`
MARGIN_RULE = (
    f"drift margin = {DRIFT_MARGIN_SCALE:g} x the baseline's spread over seeds (normal-scaled "
    "MAD of its per-seed values; their SD where the MAD is 0), TOST Wilcoxon on the per-seed "
    "differences at the row's alpha"
)


class Comparison(TypedDict):
    """What compare returns; annotate writes it into a report (meta.baseline, row.vs_baseline)."""

    label: str
    mode: Literal["regression", "replication", "neighbour"]
    notes: list[str]
    margin_rule: str
    baseline_run: BaselineRun
    rows: dict[str, VsBaseline]  # test -> its diff, with the row's claim
    vanished: list[Change]
    outside: dict[str, int]  # test file -> baseline rows not compared (not in this run)
    counts: dict[str, int]
    failed: bool
    other_cpu: bool  # the baseline ran on CPU kernels that round differently (FRAGILE_RULE)


def load_baseline(path: str | os.PathLike, *, option: str = "baseline") -> Report:
    """Read a stored report for comparison (a baseline, a shard, a history entry) through
    report.schema's loader: bounded JSON, every known key's type and range (report.publish);
    ValueError in one line naming the path, the key and what was expected there."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{option} {p}: no such file; write one with --lowdim-save-baseline "
                         f"{p} (or pass the path of a claims.json)")
    try:
        rep = load_report(p, check=False)  # what a comparison needs first, in its words
    except ValueError as e:  # it names the file
        raise ValueError(f"{option} {e}") from None
    except OSError as e:
        raise ValueError(f"{option} {p}: cannot read it ({e.strerror or e})") from None
    if not isinstance(rep["rows"], list) or not all(
            isinstance(r, dict) and isinstance(r.get("test"), str) for r in rep["rows"]):
        raise ValueError(f"{option} {p}: 'rows' must be a list of objects with a 'test' id")
    if not isinstance(rep["meta"], dict):
        raise ValueError(f"{option} {p}: 'meta' must be an object")
    seen = set()
    for r in rep["rows"]:
        if r["test"] in seen:
            raise ValueError(f"{option} {p}: test {r['test']} has two rows; one row per test")
        seen.add(r["test"])
        ev = r.get("evidence")
        if ev is None:
            continue
        values = ev.get("values", []) if isinstance(ev, dict) else None
        if not (isinstance(ev, dict) and "verdict" in ev and isinstance(values, list) and all(
                v is None or isinstance(v, (int, float)) for v in values)):
            raise ValueError(f"{option} {p}: row {r['test']}: 'evidence' needs a verdict and a "
                             "list of per-seed numbers ('values')")
    try:
        check_report(rep, p, extra=in_range)  # every other key's type and range
    except ValueError as e:
        raise ValueError(f"{option} {e}") from None
    return rep


def check_comparable(base_meta: Meta, new_meta: Meta) -> tuple[str, list[str]]:
    """('regression' | 'replication' | 'neighbour', notes). ValueError where rows cannot be
    compared."""
    bo, no = base_meta.get("options") or {}, new_meta.get("options") or {}
    if bo.get("profile") != no.get("profile"):
        raise ValueError(f"the baseline ran profile {bo.get('profile')!r}, this run "
                         f"{no.get('profile')!r}: every method differs; compare runs of one profile")
    if bo.get("seeds") != no.get("seeds"):
        raise ValueError(f"the baseline ran --lowdim-seeds {bo.get('seeds')}, this run "
                         f"{no.get('seeds')}: seed counts differ, so per-seed values do not pair up")
    mode = "regression" if bo.get("seed_offset", 0) == no.get("seed_offset", 0) else "replication"
    notes = []
    if bo.get("perturb") != no.get("perturb"):  # --lowdim-perturb (lowdim.engine.perturb)
        mode = "neighbour"
        notes.append(f"a neighbour, not a regression check: the baseline ran "
                     f"{setting_text(bo.get('perturb'))}, this run "
                     f"{setting_text(no.get('perturb'))}; verdicts are set side by side and "
                     "none fails (`lowdim robustness` maps them)")
    if mode == "replication" and not notes:
        notes.append(f"replication, not a regression check: the baseline ran seed block "
                     f"{seed_block_text(base_meta)}, this run {seed_block_text(new_meta)}; "
                     "verdicts are compared, per-seed values are not")
    bv, nv = base_meta.get("versions") or {}, new_meta.get("versions") or {}
    changed = [f"{k} {bv.get(k)} → {nv.get(k)}" for k in sorted(set(bv) | set(nv))
               if bv.get(k) != nv.get(k)]
    if changed:
        notes.append("versions differ: " + ", ".join(changed))
    if base_meta.get("device") != new_meta.get("device"):
        notes.append(f"device differs: {base_meta.get('device')} → {new_meta.get('device')}")
    if other_cpu(base_meta, new_meta):
        bp, np_ = base_meta.get("numerics_probes") or {}, new_meta.get("numerics_probes") or {}
        which = [k for k in sorted(set(bp) & set(np_)) if bp[k] != np_[k]]
        notes.append(f"CPU kernels differ: {kernels_label(base_meta)} → "
                     f"{kernels_label(new_meta)}"
                     + (f" (probes that round differently: {', '.join(which)})" if which else "")
                     + f"; {FRAGILE_RULE}")
    return mode, notes


def setting_text(perturb: str | None) -> str:
    """A run's setting in words: 'perturbation lr=x2', or 'the claims' own setting'."""
    return f"perturbation {perturb}" if perturb else "the claims' own setting"


def other_cpu(base_meta: Meta, new_meta: Meta) -> bool:
    """Did the two runs use CPU kernels that round differently (both on the CPU)? Decided by the
    measured fingerprints (lowdim.kernels) where both runs recorded one, else by torch's CPU
    capability. Unknown counts as the same, so an older baseline still gates."""
    on_cpu = base_meta.get("device", "cpu") == new_meta.get("device", "cpu") == "cpu"
    key = "numerics" if base_meta.get("numerics") and new_meta.get("numerics") else "cpu_capability"
    b, n = base_meta.get(key), new_meta.get(key)
    return bool(b and n and b != n and on_cpu)


def fragile(row: Row) -> str | None:
    """Why a baseline row is fragile by FRAGILE_RULE ('flips 1', '|log10(p/alpha)| 0.42'), or
    None when it is robust. Its recorded fragility, else computed from its evidence."""
    frag = row.get("fragility")
    if frag is None and row.get("evidence"):
        try:
            frag = fragility(row["evidence"])
        except (ValueError, TypeError, KeyError, IndexError):
            frag = None
    flips, lp = (frag or {}).get("flips"), (frag or {}).get("log10_p_alpha")
    if flips is not None and flips <= FRAGILE_FLIPS:
        return f"flips {flips}"
    if lp is not None and abs(lp) <= FRAGILE_LOG10:
        return f"|log10(p/alpha)| {abs(lp):.2g}"
    return None


def kernels_label(meta: Meta) -> str:
    """How a report names its CPU kernels: 'AVX512/mkl-avx2 (90644801aa15)', or the older
    meta's torch capability alone."""
    if meta.get("cpu_kernels"):
        return f"{meta['cpu_kernels']} ({meta.get('numerics', '?')})"
    return str(meta.get("cpu_capability"))


def drift_margin(baseline_values: np.ndarray) -> float:
    """The equivalence margin for per-seed differences: DRIFT_MARGIN_SCALE x the baseline's
    spread over seeds. Why: a seed-to-seed spread is the statistic's own scale of noise, so a
    typical per-seed change under half of it is too small to matter for the finding, while a
    larger one is worth a look. Spread = normal-scaled MAD (robust to a few odd seeds); the SD
    where over half the seeds share one value (0/1 flags, saturated accuracies); never below
    1e-6 x max(1, |median|), so float noise on a constant statistic is within the margin.
    baseline_values: (S,) finite."""
    v = np.asarray(baseline_values, dtype=np.float64)
    spread = float(st.median_abs_deviation(v, scale="normal")) if v.size else 0.0
    if spread == 0.0 and v.size > 1:
        spread = float(np.std(v, ddof=1))
    floor = 1e-6 * max(1.0, abs(float(np.median(v)))) if v.size else 1e-6
    return DRIFT_MARGIN_SCALE * max(spread, floor)


def _floats(values: list) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def _drift(ev0: EvidenceDict, ev1: EvidenceDict) -> dict:
    """Compare the per-seed values of one unchanged method on the same seeds."""
    v0, v1 = ev0.get("values") or [], ev1.get("values") or []
    if not v0 and not v1:  # an Evidence without per-seed values: compare what it has
        if (ev0.get("estimate"), ev0.get("p")) == (ev1.get("estimate"), ev1.get("p")):
            return {"status": "unchanged", "text": "unchanged"}
        return {"status": "drift", "n_changed": None,
                "text": f"drift: estimate {ev0.get('estimate')} → {ev1.get('estimate')}, "
                        f"p {ev0.get('p')} → {ev1.get('p')} (no per-seed values)"}
    if v0 == v1:
        return {"status": "unchanged", "text": "unchanged"}
    if len(v0) != len(v1):
        return {"status": "drift",
                "text": f"drift: per-seed values not paired (n {len(v0)} → {len(v1)})",
                "n_changed": None}
    a, b = _floats(v0), _floats(v1)
    one_nan = np.isnan(a) ^ np.isnan(b)
    ok = ~np.isnan(a) & ~np.isnan(b)
    with np.errstate(all="ignore"):  # values near MAX_ABS: an overflow is caught below
        d = b[ok] - a[ok]  # (S_ok,) per-seed change
        margin = drift_margin(a[~np.isnan(a)]) if np.any(d) else 0.0
    changed = int(np.count_nonzero(d) + one_nan.sum())
    out = {"status": "drift", "n_changed": changed, "n": int(a.size),
           "max_abs_diff": float(np.abs(d).max()) if d.size else None,
           "diverged_in_one_run": int(one_nan.sum())}
    if d.size == 0 or not np.any(d):
        out["text"] = f"drift: {int(one_nan.sum())} seed(s) diverged in one run only"
        return out
    if not (np.all(np.isfinite(d)) and np.isfinite(margin)):
        out["max_abs_diff"] = None
        out["text"] = f"drift: {changed}/{a.size} seeds changed, by more than a float holds"
        return out
    tost = equivalence(d, margin=margin, alpha=float(ev0.get("alpha") or 0.01))
    out.update(margin=margin, tost_p=float(tost.p), tost_verdict=tost.verdict.value,
               median_diff=float(tost.estimate))
    where = {"SUPPORTED": "within", "REFUTED": "beyond", "INCONCLUSIVE": "not shown within"}
    out["text"] = (f"drift: {where[tost.verdict.value]} ±{margin:.3g} ({changed}/{a.size} seeds "
                   f"changed, max |diff| {out['max_abs_diff']:.3g})")
    out["short"] = f"drift, {where[tost.verdict.value]} ±{margin:.3g}"
    return out


def _diff_rows(old: Row, new: Row, mode: str, cpu: tuple[str, str] | None = None) -> dict:
    ev0, ev1 = old.get("evidence"), new.get("evidence")
    v0, v1 = (ev0 or {}).get("verdict"), (ev1 or {}).get("verdict")
    base = {"claim": new.get("claim") or old.get("claim"), "old": v0, "new": v1}
    if ev0 is None and ev1 is None:
        if old.get("outcome") == new.get("outcome"):
            return {**base, "status": "unchanged", "text": "unchanged"}
        return {**base, "status": "outcome changed",
                "text": f"outcome {old.get('outcome')} → {new.get('outcome')}"}
    if ev1 is None:
        return {**base, "status": "evidence lost",
                "text": f"no evidence now ({new.get('outcome')}); was {v0}"}
    if ev0 is None:
        return {**base, "status": "new", "text": "new evidence"}
    if mode == "neighbour":  # another perturbation: another method, and never a regression
        return {**base, "status": "neighbour",
                "text": f"neighbour: {v0} → {v1}" if v0 != v1 else f"neighbour: holds ({v1})"}
    h0, h1 = old.get("method_hash"), new.get("method_hash")
    if h0 is None or h1 is None or h0 != h1:
        text = "claim changed" + (f" ({v0} → {v1})" if v0 != v1 else "")
        if h0 is None or h1 is None:
            text += "; no method hash to compare"
        return {**base, "status": "claim changed", "text": text}
    if v0 != v1:
        why = fragile(old) if mode == "regression" and cpu is not None else None
        if why:
            return {**base, "status": "verdict changed on another CPU",
                    "text": f"verdict changed on another CPU ({cpu[0]} → {cpu[1]}): {v0} → {v1}; "
                            f"the baseline row is fragile ({why}): reported, not failing"}
        status = "verdict changed" if mode == "regression" else "not replicated"
        robust = (f" on another CPU ({cpu[0]} → {cpu[1]}), and the baseline row is robust (more "
                  f"than {FRAGILE_FLIPS} seeds reversed to change it, p not within "
                  f"{10 ** FRAGILE_LOG10:g}x of alpha)" if mode == "regression" and cpu else "")
        return {**base, "status": status, "text": f"{status.upper()}: {v0} → {v1}{robust}"}
    if mode == "replication":
        return {**base, "status": "replicated", "text": f"replicated ({v1})"}
    return {**base, **_drift(ev0, ev1)}


def compare(base: Report, new: Report, *, label: str = "baseline",
            files: set[str] | None = None) -> Comparison:
    """Compare run `new` with the stored run `base`, row by row (both: report dicts).

    files  compare only the baseline rows of these test files (a shard, or a narrower run);
           the others are counted as outside this run, not as vanished. None: all rows.
    Returns a plain dict: label, mode, notes, margin_rule, rows {test: diff}, vanished [...],
    outside {file: n rows}, counts {status: n}, failed (a verdict changed).
    """
    mode, notes = check_comparable(base["meta"], new["meta"])
    cpu = ((kernels_label(base["meta"]), kernels_label(new["meta"]))
           if other_cpu(base["meta"], new["meta"]) else None)
    old_rows = {r["test"]: r for r in base["rows"]}
    new_rows = {r["test"]: r for r in new["rows"]}
    rows = {}
    for test, row in sorted(new_rows.items()):
        if test in old_rows:
            rows[test] = _diff_rows(old_rows[test], row, mode, cpu)
        else:
            v = (row.get("evidence") or {}).get("verdict")
            rows[test] = {"claim": row.get("claim"), "old": None, "new": v, "status": "new",
                          "text": "new"}
    vanished, outside = [], {}
    for test, row in sorted(old_rows.items()):
        if test in new_rows:
            continue
        if files is not None and file_of(test) not in files:
            outside[file_of(test)] = outside.get(file_of(test), 0) + 1
            continue
        vanished.append({"test": test, "claim": row.get("claim"), "status": "vanished",
                         "old": (row.get("evidence") or {}).get("verdict"), "new": None,
                         "text": "vanished"})
    if outside:
        notes.append(f"{sum(outside.values())} baseline rows in {len(outside)} files outside "
                     "this run's files (other shards, a narrower selection or deleted files) "
                     "are not compared here; `lowdim compare` on the merged report lists them")
    counts: dict[str, int] = {}
    for d in [*rows.values(), *vanished]:
        counts[d["status"]] = counts.get(d["status"], 0) + 1
    bmeta = base["meta"]
    return {
        "label": str(label), "mode": mode, "notes": notes, "margin_rule": MARGIN_RULE,
        "baseline_run": {"started": bmeta.get("started"), "git_commit": bmeta.get("git_commit"),
                         "seed_block": seed_block_text(bmeta)},
        "rows": rows, "vanished": vanished, "outside": outside,
        "counts": dict(sorted(counts.items())),
        "failed": any(d["status"] in FAILING for d in rows.values()),
        "other_cpu": cpu is not None,
    }


def annotate(report: Report, comparison: Comparison) -> None:
    """Write the comparison into the report: row["vs_baseline"] per row, meta["baseline"]."""
    for row in report["rows"]:
        d = comparison["rows"].get(row["test"])
        if d is not None:
            row["vs_baseline"] = {k: v for k, v in d.items() if k != "claim"}
    changes = [{"test": t, **d} for t, d in comparison["rows"].items() if d["status"] != "unchanged"]
    report["meta"]["baseline"] = {
        **{k: v for k, v in comparison.items() if k not in ("rows", "vanished")},
        "changes": changes + comparison["vanished"],
    }


def strip_comparison(report: Report) -> Report:
    """A copy of the report without any baseline annotations (what a saved baseline holds)."""
    out = copy.deepcopy(report)
    out["meta"].pop("baseline", None)
    for row in out["rows"]:
        row.pop("vs_baseline", None)
    return out


def save_baseline(report: Report, path: str | os.PathLike) -> Path:
    """Write the report, less its comparison, as a baseline for later runs."""
    p = Path(path)
    atomic_write(p, dump_report(strip_comparison(report)))
    return p


def render_terminal(comparison: Comparison, *, width: int = 100) -> list[tuple[str, bool]]:
    """(line, red) pairs for the terminal: counts, then each change, verdict changes first."""
    b = comparison
    lines = [(f"vs {b['label']} ({b['mode']}; baseline commit "
              f"{b['baseline_run'].get('git_commit') or '?'}, seeds "
              f"{b['baseline_run']['seed_block']}): "
              + ", ".join(f"{k} {v}" for k, v in b["counts"].items()), False)]
    lines += [(f"  {n}", False) for n in b["notes"]]
    if b.get("other_cpu"):
        lines.append((f"lowdim: NO BASELINE OF THIS CPU KIND: {b['label']} ran on other CPU "
                       f"kernels; {FRAGILE_RULE}. Record one on this kind with "
                       "--lowdim-save-baseline DIR and gate with --lowdim-baseline DIR", True))
    changes = [{"test": t, **d} for t, d in b["rows"].items() if d["status"] != "unchanged"]
    for c in sorted(changes + b["vanished"], key=change_order):
        red = c["status"] in FAILING
        lines.append((f"  {c.get('claim') or '-'}  {c['test']}: {c['text']}", red))
    if any(c["status"] == "drift" for c in changes):
        lines.append((f"  {b['margin_rule']}", False))
    n_fail = sum(c["status"] in FAILING for c in changes)
    if n_fail:
        lines.append((f"lowdim: {n_fail} verdict(s) changed against {b['label']} with the method "
                      "unchanged: the session fails", True))
    return lines


__all__ = ["DRIFT_MARGIN_SCALE", "FAILING", "FRAGILE_FLIPS", "FRAGILE_LOG10", "FRAGILE_RULE",
           "MARGIN_RULE", "Comparison", "annotate", "check_comparable", "compare",
           "drift_margin", "fragile", "kernels_label", "load_baseline", "other_cpu",
           "render_terminal", "save_baseline", "setting_text", "strip_comparison"]
