"""TypedDicts as a file format: check a JSON value against one, or write its JSON Schema.

Knows the few annotation forms the report's shapes use: str, int, float (an int is a float,
a bool is neither), bool, None, Any, Literal, X | Y, list[X], tuple[X, Y] (a JSON array of
that length), dict[str, X] and nested TypedDicts. Keys a TypedDict does not declare are left
alone (writers may add keys); a missing key is not an error here (older files lack newer keys).
Imports nothing of lowdim: report.schema, at the bottom of lowdim, builds on it.
"""

from __future__ import annotations

import functools
import json
import re
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
          type(None): "null"}
_JSON = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}
_FIELD = re.compile(r"^    (\w+)\s{2,}(\S.*)$")  # "    name   what it is" in a docstring


def _is_typeddict(tp) -> bool:
    return isinstance(tp, type) and typing.is_typeddict(tp)


@functools.cache
def _hints(td) -> dict[str, Any]:  # evaluating annotations is slow: once per TypedDict
    return get_type_hints(td)


def _arms(tp) -> tuple | None:
    """The arms of a union annotation, None for anything else."""
    if get_origin(tp) in (Union, types.UnionType):
        return get_args(tp)
    return None


def describe(tp) -> str:
    """What a value of annotation tp looks like, in words ('a number or null')."""
    if tp in _NAMES:
        return _NAMES[tp]
    if tp is Any:
        return "any value"
    if _is_typeddict(tp):
        return f"an object ({tp.__name__})"
    arms = _arms(tp)
    if arms is not None:
        return " or ".join(describe(a) for a in arms)
    origin, args = get_origin(tp), get_args(tp)
    if origin is Literal:
        return "one of " + ", ".join(json.dumps(a) for a in args)
    if origin is list:
        return "a list"
    if origin is tuple:
        return f"a list of {len(args)} items"
    if origin is dict:
        return "an object"
    raise TypeError(f"unsupported annotation {tp!r}")


def _brief(value) -> str:
    """A value as JSON spells it (true, null, "12"), cut short."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return f"{text[:60]}..." if len(text) > 63 else text


def _scalar_ok(value, tp) -> bool:
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is bool:
        return isinstance(value, bool)
    if tp is type(None):
        return value is None
    return isinstance(value, tp)


_EXACT = {float: (int, float), int: (int,), bool: (bool,), str: (str,),
          type(None): (type(None),)}  # the types json.load makes for each (bool is no int)


def _scalar_test(tp):
    """A one-argument predicate for a scalar annotation (or a union of scalars), else None."""
    arms = _arms(tp) or (tp,)
    if not all(a in _EXACT for a in arms):
        return None
    exact = frozenset(t for a in arms for t in _EXACT[a])
    return lambda v: type(v) in exact


def check(value, tp, where: str = "") -> tuple[str, str, str] | None:
    """The first place where value does not fit annotation tp, as (key path, what was expected,
    what was found), e.g. ('rows[3].evidence.n', 'an integer', "'12'"); None when it fits."""
    here = where or "(top level)"
    if tp is Any:
        return None
    if tp in _NAMES:
        return None if _scalar_ok(value, tp) else (here, describe(tp), _brief(value))
    arms = _arms(tp)
    if arms is not None:
        if value is None and type(None) in arms:
            return None
        rest = [a for a in arms if a is not type(None)]
        if len(rest) == 1:  # X | None and not None: say what is wrong inside X
            found = check(value, rest[0], where)
            if found is not None and found[0] == here:
                return here, describe(tp), found[2]
            return found
        if any(check(value, a, where) is None for a in rest):
            return None
        return here, describe(tp), _brief(value)
    origin, args = get_origin(tp), get_args(tp)
    if origin is Literal:
        ok = any(value == a and type(value) is type(a) for a in args)
        return None if ok else (here, describe(tp), _brief(value))
    if _is_typeddict(tp) or origin is dict:
        if not isinstance(value, dict):
            return here, describe(tp), _brief(value)
        if origin is dict:
            items = [(k, args[1]) for k in value]
        else:
            hints = _hints(tp)
            items = [(k, hints[k]) for k in value if k in hints]
        for key, sub in items:
            found = check(value[key], sub, f"{where}.{key}" if where else str(key))
            if found is not None:
                return found
        return None
    if origin in (list, tuple):
        if not isinstance(value, list):
            return here, describe(tp), _brief(value)
        if origin is tuple and len(value) != len(args):
            return here, describe(tp), f"{len(value)} items"
        fits = _scalar_test(args[0]) if origin is list else None
        if fits is not None and all(fits(v) for v in value):  # long per-seed lists: fast
            return None
        subs = args if origin is tuple else (args[0],) * len(value)
        for i, (v, sub) in enumerate(zip(value, subs)):
            found = check(v, sub, f"{where}[{i}]")
            if found is not None:
                return found
        return None
    raise TypeError(f"unsupported annotation {tp!r}")


def field_docs(td) -> dict[str, str]:
    """The field lines of a TypedDict's docstring: {name: text}, continuation lines joined."""
    out: dict[str, str] = {}
    name = None
    for line in (td.__doc__ or "").splitlines():
        m = _FIELD.match(line)
        if m:
            name = m.group(1)
            out[name] = m.group(2).strip()
        elif name and line.startswith("     ") and line.strip():
            out[name] += " " + line.strip()
        else:
            name = None
    return out


