"""The Axes every plot draws on: the caller's, or a new figure's (matplotlib imported lazily)."""

from __future__ import annotations

from typing import Any

__all__ = ["axes"]


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
