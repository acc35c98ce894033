"""``assay evals judge|contamination|spread`` on files: results.json, report.html, browser check."""

from __future__ import annotations

import json
import shutil
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner

from assay.cli import cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
EVIL = "<script>alert(1)</script>"

JUDGES = textwrap.dedent(
    """
    import re

    def _q(text):
        return float(re.search(r"<q=(-?[0-9.]+)>", text).group(1))

    def first_slot(question, first, second):
        if abs(_q(first) - _q(second)) < 0.3:
            return "A"
        return "B" if _q(second) > _q(first) else "A"

    def fair(question, first, second):
        return 1 if _q(second) > _q(first) else 0
    """
)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("evals_cli")
    (tmp / "judges.py").write_text(JUDGES)
    rng = np.random.default_rng(0)
    with open(tmp / "pairs.jsonl", "w") as fh:
        for i in range(60):
            qa, qb = rng.uniform(0, 1, 2)
            row = {
                "question": f"question {i} {EVIL if i == 0 else ''}",
                "answer_a": f"answer a{i} <q={qa:.3f}>", "answer_b": f"answer b{i} <q={qb:.3f}>",
                "author_a": EVIL if i % 2 else "model-x", "author_b": "model-y",
            }  # fmt: skip
            fh.write(json.dumps(row) + "\n")
    words = [f"w{k}" for k in range(400)]
    test_rows = []
    for i in range(30):
        text = " ".join(rng.choice(words, 20))
        test_rows.append({"text": text, "score": float(i % 2)})
    corpus = tmp / "corpus"
    corpus.mkdir()
    (corpus / "doc.txt").write_text(
        " ".join(test_rows[0]["text"].split()) + " filler " + test_rows[5]["text"]
    )
    with open(tmp / "test.jsonl", "w") as fh:
        for row in test_rows:
            fh.write(json.dumps(row) + "\n")
    (tmp / "scorer.py").write_text(
        "def score(prompts):\n    return [len(p) % 2 for p in prompts]\n"
    )
    with open(tmp / "examples.csv", "w") as fh:
        fh.write("Question,Answer\n")
        for i in range(20):
            fh.write(f"what is {i}?,\n")
    return tmp


def _invoke(args):
    result = CliRunner().invoke(cli, args)
    return result


def test_evals_judge_writes_results_and_report(files, tmp_path):
    out = tmp_path / "judge"
    res = _invoke([
        "evals", "judge", "--pairs", str(files / "pairs.jsonl"),
        "--judge", f"{files / 'judges.py'}:first_slot", "--checks", "position,verbosity",
        "--out", str(out), "--n-bootstrap", "199",
    ])  # fmt: skip
    assert res.exit_code == 0, res.output
    data = json.loads((out / "results.json").read_text())
    sec = data["sections"]["judge_bias"]
    checks = sec["data"]["result"]["checks"]
    assert checks["position"]["status"] == "alert" and checks["verbosity"]["status"] == "ok"
    assert sec["status"] == "alert"
    html = (out / "report.html").read_text()
    assert "Judge bias" in html and "Leaderboard" in html and "<svg" in html
    assert EVIL not in html  # escaped


def test_evals_judge_fair_judge_is_ok(files, tmp_path):
    res = _invoke([
        "evals", "judge", "--pairs", str(files / "pairs.jsonl"),
        "--judge", f"{files / 'judges.py'}:fair", "--out", str(tmp_path), "--n-bootstrap", "199",
        "--judge-name", "model-x",
    ])  # fmt: skip
    assert res.exit_code == 0, res.output
    sec = json.loads((tmp_path / "results.json").read_text())["sections"]["judge_bias"]
    assert sec["status"] == "ok"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--judge", "nocolon"], "not MODULE:FUNCTION"),
        (["--judge", "missing.py:fn"], "does not exist"),
        (["--judge", "json:no_such_fn"], "has no callable 'no_such_fn'"),
    ],
)
def test_evals_judge_bad_judge_spec(files, tmp_path, args, message):
    res = _invoke(["evals", "judge", "--pairs", str(files / "pairs.jsonl"), *args,
                   "--out", str(tmp_path)])  # fmt: skip
    assert res.exit_code == 2 and message in res.output


