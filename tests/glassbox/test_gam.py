"""Tests of GAMClassifier / GAMRegressor: the scikit-learn contract, additivity, bags, I/O."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from assay.errors import InvalidInputError, NotFittedError
from assay.glassbox import GAMClassifier, GAMRegressor, load_gam, save_gam


def _small(estimator):
    return estimator.set_params(n_bags=2, max_rounds=300)


@parametrize_with_checks(
    [_small(GAMClassifier(random_state=0)), _small(GAMRegressor(random_state=0))]
)
def test_sklearn_contract(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def binary_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 4))
    X[rng.random(3000) < 0.1, 2] = np.nan
    logit = 1.5 * np.sin(2 * X[:, 0]) + X[:, 1] + 0.8 * X[:, 0] * X[:, 3]
    logit = logit + np.where(np.isnan(X[:, 2]), 1.0, 0.0)
    y = (rng.random(3000) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


@pytest.fixture(scope="module")
def binary_gam(binary_data):
    X, y = binary_data
    return GAMClassifier(n_bags=4, interactions=3, random_state=0).fit(X, y)


def test_additivity_and_explain_exact(binary_gam, binary_data):
    X, _ = binary_data
    exp = binary_gam.explain(X[:200])
    raw = binary_gam.decision_function(X[:200])
    # Both sides add the same float64 table entries in a different order: ~1e-15 apart.
    np.testing.assert_allclose(
        exp.values.sum(axis=1)[:, 0] + exp.base_values[:, 0], raw, rtol=0, atol=1e-12
    )
    contrib = binary_gam.term_contributions(X[:200])
    np.testing.assert_allclose(
        contrib.sum(axis=1)[:, 0] + binary_gam.intercept_[0], raw, rtol=0, atol=1e-12
    )
    # A feature's attribution is its main effect plus half of each pair it is in.
    j = 0
    expected = contrib[:, j, 0].copy()
    for t, feats in enumerate(binary_gam.term_features_):
        if len(feats) == 2 and j in feats:
            expected += contrib[:, t, 0] / 2
    np.testing.assert_allclose(exp.values[:, j, 0], expected, rtol=0, atol=1e-12)
    p = binary_gam.predict_proba(X[:5])[:, 1]
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-raw[:5])), rtol=1e-12)


def test_recovers_shapes_and_interaction(binary_gam):
    # Main effect of x0 follows 1.5 sin(2 x) (up to centring) where data are dense.
    fb = binary_gam.bins_[0]
    mid = (fb.lower + fb.upper) / 2
    ok = (fb.counts > 0) & (np.abs(mid) < 1.5)
    shape = binary_gam.term_values_[0][ok, 0]
    truth = 1.5 * np.sin(2 * mid[ok])
    assert np.corrcoef(shape, truth)[0, 1] > 0.9
    # FAST puts the planted pair (x0, x3) first.
    assert binary_gam.pair_ranking_[0][0] == (0, 3)
    assert (0, 3) in binary_gam.term_features_
    # The missing bin of x2 carries the +1 planted for missing rows (relative to observed).
    t2 = binary_gam.term_values_[2][:, 0]
    observed = binary_gam.bins_[2].counts[1:-1]
    gap = t2[0] - np.average(t2[1:-1], weights=observed)
    assert 0.6 < gap < 1.4


def test_terms_are_centred_and_error_bars(binary_gam):
    for table, std, w in zip(
        binary_gam.term_values_, binary_gam.term_std_, binary_gam.term_counts_, strict=True
    ):
        assert abs(np.sum(table[..., 0] * w)) / w.sum() < 1e-10
        assert std.shape == table.shape
    # Bag spread is positive somewhere and matches np.std over bags.
    np.testing.assert_allclose(binary_gam.term_std_[0], binary_gam.bag_values_[0].std(axis=0))
    assert binary_gam.term_std_[0].max() > 0


def test_same_seed_is_bit_identical(binary_data):
    X, y = binary_data
    a = GAMClassifier(n_bags=2, interactions=1, random_state=3).fit(X[:800], y[:800])
    b = GAMClassifier(n_bags=2, interactions=1, random_state=3).fit(X[:800], y[:800])
    assert np.array_equal(a.decision_function(X), b.decision_function(X))


def test_monotone_constraint_holds_in_every_bag():
    rng = np.random.default_rng(1)
    X = rng.uniform(-2, 2, size=(1500, 2))
    y = X[:, 0] + 0.8 * np.sin(4 * X[:, 0]) + X[:, 1] + rng.normal(scale=0.3, size=1500)
    gam = GAMRegressor(n_bags=3, monotone_constraints={"x0": "increasing"}, random_state=0)
    gam.fit(X, y)
    inner = gam.bag_values_[0][:, 1:-1, 0]
    assert np.all(np.diff(inner, axis=1) >= -1e-12)
    free = GAMRegressor(n_bags=3, random_state=0).fit(X, y)
    assert np.diff(free.term_values_[0][1:-1, 0]).min() < -0.05  # the wiggle is real
    assert all(0 not in f or len(f) == 1 for f in gam.term_features_)  # no pairs with x0


def test_multiclass_and_categorical():
    rng = np.random.default_rng(2)
    n = 1500
    cat = rng.integers(0, 4, n).astype(float)
    X = np.column_stack([rng.normal(size=n), cat * 10])  # category codes 0,10,20,30
    score = np.column_stack([X[:, 0], -X[:, 0], (cat == 2) * 2.0])
    y = np.array(["a", "b", "c"])[np.argmax(score + rng.gumbel(size=(n, 3)), axis=1)]
    gam = GAMClassifier(n_bags=2, interactions=1, categorical_features=[1], random_state=0)
    gam.fit(X, y)
    assert list(gam.classes_) == ["a", "b", "c"]
    proba = gam.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert gam.term_values_[1].shape == (6, 3)  # missing + 4 categories + unknown
    # Category 20 raises class "c" relative to the others.
    c_effect = gam.term_values_[1][1:5, 2]
    assert np.argmax(c_effect) == 2
    # An unseen category scores 0 in every class.
    Xu = X[:3].copy()
    Xu[:, 1] = 99.0
    assert np.all(gam.term_contributions(Xu)[:, 1, :] == 0.0)
    exp = gam.explain(X[:20])
    np.testing.assert_allclose(
        exp.values.sum(axis=1) + exp.base_values, gam.decision_function(X[:20]), rtol=0, atol=1e-12
    )


def test_save_load_roundtrip(binary_gam, binary_data, tmp_path):
    X, _ = binary_data
    path = save_gam(binary_gam, tmp_path / "gam")
    back = load_gam(path)
    assert np.array_equal(back.decision_function(X), binary_gam.decision_function(X))
    assert back.term_names_ == binary_gam.term_names_
    np.testing.assert_array_equal(back.term_std_[0], binary_gam.term_std_[0])
    assert GAMClassifier.load(path).get_params() == binary_gam.get_params()
    with pytest.raises(InvalidInputError, match="GAMRegressor"):
        GAMRegressor.load(path)


def test_errors_are_actionable(binary_data):
    X, y = binary_data
    with pytest.raises(NotFittedError, match="not fitted"):
        GAMClassifier().predict(X)
    with pytest.raises(InvalidInputError, match="learning_rate"):
        GAMClassifier(learning_rate=0).fit(X, y)
    with pytest.raises(InvalidInputError, match="unknown feature 'nope'"):
        GAMClassifier(monotone_constraints={"nope": 1}).fit(X, y)
    with pytest.raises(InvalidInputError, match="only 1 class"):
        GAMClassifier().fit(X[:50], np.zeros(50))
