"""Tests for tabular LIME (assay.attribution._lime) and text LIME (assay.attribution._lime_text)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import assay
from assay.attribution import LimeTabular, LimeText
from assay.attribution._lime import fit_sparse_surrogates, top_k_jaccard
from assay.errors import InvalidInputError


@pytest.fixture(scope="module")
def linear_setup():
    rng = np.random.default_rng(0)
    scales = np.array([1.0, 10.0, 0.1, 3.0, 1.0, 0.5])
    X = rng.normal(size=(300, 6)) * scales + np.array([0.0, 5.0, -1.0, 2.0, 0.0, 1.0])
    coef = np.array([2.0, -0.3, 15.0, 0.0, 0.0, -1.0])

    def f(Z):
        return 0.7 + Z @ coef

    return X, coef, f


def test_linear_model_exact_recovery_without_penalty(linear_setup):
    # A linear model is in the surrogate family: weighted least squares recovers it exactly.
    X, coef, f = linear_setup
    exp = LimeTabular(f, background=X, n_samples=500, l2=0.0).explain(X[:5], seed=1)
    got = np.asarray(exp.params["coefficients"])[:, :, 0]
    np.testing.assert_allclose(got, np.tile(coef, (5, 1)), atol=1e-9)
    np.testing.assert_allclose(exp.values[:, :, 0], coef * (X[:5] - X.mean(axis=0)), atol=1e-8)
    # values add up to the surrogate prediction at x, which equals the model output here
    local = np.asarray(exp.params["local_prediction"])
    np.testing.assert_allclose(exp.values.sum(axis=1) + exp.base_values, local, atol=1e-12)
    np.testing.assert_allclose(local[:, 0], f(X[:5]), atol=1e-8)
    np.testing.assert_allclose(np.asarray(exp.params["surrogate_r2"]), 1.0, atol=1e-10)


def test_linear_model_default_ridge_and_k_lasso(linear_setup):
    X, coef, f = linear_setup
    # n_select=4 of 6: K-lasso must keep exactly the four features with a nonzero effect.
    exp = LimeTabular(f, background=X, n_select=4).explain(X[:4], seed=2)
    got = np.asarray(exp.params["coefficients"])[:, :, 0]
    assert (got[:, [3, 4]] == 0).all() and (got[:, [0, 1, 2, 5]] != 0).all()
    # the default ridge l2=1 shrinks each standardized coefficient by a factor of about
    # 1 / (1 + l2 / (sum_w var(phi))) with sum_w ~ 0.4 * 5000: a relative bias ~ 5e-4
    np.testing.assert_allclose(got, np.tile(coef, (4, 1)), rtol=2e-3, atol=1e-12)
    assert (np.abs(got[:, [0, 1, 2, 5]]) < np.abs(coef[[0, 1, 2, 5]])).all()  # shrunk


def test_local_coefficient_is_the_local_slope():
    # f = x0^2 + x1: around x the surrogate slope of x0 is 2 x0 (the symmetric Gaussian
    # neighbourhood makes the quadratic term orthogonal to the linear one), i.e. locality works.
    rng = np.random.default_rng(3)
    X = rng.normal(size=(500, 2))
    rows = np.array([[2.0, 0.0], [-1.5, 1.0], [0.8, -2.0]])

    def f(Z):
        return Z[:, 0] ** 2 + Z[:, 1]

    exp = LimeTabular(f, background=X, n_samples=20000, l2=0.0).explain(rows, seed=4)
    got = np.asarray(exp.params["coefficients"])[:, :, 0]
    # sampling error of the slope: sd(residual)=sqrt(2) s^2 over sqrt(ESS~8000) -> ~0.02
    np.testing.assert_allclose(got[:, 0], 2 * rows[:, 0], atol=0.08)
    np.testing.assert_allclose(got[:, 1], 1.0, atol=0.05)


def test_categorical_feature_resampled_from_frequencies():
    rng = np.random.default_rng(5)
    n = 400
    cats = rng.choice([0.0, 1.0, 2.0], size=n, p=[0.5, 0.3, 0.2])
    X = np.column_stack([rng.normal(size=n), cats])

    def f(Z):
        return Z[:, 0] + 3.0 * (Z[:, 1] == 2.0)

    rows = X[X[:, 1] == 2.0][:3]
    exp = LimeTabular(f, background=X, categorical_features=[1], l2=0.0, n_samples=1000).explain(
        rows, seed=0
    )
    freq2 = np.mean(X[:, 1] == 2.0)
    coef = np.asarray(exp.params["coefficients"])[:, :, 0]
    np.testing.assert_allclose(coef[:, 1], 3.0, atol=1e-9)
    np.testing.assert_allclose(exp.values[:, 1, 0], 3.0 * (1.0 - freq2), atol=1e-9)
    np.testing.assert_allclose(coef[:, 0], 1.0, atol=1e-9)
    assert exp.params["categorical_features"] == ["x1"]


def test_same_seed_identical_different_seed_differs_and_batching_invariant():
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    X, y = load_breast_cancer(return_X_y=True)
    rf = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y)
    kw = {"background": X, "n_samples": 1000, "n_select": 5}
    a = LimeTabular(rf, **kw).explain(X[:6], seed=7)
    b = LimeTabular(rf, **kw).explain(X[:6], seed=7)
    c = LimeTabular(rf, **kw).explain(X[:6], seed=8)
    assert np.array_equal(a.values, b.values) and a.params == b.params
    assert not np.array_equal(a.values, c.values)
    # rows are seeded individually: a tiny max_memory (one row per model call) gives the same
    small = LimeTabular(rf, max_memory=2**18, **kw).explain(X[:6], seed=7)
    np.testing.assert_allclose(small.values, a.values, rtol=1e-12, atol=1e-14)
    # binary probabilities: the class-0 surrogate is the negated class-1 surrogate
    np.testing.assert_allclose(a.values[..., 0], -a.values[..., 1], atol=1e-12)
    assert a.params["seed"] == 7 and a.params["n_samples"] == 1000


def test_reported_stability_matches_separate_reseeded_runs():
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    X, y = load_breast_cancer(return_X_y=True)
    rf = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y)
    kw = {"background": X, "n_samples": 800, "n_select": 5}
    exp = LimeTabular(rf, stability_runs=3, **kw).explain(X[:5], seed=11)
    seeds = exp.params["stability_seeds"]
    assert seeds[0] == 11 and len(set(seeds)) == 3
    sets = []
    for s in seeds:
        coef = np.asarray(LimeTabular(rf, **kw).explain(X[:5], seed=s).params["coefficients"])
        sets.append([set(np.flatnonzero(coef[i, :, 1])) for i in range(5)])
    expected = np.mean(
        [
            [len(sets[p][i] & sets[q][i]) / len(sets[p][i] | sets[q][i]) for i in range(5)]
            for p, q in itertools.combinations(range(3), 2)
        ],
        axis=0,
    )
    np.testing.assert_allclose(np.asarray(exp.params["stability"])[:, 1], expected, atol=1e-12)
    assert 0.0 < expected.mean() <= 1.0


def test_top_k_jaccard_oracle():
    a = np.array([[1, 1, 0, 0]], dtype=bool)[:, :, None]
    b = np.array([[1, 0, 1, 0]], dtype=bool)[:, :, None]
    c = np.array([[0, 0, 0, 0]], dtype=bool)[:, :, None]
    # J(a,b)=1/3, J(a,c)=0, J(b,c)=0
    assert top_k_jaccard(np.stack([a, b, c]))[0, 0] == pytest.approx(1 / 9)
    assert top_k_jaccard(np.stack([c, c]))[0, 0] == 1.0


def test_surrogate_r2_matches_direct_weighted_fit():
    # sufficient-statistics fit equals a direct weighted least squares on the samples
    rng = np.random.default_rng(0)
    phi = rng.normal(size=(2, 300, 4))
    w = rng.random((2, 300))
    y = (phi @ np.array([1.0, 0.0, -2.0, 0.5]))[..., None] + rng.normal(size=(2, 300, 1))
    fit = fit_sparse_surrogates(phi, w, y, n_select=4, l2=0.0)
    for i in range(2):
        A = np.column_stack([np.ones(300), phi[i]]) * np.sqrt(w[i])[:, None]
        sol = np.linalg.lstsq(A, y[i, :, 0] * np.sqrt(w[i]), rcond=None)[0]
        np.testing.assert_allclose(fit["coef"][i, :, 0], sol[1:], atol=1e-10)
        np.testing.assert_allclose(fit["intercept"][i, 0], sol[0], atol=1e-10)
        pred = sol[0] + phi[i] @ sol[1:]
        ybar = np.average(y[i, :, 0], weights=w[i])
        r2 = 1 - np.sum(w[i] * (y[i, :, 0] - pred) ** 2) / np.sum(w[i] * (y[i, :, 0] - ybar) ** 2)
        assert fit["r2"][i, 0] == pytest.approx(r2, abs=1e-10)


def test_dispatch_through_assay_explain(linear_setup):
    X, _, f = linear_setup
    direct = LimeTabular(f, background=X, n_samples=300).explain(X[:3], seed=0)
    via = assay.explain(f, X[:3], method="lime", background=X, seed=0, n_samples=300)
    assert via.method == "lime"
    np.testing.assert_array_equal(via.values, direct.values)


def test_invalid_arguments_raise_actionable_errors(linear_setup):
    X, _, f = linear_setup
    with pytest.raises(InvalidInputError, match="at least 2"):
        LimeTabular(f, stability_runs=1)
    with pytest.raises(InvalidInputError, match="kernel_width"):
        LimeTabular(f, kernel_width=-1.0)
    with pytest.raises(InvalidInputError, match="background=X_train"):
        LimeTabular(f).explain(X[:1], seed=0)
    with pytest.raises(InvalidInputError, match="categorical feature"):
        LimeTabular(f, background=X, categorical_features=["nope"]).explain(X[:2], seed=0)


# -- text ---------------------------------------------------------------------------------
def _keyword_classifier(texts):
    """P(positive) rises by 0.3 for 'good' and falls by 0.2 for 'bad' (additive, in [0, 1])."""
    out = []
    for t in texts:
        words = t.split()
        p = 0.4 + 0.3 * ("good" in words) - 0.2 * ("bad" in words)
        out.append([1.0 - p, p])
    return np.asarray(out)


def test_text_lime_recovers_additive_token_effects():
    texts = ["the movie was good but the ending bad", "good acting"]
    res = LimeText(_keyword_classifier, n_samples=600, l2=0.0).explain(texts, seed=0)
    assert res.tokens[0] == ["the", "movie", "was", "good", "but", "the", "ending", "bad"]
    v0 = res.values[0][:, 1]
    # the classifier is additive in token presence, so the surrogate is exact
    np.testing.assert_allclose(v0[3], 0.3, atol=1e-9)
    np.testing.assert_allclose(v0[7], -0.2, atol=1e-9)
    np.testing.assert_allclose(np.delete(v0, [3, 7]), 0.0, atol=1e-9)
    np.testing.assert_allclose(res.values[1][:, 1], [0.3, 0.0], atol=1e-9)
    # values + base reproduce the classifier output on the full text
    full = _keyword_classifier(texts)
    for i in range(2):
        np.testing.assert_allclose(res.values[i].sum(axis=0) + res.base_values[i], full[i])
    again = LimeText(_keyword_classifier, n_samples=600, l2=0.0).explain(texts, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(res.values, again.values, strict=True))
    d = res.to_dict()
    assert d["kind"] == "TokenExplanation" and len(d["values"]) == 2
