"""Faithfulness: do the features an explanation ranks highest actually drive the prediction?

Every metric removes features from the explained rows and watches the model's output. A
feature is *removed* by replacing it with background values and averaging the model output
over the background rows: the value of keeping the set ``K`` of row ``x`` is

    v(x, K) = mean_b f(x_K, b_{-K})

(the interventional coalition value that Shapley methods explain; ``replacement="mean"`` uses
the single background mean row instead, which is cheaper but leaves the data distribution).

Metrics, per row, for the explained output column:

- **deletion AUC** (Petsiuk et al. 2018, tabular form): remove features in decreasing order of
  their *signed* attribution and record ``v`` after each removal; the area under the curve
  over the fraction removed (trapezoid rule on [0, 1]). Lower is better: removing the features
  credited with raising the output should lower it fastest.
- **insertion AUC**: start from every feature removed and add features in the same order.
  Higher is better.
- **PGI** (prediction gap on important features, Dai et al. 2022):
  ``|f(x) - v(x, all but top-k)|`` with the top-k features by absolute attribution. Higher is
  better.
- **PGU** (prediction gap on unimportant features): ``|f(x) - v(x, top-k)|``. Lower is better.
- **infidelity** (Yeh et al. 2019): ``E_S[(sum_{j in S} phi_j - (f(x) - v(x, -S)))^2]`` where
  the removed set ``S`` has a size drawn uniformly from ``1..d`` and is then uniform among
  sets of that size. The perturbation is the indicator of ``S`` — the natural one for
  attributions that add up to the output change (Shapley values, IG with the same baseline);
  for other units pass ``normalize=True``, which first rescales the attributions of each row
  by the least-squares factor ``beta`` (captum's ``normalize``). Up to ``exact_max_features``
  features the expectation is computed exactly over all ``2^d - 1`` sets; above, from
  ``n_perturbations`` sampled sets per row. Lower is better.

The random baseline: ``n_random`` copies of the explanation in which each row's values are
shuffled across features (same values, random assignment). Each metric of the explanation is
compared with the mean over the random copies *row by row* (a one-sided paired t-test over
rows; the random copies share the explanation's infidelity perturbations), and the five
p-values are Holm-adjusted so that "better than random on some metric" is claimed for a
random explanation with probability at most ``alpha``. An explanation that is not
significantly better than its own values in random order does not tell which features
matter, and is flagged.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import combinations
from math import comb
from typing import Any

import numpy as np

from assay._validation import check_int, check_seed
from assay.errors import InvalidInputError
from assay.trust._common import (
    check_explanation,
    check_top_k,
    coalition_values,
    holm,
    paired_comparison,
    prepare_background,
    random_attributions,
    resolve_output,
    wrap_for,
)
from assay.trust._result import FaithfulnessResult

__all__ = ["faithfulness", "removal_subsets"]

REPLACEMENTS = ("background", "mean")


def removal_subsets(
    d: int, *, n_perturbations: int, n_rows: int, rng: np.random.Generator, exact_max: int
) -> tuple[np.ndarray, np.ndarray]:
    """Removed sets for infidelity: size uniform on 1..d, then uniform given the size.

    Returns ``(masks, weights)``: all ``2^d - 1`` sets with their exact probabilities
    ``1 / (d * C(d, |S|))`` (shapes (n_rows, 2^d - 1, d) and (2^d - 1,)) when ``d <=
    exact_max``, else ``n_perturbations`` sampled sets per row with equal weights.
    """
    if d <= exact_max:
        sets = [c for s in range(1, d + 1) for c in combinations(range(d), s)]
        masks = np.zeros((len(sets), d), dtype=bool)
        weights = np.empty(len(sets))
        for i, c in enumerate(sets):
            masks[i, list(c)] = True
            weights[i] = 1.0 / (d * comb(d, len(c)))
        return np.broadcast_to(masks, (n_rows, *masks.shape)), weights
    sizes = rng.integers(1, d + 1, size=(n_rows, n_perturbations))
    keys = rng.random((n_rows, n_perturbations, d))
    # the `size` smallest keys of each draw are a uniform subset of that size
    ranks = np.argsort(np.argsort(keys, axis=2), axis=2)
    masks = ranks < sizes[:, :, None]
    return masks, np.full(n_perturbations, 1.0 / n_perturbations)


def _positions(A: np.ndarray) -> np.ndarray:
    """Position of each feature when sorted by decreasing value (0 = first), stable ties."""
    order = np.argsort(-A, axis=-1, kind="stable")
    pos = np.empty_like(order)
    np.put_along_axis(pos, order, np.arange(A.shape[-1]), axis=-1)
    return pos


def faithfulness(
    explanation: Any,
    model: Any,
    *,
    background: Any = None,
    output: Any = None,
    top_k: int | None = None,
    n_random: int = 10,
    n_perturbations: int = 32,
    exact_max_features: int = 8,
    replacement: str = "background",
    max_background: int = 50,
    max_steps: int = 20,
    normalize: bool = False,
    alpha: float = 0.05,
    seed: int | None = 0,
) -> FaithfulnessResult:
    """Deletion/insertion AUC, PGI, PGU and infidelity, each next to a random-attribution baseline.

    Parameters
    ----------
    explanation : Explanation
        Attributions of the rows ``explanation.data``.
    model : model or ModelAdapter
        The explained model (wrapped in the explanation's output space).
    background : array-like of shape (n_background, n_features), optional
        Rows whose values replace removed features. Default: the explained rows.
    output : int or str, optional
        Output column to check; required when the explanation has several outputs (the
        positive class is used for a binary classifier's probabilities).
    top_k : int, optional
        Number of important features for PGI / PGU; default a quarter of the features,
        rounded up.
    n_random : int, default 10
        Random attributions (per-row shuffles of the explanation's values) in the baseline.
    n_perturbations : int, default 32
        Removed sets per row for infidelity when it is sampled.
    exact_max_features : int, default 8
        Up to this many features the infidelity expectation is exact (all subsets).
    replacement : {"background", "mean"}, default "background"
        Average the model output over background rows, or use the background mean row.
    max_background : int, default 50
        Background rows used at most (a seeded subsample beyond).
    max_steps : int, default 20
        Points on the deletion / insertion curves beyond the start (every feature when
        ``d <= max_steps``).
    normalize : bool, default False
        Rescale attributions per row before infidelity (captum's ``normalize``).
    alpha : float, default 0.05
        Significance level of the comparisons with random.
    seed : int or None, default 0
        Seed of the random attributions, subsets and background subsample.

    Returns
    -------
    FaithfulnessResult

    Examples
    --------
    >>> import numpy as np
    >>> from assay.attribution import ExactShapley
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 4))
    >>> f = lambda Z: 3 * Z[:, 0] - 2 * Z[:, 1]
    >>> exp = ExactShapley(f, background=X).explain(X[:20])
    >>> res = faithfulness(exp, f, background=X, seed=0)
    >>> res.beats_random
    True
    >>> round(res["infidelity"].value, 12)
    0.0
    """
    exp = check_explanation(explanation)
    o = resolve_output(exp, output)
    seed = check_seed(seed)
    n_random = check_int(n_random, name="n_random", minimum=1, maximum=10_000)
    n_perturbations = check_int(n_perturbations, name="n_perturbations", minimum=1)
    exact_max_features = check_int(exact_max_features, name="exact_max_features", minimum=0)
    max_background = check_int(max_background, name="max_background", minimum=1)
    max_steps = check_int(max_steps, name="max_steps", minimum=1)
    if replacement not in REPLACEMENTS:
        msg = f"replacement must be one of {REPLACEMENTS}; got {replacement!r}."
        raise InvalidInputError(msg)
    if not (isinstance(alpha, float | int) and 0 < alpha < 1):
        msg = f"alpha must be a number strictly between 0 and 1; got {alpha!r}."
        raise InvalidInputError(msg)
    adapter = wrap_for(model, exp)
    X = exp.data
    A = exp.values[:, :, o]
    n, d = A.shape
    k = check_top_k(top_k, d)
    bg = prepare_background(background, X, max_rows=max_background, seed=seed)
    if replacement == "mean":
        bg = np.nanmean(bg, axis=0, keepdims=True)
    rng = np.random.default_rng(seed)
    allA = np.concatenate([A[None], random_attributions(A, n_random, rng)])  # (q, n, d)
    q = allA.shape[0]

    counts = (
        np.arange(d + 1)
        if d <= max_steps
        else np.unique(np.round(np.linspace(0, d, max_steps + 1)).astype(int))
    )
    fractions = counts / d
    n_steps = counts.size
    pos = _positions(allA)  # (q, n, d)
    removed = pos[:, :, None, :] < counts[None, None, :, None]  # (q, n, steps, d)
    pos_abs = _positions(np.abs(allA))
    top = pos_abs < k  # (q, n, d)
    subsets, weights = removal_subsets(
        d, n_perturbations=n_perturbations, n_rows=n, rng=rng, exact_max=exact_max_features
    )
    n_sub = subsets.shape[1]

    def rows_first(a: np.ndarray) -> np.ndarray:  # (q, n, ..., d) -> (n, q * ..., d)
        a = np.moveaxis(a, 1, 0)
        return a.reshape(n, -1, d)

    keep = np.concatenate(
        [
            rows_first(~removed),  # deletion
            rows_first(removed),  # insertion: the first t features kept
            rows_first(~top),  # PGI
            rows_first(top),  # PGU
            ~subsets,  # infidelity
        ],
        axis=1,
    )
    vals = coalition_values(adapter, X, keep, bg, o)
    fx = adapter.predict(X)[:, o]
    c = 0
    dele = vals[:, c : c + q * n_steps].reshape(n, q, n_steps).transpose(1, 0, 2)
    c += q * n_steps
    ins = vals[:, c : c + q * n_steps].reshape(n, q, n_steps).transpose(1, 0, 2)
    c += q * n_steps
    v_pgi = vals[:, c : c + q].T
    c += q
    v_pgu = vals[:, c : c + q].T
    c += q
    v_inf = vals[:, c : c + n_sub]

    def area(curves: np.ndarray) -> np.ndarray:
        return np.trapezoid(curves, fractions, axis=-1) if n_steps > 1 else curves[..., 0]

    del_auc = area(dele)  # (q, n)
    ins_auc = area(ins)
    pgi = np.abs(fx[None, :] - v_pgi)
    pgu = np.abs(fx[None, :] - v_pgu)
    delta = fx[:, None] - v_inf  # (n, P)
    s = np.einsum("qnd,npd->qnp", allA, subsets.astype(np.float64))
    if normalize:
        num = (weights * s * delta[None]).sum(axis=2)
        den = (weights * s * s).sum(axis=2)
        beta = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
        s = beta[:, :, None] * s
    infd = (weights * (s - delta[None]) ** 2).sum(axis=2)

    raw = [
        paired_comparison(name, m[0], m[1:], higher_is_better=hib, alpha=float(alpha))
        for name, m, hib in (
            ("deletion_auc", del_auc, False),
            ("insertion_auc", ins_auc, True),
            ("pgi", pgi, True),
            ("pgu", pgu, False),
            ("infidelity", infd, False),
        )
    ]
    p_better = holm([m.p_value_raw for m in raw])
    p_worse = holm([m.p_value_worse_raw for m in raw])
    metrics = tuple(
        replace(m, p_value=float(pb), p_value_worse=float(pw))
        for m, pb, pw in zip(raw, p_better, p_worse, strict=True)
    )
    return FaithfulnessResult(
        metrics=metrics,
        fractions=fractions,
        deletion_curve=dele[0].mean(axis=0),
        insertion_curve=ins[0].mean(axis=0),
        random_deletion_curves=dele[1:].mean(axis=1),
        random_insertion_curves=ins[1:].mean(axis=1),
        full_output=float(fx.mean()),
        empty_output=float(ins[0, :, 0].mean()),
        n_rows=n,
        top_k=k,
        output=exp.output_names[o],
        method=exp.method,
        params={
            "background_rows": int(bg.shape[0]),
            "replacement": replacement,
            "n_random": n_random,
            "infidelity_sets": "exact" if d <= exact_max_features else "sampled",
            "n_perturbations": int(n_sub),
            "normalize": bool(normalize),
            "alpha": float(alpha),
            "seed": seed,
            "model_rows_evaluated": int(n * keep.shape[1] * bg.shape[0] + n),
        },
    )
