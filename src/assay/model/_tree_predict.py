"""Compiled traversal of a :class:`~assay.model._tree_ensemble.TreeEnsemble`.

:func:`predict_raw` reproduces the model's raw output (margin, probability or regression
value, per ``ensemble.output_space``) from the flat arrays alone; :func:`predict_leaf` returns
the leaf every row reaches in every tree. Both are parallel over rows.

Other compiled tree algorithms (TreeSHAP, interventional SHAP, ...) should route rows with
:func:`next_node` on the tuple from :func:`traversal_arrays`, so that every consumer follows the
same split semantics (thresholds, NaN default directions, LightGBM's zero-as-missing, and
categorical sets)::

    arrays = traversal_arrays(ensemble)

    @numba.njit
    def leaf_of(arrays, split_le, root, row):
        node = root
        while arrays[0][node] >= 0:
            node = next_node(arrays, split_le, node, row)
        return node
"""

from __future__ import annotations

import numba
import numpy as np

from assay.errors import InvalidInputError
from assay.model._tree_ensemble import ZERO_THRESHOLD, TreeEnsemble

__all__ = ["next_node", "predict_leaf", "predict_raw", "traversal_arrays"]

# Largest float that is safely converted to int64 when reading a category code.
_MAX_CODE = 9.0e18
# Below this many (row, tree) visits a single thread is faster than starting the pool.
_SERIAL_WORK = 200_000


def traversal_arrays(ensemble: TreeEnsemble) -> tuple:
    """Return the arrays :func:`next_node` needs, in its fixed order.

    The tuple is ``(children_left, children_right, feature, threshold, default_left,
    is_categorical, cat_in_set_left, cat_offsets, cat_values, zero_as_missing)`` with
    contiguous dtypes (int64, float64, bool) so that compiled code specializes once.
    """
    return (
        np.ascontiguousarray(ensemble.children_left, dtype=np.int64),
        np.ascontiguousarray(ensemble.children_right, dtype=np.int64),
        np.ascontiguousarray(ensemble.feature, dtype=np.int64),
        np.ascontiguousarray(ensemble.threshold, dtype=np.float64),
        np.ascontiguousarray(ensemble.default_left, dtype=np.bool_),
        np.ascontiguousarray(ensemble.is_categorical, dtype=np.bool_),
        np.ascontiguousarray(ensemble.cat_in_set_left, dtype=np.bool_),
        np.ascontiguousarray(ensemble.cat_offsets, dtype=np.int64),
        np.ascontiguousarray(ensemble.cat_values, dtype=np.int64),
        np.ascontiguousarray(ensemble.zero_as_missing, dtype=np.bool_),
    )


@numba.njit(cache=True, nogil=True)
def next_node(arrays, split_le, node, row):
    """Child of internal ``node`` that ``row`` (all features, float64) goes to."""
    left = arrays[0]
    right = arrays[1]
    x = row[arrays[2][node]]
    if np.isnan(x) or (arrays[9][node] and abs(x) <= ZERO_THRESHOLD):
        go_left = arrays[4][node]
    elif arrays[5][node]:
        in_set = False
        if x >= 0.0 and x < _MAX_CODE:
            code = np.int64(x)
            cat_values = arrays[8]
            lo = arrays[7][node]
            end = arrays[7][node + 1]
            hi = end
            while lo < hi:  # binary search in the sorted set
                mid = (lo + hi) // 2
                if cat_values[mid] < code:
                    lo = mid + 1
                else:
                    hi = mid
            in_set = lo < end and cat_values[lo] == code
        go_left = in_set == arrays[6][node]
    elif split_le:
        go_left = x <= arrays[3][node]
    else:
        go_left = x < arrays[3][node]
    if go_left:
        return left[node]
    return right[node]


@numba.njit(cache=True, nogil=True)
def _predict_block(X, arrays, split_le, roots, tree_output, value, base_offset, out, start, stop):
    n_outputs = value.shape[1]
    children_left = arrays[0]
    for i in range(start, stop):
        row = X[i]
        for k in range(n_outputs):
            out[i, k] = base_offset[k]
        # Trees are summed in order, starting from the offset, as the libraries do.
        for t in range(roots.shape[0]):
            node = roots[t]
            while children_left[node] >= 0:
                node = next_node(arrays, split_le, node, row)
            k_out = tree_output[t]
            if k_out >= 0:
                out[i, k_out] += value[node, k_out]
            else:
                for k in range(n_outputs):
                    out[i, k] += value[node, k]


