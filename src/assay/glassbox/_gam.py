"""Boosted additive models (GAMs): :class:`GAMClassifier` and :class:`GAMRegressor`.

The model is ``intercept + sum_j f_j(x_j) + sum_(i,j) f_ij(x_i, x_j)``: one lookup table per
feature over its quantile bins, plus a few pairwise tables over coarser bins. It is fitted the
way InterpretML's Explainable Boosting Machine is: cyclic boosting of one term at a time with
a small learning rate on gradient/hessian histograms (compiled with numba), early stopping on a
validation split, ``n_bags`` outer bags (each a different train/validation split, fitted in
parallel threads) whose average is the model and whose standard deviation gives per-bin error
bars, then pairs chosen by FAST on the residuals and boosted on coarse bins.
"""

from __future__ import annotations

import numbers
import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import NotFittedError as _SklearnNotFitted
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from assay.errors import InvalidInputError, NotFittedError
from assay.glassbox._binning import fit_bins, transform_bins
from assay.glassbox._boost import boost_terms
from assay.glassbox._edit import EditingMixin
from assay.glassbox._interactions import fit_coarse_bins, pair_bin_index, pair_counts, rank_pairs
from assay.glassbox._sklearn import ValidatedInputMixin, check_random_state_seed

__all__ = ["GAMClassifier", "GAMRegressor"]

_LOSS_SQUARED, _LOSS_LOGISTIC, _LOSS_SOFTMAX = 0, 1, 2


class GAMNotFittedError(NotFittedError, _SklearnNotFitted):
    """Raised when a GAM is used before ``fit``: both assay's and scikit-learn's error."""


def _as_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        msg = f"{name} must be an integer >= {minimum}; got {value!r}."
        raise InvalidInputError(msg)
    return int(value)


def _as_float(value: Any, name: str, lo: float, hi: float, *, open_lo: bool = False) -> float:
    bad = isinstance(value, bool) or not isinstance(value, numbers.Real)
    if bad or not (lo < value <= hi if open_lo else lo <= value <= hi):
        bound = f"({lo}, {hi}]" if open_lo else f"[{lo}, {hi}]"
        msg = f"{name} must be a number in {bound}; got {value!r}."
        raise InvalidInputError(msg)
    return float(value)


