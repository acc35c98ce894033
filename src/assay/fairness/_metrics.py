"""Group metrics defined as ratios of counts, so that every value carries its denominator.

A built-in metric is ``numerator_mask.sum() / denominator_mask.sum()`` over the rows of a group,
which makes three things exact and cheap: the denominator reported next to each value, the
detection of undefined rates (a zero denominator), and vectorized bootstrap resamples.
Any other callable ``f(y_true, y_pred) -> float`` is accepted too; its denominator is the group
size.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from assay.errors import InvalidInputError

__all__ = ["RATE_METRICS", "MetricSpec", "resolve_metrics"]


@dataclass(frozen=True)
class MetricSpec:
    """One metric: either a rate (``numerator`` / ``denominator`` masks) or a callable."""

    name: str
    numerator: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    denominator: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    function: Callable[[np.ndarray, np.ndarray], Any] | None = None
    description: str = ""
    scores: bool = False  # the numerator reads raw y_pred values rather than 0/1 labels
    raw_true: bool = False  # ... and raw (numeric) y_true values too (regression errors)

    @property
    def is_rate(self) -> bool:
        return self.function is None

    def masks(self, t: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-row numerator and denominator contributions (float64) for labels ``t``, ``p``."""
        num = np.asarray(self.numerator(t, p), dtype=np.float64)
        den = np.asarray(self.denominator(t, p), dtype=np.float64)
        return num, den


def _ones(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    return np.ones_like(t, dtype=np.float64)


# t, p are 0/1 float arrays: t = (y_true == pos_label), p = (y_pred == pos_label), except for
# "mean_prediction" where p holds the raw predictions (scores), and "mean_absolute_error" where
# both hold the raw numbers.
RATE_METRICS: dict[str, MetricSpec] = {
    "selection_rate": MetricSpec(
        "selection_rate", lambda t, p: p, _ones, description="share predicted positive"
    ),
    "true_positive_rate": MetricSpec(
        "true_positive_rate", lambda t, p: t * p, lambda t, p: t, description="recall, TPR"
    ),
    "false_positive_rate": MetricSpec(
        "false_positive_rate", lambda t, p: (1 - t) * p, lambda t, p: 1 - t, description="FPR"
    ),
    "true_negative_rate": MetricSpec(
        "true_negative_rate",
        lambda t, p: (1 - t) * (1 - p),
        lambda t, p: 1 - t,
        description="specificity, TNR",
    ),
    "false_negative_rate": MetricSpec(
        "false_negative_rate", lambda t, p: t * (1 - p), lambda t, p: t, description="FNR"
    ),
    "precision": MetricSpec(
        "precision", lambda t, p: t * p, lambda t, p: p, description="positive predictive value"
    ),
    "accuracy": MetricSpec(
        "accuracy", lambda t, p: (t == p).astype(np.float64), _ones, description="accuracy"
    ),
    "base_rate": MetricSpec(
        "base_rate", lambda t, p: t, _ones, description="share of true positives in the group"
    ),
    "mean_prediction": MetricSpec(
        "mean_prediction",
        lambda t, p: p,
        _ones,
        description="mean of y_pred (scores)",
        scores=True,
    ),
    "mean_absolute_error": MetricSpec(
        "mean_absolute_error",
        lambda t, p: np.abs(t - p),
        _ones,
        description="mean |y_true - y_pred| (regression)",
        scores=True,
        raw_true=True,
    ),
}
_ALIASES = {"recall": "true_positive_rate", "tpr": "true_positive_rate",
            "fpr": "false_positive_rate", "tnr": "true_negative_rate",
            "fnr": "false_negative_rate"}  # fmt: skip


def _spec_from_string(name: str) -> MetricSpec:
    key = _ALIASES.get(name, name)
    if key not in RATE_METRICS:
        msg = (
            f"Unknown metric {name!r}. Built-in metrics: {sorted(RATE_METRICS)} (aliases "
            f"{sorted(_ALIASES)}); or pass a callable f(y_true, y_pred) -> float."
        )
        raise InvalidInputError(msg)
    return RATE_METRICS[key]


def resolve_metrics(metrics: Any) -> list[MetricSpec]:
    """Turn a str, callable, list of those, or ``{name: str | callable}`` into specs."""
    if isinstance(metrics, str):
        return [_spec_from_string(metrics)]
    if callable(metrics):
        name = getattr(metrics, "__name__", "metric")
        return [MetricSpec(name, function=metrics)]
    items: list[tuple[str, Any]]
    if isinstance(metrics, Mapping):
        items = [(str(k), v) for k, v in metrics.items()]
    elif isinstance(metrics, Sequence) and not isinstance(metrics, bytes):
        items = []
        for m in metrics:
            name = m if isinstance(m, str) else getattr(m, "__name__", None)
            if name is None:
                msg = f"metric {m!r} has no name; pass metrics as a dict {{name: metric}}."
                raise InvalidInputError(msg)
            items.append((name, m))
    else:
        msg = (
            f"metrics must be a name, a callable, a list of those or a dict; got "
            f"{type(metrics).__name__}."
        )
        raise InvalidInputError(msg)
    if not items:
        msg = "metrics is empty; pass at least one metric such as 'selection_rate'."
        raise InvalidInputError(msg)
    specs = []
    for name, m in items:
        if isinstance(m, str):
            base = _spec_from_string(m)
            specs.append(
                MetricSpec(
                    name, base.numerator, base.denominator, None, base.description, base.scores,
                    base.raw_true,
                )
            )
        elif callable(m):
            specs.append(MetricSpec(name, function=m))
        else:
            msg = f"metric {name!r} must be a metric name or a callable; got {type(m).__name__}."
            raise InvalidInputError(msg)
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        msg = f"metric names must be unique; got {names}."
        raise InvalidInputError(msg)
    return specs
