"""Tree extraction: the flattened trees must reproduce each library's own raw output.

Tolerances: scikit-learn and LightGBM add the same float64 numbers in the same order as we do,
so they must agree to 1e-9 (random forests divide once per tree instead of once at the end,
which costs a few ulps). XGBoost sums its margin in float32: we check that every row reaches
the same leaves (``pred_leaf``), that redoing XGBoost's float32 sum from our leaf values
reproduces its output bit for bit, and that the float64 sum is within float32 rounding.

Routing is checked at the edges too: rows whose values sit exactly on, one float64 ulp
around, and on float32 rounding midpoints around every threshold (scikit-learn and XGBoost
compare ``float32(x)``), and values within LightGBM's zero threshold.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from assay.errors import InvalidInputError, ModelError, NotFittedError
from assay.model._tree_ensemble import ZERO_THRESHOLD
from assay.model._tree_extract import (
    _F32_EDGE,
    _float32_route_threshold,
    extract_tree_ensemble,
)
from assay.model._tree_predict import predict_leaf, predict_raw

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")

N = 300
EXACT = 1e-9
# LightGBM reads |x| <= ZERO_THRESHOLD as 0; values on and around that band
ZERO_BAND = np.array(
    [
        0.0,
        -0.0,
        1e-36,
        -1e-36,
        ZERO_THRESHOLD,
        -ZERO_THRESHOLD,
        np.nextafter(ZERO_THRESHOLD, 1),
        np.nextafter(-ZERO_THRESHOLD, -1),
        2e-35,
        -2e-35,
        np.nan,
    ]
)


@pytest.fixture(scope="module", autouse=True)
def _one_openmp_thread():
    """The libraries' OpenMP pools crawl on an oversubscribed 2-core machine; fits are tiny."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="openmp"):
        yield


# --------------------------------------------------------------------------- data


@pytest.fixture(scope="module")
def clf():
    X, y = make_classification(N, 6, n_informative=4, n_redundant=1, n_classes=3, random_state=0)
    Xn = X.copy()
    Xn[np.random.default_rng(1).random(X.shape) < 0.1] = np.nan
    return X, Xn, (y > 0).astype(int), y


@pytest.fixture(scope="module")
def reg():
    X, y = make_regression(N, 6, n_informative=4, noise=1.0, random_state=0)
    y = (y - y.mean()) / y.std()
    return X, np.c_[y, np.sin(X[:, 0])]


@pytest.fixture(scope="module")
def frame():
    """Mixed frame: NaNs, exact zeros, a pandas category (non-sorted order) with NaN."""
    rng = np.random.default_rng(0)
    n = 400
    df = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "c": pd.Categorical(
                rng.choice(["x", "y", "z", "w", "v"], size=n),
                categories=["z", "y", "x", "w", "v"],
            ),
            "b": rng.normal(size=n),
        }
    )
    df.loc[rng.random(n) < 0.1, "c"] = np.nan
    df.loc[rng.random(n) < 0.1, "a"] = np.nan
    df.loc[rng.random(n) < 0.2, "b"] = 0.0
    signal = df["c"].isin(["x", "w"]) ^ (df["a"].fillna(0) > 0)
    y_bin = (signal | (df["b"] > 1)).astype(int)
    y_multi = (y_bin + (df["b"] > 0)).astype(int)
    y_reg = y_bin + df["b"] + 0.3 * rng.normal(size=n)
    return df, y_bin, y_multi, y_reg


def encode(df: pd.DataFrame, ensemble) -> np.ndarray:
    """Numeric matrix for traversal: category columns as codes per ``ensemble.categories``."""
    out = df.copy()
    for j, col in enumerate(df.columns):
        if isinstance(df[col].dtype, pd.CategoricalDtype):
            labels = (ensemble.categories or {}).get(j, tuple(df[col].cat.categories))
            position = {label: i for i, label in enumerate(labels)}
            out[col] = [np.nan if pd.isna(v) else position.get(v, np.nan) for v in df[col]]
    return out.to_numpy(dtype=np.float64)


