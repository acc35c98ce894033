"""Monotonic neural networks as scikit-learn estimators: :class:`MonotonicMLPClassifier` and
:class:`MonotonicMLPRegressor`.

The network (see :mod:`assay.glassbox._monotonic_net`) is monotone by construction in every
feature named in ``monotone``, whatever the weights: the guarantee holds for the trained model
and for every point, not only where training data was. Inputs are imputed (median plus a
missing-value indicator for columns that had NaN when fitting) and standardized; both steps
are increasing in each feature, so they keep the declared directions.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import NotFittedError as _SklearnNotFitted
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from assay._validation import check_int, check_seed, import_optional
from assay.errors import InvalidInputError, NotFittedError
from assay.glassbox._sklearn import ValidatedInputMixin

__all__ = ["MonotonicMLPClassifier", "MonotonicMLPRegressor", "parse_directions"]

_WORDS = {"increasing": 1, "decreasing": -1, "+1": 1, "-1": -1}
ARCHITECTURES = ("constrained", "lipschitz")


def _torch() -> Any:
    return import_optional("torch", purpose="monotonic networks")


class MonotonicNotFittedError(NotFittedError, _SklearnNotFitted):
    """Raised when a monotonic network is used before ``fit``: assay's and scikit-learn's."""


def parse_directions(spec: Any, names: list[str], *, what: str = "monotone") -> np.ndarray:
    """Signs per feature (+1, -1 or 0) from ``{feature name or index: direction}``.

    Directions are ``+1``/``-1`` or ``"increasing"``/``"decreasing"``; ``0`` leaves a feature
    unconstrained.

    Examples
    --------
    >>> parse_directions({"b": "decreasing", 0: 1}, ["a", "b", "c"]).tolist()
    [1, -1, 0]
    """
    signs = np.zeros(len(names), dtype=np.int64)
    if spec is None:
        return signs
    if not isinstance(spec, dict):
        msg = (
            f"{what} must be a dict {{feature: +1 or -1}} (feature names or column indices); "
            f"got {type(spec).__name__}."
        )
        raise InvalidInputError(msg)
    for key, direction in spec.items():
        if isinstance(key, str) and key in names:
            j = names.index(key)
        elif isinstance(key, numbers.Integral) and not isinstance(key, bool):
            if not 0 <= int(key) < len(names):
                msg = f"{what} has feature index {key} but X has {len(names)} columns."
                raise InvalidInputError(msg)
            j = int(key)
        else:
            msg = f"{what} names unknown feature {key!r}; known features: {names[:20]}."
            raise InvalidInputError(msg)
        if isinstance(direction, str) and direction in _WORDS:
            sign = _WORDS[direction]
        elif isinstance(direction, numbers.Real) and not isinstance(direction, bool):
            if direction not in (-1, 0, 1):
                sign = None
            else:
                sign = int(direction)
        else:
            sign = None
        if sign is None:
            msg = (
                f"{what}[{key!r}] must be +1, -1, 0, 'increasing' or 'decreasing'; "
                f"got {direction!r}."
            )
            raise InvalidInputError(msg)
        signs[j] = sign
    return signs


class _BaseMonotonicMLP(ValidatedInputMixin, BaseEstimator):
    """Shared preprocessing, training loop and prediction."""

    def __init__(
        self,
        monotone: dict[Any, Any] | None = None,
        *,
        hidden_sizes: tuple[int, ...] = (32, 32),
        architecture: str = "constrained",
        lipschitz: float = 2.0,
        learning_rate: float = 1e-2,
        weight_decay: float = 0.0,
        batch_size: int = 256,
        max_epochs: int = 200,
        early_stopping: bool = True,
        validation_fraction: float = 0.15,
        patience: int = 15,
        seed: int | None = None,
        progress: bool = False,
    ) -> None:
        self.monotone = monotone
        self.hidden_sizes = hidden_sizes
        self.architecture = architecture
        self.lipschitz = lipschitz
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.seed = seed
        self.progress = progress

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.non_deterministic = self.seed is None
        if tags.classifier_tags is not None:
            tags.classifier_tags.multi_class = False  # monotone in one log-odds: binary only
        return tags

    # -- validation --------------------------------------------------------------------------
    def _check_params(self) -> dict[str, Any]:
        hidden = self.hidden_sizes
        if isinstance(hidden, numbers.Integral):
            hidden = (hidden,)
        hidden = tuple(hidden)
        if not hidden or not all(
            isinstance(h, numbers.Integral) and not isinstance(h, bool) and h >= 2 for h in hidden
        ):
            msg = (
                "hidden_sizes must be a non-empty tuple of integers >= 2; got "
                f"{self.hidden_sizes!r}."
            )
            raise InvalidInputError(msg)
        if self.architecture not in ARCHITECTURES:
            msg = f"architecture must be one of {ARCHITECTURES}; got {self.architecture!r}."
            raise InvalidInputError(msg)
        for name in ("lipschitz", "learning_rate"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
                msg = f"{name} must be a positive number; got {value!r}."
                raise InvalidInputError(msg)
        wd = self.weight_decay
        if isinstance(wd, bool) or not isinstance(wd, numbers.Real) or wd < 0:
            msg = f"weight_decay must be a number >= 0; got {wd!r}."
            raise InvalidInputError(msg)
        vf = self.validation_fraction
        if isinstance(vf, bool) or not isinstance(vf, numbers.Real) or not 0 <= vf < 1:
            msg = f"validation_fraction must be in [0, 1); got {vf!r}."
            raise InvalidInputError(msg)
        return {
            "hidden": [int(h) for h in hidden],
            "batch_size": check_int(self.batch_size, name="batch_size", minimum=1),
            "max_epochs": check_int(self.max_epochs, name="max_epochs", minimum=1),
            "patience": check_int(self.patience, name="patience", minimum=1),
            "seed": check_seed(self.seed),
        }

    # -- preprocessing -----------------------------------------------------------------------
    def _fit_preprocessing(self, X: np.ndarray) -> None:
        nan = np.isnan(X)
        with np.errstate(all="ignore"):
            med = np.where(nan.all(axis=0), 0.0, np.nanmedian(np.where(nan.all(0), 0.0, X), 0))
        self.medians_ = med
        self.missing_indicator_features_ = np.flatnonzero(nan.any(axis=0))
        Z = self._inputs_unscaled(X)
        self.input_mean_ = Z.mean(axis=0)
        std = Z.std(axis=0)
        self.input_scale_ = np.where(std > 1e-12, std, 1.0)

    def _inputs_unscaled(self, X: np.ndarray) -> np.ndarray:
        nan = np.isnan(X)
        filled = np.where(nan, self.medians_, X)
        ind = nan[:, self.missing_indicator_features_].astype(np.float64)
        return np.hstack([filled, ind])

    def _inputs(self, X: np.ndarray) -> np.ndarray:
        return (self._inputs_unscaled(X) - self.input_mean_) / self.input_scale_

    # -- training ----------------------------------------------------------------------------
    def _fit_network(self, X: np.ndarray, target: np.ndarray, *, classification: bool) -> None:
        torch = _torch()
        from sklearn.model_selection import train_test_split
        from tqdm.auto import tqdm

        from assay.glassbox._monotonic_net import build_network

        params = self._check_params()
        names = self._feature_names()
        signs = parse_directions(self.monotone, names)
        self.monotone_signs_ = signs
        self._fit_preprocessing(X)
        Z = self._inputs(X).astype(np.float32)
        net_signs = np.concatenate([signs, np.zeros(len(self.missing_indicator_features_))])
        seed = params["seed"]
        rng = np.random.default_rng(seed)
        n = Z.shape[0]
        n_val = round(self.validation_fraction * n) if self.early_stopping else 0
        if n_val >= 1 and n - n_val >= 1:
            stratify = classification and np.bincount(target.astype(int)).min() >= 2
            idx_tr, idx_va = train_test_split(
                np.arange(n),
                test_size=n_val,
                random_state=int(rng.integers(2**31 - 1)),
                stratify=target if stratify else None,
            )
        else:
            idx_tr, idx_va = np.arange(n), np.arange(0)
        torch_seed = int(rng.integers(2**63 - 1))
        # a private generator state: fitting never disturbs (or depends on) torch's global RNG
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(torch_seed)
            net = build_network(
                net_signs,
                params["hidden"],
                architecture=self.architecture,
                lipschitz=float(self.lipschitz),
            )
        loss_fn = (
            torch.nn.functional.binary_cross_entropy_with_logits
            if classification
            else torch.nn.functional.mse_loss
        )
        opt = torch.optim.Adam(
            net.parameters(), lr=float(self.learning_rate), weight_decay=float(self.weight_decay)
        )
        Zt = torch.as_tensor(Z)
        tt = torch.as_tensor(target.astype(np.float32)[:, None])
        Zv, tv = Zt[idx_va], tt[idx_va]
        best_loss, best_state, best_epoch, since = np.inf, None, 0, 0
        history: list[float] = []
        bs = params["batch_size"]
        bar = tqdm(
            total=params["max_epochs"],
            disable=not self.progress,
            desc=type(self).__name__,
            leave=False,
        )
        epoch = 0
        for epoch in range(1, params["max_epochs"] + 1):
            net.train()
            order = idx_tr[rng.permutation(idx_tr.size)]
            for start in range(0, order.size, bs):
                batch = torch.as_tensor(order[start : start + bs])
                opt.zero_grad()
                loss = loss_fn(net(Zt[batch]), tt[batch])
                loss.backward()
                opt.step()
            bar.update(1)
            if idx_va.size == 0:
                continue
            net.eval()
            with torch.no_grad():
                val = float(loss_fn(net(Zv), tv))
            history.append(val)
            bar.set_postfix(val_loss=f"{val:.4f}")
            if val < best_loss - 1e-6:
                best_loss, best_epoch, since = val, epoch, 0
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            else:
                since += 1
                if since >= params["patience"]:
                    break
        bar.close()
        if best_state is not None:
            net.load_state_dict(best_state)
        # predictions in float64: monotone to rounding, for every batch layout
        self.module_ = net.double().eval()
        self.n_epochs_ = epoch
        self.best_epoch_ = best_epoch if best_state is not None else epoch
        self.validation_loss_ = np.asarray(history, dtype=np.float64)
        self.n_inputs_ = Z.shape[1]

    # -- prediction --------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        try:
            check_is_fitted(self, "module_")
        except Exception as exc:
            msg = f"This {type(self).__name__} is not fitted yet; call .fit(X, y) before using it."
            raise MonotonicNotFittedError(msg) from exc

    def _raw(self, X: Any) -> np.ndarray:
        """Network output (log-odds, or the standardized target) for raw rows, float64 (n,)."""
        self._check_fitted()
        torch = _torch()
        Xv = self._validate_X(X, reset=False)
        Z = self._inputs(Xv)
        outs = []
        with torch.no_grad():
            for s in range(0, Z.shape[0], 65536):
                outs.append(self.module_(torch.as_tensor(Z[s : s + 65536])).numpy()[:, 0])
        return np.concatenate(outs) if outs else np.zeros(0)

    def to_torch(self, *, output: str = "default") -> Any:
        """The whole model (imputation, scaling, network) as a float64 ``torch.nn.Module``.

        Gradient methods need a module: ``assay.explain(model.to_torch(), X,
        method="integrated_gradients")``. The module takes raw feature rows (NaN is imputed as
        in :meth:`predict`) and returns ``(n, 2)`` class probabilities for a classifier
        (``output="log_odds"``: ``(n, 1)`` log-odds of ``classes_[1]``) and ``(n, 1)``
        predictions for a regressor.
        """
        self._check_fitted()
        _torch()
        from assay.glassbox._monotonic_net import RawInputModule

        if output not in ("default", "log_odds"):
            msg = f"output must be 'default' or 'log_odds'; got {output!r}."
            raise InvalidInputError(msg)
        is_clf = isinstance(self, ClassifierMixin)
        if output == "log_odds" and not is_clf:
            msg = "output='log_odds' is only available for classifiers."
            raise InvalidInputError(msg)
        return RawInputModule(
            self.module_,
            medians=self.medians_,
            mean=self.input_mean_,
            scale=self.input_scale_,
            indicators=self.missing_indicator_features_,
            probability=is_clf and output == "default",
            out_mean=getattr(self, "target_mean_", 0.0),
            out_scale=getattr(self, "target_scale_", 1.0),
        ).eval()



class MonotonicMLPClassifier(ClassifierMixin, _BaseMonotonicMLP):
    """Binary classifier whose log-odds are monotone by construction in chosen features.

    Parameters
    ----------
    monotone : dict, optional
        ``{feature: +1 or -1}`` (or ``"increasing"``/``"decreasing"``); keys are feature names
        (when fitted on a DataFrame) or column indices. Features not listed are unconstrained.
        ``None`` or ``{}`` fits an ordinary MLP of the same size (the unconstrained baseline).
    hidden_sizes : tuple of int, default (32, 32)
    architecture : {"constrained", "lipschitz"}, default "constrained"
        Sign-constrained weights with convex/concave/saturated activations (Runje &
        Shankaranarayana, 2023) or a Lipschitz network plus a linear term (Kitouni et al.,
        2023); see :mod:`assay.glassbox._monotonic_net`.
    lipschitz : float, default 2.0
        The bound ``lambda`` of the ``"lipschitz"`` architecture, per standard deviation of a
        monotone input (its slope lies in ``[0, 2 * lambda]``). Unused otherwise.
    learning_rate, weight_decay : float
        Adam settings.
    batch_size, max_epochs : int
    early_stopping : bool, default True
        Hold out ``validation_fraction`` of the rows (stratified) and keep the weights of the
        epoch with the lowest validation loss; stop after ``patience`` epochs without gain.
    validation_fraction : float, default 0.15
    patience : int, default 15
    seed : int, optional
        Seed of the split, the initial weights and the batch order. Same seed, same model.
    progress : bool, default False
        Show a tqdm progress bar over epochs.

    Attributes
    ----------
    classes_, n_features_in_, feature_names_in_ : as in scikit-learn
    monotone_signs_ : ndarray of int, shape (n_features_in_,)
        +1, -1 or 0 per feature.
    module_ : torch.nn.Module
        The network on imputed, standardized inputs (float64); see :meth:`to_torch`.
    n_epochs_, best_epoch_ : int
    validation_loss_ : ndarray
        Validation loss per epoch (empty without early stopping).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 3))
    >>> y = (X[:, 0] + np.sin(3 * X[:, 1]) > 0).astype(int)
    >>> clf = MonotonicMLPClassifier({0: +1}, hidden_sizes=(8,), max_epochs=20, seed=0)
    >>> clf = clf.fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    >>> grid = np.zeros((50, 3)); grid[:, 0] = np.linspace(-3, 3, 50)
    >>> bool(np.all(np.diff(clf.decision_function(grid)) >= 0))
    True
    """

    def fit(self, X: Any, y: Any) -> MonotonicMLPClassifier:
        """Fit the network; returns ``self``."""
        X, y = self._validate_X(X, reset=True, y=y)
        check_classification_targets(y)
        classes, y_enc = np.unique(y, return_inverse=True)
        if classes.size != 2:
            msg = (
                f"y has {classes.size} class(es) {classes[:10].tolist()}; "
                f"{type(self).__name__} needs exactly 2 (monotone in the log-odds of the second)."
                " For a numeric target use MonotonicMLPRegressor."
            )
            raise InvalidInputError(msg)
        self.classes_ = classes
        self._fit_network(X, y_enc.astype(np.float64), classification=True)
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Log-odds of ``classes_[1]``, shape (n_samples,)."""
        return self._raw(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, 2)."""
        raw = self._raw(X)
        p = 1.0 / (1.0 + np.exp(-np.clip(raw, -700, 700)))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class of each row."""
        raw = self._raw(X)  # first: raises NotFittedError before classes_ is read
        return self.classes_[(raw > 0).astype(int)]


