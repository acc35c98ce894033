"""Exact interventional Shapley values by enumerating every coalition, fully vectorized.

The game for a row ``x`` is the marginal (interventional) one,
``v(S) = sum_b w_b f(x_S, b_{-S})`` over background rows ``b`` with weights ``w_b``.
All ``2^d`` coalitions are evaluated; the Shapley values are then a fixed linear map of the
``2^d`` coalition values: ``phi = W @ v`` with
``W[i, S] = +s!(d-s-1)!/d!`` where ``i in S`` (``s = |S| - 1``) and
``W[i, S] = -|S|!(d-|S|-1)!/d!`` where not.

Every (row, coalition, background row) combination of a chunk of rows goes to the model in one
call, chunked so that no call builds more than ``max_memory`` bytes of input. The model input is
built by a compiled copy kernel into one reused buffer, and the background average by a
compiled sum in a fixed order, so the values do not depend on how the work was chunked.

With ``structure="auto"`` (the default) models whose output is a sum of simple parts skip the
enumeration of model inputs: tree ensembles that add up in the explained space and linear models
get the exact values of the same game from :mod:`._exact_structured` (see there), after a check
that the structure reproduces the model's output (once per explainer, on the first rows and
background it sees). ``structure="none"`` always enumerates.
"""

from __future__ import annotations

from math import factorial
from typing import Any

import numba
import numpy as np
from tqdm.auto import tqdm

from assay.attribution._base import BaseExplainer
from assay.attribution._explanation import Explanation
from assay.attribution.shapley._exact_structured import find_structure
from assay.attribution.shapley._sampling import weighted_background_mean
from assay.errors import InvalidInputError

__all__ = [
    "MAX_EXACT_FEATURES",
    "ExactShapley",
    "coalition_masks",
    "shapley_from_coalition_values",
    "shapley_weight_matrix",
]

MAX_EXACT_FEATURES = 20
STRUCTURES = ("auto", "none")
# Model input built per call by default. ~200k rows of 10 features: enough to amortize any
# per-call overhead of the model, small enough that the reused input buffer stays warm
# (measured: less time outside the model than with 256 MiB calls, same model time).
DEFAULT_EXACT_MAX_MEMORY = 16 * 2**20


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


