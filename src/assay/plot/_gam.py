"""Plots of boosted additive models: shapes with error bands, pair heatmaps, importances."""

from __future__ import annotations

from typing import Any

import numpy as np

from assay.errors import InvalidInputError
from assay.plot._axes import axes

__all__ = ["plot_gam_importances", "plot_gam_pair", "plot_gam_shape"]

_FIGSIZE = (6, 4)


def plot_gam_shape(
    gam: Any, term: Any, *, anomalies: Any = None, output: int = 0, ax: Any = None
) -> Any:
    """Shape function of a main effect with a ±2 standard-deviation band over bags.

    A histogram of the training rows per bin is drawn along the bottom (data density);
    anomalies from :func:`assay.glassbox.find_shape_anomalies` for this feature are marked
    (vertical lines at discontinuities, shaded spans for segments, red when counter-causal).

    Parameters
    ----------
    gam : fitted GAMClassifier or GAMRegressor
    term : str or int
        A main-effect term.
    anomalies : ShapeAnomalies, optional
    output : int, default 0
        Which score column (class, for multiclass).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import numpy as np, matplotlib
    >>> matplotlib.use("Agg")
    >>> from assay.glassbox import GAMRegressor
    >>> X = np.random.default_rng(0).normal(size=(300, 2)); y = np.sin(X[:, 0])
    >>> gam = GAMRegressor(n_bags=2, interactions=0, random_state=0).fit(X, y)
    >>> ax = plot_gam_shape(gam, "x0")
    """
    t = gam._main_term(term)
    fb = gam.bins_[gam.term_features_[t][0]]
    ax = axes(ax, _FIGSIZE)
    mean = gam.term_values_[t][:, output]
    std = gam.term_std_[t][:, output]
    name = gam.term_names_[t]
    inner = np.flatnonzero(fb.counts > 0)
    inner = inner[(inner > 0) & (inner < fb.n_bins - 1)]
    if fb.kind == "categorical":
        pos = np.arange(inner.size)
        ax.errorbar(pos, mean[inner], yerr=2 * std[inner], fmt="o", color="C0")
        ax.set_xticks(pos, [f"{v:g}" for v in fb.lower[inner]])
    else:
        xs = np.column_stack([fb.lower[inner], fb.upper[inner]]).ravel()
        ys = np.repeat(mean[inner], 2)
        sd = np.repeat(std[inner], 2)
        ax.plot(xs, ys, color="C0", lw=1.5, label="shape")
        ax.fill_between(xs, ys - 2 * sd, ys + 2 * sd, color="C0", alpha=0.25, label="±2 sd (bags)")
        dens = ax.twinx()
        widths = np.maximum(fb.upper[inner] - fb.lower[inner], 1e-12)
        dens.bar(fb.lower[inner], fb.counts[inner], width=widths, align="edge", color="0.6",
                 alpha=0.3)  # fmt: skip
        dens.set_ylim(0, fb.counts[inner].max() * 4)
        dens.set_yticks([])
        for a in [] if anomalies is None else anomalies.anomalies:
            if a.feature != name:
                continue
            color = "red" if a.counter_causal else "orange"
            if a.kind == "discontinuity":
                ax.axvline(a.location, color=color, ls="--", lw=1)
            else:
                ax.axvspan(a.location, a.end, color=color, alpha=0.2)
    if fb.counts[0] > 0:
        ax.set_title(f"{name} (missing: {mean[0]:+.3g} ± {2 * std[0]:.2g})")
    else:
        ax.set_title(name)
    ax.axhline(0, color="0.5", lw=0.5)
    ax.set_xlabel(name)
    ax.set_ylabel("contribution")
    return ax


def plot_gam_pair(gam: Any, term: Any, *, output: int = 0, ax: Any = None) -> Any:
    """Heatmap of a pair term over its coarse bins (axes labelled by bin lower edges).

    Examples
    --------
    >>> import numpy as np, matplotlib
    >>> matplotlib.use("Agg")
    >>> from assay.glassbox import GAMRegressor
    >>> X = np.random.default_rng(0).normal(size=(400, 2)); y = X[:, 0] * X[:, 1]
    >>> gam = GAMRegressor(n_bags=2, interactions=1, random_state=0).fit(X, y)
    >>> ax = plot_gam_pair(gam, "x0 & x1")
    """
    t = gam._term_index(term)
    feats = gam.term_features_[t]
    if len(feats) != 2:
        msg = f"term {gam.term_names_[t]!r} is not a pair; use plot_gam_shape."
        raise InvalidInputError(msg)
    ax = axes(ax, _FIGSIZE)
    table = gam.term_values_[t][1:-1, 1:-1, output]
    lim = max(np.abs(table).max(), 1e-12)
    im = ax.imshow(table.T, origin="lower", aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim)
    names = gam._feature_names()
    for axis, j in zip(("x", "y"), feats, strict=True):
        lower = gam.pair_bins_[j].lower[1:-1]
        ticks = np.linspace(0, lower.size - 1, min(6, lower.size)).round().astype(int)
        labels = [f"{lower[i]:.3g}" for i in ticks]
        (ax.set_xticks if axis == "x" else ax.set_yticks)(ticks, labels)
    ax.set_xlabel(names[feats[0]])
    ax.set_ylabel(names[feats[1]])
    ax.figure.colorbar(im, ax=ax, label="contribution")
    ax.set_title(gam.term_names_[t])
    return ax


def plot_gam_importances(gam: Any, *, top: int = 20, ax: Any = None) -> Any:
    """Horizontal bars of :meth:`term_importances` (largest at the top).

    Examples
    --------
    >>> import numpy as np, matplotlib
    >>> matplotlib.use("Agg")
    >>> from assay.glassbox import GAMRegressor
    >>> X = np.random.default_rng(0).normal(size=(300, 3)); y = X[:, 0]
    >>> ax = plot_gam_importances(GAMRegressor(n_bags=2, random_state=0).fit(X, y))
    """
    imp = gam.term_importances()
    items = sorted(imp.items(), key=lambda kv: kv[1])[-top:]
    ax = axes(ax, _FIGSIZE)
    ax.barh([k for k, _ in items], [v for _, v in items], color="C0")
    ax.set_xlabel("mean |contribution|")
    return ax
