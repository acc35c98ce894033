"""Interventional TreeSHAP of the margin from per-leaf background patterns (no per-pair walk).

For a leaf ``l`` with value ``v``, let ``P`` be the distinct features on its path. A row ``x``
*passes* feature ``j`` when its value of ``j`` satisfies every split on ``j`` along the path;
write ``ox`` for the set of passed features and ``m`` for the set a background row ``r``
passes. The hybrid ``(x_S, r_{-S})`` reaches ``l`` exactly when every feature of ``P`` is taken
from a row that passes it, so the leaf's game for the pair is zero unless ``U = P \\ ox`` (the
features ``x`` fails) is inside ``m``, and then it is ``v [Sx ⊆ S] [U ∩ S = ∅]`` with
``Sx = ox \\ m``. Its Shapley values, with ``a = |Sx|`` and ``u = |U|``, are

    +v (a-1)! u! / (a+u)!   for each feature in Sx,
    -v a! (u-1)! / (a+u)!   for each feature in U.

The pair enters only through the two bit masks ``(ox, m)`` over ``P``, and since ``m``
contains ``U``, ``Sx`` is the complement of ``m`` and ``a = |P| - |m|``. So the background is
summarized once per leaf by its *distinct* masks with their total weights (at most
``min(|B|, 2^|P|)`` of them, sorted by decreasing popcount), and a row computes ``ox`` for
every leaf in one preorder pass over the tree (:func:`_block_masks`, which also routes the
background). Then, per leaf, either

* a lookup table over the fail set ``U`` (``3 * 2^|P|`` floats, built by superset-sum
  transforms at Gauss-Legendre points, see :func:`_leaf_table`) gives the values in
  ``O(|P|)``; it is built for narrow paths when building costs less than scanning would for
  the rows to explain, or
* the masks containing ``U`` are found as the AND of ``u`` class words (per path feature, a
  bit per mask that contains it, see :func:`_mask_classes`), and only those are visited: on
  deep paths most masks miss ``U``, and testing each one was most of the run time.

The cost per row is ``O(nodes + leaf work)`` per tree instead of one tree walk per (row,
background row) pair; the background size only enters through the merged masks. Rows are
explained in blocks of :data:`_ROW_BLOCK`, tree by tree, so that a tree's leaf data is read
from memory once per block rather than once per row (that halved the time of deep forests,
whose merged masks do not fit in cache).

Leaves whose path has more than :data:`MAX_PATH_FEATURES` distinct features do not fit a
64-bit mask; :func:`build_leaf_patterns` returns None for such ensembles and the caller falls
back to the pair walk.
"""

from __future__ import annotations

import numba
import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

from assay.attribution.shapley._tree_path import goes_left

__all__ = ["MAX_PATH_FEATURES", "LeafPatterns", "build_leaf_patterns", "leaf_pattern_shap"]

#: Most distinct features on one root-to-leaf path that a bit mask can hold.
MAX_PATH_FEATURES = 62
# 0x9E3779B97F4A7C15 as a signed 64-bit integer (an unsigned constant would turn the product
# into a float in numba)
_HASH = np.int64(-7046029254386353131)


class LeafPatterns:
    """Preorder layout of the trees and the merged background masks of every leaf.

    Per preorder position ``k`` (trees one after another, ``tree_start[t]`` the first):
    ``node[k]`` (global node id), ``parent[k]`` (position, -1 at roots), ``is_left[k]``, and
    ``bit[k]`` (the path-local index of ``feature[node[k]]`` at an internal node). Per leaf
    position ``k``: ``leaf_of[k]`` (leaf number, -1 at internal nodes); per leaf number ``q``:
    ``n_feat[q]``, ``feat[feat_off[q]:feat_off[q + 1]]`` (global feature per local index) and its
    masks ``mask[off[q]:off[q + 1]]`` with weights ``weight[...]`` and popcounts ``count[...]``,
    and their class words ``cls[cls_off[q]:cls_off[q + 1]]`` (:func:`_mask_classes`). Leaves
    ``leaf_start[t]:leaf_start[t + 1]`` belong to tree ``t`` and sit at positions ``leaf_pos``;
    ``inner`` holds the internal nodes' arrays of :func:`_inner_nodes`.
    """

    def __init__(self, **arrays):
        self.__dict__.update(arrays)


