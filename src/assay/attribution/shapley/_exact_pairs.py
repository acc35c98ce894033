"""Exact interventional Shapley values of deep tree ensembles by joint (row, background) descent.

The leaf games of :mod:`._exact_structured` are summed there leaf by leaf, over every leaf of
the ensemble for every row. Deep trees (random forests grown to purity: thousands of leaves per
tree) make that sum long although, for one explained row ``x`` and one background row ``b``,
almost every leaf is unreachable by any hybrid ``z = (x_S, b_{-S})``: a hybrid reaches leaf
``L`` only if every condition on ``L``'s path is met by ``x`` or by ``b``.

Here each tree is descended once per (row, background row) pair, following only the paths some
hybrid can take (the pruning the issue asks for): at a split on feature ``j`` where ``x`` and
``b`` go the same way there is one child to visit; where they part, the feature's side is
decided — the branch ``x`` takes requires ``j`` in ``S`` (``j`` joins ``Sx``), the branch ``b``
takes requires ``j`` outside ``S`` (``j`` joins ``Sr``) — and a feature already decided higher
up the path follows its side without branching. At a leaf the game is
``[Sx ⊆ S] [Sr ∩ S = ∅]``, whose Shapley values are closed form (``a = |Sx|``, ``r = |Sr|``):

    +(a-1)! r! / (a+r)!   for each feature in Sx,      -a! (r-1)! / (a+r)!   for each in Sr,

times the leaf's value and the background row's weight. Leaves with ``a + r = 0`` are reached by
every hybrid and only add to the base value. The visited leaves are exactly the leaves with a
non-zero game, so the cost per pair is the number of such leaves times their depth, instead of
the number of leaves in the ensemble. Sets are 64-bit masks: up to 63 features.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["MAX_PAIR_FEATURES", "pair_descent_values"]

MAX_PAIR_FEATURES = 63


@numba.njit(cache=True, nogil=True)
def _popcount(m: np.int64) -> int:
    c = 0
    while m:
        m &= m - 1
        c += 1
    return c


@numba.njit(cache=True, nogil=True)
def _add_leaf(out, i, node, sx, sr, wsum, value, k_out, w_x, w_r):
    a = _popcount(sx)
    r = _popcount(sr)
    px = w_x[a, r] * wsum
    pr = w_r[a, r] * wsum
    m = sx | sr
    j = 0
    while m:
        if m & 1:
            sign_w = px if (sx >> j) & 1 else -pr
            if k_out >= 0:
                out[i, j, k_out] += sign_w * value[node, k_out]
            else:
                for k in range(value.shape[1]):
                    out[i, j, k] += sign_w * value[node, k]
        m >>= 1
        j += 1


@numba.njit(cache=True, nogil=True)
def _row_tree(xbits, bgbits, w, i, root, left, right, feature, value, k_out, w_x, w_r, out,
              buf, st_node, st_x, st_r, st_lo, st_n):  # fmt: skip
    """One row, one tree, all background rows at once: a state is (node, Sx, Sr, the
    background rows still on it); rows are split only where they part from ``x``."""
    m = bgbits.shape[0]
    n0 = 0
    for b in range(m):
        if w[b] != 0.0:
            buf[n0] = b
            n0 += 1
    st_node[0] = root
    st_x[0] = 0
    st_r[0] = 0
    st_lo[0] = 0
    st_n[0] = n0
    top = 1
    while top > 0:
        top -= 1
        node = st_node[top]
        sx = st_x[top]
        sr = st_r[top]
        lo = st_lo[top]
        cnt = st_n[top]
        free = lo + cnt  # everything above this popped segment is finished work
        while left[node] >= 0:
            gx = xbits[i, node]
            bit = np.int64(1) << feature[node]
            if sx & bit:
                node = left[node] if gx else right[node]
                continue
            # partition the rows: same direction as x first, the others after
            n_same = 0
            for t in range(lo, lo + cnt):
                if bgbits[buf[t], node] == gx:
                    n_same += 1
            if n_same == cnt:
                node = left[node] if gx else right[node]
                continue
            a_lo = free
            d_lo = free + n_same
            ia = a_lo
            idd = d_lo
            for t in range(lo, lo + cnt):
                bb = buf[t]
                if bgbits[bb, node] == gx:
                    buf[ia] = bb
                    ia += 1
                else:
                    buf[idd] = bb
                    idd += 1
            n_diff = cnt - n_same
            free = d_lo + n_diff
            x_child = left[node] if gx else right[node]
            b_child = right[node] if gx else left[node]
            if sr & bit:  # decided for b: each row follows its own direction
                st_node[top] = b_child
                st_x[top] = sx
                st_r[top] = sr
                st_lo[top] = d_lo
                st_n[top] = n_diff
                top += 1
            else:  # undecided: rows that part from x take both sides, deciding the feature
                st_node[top] = b_child
                st_x[top] = sx
                st_r[top] = sr | bit
                st_lo[top] = d_lo
                st_n[top] = n_diff
                top += 1
                st_node[top] = x_child
                st_x[top] = sx | bit
                st_r[top] = sr
                st_lo[top] = d_lo
                st_n[top] = n_diff
                top += 1
            if n_same == 0:
                top -= 1  # nothing left on x's side with the old sets: take a pushed state
                node = st_node[top]
                sx = st_x[top]
                sr = st_r[top]
                lo = st_lo[top]
                cnt = st_n[top]
                continue
            lo = a_lo
            cnt = n_same
            node = x_child
        if sx == 0 and sr == 0:
            continue
        wsum = 0.0
        for t in range(lo, lo + cnt):
            wsum += w[buf[t]]
        _add_leaf(out, i, node, sx, sr, wsum, value, k_out, w_x, w_r)


@numba.njit(cache=True, nogil=True)
def _pair_values(xbits, bgbits, w, roots, tree_output, left, right, feature, value, w_x, w_r,
                 depth, out):  # fmt: skip
    n = out.shape[0]
    m = bgbits.shape[0]
    # live segments: one per level of the current path (each at most m rows), plus the root's
    buf = np.empty(m * (2 * depth + 4), np.int64)
    size = 2 * depth + 4
    st_node = np.empty(size * 2, np.int64)
    st_x = np.empty(size * 2, np.int64)
    st_r = np.empty(size * 2, np.int64)
    st_lo = np.empty(size * 2, np.int64)
    st_n = np.empty(size * 2, np.int64)
    for i in range(n):
        for t in range(roots.shape[0]):
            _row_tree(xbits, bgbits, w, i, roots[t], left, right, feature, value,
                      tree_output[t], w_x, w_r, out, buf, st_node, st_x, st_r, st_lo,
                      st_n)  # fmt: skip


@numba.njit(cache=True)
def _max_depth(left, right, roots):
    depth = np.zeros(left.shape[0], np.int64)
    best = 0
    stack = np.empty(left.shape[0] + 1, np.int64)
    for t in range(roots.shape[0]):
        stack[0] = roots[t]
        depth[roots[t]] = 0
        top = 1
        while top > 0:
            top -= 1
            nd = stack[top]
            if depth[nd] > best:
                best = depth[nd]
            if left[nd] >= 0:
                depth[left[nd]] = depth[nd] + 1
                depth[right[nd]] = depth[nd] + 1
                stack[top] = left[nd]
                stack[top + 1] = right[nd]
                top += 2
    return best


def pair_descent_values(structure, X: np.ndarray, bg: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(n, d, k) exact interventional Shapley values of a :class:`TreeStructure`'s trees.

    Same values as ``structure.values`` (the leaf-by-leaf sum) up to float64 rounding; the
    caller picks this path for deep trees and at most ``MAX_PAIR_FEATURES`` features.
    """
    from assay.attribution.shapley._exact_structured import _route_bits

    a = structure.arrays
    split_le = bool(structure.ensemble.split_le)
    n_nodes = len(a[0])
    bgbits = np.zeros((n_nodes, bg.shape[0]), dtype=np.uint8)
    _route_bits(np.ascontiguousarray(bg), a, split_le, bgbits)
    xbits = np.zeros((n_nodes, X.shape[0]), dtype=np.uint8)
    _route_bits(np.ascontiguousarray(X), a, split_le, xbits)
    # one row's (one background row's) directions contiguous: a descent reads along nodes
    xbits = np.ascontiguousarray(xbits.T)
    bgbits = np.ascontiguousarray(bgbits.T)
    n, d = X.shape
    out = np.zeros((n, d, structure.value.shape[1]))
    w_x, w_r = structure.w_x, structure.w_r
    roots = np.ascontiguousarray(structure.ensemble.roots, dtype=np.int64)
    depth = int(_max_depth(a[0], a[1], roots))
    _pair_values(xbits, bgbits, np.ascontiguousarray(w, dtype=np.float64), roots,
                 structure.tree_output, a[0], a[1], a[2], structure.value, w_x, w_r, depth,
                 out)  # fmt: skip
    return out
