"""Exact Shapley values of forests grown to purity by a pruned descent per (row, tree)
(:mod:`assay.attribution.shapley._tree_pruned`) and by joint (row, background) descent
(:mod:`assay.attribution.shapley._exact_pairs`): equal to brute-force enumeration to 1e-9 and to
the leaf-by-leaf sum and interventional TreeSHAP to rounding; shallow boosted trees keep the
leaf games."""

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


DEEP_ALGORITHMS = ("pruned descent", "joint descent")


def _with(explainer: ExactShapley, algorithm: str, rows: np.ndarray):
    if explainer._structure is None:
        explainer.explain(rows[:1])  # finds the structure
    default = explainer._structure.algorithm
    explainer._structure.algorithm = algorithm
    try:
        return explainer.explain(rows)
    finally:
        explainer._structure.algorithm = default


def _leaf_games(explainer: ExactShapley, rows: np.ndarray):
    return _with(explainer, "leaf games", rows)


@pytest.fixture
def always_descend(monkeypatch):
    # the leaves-per-tree threshold is a speed choice; the values must not depend on it
    monkeypatch.setattr(_exact_structured, "DEEP_TREE_LEAVES", 1)


def test_forests_grown_to_purity_use_the_pruned_descent_by_default():
    X, y = _data(d=7, n=2000, seed=5)
    model = RandomForestRegressor(n_estimators=2, random_state=0).fit(X, y)
    exp = ExactShapley(model, background=X[:10]).explain(X[1500:1501])
    assert exp.params["tree_algorithm"] == "pruned descent"


@pytest.mark.parametrize("algorithm", DEEP_ALGORITHMS)
def test_deep_forest_equals_brute_force_and_the_leaf_games(always_descend, algorithm):
    X, y = _data(d=7, n=800, seed=0)
    model = RandomForestRegressor(n_estimators=12, random_state=0).fit(X[:600], y[:600])
    bg, rows = X[600:670], X[700:706]  # 70 background rows: two blocks of the row masks
    explainer = ExactShapley(model, background=bg)
    fast = _with(explainer, algorithm, rows)
    assert fast.params["structure"] == "tree"
    assert fast.params["tree_algorithm"] == algorithm
    brute = ExactShapley(model, background=bg, structure="none").explain(rows)
    np.testing.assert_allclose(fast.values, brute.values, rtol=0, atol=ATOL)
    np.testing.assert_allclose(fast.base_values, brute.base_values, rtol=0, atol=ATOL)
    leaf = _leaf_games(explainer, rows)
    np.testing.assert_allclose(fast.values, leaf.values, rtol=0, atol=1e-12)
    # additivity to the model's own output
    np.testing.assert_allclose(
        fast.values.sum(axis=1) + fast.base_values, model.predict(rows)[:, None], rtol=0, atol=1e-10
    )


@pytest.mark.parametrize("algorithm", DEEP_ALGORITHMS)
def test_deep_classifier_probabilities_with_weighted_background(always_descend, algorithm):
    X, y = _data(d=6, n=900, seed=1)
    labels = np.digitize(y, np.quantile(y, [0.33, 0.66]))
    model = RandomForestClassifier(n_estimators=8, random_state=0).fit(X[:700], labels[:700])
    bg, rows = X[700:730], X[800:805]
    weights = np.random.default_rng(3).random(30)
    weights[[2, 17]] = 0.0  # rows without weight take no part
    explainer = ExactShapley(model, background=bg, background_weights=weights)
    fast = _with(explainer, algorithm, rows)
    assert fast.params["tree_algorithm"] == algorithm
    brute = ExactShapley(
        model, background=bg, background_weights=weights, structure="none"
    ).explain(rows)
    assert fast.values.shape == (5, 6, 3)
    np.testing.assert_allclose(fast.values, brute.values, rtol=0, atol=ATOL)
    np.testing.assert_allclose(fast.values, _leaf_games(explainer, rows).values, rtol=0, atol=1e-12)


@pytest.mark.parametrize("depth_model", ["hgb", "rf_depth6"])
@pytest.mark.parametrize("d", [5, 13])
def test_shallow_trees_take_the_descent_up_to_twelve_features(depth_model, d):
    # a speed choice: with <= 12 features the descent sums leaves per feature set and is
    # faster on shallow trees too; beyond, shallow trees keep the leaf games
    X, y = _data(d=d, n=400, seed=4)
    if depth_model == "hgb":
        model = HistGradientBoostingRegressor(max_iter=10, random_state=0).fit(X, y)
    else:
        model = RandomForestRegressor(n_estimators=5, max_depth=6, random_state=0).fit(X, y)
    explainer = ExactShapley(model, background=X[:20])
    exp = explainer.explain(X[300:302])
    assert exp.params["tree_algorithm"] == ("pruned descent" if d <= 12 else "leaf games")
    if d <= 12:
        leaf = _leaf_games(explainer, X[300:302])
        np.testing.assert_allclose(exp.values, leaf.values, rtol=0, atol=1e-12)


