"""Which part of a suite a run covered, and runs put together: the files of a shard, the seed
block, and one report from the reports of a run's shards (or of disjoint runs of one suite).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..report import write
from ..report.publish import MAX_SHARDS
from ..report.schema import Meta, Report, Row, SeedBlock
from ..stats import holm

OUTPUT_OPTIONS = ("report_dir", "write")  # options that change where a report goes, not a row


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """'I/N' -> (I, N), 1 <= I <= N <= MAX_SHARDS; None stays None."""
    if text is None:
        return None
    try:
        i, n = (int(part) for part in str(text).split("/"))
    except ValueError:
        raise ValueError(f"--lowdim-shard: got {text!r}; need I/N, e.g. 2/4") from None
    if not 1 <= i <= n:
        raise ValueError(f"--lowdim-shard: got {text!r}; need 1 <= I <= N, e.g. 2/4")
    if n > MAX_SHARDS:
        raise ValueError(f"--lowdim-shard: got {text!r}; need N <= {MAX_SHARDS}")
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


def seed_block_text(meta: Meta) -> str:
    """The seeds a run ran, e.g. '0..n-1' (n = each claim's own count) or '100..131'."""
    opts = meta.get("options") or {}
    k, n = int(opts.get("seed_offset") or 0), opts.get("seeds")
    if n is not None:
        return f"{k}..{k + int(n) - 1}"
    return f"{k}..{k}+n-1" if k else "0..n-1"


def seed_block(meta: Meta) -> SeedBlock:
    """meta["seed_block"]: which seeds ran (n = each claim's own seed count)."""
    opts = meta.get("options") or {}
    return {"offset": int(opts.get("seed_offset") or 0), "seeds": opts.get("seeds"),
            "text": f"{seed_block_text(meta)} of each claim (n = its own seed count)"
            if opts.get("seeds") is None else f"{seed_block_text(meta)} for every claim"}


def _combined_exitstatus(codes: list[int]) -> int:
    # 5 = no tests collected: fine for one shard if another has tests
    bad = [c for c in codes if c not in (0, 5)]
    if bad:
        return max(bad)
    return 0 if 0 in codes else 5


def apply_holm(rows: list[Row]) -> int:
    """Holm-adjusted p over the rows' decisions (as the plugin does); returns n_decisions."""
    decided = [r for r in rows if r.get("evidence") and r["evidence"].get("p") is not None]
    for r in rows:
        r.pop("p_holm", None)
    for r, p_adj in zip(decided, holm([r["evidence"]["p"] for r in decided])):
        r["p_holm"] = float(p_adj)
    return len(decided)


def merge(inputs: Sequence[tuple[str, Report]]) -> Report:
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
        if sh is not None and not (isinstance(sh, dict) and all(
                type(sh.get(k)) is int and 1 <= sh[k] <= MAX_SHARDS for k in ("index", "count"))):
            raise ValueError(f"{path}: meta.shard: expected index and count from 1 to "
                             f"{MAX_SHARDS}, got {str(sh)[:60]}; merge reports of --lowdim-shard")
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
    rows: dict[str, Row] = {}
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
    meta.pop("incomplete", None)  # a shard is incomplete by design; the merge may be complete
    why = [f"{path}: {r['meta']['incomplete']}" for path, r in inputs
           if r["meta"].get("incomplete") and not r["meta"]["incomplete"].startswith("it is shard")]
    if shards:
        count = m0["shard"]["count"]
        missing = sorted(set(range(1, count + 1)) - set(shards))
        meta["shard_count"], meta["shards_missing"] = count, missing
        if missing:
            why.insert(0, f"shard(s) {', '.join(map(str, missing))} of {count} are missing")
    if why:
        meta["incomplete"] = "; ".join(why)
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


def write_report_files(report: Report, json_path: str | os.PathLike) -> dict[str, Path]:
    """Write report as JSON_PATH and its .md / .csv renderings beside it (same stem); a path
    named claims.json gets every rendering `pytest` writes (report.write)."""
    p = Path(json_path)
    if p.suffix != ".json":
        raise ValueError(f"OUT: got {p}; need a .json path (its .md and .csv go beside it)")
    return write(report, p.parent, name=p.name)


__all__ = ["OUTPUT_OPTIONS", "apply_holm", "file_of", "merge", "parse_shard", "seed_block",
           "seed_block_text", "shard_files", "split_shard", "write_report_files"]
