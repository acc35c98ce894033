"""Exact interventional TreeSHAP: the margin from merged per-leaf masks, sigmoid by pair walks.

Margins (the common case) are computed by :mod:`._tree_leaf_patterns`: the background is
merged once per leaf, and a row costs one pass over each tree, independent of the number of
background rows. This module keeps the per-(row, background row) walk described below; it
serves the probability output of binary boosted models, ensembles with a path of more than 62
distinct features, and as an independent implementation in the tests.

For a row ``x`` and a reference ``r`` the game is ``v(S) = f(x_S, r_{-S})``. In one tree, a
hybrid input follows ``x`` and ``r`` wherever they agree; where they disagree at a node on
feature ``j``, the hybrid goes ``x``'s way if ``j`` is in ``S`` and ``r``'s way otherwise, and
once ``j`` is decided on a path, later splits on ``j`` follow the same side. A walk that branches
only at disagreements therefore reaches every leaf some coalition can reach, each with the set
``Sx`` of features that must come from ``x`` and ``Sr`` of features that must come from ``r``.
The leaf's value ``v`` is the game ``v * [Sx ⊆ S] * [Sr ∩ S = ∅]``, whose Shapley values are,
with ``a = |Sx|`` and ``b = |Sr|``,

    +v (a-1)! b! / (a+b)!   for each feature in Sx,
    -v a! (b-1)! / (a+b)!   for each feature in Sr,

and zero elsewhere. Summing over trees, leaves and the (weighted) background gives the exact
interventional Shapley values of the margin; trees in which ``x`` and ``r`` reach the same leaf
contribute nothing and are skipped.

Probability output of a binary boosted classifier (``sigmoid`` of the margin) is not additive
over trees, so for each pair the walk records every reachable leaf of every tree as ``(Sx, Sr,
v)`` over the ``p`` features where the pair's routes disagree, the margin of all ``2^p``
coalitions is assembled from those records, the sigmoid is applied, and the Shapley values of
that ``p``-player game are computed exactly. The cost grows as ``2^p``; pairs with more than
``max_features`` such features raise an error instead of approximating.
"""

from __future__ import annotations

from math import factorial
from typing import Any

import numba
import numpy as np

from assay.attribution.shapley._tree_leaf_patterns import build_leaf_patterns, leaf_pattern_shap
from assay.attribution.shapley._tree_path import goes_left
from assay.model._tree_ensemble import TreeEnsemble
from assay.model._tree_predict import predict_leaf, traversal_arrays

__all__ = ["DEFAULT_MAX_ENUMERATED", "interventional_shap"]

#: Largest number of disagreeing features per (row, background row) pair for probability output.
DEFAULT_MAX_ENUMERATED = 16


def _leaf_weights(max_depth: int) -> tuple[np.ndarray, np.ndarray]:
    """``w_x[a, b] = (a-1)! b! / (a+b)!`` and ``w_r[a, b] = a! (b-1)! / (a+b)!``."""
    n = max_depth + 1
    w_x = np.zeros((n, n))
    w_r = np.zeros((n, n))
    for a in range(n):
        for b in range(n):
            if a + b == 0 or a + b > max_depth:
                continue
            total = factorial(a + b)
            if a > 0:
                w_x[a, b] = factorial(a - 1) * factorial(b) / total
            if b > 0:
                w_r[a, b] = factorial(a) * factorial(b - 1) / total
    return w_x, w_r


@numba.njit(cache=True, nogil=True)
def _route_bits(X, arrays, split_le, bits):
    """``bits[i, n] = 1`` where row ``i`` goes left at internal node ``n``."""
    left = arrays[0]
    feature = arrays[2]
    thr, dleft, is_cat, cat_left, cat_off, cat_val, zmiss = arrays[3:]
    for i in range(X.shape[0]):
        for nd in range(left.shape[0]):
            if left[nd] >= 0:
                bits[i, nd] = goes_left(
                    thr, dleft, is_cat, cat_left, cat_off, cat_val, zmiss, split_le, nd,
                    X[i, feature[nd]],
                )  # fmt: skip


