"""The JSON Schema (draft 2020-12) of claims.json, made from report.schema's TypedDicts, and
the ranges of its numbers.

Each TypedDict becomes an object in $defs (the top one, Report, is the schema itself), with
its keys' types, its required keys, its docstring as the description and each field's comment
(`name: type  # what it is`) as that field's description; a number of RANGES gets its minimum
and maximum. Published as docs/claims.schema.json: `python -m lowdim.report
docs/claims.schema.json` writes it and tests/test_schema.py checks that the published file is
what json_schema() makes now. The readers of lowdim.regress check the ranges as they load a
report (schema.check_report(..., extra=in_range)).
"""

from __future__ import annotations

import ast
import functools
import inspect
import json
from typing import Any, Literal, get_args, get_origin

from . import schema
from .schema import Report, arms, atomic_write, hints

_JSON = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}
TITLE = "lowdim claims report (claims.json)"
MAX_SHARDS = 1000  # the largest N of --lowdim-shard I/N (and of the shards `lowdim merge` joins)
# (shape, field) -> (low, high) of a number, None: open. Published as minimum / maximum; the
# readers of lowdim.regress check them (schema.check_report(..., extra=in_range)).
RANGES: dict[tuple[str, str], tuple[float | None, float | None]] = {
    ("EvidenceDict", "n"): (0, None), ("EvidenceDict", "p"): (0, 1),
    ("EvidenceDict", "p_opposite"): (0, 1), ("EvidenceDict", "alpha"): (0, 1),
    ("Row", "duration_s"): (0, None), ("Row", "cached_s"): (0, None), ("Row", "p_holm"): (0, 1),
    ("Fragility", "flips"): (0, None), ("SeedsToDecide", "seeds"): (1, None),
    ("SeedsToDecide", "power"): (0, 1), ("SeedsToDecide", "target_power"): (0, 1),
    ("SeedsToDecide", "max_seeds"): (1, None), ("VsBaseline", "n"): (0, None),
    ("VsBaseline", "n_changed"): (0, None), ("Options", "seeds"): (1, None),
    ("Options", "seed_offset"): (0, None), ("Options", "threads"): (1, None),
    ("Options", "timeout"): (0, None), ("Meta", "wall_time_s"): (0, None),
    ("Meta", "xdist_workers"): (0, None), ("Meta", "n_decisions"): (0, None),
    ("Meta", "shard_count"): (1, MAX_SHARDS), ("Shard", "index"): (1, MAX_SHARDS),
    ("Shard", "count"): (1, MAX_SHARDS), ("SeedBlock", "offset"): (0, None),
    ("MergedFrom", "n_rows"): (0, None),
}


def in_range(shape, key: str, value, where: str) -> tuple[str, str, str] | None:
    """schema.check's `extra`: (key path, expected, found) for a number of a field in RANGES
    outside its range, e.g. ('meta.shard.count', 'a number from 1 to 1000', '10000000');
    None otherwise (null and other types are check's own business)."""
    lo, hi = RANGES.get((getattr(shape, "__name__", ""), key), (None, None))
    if type(value) not in (int, float) or ((lo is None or value >= lo)
                                           and (hi is None or value <= hi)):
        return None
    expected = (f"a number from {lo} to {hi}" if lo is not None and hi is not None
                else f"a number >= {lo}" if lo is not None else f"a number <= {hi}")
    return where, expected, json.dumps(value)


@functools.cache
def field_docs() -> dict[str, dict[str, str]]:
    """{class name: {field: its comment}} of report.schema's classes, inherited fields
    included (a TypedDict does not keep its bases, so they are read from the source)."""
    try:
        source = inspect.getsource(schema)
    except OSError:  # no source (e.g. a zipped install): a schema without field descriptions
        return {}
    lines = source.splitlines()
    own: dict[str, dict[str, str]] = {}
    bases: dict[str, list[str]] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef):
            bases[node.name] = [b.id for b in node.bases if isinstance(b, ast.Name)]
            own[node.name] = {s.target.id: lines[s.lineno - 1].partition("  # ")[2].strip()
                              for s in node.body if isinstance(s, ast.AnnAssign)
                              and isinstance(s.target, ast.Name)}

    def docs(name: str) -> dict[str, str]:
        inherited = [docs(b) for b in bases.get(name, [])]
        return {k: v for d in [*inherited, own.get(name, {})] for k, v in d.items()}

    return {name: docs(name) for name in own}


def _is_shape(tp) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict)


def _schema(tp, defs: dict) -> dict:
    if tp is Any:
        return {}
    if tp in _JSON:
        return {"type": _JSON[tp]}
    if _is_shape(tp):
        if tp.__name__ not in defs:
            defs[tp.__name__] = {}  # a placeholder first: shapes may refer to each other
            defs[tp.__name__] = _object(tp, defs)
        return {"$ref": f"#/$defs/{tp.__name__}"}
    origin, args = get_origin(tp), get_args(tp)
    if arms(tp):
        parts = [_schema(a, defs) for a in arms(tp)]
        if all(set(p) == {"type"} for p in parts):
            return {"type": [p["type"] for p in parts]}
        return {"anyOf": parts}
    if origin is Literal:
        return {"enum": list(args)}
    if origin is list:
        return {"type": "array", "items": _schema(args[0], defs)}
    if origin is tuple:
        return {"type": "array", "prefixItems": [_schema(a, defs) for a in args],
                "minItems": len(args), "maxItems": len(args)}
    if origin is dict:
        return {"type": "object", "additionalProperties": _schema(args[1], defs)}
    raise TypeError(f"{tp!r}: an annotation report.publish does not know; add it here and to "
                    "report.schema.check")


def _object(shape, defs: dict) -> dict:
    docs = field_docs().get(shape.__name__, {})
    props = {}
    for key, tp in hints(shape).items():
        props[key] = {"description": docs[key]} if docs.get(key) else {}
        props[key].update(_schema(tp, defs))
        lo, hi = RANGES.get((shape.__name__, key), (None, None))
        props[key].update({k: v for k, v in (("minimum", lo), ("maximum", hi)) if v is not None})
    out = {"type": "object", "description": " ".join((shape.__doc__ or "").split()),
           "properties": props}
    required = [k for k in hints(shape) if k in shape.__required_keys__]
    return {**out, "required": required} if required else out


def json_schema() -> dict:
    """The JSON Schema of a claims.json: Report at the top, every other shape in $defs."""
    defs: dict[str, dict] = {}
    top = _object(Report, defs)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": TITLE, **top,
            "$defs": dict(sorted(defs.items()))}


def schema_text() -> str:
    """json_schema() as the published file holds it."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def write_json_schema(path) -> None:
    atomic_write(path, schema_text())


__all__ = ["MAX_SHARDS", "RANGES", "TITLE", "field_docs", "in_range", "json_schema",
           "schema_text", "write_json_schema"]