def test_evals_contamination_finds_planted_examples(files, tmp_path):
    out = tmp_path / "cont"
    res = _invoke([
        "evals", "contamination", "--test", str(files / "test.jsonl"),
        "--corpus", str(files / "corpus"), "--n", "8", "--scores-column", "score",
        "--out", str(out),
    ])  # fmt: skip
    assert res.exit_code == 0, res.output
    sec = json.loads((out / "results.json").read_text())["sections"]["contamination"]
    flagged = sec["data"]["result"]["contaminated"]
    assert [i for i, f in enumerate(flagged) if f] == [0, 5]
    assert sec["status"] == "alert" and "2 of 30" in sec["verdict"]


def test_evals_contamination_missing_column(files, tmp_path):
    res = _invoke([
        "evals", "contamination", "--test", str(files / "test.jsonl"), "--corpus",
        str(files / "corpus"), "--text-column", "prompt", "--out", str(tmp_path),
    ])  # fmt: skip
    assert res.exit_code == 2 and "lacks field(s) ['prompt']" in res.output


def test_evals_spread_writes_report(files, tmp_path):
    res = _invoke([
        "evals", "spread", "--examples", str(files / "examples.csv"),
        "--scorer", f"{files / 'scorer.py'}:score", "--n-formats", "4", "--n-bootstrap", "200",
        "--out", str(tmp_path),
    ])  # fmt: skip
    assert res.exit_code == 0, res.output
    sec = json.loads((tmp_path / "results.json").read_text())["sections"]["format_spread"]
    assert sec["title"] == "Format spread" and len(sec["data"]["result"]["formats"]) == 4
    assert (tmp_path / "report.html").exists()


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_evals_reports_in_a_browser(files, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    judge_out, cont_out = tmp_path / "judge", tmp_path / "cont"
    assert _invoke([
        "evals", "judge", "--pairs", str(files / "pairs.jsonl"), "--judge",
        f"{files / 'judges.py'}:first_slot", "--out", str(judge_out), "--n-bootstrap", "199",
        "--judge-name", "model-x",
    ]).exit_code == 0  # fmt: skip
    assert _invoke([
        "evals", "contamination", "--test", str(files / "test.jsonl"), "--corpus",
        str(files / "corpus"), "--n", "8", "--out", str(cont_out),
    ]).exit_code == 0  # fmt: skip
    seen = {}
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        for name, out in (("judge", judge_out), ("cont", cont_out)):
            console, requests, dialogs = [], [], []
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda msg, c=console: c.append((msg.type, msg.text)))
            page.on("pageerror", lambda err, c=console: c.append(("pageerror", str(err))))
            page.on("request", lambda req, r=requests: r.append(req.url))
            page.on("dialog", lambda d, ds=dialogs: (ds.append(d.message), d.dismiss()))
            uri = (out / "report.html").as_uri()
            page.goto(uri)
            page.wait_for_load_state("load")
            seen[name] = {
                "headings": page.locator("h2").all_inner_texts(),
                "svg": page.locator("figure svg").count(),
                "body": page.inner_text("body"),
                "errors": [c for c in console if c[0] in ("error", "pageerror")],
                "requests": requests, "dialogs": dialogs, "uri": uri,
            }  # fmt: skip
            page.close()
        browser.close()
    for name, heading, n_svg in (("judge", "Judge bias", 2), ("cont", "Contamination", 1)):
        s = seen[name]
        assert heading in s["headings"] and s["svg"] >= n_svg
        assert s["errors"] == [] and s["dialogs"] == [] and s["requests"] == [s["uri"]]
    assert EVIL in seen["judge"]["body"]  # the author name shows as text, never runs
    assert "first slot" in seen["judge"]["body"]
