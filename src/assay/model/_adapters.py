"""Model adapters: one interface over scikit-learn, XGBoost, LightGBM, PyTorch and callables.

Every method in assay talks to a model through :class:`ModelAdapter`:
``predict(X) -> ndarray (n_samples, n_outputs)`` in a declared ``output_space``
(``"probability"``, ``"log_odds"`` or ``"raw"``), plus optional capabilities such as
:meth:`ModelAdapter.tree_ensemble`. Methods ask for a capability; they never inspect model types.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from assay._validation import align_columns, as_matrix, check_fitted
from assay.errors import InvalidInputError, ModelError
from assay.model._categories import CategoryCodec, text_columns

__all__ = [
    "CallableAdapter",
    "ModelAdapter",
    "check_finite_output",
    "default_output_space",
    "wrap",
]

OUTPUT_SPACES = ("probability", "log_odds", "raw")


class ModelAdapter(abc.ABC):
    """A model seen through assay's uniform interface.

    Subclasses implement :meth:`_predict_raw`. Use :func:`wrap` to build one.

    Attributes
    ----------
    model : object
        The wrapped model.
    output_space : {"probability", "log_odds", "raw"}
    feature_names : list of str or None
        Names of the input columns, when the model knows them.
    n_features : int or None
        Number of input columns, when known.
    is_classifier : bool
    supports_missing : bool
        Whether NaN inputs are meaningful to the model (tree libraries with native missing
        value handling).
    n_rows_evaluated : int
        Running count of rows passed to the model (the evaluation budget used so far).
    n_calls : int
        Running count of calls to the model.
    """

    def __init__(
        self,
        model: Any,
        *,
        output_space: str,
        feature_names: Sequence[str] | None,
        n_features: int | None,
        output_names: Sequence[str] | None = None,
        is_classifier: bool = False,
        supports_missing: bool = False,
    ) -> None:
        if output_space not in OUTPUT_SPACES:
            msg = f"output_space must be one of {OUTPUT_SPACES}; got {output_space!r}."
            raise InvalidInputError(msg)
        self.model = model
        self.output_space = output_space
        self.feature_names = None if feature_names is None else [str(f) for f in feature_names]
        self.n_features = (
            n_features
            if n_features is not None
            else (None if feature_names is None else len(feature_names))
        )
        self._output_names = None if output_names is None else [str(o) for o in output_names]
        # names guessed before seeing any output (regressors without n_outputs_) are replaced
        # when the model returns a different number of columns
        self._output_names_guessed = False
        self.is_classifier = is_classifier
        self.supports_missing = supports_missing
        self.n_rows_evaluated = 0
        self.n_calls = 0
        # labels of text columns, coded for assay and decoded for the model (see _categories)
        self.categories = CategoryCodec()

    # -- the interface -----------------------------------------------------------------------
    def predict(self, X: np.ndarray) -> np.ndarray:
        """Model output for already-validated rows, always float64 of shape (n, n_outputs)."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            msg = f"predict expects a 2-D array; got shape {X.shape}."
            raise InvalidInputError(msg)
        self.n_calls += 1
        self.n_rows_evaluated += X.shape[0]
        try:
            out = self._predict_raw(X)
        except (InvalidInputError, ModelError):
            raise
        except Exception as exc:
            msg = (
                f"Calling the model ({type(self.model).__name__}) on an array of shape {X.shape} "
                f"failed: {type(exc).__name__}: {exc}"
            )
            raise ModelError(msg) from exc
        out = np.asarray(out, dtype=np.float64)
        returned = out.shape
        if out.ndim == 1:
            out = out[:, None]
        if out.ndim != 2 or out.shape[0] != X.shape[0]:
            msg = (
                f"The model returned shape {returned} for {X.shape[0]} rows; expected "
                "(n_samples,) or (n_samples, n_outputs)."
            )
            raise ModelError(msg)
        check_finite_output(out, X, model=f"model ({type(self.model).__name__})")
        if self._output_names is None or (
            self._output_names_guessed and len(self._output_names) != out.shape[1]
        ):
            self._output_names = self._default_output_names(out.shape[1])
            self._output_names_guessed = False
        return out

    def _default_output_names(self, n_outputs: int) -> list[str]:
        return [f"output_{k}" for k in range(n_outputs)]

    @abc.abstractmethod
    def _predict_raw(self, X: np.ndarray) -> np.ndarray:
        """Model outputs for a validated float matrix (each adapter implements this)."""

    @property
    def output_names(self) -> list[str]:
        """Names of the output columns (class labels for classifiers)."""
        if self._output_names is None:
            msg = "output names are only known after the first predict call for this model."
            raise ModelError(msg)
        return list(self._output_names)

    @property
    def n_outputs(self) -> int:
        return len(self.output_names)

    @property
    def has_trees(self) -> bool:
        """Whether :meth:`tree_ensemble` can extract the model's trees."""
        return False

    def tree_ensemble(self) -> Any:
        """Return the model's trees as a :class:`~assay.model.TreeEnsemble`."""
        msg = f"{type(self.model).__name__} is not a supported tree ensemble."
        raise ModelError(msg)

    def prepare(
        self, X: Any, *, name: str = "X", allow_nan: bool | None = None
    ) -> tuple[np.ndarray, list[str]]:
        """Validate user data for this model: convert, check finiteness and align columns."""
        if allow_nan is None:
            allow_nan = self.supports_missing
        X = self._encode_text(X, name)
        values, names = as_matrix(X, name=name, allow_nan=allow_nan, feature_names=None)
        from_frame = hasattr(X, "columns")
        values = align_columns(
            values, names, self.feature_names, self.n_features, from_frame=from_frame, name=name
        )
        if self.feature_names is not None:
            names = list(self.feature_names)
        elif self.n_features is None:
            self.n_features = values.shape[1]
        return values, names

    @property
    def accepts_text(self) -> bool:
        """Whether the model is called with a DataFrame, so text columns reach it as labels."""
        return False

    def _encode_text(self, X: Any, name: str) -> Any:
        if not hasattr(X, "columns") or not hasattr(X, "dtypes"):
            return X
        texts = text_columns(X)
        if not texts:
            return X
        if not self.accepts_text:
            msg = (
                f"{name} has text columns {texts[:10]}, but this model "
                f"({type(self.model).__name__}) takes a numeric matrix, so assay cannot hand it "
                "the labels. Pass the numeric encoding the model was fitted on, or fit the model "
                "(e.g. a Pipeline with a OneHotEncoder) on a DataFrame with the text columns."
            )
            raise InvalidInputError(msg)
        return self.categories.encode(X)

    def __repr__(self) -> str:
        model = type(self.model).__name__
        return f"{type(self).__name__}({model}, output_space={self.output_space!r})"


