"""Command line: `python -m lowdim <command>` (also installed as the `lowdim` script).

    report PATH [--out DIR] [--per-seed CSV]   re-render claims.md / .csv / .html and
                              figures/ from a claims.json, no training; --per-seed also writes
                              one row per test and seed (lowdim.read_report) as CSV
    compare BASELINE REPORT   row by row: verdict changed / drift / claim changed / new / vanished
                              (exit 1 when a verdict changed for an unchanged method); each a
                              path or a kept run: last, -2, a run number or id (`history`)
    history [--history-dir DIR]   the kept runs (reports/history), with their verdict counts
    costs REPORT.json... [--out FILE]   per claim: seeds, tests, CPU-seconds and share of the
                              total, as a Markdown table; several reports (quick and full)
                              side by side (docs/costs.md)
    merge OUT.json SHARD.json...  [--baseline PATH]   one report from the shards of a run
    robustness OWN.json NEIGHBOUR.json... [--out DIR]   the claim x neighbour verdict map of a
                              run at the claims' own setting and runs under --lowdim-perturb:
                              DIR/robustness.md, .json, .html (docs/robustness.md)
    new NAME [--dir claims]   write claims/test_<name>.py, a claim skeleton that passes
    calibrate [--runs N] [--json PATH] [--seed K]   simulate every decision rule: type-I error,
                              interval coverage, power, seeds used (exit 1 on a miss with --strict)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import regress as _baseline
from . import report as _report


def _cmd_report(args) -> int:
    rep = _report.load_report(args.path)
    out = Path(args.out) if args.out else Path(args.path).parent
    paths = _report.write_reports(rep, out)
    if args.per_seed:
        paths["per_seed"] = Path(args.per_seed)
        _report.atomic_write(paths["per_seed"], _report.csv_text(_report.read_report(rep)))
    print(_report.render_terminal(rep))
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0


def _cmd_costs(args) -> int:
    from .report.costs import render_costs

    text = render_costs([(p, _report.load_report(p)) for p in args.reports])
    print(text, end="")
    if args.out:
        _report.atomic_write(args.out, text)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _print_comparison(comparison: dict) -> None:
    for line, _ in _baseline.render_terminal(comparison):
        print(line)


def _cmd_compare(args) -> int:
    from .regress import history

    paths = [history.resolve(ref, args.history_dir) for ref in (args.baseline, args.report)]
    base = _baseline.load_baseline(paths[0], option="BASELINE")
    new = _baseline.load_baseline(paths[1], option="REPORT")
    label = str(paths[0]) if str(paths[0]) == args.baseline else f"{args.baseline} ({paths[0]})"
    comparison = _baseline.compare(base, new, label=label)
    _print_comparison(comparison)
    _baseline.annotate(new, comparison)
    _baseline.write_step_summary(f"# lowdim compare\n{_report.render_section(new['meta'])}")
    return 1 if comparison["failed"] else 0


def _cmd_merge(args) -> int:
    out = Path(args.out)
    if any(out.resolve() == Path(s).resolve() for s in args.shards):
        raise ValueError(f"OUT {out}: is one of the inputs; write the merged report elsewhere")
    merged = _baseline.merge([(s, _baseline.load_baseline(s, option="SHARD")) for s in args.shards])
    comparison = None
    if args.baseline:
        base = _baseline.load_baseline(args.baseline, option="--baseline")
        comparison = _baseline.compare(base, merged, label=args.baseline)
        _baseline.annotate(merged, comparison)
    paths = _baseline.write_report_files(merged, out)
    print(_report.render_terminal(merged))
    if merged["meta"].get("shards_missing"):
        print(f"lowdim merge: warning: shards {merged['meta']['shards_missing']} of "
              f"{merged['meta']['shard_count']} are missing", file=sys.stderr)
    if comparison is not None:
        _print_comparison(comparison)
    print(f"wrote {', '.join(str(p) for p in paths.values())} "
          f"({len(merged['rows'])} rows from {len(args.shards)} reports)")
    _baseline.write_step_summary(_report.render_markdown(merged))
    return 1 if comparison is not None and comparison["failed"] else 0


def _cmd_history(args) -> int:
    from .regress import history

    for line in history.render_history(args.history_dir):
        print(line)
    return 0


def _cmd_robustness(args) -> int:
    from .report.robustmap import write_map
    from .report.robustness import build, render_summary

    runs = [_baseline.load_baseline(p, option="RUN") for p in args.runs]
    own = [i for i, r in enumerate(runs) if not (r["meta"].get("options") or {}).get("perturb")]
    if len(own) != 1:
        raise ValueError(f"RUN: need exactly one run at the claims' own setting (no "
                         f"--lowdim-perturb) among the {len(runs)} given, found {len(own)}")
    order = own + [i for i in range(len(runs)) if i not in own]
    rmap = build(runs[order[0]], [runs[i] for i in order[1:]],
                 paths=[args.runs[i] for i in order])
    paths = write_map(rmap, Path(args.out))
    print(render_summary(rmap))
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0


def _cmd_new(args) -> int:
    from . import scaffold

    path = scaffold.new_claim(args.name, args.dir)
    print(f"wrote {path}: fill in its docstring and constants, then run `pytest {path} -n 0`")
    return 0


def _cmd_calibrate(args) -> int:
    from .stats import calibrate

    return calibrate.run_cli(args)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="lowdim", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("report", help="re-render md/csv/html and figures from a claims.json")
    p.add_argument("path", help="a claims.json written by `pytest claims`")
    p.add_argument("--out", help="folder for the rendered files (default: beside PATH)")
    p.add_argument("--per-seed", metavar="CSV", help="also write one row per test and seed "
                   "(claim, test, conditions, seed, value, verdict, outcome, run) to this CSV")
    p.set_defaults(func=_cmd_report)
    p = sub.add_parser("compare", help="compare a report with a baseline, row by row")
    p.add_argument("baseline", help="the stored report (e.g. reports/baseline.json, last, -2)")
    p.add_argument("report", help="the new report (e.g. reports/claims.json)")
    p.add_argument("--history-dir", default="reports/history", metavar="DIR",
                   help="where kept runs are (default reports/history); BASELINE and REPORT "
                        "may each be last, -K, a run number or id there, or a path")
    p.set_defaults(func=_cmd_compare)
    p = sub.add_parser("history", help="list the kept runs with their verdict counts")
    p.add_argument("--history-dir", default="reports/history", metavar="DIR",
                   help="where kept runs are (default reports/history)")
    p.set_defaults(func=_cmd_history)
    p = sub.add_parser("costs", help="per-claim cost table (seeds, tests, CPU-s, share)")
    p.add_argument("reports", nargs="+", metavar="REPORT.json", help="claims.json files, e.g. "
                   "of a quick and a full run, shown side by side")
    p.add_argument("--out", metavar="FILE", help="also write the Markdown table to FILE")
    p.set_defaults(func=_cmd_costs)
    p = sub.add_parser("merge", help="merge the claims.json of shards into one report")
    p.add_argument("out", help="the merged report, a .json path (.md and .csv go beside it)")
    p.add_argument("shards", nargs="+", help="the shards' claims.json files")
    p.add_argument("--baseline", help="also compare the merged report with this baseline "
                                      "(exit 1 when a verdict changed)")
    p.set_defaults(func=_cmd_merge)
    p = sub.add_parser("robustness", help="map verdicts at the own setting and its neighbours")
    p.add_argument("runs", nargs="+", metavar="RUN.json", help="claims.json of one run at the "
                   "claims' own setting and of runs under --lowdim-perturb")
    p.add_argument("--out", default="reports", help="folder for robustness.md, .json, .html "
                   "(default reports/)")
    p.set_defaults(func=_cmd_robustness)
    p = sub.add_parser("new", help="write claims/test_<NAME>.py, a passing claim skeleton")
    p.add_argument("name", help="the claim id, e.g. wide-nets-fit-better")
    p.add_argument("--dir", default="claims", help="the claims folder (default claims/)")
    p.set_defaults(func=_cmd_new)
    p = sub.add_parser("calibrate", help="simulate each decision rule: type-I, coverage, power")
    p.add_argument("--runs", type=int, default=2000, help="simulated runs per case (default 2000)")
    p.add_argument("--json", help="also write the records (a JSON list) to this path")
    p.add_argument("--seed", type=int, default=0, help="simulation seed (default 0)")
    p.add_argument("--alpha", type=float, default=0.01, help="level of every rule (default 0.01)")
    p.add_argument("--n", type=int, nargs="+", default=[10, 30], help="seed counts (default 10 30)")
    p.add_argument("--rules", nargs="+", help="only these rules (default: all)")
    p.add_argument("--strict", action="store_true", help="exit 1 when a rule misses a check")
    p.set_defaults(func=_cmd_calibrate)
    args = ap.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as e:
        print(f"lowdim {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
