"""Checks that the trees read from a model file are well-formed, before any compiled code runs.

Model files are data: an edited XGBoost JSON, LightGBM text model or scikit-learn tree can hold
a child index outside its tree, a cycle, a split on a feature the data does not have, or NaN
thresholds and leaves. Compiled traversals (ours and the libraries' own ``predict``) index
arrays with these numbers unchecked, so a bad file would crash the process or loop forever.
Everything here is checked in numpy, level by level, with a depth bound, so the checks
themselves always end.

A well-formed tree: node 0 is the root; a leaf has both children ``-1``; an internal node
has two children that are nodes of the same tree; following children from the root reaches
every node at most once (no cycle, no shared child) within :data:`MAX_TREE_DEPTH` levels;
internal nodes split on a feature in ``[0, n_features)`` with a threshold that is not NaN;
leaf values are finite. Nodes the root does not reach (XGBoost keeps pruned nodes in its
files) are allowed and never traversed.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from typing import NoReturn

import numpy as np

from assay.errors import ModelError

__all__ = [
    "MAX_TREE_DEPTH",
    "CorruptTreeError",
    "bad_tree",
    "check_lightgbm_text",
    "check_tree_links",
    "check_xgboost_json",
    "int_array",
]

#: Deepest tree accepted (root at depth 0). Real models stay far below: XGBoost's and
#: LightGBM's depth limits are in the tens; deeper trees come from edited files.
MAX_TREE_DEPTH = 512

_FIX = (
    "The model file is corrupted or was edited; re-export it from the library that trained it "
    "(save_model), or retrain the model."
)


class CorruptTreeError(ModelError):
    """The trees of a model are malformed (a bad index, a cycle, NaN values)."""


def bad_tree(where: str, problem: str, *, cause: BaseException | None = None) -> NoReturn:
    """Raise the error for one malformed tree, ``where`` naming the tree and node."""
    msg = f"malformed tree model ({where}: {problem}). {_FIX}"
    raise CorruptTreeError(msg) from cause


def int_array(values, tree: int, what: str) -> np.ndarray:
    """Integer node fields (children, features) of one tree, as int64; floats must be whole."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        bad_tree(f"tree {tree}", f"its {what} are not a flat list")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        with np.errstate(invalid="ignore"):
            as_float = arr.astype(np.float64)
        whole = np.isfinite(as_float) & (np.abs(as_float) < 2.0**62)
        whole &= as_float == np.round(as_float)
        if not whole.all():
            node = int(np.flatnonzero(~whole)[0])
            bad_tree(f"tree {tree}, node {node}", f"{what} {arr[node]!r} is not an integer")
        arr = as_float
    return arr.astype(np.int64)


def check_tree_links(left, right, *, tree: int) -> np.ndarray:
    """Check the child links of one tree (local indices, root 0); return the reachable mask.

    Raises
    ------
    CorruptTreeError
        If a child index is outside the tree, a node has one child only, a node is reached
        twice from the root (a cycle or a shared child), or the tree is deeper than
        :data:`MAX_TREE_DEPTH`.
    """
    left = np.asarray(left)
    right = np.asarray(right)
    n = left.shape[0] if left.ndim == 1 else -1
    if n < 1 or right.shape != left.shape:
        bad_tree(
            f"tree {tree}",
            f"left children {left.shape} and right children {right.shape} must be two "
            "1-D lists of the same non-zero length",
        )
    if not (np.issubdtype(left.dtype, np.integer) and np.issubdtype(right.dtype, np.integer)):
        bad_tree(f"tree {tree}", "child indices must be integers")
    for side, links in (("left", left), ("right", right)):
        bad = np.flatnonzero((links != -1) & ((links < 0) | (links >= n)))
        if bad.size:
            node = int(bad[0])
            bad_tree(
                f"tree {tree}, node {node}",
                f"{side} child {int(links[node])} is not a node of this {n}-node tree",
            )
    half = np.flatnonzero((left == -1) != (right == -1))
    if half.size:
        node = int(half[0])
        bad_tree(
            f"tree {tree}, node {node}",
            f"it has one child only (left {int(left[node])}, right {int(right[node])})",
        )
    internal_nodes = np.flatnonzero(left >= 0)
    if internal_nodes.size <= MAX_TREE_DEPTH:
        # Fast path (scikit-learn's pre-order numbering): if every child has a larger index
        # than its parent and every node but the root is a child exactly once, following
        # parents strictly decreases the index down to the root, so the links form one tree
        # rooted at 0 (no cycle, no shared child, all nodes reachable) no deeper than its
        # number of internal nodes. Anything else takes the level-by-level walk below.
        children = np.concatenate([left[internal_nodes], right[internal_nodes]])
        parents = np.concatenate([internal_nodes, internal_nodes])
        if np.all(children > parents):
            parent_count = np.bincount(children, minlength=n)
            if parent_count[0] == 0 and np.all(parent_count[1:] == 1):
                return np.ones(n, dtype=bool)
    seen = np.zeros(n, dtype=bool)
    seen[0] = True
    frontier = np.zeros(1, dtype=np.int64)
    depth = 0
    while frontier.size:
        internal = frontier[left[frontier] >= 0]
        if not internal.size:
            break
        depth += 1
        if depth > MAX_TREE_DEPTH:
            bad_tree(
                f"tree {tree}, node {int(internal[0])}",
                f"the tree is deeper than {MAX_TREE_DEPTH} levels",
            )
        children = np.concatenate([left[internal], right[internal]]).astype(np.int64)
        parents = np.concatenate([internal, internal])
        values, first, counts = np.unique(children, return_index=True, return_counts=True)
        twice = values[(counts > 1) | seen[values]]
        if twice.size:
            child = int(twice[0])
            parent = int(parents[first[np.searchsorted(values, child)]])
            bad_tree(
                f"tree {tree}, node {parent}",
                f"its child {child} is reached twice from the root (a cycle or a shared child)",
            )
        seen[children] = True
        frontier = children
    return seen