@numba.njit(cache=True, nogil=True, inline="always")
def _popcount(z):
    z = z - ((z >> 1) & 0x5555555555555555)
    z = (z & 0x3333333333333333) + ((z >> 2) & 0x3333333333333333)
    z = (z + (z >> 4)) & 0x0F0F0F0F0F0F0F0F
    return (z * 0x0101010101010101) >> 56


@numba.njit(cache=True)
def _layout(left, right, feature, roots):
    """Preorder positions, path-local feature bits and leaf numbering of every tree.

    A feature's path-local index is its rank of first appearance on the path from the root,
    so an index is the same at every node below its first split. Returns the arrays of
    :class:`LeafPatterns` that do not depend on the background, and the widest path.
    """
    n_nodes = left.shape[0]
    n_trees = roots.shape[0]
    node = np.empty(n_nodes, dtype=np.int64)
    parent = np.empty(n_nodes, dtype=np.int64)
    is_left = np.zeros(n_nodes, dtype=np.bool_)
    bit = np.full(n_nodes, -1, dtype=np.int64)
    leaf_of = np.full(n_nodes, -1, dtype=np.int64)
    n_dist = np.zeros(n_nodes, dtype=np.int64)  # distinct features strictly above position k
    tree_start = np.empty(n_trees + 1, dtype=np.int64)
    n_leaves = 0
    for nd in range(n_nodes):
        if left[nd] < 0:
            n_leaves += 1
    n_feat = np.zeros(n_leaves, dtype=np.int64)
    stack = np.empty((n_nodes + 1, 2), dtype=np.int64)  # (node, parent position)
    pos = 0
    q = 0
    for t in range(n_trees):
        tree_start[t] = pos
        stack[0, 0] = roots[t]
        stack[0, 1] = -1
        top = 1
        while top > 0:
            top -= 1
            nd = stack[top, 0]
            p = stack[top, 1]
            node[pos] = nd
            parent[pos] = p
            if p >= 0:
                is_left[pos] = left[node[p]] == nd
                n_dist[pos] = n_dist[p] + (1 if bit[p] == n_dist[p] else 0)
            if left[nd] >= 0:
                j = feature[nd]
                b = n_dist[pos]  # new on this path unless an ancestor splits on j
                a = p
                while a >= 0:
                    if feature[node[a]] == j:
                        b = bit[a]
                        break
                    a = parent[a]
                bit[pos] = b
                stack[top, 0] = right[nd]
                stack[top, 1] = pos
                stack[top + 1, 0] = left[nd]
                stack[top + 1, 1] = pos
                top += 2
            else:
                leaf_of[pos] = q
                n_feat[q] = n_dist[pos]
                q += 1
            pos += 1
    tree_start[n_trees] = pos
    return node, parent, is_left, bit, leaf_of, tree_start, n_feat


@numba.njit(cache=True)
def _leaf_features(node, parent, bit, leaf_of, feature, feat_off, feat):
    """``feat[feat_off[q] + b]``: the global feature of path-local index ``b`` at leaf ``q``."""
    for k in range(node.shape[0]):
        q = leaf_of[k]
        if q < 0:
            continue
        a = parent[k]
        while a >= 0:
            feat[feat_off[q] + bit[a]] = feature[node[a]]
            a = parent[a]


