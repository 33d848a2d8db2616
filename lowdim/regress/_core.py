"""Regression of findings: method hashes, baseline comparison, shards, merging, step summaries.

A run is compared with a stored report (a baseline, e.g. reports/baseline.json) row by row:

    claim changed     the row's method hash differs: the claim file's code, its decision or
                      conditions, the profile or the seed count changed; not a finding
    VERDICT CHANGED   same method, another verdict: the finding changed (the session fails)
    verdict changed on another CPU
                      the same, but the baseline ran on a CPU whose kernels round differently
                      (meta numerics, a measured fingerprint, lowdim.kernels; e.g. AVX2 vs
                      AVX512, or Intel's MKL AVX-512 path vs AMD's): float rounding differs, and a
                      seed whose outcome is on a knife edge can go the other way; reported, not
                      failing (record a baseline on this kind of CPU to gate on it). Other
                      versions of torch / numpy / scipy are never excused: a finding that moves
                      with an upgrade is what the gate is for.
    drift             same method and verdict, other per-seed values; an equivalence test (TOST)
                      on the per-seed differences says whether they stay within a stated margin
    unchanged         same method, identical per-seed values
    new / vanished    a test only in the run / only in the baseline

A comparison is a regression check only on the same seeds. Runs on different seed blocks
(--lowdim-seed-offset) are a replication: the plugin refuses such a baseline, and
`lowdim compare` labels rows "replicated" / "NOT REPLICATED" instead.

Plain dicts in, plain dicts out, no pytest import: the plugin and the CLI both call this.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats as st

from .. import report as _report
from ..engine.source import normalised_source
from ..report import change_order
from ..stats import equivalence, holm

METHOD_HASH_SCHEME = "lowdim-method-1"  # bump when what the hash covers changes
DECISION_FIELDS = ("statistic", "test", "alternative", "threshold", "alpha")
DRIFT_MARGIN_SCALE = 0.5  # margin = this x the baseline's robust per-seed spread
STEP_SUMMARY_LIMIT = 1024 * 1024  # GitHub's limit on one step's summary, in bytes
OUTPUT_OPTIONS = ("report_dir", "write")  # options that change where a report goes, not a row
FAILING = ("verdict changed", "not replicated")  # statuses that fail a session / `compare`
MARGIN_RULE = (
    f"drift margin = {DRIFT_MARGIN_SCALE:g} x the baseline's spread over seeds (normal-scaled "
    "MAD of its per-seed values; their SD where the MAD is 0), TOST Wilcoxon on the per-seed "
    "differences at the row's alpha"
)


# ------------------------------------------------------------------------------------------
# the method hash


@functools.lru_cache(maxsize=512)
def _normalised_file(path: str, mtime_ns: int, size: int, test: str | None) -> str:
    return normalised_source(Path(path).read_text(encoding="utf-8"), test)


def method_hash(
    *,
    module_path: str | os.PathLike | None,
    test: str | None,
    evidence: dict,
    conditions: dict,
    profile: str,
    seed_counts: Iterable[int],
) -> str:
    """What a row's finding depends on besides the library and the seeds, as 16 hex digits.

    Covers (a) the claim module's code, normalised by `normalised_source` (docstrings, comments
    and layout do not count; constants, thresholds, configs, helpers, decorators such as xfail
    and parametrize, and this test's body do); (b) the evidence's decision: statistic, test,
    alternative, threshold, alpha; (c) the recorded conditions; (d) the profile and the seed
    counts the test asked for (after --lowdim-seeds). Not covered: lowdim itself and its
    dependencies (a change there is what a regression check is for), the seed offset (another
    block is a replication, checked separately), the device. ast.unparse may lay code out
    differently in another Python version: compare runs of one Python (CI pins the baseline's).
    """
    source = ""
    if module_path is not None:
        p = Path(module_path)
        try:
            s = p.stat()
            source = _normalised_file(str(p), s.st_mtime_ns, s.st_size, test)
        except (OSError, SyntaxError, ValueError):
            source = f"<unreadable: {p.name}>"
    spec = {
        "scheme": METHOD_HASH_SCHEME,
        "source": source,
        "decision": {k: evidence.get(k) for k in DECISION_FIELDS},
        "conditions": conditions,
        "profile": profile,
        "seed_counts": sorted({int(n) for n in seed_counts}),
    }
    text = json.dumps(spec, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def junit_properties(payload: dict) -> list[tuple[str, object]]:
    """Flat plain-valued properties for junit XML (pytest writes str(value) of each)."""
    ev = payload["evidence"]
    lo, hi = ev["interval"]
    lo = "-inf" if lo is None else repr(float(lo))
    hi = "inf" if hi is None else repr(float(hi))
    return [
        ("lowdim_verdict", ev["verdict"]),
        ("lowdim_estimate", "nan" if ev["estimate"] is None else repr(float(ev["estimate"]))),
        ("lowdim_interval", f"[{lo}, {hi}]"),
        ("lowdim_p", "nan" if ev["p"] is None else repr(float(ev["p"]))),
        ("lowdim_alpha", repr(float(ev["alpha"]))),
        ("lowdim_method_hash", payload.get("method_hash") or ""),
    ]


# ------------------------------------------------------------------------------------------
# shards


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """'I/N' -> (I, N), 1 <= I <= N; None stays None."""
    if text is None:
        return None
    try:
        i, n = (int(part) for part in str(text).split("/"))
    except ValueError:
        raise ValueError(f"--lowdim-shard: got {text!r}; need I/N, e.g. 2/4") from None
    if not 1 <= i <= n:
        raise ValueError(f"--lowdim-shard: got {text!r}; need 1 <= I <= N, e.g. 2/4")
    return i, n


def file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def shard_files(files: Iterable[str], index: int, count: int) -> set[str]:
    """The files of shard `index` of `count`: the sorted distinct files, dealt round-robin.
    Whole files, so a claim file's tests (and their shared training) stay on one machine."""
    ordered = sorted(set(files))
    return set(ordered[index - 1 :: count])


def split_shard(items: Sequence, shard: tuple[int, int], key=lambda item: item.nodeid):
    """(kept, dropped) items of one shard, in their original order."""
    mine = shard_files((file_of(key(it)) for it in items), *shard)
    kept = [it for it in items if file_of(key(it)) in mine]
    dropped = [it for it in items if file_of(key(it)) not in mine]
    return kept, dropped


# ------------------------------------------------------------------------------------------
# comparison


def load_baseline(path: str | os.PathLike, *, option: str = "baseline") -> dict:
    """Read a stored report for comparison; ValueError naming the path and the problem."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{option} {p}: no such file; write one with --lowdim-save-baseline "
                         f"{p} (or pass the path of a claims.json)")
    try:
        rep = _report.load_report(p)
    except (ValueError, OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{option} {p}: {e}") from None
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
    return rep


def check_comparable(base_meta: dict, new_meta: dict) -> tuple[str, list[str]]:
    """('regression' | 'replication', notes). ValueError where rows cannot be compared."""
    bo, no = base_meta.get("options") or {}, new_meta.get("options") or {}
    if bo.get("profile") != no.get("profile"):
        raise ValueError(f"the baseline ran profile {bo.get('profile')!r}, this run "
                         f"{no.get('profile')!r}: every method differs; compare runs of one profile")
    if bo.get("seeds") != no.get("seeds"):
        raise ValueError(f"the baseline ran --lowdim-seeds {bo.get('seeds')}, this run "
                         f"{no.get('seeds')}: seed counts differ, so per-seed values do not pair up")
    mode = "regression" if bo.get("seed_offset", 0) == no.get("seed_offset", 0) else "replication"
    notes = []
    if mode == "replication":
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
                     + "; a changed verdict is reported, not failing")
    return mode, notes


def other_cpu(base_meta: dict, new_meta: dict) -> bool:
    """Did the two runs use CPU kernels that round differently (both on the CPU)? Decided by the
    measured fingerprints (lowdim.kernels) where both runs recorded one, else by torch's CPU
    capability. Unknown counts as the same, so an older baseline still gates."""
    on_cpu = base_meta.get("device", "cpu") == new_meta.get("device", "cpu") == "cpu"
    key = "numerics" if base_meta.get("numerics") and new_meta.get("numerics") else "cpu_capability"
    b, n = base_meta.get(key), new_meta.get(key)
    return bool(b and n and b != n and on_cpu)


def kernels_label(meta: dict) -> str:
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


def _drift(ev0: dict, ev1: dict) -> dict:
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
    d = b[ok] - a[ok]  # (S_ok,) per-seed change
    changed = int(np.count_nonzero(d) + one_nan.sum())
    out = {"status": "drift", "n_changed": changed, "n": int(a.size),
           "max_abs_diff": float(np.abs(d).max()) if d.size else None,
           "diverged_in_one_run": int(one_nan.sum())}
    if d.size == 0 or not np.any(d):
        out["text"] = f"drift: {int(one_nan.sum())} seed(s) diverged in one run only"
        return out
    margin = drift_margin(a[~np.isnan(a)])
    tost = equivalence(d, margin=margin, alpha=float(ev0.get("alpha") or 0.01))
    out.update(margin=margin, tost_p=float(tost.p), tost_verdict=tost.verdict.value,
               median_diff=float(tost.estimate))
    where = {"SUPPORTED": "within", "REFUTED": "beyond", "INCONCLUSIVE": "not shown within"}
    out["text"] = (f"drift: {where[tost.verdict.value]} ±{margin:.3g} ({changed}/{a.size} seeds "
                   f"changed, max |diff| {out['max_abs_diff']:.3g})")
    out["short"] = f"drift, {where[tost.verdict.value]} ±{margin:.3g}"
    return out


def _diff_rows(old: dict, new: dict, mode: str, cpu: tuple[str, str] | None = None) -> dict:
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
    h0, h1 = old.get("method_hash"), new.get("method_hash")
    if h0 is None or h1 is None or h0 != h1:
        text = "claim changed" + (f" ({v0} → {v1})" if v0 != v1 else "")
        if h0 is None or h1 is None:
            text += "; no method hash to compare"
        return {**base, "status": "claim changed", "text": text}
    if v0 != v1:
        if mode == "regression" and cpu is not None:
            return {**base, "status": "verdict changed on another CPU",
                    "text": f"verdict changed on another CPU ({cpu[0]} → {cpu[1]}): {v0} → {v1}"}
        status = "verdict changed" if mode == "regression" else "not replicated"
        return {**base, "status": status, "text": f"{status.upper()}: {v0} → {v1}"}
    if mode == "replication":
        return {**base, "status": "replicated", "text": f"replicated ({v1})"}
    return {**base, **_drift(ev0, ev1)}


def compare(base: dict, new: dict, *, label: str = "baseline",
            files: set[str] | None = None) -> dict:
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
    }


def annotate(report: dict, comparison: dict) -> None:
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


def strip_comparison(report: dict) -> dict:
    """A copy of the report without any baseline annotations (what a saved baseline holds)."""
    out = copy.deepcopy(report)
    out["meta"].pop("baseline", None)
    for row in out["rows"]:
        row.pop("vs_baseline", None)
    return out


def save_baseline(report: dict, path: str | os.PathLike) -> Path:
    p = Path(path)
    text = json.dumps(strip_comparison(report), indent=1, sort_keys=True, allow_nan=False)
    _report.atomic_write(p, text + "\n")
    return p


# ------------------------------------------------------------------------------------------
# rendering


def seed_block_text(meta: dict) -> str:
    opts = meta.get("options") or {}
    k, n = int(opts.get("seed_offset") or 0), opts.get("seeds")
    if n is not None:
        return f"{k}..{k + int(n) - 1}"
    return f"{k}..{k}+n-1" if k else "0..n-1"


def seed_block(meta: dict) -> dict:
    """meta["seed_block"]: which seeds ran (n = each claim's own seed count)."""
    opts = meta.get("options") or {}
    return {"offset": int(opts.get("seed_offset") or 0), "seeds": opts.get("seeds"),
            "text": f"{seed_block_text(meta)} of each claim (n = its own seed count)"
            if opts.get("seeds") is None else f"{seed_block_text(meta)} for every claim"}


def render_terminal(comparison: dict, *, width: int = 100) -> list[tuple[str, bool]]:
    """(line, red) pairs for the terminal: counts, then each change, verdict changes first."""
    b = comparison
    lines = [(f"vs {b['label']} ({b['mode']}; baseline commit "
              f"{b['baseline_run'].get('git_commit') or '?'}, seeds "
              f"{b['baseline_run']['seed_block']}): "
              + ", ".join(f"{k} {v}" for k, v in b["counts"].items()), False)]
    lines += [(f"  {n}", False) for n in b["notes"]]
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


# ------------------------------------------------------------------------------------------
# merging shards


def _combined_exitstatus(codes: list[int]) -> int:
    # 5 = no tests collected: fine for one shard if another has tests
    bad = [c for c in codes if c not in (0, 5)]
    if bad:
        return max(bad)
    return 0 if 0 in codes else 5


def apply_holm(rows: list[dict]) -> int:
    """Holm-adjusted p over the rows' decisions (as the plugin does); returns n_decisions."""
    decided = [r for r in rows if r.get("evidence") and r["evidence"].get("p") is not None]
    for r in rows:
        r.pop("p_holm", None)
    for r, p_adj in zip(decided, holm([r["evidence"]["p"] for r in decided])):
        r["p_holm"] = float(p_adj)
    return len(decided)


def merge(inputs: Sequence[tuple[str, dict]]) -> dict:
    """One report from the reports of shards (or of disjoint runs) of one suite.

    inputs: (path, report) pairs. ValueError when they disagree on the schema, the versions,
    the git commit or any option that changes a row (report_dir and write may differ), when
    shard counts disagree or a shard appears twice, and when a test id is in two inputs (a row
    is never counted twice). Holm-adjusted p and n_decisions are recomputed over all rows.
    """
    if not inputs:
        raise ValueError("no reports given; pass the shards' claims.json files")
    path0, rep0 = inputs[0]
    m0 = rep0["meta"]

    def sig(meta):
        return {k: v for k, v in (meta.get("options") or {}).items() if k not in OUTPUT_OPTIONS}

    shards = {}
    for path, rep in inputs:
        meta = rep["meta"]
        if rep.get("schema_version") != rep0.get("schema_version"):
            raise ValueError(f"{path} has schema_version {rep.get('schema_version')}, "
                             f"{path0} {rep0.get('schema_version')}; regenerate both with one lowdim")
        for key in ("versions", "git_commit"):
            if meta.get(key) != m0.get(key):
                raise ValueError(f"{key} differ: {path}: {meta.get(key)}, {path0}: "
                                 f"{m0.get(key)}; merge shards of one run (same commit, same "
                                 "environment)")
        if sig(meta) != sig(m0):
            diff = {k: (sig(meta).get(k), sig(m0).get(k))
                    for k in set(sig(meta)) | set(sig(m0)) if sig(meta).get(k) != sig(m0).get(k)}
            raise ValueError(f"options differ between {path} and {path0}: "
                             + ", ".join(f"{k} {a!r} vs {b!r}" for k, (a, b) in sorted(diff.items()))
                             + "; run every shard with the same --lowdim-* options")
        sh = meta.get("shard")
        if (sh is None) != (m0.get("shard") is None):
            raise ValueError(f"{path} and {path0}: one is a shard, the other a full run")
        if sh is not None:
            if sh["count"] != m0["shard"]["count"]:
                raise ValueError(f"{path} is shard {sh['index']}/{sh['count']}, {path0} "
                                 f"of {m0['shard']['count']}; merge shards of one split")
            if sh["index"] in shards:
                raise ValueError(f"shard {sh['index']}/{sh['count']} given twice: "
                                 f"{shards[sh['index']]} and {path}")
            shards[sh["index"]] = path
    rows: dict[str, dict] = {}
    where: dict[str, str] = {}
    for path, rep in inputs:
        for row in rep["rows"]:
            t = row["test"]
            if t in rows:
                raise ValueError(f"test {t} is in both {where[t]} and {path}; a row is "
                                 "merged once: pass each shard's report once, shards of one split")
            rows[t], where[t] = copy.deepcopy(row), path
            rows[t].pop("vs_baseline", None)
    merged_rows = [rows[t] for t in sorted(rows)]
    meta = copy.deepcopy(m0)
    meta.pop("baseline", None)
    meta.update(
        started=min(str(r["meta"].get("started") or "") for _, r in inputs) or None,
        wall_time_s=max(float(r["meta"].get("wall_time_s") or 0.0) for _, r in inputs),
        xdist_workers=sum(int(r["meta"].get("xdist_workers") or 0) for _, r in inputs),
        exitstatus=_combined_exitstatus([int(r["meta"].get("exitstatus") or 0)
                                         for _, r in inputs]),
        n_decisions=apply_holm(merged_rows),
        shard=None,
        args=None,
        merged_from=[{
            "path": str(path), "shard": (f"{r['meta']['shard']['index']}/"
                                         f"{r['meta']['shard']['count']}"
                                         if r["meta"].get("shard") else None),
            "started": r["meta"].get("started"), "wall_time_s": r["meta"].get("wall_time_s"),
            "exitstatus": r["meta"].get("exitstatus"), "args": r["meta"].get("args"),
            "n_rows": len(r["rows"]),
        } for path, r in inputs],
    )
    if shards:
        count = m0["shard"]["count"]
        missing = sorted(set(range(1, count + 1)) - set(shards))
        meta["shard_count"], meta["shards_missing"] = count, missing
    meta["seed_block"] = seed_block(meta)
    out = {"schema_version": rep0.get("schema_version"), "meta": meta, "rows": merged_rows}
    for _, rep in inputs:  # other top-level parts (e.g. "claims": id -> method): union
        for key, value in rep.items():
            if key in out and key not in ("schema_version", "meta", "rows") and isinstance(
                    value, dict) and isinstance(out[key], dict):
                out[key] = {**value, **out[key]}
            elif key not in out:
                out[key] = copy.deepcopy(value)
    return out


def write_report_files(report: dict, json_path: str | os.PathLike) -> dict[str, Path]:
    """Write report as JSON_PATH and its .md / .csv renderings beside it (same stem); a path
    named claims.json gets every rendering `pytest` writes (report.write_reports)."""
    p = Path(json_path)
    if p.name == "claims.json":
        return _report.write_reports(report, p.parent)
    if p.suffix != ".json":
        raise ValueError(f"OUT: got {p}; need a .json path (its .md and .csv go beside it)")
    paths = {"json": p, "md": p.with_suffix(".md"), "csv": p.with_suffix(".csv")}
    _report.atomic_write(paths["json"],
                         json.dumps(report, indent=1, sort_keys=True, allow_nan=False) + "\n")
    _report.atomic_write(paths["md"], _report.render_markdown(report))
    _report.atomic_write(paths["csv"], _report.to_frame(report).to_csv(index=False))
    return paths


# ------------------------------------------------------------------------------------------
# GitHub's step summary


def fit_step_summary(markdown: str, budget: int) -> str:
    """The markdown cut at a line boundary to at most `budget` UTF-8 bytes, with a note saying
    how much was left out; "" when not even the note fits."""
    data = markdown.encode("utf-8")
    if len(data) <= budget:
        return markdown
    lines = markdown.splitlines(keepends=True)
    kept, used = [], 0
    note = "\n_… {} more lines left out to stay under GitHub's 1 MiB step-summary limit; the " \
           "full report is in claims.md (uploaded with the run)._\n"
    reserve = len(note.format(len(lines)).encode("utf-8"))
    for line in lines:
        size = len(line.encode("utf-8"))
        if used + size + reserve > budget:
            break
        kept.append(line)
        used += size
    if used + reserve > budget:
        return ""
    return "".join(kept) + note.format(len(lines) - len(kept))


def write_step_summary(markdown: str, *, path: str | os.PathLike | None = None,
                       limit: int = STEP_SUMMARY_LIMIT) -> Path | None:
    """Append markdown to $GITHUB_STEP_SUMMARY (or `path`) when set, keeping the file under
    `limit` bytes; returns the path written, None when not set or nothing fit. Appending (not
    an atomic replace) because the runner owns that file and other steps' tools append too."""
    target = path if path is not None else os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    p = Path(target)
    used = p.stat().st_size if p.exists() else 0
    sep = "\n" if used else ""  # a blank line after what other steps wrote
    text = fit_step_summary(markdown, limit - used - len(sep))
    if not text:
        return None
    with open(p, "a", encoding="utf-8") as f:
        f.write(sep + text)
    return p


# ------------------------------------------------------------------------------------------
# the plugin's run-level state


@dataclass
class RunRegression:
    """What a pytest run does about baselines and shards (built once per process)."""

    shard: tuple[int, int] | None = None
    baseline_path: Path | None = None
    baseline: dict | None = None
    save_path: Path | None = None
    comparison: dict | None = None
    messages: list[str] = field(default_factory=list)

    @classmethod
    def from_options(cls, *, baseline: str | None, save: str | None, shard: str | None,
                     profile: str, seed_offset: int, seeds: int | None, root: Path,
                     controller: bool) -> RunRegression:
        """ValueError (the plugin turns it into a UsageError) for a bad shard or baseline."""
        run = cls(shard=parse_shard(shard))
        if save:
            run.save_path = _resolve(save, root)
        if baseline and controller:
            run.baseline_path = _resolve(baseline, root)
            rep = load_baseline(run.baseline_path, option="--lowdim-baseline")
            here = {"options": {"profile": profile, "seed_offset": seed_offset, "seeds": seeds}}
            try:
                mode, _ = check_comparable(rep["meta"], here)
            except ValueError as e:
                raise ValueError(f"--lowdim-baseline {baseline}: {e}") from None
            if mode == "replication":
                raise ValueError(
                    f"--lowdim-baseline {baseline}: the baseline ran seed block "
                    f"{seed_block_text(rep['meta'])}, this run {seed_block_text(here)}: that is a "
                    "replication, not a regression check. Run without --lowdim-baseline and "
                    "compare the reports with `lowdim compare BASELINE reports/claims.json`, "
                    "which reports replicated / not replicated verdicts")
            run.baseline = rep
        return run

    def annotate(self, report: dict) -> bool:
        """Add seed block, shard and the baseline comparison to the report; True when a verdict
        changed (the session must fail)."""
        meta = report["meta"]
        meta["seed_block"] = seed_block(meta)
        meta["shard"] = ({"index": self.shard[0], "count": self.shard[1]}
                         if self.shard else None)
        if self.baseline is None:
            return False
        files = {file_of(r["test"]) for r in report["rows"]}
        self.comparison = compare(self.baseline, report, label=str(self.baseline_path),
                                  files=files)
        annotate(report, self.comparison)
        return self.comparison["failed"]

    def after_run(self, report: dict) -> None:
        """Save the baseline and the step summary (controller, after the report is built)."""
        if self.save_path is not None:
            save_baseline(report, self.save_path)
            self.messages.append(f"baseline written: {self.save_path} "
                                 f"({len(report['rows'])} rows)")
        if os.environ.get("GITHUB_STEP_SUMMARY") and any(
                r.get("claim") or r.get("evidence") for r in report["rows"]):
            p = write_step_summary(_report.render_markdown(report))
            if p is not None:
                self.messages.append(f"step summary appended to {p}")


def _resolve(path: str, root: Path) -> Path:
    p = Path(path)
    return p if p.is_absolute() else Path(root) / p
