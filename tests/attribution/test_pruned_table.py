"""The pruned descent with its leaf work summed per feature set
(:mod:`assay.attribution.shapley._tree_pruned_table`): the same values as the pruned descent
that attributes every (leaf, background row) pair (:func:`_tree_pruned._rows`) and as
brute-force enumeration, for one and several words of background rows, several outputs,
threads, missing values and categorical splits; the per-pair kernel remains for d > 12."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import (
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)

from assay.attribution import ExactShapley
from assay.attribution.shapley import _exact_structured, _tree_pruned, _tree_pruned_table

ATOL = 1e-9  # brute force: exact finite sums in another order (~1e-14 apart here)


def _data(d: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X[:, 0] * X[:, 1] + np.sin(2 * X[:, 2]) + (X[:, 3] > 0.2) * X[:, 4] + 0.3 * X[:, -1]
    return X, y + 0.2 * rng.normal(size=n)


def _both_kernels(model, bg, rows, weights=None, n_threads=1):
    """(per-set tables, per-pair attribution) for the same explainer's trees."""
    explainer = ExactShapley(model, background=bg)
    explainer.explain(rows[:1])
    st = explainer._structure
    layout = st._pruned
    passes = _tree_pruned.build_pruned(layout, st.ensemble, st.arrays, bg)
    table = _tree_pruned.build_pruned_table(layout, st.ensemble, passes, bg.shape[0])
    assert table is not None
    w = np.full(bg.shape[0], 1.0 / bg.shape[0]) if weights is None else weights
    k = st.value.shape[1]
    fast = np.zeros((rows.shape[0], rows.shape[1], k))
    slow = np.zeros_like(fast)
    _tree_pruned.pruned_shap(layout, passes, st.ensemble, st.arrays, rows, w, fast,
                             n_threads=n_threads, table=table)  # fmt: skip
    _tree_pruned.pruned_shap(layout, passes, st.ensemble, st.arrays, rows, w, slow)
    return fast, slow, table


@pytest.mark.parametrize("n_background", [40, 64, 100])
def test_tables_equal_the_per_pair_descent(n_background):
    # 40 / 64 rows: one word (the record kernel); 100: two words (the generic kernel)
    X, y = _data(d=8, n=1500, seed=3)
    model = RandomForestRegressor(n_estimators=8, random_state=0).fit(X[:1000], y[:1000])
    bg, rows = X[1000 : 1000 + n_background], X[1300:1340]  # 40 rows: two row blocks
    fast, slow, table = _both_kernels(model, bg, rows)
    assert (table.records is not None) == (n_background <= 64)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12)
    assert np.abs(slow).max() > 0.1  # a real game, not zeros on both sides


def test_tables_three_classes_weighted_background_and_threads():
    X, y = _data(d=7, n=1200, seed=4)
    labels = np.digitize(y, np.quantile(y, [0.33, 0.66]))
    model = RandomForestClassifier(n_estimators=6, random_state=1).fit(X[:900], labels[:900])
    for n_bg in (50, 90):
        bg, rows = X[900 : 900 + n_bg], X[1100:1137]
        weights = np.random.default_rng(n_bg).random(n_bg)
        weights[[1, 7]] = 0.0  # rows without weight take no part
        weights /= weights.sum()
        fast, slow, _ = _both_kernels(model, bg, rows, weights)
        assert fast.shape == (37, 7, 3)
        np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12)
        threaded, _, _ = _both_kernels(model, bg, rows, weights, n_threads=2)
        np.testing.assert_allclose(threaded, fast, rtol=0, atol=1e-15)


def test_leaf_masks_are_what_each_background_row_fails_on_the_path():
    # an independent check of the per-(leaf, background row) masks: walk each leaf's path
    X, y = _data(d=6, n=600, seed=5)
    model = RandomForestRegressor(n_estimators=2, random_state=0).fit(X[:400], y[:400])
    bg = X[400:430]
    explainer = ExactShapley(model, background=bg)
    explainer.explain(X[500:501])
    st = explainer._structure
    passes = _tree_pruned.build_pruned(st._pruned, st.ensemble, st.arrays, bg)
    masks = _tree_pruned_table.build_table(st._pruned, st.ensemble, passes, bg.shape[0]).leaf_fail
    for est_i, est in enumerate(model.estimators_):
        tree = est.tree_
        leaves = np.flatnonzero(tree.children_left < 0)
        offset = sum((e.tree_.children_left < 0).sum() for e in model.estimators_[:est_i])
        for leaf in leaves[:60]:
            path = _path_to(tree, leaf)
            expect = np.zeros(bg.shape[0], dtype=np.int64)
            for node, went_left in path:
                j, thr = tree.feature[node], tree.threshold[node]
                ok = (bg[:, j] <= thr) if went_left else (bg[:, j] > thr)
                expect |= (~ok).astype(np.int64) << j
            got = masks[offset + _preorder_rank(tree, leaf)].astype(np.int64)
            np.testing.assert_array_equal(got & 4095, expect)  # the mask, then its size
            np.testing.assert_array_equal(got >> 12, np.bitwise_count(expect))


