"""Exact interventional Shapley values from model structure: tree ensembles and linear models.

:class:`~assay.attribution.shapley.ExactShapley` computes the Shapley values of the game
``v(S) = sum_b w_b f(x_S, b_{-S})``. When the model's output is a sum of simple parts, the game
is the same sum of the parts' games and, by linearity of the Shapley value, so are its values.
Both paths here give the exact values of that same game (not an approximation): they equal
brute-force enumeration of all ``2^d`` coalitions up to float64 rounding.

**Trees.** In the explained output space a tree ensemble's output is ``offset + sum over leaves
L of value_L * [input reaches L]``. A hybrid ``z = (x_S, b_{-S})`` reaches leaf ``L`` iff, for
every feature ``j`` split on along ``L``'s path (the set ``F_L``), the value ``z_j`` satisfies
every split on ``j`` along the path; ``z_j`` is either ``x_j`` or ``b_j``. With ``X_L`` the
features whose conditions ``x`` satisfies and ``B_L(b)`` those ``b`` satisfies, the leaf's game
for one background row is ``[S ⊇ F_L \\ B_L(b)] * [S ∩ (F_L \\ X_L) = ∅]``, non-zero only when
``X_L ∪ B_L(b) = F_L``. Its Shapley values are closed form: with ``Sx = F_L \\ B_L(b)`` (``a``
features, must come from ``x``) and ``Sr = F_L \\ X_L`` (``r`` features, must come from ``b``),

    +(a-1)! r! / (a+r)!   for each feature in Sx,      -a! (r-1)! / (a+r)!   for each in Sr,

and 0 for every other feature. The background enters only through ``B_L(b)``, so background rows
are grouped by that pattern once per leaf (summing their weights); a row then costs, per leaf,
one pass over its path and one over the leaf's distinct background patterns — no model call and
no ``2^d`` factor. The ensemble must add up in the explained space: regressors, margins of
boosted classifiers, probabilities of random forests (a mean of trees). Probabilities of boosted
classifiers are a sigmoid/softmax of the sum and are left to brute-force enumeration.

**Linear models** (``f = x @ coef.T + intercept`` in their raw / log-odds space): the game is
additive and ``phi_j = coef_j * (x_j - sum_b w_b b_j)``.

Before first use, the caller checks on the explained rows and the background that the structure
reproduces the model's own output (for linear models also on hybrid rows, where a non-linear
model with a ``coef_`` attribute would show itself), and enumerates otherwise. The base value
``v({})`` is then taken from the structure too, so values and base add up to the structure's
output exactly; for XGBoost, whose own predictions are rounded to float32, that output (float64
sums of its float32 leaf values) differs from ``predict`` by ~1e-7 relative.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import factorial
from typing import Any

import numba
import numpy as np

from assay.attribution.shapley._tree_path import goes_left
from assay.model._tree_ensemble import TreeEnsemble
from assay.model._tree_predict import predict_raw, traversal_arrays

__all__ = ["LinearStructure", "TreeStructure", "find_structure"]

MARGIN_SPACES = ("log_odds", "raw")
# Structure must reproduce the model to this relative tolerance (float32 models such as XGBoost
# round their predictions at ~1e-7 relative; a wrong output space is off by O(1)).
TREE_CHECK_RTOL = 1e-5
LINEAR_CHECK_RTOL = 1e-9
N_HYBRID_CHECKS = 64
ROUTE_BYTES = 8 * 2**20  # routing bits of one chunk of explained rows
PATTERN_BYTES = 64 * 2**20  # background patterns of one block of leaves
# Ensembles with this many leaves per tree are summed by a pruned descent per (row, tree)
# (:mod:`._tree_pruned`). Measured (CPU time per row, d = 10, 40 background rows, one thread):
# RandomForest(100 trees, unlimited depth, ~1260 leaves per tree) 5.8 ms vs 20-25 ms for the
# joint (row, background) descent of :mod:`._exact_pairs` and ~35 ms for the leaf-by-leaf sum;
# RandomForest(50, max_depth=12, ~730 leaves) 1.7 vs 4.6 ms; max_depth=8 (~190 leaves) 0.64 vs
# 1.26 ms; HistGradientBoosting's 31-leaf trees on par (0.23 vs 0.26 ms). The joint descent
# remains for paths with more than 62 distinct features. With at most MAX_TABLE_FEATURES
# features every ensemble takes the descent, whose leaf work is then summed per feature set
# (:mod:`._tree_pruned_table`): 1.4 ms on the deep forest above; on shallow trees, 20 rows,
# leaf games vs the descent: HistGradientBoosting(50) 0.197 vs 0.043 ms, RandomForest(50,
# depth 6) 0.352 vs 0.060, XGBoost(100, depth 6) 0.371 vs 0.066, LightGBM(50) 0.193 vs 0.043;
# a new explainer's first 20 rows 13 vs 10, 18 vs 13, 42 vs 36, 51 vs 49 ms.
DEEP_TREE_LEAVES = 128
# Leaves with up to this many features memoize their values per failed-condition set (2^p
# entries); deeper leaves sum over their background patterns for every row.
MEMO_FEATURES = 12


# ---------------------------------------------------------------------------------------------
# detection
# ---------------------------------------------------------------------------------------------
def find_structure(adapter: Any, n_features: int) -> tuple[Any, str]:
    """The structure ExactShapley can use for this adapter, or None, with a note saying why.

    Tree ensembles come from the adapter's ``tree_ensemble`` capability. Linear models are
    recognized from their fitted ``coef_`` / ``intercept_`` (scikit-learn's linear models and
    linear SVMs); the numerical check in :meth:`LinearStructure.check` is what makes that safe.
    """
    space = adapter.output_space
    if adapter.has_trees:
        from assay.model._tree_check import CorruptTreeError

        try:
            ens = adapter.tree_ensemble()
        except CorruptTreeError:  # malformed trees: the model's own predict is not safe either
            raise
        except Exception as exc:  # an unsupported booster type: enumerate instead
            return None, f"tree extraction failed ({type(exc).__name__}: {exc})"
        native = ens.output_space
        if not (space == native or (space in MARGIN_SPACES and native in MARGIN_SPACES)):
            return None, (
                f"output_space={space!r} is not additive over the trees (they add up in {native!r})"
            )
        if ens.categories:
            return None, "categorical features encoded by the model (category codes)"
        if ens.n_features != n_features:
            return None, f"the trees expect {ens.n_features} features, X has {n_features}"
        return TreeStructure(ens), "tree ensemble, additive over leaves"
    model = adapter.model
    module = type(model).__module__
    coef = getattr(model, "coef_", None)
    if (
        module.startswith(("sklearn.linear_model", "sklearn.svm"))
        and coef is not None
        and hasattr(model, "intercept_")
    ):
        if adapter.is_classifier and space == "probability":
            return None, "probability output of a linear classifier is not linear"
        coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
        if coef.shape[1] != n_features:
            return None, f"coef_ has {coef.shape[1]} features, X has {n_features}"
        intercept = np.broadcast_to(
            np.asarray(model.intercept_, dtype=np.float64).reshape(-1), (coef.shape[0],)
        ).copy()
        return LinearStructure(coef, intercept), "linear model"
    return None, "no exploitable structure (black-box model)"


def _mismatch(expected: np.ndarray, got: np.ndarray, rtol: float) -> str | None:
    if expected.shape != got.shape:
        return f"structure gives shape {got.shape}, the model {expected.shape}"
    scale = max(1.0, float(np.nanmax(np.abs(expected))) if expected.size else 1.0)
    err = float(np.max(np.abs(expected - got))) if expected.size else 0.0
    if not np.isfinite(err) or err > rtol * scale:
        return f"structure differs from the model's output by {err:.3g}"
    return None


# ---------------------------------------------------------------------------------------------
# linear models
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LinearStructure:
    """``f(X) = X @ coef.T + intercept``; coef (k, d), intercept (k,)."""

    coef: np.ndarray
    intercept: np.ndarray
    kind: str = "linear"

    def check(self, adapter: Any, X: np.ndarray, bg: np.ndarray, f_xb: np.ndarray) -> str | None:
        """None when the model is this linear function on X, bg and seeded hybrid rows."""
        rows = np.vstack([X, bg])
        problem = _mismatch(f_xb, rows @ self.coef.T + self.intercept, LINEAR_CHECK_RTOL)
        if problem:
            return problem
        # hybrids (x_S, b_{-S}) are what the game evaluates; a model that is linear on the data
        # but not between it (or a GLM with a link function) fails here
        rng = np.random.default_rng(0)
        n_h = N_HYBRID_CHECKS
        mask = rng.random((n_h, X.shape[1])) < 0.5
        hyb = np.where(mask, X[rng.integers(len(X), size=n_h)], bg[rng.integers(len(bg), size=n_h)])
        return _mismatch(adapter.predict(hyb), hyb @ self.coef.T + self.intercept, 1e-9)

    def outputs(self, X: np.ndarray) -> np.ndarray:
        """The linear function's output (n, k)."""
        return X @ self.coef.T + self.intercept

    def values(self, X: np.ndarray, bg: np.ndarray, w: np.ndarray) -> np.ndarray:
        """(n, d, k) values ``coef[k, j] * (x_j - mean_w(b_j))``."""
        centred = X - w @ bg
        return centred[:, :, None] * self.coef.T[None, :, :]


