"""Checks of the labels and predictions given to the group metrics (before any rate is counted).

Rates are counted as ``y == pos_label``, so a wrong input does not fail loudly on its own: NaN
counts as negative, probabilities are never equal to 1, and ``"1"`` is not ``1``. These checks
turn each of those into an error that says what was seen and how to fix it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from assay.errors import InvalidInputError

__all__ = ["check_labels", "check_no_missing"]

_BINARY = {0, 1}


def check_no_missing(values: np.ndarray, *, name: str, hint: str = "") -> None:
    """Raise on NaN/None/inf, naming the count and the first rows."""
    missing = pd.isna(values)
    if values.dtype.kind == "f":
        missing = missing | ~np.isfinite(values)
    if missing.any():
        rows = np.flatnonzero(missing)[:5].tolist()
        msg = (
            f"{name} has {int(missing.sum())} missing or non-finite value(s) (first rows "
            f"{rows}). They would silently count as a negative label; drop those rows from all "
            f"inputs or fill them{hint}."
        )
        raise InvalidInputError(msg)


def _show(values: list[Any], limit: int = 6) -> str:
    shown = ", ".join(repr(v) for v in values[:limit])
    return "{" + shown + (", ..." if len(values) > limit else "") + "}"


def _uniques(arr: np.ndarray) -> list[Any]:
    vals = pd.unique(pd.Series(arr, dtype=object))
    out = [v.item() if isinstance(v, np.generic) else v for v in vals]
    try:
        return sorted(out)
    except TypeError:
        return sorted(out, key=repr)


def _non_integer_numbers(arr: np.ndarray) -> np.ndarray:
    """The values of a numeric array that are not whole numbers (empty for other dtypes)."""
    if arr.dtype.kind not in "fc":
        return np.empty(0)
    return arr[arr != np.round(arr)]


def check_labels(y_true: np.ndarray, y_pred: np.ndarray, *, pos_label: Any) -> None:
    """Labels and predictions are class labels of one kind, and ``pos_label`` is one of them.

    Raises :class:`InvalidInputError` for probabilities or scores passed as predictions, for
    label sets that do not match (``{"0", "1"}`` against ``{0, 1}``, ``{2, 3}`` against
    ``{0, 1}``) and for a ``pos_label`` that occurs nowhere.
    """
    for name, arr in (("y_pred", y_pred), ("y_true", y_true)):
        frac = _non_integer_numbers(arr)
        if frac.size:
            lo, hi = float(np.min(arr)), float(np.max(arr))
            looks = "probabilities" if 0.0 <= lo and hi <= 1.0 else "scores"
            msg = (
                f"{name} holds {frac.size} non-integer value(s) in [{lo:.3g}, {hi:.3g}] (e.g. "
                f"{float(frac[0]):.3g}); they look like {looks}, but rate metrics need class "
                f"labels (every rate would read 0). Threshold them first, e.g. "
                f"{name} = (scores >= 0.5).astype(int), or use the metric 'mean_prediction' "
                "for scores."
            )
            raise InvalidInputError(msg)
    ut, up = _uniques(y_true), _uniques(y_pred)
    st, sp = set(ut), set(up)
    if not (sp <= st or st <= sp):
        msg = (
            f"the labels of y_true {_show(ut)} and of y_pred {_show(up)} do not match; each "
            "must use the same label values (e.g. both 0/1 integers, not the strings '0'/'1' "
            "against the numbers 0/1). Convert one to the other's labels; pass pos_label= to "
            "name the positive label."
        )
        raise InvalidInputError(msg)
    known = st | sp
    try:
        present = pos_label in known
    except TypeError:  # unhashable pos_label
        present = False
    if not present and not known <= _BINARY:
        msg = (
            f"pos_label={pos_label!r} occurs neither in y_true {_show(ut)} nor in y_pred "
            f"{_show(up)}, so every rate would be 0. Pass the positive label, e.g. "
            f"pos_label={max(known, key=repr)!r}."
        )
        raise InvalidInputError(msg)
