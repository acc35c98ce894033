"""The audit's inputs, prepared once and shared by every section."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["AuditContext"]


@dataclass
class AuditContext:
    """Everything a section needs, derived once from the user's model and data.

    Attributes
    ----------
    adapter : ModelAdapter
        The wrapped model; ``model`` is the user's own object.
    X : ndarray (n_rows, n_features)
        Audited rows as the adapter prepared them; ``names`` their feature names.
    y : ndarray (n_rows,)
        True labels or targets as given (checked against the model's classes).
    X_train, y_train : ndarray or None
        Training rows, when the user gave them; ``holdout`` describes the overlap.
    sensitive : DataFrame or None
        Sensitive attributes (not model inputs), one row per audited row.
    explain_rows, background : ndarray
        Seeded samples: rows to explain and background rows for attributions.
    alpha : float
        The audit's significance level; every status comes from a test at this level.
    state : dict
        Results one section hands to a later one (the attributions for the trust checks).
    """

    adapter: Any
    model: Any
    X: np.ndarray
    names: list[str]
    y: np.ndarray
    seed: int | None
    alpha: float
    explain_rows: np.ndarray
    background: np.ndarray
    sensitive: Any = None
    expected_directions: dict[str, str] = field(default_factory=dict)
    categorical: list[str] = field(default_factory=list)
    X_train: np.ndarray | None = None
    y_train: np.ndarray | None = None
    holdout: dict[str, Any] | None = None
    state: dict[str, Any] = field(default_factory=dict)
    value_labels: dict[str, dict[float, str]] = field(default_factory=dict)

    def label(self, feature: str, value: Any) -> str:
        """A value as people read it: a category's label (text columns, or labels the user gave
        for integer codes), else the number."""
        given = self.value_labels.get(feature)
        if given is not None:
            try:
                return given.get(float(value), f"{float(value):.4g}")
            except (TypeError, ValueError):
                return str(value)
        labelled = self.adapter.categories.label(feature, value)
        if labelled is not value:
            return str(labelled)
        try:
            return f"{float(value):.4g}"
        except (TypeError, ValueError):
            return str(value)
