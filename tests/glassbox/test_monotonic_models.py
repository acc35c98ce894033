"""Monotonic networks: the guarantee, the estimator contract, explanations, the comparison."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import assay  # noqa: E402
from assay.errors import InvalidInputError, NotFittedError  # noqa: E402
from assay.glassbox import (  # noqa: E402
    MonotonicMLPClassifier,
    MonotonicMLPRegressor,
    check_monotonic,
    compare_monotonic,
)

torch.set_num_threads(1)

_BINARY_ONLY = "binary only: the constraint is on the log-odds of one class"
_MULTICLASS_CHECKS = (
    "check_fit_score_takes_y",
    "check_estimators_overwrite_params",
    "check_dont_overwrite_parameters",
    "check_estimators_fit_returns_self",
    "check_readonly_memmap_input",
    "check_n_features_in_after_fitting",
    "check_positive_only_tag_during_fit",
    "check_dtype_object",
    "check_f_contiguous_array_estimator",
    "check_classifiers_classes",
    "check_classifiers_train",
    "check_supervised_y_2d",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_dict_unchanged",
    "check_fit2d_predict1d",
)


def _expected_failures(estimator):
    if isinstance(estimator, MonotonicMLPClassifier):
        return dict.fromkeys(_MULTICLASS_CHECKS, _BINARY_ONLY)
    return {}


_SMALL = {"hidden_sizes": (16,), "max_epochs": 40, "batch_size": 32, "learning_rate": 1e-2}


@parametrize_with_checks(
    [
        MonotonicMLPClassifier({0: 1}, seed=0, **_SMALL),
        MonotonicMLPRegressor({0: 1}, seed=0, **_SMALL),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_contract(estimator, check):
    check(estimator)


def _logit(X):
    # increasing in x0 everywhere but with a planted dip on (0, 0.6); decreasing in x2
    return (
        2.0 * X[:, 0] - 3.0 * np.exp(-((X[:, 0] - 0.3) ** 2) / 0.02) + np.sin(2 * X[:, 1]) - X[:, 2]
    )


@pytest.fixture(scope="module")
def dip_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 3))
    y = (rng.random(3000) < 1 / (1 + np.exp(-_logit(X)))).astype(int)
    return X, y


_FIT = {"hidden_sizes": (16, 16), "max_epochs": 80, "batch_size": 128, "seed": 0}


@pytest.fixture(scope="module")
def constrained(dip_data):
    X, y = dip_data
    return MonotonicMLPClassifier({0: +1, 2: "decreasing"}, **_FIT).fit(X, y)


@pytest.fixture(scope="module")
def unconstrained(dip_data):
    X, y = dip_data
    return MonotonicMLPClassifier(None, **_FIT).fit(X, y)


@pytest.mark.parametrize("architecture", ["constrained", "lipschitz"])
def test_no_violation_on_100k_pairs(dip_data, constrained, architecture):
    X, y = dip_data
    model = (
        constrained
        if architecture == "constrained"
        else MonotonicMLPClassifier({0: 1, 2: -1}, architecture="lipschitz", **_FIT).fit(X, y)
    )
    # tol=0: not even a rounding-level drop, on random pairs far outside the data too
    wide = np.vstack([X, 4 * X[:200]])
    res = check_monotonic(model, wide, {0: 1, 2: -1}, n_pairs=50_000, n_rows=200, tol=0.0, seed=1)
    assert res.n_pairs >= 100_000
    assert res.n_violations == 0 and res.worst_violation == 0.0 and res.is_monotonic
    # the log-odds as well as the probability
    res = check_monotonic(model, X, {0: 1, 2: -1}, n_pairs=5000, output_space="log_odds", tol=0.0)
    assert res.is_monotonic


def test_unconstrained_network_violates_in_the_planted_dip(dip_data, unconstrained):
    X, _ = dip_data
    res = check_monotonic(unconstrained, X, {0: 1, 2: -1}, n_pairs=20_000, seed=0)
    x0 = res.feature("x0")
    assert x0.n_violations > 100 and x0.worst_violation > 0.05
    # the worst violations end in the dip (x0 near 0.3, where the true log-odds fall)
    ends = [e["value_hi"] for e in res.examples if e["feature"] == "x0"]
    assert ends and all(0.0 < v < 0.7 for v in ends)
    # the same check on the constrained twin: nothing (see test_no_violation_on_100k_pairs)


def test_constraint_costs_little_accuracy(constrained, unconstrained):
    rng = np.random.default_rng(5)
    Xt = rng.normal(size=(4000, 3))
    yt = (rng.random(4000) < 1 / (1 + np.exp(-_logit(Xt)))).astype(int)
    auc_c = roc_auc_score(yt, constrained.predict_proba(Xt)[:, 1])
    auc_u = roc_auc_score(yt, unconstrained.predict_proba(Xt)[:, 1])
    # the dip is a small region: the constrained model loses at most a little
    assert auc_c > auc_u - 0.02 and auc_c > 0.8


def test_seed_gives_identical_models_and_leaves_global_rng_alone(dip_data):
    X, y = dip_data
    state = torch.get_rng_state()
    a = MonotonicMLPClassifier({0: 1}, hidden_sizes=(4,), max_epochs=3, seed=3).fit(X, y)
    assert torch.equal(state, torch.get_rng_state())
    b = MonotonicMLPClassifier({0: 1}, hidden_sizes=(4,), max_epochs=3, seed=3).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X[:50]), b.predict_proba(X[:50]))


def test_missing_values_and_feature_names():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(800, 3)), columns=["dose", "age", "lab"])
    y = (X["dose"] + X["lab"].fillna(2.0) + rng.normal(size=800) > 0).astype(int)
    X.loc[rng.random(800) < 0.3, "lab"] = np.nan
    clf = MonotonicMLPClassifier({"dose": 1}, hidden_sizes=(8,), max_epochs=30, seed=0).fit(X, y)
    assert list(clf.feature_names_in_) == ["dose", "age", "lab"]
    assert clf.missing_indicator_features_.tolist() == [2]
    assert clf.monotone_signs_.tolist() == [1, 0, 0]
    p = clf.predict_proba(X)[:, 1]
    assert np.isfinite(p).all()
    # missingness is informative here (missing lab ~ value 2): the indicator is used
    assert p[X["lab"].isna().to_numpy()].mean() > p[X["lab"].notna().to_numpy()].mean()
    # the raw-input torch module reproduces predict_proba, NaN included
    mod = clf.to_torch()
    out = mod(torch.as_tensor(X.to_numpy(copy=True))).detach().numpy()
    np.testing.assert_allclose(out[:, 1], p, rtol=0, atol=1e-12)
    res = check_monotonic(clf, X, {"dose": 1}, n_pairs=20_000, tol=0.0, seed=0)
    assert res.is_monotonic


def test_regressor_monotone_and_accurate():
    rng = np.random.default_rng(2)
    X = rng.uniform(-2, 2, size=(1500, 2))
    y = np.exp(X[:, 0]) - X[:, 1] ** 2 + 0.1 * rng.normal(size=1500)
    reg = MonotonicMLPRegressor({0: 1}, hidden_sizes=(16, 16), max_epochs=80, seed=0).fit(X, y)
    assert reg.score(X, y) > 0.9
    assert check_monotonic(reg, X, {0: 1}, n_pairs=20_000, tol=0.0, seed=0).is_monotonic
    out = reg.to_torch()(torch.as_tensor(X[:20])).detach().numpy()[:, 0]
    np.testing.assert_allclose(out, reg.predict(X[:20]), rtol=0, atol=1e-10)


def test_input_errors(dip_data):
    X, y = dip_data
    with pytest.raises(NotFittedError, match="not fitted"):
        MonotonicMLPClassifier({0: 1}).predict(X)
    with pytest.raises(InvalidInputError, match="unknown feature 'nope'"):
        MonotonicMLPClassifier({"nope": 1}, max_epochs=1).fit(X, y)
    with pytest.raises(InvalidInputError, match="index 7 but X has 3 columns"):
        MonotonicMLPClassifier({7: 1}, max_epochs=1).fit(X, y)
    with pytest.raises(InvalidInputError, match=r"must be \+1, -1, 0"):
        MonotonicMLPClassifier({0: 2}, max_epochs=1).fit(X, y)
    with pytest.raises(InvalidInputError, match="3 class"):
        MonotonicMLPClassifier({0: 1}, max_epochs=1).fit(X, y + (X[:, 1] > 1))
    with pytest.raises(InvalidInputError, match="hidden_sizes"):
        MonotonicMLPClassifier({0: 1}, hidden_sizes=(0,)).fit(X, y)
    with pytest.raises(InvalidInputError, match="architecture"):
        MonotonicMLPClassifier({0: 1}, architecture="magic").fit(X, y)
    with pytest.raises(InvalidInputError, match="X has 2 features"):
        MonotonicMLPClassifier({0: 1}, hidden_sizes=(4,), max_epochs=1).fit(X, y).predict(X[:, :2])


def test_integrated_gradients_on_the_monotone_network(dip_data, constrained):
    X, _ = dip_data
    module = constrained.to_torch(output="log_odds")
    rows = X[:30]
    exp = assay.explain(
        module, rows, method="integrated_gradients", background=X[:200], baseline="mean",
        n_steps=256, seed=0,
    )  # fmt: skip
    f = module(torch.as_tensor(rows)).detach().numpy()[:, 0]
    base = module(torch.as_tensor(X[:200].mean(axis=0, keepdims=True))).detach().numpy()[0, 0]
    # completeness: attributions add up to f(x) - f(baseline); ELU's curvature jumps at 0, so
    # the quadrature converges algebraically, not spectrally: ~1e-4 at 256 nodes
    np.testing.assert_allclose(exp.values[:, :, 0].sum(axis=1), f - base, atol=2e-3)
    # monotone along every path: the sign of IG_j is the sign of (x_j - baseline_j) * direction
    delta = rows - X[:200].mean(axis=0)
    assert np.all(exp.values[:, 0, 0] * delta[:, 0] >= -1e-12)
    assert np.all(exp.values[:, 2, 0] * delta[:, 2] <= 1e-12)


def test_exact_and_kernel_shapley_on_the_estimator(dip_data, constrained):
    X, _ = dip_data
    bg = X[:40]
    rows = X[200:210]
    exp = assay.explain(constrained, rows, method="exact", background=bg, seed=0)
    p = constrained.predict_proba(rows)
    np.testing.assert_allclose(exp.values.sum(axis=1) + exp.base_values, p, atol=1e-10)
    # a row whose x0 is above every background value gets a non-negative attribution for x0
    top = X[np.argmax(X[:, 0])][None, :]
    assert top[0, 0] > bg[:, 0].max()
    e_top = assay.explain(constrained, top, method="exact", background=bg)
    assert e_top.values[0, 0, 1] >= 0.0
    k = assay.explain(constrained, rows, method="kernel", background=bg, seed=0)
    np.testing.assert_allclose(k.values.sum(axis=1) + k.base_values, p, atol=1e-8)
    np.testing.assert_allclose(k.values, exp.values, atol=0.02)


def test_compare_monotonic_reports_cost_and_violations():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(1500, 3))
    y = (rng.random(1500) < 1 / (1 + np.exp(-(1.5 * X[:, 0] + np.cos(2 * X[:, 1]))))).astype(int)
    cmp = compare_monotonic(X, y, {0: 1}, hidden_sizes=(8, 8), max_epochs=30, n_check_pairs=2000)
    assert cmp.metric == "auc" and cmp.monotone == {"x0": 1}
    assert cmp.constrained_violation_rate == 0.0
    assert abs(cmp.cost) < 0.03 and cmp.constrained > 0.7
    assert cmp.cost == pytest.approx(cmp.unconstrained - cmp.constrained)
    assert type(cmp).from_dict(cmp.to_dict()) == cmp
    with pytest.raises(InvalidInputError, match="no direction"):
        compare_monotonic(X, y, {0: 0})


def test_integrated_gradients_directly_on_the_estimator(dip_data, constrained):
    X, _ = dip_data
    rows = X[:10]
    direct = assay.explain(
        constrained, rows, method="integrated_gradients", background=X[:200], baseline="mean",
        n_steps=64, output_space="log_odds", seed=0,
    )  # fmt: skip
    module = constrained.to_torch(output="log_odds")
    via_module = assay.explain(
        module, rows, method="integrated_gradients", background=X[:200], baseline="mean",
        n_steps=64, seed=0,
    )  # fmt: skip
    np.testing.assert_allclose(direct.values, via_module.values, atol=1e-12)
