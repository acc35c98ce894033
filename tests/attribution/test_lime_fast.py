"""LIME's fast paths: compiled bitmask trees (assay.model._fast_predict) and batching."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import (
    GradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)

from assay.attribution import LimeTabular
from assay.model import extract_tree_ensemble, wrap
from assay.model._fast_predict import CompiledTrees, fast_tree_predictor, supports
from assay.model._tree_predict import predict_raw


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    rf = RandomForestClassifier(n_estimators=15, random_state=0).fit(X, y)
    return X, y, rf


def _neighbourhood(X, n, seed=0):
    rng = np.random.default_rng(seed)
    return X[rng.integers(0, len(X), n)] + rng.normal(size=(n, X.shape[1])) * X.std(0)


def test_compiled_trees_bit_identical_to_traversal_and_match_sklearn(cancer):
    X, _, rf = cancer
    Z = np.vstack([X, _neighbourhood(X, 2000)])
    ens = extract_tree_ensemble(rf)
    got = CompiledTrees(ens)(Z)
    assert np.array_equal(got, predict_raw(ens, Z))  # same sums in the same order
    np.testing.assert_allclose(got, rf.predict_proba(Z), rtol=0, atol=1e-12)
    # values exactly on (and one float either side of) a library threshold route as the
    # library does, float32 rounding included
    on = []
    for est in rf.estimators_[:3]:
        tree = est.tree_
        for node in np.flatnonzero(tree.children_left >= 0):
            t = tree.threshold[node]
            for v in (np.nextafter(t, -np.inf), t, np.nextafter(t, np.inf)):
                row = X[node % len(X)].copy()
                row[tree.feature[node]] = v
                on.append(row)
    on = np.array(on)
    np.testing.assert_allclose(CompiledTrees(ens)(on), rf.predict_proba(on), rtol=0, atol=1e-12)


def test_compiled_trees_missing_values_multi_output_and_margins():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 5))
    Y = np.column_stack([X[:, 0] + X[:, 1] ** 2, np.sin(X[:, 2])])
    Xn = X.copy()
    Xn[rng.random(X.shape) < 0.15] = np.nan  # trained with NaN: learned missing directions
    rf = RandomForestRegressor(n_estimators=8, max_leaf_nodes=40, random_state=0).fit(Xn, Y)
    Z = _neighbourhood(X, 3000, seed=2)
    Z[rng.random(Z.shape) < 0.2] = np.nan
    ens = extract_tree_ensemble(rf)
    assert ens.default_left.any() and not ens.default_left[ens.children_left >= 0].all()
    np.testing.assert_allclose(CompiledTrees(ens)(Z), rf.predict(Z), rtol=0, atol=1e-12)
    # boosted margins with a base offset and one output column per tree
    y3 = np.digitize(X[:, 0] + X[:, 3], [-0.5, 0.5])
    gb = GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=0).fit(X, y3)
    Zc = _neighbourhood(X, 3000, seed=5)
    got = CompiledTrees(extract_tree_ensemble(gb))(Zc)
    np.testing.assert_allclose(got, gb.decision_function(Zc), rtol=0, atol=1e-12)
    # the adapter path converts margins to the probabilities the model reports
    gb2 = GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=0)
    gb2.fit(X, y3 > 0)
    for model in (gb, gb2):  # softmax and sigmoid
        fast = fast_tree_predictor(wrap(model), X[:100])
        assert fast is not None
        np.testing.assert_allclose(fast(Zc), model.predict_proba(Zc), rtol=0, atol=1e-12)


def test_xgboost_strict_splits_match_traversal():
    xgb = pytest.importorskip("xgboost")
    rng = np.random.default_rng(3)
    X = np.round(rng.normal(size=(300, 4)), 1)  # ties on thresholds: "<" vs "<=" matters
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    model = xgb.XGBClassifier(n_estimators=6, max_depth=3).fit(X, y)
    ens = extract_tree_ensemble(model)
    assert not ens.split_le
    Z = np.vstack([X, np.round(_neighbourhood(X, 1000, seed=4), 1)])
    assert np.array_equal(CompiledTrees(ens)(Z), predict_raw(ens, Z))


def test_large_trees_are_not_compiled_and_lime_uses_the_model(cancer):
    X, y, _ = cancer
    rng = np.random.default_rng(0)
    big = RandomForestClassifier(n_estimators=2, random_state=0).fit(X, rng.integers(0, 2, len(y)))
    assert not supports(extract_tree_ensemble(big))  # random labels: > 64 leaves
    exp = LimeTabular(big, background=X, n_samples=200).explain(X[:2], seed=0)
    assert exp.params["model_evaluation"] == "model"


def test_lime_with_compiled_trees_equals_lime_with_the_model(cancer):
    X, _, rf = cancer
    kw = {"background": X, "n_samples": 1500, "n_select": 5}
    fast = LimeTabular(rf, **kw).explain(X[:8], seed=3)
    slow = LimeTabular(rf, fast_trees=False, **kw).explain(X[:8], seed=3)
    assert fast.params["model_evaluation"] == "compiled trees"
    assert slow.params["model_evaluation"] == "model"
    np.testing.assert_allclose(fast.values, slow.values, rtol=0, atol=1e-12)
    sel_fast = np.asarray(fast.params["coefficients"]) != 0
    assert np.array_equal(sel_fast, np.asarray(slow.params["coefficients"]) != 0)
    # every sample is counted as a model evaluation either way (plus the probe rows)
    assert fast.params["model_rows_evaluated"] >= 8 * 1500


@pytest.mark.parametrize("fast_trees", [True, False])
def test_batched_rows_identical_to_one_row_per_call(cancer, fast_trees):
    X, _, rf = cancer
    kw = {"background": X, "n_samples": 800, "n_select": 5, "fast_trees": fast_trees}
    batched = LimeTabular(rf, **kw).explain(X[:7], seed=5)
    # max_memory of 2**16 bytes holds less than one row's samples: one row per model call
    per_row = LimeTabular(rf, max_memory=2**16, **kw).explain(X[:7], seed=5)
    assert np.array_equal(batched.values, per_row.values)
    assert np.array_equal(batched.base_values, per_row.base_values)
    assert batched.params == per_row.params
