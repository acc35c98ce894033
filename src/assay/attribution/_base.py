"""What every explainer shares: the model adapter, the background set and input checks."""

from __future__ import annotations

import abc
from typing import Any

import numpy as np

from assay._validation import check_int, check_seed, match_columns
from assay.attribution._background import check_background_weights
from assay.attribution._explanation import Explanation
from assay.errors import InvalidInputError, ModelError
from assay.model import ModelAdapter, wrap

__all__ = ["BaseExplainer", "default_background"]

DEFAULT_BACKGROUND_ROWS = 100
DEFAULT_MAX_MEMORY = 256 * 2**20  # bytes of model input built per batch


def default_background(
    X: np.ndarray, *, n_rows: int = DEFAULT_BACKGROUND_ROWS, seed: int | None
) -> np.ndarray:
    """A background drawn from the explained rows: all of them, or a seeded sample of ``n_rows``."""
    if X.shape[0] <= n_rows:
        return X
    rng = np.random.default_rng(seed if seed is not None else 0)
    return X[np.sort(rng.choice(X.shape[0], size=n_rows, replace=False))]


class BaseExplainer(abc.ABC):
    """Holds a wrapped model and an optional background; subclasses implement ``explain``.

    Parameters
    ----------
    model : model or ModelAdapter
        Anything :func:`assay.model.wrap` accepts.
    background : array-like, optional
        Reference rows for interventional methods. When None, each ``explain`` call uses
        up to 100 of the explained rows (a seeded sample).
    output_space : str, optional
        Passed to :func:`assay.model.wrap`.
    max_memory : int
        Upper bound in bytes on the model input built for one model call.
    """

    method: str = ""
    #: position of X's first row in a larger table (set per partition by the Dask driver), so
    #: that random draws keyed by row give the same values as one in-memory call on the table
    _row_offset: int = 0

    def __init__(
        self,
        model: Any,
        *,
        background: Any = None,
        output_space: str | None = None,
        max_memory: int = DEFAULT_MAX_MEMORY,
        progress: bool = False,
    ) -> None:
        self.adapter: ModelAdapter = wrap(model, output_space=output_space)
        self.max_memory = check_int(max_memory, name="max_memory", minimum=2**16)
        self.progress = bool(progress)
        self.background: np.ndarray | None = None
        self.background_weights: np.ndarray | None = None
        # a DataFrame background for a model that knows no column names is matched to each
        # DataFrame X by name (see _match_background); these keep it as given
        self._background_given: np.ndarray | None = None
        self._background_names: list[str] | None = None
        if background is not None:
            bg, bg_names = self.adapter.prepare(background, name="background")
            self.background = bg
            self._background_given = bg
            if hasattr(background, "columns") and self.adapter.feature_names is None:
                self._background_names = bg_names

    def _match_background(self, X: Any, names: list[str]) -> None:
        """Reorder a DataFrame background to the columns of a DataFrame ``X`` by name.

        Models that record feature names get both aligned by :meth:`ModelAdapter.prepare`;
        for callables and torch modules the model's column order is ``X``'s, so the
        background follows it. Different column names raise :class:`InvalidInputError`.
        """
        if (
            self._background_names is None
            or self._background_given is None
            or self.adapter.feature_names is not None
            or not hasattr(X, "columns")
        ):
            return
        self.background = match_columns(
            self._background_given, self._background_names, names, name="background"
        )

    def _prepare(self, X: Any, seed: Any) -> tuple[np.ndarray, list[str], int | None]:
        seed = check_seed(seed)
        values, names = self.adapter.prepare(X)
        self._match_background(X, names)
        return values, names, seed

    def _background_for(self, X: np.ndarray, seed: int | None) -> tuple[np.ndarray, str]:
        if self.background is not None:
            if self.background.shape[1] != X.shape[1]:
                msg = (
                    f"background has {self.background.shape[1]} columns but X has {X.shape[1]}; "
                    "pass the same features for both."
                )
                raise InvalidInputError(msg)
            return self.background, f"given ({self.background.shape[0]} rows)"
        if X.shape[0] < 2:
            msg = (
                f"{type(self).__name__} got {X.shape[0]} row to explain and no background. "
                "Without a background the reference rows are drawn from X, so a single row "
                "would be its own reference and every attribution would be 0. Pass "
                "background=X_train (a sample of the data the model was trained on)."
            )
            raise InvalidInputError(msg)
        bg = default_background(X, seed=seed)
        return bg, f"sample of X ({bg.shape[0]} rows)"

    def _set_background_weights(self, weights: Any) -> None:
        """Validate and store ``background_weights`` (normalized); they need a background."""
        if weights is None:
            return
        if self.background is None:
            msg = "background_weights were given without a background; pass both."
            raise InvalidInputError(msg)
        self.background_weights = check_background_weights(weights, self.background.shape[0])

    def _weights_for(self, bg: np.ndarray) -> np.ndarray:
        """Weights of ``bg`` (from :meth:`_background_for`): the given ones, else uniform."""
        if self.background is not None and self.background_weights is not None:
            return self.background_weights
        return np.full(bg.shape[0], 1.0 / bg.shape[0])

    def _model_evaluator(self, probe: np.ndarray, *, fast_trees: bool) -> tuple[Any, str]:
        """What evaluates the model on many rows, and its name for ``params``.

        A compiled copy of the model's trees (:mod:`assay.model._fast_predict`) when
        ``fast_trees`` is on, the model exposes numeric trees of at most 64 leaves, and the copy
        matches ``adapter.predict`` on ``probe`` to 1e-9 (one model call); else the model.
        """
        if fast_trees and self.adapter.has_trees:
            from assay.model._fast_predict import fast_tree_predictor

            fast = fast_tree_predictor(self.adapter, probe)
            if fast is not None:
                return fast, "compiled trees"
        return self.adapter.predict, "model"

    def _result(
        self,
        X: np.ndarray,
        names: list[str],
        values: np.ndarray,
        base_values: np.ndarray,
        *,
        stderr: np.ndarray | None,
        params: dict[str, Any],
    ) -> Explanation:
        """The :class:`Explanation` of rows ``X``, labelled with this model's outputs."""
        check_finite_attributions(values, base_values, method=self.method)
        return Explanation(
            values=values,
            base_values=base_values,
            data=X,
            feature_names=names,
            output_names=self.adapter.output_names,
            method=self.method,
            output_space=self.adapter.output_space,
            stderr=stderr,
            params=params,
        )

    @abc.abstractmethod
    def explain(self, X: Any, *, seed: int | None = None) -> Any:
        """Attributions for the rows of ``X`` (each method implements this)."""


