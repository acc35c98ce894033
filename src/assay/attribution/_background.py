"""Background sets for interventional explainers: summarizing a large one, weights, warnings.

Every coalition an interventional explainer evaluates costs one model call per background row,
so the background size multiplies the whole cost. :func:`summarize_background` replaces a large
background by ``n_rows`` weighted rows (k-means clusters weighted by their size, or a random
subsample) and the explainers warn (:class:`~assay.errors.AssayWarning`) when given more than
``LARGE_BACKGROUND_ROWS`` rows.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assay._results import FromDict
from assay._validation import as_matrix, check_int, check_seed
from assay.errors import AssayWarning, InvalidInputError

__all__ = [
    "LARGE_BACKGROUND_ROWS",
    "BackgroundSummary",
    "check_background_weights",
    "summarize_background",
    "warn_large_background",
]

LARGE_BACKGROUND_ROWS = 200


@dataclass(frozen=True, eq=False)
class BackgroundSummary(FromDict):
    """A weighted background: pass ``background=summary`` to KernelShap or PermutationShap.

    Attributes
    ----------
    data : ndarray (n_rows, n_features)
    weights : ndarray (n_rows,)
        Non-negative, summing to 1 (the share of the original rows each row stands for).
    method : str
        ``"kmeans"`` or ``"sample"``.
    n_source_rows : int
        Rows of the background that was summarized.
    params : dict
    """

    data: np.ndarray
    weights: np.ndarray
    method: str
    n_source_rows: int
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {
            "data": self.data.tolist(),
            "weights": self.weights.tolist(),
            "method": self.method,
            "n_source_rows": self.n_source_rows,
            "params": dict(self.params),
        }


def summarize_background(
    data: Any,
    *,
    n_rows: int = 100,
    method: str = "kmeans",
    snap: bool = True,
    seed: int | None = None,
) -> BackgroundSummary:
    """Summarize a large background by ``n_rows`` weighted rows.

    Parameters
    ----------
    data : array-like (n_samples, n_features)
        The background to summarize.
    n_rows : int, default 100
        Rows to keep. When ``data`` has no more rows, it is returned whole with equal weights.
    method : {"kmeans", "sample"}, default "kmeans"
        ``"kmeans"``: :class:`sklearn.cluster.KMeans` with ``n_rows`` clusters, each weighted by
        its share of the rows. ``"sample"``: a uniform random subsample with equal weights.
    snap : bool, default True
        For ``"kmeans"``, replace each centroid by the cluster member nearest to it, so the
        background holds real rows (centroids of one-hot or integer columns are not valid
        inputs). ``False`` keeps the centroids (what ``shap.kmeans`` does before rounding).
    seed : int, optional
        Seed of the clustering or the subsample; recorded in ``params``.

    Returns
    -------
    BackgroundSummary

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(500, 3))
    >>> s = summarize_background(X, n_rows=20, seed=0)
    >>> s.data.shape, round(float(s.weights.sum()), 12)
    ((20, 3), 1.0)
    """
    values, _ = as_matrix(data, name="background")
    n_rows = check_int(n_rows, name="n_rows", minimum=1)
    seed = check_seed(seed)
    if method not in ("kmeans", "sample"):
        msg = f"method must be 'kmeans' or 'sample'; got {method!r}."
        raise InvalidInputError(msg)
    n = values.shape[0]
    params = {"n_rows": n_rows, "method": method, "snap": bool(snap), "seed": seed}
    if n <= n_rows:
        return BackgroundSummary(values, np.full(n, 1.0 / n), method, n, params)
    if method == "sample":
        rng = np.random.default_rng(seed if seed is not None else 0)
        idx = np.sort(rng.choice(n, size=n_rows, replace=False))
        return BackgroundSummary(values[idx], np.full(n_rows, 1.0 / n_rows), method, n, params)
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=n_rows, n_init=3, random_state=seed if seed is not None else 0)
    labels = km.fit_predict(values)
    counts = np.bincount(labels, minlength=n_rows).astype(np.float64)
    centers = km.cluster_centers_
    if snap:
        rows = np.empty_like(centers)
        for c in range(n_rows):
            members = np.flatnonzero(labels == c)
            if members.size == 0:
                rows[c] = centers[c]
                continue
            dist = ((values[members] - centers[c]) ** 2).sum(axis=1)
            rows[c] = values[members[np.argmin(dist)]]
        centers = rows
    keep = counts > 0
    return BackgroundSummary(
        np.ascontiguousarray(centers[keep]), counts[keep] / counts.sum(), method, n, params
    )


def check_background_weights(weights: Any, n_rows: int) -> np.ndarray:
    """Validate background weights: ``n_rows`` finite non-negative numbers; returns them /sum."""
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape[0] != n_rows or not np.isfinite(w).all() or (w < 0).any():
        msg = (
            f"background_weights must be {n_rows} finite non-negative numbers (one per "
            f"background row); got shape {w.shape}."
        )
        raise InvalidInputError(msg)
    if w.sum() <= 0:
        msg = "background_weights sum to zero; give at least one row positive weight."
        raise InvalidInputError(msg)
    return w / w.sum()


def warn_large_background(n_rows: int, *, explainer: str) -> None:
    """Warn (AssayWarning) when a background is large enough to dominate the cost."""
    if n_rows > LARGE_BACKGROUND_ROWS:
        msg = (
            f"{explainer} got a background of {n_rows} rows; every coalition costs {n_rows} "
            "model evaluations. Summarize it first, e.g. summary = "
            "assay.attribution._background.summarize_background(background, n_rows=100) and "
            "pass background=summary (weighted k-means rows)."
        )
        warnings.warn(msg, AssayWarning, stacklevel=3)


def resolve_background(background: Any, background_weights: Any) -> tuple[Any, Any]:
    """Unpack a :class:`BackgroundSummary` passed as ``background``."""
    if isinstance(background, BackgroundSummary):
        if background_weights is not None:
            msg = (
                "background is a BackgroundSummary, which carries its own weights; do not also "
                "pass background_weights."
            )
            raise InvalidInputError(msg)
        return background.data, background.weights
    return background, background_weights
