"""Run history (lowdim.regress.history): reports/history/<n>-<commit>-<profile>.json, bounded,
and the references `lowdim compare` and `lowdim history` take (last, -K, a number, an id, a path).
Report dicts are built by hand; no pytest session, no training.
"""

import json
import threading

import numpy as np
import pytest

import lowdim as ld
from lowdim import cli
from lowdim.regress import history


def report(verdicts, *, commit="abc123", profile="quick", started="2026-01-01T00:00:00+00:00"):
    rows = []
    for i, verdict in enumerate(verdicts):
        ev = None
        if verdict is not None:
            ev = ld.location(np.linspace(1.0, 2.0, 12) * (i + 1), threshold=0.0).to_dict()
            ev["verdict"] = verdict
        rows.append({"test": f"t.py::x[{i}]", "claim": "c", "statement": None, "source": None,
                     "outcome": "passed", "evidence": ev, "conditions": {}, "duration_s": 0.1,
                     "reproduce": "-", "method_hash": "m"})
    return {"schema_version": 1, "rows": rows, "meta": {
        "started": started, "git_commit": commit, "exitstatus": 0, "device": "cpu",
        "options": {"profile": profile, "seed_offset": 0, "seeds": None},
        "baseline": {"label": "x"}}}


def test_each_run_is_kept_as_the_next_entry_and_only_the_newest_are_kept(tmp_path):
    (tmp_path / "history").mkdir()
    (tmp_path / "history" / "notes.json").write_text("{}")  # not an entry: never deleted
    paths = [history.save_history(report(["SUPPORTED"], commit=f"c{i}"), tmp_path, keep=3)
             for i in range(5)]
    assert [p.name for p in paths] == [f"{i + 1}-c{i}-quick.json" for i in range(5)]
    assert sorted(p.name for p in (tmp_path / "history").glob("*.json")) == [
        "3-c2-quick.json", "4-c3-quick.json", "5-c4-quick.json", "notes.json"]
    kept = json.loads(paths[-1].read_text())
    assert "baseline" not in kept["meta"] and kept["rows"][0]["test"] == "t.py::x[0]"
    # numbers go on from the newest kept, whatever the commit and profile
    assert history.save_history(report([], profile="full"), tmp_path, keep=3) is None  # no rows
    assert history.save_history(report(["REFUTED"], commit=None, profile="full"), tmp_path,
                                keep=3).name == "6-nocommit-full.json"
    assert history.save_history(report(["REFUTED"]), tmp_path, keep=0) is None
    for bad in (-1, True, 2.0, "3"):
        with pytest.raises(ValueError, match=r"keep: got .*; need an int >= 0"):
            history.save_history(report(["REFUTED"]), tmp_path, keep=bad)


def test_runs_that_finish_at_once_get_distinct_numbers(tmp_path):
    threads = [threading.Thread(target=history.save_history,
                                args=(report(["SUPPORTED"]), tmp_path), kwargs={"keep": 50})
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [e.n for e in history.entries(tmp_path / "history")] == list(range(1, 9))


def test_a_reference_names_a_kept_run_or_a_path(tmp_path):
    folder = tmp_path / "history"
    with pytest.raises(ValueError, match=r"last: .*history holds no runs; every complete"):
        history.resolve("last", folder)
    for i in range(3):
        history.save_history(report(["SUPPORTED"], commit=f"c{i}"), tmp_path, keep=10)
    assert history.resolve("last", folder).name == "3-c2-quick.json"
    assert history.resolve("-1", folder).name == "3-c2-quick.json"
    assert history.resolve("-3", folder).name == "1-c0-quick.json"
    assert history.resolve("2", folder).name == "2-c1-quick.json"
    assert history.resolve("2-c1-quick", folder).name == "2-c1-quick.json"
    assert history.resolve("reports/claims.json", folder) == history.Path("reports/claims.json")
    for ref, message in (("-4", "holds only 3 run"), ("-0", "need last, -1, -2"),
                         ("7", r"no run 7 in .*history, which holds runs 1\.\.3")):
        with pytest.raises(ValueError, match=f"{ref}: .*{message}"):
            history.resolve(ref, folder)


def test_compare_takes_references_and_history_lists_the_runs(tmp_path, capsys):
    folder = tmp_path / "history"
    history.save_history(report(["SUPPORTED", "SUPPORTED", None]), tmp_path, keep=5)
    history.save_history(report(["SUPPORTED", "REFUTED", None], commit="def456"), tmp_path,
                         keep=5)
    current = tmp_path / "claims.json"
    current.write_text(json.dumps(report(["SUPPORTED", "INCONCLUSIVE", None])))
    args = ["--history-dir", str(folder)]
    assert cli.main(["compare", "last", str(current), *args]) == 1  # REFUTED → INCONCLUSIVE
    out = capsys.readouterr().out
    assert out.startswith(f"vs last ({folder / '2-def456-quick.json'}) (regression")
    assert "VERDICT CHANGED: REFUTED → INCONCLUSIVE" in out
    assert cli.main(["compare", "-2", "last", *args]) == 1  # SUPPORTED → REFUTED
    assert cli.main(["compare", "1", "1-abc123-quick", *args]) == 0
    capsys.readouterr()
    assert cli.main(["compare", "-3", "last", *args]) == 2
    assert "lowdim compare: -3: " in capsys.readouterr().err

    (folder / "3-bad-quick.json").write_text('{"rows": [')
    assert cli.main(["history", *args]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ref", "id", "started", "rows", "SUPPORTED", "REFUTED",
                                "INCONCL.", "none", "exit"]
    assert lines[1].split() == ["-3", "1-abc123-quick", "2026-01-01T00:00:00+00:00", "3", "2",
                                "0", "0", "1", "0"]
    assert lines[2].split()[:2] == ["-2", "2-def456-quick"] and lines[2].split()[4:6] == ["1", "1"]
    assert lines[3].startswith("  -1  3-bad-quick") and "unreadable: history entry" in lines[3]
    assert cli.main(["history", "--history-dir", str(tmp_path / "none")]) == 0
    assert "no runs in" in capsys.readouterr().out