def check_finite_attributions(values: np.ndarray, base_values: np.ndarray, *, method: str) -> None:
    """Raise :class:`ModelError` when attributions overflowed, or cancel to rounding noise.

    Model outputs are checked on every call, so this fires only when finite outputs are so
    large that their differences or sums overflow float64.
    """
    if np.isfinite(values).all() and np.isfinite(base_values).all():
        _check_cancellation(values, base_values, method)
        return
    rows = np.flatnonzero(
        ~np.isfinite(values).reshape(values.shape[0], -1).all(axis=1)
        | ~np.isfinite(base_values).reshape(base_values.shape[0], -1).all(axis=1)
    )
    msg = (
        f"{method} attributions overflowed float64 (NaN or inf) for {rows.size} row(s), first "
        f"{rows[:5].tolist()}: the model outputs or the inputs are too large to subtract and "
        "sum. Rescale the features or the model output (e.g. model units in thousands, or "
        "explain log-odds instead of a huge raw score)."
    )
    raise ModelError(msg)


# terms this many times larger than the output they add up to leave fewer than 4 of float64's
# ~16 significant digits: the values are rounding noise
CANCELLATION = 1e12


def _check_cancellation(values: np.ndarray, base_values: np.ndarray, method: str) -> None:
    """Raise when attributions and base values cancel so much that no digit of them is left."""
    n = values.shape[0]
    scale = np.maximum(
        np.abs(values).reshape(n, -1).max(axis=1, initial=0.0),
        np.abs(base_values).reshape(n, -1).max(axis=1, initial=0.0),
    )
    k = base_values.reshape(n, -1).shape[1]  # outputs; features may span several axes (images)
    summed = values.reshape(n, -1, k).sum(axis=1) + base_values.reshape(n, k)
    total = np.abs(summed).max(axis=1, initial=0.0)
    lost = np.flatnonzero(scale > CANCELLATION * (1.0 + total))
    if lost.size:
        msg = (
            f"{method} attributions of {lost.size} row(s) (first {lost[:5].tolist()}) are "
            f"{scale[lost[0]]:.3g} in size but add up to an output of {total[lost[0]]:.3g}: "
            "in float64 they are rounding noise. The background (or baseline) is on a wildly "
            "different scale from the rows explained; pass background rows like the data."
        )
        raise ModelError(msg)


def ensure_2d_output(out: np.ndarray) -> np.ndarray:
    return out[:, None] if out.ndim == 1 else out
