"""Command-line options for data as users have it: --drop, --positive, --labels."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from click.testing import CliRunner
from sklearn.ensemble import HistGradientBoostingClassifier

import assay
from assay.cli import cli
from assay.errors import InvalidInputError


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("real")
    rng = np.random.default_rng(0)
    n = 900
    X = pd.DataFrame(
        {"age": rng.integers(20, 70, n).astype(float), "purpose": rng.integers(0, 3, n)}
    )
    y = ((X["purpose"] == 2) | (rng.random(n) < 0.2)).astype(int)
    model = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(X, y)
    sio.dump(model, tmp / "model.skops")
    frame = X.assign(sex=rng.choice(["f", "m"], n), outcome=np.where(y == 1, "yes", "no"))
    frame.to_csv(tmp / "data.csv", index=False)
    (tmp / "labels.json").write_text(json.dumps({"purpose": {"0": "car", "1": "tv", "2": "edu"}}))
    return tmp, model, X, y


def run(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def test_explain_drop_leaves_out_a_column_that_is_not_an_input(files, tmp_path):
    tmp, *_ = files
    base = ["explain", "--data", str(tmp / "data.csv"), "--model", str(tmp / "model.skops"),
            "--target", "outcome", "--rows", "5"]  # fmt: skip
    refused = run([*base, "--out", str(tmp_path / "a.csv")])
    assert refused.exit_code == 2 and "--drop COLUMN" in refused.output
    done = run([*base, "--drop", "sex", "--out", str(tmp_path / "b.csv")])
    assert done.exit_code == 0, done.output
    table = pd.read_csv(tmp_path / "b.csv")
    assert set(table["feature"]) == {"age", "purpose"}
    unknown = run([*base, "--drop", "nope", "--out", str(tmp_path / "c.csv")])
    assert unknown.exit_code == 2 and "--drop ['nope'] not in" in unknown.output


def test_audit_positive_label_and_value_labels(files, tmp_path):
    tmp, *_ = files
    out = tmp_path / "audit"
    args = ["audit", "--data", str(tmp / "data.csv"), "--target", "outcome", "--model",
            str(tmp / "model.skops"), "--sensitive", "sex", "--out", str(out),
            "--quiet"]  # fmt: skip
    refused = run(args)
    assert refused.exit_code == 2 and "label(s) ['no', 'yes']" in refused.output
    done = run([*args, "--positive", "yes", "--labels", str(tmp / "labels.json")])
    assert done.exit_code == 0, done.output
    results = json.loads((out / "results.json").read_text())
    assert results["sections"]["performance"]["data"]["audited"]["AUC"] > 0.7
    assert results["meta"]["category_labels"]["purpose"] == {"0": "car", "1": "tv", "2": "edu"}
    assert "purpose" in results["meta"]["categorical_features"]
    html = (out / "report.html").read_text()
    assert "purpose = edu" in html and "purpose = 2" not in html


def test_value_labels_are_checked(files):
    _tmp, model, X, y = files
    with pytest.raises(InvalidInputError, match=r"no label for code\(s\) \[2.0\]"):
        assay.audit(model, X, y, category_labels={"purpose": {0: "car", 1: "tv"}}, n_explain=5)
    with pytest.raises(InvalidInputError, match="not a feature"):
        assay.audit(model, X, y, category_labels={"colour": {0: "red"}}, n_explain=5)
    with pytest.raises(InvalidInputError, match="does not occur in the target"):
        assay.audit(model, X, y, positive_label="maybe", n_explain=5)
