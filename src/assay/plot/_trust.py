"""Plots of trust-check results: deletion / insertion curves against the random band."""

from __future__ import annotations

from typing import Any

import numpy as np

from assay.errors import InvalidInputError
from assay.plot._axes import axes

__all__ = ["plot_faithfulness_curves"]


def plot_faithfulness_curves(result: Any, *, kind: str = "both", ax: Any = None) -> Any:
    """Deletion and/or insertion curve of an explanation next to the random-attribution band.

    The band spans the lowest to the highest mean curve over the random draws (each draw is
    the explanation's values shuffled across features within each row); the dashed line is
    their average.

    Parameters
    ----------
    result : FaithfulnessResult
        From :func:`assay.trust.faithfulness`.
    kind : {"both", "deletion", "insertion"}, default "both"
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import numpy as np, matplotlib
    >>> matplotlib.use("Agg")
    >>> from assay.attribution import ExactShapley
    >>> from assay.trust import faithfulness
    >>> X = np.random.default_rng(0).normal(size=(30, 3))
    >>> f = lambda Z: Z[:, 0] + 2 * Z[:, 1]
    >>> res = faithfulness(ExactShapley(f, background=X).explain(X[:10]), f, background=X)
    >>> ax = plot_faithfulness_curves(res)
    >>> len(ax.get_lines())
    4
    """
    from assay.trust._result import FaithfulnessResult

    if not isinstance(result, FaithfulnessResult):
        msg = (
            f"result must be a FaithfulnessResult (from assay.trust.faithfulness); got "
            f"{type(result).__name__}."
        )
        raise InvalidInputError(msg)
    if kind not in ("both", "deletion", "insertion"):
        msg = f"kind must be 'both', 'deletion' or 'insertion'; got {kind!r}."
        raise InvalidInputError(msg)
    ax = axes(ax, (5.5, 3.8))
    x = 100 * np.asarray(result.fractions)
    curves = []
    if kind in ("both", "deletion"):
        curves.append(("deletion", result.deletion_curve, result.random_deletion_curves, "C3"))
    if kind in ("both", "insertion"):
        curves.append(("insertion", result.insertion_curve, result.random_insertion_curves, "C0"))
    for name, own, rand, color in curves:
        auc = result[f"{name}_auc"]
        ax.fill_between(x, rand.min(axis=0), rand.max(axis=0), color=color, alpha=0.15, lw=0)
        ax.plot(x, rand.mean(axis=0), color=color, ls="--", lw=1, label=f"{name}: random")
        ax.plot(
            x,
            own,
            color=color,
            lw=2,
            marker="o",
            ms=3,
            label=f"{name}: {result.method} (AUC {auc.value:.3g} vs {auc.random_value:.3g})",
        )
    ax.set_xlabel("features removed (deletion) / added (insertion), % in attribution order")
    ax.set_ylabel(f"mean model output ({result.output})")
    ax.set_title(f"Faithfulness of {result.method} vs random attributions")
    ax.legend(fontsize="small", frameon=False)
    return ax
