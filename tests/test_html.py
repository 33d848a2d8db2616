"""claims.html (lowdim.html): its content, and what a user sees in a real (headless) Chromium.

The browser test renders the page offline, reads the DOM after the page's load event (the
page's own script marks every figure as loaded, with its place on the page) and a screenshot,
and checks that the summary table and every figure are on screen and not blank. It skips when
no Chromium binary is installed (Debian: `apt-get install chromium-headless-shell`).
"""

import html
import re
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest
from test_figures import DOC, sample_report

from lowdim import report
from lowdim.report.figures import XFAIL_NOTE, FigureSet
from lowdim.report.html import render_figure_links, render_html

CHROMIUMS = ("chromium", "chromium-headless-shell", "chromium-browser", "google-chrome",
             "headless_shell")


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags(page: str, name: str) -> list[dict]:
    p = _Tags()
    p.feed(page)
    return [a for t, a in p.tags if t == name]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    rep = sample_report()
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("LOWDIM_FIGURES", raising=False)  # tests/conftest.py turns them off
        paths = report.write_reports(rep, tmp_path_factory.mktemp("report"))
    return rep, paths


def test_page_has_summary_methods_figures_and_evidence_escaped(written):
    rep, paths = written
    page = paths["html"].read_text(encoding="utf-8")
    rows = rep["rows"]
    assert page.count('<tr><td') == len(rows)  # one summary row per test
    assert page.index('id="summary"') < page.index("<h2>Claims</h2>")
    # the overview first: one row per claim, linked to the claim's first per-test row
    assert page.index('id="overview"') < page.index('id="summary"')
    assert page.count('<tr class="claim">') == 1 and 'href="#tests-demo"' in page
    with_evidence = [r for r in rows if r["evidence"]]
    imgs = tags(page, "img")
    assert sorted(i["data-test"] for i in imgs) == sorted(r["test"] for r in with_evidence)
    assert all(i["src"].startswith("data:image/png;base64,") for i in imgs)
    assert page.count('class="placeholder"') == len(rows) - len(with_evidence)
    # verdict badges, the xfail meaning, the docstring as method, the evidence sentence
    assert page.count(">SUPPORTED</span>") >= 2 and XFAIL_NOTE in page
    assert html.escape(DOC) in page and "<b>not bold</b>" not in page
    assert "<script>seeds</script>" not in page  # the statement is escaped
    for r in with_evidence:
        assert html.escape(r["evidence"]["repr"]) in page
    # self-contained: nothing is fetched from anywhere
    assert not re.search(r'(src|href)="(https?:)?//', page) and "<link" not in page
    # every in-page link has its target
    ids = {a["id"] for t in ("section", "article", "table", "td") for a in tags(page, t)
           if "id" in a}
    assert {a["href"][1:] for a in tags(page, "a")} <= ids


def test_markdown_links_every_figure(written):
    rep, paths = written
    md = paths["md"].read_text()
    links = re.findall(r"\]\((figures/[^)]+\.png)\)", md)
    assert len(links) == sum(1 for r in rep["rows"] if r["evidence"])
    assert all((paths["md"].parent / link).is_file() for link in links)


def test_without_figures_the_markdown_says_why():
    text = render_figure_links(sample_report(), FigureSet(note="figures are turned off"))
    assert "figures are turned off" in text and "](figures/" not in text


def test_html_is_deterministic(written, tmp_path, monkeypatch):
    rep, paths = written
    figs = FigureSet(paths={})
    assert render_html(rep, figs, tmp_path) == render_html(rep, figs, tmp_path)
    monkeypatch.delenv("LOWDIM_FIGURES", raising=False)
    before = paths["html"].read_bytes()
    again = report.write_reports(rep, paths["html"].parent)  # figures kept: unchanged rows
    assert again["html"].read_bytes() == before


def _chromium() -> str | None:
    return next((p for p in map(shutil.which, CHROMIUMS) if p), None)


def _run_chromium(binary: str, page, profile, *args: str) -> subprocess.CompletedProcess:
    cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--force-device-scale-factor=1", "--no-first-run", f"--user-data-dir={profile}",
           "--virtual-time-budget=5000", *args, page.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)


def test_a_browser_shows_the_table_and_every_figure(written, tmp_path):
    binary = _chromium()
    if binary is None:
        pytest.skip("no headless Chromium found (looked for " + ", ".join(CHROMIUMS) + "); "
                    "install Debian's chromium-headless-shell to run this browser test")
    from PIL import Image

    rep, paths = written
    page, width, height = paths["html"], 1200, 7000
    size = f"--window-size={width},{height}"
    dom = _run_chromium(binary, page, tmp_path / "profile", size, "--dump-dom").stdout
    n_figures = sum(1 for r in rep["rows"] if r["evidence"])
    assert f'data-figures-loaded="{n_figures}/{n_figures}"' in dom, dom[-2000:]
    imgs = tags(dom, "img")
    assert len(imgs) == n_figures and all(i["data-loaded"] == "1" for i in imgs)
    assert len(re.findall(r"<tr><td", dom)) == len(rep["rows"])  # the summary table, rendered

    shot = tmp_path / "shot.png"
    _run_chromium(binary, page, tmp_path / "profile", size, f"--screenshot={shot}")
    with Image.open(shot) as im:
        pixels = np.asarray(im.convert("L"), dtype=np.float64)  # (H, W)
    assert pixels.shape == (height, width)
    table = pixels[:400]  # the header and the start of the summary table
    assert (table < 128).mean() > 0.01, "the top of the page is blank"
    for img in imgs:
        x, y, w, h = map(int, img["data-rect"].split(","))
        assert w > 300 and h > 200, img["data-test"]
        assert y + h <= height, f"{img['data-test']}: below the screenshot; enlarge the window"
        region = pixels[y:y + h, x:x + w]
        # a drawn figure: mostly white paper, and ink (text, points, lines) on it
        assert region.std() > 20 and (region < 128).mean() > 0.005, img["data-test"]
