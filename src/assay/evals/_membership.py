"""Membership scores from a causal LM's token log-probabilities, and how well they separate.

Every score is oriented so that higher means "more likely seen in training":

- ``loss``: minus the mean token negative log-likelihood (Yeom et al. 2018);
- ``zlib``: log-likelihood divided by the zlib-compressed length of the text in bytes (Carlini
  et al. 2021), which discounts texts that are simply repetitive;
- ``min_k``: mean of the lowest ``k`` share of token log-probabilities (Min-K%, Shi et al.
  2024): a seen text has few very surprising tokens;
- ``min_k_pp``: the same on tokens standardized by the model's own next-token distribution,
  ``(log p(x_t) - mu_t) / sigma_t`` (Min-K%++, Zhang et al. 2024). Needs the full distribution.

With known labels each score gets its AUROC (with a stratified bootstrap interval), the TPR at
1 % and 5 % FPR (the largest TPR among thresholds whose FPR is at most that level — the Min-K%
reference code reports a TPR at 5 % FPR under another label) and a one-sided Mann–Whitney
p-value.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats
from sklearn.metrics import roc_auc_score, roc_curve

from assay._validation import check_seed
from assay.errors import InvalidInputError
from assay.evals._lm import TokenLogprobs, as_causal_lm
from assay.evals._results import MembershipResult

__all__ = ["membership_metrics", "membership_scores", "tpr_at_fpr"]


def _min_k(values: np.ndarray, k: float) -> float:
    m = max(1, int(values.shape[0] * k))
    return float(np.partition(values, m - 1)[:m].mean())


def tpr_at_fpr(scores: Any, labels: Any, fpr: float) -> float:
    """Largest true-positive rate among thresholds whose false-positive rate is at most ``fpr``.

    Examples
    --------
    >>> tpr_at_fpr([0.9, 0.8, 0.3, 0.1], [1, 1, 0, 0], 0.05)
    1.0
    """
    f, t, _ = roc_curve(
        np.asarray(labels), np.asarray(scores, dtype=float), drop_intermediate=False
    )
    ok = f <= fpr + 1e-12
    return float(t[ok].max()) if ok.any() else 0.0


def _auc_ci(s: np.ndarray, y: np.ndarray, level: float, n_boot: int, seed: int | None):
    rng = np.random.default_rng(seed)
    pos, neg = s[y == 1], s[y == 0]
    aucs = np.empty(n_boot)
    for b in range(n_boot):  # stratified: keep the member / non-member counts
        p = pos[rng.integers(0, pos.shape[0], pos.shape[0])]
        q = neg[rng.integers(0, neg.shape[0], neg.shape[0])]
        ranks = stats.rankdata(np.concatenate([p, q]))
        aucs[b] = (ranks[: p.shape[0]].sum() - p.shape[0] * (p.shape[0] + 1) / 2) / (
            p.shape[0] * q.shape[0]
        )
    a = (1 - level) / 2
    return float(np.quantile(aucs, a)), float(np.quantile(aucs, 1 - a))


def membership_metrics(
    scores: Any,
    labels: Any,
    *,
    ci_level: float = 0.95,
    n_bootstrap: int = 1000,
    seed: int | None = None,
) -> dict[str, float]:
    """AUROC (with a bootstrap interval), TPR at 1 % / 5 % FPR and a Mann–Whitney p-value.

    Examples
    --------
    >>> m = membership_metrics([3.0, 2.0, 1.0, 0.0], [1, 1, 0, 0], seed=0)
    >>> m["auroc"], m["tpr_at_5pct_fpr"]
    (1.0, 1.0)
    """
    s = np.asarray(scores, dtype=float).ravel()
    y = np.asarray(labels).ravel()
    if s.shape != y.shape:
        msg = f"scores has {s.shape[0]} values but labels has {y.shape[0]}."
        raise InvalidInputError(msg)
    if not set(np.unique(y).tolist()) <= {0, 1} or np.unique(y).shape[0] != 2:
        msg = f"labels must hold both 0 (non-member) and 1 (member); got {np.unique(y)[:5]}."
        raise InvalidInputError(msg)
    if not np.isfinite(s).all():
        msg = "scores contain NaN or inf; check the token log-probabilities."
        raise InvalidInputError(msg)
    y = y.astype(int)
    lo, hi = _auc_ci(s, y, ci_level, n_bootstrap, seed)
    return {
        "auroc": float(roc_auc_score(y, s)),
        "auroc_ci_low": lo,
        "auroc_ci_high": hi,
        "tpr_at_1pct_fpr": tpr_at_fpr(s, y, 0.01),
        "tpr_at_5pct_fpr": tpr_at_fpr(s, y, 0.05),
        "p_value": float(stats.mannwhitneyu(s[y == 1], s[y == 0], alternative="greater").pvalue),
    }


def _zlib_bytes(x: Any) -> int:
    raw = x.encode("utf-8") if isinstance(x, str) else " ".join(map(str, x)).encode()
    return len(zlib.compress(raw))


def membership_scores(
    model: Any,
    inputs: Sequence[Any],
    *,
    labels: Any = None,
    tokenizer: Any = None,
    k: float = 0.2,
    ci_level: float = 0.95,
    n_bootstrap: int = 1000,
    seed: int | None = None,
) -> MembershipResult:
    """Loss, zlib, Min-K% and Min-K%++ membership scores of each input.

    Parameters
    ----------
    model : CausalLM, Hugging Face causal LM, torch module or callable
        Anything :class:`CausalLM` wraps; Min-K%++ is computed when it gives the full
        next-token distribution (torch models do).
    inputs : sequence of str or of token id sequences
        The candidate texts. zlib sizes are of the text (of the ids written as numbers for
        token inputs).
    labels : array-like of {0, 1}, optional
        Known membership (1 = seen in training) to evaluate the scores.
    k : float
        Share of lowest-scoring tokens for Min-K% and Min-K%++ (0.2 as in the papers).

    Examples
    --------
    >>> import numpy as np
    >>> fn = lambda seqs: [np.full(len(s) - 1, -0.1 * s[0]) for s in seqs]
    >>> res = membership_scores(fn, [[1, 5, 6], [2, 7, 8], [8, 1, 2], [9, 3, 4]],
    ...                         labels=[1, 1, 0, 0], seed=0)
    >>> res.metrics["loss"]["auroc"]
    1.0
    """
    if not 0.0 < float(k) <= 1.0:
        msg = f"k must be in (0, 1]; got {k!r}."
        raise InvalidInputError(msg)
    seed = check_seed(seed)
    inputs = list(inputs)
    lm = as_causal_lm(model, tokenizer)
    per: list[TokenLogprobs] = lm.token_logprobs(inputs)
    empty = [i for i, t in enumerate(per) if t.logprob.shape[0] == 0]
    if empty:
        msg = f"input {empty[0]} has no scored tokens; each input needs at least 2 tokens."
        raise InvalidInputError(msg)
    ll = np.array([t.logprob.mean() for t in per])
    scores: dict[str, np.ndarray] = {
        "loss": ll,
        "zlib": np.array([t.logprob.sum() for t in per])
        / np.array([_zlib_bytes(x) for x in inputs], dtype=float),
        "min_k": np.array([_min_k(t.logprob, k) for t in per]),
    }
    if all(t.mu is not None and t.sigma is not None for t in per):
        scores["min_k_pp"] = np.array(
            [_min_k((t.logprob - t.mu) / np.maximum(t.sigma, 1e-8), k) for t in per]
        )
    y = None
    metrics: dict[str, Any] = {}
    if labels is not None:
        y = np.asarray(labels).ravel()
        if y.shape[0] != len(inputs):
            msg = f"labels has {y.shape[0]} values for {len(inputs)} inputs."
            raise InvalidInputError(msg)
        for name, s in scores.items():
            metrics[name] = membership_metrics(
                s, y, ci_level=ci_level, n_bootstrap=n_bootstrap, seed=seed
            )
        y = y.astype(int)
    return MembershipResult(
        scores=scores,
        labels=y,
        metrics=metrics,
        params={
            "k": float(k),
            "n_inputs": len(inputs),
            "ci_level": float(ci_level),
            "n_bootstrap": int(n_bootstrap),
            "seed": seed,
        },
    )
