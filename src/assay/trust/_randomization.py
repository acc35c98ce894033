"""Randomization sanity checks (Adebayo et al. 2018, "Sanity Checks for Saliency Maps").

An attribution method that explains the *model* must change when what the model learned is
destroyed. Two checks:

- :func:`cascading_randomization` (PyTorch models): the layers that hold parameters are
  re-initialized one at a time from the output layer down (cumulatively: step ``i`` has the
  top ``i`` layers random), and the attributions of the same rows are recomputed. Each
  layer is re-initialized with its own ``reset_parameters()`` (PyTorch's default
  initialization) under a seeded generator; a layer without one gets ``N(0, std)`` with the
  standard deviation of its current weights.
- :func:`label_permutation_check` (any model, given a fit function): the model is retrained
  on randomly permuted labels and the attributions are recomputed.

Both report the per-row Spearman rank correlation between the original and the randomized
attributions (of absolute values by default, as in Adebayo et al.; the sign of a gradient is
easily flipped by a random layer and would overstate the change) and the share of the
original top-k features still in the top k. A method whose attributions barely change
(final mean rank correlation at or above ``threshold``) fails.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from assay._validation import as_matrix, as_vector, check_int, check_seed, import_optional
from assay.attribution._explanation import Explanation
from assay.errors import InvalidInputError
from assay.trust._common import check_explainer_options, check_top_k, row_spearman, top_k_order
from assay.trust._result import RandomizationResult

__all__ = ["cascading_randomization", "label_permutation_check", "parameter_layers"]


def parameter_layers(module: Any) -> list[tuple[str, Any]]:
    """Leaf sub-modules that own parameters, as (name, module), from the input to the output.

    Registration order is taken as the forward order (true for ``nn.Sequential`` and the
    usual ``__init__`` layouts); pass ``layers=`` explicitly otherwise.
    """
    out = []
    for name, sub in module.named_modules():
        if next(sub.children(), None) is None and any(True for _ in sub.parameters(recurse=False)):
            out.append((name or type(sub).__name__, sub))
    return out


def _attributions(
    attribute: str | Callable[..., Any],
    model: Any,
    X: np.ndarray,
    *,
    background: Any,
    seed: int | None,
    output: int,
    options: dict[str, Any],
) -> tuple[np.ndarray, str]:
    if isinstance(attribute, str):
        from assay._explain import explain

        res = explain(model, X, method=attribute, background=background, seed=seed, **options)
        name = attribute
    else:
        res = attribute(model, X)
        name = getattr(attribute, "__name__", "custom")
    if isinstance(res, Explanation):
        v = res.values
        name = res.method if isinstance(attribute, str) else name
    else:
        v = np.asarray(res.detach().cpu().numpy() if hasattr(res, "detach") else res, float)
    if v.ndim == 3:
        if not -v.shape[2] <= output < v.shape[2]:
            msg = f"output {output} is out of range for {v.shape[2]} attributed outputs."
            raise InvalidInputError(msg)
        v = v[:, :, output]
    v = v.reshape(X.shape[0], -1)
    return np.asarray(v, dtype=np.float64), name


def _compare(A0: np.ndarray, A: np.ndarray, *, absolute: bool, k: int) -> tuple[np.ndarray, float]:
    a0, a = (np.abs(A0), np.abs(A)) if absolute else (A0, A)
    rho = row_spearman(a0, a)
    rho = np.where(np.isfinite(rho), rho, 0.0)  # a constant map carries no ranking
    n = A0.shape[0]
    t0 = np.zeros(A0.shape, dtype=bool)
    t1 = np.zeros(A0.shape, dtype=bool)
    t0[np.arange(n)[:, None], top_k_order(A0, k)] = True
    t1[np.arange(n)[:, None], top_k_order(A, k)] = True
    return rho, float(((t0 & t1).sum(axis=1) / k).mean())


def _result(
    kind: str,
    steps: Sequence[str],
    A0: np.ndarray,
    maps: Sequence[np.ndarray],
    *,
    absolute: bool,
    k: int,
    threshold: float,
    method: str,
    params: dict[str, Any],
) -> RandomizationResult:
    """Compare the attributions of each step (``maps``) with the original ``A0``."""
    compared = [_compare(A0, A, absolute=absolute, k=k) for A in maps]
    rows = np.asarray([rho for rho, _ in compared])
    return RandomizationResult(
        kind=kind,
        steps=tuple(steps),
        spearman=rows.mean(axis=1),
        spearman_rows=rows,
        top_k_overlap=np.asarray([overlap for _, overlap in compared]),
        absolute=bool(absolute),
        threshold=float(threshold),
        method=method,
        params=params,
    )


def cascading_randomization(
    model: Any,
    X: Any,
    *,
    attribute: str | Callable[..., Any] = "saliency",
    layers: Sequence[str] | None = None,
    background: Any = None,
    output: int = 0,
    absolute: bool = True,
    top_k: int | None = None,
    threshold: float = 0.5,
    seed: int | None = 0,
    **options: Any,
) -> RandomizationResult:
    """Re-initialize a PyTorch model's layers from the top down and watch the attributions.

    Parameters
    ----------
    model : torch.nn.Module
        The trained model; it is deep-copied, never modified.
    X : array-like of shape (n_samples, n_features)
        Rows to attribute.
    attribute : str or callable, default "saliency"
        A method name for :func:`assay.explain` (``"saliency"``, ``"integrated_gradients"``,
        ...) or ``attribute(module, X) -> Explanation or array (n, d[, k])``.
    layers : sequence of str, optional
        Names (``model.named_modules()``) of the layers to randomize, in forward order.
        Default: every leaf module with parameters (:func:`parameter_layers`).
    background : array-like, optional
        Passed to :func:`assay.explain`.
    output : int, default 0
        Output column of the attributions.
    absolute : bool, default True
        Rank absolute attributions.
    top_k : int, optional
        For the top-k overlap; default a quarter of the features, rounded up.
    threshold : float, default 0.5
        Final mean rank correlation at or above which the check fails.
    seed : int or None, default 0
        Seed of the re-initialization (and of the explainer).
    **options
        Options of the explainer.

    Returns
    -------
    RandomizationResult
        ``steps[i]`` names the layer randomized at step ``i`` (all layers above stay random).

    Examples
    --------
    >>> import torch
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    >>> X = torch.randn(16, 4).numpy()
    >>> res = cascading_randomization(net, X, attribute="saliency", seed=0)
    >>> res.steps
    ('2', '0')
    """
    torch = import_optional("torch", purpose="cascading layer randomization")
    if not isinstance(model, torch.nn.Module):
        msg = (
            f"cascading randomization needs a torch.nn.Module; got {type(model).__name__}. "
            "For other models use label_permutation_check with a fit function."
        )
        raise InvalidInputError(msg)
    Xv, _ = as_matrix(X, name="X")
    seed = check_seed(seed)
    found = parameter_layers(model)
    if layers is None:
        chosen = [name for name, _ in found]
    else:
        known = dict(model.named_modules())
        chosen = [str(layer) for layer in layers]
        bad = [layer for layer in chosen if layer not in known]
        if bad:
            msg = f"unknown layer name(s) {bad}; known: {[n for n, _ in found][:20]}."
            raise InvalidInputError(msg)
    if not chosen:
        msg = "the model has no layers with parameters to randomize."
        raise InvalidInputError(msg)
    k = check_top_k(top_k, Xv.shape[1])
    kw = {"background": background, "seed": seed, "output": output, "options": options}
    A0, name = _attributions(attribute, model, Xv, **kw)
    work = copy.deepcopy(model)
    modules = dict(work.named_modules())
    if layers is None:  # names from parameter_layers may be the class name for the root
        modules.update({n: m for n, m in parameter_layers(work)})
    gen_seed = 0 if seed is None else seed
    maps = []
    for i, layer in enumerate(reversed(chosen)):
        mod = modules[layer]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(gen_seed + i)
            with torch.no_grad():
                if hasattr(mod, "reset_parameters"):
                    mod.reset_parameters()
                else:
                    for p in mod.parameters(recurse=False):
                        std = float(p.std()) if p.numel() > 1 else 1.0
                        p.normal_(0.0, std if std > 0 else 1.0)
        maps.append(_attributions(attribute, work, Xv, **kw)[0])
    params = {"seed": seed, "n_rows": int(Xv.shape[0]), "top_k": k}
    return _result(
        "cascading",
        list(reversed(chosen)),
        A0,
        maps,
        absolute=absolute,
        k=k,
        threshold=threshold,
        method=name,
        params=params,
    )


def label_permutation_check(
    fit: Callable[[np.ndarray, np.ndarray], Any],
    X: Any,
    y: Any,
    *,
    attribute: str | Callable[..., Any],
    X_explain: Any = None,
    n_permutations: int = 1,
    output: int = 0,
    absolute: bool = True,
    top_k: int | None = None,
    threshold: float = 0.5,
    seed: int | None = 0,
    **options: Any,
) -> RandomizationResult:
    """Retrain on permuted labels and compare attributions with those of the real model.

    Parameters
    ----------
    fit : callable
        ``fit(X, y) -> model``: trains a fresh model.
    X, y : array-like
        Training data.
    attribute : str or callable
        A method name for :func:`assay.explain` (the training rows are the background) or
        ``attribute(model, X_explain) -> Explanation or array``.
    X_explain : array-like, optional
        Rows to attribute; default the first 50 training rows.
    n_permutations : int, default 1
        Models trained on independently permuted labels (one step each).
    output, absolute, top_k, threshold, seed, **options
        As in :func:`cascading_randomization`; each permutation is one step (its mean rank
        correlation over rows), and the last step is compared with ``threshold``. A
        ``background=`` among the options replaces the training rows as the background.

    Returns
    -------
    RandomizationResult

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5)); y = X @ [3.0, -2.0, 1.0, 0.0, 0.0]
    >>> res = label_permutation_check(lambda X, y: Ridge().fit(X, y), X, y,
    ...                               attribute="exact", X_explain=X[:10], seed=0)
    >>> res.passed
    True
    """
    Xv, _ = as_matrix(X, name="X")
    yv = as_vector(y, name="y", n_rows=Xv.shape[0], numeric=False)
    seed = check_seed(seed)
    n_permutations = check_int(n_permutations, name="n_permutations", minimum=1, maximum=100_000)
    Xe = Xv[:50] if X_explain is None else as_matrix(X_explain, name="X_explain")[0]
    k = check_top_k(top_k, Xv.shape[1])
    check_explainer_options(options, set_here=("method",), where="label_permutation_check")
    background = options.pop("background", None)  # default: the training rows
    background = Xv if background is None else background
    kw = {"background": background, "seed": seed, "output": output, "options": options}
    A0, name = _attributions(attribute, fit(Xv, yv), Xe, **kw)
    rng = np.random.default_rng(seed)
    maps = []
    for _ in range(n_permutations):
        model = fit(Xv, yv[rng.permutation(yv.shape[0])])
        maps.append(_attributions(attribute, model, Xe, **kw)[0])
    steps = [f"permuted labels #{i + 1}" for i in range(n_permutations)]
    params = {"seed": seed, "n_rows": int(Xe.shape[0]), "top_k": k}
    return _result(
        "label_permutation",
        steps,
        A0,
        maps,
        absolute=absolute,
        k=k,
        threshold=threshold,
        method=name,
        params=params,
    )