def check_ensemble_arrays(ens) -> None:
    """Check a whole :class:`~assay.model._tree_ensemble.TreeEnsemble` (global indices).

    This is the last guard before compiled traversal: every array has the right length,
    every child, root, feature, output and category-set index is in range, no node is reached
    twice from the roots, and values are finite.
    """
    left = np.asarray(ens.children_left)
    right = np.asarray(ens.children_right)
    n = left.shape[0] if left.ndim == 1 else -1
    if n < 0 or right.shape != left.shape or not np.issubdtype(left.dtype, np.integer):
        bad_tree("ensemble", "children_left/children_right must be 1-D integer arrays")
    for name in ("feature", "threshold", "default_left", "cover", "is_categorical",
                 "cat_in_set_left", "zero_as_missing"):  # fmt: skip
        arr = np.asarray(getattr(ens, name))
        if arr.shape != (n,):
            bad_tree("ensemble", f"{name} has shape {arr.shape}, expected ({n},)")
    value = np.asarray(ens.value)
    if value.ndim != 2 or value.shape[0] != n:
        bad_tree("ensemble", f"value has shape {value.shape}, expected ({n}, n_outputs)")
    k = value.shape[1]
    roots = np.asarray(ens.roots)
    tree_output = np.asarray(ens.tree_output)
    if roots.ndim != 1 or tree_output.shape != roots.shape:
        bad_tree("ensemble", "roots and tree_output must be 1-D arrays of equal length")
    if roots.size and (roots.min() < 0 or roots.max() >= n):
        bad_tree("ensemble", f"a root index is outside the {n} nodes")
    if tree_output.size and (tree_output.min() < -1 or tree_output.max() >= k):
        t = int(np.flatnonzero((tree_output < -1) | (tree_output >= k))[0])
        bad_tree(f"tree {t}", f"it adds to output {int(tree_output[t])} of {k}")
    base = np.asarray(ens.base_offset, dtype=np.float64)
    if base.shape != (k,) or not np.all(np.isfinite(base)):
        bad_tree("ensemble", f"the base offset {base.tolist()} is not {k} finite number(s)")
    for side, links in (("left", left), ("right", right)):
        bad = np.flatnonzero((links != -1) & ((links < 0) | (links >= n)))
        if bad.size:
            bad_tree(f"node {int(bad[0])}", f"{side} child {int(links[bad[0]])} is out of range")
    half = np.flatnonzero((left == -1) != (right == -1))
    if half.size:
        bad_tree(f"node {int(half[0])}", "it has one child only")
    # walk all trees at once, level by level; a node reached twice stops the walk
    tree_of = np.full(n, -1, dtype=np.int64)
    if roots.size:
        uniq, counts = np.unique(roots, return_counts=True)
        if np.any(counts > 1):
            bad_tree(f"node {int(uniq[counts > 1][0])}", "two trees share this root")
        tree_of[roots] = np.arange(roots.size)
    frontier = roots.astype(np.int64)
    depth = 0
    while frontier.size:
        internal = frontier[left[frontier] >= 0]
        if not internal.size:
            break
        depth += 1
        if depth > MAX_TREE_DEPTH:
            bad_tree(f"tree {int(tree_of[internal[0]])}", f"deeper than {MAX_TREE_DEPTH}")
        children = np.concatenate([left[internal], right[internal]]).astype(np.int64)
        owners = np.concatenate([tree_of[internal], tree_of[internal]])
        values, counts = np.unique(children, return_counts=True)
        twice = values[(counts > 1) | (tree_of[values] >= 0)]
        if twice.size:
            bad_tree(f"node {int(twice[0])}", "reached twice from the roots (a cycle)")
        tree_of[children] = owners
        frontier = children
    is_internal = left >= 0
    feature = np.asarray(ens.feature)
    d = int(ens.n_features)
    bad = np.flatnonzero(is_internal & ((feature < 0) | (feature >= d)))
    if bad.size:
        node = int(bad[0])
        bad_tree(
            _where(node, tree_of, roots),
            f"it splits on feature {int(feature[node])} but the model has {d} features "
            f"(indices 0 to {d - 1})",
        )
    numeric = is_internal & ~np.asarray(ens.is_categorical, dtype=bool)
    bad = np.flatnonzero(numeric & np.isnan(np.asarray(ens.threshold, dtype=np.float64)))
    if bad.size:
        bad_tree(_where(int(bad[0]), tree_of, roots), "its split threshold is NaN")
    finite = np.all(np.isfinite(value), axis=1)
    bad = np.flatnonzero(~finite & ~is_internal)  # a bad leaf spoils its parents' values
    bad = bad if bad.size else np.flatnonzero(~finite)
    if bad.size:
        node = int(bad[0])
        bad_tree(_where(node, tree_of, roots), f"its value {value[node].tolist()} is not finite")
    if not np.all(np.isfinite(np.asarray(ens.cover, dtype=np.float64))):
        node = int(np.flatnonzero(~np.isfinite(np.asarray(ens.cover, dtype=np.float64)))[0])
        bad_tree(_where(node, tree_of, roots), "its cover (training weight) is not finite")
    offsets = np.asarray(ens.cat_offsets)
    n_values = np.asarray(ens.cat_values).shape[0]
    if (
        offsets.shape != (n + 1,)
        or offsets[0] != 0
        or np.any(np.diff(offsets) < 0)
        or offsets[-1] > n_values
    ):
        bad_tree("ensemble", "the categorical split sets are not consistent")


