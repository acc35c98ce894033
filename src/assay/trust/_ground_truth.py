"""Ground truth: closed-form Shapley values of linear and additive models, and agreement metrics.

For a model that is a sum of one-feature functions, ``f(x) = c + sum_j g_j(x_j)``, the
interventional Shapley value against a background set ``B`` is closed-form:

    phi_j(x) = g_j(x_j) - mean_{b in B} g_j(b_j)

(each feature's game is separate; every coalition adds the same marginal contribution). For a
linear model ``g_j(x_j) = w_j x_j`` this is ``w_j (x_j - mean_B x_j)``. These give exact answers
to check any explainer against, with no sampling error and no enumeration.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from assay._validation import as_matrix
from assay.attribution._explanation import Explanation
from assay.errors import InvalidInputError, ModelError
from assay.trust._common import (
    agreement_rows,
    check_explanation,
    check_top_k,
    resolve_output,
)
from assay.trust._result import AgreementResult

__all__ = ["additive_shapley", "agreement", "linear_model_shapley", "linear_shapley"]


def _names(X: Any, values: np.ndarray, names: list[str]) -> list[str]:
    return names if hasattr(X, "columns") else [f"x{i}" for i in range(values.shape[1])]


def linear_shapley(
    coef: Any,
    X: Any,
    *,
    background: Any,
    intercept: Any = 0.0,
    output_space: str = "raw",
    output_names: Sequence[str] | None = None,
) -> Explanation:
    """Exact interventional Shapley values of ``f(x) = intercept + x @ coef.T``.

    Parameters
    ----------
    coef : array-like of shape (n_features,) or (n_outputs, n_features)
    X : array-like of shape (n_samples, n_features)
        Rows to explain.
    background : array-like of shape (n_background, n_features)
        Reference rows; the values are ``coef * (x - background.mean(0))``.
    intercept : float or array-like of shape (n_outputs,)
    output_space : str, default "raw"
        Recorded on the result (``"log_odds"`` for a logistic model's margin).
    output_names : sequence of str, optional

    Returns
    -------
    Explanation
        ``method="linear_closed_form"``; ``values.sum(1) + base_values`` equals ``f(X)``.

    Examples
    --------
    >>> import numpy as np
    >>> exp = linear_shapley([2.0, -1.0], [[1.0, 1.0]], background=[[0.0, 0.0], [2.0, 4.0]])
    >>> exp.values[0, :, 0].tolist(), float(exp.base_values[0, 0])
    ([0.0, 1.0], 0.0)
    """
    Xv, names = as_matrix(X, name="X")
    bg, _ = as_matrix(background, name="background")
    W = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    if W.ndim != 2 or W.shape[1] != Xv.shape[1] or bg.shape[1] != Xv.shape[1]:
        msg = (
            f"coef has shape {np.shape(coef)}, X has {Xv.shape[1]} columns and background has "
            f"{bg.shape[1]}; coef needs one weight per column (shape (n_features,) or "
            "(n_outputs, n_features))."
        )
        raise InvalidInputError(msg)
    b = np.broadcast_to(np.asarray(intercept, dtype=np.float64).reshape(-1), (W.shape[0],))
    mu = bg.mean(axis=0)
    values = (Xv - mu)[:, :, None] * W.T[None, :, :]
    base = np.broadcast_to(b + mu @ W.T, (Xv.shape[0], W.shape[0]))
    k = W.shape[0]
    return Explanation(
        values=values,
        base_values=base,
        data=Xv,
        feature_names=_names(X, Xv, names),
        output_names=list(output_names)
        if output_names
        else [f"output_{i}" for i in range(k)]
        if k > 1
        else ["prediction"],
        method="linear_closed_form",
        output_space=output_space,
        params={"background_rows": int(bg.shape[0])},
    )


def linear_model_shapley(
    model: Any, X: Any, *, background: Any, output_space: str | None = None
) -> Explanation:
    """Closed-form Shapley values of a fitted scikit-learn linear model (``coef_``, ``intercept_``).

    Regressors are explained in their raw output; classifiers in their margin
    (``output_space="log_odds"``), which is linear — their probabilities are not.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> X = np.random.default_rng(0).normal(size=(30, 2))
    >>> model = LinearRegression().fit(X, X @ [1.0, 2.0])
    >>> exp = linear_model_shapley(model, X[:3], background=X)
    >>> bool(np.allclose(exp.values.sum(1) + exp.base_values, model.predict(X[:3])[:, None]))
    True
    """
    coef = getattr(model, "coef_", None)
    if coef is None:
        msg = (
            f"{type(model).__name__} has no coef_; closed-form Shapley values need a fitted "
            "linear model (LinearRegression, Ridge, LogisticRegression, ...)."
        )
        raise ModelError(msg)
    from sklearn.base import is_classifier

    clf = is_classifier(model)
    space = output_space or ("log_odds" if clf else "raw")
    if clf and space != "log_odds":
        msg = (
            f"a linear classifier is linear only in its margin; got output_space={space!r}. "
            "Use output_space='log_odds' (and explain the model in that space)."
        )
        raise InvalidInputError(msg)
    names = None
    if clf:
        classes = [str(c) for c in model.classes_]
        names = [classes[1]] if len(classes) == 2 else classes
    elif np.ndim(coef) == 1:
        names = ["prediction"]
    return linear_shapley(
        coef,
        X,
        background=background,
        intercept=getattr(model, "intercept_", 0.0),
        output_space=space,
        output_names=names,
    )


def additive_shapley(
    components: Sequence[Callable[[np.ndarray], Any] | None],
    X: Any,
    *,
    background: Any,
    intercept: float = 0.0,
) -> Explanation:
    """Exact interventional Shapley values of ``f(x) = intercept + sum_j g_j(x_j)``.

    Parameters
    ----------
    components : sequence of callables or None, one per feature
        ``g_j`` maps a 1-D array of feature ``j``'s values to the term's values; ``None`` for
        a feature the model does not use.
    X : array-like of shape (n_samples, n_features)
    background : array-like of shape (n_background, n_features)
    intercept : float

    Returns
    -------
    Explanation
        ``method="additive_closed_form"``, one output ``"prediction"``.

    Examples
    --------
    >>> import numpy as np
    >>> exp = additive_shapley([np.square, None], [[3.0, 5.0]], background=[[1.0, 0.0]])
    >>> exp.values[0, :, 0].tolist()
    [8.0, 0.0]
    """
    Xv, names = as_matrix(X, name="X")
    bg, _ = as_matrix(background, name="background")
    d = Xv.shape[1]
    if len(components) != d or bg.shape[1] != d:
        msg = (
            f"got {len(components)} components for {d} columns of X (background has "
            f"{bg.shape[1]}); pass one callable (or None) per feature."
        )
        raise InvalidInputError(msg)
    values = np.zeros((Xv.shape[0], d))
    base = float(intercept)
    for j, g in enumerate(components):
        if g is None:
            continue
        gx = np.asarray(g(Xv[:, j]), dtype=np.float64).reshape(-1)
        gb = np.asarray(g(bg[:, j]), dtype=np.float64).reshape(-1)
        if gx.shape[0] != Xv.shape[0] or gb.shape[0] != bg.shape[0]:
            msg = f"component {j} must return one value per input value."
            raise InvalidInputError(msg)
        values[:, j] = gx - gb.mean()
        base += gb.mean()
    return Explanation(
        values=values[:, :, None],
        base_values=np.full((Xv.shape[0], 1), base),
        data=Xv,
        feature_names=_names(X, Xv, names),
        output_names=["prediction"],
        method="additive_closed_form",
        output_space="raw",
        params={"background_rows": int(bg.shape[0])},
    )


def agreement(
    explanation: Any,
    reference: Any,
    *,
    top_k: int | None = None,
    output: Any = None,
    reference_output: Any = None,
    min_agreement: float = 0.8,
) -> AgreementResult:
    """How well an explanation recovers reference attributions of the same rows.

    Parameters
    ----------
    explanation, reference : Explanation
        Same rows, same features (the reference is typically from :func:`linear_shapley`,
        :func:`linear_model_shapley` or :func:`additive_shapley`).
    top_k : int, optional
        Size of the top set; default a quarter of the features, rounded up.
    output, reference_output : int or str, optional
        Output columns to compare (see :func:`faithfulness`); ``reference_output`` defaults to
        the same name as ``output`` when the reference has it, else its only column.
    min_agreement : float, default 0.8
        Mean top-k sign agreement below which the result is a warning (half: alert).

    Returns
    -------
    AgreementResult

    Examples
    --------
    >>> import numpy as np
    >>> ref = linear_shapley([3.0, 0.0, -1.0], [[1.0, 1.0, 1.0]], background=[[0.0, 0.0, 0.0]])
    >>> res = agreement(ref, ref, top_k=2)
    >>> float(res.feature_agreement[0]), float(res.sign_agreement[0])
    (1.0, 1.0)
    """
    exp = check_explanation(explanation)
    ref = check_explanation(reference, name="reference")
    o = resolve_output(exp, output)
    if reference_output is None:
        name = exp.output_names[o]
        ro = ref.output_names.index(name) if name in ref.output_names else resolve_output(ref, None)
    else:
        ro = resolve_output(ref, reference_output)
    if exp.values.shape[:2] != ref.values.shape[:2]:
        msg = (
            f"the explanation covers {exp.values.shape[0]} rows x {exp.values.shape[1]} features "
            f"but the reference {ref.values.shape[0]} x {ref.values.shape[1]}; explain the same "
            "rows with the same features."
        )
        raise InvalidInputError(msg)
    d = exp.values.shape[1]
    k = check_top_k(top_k, d)
    if not (0 <= float(min_agreement) <= 1):
        msg = f"min_agreement must be in [0, 1]; got {min_agreement!r}."
        raise InvalidInputError(msg)
    A = exp.values[:, :, o]
    B = ref.values[:, :, ro]
    m = agreement_rows(A, B, k)
    return AgreementResult(
        top_k=k,
        feature_agreement=m["feature"],
        rank_agreement=m["rank"],
        sign_agreement=m["sign"],
        rank_correlation=m["rank_correlation"],
        max_abs_error=np.abs(A - B).max(axis=1),
        min_agreement=float(min_agreement),
        method=exp.method,
        reference=f"{ref.method} reference",
        params={"output": exp.output_names[o], "reference_output": ref.output_names[ro]},
    )
