"""Plots for evaluation-trust results: format spread, membership ROC, contamination, shards."""

from __future__ import annotations

from typing import Any

import numpy as np

from assay.errors import InvalidInputError
from assay.plot._axes import axes

__all__ = [
    "plot_contamination",
    "plot_exchangeability",
    "plot_format_spread",
    "plot_judge_bias",
    "plot_membership_roc",
]

_FIGSIZE = (6, 3.5)


def _need(result: Any, kind: str, where: str) -> None:
    if type(result).__name__ != kind:
        msg = f"This plot needs a {kind} (from {where}); got {type(result).__name__}."
        raise InvalidInputError(msg)


def plot_format_spread(result: Any, *, model: int = 0, ax: Any = None) -> Any:
    """Score per prompt format (sorted) with intervals; best and worst marked.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from assay.evals import format_spread
    >>> exs = [{"Q": str(i), "A": ""} for i in range(20)]
    >>> ax = plot_format_spread(format_spread(lambda p: [len(x) % 2 for x in p], exs, seed=0))
    """
    _need(result, "FormatSpreadResult", "assay.evals.format_spread")
    acc = result.accuracy[model]
    done = np.flatnonzero(np.isfinite(acc))
    order = done[np.argsort(acc[done])]
    ax = axes(ax, _FIGSIZE)
    x = np.arange(order.shape[0])
    lo = acc[order] - result.ci_low[model][order]
    hi = result.ci_high[model][order] - acc[order]
    ax.errorbar(x, acc[order], yerr=np.nan_to_num(np.vstack([lo, hi])), fmt="o", color="C0")
    for idx, color in ((result.best[model], "C2"), (result.worst[model], "C3")):
        pos = int(np.flatnonzero(order == idx)[0])
        ax.plot(pos, acc[idx], "o", color=color, ms=9)
    ax.set_xticks(x, [str(i) for i in order])
    ax.set_xlabel("format (sorted by score)")
    ax.set_ylabel("mean score")
    ax.set_title(
        f"{result.model_names[model]}: spread {result.spread[model]:.3f} "
        f"[{result.spread_ci_low[model]:.3f}, {result.spread_ci_high[model]:.3f}]"
    )
    return ax


def plot_membership_roc(result: Any, *, ax: Any = None) -> Any:
    """ROC curve of each membership score (needs labels), with the 5 % FPR line.

    Examples
    --------
    >>> import numpy as np, matplotlib; matplotlib.use("Agg")
    >>> from assay.evals import membership_scores
    >>> fn = lambda seqs: [np.full(len(s) - 1, -0.1 * s[0]) for s in seqs]
    >>> res = membership_scores(fn, [[1, 2, 3], [2, 3, 4], [8, 1, 2], [9, 3, 4]],
    ...                         labels=[1, 1, 0, 0], seed=0, n_bootstrap=10)
    >>> ax = plot_membership_roc(res)
    """
    _need(result, "MembershipResult", "assay.evals.membership_scores")
    if result.labels is None:
        msg = "plot_membership_roc needs labels; run membership_scores(..., labels=...)."
        raise InvalidInputError(msg)
    from sklearn.metrics import roc_curve

    ax = axes(ax, _FIGSIZE)
    for name, s in result.scores.items():
        f, t, _ = roc_curve(result.labels, s)
        ax.plot(f, t, label=f"{name} (AUROC {result.metrics[name]['auroc']:.2f})")
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--")
    ax.axvline(0.05, color="grey", lw=1, ls=":")
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    ax.legend(frameon=False, fontsize=8)
    return ax


def plot_contamination(result: Any, *, ax: Any = None) -> Any:
    """Histogram of per-example n-gram overlap, contaminated examples in red.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from assay.evals import ngram_overlap
    >>> ax = plot_contamination(ngram_overlap(["a b c d", "e f g h"], ["a b c d"], n=2))
    """
    _need(result, "ContaminationReport", "assay.evals.ngram_overlap")
    ax = axes(ax, _FIGSIZE)
    bins = np.linspace(0, 1, 21)
    ax.hist(result.overlap[~result.contaminated], bins=bins, color="C0", label="clean")
    ax.hist(result.overlap[result.contaminated], bins=bins, color="C3", label="contaminated")
    ax.set_xlabel(f"share of {result.params.get('n', '')}-grams found in the corpus")
    ax.set_ylabel("examples")
    ax.legend(frameon=False)
    return ax


def plot_exchangeability(result: Any, *, ax: Any = None) -> Any:
    """Per shard: canonical log-likelihood minus the mean over shuffled orders, with the
    spread of the shuffled orders.

    Examples
    --------
    >>> import numpy as np, matplotlib; matplotlib.use("Agg")
    >>> from assay.evals import exchangeability_test
    >>> fn = lambda orders: np.array([-np.abs(np.diff(o) - 1).sum() for o in orders], float)
    >>> ax = plot_exchangeability(exchangeability_test(fn, list("abcdefgh"), seed=0))
    """
    _need(result, "ExchangeabilityResult", "assay.evals.exchangeability_test")
    ax = axes(ax, _FIGSIZE)
    x = np.arange(result.canonical.shape[0])
    ax.bar(x, result.differences, color="C0")
    ax.errorbar(
        x,
        np.zeros_like(x, dtype=float),
        yerr=np.nan_to_num(result.permuted_std),
        fmt="none",
        color="grey",
    )
    ax.axhline(0, color="black", lw=1)
    ax.set_xlabel("shard")
    ax.set_ylabel("canonical - shuffled log-lik.")
    ax.set_title(f"p = {result.p_value:.2g}")
    return ax


_JUDGE_LABELS = {
    "position": "position\n(first-slot share of flips - 0.5)",
    "verbosity": "verbosity\n(win-rate change from padding)",
    "self_preference": "self-preference\n(self- minus other-favouring errors)",
}


def plot_judge_bias(result: Any, *, ax: Any = None) -> Any:
    """Each judge-bias check as a difference from an unbiased judge (0), with its interval.

    Alerts are drawn in red, warnings in orange.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from assay.evals import judge_bias
    >>> items = [{"question": "q", "answer_a": "a" * (i % 3 + 1), "answer_b": "b"}
    ...          for i in range(20)]
    >>> ax = plot_judge_bias(judge_bias(lambda q, a, b: "A", items, seed=0))
    """
    _need(result, "JudgeBiasResult", "assay.evals.judge_bias")
    colors = {"ok": "C0", "warning": "C1", "alert": "C3"}
    names = [k for k, c in result.checks.items() if np.isfinite(c["estimate"])]
    ax = axes(ax, (6, 0.8 * max(len(names), 1) + 1.2))
    for pos, name in enumerate(reversed(names)):
        c = result.checks[name]
        null = c.get("null", 0.0)
        est = c["estimate"] - null
        lo = c["ci_low"] - null if np.isfinite(c["ci_low"]) else est
        hi = c["ci_high"] - null if np.isfinite(c["ci_high"]) else est
        ax.errorbar(est, pos, xerr=[[est - lo], [hi - est]], fmt="o", color=colors[c["status"]])
    ax.axvline(0, color="grey", lw=1, ls="--")
    ax.set_yticks(np.arange(len(names)), [_JUDGE_LABELS.get(n, n) for n in reversed(names)])
    ax.set_xlabel("bias (0 = none)")
    return ax
