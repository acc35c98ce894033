"""Input handling shared by the glass-box scikit-learn estimators."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils.validation import validate_data

from assay.errors import InvalidInputError

__all__ = ["ValidatedInputMixin"]


class ValidatedInputMixin:
    """scikit-learn's ``validate_data`` (NaN allowed) with errors raised as assay errors."""

    def _validate_X(self, X: Any, *, reset: bool, y: Any = None) -> Any:
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
            raise InvalidInputError(str(exc)) from exc

    def _feature_names(self) -> list[str]:
        if hasattr(self, "feature_names_in_"):
            return [str(f) for f in self.feature_names_in_]
        return [f"x{j}" for j in range(self.n_features_in_)]