def _where(node: int, tree_of: np.ndarray, roots: np.ndarray) -> str:
    tree = int(tree_of[node])
    if tree < 0:
        return f"node {node} (not reached from any root)"
    return f"tree {tree}, node {node - int(roots[tree])}"


# --------------------------------------------------------------------------- XGBoost JSON


def check_xgboost_json(content: bytes | str) -> None:
    """Check the trees of an XGBoost JSON model file before XGBoost itself parses it.

    XGBoost's loader and predictor trust the file: a child index out of range crashes them,
    a cycle loops forever, and a huge ``num_class`` stalls them. The trees are read here
    with the same checks as :func:`extract_tree_ensemble`, without XGBoost.

    Raises
    ------
    CorruptTreeError
        If the JSON cannot be parsed as a tree model or its trees are malformed. A model
        that is well-formed but not supported by tree methods (a linear booster) passes.
    """
    from assay.errors import AssayError
    from assay.model._tree_extract import _MALFORMED, _xgboost_from_json

    try:
        _xgboost_from_json(json.loads(content), None)
    except CorruptTreeError:
        raise
    except AssayError:  # well-formed but unsupported: model-agnostic methods still apply
        return
    except (*_MALFORMED, UnicodeDecodeError) as exc:
        problem = f"its JSON could not be read ({type(exc).__name__}: {str(exc)[:200]})"
        bad_tree("XGBoost model", problem, cause=exc)


# --------------------------------------------------------------------------- LightGBM text

_LGB_INTS = ("split_feature", "decision_type", "left_child", "right_child")
_LGB_FLOATS = ("threshold", "leaf_value")


def check_lightgbm_text(text: str) -> None:
    """Check the trees of a LightGBM text model before LightGBM parses, dumps or predicts.

    LightGBM's own ``predict`` and ``dump_model`` follow child indices unchecked (a cycle
    loops forever, an index out of range crashes), so this reads the flat arrays of the text
    format itself. Children ``c >= 0`` are internal nodes, ``c < 0`` the leaf ``~c``.
    """
    header, _, body = text.partition("\nTree=")
    match = re.search(r"^max_feature_idx=(-?\d+)\s*$", header, flags=re.M)
    if match is None:
        bad_tree("header", "no max_feature_idx line; this is not a LightGBM text model")
    n_features = int(match.group(1)) + 1
    if not body:
        return
    blocks = re.split(r"\nTree=", "\nTree=" + body)
    for block in blocks[1:]:
        head, _, rest = block.partition("\n")
        if head.strip() == "" or not head.strip().lstrip("-").isdigit():
            break  # past the trees (end_of_trees, parameters)
        _check_lightgbm_tree(int(head), dict(_key_values(rest)), n_features)


