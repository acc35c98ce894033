"""Targets as the model knows them: labels mapped through the model's classes, checked once."""

from __future__ import annotations

from typing import Any

import numpy as np

from assay.errors import InvalidInputError

__all__ = [
    "binary_labels",
    "check_target",
    "check_value_labels",
    "class_indices",
    "recode_positive",
]


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


def check_value_labels(
    labels: Any, names: list[str], X: np.ndarray
) -> dict[str, dict[float, str]]:
    """``{column: {code: label}}`` for integer-coded columns, checked against the data."""
    if labels is None:
        return {}
    if not isinstance(labels, dict):
        msg = (
            "category_labels must be a dict {column: {code: label}}, e.g. "
            f"{{'purpose': {{0: 'car', 1: 'education'}}}}; got {type(labels).__name__}."
        )
        raise InvalidInputError(msg)
    out: dict[str, dict[float, str]] = {}
    for column, mapping in labels.items():
        if column not in names:
            msg = f"category_labels names {column!r}, which is not a feature; features: {names}."
            raise InvalidInputError(msg)
        if not isinstance(mapping, dict) or not mapping:
            msg = f"category_labels[{column!r}] must be a non-empty dict {{code: label}}."
            raise InvalidInputError(msg)
        try:
            coded = {float(k): str(v) for k, v in mapping.items()}
        except (TypeError, ValueError) as exc:
            msg = f"category_labels[{column!r}] has a code that is not a number ({exc})."
            raise InvalidInputError(msg) from exc
        values = X[:, names.index(column)]
        unknown = sorted(set(np.unique(values[np.isfinite(values)]).tolist()) - set(coded))
        if unknown:
            msg = (
                f"category_labels[{column!r}] has no label for code(s) {unknown[:10]} that occur "
                "in the data; label every code."
            )
            raise InvalidInputError(msg)
        out[str(column)] = coded
    return out


def recode_positive(classes: list[str], y: np.ndarray, positive: Any) -> np.ndarray:
    """Map ``y`` to a binary model's classes: ``positive`` -> its positive class, else negative.

    For a target recorded with other labels than the model's ("yes"/"no" against 0/1).
    """
    if len(classes) != 2:
        msg = f"positive_label needs a binary model; this one has classes {classes}."
        raise InvalidInputError(msg)
    check_target(y)
    text = np.asarray(y).astype(str)
    if str(positive) not in set(text):
        msg = (
            f"positive_label {positive!r} does not occur in the target; its labels are "
            f"{sorted(set(text))[:10]}."
        )
        raise InvalidInputError(msg)
    return np.where(text == str(positive), classes[1], classes[0]).astype(object)
