"""TreeShap against independent oracles: the libraries' own contributions, shap, brute force."""

from __future__ import annotations

import numpy as np
import pytest

import assay
from assay.attribution import ExactShapley, TreeShap
from assay.errors import InvalidInputError, ModelError
from assay.model import CallableAdapter, extract_tree_ensemble
from assay.model._tree_predict import predict_raw

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")


def _data(n=400, d=6, seed=0, nan=0.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    logit = X[:, 0] + X[:, 1] * X[:, 2] - 0.5 * X[:, 3]
    y_bin = (logit + 0.3 * rng.normal(size=n) > 0).astype(int)
    y_multi = np.digitize(logit, [-0.7, 0.7])
    if nan:
        X[rng.random(X.shape) < nan] = np.nan
    return X, y_bin, y_multi, logit


def _check_additive(exp, ensemble, X):
    """Efficiency on every row: values + base = the trees' raw output (float64 traversal)."""
    gap = np.abs(exp.values.sum(axis=1) + exp.base_values - predict_raw(ensemble, X))
    assert gap.max() < 1e-8


# -- path-dependent: agreement with the libraries' own TreeSHAP -------------------------------


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_xgboost_matches_pred_contribs_with_missing(task):
    X, y_bin, y_multi, logit = _data(nan=0.1)
    if task == "regression":
        model = xgb.XGBRegressor(n_estimators=15, max_depth=5, n_jobs=1).fit(X, logit)
    else:
        model = xgb.XGBClassifier(n_estimators=15, max_depth=5, n_jobs=1)
        model.fit(X, y_bin if task == "binary" else y_multi)
    rows = X[:60]
    exp = TreeShap(model).explain(rows)
    ref = model.get_booster().predict(xgb.DMatrix(rows), pred_contribs=True)
    ref = ref.reshape(len(rows), -1, X.shape[1] + 1)  # (n, k, d + 1) for every task
    ref = np.moveaxis(ref, 1, 2)  # (n, d + 1, k)
    # XGBoost accumulates its contributions in float32: 1e-6 of the output scale
    tol = 1e-6 * max(1.0, np.abs(ref).max())
    np.testing.assert_allclose(exp.values, ref[:, :-1], rtol=0, atol=tol)
    np.testing.assert_allclose(exp.base_values, ref[:, -1], rtol=0, atol=tol)
    _check_additive(exp, extract_tree_ensemble(model), rows)
    assert exp.values.shape == (60, 6, 3 if task == "multiclass" else 1)


def test_xgboost_categorical_matches_pred_contribs():
    X, _, _, _ = _data(n=500)
    rng = np.random.default_rng(1)
    cat = rng.integers(0, 6, size=len(X))
    X[:, 4] = cat
    y = ((cat % 3 == 0) ^ (X[:, 0] > 0)).astype(int)
    types = ["q", "q", "q", "q", "c", "q"]
    dtrain = xgb.DMatrix(X, label=y, feature_types=types, enable_categorical=True)
    params = {"objective": "binary:logistic", "max_depth": 4, "tree_method": "hist", "nthread": 1}
    booster = xgb.train(params, dtrain, num_boost_round=12)
    assert extract_tree_ensemble(booster).has_categorical
    rows = X[:50]
    exp = TreeShap(booster).explain(rows)
    d = xgb.DMatrix(rows, feature_types=types, enable_categorical=True)
    ref = booster.predict(d, pred_contribs=True)
    tol = 1e-6 * max(1.0, np.abs(ref).max())
    np.testing.assert_allclose(exp.values[:, :, 0], ref[:, :-1], rtol=0, atol=tol)
    np.testing.assert_allclose(exp.base_values[:, 0], ref[:, -1], rtol=0, atol=tol)


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_lightgbm_matches_pred_contrib_with_missing_and_categorical(task):
    X, y_bin, y_multi, _ = _data(n=600, nan=0.08)
    rng = np.random.default_rng(2)
    cat = rng.integers(0, 8, size=len(X)).astype(float)
    X[:, 5] = cat
    y = y_bin if task == "binary" else y_multi
    y = np.where(np.isin(cat, [1, 4, 6]), 1 - np.minimum(y, 1), y)
    params = {
        "objective": "binary" if task == "binary" else "multiclass",
        "num_class": 1 if task == "binary" else 3,
        "num_leaves": 15,
        "min_data_per_group": 5,
        "cat_smooth": 1,
        "verbose": -1,
        "num_threads": 1,
    }
    booster = lgb.train(params, lgb.Dataset(X, y, categorical_feature=[5]), 15)
    assert extract_tree_ensemble(booster).has_categorical
    rows = X[:60]
    exp = TreeShap(booster).explain(rows)
    ref = booster.predict(rows, pred_contrib=True).reshape(len(rows), -1, X.shape[1] + 1)
    ref = np.moveaxis(ref, 1, 2)
    # LightGBM computes in float64: agreement to rounding
    np.testing.assert_allclose(exp.values, ref[:, :-1], rtol=0, atol=1e-9)
    np.testing.assert_allclose(exp.base_values, ref[:, -1], rtol=0, atol=1e-9)
    _check_additive(exp, extract_tree_ensemble(booster), rows)


def _sklearn_models():
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    return [
        ("multi", DecisionTreeClassifier(max_depth=7, random_state=0)),
        ("reg", DecisionTreeRegressor(max_depth=9, random_state=0)),
        ("multi", RandomForestClassifier(n_estimators=8, max_depth=6, random_state=0)),
        ("bin", RandomForestClassifier(n_estimators=8, max_depth=6, random_state=0)),
        ("reg", RandomForestRegressor(n_estimators=8, max_depth=7, random_state=0)),
        ("multi", ExtraTreesClassifier(n_estimators=8, max_depth=6, random_state=0)),
        ("reg", ExtraTreesRegressor(n_estimators=8, max_depth=6, random_state=0)),
        ("bin", GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=0)),
        ("reg", GradientBoostingRegressor(n_estimators=10, max_depth=4, random_state=0)),
        ("reg", HistGradientBoostingRegressor(max_iter=10, random_state=0)),
    ]


