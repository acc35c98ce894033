"""Pairwise interaction terms: FAST ranking on residuals and coarse pair binning.

FAST (Lou et al., KDD 2013) scores each candidate pair ``(i, j)`` by how much a small
four-leaf tree on the two features (a cut on one, then a cut on the other within each side)
reduces the loss of the main-effects model, using the gradients and hessians of that model as
residuals; the pairs with the largest gain are then boosted on coarse bins.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from assay.glassbox._binning import FeatureBins, fit_bins, transform_bins
from assay.glassbox._boost import grad_hess, pair_strengths

__all__ = ["pair_bin_index", "rank_pairs"]


def rank_pairs(
    coarse: dict[int, FeatureBins],
    X: np.ndarray,
    y: np.ndarray,
    scores: np.ndarray,
    *,
    loss: int,
    exclude: set[int],
    min_samples_leaf: int,
    reg_lambda: float,
) -> list[tuple[tuple[int, int], float]]:
    """FAST strength of every pair of features not in ``exclude``, strongest first."""
    d = X.shape[1]
    feats = [j for j in range(d) if j not in exclude]
    pairs = np.array(list(combinations(feats, 2)), dtype=np.int64).reshape(-1, 2)
    if pairs.shape[0] == 0:
        return []
    for j in feats:
        if j not in coarse:
            raise KeyError(j)
    bins = np.zeros((d, X.shape[0]), dtype=np.int32)
    nbins = np.ones(d, dtype=np.int64)
    for j in feats:
        bins[j] = transform_bins(X[:, j], coarse[j])
        nbins[j] = coarse[j].n_bins
    g, h = grad_hess(loss, y, np.ascontiguousarray(scores))
    strength = pair_strengths(bins, nbins, pairs, g, h, reg_lambda + 1e-9, float(min_samples_leaf))
    order = np.argsort(-strength, kind="stable")
    return [((int(pairs[o, 0]), int(pairs[o, 1])), float(strength[o])) for o in order]


def fit_coarse_bins(
    X: np.ndarray, features: list[int], *, max_bins: int, categorical: np.ndarray
) -> dict[int, FeatureBins]:
    """Coarse binning (``max_interaction_bins``) of the features that may enter pairs."""
    return {
        j: fit_bins(X[:, j], max_bins=max_bins, categorical=bool(categorical[j])) for j in features
    }


def pair_bin_index(X: np.ndarray, pair: tuple[int, int], coarse: dict[int, FeatureBins]):
    """Flat bin index ``b_i * nb_j + b_j`` of every row for a pair term."""
    i, j = pair
    bi = transform_bins(X[:, i], coarse[i])
    bj = transform_bins(X[:, j], coarse[j])
    return bi * np.int32(coarse[j].n_bins) + bj


def pair_counts(flat: np.ndarray, pair: tuple[int, int], coarse: dict[int, FeatureBins]):
    """Row counts per cell of a pair term, shape (nb_i, nb_j)."""
    a, b = coarse[pair[0]].n_bins, coarse[pair[1]].n_bins
    return np.bincount(flat, minlength=a * b).astype(np.float64).reshape(a, b)
