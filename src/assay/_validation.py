"""The one place where user inputs are checked and converted.

Every public entry point passes its data through :func:`as_matrix` (and friends) so that the
rules and the messages are the same everywhere: a message says what was wrong, what was seen
and how to fix it.
"""

from __future__ import annotations

import importlib
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from assay.errors import InvalidInputError, MissingDependencyError, NotFittedError

__all__ = [
    "align_columns",
    "as_matrix",
    "as_vector",
    "check_fitted",
    "check_int",
    "check_seed",
    "import_optional",
    "match_columns",
]

_EXTRA_FOR = {
    "torch": "torch",
    "dask": "dask",
    "distributed": "dask",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "pyarrow": "all",
    "transformers": "text",
}


def import_optional(module: str, *, purpose: str = "") -> Any:
    """Import an optional dependency or raise :class:`MissingDependencyError` naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        root = module.split(".")[0]
        extra = _EXTRA_FOR.get(root, "all")
        why = f" for {purpose}" if purpose else ""
        msg = (
            f"The optional dependency '{root}' is needed{why} but could not be imported "
            f'({exc}). Install it with: pip install "assay[{extra}]"'
        )
        raise MissingDependencyError(msg) from exc


def _is_pandas_frame(obj: Any) -> bool:
    return type(obj).__module__.startswith("pandas") and hasattr(obj, "columns")


def _is_polars_frame(obj: Any) -> bool:
    return type(obj).__module__.startswith("polars") and hasattr(obj, "columns")


def _frame_to_array(frame: Any, name: str) -> tuple[np.ndarray, list[str]]:
    import pandas as pd

    columns = [str(c) for c in frame.columns]
    if len(set(columns)) != len(columns):
        dupes = sorted({c for c in columns if columns.count(c) > 1})
        msg = f"{name} has duplicate column names {dupes}; rename them so each is unique."
        raise InvalidInputError(msg)
    bad = []
    for col in frame.columns:
        dtype = frame[col].dtype
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            continue
        bad.append(f"{col!s} ({dtype})")
    if bad:
        msg = (
            f"{name} has non-numeric columns without an encoding: {', '.join(bad)}. "
            "Either fit the model on a DataFrame with these columns (e.g. a Pipeline whose "
            "ColumnTransformer encodes them; assay then passes the labels through) or encode "
            "them as numbers first and fit the model on the encoded columns."
        )
        raise InvalidInputError(msg)
    # C order, like arrays: row-major data gives the same model output whatever its source
    values = np.ascontiguousarray(frame.to_numpy(dtype=np.float64, na_value=np.nan))
    return values, columns


def as_matrix(
    X: Any,
    *,
    name: str = "X",
    allow_nan: bool = False,
    feature_names: Sequence[str] | None = None,
    min_rows: int = 1,
) -> tuple[np.ndarray, list[str]]:
    """Convert a list, numpy array, pandas or polars DataFrame to a 2-D float64 array.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The data.
    name : str
        Name used in error messages.
    allow_nan : bool
        Whether NaN is acceptable (missing values). ``inf`` is never accepted.
    feature_names : sequence of str, optional
        Names to use when ``X`` carries none. Default ``x0, x1, ...``.
    min_rows : int
        Minimum number of rows.

    Returns
    -------
    values : ndarray of float64, shape (n_samples, n_features)
    names : list of str

    Examples
    --------
    >>> values, names = as_matrix([[1, 2], [3, 4]])
    >>> values.shape, names
    ((2, 2), ['x0', 'x1'])
    """
    if X is None:
        msg = f"{name} is None; pass a 2-D array or DataFrame of shape (n_samples, n_features)."
        raise InvalidInputError(msg)
    if _is_polars_frame(X):
        X = X.to_pandas()
    if _is_pandas_frame(X):
        values, names = _frame_to_array(X, name)
    else:
        if hasattr(X, "to_numpy") and type(X).__module__.startswith("pandas"):
            X = X.to_numpy()  # a Series: handled as 1-D below
        if isinstance(X, (str, bytes, numbers.Number)):
            msg = (
                f"{name} must be a 2-D array or DataFrame, got {type(X).__name__} {X!r}. "
                "Pass shape (n_samples, n_features)."
            )
            raise InvalidInputError(msg)
        try:
            arr = np.asarray(X)
        except Exception as exc:
            msg = f"{name} could not be converted to an array ({exc}); pass a 2-D numeric array."
            raise InvalidInputError(msg) from exc
        if arr.dtype == object or arr.dtype.kind in "USV":
            try:
                arr = arr.astype(np.float64)
            except (TypeError, ValueError) as exc:
                msg = (
                    f"{name} contains non-numeric values (dtype {arr.dtype}); encode categorical "
                    "values as numbers first (for example integer codes or one-hot columns)."
                )
                raise InvalidInputError(msg) from exc
        if arr.ndim == 1:
            msg = (
                f"{name} is 1-D with shape {arr.shape}; a 2-D array of shape "
                "(n_samples, n_features) is needed. For a single row use X.reshape(1, -1); "
                "for a single feature use X.reshape(-1, 1)."
            )
            raise InvalidInputError(msg)
        if arr.ndim != 2:
            msg = f"{name} must be 2-D (n_samples, n_features); got {arr.ndim}-D shape {arr.shape}."
            raise InvalidInputError(msg)
        if arr.dtype.kind not in "biuf":
            msg = f"{name} has unsupported dtype {arr.dtype}; pass real numbers."
            raise InvalidInputError(msg)
        values = np.ascontiguousarray(arr, dtype=np.float64)
        if feature_names is not None:
            names = [str(f) for f in feature_names]
            if len(names) != values.shape[1]:
                msg = (
                    f"{name} has {values.shape[1]} columns but {len(names)} feature names were "
                    "given; pass one name per column."
                )
                raise InvalidInputError(msg)
        else:
            names = [f"x{i}" for i in range(values.shape[1])]
    if values.ndim != 2:
        msg = f"{name} must be 2-D; got shape {values.shape}."
        raise InvalidInputError(msg)
    if values.shape[0] < min_rows:
        msg = (
            f"{name} has {values.shape[0]} rows; at least {min_rows} "
            f"{'is' if min_rows == 1 else 'are'} needed. Check that filtering did not remove "
            "every row."
        )
        raise InvalidInputError(msg)
    if values.shape[1] == 0:
        msg = f"{name} has 0 columns; pass at least one feature."
        raise InvalidInputError(msg)
    _check_finite(values, names, name=name, allow_nan=allow_nan)
    return values, names


def _check_finite(values: np.ndarray, names: Sequence[str], *, name: str, allow_nan: bool) -> None:
    if np.isfinite(values).all():
        return
    inf_cols = np.flatnonzero(np.isinf(values).any(axis=0))
    if inf_cols.size:
        cols = [names[i] for i in inf_cols[:5]]
        n_bad = int(np.isinf(values).sum())
        msg = (
            f"{name} contains {n_bad} infinite value(s) in column(s) {cols}; replace them with "
            "finite numbers (or NaN where missing values are supported)."
        )
        raise InvalidInputError(msg)
    if not allow_nan:
        nan_mask = np.isnan(values)
        nan_cols = np.flatnonzero(nan_mask.any(axis=0))
        cols = [names[i] for i in nan_cols[:5]]
        more = "" if nan_cols.size <= 5 else f" and {nan_cols.size - 5} more"
        msg = (
            f"{name} contains {int(nan_mask.sum())} NaN value(s) in column(s) {cols}{more}, "
            "which this method does not support. Impute them (e.g. sklearn.impute.SimpleImputer) "
            "or drop those rows first."
        )
        raise InvalidInputError(msg)


def align_columns(
    values: np.ndarray,
    names: Sequence[str],
    expected: Sequence[str] | None,
    n_expected: int | None,
    *,
    from_frame: bool,
    name: str = "X",
) -> np.ndarray:
    """Check ``values`` against the model's expected columns, reordering named columns.

    ``from_frame`` says whether ``names`` came from the data (a DataFrame) rather than being
    defaults, in which case names are matched and reordered to the model's order.
    """
    n_cols = values.shape[1]
    if expected is not None and from_frame:
        expected = [str(e) for e in expected]
        missing, unknown = _column_diff(names, expected)
        if missing or unknown:
            parts = []
            if missing:
                parts.append(f"missing: {missing[:10]}")
            if unknown:
                parts.append(f"unknown: {unknown[:10]}")
            msg = (
                f"{name} has {n_cols} columns but the model was fitted on {len(expected)}; "
                f"{'; '.join(parts)}. Pass exactly the columns the model was trained on."
            )
            raise InvalidInputError(msg)
        return _reorder(values, list(names), expected)
    if n_expected is not None and n_cols != n_expected:
        msg = (
            f"{name} has {n_cols} columns but the model was fitted on {n_expected}; "
            "pass the same features, in the same order, that the model was trained on."
        )
        raise InvalidInputError(msg)
    return values


def match_columns(
    values: np.ndarray,
    names: Sequence[str],
    target: Sequence[str],
    *,
    name: str = "background",
    target_name: str = "X",
) -> np.ndarray:
    """Reorder the columns of ``values`` (named ``names``) to the order of ``target``.

    Used when two DataFrames must describe the same features (a background and the rows to
    explain) but the model itself knows no column names: matching by position would silently
    mix features up, so columns are matched by name and any difference is an error.

    Examples
    --------
    >>> match_columns(np.array([[1.0, 2.0]]), ["b", "a"], ["a", "b"]).tolist()
    [[2.0, 1.0]]
    """
    names = [str(c) for c in names]
    target = [str(c) for c in target]
    missing, extra = _column_diff(names, target)
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"in {target_name} but not in {name}: {missing[:10]}")
        if extra:
            parts.append(f"in {name} but not in {target_name}: {extra[:10]}")
        msg = (
            f"{name} and {target_name} are DataFrames with different columns ({'; '.join(parts)})."
            f" Columns are matched by name; pass a {name} with exactly the columns of "
            f"{target_name} (any order), or plain arrays to match by position."
        )
        raise InvalidInputError(msg)
    return _reorder(values, names, target)


def _column_diff(names: Sequence[str], target: Sequence[str]) -> tuple[list[str], list[str]]:
    """(columns of ``target`` missing from ``names``, columns of ``names`` not in ``target``)."""
    return [c for c in target if c not in names], [c for c in names if c not in target]


def _reorder(values: np.ndarray, names: list[str], target: list[str]) -> np.ndarray:
    """``values`` with its columns (named ``names``) in the order of ``target``."""
    if names == target:
        return values
    order = [names.index(c) for c in target]
    return np.ascontiguousarray(values[:, order])  # fancy indexing gives F order


def as_vector(
    y: Any, *, name: str = "y", n_rows: int | None = None, numeric: bool = True
) -> np.ndarray:
    """Convert a 1-D target-like input to an array, checking length and finiteness."""
    if y is None:
        msg = f"{name} is None; pass a 1-D array with one value per row."
        raise InvalidInputError(msg)
    arr = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        msg = f"{name} must be 1-D; got shape {arr.shape}."
        raise InvalidInputError(msg)
    if arr.size == 0:
        msg = f"{name} is empty; pass one value per row."
        raise InvalidInputError(msg)
    if n_rows is not None and arr.shape[0] != n_rows:
        msg = f"{name} has {arr.shape[0]} values but X has {n_rows} rows; they must match."
        raise InvalidInputError(msg)
    if numeric:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            msg = f"{name} must be numeric; got dtype {arr.dtype}. Encode the labels as numbers."
            raise InvalidInputError(msg) from exc
        if not np.isfinite(arr).all():
            msg = f"{name} contains {int((~np.isfinite(arr)).sum())} NaN/inf value(s); remove them."
            raise InvalidInputError(msg)
    return arr


def check_fitted(model: Any, *, name: str = "model") -> None:
    """Raise :class:`NotFittedError` if a scikit-learn-style estimator is not fitted."""
    from sklearn.base import BaseEstimator
    from sklearn.exceptions import NotFittedError as SklearnNotFitted
    from sklearn.utils.validation import check_is_fitted

    if not isinstance(model, BaseEstimator):
        return
    try:
        check_is_fitted(model)
    except SklearnNotFitted as exc:
        msg = (
            f"The {name} ({type(model).__name__}) is not fitted yet; call .fit(X, y) before "
            "explaining or auditing it."
        )
        raise NotFittedError(msg) from exc


def check_int(
    value: Any, *, name: str, minimum: int | None = None, maximum: int | None = None
) -> int:
    """Validate an integer argument."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        msg = f"{name} must be an integer; got {type(value).__name__} {value!r}."
        raise InvalidInputError(msg)
    value = int(value)
    if minimum is not None and value < minimum:
        msg = f"{name} must be at least {minimum}; got {value}."
        raise InvalidInputError(msg)
    if maximum is not None and value > maximum:
        msg = f"{name} must be at most {maximum}; got {value}."
        raise InvalidInputError(msg)
    return value


def check_seed(seed: Any) -> int | None:
    """Validate a ``seed`` argument (None or a non-negative integer)."""
    if seed is None:
        return None
    return check_int(seed, name="seed", minimum=0)
