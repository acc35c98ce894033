"""``assay.explain``: one entry point that picks and runs an attribution method."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assay.attribution._explanation import Explanation

if TYPE_CHECKING:
    from assay.attribution._distributed import DistributedExplanation
from assay.errors import InvalidInputError, UnknownOptionError
from assay.model import wrap

__all__ = ["METHODS", "explain", "make_explainer"]

METHODS = (
    "auto",
    "tree",
    "exact",
    "kernel",
    "permutation",
    "lime",
    "integrated_gradients",
    "smoothgrad",
    "saliency",
    "input_x_gradient",
)

AUTO_EXACT_MAX_FEATURES = 12
GRADIENT_METHODS = ("integrated_gradients", "smoothgrad", "saliency", "input_x_gradient")


def _registry() -> dict[str, Any]:
    """Explainer classes by method name; only methods that are implemented appear here."""
    from assay.attribution import shapley

    found: dict[str, Any] = {"exact": shapley.ExactShapley}
    for method, cls_name in (
        ("tree", "TreeShap"),
        ("kernel", "KernelShap"),
        ("permutation", "PermutationShap"),
    ):
        cls = getattr(shapley, cls_name, None)
        if cls is not None:
            found[method] = cls
    from assay.attribution._lime import LimeTabular

    found["lime"] = LimeTabular
    # gradient methods import torch lazily (only when an explainer is built)
    from assay.attribution import gradients

    found["integrated_gradients"] = gradients.IntegratedGradients
    found["smoothgrad"] = gradients.SmoothGrad
    found["saliency"] = gradients.Saliency
    found["input_x_gradient"] = gradients.InputXGradient
    return found


def _pick_auto(adapter: Any, n_features: int, available: dict[str, Any]) -> str:
    if "tree" in available and adapter.has_trees:
        return "tree"
    if n_features <= AUTO_EXACT_MAX_FEATURES:
        return "exact"
    if "kernel" in available:
        return "kernel"
    return "exact"


def _check_options(cls: Any, method: str, options: dict[str, Any]) -> None:
    """Reject options the chosen explainer does not take, naming the ones it does."""
    import inspect

    params = inspect.signature(cls.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    accepted = [
        n
        for n, p in params.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and n not in ("background", "output_space")
    ]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        msg = (
            f"method={method!r} ({cls.__name__}) does not take the option(s) {unknown}; its "
            f"options are {accepted}."
        )
        raise UnknownOptionError(msg)


def explain(
    model: Any,
    X: Any,
    *,
    method: str = "auto",
    background: Any = None,
    seed: int | None = None,
    output_space: str | None = None,
    **options: Any,
) -> Explanation | DistributedExplanation:
    """Explain a model's predictions on ``X``.

    Parameters
    ----------
    model : model or ModelAdapter
        A fitted scikit-learn estimator or Pipeline, an XGBoost or LightGBM model, a PyTorch
        module, or any callable ``f(X) -> ndarray``.
    X : array-like of shape (n_samples, n_features), or dask.dataframe.DataFrame
        Rows to explain. A Dask DataFrame is explained lazily, partition by partition, on
        ``client=`` or the current Dask client (``pip install "assay[dask]"``); methods
        ``"tree"``, ``"exact"``, ``"kernel"``, ``"permutation"`` and ``"lime"``.
    method : str, default "auto"
        One of ``"auto"``, ``"tree"``, ``"exact"``, ``"kernel"``, ``"permutation"``,
        ``"lime"``, ``"integrated_gradients"``, ``"smoothgrad"``, ``"saliency"``,
        ``"input_x_gradient"``. ``"auto"`` picks ``"tree"`` for tree ensembles, ``"exact"``
        for up to 12 features and ``"kernel"`` beyond.
    background : array-like, optional
        Reference rows for interventional methods.
    seed : int, optional
        Seed for every random choice; recorded in ``params``. Same seed, same result.
    output_space : str, optional
        ``"probability"``, ``"log_odds"`` or ``"raw"``. Default: one space per model for
        every method (:func:`assay.model.default_output_space`): log-odds for boosted
        classifiers, probabilities for other classifiers, the raw output otherwise.
    **options
        Keyword options of the chosen explainer class.

    Returns
    -------
    Explanation
        Or, for a Dask DataFrame, a lazy
        :class:`~assay.attribution.DistributedExplanation` (``values`` a Dask array,
        ``to_parquet``, ``reason_codes``, ``compute``).

    Examples
    --------
    >>> import numpy as np, assay
    >>> from sklearn.linear_model import LinearRegression
    >>> X = np.random.default_rng(0).normal(size=(40, 3))
    >>> model = LinearRegression().fit(X, X[:, 0])
    >>> exp = assay.explain(model, X[:4], method="exact", background=X)
    >>> exp.values.shape
    (4, 3, 1)
    """
    if _is_dask_frame(X):
        from assay.attribution._distributed import explain_dask

        return explain_dask(
            model, X, method=method, background=background, seed=seed,
            output_space=output_space, **options,
        )  # fmt: skip
    explainer = make_explainer(
        model, method=method, background=background, output_space=output_space,
        options=options, n_features=lambda adapter: adapter.prepare(X)[0].shape[1],
    )  # fmt: skip
    return explainer.explain(X, seed=seed)


def _is_dask_frame(X: Any) -> bool:
    """True for a ``dask.dataframe.DataFrame`` (checked without importing dask)."""
    module = type(X).__module__
    return module.startswith(("dask.", "dask_expr")) and hasattr(X, "npartitions")


def make_explainer(
    model: Any,
    *,
    method: str,
    background: Any,
    output_space: str | None,
    options: dict[str, Any],
    n_features: Any,
) -> Any:
    """The explainer ``assay.explain`` runs: method resolved (``"auto"``), options checked.

    ``n_features`` is the number of model inputs, or a function of the wrapped model that
    gives it (only called for ``method="auto"``).
    """
    if not isinstance(method, str) or method not in METHODS:
        msg = f"method must be one of {list(METHODS)}; got {method!r}."
        raise InvalidInputError(msg)
    available = _registry()
    if method in GRADIENT_METHODS:
        from assay.attribution.gradients._common import _differentiable

        model = _differentiable(model, output_space)
    elif output_space is None:
        from assay.model._adapters import default_output_space

        output_space = default_output_space(model)
    adapter = wrap(model, output_space=output_space)
    if method == "auto":
        d = n_features(adapter) if callable(n_features) else int(n_features)
        method = _pick_auto(adapter, d, available)
    if method not in available:
        msg = (
            f"method={method!r} is not available in this version of assay; available methods: "
            f"{sorted(available)}."
        )
        raise InvalidInputError(msg)
    cls = available[method]
    _check_options(cls, method, options)
    return cls(adapter, background=background, **options)
