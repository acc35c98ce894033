"""Supervised probes against independent oracles (scikit-learn LogisticRegression and LDA)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression

from assay.errors import InvalidInputError, NotFittedError
from assay.probe import LogisticProbe, MassMeanProbe, make_contrast_activations


def _planted(n=400, d=20, seed=0, offset=50.0):
    """Gaussian classes with diagonal covariance: the Bayes direction is Sigma^-1 u."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    u = rng.normal(size=d)
    u /= np.linalg.norm(u)
    scales = rng.uniform(0.5, 2.0, d)
    X = rng.normal(size=(n, d)) * scales + 1.5 * np.outer(2 * y - 1, u)
    bayes = u / scales**2
    return X + offset, y, bayes / np.linalg.norm(bayes)


def test_logistic_probe_is_logistic_regression_on_centered_activations():
    X, y, u = _planted()
    probe = LogisticProbe(C=0.5).fit(X, y)
    ref = LogisticRegression(C=0.5, max_iter=1000).fit(X - X.mean(0), y)
    # same optimum up to the solver's tolerance (lbfgs tol 1e-4 on the gradient)
    np.testing.assert_allclose(probe.coef_, ref.coef_[0], rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(
        probe.decision_function(X), ref.decision_function(X - X.mean(0)), rtol=1e-3, atol=1e-3
    )
    assert probe.direction_ @ u > 0.9
    assert probe.score(X, y) > 0.85
    assert probe.predict_proba(X).shape == (400, 2)


def test_centering_makes_the_probe_independent_of_a_common_offset():
    X, y, _ = _planted(offset=0.0)
    a = LogisticProbe().fit(X, y)
    b = LogisticProbe().fit(X + 1000.0, y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(a.predict(X), b.predict(X + 1000.0))


def test_mass_mean_direction_is_the_difference_of_class_means():
    X, y, _ = _planted()
    probe = MassMeanProbe().fit(X, y)
    diff = X[y == 1].mean(0) - X[y == 0].mean(0)
    np.testing.assert_allclose(probe.direction_, diff / np.linalg.norm(diff), atol=1e-12)
    # the threshold sits at the midpoint of the class means (balanced-prior correction aside)
    mid = 0.5 * (X[y == 1].mean(0) + X[y == 0].mean(0))
    prior_term = np.log(y.mean() / (1 - y.mean()))
    assert probe.decision_function(mid[None])[0] == pytest.approx(prior_term, abs=1e-9)


@pytest.mark.parametrize("shrinkage", [None, 0.3])
def test_tied_covariance_variant_equals_lda(shrinkage):
    X, y, _ = _planted(n=300, d=15, seed=1)
    y[:40] = 1  # unbalanced priors
    probe = MassMeanProbe(covariance="tied", shrinkage=shrinkage).fit(X, y)
    lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage=shrinkage).fit(X, y)
    cos = probe.coef_ @ lda.coef_[0] / np.linalg.norm(probe.coef_) / np.linalg.norm(lda.coef_)
    assert cos == pytest.approx(1.0, abs=1e-10)
    np.testing.assert_allclose(probe.coef_, lda.coef_[0], rtol=1e-8)
    np.testing.assert_allclose(probe.intercept_, lda.intercept_[0], rtol=1e-8)
    np.testing.assert_array_equal(probe.predict(X), lda.predict(X))
    np.testing.assert_allclose(probe.predict_proba(X), lda.predict_proba(X), atol=1e-8)


def test_lda_beats_mass_mean_under_correlated_noise():
    # noise elongated along a direction that overlaps the class difference: mass-mean is
    # misled, the covariance-corrected direction is not (Marks & Tegmark's motivation)
    rng = np.random.default_rng(0)
    n = 2000
    y = rng.integers(0, 2, n)
    noise = rng.normal(size=(n, 2)) * [5.0, 0.3]
    X = noise @ np.array([[0.8, 0.6], [-0.6, 0.8]]) + np.outer(y, [1.0, 0.0])
    mm = MassMeanProbe().fit(X, y).score(X, y)
    lda = MassMeanProbe(covariance="tied").fit(X, y).score(X, y)
    assert lda > mm + 0.2


def test_labels_are_kept_and_errors_are_ours():
    X, y, _ = _planted(n=100)
    labels = np.where(y == 1, "true", "false")
    probe = LogisticProbe().fit(X, labels)
    assert set(probe.predict(X)) <= {"true", "false"}
    with pytest.raises(NotFittedError, match="call fit"):
        MassMeanProbe().predict(X)
    with pytest.raises(InvalidInputError, match="probes are binary"):
        LogisticProbe().fit(X, np.arange(100) % 3)
    with pytest.raises(InvalidInputError, match="fitted on 20"):
        probe.predict(X[:, :5])
    with pytest.raises(InvalidInputError, match="covariance must be"):
        MassMeanProbe(covariance="full").fit(X, y)
    with pytest.raises(InvalidInputError, match="NaN"):
        LogisticProbe().fit(np.where(X > 52, np.nan, X), y)


def test_supervised_probes_find_truth_despite_a_stronger_xor_distractor():
    # per side, truth is +-2 along u against content + noise of std sqrt(2): Bayes accuracy
    # Phi(2 / sqrt(2)) = 0.921; the distractor (+-4 along v) is independent of the label
    Xp, Xn, y, h = make_contrast_activations(800, 50, truth=2.0, distractor=4.0, seed=2)
    X = np.vstack([Xp, Xn])
    label = np.concatenate([y, 1 - y])  # is this side's answer the correct one?
    side_h = np.concatenate([1 - h, h])  # the distractor's sign on each side
    for probe in (LogisticProbe(), MassMeanProbe(covariance="tied")):
        probe.fit(X[::2], label[::2])
        pred = probe.predict(X[1::2])
        assert np.mean(pred == label[1::2]) > 0.88
        assert abs(np.mean(pred == side_h[1::2]) - 0.5) < 0.06
