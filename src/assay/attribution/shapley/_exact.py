"""Exact interventional Shapley values by enumerating every coalition, fully vectorized.

The game for a row ``x`` is the marginal (interventional) one,
``v(S) = sum_b w_b f(x_S, b_{-S})`` over background rows ``b`` with weights ``w_b``.
All ``2^d`` coalitions are evaluated; the Shapley values are then a fixed linear map of the
``2^d`` coalition values: ``phi = W @ v`` with
``W[i, S] = +s!(d-s-1)!/d!`` where ``i in S`` (``s = |S| - 1``) and
``W[i, S] = -|S|!(d-|S|-1)!/d!`` where not.

Every (row, coalition, background row) combination of a chunk of rows goes to the model in one
call, chunked so that no call builds more than ``max_memory`` bytes of input.
"""

from __future__ import annotations

from math import factorial
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from assay.attribution._base import BaseExplainer
from assay.attribution._explanation import Explanation
from assay.errors import InvalidInputError

__all__ = ["MAX_EXACT_FEATURES", "ExactShapley", "coalition_masks", "shapley_weight_matrix"]

MAX_EXACT_FEATURES = 20


def coalition_masks(d: int) -> np.ndarray:
    """All ``2^d`` coalitions as a bool array (2^d, d); row ``s`` is the binary expansion of s."""
    idx = np.arange(2**d, dtype=np.int64)[:, None]
    return ((idx >> np.arange(d, dtype=np.int64)[None, :]) & 1).astype(bool)


def shapley_weight_matrix(d: int) -> np.ndarray:
    """The (d, 2^d) matrix ``W`` such that Shapley values are ``W @ v`` (see module docstring)."""
    masks = coalition_masks(d)
    sizes = masks.sum(axis=1)
    d_fact = factorial(d)
    # weight of the marginal contribution of a player joining a coalition of size s
    w = np.array([factorial(s) * factorial(d - s - 1) / d_fact for s in range(d)])
    W = np.where(
        masks.T,
        w[np.clip(sizes - 1, 0, d - 1)][None, :],
        -w[np.clip(sizes, 0, d - 1)][None, :],
    )
    return np.ascontiguousarray(W)


