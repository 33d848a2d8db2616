"""docs/scale-out.md's recipe, end to end: a claims project run as N = 3 shards, each its own
process into its own report folder (as a job array's tasks or a CI matrix's machines would),
joined by `lowdim merge`, gives the report of one unsharded run, row by row (verdicts, p, the
Holm-adjusted p over all rows, n, per-seed values), timing and the run's metadata aside.
Tiny claims record Evidence from fixed arrays: nothing trains."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from lowdim.report import load_report

N = 3
TIMING = ("duration_s", "cached_s")  # a row's fields that differ run to run

# Five claim files (shards deal whole files: 2, 2 and 1 of them), with decisions of every
# verdict and p-values near alpha, so that Holm over one shard differs from Holm over all.
FILES = {
    "test_alpha.py": '''
        import numpy as np
        import pytest
        import lowdim as ld

        pytestmark = pytest.mark.claim("alpha", statement="most seeds pass", source="-")

        @pytest.mark.parametrize("k", [14, 15, 16])
        def test_share(claim, k):
            flags = np.arange(16) < k
            claim.record(ld.proportion(flags, threshold=0.5), k=k)
    ''',
    "test_beta.py": '''
        import numpy as np
        import pytest
        import lowdim as ld

        pytestmark = pytest.mark.claim("beta", statement="a beats b", source="-")
        A = np.linspace(1.0, 2.0, 12)

        @pytest.mark.parametrize("shift", [0.05, 0.3, 1.0])
        def test_paired(claim, shift):
            b = A - shift + np.sin(np.arange(12)) * 0.4
            claim.record(ld.paired(A, b), shift=shift)
    ''',
    "test_gamma.py": '''
        import numpy as np
        import pytest
        import lowdim as ld

        pytestmark = pytest.mark.claim("gamma", statement="median above 1", source="-")

        @pytest.mark.parametrize("offset", [-2.0, 0.0, 2.0])
        def test_location(claim, offset):
            claim.record(ld.location(np.cos(np.arange(10)) + 1.0 + offset, threshold=1.0))

        @pytest.mark.xfail(reason="the source overstates it", strict=True)
        def test_overstated(claim):
            ev = claim.record(ld.proportion(np.arange(10) < 3, threshold=0.5))
            assert ev.verdict == "SUPPORTED"
    ''',
    "test_delta.py": '''
        import numpy as np
        import lowdim as ld
        import pytest

        @pytest.mark.claim("delta", statement="all seeds pass", source="-")
        def test_all(claim):
            claim.record(ld.proportion(np.ones(9, bool), threshold=0.5))
    ''',
    "test_eps.py": '''
        import numpy as np
        import lowdim as ld
        import pytest

        @pytest.mark.claim("eps", statement="b below a", source="-")
        def test_sign(claim):
            a = np.arange(20, dtype=float)
            claim.record(ld.paired(a, a - 0.5 + (np.arange(20) % 7 == 0), test="sign"))
    ''',
}


def _pytest(project, *args):
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
           "-p", "no:hypothesispytest", *args]  # plugins lowdim does not need: faster start
    env = {**os.environ, "LOWDIM_FIGURES": "0"}
    return subprocess.Popen(cmd, cwd=project, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _comparable(report):
    return {r["test"]: {k: v for k, v in r.items() if k not in TIMING} for r in report["rows"]}


@pytest.mark.slow  # subprocess runs: skipped by the inner loop (-m 'not slow')
def test_merged_shards_equal_one_unsharded_run(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    for name, text in FILES.items():
        (project / name).write_text(textwrap.dedent(text), encoding="utf-8")
    # Every run at once, each its own process and report folder.
    runs = {"whole": _pytest(project, "--lowdim-report-dir", "reports/whole")}
    for i in range(1, N + 1):
        runs[i] = _pytest(project, "--lowdim-shard", f"{i}/{N}",
                          "--lowdim-report-dir", f"reports/shard-{i}")
    for name, proc in runs.items():
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, (name, out)
    shards = [project / "reports" / f"shard-{i}" / "claims.json" for i in range(1, N + 1)]
    merged_path = project / "reports" / "merged" / "claims.json"
    done = subprocess.run([sys.executable, "-m", "lowdim", "merge", str(merged_path),
                           *map(str, shards)], cwd=project, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "LOWDIM_FIGURES": "0"})
    assert done.returncode == 0, done.stdout + done.stderr

    whole = load_report(project / "reports" / "whole" / "claims.json")
    merged = load_report(merged_path)
    parts = [load_report(p) for p in shards]
    assert sorted(len(p["rows"]) for p in parts) == [1, 4, 7]  # whole files, dealt 2 / 2 / 1
    assert all(p["meta"].get("incomplete") for p in parts)  # a shard is not a whole run ...
    assert "incomplete" not in whole["meta"] and "incomplete" not in merged["meta"]  # ... a merge is

    # Row by row: the same tests, each with the same verdict, p, Holm's p, n, values, outcome.
    a, b = _comparable(whole), _comparable(merged)
    assert list(a) == list(b)
    for test in a:
        assert b[test] == a[test], test
    decided = [r for r in whole["rows"] if r["evidence"]]
    assert len(decided) == whole["meta"]["n_decisions"] == merged["meta"]["n_decisions"] == 12
    assert {r["evidence"]["verdict"] for r in decided} == {"SUPPORTED", "INCONCLUSIVE",
                                                           "REFUTED"}
    # Holm over all rows, not each shard's own: a shard's adjusted p differs from the merge's.
    own = {r["test"]: r["p_holm"] for p in parts for r in p["rows"] if "p_holm" in r}
    assert any(own[t] != b[t]["p_holm"] for t in own)
    assert merged["meta"]["shard_count"] == N and merged["meta"]["shards_missing"] == []