def shapley_from_coalition_values(v: np.ndarray, d: int) -> np.ndarray:
    """Shapley values (n, d, k) from coalition values ``v`` (n, 2^d, k) indexed as in
    :func:`coalition_masks`.

    This is ``W @ v`` (:func:`shapley_weight_matrix`) written as a weighted sum of marginal
    contributions ``v(S + i) - v(S)``: the differences are taken first, so a feature the model
    ignores gets exactly 0 and near-equal coalition values cancel without rounding error.
    """
    n, n_coal, k = v.shape
    idx = np.arange(n_coal, dtype=np.int64)
    sizes = coalition_masks(d).sum(axis=1)
    d_fact = factorial(d)
    w = np.array([factorial(s) * factorial(d - s - 1) / d_fact for s in range(d)])
    values = np.empty((n, d, k))
    for i in range(d):
        without = idx[((idx >> i) & 1) == 0]
        diff = v[:, without | (1 << i), :] - v[:, without, :]
        values[:, i, :] = np.einsum("nck,c->nk", diff, w[sizes[without]])
    return values


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
    max_memory : int, default 16 MiB
        Largest model input, in bytes, built for one model call. The smallest call is one
        coalition of one row (``n_background`` inputs), whatever the limit.
    progress : bool, default False
        Show a progress bar over chunks.
    structure : {"auto", "none"}, default "auto"
        ``"auto"``: for tree ensembles that add up in the explained output space (regressors,
        margins of boosted classifiers, forest probabilities) and for linear models in their
        raw / log-odds space, compute the same exact values from the model's structure instead
        of evaluating it on every coalition (identical to enumeration up to float64 rounding;
        see :mod:`assay.attribution.shapley._exact_structured`). ``"none"``: always enumerate.
        ``params["structure"]`` of the result says which path ran (``"tree"``, ``"linear"`` or
        ``"none"``) and ``params["structure_note"]`` why.

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
        max_memory: int = DEFAULT_EXACT_MAX_MEMORY,
        progress: bool = False,
        structure: str = "auto",
    ) -> None:
        if structure not in STRUCTURES:
            msg = f"structure must be one of {list(STRUCTURES)}; got {structure!r}."
            raise InvalidInputError(msg)
        self.structure = structure
        self._structure: Any = None  # found on the first explain, per number of features
        self._structure_for: int | None = None
        self._structure_checked = False
        self._structure_note = "structure='none' (enumeration requested)"
        self._base_cache: tuple | None = None  # (structure, background, its outputs)
        super().__init__(
            model,
            background=background,
            output_space=output_space,
            max_memory=max_memory,
            progress=progress,
        )
        self._set_background_weights(background_weights)

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
        weights = self._weights_for(bg)
        params: dict[str, Any] = {
            "background": bg_note,
            "n_background": int(bg.shape[0]),
            "weighted_background": self.background_weights is not None,
            "seed": seed,
            "n_coalitions": 2**d,
        }
        solved = self._structured(Xv, bg, weights, params)
        if solved is None:
            v = self._coalition_values(Xv, bg, weights)  # (n, 2^d, k)
            values = shapley_from_coalition_values(v, d)
            base = v[:, 0, :]
            params["model_rows_evaluated"] = int(n * bg.shape[0] * 2**d)
        else:
            values, base = solved
        return self._result(Xv, names, values, base, stderr=None, params=params)

    def _structured(
        self, X: np.ndarray, bg: np.ndarray, weights: np.ndarray, params: dict[str, Any]
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """(values, base) from the model's structure, or None to enumerate (params say why)."""
        params["structure"] = "none"
        if self.structure == "auto" and self._structure_for != X.shape[1]:
            self._structure, self._structure_note = find_structure(self.adapter, X.shape[1])
            self._structure_for = X.shape[1]
            self._structure_checked = False
        params["structure_note"] = self._structure_note
        found = self._structure if self.structure == "auto" else None
        if found is None:
            return None
        rows_before = self.adapter.n_rows_evaluated
        if not self._structure_checked:
            # once per explainer: the structure must reproduce the model on these rows and this
            # background (one model call), else this explainer always enumerates
            f_xb = self.adapter.predict(np.vstack([X, bg]))
            problem = found.check(self.adapter, X, bg, f_xb)
            if problem is not None:
                self._structure = None
                self._structure_note = f"{found.kind} structure not used: {problem}"
                params["structure_note"] = self._structure_note
                return None
            self._structure_checked = True
        # v({}) = E_w f(b) from the same structure as the values, so that they add up exactly
        cached = self._base_cache
        if cached is not None and cached[0] is found and np.array_equal(cached[1], bg):
            f_bg = cached[2]  # the same background again (one explainer, several calls)
        else:
            f_bg = np.ascontiguousarray(found.outputs(bg))
            self._base_cache = (found, bg.copy(), f_bg)
        base_row = weighted_background_mean(f_bg, weights, bg.shape[0])
        values = found.values(X, bg, weights)
        params["structure"] = found.kind
        if found.kind == "tree":
            params["tree_algorithm"] = found.last_algorithm
        params["model_rows_evaluated"] = int(self.adapter.n_rows_evaluated - rows_before)
        return values, np.repeat(base_row, X.shape[0], axis=0)

    def _coalition_values(self, X: np.ndarray, bg: np.ndarray, weights: np.ndarray) -> np.ndarray:
        n, d = X.shape
        m = bg.shape[0]
        n_coal = 2**d
        masks = coalition_masks(d)
        bytes_per_combo = d * 8
        combos_per_call = max(1, self.max_memory // bytes_per_combo)
        # Chunk over rows when a whole row fits; otherwise over coalitions of one row. One input
        # buffer is allocated up front and refilled for every call.
        per_row = n_coal * m
        if per_row <= combos_per_call:
            rows_per_call = min(n, max(1, combos_per_call // per_row))
            coal_per_call = n_coal
        else:
            rows_per_call = 1
            coal_per_call = min(n_coal, max(1, combos_per_call // m))
        buffer = np.empty((rows_per_call, coal_per_call, m, d))
        chunks = [
            (start, cstart)
            for start in range(0, n, rows_per_call)
            for cstart in range(0, n_coal, coal_per_call)
        ]
        out: np.ndarray | None = None
        for start, cstart in tqdm(
            chunks, disable=not self.progress, desc="exact Shapley", unit="call"
        ):
            x = X[start : start + rows_per_call]
            mk = masks[cstart : cstart + coal_per_call]
            batch = buffer[: len(x), : len(mk)]
            _fill_coalitions(x, bg, mk, batch)
            f = self.adapter.predict(batch.reshape(-1, d))
            k = f.shape[1]
            if out is None:
                out = np.empty((n, n_coal, k))
            v = weighted_background_mean(np.ascontiguousarray(f), weights, m)
            out[start : start + len(x), cstart : cstart + len(mk)] = v.reshape(len(x), len(mk), k)
        if out is None:  # no rows: the model was never called
            return np.empty((n, n_coal, 0))
        return out


@numba.njit(cache=True, nogil=True)
def _fill_coalitions(x: np.ndarray, bg: np.ndarray, masks: np.ndarray, out: np.ndarray) -> None:
    """``out[i, c, b, j] = x[i, j] if masks[c, j] else bg[b, j]`` (a copy, no arithmetic)."""
    n_rows, d = x.shape
    n_coal = masks.shape[0]
    m = bg.shape[0]
    for t in range(n_rows * n_coal):
        i = t // n_coal
        c = t - i * n_coal
        for b in range(m):
            for j in range(d):
                out[i, c, b, j] = x[i, j] if masks[c, j] else bg[b, j]