class ExactShapley(BaseExplainer):
    """Exact Shapley values of the interventional game over a background set.

    Feasible up to 20 features (``2^d`` coalitions per row); use ``"kernel"`` or
    ``"permutation"`` beyond that.

    Parameters
    ----------
    model : model or ModelAdapter
        Anything :func:`assay.model.wrap` accepts.
    background : array-like of shape (n_background, n_features), optional
        Reference rows. When None, up to 100 rows of ``X`` are sampled (seeded).
    background_weights : array-like of shape (n_background,), optional
        Weights of the background rows (for a summarized background); normalized to sum to 1.
    output_space : str, optional
        ``"probability"``, ``"log_odds"`` or ``"raw"``; see :func:`assay.model.wrap`.
    max_memory : int, default 256 MiB
        Largest model input, in bytes, built for one model call.
    progress : bool, default False
        Show a progress bar over chunks.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(50, 3))
    >>> model = LinearRegression().fit(X, X @ [1.0, -2.0, 0.5])
    >>> exp = ExactShapley(model, background=X).explain(X[:5])
    >>> np.allclose(exp.values[..., 0], (X[:5] - X.mean(0)) * model.coef_)
    True
    """

    method = "exact"

    def __init__(
        self,
        model: Any,
        *,
        background: Any = None,
        background_weights: Any = None,
        output_space: str | None = None,
        max_memory: int = 256 * 2**20,
        progress: bool = False,
    ) -> None:
        super().__init__(
            model,
            background=background,
            output_space=output_space,
            max_memory=max_memory,
            progress=progress,
        )
        if background_weights is not None:
            if self.background is None:
                msg = "background_weights were given without a background; pass both."
                raise InvalidInputError(msg)
            w = np.asarray(background_weights, dtype=np.float64).reshape(-1)
            if w.shape[0] != self.background.shape[0] or not np.isfinite(w).all() or (w < 0).any():
                msg = (
                    f"background_weights must be {self.background.shape[0]} finite non-negative "
                    f"numbers (one per background row); got shape {w.shape}."
                )
                raise InvalidInputError(msg)
            if w.sum() <= 0:
                msg = "background_weights sum to zero; give at least one row positive weight."
                raise InvalidInputError(msg)
            self.background_weights = w / w.sum()

    def explain(self, X: Any, *, seed: int | None = None) -> Explanation:
        """Exact Shapley values for every row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        seed : int, optional
            Only used to sample a background from ``X`` when none was given.

        Returns
        -------
        Explanation
            ``stderr`` is None: the values are exact.
        """
        Xv, names, seed = self._prepare(X, seed)
        n, d = Xv.shape
        if d > MAX_EXACT_FEATURES:
            msg = (
                f"exact Shapley enumerates 2^d coalitions and X has d={d} features (limit "
                f"{MAX_EXACT_FEATURES}). Use method='kernel' or method='permutation', which "
                "sample coalitions and report their error."
            )
            raise InvalidInputError(msg)
        bg, bg_note = self._background_for(Xv, seed)
        weights = self.background_weights if self.background is not None else None
        if weights is None:
            weights = np.full(bg.shape[0], 1.0 / bg.shape[0])
        v = self._coalition_values(Xv, bg, weights)  # (n, 2^d, k)
        W = shapley_weight_matrix(d)
        values = np.einsum("fc,nck->nfk", W, v, optimize=True)
        base = v[:, 0, :]
        return Explanation(
            values=values,
            base_values=base,
            data=Xv,
            feature_names=names,
            output_names=self.adapter.output_names,
            method=self.method,
            output_space=self.adapter.output_space,
            stderr=None,
            params={
                "background": bg_note,
                "n_background": int(bg.shape[0]),
                "weighted_background": self.background_weights is not None,
                "seed": seed,
                "n_coalitions": 2**d,
                "model_rows_evaluated": int(n * bg.shape[0] * 2**d),
            },
        )

    def _coalition_values(self, X: np.ndarray, bg: np.ndarray, weights: np.ndarray) -> np.ndarray:
        n, d = X.shape
        m = bg.shape[0]
        n_coal = 2**d
        masks = coalition_masks(d)
        bytes_per_combo = d * 8
        combos_per_call = max(1, self.max_memory // bytes_per_combo)
        # Chunk over rows when a whole row fits; otherwise over coalitions of one row.
        per_row = n_coal * m
        out: np.ndarray | None = None
        if per_row <= combos_per_call:
            rows_per_call = max(1, combos_per_call // per_row)
            starts = range(0, n, rows_per_call)
            for start in tqdm(
                starts, disable=not self.progress, desc="exact Shapley", unit="chunk"
            ):
                x = X[start : start + rows_per_call]
                batch = np.where(masks[None, :, None, :], x[:, None, None, :], bg[None, None, :, :])
                f = self.adapter.predict(batch.reshape(-1, d))
                k = f.shape[1]
                if out is None:
                    out = np.empty((n, n_coal, k))
                out[start : start + len(x)] = np.einsum(
                    "rcmk,m->rck", f.reshape(len(x), n_coal, m, k), weights
                )
        else:
            coal_per_call = max(1, combos_per_call // m)
            for i in tqdm(range(n), disable=not self.progress, desc="exact Shapley", unit="row"):
                for cstart in range(0, n_coal, coal_per_call):
                    mk = masks[cstart : cstart + coal_per_call]
                    batch = np.where(mk[:, None, :], X[i][None, None, :], bg[None, :, :])
                    f = self.adapter.predict(batch.reshape(-1, d))
                    k = f.shape[1]
                    if out is None:
                        out = np.empty((n, n_coal, k))
                    out[i, cstart : cstart + len(mk)] = np.einsum(
                        "cmk,m->ck", f.reshape(len(mk), m, k), weights
                    )
        assert out is not None
        return out
