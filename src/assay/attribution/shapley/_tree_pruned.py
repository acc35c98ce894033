"""Interventional TreeSHAP of the margin for deep trees: one pruned descent per (row, tree).

The game is the interventional one, ``v(S) = sum_b w_b f(x_S, b_{-S})`` over background rows
``b``. In one tree, write ``P`` for the distinct features on a leaf's path, ``U`` for those
whose splits the explained row ``x`` does not all satisfy (its *fail set*) and ``F_j`` for the
background rows that fail some split on feature ``j`` along the path. The hybrid
``(x_S, b_{-S})`` reaches the leaf exactly when ``U ∩ S = ∅`` and ``Sx(b) ⊆ S``, with
``Sx(b) = {j in P : b in F_j}``, which requires that ``b`` passes every feature of ``U``. The
leaf's game for that ``b`` has closed-form Shapley values (``a = |Sx(b)|``, ``u = |U|``, see
:mod:`._tree_leaf_patterns`):

    +v w_b (a-1)! u! / (a+u)!   for each feature in Sx(b),
    -v w_b a! (u-1)! / (a+u)!   for each feature in U.

Each tree is descended once per explained row, carrying ``U`` (path-local bits, a feature's
bit being its rank of first appearance on the path, as in :mod:`._tree_leaf_patterns`), the
words ``F_j`` (64 background rows per word) and ``A``, the background rows that pass every
feature of ``U`` so far. At a split on feature ``j`` the child ``x`` takes keeps ``U`` (and, if
``j`` is already in ``U``, ``A`` keeps only rows that pass this split too); the other child gets
``U + {j}`` and ``A`` keeps only rows passing every split on ``j`` down to it. ``F_j`` at a child
is the complement of that pass set, precomputed per background for every (node, child). A
sub-tree entered with ``A`` empty is unreachable by every hybrid of every background row and is
skipped whole; at a reached leaf the rows of ``A`` are exactly the contributing ones, each
adding the closed form above. Trees grown to purity have thousands of leaves of which a row and
a background reach a few hundred, and nothing per leaf is stored: the background costs one
pass over the nodes (:func:`build_pruned`), a row one pruned pass per tree.

The values are the same sums as :func:`~._tree_leaf_patterns.leaf_pattern_shap` and
:mod:`._exact_pairs` (in another order), and therefore equal brute-force enumeration of the
game up to float64 rounding.
"""

from __future__ import annotations

import numba
import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

from assay.attribution.shapley._tree_leaf_patterns import (
    MAX_PATH_FEATURES,
    _block_masks,
    _inner_nodes,
    _layout,
    _popcount,
)
from assay.attribution.shapley._tree_path import goes_left

__all__ = ["MAX_PASS_BYTES", "PrunedLayout", "build_pruned", "build_pruned_table", "pruned_shap"]

#: Largest pass-word table (two words per node per 64 background rows) built for one
#: background; larger backgrounds use the other algorithms, which block their memory.
MAX_PASS_BYTES = 256 * 2**20

# Rows explained together tree by tree (a tree's arrays are read from memory once per block).
_ROW_BLOCK = 32