class CallableAdapter(ModelAdapter):
    """Any function ``f(X: ndarray) -> ndarray`` (1-D or 2-D output)."""

    def __init__(self, fn: Callable[[np.ndarray], Any], **kwargs: Any) -> None:
        super().__init__(fn, **kwargs)
        self._fn = fn

    def _predict_raw(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self._fn(X))


def check_finite_output(out: np.ndarray, X: Any = None, *, model: str = "model") -> None:
    """Raise :class:`ModelError` when a model output ``out`` (n, k) holds NaN or inf.

    Attributions of a non-finite output are NaN or meaningless, so every model call goes
    through this check. The message gives the counts and the first offending rows (indices
    into this call's input, and the first such input row when ``X`` is given).

    Examples
    --------
    >>> import numpy as np
    >>> check_finite_output(np.ones((3, 1)))
    >>> try:
    ...     check_finite_output(np.array([[1.0], [np.nan]]))
    ... except ModelError as exc:
    ...     print(str(exc)[:44])
    The model returned 1 NaN and 0 infinite valu
    """
    finite = np.isfinite(out)
    if finite.all():
        return
    bad_rows = np.flatnonzero(~finite.reshape(out.shape[0], -1).all(axis=1))
    n_nan = int(np.isnan(out).sum())
    n_inf = int(np.isinf(out).sum())
    first = bad_rows[:5].tolist()
    example = ""
    if X is not None:
        row = np.asarray(X)[bad_rows[0]].reshape(-1)
        shown = np.array2string(row[:8], precision=4, separator=", ")
        example = f"; input row {first[0]} was {shown}{' ...' if row.size > 8 else ''}"
    msg = (
        f"The {model} returned {n_nan} NaN and {n_inf} infinite value(s) in {bad_rows.size} of "
        f"{out.shape[0]} rows of one call (first rows: {first}{example}). Attributions of "
        "non-finite outputs would be NaN or meaningless, so assay stops here. Make the model "
        "return finite numbers for every input it may see (impute missing values inside the "
        "model, guard divisions and logarithms, clip extreme inputs)."
    )
    raise ModelError(msg)