@numba.njit(cache=True, nogil=True)
def _walk(root, xb, rb, left, right, feature, assign, stack, path_feat, path_side,
          want_masks, phi, value, k_lo, k_hi, wx_row, wr_row, wb, rec_node, rec_mx, rec_mr,
          n_rec, local_of, local_feat, n_local):  # fmt: skip
    """Walk one tree for one (x, r) pair.

    Margin mode (``want_masks`` False): credit each reachable leaf's Shapley values, times the
    background weight ``wb``, into ``phi``. Mask mode: append ``(leaf, Sx mask, Sr mask)`` to
    the records (``n_rec[0]`` counts them) over pair-local feature indices ``local_of[j]``
    (assigned in order of appearance, ``n_local[0]`` counts them; indices past 62 only count).
    Returns False when the record buffer is full (the caller grows it and walks again).
    """
    stack[0, 0] = root
    stack[0, 1] = 0
    stack[0, 2] = -1
    stack[0, 3] = 0
    top = 1
    cur = 0  # depth of the current path
    ok = True
    while top > 0:
        top -= 1
        nd = stack[top, 0]
        d = stack[top, 1]
        while cur >= d and cur > 0:  # undo the assignments of the abandoned path
            pf = path_feat[cur]
            if pf >= 0:
                assign[pf] = 0
            cur -= 1
        f_new = stack[top, 2]
        path_feat[d] = f_new
        path_side[d] = stack[top, 3]
        if f_new >= 0:
            assign[f_new] = stack[top, 3]
        cur = d
        if left[nd] >= 0:
            j = feature[nd]
            cx = left[nd] if xb[nd] else right[nd]
            cr = left[nd] if rb[nd] else right[nd]
            if cx == cr or assign[j] != 0:
                stack[top, 0] = cx if (cx == cr or assign[j] == 1) else cr
                stack[top, 1] = d + 1
                stack[top, 2] = -1
                stack[top, 3] = 0
                top += 1
            else:
                stack[top, 0] = cr
                stack[top, 1] = d + 1
                stack[top, 2] = j
                stack[top, 3] = 2
                stack[top + 1, 0] = cx
                stack[top + 1, 1] = d + 1
                stack[top + 1, 2] = j
                stack[top + 1, 3] = 1
                top += 2
            continue
        if want_masks:
            mx = np.int64(0)
            mr = np.int64(0)
            for dd in range(1, d + 1):
                pf = path_feat[dd]
                if pf < 0:
                    continue
                lj = local_of[pf]
                if lj < 0:
                    lj = n_local[0]
                    local_of[pf] = lj
                    local_feat[lj] = pf
                    n_local[0] = lj + 1
                if lj < 63:
                    if path_side[dd] == 1:
                        mx |= np.int64(1) << lj
                    else:
                        mr |= np.int64(1) << lj
            e = n_rec[0]
            if e >= rec_node.shape[0]:
                ok = False
            else:
                rec_node[e] = nd
                rec_mx[e] = mx
                rec_mr[e] = mr
                n_rec[0] = e + 1
            continue
        a = 0
        b = 0
        for dd in range(1, d + 1):
            if path_feat[dd] >= 0:
                if path_side[dd] == 1:
                    a += 1
                else:
                    b += 1
        if a + b == 0:
            continue
        for kk in range(k_lo, k_hi):
            v = value[nd, kk] * wb
            gx = v * wx_row[a, b]
            gr = v * wr_row[a, b]
            for dd in range(1, d + 1):
                pf = path_feat[dd]
                if pf >= 0:
                    if path_side[dd] == 1:
                        phi[pf, kk] += gx
                    else:
                        phi[pf, kk] -= gr
    while cur > 0:
        pf = path_feat[cur]
        if pf >= 0:
            assign[pf] = 0
        cur -= 1
    return ok


@numba.njit(cache=True, nogil=True)
def _x_routes(X, i, arrays, split_le, roots, xb, xleaf):
    """Route bits of row ``i`` at every node, and the leaf it reaches in every tree."""
    _route_bits(X[i : i + 1], arrays, split_le, xb)
    left = arrays[0]
    right = arrays[1]
    for t in range(roots.shape[0]):
        nd = roots[t]
        while left[nd] >= 0:
            nd = left[nd] if xb[0, nd] else right[nd]
        xleaf[t] = nd