@numba.njit(cache=True, nogil=True)
def _block_masks(xt, s, i_lo, i_hi, ipos, ifeat, ithr, iclr, irpos, idleft, ispecial, node,
                 thr, dleft, is_cat, cat_left, cat_off, cat_val, zmiss, split_le,
                 masks):  # fmt: skip
    """``masks[k - s, c]``: bits of the path features that row ``c`` passes down to ``k``.

    ``xt`` holds the rows as columns (features x rows). One pass over the internal nodes
    ``i_lo:i_hi`` of a tree (preorder) pushes each node's mask to its two children, the left
    one clearing the node's bit for rows going right and vice versa; the inner loop over the
    rows is branch-free for plain numerical splits (NaN goes to the default side).
    """
    nb = xt.shape[1]
    masks[0, :nb] = -1
    for ii in range(i_lo, i_hi):
        k = ipos[ii] - s
        kr = irpos[ii] - s
        j = ifeat[ii]
        clr = iclr[ii]
        xj = xt[j]
        m_in = masks[k]
        m_l = masks[k + 1]
        m_r = masks[kr]
        if ispecial[ii]:  # categorical or zero-as-missing: the general rule
            nd = node[ipos[ii]]
            for c in range(nb):
                gl = goes_left(thr, dleft, is_cat, cat_left, cat_off, cat_val, zmiss,
                               split_le, nd, xj[c])  # fmt: skip
                m = m_in[c]
                m_l[c] = m if gl else m & clr
                m_r[c] = m & clr if gl else m
            continue
        th = ithr[ii]
        dl = idleft[ii]
        if split_le:
            for c in range(nb):
                v = xj[c]
                gl = (v <= th) | (dl & (v != v))
                m = m_in[c]
                m_l[c] = m if gl else m & clr
                m_r[c] = m & clr if gl else m
        else:
            for c in range(nb):
                v = xj[c]
                gl = (v < th) | (dl & (v != v))
                m = m_in[c]
                m_l[c] = m if gl else m & clr
                m_r[c] = m & clr if gl else m


@numba.njit(cache=True)
def _merge(bgt, bg_w, arrays, inner, split_le, node, leaf_of, tree_start, n_feat, fill, off,
           mask_out, weight_out, count_out, n_unique):  # fmt: skip
    """Merge the background masks of every leaf (a count pass, then a fill pass).

    ``bgt`` is the background transposed (features x rows). Duplicates are merged with a
    small open-addressing hash table (O(|B|) per leaf) and the distinct masks are ordered by
    decreasing popcount with a counting sort.
    """
    _, _, _, thr, dleft, is_cat, cat_left, cat_off, cat_val, zmiss = arrays
    ipos, ifeat, ithr, iclr, irpos, idleft, ispecial, int_start = inner
    n_trees = tree_start.shape[0] - 1
    n_bg = bgt.shape[1]
    n_slots = 4
    while n_slots < 2 * n_bg:
        n_slots *= 2
    for t in numba.prange(n_trees):
        s = tree_start[t]
        e = tree_start[t + 1]
        masks = np.empty((e - s, n_bg), dtype=np.int64)
        _block_masks(bgt, s, int_start[t], int_start[t + 1], ipos, ifeat, ithr, iclr, irpos,
                     idleft, ispecial, node, thr, dleft, is_cat, cat_left, cat_off, cat_val,
                     zmiss, split_le, masks)  # fmt: skip
        slot_key = np.empty(n_slots, dtype=np.int64)
        slot_id = np.full(n_slots, -1, dtype=np.int64)
        uniq = np.empty(n_bg, dtype=np.int64)
        wsum = np.empty(n_bg)
        used = np.empty(n_bg, dtype=np.int64)
        by_count = np.zeros(MAX_PATH_FEATURES + 2, dtype=np.int64)
        for k in range(s, e):
            q = leaf_of[k]
            if q < 0:
                continue
            d = n_feat[q]
            full = (np.int64(1) << d) - 1
            nu = 0
            for b in range(n_bg):
                key = masks[k - s, b] & full
                h = (key * _HASH) >> 40  # multiplicative (Fibonacci) hash
                h &= n_slots - 1
                while slot_id[h] >= 0 and slot_key[h] != key:
                    h = (h + 1) & (n_slots - 1)
                if slot_id[h] < 0:
                    slot_id[h] = nu
                    slot_key[h] = key
                    used[nu] = h
                    uniq[nu] = key
                    wsum[nu] = 0.0
                    nu += 1
                wsum[slot_id[h]] += bg_w[b]
            for r in range(nu):
                slot_id[used[r]] = -1
            n_unique[q] = nu
            if not fill:
                continue
            by_count[: d + 2] = 0
            for r in range(nu):  # counting sort, most bits first
                by_count[d - _popcount(uniq[r]) + 1] += 1
            for c in range(1, d + 2):
                by_count[c] += by_count[c - 1]
            o = off[q]
            for r in range(nu):
                pc = _popcount(uniq[r])
                dst = o + by_count[d - pc]
                by_count[d - pc] += 1
                mask_out[dst] = uniq[r]
                weight_out[dst] = wsum[r]
                count_out[dst] = pc


