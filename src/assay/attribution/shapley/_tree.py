"""TreeSHAP: exact Shapley values of tree ensembles, path-dependent or interventional.

Both modes read the model's trees as a :class:`~assay.model.TreeEnsemble` and run compiled,
multi-threaded kernels: :mod:`._tree_path` (path-dependent, O(nodes x depth) per row) and
:mod:`._tree_leaf_patterns` (interventional margins: the background merged per leaf, so a
row costs one pass per tree) or :mod:`._tree_interventional` (probability output: one walk per
row and background row). Rows are processed in chunks so that working memory stays under
``max_memory``; the only array as large as the answer is the answer itself.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numba
import numpy as np
from tqdm.auto import tqdm

from assay._validation import check_int
from assay.attribution._background import check_background_weights, resolve_background
from assay.attribution._base import BaseExplainer, check_finite_attributions
from assay.attribution._explanation import Explanation
from assay.attribution.shapley._tree_interventional import (
    DEFAULT_MAX_ENUMERATED,
    BackgroundRoutes,
    interventional_shap,
)
from assay.attribution.shapley._tree_path import build_path_plan, path_dependent_shap
from assay.errors import InvalidInputError, ModelError
from assay.model import ModelAdapter, wrap
from assay.model._tree_predict import predict_raw

__all__ = ["TreeShap"]

MODES = ("path_dependent", "interventional")
# Interventional margins of ensembles with at least this many leaves per tree (forests grown to
# purity) use the pruned descent of :mod:`._tree_pruned` (~6x faster than the per-leaf masks on
# RandomForest(100 trees, unlimited depth), which visit every leaf for every row).
PRUNED_MIN_LEAVES = 512
DEFAULT_TREE_MEMORY = 2**30  # bytes of working memory per chunk of rows


@contextlib.contextmanager
def _threads(n: int):
    previous = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


class TreeShap(BaseExplainer):
    """Exact SHAP values of a tree ensemble (TreeSHAP), path-dependent or interventional.

    Parameters
    ----------
    model : tree model or ModelAdapter
        A fitted scikit-learn ``DecisionTree*``, ``RandomForest*``, ``ExtraTrees*``,
        ``GradientBoosting*`` or ``HistGradientBoosting*`` model, an XGBoost or a LightGBM
        model (scikit-learn API or Booster).
    background : array-like or BackgroundSummary, optional
        Reference rows for ``mode="interventional"`` (ignored with a warning-free no-op in
        path-dependent mode, which uses the training covers instead). When None, each
        ``explain`` call uses up to 100 rows of ``X`` (a seeded sample).
    background_weights : array-like of shape (n_background,), optional
        Weights of the background rows; normalized to sum to 1.
    mode : {"path_dependent", "interventional"}, default "path_dependent"
        ``"path_dependent"``: the conditional expectations follow the training data down the
        trees (node covers), as ``shap.TreeExplainer(feature_perturbation="tree_path_dependent")``
        and XGBoost's/LightGBM's own contributions. ``"interventional"``: the marginal game
        ``v(S) = E_b f(x_S, b_{-S})`` over the background, exactly.
    output_space : {"log_odds", "raw", "probability"}, optional
        Default: the space in which the trees add up — margins (``"log_odds"``) for boosted
        classifiers, class probabilities for forest classifiers, ``"raw"`` for regressors.
        ``"probability"`` for a binary boosted classifier is available in interventional mode
        (exact Shapley values of ``sigmoid(margin)``; see :mod:`._tree_interventional`).
    output : str, optional
        Alias of ``output_space``.
    n_jobs : int, optional
        Threads; None uses all of numba's threads.
    max_memory : int, default 1 GiB
        Bound in bytes on the working memory of one chunk of rows.
    max_enumerated : int, default 16
        For probability output: the most features on which a row and a background row may
        route differently (each such pair enumerates ``2^p`` coalitions).
    progress : bool, default False
        Show a progress bar over chunks.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import RandomForestRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 4))
    >>> model = RandomForestRegressor(n_estimators=10, max_depth=4, random_state=0)
    >>> model = model.fit(X, X[:, 0] + X[:, 1] ** 2)
    >>> exp = TreeShap(model).explain(X[:5])
    >>> exp.values.shape
    (5, 4, 1)
    >>> bool(np.allclose(exp.values.sum(1) + exp.base_values, model.predict(X[:5])[:, None]))
    True
    """

    method = "tree"

    def __init__(
        self,
        model: Any,
        *,
        background: Any = None,
        background_weights: Any = None,
        mode: str = "path_dependent",
        output_space: str | None = None,
        output: str | None = None,
        n_jobs: int | None = None,
        max_memory: int = DEFAULT_TREE_MEMORY,
        max_enumerated: int = DEFAULT_MAX_ENUMERATED,
        progress: bool = False,
    ) -> None:
        if mode not in MODES:
            msg = f"mode must be one of {list(MODES)}; got {mode!r}."
            raise InvalidInputError(msg)
        if output is not None and output_space is not None and output != output_space:
            msg = (
                f"output={output!r} and output_space={output_space!r} disagree; they are the "
                "same option, pass one of them."
            )
            raise InvalidInputError(msg)
        requested = output_space if output_space is not None else output
        inner = model
        if isinstance(model, ModelAdapter):
            inner = model.model
            if requested is None:
                default = wrap(inner).output_space
                # an adapter built with a non-default space (e.g. by assay.explain) asks for it
                if model.output_space != default:
                    requested = model.output_space
        probe = model if isinstance(model, ModelAdapter) else wrap(inner)
        if not probe.has_trees:
            msg = (
                f"TreeShap needs a tree model; got {type(inner).__name__}. Use "
                "method='exact' (up to 20 features), 'kernel' or 'permutation' for other models."
            )
            raise ModelError(msg)
        self.ensemble = probe.tree_ensemble()
        native = self.ensemble.output_space
        space, self._probability = self._resolve_space(requested, native, mode)
        background, background_weights = resolve_background(background, background_weights)
        super().__init__(
            inner, background=background, output_space=space, max_memory=max_memory,
            progress=progress,
        )  # fmt: skip
        if background_weights is not None:
            if self.background is None:
                msg = "background_weights were given without a background; pass both."
                raise InvalidInputError(msg)
            self.background_weights = check_background_weights(
                background_weights, self.background.shape[0]
            )
        self.mode = mode
        self.n_jobs = None if n_jobs is None else check_int(n_jobs, name="n_jobs", minimum=1)
        self.max_enumerated = check_int(
            max_enumerated, name="max_enumerated", minimum=1, maximum=24
        )
        self._plan = build_path_plan(self.ensemble) if mode == "path_dependent" else None
        self._max_depth = self.ensemble.max_depth()  # a Python walk over all nodes: once

    @staticmethod
    def _resolve_space(requested: str | None, native: str, mode: str) -> tuple[str, bool]:
        """The adapter's output space and whether a sigmoid is applied to the margin."""
        if requested is None or requested == native:
            return native, False
        margins = ("log_odds", "raw")
        if requested in margins and native in margins:
            return native, False
        if requested == "probability" and native == "log_odds":
            if mode != "interventional":
                msg = (
                    "output_space='probability' of a boosted classifier is not additive over "
                    "trees, so path-dependent TreeSHAP cannot give it exactly. Use "
                    "mode='interventional' (exact, with a background) or explain the margin "
                    "(output_space='log_odds')."
                )
                raise InvalidInputError(msg)
            return "probability", True
        msg = (
            f"TreeShap cannot explain this model in output_space={requested!r}: its trees add "
            f"up in {native!r}. Use output_space={native!r}"
            + (" or 'probability' (interventional mode)." if native == "log_odds" else ".")
        )
        raise InvalidInputError(msg)

    def _n_threads(self) -> int:
        limit = numba.config.NUMBA_NUM_THREADS
        return limit if self.n_jobs is None else min(self.n_jobs, limit)

    def explain(self, X: Any, *, seed: int | None = None) -> Explanation:
        """Exact SHAP values for every row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to explain; NaN marks a missing value where the model supports it, and
            categorical features are passed as integer codes.
        seed : int, optional
            Only used to sample a background from ``X`` (interventional mode, no background).

        Returns
        -------
        Explanation
            ``values`` of shape (n_samples, n_features, n_outputs); ``stderr`` is None.
        """
        Xv, names, seed = self._prepare(X, seed)
        from assay.model._adapters import _check_category_codes

        _check_category_codes(self.ensemble, self.adapter)  # the data's codes, now all seen
        Xv = np.ascontiguousarray(Xv, dtype=np.float64)
        ens = self.ensemble
        if Xv.shape[1] != ens.n_features:
            msg = (
                f"X has {Xv.shape[1]} columns but the tree model was fitted on "
                f"{ens.n_features}; pass the same columns, in the same order, as in training."
            )
            raise InvalidInputError(msg)
        n, d = Xv.shape
        k_out = 2 if self._probability else ens.n_outputs
        values = np.zeros((n, d, k_out))
        n_threads = self._n_threads()
        params: dict[str, Any] = {
            "mode": self.mode,
            "output_space": self.adapter.output_space,
            "n_jobs": self.n_jobs,
            "n_threads": n_threads,
            "n_trees": ens.n_trees,
            "max_depth": self._max_depth,
            "seed": seed,
        }
        if self.mode == "path_dependent":
            base_row = ens.base_offset + self._plan.expected.sum(axis=0)
            params["algorithm"] = "linear TreeSHAP (Gauss-Legendre, exact)"
            params["quadrature_points"] = int(self._plan.n_q)

            def run(rows: np.ndarray, out: np.ndarray) -> None:
                path_dependent_shap(self._plan, ens, rows, out, n_threads=n_threads)

            row_bytes = d * ens.n_outputs * 8 + 256
        else:
            bg, note = self._background_for(Xv, seed)
            w = self.background_weights if self.background is not None else None
            if w is None:
                w = np.full(bg.shape[0], 1.0 / bg.shape[0])
            bg = np.ascontiguousarray(bg, dtype=np.float64)
            layout = self._pruned_layout()
            with _threads(n_threads):
                # the tables depend on n, never on max_memory or threads: the same rows give
                # bit-identical values however they are chunked
                routes = BackgroundRoutes(ens, bg, w, walk=self._probability, n_rows=n,
                                          n_threads=n_threads, max_depth=self._max_depth,
                                          pruned_layout=layout)  # fmt: skip
            params["tree_algorithm"] = (
                "pair walk"
                if routes.patterns is None and routes.pruned is None
                else "pruned descent"
                if routes.pruned is not None
                else "leaf patterns"
            )
            f_bg = predict_raw(ens, bg)
            params.update(background=note, n_background=int(bg.shape[0]),
                          weighted_background=self.background_weights is not None,
                          algorithm="interventional TreeSHAP (exact)")  # fmt: skip
            if self._probability:
                p1 = float(w @ _sigmoid(f_bg[:, 0]))
                base_row = np.array([1.0 - p1, p1])
                params["max_enumerated"] = self.max_enumerated
            else:
                base_row = w @ f_bg
            row_bytes = d * 8 + ens.n_nodes + 256

            def run(rows: np.ndarray, out: np.ndarray) -> None:
                self._interventional_chunk(rows, out, routes, n_threads)

        chunk = max(1, min(n, self.max_memory // row_bytes)) if n else 1
        starts = range(0, n, chunk)
        with _threads(n_threads):
            for start in tqdm(starts, disable=not self.progress, desc="TreeSHAP", unit="chunk"):
                stop = min(start + chunk, n)
                run(Xv[start:stop], values[start:stop])
        base = np.tile(np.asarray(base_row, dtype=np.float64), (n, 1))
        check_finite_attributions(values, base, method=self.method)
        return Explanation(
            values=values,
            base_values=base,
            data=Xv,
            feature_names=names,
            output_names=self._output_names(k_out),
            method=self.method,
            output_space=self.adapter.output_space,
            stderr=None,
            params=params,
        )

    def _pruned_layout(self) -> Any:
        """The preorder layout of :mod:`._tree_pruned` for deep trees (built once), else None."""
        if self._probability:
            return None
        ens = self.ensemble
        leaves_per_tree = (ens.n_nodes / max(ens.n_trees, 1) + 1) / 2
        if leaves_per_tree < PRUNED_MIN_LEAVES:
            return None
        cached = getattr(self, "_pruned_cache", None)
        if cached is None or cached[0] is not ens:
            from assay.attribution.shapley._tree_pruned import PrunedLayout
            from assay.model._tree_predict import traversal_arrays

            cached = (ens, PrunedLayout(ens, traversal_arrays(ens)))
            self._pruned_cache = cached
        return cached[1]

    def _interventional_chunk(
        self, rows: np.ndarray, out: np.ndarray, routes: BackgroundRoutes, n_threads: int
    ) -> None:
        if not self._probability:
            interventional_shap(self.ensemble, routes, rows, out, probability=False,
                                n_threads=n_threads)  # fmt: skip
            return
        pos = np.zeros(out.shape[:2])
        too_many = interventional_shap(
            self.ensemble, routes, rows, pos, probability=True, n_threads=n_threads,
            max_enumerated=self.max_enumerated,
        )  # fmt: skip
        if too_many:
            msg = (
                f"probability output enumerates 2^p coalitions per (row, background row) pair, "
                f"where p counts the features on which the two route differently; a pair has "
                f"p={too_many} > max_enumerated={self.max_enumerated}. Raise max_enumerated "
                "(cost doubles per unit), or explain the margin (output_space='log_odds'), "
                "which is exact at any size."
            )
            raise InvalidInputError(msg)
        out[:, :, 1] = pos
        out[:, :, 0] = -pos

    def _output_names(self, k: int) -> list[str]:
        try:
            names = self.adapter.output_names
        except ModelError:
            names = []
        if len(names) == k:
            return names
        return [f"output_{j}" for j in range(k)]
