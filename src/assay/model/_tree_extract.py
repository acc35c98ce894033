"""Read the trees of a fitted model into a :class:`~assay.model._tree_ensemble.TreeEnsemble`.

Supported models
----------------
* scikit-learn: ``DecisionTree*``, ``RandomForest*``, ``ExtraTrees*`` (classifiers give class
  probabilities, averaged over trees; regressors, including multi-output ones, the mean
  prediction), ``GradientBoosting*`` (margins; the constant ``init`` prior becomes
  ``base_offset``) and ``HistGradientBoosting*`` (margins, NaN and categorical splits).
* XGBoost: ``XGBClassifier`` / ``XGBRegressor`` / ``XGBRF*`` / ``XGBRanker`` and ``Booster``
  (``gbtree`` and ``dart``), including NaN and categorical splits.
* LightGBM: ``LGBMClassifier`` / ``LGBMRegressor`` / ``LGBMRanker`` and ``Booster``, including
  ``missing_type`` ``NaN``/``Zero``/``None``, categorical splits and random-forest mode.

Which trees are read: the ones the model's own default ``predict`` uses. A scikit-learn-API
XGBoost model fitted with early stopping predicts with trees up to ``best_iteration``, and so do
LightGBM models and Boosters that have a ``best_iteration``; a native ``xgboost.Booster``
predicts with all of its trees.

Numerics: scikit-learn trees and XGBoost compare ``float32(x)`` with their thresholds; the
thresholds stored here are moved so that comparing the float64 ``x`` routes every value
identically (see :func:`_float32_route_threshold`). XGBoost sums its margin in float32, so its
``predict(output_margin=True)`` differs from the float64 sum here by float32 rounding only.
"""

from __future__ import annotations

import json

import numpy as np

from assay.errors import AssayError, ModelError, NotFittedError
from assay.model._tree_check import (
    bad_tree,
    check_lightgbm_text,
    check_tree_links,
    int_array,
)
from assay.model._tree_ensemble import ZERO_THRESHOLD, TreeEnsemble

__all__ = ["extract_tree_ensemble"]

_SUPPORTED = (
    "scikit-learn DecisionTree*/RandomForest*/ExtraTrees*/GradientBoosting*/"
    "HistGradientBoosting* estimators, xgboost.XGBModel or xgboost.Booster, "
    "lightgbm.LGBMModel or lightgbm.Booster"
)


# what reading a malformed dump (missing keys, wrong types, bad numbers) raises
_MALFORMED = (KeyError, TypeError, ValueError, IndexError, OverflowError, AttributeError,
              RecursionError, MemoryError)  # fmt: skip
# More outputs than this means a corrupted header (XGBoost num_class, LightGBM trees per round).
_MAX_OUTPUTS = 100_000


def extract_tree_ensemble(model) -> TreeEnsemble:
    """Flatten the trees of a fitted tree model into a :class:`TreeEnsemble`.

    Parameters
    ----------
    model : estimator or booster
        A fitted scikit-learn tree model, XGBoost model or LightGBM model (see the module
        docstring for the exact list).

    Returns
    -------
    TreeEnsemble
        Arrays whose traversal (:func:`assay.model._tree_predict.predict_raw`) reproduces
        the model's raw output: class probabilities for scikit-learn forest and tree
        classifiers, margins (``"log_odds"``) for boosted classifiers, predictions (``"raw"``)
        for regressors.

    Raises
    ------
    NotFittedError
        If the model has not been fitted.
    ModelError
        If the model type or one of its options is not supported, or if its trees are
        malformed (a child or feature index out of range, a cycle, NaN thresholds or leaves:
        see :mod:`assay.model._tree_check`); nothing compiled runs on such trees.
    """
    module = type(model).__module__.split(".")[0]
    reader = {"xgboost": _from_xgboost, "lightgbm": _from_lightgbm, "sklearn": _from_sklearn}
    if module in reader:
        try:
            return reader[module](model)
        except AssayError:
            raise
        except _MALFORMED as exc:  # a field missing or of the wrong type in the model's dump
            problem = f"its trees could not be read ({type(exc).__name__}: {str(exc)[:200]})"
            bad_tree(f"{type(model).__name__}", problem, cause=exc)
    msg = (
        f"Cannot read trees from a {type(model).__module__}.{type(model).__qualname__}; "
        f"supported are {_SUPPORTED}. For a Pipeline, extract from its final step and "
        "transform X with the preceding steps; for other models use a model-agnostic "
        "method (method='kernel' or 'permutation')."
    )
    raise ModelError(msg)


