"""Sanity checks that show when a probe learned something other than what it claims.

Each check returns a :class:`CheckResult` with a one-line verdict and a status:

- :func:`transfer_matrix`: train on dataset A, test on B (facts -> negated facts). A probe
  that learned "the capital matches the country" instead of "the statement is true" collapses
  to chance, or below it, on negations (Farquhar et al. 2023; Levinstein & Herrmann 2023).
- :func:`selectivity`: task accuracy minus accuracy on a control task (Hewitt & Liang 2019).
  The control keeps the structure of the inputs but randomizes the labels, per group when
  ``groups`` is given (a label per word type/subject, as in the paper) and by permutation
  otherwise; a probe that scores as well on the control is measuring its own capacity.
- :func:`random_probe_floor`: the accuracy random directions reach (with a fitted threshold
  and sign); a trained probe should beat the 95th percentile.
- :func:`unsupervised_baselines`: the first principal component and 2-means clusters (each
  oriented on the training labels). When they match the probe, the "truth direction" is just
  the most prominent direction of the data.
- :func:`distractor_check`: fit CCS on contrast pairs carrying a planted binary distractor
  and report whether its predictions follow the distractor instead of truth.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from assay._deprecation import renamed
from assay._results import FromDict, ResultDisplay, to_jsonable
from assay._validation import as_matrix, as_vector, check_int, check_seed
from assay.errors import InvalidInputError
from assay.probe._layers import calibration_labels, make_probe, wilson_interval

__all__ = [
    "CheckResult",
    "distractor_check",
    "random_probe_floor",
    "selectivity",
    "transfer_matrix",
    "unsupervised_baselines",
]


@dataclass(frozen=True, eq=False)
class CheckResult(ResultDisplay, FromDict):
    """The outcome of one probe sanity check.

    Attributes
    ----------
    name : str
    verdict : str
        One plain-language line.
    status : {"ok", "warning", "alert"}
    passed : bool
        Whether the probe survives the check.
    metrics : dict of str -> float
    data : dict
        Full payload (matrices, per-direction accuracies...).
    params : dict

    Examples
    --------
    >>> r = CheckResult("demo", "fine", "ok", True, {"accuracy": 0.9})
    >>> r.to_dict()["metrics"]
    {'accuracy': 0.9}
    """

    name: str
    verdict: str
    status: str
    passed: bool
    metrics: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    SCHEMA_VERSION: ClassVar[int] = 1  # this kind's one schema version
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "CheckResult",
            "schema_version": self.schema_version,
            "name": self.name,
            "verdict": self.verdict,
            "status": self.status,
            "passed": bool(self.passed),
            "metrics": to_jsonable(self.metrics),
            "data": to_jsonable(self.data),
            "params": to_jsonable(self.params),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CheckResult:
        """Rebuild from :meth:`to_dict` (arrays come back as lists)."""
        if d.get("kind") != "CheckResult":
            msg = f"expected a dict with kind 'CheckResult'; got kind {d.get('kind')!r}."
            raise InvalidInputError(msg)
        return cls(
            name=d["name"],
            verdict=d["verdict"],
            status=d["status"],
            passed=bool(d["passed"]),
            metrics=dict(d.get("metrics", {})),
            data=dict(d.get("data", {})),
            params=dict(d.get("params", {})),
            schema_version=int(d.get("schema_version", cls.SCHEMA_VERSION)),
        )


def _xy(X: Any, y: Any, name: str = "X") -> tuple[np.ndarray, np.ndarray]:
    X, _ = as_matrix(X, name=name, min_rows=4)
    y = as_vector(y, name="y", n_rows=X.shape[0])
    classes, y_idx = np.unique(y, return_inverse=True)
    if classes.size != 2:
        msg = f"y must have two classes; got {classes.tolist()[:10]}."
        raise InvalidInputError(msg)
    return X, y_idx.astype(np.int64)


def _split(y: np.ndarray, test_size: float, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    if not 0.0 < float(test_size) < 1.0:
        msg = f"test_size must be in (0, 1); got {test_size!r}."
        raise InvalidInputError(msg)
    idx = np.arange(y.size)
    train, test = train_test_split(idx, test_size=test_size, stratify=y, random_state=seed)
    return np.sort(train), np.sort(test)


def transfer_matrix(
    datasets: Mapping[str, tuple[Any, Any]],
    *,
    probe: Any = "logistic",
    test_size: float = 0.3,
    ci_level: float = 0.95,
    seed: int | None = 0,
    confidence: float | None = None,
) -> CheckResult:
    """Train a probe on each dataset and test it on every dataset's held-out split.

    Parameters
    ----------
    datasets : dict name -> (X, y)
        Activations of the same layer for each dataset, with binary truth labels.
    probe : {"logistic", "massmean", "lda"} or estimator
    test_size : float
        Held-out share of every dataset (stratified); row ``A`` of the matrix is the probe
        trained on ``A``'s training split, column ``B`` its accuracy on ``B``'s test split.
    ci_level : float, default 0.95
        Level of the Wilson intervals of the accuracies.
    seed : int or None
    confidence : float, optional
        Deprecated name of ``ci_level``.

    Returns
    -------
    CheckResult
        ``data["accuracy"]`` (k, k), ``data["ci_low"]``, ``data["ci_high"]``, ``data["names"]``
        and ``data["collapses"]``: pairs (A, B) where the probe is significantly above chance
        on A's own test split but not on B's (``"inverted"`` when significantly below chance).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 300); X = rng.normal(size=(300, 5)); X[:, 0] += 2 * y
    >>> r = transfer_matrix({"a": (X, y), "b": (X, 1 - y)})
    >>> r.status, r.data["collapses"][0][:2]
    ('alert', ['a', 'b'])
    """
    ci_level = renamed(confidence, ci_level, old="confidence", new="ci_level", default=0.95,
                       where="transfer_matrix")  # fmt: skip
    seed = check_seed(seed)
    if not isinstance(datasets, Mapping) or len(datasets) < 2:
        msg = "datasets must be a dict of at least two name -> (X, y) entries."
        raise InvalidInputError(msg)
    names = [str(k) for k in datasets]
    data = {}
    for name, pair in zip(names, datasets.values(), strict=True):
        X, y = _xy(pair[0], pair[1], name=f"datasets[{name!r}] X")
        train, test = _split(y, test_size, seed)
        data[name] = (X, y, train, test)
    dims = {X.shape[1] for X, *_ in data.values()}
    if len(dims) != 1:
        msg = f"all datasets must have the same number of features; got {sorted(dims)}."
        raise InvalidInputError(msg)
    k = len(names)
    acc, lo, hi = (np.empty((k, k)) for _ in range(3))
    for i, a in enumerate(names):
        Xa, ya, tr, _ = data[a]
        est = make_probe(probe, seed=seed).fit(Xa[tr], ya[tr])
        for j, b in enumerate(names):
            Xb, yb, _, te = data[b]
            hits = int(np.sum(np.asarray(est.predict(Xb[te])) == yb[te]))
            acc[i, j] = hits / te.size
            lo[i, j], hi[i, j] = wilson_interval(hits, te.size, ci_level=ci_level)
    collapses = []
    for i, a in enumerate(names):
        if lo[i, i] <= 0.5:
            continue
        for j, b in enumerate(names):
            if j == i or lo[i, j] > 0.5:
                continue
            kind = "inverted" if hi[i, j] < 0.5 else "chance"
            collapses.append([a, b, kind, float(acc[i, i]), float(acc[i, j])])
    if collapses:
        parts = [f"{a} -> {b}: {s:.2f} -> {t:.2f} ({kind})" for a, b, kind, s, t in collapses]
        verdict = (
            "The probe does not transfer: " + "; ".join(parts[:4]) + ". It learned a feature "
            "of the training set that is not truth."
        )
        status, passed = "alert", False
    else:
        verdict = "Every probe that works in its own dataset stays above chance on the others."
        status, passed = "ok", True
    return CheckResult(
        name="transfer",
        verdict=verdict,
        status=status,
        passed=passed,
        metrics={"min_transfer_accuracy": float(np.min(acc[~np.eye(k, dtype=bool)]))},
        data={
            "names": names,
            "accuracy": acc,
            "ci_low": lo,
            "ci_high": hi,
            "collapses": collapses,
        },
        params={
            "probe": str(probe),
            "test_size": test_size,
            "ci_level": ci_level,
            "seed": seed,
        },
    )


def _heldout_hits(
    probe: Any, X: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, seed: Any
) -> int:
    """Test rows a probe fitted on the training rows classifies correctly."""
    est = make_probe(probe, seed=seed).fit(X[train], y[train])
    return int(np.sum(np.asarray(est.predict(X[test])) == y[test]))


def _cv_accuracy(X: np.ndarray, y: np.ndarray, probe: Any, n_splits: int, seed: Any) -> float:
    from sklearn.model_selection import StratifiedKFold

    cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    hits = 0
    for train, test in cv.split(X, y):
        hits += _heldout_hits(probe, X, y, train, test, seed)
    return hits / y.size


def selectivity(
    X: Any,
    y: Any,
    *,
    probe: Any = "logistic",
    groups: Any = None,
    n_controls: int = 5,
    n_splits: int = 5,
    seed: int | None = 0,
) -> CheckResult:
    """Hewitt & Liang selectivity: task accuracy minus control-task accuracy.

    Parameters
    ----------
    X : array-like (n, d)
    y : array-like (n,)
    probe : {"logistic", "massmean", "lda"} or estimator
    groups : array-like (n,), optional
        Control labels are drawn once per group (Bernoulli with the task's base rate), so a
        probe can solve the control only by memorizing group identity; without groups the
        control labels are a permutation of ``y``.
    n_controls : int
        Number of control tasks averaged.
    n_splits : int
        Cross-validation folds (stratified, not grouped: memorization must be possible).

    Returns
    -------
    CheckResult
        Metrics ``task_accuracy``, ``control_accuracy``, ``selectivity`` and its standard
        error ``selectivity_se`` (binomial, task and controls independent). The probe passes
        when selectivity exceeds twice its standard error.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 300); X = rng.normal(size=(300, 5)); X[:, 0] += 2 * y
    >>> selectivity(X, y).passed
    True
    """
    seed = check_seed(seed)
    n_controls = check_int(n_controls, name="n_controls", minimum=1)
    n_splits = check_int(n_splits, name="n_splits", minimum=2)
    X, y = _xy(X, y)
    n = y.size
    rng = np.random.default_rng(seed)
    task = _cv_accuracy(X, y, probe, n_splits, seed)
    controls = []
    for _ in range(n_controls):
        if groups is None:
            yc = rng.permutation(y)
        else:
            g = np.asarray(groups)
            if g.shape != (n,):
                msg = f"groups must have one value per row ({n}); got shape {g.shape}."
                raise InvalidInputError(msg)
            uniq, inv = np.unique(g, return_inverse=True)
            yc = (rng.random(uniq.size) < y.mean()).astype(np.int64)[inv]
            if np.unique(yc).size < 2:
                yc[rng.integers(n)] = 1 - yc[0]
        controls.append(_cv_accuracy(X, yc, probe, n_splits, seed))
    control = float(np.mean(controls))
    sel = task - control
    se = float(np.sqrt(task * (1 - task) / n + control * (1 - control) / (n * n_controls)))
    passed = sel > 2 * se
    if passed:
        verdict = (
            f"Selective: task accuracy {task:.2f} vs {control:.2f} on a control task with "
            f"random labels (selectivity {sel:+.2f} ± {se:.2f})."
        )
        status = "ok"
    else:
        verdict = (
            f"Not selective: the probe reaches {control:.2f} on random control labels and "
            f"{task:.2f} on the task (selectivity {sel:+.2f} ± {se:.2f}); its accuracy says "
            "more about the probe than the representation."
        )
        status = "warning"
    return CheckResult(
        name="selectivity",
        verdict=verdict,
        status=status,
        passed=bool(passed),
        metrics={
            "task_accuracy": task,
            "control_accuracy": control,
            "selectivity": sel,
            "selectivity_se": se,
        },
        data={"control_accuracies": controls},
        params={
            "probe": str(probe),
            "n_controls": n_controls,
            "n_splits": n_splits,
            "grouped_control": groups is not None,
            "seed": seed,
        },
    )


def _threshold_accuracy(
    p_train: np.ndarray, y_train: np.ndarray, p_test: np.ndarray, y_test: np.ndarray
) -> np.ndarray:
    """Accuracy of ``sign * (p - midpoint)`` per column, midpoint and sign from training."""
    m1 = p_train[y_train == 1].mean(axis=0)
    m0 = p_train[y_train == 0].mean(axis=0)
    sign = np.where(m1 >= m0, 1.0, -1.0)
    pred = (sign * (p_test - 0.5 * (m0 + m1)) > 0).astype(np.int64)
    return np.mean(pred == y_test[:, None], axis=0)


def random_probe_floor(
    X: Any,
    y: Any,
    *,
    probe: Any = "logistic",
    n_directions: int = 200,
    test_size: float = 0.3,
    seed: int | None = 0,
) -> CheckResult:
    """Accuracy of random directions (threshold and sign fitted) versus a trained probe.

    Returns
    -------
    CheckResult
        Metrics ``probe_accuracy``, ``random_mean`` and ``random_q95`` on the same held-out
        split; the probe passes when it beats ``random_q95``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 300); X = rng.normal(size=(300, 20)); X[:, 0] += 2 * y
    >>> random_probe_floor(X, y).passed
    True
    """
    seed = check_seed(seed)
    n_directions = check_int(n_directions, name="n_directions", minimum=1)
    X, y = _xy(X, y)
    train, test = _split(y, test_size, seed)
    rng = np.random.default_rng(seed)
    D = rng.normal(size=(X.shape[1], n_directions))
    D /= np.linalg.norm(D, axis=0)
    mu = X[train].mean(axis=0)
    accs = _threshold_accuracy((X[train] - mu) @ D, y[train], (X[test] - mu) @ D, y[test])
    acc = _heldout_hits(probe, X, y, train, test, seed) / test.size
    q95 = float(np.quantile(accs, 0.95))
    passed = acc > q95
    verdict = (
        f"The probe ({acc:.2f}) {'beats' if passed else 'does not beat'} the 95th percentile "
        f"of {n_directions} random directions ({q95:.2f}; mean {accs.mean():.2f})."
    )
    return CheckResult(
        name="random_floor",
        verdict=verdict,
        status="ok" if passed else "warning",
        passed=bool(passed),
        metrics={"probe_accuracy": acc, "random_mean": float(accs.mean()), "random_q95": q95},
        data={"random_accuracies": accs},
        params={
            "probe": str(probe),
            "n_directions": n_directions,
            "test_size": test_size,
            "seed": seed,
        },
    )


def unsupervised_baselines(
    X: Any,
    y: Any,
    *,
    X_neg: Any = None,
    probe: Any = "logistic",
    test_size: float = 0.3,
    margin: float = 0.02,
    seed: int | None = 0,
) -> CheckResult:
    """First principal component and 2-means clusters versus a trained probe.

    With ``X_neg`` (contrast pairs) the baselines use the per-side centered differences
    ``(x+ - mean+) - (x- - mean-)`` (Burns et al.'s contrast-pair baselines). Each baseline
    is oriented (which end or cluster means "true") on the training split only.

    Returns
    -------
    CheckResult
        Metrics ``probe_accuracy``, ``pca_accuracy``, ``kmeans_accuracy``. Status
        ``"warning"`` when a baseline is within ``margin`` of the probe: the probe's
        direction is then the most prominent structure of the data, whatever it encodes.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 300); X = rng.normal(size=(300, 5)); X[:, 0] += 4 * y
    >>> unsupervised_baselines(X, y).metrics["pca_accuracy"] > 0.9
    True
    """
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    seed = check_seed(seed)
    X, y = _xy(X, y)
    if X_neg is not None:
        Xn, _ = as_matrix(X_neg, name="X_neg")
        if Xn.shape != X.shape:
            msg = f"X_neg has shape {Xn.shape} but X has {X.shape}; pass the pairs' two sides."
            raise InvalidInputError(msg)
    train, test = _split(y, test_size, seed)
    if X_neg is not None:
        Z = (X - X[train].mean(axis=0)) - (Xn - Xn[train].mean(axis=0))
    else:
        Z = X
    pca = PCA(n_components=1, random_state=seed).fit(Z[train])
    pca_acc = float(
        _threshold_accuracy(pca.transform(Z[train]), y[train], pca.transform(Z[test]), y[test])[0]
    )
    km = KMeans(n_clusters=2, n_init=10, random_state=seed).fit(Z[train])
    c_train, c_test = km.labels_, km.predict(Z[test])
    flip = np.mean(c_train == y[train]) < 0.5
    km_acc = float(np.mean((1 - c_test if flip else c_test) == y[test]))
    acc = _heldout_hits(probe, Z, y, train, test, seed) / test.size
    best = max(pca_acc, km_acc)
    matched = best >= acc - margin
    if matched:
        verdict = (
            f"Unsupervised baselines match the probe (PCA {pca_acc:.2f}, k-means {km_acc:.2f}, "
            f"probe {acc:.2f}): the label is the most prominent direction of these "
            "activations, so an unsupervised probe finding it says little about truth."
        )
    else:
        verdict = (
            f"The probe ({acc:.2f}) beats the PCA ({pca_acc:.2f}) and k-means ({km_acc:.2f}) "
            "baselines: the label is not simply the most prominent direction."
        )
    return CheckResult(
        name="baselines",
        verdict=verdict,
        status="warning" if matched else "ok",
        passed=not matched,
        metrics={"probe_accuracy": acc, "pca_accuracy": pca_acc, "kmeans_accuracy": km_acc},
        params={
            "probe": str(probe),
            "pairs": X_neg is not None,
            "test_size": test_size,
            "margin": margin,
            "seed": seed,
        },
    )


def distractor_check(
    X_pos: Any,
    X_neg: Any,
    y: Any,
    distractor: Any,
    *,
    calibration_size: float = 0.1,
    test_size: float = 0.3,
    n_restarts: int = 10,
    seed: int | None = 0,
) -> CheckResult:
    """Does CCS track truth, or a planted distractor feature?

    CCS is fitted on the training pairs (labels revealed on ``calibration_size`` of them, to
    orient it) and evaluated on the held-out pairs against both ``y`` and ``distractor``.
    Agreement is ``|2 * accuracy - 1|`` (0: unrelated, 1: follows it exactly, either way
    round); the sign was fixed on truth, so a probe following the distractor can look
    "inverted" with respect to it.

    Returns
    -------
    CheckResult
        Metrics ``truth_accuracy``, ``distractor_accuracy``, ``truth_agreement``,
        ``distractor_agreement``. Alert when the distractor agreement is larger and its
        interval excludes chance.

    Examples
    --------
    >>> from assay.probe import make_contrast_activations
    >>> Xp, Xn, y, h = make_contrast_activations(400, 20, distractor=4.0, seed=0)
    >>> distractor_check(Xp, Xn, y, h, seed=0).status
    'alert'
    """
    from assay.probe._ccs import CCS

    seed = check_seed(seed)
    Xp, y = _xy(X_pos, y, name="X_pos")
    Xn, _ = as_matrix(X_neg, name="X_neg")
    h = as_vector(distractor, name="distractor", n_rows=y.size)
    if not np.isin(h, (0, 1)).all():
        msg = "distractor must be a binary 0/1 feature, one value per pair."
        raise InvalidInputError(msg)
    train, test = _split(y, test_size, seed)
    rng = np.random.default_rng(seed)
    y_cal = calibration_labels(y[train], float(calibration_size), rng)
    ccs = CCS(n_restarts=n_restarts, seed=seed).fit(Xp[train], Xn[train], y_cal)
    pred = ccs.predict(Xp[test], Xn[test])
    n = test.size
    k_truth = int(np.sum(pred == y[test]))
    k_dis = int(np.sum(pred == h[test]))
    acc_t, acc_d = k_truth / n, k_dis / n
    agree_t, agree_d = abs(2 * acc_t - 1), abs(2 * acc_d - 1)
    lo_d, hi_d = wilson_interval(k_dis, n)
    lo_t, _ = wilson_interval(k_truth, n)
    if agree_d > agree_t and (lo_d > 0.5 or hi_d < 0.5):
        verdict = (
            f"CCS tracks the planted distractor, not truth: it agrees with the distractor on "
            f"{max(acc_d, 1 - acc_d):.0%} of held-out pairs and with truth on {acc_t:.0%}."
        )
        status, passed = "alert", False
    elif lo_t > 0.5:
        verdict = (
            f"CCS tracks truth ({acc_t:.0%} held-out accuracy) and ignores the distractor "
            f"(agreement {agree_d:.2f})."
        )
        status, passed = "ok", True
    else:
        verdict = (
            f"CCS tracks neither truth ({acc_t:.0%}) nor the distractor "
            f"(agreement {agree_d:.2f}) reliably."
        )
        status, passed = "warning", False
    return CheckResult(
        name="distractor",
        verdict=verdict,
        status=status,
        passed=passed,
        metrics={
            "truth_accuracy": acc_t,
            "distractor_accuracy": acc_d,
            "truth_agreement": agree_t,
            "distractor_agreement": agree_d,
            "calibration_accuracy": ccs.calibration_accuracy_,
        },
        params={
            "calibration_size": calibration_size,
            "test_size": test_size,
            "n_restarts": n_restarts,
            "seed": seed,
        },
    )
