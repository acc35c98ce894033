"""The pruned descent of :mod:`._tree_pruned` with the leaf work summed per feature set.

Same game and notation as :mod:`._tree_pruned`: at a leaf with value ``v`` reached with the
explained row's fail set ``U``, each background row ``b`` still alive (passing every feature of
``U``) adds ``+w_b v (a-1)! u! / (a+u)!`` to each feature of ``Sx(b)``, the path features ``b``
fails, and ``-w_b v a! (u-1)! / (a+u)!`` to each feature of ``U`` (``a = |Sx(b)|``,
``u = |U|``). Two facts make a (leaf, background row) pair cost a few loads and one add:

* ``Sx(b)`` does not depend on the explained row. It is stored once per background as a bit
  mask over the global features per (leaf, background row) (:func:`build_table`), so the
  descent carries only ``U`` and the rows still alive ``A`` (no per-feature fail words, no
  undo log), and a pair reads its mask.
* What a pair gives each feature of ``Sx(b)`` is the same for all of them, and likewise for
  ``U``. So a pair adds ``w_b v (a-1)! u! / (a+u)!`` to one cell of a per-row table indexed
  by the *set* ``Sx(b)``, a leaf adds ``sum_b w_b v a! (u-1)! / (a+u)!`` to the cell of ``U``
  in a second table, and after all trees each non-empty cell is added to (or taken from) each
  feature of its set (``2^d`` cells per table and output, 8 kB at ``d = 10``).

These are the same terms as :func:`~._tree_pruned.pruned_shap` grouped differently, hence
equal to brute-force enumeration of the game up to float64 rounding. Used for at most
:data:`MAX_TABLE_FEATURES` features; rows are explained in blocks of :data:`ROW_BLOCK`, tree
by tree, so a tree's nodes and masks are read from memory once per block, and the next
tree's are prefetched while one is summed (:mod:`._prefetch`).

Measured on a RandomForestRegressor(100) grown to purity, d = 10, 40 background rows, one
thread: 1.37 ms per row against 4.8 for the per-pair descent and ~155 for
``shap.explainers.Exact`` (``benchmarks/RESULTS.md``, issue 25).
"""

from __future__ import annotations

import numba
import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

from assay.attribution.shapley._prefetch import prefetch
from assay.attribution.shapley._tree_path import goes_left

__all__ = ["MAX_TABLE_FEATURES", "TableBackground", "build_table", "table_shap"]

#: Most features for the per-set tables (a mask and its size per (leaf, background row) fit
#: 16 bits).
MAX_TABLE_FEATURES = 12
#: Rows explained together tree by tree.
ROW_BLOCK = 32


@numba.njit(cache=True)
def _leaf_fail(rec, parent, tree_start, passes, valid, n_bg, out):
    """``out[q, b]``: bit ``j`` set where background row ``b`` fails a split on feature ``j``
    on the path to leaf ``q`` (the deepest split on ``j`` decides: its pass words cover every
    split on ``j`` above it)."""
    nw = passes.shape[2]
    for k in range(rec.shape[0]):
        if rec[k, 0] >= 0:
            continue
        q = rec[k, 1]
        seen = np.int64(0)
        c = k
        p = parent[k]
        while p >= 0:
            j = rec[p, 0]
            bj = np.int64(1) << j
            if not seen & bj:
                seen |= bj
                side = 0 if c == p + 1 else 1
                for w in range(nw):
                    f = valid[w] & ~passes[p, side, w]
                    while f != 0:
                        r = (w << 6) + trailing_zeros(f)
                        f &= f - 1
                        if r < n_bg:
                            out[q, r] |= bj
            c = p
            p = parent[p]