def _summary(td) -> str:
    return " ".join((td.__doc__ or "").split("\n\n")[0].split())


def _schema(tp, defs: dict, shapes: dict) -> dict:
    if tp is Any:
        return {}
    if tp in _JSON:
        return {"type": _JSON[tp]}
    if _is_typeddict(tp):
        if tp.__name__ not in defs:
            defs[tp.__name__] = {}  # a placeholder first: the shapes may refer to each other
            defs[tp.__name__] = _object(tp, defs, shapes)
        return {"$ref": f"#/$defs/{tp.__name__}"}
    arms = _arms(tp)
    if arms is not None:
        parts = [_schema(a, defs, shapes) for a in arms]
        if all(set(p) == {"type"} for p in parts):
            return {"type": [p["type"] for p in parts]}
        return {"anyOf": parts}
    origin, args = get_origin(tp), get_args(tp)
    if origin is Literal:
        return {"enum": list(args)}
    if origin is list:
        return {"type": "array", "items": _schema(args[0], defs, shapes)}
    if origin is tuple:
        return {"type": "array", "prefixItems": [_schema(a, defs, shapes) for a in args],
                "minItems": len(args), "maxItems": len(args)}
    if origin is dict:
        return {"type": "object", "additionalProperties": _schema(args[1], defs, shapes)}
    raise TypeError(f"unsupported annotation {tp!r}")


def _reachable(tp, seen: dict) -> None:
    """Every TypedDict inside annotation tp, by class name, into seen."""
    if _is_typeddict(tp):
        if tp.__name__ in seen:
            return
        seen[tp.__name__] = tp
        for sub in _hints(tp).values():
            _reachable(sub, seen)
    for arg in get_args(tp):
        _reachable(arg, seen)


def _docs(td, shapes: dict) -> dict[str, str]:
    """td's field docs; a field it inherits from another shape (a TypedDict whose fields td
    has with the same types: its base class, which TypedDicts do not keep) takes that doc."""
    hints, docs = _hints(td), {}
    for other in shapes.values():
        theirs = _hints(other)
        if other is not td and set(theirs) < set(hints) and all(
                hints[k] == v for k, v in theirs.items()):
            docs.update(field_docs(other))
    return {**docs, **field_docs(td)}


def _object(td, defs: dict, shapes: dict) -> dict:
    docs = _docs(td, shapes)
    props = {}
    for key, tp in _hints(td).items():
        props[key] = _schema(tp, defs, shapes)
        if key in docs:
            props[key] = {"description": docs[key], **props[key]}
    out = {"type": "object", "description": _summary(td), "properties": props}
    required = [k for k in _hints(td) if k in td.__required_keys__]
    if required:
        out["required"] = required
    return out


def schema_of(td, *, title: str) -> dict:
    """The JSON Schema (draft 2020-12) of TypedDict td: td's object at the top, every nested
    TypedDict in $defs by its class name; descriptions from the docstrings' field lines."""
    shapes: dict[str, Any] = {}
    _reachable(td, shapes)
    defs: dict[str, dict] = {}
    top = _object(td, defs, shapes)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": title,
            **top, "$defs": dict(sorted(defs.items()))}
