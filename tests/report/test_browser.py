"""The HTML report in a real browser: renders, no console errors, no requests, user text escaped.

Needs Debian's ``chromium`` (``.ci/run`` installs it) and the ``playwright`` Python package
(test extra), which drives the system browser; no browser is downloaded.
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

import assay
from assay.report import write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")

EVIL = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def report_path(tmp_path_factory):
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(600, 4)), columns=["age", EVIL, "b&c", 'quote"d'])
    X.iloc[rng.random(600) < 0.3, 0] = np.nan
    y = (np.nan_to_num(X["age"]) + X[EVIL] > 0).astype(int)
    model = HistGradientBoostingClassifier(max_iter=30).fit(X, y)
    result = assay.audit(model, X, y, n_explain=20)
    path = tmp_path_factory.mktemp("report") / "report.html"
    write_report(result, path)
    return path


def test_report_renders_without_errors_or_requests(report_path, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    console, requests, dialogs = [], [], []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda msg: console.append((msg.type, msg.text)))
        page.on("pageerror", lambda err: console.append(("pageerror", str(err))))
        page.on("request", lambda req: requests.append(req.url))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(report_path.as_uri())
        page.wait_for_load_state("load")
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        headings = page.locator("h2").all_inner_texts()
        body_text = page.inner_text("body")
        n_svg = page.locator("figure svg").count()
        browser.close()
    assert shot.stat().st_size > 10_000
    assert [c for c in console if c[0] in ("error", "pageerror")] == []
    assert requests == [report_path.as_uri()]  # the page itself and nothing else
    assert dialogs == []  # the script in the feature name never ran
    assert "Performance" in headings and "What drives the predictions" in headings
    assert n_svg >= 2
    assert EVIL in body_text  # shown as text...


def test_user_strings_are_escaped_in_the_html(report_path):
    html = report_path.read_text()
    assert EVIL not in html  # ...because the markup only holds the escaped form
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "b&amp;c" in html
    assert "<script" not in html.lower()


def test_key_findings_box_and_beeswarm_as_seen_in_the_browser(report_path, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    from PIL import Image

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(report_path.as_uri())
        box = page.locator("#key-findings")
        box_top = box.bounding_box()["y"]
        first_section = page.locator("section").first.bounding_box()["y"]
        box_text = box.inner_text()
        links = box.locator("a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
        box.screenshot(path=str(tmp_path / "findings.png"))
        swarm = page.locator("figure", has_text="Attribution of each explained row")
        swarm.screenshot(path=str(tmp_path / "beeswarm.png"))
        swarm_size = swarm.bounding_box()
        browser.close()
    assert box_top < first_section  # the findings come before any section
    assert "Key findings" in box_text
    # each listed finding links to its section; the audit above warns at least on held-out data
    assert all(href.startswith("#") for href in links)
    assert swarm_size["width"] > 300 and swarm_size["height"] > 150
    pixels = np.asarray(Image.open(tmp_path / "beeswarm.png").convert("RGB")).reshape(-1, 3)
    pixels = pixels.astype(int)
    reddish = np.sum((pixels[:, 0] > 150) & (pixels[:, 2] < 120))
    bluish = np.sum((pixels[:, 2] > 150) & (pixels[:, 0] < 120))
    assert reddish > 20 and bluish > 20  # points coloured from low (blue) to high (red) values
