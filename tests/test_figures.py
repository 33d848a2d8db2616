"""The report's figures (lowdim.figures): curves as recorded, files as drawn, without matplotlib.

The report here is built from lowdim.stats on fixed arrays (no training): one row of each kind
of evidence, an xfail, rows without evidence, and a row with curves over steps.
"""

import json
import re

import numpy as np
import pytest
import torch

import lowdim as ld
from lowdim import report
from lowdim.report import figures

matplotlib = pytest.importorskip("matplotlib", reason="figures need matplotlib (lowdim[plots])")

DOC = "A demo claim <b>not bold</b>.\n\nMethod  fixed arrays, no training."


def _row(test: str, ev, outcome: str = "passed", **extra) -> dict:
    return {"test": f"claims/test_demo.py::{test}", "claim": "demo",
            "statement": "most <script>seeds</script> succeed", "source": "tests",
            "outcome": outcome, "evidence": ev.to_dict() if ev is not None else None,
            "conditions": {}, "duration_s": 0.5, "reproduce": f"pytest {test}", **extra}


def sample_report() -> dict:
    """A small report as the plugin writes it: every kind of evidence, no training."""
    rng = np.random.default_rng(0)
    a = np.linspace(0.8, 1.0, 16)
    curve = {"x": np.arange(0, 400, 2), "y": np.exp(-np.arange(0, 400, 2) / 80) + 0.01
             * rng.random((16, 200)), "ylabel": "training loss", "yscale": "log"}
    rows = [
        _row("test_proportion", ld.proportion(np.arange(16) < 15, threshold=0.5),
             curves=figures.pack_curves({"zeros": curve, "tied": curve})),
        _row("test_location_does_not_hold", ld.location(a, threshold=0.95), outcome="xfailed"),
        _row("test_paired[wide]", ld.paired(a + 0.05, a)),
        _row("test_trend", ld.trend(np.arange(48.0).reshape(16, 3) + rng.random((16, 3)),
                                    conditions=["k=1", "k=2", "k=3"])),
        _row("test_equivalence", ld.equivalence(a - a.mean(), margin=0.2)),
        _row("test_not_run", None, outcome="not run"),
        _row("test_broken_fixture", None, outcome="error"),
    ]
    return {"schema_version": report.SCHEMA_VERSION,
            "meta": {"started": "2026-01-01T00:00:00+00:00", "wall_time_s": 3.5,
                     "options": {"profile": "quick", "seed_offset": 0}, "device": "cpu",
                     "git_commit": None, "versions": {"python": "3.x"}},
            "rows": sorted(rows, key=lambda r: r["test"]),
            "claims": {"demo": {"doc": DOC, "statement": rows[0]["statement"],
                                "source": "tests"}}}


@pytest.fixture(autouse=True)
def _figures_on(monkeypatch):
    monkeypatch.delenv("LOWDIM_FIGURES", raising=False)  # tests/conftest.py turns them off


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    rep = sample_report()
    return rep, out, figures.write_figures(rep, out)


# ------------------------------------------------------------------------------------------------
# curves


def test_pack_curves_subsamples_rounds_and_keeps_plain_values():
    y = np.full((3, 1000), 1 / 3)
    y[1, 0] = np.nan
    packed = figures.pack_curves({"loss": {"x": np.arange(1000), "y": y, "ylabel": "loss"}})
    c = packed["loss"]
    assert len(c["x"]) == figures.MAX_CURVE_POINTS and (c["x"][0], c["x"][-1]) == (0, 999)
    assert np.array(c["y"]).shape == (3, figures.MAX_CURVE_POINTS)
    assert c["y"][0][0] == 0.3333 and c["y"][1][0] is None and c["ylabel"] == "loss"
    assert json.loads(json.dumps(packed, allow_nan=False)) == packed  # plain JSON


def test_pack_curves_takes_tensors_and_keeps_short_curves_whole():
    packed = figures.pack_curves({"s": {"x": torch.arange(5), "y": torch.ones(2, 5)}})
    assert packed["s"] == {"x": [0, 1, 2, 3, 4], "y": [[1] * 5, [1] * 5]}


