"""A Python source's code without its prose: what a method hash and a run-cache key cover.

Both must change when code changes and stay put when a docstring, a comment or the layout does.
No torch here: lowdim.regress (the method hash) imports this without loading the engine.
"""

from __future__ import annotations

import ast


def normalised_source(source: str, test: str | None = None) -> str:
    """A claim module's code with docstrings and comments removed and layout normalised
    (ast.unparse), so that editing prose leaves it unchanged and editing code does not.
    With `test`, the module's other top-level test functions are dropped too: editing one test
    does not change its neighbours' methods (shared constants and helpers stay in)."""
    tree = ast.parse(source)
    if test is not None:
        tree.body = [
            n for n in tree.body
            if not (isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                    and n.name.startswith("test") and n.name != test)
        ]
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree)


def _bound_names(node: ast.stmt) -> set[str]:
    """Names a top-level statement binds (defs, classes, assignment targets, imports, and the
    same inside a compound statement such as `if` or `try`)."""
    names: set[str] = set()
    for n in ast.walk(node):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(n.name)
        elif isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            names.add(n.id)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in n.names)
    return names


def _used_names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def reachable_source(source: str, name: str) -> str:
    """The normalised code (see normalised_source) of a module restricted to what its top-level
    function or class `name` reaches: that definition, and transitively every top-level
    statement that binds a name it uses (constants, configs, helpers, imports), plus statements
    that bind nothing (they may act on import). Assertion messages are dropped too. So editing a
    docstring, a comment, an assert's message or a test the function does not call leaves the
    result unchanged, and editing any code the function depends on does not.
    ValueError when `name` is not defined at the top of the module; SyntaxError as ast.parse."""
    tree = ast.parse(normalised_source(source))
    for n in ast.walk(tree):
        if isinstance(n, ast.Assert):
            n.msg = None
    body = tree.body
    binds = [_bound_names(stmt) for stmt in body]
    roots = [i for i, b in enumerate(binds)
             if name in b and isinstance(body[i], (ast.FunctionDef, ast.AsyncFunctionDef,
                                                   ast.ClassDef))]
    if not roots:
        raise ValueError(f"{name!r} is not a top-level function or class of this module")
    keep = set(roots) | {i for i, b in enumerate(binds) if not b}
    todo = [body[i] for i in keep]
    while todo:
        used = _used_names(todo.pop())
        for i, b in enumerate(binds):
            if i not in keep and b & used:
                keep.add(i)
                todo.append(body[i])
    tree.body = [body[i] for i in sorted(keep)]
    return ast.unparse(tree)
