"""One-dimensional quantile transport between group-conditional distributions.

Used to remove the part of a feature that is predictable from a sensitive attribute (a "total
repair" in the sense of Feldman et al. 2015: each value keeps its within-group quantile but is
read off the pooled distribution) and to build counterfactual rows (the same quantile read off
another group's distribution). Ties, e.g. in integer-coded categories, are broken at random so
that discrete features are transported exactly in distribution.
"""

from __future__ import annotations

import numpy as np

__all__ = ["group_quantiles", "transport"]


def group_quantiles(x: np.ndarray, groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mid-rank quantile in (0, 1) of each value within its group, ties broken at random.

    NaN values keep NaN.
    """
    u = np.full(x.shape[0], np.nan)
    ok = ~np.isnan(x)
    for g in np.unique(groups[ok]):
        m = np.flatnonzero(ok & (groups == g))
        order = np.lexsort((rng.random(m.size), x[m]))
        ranks = np.empty(m.size)
        ranks[order] = np.arange(m.size)
        u[m] = (ranks + 0.5) / m.size
    return u


def _inverse_cdf(sorted_values: np.ndarray, u: np.ndarray) -> np.ndarray:
    k = np.minimum((u * sorted_values.size).astype(np.int64), sorted_values.size - 1)
    return sorted_values[k]


def transport(
    x: np.ndarray,
    groups: np.ndarray,
    rng: np.random.Generator,
    *,
    target_groups: np.ndarray | None = None,
) -> np.ndarray:
    """Move each non-missing value to the same within-group quantile of a target distribution.

    With ``target_groups=None`` the target is the pooled distribution of ``x`` (the repair).
    Otherwise ``target_groups`` gives, per row, the group whose distribution (estimated from
    ``x``) the value is read from (a counterfactual).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = np.array([1.0, 2.0, 3.0, 11.0, 12.0, 13.0])
    >>> g = np.array([0, 0, 0, 1, 1, 1])
    >>> transport(x, g, rng).tolist()   # both groups read from the pool
    [2.0, 11.0, 13.0, 2.0, 11.0, 13.0]
    >>> transport(x, g, rng, target_groups=np.array([1, 1, 1, 0, 0, 0])).tolist()
    [11.0, 12.0, 13.0, 1.0, 2.0, 3.0]
    """
    u = group_quantiles(x, groups, rng)
    out = x.copy()
    ok = ~np.isnan(x)
    if target_groups is None:
        pooled = np.sort(x[ok])
        out[ok] = _inverse_cdf(pooled, u[ok])
        return out
    for g in np.unique(target_groups[ok]):
        src = np.sort(x[ok & (groups == g)])
        rows = ok & (target_groups == g)
        if src.size == 0:
            continue
        out[rows] = _inverse_cdf(src, u[rows])
    return out
