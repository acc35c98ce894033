"""Exact Shapley values of forests grown to purity by joint (row, background) descent
(:mod:`assay.attribution.shapley._exact_pairs`): equal to brute-force enumeration to 1e-9 and to
the leaf-by-leaf sum to rounding; shallow boosted trees keep the leaf games."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import (
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)

from assay.attribution import ExactShapley
from assay.attribution.shapley import _exact_structured

ATOL = 1e-9  # both are exact finite sums in a different order (~1e-14 apart here)


def _data(d: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X[:, 0] * X[:, 1] + np.sin(2 * X[:, 2]) + (X[:, 3] > 0.2) * X[:, 4] + 0.3 * X[:, -1]
    return X, y + 0.2 * rng.normal(size=n)


def _leaf_games(explainer: ExactShapley, rows: np.ndarray):
    explainer._structure.algorithm = "leaf games"
    try:
        return explainer.explain(rows)
    finally:
        explainer._structure.algorithm = "joint descent"


@pytest.fixture
def always_descend(monkeypatch):
    # the leaves-per-tree threshold is a speed choice; the values must not depend on it
    monkeypatch.setattr(_exact_structured, "DEEP_TREE_LEAVES", 1)


def test_forests_grown_to_purity_use_the_joint_descent_by_default():
    X, y = _data(d=7, n=2000, seed=5)
    model = RandomForestRegressor(n_estimators=2, random_state=0).fit(X, y)
    exp = ExactShapley(model, background=X[:10]).explain(X[1500:1501])
    assert exp.params["tree_algorithm"] == "joint descent"


def test_deep_forest_equals_brute_force_and_the_leaf_games(always_descend):
    X, y = _data(d=7, n=800, seed=0)
    model = RandomForestRegressor(n_estimators=12, random_state=0).fit(X[:600], y[:600])
    bg, rows = X[600:670], X[700:706]  # 70 background rows: two blocks of the row masks
    explainer = ExactShapley(model, background=bg)
    fast = explainer.explain(rows)
    assert fast.params["structure"] == "tree"
    assert fast.params["tree_algorithm"] == "joint descent"
    brute = ExactShapley(model, background=bg, structure="none").explain(rows)
    np.testing.assert_allclose(fast.values, brute.values, rtol=0, atol=ATOL)
    np.testing.assert_allclose(fast.base_values, brute.base_values, rtol=0, atol=ATOL)
    leaf = _leaf_games(explainer, rows)
    np.testing.assert_allclose(fast.values, leaf.values, rtol=0, atol=1e-12)
    # additivity to the model's own output
    np.testing.assert_allclose(
        fast.values.sum(axis=1) + fast.base_values, model.predict(rows)[:, None], rtol=0, atol=1e-10
    )


def test_deep_classifier_probabilities_with_weighted_background(always_descend):
    X, y = _data(d=6, n=900, seed=1)
    labels = np.digitize(y, np.quantile(y, [0.33, 0.66]))
    model = RandomForestClassifier(n_estimators=8, random_state=0).fit(X[:700], labels[:700])
    bg, rows = X[700:730], X[800:805]
    weights = np.random.default_rng(3).random(30)
    explainer = ExactShapley(model, background=bg, background_weights=weights)
    fast = explainer.explain(rows)
    assert fast.params["tree_algorithm"] == "joint descent"
    brute = ExactShapley(
        model, background=bg, background_weights=weights, structure="none"
    ).explain(rows)
    assert fast.values.shape == (5, 6, 3)
    np.testing.assert_allclose(fast.values, brute.values, rtol=0, atol=ATOL)
    np.testing.assert_allclose(fast.values, _leaf_games(explainer, rows).values, rtol=0, atol=1e-12)


@pytest.mark.parametrize("depth_model", ["hgb", "rf_depth6"])
def test_shallow_trees_keep_the_leaf_games(depth_model):
    X, y = _data(d=5, n=400, seed=4)
    if depth_model == "hgb":
        model = HistGradientBoostingRegressor(max_iter=10, random_state=0).fit(X, y)
    else:
        model = RandomForestRegressor(n_estimators=5, max_depth=6, random_state=0).fit(X, y)
    exp = ExactShapley(model, background=X[:20]).explain(X[300:302])
    assert exp.params["tree_algorithm"] == "leaf games"
