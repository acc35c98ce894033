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
    frame.assign(target=np.where(y == 1, 7, 5)).to_csv(tmp / "labels57.csv", index=False)
    frame.assign(target=np.where(np.arange(300) < 3, np.nan, y)).to_csv(
        tmp / "nan_target.csv", index=False
    )
    frame.assign(target=X["a"]).to_csv(tmp / "train.csv", index=False)
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
            "audit",
            "--data",
            str(user_files / "data.csv"),
            "--target",
            "target",
            "--model",
            str(user_files / "model.skops"),
            "--sensitive",
            "group",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert results["kind"] == "AuditResult"
    assert results["meta"]["feature_names"] == ["a", "b", "c"]
    assert results["sections"]["performance"]["data"]["audited"]["AUC"] > 0.8
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
        ("unknown_labels", "label(s) ['5', '7'] that the model does not know"),
        ("nan_target", "3 missing or infinite value(s) (first rows: [0, 1, 2])"),
        ("bad_alpha", "alpha must be a significance level"),
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
    elif case == "unknown_labels":
        data = user_files / "labels57.csv"
    elif case == "nan_target":
        data = user_files / "nan_target.csv"
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
    if case in ("feature_mismatch", "unknown_labels", "nan_target", "bad_alpha"):
        args += ["--sensitive", "group"]
    if case == "bad_alpha":
        args += ["--alpha", "0.7"]
    result = run([*args, "--out", str(tmp_path / "out"), "--quiet"])
    assert result.exit_code != 0
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ")
    assert expected in lines[0]


def test_pickle_with_trust_flag_loads(user_files, tmp_path):
    result = run(
        [
            "audit",
            "--data",
            str(user_files / "data.csv"),
            "--target",
            "target",
            "--model",
            str(user_files / "model.pkl"),
            "--trust-model",
            "--sensitive",
            "group",
            "--out",
            str(tmp_path / "out"),
            "--quiet",
        ]
    )
    assert result.exit_code == 0, result.output


def test_report_rejects_non_results_file(tmp_path):
    bogus = tmp_path / "x.json"
    bogus.write_text(json.dumps({"kind": "something"}))
    result = run(["report", str(bogus)])
    assert result.exit_code != 0
    assert "not an assay audit result" in result.output


def test_audit_writes_figures_and_progress_goes_to_stderr_unless_quiet(user_files, tmp_path):
    out = tmp_path / "audit"
    args = [
        "audit", "--data", str(user_files / "data.csv"), "--target", "target",
        "--model", str(user_files / "model.skops"), "--sensitive", "group",
        "--out", str(out), "--sample", "200",
    ]  # fmt: skip
    result = run(args)
    assert result.exit_code == 0, result.output
    assert "estimated" in result.output and "audit:" in result.output  # estimate, tqdm bar
    results = json.loads((out / "results.json").read_text())
    n_figures = sum(len(s["figures"]) for s in results["sections"].values())
    assert n_figures > 0
    assert len(list((out / "figures").glob("*.svg"))) == n_figures
    assert results["meta"]["n_rows"] == 200
    assert "--expect" in results["meta"]["skipped"]["monotonicity"]  # skipped, with the reason
    quiet = run([*args[:-4], "--out", str(tmp_path / "q"), "--sample", "200", "--quiet"])
    assert quiet.exit_code == 0 and quiet.output == ""


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_explain_writes_attributions(user_files, tmp_path, suffix):
    out = tmp_path / f"attr{suffix}"
    frame = pd.read_csv(user_files / "data.csv").drop(columns=["target", "group"])
    frame.to_csv(tmp_path / "features.csv", index=False)
    result = run(
        [
            "explain", "--data", str(tmp_path / "features.csv"),
            "--model", str(user_files / "model.skops"), "--rows", "7", "--method", "exact",
            "--out", str(out), "--quiet",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert set(table["row"]) == set(range(7)) and set(table["feature"]) == {"a", "b", "c"}
    # exact Shapley values add up to the model output minus the base value, row by row
    import skops.io as sio

    model = sio.load(user_files / "model.skops", trusted=sio.get_untrusted_types(
        file=user_files / "model.skops") or None)  # fmt: skip
    p = model.predict_proba(frame.iloc[:7])[:, 1]
    pos = table[table["output"] == table["output"].iloc[-1]]
    sums = pos.groupby("row")["value"].sum().to_numpy()
    base = p - sums
    assert np.allclose(base, base[0], atol=1e-9)  # one base value: additivity holds


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing_data", "does not exist"),
        ("missing_target", "target column 'nope' is not in"),
        ("feature_mismatch", "fitted on"),
        ("bad_out_suffix", "use .parquet or .csv"),
        ("pickle_untrusted", "--trust-model"),
        ("empty_file", "empty"),
        ("one_row", "its own reference"),
    ],
)
def test_explain_bad_inputs_give_one_line_error(user_files, tmp_path, case, expected):
    data, model, out = user_files / "data.csv", user_files / "model.skops", tmp_path / "a.csv"
    target = "target"
    if case == "missing_data":
        data = tmp_path / "none.csv"
    elif case == "missing_target":
        target = "nope"
    elif case == "bad_out_suffix":
        out = tmp_path / "a.xlsx"
    elif case == "pickle_untrusted":
        model = user_files / "model.pkl"
    elif case == "empty_file":
        data = tmp_path / "empty.csv"
        data.write_text("")
    elif case == "one_row":  # the background would be the row itself: all-zero attributions
        data = tmp_path / "one.csv"
        pd.read_csv(user_files / "data.csv").iloc[:1].to_csv(data, index=False)
    elif case == "feature_mismatch":  # columns a, b, c for a model fitted on a, b
        data = tmp_path / "features.csv"
        pd.read_csv(user_files / "data.csv")[["a", "b", "c"]].to_csv(data, index=False)
        model = user_files / "model_2cols.skops"
    args = ["explain", "--data", str(data), "--model", str(model), "--out", str(out), "--quiet"]
    if case != "feature_mismatch":
        args += ["--target", target]
    result = run(args)
    assert result.exit_code != 0
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ") and expected in lines[0]