@numba.njit(cache=True, nogil=True)
def _margin_rows(X, start, stop, bg_bits, bg_leaf, bg_w, arrays, split_le, roots, tree_output,
                 value, w_x, w_r, max_depth, out):  # fmt: skip
    """Interventional SHAP of the margin for rows ``start:stop``, added into ``out``."""
    left = arrays[0]
    right = arrays[1]
    feature = arrays[2]
    n_out = value.shape[1]
    xb = np.zeros((1, left.shape[0]), dtype=np.uint8)
    xleaf = np.empty(roots.shape[0], dtype=np.int64)
    assign = np.zeros(X.shape[1], dtype=np.int64)
    stack = np.empty((2 * max_depth + 2, 4), dtype=np.int64)
    path_feat = np.full(max_depth + 1, -1, dtype=np.int64)
    path_side = np.zeros(max_depth + 1, dtype=np.int64)
    dummy_i = np.zeros(1, dtype=np.int64)
    for i in range(start, stop):
        _x_routes(X, i, arrays, split_le, roots, xb, xleaf)
        phi = out[i - start]
        for t in range(roots.shape[0]):
            k_out = tree_output[t]
            k_lo = 0 if k_out < 0 else k_out
            k_hi = n_out if k_out < 0 else k_out + 1
            for bi in range(bg_bits.shape[0]):
                if bg_leaf[bi, t] == xleaf[t]:
                    continue  # same leaf: every hybrid reaches it, no contribution
                _walk(roots[t], xb[0], bg_bits[bi], left, right, feature, assign, stack,
                      path_feat, path_side, False, phi, value, k_lo, k_hi, w_x, w_r,
                      bg_w[bi], dummy_i, dummy_i, dummy_i, dummy_i, dummy_i, dummy_i,
                      dummy_i)  # fmt: skip


@numba.njit(cache=True, nogil=True)
def _shapley_from_table(vals, p, weights, phi_local):
    """Shapley values of the ``p``-player game given on all ``2^p`` coalitions (bit masks)."""
    for j in range(p):
        phi_local[j] = 0.0
    for s in range(1 << p):
        size = 0
        z = s
        while z:
            z &= z - 1
            size += 1
        for j in range(p):
            bit = np.int64(1) << j
            if s & bit == 0:
                phi_local[j] += weights[size] * (vals[s | bit] - vals[s])


@numba.njit(cache=True, nogil=True)
def _probability_rows(X, start, stop, bg_bits, bg_leaf, bg_w, arrays, split_le, roots, value,
                      base_offset, w_x, max_depth, max_enum, out, too_many):  # fmt: skip
    """Interventional SHAP of ``sigmoid(margin)`` for rows ``start:stop`` (binary, 1 output).

    ``out[i - start, j]`` gets the values of the probability of the positive class. When a
    pair has more than ``max_enum`` disagreeing features, ``too_many[0]`` is set to that count
    and the row is left unfinished.
    """
    left = arrays[0]
    right = arrays[1]
    feature = arrays[2]
    n_feat = X.shape[1]
    n_trees = roots.shape[0]
    xb = np.zeros((1, left.shape[0]), dtype=np.uint8)
    xleaf = np.empty(n_trees, dtype=np.int64)
    assign = np.zeros(n_feat, dtype=np.int64)
    stack = np.empty((2 * max_depth + 2, 4), dtype=np.int64)
    path_feat = np.full(max_depth + 1, -1, dtype=np.int64)
    path_side = np.zeros(max_depth + 1, dtype=np.int64)
    cap = 1024
    rec_node = np.empty(cap, dtype=np.int64)
    rec_mx = np.empty(cap, dtype=np.int64)
    rec_mr = np.empty(cap, dtype=np.int64)
    n_rec = np.zeros(1, dtype=np.int64)
    local_of = np.full(n_feat, -1, dtype=np.int64)
    local_feat = np.empty(n_feat, dtype=np.int64)
    n_local = np.zeros(1, dtype=np.int64)
    dummy_phi = np.zeros((1, 1))
    vals = np.empty(1 << max_enum)
    phi_local = np.empty(max_enum)
    # weights[s] = s! (p - s - 1)! / p!, refilled per p
    weights = np.empty(max_enum + 1)
    for i in range(start, stop):
        _x_routes(X, i, arrays, split_le, roots, xb, xleaf)
        for bi in range(bg_bits.shape[0]):
            rb = bg_bits[bi]
            const = base_offset[0]
            n_rec[0] = 0
            n_local[0] = 0
            t = 0
            while t < n_trees:
                if bg_leaf[bi, t] == xleaf[t]:
                    const += value[xleaf[t], 0]
                    t += 1
                    continue
                start_rec = n_rec[0]
                start_local = n_local[0]
                ok = _walk(roots[t], xb[0], rb, left, right, feature, assign, stack,
                           path_feat, path_side, True, dummy_phi, value, 0, 1, w_x, w_x,
                           1.0, rec_node, rec_mx, rec_mr, n_rec, local_of, local_feat,
                           n_local)  # fmt: skip
                if not ok:  # grow the record buffer and walk this tree again
                    for jj in range(start_local, n_local[0]):
                        local_of[local_feat[jj]] = -1
                    n_local[0] = start_local
                    n_rec[0] = start_rec
                    cap *= 2
                    new_node = np.empty(cap, dtype=np.int64)
                    new_mx = np.empty(cap, dtype=np.int64)
                    new_mr = np.empty(cap, dtype=np.int64)
                    new_node[:start_rec] = rec_node[:start_rec]
                    new_mx[:start_rec] = rec_mx[:start_rec]
                    new_mr[:start_rec] = rec_mr[:start_rec]
                    rec_node = new_node
                    rec_mx = new_mx
                    rec_mr = new_mr
                    continue
                t += 1
            p = n_local[0]
            for jj in range(p):
                local_of[local_feat[jj]] = -1
            if p > max_enum:
                too_many[0] = max(too_many[0], p)
                continue
            n_coal = 1 << p
            full = n_coal - 1
            for s in range(n_coal):
                vals[s] = const
            for e in range(n_rec[0]):
                v = value[rec_node[e], 0]
                mx = rec_mx[e]
                free = full & ~(mx | rec_mr[e])
                sub = free
                while True:  # every coalition S = Sx | sub with sub ⊆ free
                    vals[mx | sub] += v
                    if sub == 0:
                        break
                    sub = (sub - 1) & free
            for s in range(n_coal):
                vals[s] = 1.0 / (1.0 + np.exp(-vals[s]))
            if p == 0:
                continue
            fact = 1.0
            for q in range(1, p + 1):
                fact *= q
            w_s = 1.0
            for s in range(p):  # s! (p-s-1)! / p!
                num = 1.0
                for q in range(1, s + 1):
                    num *= q
                for q in range(1, p - s):
                    num *= q
                weights[s] = num / fact
            w_s = bg_w[bi]
            _shapley_from_table(vals, p, weights, phi_local)
            for jj in range(p):
                out[i - start, local_feat[jj]] += w_s * phi_local[jj]


