"""Fuzz the one JSON loader (report.schema.parse_json / load_report, regress.load_baseline, the
journal's load_journal): random, truncated, deep, huge and damaged inputs.

The property: a file either loads, and then every reader of a loaded report works on it (a
comparison with it never raises), or the loader raises ValueError in one line that names the
file. Never a RecursionError, OverflowError, KeyError, TypeError or MemoryError.
"""

import copy
import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lowdim as ld
from lowdim import regress
from lowdim.plugin import journal
from lowdim.report import schema

FUZZ = settings(max_examples=60, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow,
                                       HealthCheck.function_scoped_fixture])


def valid_report() -> dict:
    rows = []
    for i, values in enumerate((np.linspace(0.5, 1.0, 12), np.linspace(-1.0, 2.0, 9))):
        ev = ld.location(values, threshold=0.0).to_dict()
        rows.append({"test": f"t.py::x[{i}]", "claim": "c", "statement": "s", "source": "src",
                     "outcome": "passed", "evidence": ev, "conditions": {"k": i, "lr": 0.1},
                     "duration_s": 0.5, "reproduce": "pytest t.py", "method_hash": "m",
                     "seeds": [0, len(values) - 1], "p_holm": 0.5,
                     "fragility": {"log10_p_alpha": -2.0, "flips": 3, "flips_to": "REFUTED",
                                   "move": "-"}})
    return {"schema_version": 1, "rows": rows, "claims": {"c": {"statement": "s"}},
            "meta": {"options": {"profile": "quick", "seed_offset": 0, "seeds": None},
                     "versions": {"torch": "x"}, "git_commit": "abc", "device": "cpu",
                     "exitstatus": 0, "shard": None, "numerics": "aaaaaaaaaaaa"}}


def loads_or_says_why(path) -> dict | None:
    """load_baseline's report, or None after checking its error is one line naming path."""
    try:
        return regress.load_baseline(path, option="BASELINE")
    except ValueError as e:
        text = str(e)
        assert "\n" not in text and text.startswith(f"BASELINE {path}"), text
        return None


def works_when_loaded(path) -> None:
    rep = loads_or_says_why(path)
    if rep is not None:  # nothing a loaded report holds may make a reader raise later
        regress.compare(rep, rep)
        regress.compare(rep, valid_report())
        regress.merge([("a", rep)])


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5)
    | st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([10**400, 1e300, -0.0]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=4),
    max_leaves=20)


@FUZZ
@given(value=JSON)
def test_random_json_loads_or_says_why_in_one_line(tmp_path, value):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(value))
    works_when_loaded(path)


@FUZZ
@given(data=st.binary(max_size=200))
def test_random_bytes_are_refused_in_one_line(tmp_path, data):
    path = tmp_path / "r.json"
    path.write_bytes(data)
    assert loads_or_says_why(path) is None


@FUZZ
@given(cut=st.floats(0.0, 0.999))
def test_a_truncated_report_is_refused_in_one_line(tmp_path, cut):
    text = json.dumps(valid_report())
    path = tmp_path / "r.json"
    path.write_text(text[: int(cut * len(text))])
    assert loads_or_says_why(path) is None


@FUZZ
@given(depth=st.integers(1, 20_000), opener=st.sampled_from(['[', '{"a": ']))
def test_deep_nesting_is_refused_in_one_line_without_recursion(tmp_path, depth, opener):
    closer = "]" if opener == "[" else "}"
    path = tmp_path / "r.json"
    path.write_text(f'{{"schema_version": 1, "meta": {{}}, "rows": [], "x": '
                    f'{opener * depth}1{closer * depth}}}')
    rep = loads_or_says_why(path)
    assert (rep is not None) == (depth < schema.MAX_DEPTH)


def paths_of(value, at=()):
    """Every key path into a JSON value."""
    yield at
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(
        value, list) else ()
    for k, v in items:
        yield from paths_of(v, (*at, k))


PATHS = list(paths_of(valid_report()))[1:]


@FUZZ
@given(where=st.sampled_from(PATHS), value=JSON)
def test_a_damaged_report_loads_or_names_the_key(tmp_path, where, value):
    rep = copy.deepcopy(valid_report())
    target = rep
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    path = tmp_path / "r.json"
    path.write_text(json.dumps(rep))
    works_when_loaded(path)


@pytest.mark.parametrize("huge", ["1e400", "-1e999", "Infinity", "NaN", str(10**400), "1e200"])
@pytest.mark.parametrize("where", [("rows", 0, "evidence", "values", 3),
                                   ("rows", 1, "conditions", "lr"), ("meta", "wall_time_s")],
                         ids=["per-seed-value", "condition", "meta"])
def test_a_huge_number_anywhere_is_refused_naming_its_key(tmp_path, huge, where):
    rep = valid_report()
    target = rep
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = "@HUGE@"
    path = tmp_path / "r.json"
    path.write_text(json.dumps(rep).replace('"@HUGE@"', huge))
    key = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in where).lstrip(".")
    with pytest.raises(ValueError) as info:
        schema.load_report(path)
    assert str(info.value).startswith(f"{path}: {key}: expected a number within ±1e+150, got ")
    assert "\n" not in str(info.value)


@FUZZ
@given(lines=st.lists(st.one_of(
    JSON.map(json.dumps), st.text(max_size=30),
    st.fixed_dictionaries({"lowdim_journal": JSON, "pid": JSON, "started": JSON,
                           "args": JSON}).map(json.dumps),
    st.sampled_from([json.dumps(valid_report()["rows"][0]), '{"test": "t", "outcome": 5}'])),
    max_size=6))
def test_a_damaged_journal_never_stops_a_later_run(tmp_path, lines):
    path = tmp_path / f".claims.journal.{2**22 + 12345}.jsonl"  # a pid no process has
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    header, rows = journal.load_journal(path)
    assert all(isinstance(header.get(k), t) for k, t in (("pid", int), ("started", str),
                                                         ("args", list)) if k in header)
    assert all(schema.check(r, schema.Row) is None for r in rows)
    note = journal.recover_journal(path)  # moves it aside, or deletes an empty one
    assert not path.exists()
    if note is not None:
        kept = [p for p in os.listdir(tmp_path) if p.startswith("claims.crashed-")]
        assert len(kept) == 1 and "/" not in kept[0] and f"{len(rows)} completed" in note
        os.unlink(tmp_path / kept[0])
