"""Fixtures for lowdim's own tests: pytester runs real pytest sessions of the plugin."""

import importlib

import pytest

pytest_plugins = ["pytester"]


def pytest_configure(config):
    # torch.optim imports torch._dynamo on first use, which registers a torch op library once per
    # process. An in-process pytester session that triggers that import would have pytester drop
    # the new modules from sys.modules afterwards, and the next test's re-import then fails
    # ("Only a single TORCH_LIBRARY can be used to register the namespace _inductor_test").
    # Importing it before any pytester snapshot keeps it loaded for good.
    import torch._dynamo  # noqa: F401

    # The same for the rooms the plugin loads only once a claims session needs them (a plain
    # session must not pay for them): loaded first inside an in-process pytester session, they
    # would be dropped after it, and the next session would make a second Evidence class that
    # `ld.proportion` (cached on the lowdim module) does not return.
    for module in ("lowdim.stats", "lowdim.stats.attainable", "lowdim.stats.power",
                   "lowdim.regress", "lowdim.report", "lowdim.report.curves",
                   "lowdim.engine.cache", "lowdim.engine.train", "lowdim.engine.kernels",
                   "lowdim.plugin.adaptive"):
        importlib.import_module(module)


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