class MonotonicMLPRegressor(RegressorMixin, _BaseMonotonicMLP):
    """Regressor monotone by construction in chosen features (squared error).

    Parameters are those of :class:`MonotonicMLPClassifier`; the target is standardized for
    training (a positive rescaling, so the directions are kept).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 2))
    >>> y = np.exp(X[:, 0]) - X[:, 1] ** 2
    >>> reg = MonotonicMLPRegressor({0: "increasing"}, hidden_sizes=(8,), max_epochs=30, seed=0)
    >>> reg.fit(X, y).predict(X[:3]).shape
    (3,)
    """

    def fit(self, X: Any, y: Any) -> MonotonicMLPRegressor:
        """Fit the network; returns ``self``."""
        X, y = self._validate_X(X, reset=True, y=y)
        y = np.asarray(y, dtype=np.float64)
        if y.ndim != 1:
            msg = f"y must be 1-D (one target); got shape {y.shape}."
            raise InvalidInputError(msg)
        if not np.isfinite(y).all():
            msg = "y contains NaN or infinite values; remove those rows or impute the target."
            raise InvalidInputError(msg)
        self.target_mean_ = float(y.mean())
        std = float(y.std())
        self.target_scale_ = std if std > 1e-12 else 1.0
        self._fit_network(X, (y - self.target_mean_) / self.target_scale_, classification=False)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values, shape (n_samples,)."""
        return self._raw(X) * self.target_scale_ + self.target_mean_