@pytest.mark.parametrize("curve, match", [
    ({"x": [0, 1, 2], "y": [[1, 2]]}, r"curves\['c'\]\['y'\]: got shape \(1, 2\); need \(S seeds, R = 3"),
    ({"x": [0, 1], "y": [1, 2]}, r"curves\['c'\]\['y'\]: got shape \(2,\)"),
    ({"x": [[0, 1]], "y": [[1, 2]]}, r"curves\['c'\]\['x'\]: need a 1-D array"),
    ({"y": [[1, 2]]}, r"curves\['c'\]: need a dict with 'x'"),
    ({"x": [0, 1], "y": [[1, 2]], "colour": "red"}, r"unknown keys \['colour'\]"),
    ({"x": [0, 1], "y": [[1, 2]], "yscale": "ln"}, r"curves\['c'\]\['yscale'\]: got 'ln'"),
    ({"x": [0, 1], "y": [["a", "b"]]}, r"curves\['c'\]\['y'\]: not an array of numbers"),
])
def test_pack_curves_names_the_bad_field(curve, match):
    with pytest.raises(ValueError, match=match):
        figures.pack_curves({"c": curve})


def test_figure_names_are_safe_stable_and_unique():
    a, b = "claims/test_x.py::test_y[a/b]", "claims/test_x.py::test_y[a_b]"
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", figures.figure_name(a))
    assert figures.figure_name(a).startswith("test_x-test_y-a-b-")
    assert figures.figure_name(a) == figures.figure_name(a) != figures.figure_name(b)


# ------------------------------------------------------------------------------------------------
# files


def test_every_row_with_evidence_gets_a_png_and_an_svg(drawn):
    from PIL import Image

    rep, out, figs = drawn
    with_evidence = [r["test"] for r in rep["rows"] if r["evidence"]]
    assert sorted(figs.paths) == sorted(with_evidence) and not figs.errors and figs.note is None
    for test, rel in figs.paths.items():
        png = out / rel
        assert rel == f"figures/{figures.figure_name(test)}.png"
        with Image.open(png) as im:
            assert im.format == "PNG" and im.width > 300 and im.height > 200
        svg = png.with_suffix(".svg").read_text()
        assert svg.startswith("<?xml") and "<dc:date>" not in svg
    names = {p.name for p in (out / "figures").iterdir()}
    assert len(names) == 2 * len(with_evidence) + 1  # + index.json


def test_figures_are_deterministic(drawn, tmp_path):
    rep, out, _ = drawn
    row = next(r for r in rep["rows"] if r.get("curves"))
    again = figures.write_figures({"rows": [row]}, tmp_path)
    rel = again.paths[row["test"]]
    assert (tmp_path / rel).read_bytes() == (out / rel).read_bytes()
    svg = (tmp_path / rel).with_suffix(".svg")
    assert svg.read_bytes() == (out / rel).with_suffix(".svg").read_bytes()


def test_unchanged_rows_are_not_redrawn_and_stale_figures_go(drawn, tmp_path, monkeypatch):
    rep, _, _ = drawn
    rows = [r for r in rep["rows"] if r["evidence"]][:2]
    first = figures.write_figures({"rows": rows}, tmp_path)
    stale = tmp_path / first.paths[rows[1]["test"]]

    def no_drawing(row):
        raise AssertionError("an unchanged row was redrawn")

    monkeypatch.setattr(figures, "draw_row", no_drawing)
    again = figures.write_figures({"rows": rows[:1]}, tmp_path)
    assert again.paths == {rows[0]["test"]: first.paths[rows[0]["test"]]}
    assert not stale.exists() and not stale.with_suffix(".svg").exists()


