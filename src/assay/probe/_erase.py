"""Linear concept erasure: LEACE (Belrose et al. 2023), least-squares concept erasure.

Given activations ``X`` and a concept ``z`` (class labels), the LEACE eraser

    r(x) = x - W^+ P_{W Sigma_xz} W (x - mu),    W = (Sigma_xx^{1/2})^+

is the affine map that makes the activations' covariance with every concept indicator zero,
so that no linear classifier does better than a constant at predicting the concept from
``r(X)``, while moving the activations as little as possible in the least-squares sense
(among such maps, it minimizes ``E ||r(x) - x||^2``; equivalently
``M = Sigma_xz (Sigma_xz' Sigma_xx^-1 Sigma_xz)^+ Sigma_xz' Sigma_xx^-1`` for a full-rank
covariance). :class:`LeaceEraser` is the scikit-learn transformer; :func:`erase` fits it on a
training split and reports, on held-out rows, the probe accuracy for the concept after erasure
(which should fall to chance) and the accuracy cost on a task.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from assay._validation import as_matrix, as_vector, check_seed, import_optional
from assay.errors import InvalidInputError, NotFittedError
from assay.probe._checks import CheckResult

__all__ = ["LeaceEraser", "erase"]


class LeaceEraser(TransformerMixin, BaseEstimator):
    """Least-squares linear concept erasure (LEACE).

    Parameters
    ----------
    rtol : float
        Eigenvalues of the covariance below ``rtol * max`` are treated as zero (the
        pseudo-inverse square root).

    Attributes
    ----------
    mean_ : ndarray (n_features,)
    proj_ : ndarray (n_features, n_features)
        ``M`` in ``r(x) = x - M (x - mean_)`` (an oblique projection of rank ``rank_``).
    rank_ : int
        Number of directions removed (at most the number of classes minus one).
    classes_ : ndarray

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> z = rng.integers(0, 2, 500); X = rng.normal(size=(500, 4)); X[:, 0] += 2 * z
    >>> Xe = LeaceEraser().fit(X, z).transform(X)
    >>> bool(np.allclose(np.cov(Xe.T, z)[:4, 4], 0.0))
    True
    """

    def __init__(self, *, rtol: float = 1e-10) -> None:
        self.rtol = rtol

    def fit(self, X: Any, z: Any) -> LeaceEraser:
        X, _ = as_matrix(X, name="X", min_rows=2)
        z = np.asarray(as_vector(z, name="z", n_rows=X.shape[0], numeric=False))
        classes, idx = np.unique(z, return_inverse=True)
        if classes.size < 2:
            msg = f"z must have at least two classes to erase; got {classes.tolist()}."
            raise InvalidInputError(msg)
        Z = np.eye(classes.size)[idx]
        mu = X.mean(axis=0)
        Xc = X - mu
        n = X.shape[0]
        sigma_xx = Xc.T @ Xc / n
        sigma_xz = Xc.T @ (Z - Z.mean(axis=0)) / n
        lam, V = np.linalg.eigh(sigma_xx)
        keep = lam > self.rtol * max(lam.max(), 0.0)
        inv_sqrt = np.where(keep, 1.0 / np.sqrt(np.where(keep, lam, 1.0)), 0.0)
        W = (V * inv_sqrt) @ V.T
        W_pinv = (V * np.sqrt(np.clip(lam, 0.0, None) * keep)) @ V.T
        A = W @ sigma_xz
        U, s, _ = np.linalg.svd(A, full_matrices=False)
        rank = int(np.sum(s > self.rtol * max(s.max(), 1e-300))) if s.size else 0
        U = U[:, :rank]
        self.mean_ = mu
        self.proj_ = W_pinv @ U @ U.T @ W
        self.rank_ = rank
        self.classes_ = classes
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        """The activations with the concept erased."""
        if not hasattr(self, "proj_"):
            msg = "this LeaceEraser is not fitted yet; call fit(X, z) first."
            raise NotFittedError(msg)
        X, _ = as_matrix(X, name="X")
        if X.shape[1] != self.n_features_in_:
            msg = (
                f"X has {X.shape[1]} features but the eraser was fitted on "
                f"{self.n_features_in_}; pass activations of the same layer."
            )
            raise InvalidInputError(msg)
        return X - (X - self.mean_) @ self.proj_.T

    def as_torch_fn(self) -> Any:
        """``fn(h)`` applying the eraser to a tensor's last axis, for
        :func:`assay.probe.intervene` (erase the concept inside the model).

        Examples
        --------
        >>> import numpy as np, torch
        >>> X = np.random.default_rng(0).normal(size=(50, 3)); z = (X[:, 0] > 0).astype(int)
        >>> e = LeaceEraser().fit(X, z)
        >>> h = torch.as_tensor(X)
        >>> bool(np.allclose(e.as_torch_fn()(h).numpy(), e.transform(X)))
        True
        """
        torch = import_optional("torch", purpose="erasing inside a model")
        if not hasattr(self, "proj_"):
            msg = "this LeaceEraser is not fitted yet; call fit(X, z) first."
            raise NotFittedError(msg)
        mean, proj = self.mean_, self.proj_

        def fn(h: Any) -> Any:
            m = torch.as_tensor(mean, dtype=h.dtype, device=h.device)
            p = torch.as_tensor(proj, dtype=h.dtype, device=h.device)
            return h - (h - m) @ p.T

        return fn


def _split(z: np.ndarray, test_size: float, seed: Any) -> tuple[np.ndarray, np.ndarray]:
    """Training and held-out row indices, stratified on the concept."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(z.shape[0])
    try:
        return tuple(train_test_split(idx, test_size=test_size, stratify=z, random_state=seed))
    except ValueError as exc:  # a class too small to appear on both sides
        msg = f"cannot split the rows into training and held-out parts by concept: {exc}"
        raise InvalidInputError(msg) from exc


