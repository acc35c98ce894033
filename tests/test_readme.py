"""The README's module tour runs as written (its Python blocks, in order, in one namespace)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SECTION = "## What each module does"


def _module_tour_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return re.findall(r"```python\n(.*?)```", text[start : end if end > 0 else None], re.S)


@pytest.mark.slow
def test_module_tour_runs(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    blocks = _module_tour_blocks()
    assert len(blocks) >= 6, "the README's module tour lost its examples"
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    # the planted findings the tour points at are really there
    assert "zip_region" in namespace["proxies"].summary
    assert any(a.feature == "creatinine" for a in namespace["anomalies"].anomalies)
    assert namespace["kern"].stderr is not None
    good = namespace["good"]  # stopping by accuracy: converged rows met the target stderr
    assert (good.stderr.max(axis=(1, 2))[good.params["converged"]] <= 0.02).all()
    assert namespace["bias"].checks["verbosity"]["status"] == "alert"


def test_text_columns_example_runs():
    text = README.read_text(encoding="utf-8")
    start = text.index("### Your data as you have it")
    block = re.findall(r"```python\n(.*?)```", text[start:], re.S)[0]
    namespace: dict = {}
    exec(compile("import assay\n" + block, "README.md", "exec"), namespace)
    assert namespace["exp"].feature_names == ["checking", "amount"]
    assert namespace["exp"].values.shape == (5, 2, 1)  # log-odds of a boosted classifier


@pytest.mark.slow
def test_short_tour_runs(monkeypatch, tmp_path):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.chdir(tmp_path)  # the tour saves exp.npz
    text = README.read_text(encoding="utf-8")
    start = text.index("## A short tour")
    block = re.findall(r"```python\n(.*?)```", text[start:], re.S)[0]
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["exp"].values.shape == (20, 12, 2)  # the probability request
    result = namespace["result"]
    assert result.meta["holdout"]["status"] == "ok"
    assert result.sections["glassbox"]["data"]["fitted_on"] == "training rows"
