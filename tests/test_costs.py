"""The per-claim cost table (lowdim.report.costs, `lowdim costs`): small synthetic reports, no
training."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lowdim.cli import main
from lowdim.report import check_report
from lowdim.report.costs import NO_CLAIM, claim_costs, cost_rows, render_costs


def _row(test, claim, duration, cached=None, seeds=(0, 7), n=None):
    row = {"test": test, "claim": claim, "statement": "-", "source": "-", "outcome": "passed",
           "evidence": None, "conditions": {}, "duration_s": duration,
           "reproduce": f"pytest {test}"}
    if cached is not None:
        row["cached_s"] = cached
    if seeds is not None:
        row["seeds"] = list(seeds)
    if n is not None:
        row["evidence"] = {"statistic": "P(x)", "n": n, "estimate": 1.0, "interval": [0.5, None],
                           "test": "exact binomial", "p": 0.001, "p_opposite": 1.0,
                           "alpha": 0.01, "threshold": 0.5, "alternative": "greater",
                           "verdict": "SUPPORTED", "values": [1.0] * n, "details": {},
                           "repr": "-", "rule": "proportion"}
    return row


def _report(rows, profile="quick", wall=10.0, workers=2, **meta):
    rep = {"schema_version": 1, "rows": sorted(rows, key=lambda r: r["test"]),
           "meta": {"options": {"profile": profile, "seeds": None, "seed_offset": 0},
                    "wall_time_s": wall, "xdist_workers": workers, "git_commit": "abc1234",
                    **meta}}
    check_report(rep)  # the synthetic report is a valid claims.json
    return rep


QUICK = _report([
    _row("claims/test_a.py::test_1", "a", 1.0, seeds=(0, 7)),
    _row("claims/test_a.py::test_2", "a", 2.0, seeds=(0, 15)),
    _row("claims/test_b.py::test_1", "b", 6.0, seeds=(0, 31)),
    _row("claims/test_c.py::test_1", "c", 1.0, seeds=None, n=12),
])
FULL = _report([
    _row("claims/test_a.py::test_1", "a", 50.0, seeds=(0, 99)),
    _row("claims/test_a.py::test_2", "a", 30.0, seeds=(0, 99)),
    _row("claims/test_b.py::test_1", "b", 20.0, seeds=(0, 99)),
    _row("claims/test_d.py::test_1", "d", 0.0, seeds=(0, 99)),
], profile="full", wall=70.0)


def test_claim_costs_sums_durations_counts_tests_and_spans_seeds():
    costs = claim_costs(QUICK)
    assert costs["a"] == {"seeds": "8\u201316", "tests": 2, "run_s": 3.0, "cached_s": 0.0,
                          "cpu_s": 3.0}
    assert costs["b"]["seeds"] == "32"
    assert costs["c"]["seeds"] == "12"  # no seed range: the evidence's n


def test_cached_seconds_count_as_cost_and_claimless_rows_are_grouped():
    rep = _report([_row("t.py::x", None, 0.5, cached=4.5), _row("t.py::y", None, 0.0, seeds=None),
                   _row("u.py::z", "u", 1.0, cached=0.0)])
    costs = claim_costs(rep)
    assert costs[NO_CLAIM] == {"seeds": "8", "tests": 2, "run_s": 0.5, "cached_s": 4.5,
                               "cpu_s": 5.0}
    text = render_costs([("r.json", rep)])
    head = text.splitlines()[0]
    assert "cached s" in head
    assert "| (no claim)" in text.splitlines()[2]  # the costliest first


def test_rows_sorted_by_cost_with_shares_of_the_total():
    labels, records = cost_rows([("q.json", QUICK)])
    assert labels == ["quick"]
    assert [r["claim"] for r in records] == ["b", "a", "c"]
    assert [r["quick"]["share"] for r in records] == pytest.approx([0.6, 0.3, 0.1])


def test_single_report_markdown_has_a_total_line_and_the_run_under_it():
    text = render_costs([("q/claims.json", QUICK)])
    lines = text.splitlines()
    # no "cached s" column when the run cache served nothing
    assert [c.strip() for c in lines[0].split("|")[1:-1]] == ["claim", "seeds", "tests", "CPU-s",
                                                              "share"]
    table = [ln for ln in lines if ln.startswith("|")]
    assert len({ln.count("|") for ln in table}) == 1  # a well-formed table
    total = next(ln for ln in table if "**total**" in ln)
    assert [c.strip() for c in total.split("|")[1:-1]] == ["**total**", "", "4", "10.0",
                                                           "100.0 %"]
    assert "- quick: `q/claims.json`, 4 tests, 10.0 CPU-s in 10.0 s wall with 2 xdist workers" \
        in text


def test_quick_and_full_side_by_side_sorted_by_the_costlier_with_their_ratio():
    labels, records = cost_rows([("q.json", QUICK), ("f.json", FULL)])
    assert labels == ["quick", "full"]
    assert [r["claim"] for r in records] == ["a", "b", "d", "c"]  # by full's cost; c: not in full
    assert records[-1]["full"] is None and records[2]["quick"] is None
    text = render_costs([("q.json", QUICK), ("f.json", FULL)])
    head = [c.strip() for c in text.splitlines()[0].split("|")[1:-1]]
    assert head == ["claim", "seeds (quick)", "tests (quick)", "CPU-s (quick)", "share (quick)",
                    "seeds (full)", "tests (full)", "CPU-s (full)", "share (full)",
                    "CPU-s full / quick"]
    row_a = [c.strip() for c in text.splitlines()[2].split("|")[1:-1]]
    assert row_a == ["a", "8\u201316", "2", "3.0", "30.0 %", "100", "2", "80.0", "80.0 %",
                     "27\u00d7"]
    row_c = [c.strip() for c in text.splitlines()[5].split("|")[1:-1]]
    assert row_c[0] == "c" and row_c[5:] == ["\u2013"] * 5
    total = [c.strip() for c in text.splitlines()[6].split("|")[1:-1]]
    assert total == ["**total**", "", "4", "10.0", "100.0 %", "", "4", "100.0", "100.0 %",
                     "10\u00d7"]


def test_two_runs_of_one_profile_are_told_apart():
    labels, _ = cost_rows([("a.json", QUICK), ("b.json", QUICK)])
    assert labels == ["quick #1", "quick #2"]


def test_an_incomplete_report_says_so():
    rep = _report([_row("t.py::x", "x", 1.0)], incomplete="it is shard 1 of 3")
    assert "not a complete run: it is shard 1 of 3" in render_costs([("s.json", rep)])


def test_no_reports_is_a_usage_error():
    with pytest.raises(ValueError, match="no reports"):
        cost_rows([])


def _write(path, rep):
    path.write_text(json.dumps(rep), encoding="utf-8")
    return str(path)


def test_the_command_prints_the_table_and_writes_it(tmp_path, capsys):
    q, f = _write(tmp_path / "q.json", QUICK), _write(tmp_path / "f.json", FULL)
    out = tmp_path / "sub" / "costs.md"
    assert main(["costs", q, f, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed == out.read_text(encoding="utf-8") == render_costs([(q, QUICK), (f, FULL)])
    assert main(["costs", str(tmp_path / "missing.json")]) == 2
    assert "lowdim costs:" in capsys.readouterr().err


def test_the_command_loads_no_torch(tmp_path):
    q = _write(tmp_path / "q.json", QUICK)
    code = ("import sys\nfrom lowdim.cli import main\nrc = main(['costs', sys.argv[1]])\n"
            "print(rc, sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))")
    out = subprocess.run([sys.executable, "-c", code, q], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "LOWDIM_FIGURES": "0"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "0 []"
