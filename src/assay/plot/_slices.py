"""Plot of confirmed slices (:class:`assay.slices.SliceReport`): metric with interval against the
overall value."""

from __future__ import annotations

from typing import Any

import numpy as np

from assay.plot._axes import row_axes

__all__ = ["plot_slices"]


def plot_slices(report: Any, *, ax: Any = None, max_slices: int = 15) -> Any:
    """Horizontal plot of each confirmed slice's metric with its interval.

    Each slice is a bar whose thickness grows with its share of rows, drawn from the overall
    value (dashed line) to the slice's value, with the ``ci_level`` interval of the slice value
    as an error bar.

    Parameters
    ----------
    report : SliceReport
    ax : matplotlib Axes, optional
    max_slices : int, default 15
        Plot at most this many slices (best first, from the top).

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from assay.plot import plot_slices
    >>> from assay.slices import find_slices
    >>> rng = np.random.default_rng(0)
    >>> X = rng.integers(0, 4, size=(3000, 2))
    >>> e = (rng.random(3000) < np.where(X[:, 0] == 1, 0.5, 0.1)).astype(float)
    >>> ax = plot_slices(find_slices(X, errors=e, seed=0))
    """
    slices = report.slices[:max_slices]
    labels = [f"{s.description}  ({100 * s.support_share:.1f}%)" for s in slices]
    ax, y = row_axes(ax, labels, width=7, row_height=0.45, pad=1.4)
    overall = report.metric_overall
    ax.axvline(overall, color="0.4", linestyle="--", linewidth=1, label=f"overall {overall:.3g}")
    if not slices:
        ax.text(0.5, 0.5, "no slice confirmed", transform=ax.transAxes, ha="center")
        ax.set_xlabel(report.metric)
        return ax
    shares = np.array([s.support_share for s in slices])
    heights = 0.2 + 0.6 * np.sqrt(shares / shares.max())
    vals = np.array([s.metric_inside for s in slices])
    lo = np.array([s.inside_ci[0] for s in slices])
    hi = np.array([s.inside_ci[1] for s in slices])
    ax.barh(y, vals - overall, left=overall, height=heights, color="#c44e52", alpha=0.7)
    ax.errorbar(vals, y, xerr=[vals - lo, hi - vals], fmt="o", color="k", capsize=3, ms=3)
    ax.set_xlabel(f"{report.metric} ({100 * report.ci_level:.1f}% intervals, FCR-adjusted)")
    ax.legend(loc="lower right", fontsize="small")
    return ax
