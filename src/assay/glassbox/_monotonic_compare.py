"""What a monotonicity constraint costs: :func:`compare_monotonic`.

Fits the constrained network and the same network without constraints (same size, same
training settings, same split and seed) and reports the test score of each (AUC for binary
classification, RMSE for regression) plus the violations each shows under
:func:`check_monotonic`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np

from assay._results import FromDict, ResultDisplay
from assay._validation import as_matrix, as_vector, check_seed
from assay.errors import InvalidInputError

__all__ = ["MonotonicComparison", "compare_monotonic"]


@dataclass(frozen=True)
class MonotonicComparison(ResultDisplay, FromDict):
    """Result of :func:`compare_monotonic`.

    Attributes
    ----------
    metric : {"auc", "rmse"}
    constrained, unconstrained : float
        Test score of each model.
    cost : float
        How much worse the constrained model scores: ``unconstrained - constrained`` for AUC,
        ``constrained - unconstrained`` for RMSE (negative: the constraint helped).
    constrained_violation_rate, unconstrained_violation_rate : float
        Share of checked pairs that broke the declared directions, on the test rows.
    monotone : dict
        The declared directions, ``{feature name: +1 or -1}``.
    n_train, n_test : int
    params : dict
        The estimator settings and seed.
    """

    metric: str
    constrained: float
    unconstrained: float
    cost: float
    constrained_violation_rate: float
    unconstrained_violation_rate: float
    monotone: dict[str, int]
    n_train: int
    n_test: int
    params: dict[str, Any]
    SCHEMA_VERSION: ClassVar[int] = 1  # this kind's one schema version
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MonotonicComparison:
        return cls(**data)


def compare_monotonic(
    X: Any,
    y: Any,
    monotone: dict[Any, Any],
    *,
    task: str = "auto",
    test_size: float = 0.25,
    seed: int | None = 0,
    n_check_pairs: int = 5000,
    **estimator_params: Any,
) -> MonotonicComparison:
    """Fit constrained and unconstrained networks of the same size and compare test scores.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    monotone : dict
        ``{feature: +1 or -1}`` for the constrained model (see
        :class:`~assay.glassbox.MonotonicMLPClassifier`).
    task : {"auto", "classification", "regression"}
        ``"auto"``: classification when ``y`` has exactly two distinct values.
    test_size : float, default 0.25
        Share of rows held out (stratified for classification).
    seed : int, default 0
        Seed of the split, both fits and the monotonicity check.
    n_check_pairs : int, default 5000
        Random pairs per feature for :func:`~assay.glassbox.check_monotonic`.
    **estimator_params
        Settings shared by both networks (``hidden_sizes``, ``max_epochs``, ...).

    Returns
    -------
    MonotonicComparison

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(600, 2))
    >>> y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(size=600) > 0).astype(int)
    >>> cmp = compare_monotonic(X, y, {0: +1}, hidden_sizes=(8,), max_epochs=20)
    >>> cmp.metric, cmp.constrained_violation_rate
    ('auc', 0.0)
    """
    from sklearn.metrics import mean_squared_error, roc_auc_score
    from sklearn.model_selection import train_test_split

    from assay.glassbox._check_monotonic import check_monotonic
    from assay.glassbox._monotonic import (
        MonotonicMLPClassifier,
        MonotonicMLPRegressor,
        parse_directions,
    )

    seed = check_seed(seed)
    Xv, names = as_matrix(X, allow_nan=True, min_rows=4)
    yv = as_vector(y, n_rows=Xv.shape[0], numeric=False)
    if task not in ("auto", "classification", "regression"):
        msg = f"task must be 'auto', 'classification' or 'regression'; got {task!r}."
        raise InvalidInputError(msg)
    if task == "auto":
        task = "classification" if np.unique(yv).size == 2 else "regression"
    if not isinstance(test_size, float) or not 0 < test_size < 1:
        msg = f"test_size must be a float in (0, 1); got {test_size!r}."
        raise InvalidInputError(msg)
    if "monotone" in estimator_params or "seed" in estimator_params:
        msg = "pass monotone and seed as arguments of compare_monotonic, not estimator settings."
        raise InvalidInputError(msg)
    signs = parse_directions(monotone, names)
    if not signs.any():
        msg = "monotone declares no direction; give at least one feature +1 or -1."
        raise InvalidInputError(msg)
    declared = {names[j]: int(signs[j]) for j in np.flatnonzero(signs)}
    import pandas as pd

    # named columns, so that monotone keys, the fits and the checks refer to the same features
    frame = pd.DataFrame(Xv, columns=names)
    clf = task == "classification"
    idx = np.arange(Xv.shape[0])
    tr, te = train_test_split(
        idx, test_size=test_size, random_state=seed, stratify=yv if clf else None
    )
    cls = MonotonicMLPClassifier if clf else MonotonicMLPRegressor
    y_fit = yv if clf else yv.astype(np.float64)
    scores, rates = {}, {}
    for kind, spec in (("constrained", declared), ("unconstrained", None)):
        est = cls(spec, seed=seed, **estimator_params).fit(frame.iloc[tr], y_fit[tr])
        if clf:
            pos = (yv[te] == est.classes_[1]).astype(int)
            scores[kind] = float(roc_auc_score(pos, est.predict_proba(frame.iloc[te])[:, 1]))
        else:
            pred = est.predict(frame.iloc[te])
            scores[kind] = float(np.sqrt(mean_squared_error(y_fit[te], pred)))
        check = check_monotonic(
            est, frame.iloc[te], declared, n_pairs=n_check_pairs, n_rows=50, seed=seed
        )
        rates[kind] = check.violation_rate
    sign = 1.0 if clf else -1.0
    return MonotonicComparison(
        metric="auc" if clf else "rmse",
        constrained=scores["constrained"],
        unconstrained=scores["unconstrained"],
        cost=sign * (scores["unconstrained"] - scores["constrained"]),
        constrained_violation_rate=rates["constrained"],
        unconstrained_violation_rate=rates["unconstrained"],
        monotone=declared,
        n_train=int(tr.size),
        n_test=int(te.size),
        params={"task": task, "test_size": test_size, "seed": seed, **estimator_params},
    )