# --------------------------------------------------------------------------- helpers


def _check_fitted(model) -> None:
    from sklearn.exceptions import NotFittedError as SkNotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(model)
    except SkNotFittedError as exc:
        msg = f"This {type(model).__name__} is not fitted yet; call fit(X, y) before explaining it."
        raise NotFittedError(msg) from exc


# Values at or beyond this round to infinity in float32 (half an ulp past the largest float32;
# the tie goes to infinity, whose significand is even).
_F32_EDGE = float(np.finfo(np.float32).max) + 2.0**103


def _float32_route_threshold(threshold, *, strict: bool) -> np.ndarray:
    """Thresholds ``T`` with ``x <= T`` equivalent to ``float32(x) <= t`` for every float64 x.

    With ``strict`` the result satisfies ``x < T`` iff ``float32(x) < t`` instead. Casting to
    float32 rounds to nearest, ties to even, and is monotone, so ``float32(x) <= a`` (``a`` the
    largest float32 not above ``t``, or below ``t`` when strict) holds exactly for ``x`` below
    the midpoint ``m`` between ``a`` and the next float32, and at ``m`` itself when ``a`` has an
    even significand. ``m`` is exact in float64.
    """
    t = np.asarray(threshold, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        a = t.astype(np.float32)
        down = a.astype(np.float64) > t
        if strict:
            down |= a.astype(np.float64) == t
        a = np.where(down, np.nextafter(a, np.float32(-np.inf)), a)
        a64 = a.astype(np.float64)
        b64 = np.nextafter(a, np.float32(np.inf)).astype(np.float64)
        mid = np.where(np.isinf(b64), _F32_EDGE, (a64 + b64) * 0.5)
        even = (a.view(np.int32) & 1) == 0
        le = np.where(even, mid, np.nextafter(mid, -np.inf))
        le = np.where(a64 == -np.inf, -_F32_EDGE, le)
        le = np.where(a64 == np.inf, np.inf, le)
        if strict:
            out = np.where(t == -np.inf, -np.inf, np.nextafter(le, np.inf))
        else:
            out = le
    return np.where(np.isnan(t), t, out)


class _Builder:
    """Collects trees with local node indices and assembles the flat arrays."""

    def __init__(self, n_outputs: int) -> None:
        self.n_outputs = n_outputs
        self.parts: list[dict] = []
        self.n_nodes = 0

    def add(
        self,
        left,
        right,
        feature,
        threshold,
        default_left,
        leaf_value,
        cover,
        output: int,
        *,
        cat_sets: dict | None = None,
        cat_in_set_left=None,
        zero_as_missing=None,
    ) -> None:
        tree = len(self.parts)
        left = int_array(left, tree, "left children")
        right = int_array(right, tree, "right children")
        reachable = check_tree_links(left, right, tree=tree)
        n = len(left)
        feature = int_array(feature, tree, "split features")
        leaf_value = np.asarray(leaf_value, dtype=np.float64)
        lengths = {
            "split features": len(feature),
            "thresholds": len(np.atleast_1d(threshold)),
            "default directions": len(np.atleast_1d(default_left)),
            "leaf values": len(leaf_value),
            "covers": len(np.atleast_1d(cover)),
        }
        for what, size in lengths.items():
            if size != n:
                bad_tree(f"tree {tree}", f"it has {n} nodes but {size} {what}")
        if not -1 <= output < self.n_outputs:
            bad_tree(f"tree {tree}", f"it adds to output {output} of {self.n_outputs}")
        if leaf_value.ndim == 2 and leaf_value.shape[1] != self.n_outputs:
            bad_tree(f"tree {tree}", f"its leaves hold {leaf_value.shape[1]} values each")
        for node in cat_sets or {}:
            if not (0 <= int(node) < n and reachable[int(node)] and left[int(node)] >= 0):
                bad_tree(f"tree {tree}, node {node}", "a category set on no split node")
        # nodes the root never reaches (XGBoost keeps pruned ones) become inert leaves
        unreachable = ~reachable
        left = np.where(unreachable, -1, left)
        right = np.where(unreachable, -1, right)
        is_leaf = left < 0
        leaf_value = np.where(
            unreachable.reshape((n,) + (1,) * (leaf_value.ndim - 1)), 0.0, leaf_value
        )
        cover = np.where(unreachable, 0.0, np.asarray(cover, dtype=np.float64))
        value = np.zeros((n, self.n_outputs), dtype=np.float64)
        if leaf_value.ndim == 1 and output >= 0:  # a single-output tree
            value[is_leaf, output] = leaf_value[is_leaf]
        else:
            value[is_leaf] = leaf_value.reshape(n, -1)[is_leaf]
        offset = self.n_nodes
        counts = np.zeros(n, dtype=np.int64)
        values = []
        for node in sorted(cat_sets or {}):
            codes = np.unique(np.asarray(cat_sets[node], dtype=np.int64))
            counts[node] = len(codes)
            values.append(codes)
        is_cat = np.zeros(n, dtype=bool)
        is_cat[list(cat_sets or {})] = True
        no_threshold = is_leaf | is_cat
        self.parts.append(
            {
                "left": np.where(is_leaf, -1, left + offset),
                "right": np.where(is_leaf, -1, right + offset),
                "feature": np.where(is_leaf, -1, feature),
                "threshold": np.where(no_threshold, 0.0, np.asarray(threshold, dtype=np.float64)),
                "default_left": np.asarray(default_left, dtype=bool) & ~is_leaf,
                "value": value,
                "cover": cover,
                "is_cat": is_cat,
                "cat_left": (
                    np.zeros(n, dtype=bool)
                    if cat_in_set_left is None
                    else np.asarray(cat_in_set_left, dtype=bool) & is_cat
                ),
                "cat_counts": counts,
                "cat_values": values,
                "zero": (
                    np.zeros(n, dtype=bool)
                    if zero_as_missing is None
                    else np.asarray(zero_as_missing, dtype=bool) & ~is_leaf
                ),
                "root": offset,
                "output": output,
            }
        )
        self.n_nodes += n

    def build(self, *, base_offset, n_features, split_le, output_space, categories=None):
        def cat(key, dtype, empty_shape=(0,)):
            if not self.parts:
                return np.zeros(empty_shape, dtype=dtype)
            return np.concatenate([p[key] for p in self.parts]).astype(dtype, copy=False)

        left = cat("left", np.int64)
        right = cat("right", np.int64)
        value = cat("value", np.float64, (0, self.n_outputs))
        cover = cat("cover", np.float64)
        roots = np.array([p["root"] for p in self.parts], dtype=np.int64)
        _fill_internal_values(left, right, value, cover, roots)
        cat_values = [v for p in self.parts for v in p["cat_values"]]
        offsets = np.zeros(len(left) + 1, dtype=np.int64)
        np.cumsum(cat("cat_counts", np.int64), out=offsets[1:])
        base = np.broadcast_to(np.asarray(base_offset, dtype=np.float64), (self.n_outputs,))
        return TreeEnsemble(
            children_left=left,
            children_right=right,
            feature=cat("feature", np.int64),
            threshold=cat("threshold", np.float64),
            default_left=cat("default_left", bool),
            value=value,
            cover=cover,
            roots=roots,
            tree_output=np.array([p["output"] for p in self.parts], dtype=np.int64),
            base_offset=base.copy(),
            n_features=int(n_features),
            split_le=split_le,
            output_space=output_space,
            is_categorical=cat("is_cat", bool),
            cat_in_set_left=cat("cat_left", bool),
            cat_offsets=offsets,
            cat_values=(np.concatenate(cat_values) if cat_values else np.zeros(0, dtype=np.int64)),
            zero_as_missing=cat("zero", bool),
            categories=categories or None,
        )


def _fill_internal_values(left, right, value, cover, roots) -> None:
    """Set internal-node values to the cover-weighted mean of their children, bottom-up.

    The weights are the children's covers (so the root value is the cover-weighted mean of
    all leaves); where both children have zero cover the plain mean is used.
    """
    levels = []
    frontier = roots
    while frontier.size:
        internal = frontier[left[frontier] >= 0]
        levels.append(internal)
        frontier = np.concatenate([left[internal], right[internal]])
    for internal in reversed(levels):
        lc, rc = left[internal], right[internal]
        wl, wr = cover[lc], cover[rc]
        total = wl + wr
        ok = total > 0
        wl = np.where(ok, wl, 1.0)
        wr = np.where(ok, wr, 1.0)
        total = np.where(ok, total, 2.0)
        value[internal] = (wl[:, None] * value[lc] + wr[:, None] * value[rc]) / total[:, None]


# --------------------------------------------------------------------------- scikit-learn


def _from_sklearn(model) -> TreeEnsemble:
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.tree import BaseDecisionTree

    forests = (RandomForestClassifier, RandomForestRegressor)
    forests += (ExtraTreesClassifier, ExtraTreesRegressor)
    if isinstance(model, (BaseDecisionTree, *forests)):
        _check_fitted(model)
        trees = [model] if isinstance(model, BaseDecisionTree) else list(model.estimators_)
        return _from_sklearn_forest(model, trees)
    if isinstance(model, GradientBoostingClassifier | GradientBoostingRegressor):
        _check_fitted(model)
        return _from_sklearn_gb(model)
    if isinstance(model, HistGradientBoostingClassifier | HistGradientBoostingRegressor):
        _check_fitted(model)
        return _from_sklearn_hgb(model)
    msg = (
        f"Cannot read trees from scikit-learn {type(model).__name__}; supported are "
        f"{_SUPPORTED}. For a Pipeline, extract from its final step."
    )
    raise ModelError(msg)


def _sklearn_tree_structure(est):
    tree = est.tree_
    left = tree.children_left
    threshold = _float32_route_threshold(tree.threshold, strict=False)
    missing_left = getattr(tree, "missing_go_to_left", None)
    default_left = np.zeros(len(left), dtype=bool) if missing_left is None else missing_left
    return left, tree.children_right, tree.feature, threshold, default_left


def _from_sklearn_forest(model, trees) -> TreeEnsemble:
    from sklearn.base import is_classifier

    n_sk_outputs = int(model.n_outputs_)
    classifier = is_classifier(model)
    if classifier and n_sk_outputs > 1:
        msg = (
            f"{type(model).__name__} was fitted on {n_sk_outputs} targets; multi-output "
            "classifiers are not supported. Fit one classifier per target."
        )
        raise ModelError(msg)
    n_outputs = int(model.n_classes_) if classifier else n_sk_outputs
    builder = _Builder(n_outputs)
    scale = 1.0 / len(trees)
    for est in trees:
        raw = est.tree_.value
        if classifier:
            leaf = raw[:, 0, :n_outputs].astype(np.float64)
            norm = leaf.sum(axis=1)
            norm[norm == 0.0] = 1.0
            leaf = leaf / norm[:, None]  # as DecisionTreeClassifier.predict_proba
        else:
            leaf = raw[:, :, 0].astype(np.float64)
        if len(trees) > 1:
            leaf = leaf * scale
        builder.add(*_sklearn_tree_structure(est), leaf, est.tree_.weighted_n_node_samples, -1)
    return builder.build(
        base_offset=np.zeros(n_outputs),
        n_features=model.n_features_in_,
        split_le=True,
        output_space="probability" if classifier else "raw",
    )


def _from_sklearn_gb(model) -> TreeEnsemble:
    from sklearn.base import is_classifier
    from sklearn.dummy import DummyClassifier, DummyRegressor

    stages = model.estimators_
    n_outputs = stages.shape[1]
    init = model.init_
    if isinstance(init, str) and init == "zero":
        base = np.zeros(n_outputs)
    elif isinstance(init, DummyClassifier | DummyRegressor):
        # A constant init: its raw prediction for any row is the offset.
        dummy_row = np.zeros((1, model.n_features_in_), dtype=np.float32)
        try:
            base = np.asarray(model._raw_predict_init(dummy_row), dtype=np.float64)[0]
        except AttributeError as exc:  # private API moved in a future scikit-learn
            msg = (
                f"Could not read the initial prediction of this {type(model).__name__} "
                f"with scikit-learn {_sklearn_version()}; please report this."
            )
            raise ModelError(msg) from exc
    else:
        msg = (
            f"{type(model).__name__} uses init={type(init).__name__}, whose prediction is "
            "not a constant, so the model is not a plain sum of trees. Refit with "
            "init=None (the default) or init='zero'."
        )
        raise ModelError(msg)
    builder = _Builder(n_outputs)
    lr = float(model.learning_rate)
    for stage in stages:
        for k, est in enumerate(stage):
            leaf = lr * est.tree_.value[:, 0, 0]
            builder.add(*_sklearn_tree_structure(est), leaf, est.tree_.weighted_n_node_samples, k)
    return builder.build(
        base_offset=base,
        n_features=model.n_features_in_,
        split_le=True,
        output_space="log_odds" if is_classifier(model) else "raw",
    )


def _hgb_categories(model):
    """Map preprocessed columns back to input features, and read the training categories.

    With categorical features, scikit-learn ordinal-encodes them (categories in sorted order,
    unknown values to NaN) and moves them before the numerical columns; the trees see those
    positions. Returns ``(perm, n_known, categories)``: ``perm[column]`` is the input feature
    of each preprocessed column, ``n_known[column]`` its number of known categories and
    ``categories`` the labels per input feature (codes are positions in them).
    """
    n_features = int(model.n_features_in_)
    pre = getattr(model, "_preprocessor", None)
    if pre is None:
        return np.arange(n_features), {}, {}
    is_cat = np.asarray(model.is_categorical_, dtype=bool)
    perm = np.empty(n_features, dtype=np.int64)
    perm[pre.output_indices_["encoder"]] = np.flatnonzero(is_cat)
    perm[pre.output_indices_["numerical"]] = np.flatnonzero(~is_cat)
    encoder = pre.named_transformers_["encoder"]
    n_known: dict[int, int] = {}
    categories: dict[int, tuple] = {}
    enc_columns = np.arange(n_features)[pre.output_indices_["encoder"]]
    for column, labels in zip(enc_columns, encoder.categories_, strict=True):
        labels = [v.item() if isinstance(v, np.generic) else v for v in labels]
        if labels and _is_nan(labels[-1]):  # NaN is not a category
            labels = labels[:-1]
        n_known[int(column)] = len(labels)
        categories[int(perm[column])] = tuple(labels)
    return perm, n_known, categories


def _sklearn_version() -> str:
    import sklearn

    return sklearn.__version__


def _is_nan(v) -> bool:
    try:
        return bool(np.isnan(v))
    except (TypeError, ValueError):
        return v is None


def _from_sklearn_hgb(model) -> TreeEnsemble:
    from sklearn.base import is_classifier

    perm, n_known, categories = _hgb_categories(model)
    n_outputs = int(model.n_trees_per_iteration_)
    builder = _Builder(n_outputs)
    for iteration in model._predictors:
        for k, predictor in enumerate(iteration):
            nodes = predictor.nodes
            is_leaf = nodes["is_leaf"].astype(bool)
            left = np.where(is_leaf, -1, nodes["left"].astype(np.int64))
            right = np.where(is_leaf, -1, nodes["right"].astype(np.int64))
            default_left = nodes["missing_go_to_left"].astype(bool)
            cat_sets, cat_left = {}, np.zeros(len(nodes), dtype=bool)
            for node in np.flatnonzero(nodes["is_categorical"].astype(bool) & ~is_leaf):
                column = int(nodes["feature_idx"][node])
                bitset = predictor.raw_left_cat_bitsets[nodes["bitset_idx"][node]]
                known = np.arange(n_known[column])
                goes_left = (bitset[known // 32] >> (known % 32).astype(np.uint32)) & 1
                goes_left = goes_left.astype(bool)
                # Unknown and negative codes go where missing values go (as in
                # scikit-learn), so the set is built on the side missing values avoid.
                if default_left[node]:
                    cat_sets[int(node)] = known[~goes_left]
                else:
                    cat_sets[int(node)] = known[goes_left]
                    cat_left[node] = True
            builder.add(
                left,
                right,
                perm[nodes["feature_idx"].astype(np.int64)],
                nodes["num_threshold"],
                default_left,
                nodes["value"],
                nodes["count"],
                k,
                cat_sets=cat_sets,
                cat_in_set_left=cat_left,
            )
    return builder.build(
        base_offset=np.asarray(model._baseline_prediction, dtype=np.float64).ravel(),
        n_features=model.n_features_in_,
        split_le=True,
        output_space="log_odds" if is_classifier(model) else "raw",
        categories=categories,
    )


# --------------------------------------------------------------------------- XGBoost

_XGB_LOGIT = {"binary:logistic", "reg:logistic"}
_XGB_LOG = {"count:poisson", "reg:gamma", "reg:tweedie", "survival:cox", "survival:aft"}
_XGB_LOG_ODDS = {"binary:logistic", "binary:logitraw", "reg:logistic"}


def _from_xgboost(model) -> TreeEnsemble:
    import xgboost

    n_iterations = None
    if isinstance(model, xgboost.Booster):
        booster = model
    elif isinstance(model, xgboost.XGBModel):
        _check_fitted(model)
        missing = getattr(model, "missing", np.nan)
        if missing is not None and not _is_nan(missing):
            msg = (
                f"{type(model).__name__} was fitted with missing={missing!r}; only "
                "missing=np.nan is supported. Replace that value by NaN in X and refit."
            )
            raise ModelError(msg)
        booster = model.get_booster()
        try:  # the scikit-learn API predicts with the best iteration when there is one
            n_iterations = int(model.best_iteration) + 1
        except AttributeError:
            n_iterations = None
    else:
        msg = f"Cannot read trees from xgboost {type(model).__name__}; supported are {_SUPPORTED}."
        raise ModelError(msg)
    try:
        raw = booster.save_raw(raw_format="json")
    except xgboost.core.XGBoostError as exc:  # an empty Booster() cannot be saved
        msg = (
            "Could not read the XGBoost model; if it is an untrained xgboost.Booster, train "
            f"it (xgboost.train) before explaining it. XGBoost said: {str(exc)[:300]}"
        )
        raise NotFittedError(msg) from exc
    return _xgboost_from_json(json.loads(raw), n_iterations)


def _xgboost_from_json(config: dict, n_iterations: int | None) -> TreeEnsemble:
    learner = config["learner"]
    gbm = learner["gradient_booster"]
    weights = None
    if gbm["name"] == "gbtree":
        model_json = gbm["model"]
    elif gbm["name"] == "dart":
        model_json = gbm["gbtree"]["model"]
        weights = [float(w) for w in gbm.get("weight_drop", [])]
    else:
        msg = (
            f"XGBoost booster={gbm['name']!r} has no trees; tree explanations need "
            "booster='gbtree' or 'dart'. Use a model-agnostic method for linear boosters."
        )
        raise ModelError(msg)
    param = learner["learner_model_param"]
    n_outputs = max(int(param.get("num_class", 0)), int(param.get("num_target", 1)), 1)
    if n_outputs > _MAX_OUTPUTS:
        bad_tree("XGBoost model", f"num_class/num_target is {n_outputs}")
    objective = learner["objective"]["name"]
    trees = model_json["trees"]
    tree_info = model_json["tree_info"]
    indptr = model_json.get("iteration_indptr")
    n_trees = len(trees)
    if n_iterations is not None and indptr is not None and n_iterations < len(indptr):
        n_trees = int(indptr[n_iterations])
    builder = _Builder(n_outputs)
    for index in range(n_trees):
        tree = trees[index]
        if int(tree["tree_param"].get("size_leaf_vector", "1")) > 1:
            msg = (
                "XGBoost multi_strategy='multi_output_tree' (vector leaves) is not "
                "supported; refit with multi_strategy='one_output_per_tree'."
            )
            raise ModelError(msg)
        left = np.asarray(tree["left_children"], dtype=np.int64)
        is_leaf = left < 0
        cond = np.asarray(tree["split_conditions"], dtype=np.float64).astype(np.float32)
        threshold = np.where(is_leaf, 0.0, _float32_route_threshold(cond, strict=True))
        if weights is not None:  # dart: XGBoost scales each leaf in float32
            cond = cond * np.float32(weights[index])
        leaf = cond.astype(np.float64)
        cat_sets = {}
        nodes = tree.get("categories_nodes", [])
        segments = tree.get("categories_segments", [])
        sizes = tree.get("categories_sizes", [])
        values = tree.get("categories", [])
        for node, start, size in zip(nodes, segments, sizes, strict=True):
            cat_sets[int(node)] = values[int(start) : int(start) + int(size)]
        builder.add(
            left,
            tree["right_children"],
            tree["split_indices"],
            threshold,
            np.asarray(tree["default_left"], dtype=bool),
            leaf,
            tree["sum_hessian"],
            int(tree_info[index]),
            cat_sets=cat_sets,
        )
    return builder.build(
        base_offset=_xgboost_base_margin(param["base_score"], objective, n_outputs),
        n_features=int(param["num_feature"]),
        split_le=False,
        output_space=(
            "log_odds" if objective in _XGB_LOG_ODDS or objective.startswith("multi:") else "raw"
        ),
        categories=_xgboost_categories(model_json.get("cats")),
    )


def _xgboost_base_margin(base_score, objective: str, n_outputs: int) -> np.ndarray:
    """The intercept in margin space; XGBoost stores it in the objective's output space."""
    if isinstance(base_score, str):
        base_score = json.loads(base_score) if base_score.startswith("[") else float(base_score)
    # XGBoost transforms the float32 intercept in float32 arithmetic; do the same.
    score = np.atleast_1d(np.asarray(base_score, dtype=np.float32))
    one = np.float32(1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        if objective in _XGB_LOGIT:
            score = -np.log(one / score - one)
        elif objective in _XGB_LOG:
            score = np.log(score)
    score = score.astype(np.float32).astype(np.float64)
    return np.broadcast_to(score, (n_outputs,)).copy()


def _xgboost_categories(cats) -> dict[int, tuple]:
    """Training categories XGBoost (>= 3.1) stores for pandas ``category`` columns."""
    out: dict[int, tuple] = {}
    for feature, enc in enumerate((cats or {}).get("enc", [])):
        values = enc.get("values", [])
        if not values:
            continue
        offsets = enc.get("offsets")
        if offsets:
            raw = bytes(int(v) & 0xFF for v in values)
            try:
                out[feature] = tuple(
                    raw[offsets[i] : offsets[i + 1]].decode("utf-8")
                    for i in range(len(offsets) - 1)
                )
            except UnicodeDecodeError:  # labels we cannot read: leave the codes as given
                continue
        else:
            out[feature] = tuple(values)
    return out


# --------------------------------------------------------------------------- LightGBM

_LGB_LOG_ODDS = {"binary", "cross_entropy", "xentropy", "multiclass", "multiclassova"}


def _from_lightgbm(model) -> TreeEnsemble:
    import lightgbm

    if isinstance(model, lightgbm.Booster):
        booster = model
    elif isinstance(model, lightgbm.LGBMModel):
        _check_fitted(model)
        booster = model.booster_
    else:
        msg = f"Cannot read trees from lightgbm {type(model).__name__}; supported are {_SUPPORTED}."
        raise ModelError(msg)
    # LightGBM's dump and predict follow child indices unchecked: check the flat text first
    check_lightgbm_text(booster.model_to_string(num_iteration=-1))
    # Like Booster.predict, dump_model() uses best_iteration when there is one.
    return _lightgbm_from_dump(booster.dump_model())


def _lightgbm_from_dump(dump: dict) -> TreeEnsemble:
    per_iteration = int(dump["num_tree_per_iteration"])
    if not 1 <= per_iteration <= _MAX_OUTPUTS:
        bad_tree("LightGBM model", f"num_tree_per_iteration is {per_iteration}")
    n_outputs = per_iteration
    trees = dump["tree_info"]
    scale = 1.0
    if dump.get("average_output") and trees:
        scale = 1.0 / (len(trees) // per_iteration)
    n_samples = max((t["tree_structure"].get("internal_count", 0) for t in trees), default=0)
    builder = _Builder(n_outputs)
    for index, tree in enumerate(trees):
        arrays = _lightgbm_tree(tree["tree_structure"], n_samples)
        if scale != 1.0:
            arrays["leaf"] = arrays["leaf"] * scale
        builder.add(
            arrays["left"],
            arrays["right"],
            arrays["feature"],
            arrays["threshold"],
            arrays["default_left"],
            arrays["leaf"],
            arrays["cover"],
            index % per_iteration,
            cat_sets=arrays["cat_sets"],
            cat_in_set_left=arrays["cat_left"],
            zero_as_missing=arrays["zero"],
        )
    objective = str(dump.get("objective", "")).split(" ")[0]
    return builder.build(
        base_offset=np.zeros(n_outputs),
        n_features=int(dump["max_feature_idx"]) + 1,
        split_le=True,
        output_space="log_odds" if objective in _LGB_LOG_ODDS else "raw",
        categories=_lightgbm_categories(dump),
    )


def _lightgbm_tree(root: dict, n_samples: int) -> dict:
    """Flatten one dumped LightGBM tree (nested dicts) in depth-first order."""
    nodes: list[dict] = []
    left: list[int] = []
    right: list[int] = []
    stack: list[tuple[dict, int, bool]] = [(root, -1, True)]
    while stack:
        node, parent, is_left = stack.pop()
        index = len(nodes)
        nodes.append(node)
        left.append(-1)
        right.append(-1)
        if parent >= 0:
            (left if is_left else right)[parent] = index
        if "leaf_coeff" in node:
            msg = (
                "LightGBM linear trees (linear_tree=True) have linear models in their "
                "leaves and cannot be explained as plain trees; refit with linear_tree=False."
            )
            raise ModelError(msg)
        if "left_child" in node:
            stack.append((node["right_child"], index, False))
            stack.append((node["left_child"], index, True))
    n = len(nodes)
    out = {
        "left": np.asarray(left, dtype=np.int64),
        "right": np.asarray(right, dtype=np.int64),
        "feature": np.full(n, -1, dtype=np.int64),
        "threshold": np.zeros(n),
        "default_left": np.zeros(n, dtype=bool),
        "leaf": np.zeros(n),
        "cover": np.zeros(n),
        "cat_sets": {},
        "cat_left": np.zeros(n, dtype=bool),
        "zero": np.zeros(n, dtype=bool),
    }
    for i, node in enumerate(nodes):
        if "left_child" not in node:
            out["leaf"][i] = float(node["leaf_value"])
            out["cover"][i] = float(node.get("leaf_count", n_samples if n == 1 else 0))
            continue
        out["feature"][i] = int(node["split_feature"])
        out["cover"][i] = float(node["internal_count"])
        if node["decision_type"] == "==":
            # Categories in the set go left; NaN and negative values go right.
            out["cat_sets"][i] = [int(c) for c in str(node["threshold"]).split("||")]
            out["cat_left"][i] = True
            continue
        threshold = float(node["threshold"])
        if abs(threshold) >= 1e300:  # the dump clips infinite thresholds (AvoidInf)
            threshold = np.copysign(np.inf, threshold)
        # LightGBM reads |x| <= ZERO_THRESHOLD as 0.0 before comparing; a threshold within
        # that band then splits at the band's edge.
        if -ZERO_THRESHOLD <= threshold < 0.0:
            threshold = float(np.nextafter(-ZERO_THRESHOLD, -np.inf))
        elif 0.0 <= threshold < ZERO_THRESHOLD:
            threshold = ZERO_THRESHOLD
        out["threshold"][i] = threshold
        missing = node.get("missing_type", "None")
        if missing == "None":  # LightGBM compares NaN as 0.0
            out["default_left"][i] = 0.0 <= threshold
        else:
            out["default_left"][i] = bool(node["default_left"])
            out["zero"][i] = missing == "Zero"
    return out


def _lightgbm_categories(dump: dict) -> dict[int, tuple]:
    """Training categories of pandas ``category`` columns, keyed by feature index."""
    pandas_categorical = dump.get("pandas_categorical") or []
    infos = dump.get("feature_infos") or {}
    names = dump.get("feature_names") or list(infos)
    categorical = [
        j
        for j, name in enumerate(names)
        if isinstance(infos.get(name), dict) and infos[name].get("values")
    ]
    if not pandas_categorical or len(categorical) != len(pandas_categorical):
        return {}
    return {j: tuple(labels) for j, labels in zip(categorical, pandas_categorical, strict=True)}
