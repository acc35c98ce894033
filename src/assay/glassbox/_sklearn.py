"""Input handling shared by the glass-box scikit-learn estimators."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from sklearn.utils.validation import validate_data

from assay.errors import InvalidInputError

__all__ = ["ValidatedInputMixin", "check_random_state_seed"]

_FIX_HINTS = (
    (
        "0 feature(s)",
        " Pass at least one feature column (X has none; check column selection).",
    ),
    (
        "0 sample(s)",
        " X has no rows; check that filtering did not remove every row.",
    ),
    (
        "could not convert",
        " X holds non-numeric values; encode categories as numbers first (integer codes or "
        "one-hot columns) and list code columns in categorical_features.",
    ),
    (
        "Unknown label type",
        " A classifier needs discrete class labels; for a numeric target use the regressor "
        "(e.g. GAMRegressor), or bin the target into classes first.",
    ),
    (
        "infinity",
        " Replace infinite values by finite numbers or NaN (missing values are supported).",
    ),
    (
        "inconsistent numbers of samples",
        " X and y must have one row per sample each.",
    ),
)


def _with_hint(message: str) -> str:
    for key, hint in _FIX_HINTS:
        if key in message:
            return message.rstrip() + hint
    return message


def _check_frame_dtypes(X: Any, estimator: str) -> None:
    """Reject pandas columns that scikit-learn would silently turn into numbers (datetimes)
    or reject with a low-level message (strings, categories), naming them."""
    if not (type(X).__module__.startswith("pandas") and hasattr(X, "dtypes")):
        return
    import pandas as pd

    bad = [
        f"{col!s} ({dtype})"
        for col, dtype in X.dtypes.items()
        if not (pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype))
    ]
    if bad:
        msg = (
            f"{estimator} needs numeric columns; X has non-numeric column(s) "
            f"{', '.join(bad[:10])}. Encode them first: integer codes for categories (and list "
            "them in categorical_features), or a number such as days since a reference date "
            "for datetimes."
        )
        raise InvalidInputError(msg)


def check_random_state_seed(value: Any) -> int | None:
    """``random_state`` of the GAMs: None or a non-negative integer (a seed)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        msg = (
            f"random_state must be None or a non-negative integer seed; got "
            f"{type(value).__name__} {value!r}."
        )
        raise InvalidInputError(msg)
    return int(value)


class ValidatedInputMixin:
    """scikit-learn's ``validate_data`` (NaN allowed) with errors raised as assay errors."""

    def _validate_X(self, X: Any, *, reset: bool, y: Any = None) -> Any:
        _check_frame_dtypes(X, type(self).__name__)
        try:
            if reset:
                return validate_data(
                    self, X, y, ensure_all_finite="allow-nan", dtype=np.float64, y_numeric=False
                )
            return validate_data(
                self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64
            )
        except ValueError as exc:
            if isinstance(exc, InvalidInputError):
                raise
            raise InvalidInputError(_with_hint(str(exc))) from exc

    def _feature_names(self) -> list[str]:
        if hasattr(self, "feature_names_in_"):
            return [str(f) for f in self.feature_names_in_]
        return [f"x{j}" for j in range(self.n_features_in_)]