def edge_values(thresholds) -> np.ndarray:
    """Values on, one ulp around, and on float32 rounding midpoints around each threshold."""
    t = np.asarray(thresholds, dtype=np.float64)
    t = t[np.isfinite(t)]
    with np.errstate(over="ignore"):
        a = t.astype(np.float32)
    lo = np.nextafter(a, np.float32(-np.inf))
    hi = np.nextafter(a, np.float32(np.inf))
    out = [t, np.nextafter(t, -np.inf), np.nextafter(t, np.inf)]
    for p, q in ((lo, a), (a, hi)):
        mid = (p.astype(np.float64) + q.astype(np.float64)) / 2
        out += [mid, np.nextafter(mid, -np.inf), np.nextafter(mid, np.inf)]
    out += [lo.astype(np.float64), hi.astype(np.float64)]
    return np.concatenate(out)


def edge_rows(X, features, thresholds, *, seed=0, n_max=3000) -> np.ndarray:
    """Rows of X with one feature moved onto the edge values of one of its thresholds."""
    rng = np.random.default_rng(seed)
    rows = []
    for j, t in zip(features, thresholds, strict=True):
        values = edge_values([t])
        base = X[rng.integers(0, len(X), size=len(values))].copy()
        base[:, j] = values
        rows.append(base)
    rows = np.concatenate(rows)
    return rows[rng.permutation(len(rows))[:n_max]]


def internal(ensemble):
    mask = ensemble.children_left >= 0
    return mask & ~ensemble.is_categorical