@numba.njit(cache=True, nogil=True)
def _rows(X, start, stop, rec, thr_k, passes, leaf_start, leaf_fail, bg_w, lp_node, tree_start,
          arrays, split_le, tree_output, value_k, pc, w_x, w_r, max_depth, block,
          out):  # fmt: skip
    """Values of the margin for rows ``start:stop``, added into ``out`` (any background size).

    ``rec[k] = (feature or -1 at a leaf, right child's position or the leaf number at a leaf,
    bit | special << 8 | default_left << 9)`` and ``thr_k[k]`` per preorder position (see
    :class:`~._tree_pruned.PrunedLayout`); ``passes[k, 0 / 1, w]`` the pass words of the left /
    right child; ``leaf_fail[q, b]`` the mask ``Sx(b)`` at leaf ``q`` in the low 12 bits and
    its size above (:func:`build_table`); ``pc`` popcounts;
    ``w_x[a, u] = (a-1)! u! / (a+u)!``, ``w_r[a, u] = a! (u-1)! / (a+u)!``.

    Both children are handled alike, without branching on the row's side: the child ``x``
    takes keeps ``U`` (and, if ``x`` failed ``j`` higher up, only the rows passing this split
    too), the other adds ``j`` to ``U`` and keeps the rows passing every split on ``j`` down to
    it. The right child is pushed where a row lives, the descent continues left (the next
    position, which the processor can fetch ahead).
    """
    _, _, _, thr, dleft, is_cat, cat_left, cat_off, cat_val, zmiss = arrays
    n_out = value_k.shape[1]
    n_trees = tree_start.shape[0] - 1
    n_bg = bg_w.shape[0]
    d = X.shape[1]
    nw = passes.shape[2]
    rec1 = rec.reshape(-1)
    passes1 = passes.reshape(-1)
    lf1 = leaf_fail.reshape(-1)
    valid = np.zeros(nw, dtype=np.int64)
    for r in range(n_bg):
        if bg_w[r] != 0.0:
            valid[r >> 6] |= np.int64(1) << (r & 63)
    cap = max_depth + 2  # one pending right child per level of the current path at most
    st_pos = np.empty(cap, dtype=np.int64)
    st_u = np.empty(cap, dtype=np.int64)
    st_a = np.empty((cap, nw), dtype=np.int64)
    cur = np.empty(nw, dtype=np.int64)
    n_sets = 1 << d
    tab_a = np.zeros((block, n_out, n_sets))  # per set Sx: what each of its features gets
    tab_b = np.zeros((block, n_out, n_sets))  # per set U: what each of its features loses
    for i0 in range(start, stop, block):
        i1 = min(i0 + block, stop)
        for t in range(n_trees):
            k_out = tree_output[t]
            k_lo = 0 if k_out < 0 else k_out
            k_hi = n_out if k_out < 0 else k_out + 1
            # the next tree's data come into cache while this one is summed (see
            # :func:`_rows_one_word`)
            t2 = min(t + 1, n_trees - 1)
            nxt = t + 1 < n_trees
            pf_a = tree_start[t2] * 3
            pf_a_end = tree_start[t2 + 1] * 3 if nxt else pf_a
            pf_p = tree_start[t2] * 2 * nw
            pf_p_end = tree_start[t2 + 1] * 2 * nw if nxt else pf_p
            pf_b = leaf_start[t2] * n_bg
            pf_b_end = leaf_start[t2 + 1] * n_bg if nxt else pf_b
            pf_c = tree_start[t2]
            pf_c_end = tree_start[t2 + 1] if nxt else pf_c
            for i in range(i0, i1):
                ta = tab_a[i - i0]
                tb = tab_b[i - i0]
                x = X[i]
                k = tree_start[t]
                u_set = np.int64(0)
                for w in range(nw):
                    cur[w] = valid[w]
                top = 0
                while True:
                    if pf_a < pf_a_end:
                        prefetch(rec1, pf_a)
                        pf_a += 8
                    elif pf_p < pf_p_end:
                        prefetch(passes1, pf_p)
                        pf_p += 8
                    elif pf_b < pf_b_end:
                        prefetch(lf1, pf_b)
                        pf_b += 32
                    elif pf_c < pf_c_end:
                        prefetch(thr_k, pf_c)
                        pf_c += 8
                    j = rec[k, 0]
                    if j >= 0:
                        packed = rec[k, 2]
                        v = x[j]
                        if packed & 256:
                            gl = goes_left(thr, dleft, is_cat, cat_left, cat_off, cat_val, zmiss,
                                           split_le, lp_node[k], v)  # fmt: skip
                        elif v != v:
                            gl = (packed & 512) != 0
                        elif split_le:
                            gl = v <= thr_k[k]
                        else:
                            gl = v < thr_k[k]
                        mx = -np.int64(gl)  # all ones where x goes left
                        bj = np.int64(1) << j
                        keep = ((u_set >> j) & 1) - 1  # all ones unless j is in U
                        any_l = np.int64(0)
                        any_r = np.int64(0)
                        for w in range(nw):
                            c_r = cur[w] & (passes[k, 1, w] | (keep & ~mx))
                            st_a[top, w] = c_r
                            any_r |= c_r
                            cur[w] &= passes[k, 0, w] | (keep & mx)
                            any_l |= cur[w]
                        st_pos[top] = rec[k, 1]
                        st_u[top] = u_set | (bj & mx)
                        top += np.int64(any_r != 0)
                        if any_l != 0:
                            u_set |= bj & ~mx
                            k += 1
                            continue
                    else:  # a leaf: each row of `cur` adds to its Sx set, the leaf to U
                        q = rec[k, 1]
                        u = pc[u_set]
                        hr = 0.0
                        for w in range(nw):
                            rows = cur[w]
                            while rows != 0:
                                r = (w << 6) + trailing_zeros(rows)
                                rows &= rows - 1
                                sx = np.int64(leaf_fail[q, r])
                                a = sx >> 12
                                sx &= 4095
                                wr = bg_w[r]
                                hx = wr * w_x[a, u]
                                hr += wr * w_r[a, u]
                                for kk in range(k_lo, k_hi):
                                    ta[kk, sx] += hx * value_k[k, kk]
                        for kk in range(k_lo, k_hi):
                            tb[kk, u_set] += hr * value_k[k, kk]
                    if top == 0:
                        break
                    top -= 1
                    k = st_pos[top]
                    u_set = st_u[top]
                    for w in range(nw):
                        cur[w] = st_a[top, w]
        _spread(tab_a, tab_b, i1 - i0, out[i0 - start : i1 - start])


