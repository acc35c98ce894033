"""Contrast-Consistent Search (Burns et al. 2022), done the careful way.

Each proposition is given twice, as a contrast pair: ``x+`` ("... This is true.") and ``x-``
("... This is false."). Each side is normalized with statistics of the *training* pairs only
(mean, and per-feature standard deviation with ``normalize="standard"``); the original code
normalized the test set with its own statistics, which leaks the test distribution. A linear
probe ``p(x) = sigmoid(w @ x + b)`` minimizes

    mean((p(x+) - (1 - p(x-)))^2) + mean(min(p(x+), p(x-))^2) + weight_decay / 2 * |w|^2

(consistency + confidence + weight decay, as the original's Adam ``weight_decay``) by full-batch
L-BFGS (``scipy.optimize.minimize`` with an analytic gradient) from ``n_restarts`` random
starts; the restart with the lowest loss is kept. The credence of a pair is
``(p(x+) + 1 - p(x-)) / 2``.

CCS cannot know which end of its direction means "true". The sign is resolved on a small
labelled calibration split (``y`` with ``-1`` for unlabelled rows, as in scikit-learn's
semi-supervised estimators), never by reporting ``max(acc, 1 - acc)`` on test data.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from assay._deprecation import renamed
from assay._validation import as_matrix, as_vector, check_int, check_seed
from assay.errors import AssayWarning, InvalidInputError, NotFittedError

__all__ = ["CCS", "ccs_loss"]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def ccs_loss(
    params: np.ndarray, Xp: np.ndarray, Xn: np.ndarray, alpha: float
) -> tuple[float, np.ndarray]:
    """CCS loss and gradient for ``params = [w (d,), b]`` on normalized pairs.

    ``params`` may also hold several probes, shape ``(n_probes * (d + 1),)`` laid out as rows
    ``[w_r, b_r]``; the loss is then the sum of the probes' losses (a separable objective, so
    one L-BFGS run optimizes all restarts at once with matrix-matrix products).

    Examples
    --------
    >>> import numpy as np
    >>> Xp = np.eye(2); Xn = -np.eye(2)
    >>> loss, grad = ccs_loss(np.zeros(3), Xp, Xn, 0.0)
    >>> round(loss, 3), grad.shape
    (0.25, (3,))
    """
    return _loss_stacked(params, np.vstack([Xp, Xn]), alpha)


def _loss_stacked(params: np.ndarray, Z: np.ndarray, alpha: float) -> tuple[float, np.ndarray]:
    """:func:`ccs_loss` on ``Z = [Xp; Xn]`` (one matmul per direction instead of two)."""
    n2, d = Z.shape
    n = n2 // 2
    theta = params.reshape(-1, d + 1)
    W, b = theta[:, :-1].T, theta[:, -1]
    p = _sigmoid(Z @ W + b)
    pp, pn = p[:n], p[n:]
    r = pp + pn - 1.0
    low_p = pp <= pn
    m = np.where(low_p, pp, pn)
    loss = (np.sum(r * r) + np.sum(m * m)) / n + 0.5 * alpha * np.sum(W * W)
    dz = np.empty_like(p)
    dz[:n] = 2.0 * r + np.where(low_p, 2.0 * m, 0.0)
    dz[n:] = 2.0 * r + np.where(low_p, 0.0, 2.0 * m)
    dz *= p * (1.0 - p) / n
    grad = np.empty_like(theta)
    grad[:, :-1] = (Z.T @ dz + alpha * W).T
    grad[:, -1] = dz.sum(axis=0)
    return float(loss), grad.ravel()


def _restart_losses(theta: np.ndarray, Z: np.ndarray, alpha: float) -> np.ndarray:
    return np.array([_loss_stacked(row, Z, alpha)[0] for row in theta])


class CCS:
    """Contrast-Consistent Search probe with a calibrated sign.

    Parameters
    ----------
    n_restarts : int
        Random initializations; the lowest final loss wins.
    weight_decay : float, default 0.01
        Weight decay on ``w`` (the loss is scale-free otherwise: confidence rewards ``|w|``
        growing without bound).
    normalize : {"standard", "center"}
        Per-side centering, plus division by the per-feature standard deviation for
        ``"standard"`` (the paper's normalization); statistics come from ``fit`` only.
    max_iter : int
        L-BFGS iterations per restart.
    seed : int or None
        Seed of the random starts.
    alpha : float, optional
        Deprecated name of ``weight_decay`` (``alpha`` is kept for significance levels).

    Attributes
    ----------
    coef_ : ndarray (n_features,)
        ``w`` in normalized space, oriented so that higher credence means "x+ is true".
    intercept_ : float
    loss_ : float
    restart_losses_ : ndarray (n_restarts,)
    converged_ : bool
        Whether the kept restart met the L-BFGS tolerance.
    sign_resolved_ : bool
        False when ``fit`` had no labelled calibration rows (the orientation is arbitrary).
    calibration_accuracy_ : float
        Accuracy on the calibration rows after orienting (NaN without them); a pair whose
        credence is exactly 0.5 counts as half right, so an undecided probe scores 0.5.
    n_calibration_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from assay.probe import make_contrast_activations
    >>> Xp, Xn, y, _ = make_contrast_activations(n_samples=300, n_features=10, seed=0)
    >>> y_cal = np.where(np.arange(300) < 20, y, -1)  # 20 labelled rows fix the sign
    >>> ccs = CCS(seed=0).fit(Xp, Xn, y_cal)
    >>> ccs.score(Xp[20:], Xn[20:], y[20:]) > 0.9
    True
    """

    def __init__(
        self,
        *,
        n_restarts: int = 10,
        weight_decay: float = 0.01,
        normalize: str = "standard",
        max_iter: int = 200,
        seed: int | None = None,
        alpha: float | None = None,
    ) -> None:
        self.n_restarts = n_restarts
        self.weight_decay = renamed(
            alpha, weight_decay, old="alpha", new="weight_decay", default=0.01, where="CCS"
        )
        self.normalize = normalize
        self.max_iter = max_iter
        self.seed = seed

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {
            "n_restarts": self.n_restarts,
            "weight_decay": self.weight_decay,
            "normalize": self.normalize,
            "max_iter": self.max_iter,
            "seed": self.seed,
        }

    def _pairs(self, X_pos: Any, X_neg: Any) -> tuple[np.ndarray, np.ndarray]:
        Xp, _ = as_matrix(X_pos, name="X_pos")
        Xn, _ = as_matrix(X_neg, name="X_neg")
        if Xp.shape != Xn.shape:
            msg = (
                f"X_pos has shape {Xp.shape} but X_neg has {Xn.shape}; row i of each must be "
                "the two sides of the same contrast pair."
            )
            raise InvalidInputError(msg)
        return Xp, Xn

    def _normalized(self, Xp: np.ndarray, Xn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (Xp - self.mean_pos_) / self.scale_pos_, (Xn - self.mean_neg_) / self.scale_neg_

    def fit(self, X_pos: Any, X_neg: Any, y: Any = None) -> CCS:
        """Fit on contrast pairs; ``y`` labels calibration rows (1/0) and is -1 elsewhere."""
        from scipy.optimize import minimize
        from threadpoolctl import threadpool_limits

        if self.normalize not in ("standard", "center"):
            msg = f"normalize must be 'standard' or 'center'; got {self.normalize!r}."
            raise InvalidInputError(msg)
        n_restarts = check_int(self.n_restarts, name="n_restarts", minimum=1, maximum=10_000)
        max_iter = check_int(self.max_iter, name="max_iter", minimum=1, maximum=1_000_000)
        seed = check_seed(self.seed)
        alpha = float(self.weight_decay)
        if not alpha >= 0.0:
            msg = f"weight_decay must be >= 0; got {self.weight_decay!r}."
            raise InvalidInputError(msg)
        Xp, Xn = self._pairs(X_pos, X_neg)
        if Xp.shape[0] < 2:
            msg = f"CCS needs at least 2 contrast pairs; got {Xp.shape[0]}."
            raise InvalidInputError(msg)
        y_cal = None if y is None else as_vector(y, name="y", n_rows=Xp.shape[0])
        if y_cal is not None and not np.isin(y_cal, (-1, 0, 1)).all():
            msg = (
                "y must hold 1 (x+ is true), 0 (x- is true) or -1 (unlabelled); got values "
                f"{np.unique(y_cal)[:10].tolist()}."
            )
            raise InvalidInputError(msg)
        self.mean_pos_, self.mean_neg_ = Xp.mean(axis=0), Xn.mean(axis=0)
        if self.normalize == "standard":
            sp, sn = Xp.std(axis=0), Xn.std(axis=0)
            self.scale_pos_ = np.where(sp > 0, sp, 1.0)
            self.scale_neg_ = np.where(sn > 0, sn, 1.0)
        else:
            self.scale_pos_ = self.scale_neg_ = np.ones(Xp.shape[1])
        Zp, Zn = self._normalized(Xp, Xn)
        if np.allclose(Zp, Zn, rtol=0.0, atol=1e-9):
            msg = (
                "X_pos and X_neg are identical after each side is normalized (the same rows, "
                "or rows that differ by a constant shift per side), so no direction can tell "
                "the two sides of a pair apart and every credence would be 0.5. Check that "
                "X_pos and X_neg are activations of the two different statements of each pair."
            )
            raise InvalidInputError(msg)
        d = Zp.shape[1]
        rng = np.random.default_rng(seed)
        x0 = rng.normal(scale=1.0 / np.sqrt(d), size=(n_restarts, d + 1))
        x0[:, -1] = 0.0
        # all restarts in one separable objective: the sum's minimizer is each restart's own
        Z = np.vstack([Zp, Zn])
        # small matmuls: one BLAS thread is faster than several (and much faster on a busy
        # machine, where BLAS threads spin waiting for each other)
        with threadpool_limits(1, user_api="blas"):
            res = minimize(
                _loss_stacked,
                x0.ravel(),
                args=(Z, alpha),
                jac=True,
                method="L-BFGS-B",
                options={"maxiter": max_iter, "gtol": 1e-6 * n_restarts},
            )
            theta = res.x.reshape(n_restarts, d + 1)
            losses = _restart_losses(theta, Z, alpha)
        best = int(np.argmin(losses))
        w, b = theta[best, :-1].copy(), float(theta[best, -1])
        self.coef_, self.intercept_ = w, b
        self.loss_ = float(losses[best])
        self.restart_losses_ = losses
        self.converged_ = bool(res.success)
        self.n_iter_ = int(res.nit)
        self.n_features_in_ = d
        labelled = np.zeros(Xp.shape[0], bool) if y_cal is None else y_cal >= 0
        self.n_calibration_ = int(labelled.sum())
        self.sign_resolved_ = self.n_calibration_ > 0
        if self.sign_resolved_:
            cred = self._credence(Zp[labelled], Zn[labelled])
            # a credence of exactly 0.5 decides nothing: it counts as half right either way
            hit = np.where(cred == 0.5, 0.5, (cred > 0.5) == (y_cal[labelled] == 1))
            acc = float(np.mean(hit))
            if acc < 0.5:
                self.coef_, self.intercept_ = -w, -b
                acc = 1.0 - acc
            self.calibration_accuracy_ = acc
        else:
            self.calibration_accuracy_ = float("nan")
            warnings.warn(
                "CCS was fitted without labelled calibration rows, so which end of its "
                "direction means 'true' is arbitrary; pass y with a few labels (and -1 "
                "elsewhere) to orient it.",
                AssayWarning,
                stacklevel=2,
            )
        return self

    def _credence(self, Zp: np.ndarray, Zn: np.ndarray) -> np.ndarray:
        pp = _sigmoid(Zp @ self.coef_ + self.intercept_)
        pn = _sigmoid(Zn @ self.coef_ + self.intercept_)
        return 0.5 * (pp + 1.0 - pn)

    def predict_proba(self, X_pos: Any, X_neg: Any) -> np.ndarray:
        """Credence that ``x+`` is the true side: ``(p(x+) + 1 - p(x-)) / 2``, shape (n,)."""
        if not hasattr(self, "coef_"):
            msg = "this CCS is not fitted yet; call fit(X_pos, X_neg, y_calibration) first."
            raise NotFittedError(msg)
        Xp, Xn = self._pairs(X_pos, X_neg)
        if Xp.shape[1] != self.n_features_in_:
            msg = (
                f"the pairs have {Xp.shape[1]} features but CCS was fitted on "
                f"{self.n_features_in_}; pass activations of the same layer."
            )
            raise InvalidInputError(msg)
        return self._credence(*self._normalized(Xp, Xn))

    def predict(self, X_pos: Any, X_neg: Any) -> np.ndarray:
        """1 where ``x+`` is predicted true."""
        return (self.predict_proba(X_pos, X_neg) > 0.5).astype(np.int64)

    def score(self, X_pos: Any, X_neg: Any, y: Any) -> float:
        """Accuracy against labels (no flipping: the sign was fixed at fit time)."""
        pred = self.predict(X_pos, X_neg)
        y = as_vector(y, name="y", n_rows=pred.size)
        return float(np.mean(pred == y))

    @property
    def direction_(self) -> np.ndarray:
        """Unit direction in normalized space."""
        if not hasattr(self, "coef_"):
            msg = "this CCS is not fitted yet; call fit first."
            raise NotFittedError(msg)
        return self.coef_ / np.linalg.norm(self.coef_)