def _n_threads(n_jobs: Any, n_bags: int) -> int:
    """Threads for the bags: one per usable core by default (joblib's sign convention).

    More threads than cores only adds contention (the kernels are CPU-bound and release
    the GIL), and more threads than bags would sit idle.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not available on macOS / Windows
        cores = os.cpu_count() or 1
    if n_jobs is None:
        n = cores
    elif isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0:
        msg = f"n_jobs must be a non-zero integer or None; got {n_jobs!r}."
        raise InvalidInputError(msg)
    else:
        n = int(n_jobs) if n_jobs > 0 else max(1, cores + 1 + int(n_jobs))
    return max(1, min(n, n_bags))


class _BaseGAM(ValidatedInputMixin, EditingMixin, BaseEstimator):
    """Shared fitting, prediction and explanation code of the two estimators."""

    def __init__(
        self,
        *,
        max_bins: int = 256,
        max_interaction_bins: int = 32,
        interactions: int = 10,
        learning_rate: float = 0.06,
        max_leaves: int = 2,
        smoothing_rounds: int | str = "auto",
        interaction_smoothing_rounds: int = 50,
        min_samples_leaf: int = 10,
        reg_lambda: float = 0.0,
        max_rounds: int = 5000,
        early_stopping_rounds: int = 50,
        early_stopping_tol: float = 1e-6,
        validation_size: float = 0.15,
        n_bags: int = 8,
        categorical_features: Any = None,
        monotone_constraints: Any = None,
        n_jobs: int | None = None,
        progress: bool = False,
        random_state: int | None = None,
        seed: int | None = None,
    ) -> None:
        self.max_bins = max_bins
        self.max_interaction_bins = max_interaction_bins
        self.interactions = interactions
        self.learning_rate = learning_rate
        self.max_leaves = max_leaves
        self.smoothing_rounds = smoothing_rounds
        self.interaction_smoothing_rounds = interaction_smoothing_rounds
        self.min_samples_leaf = min_samples_leaf
        self.reg_lambda = reg_lambda
        self.max_rounds = max_rounds
        self.early_stopping_rounds = early_stopping_rounds
        self.early_stopping_tol = early_stopping_tol
        self.validation_size = validation_size
        self.n_bags = n_bags
        self.categorical_features = categorical_features
        self.monotone_constraints = monotone_constraints
        self.n_jobs = n_jobs
        self.progress = progress
        self.random_state = random_state
        self.seed = seed

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    # -- validation ----------------------------------------------------------------------------
    def _feature_mask(self, spec: Any, name: str, names: list[str]) -> np.ndarray:
        d = len(names)
        mask = np.zeros(d, dtype=bool)
        if spec is None:
            return mask
        items = list(spec)
        if len(items) == d and all(isinstance(v, (bool, np.bool_)) for v in items):
            return np.asarray(items, dtype=bool)
        for item in items:
            mask[self._feature_index(item, names, name)] = True
        return mask

    @staticmethod
    def _feature_index(item: Any, names: list[str], what: str) -> int:
        if isinstance(item, str):
            if item not in names:
                msg = f"{what} names unknown feature {item!r}; known features: {names[:20]}."
                raise InvalidInputError(msg)
            return names.index(item)
        if isinstance(item, numbers.Integral) and not isinstance(item, bool):
            if not 0 <= int(item) < len(names):
                msg = f"{what} has feature index {item} but there are {len(names)} features."
                raise InvalidInputError(msg)
            return int(item)
        msg = f"{what} entries must be feature names or indices; got {item!r}."
        raise InvalidInputError(msg)

    def _monotone_array(self, names: list[str]) -> np.ndarray:
        mono = np.zeros(len(names), dtype=np.int64)
        spec = self.monotone_constraints
        if spec is None:
            return mono
        words = {"increasing": 1, "decreasing": -1, 1: 1, -1: -1, 0: 0, "none": 0}
        if isinstance(spec, dict):
            pairs = list(spec.items())
        else:
            seq = list(spec)
            if len(seq) != len(names):
                msg = (
                    f"monotone_constraints has {len(seq)} entries but X has {len(names)} "
                    "features; pass one of -1/0/1 per feature or a dict {feature: direction}."
                )
                raise InvalidInputError(msg)
            pairs = list(enumerate(seq))
        for key, direction in pairs:
            j = self._feature_index(key, names, "monotone_constraints")
            if direction not in words:
                msg = (
                    f"monotone_constraints[{key!r}] must be 'increasing', 'decreasing', 1, -1 "
                    f"or 0; got {direction!r}."
                )
                raise InvalidInputError(msg)
            mono[j] = words[direction]
        return mono

    def _check_params(self) -> dict[str, Any]:
        return {
            "max_bins": _as_int(self.max_bins, "max_bins", 2),
            "max_interaction_bins": _as_int(self.max_interaction_bins, "max_interaction_bins", 2),
            "interactions": _as_int(self.interactions, "interactions", 0),
            "learning_rate": _as_float(self.learning_rate, "learning_rate", 0.0, 1.0, open_lo=True),
            "max_leaves": _as_int(self.max_leaves, "max_leaves", 2),
            "smoothing_rounds": (
                (500 if isinstance(self, RegressorMixin) else 200)
                if isinstance(self.smoothing_rounds, str) and self.smoothing_rounds == "auto"
                else _as_int(self.smoothing_rounds, "smoothing_rounds", 0)
            ),
            "interaction_smoothing_rounds": _as_int(
                self.interaction_smoothing_rounds, "interaction_smoothing_rounds", 0
            ),
            "min_samples_leaf": _as_int(self.min_samples_leaf, "min_samples_leaf", 1),
            "reg_lambda": _as_float(self.reg_lambda, "reg_lambda", 0.0, np.inf),
            "max_rounds": _as_int(self.max_rounds, "max_rounds", 1),
            "early_stopping_rounds": _as_int(
                self.early_stopping_rounds, "early_stopping_rounds", 1
            ),
            "early_stopping_tol": _as_float(
                self.early_stopping_tol, "early_stopping_tol", 0.0, np.inf
            ),
            "validation_size": _as_float(self.validation_size, "validation_size", 0.0, 0.5),
            "n_bags": _as_int(self.n_bags, "n_bags", 1),
            "random_state": self._seed(),
        }

    def _seed(self) -> int | None:
        """``random_state``, or ``seed`` (its alias under assay's name for every seed)."""
        random_state = check_random_state_seed(self.random_state)
        if self.seed is None:
            return random_state
        seed = check_random_state_seed(self.seed)
        if random_state is not None and random_state != seed:
            msg = (
                f"got random_state={random_state} and seed={seed}; they are the same setting "
                "(seed is its alias), pass one of them."
            )
            raise InvalidInputError(msg)
        return seed

    # -- fitting -------------------------------------------------------------------------------
    def _fit(self, X: np.ndarray, y: np.ndarray, loss: int, init: np.ndarray) -> None:
        from tqdm.auto import tqdm

        p = self._check_params()
        names = self._feature_names()
        n, d = X.shape
        cat = self._feature_mask(self.categorical_features, "categorical_features", names)
        mono = self._monotone_array(names)
        if np.any(cat & (mono != 0)):
            bad = [names[j] for j in np.flatnonzero(cat & (mono != 0))]
            msg = f"features {bad} are categorical and cannot have monotone constraints."
            raise InvalidInputError(msg)
        self.bins_ = [
            fit_bins(X[:, j], max_bins=p["max_bins"], categorical=bool(cat[j])) for j in range(d)
        ]
        main_bins = np.stack([transform_bins(X[:, j], fb) for j, fb in enumerate(self.bins_)])
        main_nb = np.array([fb.n_bins for fb in self.bins_], dtype=np.int64)
        k_n = init.shape[0]
        n_bags = p["n_bags"]
        seeds = np.random.SeedSequence(p["random_state"]).spawn(n_bags)
        n_va = round(p["validation_size"] * n) if n >= 20 else 0
        splits = []
        for s in seeds:
            perm = np.random.default_rng(s).permutation(n)
            splits.append((np.sort(perm[n_va:]), np.sort(perm[:n_va])))
        kw = {
            "lr": p["learning_rate"],
            "lam": p["reg_lambda"] + 1e-9,
            "min_leaf": float(p["min_samples_leaf"]),
            "max_leaves": p["max_leaves"],
            "max_rounds": p["max_rounds"],
            "patience": p["early_stopping_rounds"],
            "tol": p["early_stopping_tol"],
        }
        bag_seeds = [int(s.generate_state(1)[0] % (2**31 - 1)) for s in seeds]
        n_jobs = _n_threads(self.n_jobs, n_bags)
        bar = tqdm(total=2 * n_bags, disable=not self.progress, desc="GAM bags", leave=False)

        def run(term_bins, types, nb1, nb2, tmono, start_fn, b, smooth):
            tr, va = splits[b]
            s_tr = start_fn(tr)
            s_va = start_fn(va)
            vals, rounds, _ = boost_terms(
                loss, np.ascontiguousarray(term_bins[:, tr]), y[tr], s_tr,
                np.ascontiguousarray(term_bins[:, va]), y[va], s_va,
                types, nb1, nb2, tmono, kw["lr"], kw["lam"], kw["min_leaf"], kw["max_leaves"],
                kw["max_rounds"], kw["patience"], kw["tol"], smooth, bag_seeds[b],
            )  # fmt: skip
            return vals, rounds

        def run_all(fn):
            out: list[Any] = [None] * n_bags
            with ThreadPoolExecutor(max_workers=n_jobs) as pool:
                futs = {pool.submit(fn, b): b for b in range(n_bags)}
                for fut in as_completed(futs):
                    out[futs[fut]] = fut.result()
                    bar.update(1)
            return out

        types = np.where(cat, 1, 0).astype(np.int64)
        ones = np.ones(d, dtype=np.int64)
        base = np.tile(init, (n, 1))
        mains = run_all(
            lambda b: run(main_bins, types, main_nb, ones, mono,
                          lambda rows: base[rows].copy(), b, p["smoothing_rounds"])
        )  # fmt: skip
        # Bag scores of the main-effects model on all rows.
        main_scores = []
        for vals, _ in mains:
            sc = base.copy()
            for j in range(d):
                sc += vals[j][main_bins[j]]
            main_scores.append(sc)
        rounds = np.zeros((n_bags, 2), dtype=np.int64)
        rounds[:, 0] = [r for _, r in mains]
        # Pairs: FAST on the bag-averaged main model, then boosting per bag on coarse bins.
        pairs: list[tuple[int, int]] = []
        coarse = {}
        self.pair_ranking_ = []
        if p["interactions"] > 0 and d >= 2:
            allowed = [j for j in range(d) if mono[j] == 0]
            coarse = fit_coarse_bins(
                X, allowed, max_bins=p["max_interaction_bins"], categorical=cat
            )
            ranking = rank_pairs(
                coarse, X, y, np.mean(main_scores, axis=0), loss=loss,
                exclude={j for j in range(d) if mono[j] != 0},
                min_samples_leaf=p["min_samples_leaf"], reg_lambda=p["reg_lambda"],
            )  # fmt: skip
            self.pair_ranking_ = [(pr, s) for pr, s in ranking[: 3 * p["interactions"]]]
            pairs = [pr for pr, s in ranking[: p["interactions"]] if s > 0]
        pair_vals: list[Any] = [None] * n_bags
        if pairs:
            pair_bins = np.stack([pair_bin_index(X, pr, coarse) for pr in pairs])
            nb1 = np.array([coarse[i].n_bins for i, _ in pairs], dtype=np.int64)
            nb2 = np.array([coarse[j].n_bins for _, j in pairs], dtype=np.int64)
            ptypes = np.full(len(pairs), 2, dtype=np.int64)
            zeros = np.zeros(len(pairs), dtype=np.int64)
            res = run_all(
                lambda b: run(pair_bins, ptypes, nb1, nb2, zeros,
                              lambda rows: main_scores[b][rows].copy(), b,
                              p["interaction_smoothing_rounds"])
            )  # fmt: skip
            pair_vals = [v for v, _ in res]
            rounds[:, 1] = [r for _, r in res]
        else:
            bar.update(n_bags)
        bar.close()
        self.pair_bins_ = {j: coarse[j] for pr in pairs for j in pr}
        # Assemble per-bag tables, centre every term on the training rows.
        self.term_features_ = [(j,) for j in range(d)] + [tuple(pr) for pr in pairs]
        self.term_counts_ = [fb.counts.copy() for fb in self.bins_]
        for pr in pairs:
            self.term_counts_.append(pair_counts(pair_bin_index(X, pr, coarse), pr, coarse))
        bag_values = []
        for t, feats in enumerate(self.term_features_):
            if len(feats) == 1:
                nb = main_nb[t]
                arr = np.stack([mains[b][0][t, :nb] for b in range(n_bags)])
            else:
                q = t - d
                a, bb = nb1[q], nb2[q]
                arr = np.stack(
                    [pair_vals[b][q, : a * bb].reshape(a, bb, k_n) for b in range(n_bags)]
                )
            bag_values.append(arr)
        intercepts = np.tile(init, (n_bags, 1))
        for t, arr in enumerate(bag_values):
            w = self.term_counts_[t]
            means = (arr * w[None, ..., None]).reshape(n_bags, -1, k_n).sum(1) / max(w.sum(), 1)
            arr -= means.reshape((n_bags,) + (1,) * (arr.ndim - 2) + (k_n,))
            intercepts += means
            _zero_unknown(arr, self.term_features_[t], self)
        self.bag_values_ = bag_values
        self.bag_intercepts_ = intercepts
        self.n_rounds_ = rounds
        self.loss_ = loss
        self.edits_ = []
        self._undo_stack = []
        self._refresh()

    def _refresh(self) -> None:
        """Recompute the averaged tables and error bars from the per-bag tables."""
        self.term_values_ = [arr.mean(axis=0) for arr in self.bag_values_]
        self.term_std_ = [arr.std(axis=0) for arr in self.bag_values_]
        self.intercept_ = self.bag_intercepts_.mean(axis=0)
        names = self._feature_names()
        self.term_names_ = [" & ".join(names[j] for j in f) for f in self.term_features_]

    # -- prediction ----------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        try:
            check_is_fitted(self, "bag_values_")
        except Exception as exc:
            msg = f"This {type(self).__name__} is not fitted yet; call .fit(X, y) before using it."
            raise GAMNotFittedError(msg) from exc

    def _term_bins(self, X: np.ndarray, t: int) -> tuple[np.ndarray, ...]:
        feats = self.term_features_[t]
        if len(feats) == 1:
            return (transform_bins(X[:, feats[0]], self.bins_[feats[0]]),)
        return tuple(transform_bins(X[:, j], self.pair_bins_[j]) for j in feats)

    def _contributions(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Validated rows and per-term contributions, shape (n, n_terms, K)."""
        self._check_fitted()
        Xv = self._validate_X(X, reset=False)
        k_n = self.intercept_.shape[0]
        out = np.zeros((Xv.shape[0], len(self.term_features_), k_n))
        for t, table in enumerate(self.term_values_):
            out[:, t, :] = table[self._term_bins(Xv, t)]
        return Xv, out

    def term_contributions(self, X: Any) -> np.ndarray:
        """Contribution of every term to the raw score of each row.

        Returns
        -------
        ndarray of float64, shape (n_samples, n_terms, n_scores)
            ``contributions.sum(axis=1) + intercept_`` is the raw score (log-odds for binary
            classification, class scores for multiclass, the prediction for regression).
            Terms are listed in ``term_names_``.
        """
        return self._contributions(X)[1]

    def _raw(self, X: Any) -> np.ndarray:
        return self._contributions(X)[1].sum(axis=1) + self.intercept_

    def term_importances(self) -> dict[str, float]:
        """Mean absolute contribution of each term over the training rows (averaged over scores).

        Returns
        -------
        dict
            ``{term_name: importance}`` in term order.
        """
        self._check_fitted()
        out = {}
        for name, table, w in zip(
            self.term_names_, self.term_values_, self.term_counts_, strict=True
        ):
            out[name] = float((np.abs(table).mean(axis=-1) * w).sum() / max(w.sum(), 1.0))
        return out

    def explain(self, X: Any):
        """Exact per-feature contributions as an :class:`~assay.attribution.Explanation`.

        A main effect goes to its feature; a pair term's contribution is split equally between
        its two features (the pair contributions themselves are in
        :meth:`term_contributions`). ``values.sum(axis=1) + base_values`` equals
        :meth:`decision_function` (log-odds) for classifiers and :meth:`predict` for
        regressors, exactly up to floating-point rounding.
        """
        from assay.attribution import Explanation

        Xv, contrib = self._contributions(X)
        n, d = Xv.shape
        k_n = contrib.shape[2]
        values = np.zeros((n, d, k_n))
        for t, feats in enumerate(self.term_features_):
            for j in feats:
                values[:, j, :] += contrib[:, t, :] / len(feats)
        names = self._feature_names()
        if hasattr(self, "classes_"):
            outs = [str(self.classes_[1])] if k_n == 1 else [str(c) for c in self.classes_]
            space = "log_odds" if k_n == 1 else "raw"
        else:
            outs, space = ["prediction"], "raw"
        return Explanation(
            values=values,
            base_values=np.tile(self.intercept_, (n, 1)),
            data=Xv,
            feature_names=names,
            output_names=outs,
            method="gam",
            output_space=space,
            params={
                "model": type(self).__name__,
                "terms": list(self.term_names_),
                "pair_contributions": "split equally between the two features",
                "random_state": self._seed(),
            },
        )

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path: Any):
        """Save the fitted model and its edit history (JSON + npz, no pickle)."""
        from assay.glassbox._io import save_gam

        return save_gam(self, path)

    @classmethod
    def load(cls, path: Any):
        """Load a model written by :meth:`save`."""
        from assay.glassbox._io import load_gam

        model = load_gam(path)
        if not isinstance(model, cls):
            msg = f"{str(path)!r} holds a {type(model).__name__}, not a {cls.__name__}."
            raise InvalidInputError(msg)
        return model


def _zero_unknown(arr: np.ndarray, feats: tuple[int, ...], model: _BaseGAM) -> None:
    """Fix the score of the 'unknown category' bin(s) to 0 (an average contribution)."""
    if len(feats) == 1:
        arr[:, -1, :] = 0.0
    else:
        arr[:, -1, :, :] = 0.0
        arr[:, :, -1, :] = 0.0


class GAMClassifier(ClassifierMixin, _BaseGAM):
    """Boosted additive classifier (binary and multiclass), an EBM-style glass-box model.

    Parameters
    ----------
    max_bins : int, default=256
        Quantile bins per feature for the main effects (missing values get their own bin).
    max_interaction_bins : int, default=32
        Bins per feature for the pair terms.
    interactions : int, default=10
        Number of pairs to add, chosen by FAST on the residuals of the main-effects model.
        Pairs never involve monotone-constrained features.
    learning_rate : float, default=0.06
        Shrinkage of each boosting step.
    max_leaves : int, default=2
        Leaves of the tree fitted to a main effect's histogram in each step.
    smoothing_rounds : int or "auto", default="auto"
        The first rounds use a random cut per main effect instead of the best one, which
        gives smoother shapes (as EBM does); "auto" is 200 for classification and 500 for
        regression. Early stopping only starts after them.
    interaction_smoothing_rounds : int, default=50
        The same for the pair terms.
    min_samples_leaf : int, default=10
        Minimum rows in a leaf.
    reg_lambda : float, default=0.0
        L2 penalty on leaf values (added to the hessian sum).
    max_rounds : int, default=5000
        Maximum boosting rounds (one round visits every term).
    early_stopping_rounds : int, default=50
        Stop when the validation loss has not improved for this many rounds.
    early_stopping_tol : float, default=1e-6
        Minimum improvement that counts.
    validation_size : float, default=0.15
        Share of the rows held out per bag for early stopping (none below 20 rows).
    n_bags : int, default=8
        Outer bags, each with its own train/validation split; their mean is the model and
        their standard deviation the error bars (``term_std_``). Bag-to-bag spread comes from
        different 85% subsamples, so it understates full sampling error (as in EBM).
    categorical_features : list of names/indices or boolean mask, optional
        Features whose values are categories (one bin per value, unseen values score 0).
    monotone_constraints : dict or sequence, optional
        ``{feature: "increasing" | "decreasing"}`` or one of -1/0/1 per feature. Enforced after
        every boosting step by weighted isotonic projection, so the fitted shape is monotone
        in every bag (the missing bin is left free).
    n_jobs : int, optional
        Threads for the bags (default: one per usable core; negative values count back
        from the number of cores, as in joblib: -1 is all cores).
    progress : bool, default=False
        Show a tqdm progress bar over the bags.
    random_state : int, optional
        Seed of the bag splits (scikit-learn's name).
    seed : int, optional
        The same seed under assay's name for every seed (``docs/ARCHITECTURE.md``, "Names");
        pass ``random_state`` or ``seed``, not two different values.

    Attributes
    ----------
    classes_ : ndarray
    term_features_ : list of tuple of int
        Feature indices of each term (mains first, then pairs).
    term_names_ : list of str
    term_values_ : list of ndarray
        Bag-averaged table of each term, shape ``(n_bins, K)`` or ``(nb_i, nb_j, K)`` where
        ``K`` is 1 for binary classification (log-odds of ``classes_[1]``) and the number of
        classes otherwise.
    term_std_ : list of ndarray
        Standard deviation over bags, same shapes (the error bars).
    intercept_ : ndarray of shape (K,)
    bag_values_, bag_intercepts_ : per-bag tables and intercepts.
    bins_ : list of FeatureBins
        Main-effect binning (bin 0 = missing, last bin = unknown category).
    pair_bins_ : dict
        Coarse binning of the features used by pairs.
    n_rounds_ : ndarray of shape (n_bags, 2)
        Boosting rounds kept (mains, pairs) per bag.
    edits_ : list of EditRecord
        The audit trail of edits (see :meth:`remove_term` and friends).

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> gam = GAMClassifier(n_bags=2, interactions=2, random_state=0).fit(X, y)
    >>> gam.predict_proba(X[:3]).shape
    (3, 2)
    >>> exp = gam.explain(X[:5])
    >>> bool(abs(exp.values.sum(axis=1)[:, 0] + exp.base_values[:, 0]
    ...          - gam.decision_function(X[:5])).max() < 1e-9)
    True
    """

    def fit(self, X: Any, y: Any) -> GAMClassifier:
        """Fit the model; returns ``self``."""
        X, y = self._validate_X(X, reset=True, y=y)
        try:
            check_classification_targets(y)
            classes, y_enc = np.unique(y, return_inverse=True)
        except ValueError as exc:
            msg = (
                f"{exc} GAMClassifier needs discrete class labels; for a numeric target use "
                "GAMRegressor, or bin the target into classes first."
            )
            raise InvalidInputError(msg) from exc
        except TypeError as exc:
            kinds = sorted({type(v).__name__ for v in np.asarray(y, dtype=object).ravel()})
            msg = (
                f"y mixes label types {kinds}, which cannot be sorted into classes; use one "
                "type for every label (all strings or all integers)."
            )
            raise InvalidInputError(msg) from exc
        if classes.size < 2:
            msg = (
                f"y has only 1 class ({classes[0]!r}); a classifier needs at least 2 classes. "
                "Check the target column."
            )
            raise InvalidInputError(msg)
        self.classes_ = classes
        counts = np.bincount(y_enc, minlength=classes.size).astype(np.float64)
        prior = counts / counts.sum()
        if classes.size == 2:
            init = np.array([np.log(prior[1] / prior[0])])
            loss = _LOSS_LOGISTIC
        else:
            init = np.log(prior)
            loss = _LOSS_SOFTMAX
        self._fit(X, y_enc.astype(np.float64), loss, init)
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Raw scores: log-odds of ``classes_[1]`` (binary, shape (n,)) or class scores."""
        raw = self._raw(X)
        return raw[:, 0] if raw.shape[1] == 1 else raw

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes)."""
        raw = self._raw(X)
        if raw.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-raw[:, 0]))
            return np.column_stack([1.0 - p, p])
        z = np.exp(raw - raw.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class of each row."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class GAMRegressor(RegressorMixin, _BaseGAM):
    """Boosted additive regressor (squared error); see :class:`GAMClassifier` for parameters.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> X, y = load_diabetes(return_X_y=True)
    >>> gam = GAMRegressor(n_bags=2, interactions=2, random_state=0).fit(X, y)
    >>> gam.predict(X[:3]).shape
    (3,)
    >>> bool(gam.score(X, y) > 0.5)
    True
    """

    def fit(self, X: Any, y: Any) -> GAMRegressor:
        """Fit the model; returns ``self``."""
        X, y = self._validate_X(X, reset=True, y=y)
        try:
            y = np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            msg = (
                f"GAMRegressor needs a numeric target; y could not be read as numbers ({exc}). "
                "For class labels use GAMClassifier."
            )
            raise InvalidInputError(msg) from exc
        if not np.isfinite(y).all():
            msg = "y contains NaN or infinite values; remove those rows or impute the target."
            raise InvalidInputError(msg)
        self._fit(X, y, _LOSS_SQUARED, np.array([float(np.mean(y))]))
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values, shape (n_samples,)."""
        return self._raw(X)[:, 0]
