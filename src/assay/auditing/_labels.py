"""Targets as the model knows them: labels mapped through the model's classes, checked once."""

from __future__ import annotations

from typing import Any

import numpy as np

from assay.errors import InvalidInputError

__all__ = ["binary_labels", "check_target", "class_indices"]


def _missing(y: np.ndarray) -> np.ndarray:
    import pandas as pd

    return np.asarray(pd.isna(y), dtype=bool)


def check_target(y: np.ndarray, *, name: str = "y") -> None:
    """Refuse missing and infinite targets, naming how many and where."""
    bad = _missing(y)
    if y.dtype.kind == "f":
        bad |= np.isinf(y)
    if bad.any():
        rows = np.flatnonzero(bad)
        msg = (
            f"{name} has {rows.size} missing or infinite value(s) (first rows: "
            f"{rows[:5].tolist()}); an audit needs the true outcome of every row: drop those rows "
            "or fill them in."
        )
        raise InvalidInputError(msg)


def _as_number(label: str) -> float | None:
    try:
        return float(label)
    except (TypeError, ValueError):
        return None


def class_indices(classes: list[str], y: np.ndarray, *, name: str = "y") -> np.ndarray:
    """Index of each label of ``y`` among the model's ``classes`` (given as strings).

    A label matches a class by its text ("yes" == "yes") or, for numeric labels, by value
    (1, 1.0 and "1" all match the class "1"). Labels the model does not know are an error:
    scoring them as some other class would silently change every metric.

    Examples
    --------
    >>> import numpy as np
    >>> class_indices(["no", "yes"], np.array(["yes", "no", "yes"], dtype=object)).tolist()
    [1, 0, 1]
    >>> class_indices(["0", "1"], np.array([1.0, 0.0])).tolist()
    [1, 0]
    """
    check_target(y, name=name)
    by_text = {c: i for i, c in enumerate(classes)}
    by_value = {}
    for i, c in enumerate(classes):
        v = _as_number(c)
        if v is not None:
            by_value.setdefault(v, i)
    uniques, inverse = np.unique(np.asarray(y).astype(str), return_inverse=True)
    mapped = np.full(uniques.size, -1, dtype=np.int64)
    for j, label in enumerate(uniques):
        if label in by_text:
            mapped[j] = by_text[label]
        else:
            v = _as_number(label)
            if v is not None and v in by_value:
                mapped[j] = by_value[v]
    unknown = uniques[mapped < 0]
    if unknown.size:
        msg = (
            f"{name} holds label(s) {unknown[:5].tolist()} that the model does not know; its "
            f"classes are {classes}. Pass the labels as the model was trained on them (or "
            "recode the target to those classes)."
        )
        raise InvalidInputError(msg)
    return mapped[inverse.ravel()]


def binary_labels(adapter: Any, y: np.ndarray, *, name: str = "y") -> np.ndarray:
    """0/1 labels, 1 for the model's last class (the positive class of a binary model)."""
    idx = class_indices(adapter.output_names, y, name=name)
    return (idx == len(adapter.output_names) - 1).astype(int)
