"""The shape of claims.json (lowdim.report.schema): the published JSON Schema, real reports
against it, and load_report's type check.

The reports here come from pytester sessions of a tiny claim file that records Evidence of
every kind from fixed numpy arrays (no training), compared with a baseline and merged.
"""

import copy
import json
import re
import typing
from pathlib import Path

import pytest

from lowdim import regress
from lowdim.report import json_schema, schema

jsonschema = pytest.importorskip("jsonschema", reason="needs jsonschema (lowdim[dev])")

PUBLISHED = Path(__file__).resolve().parents[1] / "docs" / "claims.schema.json"

CLAIM_FILE = '''
import numpy as np
import pytest

import lowdim as ld

pytestmark = pytest.mark.claim("demo", statement="most seeds succeed", source="tests")
A = np.linspace(0.8, 1.0, 16)


def test_proportion(claim):
    seeds = claim.seeds(20)
    curves = {"loss": {"x": np.arange(100), "y": np.ones((len(seeds), 100)), "ylabel": "loss"}}
    ev = claim.record(ld.proportion(np.arange(len(seeds)) < 18, threshold=0.5), curves=curves)
    assert ev.supported, ev


@pytest.mark.parametrize("gain", [0.05, 0.1])
def test_paired(claim, gain):
    ev = claim.record(ld.paired(A + gain, A), arm="wide")
    assert ev.supported, ev


def test_trend(claim):
    table = np.arange(48.0).reshape(16, 3) + np.linspace(0, 0.5, 48).reshape(16, 3)
    ev = claim.record(ld.trend(table, conditions=["k=1", "k=2", "k=3"]))
    assert ev.supported, ev


@pytest.mark.xfail(strict=True, reason="the values do not reach the threshold")
def test_location_does_not_hold(claim):
    ev = claim.record(ld.location(A, threshold=0.95))
    assert ev.supported, ev


def test_equivalence(claim):
    claim.record(ld.equivalence(A - A.mean(), margin=0.2))


def test_no_evidence():
    pass
'''


def run(pytester, *args) -> dict:
    result = pytester.runpytest_inprocess("--lowdim-report-dir=out", "-p", "no:cacheprovider",
                                          "-p", "no:randomly", "-n", "0", *args)
    result.assert_outcomes(passed=6, xfailed=1)
    return json.loads((pytester.path / "out" / "claims.json").read_text())


def strict(schema_: dict) -> dict:
    """The schema with no undeclared keys allowed in any declared object (details, conditions
    and other free-form dicts stay free)."""
    out = copy.deepcopy(schema_)
    for obj in [out, *out["$defs"].values()]:
        obj["additionalProperties"] = False
    return out


def test_the_published_schema_is_the_one_the_typeddicts_make():
    assert PUBLISHED.is_file(), "write it: python -m lowdim.report docs/claims.schema.json"
    published = json.loads(PUBLISHED.read_text(encoding="utf-8"))
    assert published == json_schema(), (
        "docs/claims.schema.json is out of date with lowdim/report/schema.py; regenerate it: "
        "python -m lowdim.report docs/claims.schema.json")
    jsonschema.Draft202012Validator.check_schema(published)


def test_every_field_is_described_and_the_version_agrees():
    s = json_schema()
    for name, obj in [("Report", s), *s["$defs"].items()]:
        assert obj["description"], name
        undescribed = [k for k, v in obj["properties"].items() if not v.get("description")]
        assert not undescribed, f"{name}: add a field line to its docstring for {undescribed}"
    assert typing.get_args(typing.get_type_hints(schema.Report)["schema_version"]) == (
        schema.SCHEMA_VERSION,)


