"""The command line and its files: --out checked before any work, bad headers, crafted models.

Crafted model files run through ``assay explain`` and ``assay audit`` in a child process with
a timeout, so a crash (exit 139) or a hang fails the test instead of the test run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from assay.cli import cli

xgb = pytest.importorskip("xgboost")

SRC = str(Path(__file__).resolve().parents[1] / "src")


def run(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli_files")
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 4)), columns=["age", "b", "c", "d"])
    y = (X["age"] + X["b"] > 0).astype(int)
    X.assign(target=y).to_csv(tmp / "data.csv", index=False)
    (tmp / "dup.csv").write_text("age,b,age,target\n1,2,3,0\n4,5,6,1\n")
    xgb.XGBClassifier(n_estimators=3, max_depth=2).fit(X, y).get_booster().save_model(
        tmp / "good.json"
    )
    good = json.loads((tmp / "good.json").read_text())
    for name in ("cycle", "child", "feature"):
        model = json.loads(json.dumps(good))
        tree = model["learner"]["gradient_booster"]["model"]["trees"][0]
        left, right = tree["left_children"], tree["right_children"]
        if name == "cycle":
            child = left[0]
            left[child], right[child] = 0, right[0]
        elif name == "child":
            left[0] = 100000
        else:
            tree["split_indices"][0] = 5000
        (tmp / f"{name}.json").write_text(json.dumps(model))
    (tmp / "a_file").write_text("x")
    return tmp


# --------------------------------------------------------------------------- --out


def test_audit_out_checked_before_any_work(files):
    for out, words in [
        (files / "a_file", "exists and is a file"),
        (files / "a_file" / "sub", "is a file, not a folder"),
    ]:
        res = run(["audit", "--demo", "--out", str(out)])
        assert res.exit_code == 2 and words in res.output, res.output
        assert "loading the demo cohort" not in res.output  # failed before the work


def test_explain_and_report_out_checked_first(files):
    base = ["explain", "--data", str(files / "data.csv"), "--model", str(files / "good.json")]
    res = run([*base, "--target", "target", "--out", str(files / "a_file" / "sub" / "x.csv")])
    assert res.exit_code == 2 and "is a file, not a folder" in res.output, res.output
    folder = files / "folder.csv"
    folder.mkdir(exist_ok=True)
    res = run([*base, "--target", "target", "--out", str(folder)])
    assert res.exit_code == 2 and "is a folder" in res.output, res.output
    res = run(["report", str(files / "missing.json"), "--out", str(files / "a_file" / "r.html")])
    assert res.exit_code == 2 and "is a file, not a folder" in res.output, res.output


def test_unwritable_out_folder(files, monkeypatch, tmp_path):
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o500)
    else:  # root may write anywhere: make the permission check say no
        folder = tmp_path / "ro"
        folder.mkdir()
        monkeypatch.setattr(os, "access", lambda *a, **k: False)
    res = run(["audit", "--demo", "--out", str(folder / "out")])
    assert res.exit_code == 2 and "cannot be written" in res.output, res.output
    assert "loading the demo cohort" not in res.output


def test_duplicated_csv_header_names_the_column(files):
    res = run(
        ["explain", "--data", str(files / "dup.csv"), "--model", str(files / "good.json"),
         "--out", str(files / "o.csv")]
    )  # fmt: skip
    assert res.exit_code == 2, res.output
    assert "['age'] more than once" in res.output and "age.1" not in res.output


# --------------------------------------------------------------------------- crafted models


def _assay(*args, timeout=300):
    return subprocess.run(
        [sys.executable, "-c", "from assay.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=timeout,  # a hang fails here
        env={**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"},
    )


@pytest.mark.parametrize("name", ["cycle", "child", "feature"])
def test_crafted_model_through_explain_and_audit(files, tmp_path, name):
    model = str(files / f"{name}.json")
    data = str(files / "data.csv")
    # every method for the cycle; kernel (the model's own predict) for the others
    for method in ("tree", "kernel", "exact") if name == "cycle" else ("kernel",):
        proc = _assay("explain", "--data", data, "--model", model, "--target", "target",
                      "--method", method, "--rows", "5", "--out", str(tmp_path / "x.csv"),
                      "--quiet")  # fmt: skip
        assert proc.returncode == 2, (method, proc.returncode, proc.stderr[-1500:])
        assert "malformed tree model" in proc.stderr and f"{name}.json" in proc.stderr
        assert "Traceback" not in proc.stderr
    proc = _assay("audit", "--data", data, "--target", "target", "--model", model,
                  "--out", str(tmp_path / "audit"), "--quiet")  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-1500:]
    assert "malformed tree model" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "audit" / "results.json").exists()


def test_good_model_through_explain(files, tmp_path):
    proc = _assay("explain", "--data", str(files / "data.csv"), "--model",
                  str(files / "good.json"), "--target", "target", "--method", "tree",
                  "--rows", "5", "--out", str(tmp_path / "x.csv"), "--quiet")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-1500:]
    table = pd.read_csv(tmp_path / "x.csv")
    assert len(table) == 5 * 4  # rows x features, one margin output