def assert_structure(ensemble, *, n_outputs, output_space, exact_cover=True):
    e = ensemble
    assert e.n_outputs == n_outputs
    assert e.output_space == output_space
    assert e.value.shape == (e.n_nodes, n_outputs)
    assert e.base_offset.shape == (n_outputs,)
    assert len(e.cat_offsets) == e.n_nodes + 1
    inner = np.flatnonzero(e.children_left >= 0)
    left, right = e.children_left[inner], e.children_right[inner]
    assert (e.feature[inner] >= 0).all() and (e.feature[inner] < e.n_features).all()
    assert (e.feature[e.children_left < 0] == -1).all()
    # cover adds up wherever the library's counts/weights do
    rtol = 1e-9 if exact_cover else 1e-4
    np.testing.assert_allclose(e.cover[left] + e.cover[right], e.cover[inner], rtol=rtol)
    # internal values are the cover-weighted mean of their children
    w = (e.cover[left] + e.cover[right])[:, None]
    mean = (e.cover[left, None] * e.value[left] + e.cover[right, None] * e.value[right]) / w
    np.testing.assert_allclose(e.value[inner], mean, rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------- scikit-learn


@pytest.mark.parametrize(
    "cls", [DecisionTreeClassifier, RandomForestClassifier, ExtraTreesClassifier]
)
@pytest.mark.parametrize("task", ["binary", "multiclass", "nan"])
def test_sklearn_forest_classifier(cls, task, clf):
    X, Xn, y_bin, y_multi = clf
    X = Xn if task == "nan" else X
    y = y_multi if task == "multiclass" else y_bin
    kwargs = {} if cls is DecisionTreeClassifier else {"n_estimators": 8}
    model = cls(max_depth=6, random_state=0, **kwargs).fit(X, y)
    e = extract_tree_ensemble(model)
    assert_structure(e, n_outputs=len(np.unique(y)), output_space="probability")
    assert (e.tree_output == -1).all() and e.split_le
    np.testing.assert_allclose(predict_raw(e, X), model.predict_proba(X), rtol=0, atol=EXACT)
    # float32 routing edges: same leaves as scikit-learn's own apply()
    inner = internal(e)
    Xe = edge_rows(X, e.feature[inner], _library_thresholds_sklearn(model)[inner])
    leaves = predict_leaf(e, Xe) - e.roots
    np.testing.assert_array_equal(leaves, np.atleast_2d(model.apply(Xe).T).T)
    np.testing.assert_allclose(predict_raw(e, Xe), model.predict_proba(Xe), rtol=0, atol=EXACT)


def _library_thresholds_sklearn(model):
    trees = model.estimators_ if hasattr(model, "estimators_") else [model]
    return np.concatenate([t.tree_.threshold for t in np.ravel(trees)])


@pytest.mark.parametrize("cls", [DecisionTreeRegressor, RandomForestRegressor, ExtraTreesRegressor])
@pytest.mark.parametrize("n_targets", [1, 2])
def test_sklearn_forest_regressor(cls, n_targets, reg):
    X, Y = reg
    y = Y[:, 0] if n_targets == 1 else Y
    kwargs = {} if cls is DecisionTreeRegressor else {"n_estimators": 8}
    model = cls(max_depth=6, random_state=0, **kwargs).fit(X, y)
    e = extract_tree_ensemble(model)
    assert_structure(e, n_outputs=n_targets, output_space="raw")
    expected = model.predict(X).reshape(len(X), -1)
    np.testing.assert_allclose(predict_raw(e, X), expected, rtol=0, atol=EXACT)
    inner = internal(e)
    Xe = edge_rows(X, e.feature[inner], _library_thresholds_sklearn(model)[inner])
    expected = model.predict(Xe).reshape(len(Xe), -1)
    np.testing.assert_allclose(predict_raw(e, Xe), expected, rtol=0, atol=EXACT)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression", "zero_init"])
def test_sklearn_gradient_boosting(task, clf, reg):
    X, _, y_bin, y_multi = clf
    if task == "regression":
        X, Y = reg
        model = GradientBoostingRegressor(n_estimators=15, max_depth=3, subsample=0.8)
        model.fit(X, Y[:, 0])
        expected = model.predict(X)
    else:
        y = y_multi if task == "multiclass" else y_bin
        init = "zero" if task == "zero_init" else None
        model = GradientBoostingClassifier(
            n_estimators=15, max_depth=3, learning_rate=0.3, init=init, random_state=0
        ).fit(X, y)
        expected = model.decision_function(X)
    e = extract_tree_ensemble(model)
    n_outputs = 3 if task == "multiclass" else 1
    assert_structure(
        e, n_outputs=n_outputs, output_space="raw" if task == "regression" else "log_odds"
    )
    if task == "binary":  # the prior's log-odds
        p = y_bin.mean()
        np.testing.assert_allclose(e.base_offset, [np.log(p / (1 - p))], rtol=1e-12)
    if task == "zero_init":
        np.testing.assert_array_equal(e.base_offset, [0.0])
    expected = expected.reshape(len(X), -1)
    np.testing.assert_allclose(predict_raw(e, X), expected, rtol=0, atol=EXACT)
    Xe = edge_rows(X, e.feature[internal(e)], _library_thresholds_sklearn(model)[internal(e)])
    raw = model.predict if task == "regression" else model.decision_function
    expected = raw(Xe).reshape(len(Xe), -1)
    np.testing.assert_allclose(predict_raw(e, Xe), expected, rtol=0, atol=EXACT)


def test_sklearn_gradient_boosting_rejects_estimator_init(clf):
    X, _, y_bin, _ = clf
    model = GradientBoostingClassifier(n_estimators=3, init=LogisticRegression()).fit(X, y_bin)
    with pytest.raises(ModelError, match="init"):
        extract_tree_ensemble(model)
    # a constant dummy is fine
    model = GradientBoostingClassifier(n_estimators=3, init=DummyClassifier(strategy="prior"))
    model.fit(X, y_bin)
    e = extract_tree_ensemble(model)
    np.testing.assert_allclose(predict_raw(e, X)[:, 0], model.decision_function(X), atol=EXACT)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_sklearn_hist_gradient_boosting(task, clf, reg):
    X, Xn, y_bin, y_multi = clf
    if task == "regression":
        X, Y = reg
        X = X.copy()
        X[np.random.default_rng(2).random(X.shape) < 0.1] = np.nan
        model = HistGradientBoostingRegressor(max_iter=15).fit(X, Y[:, 0])
    else:
        X = Xn
        y = y_multi if task == "multiclass" else y_bin
        model = HistGradientBoostingClassifier(max_iter=15).fit(X, y)
    e = extract_tree_ensemble(model)
    n_outputs = 3 if task == "multiclass" else 1
    space = "raw" if task == "regression" else "log_odds"
    assert_structure(e, n_outputs=n_outputs, output_space=space)
    np.testing.assert_array_equal(e.tree_output, np.tile(np.arange(n_outputs), 15)[: e.n_trees])
    np.testing.assert_allclose(predict_raw(e, X), model._raw_predict(X), rtol=0, atol=EXACT)
    Xe = edge_rows(X, e.feature[internal(e)], e.threshold[internal(e)])
    np.testing.assert_allclose(predict_raw(e, Xe), model._raw_predict(Xe), rtol=0, atol=EXACT)


def test_sklearn_hist_gradient_boosting_categorical(frame):
    df, _, y_multi, _ = frame
    model = HistGradientBoostingClassifier(max_iter=10, categorical_features="from_dtype")
    model.fit(df, y_multi)
    e = extract_tree_ensemble(model)
    assert e.has_categorical
    # scikit-learn encodes labels in sorted order; codes are positions in that order
    assert e.categories == {1: ("v", "w", "x", "y", "z")}
    assert set(np.unique(e.feature[e.is_categorical])) == {1}
    np.testing.assert_allclose(predict_raw(e, encode(df, e)), model._raw_predict(df), atol=EXACT)


def test_sklearn_hist_gradient_boosting_integer_categories(frame):
    """Numeric categories with gaps: codes are positions in the training categories;
    unseen and negative codes go where NaN goes."""
    df, _, _, y_reg = frame
    X = df.assign(c=df["c"].cat.codes.replace(-1, np.nan) * 3 + 1).to_numpy(dtype=float)
    model = HistGradientBoostingRegressor(max_iter=10, categorical_features=[1]).fit(X, y_reg)
    e = extract_tree_ensemble(model)
    assert e.has_categorical
    assert e.categories == {1: (1.0, 4.0, 7.0, 10.0, 13.0)}
    Xt = X.copy()
    Xt[:8, 1] = [2, 100, -1, 0, 7, 4, 3, 13]  # unseen, negative and seen values
    position = {v: i for i, v in enumerate(e.categories[1])}
    codes = Xt.copy()
    codes[:, 1] = [position.get(v, np.nan) for v in Xt[:, 1]]
    np.testing.assert_allclose(predict_raw(e, codes), model._raw_predict(Xt), atol=EXACT)
    # codes outside the known range (and negative ones) are routed like NaN
    missing = codes.copy()
    missing[:, 1] = np.nan
    for bad in (5.0, 99.0, -2.0):
        codes[:, 1] = bad
        np.testing.assert_array_equal(predict_raw(e, codes), predict_raw(e, missing))


# --------------------------------------------------------------------------- XGBoost


def _xgb_float32_margin(e, X):
    """XGBoost's own arithmetic: float32 intercept plus each tree's leaf, in tree order."""
    leaves = predict_leaf(e, X)
    out = np.tile(e.base_offset.astype(np.float32), (len(X), 1))
    for t in range(e.n_trees):
        k = e.tree_output[t]
        out[:, k] = out[:, k] + e.value[leaves[:, t], k].astype(np.float32)
    return out


def check_xgboost(e, booster, X, dmatrix, *, check_leaves=True):
    margin = booster.predict(dmatrix, output_margin=True).reshape(len(X), -1)
    np.testing.assert_array_equal(_xgb_float32_margin(e, X), margin)
    np.testing.assert_allclose(predict_raw(e, X), margin, rtol=0, atol=1e-5)
    if check_leaves:
        leaves = booster.predict(dmatrix, pred_leaf=True).reshape(len(X), -1)
        np.testing.assert_array_equal(predict_leaf(e, X) - e.roots, leaves)


XGB_TASKS = {
    "binary": ({"objective": "binary:logistic"}, "log_odds", 1),
    "multiclass": ({"objective": "multi:softprob", "num_class": 3}, "log_odds", 3),
    "regression": ({"objective": "reg:squarederror"}, "raw", 1),
    "poisson": ({"objective": "count:poisson"}, "raw", 1),
}


@pytest.mark.parametrize("task", list(XGB_TASKS))
def test_xgboost_booster(task, clf):
    _, Xn, y_bin, y_multi = clf
    params, space, n_outputs = XGB_TASKS[task]
    y = y_multi if task in ("multiclass", "regression", "poisson") else y_bin
    d = xgb.DMatrix(Xn, label=y)
    booster = xgb.train({"max_depth": 4, "eta": 0.3, "nthread": 1, **params}, d, 12)
    e = extract_tree_ensemble(booster)
    assert_structure(e, n_outputs=n_outputs, output_space=space, exact_cover=False)
    assert not e.split_le
    check_xgboost(e, booster, Xn, d)
    inner = internal(e)
    thresholds = np.concatenate([np.asarray(t["split_conditions"]) for t in _xgb_trees(booster)])[
        inner
    ]
    Xe = edge_rows(Xn, e.feature[inner], thresholds)
    check_xgboost(e, booster, Xe, xgb.DMatrix(Xe))


def _xgb_trees(booster):
    import json

    return json.loads(booster.save_raw("json"))["learner"]["gradient_booster"]["model"]["trees"]


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_xgboost_sklearn_categorical(task, frame):
    df, y_bin, y_multi, y_reg = frame
    cls = xgb.XGBRegressor if task == "regression" else xgb.XGBClassifier
    y = {"binary": y_bin, "multiclass": y_multi, "regression": y_reg}[task]
    model = cls(
        n_estimators=10,
        max_depth=3,
        enable_categorical=True,
        tree_method="hist",
        max_cat_to_onehot=1,
        n_jobs=1,
    ).fit(df, y)
    e = extract_tree_ensemble(model)
    n_outputs = 3 if task == "multiclass" else 1
    space = "raw" if task == "regression" else "log_odds"
    assert_structure(e, n_outputs=n_outputs, output_space=space, exact_cover=False)
    assert e.has_categorical and not e.cat_in_set_left.any()  # XGBoost: the set goes right
    assert e.categories == {1: ("z", "y", "x", "w", "v")}
    d = xgb.DMatrix(df, enable_categorical=True)
    check_xgboost(e, model.get_booster(), encode(df, e), d)
    margin = model.predict(df, output_margin=True).reshape(len(df), -1)
    np.testing.assert_allclose(predict_raw(e, encode(df, e)), margin, atol=1e-5)


def test_xgboost_variants(clf):
    X, Xn, y_bin, _ = clf
    d = xgb.DMatrix(Xn, label=y_bin)
    for params in (
        {"booster": "dart", "rate_drop": 0.3},
        {"num_parallel_tree": 3, "subsample": 0.8, "colsample_bynode": 0.8},
    ):
        params |= {"objective": "binary:logistic", "max_depth": 3, "nthread": 1}
        booster = xgb.train(params, d, 6)
        e = extract_tree_ensemble(booster)
        check_xgboost(e, booster, Xn, d, check_leaves="booster" not in params)
    # numpy input with a categorical feature type
    Xc = X.copy()
    Xc[:, 2] = np.random.default_rng(0).integers(0, 5, size=len(X))
    Xc[::11, 2] = np.nan
    types = ["q", "q", "c", "q", "q", "q"]
    d = xgb.DMatrix(Xc, label=y_bin, feature_types=types, enable_categorical=True)
    params = {"objective": "binary:logistic", "max_cat_to_onehot": 1, "nthread": 1}
    booster = xgb.train(params, d, 6)
    e = extract_tree_ensemble(booster)
    assert e.has_categorical and not e.categories
    check_xgboost(e, booster, Xc, d)
    with pytest.raises(ModelError, match="gbtree"):
        linear = xgb.train({"booster": "gblinear", "nthread": 1}, xgb.DMatrix(X, y_bin), 2)
        extract_tree_ensemble(linear)


def test_xgboost_best_iteration(clf):
    X, _, y_bin, _ = clf
    model = xgb.XGBClassifier(
        n_estimators=200, learning_rate=0.5, early_stopping_rounds=3, n_jobs=1
    )
    model.fit(X[:200], y_bin[:200], eval_set=[(X[200:], y_bin[200:])], verbose=False)
    assert model.best_iteration + 1 < 200
    e = extract_tree_ensemble(model)
    assert e.n_trees == model.best_iteration + 1
    margin = model.predict(X, output_margin=True)
    np.testing.assert_allclose(predict_raw(e, X)[:, 0], margin, atol=1e-5)
    # a native Booster predicts with all its trees, and so do we
    assert (
        extract_tree_ensemble(model.get_booster()).n_trees
        == model.get_booster().num_boosted_rounds()
    )


# --------------------------------------------------------------------------- LightGBM

LGB_MISSING = {
    "nan": {},
    "zero_as_missing": {"zero_as_missing": True},
    "no_missing": {"use_missing": False},
}


@pytest.mark.parametrize("missing", list(LGB_MISSING))
@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_lightgbm_sklearn(task, missing, frame):
    df, y_bin, y_multi, y_reg = frame
    cls = lgb.LGBMRegressor if task == "regression" else lgb.LGBMClassifier
    y = {"binary": y_bin, "multiclass": y_multi, "regression": y_reg}[task]
    model = cls(
        n_estimators=8,
        num_leaves=8,
        min_child_samples=5,
        min_data_per_group=5,
        cat_smooth=1,
        verbose=-1,
        n_jobs=1,
        **LGB_MISSING[missing],
    ).fit(df, y)
    e = extract_tree_ensemble(model)
    n_outputs = 3 if task == "multiclass" else 1
    space = "raw" if task == "regression" else "log_odds"
    assert_structure(e, n_outputs=n_outputs, output_space=space)
    assert e.categories == {1: ("z", "y", "x", "w", "v")}
    assert e.zero_as_missing.any() == (missing == "zero_as_missing")
    X = encode(df, e)
    np.testing.assert_allclose(
        predict_raw(e, X), model.predict(df, raw_score=True).reshape(len(X), -1), atol=EXACT
    )
    # thresholds' neighbours, exact zeros of both signs, and values inside the zero threshold
    inner = internal(e)
    Xe = edge_rows(X, e.feature[inner], e.threshold[inner])
    Xe[::3, 2] = np.resize(ZERO_BAND, len(Xe[::3]))
    Xe[::5, 1] = np.nan
    Xe_df = pd.DataFrame(Xe, columns=df.columns)
    Xe_df["c"] = pd.Categorical.from_codes(
        np.nan_to_num(Xe[:, 1], nan=-1).astype(int), categories=df["c"].cat.categories
    )
    expected = model.predict(Xe_df, raw_score=True).reshape(len(Xe), -1)
    np.testing.assert_allclose(predict_raw(e, Xe), expected, atol=EXACT)


@pytest.mark.parametrize("missing", list(LGB_MISSING))
def test_lightgbm_booster_numpy(missing, clf):
    """Native Booster on numpy with an integer-coded categorical feature and NaNs."""
    X, Xn, _, y_multi = clf
    Xc = Xn.copy()
    # an informative categorical feature: shuffled labels of (class, coin flip)
    flip = np.random.default_rng(0).integers(0, 2, size=len(X))
    Xc[:, 2] = np.array([3, 0, 5, 1, 4, 2])[2 * y_multi + flip]
    Xc[::9, 2] = np.nan
    Xc[::4, 3] = 0.0
    params = {
        "objective": "multiclass",
        "num_class": 3,
        "num_leaves": 8,
        "min_data_in_leaf": 5,
        "min_data_per_group": 5,
        "cat_smooth": 1,
        "verbose": -1,
        "num_threads": 1,
        **LGB_MISSING[missing],
    }
    booster = lgb.train(params, lgb.Dataset(Xc, y_multi, categorical_feature=[2]), 6)
    e = extract_tree_ensemble(booster)
    assert_structure(e, n_outputs=3, output_space="log_odds")
    np.testing.assert_array_equal(e.tree_output, np.tile([0, 1, 2], 6))
    assert e.has_categorical and not e.categories
    Xt = Xc.copy()
    Xt[:6, 2] = [-1, -3, 7, 2.5, 1e12, np.inf]  # negative, unseen and odd codes
    Xt[: len(ZERO_BAND), 3] = ZERO_BAND
    np.testing.assert_allclose(predict_raw(e, Xt), booster.predict(Xt, raw_score=True), atol=EXACT)


def test_lightgbm_variants(clf, reg):
    X, Xn, y_bin, _ = clf
    # random-forest mode averages the trees. LightGBM's raw_score is the plain sum there,
    # while its probabilities (and our margin) use the average.
    params = {"boosting": "rf", "bagging_fraction": 0.7, "bagging_freq": 1, "verbose": -1}
    params["num_threads"] = 1
    booster = lgb.train({"objective": "binary", **params}, lgb.Dataset(Xn, y_bin), 5)
    e = extract_tree_ensemble(booster)
    margin = predict_raw(e, Xn)[:, 0]
    np.testing.assert_allclose(margin, booster.predict(Xn, raw_score=True) / 5, atol=EXACT)
    np.testing.assert_allclose(1 / (1 + np.exp(-margin)), booster.predict(Xn), atol=1e-12)
    # early stopping: predict (and we) use best_iteration
    params = {"objective": "binary", "learning_rate": 0.5, "verbose": -1, "num_threads": 1}
    train, valid = lgb.Dataset(X[:200], y_bin[:200]), lgb.Dataset(X[200:], y_bin[200:])
    booster = lgb.train(
        params,
        train,
        300,
        valid_sets=[valid],
        callbacks=[lgb.early_stopping(3, verbose=False)],
        keep_training_booster=True,  # keeps the trees after the best iteration
    )
    assert 0 < booster.best_iteration < booster.num_trees()
    e = extract_tree_ensemble(booster)
    assert e.n_trees == booster.best_iteration
    np.testing.assert_allclose(
        predict_raw(e, X)[:, 0], booster.predict(X, raw_score=True), atol=EXACT
    )
    # a tree with a single leaf
    Xr, Y = reg
    params = {"min_data_in_leaf": 1000, "verbose": -1, "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(Xr, Y[:, 0]), 2)
    e = extract_tree_ensemble(booster)
    assert e.n_trees == booster.num_trees() and (e.children_left == -1).all()
    np.testing.assert_allclose(e.cover[e.roots], len(Xr))
    np.testing.assert_allclose(predict_raw(e, Xr)[:, 0], booster.predict(Xr), atol=EXACT)
    # linear trees are not plain trees
    params = {"linear_tree": True, "verbose": -1, "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(Xr, Y[:, 0]), 2)
    with pytest.raises(ModelError, match="linear_tree"):
        extract_tree_ensemble(booster)


# --------------------------------------------------------------------------- errors & helpers


@pytest.mark.parametrize(
    "model",
    [
        RandomForestClassifier(),
        DecisionTreeRegressor(),
        GradientBoostingClassifier(),
        HistGradientBoostingRegressor(),
        xgb.XGBClassifier(),
        xgb.XGBRegressor(),
        lgb.LGBMClassifier(),
        lgb.LGBMRegressor(),
    ],
    ids=lambda m: type(m).__name__,
)
def test_unfitted_models_raise(model):
    with pytest.raises(NotFittedError, match="not fitted"):
        extract_tree_ensemble(model)


@pytest.mark.parametrize(
    "model",
    [LinearRegression(), object(), make_pipeline(StandardScaler(), DecisionTreeRegressor())],
    ids=["linear", "object", "pipeline"],
)
def test_unsupported_models_raise(model, reg):
    X, Y = reg
    if hasattr(model, "fit"):
        model.fit(X, Y[:, 0])
    with pytest.raises(ModelError, match="supported are"):
        extract_tree_ensemble(model)


def test_multioutput_classifier_raises(clf):
    X, _, y_bin, y_multi = clf
    model = DecisionTreeClassifier(max_depth=2).fit(X, np.c_[y_bin, y_multi])
    with pytest.raises(ModelError, match="multi-output"):
        extract_tree_ensemble(model)


def test_predict_raw_checks_input(clf):
    X, _, y_bin, _ = clf
    e = extract_tree_ensemble(DecisionTreeClassifier(max_depth=2).fit(X, y_bin))
    with pytest.raises(InvalidInputError, match="6"):
        predict_raw(e, X[:, :5])
    with pytest.raises(InvalidInputError, match="2-D"):
        predict_raw(e, X[0])
    assert predict_raw(e, X[:0]).shape == (0, 2)


@pytest.mark.parametrize("strict", [False, True])
def test_float32_route_threshold(strict):
    """x <= T (x < T) on float64 equals float32(x) <= t (< t), at every edge value."""
    rng = np.random.default_rng(0)
    big = float(np.finfo(np.float32).max)
    t = np.concatenate(
        [
            rng.normal(size=300) * 10.0 ** rng.integers(-47, 40, size=300),
            rng.normal(size=100).astype(np.float32),  # float32 thresholds (XGBoost)
            [0.0, -0.0, 1.0, -1.0, 1e-45, -1e-45, 2e-45, big, -big, 1e39, -1e39],
            [np.inf, -np.inf],
        ]
    )
    T = _float32_route_threshold(t, strict=strict)[:, None]
    with np.errstate(over="ignore"):
        x = np.concatenate([edge_values(t), [np.inf, -np.inf, _F32_EDGE, -_F32_EDGE]])
        x = np.concatenate([x, np.nextafter(x, np.inf), np.nextafter(x, -np.inf)])
        x32 = x.astype(np.float32).astype(np.float64)
    t = t[:, None]
    expected = x32 < t if strict else x32 <= t
    got = x < T if strict else x <= T
    bad = np.argwhere(got != expected)
    assert len(bad) == 0, [(t[i, 0], x[j]) for i, j in bad[:5]]


def test_parallel_path_matches_serial(clf):
    """Large inputs run on the thread pool; results must not depend on that."""
    _, Xn, _, y_multi = clf
    model = HistGradientBoostingClassifier(max_iter=20).fit(Xn, y_multi)
    e = extract_tree_ensemble(model)
    big = np.tile(Xn, (15, 1))  # 4,500 rows x 60 trees: above the serial cutoff
    serial = predict_raw(e, Xn)
    np.testing.assert_array_equal(predict_raw(e, big), np.tile(serial, (15, 1)))
    np.testing.assert_array_equal(predict_leaf(e, big), np.tile(predict_leaf(e, Xn), (15, 1)))
    np.testing.assert_allclose(serial, model._raw_predict(Xn), rtol=0, atol=EXACT)