def test_real_reports_validate_and_declare_every_key(pytester):
    pytester.makepyfile(test_demo=CLAIM_FILE)
    first = run(pytester, "--lowdim-save-baseline=base.json")
    second = run(pytester, "--lowdim-baseline=base.json")
    merged = regress.merge([("out/claims.json", second)])
    assert any("curves" in r for r in first["rows"]) and "baseline" in second["meta"]
    assert all("vs_baseline" in r for r in second["rows"]) and merged["meta"]["merged_from"]
    validator = jsonschema.Draft202012Validator(strict(json_schema()))
    for name, rep in [("first", first), ("compared", second), ("merged", merged)]:
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in validator.iter_errors(rep)]
        assert not errors, f"{name}: keys not in report/schema.py, or of another type: {errors}"
        path = pytester.path / f"{name}.json"
        path.write_text(json.dumps(rep))
        assert schema.load_report(path) == rep  # and load_report reads it as written


def _tampered(tmp_path, where: tuple, value) -> tuple[dict, Path]:
    """A small valid report (checked to load), then `value` set at the key path `where`,
    written to tmp_path/claims.json: (the report, its path)."""
    import lowdim as ld

    rep = {"schema_version": schema.SCHEMA_VERSION, "meta": {"options": {"seeds": 3},
                                                             "shard": None},
           "rows": [{"test": "t.py::x", "outcome": "passed", "duration_s": 1.0,
                     "evidence": ld.proportion([1, 1, 0], threshold=0.5).to_dict()}]}
    (tmp_path / "ok.json").write_text(json.dumps(rep))
    schema.load_report(tmp_path / "ok.json")
    target = rep
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    path = tmp_path / "claims.json"
    path.write_text(json.dumps(rep))
    return rep, path


@pytest.mark.parametrize("where, value, message", [
    (("rows", 0, "evidence", "n"), "12", r'rows\[0\]\.evidence\.n \(test t\.py::x\): expected an '
                                        r'integer, got "12"'),
    (("rows", 0, "evidence", "values", 1), "x", r"rows\[0\]\.evidence\.values\[1\] .*expected a "
                                                r"number or null"),
    (("rows", 0, "evidence", "interval"), [0.1],
     r"rows\[0\]\.evidence\.interval .*expected a list of length 2, got a list of length 1"),
    (("rows", 0, "outcome"), "fine", r'rows\[0\]\.outcome .*expected one of "passed", "failed"'),
    (("rows", 0, "duration_s"), True, r"rows\[0\]\.duration_s .*expected a number, got true"),
    (("meta", "options", "seeds"), "all", r"meta\.options\.seeds: expected an integer or null"),
    (("meta", "shard"), [1, 2], r"meta\.shard: expected an object \(Shard\) or null"),
], ids=["int", "list-item", "pair", "literal", "bool-is-no-number", "nested", "object"])
def test_load_report_names_the_key_of_a_wrong_type(tmp_path, where, value, message):
    rep, path = _tampered(tmp_path, where, value)
    with pytest.raises(ValueError, match=f"{re.escape(str(path))}: {message}"):
        schema.load_report(path)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(rep, json_schema())


@pytest.mark.parametrize("where, value, message", [
    (("rows", 0, "evidence", "n"), -1, r"rows\[0\]\.evidence\.n \(test t\.py::x\): expected a "
                                       r"number >= 0, got -1"),
    (("rows", 0, "evidence", "p"), 1.5, r"rows\[0\]\.evidence\.p .*expected a number from 0 to 1"),
    (("meta", "shard"), {"index": 1, "count": 10**7},
     r"meta\.shard\.count: expected a number from 1 to 1000, got 10000000"),
], ids=["negative-n", "p-over-1", "shard-count"])
def test_ranges_are_published_and_checked_by_the_regress_loader(tmp_path, where, value, message):
    from lowdim.report import publish

    rep, path = _tampered(tmp_path, where, value)
    with pytest.raises(ValueError, match=f"BASELINE {re.escape(str(path))}: {message}"):
        regress.load_baseline(path, option="BASELINE")
    with pytest.raises(jsonschema.ValidationError):  # the published schema says the same
        jsonschema.validate(rep, json_schema())
    shape, field = {"n": ("EvidenceDict", "n"), "p": ("EvidenceDict", "p"),
                    "shard": ("Shard", "count")}[where[-1]]
    lo, hi = publish.RANGES[(shape, field)]
    published = json_schema()["$defs"][shape]["properties"][field]
    assert (published.get("minimum"), published.get("maximum")) == (lo, hi)
