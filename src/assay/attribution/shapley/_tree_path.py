"""Path-dependent TreeSHAP in O(T·N·D) per row: Gauss-Legendre evaluation of the path polynomials.

The formulation is the one of Linear TreeShap (Yu et al., NeurIPS 2022). For a leaf ``l`` with
value ``v`` whose path uses the set ``P`` of distinct features, each feature ``j`` has a *zero
fraction* ``z_j`` (product of the cover ratios of the path's nodes that split on ``j``) and a *one
fraction* ``o_j`` in {0, 1} (whether ``x`` follows all of those nodes). The path-dependent
Shapley value of feature ``i`` from that leaf is

    phi_i = v (o_i - z_i) sum_{S ⊆ P \\ {i}} |S|! (p - |S| - 1)! / p! prod_{j in S} o_j
            prod_{j in P \\ S \\ {i}} z_j
          = v (o_i - z_i) ∫_0^1 prod_{j != i} f_j(t) dt,   f_j(t) = z_j (1 - t) + o_j t,

because ``s! (p-s-1)! / p! = ∫ t^s (1-t)^(p-1-s) dt``. The integrand is a polynomial of degree
``p - 1 <= D - 1``, so ``Q = ceil(D / 2)`` Gauss-Legendre points on [0, 1] integrate it exactly.
Writing ``G_l(t) = prod_{j in P} f_j(t)`` and ``H_e(t) = sum_{leaves l below edge e} v_l G_l(t)``,
the value of feature ``i`` is a sum over the edges ``e`` that leave a node splitting on ``i``:

    phi_i = sum_e sum_q w_q H_e(t_q) [c(z_e, o_e, t_q) - c(z'_e, o'_e, t_q)],
    c(z, o, t) = (o - z) / f(t),

where ``(z_e, o_e)`` are the fractions of ``i`` accumulated down to ``e`` and ``(z'_e, o'_e)``
those before the previous split on ``i`` on the same path (``c' = 0`` for the first one): the
differences telescope to the leaf formula, and Gauss quadrature is linear, so the sum is exact.
``G`` is pushed down the tree and ``H`` summed up it in one preorder pass: O(Q) work per node.

Numerics: every ``f_j(t_q)`` lies in [0, 1], so ``G`` never overflows; ``c`` is bounded by
``1 / t_1`` and ``1 / (1 - t_Q)`` (never a division by a cover); every ratio ``f_new / f_old``
is tabulated per node once, without dividing by anything that can be zero. The result is stable
for any depth (tested to depth 20 against a brute-force enumeration).
"""

from __future__ import annotations

import numba
import numpy as np

from assay.model._tree_ensemble import ZERO_THRESHOLD, TreeEnsemble
from assay.model._tree_predict import traversal_arrays

__all__ = ["PathPlan", "build_path_plan", "path_dependent_shap"]

# Rows processed together per tree walk.
_BLOCK = 32
# Largest float that is safely converted to int64 when reading a category code.
_MAX_CODE = 9.0e18


class PathPlan:
    """Per-ensemble tables for :func:`path_dependent_shap` (built once per explainer).

    Nodes are stored in preorder, tree after tree; ``tree_start[t]`` is the first position of
    tree ``t``. Per position ``k``: ``node[k]`` (global node id), ``depth[k]`` (root = 0),
    ``parent[k]`` and ``prev[k]`` (positions, relative to the tree's start, of the parent and
    of the edge below the previous split on the same feature, or -1), ``edge_feature[k]`` (the
    parent's feature) and the tables ``ratio[k, combo, q]`` and ``coef[k, combo, q]`` indexed
    by ``combo = o_new + o_old`` (see the module docstring).
    """

    def __init__(self, **arrays):
        self.__dict__.update(arrays)


@numba.njit(cache=True, nogil=True)
def _in_set(cat_offsets, cat_values, node, x):
    """Whether the category code of ``x`` is in the set of categorical ``node``."""
    if not (x >= 0.0 and x < _MAX_CODE):
        return False
    code = np.int64(x)
    lo = cat_offsets[node]
    end = cat_offsets[node + 1]
    hi = end
    while lo < hi:  # binary search in the sorted set
        mid = (lo + hi) // 2
        if cat_values[mid] < code:
            lo = mid + 1
        else:
            hi = mid
    return lo < end and cat_values[lo] == code


