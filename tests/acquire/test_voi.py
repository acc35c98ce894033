"""Value of information: informative vs noise features, boundary rows, the demo's lactate."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression

from assay.acquire import ValueOfInformation, plot_value_of_information, value_of_information
from assay.datasets import load_clinical
from assay.errors import InvalidInputError


@pytest.fixture(scope="module")
def planted():
    """x0 determines the label, x1 is pure noise, x2 is a weak observed covariate."""
    rng = np.random.default_rng(0)
    n = 6000
    X = rng.normal(size=(n, 3))
    y = (X[:, 0] + 0.3 * X[:, 2] > 0).astype(int)
    train = X.copy()
    # missing values in training so the model learns what to do with them
    train[rng.random(n) < 0.2, 0] = np.nan
    train[rng.random(n) < 0.2, 1] = np.nan
    # a model regularized enough not to fit the noise feature
    model = HistGradientBoostingClassifier(
        max_iter=100, max_depth=3, min_samples_leaf=200, random_state=0
    ).fit(train, y)
    query = X[:400].copy()
    query[:, 0] = np.nan
    query[:, 1] = np.nan
    return model, X, query


def test_informative_feature_beats_noise(planted):
    model, X, query = planted
    voi = value_of_information(model, query, X_reference=X[400:], n_samples=40)
    ranking = voi.ranking()
    assert [r["feature"] for r in ranking] == ["x0", "x1"]
    informative, noise = ranking
    assert informative["mean_value"] > 0.2  # nats: measuring x0 almost settles the label
    # noise: indistinguishable from zero and tiny next to the informative feature
    assert noise["mean_value"] < 3 * noise["stderr"] + 0.01
    assert noise["mean_value"] < 0.05 * informative["mean_value"]


def test_value_highest_near_decision_boundary():
    """y = [x0 + x1 > 0] with x0 missing: rows with observed x1 near 0 are the uncertain ones."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(6000, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    train = X.copy()
    train[rng.random(6000) < 0.3, 0] = np.nan
    model = HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(train, y)
    query = X[:500].copy()
    query[:, 0] = np.nan
    voi = value_of_information(model, query, X_reference=X[500:])
    margin = np.abs(voi.prediction[:, 1] - 0.5)
    near, far = margin < np.quantile(margin, 0.2), margin > np.quantile(margin, 0.8)
    assert voi.values[near, 0].mean() > 3 * voi.values[far, 0].mean()
    assert np.corrcoef(margin, voi.values[:, 0])[0, 1] < -0.5
    assert voi.decision_change[near, 0].mean() > voi.decision_change[far, 0].mean()


def test_log_loss_value_matches_hand_computation():
    """One row, a model that is the sigmoid of x0: the value is the mean KL over neighbours."""

    def model(X):
        x = np.nan_to_num(X[:, 0], nan=0.0)
        return 1 / (1 + np.exp(-x))

    from assay.model import wrap

    adapter = wrap(model, output_space="probability")
    ref = np.array([[-2.0, 0.0], [-1.0, 0.1], [1.0, 0.2], [2.0, 0.3], [5.0, 9.0]])
    query = np.array([[np.nan, 0.15]])
    voi = value_of_information(adapter, query, X_reference=ref, n_samples=4, candidates=["x0"])
    vals = np.array([-2.0, -1.0, 1.0, 2.0])  # the 4 nearest by x1
    p = 1 / (1 + np.exp(-vals))
    p_bar = p.mean()  # 0.5 by symmetry
    kl = p * np.log(p / p_bar) + (1 - p) * np.log((1 - p) / (1 - p_bar))
    assert voi.values[0, 0] == pytest.approx(kl.mean(), rel=1e-12)
    assert voi.stderr[0, 0] == pytest.approx(kl.std(ddof=1) / 2, rel=1e-12)
    assert voi.decision_change[0, 0] == pytest.approx(0.5)


