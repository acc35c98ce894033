"""Exact interventional Shapley values of deep tree ensembles by joint (row, background) descent.

The leaf games of :mod:`._exact_structured` are summed there leaf by leaf, over every leaf of
the ensemble for every row. Deep trees (random forests grown to purity: thousands of leaves per
tree) make that sum long although, for one explained row ``x`` and one background row ``b``,
almost every leaf is unreachable by any hybrid ``z = (x_S, b_{-S})``: a hybrid reaches leaf
``L`` only if every condition on ``L``'s path is met by ``x`` or by ``b``.

Here each tree is descended once per explained row for a block of up to 64 background rows at
once (a bit mask of the rows still on the path; they share the descent until they part from
``x``), following only the paths some hybrid can take: at a split on feature ``j`` where ``x`` and
``b`` go the same way there is one child to visit; where they part, the feature's side is
decided — the branch ``x`` takes requires ``j`` in ``S`` (``j`` joins ``Sx``), the branch ``b``
takes requires ``j`` outside ``S`` (``j`` joins ``Sr``) — and a feature already decided higher
up the path follows its side without branching. At a leaf the game is
``[Sx ⊆ S] [Sr ∩ S = ∅]``, whose Shapley values are closed form (``a = |Sx|``, ``r = |Sr|``):

    +(a-1)! r! / (a+r)!   for each feature in Sx,      -a! (r-1)! / (a+r)!   for each in Sr,

times the leaf's value and the background row's weight. Leaves with ``a + r = 0`` are reached by
every hybrid and only add to the base value. The visited leaves are exactly the leaves with a
non-zero game, so the cost per pair is the number of such leaves times their depth, instead of
the number of leaves in the ensemble. Sets are 64-bit masks: up to 63 features. The nodes'
children and features are packed in one array and each node's background directions in one
64-bit word, so a step of the descent touches two cache lines.
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
def _mask_weight(mask, w, b0):
    total = 0.0
    j = 0
    while mask:
        if mask & 1:
            total += w[b0 + j]
        mask = np.uint64(mask >> np.uint64(1))
        j += 1
    return total


@numba.njit(cache=True, nogil=True)
def _row_tree(xbits, bgleft, b0, all_rows, w, i, root, nodes, value, k_out, w_x, w_r, out,
              st_node, st_x, st_r, st_rows):  # fmt: skip
    """One row, one tree, a block of up to 64 background rows at once.

    A state is (node, Sx, Sr, the background rows still on it as a bit mask); rows are split
    only where they part from ``x``. ``nodes[n] = (left, right, feature)``, ``bgleft[n]`` the
    mask of block rows that go left at ``n`` (one cache line per node for the whole block).
    """
    zero = np.uint64(0)
    st_node[0] = root
    st_x[0] = 0
    st_r[0] = 0
    st_rows[0] = all_rows
    top = 1
    while top > 0:
        top -= 1
        node = st_node[top]
        sx = st_x[top]
        sr = st_r[top]
        rows = st_rows[top]
        while nodes[node, 0] >= 0:
            gx = xbits[i, node]
            left_child = nodes[node, 0]
            right_child = nodes[node, 1]
            bit = np.int64(1) << nodes[node, 2]
            x_child = left_child if gx else right_child
            if sx & bit:
                node = x_child
                continue
            goes_left = bgleft[node] & rows
            same = goes_left if gx else rows & ~goes_left
            diff = rows & ~same
            if diff == zero:
                node = x_child
                continue
            b_child = right_child if gx else left_child
            if sr & bit:  # decided for b: the parting rows follow their own direction
                st_node[top] = b_child
                st_x[top] = sx
                st_r[top] = sr
                st_rows[top] = diff
                top += 1
            else:  # undecided: parting rows take both sides, deciding the feature
                st_node[top] = b_child
                st_x[top] = sx
                st_r[top] = sr | bit
                st_rows[top] = diff
                top += 1
                st_node[top] = x_child
                st_x[top] = sx | bit
                st_r[top] = sr
                st_rows[top] = diff
                top += 1
            if same == zero:
                break  # nothing left on this state: take a pushed one
            rows = same
            node = x_child
        else:
            if sx == 0 and sr == 0:
                continue
            _add_leaf(out, i, node, sx, sr, _mask_weight(rows, w, b0), value, k_out, w_x, w_r)


@numba.njit(cache=True, nogil=True)
def _pair_values(xbits, bgleft, w, roots, tree_output, nodes, value, w_x, w_r, depth, out):
    n = out.shape[0]
    n_blocks = bgleft.shape[0]
    m = w.shape[0]
    size = 4 * depth + 8  # pending states: at most two per level of the current path
    st_node = np.empty(size, np.int64)
    st_x = np.empty(size, np.int64)
    st_r = np.empty(size, np.int64)
    st_rows = np.empty(size, np.uint64)
    for i in range(n):
        for t in range(roots.shape[0]):
            for blk in range(n_blocks):
                b0 = 64 * blk
                all_rows = np.uint64(0)
                for j in range(min(64, m - b0)):
                    if w[b0 + j] != 0.0:
                        all_rows |= np.uint64(1) << np.uint64(j)
                _row_tree(xbits, bgleft[blk], b0, all_rows, w, i, roots[t], nodes, value,
                          tree_output[t], w_x, w_r, out, st_node, st_x, st_r,
                          st_rows)  # fmt: skip


@numba.njit(cache=True)
def _left_masks(bits, out):
    """``out[blk, n]``: bit ``j`` set where background row ``64 blk + j`` goes left at ``n``."""
    n_nodes, m = bits.shape
    for nd in range(n_nodes):
        for b in range(m):
            if bits[nd, b]:
                out[b // 64, nd] |= np.uint64(1) << np.uint64(b % 64)


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
    caller picks this path for deep trees whose paths are too wide for the pruned descent of
    :mod:`._tree_pruned` (more than 62 distinct features), with at most ``MAX_PAIR_FEATURES``
    features.
    """
    from assay.attribution.shapley._exact_structured import _route_bits

    a = structure.arrays
    split_le = bool(structure.ensemble.split_le)
    n_nodes = len(a[0])
    bgbits = np.zeros((n_nodes, bg.shape[0]), dtype=np.uint8)
    _route_bits(np.ascontiguousarray(bg), a, split_le, bgbits)
    xbits = np.zeros((n_nodes, X.shape[0]), dtype=np.uint8)
    _route_bits(np.ascontiguousarray(X), a, split_le, xbits)
    xbits = np.ascontiguousarray(xbits.T)  # one row's directions contiguous
    bgleft = np.zeros(((bg.shape[0] + 63) // 64, n_nodes), dtype=np.uint64)
    _left_masks(bgbits, bgleft)
    nodes = np.ascontiguousarray(np.stack([a[0], a[1], a[2]], axis=1))
    n, d = X.shape
    out = np.zeros((n, d, structure.value.shape[1]))
    w_x, w_r = structure.w_x, structure.w_r
    roots = np.ascontiguousarray(structure.ensemble.roots, dtype=np.int64)
    depth = int(_max_depth(a[0], a[1], roots))
    _pair_values(xbits, bgleft, np.ascontiguousarray(w, dtype=np.float64), roots,
                 structure.tree_output, nodes, structure.value, w_x, w_r, depth,
                 out)  # fmt: skip
    return out
