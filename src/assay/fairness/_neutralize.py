"""Post-hoc neutralization of a sensitive feature (Pope & Sydnor 2011)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from assay.errors import InvalidInputError
from assay.fairness._result import NeutralizationReport
from assay.model import ModelAdapter, wrap

__all__ = ["NeutralizedModel", "neutralize"]


class NeutralizedModel(ModelAdapter):
    """A model whose sensitive feature is marginalized over a reference distribution.

    ``predict(X) = sum_l w_l * base.predict(X with the sensitive columns set to level l)``, in
    the base model's output space. Its predictions do not depend on the sensitive columns at all
    (any value there is ignored), while the proxies keep only the effect they have *given* the
    attribute, which the model learned with the attribute present (Pope & Sydnor 2011). It is a
    :class:`~assay.model.ModelAdapter`, so every assay tool accepts it.

    Build it with :func:`neutralize`.

    Attributes
    ----------
    base : ModelAdapter
    sensitive_columns : list of str
    levels : ndarray (n_levels, n_sensitive_columns)
    weights : ndarray (n_levels,)
    reference : str
    """

    def __init__(
        self,
        base: ModelAdapter,
        columns: list[int],
        levels: np.ndarray,
        weights: np.ndarray,
        reference: str,
    ) -> None:
        super().__init__(
            base.model,
            output_space=base.output_space,
            feature_names=base.feature_names,
            n_features=base.n_features,
            output_names=base._output_names,
            is_classifier=base.is_classifier,
            supports_missing=base.supports_missing,
        )
        self.base = base
        self._columns = list(columns)
        names = base.feature_names
        self.sensitive_columns = [names[c] if names is not None else f"x{c}" for c in self._columns]
        self.levels = np.asarray(levels, dtype=np.float64)
        self.weights = np.asarray(weights, dtype=np.float64)
        self.reference = reference

    def _predict_raw(self, X: np.ndarray) -> np.ndarray:
        n = X.shape[0]
        L = self.levels.shape[0]
        stacked = np.repeat(X[None], L, axis=0)
        for i in range(L):
            stacked[i][:, self._columns] = self.levels[i]
        out = self.base.predict(stacked.reshape(L * n, X.shape[1])).reshape(L, n, -1)
        if self._output_names is None:
            self._output_names = self.base.output_names
        return np.tensordot(self.weights, out, axes=(0, 0))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Neutralized probabilities for user data (classifiers in probability space)."""
        if self.output_space != "probability":
            msg = (
                f"predict_proba needs output_space='probability'; this model's is "
                f"{self.output_space!r}. Use predict(X) instead."
            )
            raise InvalidInputError(msg)
        values, _ = self.prepare(X)
        return self.predict(values)

    def report(
        self,
        X: Any,
        *,
        sensitive: Any = None,
        y: Any = None,
        output: int | None = None,
    ) -> NeutralizationReport:
        """Compare the original and the neutralized model, overall and within each group.

        Parameters
        ----------
        X : array-like or DataFrame
            Rows (with the sensitive columns holding each row's actual value).
        sensitive : array-like, optional
            Group labels for the per-group rows; default: the sensitive columns' values.
        y : array-like, optional
            Binary labels, to report the ROC AUC before and after.
        output : int, optional
            Output column (default: the last, i.e. the positive class).

        Returns
        -------
        NeutralizationReport
        """
        from scipy import stats

        from assay._validation import as_vector
        from assay.fairness._group_metrics import as_group_frame

        Xv, _ = self.prepare(X)
        n = Xv.shape[0]
        before_all = self.base.predict(Xv)
        k = before_all.shape[1] - 1 if output is None else int(output)
        before = before_all[:, k]
        after = self.predict(Xv)[:, k]
        L = self.levels.shape[0]
        flips = np.empty((L, n))
        for i in range(L):
            Xi = Xv.copy()
            Xi[:, self._columns] = self.levels[i]
            flips[i] = self.base.predict(Xi)[:, k]
        direct = flips.max(axis=0) - flips.min(axis=0)
        if sensitive is None:
            raw = Xv[:, self._columns]
            labels = np.array(["|".join(f"{v:g}" for v in row) for row in raw])
        else:
            frame = as_group_frame(sensitive, name="sensitive", n_rows=n)
            labels = frame.astype(str).agg("|".join, axis=1).to_numpy()
        groups = sorted(set(labels.tolist()))
        rows = [labels == g for g in groups]
        rho = []
        for m in rows:
            if m.sum() < 3 or np.ptp(before[m]) == 0 or np.ptp(after[m]) == 0:
                rho.append(np.nan)
            else:
                rho.append(float(stats.spearmanr(before[m], after[m]).statistic))
        auc_b = auc_a = None
        if y is not None:
            from sklearn.metrics import roc_auc_score

            yv = as_vector(y, name="y", n_rows=n)
            auc_b = float(roc_auc_score(yv, before))
            auc_a = float(roc_auc_score(yv, after))
        return NeutralizationReport(
            groups=groups,
            n=np.array([int(m.sum()) for m in rows]),
            mean_before=np.array([before[m].mean() for m in rows]),
            mean_after=np.array([after[m].mean() for m in rows]),
            direct_effect_before=np.array([direct[m].mean() for m in rows]),
            direct_effect_after=np.zeros(len(groups)),
            within_group_rank_correlation=np.array(rho),
            auc_before=auc_b,
            auc_after=auc_a,
            levels=[row.tolist() if row.size > 1 else float(row[0]) for row in self.levels],
            weights=self.weights.tolist(),
            reference=self.reference,
            params={"sensitive_columns": self.sensitive_columns, "output": k},
        )

    def __repr__(self) -> str:
        return (
            f"NeutralizedModel({type(self.model).__name__}, sensitive={self.sensitive_columns}, "
            f"reference={self.reference!r})"
        )


