"""Draw the figure descriptions of audit sections as inline SVG.

A figure in ``results.json`` is ``{"kind": ..., "caption": ..., "data": {...}}``; each kind has
one drawing function here. Text is drawn as paths, so no user string appears as SVG text.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["FIGURE_KINDS", "render_figure"]

BLUE, RED, GREY = "#3c6fd1", "#c8453c", "#9aa3b2"


def _svg(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    # paths instead of text (no fonts, no user text in SVG); fixed ids and no date so that
    # the same results always give the same report
    with plt.rc_context({"svg.fonttype": "path", "svg.hashsalt": "assay"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def _bar(ax: Any, data: dict[str, Any]) -> None:
    labels = list(data["labels"])[:20][::-1]
    values = list(data["values"])[:20][::-1]
    errors = data.get("errors")
    xerr = None if errors is None else list(errors)[:20][::-1]
    colors = data.get("colors")
    color = BLUE if colors is None else list(colors)[:20][::-1]
    ax.barh(labels, values, xerr=xerr, color=color, ecolor=GREY)
    if data.get("reference") is not None:
        ax.axvline(data["reference"], color=GREY, lw=1, ls="--")
    ax.set_xlabel(data.get("xlabel", ""))
    ax.figure.set_size_inches(6, 0.3 * len(labels) + 0.9)


def _calibration(ax: Any, data: dict[str, Any]) -> None:
    ax.plot([0, 1], [0, 1], color=GREY, lw=1)
    ax.plot(data["x"], data["y"], "o-", color=BLUE)
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed rate")
    ax.figure.set_size_inches(4, 4)


def _box(ax: Any, data: dict[str, Any]) -> None:
    labels = list(data["labels"])
    values = [np.asarray(v, dtype=float) for v in data["values"]]
    ax.boxplot(values[::-1], orientation="horizontal", showfliers=False)
    ax.set_yticks(np.arange(1, len(labels) + 1), labels[::-1])
    ax.set_xlabel(data.get("xlabel", ""))
    ax.figure.set_size_inches(6, 0.45 * len(labels) + 1.0)


def _line(ax: Any, data: dict[str, Any]) -> None:
    """A shape function: x, y with an optional band (lo, hi) and marked points."""
    x = np.asarray(data["x"], dtype=float)
    y = np.asarray(data["y"], dtype=float)
    if data.get("lo") is not None:
        ax.fill_between(x, data["lo"], data["hi"], step=data.get("step"), color=BLUE, alpha=0.2)
    if data.get("step"):
        ax.step(x, y, where=data["step"], color=BLUE)
    else:
        ax.plot(x, y, color=BLUE)
    for mark in data.get("marks", []):
        ax.axvline(mark, color=RED, lw=1.2, ls="--")
    ax.set_xlabel(data.get("xlabel", ""))
    ax.set_ylabel(data.get("ylabel", ""))
    ax.figure.set_size_inches(5, 3)


def _heatmap(ax: Any, data: dict[str, Any]) -> None:
    z = np.asarray(data["z"], dtype=float)
    im = ax.imshow(
        z, cmap="RdBu_r", vmin=-np.nanmax(np.abs(z)), vmax=np.nanmax(np.abs(z)), aspect="auto"
    )
    ax.set_xticks(range(len(data["xlabels"])), data["xlabels"], rotation=45, ha="right")
    ax.set_yticks(range(len(data["ylabels"])), data["ylabels"])
    ax.figure.colorbar(im, ax=ax)
    ax.figure.set_size_inches(5, 4)


def _errorbar(ax: Any, data: dict[str, Any]) -> None:
    """Points with intervals, one per label (e.g. a metric per group or slice)."""
    labels = list(data["labels"])[::-1]
    values = np.asarray(data["values"], dtype=float)[::-1]
    lo = np.asarray(data["lo"], dtype=float)[::-1]
    hi = np.asarray(data["hi"], dtype=float)[::-1]
    pos = np.arange(len(labels))
    ax.errorbar(values, pos, xerr=[values - lo, hi - values], fmt="o", color=BLUE, ecolor=GREY)
    if data.get("reference") is not None:
        ax.axvline(data["reference"], color=RED, lw=1, ls="--")
    ax.set_yticks(pos, labels)
    ax.set_xlabel(data.get("xlabel", ""))
    ax.figure.set_size_inches(6, 0.35 * len(labels) + 1.0)


def _beeswarm(ax: Any, data: dict[str, Any]) -> None:
    """Attributions of every row, one row of points per feature, coloured by feature value."""
    labels = list(data["labels"])[::-1]
    values = [np.asarray(v, dtype=float) for v in data["values"]][::-1]
    colors = [np.asarray(c, dtype=float) for c in data["colors"]][::-1]
    rng = np.random.default_rng(0)  # fixed jitter: the same results draw the same figure
    for i, (v, c) in enumerate(zip(values, colors, strict=True)):
        # spread points vertically where they are dense (rank within small x bins)
        bins = np.digitize(v, np.quantile(v, np.linspace(0, 1, 30)))
        jitter = (rng.random(v.size) - 0.5) * 0.7 * np.minimum(1.0, np.bincount(bins)[bins] / 8)
        known = np.isfinite(c)
        ax.scatter(v[~known], i + jitter[~known], s=6, color=GREY, lw=0)
        ax.scatter(
            v[known], i + jitter[known], s=6, c=c[known], cmap="coolwarm", vmin=0, vmax=1, lw=0
        )
    ax.axvline(0, color=GREY, lw=0.8)
    ax.set_yticks(np.arange(len(labels)), labels)
    ax.set_xlabel(data.get("xlabel", "attribution"))
    ax.figure.set_size_inches(6, 0.35 * len(labels) + 1.0)


def _scatter(ax: Any, data: dict[str, Any]) -> None:
    """A dependence plot: attribution against feature value (labels on a categorical axis)."""
    x = np.asarray(data["x"], dtype=float)
    y = np.asarray(data["y"], dtype=float)
    ax.scatter(x, y, s=8, color=BLUE, alpha=0.6, lw=0)
    ax.axhline(0, color=GREY, lw=0.8)
    if data.get("xticklabels"):
        ax.set_xticks(data["xticks"], data["xticklabels"], rotation=30, ha="right")
    ax.set_xlabel(data.get("xlabel", ""))
    ax.set_ylabel(data.get("ylabel", ""))
    ax.figure.set_size_inches(4.5, 3)


def _histogram(ax: Any, data: dict[str, Any]) -> None:
    """A null distribution (histogram) and observed values marked on it (vertical lines)."""
    values = np.asarray(data["values"], dtype=float)
    values = values[np.isfinite(values)]
    marks = [float(m) for m in data.get("marks", [])]
    lo = min([*values.tolist(), *marks]) if values.size or marks else 0.0
    hi = max([*values.tolist(), *marks]) if values.size or marks else 1.0
    bins = np.linspace(lo, hi if hi > lo else lo + 1.0, int(data.get("bins", 20)) + 1)
    ax.hist(values, bins=bins, color=GREY, edgecolor="white")
    for mark in marks:
        ax.axvline(mark, color=RED, lw=2)
    ax.set_xlabel(data.get("xlabel", ""))
    ax.set_ylabel(data.get("ylabel", "count"))
    ax.figure.set_size_inches(5, 3)


FIGURE_KINDS: dict[str, Callable[[Any, dict[str, Any]], None]] = {
    "beeswarm": _beeswarm,
    "scatter": _scatter,
    "bar": _bar,
    "calibration": _calibration,
    "box": _box,
    "line": _line,
    "heatmap": _heatmap,
    "errorbar": _errorbar,
    "histogram": _histogram,
}


def render_figure(spec: dict[str, Any]) -> str:
    """SVG markup for one figure description (empty string for an unknown kind)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    draw = FIGURE_KINDS.get(spec.get("kind", ""))
    if draw is None:
        return ""
    fig, ax = plt.subplots()
    draw(ax, spec.get("data", {}))
    return _svg(fig)