@numba.njit(cache=True, nogil=True)
def _spread(tab_a, tab_b, n, out):
    """Each set's total to each of its features (``out[i, j] += tab_a[i, s] - tab_b[i, s]``
    for every set ``s`` holding ``j``); the tables are left zero."""
    n_out = tab_a.shape[1]
    n_sets = tab_a.shape[2]
    for i in range(n):
        phi = out[i]
        for kk in range(n_out):
            ta = tab_a[i, kk]
            tb = tab_b[i, kk]
            for c in range(n_sets):
                g = ta[c] - tb[c]
                if g != 0.0:
                    z = np.int64(c)
                    while z != 0:
                        phi[trailing_zeros(z), kk] += g
                        z &= z - 1
                ta[c] = 0.0
                tb[c] = 0.0


@numba.njit(cache=True, nogil=True)
def _rows_one_word(X, start, stop, node, nodef, node1, lf1, leaf_start, thr_k, leaf_fail, bg_w,
                   lp_node, tree_start, arrays, split_le, tree_output, value_k, pc, w_x, w_r,
                   max_depth, block, out):  # fmt: skip
    """:func:`_rows` for at most 64 background rows (one word, ~20% faster), reading one
    record per position (:func:`build_table`): at an internal node ``node[k] = (feature |
    special << 8 | default_left << 9 | left child is a leaf << 10, right child's position,
    pass word of the left child, of the right child)``, at a leaf ``(-1, leaf number, value
    of its tree's output as float64 bits, -)`` (``nodef`` is the float64 view). Where only
    one child lives the descent goes there without the stack; a left leaf is summed without
    reading its record's first word."""
    _, _, _, thr, dleft, is_cat, cat_left, cat_off, cat_val, zmiss = arrays
    n_out = value_k.shape[1]
    n_trees = tree_start.shape[0] - 1
    n_bg = bg_w.shape[0]
    d = X.shape[1]
    valid = np.int64(0)
    for r in range(n_bg):
        if bg_w[r] != 0.0:
            valid |= np.int64(1) << r
    cap = max_depth + 2
    st_pos = np.empty(cap, dtype=np.int64)
    st_u = np.empty(cap, dtype=np.int64)
    st_a = np.empty(cap, dtype=np.int64)
    n_sets = 1 << d
    tab_a = np.zeros((block, n_out, n_sets))
    tab_b = np.zeros((block, n_out, n_sets))
    for i0 in range(start, stop, block):
        i1 = min(i0 + block, stop)
        for t in range(n_trees):
            k_out = tree_output[t]
            k_lo = 0 if k_out < 0 else k_out
            k_hi = n_out if k_out < 0 else k_out + 1
            single = k_hi - k_lo == 1
            # the next tree's records, leaf masks and thresholds are brought into cache while
            # this one is summed, a cache line per step
            t2 = min(t + 1, n_trees - 1)
            pf_a = tree_start[t2] << 2
            pf_a_end = tree_start[t2 + 1] << 2 if t + 1 < n_trees else pf_a
            pf_b = leaf_start[t2] * n_bg
            pf_b_end = leaf_start[t2 + 1] * n_bg if t + 1 < n_trees else pf_b
            pf_c = tree_start[t2]
            pf_c_end = tree_start[t2 + 1] if t + 1 < n_trees else pf_c
            for i in range(i0, i1):
                ta = tab_a[i - i0]
                tb = tab_b[i - i0]
                ta0 = ta[k_lo]
                tb0 = tb[k_lo]
                x = X[i]
                k = tree_start[t]
                u_set = np.int64(0)
                cur = valid
                top = 0
                while True:
                    if pf_a < pf_a_end:
                        prefetch(node1, pf_a)
                        pf_a += 8
                    elif pf_b < pf_b_end:
                        prefetch(lf1, pf_b)
                        pf_b += 32
                    elif pf_c < pf_c_end:
                        prefetch(thr_k, pf_c)
                        pf_c += 8
                    packed = node[k, 0]
                    at_leaf = packed < 0
                    if not at_leaf:
                        j = packed & 255
                        v = x[j]
                        if packed & 256:
                            gl = goes_left(thr, dleft, is_cat, cat_left, cat_off, cat_val, zmiss,
                                           split_le, lp_node[k], v)  # fmt: skip
                        elif v != v:
                            gl = (packed & 512) != 0
                        elif split_le:
                            gl = v <= thr_k[k]
                        else:
                            gl = v < thr_k[k]
                        mx = -np.int64(gl)  # all ones where x goes left
                        bj = np.int64(1) << j
                        keep = ((u_set >> j) & 1) - 1  # all ones unless j is in U
                        c_l = cur & (node[k, 2] | (keep & mx))
                        c_r = cur & (node[k, 3] | (keep & ~mx))
                        if c_l != 0:
                            st_a[top] = c_r
                            st_pos[top] = node[k, 1]
                            st_u[top] = u_set | (bj & mx)
                            top += np.int64(c_r != 0)
                            u_set |= bj & ~mx
                            cur = c_l
                            k += 1
                            if (packed & 1024) == 0:
                                continue
                            at_leaf = True  # the left child is a leaf: no need to read it
                        elif c_r != 0:  # only the right child: go there without the stack
                            u_set |= bj & mx
                            cur = c_r
                            k = node[k, 1]
                            continue
                    if not at_leaf:
                        pass
                    elif single:  # a leaf, one output
                        q = node[k, 1]
                        u = pc[u_set]
                        val = nodef[k, 2]
                        hr = 0.0
                        rows = cur
                        while rows != 0:
                            r = trailing_zeros(rows)
                            rows &= rows - 1
                            sx = np.int64(leaf_fail[q, r])
                            a = sx >> 12
                            sx &= 4095
                            wr = bg_w[r] * val
                            ta0[sx] += wr * w_x[a, u]
                            hr += wr * w_r[a, u]
                        tb0[u_set] += hr
                    else:  # a leaf
                        q = node[k, 1]
                        u = pc[u_set]
                        hr = 0.0
                        rows = cur
                        while rows != 0:
                            r = trailing_zeros(rows)
                            rows &= rows - 1
                            sx = np.int64(leaf_fail[q, r])
                            a = sx >> 12
                            sx &= 4095
                            wr = bg_w[r]
                            hx = wr * w_x[a, u]
                            hr += wr * w_r[a, u]
                            for kk in range(k_lo, k_hi):
                                ta[kk, sx] += hx * value_k[k, kk]
                        for kk in range(k_lo, k_hi):
                            tb[kk, u_set] += hr * value_k[k, kk]
                    if top == 0:
                        break
                    top -= 1
                    k = st_pos[top]
                    u_set = st_u[top]
                    cur = st_a[top]
        _spread(tab_a, tab_b, i1 - i0, out[i0 - start : i1 - start])


