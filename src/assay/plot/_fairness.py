"""Plots of fairness results: group metrics with intervals, proxy influence, trade-off curves."""

from __future__ import annotations

from typing import Any

import numpy as np

from assay.errors import InvalidInputError
from assay.plot._axes import axes

__all__ = ["plot_group_metrics", "plot_proxy_influence", "plot_tradeoff"]


def plot_group_metrics(result: Any, *, metric: str | None = None, ax: Any = None) -> Any:
    """Bars of one metric per group, with bootstrap intervals when they were computed.

    Parameters
    ----------
    result : GroupMetrics
    metric : str, optional
        Column of ``result.by_group`` (default: the first).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from assay.fairness import GroupMetrics
    >>> gm = GroupMetrics(metrics="selection_rate", y_true=[1, 0, 1, 0], y_pred=[1, 1, 0, 0],
    ...                   sensitive_features=["a", "a", "b", "b"])
    >>> ax = plot_group_metrics(gm)
    """
    metric = result.by_group.columns[0] if metric is None else metric
    if metric not in result.by_group.columns:
        msg = (
            f"metric {metric!r} is not in the result; choose from {list(result.by_group.columns)}."
        )
        raise InvalidInputError(msg)
    ax = axes(ax)
    vals = result.by_group[metric].to_numpy(dtype=np.float64)
    labels = [" / ".join(str(k) for k in key) for key in result.by_group.index]
    pos = np.arange(vals.size)
    yerr = None
    if result.by_group_ci_low is not None:
        lo = result.by_group_ci_low[metric].to_numpy(dtype=np.float64)
        hi = result.by_group_ci_high[metric].to_numpy(dtype=np.float64)
        yerr = np.vstack([vals - lo, hi - vals])
    ax.bar(pos, vals, yerr=yerr, capsize=3, color="#4c72b0")
    for c, row in enumerate(result.overall[metric].to_numpy(dtype=np.float64)):
        ax.axhline(row, color="k", ls="--", lw=1, label="overall" if c == 0 else None)
    ax.set_xticks(pos, labels, rotation=30 if vals.size > 4 else 0)
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} by {' × '.join(result.sensitive_names)}")
    ax.legend(loc="best")
    return ax


def plot_proxy_influence(result: Any, *, ax: Any = None) -> Any:
    """Per feature: association with the attribute and the model's group gap flowing through it.

    Parameters
    ----------
    result : ProxyAudit
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    ax = axes(ax)
    t = result.features
    has_influence = result.influence is not None
    key = "influence_gap" if has_influence else "association"
    t = t.sort_values(key, ascending=True)
    pos = np.arange(len(t))
    colors = ["#c44e52" if f else "#8c8c8c" for f in t["flagged"]]
    if has_influence:
        ax.barh(pos, t["influence_gap"], xerr=2 * t["influence_gap_se"], color=colors)
        ax.set_xlabel(f"reduction of the model's {result.attribute} gap when repaired (±2 se)")
    else:
        ax.barh(pos, t["association"], color=colors)
        ax.set_xlabel(f"association with {result.attribute} (Cramér's V / eta)")
    ax.set_yticks(pos, t["feature"])
    ax.axvline(0, color="k", lw=0.8)
    ax.set_title("proxies (red: flagged)")
    return ax


def plot_tradeoff(result: Any, *, fairness: str = "dp_difference", ax: Any = None) -> Any:
    """Held-out AUC against a fairness gap along the penalty sweep, points labelled by weight.

    Parameters
    ----------
    result : TradeoffCurve
    fairness : {"dp_difference", "score_gap", "counterfactual_gap"}
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    if fairness not in ("dp_difference", "score_gap", "counterfactual_gap"):
        msg = (
            "fairness must be 'dp_difference', 'score_gap' or 'counterfactual_gap'; "
            f"got {fairness!r}."
        )
        raise InvalidInputError(msg)
    ax = axes(ax)
    x = np.asarray(getattr(result, fairness))
    ax.plot(x, result.auc, "o-")
    for w, xi, yi in zip(result.weights, x, result.auc, strict=True):
        ax.annotate(f"{w:g}", (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel(fairness.replace("_", " "))
    ax.set_ylabel("held-out AUC")
    ax.set_title(f"accuracy–fairness trade-off ({result.penalty} penalty)")
    return ax
