"""The value of measuring a missing feature, row by row.

For a row with feature ``j`` missing, measuring ``j`` would reveal a value ``v`` drawn from its
conditional distribution given the observed features (see ``_conditional``), after which the
model predicts ``p_v = f(x with x_j = v)``. Before measuring, the best prediction consistent
with those beliefs is their average ``p_bar = E_v[p_v]``. Taking the model after measurement
as calibrated, the outcome follows ``p_v``, and the value of measuring is the expected
reduction in loss from predicting ``p_v`` instead of ``p_bar``:

* ``loss="log_loss"``: ``E_v[KL(p_v || p_bar)]`` nats, the mutual information between the
  outcome and the measurement under the model (equal to ``loss="entropy"``:
  ``H(p_bar) - E_v[H(p_v)]``, which is estimated the same way);
* ``loss="squared_error"`` (regression): ``E_v[(p_v - p_bar)^2]``, the variance of the
  prediction over plausible values.

Using ``p_bar`` rather than the model's own prediction with the feature missing keeps
quirks of how a model routes missing values out of the value: a feature that cannot change
the prediction is worth exactly zero. The decision-change probability compares with the
decision taken now, ``P_v[(p_v >= t) != (p_now >= t)]`` where ``p_now = f(x)``.
Each value is a mean over the sampled values, so its standard error is the sample standard
deviation over ``sqrt(n_samples)`` (the small extra error from estimating ``p_bar`` is
ignored).
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from assay._validation import as_matrix, check_int, check_seed
from assay.acquire._conditional import sample_conditional
from assay.acquire._result import ValueOfInformation
from assay.errors import AssayWarning, InvalidInputError
from assay.model import wrap

__all__ = ["value_of_information"]

LOSSES = ("log_loss", "entropy", "squared_error")
_EPS = 1e-12


def _entropy(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1.0)
    return -(p * np.log(p)).sum(axis=-1)


def _kl(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1.0)
    q = np.clip(q, _EPS, 1.0)
    return (p * (np.log(p) - np.log(q))).sum(axis=-1)


def _as_distribution(out: np.ndarray, output_space: str) -> np.ndarray:
    if output_space == "probability":
        return out if out.shape[-1] > 1 else np.concatenate([1 - out, out], axis=-1)
    if output_space == "log_odds":
        if out.shape[-1] == 1:
            p = 1.0 / (1.0 + np.exp(-out))
            return np.concatenate([1 - p, p], axis=-1)
        z = out - out.max(axis=-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)
    msg = f"output space {output_space!r} is not a probability; use loss='squared_error'."
    raise InvalidInputError(msg)


def value_of_information(
    model: Any,
    X_partial: Any,
    *,
    X_reference: Any,
    candidates: Sequence[str] | None = None,
    cost: Mapping[str, float] | None = None,
    loss: str | None = None,
    threshold: float = 0.5,
    n_samples: int = 50,
    imputer: Any = None,
    seed: int | None = None,
) -> ValueOfInformation:
    """Expected value of measuring each missing candidate feature, for every row.

    Parameters
    ----------
    model : model or ModelAdapter
        Must accept NaN for the candidate features (HistGradientBoosting, XGBoost, LightGBM,
        or a Pipeline that imputes), or pass ``imputer``.
    X_partial : DataFrame or array (n_samples, n_features)
        Rows with missing values (NaN) for some candidate features.
    X_reference : DataFrame or array (n_reference, n_features)
        Reference data (e.g. the training set) used to estimate each candidate's conditional
        distribution given the observed features (nearest neighbours; see Notes).
    candidates : list of str, optional
        Features whose acquisition is valued. Default: every feature with a missing value in
        ``X_partial``.
    cost : dict, optional
        Cost of measuring each candidate; the ranking then also reports value per unit cost.
    loss : {"log_loss", "entropy", "squared_error"}, optional
        Default ``"log_loss"`` for classifiers and models whose output space is a
        probability or log-odds, ``"squared_error"`` otherwise.
    threshold : float, default 0.5
        Decision threshold on the positive-class probability (binary models) for the
        decision-change probability; strictly between 0 and 1.
    n_samples : int, default 50
        Plausible values drawn per (row, feature): the nearest ``n_samples`` reference rows.
        When fewer reference rows measure the feature, only those distinct values are used
        (an :class:`~assay.errors.AssayWarning` says so; ``params["n_samples_used"]`` gives
        the smallest count per candidate), so the standard error never claims precision
        that repeated draws would fake.
    imputer : fitted transformer, optional
        Applied before the model when the model cannot take NaN.
    seed : int, optional
        Recorded for reproducibility (the neighbour draw is deterministic).

    Returns
    -------
    ValueOfInformation

    Notes
    -----
    The conditional distribution is estimated by nearest neighbours in the standardized
    observed features among reference rows where the candidate is measured. When the
    candidate is missing not at random, the measured reference rows may differ from the rows
    that lack it; the neighbours condition on the observed features only.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import HistGradientBoostingClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(2000, 2)); y = (X[:, 0] > 0).astype(int)
    >>> model = HistGradientBoostingClassifier(max_iter=30).fit(X, y)
    >>> Xq = X[:5].copy(); Xq[:, 0] = np.nan
    >>> voi = value_of_information(model, Xq, X_reference=X, n_samples=20)
    >>> voi.values.shape
    (5, 1)
    """
    seed = check_seed(seed)
    n_samples = check_int(n_samples, name="n_samples", minimum=2)
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, numbers.Real)
        or not 0.0 < float(threshold) < 1.0
    ):
        msg = (
            f"threshold must be a probability strictly between 0 and 1 (the decision cut-off "
            f"on the positive-class probability); got {threshold!r}."
        )
        raise InvalidInputError(msg)
    adapter = wrap(model)
    Xp, names = adapter.prepare(X_partial, name="X_partial", allow_nan=True)
    Xr, _ = adapter.prepare(X_reference, name="X_reference", allow_nan=True)
    if loss is None:
        probabilistic = adapter.is_classifier or adapter.output_space != "raw"
        loss = "log_loss" if probabilistic else "squared_error"
    if loss not in LOSSES:
        msg = f"loss must be one of {LOSSES}; got {loss!r}."
        raise InvalidInputError(msg)
    if candidates is None:
        cand_idx = [j for j in range(Xp.shape[1]) if np.isnan(Xp[:, j]).any()]
        if not cand_idx:
            msg = "X_partial has no missing values, so there is nothing to acquire."
            raise InvalidInputError(msg)
    else:
        unknown = [c for c in candidates if c not in names]
        if unknown:
            msg = f"unknown candidate feature(s) {unknown}; known features: {names}."
            raise InvalidInputError(msg)
        cand_idx = [names.index(c) for c in candidates]
    cost_arr = None
    if cost is not None:
        missing_cost = [names[j] for j in cand_idx if names[j] not in cost]
        if missing_cost:
            msg = f"cost gives no value for candidate(s) {missing_cost}; give one per candidate."
            raise InvalidInputError(msg)
        cost_arr = np.array([float(cost[names[j]]) for j in cand_idx])
        if not np.all(np.isfinite(cost_arr)) or np.any(cost_arr <= 0):
            msg = f"costs must be positive finite numbers; got {cost_arr.tolist()}."
            raise InvalidInputError(msg)
    n_measured = {}
    for j in cand_idx:
        count = n_measured[names[j]] = int((~np.isnan(Xr[:, j])).sum())
        if count < 2:
            seen = "never measures {!r}" if count == 0 else "measures {!r} in only 1 row"
            msg = (
                f"X_reference {seen.format(names[j])}; at least 2 measured rows are needed to "
                "estimate its distribution (a single value has no spread, so every value of "
                "information would be 0). Pass more reference rows, e.g. the training set."
            )
            raise InvalidInputError(msg)

    predict = _predictor(adapter, imputer)
    n, c = Xp.shape[0], len(cand_idx)
    values = np.full((n, c), np.nan)
    stderr = np.full((n, c), np.nan)
    change = np.full((n, c), np.nan)
    now = predict(Xp)
    used: dict[str, int] = {}
    for col, j in enumerate(cand_idx):
        rows = np.flatnonzero(np.isnan(Xp[:, j]))
        if rows.size == 0:
            continue
        n_draw = min(n_samples, n_measured[names[j]])  # never more than the distinct values
        draws, n_used = sample_conditional(Xp, rows, j, Xr, n_neighbors=n_draw)
        k = np.minimum(n_used, n_draw)  # distinct draws per row (>= 2)
        m = int(k.max())
        draws = draws[:, :m]
        batch = np.repeat(Xp[rows], m, axis=0)
        batch[:, j] = draws.reshape(-1)
        after = predict(batch).reshape(rows.size, m, -1)
        distinct = np.arange(m)[None, :] < k[:, None]  # (rows, m)
        before = now[rows][:, None, :]
        per_sample, flips = _per_sample(
            after, before, loss, adapter.output_space, threshold, distinct
        )
        per_sample = np.where(distinct, per_sample, 0.0)
        mean = per_sample.sum(axis=1) / k
        dev = np.where(distinct, per_sample - mean[:, None], 0.0)
        values[rows, col] = mean
        stderr[rows, col] = np.sqrt((dev**2).sum(axis=1) / (k - 1)) / np.sqrt(k)
        if flips is not None:
            change[rows, col] = np.where(distinct, flips, 0.0).sum(axis=1) / k
        used[names[j]] = int(k.min())
    capped = {c: m for c, m in used.items() if m < n_samples}
    if capped:
        msg = (
            f"n_samples={n_samples} but only {capped} distinct reference value(s) could be "
            "drawn (the plausible values are the nearest measured reference rows that share "
            "the row's observed features, so at most that many exist). Each value and standard "
            "error uses only the distinct draws (params['n_samples_used'] gives the smallest "
            "count per candidate); pass more reference rows for more precision."
        )
        warnings.warn(msg, AssayWarning, stacklevel=2)
    return ValueOfInformation(
        values=values,
        stderr=stderr,
        decision_change=change,
        prediction=now,
        candidates=[names[j] for j in cand_idx],
        cost=None if cost_arr is None else cost_arr.tolist(),
        loss=loss,
        threshold=float(threshold),
        params={
            "n_samples": n_samples,
            "n_samples_used": used,
            "seed": seed,
            "conditional": "nearest_neighbors",
        },
    )


def _predictor(adapter: Any, imputer: Any) -> Any:
    if imputer is None:
        return adapter.predict
    if not hasattr(imputer, "transform"):
        msg = f"imputer must be a fitted transformer with .transform; got {type(imputer).__name__}."
        raise InvalidInputError(msg)

    def predict(X: np.ndarray) -> np.ndarray:
        filled, _ = as_matrix(imputer.transform(X), name="imputed X")
        return adapter.predict(filled)

    return predict


def _per_sample(
    after: np.ndarray,
    before: np.ndarray,
    loss: str,
    space: str,
    threshold: float,
    distinct: np.ndarray,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-sample loss reductions (relative to the averaged prediction) and decision flips.

    ``distinct`` (rows, samples) marks the distinct draws; the average prediction is over
    those only (the others repeat them and are ignored by the caller).
    """
    w = distinct / distinct.sum(axis=1, keepdims=True)
    if loss == "squared_error":
        bar = (after * w[:, :, None]).sum(axis=1, keepdims=True)
        return ((after - bar) ** 2).sum(axis=-1), None
    p_after = _as_distribution(after, space)
    p_bar = (p_after * w[:, :, None]).sum(axis=1, keepdims=True)
    p_now = _as_distribution(before, space)
    if loss == "log_loss":
        per = _kl(p_after, p_bar)
    else:  # entropy: H(p_bar) - H(p_v), whose mean is the expected entropy reduction
        per = _entropy(p_bar) - _entropy(p_after)
    if p_after.shape[-1] == 2:
        flips = (p_after[..., 1] >= threshold) != (p_now[..., 1] >= threshold)
    else:
        flips = p_after.argmax(axis=-1) != p_now.argmax(axis=-1)
    return per, flips.astype(np.float64)
