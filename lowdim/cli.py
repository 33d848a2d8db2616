"""Command line: `python -m lowdim <command>` (also installed as the `lowdim` script).

    report PATH [--out DIR]   re-render claims.md / claims.csv from a claims.json, no training
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import report as _report


def _cmd_report(args) -> int:
    rep = _report.load_report(args.path)
    out = Path(args.out) if args.out else Path(args.path).parent
    paths = _report.write_reports(rep, out)
    print(_report.render_terminal(rep))
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="lowdim", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("report", help="re-render md/csv from a claims.json")
    p.add_argument("path", help="a claims.json written by `pytest claims`")
    p.add_argument("--out", help="folder for the rendered files (default: beside PATH)")
    p.set_defaults(func=_cmd_report)
    args = ap.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as e:
        print(f"lowdim {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