def _path_to(tree, target):
    stack = [(0, [])]
    while stack:
        node, path = stack.pop()
        if node == target:
            return path
        if tree.children_left[node] >= 0:
            stack.append((tree.children_right[node], [*path, (node, False)]))
            stack.append((tree.children_left[node], [*path, (node, True)]))
    raise AssertionError("leaf not found")


def _preorder_rank(tree, target):
    rank, stack = 0, [0]
    while stack:
        node = stack.pop()
        if tree.children_left[node] < 0:
            if node == target:
                return rank
            rank += 1
        else:
            stack.extend([tree.children_right[node], tree.children_left[node]])
    raise AssertionError("leaf not found")


@pytest.fixture
def always_descend(monkeypatch):
    monkeypatch.setattr(_exact_structured, "DEEP_TREE_LEAVES", 1)


def _mixed(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    X[:, 2] = rng.integers(0, 6, size=n)  # a categorical feature
    y = X[:, 0] * (X[:, 2] % 2) + np.sin(X[:, 1]) + 0.5 * X[:, 3] * X[:, 4]
    X[rng.random(size=(n, 5)) < 0.1] = np.nan  # missing everywhere
    return X, y


def _equals_brute_force(model, bg, rows):
    explainer = ExactShapley(model, background=bg)
    fast = explainer.explain(rows)
    assert fast.params["tree_algorithm"] == "pruned descent"
    assert explainer._structure._passes[2] is not None  # the tables ran
    brute = ExactShapley(model, background=bg, structure="none").explain(rows)
    np.testing.assert_allclose(fast.values, brute.values, rtol=0, atol=ATOL)
    return explainer


def test_missing_values_equal_brute_force(always_descend):
    X, y = _mixed(900, seed=6)
    model = HistGradientBoostingRegressor(max_iter=5, max_leaf_nodes=40, random_state=0)
    model.fit(X[:700], y[:700])
    bg, rows = X[700:745], X[800:806]
    assert np.isnan(bg).any() and np.isnan(rows).any()
    _equals_brute_force(model, bg, rows)


def test_categorical_splits_equal_brute_force(always_descend):
    lgb = pytest.importorskip("lightgbm")
    X, y = _mixed(900, seed=6)
    model = lgb.LGBMRegressor(n_estimators=5, num_leaves=40, min_child_samples=5,
                              min_data_per_group=5, cat_smooth=1, max_cat_to_onehot=8,
                              verbose=-1, random_state=0)  # fmt: skip
    model.fit(X[:700], y[:700], categorical_feature=[2])
    explainer = _equals_brute_force(model, X[700:745], X[800:806])
    assert explainer._structure.arrays[5].sum() > 0  # categorical splits were taken


def test_more_features_than_the_tables_use_the_per_pair_descent():
    X, y = _data(d=13, n=700, seed=8)
    model = RandomForestRegressor(n_estimators=3, random_state=0).fit(X[:500], y[:500])
    bg, rows = X[500:508], X[600:602]
    explainer = ExactShapley(model, background=bg)
    fast = explainer.explain(rows)
    assert fast.params["tree_algorithm"] == "pruned descent"
    assert explainer._structure._passes[2] is None  # 13 > MAX_TABLE_FEATURES
    brute = ExactShapley(model, background=bg, structure="none").explain(rows)
    np.testing.assert_allclose(fast.values, brute.values, rtol=0, atol=ATOL)


def test_cached_background_data_follow_the_background():
    # pass words, leaf masks and the base value are kept per background: a new background
    # (here sampled from each X) must not reuse the old ones
    X, y = _data(d=6, n=800, seed=9)
    model = RandomForestRegressor(n_estimators=3, random_state=0).fit(X[:500], y[:500])
    explainer = ExactShapley(model)
    first = explainer.explain(X[600:640], seed=0)
    again = explainer.explain(X[600:640], seed=0)
    np.testing.assert_array_equal(again.values, first.values)
    second = explainer.explain(X[640:680], seed=0)
    fresh = ExactShapley(model).explain(X[640:680], seed=0)
    assert second.params["tree_algorithm"] == "pruned descent"
    np.testing.assert_allclose(second.values, fresh.values, rtol=0, atol=1e-12)
    np.testing.assert_allclose(second.base_values, fresh.base_values, rtol=0, atol=1e-12)
    assert not np.allclose(second.base_values, first.base_values)