def _key_values(block: str):
    for line in block.split("\n"):
        if line.startswith("end of trees"):
            return
        key, sep, val = line.partition("=")
        if sep:
            yield key.strip(), val.strip()


def _parse(fields: dict, key: str, kind: type, tree: int) -> list:
    raw = fields.get(key, "")
    try:
        return [kind(v) for v in raw.split()] if raw else []
    except ValueError as exc:
        bad_tree(f"tree {tree}", f"{key} holds a value that is not a number ({exc})", cause=exc)


def _check_lightgbm_tree(tree: int, fields: dict, n_features: int) -> None:
    try:
        n_leaves = int(fields.get("num_leaves", ""))
        n_cat = int(fields.get("num_cat", "0"))
    except ValueError as exc:
        bad_tree(f"tree {tree}", f"num_leaves/num_cat is not an integer ({exc})", cause=exc)
    if n_leaves < 1 or n_cat < 0:
        bad_tree(f"tree {tree}", f"num_leaves={n_leaves} and num_cat={n_cat}")
    arrays = {key: _parse(fields, key, int, tree) for key in _LGB_INTS}
    arrays.update({key: _parse(fields, key, float, tree) for key in _LGB_FLOATS})
    m = n_leaves - 1
    expected = {key: m for key in (*_LGB_INTS, "threshold")} | {"leaf_value": n_leaves}
    for key, size in expected.items():
        if len(arrays[key]) != size and not (size == 0 and key != "leaf_value"):
            bad_tree(
                f"tree {tree}",
                f"{key} has {len(arrays[key])} entries; num_leaves={n_leaves} needs {size}",
            )
    leaves = np.asarray(arrays["leaf_value"])
    if not np.all(np.isfinite(leaves)):
        leaf = int(np.flatnonzero(~np.isfinite(leaves))[0])
        bad_tree(f"tree {tree}, leaf {leaf}", f"its value {leaves[leaf]} is not finite")
    if m == 0:
        return
    # map to one node numbering: internal i -> i, leaf l -> m + l, a leaf child c < 0 is ~c
    links = []
    for side in ("left_child", "right_child"):
        raw = np.asarray(arrays[side], dtype=np.int64)
        bad = np.flatnonzero((raw >= m) | (raw < -n_leaves))
        if bad.size:
            node = int(bad[0])
            bad_tree(
                f"tree {tree}, node {node}",
                f"{side} {int(raw[node])} is neither one of its {m} internal nodes nor one of "
                f"its {n_leaves} leaves",
            )
        links.append(np.where(raw >= 0, raw, m + ~raw))
    minus = np.full(n_leaves, -1, dtype=np.int64)
    seen = check_tree_links(
        np.concatenate([links[0], minus]), np.concatenate([links[1], minus]), tree=tree
    )
    if not seen.all():
        node = int(np.flatnonzero(~seen)[0])
        what = f"node {node}" if node < m else f"leaf {node - m}"
        bad_tree(f"tree {tree}, {what}", "it is not reached from the root")
    feature = np.asarray(arrays["split_feature"], dtype=np.int64)
    bad = np.flatnonzero((feature < 0) | (feature >= n_features))
    if bad.size:
        node = int(bad[0])
        bad_tree(
            f"tree {tree}, node {node}",
            f"it splits on feature {int(feature[node])} but the model has {n_features} "
            f"features (indices 0 to {n_features - 1})",
        )
    decision = np.asarray(arrays["decision_type"], dtype=np.int64)
    threshold = np.asarray(arrays["threshold"])
    categorical = (decision & 1) == 1
    bad = np.flatnonzero(~categorical & np.isnan(threshold))
    if bad.size:
        bad_tree(f"tree {tree}, node {int(bad[0])}", "its split threshold is NaN")
    if categorical.any():
        bounds = _parse(fields, "cat_boundaries", int, tree)
        n_words = len(_parse(fields, "cat_threshold", int, tree))
        index = threshold[categorical]
        if (
            len(bounds) != n_cat + 1
            or any(b < a for a, b in itertools.pairwise(bounds))
            or (bounds and (bounds[0] != 0 or bounds[-1] > n_words))
            or not all(math.isfinite(v) and v == int(v) and 0 <= v < n_cat for v in index)
        ):
            bad_tree(f"tree {tree}", "its categorical split sets are not consistent")