def test_demo_lactate_ranks_first_where_missing_and_uncertain():
    data = load_clinical(n_samples=12000, seed=0)
    X, y = data.X, data.y
    model = HistGradientBoostingClassifier(max_iter=150, random_state=0).fit(
        X.iloc[:8000], y.iloc[:8000]
    )
    query = X.iloc[8000:9500].copy()
    rng = np.random.default_rng(3)
    # hide two other measurements at random so there is something to compare lactate with
    for col in ("heart_rate", "bmi"):
        query.loc[query.index[rng.random(len(query)) < 0.5], col] = np.nan
    voi = value_of_information(model, query, X_reference=X.iloc[:8000], n_samples=30)
    p = voi.prediction[:, 1]
    uncertain = (p > 0.2) & (p < 0.8) & query["lactate"].isna().to_numpy()
    assert uncertain.sum() > 50
    ranking = voi.ranking(rows=uncertain)
    assert ranking[0]["feature"] == "lactate"
    assert ranking[0]["mean_value"] > 2 * ranking[1]["mean_value"]


def test_costs_rank_by_value_per_cost(planted):
    model, X, query = planted
    voi = value_of_information(model, query, X_reference=X[400:], cost={"x0": 1000.0, "x1": 0.001})
    ranking = voi.ranking()
    assert "value_per_cost" in ranking[0]
    values = [r["value_per_cost"] for r in ranking]
    assert values == sorted(values, reverse=True)


def test_regression_and_imputer():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(1500, 2))
    y = 3 * X[:, 0] + 0.1 * rng.normal(size=1500)
    reg = HistGradientBoostingRegressor(max_iter=50).fit(X, y)
    q = X[:50].copy()
    q[:, 0] = np.nan
    voi = value_of_information(reg, q, X_reference=X)
    assert voi.loss == "squared_error"
    assert voi.values[:, 0].mean() > 3.0  # about the variance of 3 * x0 = 9, shrunk by the model
    assert np.isnan(voi.decision_change).all()
    # a model that cannot take NaN, with an imputer in front
    clf = LogisticRegression().fit(X, (y > 0).astype(int))
    imputer = SimpleImputer().fit(X)
    voi2 = value_of_information(clf, q, X_reference=X, imputer=imputer)
    assert np.all(voi2.values[:, 0] > 0)


def test_round_trip_and_recommendation(planted, tmp_path):
    model, X, query = planted
    voi = value_of_information(model, query[:20], X_reference=X[400:], n_samples=10)
    again = ValueOfInformation.from_dict(json.loads(json.dumps(voi.to_dict())))
    np.testing.assert_array_equal(again.values, voi.values)
    np.testing.assert_array_equal(again.stderr, voi.stderr)
    assert again.ranking() == voi.ranking()
    text = voi.recommend(0)
    assert text.startswith("measure x0: expected log-loss reduction")
    assert "decision changes for" in text
    ax = plot_value_of_information(voi)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["x1", "x0"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"candidates": ["nope"]}, "unknown candidate"),
        ({"loss": "hinge"}, "loss must be one of"),
        ({"n_samples": 1}, "n_samples must be at least 2"),
        ({"cost": {"x0": 1.0}}, "cost gives no value"),
        ({"cost": {"x0": 1.0, "x1": -1.0}}, "positive"),
    ],
)
def test_bad_arguments(planted, kwargs, message):
    model, X, query = planted
    with pytest.raises(InvalidInputError, match=message):
        value_of_information(model, query[:5], X_reference=X[400:], **kwargs)


def test_nothing_missing_and_never_measured(planted):
    model, X, _ = planted
    with pytest.raises(InvalidInputError, match="no missing values"):
        value_of_information(model, X[:5], X_reference=X)
    ref = X.copy()
    ref[:, 0] = np.nan
    q = X[:5].copy()
    q[:, 0] = np.nan
    with pytest.raises(InvalidInputError, match="never measures"):
        value_of_information(model, q, X_reference=ref)
