"""The robustness map (lowdim.report.robustness): each row's verdict at the claims' own setting
and at each neighbour, k of m per row and per claim; `lowdim robustness` and the one command
`--lowdim-robustness` that runs the neighbours."""

import json

import pytest

from lowdim.cli import main as cli
from lowdim.report.robustmap import write_map
from lowdim.report.robustness import build, load_map, render_markdown


def _row(test, verdict, estimate=0.5, *, claim="c1", perturbed=None, outcome=None):
    row = {"test": f"t.py::{test}", "claim": claim, "outcome": outcome or (
        "passed" if verdict == "SUPPORTED" else "failed"), "evidence": None}
    if verdict is not None:
        row["evidence"] = {"verdict": verdict, "estimate": estimate}
    if perturbed is not None:
        row["perturbed"] = perturbed
    return row


def _report(rows, perturb=None, wall=10.0):
    options = {"profile": "quick"} | ({"perturb": perturb} if perturb else {})
    return {"schema_version": 1, "rows": rows,
            "meta": {"options": options, "wall_time_s": wall, "exitstatus": 1}}


OWN = _report([_row("a", "SUPPORTED", 0.9), _row("b", "REFUTED", 0.1),
               _row("c", "SUPPORTED", 0.8, claim="c2"), _row("d", None, outcome="error"),
               _row("e", "INCONCLUSIVE", 0.5, claim="c2")])
LR = _report([_row("a", "SUPPORTED", 0.95, perturbed=["lr"]),
              _row("b", "SUPPORTED", 0.6, perturbed=["lr"]),  # a flip
              _row("c", "SUPPORTED", 0.8, claim="c2", perturbed=[]),  # not reached
              _row("e", "INCONCLUSIVE", 0.4, claim="c2", perturbed=["lr"])], perturb="lr=x2")
STEPS = _report([_row("a", None, perturbed=["steps"], outcome="error"),  # no evidence: breaks
                 _row("b", "REFUTED", 0.2, perturbed=["steps"]),
                 _row("c", "SUPPORTED", 0.7, claim="c2", perturbed=["steps"])],  # e missing
                perturb="steps=x0.5")


def test_the_map_of_two_neighbours_is_right():
    rmap = build(OWN, [LR, STEPS])
    rows = {r["test"].split("::")[1]: r for r in rmap["rows"]}
    assert set(rows) == {"a", "b", "c", "e"}  # d had no evidence at its own setting
    states = {t: [r["cells"][n]["state"] for n in ("lr=x2", "steps=x0.5")]
              for t, r in rows.items()}
    assert states == {"a": ["holds", "no evidence"], "b": ["breaks", "holds"],
                      "c": ["not perturbed", "holds"], "e": ["holds", "missing"]}
    assert {t: (r["holds"], r["counted"]) for t, r in rows.items()} == {
        "a": (1, 2), "b": (1, 2), "c": (1, 1), "e": (1, 1)}
    assert rows["b"]["breaks"] == ["lr=x2"] and rows["a"]["breaks"] == ["steps=x0.5"]
    assert rmap["claims"]["c1"] == {"holds": 0, "counted": 2, "rows": 2, "breaks": {
        "lr=x2": ["t.py::b"], "steps=x0.5": ["t.py::a"]}}
    assert rmap["claims"]["c2"] == {"holds": 2, "counted": 2, "rows": 2, "breaks": {}}
    assert [n["perturbation"] for n in rmap["neighbours"]] == ["lr=x2", "steps=x0.5"]
    assert rmap["neighbours"][0]["perturbed_rows"] == 3 and rmap["own"]["perturbed_rows"] is None
    md = render_markdown(rmap)
    assert "**SUP 0.6**" in md and "REF 0.1" in md  # b's flip under lr=x2, in bold
    assert "SUP 0.8 (not perturbed)" in md and "**error (no evidence)**" in md
    assert "0 of 2" in md and "2 of 2" in md


def test_a_map_needs_one_own_run_and_distinct_neighbours():
    with pytest.raises(ValueError, match="must be the claims' own setting"):
        build(LR, [STEPS])
    with pytest.raises(ValueError, match="a neighbour is a run with --lowdim-perturb"):
        build(OWN, [OWN])
    with pytest.raises(ValueError, match="two runs at perturbation lr=x2"):
        build(OWN, [LR, LR])


