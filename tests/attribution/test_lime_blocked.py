"""LIME's blocked pipeline: row blocks equal row-by-row, compiled K-lasso equals scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import Ridge, lars_path_gram

from assay.attribution._lime import LimeTabular, _select_k, fit_sparse_surrogates
from assay.attribution._lime_fit import klasso_path_select


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    rf = RandomForestClassifier(n_estimators=15, random_state=0).fit(X, y)
    gbm = GradientBoostingClassifier(n_estimators=15, random_state=0).fit(X, y)
    return X, rf, gbm


@pytest.mark.parametrize(
    ("which", "fast_trees", "around"),
    [("rf", True, "instance"), ("rf", True, "mean"), ("gbm", False, "instance")],
)
def test_blocked_equals_row_by_row_exactly(cancer, which, fast_trees, around):
    X, rf, gbm = cancer
    model = rf if which == "rf" else gbm
    m, d = 800, X.shape[1]
    kw = {
        "background": X,
        "n_samples": m,
        "n_select": 5,
        "fast_trees": fast_trees,
        "sample_around": around,
    }
    blocked = LimeTabular(model, **kw).explain(X[:7], seed=3)
    # one row per model call and per fit: max_memory holds exactly one row's samples
    single = LimeTabular(model, max_memory=m * d * 8, **kw).explain(X[:7], seed=3)
    assert np.array_equal(blocked.values, single.values)
    assert np.array_equal(blocked.base_values, single.base_values)
    for key in ("coefficients", "surrogate_r2", "kernel_weight_median", "model_prediction"):
        assert blocked.params[key] == single.params[key]
    evaluation = "compiled trees" if fast_trees else "model"
    assert blocked.params["model_evaluation"] == evaluation


def _problem(rng, d, correlated):
    n = 200
    A = rng.normal(size=(n, d))
    if correlated:  # shared factor: lasso paths that drop and re-add variables
        A[:, 1:] += rng.normal() * A[:, :1] * rng.uniform(0.5, 2.0)
    y = A[:, :3] @ rng.normal(size=3) + rng.normal(size=n) * rng.uniform(0.2, 2.0)
    A -= A.mean(axis=0)
    y -= y.mean()
    return A.T @ A, A.T @ y, n


def test_compiled_klasso_selects_scikit_learns_sets_including_drops():
    rng = np.random.default_rng(0)
    agree = drops = total = 0
    for trial in range(400):
        d = int(rng.integers(3, 25))
        gram, xy, n = _problem(rng, d, correlated=trial % 2 == 1)
        k = int(rng.integers(1, d))
        ref = np.zeros(d, dtype=bool)
        ref[_select_k(xy, gram, n, k)] = True
        got = np.zeros(d, dtype=bool)
        assert klasso_path_select(xy, gram, n, k, got) == 0
        _, _, coefs = lars_path_gram(xy, gram, n_samples=n, method="lasso", max_iter=500)
        counts = (coefs != 0).sum(axis=0)
        drops += bool(np.any(np.diff(counts[: np.argmax(counts > k)]) < 0))
        agree += np.array_equal(got, ref)
        total += 1
    assert drops >= 5  # the drop rule was exercised before the k-th variable entered
    assert agree >= total - 2  # only near-ties in scikit-learn's own rounding may differ


def test_surrogates_match_weighted_ridge_oracle_and_degenerate_fallback(monkeypatch):
    import assay.attribution._lime as lime_module

    fallbacks = []
    original = lime_module._fit_one

    def spy(*args, **kwargs):
        fallbacks.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(lime_module, "_fit_one", spy)
    rng = np.random.default_rng(1)
    r, m, d = 3, 400, 6
    phi = rng.normal(size=(r, m, d))
    w = rng.uniform(0.2, 1.0, size=(r, m))
    # row 2: +-1 features, unit weights and a duplicated column: exact sums, a zero Cholesky
    # pivot when the copy enters, so scikit-learn's special case (the fallback) is taken
    phi[2] = rng.choice([-1.0, 1.0], size=(m, d))
    phi[2, :, 5] = phi[2, :, 4]
    w[2] = 1.0
    y = (phi[..., :3] @ np.array([2.0, -1.0, 0.5]))[..., None] + rng.normal(size=(r, m, 1))
    y[2, :, 0] += 3.0 * phi[2, :, 4]
    fit = fit_sparse_surrogates(phi, w, y, n_select=4, l2=1.0)
    for i in range(r):
        idx = np.flatnonzero(fit["selected"][i, :, 0])
        assert 1 <= idx.size <= 4
        ridge = Ridge(alpha=1.0).fit(phi[i][:, idx], y[i, :, 0], sample_weight=w[i])
        np.testing.assert_allclose(fit["coef"][i, idx, 0], ridge.coef_, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(fit["intercept"][i, 0], ridge.intercept_, rtol=1e-9)
        r2 = ridge.score(phi[i][:, idx], y[i, :, 0], sample_weight=w[i])
        np.testing.assert_allclose(fit["r2"][i, 0], r2, rtol=1e-9)
    assert fallbacks == [1]
    # the strongest planted features are picked
    assert {0, 1} <= set(np.flatnonzero(fit["selected"][0, :, 0]))
