"""Fit a probe on every layer: cross-validated accuracy per layer with confidence intervals.

Every row gets an out-of-fold prediction (stratified K-fold, or stratified group K-fold when
``groups`` is given, so that e.g. one country never sits on both sides of a split). Accuracy
per layer is the share of correct out-of-fold predictions with a Wilson score interval
(``scipy.stats.binomtest(...).proportion_ci(method="wilson")``). The folds are not
independent test sets, so the interval is approximate (slightly narrow); it is the usual
practice in probing papers, and it is stated here rather than hidden.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from assay._deprecation import renamed
from assay._results import FromDict, ResultDisplay
from assay._validation import as_matrix, as_vector, check_int, check_seed
from assay.errors import InvalidInputError

__all__ = ["LayerSweep", "make_probe", "probe_layers", "wilson_interval"]

PROBES = ("logistic", "massmean", "lda", "ccs")


def wilson_interval(
    k: int, n: int, *, ci_level: float = 0.95, confidence: float | None = None
) -> tuple[float, float]:
    """Wilson score interval for ``k`` successes in ``n`` trials.

    Examples
    --------
    >>> lo, hi = wilson_interval(80, 100)
    >>> round(lo, 3), round(hi, 3)
    (0.711, 0.867)
    """
    from scipy.stats import binomtest

    if n == 0:
        return float("nan"), float("nan")
    level = renamed(confidence, ci_level, old="confidence", new="ci_level", default=0.95,
                    where="wilson_interval")  # fmt: skip
    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=level, method="wilson")
    return float(ci.low), float(ci.high)


def make_probe(probe: Any, *, seed: int | None = None) -> Any:
    """A fresh probe from a name (``"logistic"``, ``"massmean"``, ``"lda"``, ``"ccs"``) or an
    estimator (cloned)."""
    from assay.probe._ccs import CCS
    from assay.probe._probes import LogisticProbe, MassMeanProbe

    if isinstance(probe, str):
        if probe == "logistic":
            return LogisticProbe()
        if probe == "massmean":
            return MassMeanProbe()
        if probe == "lda":
            return MassMeanProbe(covariance="tied", shrinkage=0.1)
        if probe == "ccs":
            return CCS(seed=seed)
        msg = f"probe must be one of {PROBES} or an estimator; got {probe!r}."
        raise InvalidInputError(msg)
    if isinstance(probe, CCS):
        return CCS(**probe.get_params())
    if not hasattr(probe, "fit") or not hasattr(probe, "predict"):
        msg = f"probe must be a name in {PROBES} or have fit/predict; got {type(probe).__name__}."
        raise InvalidInputError(msg)
    from sklearn.base import clone

    return clone(probe)


def _probe_name(probe: Any) -> str:
    return probe if isinstance(probe, str) else type(probe).__name__


def _as_layers(activations: Any, name: str) -> dict[str, np.ndarray]:
    from assay.probe._capture import Activations

    if isinstance(activations, Activations):
        return dict(activations.items())
    if isinstance(activations, Mapping):
        return dict(activations)
    arr = np.asarray(activations)
    if arr.ndim == 3:
        return {str(i): arr[i] for i in range(arr.shape[0])}
    if arr.ndim == 2:
        return {"0": arr}
    msg = (
        f"{name} must be Activations, a dict layer -> (n, d) array, or an array of shape "
        f"(n_layers, n, d); got shape {arr.shape}."
    )
    raise InvalidInputError(msg)


@dataclass(frozen=True, eq=False)
class LayerSweep(ResultDisplay, FromDict):
    """Cross-validated probe accuracy per layer.

    Attributes
    ----------
    layers : tuple of str
    accuracy, ci_low, ci_high : ndarray of shape (n_layers,)
        Out-of-fold accuracy and its Wilson interval.
    n_samples : int
    chance : float
        Majority-class rate (the accuracy of always guessing the commoner label).
    probe : str
    dataset : str
    params : dict
        Folds, seed, confidence level, calibration size for CCS.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 200)
    >>> acts = {"a": rng.normal(size=(200, 4)), "b": rng.normal(size=(200, 4)) + y[:, None]}
    >>> sweep = probe_layers(acts, y, seed=0)
    >>> sweep.best_layer, bool(sweep.above_chance[1])
    ('b', True)
    """

    layers: tuple[str, ...]
    accuracy: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    n_samples: int
    chance: float
    probe: str
    dataset: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    SCHEMA_VERSION: ClassVar[int] = 1  # this kind's one schema version
    schema_version: int = SCHEMA_VERSION

    @property
    def above_chance(self) -> np.ndarray:
        """Layers whose interval lies wholly above chance."""
        return self.ci_low > self.chance

    @property
    def best_layer(self) -> str:
        return self.layers[int(np.argmax(self.accuracy))]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "LayerSweep",
            "schema_version": self.schema_version,
            "layers": list(self.layers),
            "accuracy": self.accuracy.tolist(),
            "ci_low": self.ci_low.tolist(),
            "ci_high": self.ci_high.tolist(),
            "above_chance": self.above_chance.tolist(),
            "n_samples": self.n_samples,
            "chance": self.chance,
            "probe": self.probe,
            "dataset": self.dataset,
            "params": self.params,
        }


def _folds(y: np.ndarray, groups: np.ndarray | None, n_splits: int, seed: int | None) -> list:
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    if groups is None:
        cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        return list(cv.split(np.zeros(y.size), y))
    cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(cv.split(np.zeros(y.size), y, groups))


def calibration_labels(y: np.ndarray, size: float, rng: np.random.Generator) -> np.ndarray:
    """``y`` with all but a stratified ``size`` share (at least 2 per class) set to -1."""
    out = np.full(y.size, -1, dtype=np.int64)
    for k in (0, 1):
        idx = np.flatnonzero(y == k)
        take = min(idx.size, max(2, round(size * idx.size)))
        out[rng.choice(idx, size=take, replace=False)] = k
    return out


def probe_layers(
    activations: Any,
    y: Any,
    *,
    probe: Any = "logistic",
    negatives: Any = None,
    groups: Any = None,
    n_splits: int = 5,
    calibration_size: float = 0.1,
    ci_level: float = 0.95,
    dataset: str = "",
    seed: int | None = 0,
    confidence: float | None = None,
) -> LayerSweep:
    """Fit ``probe`` on each layer's activations and report out-of-fold accuracy.

    Parameters
    ----------
    activations : Activations, dict layer -> (n, d) array, or array (n_layers, n, d)
        For ``probe="ccs"``, the ``x+`` side of each contrast pair.
    y : array-like of shape (n,)
        Binary labels (for CCS: 1 where ``x+`` is the true side).
    probe : {"logistic", "massmean", "lda", "ccs"} or estimator
    negatives : same type as ``activations``, optional
        The ``x-`` side, required for CCS.
    groups : array-like of shape (n,), optional
        Keep each group on one side of every split (StratifiedGroupKFold).
    n_splits : int
    calibration_size : float
        For CCS: share of each training fold whose labels are revealed to orient the probe.
    ci_level : float, default 0.95
        Level of the Wilson intervals of the accuracies.
    dataset : str
        Name recorded in the result.
    seed : int or None
    confidence : float, optional
        Deprecated name of ``ci_level``.

    Returns
    -------
    LayerSweep
    """
    ci_level = renamed(confidence, ci_level, old="confidence", new="ci_level", default=0.95,
                       where="probe_layers")  # fmt: skip
    seed = check_seed(seed)
    n_splits = check_int(n_splits, name="n_splits", minimum=2)
    if not 0.0 < float(calibration_size) < 1.0:
        msg = f"calibration_size must be in (0, 1); got {calibration_size!r}."
        raise InvalidInputError(msg)
    layers = _as_layers(activations, "activations")
    is_ccs = (isinstance(probe, str) and probe == "ccs") or type(probe).__name__ == "CCS"
    neg_layers = None
    if is_ccs:
        if negatives is None:
            msg = "probe='ccs' needs negatives= (the x- side of each contrast pair)."
            raise InvalidInputError(msg)
        neg_layers = _as_layers(negatives, "negatives")
        if set(neg_layers) != set(layers):
            msg = f"negatives has layers {list(neg_layers)} but activations {list(layers)}."
            raise InvalidInputError(msg)
    first = next(iter(layers.values()))
    n = len(first)
    y_arr = as_vector(y, name="y", n_rows=n)
    classes, y_idx = np.unique(y_arr, return_inverse=True)
    if classes.size != 2:
        msg = f"y must have two classes; got {classes.tolist()[:10]}."
        raise InvalidInputError(msg)
    g = None if groups is None else np.asarray(groups)
    if g is not None and g.shape != (n,):
        msg = f"groups must have one value per row ({n}); got shape {g.shape}."
        raise InvalidInputError(msg)
    folds = _folds(y_idx, g, n_splits, seed)
    names = list(layers)
    acc, lo, hi = (np.empty(len(names)) for _ in range(3))
    for li, name in enumerate(names):
        X, _ = as_matrix(layers[name], name=f"activations[{name!r}]")
        if X.shape[0] != n:
            msg = f"layer {name!r} has {X.shape[0]} rows but the first layer has {n}."
            raise InvalidInputError(msg)
        pred = np.empty(n, dtype=np.int64)
        for fold, (train, test) in enumerate(folds):
            est = make_probe(probe, seed=seed)
            if is_ccs:
                Xn, _ = as_matrix(neg_layers[name], name=f"negatives[{name!r}]")
                rng = np.random.default_rng(None if seed is None else seed + fold)
                y_cal = calibration_labels(y_idx[train], float(calibration_size), rng)
                est.fit(X[train], Xn[train], y_cal)
                pred[test] = est.predict(X[test], Xn[test])
            else:
                est.fit(X[train], y_idx[train])
                pred[test] = np.asarray(est.predict(X[test]))
        k = int(np.sum(pred == y_idx))
        acc[li] = k / n
        lo[li], hi[li] = wilson_interval(k, n, ci_level=ci_level)
    chance = float(np.bincount(y_idx).max() / n)
    return LayerSweep(
        layers=tuple(names),
        accuracy=acc,
        ci_low=lo,
        ci_high=hi,
        n_samples=n,
        chance=chance,
        probe=_probe_name(probe),
        dataset=dataset,
        params={
            "n_splits": n_splits,
            "grouped": g is not None,
            "ci_level": ci_level,
            "calibration_size": calibration_size if is_ccs else None,
            "seed": seed,
        },
    )
