"""README.md's code is run as written: the claim under "Writing a claim" passes, and the
notebook snippet under "Read the report" works on a report."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def _python_block(heading: str) -> str:
    """The first ```python block after the `## heading` line of README.md."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {heading}\n")
    match = re.compile(r"```python\n(.*?)```", re.S).search(text, start)
    assert match, f"README.md: no python block under '## {heading}'"
    return match.group(1)


def test_the_writing_a_claim_example_passes(pytester):
    pytester.makepyfile(test_readme_example=_python_block("Writing a claim"))
    result = pytester.runpytest_subprocess("-n", "0", "--lowdim-report-dir", "out")
    result.assert_outcomes(passed=1)
    assert (pytester.path / "out" / "claims.json").is_file()


@pytest.mark.parametrize("heading", ["Read the report"])
def test_the_report_snippet_runs_on_a_report(pytester, heading):
    pytester.makepyfile(test_tiny='''
import pytest

import lowdim as ld

pytestmark = pytest.mark.claim("tiny", statement="-", source="-")


def test_all_seeds_pass(claim):
    claim.record(ld.proportion([True] * 8, threshold=0.5))
''')
    pytester.runpytest_subprocess("-n", "0", "--lowdim-report-dir", "reports").assert_outcomes(
        passed=1)
    snippet = _python_block(heading) + "\nprint(len(df), sorted(set(df['claim'])))\n"
    pytester.makepyfile(snippet=snippet)
    result = pytester.run(sys.executable, "snippet.py")
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["8 ['tiny']"])


def test_every_option_is_in_the_readme():
    from lowdim.plugin.options import SPECS

    text = README.read_text(encoding="utf-8")
    missing = [s.flag for s in SPECS if f"`{s.flag}" not in text]
    assert not missing, f"README.md's options table lacks {missing}"
