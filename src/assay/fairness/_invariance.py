"""Invariance-penalized training (PyTorch): counterfactual and MMD penalties, and a sweep.

The loss is ``BCE(f(x), y) + weight * penalty``:

- ``"counterfactual"``: ``mean((p(x) - p(x_cf))^2)`` where ``x_cf`` is the row's counterfactual:
  the sensitive column (when it is an input) set to another group's value, and each proxy moved
  to the same within-group quantile of the other group's distribution (``"quantile"``, exact
  for discrete proxies such as region codes) or shifted by the difference of group means
  (``"mean"``). Features that are not listed as proxies are kept: the counterfactual assumes
  they do not depend on the attribute (pass ``ProxyAudit(...).proxies``).
- ``"mmd"``: the squared maximum mean discrepancy (Gaussian kernel on predicted probabilities)
  between each group's score distribution and the pooled one; it targets demographic parity of
  the scores without a counterfactual.

torch is imported lazily (``pip install "assay[torch]"``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from assay._validation import as_matrix, as_vector, check_int, check_seed, import_optional
from assay.errors import InvalidInputError, NotFittedError
from assay.fairness._group_metrics import as_group_frame
from assay.fairness._result import TradeoffCurve
from assay.fairness._transport import transport

torch = import_optional("torch", purpose="invariance-penalized training")

__all__ = ["InvariantMLPClassifier", "counterfactual_rows", "invariance_sweep", "train_invariant"]


def _group_codes(sensitive: Any, n: int) -> tuple[np.ndarray, list[str]]:
    frame = as_group_frame(sensitive, name="sensitive", n_rows=n)
    labels = frame.astype(str).agg("|".join, axis=1) if frame.shape[1] > 1 else frame.iloc[:, 0]
    import pandas as pd

    codes, levels = pd.factorize(labels, sort=True)
    if levels.size < 2:
        msg = f"sensitive has a single group {list(levels)}; invariance needs two or more."
        raise InvalidInputError(msg)
    return codes.astype(np.int64), [str(v) for v in levels]


def _columns(cols: Any, names: list[str], what: str) -> list[int]:
    if cols is None:
        return []
    cols = [cols] if isinstance(cols, (str, int)) else list(cols)
    out = []
    for c in cols:
        if isinstance(c, str):
            if c not in names:
                msg = f"{what} {c!r} is not a column of X; columns are {names}."
                raise InvalidInputError(msg)
            out.append(names.index(c))
        else:
            out.append(check_int(c, name=what, minimum=0, maximum=len(names) - 1))
    return out


def counterfactual_rows(
    X: Any,
    sensitive: Any,
    *,
    sensitive_column: str | int | None = None,
    proxies: Sequence[str | int] | None = None,
    method: str = "quantile",
    seed: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Each row with the sensitive attribute flipped and its proxies moved accordingly.

    Parameters
    ----------
    X : array-like or DataFrame (n_samples, n_features)
    sensitive : array-like
        Group label per row. Each row moves to another group (the other one when there are two,
        one drawn at random otherwise).
    sensitive_column : str or int, optional
        Column of ``X`` encoding the attribute; set to the target group's most common value.
    proxies : list of str or int, optional
        Columns moved to the target group's distribution.
    method : {"quantile", "mean"}, default "quantile"
        ``"quantile"`` keeps each proxy's within-group quantile and reads it off the target
        group's distribution; ``"mean"`` adds the difference of group means.
    seed : int, optional
        Seed for tie-breaking and target draws.

    Returns
    -------
    X_cf : ndarray (n_samples, n_features)
    target : ndarray of int (n_samples,)
        The group code each row was moved to.

    Examples
    --------
    >>> X = np.array([[0, 1.0], [0, 2.0], [1, 11.0], [1, 12.0]])
    >>> X_cf, target = counterfactual_rows(X, [0, 0, 1, 1], sensitive_column=0, proxies=[1])
    >>> X_cf.tolist()
    [[1.0, 11.0], [1.0, 12.0], [0.0, 1.0], [0.0, 2.0]]
    """
    if method not in ("quantile", "mean"):
        msg = f"method must be 'quantile' or 'mean'; got {method!r}."
        raise InvalidInputError(msg)
    Xv, names = as_matrix(X, allow_nan=True)
    n = Xv.shape[0]
    s, _ = _group_codes(sensitive, n)
    rng = np.random.default_rng(check_seed(seed))
    k = int(s.max()) + 1
    if k == 2:
        target = 1 - s
    else:
        target = (s + rng.integers(1, k, size=n)) % k
    X_cf = Xv.copy()
    col = _columns(sensitive_column, names, "sensitive_column")
    for c in col:
        for g in range(k):
            vals, counts = np.unique(Xv[s == g, c], return_counts=True)
            X_cf[target == g, c] = vals[np.argmax(counts)]
    for j in _columns(proxies, names, "proxies"):
        if j in col:
            continue
        if method == "quantile":
            X_cf[:, j] = transport(Xv[:, j], s, rng, target_groups=target)
        else:
            means = np.array([np.nanmean(Xv[s == g, j]) for g in range(k)])
            X_cf[:, j] = Xv[:, j] + means[target] - means[s]
    return X_cf, target