@numba.njit(cache=True, nogil=True, inline="always")
def goes_left(threshold, default_left, is_cat, cat_left, cat_offsets, cat_values, zero_missing,
              split_le, node, x):  # fmt: skip
    """Whether value ``x`` of the node's feature goes left at internal ``node``.

    The same rule as :func:`assay.model._tree_predict.next_node` (NaN and LightGBM's
    zero-as-missing follow ``default_left``, categorical sets, ``<=`` or ``<``), over the
    arrays one by one: reading them from the tuple inside the hot loop cost reference counting
    that dominated the run time.
    """
    if np.isnan(x) or (zero_missing[node] and abs(x) <= ZERO_THRESHOLD):
        return default_left[node]
    if is_cat[node]:
        return _in_set(cat_offsets, cat_values, node, x) == cat_left[node]
    if split_le:
        return x <= threshold[node]
    return x < threshold[node]


@numba.njit(cache=True, nogil=True, inline="always")
def _route_block(X, b0, m, nd, f, thr, dleft, is_cat, cat_left, cat_off, cat_val, zmiss,
                 split_le, left_out):  # fmt: skip
    """``left_out[r] = 1`` where row ``b0 + r`` goes left at ``nd`` (branch hoisted per node)."""
    if is_cat[nd] or zmiss[nd]:
        for r in range(m):
            left_out[r] = goes_left(thr, dleft, is_cat, cat_left, cat_off, cat_val, zmiss,
                                    split_le, nd, X[b0 + r, f])  # fmt: skip
        return
    t = thr[nd]
    dl = dleft[nd]
    if split_le:
        for r in range(m):
            x = X[b0 + r, f]
            left_out[r] = dl if np.isnan(x) else x <= t
    else:
        for r in range(m):
            x = X[b0 + r, f]
            left_out[r] = dl if np.isnan(x) else x < t


def _gauss(n_points: int) -> tuple[np.ndarray, np.ndarray]:
    t, w = np.polynomial.legendre.leggauss(n_points)
    return (t + 1.0) / 2.0, w / 2.0


