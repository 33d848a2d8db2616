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
