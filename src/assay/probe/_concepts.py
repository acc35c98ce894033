"""Concept-bottleneck leakage: does the task head use more than the concepts?

In a concept-bottleneck model the task head sees the concept predictor's *soft* outputs
(probabilities). Those outputs can carry information beyond the concepts they stand for
(how far an input is from a concept's boundary, correlated features the predictor picked up),
and a head trained on them uses it: the model then does not use the concepts the way its
explanation says (Mahinpei et al. 2021, "Promises and pitfalls of black-box concept learning
models"; Margeloiu et al. 2021).

:func:`concept_leakage` measures it with held-out (cross-fitted) accuracies of heads trained

- on the soft concept outputs (what the model does);
- on the true concepts, with the same head;
- on the soft outputs with the within-concept information removed (each soft value replaced
  by the mean soft value of its true concept class, i.e. calibrated hard values);
- on a lookup table of the true concept configurations (the best any function of the concepts
  can do, when there are enough rows per configuration).

Leakage is the soft head's accuracy minus the best of the concept-only heads. The soft and
reference heads are compared on the same held-out rows with an exact one-sided McNemar test;
picking the best reference on the same rows makes the test conservative.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from assay._validation import as_matrix, as_vector, check_int, check_seed
from assay.errors import InvalidInputError
from assay.probe._checks import CheckResult

__all__ = ["concept_leakage"]

_REFERENCES = ("concepts", "calibrated", "lookup")


def _default_head() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000)


def _calibrate(S: np.ndarray, C: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Replace each soft value by the training mean of its column within its true concept class."""
    out = np.empty_like(S)
    for j in range(S.shape[1]):
        fallback = S[train, j].mean()
        col = np.full(S.shape[0], fallback)
        for v in np.unique(C[train, j]):
            col[C[:, j] == v] = S[train][C[train, j] == v, j].mean()
        out[:, j] = col
    return out


def _lookup_predict(
    C: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, fallback: np.ndarray
) -> np.ndarray:
    """Majority class per concept configuration (training rows); ``fallback`` where unseen."""
    n_classes = int(y.max()) + 1
    _, key = np.unique(C, axis=0, return_inverse=True)
    key = key.ravel()
    counts = np.zeros((int(key.max()) + 1, n_classes))
    np.add.at(counts, (key[train], y[train]), 1.0)
    prior = np.bincount(y[train], minlength=n_classes) / train.size
    counts += 1e-6 * prior  # ties go to the more frequent class
    seen = counts[key[test]].sum(axis=1) >= 1.0
    pred = fallback.copy()
    pred[seen] = np.argmax(counts[key[test][seen]], axis=1)
    return pred


