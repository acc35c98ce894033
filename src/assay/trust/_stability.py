"""Stability: do explanations stay put across random seeds and under tiny input changes?

- :func:`seed_stability` — for sampled methods (KernelSHAP, permutation Shapley, LIME,
  SmoothGrad): the same rows explained with different seeds. Per row and seed pair: the
  Jaccard index of the top-k feature sets (by absolute value) and the Spearman correlation of
  the signed values; averaged over pairs. The chance level of the Jaccard index (two random
  top-k sets) is reported next to it.
- :func:`input_sensitivity` — each row is moved ``n_perturbations`` times uniformly within
  ``radius`` standard deviations per feature (an L-infinity box, as captum's
  ``sensitivity_max``) and re-explained. Reported per row:

  * max-sensitivity (Yeh et al. 2019): ``max_p ||phi(x_p) - phi(x)||_2``;
  * relative sensitivity: the same divided by ``||phi(x)||_2``;
  * relative input stability (Agarwal et al. 2022):
    ``max_p (||phi(x_p) - phi(x)||_2 / ||phi(x)||_2) / ||(x_p - x) / sigma||_2``. The paper
    divides element-wise by ``phi(x)`` and ``x``; tabular data have zero-valued features and
    attributions (binary columns, dummy features), so both changes are measured as norms,
    the input one in standard-deviation units.

  A large change under jitter can come from the *model* (a jagged model, such as a tree
  ensemble whose prediction jumps at a split threshold: any faithful explanation of it must
  move too) or from the *explainer* (sampling noise, values it does not reproduce). The two
  are separated by two more measurements in the same call:

  * the model's own output change under the same jitter (``output_change``, and per feature
    when that feature alone is jittered, ``feature_output_change``) — a model property,
    reported but never held against the explanation;
  * the *zero-jitter change* (``repeat_change``): the unperturbed rows are re-explained in
    the same batch, after the perturbed ones, with another seed than the explanation's (by
    default; an ``explain_fn`` sees them at new positions, which also changes per-row random
    streams). Its change relative to ``||phi(x)||_2`` is the explainer's own instability at
    an unchanged input and model. A deterministic method (TreeSHAP, exact Shapley, closed
    forms, gradients) reproduces its values, so this is zero however jagged the model; it
    re-explains only its first 10 rows, which must match to 1e-6.

  The status comes from the zero-jitter change only (see :attr:`SensitivityResult.rule`).
  Limitation: an explainer that is deterministic at each input but erratic between nearby
  inputs is not separated from a jagged model here; the faithfulness check tests whether
  its values describe the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import combinations
from typing import Any

import numpy as np

from assay._validation import as_matrix, check_int, check_seed
from assay.attribution._explanation import Explanation
from assay.errors import AssayError, InvalidInputError
from assay.trust._common import (
    check_explainer_options,
    check_explanation,
    check_top_k,
    expected_random_jaccard,
    resolve_output,
    row_spearman,
    top_k_order,
    wrap_for,
)
from assay.trust._result import DETERMINISTIC_METHODS, SeedStabilityResult, SensitivityResult

__all__ = ["explain_seeds", "input_sensitivity", "seed_stability"]

DETERMINISTIC_REPEAT_ROWS = 10  # rows a deterministic method re-explains to show reproduction


def explain_seeds(
    model: Any,
    X: Any,
    *,
    method: str,
    seeds: Sequence[int] = (0, 1, 2),
    background: Any = None,
    **options: Any,
) -> list[Explanation]:
    """Explain the same rows once per seed with :func:`assay.explain`.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(20, 3))
    >>> exps = explain_seeds(lambda Z: Z[:, 0], X[:2], method="exact", seeds=(0, 1),
    ...                      background=X)
    >>> len(exps)
    2
    """
    from assay._explain import explain

    seeds = [check_seed(s) for s in seeds]
    if len(seeds) < 2:
        msg = f"pass at least two seeds to compare; got {seeds}."
        raise InvalidInputError(msg)
    return [
        explain(model, X, method=method, background=background, seed=s, **options) for s in seeds
    ]


def seed_stability(
    explanations: Sequence[Any],
    *,
    top_k: int | None = None,
    output: Any = None,
    min_jaccard: float = 0.7,
    min_spearman: float = 0.8,
) -> SeedStabilityResult:
    """Top-k Jaccard and rank correlation of one method's explanations across seeds.

    Parameters
    ----------
    explanations : sequence of Explanation
        Two or more explanations of the same rows, differing only in the seed (see
        :func:`explain_seeds`).
    top_k : int, optional
        Default a quarter of the features, rounded up.
    output : int or str, optional
        Output column (see :func:`assay.trust.faithfulness`).
    min_jaccard, min_spearman : float, default 0.7 and 0.8
        Means below these are a warning; below half of them, an alert.

    Returns
    -------
    SeedStabilityResult

    Examples
    --------
    >>> import numpy as np
    >>> from assay.attribution import Explanation
    >>> def make(v):
    ...     return Explanation(values=np.asarray(v, float)[:, :, None],
    ...                        base_values=np.zeros((1, 1)),
    ...                        data=np.zeros((1, 4)), feature_names=list("abcd"),
    ...                        output_names=["y"], method="kernel", output_space="raw")
    >>> res = seed_stability([make([[4, 3, 2, 1]]), make([[4, 2, 3, 1]])], top_k=2)
    >>> float(res.jaccard[0]), float(res.spearman[0])
    (0.3333333333333333, 0.8)
    """
    exps = [check_explanation(e) for e in explanations]
    if len(exps) < 2:
        msg = f"pass at least two explanations (one per seed); got {len(exps)}."
        raise InvalidInputError(msg)
    shape = exps[0].values.shape
    for e in exps[1:]:
        if e.values.shape != shape:
            msg = (
                f"the explanations have different shapes ({shape} and {e.values.shape}); "
                "explain the same rows with each seed."
            )
            raise InvalidInputError(msg)
    n, d, _ = shape
    k = check_top_k(top_k, d)
    mats = [e.values[:, :, resolve_output(e, output)] for e in exps]
    tops = []
    for A in mats:
        mask = np.zeros((n, d), dtype=bool)
        mask[np.arange(n)[:, None], top_k_order(A, k)] = True
        tops.append(mask)
    jac, rho = [], []
    for i, j in combinations(range(len(mats)), 2):
        inter = (tops[i] & tops[j]).sum(axis=1)
        union = (tops[i] | tops[j]).sum(axis=1)
        jac.append(inter / union)
        rho.append(row_spearman(mats[i], mats[j]))
    rho_arr = np.asarray(rho)
    with np.errstate(all="ignore"):
        finite = np.isfinite(rho_arr)
        spearman = np.where(
            finite.any(axis=0),
            np.nansum(rho_arr, axis=0) / np.maximum(finite.sum(axis=0), 1),
            np.nan,
        )
    return SeedStabilityResult(
        seeds=tuple(e.params.get("seed") for e in exps),
        top_k=k,
        jaccard=np.mean(jac, axis=0),
        spearman=spearman,
        chance_jaccard=expected_random_jaccard(d, k),
        min_jaccard=float(min_jaccard),
        min_spearman=float(min_spearman),
        method=exps[0].method,
        params={"n_explanations": len(exps)},
    )


def _values_of(result: Any, n: int, d: int, o: int) -> np.ndarray:
    if isinstance(result, Explanation):
        v = result.values[:, :, o]
    else:
        v = np.asarray(result, dtype=np.float64)
        if v.ndim == 3:
            v = v[:, :, o]
    if v.shape != (n, d):
        msg = (
            f"explain_fn returned attributions of shape {np.shape(v)}; expected ({n}, {d}) "
            "(or an Explanation of those rows)."
        )
        raise InvalidInputError(msg)
    return v


def _output_change(
    adapter: Any,
    X: np.ndarray,
    Zp: np.ndarray,
    half_width: np.ndarray,
    n_perturbations: int,
    o: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Mean |f(x') - f(x)| per row (all features jittered) and per feature (that one alone)."""
    n, d = X.shape
    one = rng.uniform(-1.0, 1.0, size=(d, n)) * half_width[:, None]
    Zf = np.repeat(X[None], d, axis=0)
    Zf[np.arange(d), :, np.arange(d)] += one
    f_all = adapter.predict(np.vstack([X, Zp, Zf.reshape(-1, d)]))[:, o]
    fx = f_all[:n]
    fp = f_all[n : n + n_perturbations * n].reshape(n_perturbations, n)
    ff = f_all[n + n_perturbations * n :].reshape(d, n)
    spread = float(np.std(fx)) if n > 1 else np.nan
    return np.abs(fp - fx[None]).mean(axis=0), np.abs(ff - fx[None]).mean(axis=1), spread