@pytest.mark.parametrize(
    ("task", "model"),
    _sklearn_models(),
    ids=lambda m: type(m).__name__ if not isinstance(m, str) else m,
)
def test_sklearn_matches_shap_tree_explainer(task, model):
    shap = pytest.importorskip("shap")
    X, y_bin, y_multi, logit = _data(n=300)
    y = {"bin": y_bin, "multi": y_multi, "reg": logit}[task]
    model.fit(X, y)
    rows = X[:40]
    exp = TreeShap(model).explain(rows)
    ref = np.asarray(
        shap.TreeExplainer(model, feature_perturbation="tree_path_dependent").shap_values(
            rows, check_additivity=False
        )
    )
    if ref.ndim == 2:
        ref = ref[:, :, None]
    np.testing.assert_allclose(exp.values, ref, rtol=0, atol=1e-7)
    _check_additive(exp, extract_tree_ensemble(model), rows)


def _brute_path_dependent(ensemble, x):
    """Path-dependent Shapley values by enumerating all coalitions (one output, one tree)."""
    from itertools import combinations
    from math import factorial

    left, right = ensemble.children_left, ensemble.children_right
    feat, cover, thr = ensemble.feature, ensemble.cover, ensemble.threshold
    val = ensemble.value[:, 0]
    root = int(ensemble.roots[0])
    d = ensemble.n_features

    def v(S):
        def rec(n):
            if left[n] < 0:
                return val[n]
            if feat[n] in S:
                go = left[n] if x[feat[n]] <= thr[n] else right[n]
                return rec(go)
            lft, rgt = left[n], right[n]
            return (cover[lft] * rec(lft) + cover[rgt] * rec(rgt)) / cover[n]

        return rec(root)

    players = range(d)
    cache = {}
    for size in range(d + 1):
        for S in combinations(players, size):
            cache[frozenset(S)] = v(set(S))
    phi = np.zeros(d)
    for i in players:
        for S, vs in cache.items():
            if i in S:
                continue
            s = len(S)
            phi[i] += factorial(s) * factorial(d - s - 1) / factorial(d) * (cache[S | {i}] - vs)
    return phi


def test_deep_tree_is_exact_against_brute_force():
    """Depth >= 16: the quadrature is exact, no cancellation (brute force is independent)."""
    from sklearn.tree import DecisionTreeRegressor

    rng = np.random.default_rng(3)
    X = rng.normal(size=(3000, 7))
    y = np.sin(3 * X[:, 0]) * X[:, 1] + X[:, 2] * X[:, 3] ** 2 + rng.normal(size=3000)
    model = DecisionTreeRegressor(max_depth=20, min_samples_leaf=1, random_state=0).fit(X, y)
    ens = extract_tree_ensemble(model)
    assert ens.max_depth() >= 16
    exp = TreeShap(model).explain(X[:3])
    for i in range(3):
        np.testing.assert_allclose(exp.values[i, :, 0], _brute_path_dependent(ens, X[i]),
                                   rtol=0, atol=1e-10)  # fmt: skip
    _check_additive(exp, ens, X[:3])


# -- interventional: agreement with brute-force enumeration ----------------------------------