def concept_leakage(
    concepts_soft: Any,
    concepts_true: Any,
    y: Any,
    *,
    task_model: Any = None,
    n_splits: int = 5,
    alpha: float = 0.05,
    seed: int | None = None,
) -> CheckResult:
    """Does a head on soft concept outputs beat every function of the true concepts?

    Parameters
    ----------
    concepts_soft : array-like (n, k)
        The concept predictor's soft outputs (probabilities or logits), one column per concept.
    concepts_true : array-like (n, k)
        The true (annotated) concepts, same columns; binary or categorical codes.
    y : array-like (n,)
        Task labels (two or more classes).
    task_model : scikit-learn classifier, optional
        The head (cloned for every fit). Default ``LogisticRegression(max_iter=1000)``.
    n_splits : int
        Stratified cross-fitting folds; every accuracy is measured on held-out rows.
    alpha : float
        Significance level of the one-sided test (soft head better than the concepts allow).
    seed : int, optional
        Fold assignment.

    Returns
    -------
    CheckResult
        Metrics ``accuracy_soft``, ``accuracy_concepts`` (same head on the true concepts),
        ``accuracy_calibrated`` (soft values replaced by calibrated hard values),
        ``accuracy_lookup`` (majority class per concept configuration), ``accuracy_reference``
        (the best of those three), ``leakage`` (soft minus reference), its two-sided
        ``1 - alpha`` interval ``ci_low``/``ci_high`` (exact, conditional on the number of rows
        where the two heads disagree) and ``p_value`` (exact one-sided McNemar test). Status
        ``"alert"`` when ``p_value < alpha``: the head uses information beyond the concepts.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(400, 3))
    >>> soft = 1 / (1 + np.exp(-3 * x))            # concept probabilities
    >>> c = (x > 0).astype(int)                   # the concepts are the signs
    >>> y = (x.sum(axis=1) > 0).astype(int)        # the task uses the magnitudes
    >>> r = concept_leakage(soft, c, y, seed=0)
    >>> r.status, r.metrics["leakage"] > 0
    ('alert', True)
    """
    from scipy.stats import binomtest
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold

    seed = check_seed(seed)
    n_splits = check_int(n_splits, name="n_splits", minimum=2)
    if not 0.0 < float(alpha) < 1.0:
        msg = f"alpha must be in (0, 1); got {alpha!r}."
        raise InvalidInputError(msg)
    alpha = float(alpha)
    S, _ = as_matrix(concepts_soft, name="concepts_soft", min_rows=2 * n_splits)
    C, _ = as_matrix(concepts_true, name="concepts_true")
    if C.shape != S.shape:
        msg = (
            f"concepts_true has shape {C.shape} but concepts_soft has {S.shape}; pass one "
            "column per concept in both, in the same order."
        )
        raise InvalidInputError(msg)
    y_raw = as_vector(y, name="y", n_rows=S.shape[0], numeric=False)
    classes, y_idx = np.unique(y_raw, return_inverse=True)
    y_idx = y_idx.astype(np.int64)
    counts = np.bincount(y_idx)
    if classes.size < 2:
        msg = f"y has a single class {classes.tolist()}; the task needs at least two."
        raise InvalidInputError(msg)
    if counts.min() < n_splits:
        msg = (
            f"the smallest class of y has {int(counts.min())} rows, fewer than n_splits="
            f"{n_splits}; lower n_splits or pass more rows."
        )
        raise InvalidInputError(msg)
    head = _default_head() if task_model is None else task_model
    if not (hasattr(head, "fit") and hasattr(head, "predict")):
        msg = f"task_model must be a scikit-learn classifier; got {type(head).__name__}."
        raise InvalidInputError(msg)

    n = y_idx.size
    correct = {name: np.zeros(n, dtype=bool) for name in ("soft", *_REFERENCES)}
    cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    for train, test in cv.split(S, y_idx):
        yt = y_idx[train]
        pred = clone(head).fit(S[train], yt).predict(S[test])
        correct["soft"][test] = pred == y_idx[test]
        pred_c = np.asarray(clone(head).fit(C[train], yt).predict(C[test]), dtype=np.int64)
        correct["concepts"][test] = pred_c == y_idx[test]
        S_cal = _calibrate(S, C, train)
        pred = clone(head).fit(S_cal[train], yt).predict(S_cal[test])
        correct["calibrated"][test] = pred == y_idx[test]
        pred = _lookup_predict(C, y_idx, train, test, fallback=pred_c)
        correct["lookup"][test] = pred == y_idx[test]
    acc = {name: float(v.mean()) for name, v in correct.items()}
    ref = max(_REFERENCES, key=lambda name: acc[name])
    soft_only = int(np.sum(correct["soft"] & ~correct[ref]))
    ref_only = int(np.sum(~correct["soft"] & correct[ref]))
    m = soft_only + ref_only
    leak = (soft_only - ref_only) / n
    if m == 0:
        p_value, ci_low, ci_high = 1.0, 0.0, 0.0
    else:
        p_value = float(binomtest(soft_only, m, 0.5, alternative="greater").pvalue)
        ci = binomtest(soft_only, m, 0.5).proportion_ci(confidence_level=1.0 - alpha)
        ci_low, ci_high = (2 * ci.low - 1) * m / n, (2 * ci.high - 1) * m / n
    ref_words = {
        "concepts": "the same head on the true concepts",
        "calibrated": "the same head on calibrated hard concept values",
        "lookup": "a lookup table of the concept configurations",
    }[ref]
    if p_value < alpha:
        verdict = (
            f"The head uses information beyond the concepts: trained on the soft concept "
            f"outputs it reaches {acc['soft']:.2f} held-out accuracy, {leak:+.2f} above the best "
            f"any function of the concepts reached ({ref_words}: {acc[ref]:.2f}; one-sided "
            f"McNemar p = {p_value:.2g}). Its predictions are not explained by the concepts alone."
        )
        status, passed = "alert", False
    else:
        relation = "above" if leak >= 0.005 else ("below" if leak <= -0.005 else "about equal to")
        verdict = (
            f"No evidence of leakage: the head on the soft concept outputs reaches "
            f"{acc['soft']:.2f} held-out accuracy, {relation} the best function of the concepts "
            f"({ref_words}: {acc[ref]:.2f}; difference {leak:+.2f}, interval "
            f"[{ci_low:+.2f}, {ci_high:+.2f}], p = {p_value:.2g})."
        )
        status, passed = "ok", True
    return CheckResult(
        name="concept_leakage",
        verdict=verdict,
        status=status,
        passed=passed,
        metrics={
            "accuracy_soft": acc["soft"],
            "accuracy_concepts": acc["concepts"],
            "accuracy_calibrated": acc["calibrated"],
            "accuracy_lookup": acc["lookup"],
            "accuracy_reference": acc[ref],
            "leakage": leak,
            "ci_low": float(ci_low),
            "ci_high": float(ci_high),
            "p_value": p_value,
        },
        data={
            "reference": ref,
            "soft_only_correct": soft_only,
            "reference_only_correct": ref_only,
            "classes": classes.tolist(),
        },
        params={
            "task_model": type(head).__name__,
            "n_splits": n_splits,
            "alpha": alpha,
            "seed": seed,
            "n_samples": n,
            "n_concepts": S.shape[1],
        },
    )
