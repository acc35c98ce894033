"""Helpers shared by the trust checks: output selection, masked model evaluation, ranks, tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from assay._validation import as_matrix, check_int
from assay.attribution._explanation import Explanation
from assay.errors import InvalidInputError, ModelError
from assay.model import ModelAdapter, wrap

__all__ = [
    "agreement_rows",
    "check_explanation",
    "coalition_values",
    "paired_comparison",
    "resolve_output",
    "row_spearman",
    "top_k_default",
]

MAX_MODEL_ROWS = 2**18  # rows built per model call by coalition_values


def check_explanation(explanation: Any, *, name: str = "explanation") -> Explanation:
    if not isinstance(explanation, Explanation):
        msg = (
            f"{name} must be an assay Explanation (from assay.explain or an explainer's "
            f".explain); got {type(explanation).__name__}."
        )
        raise InvalidInputError(msg)
    return explanation


def resolve_output(explanation: Explanation, output: Any) -> int:
    """Index of the explained output column: given, the only one, or the positive class."""
    names = explanation.output_names
    k = len(names)
    if output is None:
        if k == 1:
            return 0
        if k == 2 and explanation.output_space == "probability":
            return 1
        msg = (
            f"the explanation has {k} outputs {names[:10]}; pass output= (a name or an index) "
            "to say which one to check."
        )
        raise InvalidInputError(msg)
    if isinstance(output, str):
        if output not in names:
            msg = f"unknown output {output!r}; the explanation's outputs are {names[:20]}."
            raise InvalidInputError(msg)
        return names.index(output)
    idx = check_int(output, name="output", minimum=-k, maximum=k - 1)
    return idx % k


def wrap_for(model: Any, explanation: Explanation) -> ModelAdapter:
    """Wrap ``model`` (or re-wrap an adapter) in the explanation's output space."""
    try:
        return wrap(model, output_space=explanation.output_space)
    except InvalidInputError:
        raise
    except ModelError as exc:
        msg = (
            f"could not wrap the model in the explanation's output space "
            f"{explanation.output_space!r}: {exc}"
        )
        raise ModelError(msg) from exc


def prepare_background(
    background: Any, X: np.ndarray, *, max_rows: int, seed: int | None, name: str = "background"
) -> np.ndarray:
    """Background rows as float64 (m, d); the explained rows when None; subsampled to max_rows."""
    if background is None:
        bg = X
    else:
        bg, _ = as_matrix(background, name=name)
    if bg.shape[1] != X.shape[1]:
        msg = (
            f"{name} has {bg.shape[1]} columns but the explained rows have {X.shape[1]}; pass "
            "the same features, in the same order."
        )
        raise InvalidInputError(msg)
    if bg.shape[0] > max_rows:
        rng = np.random.default_rng(seed if seed is not None else 0)
        bg = bg[np.sort(rng.choice(bg.shape[0], size=max_rows, replace=False))]
    return bg