@numba.njit(parallel=True, cache=True)
def _chunks_parallel(kernel_id, X, rec, thr_k, passes, node, leaf_start, leaf_fail, bg_w, lp_node,
                     tree_start, arrays, split_le, tree_output, value_k, pc, w_x, w_r, max_depth,
                     block, out, chunk):  # fmt: skip
    n_chunks = (X.shape[0] + chunk - 1) // chunk
    for c in numba.prange(n_chunks):
        start = c * chunk
        stop = min(start + chunk, X.shape[0])
        if kernel_id == 1:
            _rows_one_word(X, start, stop, node, node.view(np.float64), node.reshape(-1),
                           leaf_fail.reshape(-1), leaf_start, thr_k, leaf_fail, bg_w, lp_node,
                           tree_start, arrays, split_le, tree_output, value_k, pc, w_x, w_r,
                           max_depth, block, out[start:stop])  # fmt: skip
        else:
            _rows(X, start, stop, rec, thr_k, passes, leaf_start, leaf_fail, bg_w, lp_node,
                  tree_start, arrays, split_le, tree_output, value_k, pc, w_x, w_r, max_depth,
                  block, out[start:stop])  # fmt: skip


class TableBackground:
    """What :func:`table_shap` needs per background: ``leaf_fail`` (n_leaves, n_background)
    uint16, the mask ``Sx(b)`` over the global features in the low 12 bits and its size
    above, and for at most 64 background rows the per-position ``records`` of
    :func:`_rows_one_word` (else None)."""

    def __init__(self, leaf_fail: np.ndarray, records: np.ndarray | None,
                 leaf_start: np.ndarray) -> None:  # fmt: skip
        self.leaf_fail = leaf_fail
        self.records = records
        self.leaf_start = leaf_start


