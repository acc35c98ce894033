"""Quantile binning of features for the boosted additive model.

Every feature is mapped to integer bins with one fixed layout so that the kernels never need
special cases:

- bin ``0`` holds missing values (NaN);
- bins ``1 .. n_bins - 2`` hold observed values, in increasing order for continuous features
  and in sorted category order for categorical ones;
- bin ``n_bins - 1`` is the *unknown* bin: categories never seen in training (always empty
  for continuous features). Its score is fixed at 0, the average contribution.

Continuous cut points are placed half-way between two adjacent distinct training values, at
(approximately) equal-frequency quantiles, so a cut never separates equal values. When a
feature has at most ``max_bins`` distinct values every distinct value gets its own bin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assay._results import FromDict

__all__ = ["FeatureBins", "fit_bins", "transform_bins"]


@dataclass(eq=False)
class FeatureBins(FromDict):
    """Binning of one feature (see the module docstring for the bin layout).

    Attributes
    ----------
    kind : {"continuous", "categorical"}
    edges : ndarray of float64
        Cut points (continuous) or the sorted categories (categorical).
    lower, upper : ndarray of float64, shape (n_bins,)
        Smallest and largest training value in each bin (NaN for the missing, unknown and
        empty bins).
    counts : ndarray of float64, shape (n_bins,)
        Number of training rows in each bin.
    """

    kind: str
    edges: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    counts: np.ndarray

    @property
    def n_bins(self) -> int:
        return int(self.counts.shape[0])

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "edges": self.edges.tolist(),
            "lower": _nan_list(self.lower),
            "upper": _nan_list(self.upper),
            "counts": self.counts.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> FeatureBins:
        return cls(
            kind=d["kind"],
            edges=np.asarray(d["edges"], dtype=np.float64),
            lower=np.asarray(d["lower"], dtype=np.float64),
            upper=np.asarray(d["upper"], dtype=np.float64),
            counts=np.asarray(d["counts"], dtype=np.float64),
        )


def _nan_list(a: np.ndarray) -> list:
    return [None if np.isnan(v) else float(v) for v in a]


def _quantile_cuts(values: np.ndarray, max_bins: int) -> np.ndarray:
    """Cut points between distinct values at roughly equal-frequency quantiles."""
    uniq, counts = np.unique(values, return_counts=True)
    if uniq.size <= 1:
        return np.empty(0)
    if uniq.size <= max_bins:
        return (uniq[:-1] + uniq[1:]) / 2.0
    # Equal-frequency targets on the cumulative count; snap each to a gap between values.
    cum = np.cumsum(counts)
    targets = cum[-1] * np.arange(1, max_bins) / max_bins
    idx = np.unique(np.searchsorted(cum, targets, side="left"))
    idx = idx[idx < uniq.size - 1]
    return (uniq[idx] + uniq[idx + 1]) / 2.0


def fit_bins(x: np.ndarray, *, max_bins: int, categorical: bool) -> FeatureBins:
    """Learn the binning of one feature from its training values (NaN = missing)."""
    observed = x[~np.isnan(x)]
    if categorical:
        edges = np.unique(observed)
    else:
        edges = _quantile_cuts(observed, max_bins)
    kind = "categorical" if categorical else "continuous"
    n_bins = edges.size + 3 if not categorical else edges.size + 2
    fb = FeatureBins(
        kind=kind,
        edges=edges,
        lower=np.full(n_bins, np.nan),
        upper=np.full(n_bins, np.nan),
        counts=np.zeros(n_bins),
    )
    b = transform_bins(x, fb)
    fb.counts = np.bincount(b, minlength=n_bins).astype(np.float64)
    ok = b > 0
    if ok.any():
        order = np.argsort(b[ok], kind="stable")
        bs, xs = b[ok][order], x[ok][order]
        starts = np.flatnonzero(np.r_[True, bs[1:] != bs[:-1]])
        ends = np.r_[starts[1:], bs.size] - 1
        sorted_x = [np.min(xs[s : e + 1]) for s, e in zip(starts, ends, strict=True)]
        sorted_hi = [np.max(xs[s : e + 1]) for s, e in zip(starts, ends, strict=True)]
        fb.lower[bs[starts]] = sorted_x
        fb.upper[bs[starts]] = sorted_hi
    return fb


def transform_bins(x: np.ndarray, fb: FeatureBins) -> np.ndarray:
    """Map values to bin indices (int32) with the layout described in the module docstring."""
    out = np.zeros(x.shape[0], dtype=np.int32)
    nan = np.isnan(x)
    xv = x[~nan]
    if fb.kind == "categorical":
        pos = np.searchsorted(fb.edges, xv)
        pos_c = np.minimum(pos, max(fb.edges.size - 1, 0))
        known = (
            (fb.edges.size > 0) & (fb.edges[pos_c] == xv)
            if fb.edges.size
            else np.zeros(xv.size, dtype=bool)
        )
        out[~nan] = np.where(known, pos_c + 1, fb.n_bins - 1)
    else:
        out[~nan] = np.searchsorted(fb.edges, xv, side="right") + 1
    return out