_merge_parallel = numba.njit(parallel=True, cache=True)(_merge.py_func)


@numba.njit(cache=True)
def _mask_classes(n_feat, off, mask, cls_off, cls):
    """``cls[cls_off[q] + b * nw + w]``: which of leaf ``q``'s masks contain local feature ``b``.

    Bit ``r`` of word ``w`` stands for the leaf's mask ``64 w + r`` (``nw`` words per feature).
    A row with fail set ``U`` needs the masks containing ``U``: the AND of ``u`` words per 64
    masks, instead of a test per mask (most scanned masks of deep paths fail the test).
    """
    for q in range(n_feat.shape[0]):
        o = off[q]
        nu = off[q + 1] - o
        nw = (nu + 63) >> 6
        co = cls_off[q]
        for r in range(nu):
            m = mask[o + r]
            wd = r >> 6
            bit_r = np.int64(1) << (r & 63)
            while m != 0:
                b = trailing_zeros(m)
                m &= m - 1
                cls[co + b * nw + wd] |= bit_r


@numba.njit(cache=True)
def _tables(tree_start, leaf_of, n_feat, off, mask, weight, tab_off, tab, gauss_t, gauss_w):
    """Per-leaf lookup tables over the fail set ``U`` of a row (see :func:`_leaf_table`)."""
    n_trees = tree_start.shape[0] - 1
    for t in numba.prange(n_trees):
        y = np.empty(0)
        for k in range(tree_start[t], tree_start[t + 1]):
            q = leaf_of[k]
            if q < 0 or tab_off[q] < 0:
                continue
            d = n_feat[q]
            if y.shape[0] < (1 << d):
                y = np.empty(1 << d)
            n_q = max(1, (d + 1) // 2)
            _leaf_table(d, mask[off[q] : off[q + 1]], weight[off[q] : off[q + 1]],
                        tab[tab_off[q] : tab_off[q] + 3 * (1 << d)], y,
                        gauss_t[n_q], gauss_w[n_q], n_q)  # fmt: skip


@numba.njit(cache=True, nogil=True)
def _leaf_table(d, mask, weight, tab, y, t_q, w_q, n_q):
    """``tab[3U : 3U + 3] = (R(U), X0(U), X1(U))`` for every fail set ``U`` of one leaf.

    With ``a = d - |m|`` for a mask ``m ⊇ U`` (so ``ox - m`` is the complement of ``m``),
    the Beta integrals ``a! (u-1)! / (a+u)! = ∫ t^a (1-t)^(u-1)`` and
    ``(a-1)! u! / (a+u)! = ∫ t^(a-1) (1-t)^u`` have degree below ``d``, so ``ceil(d/2)``
    Gauss-Legendre points give them exactly. With ``Y_t(U) = sum_{m ⊇ U} W_m t^(d-|m|)`` (a
    superset-sum transform per point), a row with fail set ``U`` (``u = |U|``) gets
    ``-v R(U)`` on every feature of ``U`` and ``v (X0(U) - X1(U + j))`` on each passed ``j``:

        R(U)  = sum_q w_q (1-t_q)^(u-1) Y_q(U)
        X0(U) = sum_q w_q (1-t_q)^u / t_q Y_q(U),   X1(M) = sum_q w_q (1-t_q)^(|M|-1) / t_q Y_q(M)

    (masks containing ``j`` cancel in the difference, leaving ``a >= 1``).
    """
    size = 1 << d
    tab[: 3 * size] = 0.0
    for qq in range(n_q):
        t = t_q[qq]
        y[:size] = 0.0
        for r in range(mask.shape[0]):
            y[mask[r]] += weight[r] * t ** (d - _popcount(mask[r]))
        for j in range(d):  # superset sums
            bj = 1 << j
            for u_set in range(size):
                if u_set & bj == 0:
                    y[u_set] += y[u_set | bj]
        for u_set in range(size):
            u = _popcount(u_set)
            yv = y[u_set] * w_q[qq]
            if u > 0:
                f = (1.0 - t) ** (u - 1) * yv
                tab[3 * u_set] += f
                tab[3 * u_set + 2] += f / t
            tab[3 * u_set + 1] += (1.0 - t) ** u * yv / t


_tables_parallel = numba.njit(parallel=True, cache=True)(_tables.py_func)

#: Widest path that gets a lookup table (3 * 2^d floats per leaf); wider tables were slower
#: than scanning the masks (cache misses) in the benchmarks.
MAX_TABLE_FEATURES = 6
# Rows explained together tree by tree (their leaf data is read once per block).
_ROW_BLOCK = 16
# Largest scratch for merging the background masks in one pass.
_ONE_PASS_BYTES = 2**28
# A table pays off when building it costs less than scanning the leaf's masks for every row;
# a scanned mask costs about this many transform steps (a mispredicted branch each).
_SCAN_COST = 8


def _gauss_tables(n_max: int) -> tuple[np.ndarray, np.ndarray]:
    t = np.zeros((n_max + 1, n_max))
    w = np.zeros((n_max + 1, n_max))
    for n in range(1, n_max + 1):
        x, wx = np.polynomial.legendre.leggauss(n)
        t[n, :n] = (x + 1.0) / 2.0
        w[n, :n] = wx / 2.0
    return t, w


def _choose_tables(n_feat, n_unique, n_rows: int, budget: int) -> np.ndarray:
    """Offsets into the table array per leaf (-1: scan the masks), and the total size."""
    d = n_feat.astype(np.int64)
    n_q = np.maximum(1, (d + 1) // 2)
    size = 3 * (np.int64(1) << np.minimum(d, MAX_TABLE_FEATURES))
    build = (np.int64(1) << np.minimum(d, MAX_TABLE_FEATURES)) * n_q * (d + 4)
    want = (d <= MAX_TABLE_FEATURES) & (build <= _SCAN_COST * n_rows * n_unique)
    order = np.argsort(np.where(want, size, np.iinfo(np.int64).max), kind="stable")
    take = want[order] & (np.cumsum(np.where(want[order], size[order], 0)) * 8 <= budget)
    chosen = np.zeros(d.shape[0], dtype=bool)
    chosen[order[take]] = True
    tab_off = np.full(d.shape[0] + 1, -1, dtype=np.int64)
    sizes = np.where(chosen, size, 0)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    tab_off[:-1] = np.where(chosen, starts[:-1], -1)
    tab_off[-1] = starts[-1]
    return tab_off


def _inner_nodes(arrays, node, parent, is_left, bit, leaf_of, tree_start) -> tuple:
    """Per internal node in preorder, what :func:`_block_masks` reads (contiguous arrays).

    ``(position, feature, threshold, ~bit mask, right child's position, default left,
    special (categorical or zero-as-missing), first internal node of each tree)``.
    """
    _, _, feature, thr, dleft, is_cat, _, _, _, zmiss = arrays
    pos = np.flatnonzero(leaf_of < 0)
    nd = node[pos]
    right = (parent >= 0) & ~is_left
    rpos = np.empty(node.shape[0], dtype=np.int64)
    rpos[parent[right]] = np.flatnonzero(right)
    return (pos.astype(np.int64), feature[nd], thr[nd], ~(np.int64(1) << bit[pos]), rpos[pos],
            dleft[nd], is_cat[nd] | zmiss[nd],
            np.searchsorted(pos, tree_start).astype(np.int64))  # fmt: skip


def build_leaf_patterns(ensemble, arrays, background, weights, *, n_rows: int, n_threads: int,
                        table_budget: int = 2**28):  # fmt: skip
    """Tables of :class:`LeafPatterns` for ``background``, or None when a path is too wide.

    ``n_rows`` (the rows to explain) decides which leaves get a lookup table; the tables use
    at most ``table_budget`` bytes.
    """
    left = arrays[0]
    roots = np.ascontiguousarray(ensemble.roots, dtype=np.int64)
    node, parent, is_left, bit, leaf_of, tree_start, n_feat = _layout(
        left, arrays[1], arrays[2], roots
    )
    widest = int(n_feat.max()) if n_feat.size else 0
    if widest > MAX_PATH_FEATURES:
        return None
    feat_off = np.zeros(n_feat.shape[0] + 1, dtype=np.int64)
    np.cumsum(n_feat, out=feat_off[1:])
    feat = np.empty(feat_off[-1], dtype=np.int64)
    _leaf_features(node, parent, bit, leaf_of, arrays[2], feat_off, feat)
    split_le = bool(ensemble.split_le)
    inner = _inner_nodes(arrays, node, parent, is_left, bit, leaf_of, tree_start)
    parallel = n_threads > 1
    merge = _merge_parallel if parallel else _merge
    n_unique = np.zeros(n_feat.shape[0], dtype=np.int64)
    empty_i = np.zeros(0, dtype=np.int64)
    common = (np.ascontiguousarray(background.T), weights, arrays, inner, split_le, node,
              leaf_of, tree_start, n_feat)  # fmt: skip
    # one pass into room for min(|B|, 2^d) masks per leaf, then compaction; a count pass first
    # when that room would be large
    room = np.minimum(background.shape[0], np.int64(1) << np.minimum(n_feat, 62))
    if int(room.sum()) * 24 <= _ONE_PASS_BYTES:
        raw = np.zeros(n_feat.shape[0] + 1, dtype=np.int64)
        np.cumsum(room, out=raw[1:])
        mask = np.empty(raw[-1], dtype=np.int64)
        weight = np.empty(raw[-1])
        count = np.empty(raw[-1], dtype=np.int64)
        merge(*common, True, raw, mask, weight, count, n_unique)
        off = np.zeros(n_feat.shape[0] + 1, dtype=np.int64)
        np.cumsum(n_unique, out=off[1:])
        keep = np.repeat(raw[:-1] - off[:-1], n_unique) + np.arange(off[-1])
        mask, weight, count = mask[keep], weight[keep], count[keep]
    else:
        merge(*common, False, empty_i, empty_i, np.zeros(0), empty_i, n_unique)
        off = np.zeros(n_feat.shape[0] + 1, dtype=np.int64)
        np.cumsum(n_unique, out=off[1:])
        mask = np.empty(off[-1], dtype=np.int64)
        weight = np.empty(off[-1])
        count = np.empty(off[-1], dtype=np.int64)
        merge(*common, True, off, mask, weight, count, n_unique)
    cls_off = np.zeros(n_feat.shape[0] + 1, dtype=np.int64)
    np.cumsum(n_feat * ((n_unique + 63) >> 6), out=cls_off[1:])
    cls = np.zeros(cls_off[-1], dtype=np.int64)
    _mask_classes(n_feat, off, mask, cls_off, cls)
    tab_off = _choose_tables(n_feat, n_unique, n_rows, table_budget)
    tab = np.empty(tab_off[-1])
    g_t, g_w = _gauss_tables((MAX_TABLE_FEATURES + 1) // 2)
    (_tables_parallel if parallel else _tables)(tree_start, leaf_of, n_feat, off, mask, weight,
                                                 tab_off, tab, g_t, g_w)  # fmt: skip
    leaf_pos = np.flatnonzero(leaf_of >= 0)  # leaves are numbered in preorder
    leaf_start = np.searchsorted(leaf_pos, tree_start).astype(np.int64)
    return LeafPatterns(node=node, parent=parent, is_left=is_left, bit=bit, leaf_of=leaf_of,
                        leaf_pos=leaf_pos, leaf_start=leaf_start, inner=inner,
                        tree_start=tree_start, n_feat=n_feat, feat_off=feat_off, feat=feat,
                        off=off, mask=mask, weight=weight, count=count, cls_off=cls_off,
                        cls=cls, tab_off=tab_off, tab=tab)  # fmt: skip


@numba.njit(cache=True, nogil=True)
def _rows(X, start, stop, lp_node, inner, leaf_pos, leaf_start, tree_start,
          n_feat, feat_off, feat, off, mask, weight, count, cls_off, cls, tab_off, tab, arrays,
          split_le, tree_output, value, w_x, w_r, out):  # fmt: skip
    """Interventional SHAP of the margin for rows ``start:stop``, added into ``out``."""
    _, _, _, thr, dleft, is_cat, cat_left, cat_off, cat_val, zmiss = arrays
    ipos, ifeat, ithr, iclr, irpos, idleft, ispecial, int_start = inner
    n_out = value.shape[1]
    n_trees = tree_start.shape[0] - 1
    widest = 1
    for t in range(n_trees):
        widest = max(widest, tree_start[t + 1] - tree_start[t])
    masks = np.empty((widest, _ROW_BLOCK), dtype=np.int64)
    xt = np.empty((X.shape[1], _ROW_BLOCK))
    acc = np.zeros(MAX_PATH_FEATURES + 1)
    # rows in blocks, trees outside the rows of a block: a tree's leaf data stays in cache
    # for the whole block (per row, the order of the sums is unchanged)
    for i0 in range(start, stop, _ROW_BLOCK):
        i1 = min(i0 + _ROW_BLOCK, stop)
        xb = xt[:, : i1 - i0]
        for i in range(i0, i1):
            xb[:, i - i0] = X[i]
        for t in range(n_trees):
            s = tree_start[t]
            k_out = tree_output[t]
            k_lo = 0 if k_out < 0 else k_out
            k_hi = n_out if k_out < 0 else k_out + 1
            _block_masks(xb, s, int_start[t], int_start[t + 1], ipos, ifeat, ithr, iclr, irpos,
                         idleft, ispecial, lp_node, thr, dleft, is_cat, cat_left, cat_off,
                         cat_val, zmiss, split_le, masks)  # fmt: skip
            for i in range(i0, i1):
                phi = out[i - start]
                c = i - i0
                for q in range(leaf_start[t], leaf_start[t + 1]):
                    k = leaf_pos[q]
                    d = n_feat[q]
                    full = (np.int64(1) << d) - 1
                    ox = masks[k - s, c] & full
                    fail = full & ~ox
                    nd = lp_node[k]
                    f0 = feat_off[q]
                    to = tab_off[q]
                    if to >= 0:  # lookup table
                        r_sum = tab[to + 3 * fail]
                        x0 = tab[to + 3 * fail + 1]
                        if x0 == 0.0 and r_sum == 0.0:
                            continue  # exactly zero: no background mask contains `fail`
                        for b in range(d):
                            bb = np.int64(1) << b
                            if fail & bb:
                                g = -r_sum
                            else:
                                g = x0 - tab[to + 3 * (fail | bb) + 2]
                            for kk in range(k_lo, k_hi):
                                phi[feat[f0 + b], kk] += value[nd, kk] * g
                        continue
                    u = _popcount(fail)
                    r_sum = 0.0
                    touched = np.int64(0)
                    o = off[q]
                    nu = off[q + 1] - o
                    nw = (nu + 63) >> 6
                    co = cls_off[q]
                    for wd in range(nw):
                        # the masks containing `fail`: AND of the class words of its features
                        rest = nu - (wd << 6)
                        cur = np.int64(-1) if rest >= 64 else (np.int64(1) << rest) - 1
                        f = fail
                        while f != 0 and cur != 0:
                            cur &= cls[co + trailing_zeros(f) * nw + wd]
                            f &= f - 1
                        while cur != 0:
                            r = o + (wd << 6) + trailing_zeros(cur)
                            cur &= cur - 1
                            a = d - count[r]  # m contains fail: x passes and r fails ~m
                            if u > 0:
                                r_sum += weight[r] * w_r[a, u]
                            if a > 0:
                                g = weight[r] * w_x[a, u]
                                sx = full & ~mask[r]
                                touched |= sx
                                while sx != 0:
                                    acc[trailing_zeros(sx)] += g
                                    sx &= sx - 1
                    if r_sum == 0.0 and touched == 0:
                        continue
                    for b in range(d):  # no branch: acc is 0 off `touched`, which misses `fail`
                        g = acc[b] - r_sum * ((fail >> b) & 1)
                        acc[b] = 0.0
                        for kk in range(k_lo, k_hi):
                            phi[feat[f0 + b], kk] += value[nd, kk] * g


@numba.njit(parallel=True, cache=True)
def _rows_parallel(X, lp_node, inner, leaf_pos, leaf_start, tree_start,
                   n_feat, feat_off, feat, off, mask, weight, count, cls_off, cls, tab_off, tab,
                   arrays, split_le, tree_output, value, w_x, w_r, out, block):  # fmt: skip
    n_blocks = (X.shape[0] + block - 1) // block
    for c in numba.prange(n_blocks):
        start = c * block
        stop = min(start + block, X.shape[0])
        _rows(X, start, stop, lp_node, inner, leaf_pos, leaf_start, tree_start,
              n_feat, feat_off, feat, off, mask, weight, count, cls_off, cls, tab_off, tab, arrays,
              split_le, tree_output, value, w_x, w_r, out[start:stop])  # fmt: skip


def leaf_pattern_shap(patterns: LeafPatterns, ensemble, arrays, X, out, w_x, w_r, *,
                      n_threads: int) -> None:  # fmt: skip
    """Add the interventional SHAP values of the margin of rows ``X`` into ``out`` (n, d, k)."""
    lp = patterns
    args = (lp.node, lp.inner, lp.leaf_pos, lp.leaf_start, lp.tree_start,
            lp.n_feat, lp.feat_off, lp.feat, lp.off, lp.mask, lp.weight, lp.count, lp.cls_off,
            lp.cls, lp.tab_off, lp.tab, arrays, bool(ensemble.split_le),
            np.ascontiguousarray(ensemble.tree_output, dtype=np.int64),
            np.ascontiguousarray(ensemble.value, dtype=np.float64), w_x, w_r)  # fmt: skip
    n = X.shape[0]
    if n_threads <= 1 or n < 2:
        _rows(X, 0, n, *args, out)
        return
    block = max(1, min(16, -(-n // (4 * n_threads))))
    _rows_parallel(X, *args, out, block)
