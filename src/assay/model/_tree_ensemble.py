"""Tree ensembles as flat numpy arrays, the form every tree algorithm in assay consumes.

A :class:`TreeEnsemble` holds all trees of a model in one set of arrays. Node indices are
*global* (into the flat arrays); ``roots[t]`` is the root node of tree ``t``.

Split semantics (numerical node ``n``, feature ``j = feature[n]``, threshold ``t``):

* ``x[j]`` is NaN            -> go to ``default_left[n] ? left : right``
* ``zero_as_missing[n]`` and ``|x[j]| <= ZERO_THRESHOLD`` -> also go the ``default_left`` way
  (LightGBM's ``missing_type="Zero"``; ``ZERO_THRESHOLD`` is ``float32(1e-35)``)
* ``split_le`` is True       -> go left when ``x[j] <= t`` (scikit-learn, LightGBM)
* ``split_le`` is False      -> go left when ``x[j] <  t`` (XGBoost)

Thresholds are stated for float64 inputs. Libraries that round inputs to float32 before
comparing (scikit-learn trees, XGBoost) have their thresholds moved by the extractor so that
``x <= threshold`` (or ``<``) on the float64 value routes every input exactly as the library
routes ``float32(x)``; consumers never need to cast. LightGBM reads ``|x| <= ZERO_THRESHOLD``
as 0.0, and NaN as 0.0 under ``missing_type="None"``; both are folded into ``threshold`` and
``default_left``.

Categorical node (``is_categorical[n]``): the category code is ``int(x[j])`` for
``x[j] >= 0``; negative values are in no set (LightGBM itself reads ``-1 < x < 0`` as category
0; such inputs are not valid codes). The node's category set is
``cat_values[cat_offsets[n]:cat_offsets[n + 1]]`` (sorted). A code in the set goes to ``left``
when ``cat_in_set_left[n]`` is True and to ``right`` otherwise; a code outside the set goes the
other way. NaN follows ``default_left``.

How a column's categories map to codes: when ``categories`` has an entry for feature ``j``, the
code of a value is its position in ``categories[j]`` (the categories seen in training, in the
model's order; a value not in the list should be passed as NaN). Without an entry, the input
value itself is the code (integer-coded numpy input).

The model's raw output for a row is ``base_offset + sum over trees of value[leaf]`` where
``value`` already contains any learning rate and any averaging over trees.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from assay.model._tree_check import check_ensemble_arrays

__all__ = ["ZERO_THRESHOLD", "TreeEnsemble"]

#: LightGBM's ``kZeroThreshold``: with ``missing_type="Zero"`` values this close to 0 are missing.
ZERO_THRESHOLD = float(np.float32(1e-35))


@dataclass(frozen=True, eq=False)
class TreeEnsemble:
    """All trees of one model, flattened.

    Attributes
    ----------
    children_left, children_right : int64 arrays (n_nodes,)
        Global index of each child; ``-1`` at leaves.
    feature : int64 array (n_nodes,)
        Split feature; ``-1`` at leaves.
    threshold : float64 array (n_nodes,)
        Split threshold (unused at leaves and categorical nodes).
    default_left : bool array (n_nodes,)
        Direction taken by a missing (NaN) value.
    value : float64 array (n_nodes, n_outputs)
        Node values in the raw output space. At leaves this is what the tree adds to the
        prediction; at internal nodes it is the cover-weighted mean of the leaves below.
    cover : float64 array (n_nodes,)
        Training weight (sample count or hessian sum) that reached each node.
    roots : int64 array (n_trees,)
        Global index of each tree's root.
    tree_output : int64 array (n_trees,)
        Which output column tree ``t`` contributes to, or ``-1`` when it contributes to all
        (``value`` is zero in the other columns for single-output trees).
    base_offset : float64 array (n_outputs,)
        Constant added to the sum of trees (initial prediction / bias).
    split_le : bool
        True if numerical splits send ``x <= threshold`` left, False if ``x < threshold``.
    output_space : str
        ``"log_odds"`` / ``"raw"`` for boosted margins, ``"probability"`` for averaged class
        probabilities (random forests), ``"raw"`` for regression.
    is_categorical, cat_in_set_left : bool arrays (n_nodes,)
    cat_offsets : int64 array (n_nodes + 1,)
    cat_values : int64 array
        Categorical split sets (see module docstring); empty when no categorical splits.
    n_features : int
        Number of input features of the model.
    zero_as_missing : bool array (n_nodes,)
        Values with ``|x| <= ZERO_THRESHOLD`` follow ``default_left`` (LightGBM
        ``missing_type="Zero"``); all False for other libraries.
    categories : dict or None
        ``{feature index: tuple of category labels}`` for categorical features whose codes
        are positions in the training categories: pandas ``category`` columns of XGBoost and
        LightGBM models, every categorical feature of scikit-learn's HistGradientBoosting
        (which encodes categories in sorted order). Encode a value by its position in the
        tuple (NaN if absent). None or a missing entry means the input value is the code.

    Raises
    ------
    CorruptTreeError
        (a :class:`~assay.errors.ModelError`) on construction, if the arrays are not
        well-formed trees: an index out of range, a node reached twice from the roots, a tree
        deeper than ``MAX_TREE_DEPTH``, a NaN threshold or a non-finite value (see
        :mod:`assay.model._tree_check`). Compiled traversals index these arrays unchecked, so
        every ensemble is checked before they can see it.
    """

    children_left: np.ndarray
    children_right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    default_left: np.ndarray
    value: np.ndarray
    cover: np.ndarray
    roots: np.ndarray
    tree_output: np.ndarray
    base_offset: np.ndarray
    n_features: int
    split_le: bool = True
    output_space: str = "raw"
    is_categorical: np.ndarray = field(default=None)  # type: ignore[assignment]
    cat_in_set_left: np.ndarray = field(default=None)  # type: ignore[assignment]
    cat_offsets: np.ndarray = field(default=None)  # type: ignore[assignment]
    cat_values: np.ndarray = field(default=None)  # type: ignore[assignment]
    zero_as_missing: np.ndarray = field(default=None)  # type: ignore[assignment]
    categories: dict | None = None

    def __post_init__(self) -> None:
        n = len(self.children_left)
        if self.zero_as_missing is None:
            object.__setattr__(self, "zero_as_missing", np.zeros(n, dtype=bool))
        if self.is_categorical is None:
            object.__setattr__(self, "is_categorical", np.zeros(n, dtype=bool))
        if self.cat_in_set_left is None:
            object.__setattr__(self, "cat_in_set_left", np.zeros(n, dtype=bool))
        if self.cat_offsets is None:
            object.__setattr__(self, "cat_offsets", np.zeros(n + 1, dtype=np.int64))
        if self.cat_values is None:
            object.__setattr__(self, "cat_values", np.zeros(0, dtype=np.int64))
        # the last guard before compiled traversal, which indexes these arrays unchecked
        check_ensemble_arrays(self)

    @property
    def n_trees(self) -> int:
        return len(self.roots)

    @property
    def n_nodes(self) -> int:
        return len(self.children_left)

    @property
    def n_outputs(self) -> int:
        return self.value.shape[1]

    @property
    def has_categorical(self) -> bool:
        return bool(self.is_categorical.any())

    def max_depth(self) -> int:
        """Depth of the deepest tree (a single leaf has depth 0)."""
        depth = np.zeros(self.n_nodes, dtype=np.int64)
        best = 0
        for root in self.roots:
            stack = [int(root)]
            while stack:
                node = stack.pop()
                left = self.children_left[node]
                if left >= 0:
                    right = self.children_right[node]
                    depth[left] = depth[right] = depth[node] + 1
                    best = max(best, int(depth[node]) + 1)
                    stack.extend((int(left), int(right)))
        return best
