"""``assess``: run every trust check that applies to an explanation and summarize them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from assay._validation import as_matrix, check_seed
from assay.errors import AssayError, InvalidInputError
from assay.trust._common import check_explanation, resolve_output
from assay.trust._disagreement import disagreement
from assay.trust._faithfulness import faithfulness
from assay.trust._ground_truth import agreement, linear_model_shapley
from assay.trust._manifold import SAMPLERS, off_manifold_test, perturbation_samples
from assay.trust._randomization import cascading_randomization, label_permutation_check
from assay.trust._result import AssessmentResult, Check
from assay.trust._stability import explain_seeds, input_sensitivity, seed_stability

__all__ = ["CHECKS", "assess"]

CHECKS = (
    "faithfulness",
    "seed_stability",
    "input_sensitivity",
    "off_manifold",
    "randomization",
    "ground_truth",
    "disagreement",
)
SAMPLED_METHODS = ("kernel", "permutation", "lime", "smoothgrad")
GRADIENT_METHODS = ("saliency", "integrated_gradients", "input_x_gradient", "smoothgrad")
SHAPLEY_METHODS = ("exact", "kernel", "permutation", "tree")


def _check(name: str, result: Any) -> Check:
    return Check(name=name, status=result.status, verdict=result.verdict, result=result)


def _is_torch_module(model: Any) -> bool:
    return any(c.__module__.startswith("torch.nn") for c in type(model).__mro__)


def _coalition_manifold(method: str, real: np.ndarray, alpha: float, seed: int | None) -> Any:
    """Do coalition samples ``(x_S, b_-S)`` of real rows look like real rows?

    The real rows are split in three: rows to explain, background rows, and the comparison
    rows. Built from a few explained and background rows, the samples would reuse the same
    coordinates over and over, and a classifier would detect that finite support rather than a
    broken dependence between features; built from fresh real rows, every feature has the data's
    own distribution and only the joint structure can differ, which is what off-manifold means.
    """
    rng = np.random.default_rng(None if seed is None else seed + 7)
    rows = real[rng.permutation(real.shape[0])][:15_000]
    k = rows.shape[0] // 3
    explained, background, compare = rows[:k], rows[k : 2 * k], rows[2 * k : 3 * k]
    # one sample per (explained, background) pair, each real row used once: coordinates never
    # repeat, so with independent features the samples are exact draws from the data
    d = rows.shape[1]
    if d == 1:
        keep = rng.integers(0, 2, size=(k, 1)).astype(bool)
    else:
        size = np.arange(1, d)
        w = (d - 1) / (size * (d - size))  # Shapley kernel mass of all coalitions of a size
        sizes = rng.choice(size, size=k, p=w / w.sum())
        ranks = np.argsort(np.argsort(rng.random((k, d)), axis=1), axis=1)
        keep = ranks < sizes[:, None]
    P = np.where(keep, explained, background)
    return off_manifold_test(compare, P, sampler=f"{method} (coalition)", alpha=alpha, seed=seed)


def assess(
    explanation: Any,
    model: Any,
    X: Any = None,
    *,
    background: Any = None,
    output: Any = None,
    top_k: int | None = None,
    checks: Sequence[str] | None = None,
    reference: Any = None,
    others: Sequence[Any] | Mapping[str, Any] | None = None,
    fit: Callable[[np.ndarray, np.ndarray], Any] | None = None,
    y: Any = None,
    n_random: int = 10,
    stability_seeds: Sequence[int] = (1, 2),
    sensitivity_perturbations: int = 4,
    explain_options: Mapping[str, Any] | None = None,
    alpha: float = 0.05,
    seed: int | None = 0,
) -> AssessmentResult:
    """Run the trust checks that apply to ``explanation`` and return one summary.

    Checks (each skipped, with the reason recorded, when it does not apply):

    - ``"faithfulness"`` — always: :func:`assay.trust.faithfulness` (deletion / insertion AUC,
      PGI, PGU, infidelity against random attributions; paired tests at level ``alpha``,
      Holm-adjusted).
    - ``"seed_stability"`` — sampled methods (kernel, permutation, lime, smoothgrad): the rows
      are re-explained with ``stability_seeds`` (:func:`assay.trust.seed_stability`). Exact
      methods are deterministic: every seed gives the same values, so the check is skipped
      and the reason says its result is perfect by construction.
    - ``"input_sensitivity"`` — methods :func:`assay.explain` knows:
      :func:`assay.trust.input_sensitivity` with ``sensitivity_perturbations`` perturbations;
      its status is the explainer's own instability (zero-jitter re-explanation), while the
      model's sensitivity to the jitter is reported as a model property.
    - ``"off_manifold"`` — perturbation methods: samples like the explainer's queries
      (:func:`assay.trust.perturbation_samples`) against the real rows ``X``
      (:func:`assay.trust.off_manifold_test` at level ``alpha``).
    - ``"randomization"`` — gradient methods on a PyTorch model: cascading layer
      randomization; any method when ``fit`` and ``y`` are given: label permutation.
    - ``"ground_truth"`` — when ``reference`` is given, or the model is a scikit-learn linear
      model explained by a Shapley method against a given ``background``: agreement with the
      closed-form values.
    - ``"disagreement"`` — when ``others`` (explanations of the same rows by other methods)
      are given.

    Parameters
    ----------
    explanation : Explanation
    model : model
        The explained model.
    X : array-like, optional
        Real data rows (e.g. the training or test set) for the off-manifold test and, when
        ``background`` is None, as the background. Default: the explained rows.
    background : array-like, optional
        The background the explanation used (needed for a faithful replay of Shapley games).
    output : int or str, optional
        Output column (see :func:`assay.trust.faithfulness`).
    top_k : int, optional
        Default a quarter of the features, rounded up.
    checks : sequence of str, optional
        Restrict to these checks (names above).
    reference : Explanation, optional
        Known attributions of the same rows.
    others : sequence or mapping of Explanation, optional
        Explanations of the same rows by other methods.
    fit : callable, optional
        ``fit(X, y) -> model`` for the label-permutation check (with ``y``; trained on ``X``).
    y : array-like, optional
    n_random : int, default 10
        Random attributions in the faithfulness baseline.
    stability_seeds : sequence of int, default (1, 2)
    sensitivity_perturbations : int, default 4
    explain_options : mapping, optional
        Options passed to :func:`assay.explain` when re-explaining (same as for the
        original explanation).
    alpha : float, default 0.05
        Significance level of the tests (faithfulness against random attributions, the
        off-manifold two-sample test). Every check's decision rule is in
        ``result.rules``.
    seed : int or None, default 0

    Returns
    -------
    AssessmentResult

    Examples
    --------
    >>> import numpy as np
    >>> from assay.attribution import ExactShapley
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 4))
    >>> f = lambda Z: 2 * Z[:, 0] + Z[:, 1]
    >>> exp = ExactShapley(f, background=X[:20]).explain(X[:20])
    >>> res = assess(exp, f, X, background=X[:20], checks=["faithfulness", "off_manifold"])
    >>> [c.name for c in res.checks], res.status
    (['faithfulness', 'off_manifold'], 'ok')
    """
    exp = check_explanation(explanation)
    o = resolve_output(exp, output)
    seed = check_seed(seed)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        msg = f"alpha must be a number strictly between 0 and 1 (e.g. 0.05); got {alpha!r}."
        raise InvalidInputError(msg)
    alpha = float(alpha)
    wanted = CHECKS if checks is None else tuple(checks)
    unknown = [c for c in wanted if c not in CHECKS]
    if unknown:
        msg = f"unknown check(s) {unknown}; choose from {list(CHECKS)}."
        raise InvalidInputError(msg)
    real = exp.data if X is None else as_matrix(X, name="X", allow_nan=True)[0]
    if real.shape[1] != exp.data.shape[1]:
        msg = (
            f"X has {real.shape[1]} columns but the explanation has {exp.data.shape[1]} "
            "features; pass the data the model was explained on."
        )
        raise InvalidInputError(msg)
    bg = background if background is not None else real
    opts = dict(explain_options or {})
    method = exp.method
    from assay._explain import _registry

    try:
        known_methods = set(_registry())
    except Exception:  # an optional explainer module failing to import must not stop assess
        known_methods = {"exact"}
    done: list[Check] = []
    skipped: list[tuple[str, str]] = []

    def run(name: str, fn: Callable[[], Any]) -> None:
        try:
            done.append(_check(name, fn()))
        except AssayError as exc:
            skipped.append((name, f"failed: {exc}"))

    if "faithfulness" in wanted:
        done.append(
            _check(
                "faithfulness",
                faithfulness(
                    exp,
                    model,
                    background=bg,
                    output=o,
                    top_k=top_k,
                    n_random=n_random,
                    alpha=alpha,
                    seed=seed,
                ),
            )
        )
    if "seed_stability" in wanted:
        if method not in SAMPLED_METHODS and exp.stderr is None:
            skipped.append(
                (
                    "seed_stability",
                    f"method {method!r} is deterministic (it samples nothing): every seed "
                    "gives the same values, so seed stability is perfect by construction and "
                    "is not re-run",
                )
            )
        elif exp.stderr is not None and not np.any(exp.stderr):
            skipped.append(
                (
                    "seed_stability",
                    f"this {method!r} explanation enumerated every coalition (all standard "
                    "errors are 0): every seed gives the same values, so seed stability is "
                    "perfect by construction and is not re-run",
                )
            )
        elif method not in known_methods:
            skipped.append(("seed_stability", f"assay.explain cannot rerun method {method!r}"))
        else:

            def _seed() -> Any:
                more = explain_seeds(
                    model,
                    exp.data,
                    method=method,
                    seeds=list(stability_seeds),
                    background=background,
                    output_space=exp.output_space,
                    **opts,
                )
                return seed_stability([exp, *more], top_k=top_k, output=o)

            run("seed_stability", _seed)
    if "input_sensitivity" in wanted:
        if method not in known_methods:
            skipped.append(("input_sensitivity", f"assay.explain cannot rerun method {method!r}"))
        else:
            run(
                "input_sensitivity",
                lambda: input_sensitivity(
                    exp,
                    model,
                    background=background,
                    output=o,
                    n_perturbations=sensitivity_perturbations,
                    seed=seed,
                    **opts,
                ),
            )
    if "off_manifold" in wanted:
        if method not in SAMPLERS:
            skipped.append(("off_manifold", f"method {method!r} does not perturb inputs"))
        elif method == "tree" and exp.params.get("mode") == "path_dependent":
            # path-dependent TreeSHAP never evaluates the model on synthetic rows: it follows
            # both branches of a split weighted by the training covers
            skipped.append(
                (
                    "off_manifold",
                    "path-dependent TreeSHAP does not query the model on perturbed rows",
                )
            )
        elif real.shape[0] < 20:
            skipped.append(("off_manifold", f"only {real.shape[0]} real rows (20 needed)"))
        else:

            def _manifold() -> Any:
                n = min(max(real.shape[0], 200), 5000)
                if SAMPLERS.get(method) == "coalition" and real.shape[0] >= 60:
                    return _coalition_manifold(method, real, alpha, seed)
                P, name = perturbation_samples(
                    method, exp.data, background=bg, n_samples=n, seed=seed
                )
                return off_manifold_test(real, P, sampler=name, alpha=alpha, seed=seed)

            run("off_manifold", _manifold)
    if "randomization" in wanted:
        if fit is not None and y is not None:
            run(
                "randomization",
                lambda: label_permutation_check(
                    fit,
                    real,
                    y,
                    attribute=method if method in known_methods else "exact",
                    X_explain=exp.data,
                    output=o,
                    top_k=top_k,
                    seed=seed,
                    **opts,
                ),
            )
        elif method in GRADIENT_METHODS and _is_torch_module(model):
            run(
                "randomization",
                lambda: cascading_randomization(
                    model,
                    exp.data,
                    attribute=method,
                    background=background,
                    output=o,
                    top_k=top_k,
                    seed=seed,
                    **opts,
                ),
            )
        else:
            skipped.append(
                ("randomization", "needs a gradient method on a torch model, or fit= and y=")
            )
    if "ground_truth" in wanted:
        if reference is not None:
            run("ground_truth", lambda: agreement(exp, reference, top_k=top_k, output=o))
        elif (
            method in SHAPLEY_METHODS
            and background is not None
            and getattr(model, "coef_", None) is not None
            and exp.output_space in ("raw", "log_odds")
        ):
            run(
                "ground_truth",
                lambda: agreement(
                    exp,
                    linear_model_shapley(model, exp.data, background=background),
                    top_k=top_k,
                    output=o,
                ),
            )
        else:
            skipped.append(("ground_truth", "no reference attributions are known"))
    if "disagreement" in wanted:
        if others:
            if isinstance(others, Mapping):
                named = {exp.method: exp, **dict(others)}
            else:
                named = {exp.method: exp}
                for e in others:
                    key, i = e.method, 1
                    while key in named:
                        i += 1
                        key = f"{e.method}_{i}"
                    named[key] = e
            run("disagreement", lambda: disagreement(named, top_k=top_k, output=o))
        else:
            skipped.append(("disagreement", "no other explanations of the same rows given"))
    return AssessmentResult(
        checks=tuple(done),
        skipped=tuple(skipped),
        method=method,
        params={
            "seed": seed,
            "alpha": alpha,
            "output": exp.output_names[o],
            "n_rows": int(exp.data.shape[0]),
        },
    )