def test_lowdim_robustness_writes_json_md_html_and_the_heatmap(tmp_path):
    paths = []
    for name, rep in (("steps", STEPS), ("own", OWN), ("lr", LR)):  # any order: own found
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(rep))
    assert cli(["robustness", *map(str, paths), "--out", str(tmp_path / "out")]) == 0
    rmap = load_map(tmp_path / "out" / "robustness.json")
    assert rmap == json.loads(json.dumps(build(OWN, [STEPS, LR], paths=[
        str(paths[1]), str(paths[0]), str(paths[2])])))
    html = (tmp_path / "out" / "robustness.html").read_text()
    assert "data:image/png;base64," in html and "holds in" in html
    assert (tmp_path / "out" / "robustness" / "heatmap.svg").is_file()
    assert cli(["robustness", str(paths[0]), str(paths[2]), "--out", str(tmp_path)]) == 2


CLAIM_FILE = '''
"""A claim whose finding holds at twice the learning rate and breaks at a tenth of the steps."""

import pytest

import lowdim as ld

pytestmark = pytest.mark.claim("tiny", statement="training fits two clusters", source="tests")


def test_fits(claim):
    seeds = claim.seeds(8)
    data = ld.make_clusters(seeds, centers=[[0, 1], [0, -1]], n_per_class=8, std=0.3,
                            key=claim.id)
    config = ld.TrainConfig(steps=60, lr=0.05, loss="cross_entropy")
    result = ld.train(ld.MLP((2, 8, 2)), data, config, seeds=seeds, key=claim.id)
    acc = ld.accuracy(result.predict(data.x), data.y)
    ev = claim.record(ld.location(acc, threshold=0.9))
    assert ev.supported, ev


def test_closed_form(claim):
    ev = claim.record(ld.proportion([1] * 8, threshold=0.3))
    assert ev.supported, ev
'''


@pytest.mark.slow  # subprocess runs: skipped by the inner loop (-m 'not slow')
def test_one_command_runs_the_neighbours_and_maps_them(pytester):
    pytester.makepyfile(test_tiny=CLAIM_FILE)
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-n", "0", "--lowdim-no-cache",
                                           "--lowdim-robustness", "lr=x2", "steps=x0.02")
    assert result.ret == 0, result.stdout.str()
    out = pytester.path / "reports"
    assert not (out / "claims.json").exists()  # the report folder's own report is left alone
    rmap = load_map(out / "robustness.json")
    assert [r["perturbation"] for r in [rmap["own"], *rmap["neighbours"]]] == [
        "", "lr=x2", "steps=x0.02"]
    assert all(r["command_s"] > 0 for r in rmap["neighbours"])
    rows = {r["test"].split("::")[1]: r for r in rmap["rows"]}
    assert rows["test_fits"]["cells"]["lr=x2"]["state"] == "holds"
    assert rows["test_fits"]["cells"]["steps=x0.02"]["state"] == "breaks"  # 1 step: no fit
    assert rows["test_closed_form"]["cells"]["lr=x2"]["state"] == "not perturbed"
    assert rmap["claims"]["tiny"]["holds"] == 1 and rmap["claims"]["tiny"]["counted"] == 2
    moved = json.loads((out / "robustness" / "lr=x2" / "claims.json").read_text())
    assert moved["meta"]["options"]["perturb"] == "lr=x2"
    assert (out / "robustness.md").read_text().count("| tiny") >= 2
    assert "holds in" in result.stdout.str()


def test_claims_html_shows_a_robustness_column_when_a_map_is_beside_it(tmp_path):
    import lowdim as ld
    from lowdim.report.figures import FigureSet
    from lowdim.report.html import render_html

    report = {"schema_version": 1, "meta": {"options": {"profile": "quick"}}, "rows": [
        {"test": f"t.py::{t}", "claim": "c1", "statement": "s", "source": "x",
         "outcome": "passed", "conditions": {}, "duration_s": 1.0, "reproduce": "pytest",
         "evidence": ld.proportion([1] * 8, threshold=0.3).to_dict()} for t in "ab"]}
    assert "<th>robustness</th>" not in render_html(report, FigureSet(), tmp_path)
    write_map(build(OWN, [LR, STEPS]), tmp_path)
    page = render_html(report, FigureSet(), tmp_path)
    assert "<th>robustness</th>" in page
    assert "holds in 1 of 2 (breaks: steps=x0.5)" in page  # test a
    assert "holds in 1 of 2 (breaks: lr=x2)" in page  # test b