def _class_names(classes: Any) -> list[str]:
    return [str(c) for c in classes]


def _boosting_outputs(
    model: Any, clf: bool, n_class: int, output_space: str | None
) -> tuple[str, list[str]]:
    """Output space and output names of a gradient-boosting model (XGBoost, LightGBM).

    Classifiers default to probabilities (one column per class); their margins are a single
    column for binary models. Regressors default to the raw prediction.
    """
    if not clf:
        return ("raw" if output_space is None else output_space), ["prediction"]
    classes = list(getattr(model, "classes_", range(max(n_class, 2))))
    if output_space is None:
        output_space = "probability"
    if output_space == "probability":
        return output_space, _class_names(classes)
    return output_space, [str(classes[1])] if len(classes) == 2 else _class_names(classes)


class _ExtractsTrees:
    """Adapters of tree ensembles whose trees :func:`extract_tree_ensemble` reads."""

    model: Any

    @property
    def has_trees(self) -> bool:
        return True

    def tree_ensemble(self) -> Any:
        from assay.model._tree_extract import extract_tree_ensemble

        cached = getattr(self, "_trees", None)
        ens = cached if cached is not None else extract_tree_ensemble(self.model)
        _check_category_codes(ens, self)
        return ens


def _check_category_codes(ens: Any, adapter: Any) -> None:
    """The trees read category codes as positions in the model's categories; assay's codes of
    a text column must be the same positions, or tree methods would read the wrong branch."""
    codec = getattr(adapter, "categories", None)
    names = getattr(adapter, "feature_names", None)
    if not codec or names is None:
        return
    categorical = {names[i] for i in (ens.categories or {}) if i < len(names)}
    numeric = [c for c in codec.columns if c not in categorical]
    if numeric:
        msg = (
            f"text column(s) {numeric} are numbers to the model's trees (it parses them), so "
            "tree methods would read assay's category codes as values. Use method='exact' or "
            "'kernel', which call the model with the text, or pass the columns as numbers."
        )
        raise ModelError(msg)
    for index, model_levels in (ens.categories or {}).items():
        name = names[index] if index < len(names) else None
        ours = codec.levels.get(name)
        if ours is None:
            continue
        expected = [str(v) for v in model_levels]
        if [str(v) for v in ours[: len(expected)]] != expected:
            msg = (
                f"the categories of {name!r} in the data ({ours[:8]}) are not coded as the model "
                f"codes them ({list(model_levels)[:8]}), e.g. because the data hold a category "
                "the model never saw; tree methods would read the wrong branches. Use "
                "method='exact' or 'kernel', which call the model with the labels."
            )
            raise ModelError(msg)


def _read_trees(model: Any) -> Any:
    """The model's checked trees, or None when it has options tree methods do not support.

    Called when an XGBoost or LightGBM model is wrapped, before anything calls its
    ``predict``: their compiled predictors follow child indices unchecked, so a malformed
    model file (a cycle, an index out of range) must fail here with a ModelError.
    """
    from assay.errors import AssayError
    from assay.model._tree_check import CorruptTreeError
    from assay.model._tree_extract import extract_tree_ensemble

    try:
        return extract_tree_ensemble(model)
    except CorruptTreeError:
        raise
    except AssayError:  # e.g. a linear booster: model-agnostic methods still apply
        return None