@numba.njit(cache=True, nogil=True)
def _leaf_block(X, arrays, split_le, roots, out, start, stop):
    children_left = arrays[0]
    for i in range(start, stop):
        row = X[i]
        for t in range(roots.shape[0]):
            node = roots[t]
            while children_left[node] >= 0:
                node = next_node(arrays, split_le, node, row)
            out[i, t] = node


@numba.njit(parallel=True, cache=True)
def _predict_parallel(X, arrays, split_le, roots, tree_output, value, base_offset, out, chunk):
    n_chunks = (X.shape[0] + chunk - 1) // chunk
    for c in numba.prange(n_chunks):
        stop = min((c + 1) * chunk, X.shape[0])
        _predict_block(
            X, arrays, split_le, roots, tree_output, value, base_offset, out, c * chunk, stop
        )


@numba.njit(parallel=True, cache=True)
def _leaf_parallel(X, arrays, split_le, roots, out, chunk):
    n_chunks = (X.shape[0] + chunk - 1) // chunk
    for c in numba.prange(n_chunks):
        stop = min((c + 1) * chunk, X.shape[0])
        _leaf_block(X, arrays, split_le, roots, out, c * chunk, stop)


def _chunk(n_samples: int, n_trees: int) -> int:
    """Rows per parallel task, or 0 to run serially (small jobs are not worth the threads)."""
    if n_samples * n_trees < _SERIAL_WORK or numba.get_num_threads() < 2:
        return 0
    return max(64, -(-n_samples // (8 * numba.get_num_threads())))


def _as_rows(ensemble: TreeEnsemble, X) -> np.ndarray:
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        msg = (
            "X must be numeric to traverse the trees; encode categorical columns as integer "
            f"codes first (see TreeEnsemble.categories). Conversion failed with: {exc}"
        )
        raise InvalidInputError(msg) from exc
    if arr.ndim != 2:
        msg = f"X must be 2-D (n_samples, n_features); got an array with shape {arr.shape}."
        raise InvalidInputError(msg)
    if arr.shape[1] != ensemble.n_features:
        msg = (
            f"X has {arr.shape[1]} columns but the tree model was fitted on "
            f"{ensemble.n_features}; pass the same columns, in the same order, as in training."
        )
        raise InvalidInputError(msg)
    return np.ascontiguousarray(arr)


def predict_raw(ensemble: TreeEnsemble, X) -> np.ndarray:
    """Raw model output by traversing the flattened trees.

    Parameters
    ----------
    ensemble : TreeEnsemble
        Trees from :func:`~assay.model._tree_extract.extract_tree_ensemble`.
    X : array-like of shape (n_samples, n_features)
        Numeric input, NaN for missing values and integer codes for categorical features.

    Returns
    -------
    ndarray of shape (n_samples, n_outputs), float64
        ``base_offset + sum of the leaf values``, in ``ensemble.output_space``.
    """
    rows = _as_rows(ensemble, X)
    base = np.ascontiguousarray(ensemble.base_offset, dtype=np.float64)
    if ensemble.n_trees == 0 or rows.shape[0] == 0:
        return np.tile(base, (rows.shape[0], 1))
    out = np.empty((rows.shape[0], ensemble.n_outputs), dtype=np.float64)
    args = (
        rows,
        traversal_arrays(ensemble),
        bool(ensemble.split_le),
        np.ascontiguousarray(ensemble.roots, dtype=np.int64),
        np.ascontiguousarray(ensemble.tree_output, dtype=np.int64),
        np.ascontiguousarray(ensemble.value, dtype=np.float64),
        base,
        out,
    )
    chunk = _chunk(rows.shape[0], ensemble.n_trees)
    if chunk:
        _predict_parallel(*args, chunk)
    else:
        _predict_block(*args, 0, rows.shape[0])
    return out


def predict_leaf(ensemble: TreeEnsemble, X) -> np.ndarray:
    """Global index of the leaf each row reaches in each tree, shape (n_samples, n_trees)."""
    rows = _as_rows(ensemble, X)
    out = np.zeros((rows.shape[0], ensemble.n_trees), dtype=np.int64)
    if ensemble.n_trees == 0 or rows.shape[0] == 0:
        return out
    args = (
        rows,
        traversal_arrays(ensemble),
        bool(ensemble.split_le),
        np.ascontiguousarray(ensemble.roots, dtype=np.int64),
        out,
    )
    chunk = _chunk(rows.shape[0], ensemble.n_trees)
    if chunk:
        _leaf_parallel(*args, chunk)
    else:
        _leaf_block(*args, 0, rows.shape[0])
    return out