def test_only_figures_that_lowdims_index_lists_are_removed(drawn, tmp_path):
    rep, _, _ = drawn
    rows = [r for r in rep["rows"] if r["evidence"]][:2]
    figdir = tmp_path / figures.FIGURES_DIR
    figdir.mkdir()
    foreign = [figdir / "fig1.png", figdir / "fig1.svg", figdir / "test_demo-old-0123abcd.png"]
    for f in foreign:  # a paper's figures, one even named like lowdim's
        f.write_bytes(b"not lowdim's")
    first = figures.write_figures({"rows": rows}, tmp_path)
    gone = tmp_path / first.paths[rows[1]["test"]]
    figures.write_figures({"rows": rows[:1]}, tmp_path)  # rows[1] left the report
    assert not gone.exists() and not gone.with_suffix(".svg").exists()
    assert all(f.read_bytes() == b"not lowdim's" for f in foreign)
    # `lowdim report X --out DIR` writes through the same function
    report.write_reports(rep, tmp_path)
    assert all(f.read_bytes() == b"not lowdim's" for f in foreign)


def test_a_figures_index_that_is_not_lowdims_stops_the_figures_not_the_report(tmp_path,
                                                                             capsys):
    figdir = tmp_path / figures.FIGURES_DIR
    figdir.mkdir()
    (figdir / "index.json").write_text('{"fig1": "the paper\'s caption"}')
    (figdir / "fig1.png").write_bytes(b"paper")
    paths = report.write_reports(sample_report(), tmp_path)
    assert sorted(p.name for p in figdir.iterdir()) == ["fig1.png", "index.json"]
    assert (figdir / "index.json").read_text() == '{"fig1": "the paper\'s caption"}'
    assert "is not lowdim's figure index" in paths["md"].read_text()
    assert "is not lowdim's figure index" in capsys.readouterr().err


def test_every_panel_names_what_its_y_axis_shows(drawn):
    rep, _, _ = drawn
    for row in (r for r in rep["rows"] if r["evidence"]):
        fig = figures.draw_row(row)
        labels = [ax.get_ylabel() for ax in fig.axes]
        assert all(labels), (row["test"], labels)
        stat = row["evidence"]["statistic"]
        if row["evidence"]["rule"] == "proportion":  # counts of seeds; the property below
            assert labels[0] == "seeds" and fig.axes[0].get_xlabel().replace("\n", " ") == stat
        else:
            assert any(stat in label.replace("\n", " ") for label in labels), labels
    row = json.loads(json.dumps(next(r for r in rep["rows"] if r["evidence"]
                                     and r["evidence"]["rule"] == "location")))
    row["evidence"]["details"]["unit"] = "s"
    assert figures.draw_row(row).axes[0].get_ylabel() == "median (s)"


def test_a_row_that_cannot_be_drawn_costs_only_its_own_figure(drawn, tmp_path, capsys):
    rep, _, _ = drawn
    good = next(r for r in rep["rows"] if r["evidence"])
    bad = json.loads(json.dumps(good))
    bad["test"] += "-bad"
    bad["evidence"]["values"] = ["not a number"]
    figs = figures.write_figures({"rows": [good, bad]}, tmp_path)
    assert list(figs.paths) == [good["test"]]
    assert "ValueError" in figs.errors[bad["test"]]
    assert "1 figure(s) could not be drawn" in capsys.readouterr().err


def test_without_matplotlib_the_report_is_written_and_says_so_once(tmp_path, monkeypatch, capsys):
    def missing():
        raise ImportError("No module named 'matplotlib'")

    monkeypatch.setattr(figures, "_matplotlib", missing)
    paths = report.write_reports(sample_report(), tmp_path)
    assert set(paths) == {"json", "md", "csv", "html"} and not (tmp_path / "figures").exists()
    assert capsys.readouterr().err.count("matplotlib is not installed") == 1
    assert "matplotlib is not installed" in paths["md"].read_text()
    html = paths["html"].read_text()
    assert "matplotlib is not installed" in html and "<img" not in html


def test_figures_can_be_turned_off(tmp_path, monkeypatch):
    monkeypatch.setenv("LOWDIM_FIGURES", "0")
    figs = figures.write_figures(sample_report(), tmp_path)
    assert not figs.paths and "LOWDIM_FIGURES=0" in figs.note


# ------------------------------------------------------------------------------------------------
# the plugin carries curves and the claim's docstring into the report