class SklearnAdapter(_ExtractsTrees, ModelAdapter):
    """scikit-learn estimators and Pipelines (classifier -> probabilities, regressor -> predict)."""

    def __init__(
        self, model: Any, *, output_space: str | None, feature_names: Sequence[str] | None
    ) -> None:
        from sklearn.base import BaseEstimator, is_classifier

        check_fitted(model)
        names_in = getattr(model, "feature_names_in_", None)
        n_in = getattr(model, "n_features_in_", None)
        self._frame_columns = None if names_in is None else list(names_in)
        # duck typing: any object with predict_proba is a classifier (how people wrap an API)
        clf = is_classifier(model) if isinstance(model, BaseEstimator) else (
            hasattr(model, "predict_proba")
            or getattr(model, "_estimator_type", None) == "classifier"
        )
        if clf:
            if output_space is None:
                output_space = "probability"
            if output_space == "probability" and not hasattr(model, "predict_proba"):
                msg = (
                    f"{type(model).__name__} has no predict_proba; pass output_space='raw' to "
                    "explain its decision_function instead."
                )
                raise ModelError(msg)
            if output_space != "probability" and not hasattr(model, "decision_function"):
                msg = (
                    f"{type(model).__name__} has no decision_function, so output_space="
                    f"{output_space!r} (the margin) is not available; use "
                    "output_space='probability'."
                )
                raise ModelError(msg)
            classes = list(getattr(model, "classes_", []))
            if not classes:  # known from the first call: classes 0..k-1
                out_names = None
            elif output_space == "probability":
                out_names = _class_names(classes)
            elif len(classes) == 2:
                out_names = [str(classes[1])]
            else:
                out_names = _class_names(classes)
        else:
            if output_space is None:
                output_space = "raw"
            n_out = getattr(model, "n_outputs_", None)
            out_names = (
                ["prediction"] if not n_out or n_out == 1 else [f"output_{k}" for k in range(n_out)]
            )
        fnames = feature_names if feature_names is not None else names_in
        supports_missing = _sklearn_supports_missing(model)
        super().__init__(
            model,
            output_space=output_space,
            feature_names=None if fnames is None else list(fnames),
            n_features=n_in,
            output_names=out_names,
            is_classifier=clf,
            supports_missing=supports_missing,
        )
        # regressors without n_outputs_ (e.g. LinearRegression) may be multi-output
        self._output_names_guessed = not clf and getattr(model, "n_outputs_", None) is None

    def _default_output_names(self, n_outputs: int) -> list[str]:
        if n_outputs == 1 and not self.is_classifier:
            return ["prediction"]
        if self.is_classifier:
            return ["1"] if n_outputs == 1 else [str(k) for k in range(n_outputs)]
        return super()._default_output_names(n_outputs)

    @property
    def accepts_text(self) -> bool:
        return self._frame_columns is not None

    def _as_input(self, X: np.ndarray) -> Any:
        if self._frame_columns is None:
            return X
        if self.categories:
            return self.categories.decode(X, self._frame_columns)
        import pandas as pd

        return pd.DataFrame(X, columns=self._frame_columns, copy=False)

    def _predict_raw(self, X: np.ndarray) -> np.ndarray:
        Xin = self._as_input(X)
        if not self.is_classifier:
            return self.model.predict(Xin)
        if self.output_space == "probability":
            return self.model.predict_proba(Xin)
        return self.model.decision_function(Xin)

    @property
    def has_trees(self) -> bool:
        return _tree_kind(self.model)


def _sklearn_supports_missing(model: Any) -> bool:
    name = type(model).__name__
    return name.startswith("HistGradientBoosting")


def _tree_kind(model: Any) -> bool:
    name = type(model).__name__
    return name in {
        "DecisionTreeClassifier",
        "DecisionTreeRegressor",
        "ExtraTreeClassifier",
        "ExtraTreeRegressor",
        "RandomForestClassifier",
        "RandomForestRegressor",
        "ExtraTreesClassifier",
        "ExtraTreesRegressor",
        "GradientBoostingClassifier",
        "GradientBoostingRegressor",
        "HistGradientBoostingClassifier",
        "HistGradientBoostingRegressor",
        "XGBClassifier",
        "XGBRegressor",
        "Booster",
        "LGBMClassifier",
        "LGBMRegressor",
    }


