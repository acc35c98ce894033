"""Supervised linear probes with a scikit-learn interface.

- :class:`LogisticProbe`: L2-regularized logistic regression on activations centered by their
  training mean (activations of language models have a large common offset; centering makes
  the learned direction and the regularization independent of it).
- :class:`MassMeanProbe`: the direction between the class means (Marks & Tegmark 2023);
  ``covariance="tied"`` multiplies it by the inverse pooled within-class covariance, which is
  Fisher's linear discriminant and gives the same direction, intercept and predictions as
  ``sklearn.discriminant_analysis.LinearDiscriminantAnalysis(solver="lsqr")`` (with the same
  ``shrinkage``).

Both are binary classifiers: ``fit(X, y)`` with two classes, ``predict``, ``predict_proba``,
``decision_function``, ``score`` (accuracy), and a unit ``direction_`` in activation space.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from assay._validation import as_matrix, as_vector
from assay.errors import InvalidInputError, NotFittedError

__all__ = ["LogisticProbe", "MassMeanProbe"]


def _check_xy(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X, _ = as_matrix(X, name="X", min_rows=2)
    y = np.asarray(as_vector(y, name="y", n_rows=X.shape[0], numeric=False))
    classes, y_idx = np.unique(y, return_inverse=True)
    if classes.size != 2:
        msg = (
            f"probes are binary; y has {classes.size} class(es) {classes.tolist()[:10]}. "
            "Pass labels with exactly two values (e.g. true/false statements)."
        )
        raise InvalidInputError(msg)
    return X, y_idx.astype(np.int64), classes


def _check_fitted(est: Any) -> None:
    if not hasattr(est, "coef_"):
        msg = f"this {type(est).__name__} is not fitted yet; call fit(X, y) first."
        raise NotFittedError(msg)


class _LinearProbe(ClassifierMixin, BaseEstimator):
    """Shared prediction for probes scoring ``x @ coef_ + intercept_``."""

    def _x(self, X: Any) -> np.ndarray:
        _check_fitted(self)
        X, _ = as_matrix(X, name="X")
        if X.shape[1] != self.n_features_in_:
            msg = (
                f"X has {X.shape[1]} features but the probe was fitted on "
                f"{self.n_features_in_}; pass activations of the same layer."
            )
            raise InvalidInputError(msg)
        return X

    def decision_function(self, X: Any) -> np.ndarray:
        """Signed score; positive means ``classes_[1]``."""
        return self._x(X) @ self.coef_ + self.intercept_

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities of ``classes_[0]`` and ``classes_[1]``, shape (n, 2)."""
        z = self.decision_function(X)
        p1 = 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))
        return np.column_stack([1.0 - p1, p1])

    def predict(self, X: Any) -> np.ndarray:
        positive = self.decision_function(X) > 0
        return self.classes_[positive.astype(np.int64)]

    @property
    def direction_(self) -> np.ndarray:
        """Unit vector of the probe in activation space."""
        _check_fitted(self)
        return self.coef_ / np.linalg.norm(self.coef_)


class LogisticProbe(_LinearProbe):
    """Logistic-regression probe on centered activations.

    Parameters
    ----------
    C : float
        Inverse L2 strength (as ``sklearn.linear_model.LogisticRegression``).
    max_iter : int

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Training mean subtracted before the logistic fit.
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
        Includes ``-coef_ @ mean_``, so ``decision_function`` takes raw activations.
    classes_ : ndarray of shape (2,)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5)) + 10.0
    >>> y = (X[:, 0] > 10).astype(int)
    >>> LogisticProbe().fit(X, y).score(X, y) > 0.95
    True
    """

    def __init__(self, *, C: float = 1.0, max_iter: int = 1000) -> None:
        self.C = C
        self.max_iter = max_iter

    def fit(self, X: Any, y: Any) -> LogisticProbe:
        from sklearn.linear_model import LogisticRegression
        from threadpoolctl import threadpool_limits

        X, y_idx, classes = _check_xy(X, y)
        mean = X.mean(axis=0)
        clf = LogisticRegression(C=self.C, max_iter=self.max_iter)
        with threadpool_limits(1, user_api="blas"):  # small problems: threads only contend
            clf.fit(X - mean, y_idx)
        self.mean_ = mean
        self.coef_ = clf.coef_[0].copy()
        self.intercept_ = float(clf.intercept_[0] - self.coef_ @ mean)
        self.classes_ = classes
        self.n_features_in_ = X.shape[1]
        self.n_iter_ = int(np.max(clf.n_iter_))
        return self


class MassMeanProbe(_LinearProbe):
    """Difference-of-means probe; ``covariance="tied"`` is Fisher's LDA.

    Parameters
    ----------
    covariance : {"none", "tied"}
        ``"none"``: direction ``mu_1 - mu_0`` thresholded at the midpoint of the class means
        (plus ``log(prior_1 / prior_0)`` on the scale of a unit-variance projection).
        ``"tied"``: direction ``Sigma^-1 (mu_1 - mu_0)`` with the pooled within-class
        covariance ``Sigma = sum_k prior_k Cov_k`` (least-squares solution when singular),
        intercept ``-w @ (mu_0 + mu_1) / 2 + log(prior_1 / prior_0)`` (the LDA rule).
    shrinkage : float in [0, 1], optional
        For ``"tied"``: ``(1 - a) Sigma + a * mean(diag(Sigma)) * I``.

    Attributes
    ----------
    coef_, intercept_, classes_, means_ (2, n_features), priors_ (2,)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3)); y = (X[:, 1] > 0).astype(int)
    >>> probe = MassMeanProbe().fit(X, y)
    >>> int(np.argmax(np.abs(probe.direction_)))
    1
    """

    def __init__(self, *, covariance: str = "none", shrinkage: float | None = None) -> None:
        self.covariance = covariance
        self.shrinkage = shrinkage

    def fit(self, X: Any, y: Any) -> MassMeanProbe:
        if self.covariance not in ("none", "tied"):
            msg = f"covariance must be 'none' or 'tied'; got {self.covariance!r}."
            raise InvalidInputError(msg)
        if self.shrinkage is not None and not 0.0 <= float(self.shrinkage) <= 1.0:
            msg = f"shrinkage must be None or in [0, 1]; got {self.shrinkage!r}."
            raise InvalidInputError(msg)
        X, y_idx, classes = _check_xy(X, y)
        means = np.stack([X[y_idx == k].mean(axis=0) for k in (0, 1)])
        priors = np.bincount(y_idx, minlength=2) / y_idx.size
        diff = means[1] - means[0]
        log_prior = float(np.log(priors[1] / priors[0]))
        if self.covariance == "none":
            coef = diff.copy()
            proj = (X - means.mean(axis=0)) @ coef
            scale = proj.std() or 1.0
            coef = coef / scale  # unit-variance projection, so the prior term is comparable
        else:
            sigma = np.zeros((X.shape[1], X.shape[1]))
            for k in (0, 1):
                Xk = X[y_idx == k] - means[k]
                sigma += priors[k] * (Xk.T @ Xk) / Xk.shape[0]
            if self.shrinkage:
                a = float(self.shrinkage)
                mu = np.trace(sigma) / sigma.shape[0]
                sigma = (1.0 - a) * sigma
                sigma.flat[:: sigma.shape[0] + 1] += a * mu
            coef = np.linalg.lstsq(sigma, diff, rcond=None)[0]
        self.coef_ = coef
        self.intercept_ = float(-coef @ means.mean(axis=0) + log_prior)
        self.means_ = means
        self.priors_ = priors
        self.classes_ = classes
        self.n_features_in_ = X.shape[1]
        return self
