"""Fixtures for lowdim's own tests: pytester runs real pytest sessions of the plugin."""

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _no_github_step_summary(monkeypatch):
    # Under GitHub Actions the plugin appends every claims session's table to the step summary;
    # the pytester sessions of these tests must not write theirs into the real one.
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


@pytest.fixture(autouse=True)
def _no_figures(monkeypatch):
    # Drawing a report's figures costs ~0.2 s per row; the pytester sessions of these tests check
    # rows, not pictures (tests/test_figures.py and tests/test_html.py turn them back on).
    monkeypatch.setenv("LOWDIM_FIGURES", "0")
