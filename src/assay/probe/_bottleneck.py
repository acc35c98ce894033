"""A small scikit-learn concept-bottleneck model: inputs -> concepts -> task.

:class:`ConceptBottleneck` predicts ``k`` binary concepts from the inputs and the task from the
concepts only (Koh et al. 2020, "Concept bottleneck models"). Three ways to train it:

- ``"independent"``: one concept classifier per concept on ``(X, C)``; the task head on the
  *true* concepts ``(C, y)``. At prediction the head reads the predicted concepts.
- ``"sequential"``: the concept classifiers as above; the head on their predicted concepts.
- ``"joint"``: a built-in two-layer model (logistic concept layer, softmax task layer on the
  concept probabilities) trained end to end on task loss + ``concept_weight`` x concept loss
  (L-BFGS, analytic gradients).

``hard=True`` thresholds the concept probabilities at 0.5 before the head sees them (a hard
bottleneck); with soft concepts the head can use information beyond the concepts, which
:func:`assay.probe.concept_leakage` measures.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from assay.errors import InvalidInputError

__all__ = ["ConceptBottleneck"]

TRAININGS = ("independent", "sequential", "joint")


def _default_classifier() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


class ConceptBottleneck(ClassifierMixin, BaseEstimator):
    """Concept predictor + task head that sees only the concepts.

    Parameters
    ----------
    concept_estimator : classifier, optional
        Cloned once per concept (``"independent"``/``"sequential"``); needs ``predict_proba``.
        Default ``LogisticRegression(max_iter=1000)``.
    task_estimator : classifier, optional
        The head on the concepts. Default ``LogisticRegression(max_iter=1000)``.
    training : {"independent", "sequential", "joint"}
    hard : bool
        Threshold concept probabilities at 0.5 before the head (not with ``"joint"``).
    concept_weight : float
        Weight of the concept loss in joint training.
    l2 : float
        L2 penalty of the joint model's weights (inputs are standardized first).
    max_iter : int
        L-BFGS iterations of joint training.
    seed : int, optional
        Initial weights of joint training.

    Attributes
    ----------
    classes_ : ndarray
    n_features_in_ : int
    n_concepts_ : int
    concept_estimators_ : list
        Fitted per-concept classifiers (``None`` for a concept constant in training, whose
        probability is then its training frequency); independent/sequential only.
    task_estimator_ : classifier
        Fitted head (independent/sequential).
    converged_ : bool
        Whether joint training converged (always ``True`` otherwise).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 4))
    >>> C = (X[:, :2] > 0).astype(int)
    >>> y = C[:, 0] & C[:, 1]
    >>> cbm = ConceptBottleneck(training="sequential").fit(X, y, concepts=C)
    >>> cbm.predict_concept_proba(X).shape, bool(cbm.score(X, y) > 0.9)
    ((300, 2), True)
    """

    def __init__(
        self,
        concept_estimator: Any = None,
        task_estimator: Any = None,
        *,
        training: str = "sequential",
        hard: bool = False,
        concept_weight: float = 1.0,
        l2: float = 1e-3,
        max_iter: int = 500,
        seed: int | None = None,
    ) -> None:
        self.concept_estimator = concept_estimator
        self.task_estimator = task_estimator
        self.training = training
        self.hard = hard
        self.concept_weight = concept_weight
        self.l2 = l2
        self.max_iter = max_iter
        self.seed = seed

    def _check_params(self) -> None:
        if self.training not in TRAININGS:
            msg = f"training must be one of {TRAININGS}; got {self.training!r}."
            raise InvalidInputError(msg)
        if self.training == "joint":
            if self.concept_estimator is not None or self.task_estimator is not None:
                msg = (
                    "joint training uses the built-in logistic concept and task layers; leave "
                    "concept_estimator and task_estimator as None or choose training="
                    "'independent' or 'sequential'."
                )
                raise InvalidInputError(msg)
            if self.hard:
                msg = "hard=True is not available with joint training (the head is trained soft)."
                raise InvalidInputError(msg)
            if not float(self.concept_weight) >= 0.0:
                msg = f"concept_weight must be >= 0; got {self.concept_weight!r}."
                raise InvalidInputError(msg)

    def _check_concepts(self, concepts: Any, n: int) -> np.ndarray:
        if concepts is None:
            msg = (
                "ConceptBottleneck needs the true concepts: call fit(X, y, concepts=C) with C "
                "of shape (n_samples, n_concepts), binary 0/1."
            )
            raise InvalidInputError(msg)
        C = np.asarray(concepts.to_numpy() if hasattr(concepts, "to_numpy") else concepts)
        if C.ndim == 1:
            C = C[:, None]
        if C.ndim != 2 or C.shape[0] != n:
            msg = f"concepts must have shape ({n}, n_concepts) like X's rows; got {C.shape}."
            raise InvalidInputError(msg)
        try:
            C = C.astype(np.float64)
        except (TypeError, ValueError) as exc:
            msg = f"concepts must be binary 0/1; got dtype {C.dtype}."
            raise InvalidInputError(msg) from exc
        if not np.isin(C, (0.0, 1.0)).all():
            bad = np.unique(C[~np.isin(C, (0.0, 1.0))])[:5].tolist()
            msg = f"concepts must be binary 0/1; found values {bad}. Binarize them first."
            raise InvalidInputError(msg)
        return C

    def fit(self, X: Any, y: Any, concepts: Any = None) -> ConceptBottleneck:
        """Fit on inputs ``X``, task labels ``y`` and true binary ``concepts`` (n, k)."""
        self._check_params()
        X, y = validate_data(self, X, y)
        check_classification_targets(y)
        C = self._check_concepts(concepts, X.shape[0])
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        self.n_concepts_ = C.shape[1]
        self.converged_ = True
        if self.training == "joint":
            self._fit_joint(X, y_idx, C)
            return self
        base = _default_classifier() if self.concept_estimator is None else self.concept_estimator
        self.concept_estimators_ = []
        self.concept_rates_ = C.mean(axis=0)
        for j in range(self.n_concepts_):
            if np.unique(C[:, j]).size < 2:
                self.concept_estimators_.append(None)
            else:
                self.concept_estimators_.append(clone(base).fit(X, C[:, j]))
        head_in = C if self.training == "independent" else self._head_input(X)
        head = _default_classifier() if self.task_estimator is None else self.task_estimator
        self.task_estimator_ = clone(head).fit(head_in, y_idx)
        return self

    def _fit_joint(self, X: np.ndarray, y: np.ndarray, C: np.ndarray) -> None:
        from scipy.optimize import minimize

        n, d = X.shape
        k, q = C.shape[1], self.classes_.size
        self.x_mean_ = X.mean(axis=0)
        scale = X.std(axis=0)
        self.x_scale_ = np.where(scale > 0, scale, 1.0)
        Xs = (X - self.x_mean_) / self.x_scale_
        Y = np.zeros((n, q))
        Y[np.arange(n), y] = 1.0
        lam, l2 = float(self.concept_weight), float(self.l2)
        shapes = [(d, k), (k,), (k, q), (q,)]
        sizes = [int(np.prod(s)) for s in shapes]

        def unpack(theta: np.ndarray) -> list[np.ndarray]:
            parts = np.split(theta, np.cumsum(sizes)[:-1])
            return [p.reshape(s) for p, s in zip(parts, shapes, strict=True)]

        def loss_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
            W, b, V, c = unpack(theta)
            P = _sigmoid(Xs @ W + b)
            T = P @ V + c
            T = T - T.max(axis=1, keepdims=True)
            logp = T - np.log(np.exp(T).sum(axis=1, keepdims=True))
            Pc = np.clip(P, 1e-12, 1 - 1e-12)
            bce = -(C * np.log(Pc) + (1 - C) * np.log(1 - Pc)).mean()
            loss = -(Y * logp).sum() / n + lam * bce + 0.5 * l2 * ((W**2).sum() + (V**2).sum())
            dT = (np.exp(logp) - Y) / n
            dP = dT @ V.T
            dZ = dP * P * (1 - P) + lam * (P - C) / (n * k)
            grad = [Xs.T @ dZ + l2 * W, dZ.sum(axis=0), P.T @ dT + l2 * V, dT.sum(axis=0)]
            return float(loss), np.concatenate([g.ravel() for g in grad])

        rng = np.random.default_rng(self.seed)
        theta0 = np.concatenate(
            [0.01 * rng.normal(size=sizes[0]), np.zeros(sizes[1] + sizes[2] + sizes[3])]
        )
        res = minimize(
            loss_grad, theta0, jac=True, method="L-BFGS-B", options={"maxiter": self.max_iter}
        )
        self.joint_weights_ = unpack(res.x)
        self.converged_ = bool(res.success)
        self.n_iter_ = int(res.nit)
        if not res.success:
            from sklearn.exceptions import ConvergenceWarning

            warnings.warn(
                f"joint training stopped before converging ({res.message}); raise max_iter.",
                ConvergenceWarning,
                stacklevel=3,
            )

    def predict_concept_proba(self, X: Any) -> np.ndarray:
        """Probability of each concept, shape (n_samples, n_concepts)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        if self.training == "joint":
            W, b, _, _ = self.joint_weights_
            return _sigmoid((X - self.x_mean_) / self.x_scale_ @ W + b)
        out = np.empty((X.shape[0], self.n_concepts_))
        for j, est in enumerate(self.concept_estimators_):
            if est is None:
                out[:, j] = self.concept_rates_[j]
            else:
                proba = est.predict_proba(X)
                out[:, j] = proba[:, list(est.classes_).index(1.0)]
        return out

    def predict_concepts(self, X: Any) -> np.ndarray:
        """Hard concepts (probability > 0.5), shape (n_samples, n_concepts), int."""
        return (self.predict_concept_proba(X) > 0.5).astype(np.int64)

    def _head_input(self, X: Any) -> np.ndarray:
        P = self.predict_concept_proba(X)
        return (P > 0.5).astype(np.float64) if self.hard else P

    def predict_proba(self, X: Any) -> np.ndarray:
        """Task class probabilities, from the concepts only."""
        check_is_fitted(self)
        if self.training == "joint":
            _, _, V, c = self.joint_weights_
            T = self.predict_concept_proba(X) @ V + c
            T = T - T.max(axis=1, keepdims=True)
            E = np.exp(T)
            return E / E.sum(axis=1, keepdims=True)
        head = self.task_estimator_
        P = self._head_input(X)
        proba = np.zeros((P.shape[0], self.classes_.size))
        proba[:, np.asarray(head.classes_, dtype=np.int64)] = head.predict_proba(P)
        return proba

    def predict(self, X: Any) -> np.ndarray:
        """Task labels."""
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