def input_sensitivity(
    explanation: Any,
    model: Any = None,
    *,
    explain_fn: Callable[[np.ndarray], Any] | None = None,
    background: Any = None,
    radius: float = 0.05,
    n_perturbations: int = 8,
    scale: Any = None,
    output: Any = None,
    max_relative_change: float = 0.1,
    seed: int | None = 0,
    **options: Any,
) -> SensitivityResult:
    """How far attributions move under small input changes, separating model from explainer.

    See the module docstring: the change under jitter is reported next to the model's own
    output change (a model property), and the status comes from the zero-jitter change (the
    explainer's own instability).

    Parameters
    ----------
    explanation : Explanation
        The explanation to check (its rows are perturbed).
    model : model, optional
        The explained model; needed unless ``explain_fn`` is given. Without it the model's
        output change is not measured (``output_change`` is NaN).
    explain_fn : callable, optional
        ``explain_fn(X) -> Explanation or ndarray (n, d[, k])`` that re-explains rows; it is
        called once, on the perturbed rows followed by the unperturbed ones. Default:
        :func:`assay.explain` with the explanation's method, ``background``, ``**options``
        and the explanation's seed plus one (fresh random draws for a sampled method).
    background : array-like, optional
        Passed to the explainer; its standard deviation sets ``scale`` when that is None
        (else the explained rows' standard deviation is used).
    radius : float, default 0.05
        Half-width of the perturbation box in standard deviations.
    n_perturbations : int, default 8
    scale : array-like of shape (n_features,), optional
        Per-feature unit of the perturbation.
    output : int or str, optional
    max_relative_change : float, default 0.1
        Zero-jitter change, pooled over rows (``sum ||phi_again - phi|| / sum ||phi||``),
        above which the result is a warning (twice: alert). A heuristic: an explainer whose
        own noise is a tenth of the attributions' size can reorder close features.
    seed : int or None, default 0
        Seed of the perturbations.

    Returns
    -------
    SensitivityResult

    Examples
    --------
    >>> import numpy as np
    >>> from assay.trust import linear_shapley
    >>> X = np.random.default_rng(0).normal(size=(30, 2))
    >>> exp = linear_shapley([1.0, 2.0], X[:5], background=X)
    >>> fn = lambda Z: linear_shapley([1.0, 2.0], Z, background=X)
    >>> res = input_sensitivity(exp, explain_fn=fn, radius=0.01, seed=0)
    >>> bool(res.max_sensitivity.max() < 0.1), float(res.repeat_change.max()), res.status
    (True, 0.0, 'ok')
    """
    exp = check_explanation(explanation)
    o = resolve_output(exp, output)
    n_perturbations = check_int(n_perturbations, name="n_perturbations", minimum=1)
    seed = check_seed(seed)
    if not (np.isfinite(radius) and radius > 0):
        msg = f"radius must be a positive number of standard deviations; got {radius!r}."
        raise InvalidInputError(msg)
    if not (np.isfinite(max_relative_change) and max_relative_change > 0):
        msg = (
            "max_relative_change must be a positive share of the attribution norm (e.g. "
            f"0.1); got {max_relative_change!r}."
        )
        raise InvalidInputError(msg)
    X = exp.data
    n, d = X.shape
    if scale is None:
        ref = X if background is None else as_matrix(background, name="background")[0]
        sigma = np.nanstd(ref, axis=0) if ref.shape[0] > 1 else np.ones(d)
    else:
        sigma = np.broadcast_to(np.asarray(scale, dtype=np.float64), (d,)).copy()
    if not np.isfinite(sigma).all():
        msg = "scale must be finite; impute missing values or pass scale= explicitly."
        raise InvalidInputError(msg)
    if explain_fn is None:
        if model is None:
            msg = "pass the explained model (or explain_fn) to re-explain perturbed rows."
            raise InvalidInputError(msg)
        check_explainer_options(
            options, set_here=("method", "output_space"), where="input_sensitivity"
        )
        from assay._explain import explain

        # another seed than the explanation's: a sampled explainer draws fresh random numbers
        # for every re-explained row (a deterministic one gives the same values anyway)
        own = exp.params.get("seed")
        re_seed = None if own is None else int(own) + 1
        bg_used = background
        if bg_used is None and str(exp.params.get("background", "")).startswith("sample of X"):
            # the explainer drew its background from the explained rows; re-explaining other
            # rows would draw another one (another game), so replay the same draw
            from assay.attribution._base import default_background

            bg_used = default_background(X, seed=own)

        def explain_fn(Z: np.ndarray) -> Any:
            return explain(
                model,
                Z,
                method=exp.method,
                background=bg_used,
                seed=re_seed,
                output_space=exp.output_space,
                **options,
            )

    rng = np.random.default_rng(seed)
    delta = rng.uniform(-1.0, 1.0, size=(n_perturbations, n, d)) * radius * sigma
    Zp = (X[None] + delta).reshape(-1, d)
    # the unperturbed rows go last: at positions the original explanation did not use, so a
    # sampled explainer draws fresh random numbers for them. A deterministic method only has
    # to show that it reproduces its values: a few rows do (and save re-explaining them all)
    n_rep = min(n, DETERMINISTIC_REPEAT_ROWS) if exp.method in DETERMINISTIC_METHODS else n
    batch = _values_of(explain_fn(np.vstack([Zp, X[:n_rep]])), n_perturbations * n + n_rep, d, o)
    phi_p = batch[: n_perturbations * n].reshape(n_perturbations, n, d)
    phi_r = batch[n_perturbations * n :]
    phi = exp.values[:, :, o]
    change = np.linalg.norm(phi_p - phi[None], axis=2)  # (P, n)
    norm = np.linalg.norm(phi, axis=1)
    tiny = 1e-12 * max(1.0, float(norm.max()) if norm.size else 1.0)
    rel = change / np.maximum(norm, tiny)[None]
    repeat = np.linalg.norm(phi_r - phi[:n_rep], axis=1) / np.maximum(norm[:n_rep], tiny)
    moved = sigma > 0
    dx = np.linalg.norm(delta[:, :, moved] / sigma[moved], axis=2)
    ris = (rel / np.maximum(dx, 1e-12)).max(axis=0)
    out_change = np.full(n, np.nan)
    feat_change = np.full(d, np.nan)
    out_spread = np.nan
    params: dict[str, Any] = {"n_perturbations": n_perturbations, "seed": seed}
    if model is not None:
        try:
            out_change, feat_change, out_spread = _output_change(
                wrap_for(model, exp), X, Zp, sigma * radius, n_perturbations, o, rng
            )
        except AssayError as exc:  # context only: the status does not depend on it
            params["output_change"] = f"not measured: {exc}"
    return SensitivityResult(
        radius=float(radius),
        max_sensitivity=change.max(axis=0),
        relative_sensitivity=rel.max(axis=0),
        relative_input_stability=ris,
        max_relative_change=float(max_relative_change),
        method=exp.method,
        params=params,
        repeat_change=repeat,
        output_change=out_change,
        feature_output_change=feat_change,
        output_spread=out_spread,
        attribution_norm=norm,
        feature_names=tuple(exp.feature_names),
        output_space=exp.output_space,
    )