def neutralize(
    model: Any,
    sensitive_feature: str | int | Sequence[str | int],
    reference: Any = "population",
    *,
    data: Any = None,
    output_space: str | None = None,
    feature_names: Sequence[str] | None = None,
) -> NeutralizedModel:
    """Marginalize a model's sensitive feature over a reference distribution.

    For a model trained *with* the sensitive feature, this keeps what the other features
    predict at a fixed attribute and removes the attribute's direct effect: every row's
    prediction is the average over the attribute's levels, weighted by the reference
    distribution (Pope & Sydnor 2011, "Implementing anti-discrimination policies in statistical
    profiling models"). Training without the attribute would instead push its effect into the
    proxies.

    Parameters
    ----------
    model : estimator, callable or ModelAdapter
        A model whose inputs include the sensitive feature.
    sensitive_feature : str or int, or a list of them
        The column (or the one-hot columns of one attribute) to neutralize.
    reference : "population", "uniform", a level, or dict {level: weight}, default "population"
        ``"population"`` weights each observed level by its share in ``data``; ``"uniform"``
        weights observed levels equally; a single level sets everyone to it; a dict gives the
        weights (normalized to sum to one).
    data : array-like or DataFrame, optional
        Rows to read the levels and their shares from (needed for ``"population"`` and
        ``"uniform"``).
    output_space : str, optional
        Passed to :func:`assay.model.wrap`. Averaging happens in this space (probabilities by
        default for classifiers).
    feature_names : sequence of str, optional
        Column names when the model records none.

    Returns
    -------
    NeutralizedModel

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([rng.integers(0, 2, 300), rng.normal(size=300)])
    >>> y = (X[:, 0] + X[:, 1] + rng.normal(size=300) > 0.5).astype(int)
    >>> neutral = neutralize(LogisticRegression().fit(X, y), 0, data=X)
    >>> flipped = X.copy(); flipped[:, 0] = 1 - flipped[:, 0]
    >>> bool(np.array_equal(neutral.predict(X), neutral.predict(flipped)))
    True
    """
    base = wrap(model, output_space=output_space, feature_names=feature_names)
    Xv = None
    if data is not None:
        Xv, names = base.prepare(data, name="data", allow_nan=True)
        if base.feature_names is None and hasattr(data, "columns"):
            base.feature_names = list(names)
    names = base.feature_names
    feats = [sensitive_feature] if isinstance(sensitive_feature, (str, int)) else sensitive_feature
    feats = list(feats)
    if not feats:
        msg = "sensitive_feature is empty; name the column(s) that encode the attribute."
        raise InvalidInputError(msg)
    n_cols = base.n_features if base.n_features is not None else (
        None if Xv is None else Xv.shape[1])  # fmt: skip
    cols = []
    for f in feats:
        if isinstance(f, str):
            if names is None or f not in names:
                msg = (
                    f"sensitive_feature {f!r} is not a column of the model (columns: {names}). "
                    "Pass its name as the model knows it, or its integer position."
                )
                raise InvalidInputError(msg)
            cols.append(names.index(f))
        elif isinstance(f, (int, np.integer)) and not isinstance(f, bool):
            if f < 0 or (n_cols is not None and f >= n_cols):
                msg = f"sensitive_feature {f} is out of range for {n_cols} columns."
                raise InvalidInputError(msg)
            cols.append(int(f))
        else:
            msg = f"sensitive_feature must be a column name or position; got {f!r}."
            raise InvalidInputError(msg)
    levels, weights, ref_name = _reference(reference, Xv, cols)
    return NeutralizedModel(base, cols, levels, weights, ref_name)


def _reference(
    reference: Any, Xv: np.ndarray | None, cols: list[int]
) -> tuple[np.ndarray, np.ndarray, str]:
    k = len(cols)
    if isinstance(reference, str) and reference in ("population", "uniform"):
        if Xv is None:
            msg = (
                f"reference={reference!r} reads the levels from data; pass data=X (the "
                "training rows or the population the model is used on), or give the weights "
                "as a dict {level: weight}."
            )
            raise InvalidInputError(msg)
        sub = Xv[:, cols]
        if np.isnan(sub).any():
            msg = "the sensitive column(s) contain NaN in data; fill them before neutralizing."
            raise InvalidInputError(msg)
        levels, counts = np.unique(sub, axis=0, return_counts=True)
        if reference == "population":
            weights = counts / counts.sum()
        else:
            weights = np.full(levels.shape[0], 1.0 / levels.shape[0])
        return levels, weights, reference
    if isinstance(reference, Mapping):
        if not reference:
            msg = "reference dict is empty; give at least one {level: weight}."
            raise InvalidInputError(msg)
        levels = np.array(
            [np.atleast_1d(np.asarray(lv, dtype=np.float64)) for lv in reference], dtype=np.float64
        )
        w = np.array(list(reference.values()), dtype=np.float64)
        if levels.shape[1] != k or (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
            msg = (
                f"reference dict must map levels with {k} value(s) each to non-negative "
                f"weights with a positive sum; got {dict(reference)}."
            )
            raise InvalidInputError(msg)
        return levels, w / w.sum(), "weights"
    level = np.atleast_1d(np.asarray(reference, dtype=np.float64))
    if level.shape != (k,):
        msg = (
            f"reference must be 'population', 'uniform', a dict or a level with {k} value(s); "
            f"got {reference!r}."
        )
        raise InvalidInputError(msg)
    return level[None, :], np.ones(1), f"level {level.tolist()}"