def _float64_model(ensemble):
    """The trees' raw output in float64, NaN allowed (the libraries predict in float32)."""
    return CallableAdapter(
        lambda Z: predict_raw(ensemble, Z),
        output_space="raw",
        feature_names=None,
        n_features=ensemble.n_features,
        supports_missing=True,
    )


@pytest.mark.parametrize("library", ["xgboost", "lightgbm", "sklearn_rf"])
def test_interventional_equals_exact_enumeration(library):
    X, y_bin, y_multi, _ = _data(n=300, d=6, nan=0.05 if library != "sklearn_rf" else 0.0)
    if library == "xgboost":
        model = xgb.XGBClassifier(n_estimators=10, max_depth=4, n_jobs=1).fit(X, y_multi)
    elif library == "lightgbm":
        model = lgb.LGBMClassifier(n_estimators=10, num_leaves=12, verbose=-1, n_jobs=1).fit(
            X, y_bin
        )
    else:
        from sklearn.ensemble import RandomForestClassifier

        model = RandomForestClassifier(n_estimators=5, max_depth=5, random_state=0)
        model.fit(X, y_multi)
    ens = extract_tree_ensemble(model)
    bg, rows = X[100:125], X[:8]
    w = np.random.default_rng(0).random(len(bg))
    exp = TreeShap(model, mode="interventional", background=bg, background_weights=w).explain(rows)
    # the oracle sees the same trees in float64 (the libraries predict in float32)
    oracle = ExactShapley(_float64_model(ens), background=bg, background_weights=w).explain(rows)
    np.testing.assert_allclose(exp.values, oracle.values, rtol=0, atol=1e-10)
    np.testing.assert_allclose(exp.base_values, oracle.base_values, rtol=0, atol=1e-12)


def test_interventional_probability_equals_exact_enumeration():
    from sklearn.ensemble import GradientBoostingClassifier

    X, y_bin, _, _ = _data(n=300, d=6)
    model = GradientBoostingClassifier(n_estimators=15, max_depth=3, random_state=0)
    model.fit(X, y_bin)
    bg, rows = X[100:130], X[:6]
    exp = TreeShap(model, mode="interventional", background=bg, output="probability").explain(rows)
    oracle = ExactShapley(model, background=bg, output_space="probability").explain(rows)
    assert exp.output_space == "probability" and exp.values.shape == (6, 6, 2)
    np.testing.assert_allclose(exp.values, oracle.values, rtol=0, atol=1e-12)
    np.testing.assert_allclose(exp.base_values, oracle.base_values, rtol=0, atol=1e-12)
    with pytest.raises(InvalidInputError, match="max_enumerated"):
        TreeShap(model, mode="interventional", background=bg, output_space="probability",
                 max_enumerated=1).explain(rows)  # fmt: skip


def test_interventional_kernels_agree_and_are_additive():
    """Lookup tables, mask scans and the pair walk give the same exact values (deep trees).

    LightGBM with 40 leaves grows paths with up to ~10 distinct features, so both the
    per-leaf lookup tables (narrow paths) and the mask scans (wide paths) are exercised; the
    pair walk is an independent implementation of the same game.
    """
    from assay.attribution.shapley import _tree_leaf_patterns as lp_mod
    from assay.attribution.shapley._tree_interventional import (
        BackgroundRoutes,
        interventional_shap,
    )

    X, y_bin, _, _ = _data(n=1500, d=12, nan=0.03)
    X[:, 11] = 0.0  # never split on: a dummy player
    model = lgb.LGBMClassifier(n_estimators=12, num_leaves=40, min_child_samples=3, verbose=-1,
                               n_jobs=1).fit(X, y_bin)  # fmt: skip
    ens = extract_tree_ensemble(model)
    bg = np.ascontiguousarray(X[200:260])
    rows = np.ascontiguousarray(X[:25])
    w = np.full(len(bg), 1.0 / len(bg))

    def run(routes):
        out = np.zeros((len(rows), X.shape[1], 1))
        interventional_shap(ens, routes, rows, out, probability=False, n_threads=1)
        return out

    walk = run(BackgroundRoutes(ens, bg, w, walk=True))
    scan = BackgroundRoutes(ens, bg, w, n_rows=0)  # no table pays off for no rows
    table = BackgroundRoutes(ens, bg, w, n_rows=10**9)
    assert scan.patterns.n_feat.max() > lp_mod.MAX_TABLE_FEATURES  # wide paths are scanned
    assert (scan.patterns.tab_off[:-1] < 0).all()
    assert (table.patterns.tab_off[:-1] >= 0).any()
    np.testing.assert_allclose(run(scan), walk, rtol=0, atol=1e-12)
    np.testing.assert_allclose(run(table), walk, rtol=0, atol=1e-12)
    assert np.abs(walk).max() > 0.1 and np.all(walk[:, 11] == 0.0)
    exp = TreeShap(model, mode="interventional", background=bg).explain(rows)
    gap = exp.values.sum(axis=1) + exp.base_values - predict_raw(ens, rows)
    assert np.abs(gap).max() < 1e-8


