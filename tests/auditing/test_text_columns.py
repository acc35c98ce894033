"""Real tables as users have them: text columns through a one-hot Pipeline, a text target."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from click.testing import CliRunner
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

import assay
from assay.cli import cli
from assay.errors import InvalidInputError


def _table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n).astype(float),
            "checking_account": rng.choice(["little", "moderate", "rich", "none"], n),
            "purpose": rng.choice(["car", "radio/TV", "education"], n),
            "amount": rng.gamma(2.0, 1500.0, n).round(),
            "sex": rng.choice(["female", "male"], n),
        }
    )
    logit = -0.5 + 1.6 * (frame["checking_account"] == "little") - 0.0003 * frame["amount"]
    frame["risk"] = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "bad", "good")
    return frame


@pytest.fixture(scope="module")
def fitted():
    train, test = _table(800, 0), _table(500, 1)
    features = ["age", "checking_account", "purpose", "amount"]
    pipe = Pipeline(
        [
            ("encode", ColumnTransformer(
                [("onehot", OneHotEncoder(handle_unknown="ignore"),
                  ["checking_account", "purpose"])],
                remainder="passthrough",
            )),
            ("model", HistGradientBoostingClassifier(max_iter=40, random_state=0)),
        ]
    ).fit(train[features], train["risk"])  # fmt: skip
    return pipe, train, test, features


def test_explanations_are_over_the_original_columns(fitted):
    pipe, _train, test, features = fitted
    X = test[features]
    exact = assay.explain(pipe, X.iloc[:10], method="exact", background=X.iloc[:40])
    # a boosted classifier at the end of the Pipeline: explained in log-odds by default
    assert exact.feature_names == features and exact.values.shape == (10, 4, 1)
    # additivity holds over the raw columns: the one-hot block of a column is one player
    out = pipe.decision_function(X.iloc[:10])[:, None]
    np.testing.assert_allclose(exact.values.sum(axis=1) + exact.base_values, out, atol=1e-9)
    kernel = assay.explain(pipe, X.iloc[:10], method="kernel", background=X.iloc[:40], seed=0)
    np.testing.assert_allclose(kernel.values, exact.values, atol=5 * kernel.stderr.max() + 1e-6)
    top = np.abs(exact.values[:, :, 0]).mean(axis=0).argmax()
    assert features[top] == "checking_account"  # the planted driver


def test_text_columns_need_a_model_that_takes_them(fitted):
    _pipe, train, _test, _features = fitted
    numeric = RandomForestClassifier(5).fit(train[["age", "amount"]].to_numpy(), train["risk"])
    with pytest.raises(InvalidInputError, match="text columns"):
        assay.explain(numeric, train[["age", "purpose"]].iloc[:5], method="exact",
                      background=train[["age", "purpose"]].iloc[:20])  # fmt: skip


def test_cli_audit_of_a_skops_pipeline_on_text_columns(fitted, tmp_path):
    pipe, train, test, features = fitted
    sio.dump(pipe, tmp_path / "pipe.skops")
    test.to_csv(tmp_path / "test.csv", index=False)
    train.to_csv(tmp_path / "train.csv", index=False)
    result = CliRunner().invoke(
        cli,
        ["audit", "--data", str(tmp_path / "test.csv"), "--target", "risk",
         "--model", str(tmp_path / "pipe.skops"), "--sensitive", "sex",
         "--train", str(tmp_path / "train.csv"), "--out", str(tmp_path / "out"), "--quiet"],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    meta = results["meta"]
    assert meta["feature_names"] == features
    assert set(meta["categorical_features"]) == {"checking_account", "purpose"}
    assert meta["category_labels"]["checking_account"] == ["little", "moderate", "none", "rich"]
    assert meta["holdout"]["status"] == "ok"
    html = (tmp_path / "out" / "report.html").read_text()
    assert "checking_account = little" in html  # labels, never codes
    assert "checking_account = 0" not in html


@pytest.mark.parametrize("order", [["red", "green", "blue"], ["blue", "green", "red"]])
def test_native_categorical_boosting_is_explained_exactly_by_tree_and_exact(order):
    rng = np.random.default_rng(0)
    kind = pd.Categorical(rng.choice(["red", "green", "blue"], 400), categories=order)
    X = pd.DataFrame({"a": rng.normal(size=400), "kind": kind})
    y = (X["a"] + (X["kind"] == "red") * 1.5 > 0.5).astype(int)
    model = HistGradientBoostingClassifier(max_iter=20, categorical_features="from_dtype")
    model.fit(X, y)
    margin = model.decision_function(X.iloc[:8])
    kw = {"background": X.iloc[:30]}
    for method, extra in (("exact", {}), ("tree", {}), ("tree", {"mode": "interventional"})):
        exp = assay.explain(model, X.iloc[:8], method=method, **kw, **extra)
        total = exp.values.sum(axis=1)[:, 0] + exp.base_values[:, 0]
        np.testing.assert_allclose(total, margin, atol=1e-9)
    exact = assay.explain(model, X.iloc[:8], method="exact", **kw)
    interventional = assay.explain(model, X.iloc[:8], method="tree", mode="interventional", **kw)
    np.testing.assert_allclose(interventional.values, exact.values, atol=1e-9)
    # a category the model never saw, sorted first, would shift the codes: tree methods refuse
    other = X.iloc[:30].astype({"kind": "object"})
    other.loc[other.index[:5], "kind"] = "amber"
    with pytest.raises(assay.errors.ModelError, match="not coded as the model"):
        assay.explain(model, other.iloc[5:10], method="tree", background=other)