def test_pruned_descent_equals_interventional_treeshap_on_many_rows(monkeypatch):
    # an independent implementation of the same game (merged per-leaf masks, every leaf
    # visited); more rows than one block of the descent (32), three mask words of background
    from assay.attribution import TreeShap
    from assay.attribution.shapley import _tree

    monkeypatch.setattr(_tree, "PRUNED_MIN_LEAVES", 10**9)  # TreeShap: the leaf patterns
    X, y = _data(d=9, n=1400, seed=7)
    model = RandomForestRegressor(n_estimators=6, random_state=1).fit(X[:1000], y[:1000])
    bg, rows = X[1000:1150], X[1200:1270]
    exact = ExactShapley(model, background=bg).explain(rows)
    assert exact.params["tree_algorithm"] == "pruned descent"
    tree = TreeShap(model, background=bg, mode="interventional").explain(rows)
    assert tree.params["tree_algorithm"] == "leaf patterns"
    np.testing.assert_allclose(exact.values, tree.values, rtol=0, atol=1e-12)
    np.testing.assert_allclose(exact.base_values, tree.base_values, rtol=0, atol=1e-12)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_treeshap_interventional_uses_the_pruned_descent_on_deep_forests(monkeypatch, n_jobs):
    from assay.attribution import TreeShap
    from assay.attribution.shapley import _tree

    X, y = _data(d=6, n=1300, seed=8)
    labels = np.digitize(y, np.quantile(y, [0.5]))
    model = RandomForestClassifier(n_estimators=4, random_state=2).fit(X[:1000], labels[:1000])
    bg, rows = X[1000:1045], X[1100:1140]
    weights = np.random.default_rng(1).random(45)
    monkeypatch.setattr(_tree, "PRUNED_MIN_LEAVES", 1)  # a speed choice: values must not move
    fast = TreeShap(model, background=bg, background_weights=weights, mode="interventional",
                    n_jobs=n_jobs).explain(rows)  # fmt: skip
    assert fast.params["tree_algorithm"] == "pruned descent"
    brute = ExactShapley(
        model, background=bg, background_weights=weights, structure="none"
    ).explain(rows[:4])
    np.testing.assert_allclose(fast.values[:4], brute.values, rtol=0, atol=ATOL)
    monkeypatch.setattr(_tree, "PRUNED_MIN_LEAVES", 10**9)
    slow = TreeShap(model, background=bg, background_weights=weights,
                    mode="interventional").explain(rows)  # fmt: skip
    assert slow.params["tree_algorithm"] == "leaf patterns"
    np.testing.assert_allclose(fast.values, slow.values, rtol=0, atol=1e-12)


def test_pruned_descent_boosted_trees_and_constant_trees(always_descend):
    # boosted trees (binned thresholds, several trees adding up) forced through the descent
    X, y = _data(d=5, n=600, seed=2)
    model = HistGradientBoostingRegressor(max_iter=6, max_leaf_nodes=63, random_state=0)
    model.fit(X[:500], y[:500])
    bg, rows = X[500:540], X[550:556]
    fast = ExactShapley(model, background=bg).explain(rows)
    assert fast.params["tree_algorithm"] == "pruned descent"
    brute = ExactShapley(model, background=bg, structure="none").explain(rows)
    np.testing.assert_allclose(fast.values, brute.values, rtol=0, atol=ATOL)
    # single-leaf trees (a constant target) are a constant game: all values exactly zero
    const = RandomForestRegressor(n_estimators=3, random_state=0).fit(X[:50], np.ones(50))
    exp = ExactShapley(const, background=bg).explain(rows)
    assert exp.params["tree_algorithm"] == "pruned descent"
    assert np.all(exp.values == 0.0)


def test_background_too_large_for_the_pass_words_falls_back(monkeypatch):
    from assay.attribution.shapley import _tree_pruned

    X, y = _data(d=5, n=900, seed=9)
    model = RandomForestRegressor(n_estimators=3, random_state=0).fit(X[:600], y[:600])
    bg, rows = X[600:700], X[800:803]
    fast = ExactShapley(model, background=bg).explain(rows)
    assert fast.params["tree_algorithm"] == "pruned descent"
    monkeypatch.setattr(_tree_pruned, "MAX_PASS_BYTES", 1024)
    slow = ExactShapley(model, background=bg).explain(rows)
    assert slow.params["tree_algorithm"] == "leaf games"
    np.testing.assert_allclose(fast.values, slow.values, rtol=0, atol=1e-12)


@pytest.mark.parametrize("library", ["gbc", "xgboost", "lightgbm"])
def test_pruned_descent_other_tree_formats(always_descend, library):
    # per-class trees (tree_output >= 0), '<' splits (XGBoost) and LightGBM's node rules: the
    # descent against the leaf games of the same extracted trees
    X, y = _data(d=6, n=700, seed=11)
    labels = np.digitize(y, np.quantile(y, [0.33, 0.66]))
    if library == "gbc":
        from sklearn.ensemble import GradientBoostingClassifier

        model = GradientBoostingClassifier(n_estimators=5, max_depth=5, random_state=0)
        model.fit(X[:500], labels[:500])
    elif library == "xgboost":
        xgb = pytest.importorskip("xgboost")
        model = xgb.XGBRegressor(n_estimators=6, max_depth=7, random_state=0).fit(X[:500], y[:500])
    else:
        lgb = pytest.importorskip("lightgbm")
        model = lgb.LGBMRegressor(n_estimators=6, num_leaves=63, verbose=-1, random_state=0)
        model.fit(X[:500], y[:500])
    bg, rows = X[500:560], X[600:605]
    space = "log_odds" if library == "gbc" else None  # boosted margins add up over trees
    explainer = ExactShapley(model, background=bg, output_space=space)
    fast = _with(explainer, "pruned descent", rows)
    assert fast.params["tree_algorithm"] == "pruned descent"
    np.testing.assert_allclose(fast.values, _leaf_games(explainer, rows).values, rtol=0, atol=1e-12)
    if library == "gbc":  # float64 model: brute force too
        brute = ExactShapley(model, background=bg, output_space=space, structure="none")
        np.testing.assert_allclose(fast.values, brute.explain(rows).values, rtol=0, atol=ATOL)