# ---------------------------------------------------------------------------------------------
# trees
# ---------------------------------------------------------------------------------------------
class TreeStructure:
    """A :class:`TreeEnsemble` as a list of leaves with their paths (built once per model)."""

    kind = "tree"

    def __init__(self, ensemble: TreeEnsemble) -> None:
        self.ensemble = ensemble
        self.arrays = traversal_arrays(ensemble)
        left, right, feature = self.arrays[0], self.arrays[1], self.arrays[2]
        roots = np.ascontiguousarray(ensemble.roots, dtype=np.int64)
        counts = _leaf_plan(left, right, feature, roots, False, 1, 1, 1)[0]
        self.plan = _leaf_plan(left, right, feature, roots, True, *counts)[1:]
        leaf_p = np.diff(self.plan[5])
        self.max_p = int(leaf_p.max()) if leaf_p.size else 0
        self.n_leaves = len(self.plan[0])
        w_x, w_r = _leaf_weights(max(self.max_p, 1))
        self.w_x, self.w_r = w_x, w_r
        self.value = np.ascontiguousarray(ensemble.value, dtype=np.float64)
        self.tree_output = np.ascontiguousarray(ensemble.tree_output, dtype=np.int64)
        self.memo_features = MEMO_FEATURES
        from assay.attribution.shapley._exact_pairs import MAX_PAIR_FEATURES, _max_depth
        from assay.attribution.shapley._tree_pruned_table import MAX_TABLE_FEATURES

        self.depth = int(_max_depth(left, right, roots)) if len(left) else 0
        per_tree = self.n_leaves / max(1, len(roots))
        self.algorithm = "leaf games"
        self._pruned = None
        self._passes: tuple | None = None  # (background, its pass words, its leaf masks)
        self.last_algorithm = "leaf games"
        deep = per_tree >= DEEP_TREE_LEAVES
        if deep or ensemble.n_features <= MAX_TABLE_FEATURES:
            from assay.attribution.shapley._tree_pruned import PrunedLayout

            layout = PrunedLayout(ensemble, self.arrays)
            if layout.fits:
                self._pruned = layout
                self.algorithm = "pruned descent"
            elif deep and ensemble.n_features <= MAX_PAIR_FEATURES:
                self.algorithm = "joint descent"

    def check(self, adapter: Any, X: np.ndarray, bg: np.ndarray, f_xb: np.ndarray) -> str | None:
        """None when the flattened trees reproduce the model's output on X and bg."""
        return _mismatch(f_xb, predict_raw(self.ensemble, np.vstack([X, bg])), TREE_CHECK_RTOL)

    def outputs(self, X: np.ndarray) -> np.ndarray:
        """The trees' output (n, k), summed in float64 (see :func:`predict_raw`)."""
        return predict_raw(self.ensemble, X)

    def values(self, X: np.ndarray, bg: np.ndarray, w: np.ndarray) -> np.ndarray:
        """(n, d, k) exact interventional Shapley values of the trees' output."""
        self.last_algorithm = self.algorithm  # what ran (params["tree_algorithm"])
        if self.algorithm == "joint descent":
            from assay.attribution.shapley._exact_pairs import pair_descent_values

            return pair_descent_values(self, X, bg, w)
        if self.algorithm == "pruned descent":
            if self._pruned is not None and self._pruned.fits_background(bg.shape[0]):
                return self._pruned_values(X, bg, w)
            self.last_algorithm = "leaf games"  # a background too large for the pass words
        a = self.arrays
        split_le = bool(self.ensemble.split_le)
        n_nodes = len(a[0])
        bits = np.zeros((n_nodes, bg.shape[0]), dtype=np.uint8)
        _route_bits(np.ascontiguousarray(bg), a, split_le, bits)
        w = np.ascontiguousarray(w)
        n, d = X.shape
        out = np.zeros((n, d, self.value.shape[1]))
        # leaves in blocks whose background patterns (<= one per leaf and background row) fit
        # PATTERN_BYTES, rows in chunks whose routing bits (a byte per node and row) stay
        # cache-sized; every row still adds its leaves in leaf order, so the values do not
        # depend on either blocking
        leaf_step = max(1, PATTERN_BYTES // (16 * bg.shape[0]))
        step = max(16, min(n, ROUTE_BYTES // max(n_nodes, 1)))
        for l0 in range(0, self.n_leaves, leaf_step):
            l1 = min(self.n_leaves, l0 + leaf_step)
            pat_off, pat_mask, pat_w = _leaf_patterns(bits, w, self.plan, l0, l1)
            for start in range(0, n, step):
                rows = np.ascontiguousarray(X[start : start + step])
                xbits = np.zeros((n_nodes, rows.shape[0]), dtype=np.uint8)
                _route_bits(rows, a, split_le, xbits)
                _tree_values(xbits, self.plan, l0, l1, pat_off, pat_mask, pat_w, self.w_x,
                             self.w_r, self.value, self.tree_output, max(self.max_p, 1),
                             self.memo_features, out[start : start + step])  # fmt: skip
        return out

    def _pruned_values(self, X: np.ndarray, bg: np.ndarray, w: np.ndarray) -> np.ndarray:
        """:func:`~._tree_pruned.pruned_shap`; the background's pass words are kept for reuse
        while the same background comes back (one explainer explaining in chunks)."""
        from assay.attribution.shapley._tree_pruned import (
            build_pruned,
            build_pruned_table,
            pruned_shap,
        )

        if self._passes is None or not np.array_equal(self._passes[0], bg):
            passes = build_pruned(self._pruned, self.ensemble, self.arrays, bg)
            table = build_pruned_table(self._pruned, self.ensemble, passes, bg.shape[0])
            self._passes = (bg.copy(), passes, table)
        out = np.zeros((X.shape[0], X.shape[1], self.value.shape[1]))
        pruned_shap(self._pruned, self._passes[1], self.ensemble, self.arrays,
                    np.ascontiguousarray(X, dtype=np.float64), w, out,
                    table=self._passes[2])  # fmt: skip
        return out


def _leaf_weights(max_p: int) -> tuple[np.ndarray, np.ndarray]:
    """``w_x[a, r] = (a-1)! r! / (a+r)!`` and ``w_r[a, r] = a! (r-1)! / (a+r)!``."""
    n = max_p + 1
    w_x = np.zeros((n, n))
    w_r = np.zeros((n, n))
    for a in range(n):
        for r in range(n - a):
            if a + r == 0:
                continue
            total = factorial(a + r)
            if a > 0:
                w_x[a, r] = factorial(a - 1) * factorial(r) / total
            if r > 0:
                w_r[a, r] = factorial(a) * factorial(r - 1) / total
    return w_x, w_r


@numba.njit(cache=True)
def _leaf_plan(left, right, feature, roots, fill, n_l, n_e, n_f):
    """Leaves with their paths: ``(counts, leaf_node, leaf_tree, path_off, path_node, path_left,
    feat_off, leaf_feat, path_local)``; ``counts`` is (n_leaves, n_entries, n_feats), and the
    arrays (sized by ``n_l, n_e, n_f``) are filled only when ``fill``. Path entries of leaf
    ``L`` are ``path_off[L]:path_off[L+1]`` (node, whether the leaf lies left of it, local
    feature index); its distinct features are ``leaf_feat[feat_off[L]:feat_off[L+1]]``, in
    order of appearance.
    """
    leaf_node = np.empty(n_l, np.int64)
    leaf_tree = np.empty(n_l, np.int64)
    path_off = np.zeros(n_l + 1, np.int64)
    path_node = np.empty(n_e, np.int64)
    path_left = np.empty(n_e, np.bool_)
    path_local = np.empty(n_e, np.int64)
    feat_off = np.zeros(n_l + 1, np.int64)
    leaf_feat = np.empty(n_f, np.int64)
    depth_max = left.shape[0] + 1
    stack_node = np.empty(depth_max, np.int64)
    stack_depth = np.empty(depth_max, np.int64)
    cur_node = np.empty(depth_max, np.int64)
    cur_left = np.empty(depth_max, np.bool_)
    loc = np.empty(depth_max, np.int64)
    fset = np.empty(depth_max, np.int64)
    il = 0
    ie = 0
    jf = 0
    for t in range(roots.shape[0]):
        top = 0
        stack_node[0] = roots[t]
        stack_depth[0] = 0
        top = 1
        while top > 0:
            top -= 1
            nd = stack_node[top]
            dep = stack_depth[top]
            if dep > 0:
                parent = cur_node[dep - 1]
                cur_left[dep - 1] = left[parent] == nd
            if left[nd] >= 0:
                cur_node[dep] = nd
                stack_node[top] = right[nd]
                stack_depth[top] = dep + 1
                stack_node[top + 1] = left[nd]
                stack_depth[top + 1] = dep + 1
                top += 2
                continue
            # a leaf at depth dep: its path is cur_node[:dep] / cur_left[:dep]
            n_loc = 0
            for e in range(dep):
                f = feature[cur_node[e]]
                k = -1
                for q in range(n_loc):
                    if fset[q] == f:
                        k = q
                        break
                if k < 0:
                    fset[n_loc] = f
                    k = n_loc
                    n_loc += 1
                loc[e] = k
            if fill:
                leaf_node[il] = nd
                leaf_tree[il] = t
                for e in range(dep):
                    path_node[ie + e] = cur_node[e]
                    path_left[ie + e] = cur_left[e]
                    path_local[ie + e] = loc[e]
                for q in range(n_loc):
                    leaf_feat[jf + q] = fset[q]
                path_off[il + 1] = ie + dep
                feat_off[il + 1] = jf + n_loc
            il += 1
            ie += dep
            jf += n_loc
    counts = np.array([il, ie, jf], dtype=np.int64)
    plan = (leaf_node, leaf_tree, path_off, path_node, path_left, feat_off, leaf_feat, path_local)
    return (counts, *plan)


@numba.njit(cache=True, nogil=True)
def _route_bits(X, arrays, split_le, bits):
    """``bits[n, i] = 1`` where row ``i`` goes left at internal node ``n``.

    Node by node with the split rule hoisted out of the row loop: the plain numerical split
    (no categories, no zero-as-missing) is the common case and runs without a call.
    """
    left = arrays[0]
    feature = arrays[2]
    thr, dleft, is_cat, cat_left, cat_off, cat_val, zmiss = arrays[3:]
    n = X.shape[0]
    for nd in range(left.shape[0]):
        if left[nd] < 0:
            continue
        f = feature[nd]
        if is_cat[nd] or zmiss[nd]:
            for i in range(n):
                bits[nd, i] = goes_left(thr, dleft, is_cat, cat_left, cat_off, cat_val, zmiss,
                                        split_le, nd, X[i, f])  # fmt: skip
            continue
        t = thr[nd]
        dl = dleft[nd]
        for i in range(n):
            x = X[i, f]
            if np.isnan(x):
                bits[nd, i] = dl
            elif split_le:
                bits[nd, i] = x <= t
            else:
                bits[nd, i] = x < t


@numba.njit(cache=True, nogil=True, inline="always")
def _satisfied(bits, leaf, path_off, path_node, path_left, path_local, p, out):
    """``out[i]``: bit mask over the leaf's ``p`` local features whose path conditions row
    ``i`` of ``bits`` (nodes x rows) satisfies. Rows are the inner loop (contiguous)."""
    full = (np.int64(1) << p) - 1
    n = bits.shape[1]
    for i in range(n):
        out[i] = full
    for e in range(path_off[leaf], path_off[leaf + 1]):
        nd = path_node[e]
        want = np.uint8(1) if path_left[e] else np.uint8(0)
        clear = ~(np.int64(1) << path_local[e])
        for i in range(n):
            if bits[nd, i] != want:
                out[i] &= clear


@numba.njit(cache=True, nogil=True)
def _leaf_patterns(bits, w, plan, l0, l1):
    """Per leaf in ``l0:l1`` (offsets relative to ``l0``), the distinct background patterns
    ``B_L(b)`` (increasing) and their weights, each summed in background order (so the result
    depends on nothing but the data)."""
    path_off, path_node, path_left, feat_off, path_local = plan[2:6] + plan[7:]
    n_leaves = l1 - l0
    m = bits.shape[1]
    off = np.zeros(n_leaves + 1, np.int64)
    masks = np.empty(n_leaves * m, np.int64)
    weights = np.empty(n_leaves * m, np.float64)
    tmp = np.empty(m, np.int64)
    order = np.empty(m, np.int64)
    k = 0
    for leaf in range(l0, l1):
        p = feat_off[leaf + 1] - feat_off[leaf]
        _satisfied(bits, leaf, path_off, path_node, path_left, path_local, p, tmp)
        # insertion sort by mask, stable (background order within a mask); m is small
        n_o = 0
        for b in range(m):
            if w[b] == 0.0:
                continue
            q = n_o
            while q > 0 and tmp[order[q - 1]] > tmp[b]:
                order[q] = order[q - 1]
                q -= 1
            order[q] = b
            n_o += 1
        prev = np.int64(-1)
        for q in range(n_o):
            b = order[q]
            if tmp[b] != prev:
                masks[k] = tmp[b]
                weights[k] = 0.0
                prev = tmp[b]
                k += 1
            weights[k - 1] += w[b]
        off[leaf - l0 + 1] = k
    return off, masks[:k].copy(), weights[:k].copy()


@numba.njit(cache=True, nogil=True, inline="always")
def _leaf_shapley(r_set, p, lo, hi, pat_mask, pat_w, w_x, w_r, acc):
    """Shapley values (into ``acc[:p]``) of one leaf's game for an explained row whose failed
    conditions are ``r_set``, summed over the leaf's background patterns; False if all zero."""
    full = (np.int64(1) << p) - 1
    n_r = 0
    for j in range(p):
        n_r += (r_set >> j) & 1
        acc[j] = 0.0
    any_term = False
    c_r = 0.0
    for q in range(lo, hi):
        pm = pat_mask[q]
        if pm & r_set != r_set:
            continue  # a feature fails both for x and for this background pattern
        s_x = full & ~pm
        n_x = 0
        for j in range(p):
            n_x += (s_x >> j) & 1
        if n_x + n_r == 0:
            continue  # x and b both reach the leaf: a constant game
        any_term = True
        cw = pat_w[q]
        if n_x > 0:
            cx = cw * w_x[n_x, n_r]
            for j in range(p):
                if (s_x >> j) & 1:
                    acc[j] += cx
        if n_r > 0:
            c_r += cw * w_r[n_x, n_r]
    for j in range(p):
        if (r_set >> j) & 1:
            acc[j] -= c_r
    return any_term


@numba.njit(cache=True, nogil=True)
def _tree_values(xbits, plan, l0, l1, pat_off, pat_mask, pat_w, w_x, w_r, value, tree_output,
                 max_p, memo_p, out):  # fmt: skip
    """Add the Shapley values of leaves ``l0:l1``, times their values, into ``out`` (n, d, k).

    A leaf's values depend on the row only through its failed-condition set, so they are
    memoized per set (leaves with up to ``memo_p`` features): with many rows each distinct set
    is computed once per leaf."""
    leaf_node, leaf_tree, path_off, path_node, path_left, feat_off, leaf_feat, path_local = plan
    n_out = value.shape[1]
    n = xbits.shape[1]
    memo = np.zeros((2**memo_p, max_p))
    stamp = np.full(2**memo_p, -1, np.int64)  # memo[R] is valid for leaf stamp[R]
    nonzero = np.zeros(2**memo_p, np.bool_)
    acc = np.zeros(max_p)
    sat = np.empty(n, np.int64)
    for leaf in range(l0, l1):
        p = feat_off[leaf + 1] - feat_off[leaf]
        if p == 0:
            continue  # a single-leaf tree is a constant
        lo = pat_off[leaf - l0]
        hi = pat_off[leaf - l0 + 1]
        full = (np.int64(1) << p) - 1
        _satisfied(xbits, leaf, path_off, path_node, path_left, path_local, p, sat)
        node = leaf_node[leaf]
        k_out = tree_output[leaf_tree[leaf]]
        base = feat_off[leaf]
        for i in range(n):
            r_set = full & ~sat[i]
            if p <= memo_p:
                if stamp[r_set] != leaf:
                    stamp[r_set] = leaf
                    nonzero[r_set] = _leaf_shapley(r_set, p, lo, hi, pat_mask, pat_w, w_x,
                                                   w_r, memo[r_set])  # fmt: skip
                if not nonzero[r_set]:
                    continue
                vec = memo[r_set]
            else:
                if not _leaf_shapley(r_set, p, lo, hi, pat_mask, pat_w, w_x, w_r, acc):
                    continue
                vec = acc
            for j in range(p):
                feat = leaf_feat[base + j]
                if k_out >= 0:
                    out[i, feat, k_out] += vec[j] * value[node, k_out]
                else:
                    for k in range(n_out):
                        out[i, feat, k] += vec[j] * value[node, k]