@numba.njit(parallel=True, cache=True)
def _margin_parallel(X, bg_bits, bg_leaf, bg_w, arrays, split_le, roots, tree_output, value,
                     w_x, w_r, max_depth, out, block):  # fmt: skip
    n_blocks = (X.shape[0] + block - 1) // block
    for c in numba.prange(n_blocks):
        start = c * block
        stop = min(start + block, X.shape[0])
        _margin_rows(X, start, stop, bg_bits, bg_leaf, bg_w, arrays, split_le, roots,
                     tree_output, value, w_x, w_r, max_depth, out[start:stop])  # fmt: skip


@numba.njit(parallel=True, cache=True)
def _probability_parallel(X, bg_bits, bg_leaf, bg_w, arrays, split_le, roots, value,
                          base_offset, w_x, max_depth, max_enum, out, too_many, block):  # fmt: skip
    n_blocks = (X.shape[0] + block - 1) // block
    for c in numba.prange(n_blocks):
        start = c * block
        stop = min(start + block, X.shape[0])
        _probability_rows(X, start, stop, bg_bits, bg_leaf, bg_w, arrays, split_le, roots,
                          value, base_offset, w_x, max_depth, max_enum, out[start:stop],
                          too_many[c : c + 1])  # fmt: skip


#: Rows from which a call builds the per-set tables of :mod:`._tree_pruned_table`.
TABLE_MIN_ROWS = 8


