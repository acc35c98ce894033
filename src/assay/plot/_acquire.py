"""Plot of the per-row value of measuring each candidate feature (:mod:`assay.acquire`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from assay.plot._axes import axes

__all__ = ["plot_value_of_information"]


def plot_value_of_information(result: Any, *, ax: Any = None) -> Any:
    """Box plot of the per-row value of measuring each candidate, best first.

    Parameters
    ----------
    result : ValueOfInformation
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    ax = axes(ax, (6, 0.5 * len(result.candidates) + 1.2))
    order = [e["feature"] for e in result.ranking()][::-1]
    data = [
        result.values[:, result.candidates.index(f)][
            ~np.isnan(result.values[:, result.candidates.index(f)])
        ]
        for f in order
    ]
    ax.boxplot(data, orientation="horizontal", showfliers=False)
    ax.set_yticks(np.arange(1, len(order) + 1), order)
    ax.set_xlabel(f"value of measuring ({result.loss} reduction per row)")
    return ax