def _mmd2(a: Any, b: Any, bandwidth: float) -> Any:
    def k(u: Any, v: Any) -> Any:
        return torch.exp(-((u[:, None] - v[None, :]) ** 2) / (2.0 * bandwidth**2)).mean()

    return k(a, a) + k(b, b) - 2.0 * k(a, b)


def train_invariant(
    module: Any,
    X: np.ndarray,
    y: np.ndarray,
    *,
    sensitive: np.ndarray | None = None,
    X_cf: np.ndarray | None = None,
    penalty: str = "counterfactual",
    weight: float = 1.0,
    epochs: int = 300,
    lr: float = 0.01,
    weight_decay: float = 0.0,
    batch_size: int | None = None,
    bandwidth: float = 0.1,
    seed: int | None = None,
) -> list[float]:
    """Train a torch module (logits out) with an invariance penalty; returns the loss history.

    Parameters
    ----------
    module : torch.nn.Module
        Maps (n, d) float32 inputs to (n,) or (n, 1) logits. Trained in place.
    X, y : ndarray
        Standardized inputs and 0/1 labels.
    sensitive : ndarray of int, optional
        Group codes (needed for ``penalty="mmd"``).
    X_cf : ndarray, optional
        Counterfactual rows aligned with ``X`` (needed for ``penalty="counterfactual"``).
    penalty : {"counterfactual", "mmd"}
    weight : float
        Penalty weight (0 = plain training).
    epochs, lr, weight_decay, batch_size : training settings (Adam; full batch by default).
    bandwidth : float
        Gaussian kernel bandwidth on probabilities for the MMD.
    seed : int, optional
        Seeds the batch order (the module's initialization is the caller's).

    Returns
    -------
    list of float
        Training loss per epoch.
    """
    if penalty not in ("counterfactual", "mmd"):
        msg = f"penalty must be 'counterfactual' or 'mmd'; got {penalty!r}."
        raise InvalidInputError(msg)
    if weight < 0 or not np.isfinite(weight):
        msg = f"weight must be a finite non-negative number; got {weight!r}."
        raise InvalidInputError(msg)
    if weight > 0 and penalty == "counterfactual" and X_cf is None:
        msg = "penalty='counterfactual' needs X_cf (see counterfactual_rows)."
        raise InvalidInputError(msg)
    if weight > 0 and penalty == "mmd" and sensitive is None:
        msg = "penalty='mmd' needs the sensitive group codes."
        raise InvalidInputError(msg)
    Xt = torch.as_tensor(X, dtype=torch.float32)
    yt = torch.as_tensor(y, dtype=torch.float32)
    Xc = None if X_cf is None else torch.as_tensor(X_cf, dtype=torch.float32)
    st = None if sensitive is None else torch.as_tensor(sensitive, dtype=torch.int64)
    groups = [] if sensitive is None else np.unique(sensitive).tolist()
    n = Xt.shape[0]
    bs = n if batch_size is None else int(batch_size)
    opt = torch.optim.Adam(module.parameters(), lr=lr, weight_decay=weight_decay)
    bce = torch.nn.BCEWithLogitsLoss()
    gen = torch.Generator().manual_seed(0 if seed is None else int(seed))
    history = []
    module.train()
    for _ in range(int(epochs)):
        order = torch.randperm(n, generator=gen) if bs < n else torch.arange(n)
        total = 0.0
        for start in range(0, n, bs):
            idx = order[start : start + bs]
            logits = module(Xt[idx]).reshape(-1)
            loss = bce(logits, yt[idx])
            if weight > 0:
                p = torch.sigmoid(logits)
                if penalty == "counterfactual":
                    p_cf = torch.sigmoid(module(Xc[idx]).reshape(-1))
                    loss = loss + weight * torch.mean((p - p_cf) ** 2)
                else:
                    sb = st[idx]
                    pen = 0.0
                    for g in groups:
                        m = sb == g
                        if 0 < int(m.sum()) < idx.numel():
                            pen = pen + _mmd2(p[m], p, bandwidth)
                    loss = loss + weight * pen
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * idx.numel()
        history.append(total / n)
    module.eval()
    return history