class BackgroundRoutes:
    """What the kernels need of the background, computed once per explanation.

    Margins of deep trees (a ``pruned_layout`` given, see :mod:`._tree_pruned`) use the
    background's pass words per node (``pruned``); other margins the merged per-leaf masks of
    :mod:`._tree_leaf_patterns` (``patterns``); the
    probability output, and ensembles with a path wider than a 64-bit mask, use the pair walk
    (``bits``: route of every background row at every node, ``leaf``: its leaf per tree).
    """

    def __init__(
        self,
        ensemble: TreeEnsemble,
        background: np.ndarray,
        weights: np.ndarray,
        *,
        walk: bool = False,
        n_rows: int = 1,
        n_threads: int = 1,
        table_budget: int = 2**27,
        max_depth: int | None = None,
        pruned_layout: Any = None,
    ):
        self.arrays = traversal_arrays(ensemble)
        self.weights = np.ascontiguousarray(weights, dtype=np.float64)
        if max_depth is None:
            max_depth = ensemble.max_depth()
        self.max_depth = max(max_depth, 1)
        self.w_x, self.w_r = _leaf_weights(self.max_depth)
        self.patterns = None
        self.pruned = None
        if (
            not walk
            and pruned_layout is not None
            and pruned_layout.fits_background(background.shape[0])
        ):
            # deep trees: a pruned descent per (row, tree), see :mod:`._tree_pruned`
            from assay.attribution.shapley._tree_pruned import build_pruned, build_pruned_table

            passes = build_pruned(pruned_layout, ensemble, self.arrays, background,
                                  n_threads=n_threads)  # fmt: skip
            # the per-set tables cost about what they save on ~8 rows (a mask per leaf and
            # background row, built for this call only)
            table = (
                build_pruned_table(pruned_layout, ensemble, passes, background.shape[0])
                if n_rows >= TABLE_MIN_ROWS
                else None
            )
            self.pruned = (pruned_layout, passes, table)
            return
        if not walk:
            self.patterns = build_leaf_patterns(
                ensemble, self.arrays, background, self.weights, n_rows=n_rows,
                n_threads=n_threads, table_budget=table_budget,
            )  # fmt: skip
        if self.patterns is None:
            self.bits = np.zeros((background.shape[0], ensemble.n_nodes), dtype=np.uint8)
            _route_bits(background, self.arrays, bool(ensemble.split_le), self.bits)
            self.leaf = np.ascontiguousarray(predict_leaf(ensemble, background))


def interventional_shap(
    ensemble: TreeEnsemble,
    routes: BackgroundRoutes,
    X: np.ndarray,
    out: np.ndarray,
    *,
    probability: bool,
    n_threads: int,
    max_enumerated: int = DEFAULT_MAX_ENUMERATED,
) -> int:
    """Add the interventional SHAP values of rows ``X`` into ``out`` (n, d, k), zeroed.

    With ``probability`` (binary margin models only) ``out`` has shape (n, d) and receives the
    values of the positive-class probability. Returns 0, or with ``probability`` the largest
    number of disagreeing features of a pair above ``max_enumerated`` (those rows are invalid).
    """
    n = X.shape[0]
    block = max(1, min(16, -(-n // (4 * max(n_threads, 1)))))
    split_le = bool(ensemble.split_le)
    roots = np.ascontiguousarray(ensemble.roots, dtype=np.int64)
    value = np.ascontiguousarray(ensemble.value, dtype=np.float64)
    if not probability and routes.pruned is not None:
        from assay.attribution.shapley._tree_pruned import pruned_shap

        pruned_shap(routes.pruned[0], routes.pruned[1], ensemble, routes.arrays, X,
                    routes.weights, out, n_threads=n_threads, table=routes.pruned[2])  # fmt: skip
        return 0
    if not probability and routes.patterns is not None:
        leaf_pattern_shap(routes.patterns, ensemble, routes.arrays, X, out, routes.w_x,
                          routes.w_r, n_threads=n_threads)  # fmt: skip
        return 0
    if not probability:
        args = (X, routes.bits, routes.leaf, routes.weights, routes.arrays, split_le, roots,
                np.ascontiguousarray(ensemble.tree_output, dtype=np.int64), value,
                routes.w_x, routes.w_r, routes.max_depth)  # fmt: skip
        if n_threads <= 1 or n < 2:
            _margin_rows(X, 0, n, *args[1:], out)
        else:
            _margin_parallel(*args, out, block)
        return 0
    base = np.ascontiguousarray(ensemble.base_offset, dtype=np.float64)
    n_blocks = -(-n // block)
    too_many = np.zeros(max(n_blocks, 1), dtype=np.int64)
    args = (X, routes.bits, routes.leaf, routes.weights, routes.arrays, split_le, roots, value,
            base, routes.w_x, routes.max_depth, max_enumerated, out)  # fmt: skip
    if n_threads <= 1 or n < 2:
        _probability_rows(X, 0, n, *args[1:], too_many[:1])
    else:
        _probability_parallel(*args, too_many, block)
    return int(too_many.max())
