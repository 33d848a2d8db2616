"""lowdim's layout: five rooms whose imports point down, no cycles, no private names across
modules, no module over ~400 lines, and no torch for the commands that only read reports.

The rooms and what each may import (lowdim/__init__.py and each room's __init__ say the same in
words). report/schema.py is the bottom of all: every room may import it, it imports nothing.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parent.parent / "lowdim"
ROOMS = ("engine", "stats", "report", "regress", "plugin")
MAY_IMPORT = {  # room -> the rooms (or single modules) below it that it may import
    "schema": set(),
    "engine": set(),
    "stats": {"schema"},
    "report": {"schema", "stats"},
    "regress": {"schema", "stats", "report", "lowdim.engine.source"},
    "plugin": {"schema", "stats", "report", "regress", "engine"},
    "top": {"schema", "stats", "report", "regress", "engine", "plugin"},
}
MAX_LINES = 420  # "no module over ~400 lines"


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(LIB.rglob("*.py")):
        parts = path.relative_to(LIB.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _room(module: str) -> str:
    if module == "lowdim.report.schema":
        return "schema"
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ROOMS else "top"


def _package(module: str) -> str:
    path = MODULES[module]
    return module if path.name == "__init__.py" else module.rsplit(".", 1)[0]


def _aliases(module: str, tree: ast.AST):
    """(alias, imported lowdim module or None, imported name or None, line) for every name of
    every import in the tree, at the top or inside a function: a name that is itself a module
    counts as that module; targets outside lowdim are None."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a, (a.name if a.name in MODULES else None), None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package(module).split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for a in node.names:
                sub = f"{target}.{a.name}"
                if target not in MODULES:
                    yield a, None, None, node.lineno
                elif sub in MODULES:
                    yield a, sub, None, node.lineno
                else:
                    yield a, target, a.name, node.lineno


def _imports(module: str) -> list[tuple[str, str | None, int]]:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    return [(t, name, line) for _, t, name, line in _aliases(module, tree) if t is not None]


def test_every_module_is_in_a_room_or_at_the_top():
    top = {m for m in MODULES if _room(m) == "top"}
    assert top == {"lowdim", "lowdim.__main__", "lowdim.cli", "lowdim.scaffold"}


def test_imports_point_down_only():
    wrong = []
    for module in MODULES:
        room = _room(module)
        for target, _, line in _imports(module):
            there = _room(target)
            if there == room or there in MAY_IMPORT[room] or target in MAY_IMPORT[room]:
                continue
            wrong.append(f"{module}:{line} ({room}) imports {target} ({there})")
    assert not wrong, "imports that point up or sideways:\n" + "\n".join(wrong)


def test_no_private_name_is_imported_from_another_module():
    wrong = []
    for module in MODULES:
        for target, name, line in _imports(module):
            leaf = target.rsplit(".", 1)[-1]
            if name is not None and name.startswith("_") and not name.startswith("__") and (
                    target != module):
                wrong.append(f"{module}:{line} imports {name} from {target}")
            elif leaf.startswith("_") and not leaf.startswith("__") and (
                    _room(target) != _room(module) or _room(module) == "top"):
                wrong.append(f"{module}:{line} imports {target}, private to its room")
    assert not wrong, "\n".join(wrong)


def test_no_private_attribute_of_another_lowdim_module_is_used():
    """`from . import power as _power` then `_power._page_verdict(...)` is a private name used
    across modules just as an import of it would be."""
    wrong = []
    for module in MODULES:
        tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
        bound = {(a.asname or a.name).split(".")[0]: t
                 for a, t, name, _ in _aliases(module, tree) if t is not None and name is None}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and bound.get(node.value.id, module) != module
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                wrong.append(f"{module}:{node.lineno} uses {bound[node.value.id]}.{node.attr}")
    assert not wrong, "\n".join(wrong)


def test_the_import_graph_has_no_cycle():
    graph = {m: sorted({t for t, _, _ in _imports(m) if t != m}) for m in MODULES}
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    cycles = []

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        stack.append(m)
        for t in graph[m]:
            if state.get(t) == 1:
                cycles.append(stack[stack.index(t):] + [t])
            elif t not in state:
                visit(t, stack)
        stack.pop()
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [])
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_no_module_is_over_about_400_lines():
    long = {m: n for m, p in MODULES.items()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, long


def test_the_public_api_is_one_sorted_list_that_resolves():
    import lowdim as ld

    assert ld.__all__ == sorted(ld.__all__)
    for name in ld.__all__:
        assert getattr(ld, name) is not None, name
    assert not [n for n in ld.__all__ if n.startswith("_")]


def _python(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **env})


def test_importing_lowdim_and_its_report_rooms_loads_no_torch():
    code = ("import sys, lowdim, lowdim.report, lowdim.regress, lowdim.stats, lowdim.cli, "
            "lowdim.report.figures, lowdim.report.html; lowdim.report.render_markdown; "
            "lowdim.stats.power; print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))")
    out = _python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


CLAIM = '''
import pytest

import lowdim as ld

pytestmark = pytest.mark.claim("layout", statement="-", source="-")


@pytest.mark.parametrize("k", [5, 6])
def test_most_seeds_pass(claim, k):
    claim.record(ld.proportion([True] * k, threshold=0.1), k=k)
'''


@pytest.mark.slow  # subprocess runs: skipped by the inner loop (-m 'not slow')
def test_the_report_commands_load_no_torch(pytester):
    pytester.makepyfile(test_layout_claim=CLAIM)
    pytester.runpytest_subprocess("-n", "0", "--lowdim-report-dir", "out").assert_outcomes(
        passed=2)
    report = pytester.path / "out" / "claims.json"
    runs = {
        "report": ["report", str(report), "--out", str(pytester.path / "again")],
        "compare": ["compare", str(report), str(report)],
        "merge": ["merge", str(pytester.path / "merged.json"), str(report)],
        "new": ["new", "layout-probe", "--dir", str(pytester.path / "new")],
    }
    # One child runs the commands in turn and notes after each what of torch it has loaded.
    probe = ("import json, sys\nfrom lowdim.cli import main\nout = {}\n"
             f"for name, args in {runs!r}.items():\n"
             "    out[name] = [main(args), sorted(m for m in sys.modules if m.startswith('torch'))]\n"
             "print(json.dumps(out))")
    out = _python(probe, LOWDIM_FIGURES="0")
    assert out.returncode == 0, out.stderr
    for command, (code, torch_modules) in json.loads(out.stdout.strip().splitlines()[-1]).items():
        assert code == 0, (command, out.stdout, out.stderr)
        assert torch_modules == [], f"lowdim {command} imported {torch_modules[:3]}"


@pytest.mark.parametrize("old, new", [("lowdim.ntk", "lowdim.engine.ntk"),
                                      ("lowdim.sequential", "lowdim.stats.sequential")])
def test_old_module_paths_still_import_with_a_deprecation_warning(old, new):
    out = _python(f"import warnings; warnings.simplefilter('error', DeprecationWarning)\n"
                  f"try:\n    import {old}\nexcept DeprecationWarning as e:\n    print(e)")
    assert new in out.stdout, out.stderr
    out = _python(f"import importlib, {old}; print(importlib.import_module('{old}').__name__)")
    assert out.stdout.strip() == new, out.stderr