def fits_table(layout, n_features: int, n_background: int, max_bytes: int) -> bool:
    """Whether the per-set tables apply: few features and masks within ``max_bytes``."""
    return n_features <= MAX_TABLE_FEATURES and layout.n_leaves * n_background * 2 <= max_bytes


def build_table(layout, ensemble, passes: np.ndarray, n_background: int) -> TableBackground:
    """The background's fail masks per (leaf, background row), and the one-word records
    (row weights play no part: rows without weight are never alive in the descent)."""
    n_bg = n_background
    nw = passes.shape[2]
    valid = np.zeros(nw, dtype=np.int64)
    for r in range(n_bg):
        valid[r >> 6] |= np.int64(1) << np.int64(r & 63)
    leaf_fail = np.zeros((layout.n_leaves, n_bg), dtype=np.uint16)
    _leaf_fail(layout.rec, layout.parent, layout.tree_start, passes, valid, n_bg, leaf_fail)
    # the mask's size in the top four bits (d <= 12: the mask takes the low twelve)
    leaf_fail |= np.bitwise_count(leaf_fail).astype(np.uint16) << np.uint16(12)
    records = None
    if nw == 1:
        rec = layout.rec
        records = np.empty((rec.shape[0], 4), dtype=np.int64)
        inner = rec[:, 0] >= 0
        left_leaf = np.zeros(rec.shape[0], dtype=np.int64)
        left_leaf[:-1] = (~inner[1:]).astype(np.int64) << 10  # position k + 1 is a leaf
        records[:, 0] = np.where(inner, rec[:, 0] | (rec[:, 2] & ~np.int64(255)) | left_leaf, -1)
        records[:, 1] = rec[:, 1]
        records[:, 2] = passes[:, 0, 0]
        records[:, 3] = passes[:, 1, 0]
        # at a leaf (no children, no pass words): its value for its tree's output
        leaves = np.flatnonzero(~inner)
        tree = np.searchsorted(layout.tree_start, leaves, side="right") - 1
        column = np.maximum(np.asarray(ensemble.tree_output, dtype=np.int64)[tree], 0)
        records.view(np.float64)[leaves, 2] = layout.value_k(ensemble)[leaves, column]
    is_leaf = (layout.rec[:, 0] < 0).astype(np.int64)
    leaf_start = np.concatenate([[0], np.cumsum(is_leaf)])[layout.tree_start]
    return TableBackground(leaf_fail, records, leaf_start)


