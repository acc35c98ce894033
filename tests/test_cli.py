"""The command line: version, the demo audit, and one-line errors for bad inputs."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from click.testing import CliRunner
from sklearn.linear_model import LogisticRegression

from assay import __version__
from assay.cli import cli


@pytest.fixture(scope="module")
def user_files(tmp_path_factory):
    """A small CSV with a binary target and a model saved with skops and with pickle."""
    tmp = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    y = (X["a"] + 0.5 * X["b"] + rng.normal(scale=0.5, size=300) > 0).astype(int)
    frame = X.assign(target=y, group=rng.choice(["g1", "g2"], size=300))
    frame.to_csv(tmp / "data.csv", index=False)
    model = LogisticRegression().fit(X, y)
    sio.dump(model, tmp / "model.skops")
    with open(tmp / "model.pkl", "wb") as fh:
        pickle.dump(model, fh)
    LogisticRegression().fit(X[["a", "b"]], y).__class__  # noqa: B018 - keeps import used
    sio.dump(LogisticRegression().fit(X[["a", "b"]], y), tmp / "model_2cols.skops")
    return tmp


def run(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def test_version():
    result = run(["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_audit_user_model_writes_results_and_report(user_files, tmp_path):
    out = tmp_path / "audit"
    result = run(
        [
            "audit", "--data", str(user_files / "data.csv"), "--target", "target",
            "--model", str(user_files / "model.skops"), "--sensitive", "group",
            "--out", str(out), "--quiet",
        ]
    )
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert results["kind"] == "AuditResult"
    assert results["meta"]["feature_names"] == ["a", "b", "c"]
    assert results["sections"]["performance"]["data"]["auc"] > 0.8
    html = (out / "report.html").read_text()
    assert "<html" in html and "Performance" in html
    # the report is rebuilt from results.json alone
    rebuilt = tmp_path / "rebuilt.html"
    assert run(["report", str(out / "results.json"), "--out", str(rebuilt)]).exit_code == 0
    assert rebuilt.read_text() == html


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing_data", "does not exist"),
        ("missing_target", "target column 'nope' is not in"),
        ("feature_mismatch", "fitted on 2"),
        ("non_numeric_target", "not numeric"),
        ("empty_file", "empty"),
        ("pickle_untrusted", "--trust-model"),
        ("bad_model_suffix", "suffix"),
        ("missing_model", "model file"),
    ],
)
def test_bad_inputs_give_one_line_error_and_nonzero_exit(user_files, tmp_path, case, expected):
    data, target, model = user_files / "data.csv", "target", user_files / "model.skops"
    if case == "missing_data":
        data = tmp_path / "nothing.csv"
    elif case == "missing_target":
        target = "nope"
    elif case == "feature_mismatch":
        model = user_files / "model_2cols.skops"
    elif case == "non_numeric_target":
        target = "group"
    elif case == "empty_file":
        data = tmp_path / "empty.csv"
        data.write_text("")
    elif case == "pickle_untrusted":
        model = user_files / "model.pkl"
    elif case == "bad_model_suffix":
        model = tmp_path / "model.weird"
        model.write_text("x")
    elif case == "missing_model":
        model = tmp_path / "absent.skops"
    args = ["audit", "--data", str(data), "--target", target, "--model", str(model)]
    if case == "feature_mismatch":
        args += ["--sensitive", "group"]
    result = run([*args, "--out", str(tmp_path / "out"), "--quiet"])
    assert result.exit_code != 0
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ")
    assert expected in lines[0]


def test_pickle_with_trust_flag_loads(user_files, tmp_path):
    result = run(
        [
            "audit", "--data", str(user_files / "data.csv"), "--target", "target",
            "--model", str(user_files / "model.pkl"), "--trust-model", "--sensitive", "group",
            "--out", str(tmp_path / "out"), "--quiet",
        ]
    )
    assert result.exit_code == 0, result.output


def test_report_rejects_non_results_file(tmp_path):
    bogus = tmp_path / "x.json"
    bogus.write_text(json.dumps({"kind": "something"}))
    result = run(["report", str(bogus)])
    assert result.exit_code != 0
    assert "not an assay audit result" in result.output