def _accuracy(probe: Any, Xtr: np.ndarray, ytr: np.ndarray, Xte: np.ndarray, yte: np.ndarray,
              seed: Any) -> float:  # fmt: skip
    from assay.probe._layers import make_probe

    if np.unique(ytr).size < 2:
        return float(np.mean(yte == ytr[0]))
    est = make_probe(probe, seed=seed).fit(Xtr, ytr)
    return float(np.mean(np.asarray(est.predict(Xte)) == yte))


def erase(
    X: Any,
    concept: Any,
    *,
    task: Any = None,
    probe: Any = "logistic",
    test_size: float = 0.3,
    alpha: float = 0.05,
    seed: int | None = 0,
) -> CheckResult:
    """Erase a concept from activations (LEACE) and report what a probe can still read.

    The eraser is fitted on a stratified training split; probes for the concept (and the
    task, when given) are fitted on the training split before and after erasure and scored
    on the held-out split.

    Parameters
    ----------
    X : array-like (n, d)
        Activations of one layer.
    concept : array-like (n,)
        Class labels of the concept to erase (binary for the default probe).
    task : array-like (n,), optional
        Labels of a task whose accuracy should survive the erasure.
    probe : {"logistic", "massmean", "lda"} or estimator
    test_size : float
    alpha : float
        Level of the one-sided binomial test of "the concept probe still beats chance".
    seed : int or None

    Returns
    -------
    CheckResult
        ``metrics``: ``concept_accuracy_before`` / ``_after``, ``chance`` (the held-out
        majority-class share), ``p_value`` (binomial, after vs chance), ``task_accuracy_before``
        / ``_after`` and ``task_cost`` when ``task`` is given. Status "ok" when the concept
        is no longer readable above chance, "alert" when it still is. The eraser itself is
        :class:`LeaceEraser` (``LeaceEraser().fit(X, concept)``).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> z = rng.integers(0, 2, 600); X = rng.normal(size=(600, 6)); X[:, :2] += 1.5 * z[:, None]
    >>> r = erase(X, z)
    >>> r.status, r.metrics["concept_accuracy_before"] > 0.8
    ('ok', True)
    """
    from scipy.stats import binomtest

    seed = check_seed(seed)
    X, _ = as_matrix(X, name="X", min_rows=10)
    z = np.asarray(as_vector(concept, name="concept", n_rows=X.shape[0], numeric=False))
    if not 0.0 < float(test_size) < 1.0:
        msg = f"test_size must be in (0, 1); got {test_size!r}."
        raise InvalidInputError(msg)
    if not 0.0 < float(alpha) < 1.0:
        msg = f"alpha must be in (0, 1); got {alpha!r}."
        raise InvalidInputError(msg)
    y = None
    if task is not None:
        y = np.asarray(as_vector(task, name="task", n_rows=X.shape[0], numeric=False))
    train, test = _split(z, test_size, seed)
    eraser = LeaceEraser().fit(X[train], z[train])
    Xe = eraser.transform(X)
    before = _accuracy(probe, X[train], z[train], X[test], z[test], seed)
    after = _accuracy(probe, Xe[train], z[train], Xe[test], z[test], seed)
    _, counts = np.unique(z[test], return_counts=True)
    chance = float(counts.max() / test.size)
    hits = round(after * test.size)
    p = float(binomtest(hits, test.size, chance, alternative="greater").pvalue)
    metrics: dict[str, Any] = {
        "concept_accuracy_before": before,
        "concept_accuracy_after": after,
        "chance": chance,
        "p_value": p,
        "rank_removed": eraser.rank_,
        "mean_displacement": float(np.mean(np.linalg.norm(Xe - X, axis=1))),
    }
    task_part = ""
    if y is not None:
        t_before = _accuracy(probe, X[train], y[train], X[test], y[test], seed)
        t_after = _accuracy(probe, Xe[train], y[train], Xe[test], y[test], seed)
        metrics.update(
            task_accuracy_before=t_before, task_accuracy_after=t_after, task_cost=t_before - t_after
        )
        task_part = f" Task accuracy goes from {t_before:.2f} to {t_after:.2f}."
    if p > alpha:
        status, passed = "ok", True
        verdict = (
            f"After erasure a probe reads the concept at {after:.2f} on held-out rows, "
            f"not significantly above chance ({chance:.2f}; p = {p:.2f}); it read it at "
            f"{before:.2f} before.{task_part}"
        )
    else:
        status, passed = "alert", False
        verdict = (
            f"After erasure a probe still reads the concept at {after:.2f} on held-out rows, "
            f"above chance ({chance:.2f}; p = {p:.3g}): linear erasure fitted on the training "
            f"rows does not remove it from new rows.{task_part}"
        )
    return CheckResult(
        name="erasure",
        verdict=verdict,
        status=status,
        passed=passed,
        metrics=metrics,
        data={"n_train": int(train.size), "n_test": int(test.size)},
        params={"probe": str(probe), "test_size": test_size, "alpha": alpha, "seed": seed},
    )
