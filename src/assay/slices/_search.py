"""Exact lattice search over conjunctions of predicates, with upper-bound pruning.

The search is a depth-first walk of the lattice of conjunctions (one predicate per feature,
features in a fixed order so each conjunction is visited once). At a node it sorts the node's
rows by the codes of the next feature with one counting-sort pass; the histogram gives the size,
error sum and largest error of *every* child predicate of that feature at once (ranges are
contiguous code intervals, so they come from prefix sums), and the child's rows are a
contiguous run of the sorted array, so nothing is copied. A child is descended into only if it
has the minimum support, a positive error sum and an upper bound on the score of any of its
descendants above the current k-th best score.

Scores (``mode``):

0. ``"zscore"``: ``(sum_S e - |S| ebar) / (sigma sqrt(|S|))`` -- the excess error of the slice
   in standard errors. It peaks at the slice that concentrates the excess (a coarser slice
   dilutes it, a finer one loses rows), which is what a confirmation test has power for.
1. ``"sliceline"``: SliceLine's ``a (ebar_S / ebar - 1) - (1 - a) (n / |S| - 1)``.
2. fairness gap: the two-proportion z statistic of the difference of a rate between two groups
   inside the slice (absolute value); pruned by support only.

Upper bound (modes 0 and 1, as in SliceLine): a descendant ``T`` of a node with size ``ss``,
error sum ``se`` and largest error ``sm`` has ``min_support <= |T| <= ss`` and error sum at most
``min(se, |T| sm)`` (errors are non-negative). Both scores are, as a function of ``|T|``,
monotone on ``[min_support, se/sm]`` and on ``[se/sm, ss]``, so their maximum over the interval
is attained at ``min_support``, ``clip(se/sm)`` or ``ss``. SliceLine's paper and the DataDome
package use the number of one-hot *columns* in place of the number of rows in this bound; we use
the number of rows, which is the correct (and tighter) bound.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["MODES", "lattice_search"]

MODES = {"zscore": 0, "sliceline": 1, "fairness": 2}


@njit(cache=True)
def _score(mode, s, sums, params):
    if mode == 0:
        return (sums[0] - s * params[0]) / (params[1] * np.sqrt(s))
    if mode == 1:
        a = params[1]
        return a * (sums[0] / s / params[0] - 1.0) - (1.0 - a) * (params[2] / s - 1.0)
    na, sa, nb, sb = sums[0], sums[1], sums[2], sums[3]
    if na < params[0] or nb < params[0]:
        return -np.inf
    p = (sa + sb) / (na + nb)
    var = p * (1.0 - p) * (1.0 / na + 1.0 / nb)
    if var <= 0.0:
        return -np.inf
    return abs(sa / na - sb / nb) / np.sqrt(var)


@njit(cache=True)
def _upper_bound(mode, ss, se, sm, min_support, params):
    if ss < min_support or se <= 0.0 or sm <= 0.0:
        return -np.inf
    best = -np.inf
    mid = min(max(se / sm, min_support), ss)
    tmp = np.zeros(1)
    for k in range(3):
        s = min_support if k == 0 else (mid if k == 1 else ss)
        tmp[0] = min(se, s * sm)
        v = _score(mode, s, tmp, params)
        best = max(best, v)
    return best


@njit(cache=True)
def _dfs(
    codes,
    W,
    n_codes,
    item_feature,
    item_lo,
    item_hi,
    item_start,
    item_end,
    max_level,
    min_support,
    k,
    mode,
    params,
):
    d, n = codes.shape
    C = W.shape[1]
    L = max_level
    maxc = 1
    for f in range(d):
        maxc = max(maxc, n_codes[f])
    buf = np.empty((L + 1, n), dtype=np.int32)
    for r in range(n):
        buf[0, r] = r
    node_start = np.zeros(L + 1, dtype=np.int64)
    node_end = np.zeros(L + 1, dtype=np.int64)
    node_end[0] = n
    next_f = np.zeros(L + 1, dtype=np.int64)
    cur_f = np.full(L + 1, -1, dtype=np.int64)
    cur_i = np.zeros(L + 1, dtype=np.int64)
    path = np.full(L + 1, -1, dtype=np.int64)
    offs = np.zeros((L, maxc + 1), dtype=np.int64)
    csum = np.zeros((L, C, maxc + 1))
    cmax = np.zeros((L, maxc))
    pos = np.zeros(maxc, dtype=np.int64)
    sums = np.zeros(C)

    tk_score = np.full(k, -np.inf)
    tk_items = np.full((k, L), -1, dtype=np.int64)
    tk_stats = np.zeros((k, 2 + C))  # size, max of channel 0, channel sums
    tk_n = 0
    tk_min_at = 0
    n_evaluated = 0

    D = 0
    while D >= 0:
        f = cur_f[D]
        if f < 0 or cur_i[D] >= item_end[f]:
            f = next_f[D]
            while f < d and item_start[f] == item_end[f]:
                f += 1
            if f >= d:
                D -= 1
                continue
            next_f[D] = f + 1
            cur_f[D] = f
            cur_i[D] = item_start[f]
            nc = n_codes[f]
            for c in range(nc + 1):
                offs[D, c] = 0
                for ch in range(C):
                    csum[D, ch, c] = 0.0
            for c in range(nc):
                cmax[D, c] = -np.inf
            a, b = node_start[D], node_end[D]
            for j in range(a, b):
                r = buf[D, j]
                c = codes[f, r]
                offs[D, c + 1] += 1
                for ch in range(C):
                    csum[D, ch, c + 1] += W[r, ch]
                if W[r, 0] > cmax[D, c]:
                    cmax[D, c] = W[r, 0]
            for c in range(nc):
                offs[D, c + 1] += offs[D, c]
                for ch in range(C):
                    csum[D, ch, c + 1] += csum[D, ch, c]
            if D + 1 < L:  # children may be descended into: sort the rows by code
                for c in range(nc):
                    pos[c] = offs[D, c]
                for j in range(a, b):
                    r = buf[D, j]
                    c = codes[f, r]
                    buf[D + 1, pos[c]] = r
                    pos[c] += 1
        i = cur_i[D]
        cur_i[D] += 1
        lo = item_lo[i]
        hi = item_hi[i]
        s = offs[D, hi + 1] - offs[D, lo]
        if s < min_support or s == 0:
            continue
        n_evaluated += 1
        for ch in range(C):
            sums[ch] = csum[D, ch, hi + 1] - csum[D, ch, lo]
        sm = -np.inf
        for c in range(lo, hi + 1):
            if cmax[D, c] > sm:
                sm = cmax[D, c]
        path[D + 1] = i
        if mode < 2 and sums[0] <= 0.0:
            continue
        sc = _score(mode, float(s), sums, params)
        thr = tk_score[tk_min_at] if tk_n == k else 0.0
        if sc > thr:
            slot = tk_n if tk_n < k else tk_min_at
            tk_score[slot] = sc
            for lv in range(L):
                tk_items[slot, lv] = path[lv + 1] if lv <= D else -1
            tk_stats[slot, 0] = s
            tk_stats[slot, 1] = sm
            for ch in range(C):
                tk_stats[slot, 2 + ch] = sums[ch]
            if tk_n < k:
                tk_n += 1
            if tk_n == k:
                tk_min_at = 0
                for t in range(1, k):
                    if tk_score[t] < tk_score[tk_min_at]:
                        tk_min_at = t
            thr = tk_score[tk_min_at] if tk_n == k else 0.0
        if D + 1 < L and item_feature[i] + 1 < d:
            if mode == 2:
                ok = sums[0] >= params[0] and sums[2] >= params[0]
                ub = np.inf if ok else -np.inf
            else:
                ub = _upper_bound(mode, float(s), sums[0], sm, float(min_support), params)
            if ub > thr:
                node_start[D + 1] = offs[D, lo]
                node_end[D + 1] = offs[D, hi + 1]
                next_f[D + 1] = item_feature[i] + 1
                cur_f[D + 1] = -1
                D += 1
    return tk_score[:tk_n], tk_items[:tk_n], tk_stats[:tk_n], n_evaluated


def lattice_search(
    binned,
    weights: np.ndarray,
    *,
    rows: np.ndarray | None,
    max_level: int,
    min_support: int,
    k: int,
    mode: str,
    params: np.ndarray,
) -> dict:
    """Run the search on ``rows`` (all rows if None) and return the top ``k`` slices.

    Parameters
    ----------
    binned : Binned
    weights : ndarray (n_rows, n_channels)
        Channel 0 holds the non-negative per-row error (modes 0/1); in fairness mode the
        channels are (in group a, flagged and in group a, in group b, flagged and in group b).
    rows : ndarray of int, optional
        Row indices to search on (the discovery half).
    max_level, min_support, k : int
    mode : {"zscore", "sliceline", "fairness"}
    params : ndarray
        Mode 0: (mean error, std of errors); mode 1: (mean error, SliceLine alpha, n rows);
        mode 2: (minimum rows per group,).

    Returns
    -------
    dict
        ``score`` (m,), ``items`` (list of tuples of item indices), ``size`` (m,),
        ``max_error`` (m,), ``sums`` (m, n_channels), ``n_evaluated``; best first.
    """
    codes = binned.codes if rows is None else np.ascontiguousarray(binned.codes[:, rows])
    W = weights if rows is None else weights[rows]
    W = np.ascontiguousarray(W, dtype=np.float64)
    score, items, stats, n_eval = _dfs(
        codes,
        W,
        binned.n_codes.astype(np.int64),
        binned.item_feature.astype(np.int64),
        binned.item_lo.astype(np.int64),
        binned.item_hi.astype(np.int64),
        binned.item_start.astype(np.int64),
        binned.item_end.astype(np.int64),
        int(max_level),
        int(min_support),
        int(k),
        MODES[mode],
        np.asarray(params, dtype=np.float64),
    )
    # best first; ties broken by fewer predicates, then by item indices (deterministic)
    keys = [tuple(int(t) for t in row if t >= 0) for row in items]
    order = sorted(range(len(keys)), key=lambda j: (-score[j], len(keys[j]), keys[j]))
    return {
        "score": score[order],
        "items": [keys[j] for j in order],
        "size": stats[order, 0].astype(np.int64),
        "max_error": stats[order, 1],
        "sums": stats[order, 2:],
        "n_evaluated": int(n_eval),
    }
