"""Plots of an :class:`assay.Explanation`: global bars, every row (beeswarm), dependence."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from assay.errors import InvalidInputError
from assay.plot._axes import axes, row_axes

__all__ = ["plot_explanation"]

KINDS = ("bar", "beeswarm", "dependence")
_BLUE, _RED = "#3c6fd1", "#c8453c"


def _index(names: list[str], which: Any, what: str) -> int:
    if isinstance(which, numbers.Integral) and not isinstance(which, bool):
        if not -len(names) <= int(which) < len(names):
            msg = f"{what}={which!r} is out of range; the explanation has {len(names)}: {names}."
            raise InvalidInputError(msg)
        return int(which) % len(names)
    if isinstance(which, str) and which in names:
        return names.index(which)
    msg = (
        f"{what}={which!r} is not one of the explanation's {what}s {names[:20]}; pass a name "
        "or an index."
    )
    raise InvalidInputError(msg)


def plot_explanation(
    explanation: Any,
    kind: str = "bar",
    *,
    feature: str | int | None = None,
    output: str | int = 0,
    max_display: int = 20,
    ax: Any = None,
) -> Any:
    """Draw an :class:`assay.Explanation`.

    - ``"bar"``: mean ``|attribution|`` over the rows per feature (largest on top), with the
      standard error of that mean over rows as error bars; one bar per feature shown.
    - ``"beeswarm"``: every row's attribution per feature (one point per row and feature),
      coloured by the feature's value (blue low, red high, within the feature's range).
    - ``"dependence"``: the attribution of ``feature`` against its value, one point per row.

    Parameters
    ----------
    explanation : Explanation
    kind : {"bar", "beeswarm", "dependence"}
    feature : str or int, optional
        The feature of a dependence plot (required there).
    output : str or int, default 0
        Which output's attributions to draw.
    max_display : int, default 20
        Bar and beeswarm plots show the ``max_display`` features of largest mean
        ``|attribution|``.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from assay.attribution import ExactShapley
    >>> X = np.random.default_rng(0).normal(size=(40, 3))
    >>> exp = ExactShapley(lambda Z: 2 * Z[:, 0] + Z[:, 1], background=X[:10]).explain(X)
    >>> len(plot_explanation(exp, "bar").patches)
    3
    >>> ax = plot_explanation(exp, "dependence", feature="x0")
    """
    from assay.attribution._explanation import Explanation

    if not isinstance(explanation, Explanation):
        msg = (
            f"plot_explanation draws an assay.Explanation; got {type(explanation).__name__}. "
            "Make one with assay.explain(model, X)."
        )
        raise InvalidInputError(msg)
    if kind not in KINDS:
        msg = f"kind must be one of {KINDS}; got {kind!r}."
        raise InvalidInputError(msg)
    if isinstance(max_display, bool) or not isinstance(max_display, numbers.Integral):
        msg = f"max_display must be a positive integer; got {max_display!r}."
        raise InvalidInputError(msg)
    if max_display < 1:
        msg = f"max_display must be a positive integer; got {max_display!r}."
        raise InvalidInputError(msg)
    o = _index(explanation.output_names, output, "output")
    values = explanation.values[:, :, o]
    names = explanation.feature_names
    label = f"attribution to {explanation.output_names[o]} ({explanation.output_space})"
    if kind == "dependence":
        if feature is None:
            msg = "a dependence plot needs feature= (a feature name or index)."
            raise InvalidInputError(msg)
        j = _index(names, feature, "feature")
        ax = axes(ax, (6, 4))
        ax.scatter(explanation.data[:, j], values[:, j], s=10, color=_BLUE, alpha=0.7)
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.set_xlabel(names[j])
        ax.set_ylabel(label)
        ax.set_title(f"{explanation.method}: dependence on {names[j]}")
        return ax
    mean_abs = np.abs(values).mean(axis=0)
    order = np.argsort(-mean_abs, kind="stable")[:max_display]  # largest first, on top
    ax, _ = row_axes(ax, [names[j] for j in order], width=6, row_height=0.35, pad=1.5)
    shown = order[::-1]  # from the bottom row up: shown[k] is drawn at height k
    if kind == "bar":
        n = values.shape[0]
        se = np.abs(values).std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.zeros_like(mean_abs)
        ax.barh(np.arange(len(shown)), mean_abs[shown], xerr=se[shown], color=_BLUE,
                error_kw={"ecolor": "0.3", "capsize": 2})  # fmt: skip
        ax.set_xlabel(f"mean |{label}| (± standard error over {n} rows)")
        ax.set_title(f"{explanation.method}: global importance")
        return ax
    import matplotlib as mpl

    cmap = mpl.colormaps["coolwarm"]
    rng = np.random.default_rng(0)  # vertical jitter only: the x positions are the data
    for row, j in enumerate(shown):
        x = explanation.data[:, j]
        lo, hi = np.nanmin(x), np.nanmax(x)
        scaled = (x - lo) / (hi - lo) if hi > lo else np.full_like(x, 0.5)
        jitter = rng.uniform(-0.3, 0.3, size=values.shape[0])
        ax.scatter(values[:, j], row + jitter, c=cmap(scaled), s=8, alpha=0.8)
    ax.axvline(0.0, color="0.6", lw=0.8)
    ax.set_xlabel(label)
    ax.set_title(f"{explanation.method}: each row (colour: feature value, blue low, red high)")
    return ax
