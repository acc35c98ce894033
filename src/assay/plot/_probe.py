"""Plots for probing results: accuracy per layer with intervals, and the transfer heatmap."""

from __future__ import annotations

from typing import Any

import numpy as np

from assay.errors import InvalidInputError
from assay.plot._axes import axes

__all__ = ["plot_activation_patching", "plot_layer_accuracy", "plot_transfer"]

_FIGSIZE = (6, 3.5)


def plot_layer_accuracy(sweeps: Any, *, ax: Any = None) -> Any:
    """Accuracy per layer with its interval band, one line per :class:`LayerSweep`.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from assay.probe import probe_layers
    >>> rng = np.random.default_rng(0); y = rng.integers(0, 2, 60)
    >>> sweep = probe_layers({"a": rng.normal(size=(60, 2)), "b": rng.normal(size=(60, 2))}, y)
    >>> ax = plot_layer_accuracy(sweep)
    """
    from assay.probe._layers import LayerSweep

    if isinstance(sweeps, LayerSweep):
        sweeps = [sweeps]
    sweeps = list(sweeps.values()) if isinstance(sweeps, dict) else list(sweeps)
    if not sweeps or not all(isinstance(s, LayerSweep) for s in sweeps):
        msg = "plot_layer_accuracy needs LayerSweep results (from assay.probe.probe_layers)."
        raise InvalidInputError(msg)
    ax = axes(ax, _FIGSIZE)
    for sw in sweeps:
        x = np.arange(len(sw.layers))
        (line,) = ax.plot(x, sw.accuracy, "o-", label=sw.dataset or sw.probe)
        ax.fill_between(x, sw.ci_low, sw.ci_high, color=line.get_color(), alpha=0.2)
    ax.axhline(sweeps[0].chance, color="grey", lw=1, ls="--")
    ax.set_xticks(np.arange(len(sweeps[0].layers)), sweeps[0].layers, rotation=45, ha="right")
    ax.set_ylabel("out-of-fold accuracy")
    ax.set_ylim(0, 1)
    ax.legend(frameon=False)
    return ax


def plot_transfer(result: Any, *, ax: Any = None) -> Any:
    """Heatmap of a transfer matrix (rows: trained on; columns: tested on).

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from assay.probe import transfer_matrix
    >>> rng = np.random.default_rng(0); y = rng.integers(0, 2, 100)
    >>> X = rng.normal(size=(100, 3)) + y[:, None]
    >>> ax = plot_transfer(transfer_matrix({"a": (X, y), "b": (X, 1 - y)}))
    """
    data = getattr(result, "data", None) or {}
    if "accuracy" not in data or "names" not in data:
        msg = "plot_transfer needs the CheckResult of assay.probe.transfer_matrix."
        raise InvalidInputError(msg)
    acc = np.asarray(data["accuracy"], dtype=float)
    names = list(data["names"])
    ax = axes(ax, _FIGSIZE)
    im = ax.imshow(acc, cmap="RdBu_r", vmin=0.0, vmax=1.0)
    for i in range(acc.shape[0]):
        for j in range(acc.shape[1]):
            ax.text(j, i, f"{acc[i, j]:.2f}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("tested on")
    ax.set_ylabel("trained on")
    ax.figure.colorbar(im, ax=ax, label="accuracy")
    return ax


def plot_activation_patching(result: Any, *, ax: Any = None) -> Any:
    """Heat map of activation patching: layers (rows) by token positions (columns), 0 = as
    corrupted, 1 = as clean.

    Examples
    --------
    >>> import numpy as np, torch
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from assay.probe import activation_patching
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1))
    >>> r = activation_patching(net, torch.ones(3, 2), torch.zeros(3, 2), layers=["0", "1"],
    ...                         metric=lambda out: out[:, 0])
    >>> ax = plot_activation_patching(r)
    """
    effect = getattr(result, "effect", None)
    if effect is None or not hasattr(result, "positions"):
        msg = "plot_activation_patching needs the PatchingResult of activation_patching."
        raise InvalidInputError(msg)
    effect = np.asarray(effect, dtype=float)
    ax = axes(ax, (max(4.0, 0.5 * effect.shape[1] + 3), max(2.5, 0.35 * effect.shape[0] + 1.5)))
    lim = max(1.0, float(np.nanmax(np.abs(effect))))
    im = ax.imshow(effect, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_yticks(range(len(result.layers)), result.layers)
    ax.set_xticks(range(len(result.positions)), [str(p) for p in result.positions])
    ax.set_xlabel("token position patched")
    ax.set_ylabel("layer")
    ax.figure.colorbar(im, ax=ax, label="share of clean behaviour restored")
    return ax
