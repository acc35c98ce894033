"""Plots of monotonicity checks: violation rates per feature, or ICE curves of one feature."""

from __future__ import annotations

from typing import Any

import numpy as np

from assay.plot._axes import axes

__all__ = ["plot_monotonicity"]

_BLUE, _RED, _GREY = "#3c6fd1", "#c8453c", "#9aa3b2"


def plot_monotonicity(result: Any, feature: str | None = None, *, ax: Any = None) -> Any:
    """Draw a :class:`~assay.glassbox.MonotonicityCheck`.

    Without ``feature``: the violation rate of each checked feature (bars, labelled with the
    worst drop). With ``feature``: the model output along that feature for the stored rows
    (ICE curves), the segments that go against the declared direction in red.

    Parameters
    ----------
    result : MonotonicityCheck
    feature : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import numpy as np, matplotlib
    >>> matplotlib.use("Agg")
    >>> from assay.glassbox import check_monotonic
    >>> X = np.random.default_rng(0).normal(size=(100, 2))
    >>> res = check_monotonic(lambda A: A[:, 0] - np.sin(3 * A[:, 1]), X, {0: 1, 1: -1},
    ...                       n_pairs=500, n_rows=10, seed=0)
    >>> ax = plot_monotonicity(res)
    >>> ax = plot_monotonicity(res, "x1")
    """
    ax = axes(ax, (6, 4))
    if feature is None:
        labels = [f.feature for f in result.features][::-1]
        rates = [100.0 * f.violation_rate for f in result.features][::-1]
        worst = [f.worst_violation for f in result.features][::-1]
        colors = [_RED if r > 0 else _BLUE for r in rates]
        ax.barh(labels, rates, color=colors)
        for y, (r, w) in enumerate(zip(rates, worst, strict=True)):
            ax.text(r, y, f"  worst drop {w:.3g}", va="center", fontsize=8)
        ax.set_xlabel("pairs against the declared direction (%)")
        ax.set_title(f"monotonicity of {result.output_name}")
        return ax
    entry = result.feature(feature)
    grid = np.asarray(entry.grid, dtype=float)
    for curve in entry.curves:
        c = np.asarray(curve, dtype=float)
        ax.plot(grid, c, color=_GREY, lw=0.8, alpha=0.7)
        bad = np.flatnonzero(-entry.direction * np.diff(c) > result.tol)
        for g in bad:
            ax.plot(grid[g : g + 2], c[g : g + 2], color=_RED, lw=2)
    word = "increasing" if entry.direction > 0 else "decreasing"
    ax.set_xlabel(f"{feature} (declared {word})")
    ax.set_ylabel(result.output_name)
    ax.set_title(f"{entry.n_violations:,} of {entry.n_pairs:,} pairs against the direction")
    return ax
