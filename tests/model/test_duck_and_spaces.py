"""Duck-typed models, and one default output space per model across every method."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression

import assay
from assay.model import default_output_space, wrap


class ProbaOnly:
    """How people wrap an API or a custom model: no fit, no sklearn base, just predict_proba."""

    def __init__(self, inner):
        self.inner = inner

    def predict_proba(self, X):
        return self.inner.predict_proba(np.asarray(X))


class PredictOnly:
    def __init__(self, inner):
        self.inner = inner

    def predict(self, X):
        return self.inner.predict(np.asarray(X))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(400, 4)), columns=list("abcd"))
    y = (X["a"] - X["b"] + rng.normal(size=400) > 0).astype(int)
    return X, y


def test_an_object_with_predict_proba_is_a_classifier(data):
    X, y = data
    lr = LogisticRegression().fit(X.to_numpy(), y)
    duck = ProbaOnly(lr)
    adapter = wrap(duck)
    assert adapter.is_classifier and adapter.output_space == "probability"
    kw = {"method": "exact", "background": X.iloc[:30]}
    np.testing.assert_allclose(
        assay.explain(duck, X.iloc[:5], **kw).values,
        assay.explain(lr, X.iloc[:5].to_numpy(), **kw).values,
        atol=1e-12,
    )
    adapter.predict(X.iloc[:2].to_numpy())
    assert adapter.output_names == ["0", "1"]
    result = assay.audit(duck, X.iloc[200:], y.iloc[200:], n_explain=5)
    assert result.sections["performance"]["data"]["audited"]["AUC"] > 0.7


def test_an_object_with_predict_only_is_a_regressor(data):
    X, _ = data
    duck = PredictOnly(LinearRegression().fit(X.to_numpy(), X["a"].to_numpy()))
    exp = assay.explain(duck, X.iloc[:5], method="exact", background=X.iloc[:30])
    assert exp.output_space == "raw" and exp.values.shape == (5, 4, 1)
    np.testing.assert_allclose(exp.values.sum(axis=1)[:, 0] + exp.base_values[:, 0],
                               duck.predict(X.iloc[:5]), atol=1e-12)  # fmt: skip


def test_an_object_without_any_predict_is_refused():
    with pytest.raises(assay.errors.ModelError, match="predict_proba/predict/decision_function"):
        wrap(object())


@pytest.mark.parametrize(
    ("make", "space", "n_out"),
    [
        (lambda: HistGradientBoostingClassifier(max_iter=30, random_state=0), "log_odds", 1),
        (lambda: RandomForestClassifier(n_estimators=20, random_state=0), "probability", 2),
    ],
)
def test_one_default_output_space_for_every_method(data, make, space, n_out):
    X, y = data
    model = make().fit(X, y)
    assert default_output_space(model) == space
    bg, rows = X.iloc[:40], X.iloc[:4]
    results = {
        m: assay.explain(model, rows, method=m, background=bg, seed=0)
        for m in ("tree", "exact", "kernel", "permutation", "lime")
    }
    for method, exp in results.items():
        assert exp.output_space == space, method
        assert exp.values.shape == (4, 4, n_out), method
    # the sampled estimators agree with exact enumeration in that one space
    exact = results["exact"].values
    for method in ("kernel", "permutation"):
        est = results[method]
        assert np.all(np.abs(est.values - exact) <= 6 * est.stderr + 1e-9), method