class XGBoostAdapter(_ExtractsTrees, ModelAdapter):
    """XGBoost models: the scikit-learn API or a native ``xgboost.Booster``."""

    def __init__(
        self, model: Any, *, output_space: str | None, feature_names: Sequence[str] | None
    ) -> None:
        from assay.errors import NotFittedError

        not_fitted = (
            f"The {type(model).__name__} is not fitted yet; call .fit(X, y) (or load a trained "
            "model) before explaining or auditing it."
        )
        try:
            booster = model.get_booster() if hasattr(model, "get_booster") else model
        except Exception as exc:  # xgboost raises sklearn's NotFittedError here
            raise NotFittedError(not_fitted) from exc
        try:
            config = json.loads(booster.save_config())
            if booster.num_features() == 0:
                raise NotFittedError(not_fitted)
        except NotFittedError:
            raise
        except Exception as exc:
            msg = f"The XGBoost model is not fitted or unreadable ({exc}); fit it first."
            raise NotFittedError(msg) from exc
        self._trees = _read_trees(model)
        # the scikit-learn API predicts with the best iteration after early stopping
        self._iteration_range = (0, 0)
        if hasattr(model, "get_booster"):
            try:
                self._iteration_range = (0, int(model.best_iteration) + 1)
            except AttributeError:
                pass
        objective = config["learner"]["objective"]["name"]
        self._objective = objective
        self._booster = booster
        n_class = int(config["learner"]["learner_model_param"].get("num_class", "0") or 0)
        clf = objective.startswith(("binary:", "multi:"))
        output_space, out_names = _boosting_outputs(model, clf, n_class, output_space)
        self._n_class = max(n_class, 2) if clf else 1
        fnames = feature_names if feature_names is not None else booster.feature_names
        n_feat = booster.num_features()
        super().__init__(
            model,
            output_space=output_space,
            feature_names=fnames,
            n_features=n_feat,
            output_names=out_names,
            is_classifier=clf,
            supports_missing=True,
        )

    def _predict_raw(self, X: np.ndarray) -> np.ndarray:
        margin = self.output_space != "probability" or not self.is_classifier
        out = np.asarray(
            self._booster.inplace_predict(
                X,
                predict_type="margin" if margin else "value",
                iteration_range=self._iteration_range,
            )
        )
        if self.is_classifier and self.output_space == "probability":
            if self._objective.startswith("binary:"):
                # complement in the model's own dtype, as XGBClassifier.predict_proba does
                out = np.column_stack([1.0 - out, out])
            elif out.ndim == 1:  # multi:softmax returns labels; use margins instead
                raw = np.asarray(
                    self._booster.inplace_predict(
                        X, predict_type="margin", iteration_range=self._iteration_range
                    ),
                    dtype=np.float64,
                )
                out = _softmax(raw)
        return np.asarray(out, dtype=np.float64)


class LightGBMAdapter(_ExtractsTrees, ModelAdapter):
    """LightGBM models: the scikit-learn API or a native ``lightgbm.Booster``."""

    def __init__(
        self, model: Any, *, output_space: str | None, feature_names: Sequence[str] | None
    ) -> None:
        booster = getattr(model, "booster_", None) if hasattr(model, "fit") else model
        if booster is None:
            msg = f"The {type(model).__name__} is not fitted yet; call .fit(X, y) first."
            from assay.errors import NotFittedError

            raise NotFittedError(msg)
        from assay.model._tree_check import check_lightgbm_text

        # before dump_model and predict, which follow child indices unchecked
        check_lightgbm_text(booster.model_to_string(num_iteration=-1))
        self._booster = booster
        params = booster.params or {}
        dump = booster.dump_model()
        objective = str(params.get("objective", dump.get("objective", "regression")))
        self._objective = objective
        clf = objective.startswith(
            ("binary", "multiclass", "softmax", "multiclassova", "cross_entropy")
        )
        n_class = int(dump.get("num_class", 1))
        output_space, out_names = _boosting_outputs(model, clf, n_class, output_space)
        fnames = feature_names if feature_names is not None else booster.feature_name()
        if feature_names is None and fnames == [f"Column_{i}" for i in range(len(fnames))]:
            fnames = None  # fitted without names (a numpy array): LightGBM's placeholders
        super().__init__(
            model,
            output_space=output_space,
            feature_names=fnames,
            n_features=booster.num_feature(),
            output_names=out_names,
            is_classifier=clf,
            supports_missing=True,
        )

    def _predict_raw(self, X: np.ndarray) -> np.ndarray:
        raw = self.output_space != "probability" or not self.is_classifier
        out = np.asarray(self._booster.predict(X, raw_score=raw), dtype=np.float64)
        if self.is_classifier and not raw and out.ndim == 1:
            out = np.column_stack([1.0 - out, out])
        return out


class TorchAdapter(ModelAdapter):
    """A PyTorch ``nn.Module`` whose forward takes a float tensor (n_samples, n_features)."""

    def __init__(
        self,
        model: Any,
        *,
        output_space: str | None,
        feature_names: Sequence[str] | None,
        n_features: int | None = None,
        batch_size: int = 65536,
    ) -> None:
        super().__init__(
            model,
            output_space=output_space or "raw",
            feature_names=feature_names,
            n_features=n_features,
        )
        self.batch_size = batch_size

    @property
    def has_gradients(self) -> bool:
        return True

    def _predict_raw(self, X: np.ndarray) -> np.ndarray:
        import torch

        param = next(self.model.parameters(), None)
        dtype = param.dtype if param is not None else torch.float32
        device = param.device if param is not None else "cpu"
        outs = []
        with torch.no_grad():
            for start in range(0, X.shape[0], self.batch_size):
                batch = torch.as_tensor(
                    X[start : start + self.batch_size], dtype=dtype, device=device
                )
                outs.append(self.model(batch).detach().cpu().double().numpy())
        return np.concatenate(outs, axis=0)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _module_root(obj: Any) -> str:
    return type(obj).__module__.split(".")[0]