def test_interventional_wide_leaves_special_splits_and_row_blocks():
    """More than 64 distinct masks in a leaf (several class words), categorical and
    zero-as-missing splits (the general routing rule inside the row-block pass), NaN, and a
    row count that is no multiple of the row block: the merged kernel equals the pair walk,
    and threads change no bit."""
    from assay.attribution.shapley import _tree_leaf_patterns as lp_mod
    from assay.attribution.shapley._tree_interventional import (
        BackgroundRoutes,
        interventional_shap,
    )

    rng = np.random.default_rng(5)
    n, d = 2000, 10
    X = rng.normal(size=(n, d))
    X[:, 9] = rng.integers(0, 6, size=n)
    X[rng.random((n, d)) < 0.1] = 0.0
    X[rng.random((n, d)) < 0.03] = np.nan
    Z = np.nan_to_num(X)
    y = (Z[:, 0] + Z[:, 1] * Z[:, 2] + np.isin(X[:, 9], [1, 3]) + 0.5 * rng.normal(size=n) > 0)
    model = lgb.LGBMClassifier(n_estimators=6, num_leaves=80, min_child_samples=2,
                               zero_as_missing=True, verbose=-1, n_jobs=1)  # fmt: skip
    model.fit(X, y.astype(int), categorical_feature=[9])
    ens = extract_tree_ensemble(model)
    assert ens.has_categorical and np.asarray(ens.zero_as_missing).any()
    bg = np.ascontiguousarray(X[500:650])
    w = rng.random(len(bg))
    rows = np.ascontiguousarray(X[: lp_mod._ROW_BLOCK * 2 + 5])

    def run(routes, threads=1):
        out = np.zeros((len(rows), d, 1))
        interventional_shap(ens, routes, rows, out, probability=False, n_threads=threads)
        return out

    walk = run(BackgroundRoutes(ens, bg, w, walk=True))
    scan = BackgroundRoutes(ens, bg, w, n_rows=0)
    assert (np.diff(scan.patterns.off) > 64).any()  # leaves with two class words
    got = run(scan)
    np.testing.assert_allclose(got, walk, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(run(scan, threads=2), got)
    table = BackgroundRoutes(ens, bg, w, n_rows=10**9)
    assert (table.patterns.tab_off[:-1] >= 0).any()
    np.testing.assert_allclose(run(table), walk, rtol=0, atol=1e-12)
    assert np.abs(walk).max() > 0.1


# -- plumbing: dispatcher, chunking, threads, errors --------------------------------------------


def test_explain_dispatch_chunks_and_threads_agree():
    X, _, y_multi, _ = _data(n=300, nan=0.05)
    model = lgb.LGBMClassifier(n_estimators=8, num_leaves=10, verbose=-1, n_jobs=1).fit(X, y_multi)
    ref = TreeShap(model).explain(X[:50])
    via_explain = assay.explain(model, X[:50], method="tree")
    assert via_explain.method == "tree" and via_explain.output_space == "log_odds"
    np.testing.assert_array_equal(via_explain.values, ref.values)
    np.testing.assert_array_equal(assay.explain(model, X[:50]).values, ref.values)
    small = TreeShap(model, n_jobs=1, max_memory=2**16).explain(X[:50])
    np.testing.assert_array_equal(small.values, ref.values)
    for mode_kw in ({}, {"mode": "interventional", "background": X[200:220]}):
        a = TreeShap(model, n_jobs=1, **mode_kw).explain(X[:30])
        b = TreeShap(model, n_jobs=2, max_memory=2**16, **mode_kw).explain(X[:30])
        np.testing.assert_array_equal(a.values, b.values)


def test_errors_are_actionable():
    from sklearn.linear_model import LogisticRegression

    X, y_bin, _, _ = _data(n=200)
    with pytest.raises(ModelError, match="tree model"):
        TreeShap(LogisticRegression().fit(X, y_bin))
    booster = xgb.XGBClassifier(n_estimators=3, max_depth=2).fit(X, y_bin)
    with pytest.raises(InvalidInputError, match="interventional"):
        TreeShap(booster, output_space="probability")
    with pytest.raises(InvalidInputError, match="mode must be"):
        TreeShap(booster, mode="conditional")
    with pytest.raises(InvalidInputError, match="columns"):
        TreeShap(booster).explain(X[:, :4])