class PrunedLayout:
    """Preorder layout of an ensemble's trees (background-independent, built once per model).

    ``node[k]``: the node at preorder position ``k``; ``bit[k]``: its feature's path-local bit;
    ``rec`` and ``thr_k``: per position, what the descent reads (see :func:`_rows`);
    ``inner``: the arrays of :func:`~._tree_leaf_patterns._inner_nodes`; ``tree_start[t]``:
    the first position of tree ``t``; ``max_depth``; ``widest``: most distinct features on a
    path.
    """

    def __init__(self, ensemble, arrays) -> None:
        roots = np.ascontiguousarray(ensemble.roots, dtype=np.int64)
        node, parent, is_left, bit, leaf_of, tree_start, n_feat = _layout(
            arrays[0], arrays[1], arrays[2], roots
        )
        self.node = node
        self.bit = bit
        self.tree_start = tree_start
        self.inner = _inner_nodes(arrays, node, parent, is_left, bit, leaf_of, tree_start)
        ipos, ifeat, ithr, _, irpos, idleft, ispecial, _ = self.inner
        self.rec = np.zeros((node.shape[0], 3), dtype=np.int64)
        self.rec[:, 0] = -1
        self.rec[ipos, 0] = ifeat
        self.rec[ipos, 1] = irpos
        self.rec[ipos, 2] = (
            bit[ipos] | (ispecial.astype(np.int64) << 8) | (idleft.astype(np.int64) << 9)
        )
        self.thr_k = np.zeros(node.shape[0])
        self.thr_k[ipos] = ithr
        self.widest = int(n_feat.max()) if n_feat.size else 0
        from assay.attribution.shapley._exact_pairs import _max_depth

        self.max_depth = int(_max_depth(arrays[0], arrays[1], roots)) if node.size else 0
        from assay.attribution.shapley._tree_interventional import _leaf_weights

        self.w_x, self.w_r = _leaf_weights(max(self.widest, 1))
        # for :mod:`._tree_pruned_table`: parent positions, leaf numbers in rec[:, 1] at leaves
        self.parent = parent
        lpos = np.flatnonzero(leaf_of >= 0)
        self.rec[lpos, 1] = leaf_of[lpos]
        self.n_leaves = int(lpos.shape[0])
        self._value_k = None

    def value_k(self, ensemble) -> np.ndarray:
        """Leaf values per preorder position (n_positions, n_outputs), built once."""
        if self._value_k is None:
            self._value_k = np.ascontiguousarray(
                np.asarray(ensemble.value, dtype=np.float64)[self.node]
            )
        return self._value_k

    @property
    def fits(self) -> bool:
        """Whether every path's features fit a 64-bit mask (else use another algorithm)."""
        return self.widest <= MAX_PATH_FEATURES

    def fits_background(self, n_background: int) -> bool:
        """Whether the pass words of ``n_background`` rows stay under :data:`MAX_PASS_BYTES`."""
        n_words = max(1, (n_background + 63) // 64)
        return self.fits and self.node.shape[0] * 2 * n_words * 8 <= MAX_PASS_BYTES


@numba.njit(cache=True)
def _child_passes(bgt, arrays, inner, split_le, node, bit, tree_start, passes):
    """``passes[k, 0 / 1, w]``: word ``w`` of the background rows that pass every split on
    the feature of the internal node at position ``k`` down to its left / right child."""
    _, _, _, thr, dleft, is_cat, cat_left, cat_off, cat_val, zmiss = arrays
    ipos, ifeat, ithr, iclr, irpos, idleft, ispecial, int_start = inner
    n_trees = tree_start.shape[0] - 1
    n_bg = bgt.shape[1]
    for t in numba.prange(n_trees):
        s = tree_start[t]
        e = tree_start[t + 1]
        masks = np.empty((e - s, n_bg), dtype=np.int64)
        _block_masks(bgt, s, int_start[t], int_start[t + 1], ipos, ifeat, ithr, iclr, irpos,
                     idleft, ispecial, node, thr, dleft, is_cat, cat_left, cat_off, cat_val,
                     zmiss, split_le, masks)  # fmt: skip
        for ii in range(int_start[t], int_start[t + 1]):
            k = ipos[ii]
            b = bit[k]
            kl = k + 1 - s
            kr = irpos[ii] - s
            for r in range(n_bg):
                w = r >> 6
                one = np.int64(1) << (r & 63)
                if (masks[kl, r] >> b) & 1:
                    passes[k, 0, w] |= one
                if (masks[kr, r] >> b) & 1:
                    passes[k, 1, w] |= one


_child_passes_parallel = numba.njit(parallel=True, cache=True)(_child_passes.py_func)


def build_pruned(layout: PrunedLayout, ensemble, arrays, background: np.ndarray, *,
                 n_threads: int = 1) -> np.ndarray:  # fmt: skip
    """The background's pass words per position and child (see :func:`_child_passes`)."""
    n_words = max(1, (background.shape[0] + 63) // 64)
    passes = np.zeros((layout.node.shape[0], 2, n_words), dtype=np.int64)
    fill = _child_passes_parallel if n_threads > 1 else _child_passes
    fill(np.ascontiguousarray(background.T, dtype=np.float64), arrays, layout.inner,
         bool(ensemble.split_le), layout.node, layout.bit, layout.tree_start,
         passes)  # fmt: skip
    return passes


@numba.njit(cache=True, nogil=True)
def _rows(X, start, stop, rec, thr_k, passes, bg_w, lp_node, tree_start, arrays, split_le,
          tree_output, value_k, w_x, w_r, max_depth, out):  # fmt: skip
    """Interventional SHAP of the margin for rows ``start:stop``, added into ``out``.

    ``rec[k] = (feature or -1 at a leaf, right child's position, bit | special << 8 |
    default_left << 9)`` and ``thr_k[k]`` per preorder position; ``passes[k, 0 / 1, w]`` the
    pass words of the left / right child. The words ``F_j`` live in ``fail`` and are restored on
    backtracking from an undo log (one entry per level of the current path).
    """
    _, _, _, thr, dleft, is_cat, cat_left, cat_off, cat_val, zmiss = arrays
    n_out = value_k.shape[1]
    n_trees = tree_start.shape[0] - 1
    n_bg = bg_w.shape[0]
    nw = passes.shape[2]
    valid = np.zeros(nw, dtype=np.int64)
    for r in range(n_bg):
        if bg_w[r] != 0.0:
            valid[r >> 6] |= np.int64(1) << (r & 63)
    cap = max_depth + 2  # one pending entry per level of the current path at most
    st_pos = np.empty(cap, dtype=np.int64)
    st_u = np.empty(cap, dtype=np.int64)
    st_nb = np.empty(cap, dtype=np.int64)
    st_dep = np.empty(cap, dtype=np.int64)
    st_a = np.empty((cap, nw), dtype=np.int64)
    st_fb = np.empty((cap, nw), dtype=np.int64)  # F of the split feature at the pushed child
    log_bit = np.empty(cap, dtype=np.int64)
    log_old = np.empty((cap, nw), dtype=np.int64)
    cur = np.empty(nw, dtype=np.int64)
    fail = np.zeros((MAX_PATH_FEATURES + 1, nw), dtype=np.int64)  # F_j per path-local bit
    gfeat = np.zeros(MAX_PATH_FEATURES + 1, dtype=np.int64)  # global feature per local bit
    acc = np.zeros(MAX_PATH_FEATURES + 1)
    # rows in blocks, trees outside the rows of a block: a tree's arrays stay in cache for the
    # whole block (per row, the trees are still summed in order)
    for i0 in range(start, stop, _ROW_BLOCK):
        for t in range(n_trees):
            k_out = tree_output[t]
            k_lo = 0 if k_out < 0 else k_out
            k_hi = n_out if k_out < 0 else k_out + 1
            for i in range(i0, min(i0 + _ROW_BLOCK, stop)):
                phi = out[i - start]
                x = X[i]
                k = tree_start[t]
                u_set = np.int64(0)
                nb = 0
                dep = 0
                for w in range(nw):
                    cur[w] = valid[w]
                top = 0
                while True:
                    alive = True
                    while True:  # follow x's side, pushing the other child where some row lives
                        j = rec[k, 0]
                        if j < 0:
                            break
                        v = x[j]
                        packed = rec[k, 2]
                        if packed & 256:
                            gl = goes_left(thr, dleft, is_cat, cat_left, cat_off, cat_val, zmiss,
                                           split_le, lp_node[k], v)  # fmt: skip
                        elif v != v:
                            gl = (packed & 512) != 0
                        elif split_le:
                            gl = v <= thr_k[k]
                        else:
                            gl = v < thr_k[k]
                        b = packed & 255
                        bj = np.int64(1) << b
                        if b == nb:  # the feature's first split on this path
                            gfeat[b] = j
                            nb += 1
                        # branch-free choice of sides (gl is data-dependent): g1 = 1 where x
                        # goes left, so the other child is the right one, passes[k, 1]
                        right = rec[k, 1]
                        g1 = np.int64(1) if gl else np.int64(0)
                        kx = right + g1 * (k + 1 - right)
                        ko = k + 1 + right - kx
                        sx_side = 1 - g1
                        any_o = np.int64(0)
                        for w in range(nw):  # the other child: j joins U
                            p_o = passes[k, g1, w]
                            a_w = cur[w] & p_o
                            st_a[top, w] = a_w
                            st_fb[top, w] = valid[w] & ~p_o
                            any_o |= a_w
                        st_pos[top] = ko
                        st_u[top] = u_set | bj
                        st_nb[top] = nb
                        st_dep[top] = dep + 1
                        top += np.int64(any_o != 0)  # kept only where some row lives there
                        log_bit[dep] = b
                        for w in range(nw):
                            log_old[dep, w] = fail[b, w]
                            fail[b, w] = valid[w] & ~passes[k, sx_side, w]
                        dep += 1
                        k = kx
                        if u_set & bj:  # x failed j higher up: the rows must pass this split too
                            any_x = False
                            for w in range(nw):
                                cur[w] &= ~fail[b, w]
                                if cur[w] != 0:
                                    any_x = True
                            if not any_x:
                                alive = False
                                break
                    if alive:  # a leaf: every row of `cur` reaches it for some coalition
                        u = _popcount(u_set)
                        keep = ~u_set
                        r_sum = 0.0
                        touched = np.int64(0)
                        for w in range(nw):
                            rows = cur[w]
                            while rows != 0:
                                r = trailing_zeros(rows)
                                rows &= rows - 1
                                sx = np.int64(0)
                                for bb in range(nb):
                                    sx |= ((fail[bb, w] >> r) & 1) << bb
                                sx &= keep
                                a = _popcount(sx)
                                wr = bg_w[(w << 6) + r]
                                if u > 0:
                                    r_sum += wr * w_r[a, u]
                                if a > 0:
                                    g = wr * w_x[a, u]
                                    touched |= sx
                                    while sx != 0:
                                        acc[trailing_zeros(sx)] += g
                                        sx &= sx - 1
                        if r_sum != 0.0 or touched != 0:
                            z = touched | u_set
                            while z != 0:
                                b = trailing_zeros(z)
                                z &= z - 1
                                g = acc[b] - r_sum * ((u_set >> b) & 1)
                                acc[b] = 0.0
                                for kk in range(k_lo, k_hi):
                                    phi[gfeat[b], kk] += value_k[k, kk] * g
                    if top == 0:
                        break
                    top -= 1  # backtrack: undo the levels below the pushed child's parent
                    d_new = st_dep[top]
                    while dep > d_new - 1:
                        dep -= 1
                        for w in range(nw):
                            fail[log_bit[dep], w] = log_old[dep, w]
                    b = log_bit[dep]  # the parent's split feature: the other side's F
                    for w in range(nw):
                        fail[b, w] = st_fb[top, w]
                        cur[w] = st_a[top, w]
                    dep = d_new
                    k = st_pos[top]
                    u_set = st_u[top]
                    nb = st_nb[top]


@numba.njit(parallel=True, cache=True)
def _rows_parallel(X, rec, thr_k, passes, bg_w, lp_node, tree_start, arrays, split_le,
                   tree_output, value_k, w_x, w_r, max_depth, out, block):  # fmt: skip
    n_blocks = (X.shape[0] + block - 1) // block
    for c in numba.prange(n_blocks):
        start = c * block
        stop = min(start + block, X.shape[0])
        _rows(X, start, stop, rec, thr_k, passes, bg_w, lp_node, tree_start, arrays, split_le,
              tree_output, value_k, w_x, w_r, max_depth, out[start:stop])  # fmt: skip


def build_pruned_table(layout: PrunedLayout, ensemble, passes: np.ndarray,
                       n_background: int):  # fmt: skip
    """The per-background data of :mod:`._tree_pruned_table` (the leaf work summed per
    feature set), or None where it does not apply (more than
    :data:`~._tree_pruned_table.MAX_TABLE_FEATURES` features, or masks over
    :data:`MAX_PASS_BYTES`)."""
    from assay.attribution.shapley._tree_pruned_table import build_table, fits_table

    if not fits_table(layout, int(ensemble.n_features), n_background, MAX_PASS_BYTES):
        return None
    return build_table(layout, ensemble, passes, n_background)


def pruned_shap(layout: PrunedLayout, passes: np.ndarray, ensemble, arrays,
                X: np.ndarray, weights: np.ndarray, out: np.ndarray, *,
                n_threads: int = 1, table=None) -> None:  # fmt: skip
    """Add the interventional SHAP values of the margin of rows ``X`` into ``out`` (n, d, k).

    ``passes`` comes from :func:`build_pruned` for the background whose row weights are
    ``weights``; the layout must fit (:attr:`PrunedLayout.fits`). With ``table`` (from
    :func:`build_pruned_table` for the same background) the leaf work is summed per feature
    set (:mod:`._tree_pruned_table`, ~3x faster on deep forests); the values agree to rounding.
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    if table is not None:
        from assay.attribution.shapley._tree_pruned_table import MAX_TABLE_FEATURES, table_shap

        if X.shape[1] <= MAX_TABLE_FEATURES:
            table_shap(layout, passes, table, ensemble, arrays, X, weights, out,
                       n_threads=n_threads)  # fmt: skip
            return
    args = (layout.rec, layout.thr_k, passes, np.ascontiguousarray(weights, dtype=np.float64),
            layout.node, layout.tree_start, arrays, bool(ensemble.split_le),
            np.ascontiguousarray(ensemble.tree_output, dtype=np.int64),
            layout.value_k(ensemble), layout.w_x, layout.w_r,
            layout.max_depth)  # fmt: skip
    n = X.shape[0]
    if n_threads <= 1 or n < 2:
        _rows(X, 0, n, *args, out)
        return
    block = max(1, min(16, -(-n // (4 * n_threads))))
    _rows_parallel(X, *args, out, block)
