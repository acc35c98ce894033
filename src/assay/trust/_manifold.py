"""Off-manifold check: can an explainer's perturbation samples be told apart from real rows?

Perturbation explainers query the model at synthetic points. When those points are easy to
tell from real data, a model can behave one way on real rows and another on the explainer's
queries — the scaffolding attack of Slack et al. (2020) hides a discriminatory model behind
an innocuous one this way. This module measures the risk with a **classifier two-sample
test**: a classifier is trained to separate perturbation samples from real rows on one half
of the data; its ROC AUC on the other half estimates how distinguishable they are (0.5:
indistinguishable). The p-value permutes the held-out labels (valid because the held-out
rows were not used for training: under the null hypothesis of equal distributions the
held-out scores are exchangeable between the two groups).

Samplers (to reproduce an explainer's queries when it does not expose them):

- :func:`coalition_samples` — Shapley / KernelSHAP style: ``z = (x_S, b_{-S})`` for a row
  ``x``, a background row ``b`` and a coalition ``S`` whose size follows the Shapley kernel's
  distribution over sizes ``1..d-1`` (the sizes KernelSHAP samples), uniform given its size.
- :func:`gaussian_samples` — LIME tabular style: ``z = x + sigma * N(0, 1)`` per feature, with
  ``sigma`` the training standard deviation (``lime``'s sampling around the instance without
  discretization, and :class:`assay.attribution.LimeTabular`'s default).
- :func:`path_samples` — integrated-gradients style: ``z = b + alpha (x - b)``, alpha uniform.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from assay._validation import as_matrix, check_int, check_seed
from assay.errors import InvalidInputError
from assay.trust._result import ManifoldResult

__all__ = [
    "coalition_samples",
    "gaussian_samples",
    "off_manifold_test",
    "path_samples",
    "perturbation_samples",
]

SAMPLERS = {
    "exact": "coalition",
    "kernel": "coalition",
    "permutation": "coalition",
    "tree": "coalition",
    "lime": "gaussian",
    "integrated_gradients": "path",
    "smoothgrad": "gaussian",
}


def _rows(X: Any, name: str) -> np.ndarray:
    values, _ = as_matrix(X, name=name, allow_nan=True)
    return values


def coalition_samples(
    X: Any, background: Any, *, n_samples: int, seed: int | None = 0
) -> np.ndarray:
    """KernelSHAP-style samples ``(x_S, b_{-S})`` (see the module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> Z = coalition_samples(np.ones((3, 4)), np.zeros((2, 4)), n_samples=5, seed=0)
    >>> Z.shape, bool(((Z == 0) | (Z == 1)).all())
    ((5, 4), True)
    """
    Xv = _rows(X, "X")
    bg = _rows(background, "background")
    n_samples = check_int(n_samples, name="n_samples", minimum=1)
    d = Xv.shape[1]
    if bg.shape[1] != d:
        msg = f"background has {bg.shape[1]} columns but X has {d}; pass the same features."
        raise InvalidInputError(msg)
    rng = np.random.default_rng(check_seed(seed))
    if d == 1:
        sizes = rng.integers(0, 2, size=n_samples)
    else:
        s = np.arange(1, d)
        w = (d - 1) / (s * (d - s))  # Shapley kernel mass of all coalitions of size s
        sizes = rng.choice(s, size=n_samples, p=w / w.sum())
    ranks = np.argsort(np.argsort(rng.random((n_samples, d)), axis=1), axis=1)
    keep = ranks < sizes[:, None]
    x = Xv[rng.integers(0, Xv.shape[0], size=n_samples)]
    b = bg[rng.integers(0, bg.shape[0], size=n_samples)]
    return np.where(keep, x, b)


def gaussian_samples(X: Any, *, scale: Any, n_samples: int, seed: int | None = 0) -> np.ndarray:
    """LIME-style samples ``x + scale * N(0, 1)`` around random rows of ``X``.

    ``scale`` is one number per feature (for LIME: the training standard deviation).

    Examples
    --------
    >>> import numpy as np
    >>> Z = gaussian_samples(np.zeros((2, 3)), scale=[1.0, 0.0, 2.0], n_samples=4, seed=0)
    >>> Z.shape, bool((Z[:, 1] == 0).all())
    ((4, 3), True)
    """
    Xv = _rows(X, "X")
    n_samples = check_int(n_samples, name="n_samples", minimum=1)
    sc = np.broadcast_to(np.asarray(scale, dtype=np.float64), (Xv.shape[1],))
    if not np.isfinite(sc).all() or (sc < 0).any():
        msg = "scale must be finite and non-negative, one value per feature."
        raise InvalidInputError(msg)
    rng = np.random.default_rng(check_seed(seed))
    x = Xv[rng.integers(0, Xv.shape[0], size=n_samples)]
    return x + sc * rng.standard_normal((n_samples, Xv.shape[1]))


def path_samples(X: Any, baseline: Any, *, n_samples: int, seed: int | None = 0) -> np.ndarray:
    """Integrated-gradients path points ``b + alpha (x - b)`` with alpha ~ U(0, 1).

    ``baseline`` is one row (n_features,) or rows (m, n_features) drawn at random.

    Examples
    --------
    >>> import numpy as np
    >>> Z = path_samples(np.ones((2, 2)), np.zeros(2), n_samples=3, seed=0)
    >>> bool(((Z >= 0) & (Z <= 1)).all())
    True
    """
    Xv = _rows(X, "X")
    n_samples = check_int(n_samples, name="n_samples", minimum=1)
    base = np.atleast_2d(np.asarray(baseline, dtype=np.float64))
    if base.shape[1] != Xv.shape[1]:
        msg = f"baseline has {base.shape[1]} columns but X has {Xv.shape[1]}."
        raise InvalidInputError(msg)
    rng = np.random.default_rng(check_seed(seed))
    x = Xv[rng.integers(0, Xv.shape[0], size=n_samples)]
    b = base[rng.integers(0, base.shape[0], size=n_samples)]
    alpha = rng.random((n_samples, 1))
    return b + alpha * (x - b)


def perturbation_samples(
    method: str, X: Any, *, background: Any, n_samples: int, seed: int | None = 0
) -> tuple[np.ndarray, str]:
    """Samples like the queries of the explainer ``method``, and the sampler's name.

    ``"exact"``, ``"kernel"``, ``"permutation"``, ``"tree"`` (interventional) ->
    :func:`coalition_samples` with ``background``; ``"lime"`` -> :func:`gaussian_samples` with
    the background's standard deviation; ``"smoothgrad"`` -> the same with 0.15 of it (the
    SmoothGrad default noise level); ``"integrated_gradients"`` -> :func:`path_samples` from
    the all-zeros baseline.
    """
    kind = SAMPLERS.get(method)
    if kind is None:
        msg = (
            f"no perturbation sampler is known for method {method!r}; known: "
            f"{sorted(SAMPLERS)}. Pass the explainer's own samples to off_manifold_test."
        )
        raise InvalidInputError(msg)
    bg = _rows(background, "background")
    if kind == "coalition":
        return coalition_samples(X, bg, n_samples=n_samples, seed=seed), f"{method} (coalition)"
    if kind == "gaussian":
        sd = np.nanstd(bg, axis=0)
        factor = 1.0 if method == "lime" else 0.15
        return (
            gaussian_samples(X, scale=factor * sd, n_samples=n_samples, seed=seed),
            f"{method} (gaussian)",
        )
    zeros = np.zeros(bg.shape[1])
    return path_samples(X, zeros, n_samples=n_samples, seed=seed), f"{method} (path)"


def _auc_many(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """ROC AUC of ``scores`` for each row of a (p, n) bool ``labels`` matrix (ties averaged)."""
    from scipy.stats import rankdata

    r = rankdata(scores)
    n1 = labels.sum(axis=1)
    n0 = labels.shape[1] - n1
    return ((labels * r).sum(axis=1) - n1 * (n1 + 1) / 2) / (n1 * n0)


def off_manifold_test(
    real: Any,
    perturbed: Any,
    *,
    classifier: Any = None,
    test_size: float = 0.5,
    max_rows: int = 5000,
    n_permutations: int = 1000,
    warn_auc: float = 0.7,
    alert_auc: float = 0.85,
    alpha: float = 0.01,
    sampler: str = "given",
    seed: int | None = 0,
) -> ManifoldResult:
    """Classifier two-sample test between real rows and perturbation samples.

    Parameters
    ----------
    real : array-like of shape (n_real, n_features)
        Rows from the data distribution (ideally not the rows the perturbations were built
        from, or at least a fresh sample).
    perturbed : array-like of shape (n_perturbed, n_features)
        The explainer's queries (or samples from :func:`perturbation_samples`).
    classifier : scikit-learn classifier, optional
        Default ``HistGradientBoostingClassifier(max_iter=200, random_state=seed)`` (fitted
        single-threaded), which handles NaN and picks up marginal and joint differences.
    test_size : float, default 0.5
        Held-out share of each group.
    max_rows : int, default 5000
        Rows per group at most; the larger group is subsampled to the smaller one's size so
        the two are balanced.
    n_permutations : int, default 1000
    warn_auc, alert_auc : float, default 0.7 and 0.85
        AUC levels of a warning and an alert (when also significant).
    alpha : float, default 0.01
    sampler : str
        Name of what produced ``perturbed`` (shown in the verdict).
    seed : int or None, default 0

    Returns
    -------
    ManifoldResult

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> real = rng.integers(0, 2, size=(400, 3)).astype(float)
    >>> res = off_manifold_test(real, real + 0.3 * rng.normal(size=real.shape), seed=0)
    >>> res.auc > 0.9, res.status
    (True, 'alert')
    """
    R = _rows(real, "real")
    P = _rows(perturbed, "perturbed")
    if R.shape[1] != P.shape[1]:
        msg = f"real has {R.shape[1]} columns but perturbed has {P.shape[1]}; they must match."
        raise InvalidInputError(msg)
    seed = check_seed(seed)
    max_rows = check_int(max_rows, name="max_rows", minimum=10)
    n_permutations = check_int(n_permutations, name="n_permutations", minimum=1, maximum=100_000)
    if not (0 < float(test_size) < 1):
        msg = f"test_size must be strictly between 0 and 1; got {test_size!r}."
        raise InvalidInputError(msg)
    if not (0.5 <= warn_auc <= alert_auc <= 1):
        msg = f"need 0.5 <= warn_auc <= alert_auc <= 1; got {warn_auc!r} and {alert_auc!r}."
        raise InvalidInputError(msg)
    rng = np.random.default_rng(seed)
    n = min(R.shape[0], P.shape[0], max_rows)
    n_test = round(n * float(test_size))
    if n_test < 5 or n - n_test < 5:
        msg = (
            f"too few rows for a two-sample test: {R.shape[0]} real and {P.shape[0]} perturbed "
            "(at least 10 of each are needed, 100+ for a useful answer)."
        )
        raise InvalidInputError(msg)
    R = R[rng.permutation(R.shape[0])[:n]]
    P = P[rng.permutation(P.shape[0])[:n]]
    X_train = np.vstack([R[n_test:], P[n_test:]])
    y_train = np.r_[np.zeros(n - n_test), np.ones(n - n_test)]
    X_test = np.vstack([R[:n_test], P[:n_test]])
    y_test = np.r_[np.zeros(n_test), np.ones(n_test)].astype(bool)
    if classifier is None:
        from sklearn.ensemble import HistGradientBoostingClassifier
        from threadpoolctl import threadpool_limits

        # single-threaded: at these sizes threads gain little, and oversubscribed OpenMP
        # threads on a busy machine can make the fit tens of times slower
        clf = HistGradientBoostingClassifier(max_iter=200, random_state=seed)
        with threadpool_limits(limits=1, user_api="openmp"):
            clf.fit(X_train, y_train)
            scores = clf.predict_proba(X_test)[:, 1]
    else:
        from sklearn.base import clone

        clf = clone(classifier)
        clf.fit(X_train, y_train)
        scores = clf.predict_proba(X_test)[:, 1]
    auc = float(_auc_many(scores, y_test[None, :])[0])
    perms = np.stack([rng.permutation(y_test) for _ in range(n_permutations)])
    null = _auc_many(scores, perms)
    p = float((1 + np.sum(null >= auc - 1e-12)) / (1 + n_permutations))
    return ManifoldResult(
        auc=auc,
        p_value=p,
        n_real=n,
        n_perturbed=n,
        sampler=sampler,
        warn_auc=float(warn_auc),
        alert_auc=float(alert_auc),
        alpha=float(alpha),
        params={
            "classifier": type(clf).__name__,
            "test_size": float(test_size),
            "n_test_per_group": n_test,
            "n_permutations": n_permutations,
            "seed": seed,
        },
    )
