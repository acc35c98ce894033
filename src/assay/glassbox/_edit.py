"""Editing a fitted GAM, with an audit trail.

Every edit is applied to each bag's table, so the error bars (the spread over bags) stay
meaningful after the edit, and is recorded as an :class:`EditRecord`: what was done, to which
term, with which arguments, the user's note and name, a UTC timestamp and -- when validation
data are passed -- the validation metrics before and after, overall and per group. Records are
saved with the model (see :func:`assay.glassbox.save_gam`) and :meth:`EditingMixin.undo`
reverts the most recent edit.
"""

from __future__ import annotations

import copy
import datetime as _dt
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np

from assay._results import FromDict
from assay.errors import InvalidInputError

__all__ = ["EditRecord", "EditingMixin"]


@dataclass(frozen=True)
class EditRecord(FromDict):
    """One edit of a GAM, as kept in ``model.edits_``.

    Attributes
    ----------
    action : str
        ``"remove_term"``, ``"set_term"``, ``"interpolate_term"``, ``"smooth_term"`` or
        ``"monotonize"``.
    term : str
        Name of the edited term.
    params : dict
        The arguments of the edit.
    note : str
        Why the edit was made (free text from the user).
    author : str or None
        Who made it.
    timestamp : str
        ISO 8601 UTC time of the edit.
    metrics_before, metrics_after : dict or None
        Validation metrics (log_loss, auc, accuracy for classifiers; rmse, r2 for regressors).
    group_metrics_before, group_metrics_after : dict or None
        The same metrics per group value when ``groups`` was given.
    """

    action: str
    term: str
    params: dict[str, Any]
    note: str
    author: str | None
    timestamp: str
    metrics_before: dict[str, float] | None = None
    metrics_after: dict[str, float] | None = None
    group_metrics_before: dict[str, dict[str, float]] | None = None
    group_metrics_after: dict[str, dict[str, float]] | None = None
    SCHEMA_VERSION: ClassVar[int] = 1  # this kind's one schema version
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EditRecord:
        return cls(**d)


def validation_metrics(model: Any, X: Any, y: Any) -> dict[str, float]:
    """Validation metrics of a fitted GAM on ``(X, y)``."""
    from sklearn.metrics import (
        accuracy_score,
        log_loss,
        mean_squared_error,
        r2_score,
        roc_auc_score,
    )

    y = np.asarray(y)
    if hasattr(model, "classes_"):
        proba = model.predict_proba(X)
        out = {
            "log_loss": float(log_loss(y, proba, labels=model.classes_)),
            "accuracy": float(accuracy_score(y, model.classes_[proba.argmax(axis=1)])),
            "n": float(y.shape[0]),
        }
        if len(model.classes_) == 2 and np.unique(y).size == 2:
            out["auc"] = float(roc_auc_score(y == model.classes_[1], proba[:, 1]))
        return out
    pred = model.predict(X)
    out = {"rmse": float(np.sqrt(mean_squared_error(y, pred))), "n": float(y.shape[0])}
    if y.shape[0] > 1:
        out["r2"] = float(r2_score(y, pred))
    return out


def _group_metrics(model: Any, X: Any, y: Any, groups: Any) -> dict[str, dict[str, float]]:
    groups = np.asarray(groups)
    y = np.asarray(y)
    Xa = X.iloc if hasattr(X, "iloc") else np.asarray(X)
    out = {}
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        out[str(g)] = validation_metrics(model, Xa[rows], y[rows])
    return out