def build_path_plan(ensemble: TreeEnsemble) -> PathPlan:
    """Tabulate the preorder layout and per-edge quadrature factors of ``ensemble``."""
    depth_max = max(ensemble.max_depth(), 1)
    n_q = (depth_max + 1) // 2
    t, w = _gauss(n_q)
    left = np.asarray(ensemble.children_left, dtype=np.int64)
    right = np.asarray(ensemble.children_right, dtype=np.int64)
    feature = np.asarray(ensemble.feature, dtype=np.int64)
    cover = np.asarray(ensemble.cover, dtype=np.float64)
    roots = np.asarray(ensemble.roots, dtype=np.int64)
    n_nodes = left.shape[0]
    order, depth, parent, prev, zc, zp, tree_start = _preorder(left, right, feature, cover, roots)
    # global position of each parent -> its feature (root positions get -1)
    owner = np.repeat(np.arange(len(roots)), np.diff(tree_start))
    parent_global = tree_start[owner] + np.maximum(parent, 0)
    edge_feature = np.where(parent >= 0, feature[order[parent_global]], -1)
    n_pos = order.shape[0]
    has_prev = prev >= 0
    # ratio of f_new / f_old for combo = o_new + o_old: 0 -> (0, 0), 1 -> (0, 1), 2 -> (1, 1)
    ratio = np.empty((n_pos, 3, n_q))
    coef = np.empty((n_pos, 3, n_q))
    zc_ = zc[:, None]
    zp_ = zp[:, None]
    tt = t[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        z_edge = np.where(zp_ > 0, zc_ / np.where(zp_ > 0, zp_, 1.0), 0.0)
    f_old1 = np.where(has_prev[:, None], zp_ * (1 - tt) + tt, 1.0)
    ratio[:, 0, :] = np.broadcast_to(z_edge, (n_pos, n_q))  # (0,0): zc(1-t) / zp(1-t)
    ratio[:, 1, :] = zc_ * (1 - tt) / f_old1
    ratio[:, 2, :] = (zc_ * (1 - tt) + tt) / f_old1
    c_new0 = -1.0 / (1 - tt)
    c_new1 = (1 - zc_) / (zc_ * (1 - tt) + tt)
    c_old0 = np.where(has_prev[:, None], -1.0 / (1 - tt), 0.0)
    c_old1 = np.where(has_prev[:, None], (1 - zp_) / (zp_ * (1 - tt) + tt), 0.0)
    coef[:, 0, :] = w * (c_new0 - c_old0)
    coef[:, 1, :] = w * (c_new0 - c_old1)
    coef[:, 2, :] = w * (c_new1 - c_old1)
    # positions 0 of each tree are roots: no edge
    ratio[tree_start[:-1]] = 1.0
    coef[tree_start[:-1]] = 0.0
    value = np.asarray(ensemble.value, dtype=np.float64)
    expected = _expected_values(order, parent, tree_start, left, right, cover, value)
    return PathPlan(
        node=order,
        depth=depth,
        parent=parent,
        prev=prev,
        edge_feature=edge_feature,
        is_left=np.where(parent >= 0, left[order[parent_global]] == order, False),
        ratio=np.ascontiguousarray(ratio),
        coef=np.ascontiguousarray(coef),
        tree_start=tree_start,
        n_q=n_q,
        max_depth=depth_max,
        expected=expected,
        n_nodes=n_nodes,
        max_tree_size=int(np.diff(tree_start).max()) if len(roots) else 1,
    )


def _preorder(left, right, feature, cover, roots):
    """Preorder positions with parent/prev links (local to each tree) and zero fractions."""
    n_trees = roots.shape[0]
    order = []
    depth = []
    parent = []
    prev = []
    zc = []
    zp = []
    tree_start = np.zeros(n_trees + 1, dtype=np.int64)
    for t in range(n_trees):
        base = len(order)
        tree_start[t] = base
        # stack items: (node, depth, parent position, {feature: edge position})
        stack = [(int(roots[t]), 0, -1, {})]
        while stack:
            node, d, par, seen = stack.pop()
            pos = len(order) - base
            order.append(node)
            depth.append(d)
            parent.append(par)
            if par >= 0:
                pnode = order[base + par]
                f = int(feature[pnode])
                c_par = cover[pnode]
                z = cover[node] / c_par if c_par > 0 else 0.0
                p = seen.get(f, -1)
                prev.append(p)
                z_before = zc[base + p] if p >= 0 else 1.0
                zp.append(z_before)
                zc.append(z_before * z)
                seen = {**seen, f: pos}
            else:
                prev.append(-1)
                zp.append(1.0)
                zc.append(1.0)
            if left[node] >= 0:
                # push right first so that left is visited first
                stack.append((int(right[node]), d + 1, pos, seen))
                stack.append((int(left[node]), d + 1, pos, seen))
    tree_start[n_trees] = len(order)
    return (
        np.asarray(order, dtype=np.int64),
        np.asarray(depth, dtype=np.int64),
        np.asarray(parent, dtype=np.int64),
        np.asarray(prev, dtype=np.int64),
        np.asarray(zc, dtype=np.float64),
        np.asarray(zp, dtype=np.float64),
        tree_start,
    )


def _expected_values(order, parent, tree_start, left, right, cover, value):
    """Node means from cover ratios (``E_n = z_l E_l + z_r E_r``), TreeSHAP's v(empty set).

    Returns the mean at each tree's root, shape (n_trees, n_outputs).
    """
    expected = np.array(value, dtype=np.float64, copy=True)
    for t in range(tree_start.shape[0] - 1):
        for k in range(tree_start[t + 1] - 1, tree_start[t] - 1, -1):  # children before parents
            node = order[k]
            lft = left[node]
            if lft < 0:
                continue
            rgt = right[node]
            c = cover[node]
            zl = cover[lft] / c if c > 0 else 0.0
            zr = cover[rgt] / c if c > 0 else 0.0
            expected[node] = zl * expected[lft] + zr * expected[rgt]
    return expected[order[tree_start[:-1]]]


@numba.njit(cache=True, nogil=True)
def _rows_kernel(
    X, start, stop, arrays, split_le, node, depth, parent, prev, is_left, edge_feature, ratio, coef,
    tree_start, tree_output, value, n_q, max_depth, max_tree_size, out,
):  # fmt: skip
    """Path-dependent SHAP of rows ``start:stop`` of ``X`` added into ``out[i - start]``.

    Rows are processed in blocks of ``_BLOCK``, tree by tree: the preorder walk and its stack
    logic are shared by the block, and the arithmetic runs over the rows innermost.
    """
    children_left = arrays[0]
    feature = arrays[2]
    thr, dleft, is_cat, cat_left, cat_off, cat_val, zmiss = arrays[3:]
    n_out = value.shape[1]
    n_trees = tree_start.shape[0] - 1
    nb = _BLOCK
    g = np.empty((max_depth + 1, n_q, nb))
    h = np.empty((max_depth + 1, n_out, n_q, nb))
    stack_pos = np.empty(max_depth + 1, dtype=np.int64)
    o_comb = np.empty((max_tree_size, nb), dtype=np.int64)
    combo_at = np.empty((max_tree_size, nb), dtype=np.int64)
    taken = np.empty((max_tree_size, nb), dtype=np.int64)
    acc = np.empty(nb)
    for b0 in range(start, stop, nb):
        m = min(nb, stop - b0)
        for t in range(n_trees):
            base = tree_start[t]
            size = tree_start[t + 1] - base
            k_out = tree_output[t]
            k_lo = 0
            k_hi = n_out
            if k_out >= 0:
                k_lo = k_out
                k_hi = k_out + 1
            top = -1
            for loc in range(size):
                k = base + loc
                nd = node[k]
                d = depth[k]
                while top >= d:  # close finished subtrees (stack levels >= d)
                    _close(top, stack_pos[top], base, edge_feature, coef, combo_at, h, out,
                           n_q, k_lo, k_hi, m, b0 - start, acc)  # fmt: skip
                    top -= 1
                if d == 0:
                    for r in range(m):
                        o_comb[loc, r] = 1
                    for q in range(n_q):
                        for r in range(m):
                            g[0, q, r] = 1.0
                else:
                    par = parent[k]
                    pv = prev[k]
                    for r in range(m):
                        o_edge = taken[par, r] if is_left[k] else 1 - taken[par, r]
                        o_old = o_comb[pv, r] if pv >= 0 else 1
                        o_new = o_edge & o_old
                        o_comb[loc, r] = o_new
                        combo_at[loc, r] = o_new + o_old
                    for q in range(n_q):
                        r0 = ratio[k, 0, q]
                        r1 = ratio[k, 1, q]
                        r2 = ratio[k, 2, q]
                        for r in range(m):
                            c = combo_at[loc, r]
                            rr = r0 if c == 0 else (r1 if c == 1 else r2)
                            g[d, q, r] = g[d - 1, q, r] * rr
                if children_left[nd] >= 0:
                    _route_block(X, b0, m, nd, feature[nd], thr, dleft, is_cat, cat_left,
                                 cat_off, cat_val, zmiss, split_le, taken[loc])  # fmt: skip
                    for kk in range(k_lo, k_hi):
                        for q in range(n_q):
                            for r in range(m):
                                h[d, kk, q, r] = 0.0
                else:
                    for kk in range(k_lo, k_hi):
                        v = value[nd, kk]
                        for q in range(n_q):
                            for r in range(m):
                                h[d, kk, q, r] = g[d, q, r] * v
                stack_pos[d] = loc
                top = d
            while top >= 1:
                _close(top, stack_pos[top], base, edge_feature, coef, combo_at, h, out,
                       n_q, k_lo, k_hi, m, b0 - start, acc)  # fmt: skip
                top -= 1


@numba.njit(cache=True, nogil=True, inline="always")
def _close(lvl, loc, base, edge_feature, coef, combo_at, h, out, n_q, k_lo, k_hi, m, o0, acc):
    """Finish the edge into the node at stack level ``lvl``: add its contribution, pass H up."""
    k = base + loc
    j = edge_feature[k]
    for kk in range(k_lo, k_hi):
        for r in range(m):
            acc[r] = 0.0
        for q in range(n_q):
            c0 = coef[k, 0, q]
            c1 = coef[k, 1, q]
            c2 = coef[k, 2, q]
            for r in range(m):
                c = combo_at[loc, r]
                cc = c0 if c == 0 else (c1 if c == 1 else c2)
                hv = h[lvl, kk, q, r]
                acc[r] += hv * cc
                h[lvl - 1, kk, q, r] += hv
        for r in range(m):
            out[o0 + r, j, kk] += acc[r]


@numba.njit(parallel=True, cache=True)
def _rows_parallel(
    X, arrays, split_le, node, depth, parent, prev, is_left, edge_feature, ratio, coef, tree_start,
    tree_output, value, n_q, max_depth, max_tree_size, out, block,
):  # fmt: skip
    n_blocks = (X.shape[0] + block - 1) // block
    for b in numba.prange(n_blocks):
        start = b * block
        stop = min(start + block, X.shape[0])
        _rows_kernel(
            X, start, stop, arrays, split_le, node, depth, parent, prev, is_left, edge_feature,
            ratio, coef, tree_start, tree_output, value, n_q, max_depth, max_tree_size,
            out[start:stop],
        )  # fmt: skip


def path_dependent_shap(
    plan: PathPlan, ensemble: TreeEnsemble, X: np.ndarray, out: np.ndarray, *, n_threads: int
) -> None:
    """Add the path-dependent SHAP values of the rows ``X`` into ``out`` (n, d, k), zeroed."""
    arrays = traversal_arrays(ensemble)
    args = (
        X,
        arrays,
        bool(ensemble.split_le),
        plan.node,
        plan.depth,
        plan.parent,
        plan.prev,
        plan.is_left,
        plan.edge_feature,
        plan.ratio,
        plan.coef,
        plan.tree_start,
        np.ascontiguousarray(ensemble.tree_output, dtype=np.int64),
        np.ascontiguousarray(ensemble.value, dtype=np.float64),
        plan.n_q,
        plan.max_depth,
        plan.max_tree_size,
        out,
    )
    n = X.shape[0]
    if n_threads <= 1 or n < 2:
        _rows_kernel(X, 0, n, *args[1:])
        return
    block = max(1, min(64, -(-n // (4 * n_threads))))
    _rows_parallel(*args, block)