def table_shap(layout, passes: np.ndarray, table: TableBackground, ensemble, arrays,
               X: np.ndarray, weights: np.ndarray, out: np.ndarray, *,
               n_threads: int = 1) -> None:  # fmt: skip
    """Add the interventional SHAP values of the margin of rows ``X`` into ``out`` (n, d, k).

    ``passes`` from :func:`~._tree_pruned.build_pruned` and ``table`` from :func:`build_table`
    for the background whose row weights are ``weights``; ``d <=`` :data:`MAX_TABLE_FEATURES`.
    """
    d = X.shape[1]
    pc = np.bitwise_count(np.arange(2**d, dtype=np.int64)).astype(np.int64)
    X = np.ascontiguousarray(X, dtype=np.float64)
    n = X.shape[0]
    one_word = table.records is not None
    records = table.records if one_word else np.zeros((1, 4), dtype=np.int64)
    args = (table.leaf_fail, np.ascontiguousarray(weights, dtype=np.float64), layout.node,
            layout.tree_start, arrays, bool(ensemble.split_le),
            np.ascontiguousarray(ensemble.tree_output, dtype=np.int64),
            layout.value_k(ensemble), pc, layout.w_x, layout.w_r, layout.max_depth,
            ROW_BLOCK)  # fmt: skip
    if n_threads > 1 and n > 1:
        chunk = max(1, min(ROW_BLOCK, -(-n // n_threads)))
        _chunks_parallel(1 if one_word else 0, X, layout.rec, layout.thr_k, passes, records,
                         table.leaf_start, *args, out, chunk)  # fmt: skip
    elif one_word:
        _rows_one_word(X, 0, n, records, records.view(np.float64), records.reshape(-1),
                       table.leaf_fail.reshape(-1), table.leaf_start, layout.thr_k, *args,
                       out)  # fmt: skip
    else:
        _rows(X, 0, n, layout.rec, layout.thr_k, passes, table.leaf_start, *args, out)