CLAIM_FILE = '''
"""The demo claim's method, in its docstring."""
import numpy as np
import pytest

import lowdim as ld

pytestmark = pytest.mark.claim("demo", statement="most seeds succeed", source="tests")


def test_with_curves(claim):
    curves = {"loss": {"x": np.arange(300), "y": np.ones((20, 300)), "ylabel": "loss"}}
    ev = claim.record(ld.proportion(np.arange(20) < 18, threshold=0.5), curves=curves)
    assert ev.supported, ev


def test_bad_curves(claim):
    claim.record(ld.proportion(np.arange(20) < 18, threshold=0.5), curves={"c": {"x": [1]}})
'''


def test_plugin_stores_curves_and_docstrings(pytester, monkeypatch):
    monkeypatch.setenv("LOWDIM_FIGURES", "0")  # the files are tested above; here the JSON
    pytester.makepyfile(test_demo=CLAIM_FILE)
    result = pytester.runpytest_inprocess("--lowdim-report-dir=out", "-p", "no:cacheprovider",
                                          "-n", "0")
    result.assert_outcomes(passed=1, failed=1)
    assert "curves['c']: need a dict with 'x'" in result.stdout.str()
    rep = json.loads((pytester.path / "out" / "claims.json").read_text())
    assert rep["claims"] == {"demo": {"doc": "The demo claim's method, in its docstring.",
                                      "statement": "most seeds succeed", "source": "tests"}}
    rows = {r["test"].split("::")[1]: r for r in rep["rows"]}
    loss = rows["test_with_curves"]["curves"]["loss"]
    assert len(loss["x"]) == figures.MAX_CURVE_POINTS and len(loss["y"]) == 20
    assert "curves" not in rows["test_bad_curves"] and rows["test_bad_curves"]["evidence"] is None
    assert (pytester.path / "out" / "claims.html").is_file()


def test_a_report_dir_keeps_the_figures_lowdim_did_not_draw(pytester, monkeypatch):
    pytester.makepyfile(test_demo=CLAIM_FILE)
    figdir = pytester.path / "paper" / figures.FIGURES_DIR
    figdir.mkdir(parents=True)
    (figdir / "plot.png").write_bytes(b"paper")
    (figdir / "plot.svg").write_bytes(b"paper")
    for _ in range(2):  # the second run replaces lowdim's own figures, nothing else
        result = pytester.runpytest_inprocess("--lowdim-report-dir=paper", "-p",
                                              "no:cacheprovider", "-n", "0")
        result.assert_outcomes(passed=1, failed=1)
    names = sorted(p.name for p in figdir.iterdir())
    assert "plot.png" in names and "plot.svg" in names and len(names) == 2 + 2 + 1
    assert (figdir / "plot.png").read_bytes() == b"paper"


@pytest.mark.slow  # subprocess runs: skipped by the inner loop (-m 'not slow')
def test_many_figures_are_drawn_on_a_process_pool_with_the_same_bytes(drawn, tmp_path,
                                                                      monkeypatch):
    rep, _, _ = drawn
    base = [r for r in rep["rows"] if r["evidence"]]
    rows = []
    for i in range(figures.PARALLEL_FROM):
        row = json.loads(json.dumps(base[i % len(base)]))
        row["test"] += f"-{i}"
        rows.append(row)
    rows[3]["evidence"]["values"] = ["not a number"]  # fails in a worker: only its own figure
    monkeypatch.setattr(figures, "_workers", lambda: 2)
    pooled = figures.write_figures({"rows": rows}, tmp_path / "pool")
    monkeypatch.setattr(figures, "_workers", lambda: 1)
    serial = figures.write_figures({"rows": rows}, tmp_path / "serial")
    assert pooled.paths == serial.paths and len(pooled.paths) == len(rows) - 1
    assert pooled.errors == serial.errors and list(pooled.errors) == [rows[3]["test"]]
    for rel in pooled.paths.values():
        for ext in (".png", ".svg"):
            a = (tmp_path / "pool" / rel).with_suffix(ext).read_bytes()
            assert a == (tmp_path / "serial" / rel).with_suffix(ext).read_bytes(), rel
