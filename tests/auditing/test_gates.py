"""Pipeline gates: ``assay audit --fail-on`` exit statuses and the results.json findings block."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from click.testing import CliRunner
from sklearn.linear_model import LogisticRegression

import assay.auditing as auditing
from assay.auditing import AuditResult
from assay.auditing._gates import findings, gate_status
from assay.cli import cli
from assay.errors import InvalidInputError

META = {"model": "M", "n_rows": 10, "n_features": 2, "seed": 0, "skipped": {}}


def _sec(status, verdict="v"):
    return {"title": status.title(), "verdict": verdict, "status": status}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gates")
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    y = (X["a"] + 0.5 * X["b"] + rng.normal(scale=0.5, size=300) > 0).astype(int)
    X.assign(target=y).to_csv(tmp / "data.csv", index=False)
    sio.dump(LogisticRegression().fit(X, y), tmp / "model.skops")
    return tmp


def _args(files, out):
    return ["audit", "--data", str(files / "data.csv"), "--target", "target", "--model",
            str(files / "model.skops"), "--out", str(out), "--quiet"]  # fmt: skip


def test_findings_block_lists_non_ok_sections_worst_first():
    result = AuditResult(
        sections={"a": _sec("ok"), "b": _sec("warning", "w"), "c": _sec("alert", "x <b>")},
        meta=META,
    )
    block = result.to_dict()["findings"]
    assert block == [
        {"section": "c", "title": "Alert", "status": "alert", "message": "x <b>"},
        {"section": "b", "title": "Warning", "status": "warning", "message": "w"},
    ]
    assert AuditResult.from_dict(json.loads(json.dumps(result.to_dict()))).findings == block


@pytest.mark.parametrize(
    ("statuses", "fail_on", "code"),
    [
        (["ok"], "alert", 0), (["ok"], "warning", 0), (["warning"], "alert", 0),
        (["warning"], "warning", 1), (["alert"], "alert", 1), (["alert"], "warning", 1),
        (["alert"], None, 0),
    ],
)  # fmt: skip
def test_gate_status_table(statuses, fail_on, code):
    secs = {f"s{i}": _sec(s) for i, s in enumerate(statuses)}
    assert gate_status(findings(secs), fail_on) == code


def test_gate_rejects_unknown_level():
    with pytest.raises(InvalidInputError, match="fail_on must be one of"):
        gate_status([], "error")


@pytest.mark.parametrize(
    ("statuses", "fail_on", "code"),
    [(["ok", "warning"], "alert", 0), (["ok", "warning"], "warning", 1),
     (["alert"], "alert", 1), (["ok"], "warning", 0), (["alert"], None, 0)],
)  # fmt: skip
def test_cli_exit_status_follows_the_findings(files, tmp_path, monkeypatch, statuses, fail_on,
                                              code):  # fmt: skip
    fixed = AuditResult(sections={f"s{i}": _sec(s) for i, s in enumerate(statuses)}, meta=META)
    monkeypatch.setattr(auditing, "audit", lambda *a, **k: fixed)
    args = _args(files, tmp_path / "out") + (["--fail-on", fail_on] if fail_on else [])
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == code, res.output
    block = json.loads((tmp_path / "out" / "results.json").read_text())["findings"]
    assert [f["status"] for f in block] == [s for s in statuses if s != "ok"]
    if code:
        assert f"--fail-on {fail_on}" in res.output


def test_cli_usage_error_and_interrupt(files, tmp_path, monkeypatch):
    res = CliRunner().invoke(cli, [*_args(files, tmp_path / "o"), "--fail-on", "error"])
    assert res.exit_code == 2
    assert "alert" in res.output and "warning" in res.output

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(auditing, "audit", interrupted)
    res = CliRunner().invoke(cli, [*_args(files, tmp_path / "o"), "--fail-on", "alert"])
    assert res.exit_code == 130


def test_real_audit_gate_agrees_with_its_results(files, tmp_path):
    """A real audit: the exit status is 1 exactly when results.json holds a finding at the level."""
    for level in ("alert", "warning"):
        out = tmp_path / level
        res = CliRunner().invoke(cli, [*_args(files, out), "--fail-on", level])
        data = json.loads((out / "results.json").read_text())
        statuses = [s["status"] for s in data["sections"].values()]
        worst_hit = "alert" in statuses or (level == "warning" and "warning" in statuses)
        assert res.exit_code == int(worst_hit), res.output
        assert {f["section"] for f in data["findings"]} == {
            k for k, s in data["sections"].items() if s["status"] != "ok"
        }