def _mlp(n_features: int, hidden: Sequence[int]) -> Any:
    layers: list[Any] = []
    width = n_features
    for h in hidden:
        layers += [torch.nn.Linear(width, int(h)), torch.nn.ReLU()]
        width = int(h)
    layers.append(torch.nn.Linear(width, 1))
    return torch.nn.Sequential(*layers)


class InvariantMLPClassifier(ClassifierMixin, BaseEstimator):
    """Binary MLP classifier trained with an invariance penalty on a sensitive attribute.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (32,)
    penalty : {"counterfactual", "mmd"}, default "counterfactual"
    penalty_weight : float, default 0.0
    sensitive_column : str or int, optional
        Column of ``X`` encoding the attribute (flipped in the counterfactual).
    proxies : list of str or int, optional
        Columns moved with the attribute in the counterfactual (e.g. ``ProxyAudit.proxies``).
    counterfactual : {"quantile", "mean"}, default "quantile"
        How proxies move (see :func:`counterfactual_rows`).
    epochs : int, default 300
    lr : float, default 0.01
    weight_decay : float, default 0.0
    batch_size : int, optional
        Full batch by default.
    bandwidth : float, default 0.1
        Kernel bandwidth for ``penalty="mmd"``.
    module : callable, optional
        Hook for other architectures: ``module(n_features) -> torch.nn.Module`` returning
        logits. This is where monotonic networks (``assay.glassbox``) plug in; the default is an
        MLP with ``hidden_layer_sizes``.
    seed : int, optional
        Seeds initialization, counterfactual draws and batch order.

    Attributes
    ----------
    classes_, n_features_in_, feature_names_in_ (with DataFrames), module_, mean_, scale_,
    history_ : the usual fitted attributes.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> s = rng.integers(0, 2, 200)
    >>> X = np.column_stack([s, s + rng.normal(size=200), rng.normal(size=200)])
    >>> y = (X[:, 1] + X[:, 2] > 0.5).astype(int)
    >>> clf = InvariantMLPClassifier(penalty_weight=5.0, sensitive_column=0, proxies=[1],
    ...                              epochs=50, seed=0).fit(X, y, sensitive=s)
    >>> clf.predict_proba(X).shape
    (200, 2)
    """

    def __init__(
        self,
        *,
        hidden_layer_sizes: tuple[int, ...] = (32,),
        penalty: str = "counterfactual",
        penalty_weight: float = 0.0,
        sensitive_column: str | int | None = None,
        proxies: Sequence[str | int] | None = None,
        counterfactual: str = "quantile",
        epochs: int = 300,
        lr: float = 0.01,
        weight_decay: float = 0.0,
        batch_size: int | None = None,
        bandwidth: float = 0.1,
        module: Callable[[int], Any] | None = None,
        seed: int | None = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.penalty = penalty
        self.penalty_weight = penalty_weight
        self.sensitive_column = sensitive_column
        self.proxies = proxies
        self.counterfactual = counterfactual
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.bandwidth = bandwidth
        self.module = module
        self.seed = seed

    def fit(self, X: Any, y: Any, sensitive: Any = None) -> InvariantMLPClassifier:
        """Fit on ``X, y``; ``sensitive`` (group labels) is needed when ``penalty_weight > 0``."""
        Xv, names = as_matrix(X, name="X")
        yv = as_vector(y, name="y", n_rows=Xv.shape[0], numeric=False)
        classes = np.unique(yv)
        if classes.size != 2:
            msg = f"InvariantMLPClassifier is binary; y has {classes.size} classes {classes[:5]}."
            raise InvalidInputError(msg)
        seed = check_seed(self.seed)
        check_int(self.epochs, name="epochs", minimum=1)
        if hasattr(X, "columns"):
            self.feature_names_in_ = np.asarray(names, dtype=object)
        self.classes_ = classes
        self.n_features_in_ = Xv.shape[1]
        self.mean_ = Xv.mean(axis=0)
        scale = Xv.std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        X_cf = codes = None
        if sensitive is not None:
            codes, _ = _group_codes(sensitive, Xv.shape[0])
            if self.penalty == "counterfactual":
                X_cf, _ = counterfactual_rows(
                    Xv if not hasattr(X, "columns") else X,
                    codes,
                    sensitive_column=self.sensitive_column,
                    proxies=self.proxies,
                    method=self.counterfactual,
                    seed=seed,
                )
                X_cf = (X_cf - self.mean_) / self.scale_
        elif self.penalty_weight > 0:
            msg = (
                f"penalty_weight={self.penalty_weight} needs the group labels: call "
                "fit(X, y, sensitive=groups)."
            )
            raise InvalidInputError(msg)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0 if seed is None else seed)
            factory = self.module or (lambda d: _mlp(d, self.hidden_layer_sizes))
            self.module_ = factory(Xv.shape[1])
            self.history_ = train_invariant(
                self.module_,
                (Xv - self.mean_) / self.scale_,
                (yv == classes[1]).astype(np.float32),
                sensitive=codes,
                X_cf=X_cf,
                penalty=self.penalty,
                weight=float(self.penalty_weight),
                epochs=self.epochs,
                lr=self.lr,
                weight_decay=self.weight_decay,
                batch_size=self.batch_size,
                bandwidth=self.bandwidth,
                seed=seed,
            )
        return self

    def _logits(self, X: Any) -> np.ndarray:
        if not hasattr(self, "module_"):
            msg = "This InvariantMLPClassifier is not fitted yet; call fit(X, y) first."
            raise NotFittedError(msg)
        Xv, _ = as_matrix(X, name="X")
        if Xv.shape[1] != self.n_features_in_:
            msg = f"X has {Xv.shape[1]} columns but the model was fitted on {self.n_features_in_}."
            raise InvalidInputError(msg)
        Xs = torch.as_tensor((Xv - self.mean_) / self.scale_, dtype=torch.float32)
        with torch.no_grad():
            return self.module_(Xs).reshape(-1).double().numpy()

    def decision_function(self, X: Any) -> np.ndarray:
        """Logits of the positive class."""
        return self._logits(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n, 2)."""
        p = 1.0 / (1.0 + np.exp(-self._logits(X)))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        """Class labels (threshold 0.5)."""
        return self.classes_[(self.predict_proba(X)[:, 1] > 0.5).astype(int)]


def invariance_sweep(
    X: Any,
    y: Any,
    sensitive: Any,
    *,
    weights: Sequence[float] = (0.0, 0.3, 1.0, 3.0, 10.0, 30.0),
    estimator: InvariantMLPClassifier | None = None,
    X_test: Any = None,
    y_test: Any = None,
    sensitive_test: Any = None,
    test_size: float = 0.3,
    threshold: float = 0.5,
    seed: int | None = None,
) -> TradeoffCurve:
    """Fit ``estimator`` at each penalty weight and measure held-out accuracy and fairness.

    Parameters
    ----------
    X, y, sensitive : training rows, labels and group labels.
    weights : sequence of float
        Penalty weights, sorted increasing.
    estimator : InvariantMLPClassifier, optional
        Template (its ``penalty_weight`` is overridden); default ``InvariantMLPClassifier()``.
    X_test, y_test, sensitive_test : optional
        Held-out data; by default a stratified ``test_size`` split of the training data.
    threshold : float, default 0.5
        Decision threshold for accuracy and the demographic-parity difference.
    seed : int, optional
        Seeds the split and is passed to every fit (recorded in ``params``).

    Returns
    -------
    TradeoffCurve

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> s = rng.integers(0, 2, 300)
    >>> X = np.column_stack([s, s + rng.normal(size=300), rng.normal(size=300)])
    >>> y = (X[:, 1] + X[:, 2] > 0.5).astype(int)
    >>> est = InvariantMLPClassifier(sensitive_column=0, proxies=[1], epochs=40)
    >>> curve = invariance_sweep(X, y, s, weights=[0, 10], estimator=est, seed=0)
    >>> curve.to_frame().shape
    (2, 6)
    """
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    from assay.fairness._group_metrics import demographic_parity_difference

    seed = check_seed(seed)
    w = np.asarray(list(weights), dtype=np.float64)
    if w.size == 0 or np.any(w < 0) or np.any(np.diff(w) < 0) or not np.isfinite(w).all():
        msg = f"weights must be non-negative and increasing; got {list(weights)}."
        raise InvalidInputError(msg)
    est = InvariantMLPClassifier() if estimator is None else estimator
    Xv, names = as_matrix(X, name="X")
    n = Xv.shape[0]
    yv = as_vector(y, name="y", n_rows=n, numeric=False)
    s, levels = _group_codes(sensitive, n)
    if X_test is None:
        idx_tr, idx_te = train_test_split(
            np.arange(n), test_size=test_size, random_state=seed, stratify=s
        )
        Xtr, ytr, str_ = Xv[idx_tr], yv[idx_tr], s[idx_tr]
        Xte, yte, ste = Xv[idx_te], yv[idx_te], s[idx_te]
    else:
        Xtr, ytr, str_ = Xv, yv, s
        Xte, _ = as_matrix(X_test, name="X_test")
        yte = as_vector(y_test, name="y_test", n_rows=Xte.shape[0], numeric=False)
        ste, _ = _group_codes(sensitive_test, Xte.shape[0])
    import pandas as pd

    frame = lambda A: pd.DataFrame(A, columns=names)  # noqa: E731 - keep column names
    X_cf_te, _ = counterfactual_rows(
        frame(Xte), ste, sensitive_column=est.sensitive_column, proxies=est.proxies,
        method=est.counterfactual, seed=seed,
    )  # fmt: skip
    pos = np.unique(ytr)[1]
    out = {k: [] for k in ("auc", "accuracy", "dp", "gap", "cf")}
    for wi in w:
        model = clone(est).set_params(penalty_weight=float(wi), seed=seed)
        model.fit(frame(Xtr), ytr, sensitive=str_)
        p = model.predict_proba(frame(Xte))[:, 1]
        p_cf = model.predict_proba(frame(X_cf_te))[:, 1]
        yhat = (p > threshold).astype(int)
        y01 = (yte == pos).astype(int)
        out["auc"].append(roc_auc_score(y01, p))
        out["accuracy"].append(float(np.mean(yhat == y01)))
        out["dp"].append(demographic_parity_difference(y01, yhat, sensitive_features=ste))
        means = [p[ste == g].mean() for g in np.unique(ste)]
        out["gap"].append(float(max(means) - min(means)))
        out["cf"].append(float(np.mean(np.abs(p - p_cf))))
    return TradeoffCurve(
        weights=w,
        auc=np.array(out["auc"]),
        accuracy=np.array(out["accuracy"]),
        dp_difference=np.array(out["dp"]),
        score_gap=np.array(out["gap"]),
        counterfactual_gap=np.array(out["cf"]),
        penalty=est.penalty,
        params={
            "seed": seed,
            "threshold": threshold,
            "test_size": None if X_test is not None else test_size,
            "n_train": int(Xtr.shape[0]),
            "n_test": int(Xte.shape[0]),
            "groups": levels,
            "estimator": {k: repr(v) for k, v in est.get_params().items()},
        },
    )