def coalition_values(
    adapter: ModelAdapter,
    X: np.ndarray,
    keep: np.ndarray,
    background: np.ndarray,
    output: int,
) -> np.ndarray:
    """Mean model output over background rows with only the kept features taken from each row.

    ``value[i, s] = mean_b f(z)`` with ``z_j = X[i, j]`` where ``keep[i, s, j]`` and ``b_j``
    otherwise (the interventional coalition value of Shapley methods).

    Parameters
    ----------
    adapter : ModelAdapter
    X : ndarray (n, d)
    keep : ndarray of bool (n, s, d)
    background : ndarray (m, d)
    output : int

    Returns
    -------
    ndarray (n, s)
    """
    n, s, d = keep.shape
    m = background.shape[0]
    flat_keep = keep.reshape(n * s, d)
    row_of = np.repeat(np.arange(n), s)
    out = np.empty(n * s)
    per_call = max(1, MAX_MODEL_ROWS // m)
    for start in range(0, n * s, per_call):
        stop = min(start + per_call, n * s)
        k = flat_keep[start:stop]
        x = X[row_of[start:stop]]
        Z = np.where(k[:, None, :], x[:, None, :], background[None, :, :])
        pred = adapter.predict(Z.reshape(-1, d))
        if pred.shape[1] <= output:
            msg = (
                f"the model returns {pred.shape[1]} output(s) but output {output} of the "
                "explanation was requested; pass the model that was explained."
            )
            raise InvalidInputError(msg)
        out[start:stop] = pred[:, output].reshape(stop - start, m).mean(axis=1)
    return out.reshape(n, s)


def random_attributions(A: np.ndarray, n_random: int, rng: np.random.Generator) -> np.ndarray:
    """``n_random`` copies of ``A`` (n, d), each row's values shuffled across features."""
    return np.stack([rng.permuted(A, axis=1) for _ in range(n_random)])


def paired_comparison(
    name: str,
    own: np.ndarray,
    rand: np.ndarray,
    *,
    higher_is_better: bool,
    alpha: float,
) -> Any:
    """Compare a per-row metric (n,) against its random draws (r, n) with a paired t-test."""
    from assay.trust._result import MetricComparison

    rand_mean = rand.mean(axis=0)
    diff = own - rand_mean
    signed = diff if higher_is_better else -diff
    n = diff.shape[0]
    if n >= 2 and np.ptp(diff) > 1e-12 * max(1.0, float(np.max(np.abs(diff)))):
        res = stats.ttest_1samp(signed, 0.0, alternative="greater")
        p_better = float(res.pvalue)
        p_worse = float(stats.ttest_1samp(signed, 0.0, alternative="less").pvalue)
        ci = stats.ttest_1samp(diff, 0.0).confidence_interval(0.95)
        lo, hi = float(ci.low), float(ci.high)
    else:
        # constant differences: no variance to test with; decide by the sign alone
        mean = float(signed.mean()) if n else 0.0
        p_better = 0.0 if (n >= 2 and mean > 0) else 1.0
        p_worse = 0.0 if (n >= 2 and mean < 0) else 1.0
        lo = hi = float(diff.mean()) if n else np.nan
    return MetricComparison(
        name=name,
        higher_is_better=higher_is_better,
        value=float(own.mean()),
        random_value=float(rand.mean()),
        random_draws=rand.mean(axis=1),
        difference=float(diff.mean()),
        ci_low=lo,
        ci_high=hi,
        p_value=p_better,
        p_value_worse=p_worse,
        alpha=alpha,
        p_value_raw=p_better,
        p_value_worse_raw=p_worse,
    )


def holm(p: Any) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values (family-wise error control).

    With the p-values sorted increasingly, ``adj_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))``.
    """
    p = np.asarray(p, dtype=np.float64)
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adj = np.empty(m)
    adj[order] = np.maximum.accumulate(scaled)
    return adj


def top_k_default(d: int) -> int:
    """A quarter of the features, rounded up, and at least one (3 of 10)."""
    return max(1, min(d, int(np.ceil(d / 4))))


def check_top_k(top_k: Any, d: int) -> int:
    if top_k is None:
        return top_k_default(d)
    return check_int(top_k, name="top_k", minimum=1, maximum=d)


def rank_rows(A: np.ndarray) -> np.ndarray:
    """Average ranks (1-based) within each row, ties averaged (as Spearman's rho uses)."""
    return stats.rankdata(A, axis=1, method="average")


def row_spearman(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Spearman correlation of each row of A with the same row of B; NaN where one is constant."""
    ra = rank_rows(A)
    rb = rank_rows(B)
    ra = ra - ra.mean(axis=1, keepdims=True)
    rb = rb - rb.mean(axis=1, keepdims=True)
    num = (ra * rb).sum(axis=1)
    den = np.sqrt((ra * ra).sum(axis=1) * (rb * rb).sum(axis=1))
    out = np.full(A.shape[0], np.nan)
    ok = den > 0
    out[ok] = num[ok] / den[ok]
    return out


def top_k_order(A: np.ndarray, k: int) -> np.ndarray:
    """Indices (n, k) of the k largest absolute values per row, largest first (stable ties)."""
    return np.argsort(-np.abs(A), axis=1, kind="stable")[:, :k]


def agreement_rows(A: np.ndarray, B: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Krishna et al. (2022) agreement metrics between attributions A and B (n, d), per row.

    Ranks are by absolute value. ``feature``: |top_k(A) & top_k(B)| / k; ``rank``: features at
    the same position of both top-k lists / k; ``sign``: shared top-k features with the same
    sign / k; ``signed_rank``: same position and same sign / k; ``rank_correlation``:
    Spearman over all features of the signed values; ``pairwise_rank``: fraction of feature
    pairs whose order by absolute value agrees (ties count as agreeing only when tied in both).
    """
    n, d = A.shape
    ta = top_k_order(A, k)
    tb = top_k_order(B, k)
    in_a = np.zeros((n, d), dtype=bool)
    in_b = np.zeros((n, d), dtype=bool)
    rows = np.arange(n)[:, None]
    in_a[rows, ta] = True
    in_b[rows, tb] = True
    both = in_a & in_b
    same_sign = np.sign(A) == np.sign(B)
    same_pos = ta == tb
    sign_at_pos = same_sign[rows, ta]
    aa, ab = np.abs(A), np.abs(B)
    iu = np.triu_indices(d, 1)
    if d > 1:
        oa = np.sign(aa[:, iu[0]] - aa[:, iu[1]])
        ob = np.sign(ab[:, iu[0]] - ab[:, iu[1]])
        pairwise = (oa == ob).mean(axis=1)
    else:
        pairwise = np.ones(n)
    return {
        "feature": both.sum(axis=1) / k,
        "rank": same_pos.sum(axis=1) / k,
        "sign": (both & same_sign).sum(axis=1) / k,
        "signed_rank": (same_pos & sign_at_pos).sum(axis=1) / k,
        "rank_correlation": row_spearman(A, B),
        "pairwise_rank": pairwise,
    }


def expected_random_jaccard(d: int, k: int) -> float:
    """E[|A & B| / |A | B|] for two independent uniformly random k-subsets of d features."""
    if k >= d:
        return 1.0
    i = np.arange(0, k + 1)
    p = stats.hypergeom(d, k, k).pmf(i)
    return float(np.sum(p * i / (2 * k - i)))


def check_explainer_options(
    options: dict[str, Any], *, set_here: Sequence[str], where: str
) -> None:
    """Refuse ``**options`` that the check itself passes to :func:`assay.explain`.

    Without this a user's ``method=`` or ``seed=`` meets the check's own and Python raises a
    bare TypeError ("got multiple values for keyword argument") from deep inside.
    """
    clash = sorted(set(options) & set(set_here))
    if clash:
        msg = (
            f"{where} sets {', '.join(map(repr, clash))} for the re-explanations itself; got "
            f"{', '.join(clash)}= among the explainer options. "
            + EXPLAINER_OPTION_HINTS.get(where, "Drop it from the call.")
        )
        raise InvalidInputError(msg)


EXPLAINER_OPTION_HINTS = {
    "input_sensitivity": (
        "The method and output space come from the explanation being checked; to use "
        "another method, explain with it first, or pass explain_fn=."
    ),
    "label_permutation_check": "Name the method with attribute= instead.",
}
