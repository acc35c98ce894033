"""Plausible values of a missing feature given what is observed: nearest neighbours.

For a row whose feature ``j`` is missing, the conditional distribution of ``x_j`` given the
observed features is estimated by the values of ``j`` in the ``k`` reference rows nearest to
the row, where distance is Euclidean over the observed features standardized by the
reference's standard deviation. Only reference rows that have ``j`` and every feature used in
the distance measured take part. Rows are grouped by their missingness pattern so that each
pattern needs one neighbour search (usually there are few patterns).
"""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors

__all__ = ["sample_conditional"]


def sample_conditional(
    X: np.ndarray,
    rows: np.ndarray,
    feature: int,
    X_reference: np.ndarray,
    *,
    n_neighbors: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n_neighbors`` plausible values of ``feature`` for each row in ``rows``.

    Returns
    -------
    values : ndarray (len(rows), n_neighbors)
        Candidate values (the neighbours' measured values).
    n_used : ndarray (len(rows),)
        Number of reference rows the neighbours were drawn from. When it is below
        ``n_neighbors`` only the first ``n_used`` columns of ``values`` are distinct draws
        (the rest repeat them cyclically, to keep the array rectangular).
    """
    has_target = ~np.isnan(X_reference[:, feature])
    ref = X_reference[has_target]
    scale = np.nanstd(ref, axis=0)
    scale[~np.isfinite(scale) | (scale == 0)] = 1.0
    out = np.empty((len(rows), n_neighbors))
    n_used = np.zeros(len(rows), dtype=np.int64)
    observed = ~np.isnan(X[rows])
    observed[:, feature] = False
    patterns, inverse = np.unique(observed, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).reshape(-1)
    for p, pattern in enumerate(patterns):
        members = np.flatnonzero(inverse == p)
        cols = np.flatnonzero(pattern)
        usable = ref[~np.isnan(ref[:, cols]).any(axis=1)] if cols.size else ref
        if usable.shape[0] < 2:  # one value is no distribution: fall back to the marginal
            usable, cols = ref, np.zeros(0, dtype=np.int64)
        k = min(n_neighbors, usable.shape[0])
        if cols.size == 0:
            idx = np.broadcast_to(np.arange(k), (len(members), k))
        else:
            nn = NearestNeighbors(n_neighbors=k).fit(usable[:, cols] / scale[cols])
            idx = nn.kneighbors(X[rows[members]][:, cols] / scale[cols], return_distance=False)
        vals = usable[idx, feature]
        if k < n_neighbors:  # too few reference rows: repeat them cyclically
            vals = np.take(vals, np.arange(n_neighbors) % k, axis=1)
        out[members] = vals
        n_used[members] = usable.shape[0]
    return out, n_used