class EditingMixin:
    """Edit operations of the GAM estimators (each is recorded in ``edits_``)."""

    # -- helpers ---------------------------------------------------------------------------
    def _term_index(self, term: Any) -> int:
        self._check_fitted()
        names = self.term_names_
        if isinstance(term, (int, np.integer)) and not isinstance(term, bool):
            if not 0 <= int(term) < len(names):
                msg = f"term index {term} is out of range; the model has {len(names)} terms."
                raise InvalidInputError(msg)
            return int(term)
        if isinstance(term, (tuple, list)):
            term = " & ".join(str(t) for t in term)
        if isinstance(term, str) and term in names:
            return names.index(term)
        msg = f"unknown term {term!r}; the model's terms are {names[:30]}."
        raise InvalidInputError(msg)

    def _main_term(self, term: Any) -> int:
        t = self._term_index(term)
        if len(self.term_features_[t]) != 1:
            msg = (
                f"term {self.term_names_[t]!r} is a pair; this edit applies to main effects only "
                "(use remove_term for pairs)."
            )
            raise InvalidInputError(msg)
        return t

    def _bin_mask(self, t: int, lower: Any, upper: Any) -> np.ndarray:
        """Observed bins whose training values all lie in [lower, upper]."""
        fb = self.bins_[self.term_features_[t][0]]
        lo = -np.inf if lower is None else float(lower)
        hi = np.inf if upper is None else float(upper)
        if lo > hi:
            msg = f"lower ({lo}) must not exceed upper ({hi})."
            raise InvalidInputError(msg)
        with np.errstate(invalid="ignore"):
            mask = (fb.lower >= lo) & (fb.upper <= hi)
        mask[0] = mask[-1] = False
        return mask

    def _state(self) -> dict[str, Any]:
        return {
            "term_features_": list(self.term_features_),
            "term_counts_": [c.copy() for c in self.term_counts_],
            "bag_values_": [a.copy() for a in self.bag_values_],
            "bag_intercepts_": self.bag_intercepts_.copy(),
        }

    def _restore(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, copy.deepcopy(value))
        self._refresh()

    def _record(self, action, t_name, params, apply, note, author, X_val, y_val, groups):
        if (X_val is None) != (y_val is None):
            msg = "pass both X_val and y_val (or neither) to record validation metrics."
            raise InvalidInputError(msg)
        if groups is not None and X_val is None:
            msg = "groups needs X_val and y_val: they are the rows the groups label."
            raise InvalidInputError(msg)
        before = after = g_before = g_after = None
        if X_val is not None:
            before = validation_metrics(self, X_val, y_val)
            if groups is not None:
                g_before = _group_metrics(self, X_val, y_val, groups)
        state = self._state()
        apply()
        self._refresh()
        if X_val is not None:
            after = validation_metrics(self, X_val, y_val)
            if groups is not None:
                g_after = _group_metrics(self, X_val, y_val, groups)
        rec = EditRecord(
            action=action,
            term=t_name,
            params=params,
            note=str(note),
            author=None if author is None else str(author),
            timestamp=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            metrics_before=before,
            metrics_after=after,
            group_metrics_before=g_before,
            group_metrics_after=g_after,
        )
        self._undo_stack.append(state)
        self.edits_.append(rec)
        return rec

    # -- edits -----------------------------------------------------------------------------
    def remove_term(self, term, *, note="", author=None, X_val=None, y_val=None, groups=None):
        """Remove a term (its contribution becomes 0 for every row).

        Parameters
        ----------
        term : str, int or tuple
            Term name (``"age"``, ``"age & bmi"``), index, or tuple of feature names.
        note, author : str
            Why the edit was made and by whom (kept in the audit trail).
        X_val, y_val : optional
            Validation data; the metrics before and after the edit are recorded.
        groups : array-like, optional
            A group label per validation row; metrics are recorded per group too.

        Returns
        -------
        EditRecord
        """
        t = self._term_index(term)

        def apply():
            for key in ("term_features_", "term_counts_", "bag_values_"):
                lst = list(getattr(self, key))
                del lst[t]
                setattr(self, key, lst)

        return self._record("remove_term", self.term_names_[t], {}, apply, note, author,
                            X_val, y_val, groups)  # fmt: skip

    def set_term(self, term, value, *, lower=None, upper=None, note="", author=None,
                 X_val=None, y_val=None, groups=None):  # fmt: skip
        """Set a main effect to ``value`` (raw-score units) on the bins within [lower, upper].

        All bags get the value, so the error bar there becomes 0. Other arguments as in
        :meth:`remove_term`.
        """
        t = self._main_term(term)
        mask = self._bin_mask(t, lower, upper)
        val = np.broadcast_to(np.asarray(value, dtype=np.float64),
                              (self.bag_values_[t].shape[-1],))  # fmt: skip
        if not mask.any():
            msg = f"no bins of {self.term_names_[t]!r} lie within [{lower}, {upper}]."
            raise InvalidInputError(msg)

        def apply():
            self.bag_values_[t][:, mask, :] = val

        params = {"value": val.tolist(), "lower": lower, "upper": upper}
        return self._record("set_term", self.term_names_[t], params, apply, note, author,
                            X_val, y_val, groups)  # fmt: skip

    def interpolate_term(self, term, *, lower, upper, note="", author=None, X_val=None,
                         y_val=None, groups=None):  # fmt: skip
        """Replace a main effect on [lower, upper] by the straight line between its neighbours.

        The anchors are the nearest non-empty bins just outside the range, at the midpoints of
        their training values; each bag is interpolated separately.
        """
        t = self._main_term(term)
        fb = self.bins_[self.term_features_[t][0]]
        mask = self._bin_mask(t, lower, upper)
        if not mask.any():
            msg = f"no bins of {self.term_names_[t]!r} lie within [{lower}, {upper}]."
            raise InvalidInputError(msg)
        idx = np.flatnonzero(mask)
        observed = np.flatnonzero(fb.counts > 0)
        observed = observed[(observed > 0) & (observed < fb.n_bins - 1)]
        left = observed[observed < idx[0]]
        right = observed[observed > idx[-1]]
        mid = (fb.lower + fb.upper) / 2.0

        def apply():
            arr = self.bag_values_[t]
            if left.size and right.size:
                a, b = left[-1], right[0]
                w = ((mid[idx] - mid[a]) / (mid[b] - mid[a]))[None, :, None]
                arr[:, idx, :] = arr[:, [a], :] * (1 - w) + arr[:, [b], :] * w
            elif left.size:
                arr[:, idx, :] = arr[:, [left[-1]], :]
            elif right.size:
                arr[:, idx, :] = arr[:, [right[0]], :]

        params = {"lower": lower, "upper": upper}
        return self._record("interpolate_term", self.term_names_[t], params, apply, note,
                            author, X_val, y_val, groups)  # fmt: skip

    def smooth_term(self, term, *, window=5, note="", author=None, X_val=None, y_val=None,
                    groups=None):  # fmt: skip
        """Smooth a continuous main effect: count-weighted moving average over ``window`` bins."""
        t = self._main_term(term)
        fb = self.bins_[self.term_features_[t][0]]
        if fb.kind != "continuous":
            msg = f"term {self.term_names_[t]!r} is categorical; smoothing needs ordered bins."
            raise InvalidInputError(msg)
        if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
            msg = f"window must be a positive integer number of bins; got {window!r}."
            raise InvalidInputError(msg)
        inner = np.arange(1, fb.n_bins - 1)
        w = fb.counts[inner] + 1e-9
        kernel = np.ones(int(window))

        def apply():
            arr = self.bag_values_[t]
            num = np.apply_along_axis(np.convolve, 1, arr[:, inner, :] * w[None, :, None],
                                      kernel, mode="same")  # fmt: skip
            den = np.convolve(w, kernel, mode="same")
            arr[:, inner, :] = num / den[None, :, None]

        return self._record("smooth_term", self.term_names_[t], {"window": int(window)}, apply,
                            note, author, X_val, y_val, groups)  # fmt: skip

    def monotonize(self, term, *, direction="auto", note="", author=None, X_val=None,
                   y_val=None, groups=None):  # fmt: skip
        """Make a main effect monotone with isotonic regression (sklearn), bag by bag.

        Applying the projection to each bag's table keeps the error bars. ``direction`` is
        ``"increasing"``, ``"decreasing"`` or ``"auto"`` (the sign of the count-weighted
        correlation between bin order and shape). The missing bin is left as it is.
        """
        from sklearn.isotonic import IsotonicRegression

        t = self._main_term(term)
        fb = self.bins_[self.term_features_[t][0]]
        if fb.kind != "continuous":
            msg = f"term {self.term_names_[t]!r} is categorical; monotonicity needs ordered bins."
            raise InvalidInputError(msg)
        if direction not in ("auto", "increasing", "decreasing"):
            msg = f"direction must be 'auto', 'increasing' or 'decreasing'; got {direction!r}."
            raise InvalidInputError(msg)
        inner = np.arange(1, fb.n_bins - 1)
        w = fb.counts[inner] + 1e-9
        if direction == "auto":
            v = self.term_values_[t][inner].mean(axis=-1)
            xm = np.average(inner, weights=w)
            vm = np.average(v, weights=w)
            direction = "increasing" if np.sum(w * (inner - xm) * (v - vm)) >= 0 else "decreasing"
        iso = IsotonicRegression(increasing=direction == "increasing")

        def apply():
            arr = self.bag_values_[t]
            for b in range(arr.shape[0]):
                for k in range(arr.shape[-1]):
                    arr[b, inner, k] = iso.fit_transform(inner, arr[b, inner, k], sample_weight=w)

        return self._record("monotonize", self.term_names_[t], {"direction": direction}, apply,
                            note, author, X_val, y_val, groups)  # fmt: skip

    def undo(self):
        """Revert the most recent edit and drop its record; returns the reverted record."""
        self._check_fitted()
        if not self._undo_stack:
            msg = "there is no edit to undo; edits_ is empty."
            raise InvalidInputError(msg)
        self._restore(self._undo_stack.pop())
        return self.edits_.pop()
