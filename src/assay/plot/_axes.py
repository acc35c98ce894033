"""The Axes every plot draws on: the caller's, or a new figure's (matplotlib imported lazily)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["axes", "row_axes"]


def axes(ax: Any, figsize: tuple[float, float] | None = None) -> Any:
    """``ax`` when given, else the Axes of a new figure of ``figsize`` (None: matplotlib's).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> ax = axes(None, (4, 3))
    >>> axes(ax) is ax
    True
    """
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize)[1]


def row_axes(
    ax: Any, labels: Sequence[str], *, width: float, row_height: float, pad: float
) -> tuple[Any, np.ndarray]:
    """Axes for one horizontal row per label, the first label on top.

    A new figure is ``width`` inches wide and ``row_height * max(len(labels), 1) + pad``
    tall; a caller's ``ax`` is used as it is. The rows stand at heights ``0 .. n - 1``,
    ticked and labelled from the bottom up (the last tick is the top row).

    Returns
    -------
    ax : matplotlib Axes
    y : ndarray of int
        ``y[i]`` is the height of the row of ``labels[i]``: ``n - 1`` for the first.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> ax, y = row_axes(None, ["first", "second", "third"], width=4, row_height=0.4, pad=1)
    >>> y.tolist(), [t.get_text() for t in ax.get_yticklabels()]
    ([2, 1, 0], ['third', 'second', 'first'])
    """
    ax = axes(ax, (width, row_height * max(len(labels), 1) + pad))
    y = np.arange(len(labels))[::-1]
    ax.set_yticks(y[::-1], list(labels)[::-1])
    return ax, y
