"""Model adapters reproduce each library's own predictions in the declared output space."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor

from assay.errors import InvalidInputError, ModelError, NotFittedError
from assay.model import CallableAdapter, ModelAdapter, wrap


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y_bin = (X[:, 0] - X[:, 1] + 0.3 * rng.normal(size=300) > 0).astype(int)
    y_multi = np.digitize(X[:, 0] + X[:, 2], [-0.8, 0.8])
    y_reg = X @ [1.0, -2.0, 0.5, 0.0] + X[:, 0] * X[:, 3]
    return X, y_bin, y_multi, y_reg


# -- scikit-learn -------------------------------------------------------------------------------
def test_sklearn_binary_classifier_gives_probabilities(data):
    X, y, _, _ = data
    model = LogisticRegression().fit(X, y)
    a = wrap(model)
    out = a.predict(X)
    assert out.shape == (300, 2) and out.dtype == np.float64
    np.testing.assert_array_equal(out, model.predict_proba(X))
    assert a.output_space == "probability" and a.is_classifier
    assert a.output_names == ["0", "1"] and a.n_outputs == 2
    assert a.n_features == 4 and a.feature_names is None


def test_sklearn_multiclass_classifier_with_string_labels(data):
    X, _, y, _ = data
    labels = np.array(["low", "mid", "high"])[y]
    model = LogisticRegression(max_iter=500).fit(X, labels)
    a = wrap(model)
    np.testing.assert_array_equal(a.predict(X), model.predict_proba(X))
    assert a.output_names == [str(c) for c in model.classes_]


def test_sklearn_log_odds_is_the_margin(data):
    X, y_bin, y_multi, _ = data
    binary = LogisticRegression().fit(X, y_bin)
    a = wrap(binary, output_space="log_odds")
    out = a.predict(X)
    assert out.shape == (300, 1)
    np.testing.assert_array_equal(out[:, 0], binary.decision_function(X))
    assert a.output_names == ["1"]
    multi = LogisticRegression(max_iter=500).fit(X, y_multi)
    out = wrap(multi, output_space="log_odds").predict(X)
    np.testing.assert_array_equal(out, multi.decision_function(X))


def test_log_odds_without_decision_function_is_refused_at_wrap(data):
    X, y, _, _ = data
    model = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
    with pytest.raises(ModelError, match=r"no decision_function.*output_space='probability'"):
        wrap(model, output_space="log_odds")


def test_sklearn_regressor_gives_one_column(data):
    X, _, _, y = data
    model = DecisionTreeRegressor(max_depth=4).fit(X, y)
    a = wrap(model)
    out = a.predict(X)
    assert out.shape == (300, 1)
    np.testing.assert_array_equal(out[:, 0], model.predict(X))
    assert a.output_space == "raw" and not a.is_classifier
    assert a.output_names == ["prediction"]
    assert a.has_trees


def test_multi_output_regressor_names_every_output(data):
    X, _, _, y = data
    model = LinearRegression().fit(X, np.column_stack([y, -y]))  # has no n_outputs_
    a = wrap(model)
    out = a.predict(X[:5])
    assert out.shape == (5, 2)
    assert a.output_names == ["output_0", "output_1"]


def test_pipeline(data):
    X, y, _, _ = data
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    a = wrap(pipe)
    np.testing.assert_array_equal(a.predict(X), pipe.predict_proba(X))
    out = wrap(pipe, output_space="log_odds").predict(X)
    np.testing.assert_array_equal(out[:, 0], pipe.decision_function(X))
    reg = make_pipeline(StandardScaler(), Ridge()).fit(X, X[:, 0])
    np.testing.assert_array_equal(wrap(reg).predict(X)[:, 0], reg.predict(X))


def test_unfitted_pipeline():
    with pytest.raises(NotFittedError, match=r"Pipeline.*not fitted"):
        wrap(make_pipeline(StandardScaler(), LogisticRegression()))


def test_dataframe_fitted_model_checks_and_reorders_columns(data):
    X, y, _, _ = data
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    model = LogisticRegression().fit(df, y)
    a = wrap(model)
    assert a.feature_names == ["a", "b", "c", "d"]
    values, names = a.prepare(df[["d", "c", "b", "a"]])
    assert names == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(values, X)
    # (equal up to BLAS rounding: the frame's own array has another memory layout)
    np.testing.assert_allclose(a.predict(values), model.predict_proba(df), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(a.predict(values), a.predict(np.ascontiguousarray(X)))
    with pytest.raises(InvalidInputError, match=r"missing: \['d'\]"):
        a.prepare(df[["a", "b", "c"]])
    with pytest.raises(InvalidInputError, match=r"unknown: \['e'\]"):
        a.prepare(df.rename(columns={"d": "e"}))
    # a plain array is taken in the fitted order and only its width is checked
    np.testing.assert_array_equal(a.predict(a.prepare(X)[0]), a.predict(values))
    with pytest.raises(InvalidInputError, match=r"3 columns but the model was fitted on 4"):
        a.prepare(X[:, :3])


# -- XGBoost --------------------------------------------------------------------------------------
xgb = pytest.importorskip("xgboost")


def test_xgboost_sklearn_classifier(data):
    X, y, _, _ = data
    model = xgb.XGBClassifier(n_estimators=15, max_depth=3).fit(X, y)
    a = wrap(model)
    out = a.predict(X)
    assert out.shape == (300, 2)
    np.testing.assert_array_equal(out, model.predict_proba(X))
    margin = wrap(model, output_space="log_odds").predict(X)
    assert margin.shape == (300, 1)
    np.testing.assert_array_equal(margin[:, 0], model.predict(X, output_margin=True))


def test_xgboost_sklearn_multiclass_and_regressor(data):
    X, _, y_multi, y_reg = data
    clf = xgb.XGBClassifier(n_estimators=10, max_depth=3).fit(X, y_multi)
    np.testing.assert_array_equal(wrap(clf).predict(X), clf.predict_proba(X))
    margin = wrap(clf, output_space="log_odds").predict(X)
    np.testing.assert_array_equal(margin, clf.predict(X, output_margin=True))
    reg = xgb.XGBRegressor(n_estimators=10, max_depth=3).fit(X, y_reg)
    out = wrap(reg).predict(X)
    assert out.shape == (300, 1)
    np.testing.assert_array_equal(out[:, 0], reg.predict(X))


def test_xgboost_early_stopping_uses_best_iteration(data):
    X, y, _, _ = data
    model = xgb.XGBClassifier(n_estimators=200, learning_rate=0.5, early_stopping_rounds=2)
    model.fit(X[:200], y[:200], eval_set=[(X[200:], y[200:])], verbose=False)
    assert model.best_iteration + 1 < model.get_booster().num_boosted_rounds()
    np.testing.assert_array_equal(wrap(model).predict(X), model.predict_proba(X))


def test_xgboost_native_booster(data):
    X, y, _, y_reg = data
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 3}, xgb.DMatrix(X, label=y), 10
    )
    a = wrap(booster)
    out = a.predict(X)
    assert out.shape == (300, 2) and a.output_space == "probability"
    expected = booster.predict(xgb.DMatrix(X))
    np.testing.assert_array_equal(out[:, 1], expected)
    np.testing.assert_allclose(out[:, 0], 1 - expected, atol=1e-7)
    margin = wrap(booster, output_space="log_odds").predict(X)
    np.testing.assert_array_equal(margin[:, 0], booster.predict(xgb.DMatrix(X), output_margin=True))
    reg = xgb.train({"objective": "reg:squarederror"}, xgb.DMatrix(X, label=y_reg), 5)
    np.testing.assert_array_equal(wrap(reg).predict(X)[:, 0], reg.predict(xgb.DMatrix(X)))


def test_xgboost_softmax_objective_gives_probabilities(data):
    X, _, y, _ = data
    model = xgb.XGBClassifier(n_estimators=5, objective="multi:softmax").fit(X, y)
    out = wrap(model).predict(X)
    assert out.shape == (300, 3)
    np.testing.assert_allclose(out, model.predict_proba(X), atol=1e-6)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-12)


def test_xgboost_dataframe_columns(data):
    X, _, _, y = data
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    model = xgb.XGBRegressor(n_estimators=5).fit(df, y)
    a = wrap(model)
    assert a.feature_names == ["a", "b", "c", "d"]
    values, _ = a.prepare(df[["c", "a", "d", "b"]])
    np.testing.assert_array_equal(a.predict(values)[:, 0], model.predict(df))
    with pytest.raises(InvalidInputError, match=r"unknown: \['z'\]"):
        a.prepare(df.rename(columns={"a": "z"}))


def test_xgboost_unfitted():
    with pytest.raises(NotFittedError, match=r"XGBRegressor is not fitted yet"):
        wrap(xgb.XGBRegressor())
    with pytest.raises(NotFittedError, match=r"not fitted"):
        wrap(xgb.Booster())


# -- LightGBM --------------------------------------------------------------------------------------
lgb = pytest.importorskip("lightgbm")


def test_lightgbm_sklearn_api(data):
    X, y_bin, y_multi, y_reg = data
    clf = lgb.LGBMClassifier(n_estimators=10, verbose=-1).fit(X, y_bin)
    out = wrap(clf).predict(X)
    assert out.shape == (300, 2)
    np.testing.assert_array_equal(out, clf.predict_proba(X))
    margin = wrap(clf, output_space="log_odds").predict(X)
    assert margin.shape == (300, 1)
    np.testing.assert_array_equal(margin[:, 0], clf.predict(X, raw_score=True))
    multi = lgb.LGBMClassifier(n_estimators=5, verbose=-1).fit(X, y_multi)
    np.testing.assert_array_equal(wrap(multi).predict(X), multi.predict_proba(X))
    np.testing.assert_array_equal(
        wrap(multi, output_space="log_odds").predict(X), multi.predict(X, raw_score=True)
    )
    reg = lgb.LGBMRegressor(n_estimators=10, verbose=-1).fit(X, y_reg)
    np.testing.assert_array_equal(wrap(reg).predict(X)[:, 0], reg.predict(X))


def test_lightgbm_native_booster(data):
    X, y, _, _ = data
    booster = lgb.train(
        {"objective": "binary", "verbose": -1}, lgb.Dataset(X, label=y), num_boost_round=10
    )
    a = wrap(booster)
    out = a.predict(X)
    assert out.shape == (300, 2) and a.is_classifier
    np.testing.assert_array_equal(out[:, 1], booster.predict(X))
    margin = wrap(booster, output_space="log_odds").predict(X)
    np.testing.assert_array_equal(margin[:, 0], booster.predict(X, raw_score=True))


def test_lightgbm_fitted_on_arrays_accepts_any_frame(data):
    X, y, _, _ = data
    clf = lgb.LGBMClassifier(n_estimators=5, verbose=-1).fit(X, y)
    a = wrap(clf)
    assert a.feature_names is None  # LightGBM's Column_0... placeholders are not names
    values, names = a.prepare(pd.DataFrame(X, columns=["p", "q", "r", "s"]))
    assert names == ["p", "q", "r", "s"]
    np.testing.assert_array_equal(a.predict(values), clf.predict_proba(X))


def test_lightgbm_dataframe_columns(data):
    X, y, _, _ = data
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = lgb.LGBMClassifier(n_estimators=5, verbose=-1).fit(df, y)
    a = wrap(clf)
    values, _ = a.prepare(df[["d", "b", "a", "c"]])
    np.testing.assert_array_equal(a.predict(values), clf.predict_proba(df))
    with pytest.raises(InvalidInputError, match=r"missing: \['c'\]"):
        a.prepare(df[["a", "b", "d"]])


def test_lightgbm_unfitted():
    with pytest.raises(NotFittedError, match=r"LGBMClassifier is not fitted yet"):
        wrap(lgb.LGBMClassifier())


# -- callables, torch, counters --------------------------------------------------------------------
def test_callable_adapter_and_counters():
    def f(X):
        return X[:, 0] * 2.0

    a = wrap(f, feature_names=["u", "v"])
    assert isinstance(a, CallableAdapter) and a.output_space == "raw"
    with pytest.raises(ModelError, match=r"only known after the first predict"):
        _ = a.output_names
    out = a.predict(np.ones((7, 2)))
    assert out.shape == (7, 1) and a.output_names == ["output_0"]
    a.predict(np.ones((3, 2)))
    assert a.n_rows_evaluated == 10 and a.n_calls == 2
    assert wrap(a) is a  # an adapter passes through


def test_callable_adapter_with_several_outputs():
    a = wrap(lambda X: np.column_stack([X.sum(axis=1), X.prod(axis=1)]), output_space="log_odds")
    assert a.predict(np.ones((2, 3))).shape == (2, 2)
    assert a.output_space == "log_odds" and a.output_names == ["output_0", "output_1"]


def test_callable_that_fails_or_returns_bad_shapes():
    boom = wrap(lambda X: 1 / 0)
    with pytest.raises(ModelError, match=r"Calling the model .* failed: ZeroDivisionError"):
        boom.predict(np.ones((2, 2)))
    short = wrap(lambda X: np.ones(len(X) - 1))
    with pytest.raises(ModelError, match=r"returned shape \(2,\) for 3 rows"):
        short.predict(np.ones((3, 2)))
    cube = wrap(lambda X: np.ones((len(X), 2, 2)))
    with pytest.raises(ModelError, match=r"expected"):
        cube.predict(np.ones((3, 2)))
    with pytest.raises(InvalidInputError, match=r"2-D"):
        short.predict(np.ones(3))


def test_not_a_model():
    with pytest.raises(ModelError, match=r"Cannot use an object of type int as a model"):
        wrap(3)
    with pytest.raises(InvalidInputError, match=r"output_space must be one of"):
        wrap(lambda X: X, output_space="odds")


def test_sklearn_counters(data):
    X, y, _, _ = data
    a = wrap(LogisticRegression().fit(X, y))
    a.predict(X[:10])
    a.predict(X[:5])
    assert (a.n_calls, a.n_rows_evaluated) == (2, 15)
    assert isinstance(a, ModelAdapter) and "LogisticRegression" in repr(a)


def test_torch_module():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    net.eval()
    X = np.random.default_rng(0).normal(size=(20, 4))
    a = wrap(net)
    a.batch_size = 7  # several forward passes, concatenated in order
    out = a.predict(X)
    assert out.shape == (20, 3) and out.dtype == np.float64
    with torch.no_grad():
        expected = net(torch.as_tensor(X, dtype=torch.float32)).double().numpy()
    np.testing.assert_array_equal(out, expected)
    assert a.has_gradients and a.output_space == "raw"
    assert a.n_calls == 1 and a.n_rows_evaluated == 20


def test_torch_module_subclass_and_float64():
    torch = pytest.importorskip("torch")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3, 1).double()

        def forward(self, x):
            return torch.sigmoid(self.lin(x))

    net = Net()
    X = np.random.default_rng(1).normal(size=(5, 3))
    out = wrap(net, output_space="probability").predict(X)
    with torch.no_grad():
        expected = net(torch.as_tensor(X)).numpy()
    np.testing.assert_array_equal(out, expected)  # float64 parameters: float64 all the way