_BOOSTED_PREFIXES = ("HistGradientBoosting", "GradientBoosting", "XGB", "LGBM")


def default_output_space(model: Any) -> str:
    """The output space every attribution method uses for ``model`` unless told otherwise.

    One space per model, whatever the method, so that tree, exact, kernel, permutation and LIME
    answers can be compared: boosted classifiers (scikit-learn gradient boosting, XGBoost,
    LightGBM) are explained in log-odds, where their trees add up; every other classifier in
    probabilities; regressors and callables in their raw output.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    >>> X, y = np.random.default_rng(0).normal(size=(60, 2)), np.arange(60) % 2
    >>> default_output_space(HistGradientBoostingClassifier(max_iter=5).fit(X, y))
    'log_odds'
    >>> default_output_space(RandomForestClassifier(n_estimators=5).fit(X, y))
    'probability'
    """
    if isinstance(model, ModelAdapter):
        return model.output_space
    adapter = wrap(model)
    if not adapter.is_classifier:
        return adapter.output_space
    final = model.steps[-1][1] if hasattr(model, "steps") else model  # a Pipeline's estimator
    boosted = isinstance(adapter, (XGBoostAdapter, LightGBMAdapter)) or type(
        final
    ).__name__.startswith(_BOOSTED_PREFIXES)
    return "log_odds" if boosted else adapter.output_space


def wrap(
    model: Any,
    *,
    output_space: str | None = None,
    feature_names: Sequence[str] | None = None,
    n_features: int | None = None,
) -> ModelAdapter:
    """Wrap a model into a :class:`ModelAdapter`.

    Parameters
    ----------
    model : estimator, Booster, nn.Module, callable or ModelAdapter
        scikit-learn estimators and Pipelines, XGBoost and LightGBM (scikit-learn API or native
        Booster), PyTorch modules, or any callable ``f(X) -> ndarray``.
    output_space : {"probability", "log_odds", "raw"}, optional
        The space to explain. Classifiers default to ``"probability"`` (one column per class);
        ``"log_odds"`` gives the margin (one column for binary models). Regressors and
        callables default to ``"raw"``.
    feature_names : sequence of str, optional
        Column names, when the model does not record them.
    n_features : int, optional
        Number of input columns, for callables.

    Returns
    -------
    ModelAdapter

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [0.9, 0.1]])
    >>> adapter = wrap(LogisticRegression().fit(X, [0, 1, 0, 1]))
    >>> adapter.predict(X).shape, adapter.output_space
    ((4, 2), 'probability')
    """
    if isinstance(model, ModelAdapter):
        if output_space is None or output_space == model.output_space:
            return model
        # the same model in another output space, sharing the labels of its text columns
        other = wrap(model.model, output_space=output_space, feature_names=model.feature_names)
        other.categories = model.categories
        return other
    if output_space is not None and output_space not in OUTPUT_SPACES:
        msg = f"output_space must be one of {OUTPUT_SPACES}; got {output_space!r}."
        raise InvalidInputError(msg)
    root = _module_root(model)
    if root == "xgboost":
        return XGBoostAdapter(model, output_space=output_space, feature_names=feature_names)
    if root == "lightgbm":
        return LightGBMAdapter(model, output_space=output_space, feature_names=feature_names)
    if root == "torch" or any(c.__module__.startswith("torch.nn") for c in type(model).__mro__):
        return TorchAdapter(
            model, output_space=output_space, feature_names=feature_names, n_features=n_features
        )
    if any(hasattr(model, m) for m in ("predict_proba", "decision_function", "predict")):
        # scikit-learn estimators, and any object that quacks like one (duck typing)
        return SklearnAdapter(model, output_space=output_space, feature_names=feature_names)
    if callable(model):
        return CallableAdapter(
            model,
            output_space=output_space or "raw",
            feature_names=feature_names,
            n_features=n_features,
        )
    msg = (
        f"Cannot use an object of type {type(model).__name__} as a model. Pass a fitted "
        "scikit-learn estimator, an XGBoost/LightGBM model, a torch.nn.Module, any object with "
        "predict_proba/predict/decision_function, or a callable f(X) -> ndarray."
    )
    raise ModelError(msg)
