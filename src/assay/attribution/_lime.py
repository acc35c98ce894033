"""LIME for tabular data: a sparse, weighted linear surrogate fitted around each row.

For a row ``x`` the explainer draws ``n_samples`` perturbed rows ``z`` (the first one is ``x``
itself), asks the model for ``f(z)``, and fits ``g(z) = b + sum_j beta_j phi_j(z)`` by weighted
least squares with weights from an exponential kernel on the distance between ``z`` and ``x``.
K-lasso (the lasso path of :func:`sklearn.linear_model.lars_path_gram`, the sufficient-statistics
form of ``lars_path``) picks at most ``n_select`` features, then a weighted ridge is fitted on them.

Pipeline: rows are processed in blocks; per block the Gaussian draws are finished, featurized
and kernel-weighted in one compiled pass (:mod:`assay.attribution._lime_fit`), evaluated with one
model call (a library model gets blocks up to ``max_memory``), reduced to weighted sufficient
statistics by batched BLAS products, and every (row, output) K-lasso path and ridge solve runs
compiled (scikit-learn's special cases fall back to ``lars_path_gram``). Row ``i`` always uses
its own seed, so the blocking never changes a result.

Interpretable features ``phi``:

- continuous feature ``j``: ``phi_j(z) = (z_j - x_j) / s_j`` with ``s_j`` the training standard
  deviation (so the surrogate works in standard-deviation units; coefficients are reported back
  in the original units as ``beta_j / s_j``);
- categorical feature ``j``: ``phi_j(z) = 1[z_j == x_j]``.

Sampling (``sample_around="instance"``, the default): a continuous feature is
``z_j = x_j + c s_j N(0, 1)`` with ``c = sample_scale`` (default 0.5); a categorical feature
is redrawn from its training frequencies.
``sample_around="mean"`` centres continuous features at the training mean instead (what the
``lime`` package does without discretization).

Kernel: ``pi(z) = exp(-D(z, x)^2 / (2 w^2))`` with
``D^2 = sum_continuous phi_j^2 + sum_categorical (1 - phi_j)`` (standardized distance; this is
``lime``'s ``sqrt(exp(-D^2 / w^2))``). The default width is ``w = 0.75 sqrt(d)``. Around the
instance ``D^2`` is about ``c^2 chi^2_d``, so the median weight is about
``exp(-c^2 / 1.125)`` (0.80 at ``c = 0.5``, 0.41 at ``c = 1``; measured values in
benchmarks/RESULTS.md): the kernel only mildly down-weights, and locality comes from sampling
at the instance — every sample lies about ``c`` training standard deviations per feature from
``x``, whereas the ``lime`` default samples the whole training distribution, so its
neighbourhood is the data set.

Attributions: ``values[i, j, k] = coef_jk * (phi_j(x) - E_train[phi_j])``, i.e.
``coef_j * (x_j - mean_j)`` for a continuous feature (``coef`` in original units) and
``beta_j * (1 - freq_j(x_j))`` for a categorical one. On a linear model ``f(z) = a + c.z`` the
surrogate is exact, ``coef = c`` and the values equal the interventional Shapley values against
the training mean. ``base_values = g(x) - values.sum(axis=1)``, so the values add up to the
*surrogate's* prediction at ``x`` (reported, with the model's, in ``params``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from itertools import combinations
from typing import Any

import numpy as np
from sklearn import config_context
from sklearn.linear_model import lars_path_gram
from tqdm.auto import tqdm

from assay._deprecation import renamed
from assay._validation import check_int, check_seed
from assay.attribution._base import BaseExplainer
from assay.attribution._explanation import Explanation
from assay.attribution._lime_fit import klasso_ridge, weighted_features
from assay.errors import InvalidInputError

__all__ = [
    "Lime",
    "LimeTabular",
    "fit_sparse_surrogates",
    "stability_seeds",
    "top_k_jaccard",
]

DEFAULT_WIDTH_FACTOR = 0.75


def _select_k(xy: np.ndarray, gram: np.ndarray, n_samples: int, k: int) -> np.ndarray:
    """At most ``k`` feature indices: the lasso-path point just before more than k are active."""
    d = xy.shape[0]
    if k >= d:
        return np.arange(d)
    if not np.any(xy):
        return np.arange(0)
    max_iter = 2 * k + 2  # enough unless the lasso drops variables often; then rerun in full
    while True:
        with warnings.catch_warnings(), config_context(skip_parameter_validation=True):
            warnings.simplefilter("ignore")  # lars warns on degenerate (tied/collinear) steps
            _, _, coefs, n_iter = lars_path_gram(
                xy,
                gram,
                n_samples=n_samples,
                method="lasso",
                max_iter=max_iter,
                return_n_iter=True,
            )
        counts = (coefs != 0).sum(axis=0)
        if counts[-1] > k or n_iter < max_iter or max_iter >= 500:
            break
        max_iter = 500
    over = np.flatnonzero(counts > k)
    last = over[0] - 1 if over.size else coefs.shape[1] - 1
    return np.flatnonzero(coefs[:, last]) if last >= 0 else np.arange(0)


def _fit_one(gram, xy, yy, m, n_select, l2, coef_out, r2_out, t, sel_out) -> None:
    """One (row, output) surrogate with scikit-learn's lasso path (special cases)."""
    idx = _select_k(xy, gram, m, n_select)
    beta = np.zeros(0)
    if idx.size:
        g = gram[np.ix_(idx, idx)] + l2 * np.eye(idx.size)
        try:
            beta = np.linalg.solve(g, xy[idx])
        except np.linalg.LinAlgError:
            beta = np.linalg.lstsq(g, xy[idx], rcond=None)[0]
    coef_out[idx] = beta
    sel_out[idx] = True
    ss_res = yy - 2.0 * beta @ xy[idx] + beta @ gram[np.ix_(idx, idx)] @ beta
    r2_out[t] = 1.0 - max(ss_res, 0.0) / yy


def fit_sparse_surrogates(
    phi: np.ndarray, weights: np.ndarray, y: np.ndarray, *, n_select: int, l2: float
) -> dict[str, np.ndarray]:
    """Weighted K-lasso + ridge surrogates for a batch of rows, from sufficient statistics.

    Parameters
    ----------
    phi : ndarray (r, m, d)
        Interpretable features of ``m`` samples for each of ``r`` rows.
    weights : ndarray (r, m)
        Kernel weights.
    y : ndarray (r, m, k)
        Model outputs.
    n_select : int
        At most this many features per (row, output) are kept (K-lasso).
    l2 : float
        Ridge penalty on the selected coefficients (intercept unpenalized).

    Returns
    -------
    dict with ``coef`` (r, d, k) (zero where not selected), ``intercept`` (r, k),
    ``r2`` (r, k) (weighted R^2 on the samples), ``selected`` (r, d, k) bool.
    """
    sq = np.sqrt(weights)[:, :, None]
    s_phi = np.matmul(weights[:, None, :], phi)[:, 0, :]  # (r, d)
    return _fit_weighted(phi * sq, weights, s_phi, y, n_select=n_select, l2=l2)


def _fit_weighted(
    a: np.ndarray,
    weights: np.ndarray,
    s_phi: np.ndarray,
    y: np.ndarray,
    *,
    n_select: int,
    l2: float,
) -> dict[str, np.ndarray]:
    """:func:`fit_sparse_surrogates` from ``a = phi sqrt(w)`` and ``s_phi = sum_m w phi``."""
    r, m, d = a.shape
    k = y.shape[2]
    sw = weights.sum(axis=1)
    b = y * np.sqrt(weights)[:, :, None]
    s_y = np.matmul(weights[:, None, :], y)[:, 0, :]  # (r, k)
    mu_phi = s_phi / sw[:, None]
    mu_y = s_y / sw[:, None]
    a_t = a.transpose(0, 2, 1)
    # centred weighted sufficient statistics: sum_m w (phi - mu)(phi - mu)^T etc.
    # (a^T a is a BLAS syrk; forms like (w phi)^T phi are an order of magnitude slower)
    gram = np.matmul(a_t, a) - s_phi[:, :, None] * mu_phi[:, None, :]
    xy = np.matmul(a_t, b) - s_phi[:, :, None] * mu_y[:, None, :]
    yy_raw = np.matmul(weights[:, None, :], y * y)[:, 0, :]
    yy = yy_raw - s_y * mu_y
    flat = yy <= 1e-12 * np.maximum(yy_raw, 1e-300)  # constant output (up to rounding)
    coef = np.zeros((r, d, k))
    r2 = np.ones((r, k))
    selected = np.zeros((r, d, k), dtype=bool)
    # Two outputs summing to a constant (binary probabilities): the second fit is the negation.
    s = y.sum(axis=2)
    mirror = k == 2 and bool(np.all(np.ptp(s, axis=1) <= 1e-12 * np.maximum(1.0, np.abs(s[:, 0]))))
    status = np.zeros((r, k), dtype=np.int64)
    klasso_ridge(
        np.ascontiguousarray(gram),
        np.ascontiguousarray(xy),
        yy,
        flat,
        m,
        n_select,
        float(l2),
        1 if mirror else 0,
        coef,
        r2,
        selected,
        status,
    )
    for i, t in zip(*np.nonzero(status), strict=True):  # scikit-learn's special cases
        _fit_one(
            gram[i],
            xy[i, :, t],
            yy[i, t],
            m,
            n_select,
            l2,
            coef[i, :, t],
            r2[i],
            t,
            selected[i, :, t],
        )
    if mirror:
        coef[:, :, 0] = -coef[:, :, 1]
        selected[:, :, 0] = selected[:, :, 1]
        r2[:, 0] = r2[:, 1]
    intercept = mu_y - np.einsum("rd,rdk->rk", mu_phi, coef)
    return {"coef": coef, "intercept": intercept, "r2": r2, "selected": selected}


def top_k_jaccard(selected_runs: np.ndarray) -> np.ndarray:
    """Mean pairwise Jaccard index of selected-feature sets over runs.

    ``selected_runs`` is bool (R, n, d, k); returns (n, k). Two empty sets count as identical.
    """
    runs = selected_runs.shape[0]
    total = np.zeros(selected_runs.shape[1:2] + selected_runs.shape[3:])
    for p, q in combinations(range(runs), 2):
        inter = (selected_runs[p] & selected_runs[q]).sum(axis=1)
        union = (selected_runs[p] | selected_runs[q]).sum(axis=1)
        total += np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    return total / (runs * (runs - 1) / 2)


def stability_seeds(seed: int, runs: int) -> list[int]:
    """Seeds of the ``runs`` reseeded fits: ``seed`` itself, then seeds derived from it."""
    out = [int(seed)]
    for r in range(1, runs):
        state = np.random.SeedSequence(seed, spawn_key=(2**32 + r,)).generate_state(2, np.uint32)
        out.append(int(state[0]) << 31 | int(state[1]) >> 1)
    return out


class LimeTabular(BaseExplainer):
    """LIME for tabular data: per-row sparse linear surrogates (K-lasso, then weighted ridge).

    See the module docstring for the sampling, kernel and attribution definitions.

    Parameters
    ----------
    model : model or ModelAdapter
        Anything :func:`assay.model.wrap` accepts.
    background : array-like of shape (n_train, n_features), optional
        Training rows: their means, standard deviations and category frequencies define the
        sampling and the reference. When None, the explained rows are used (at least 2).
    n_samples : int, default 5000
        Perturbed samples per row, the row itself included.
    n_select : int, default 10
        K: at most this many features per row and output get a nonzero coefficient.
    kernel_width : float, optional
        Kernel width ``w`` on standardized distances; default ``0.75 * sqrt(n_features)``.
    l2 : float, default 1.0
        Ridge penalty (in standardized units, with kernel-weighted samples), as ``lime``'s
        ``alpha``.
    categorical_features : sequence of int or str, optional
        Columns holding category codes; they are resampled from training frequencies.
    sample_around : {"instance", "mean"}, default "instance"
        Centre of the Gaussian perturbation of continuous features.
    stability_runs : int, default 0
        When >= 2, also refit with this many seeds (the first is the main run) and report the
        mean pairwise Jaccard index of the selected top-K sets per row and output as
        ``params["stability"]``. Costs ``stability_runs`` times the model evaluations.
    sample_scale : float, default 0.5
        Standard deviation of the continuous perturbation in training standard deviations
        (0.5 gave the most stable top-5 sets on breast_cancer among 1, 0.5 and 0.25).
    output_space : str, optional
        See :func:`assay.model.wrap`.
    max_memory : int, default 256 MiB
        Largest model input, in bytes, for one model call (rows are batched up to it).
    fast_trees : bool, default True
        For tree ensembles with numerical splits and at most 64 leaves per tree (e.g. random
        forests on small data), evaluate the samples with assay's compiled copy of the trees
        (:mod:`assay.model._fast_predict`, several times faster than the library) instead of
        the model. It is used only after it matched the model to 1e-9 on probe rows (one
        model call); ``params["model_evaluation"]`` says which was used. False always calls
        the model.
    progress : bool, default False
        Show a progress bar over batches.
    alpha : float, optional
        Deprecated name of ``l2`` (``alpha`` is kept for significance levels).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> f = lambda Z: Z @ np.array([1.0, -2.0, 0.5])
    >>> exp = LimeTabular(f, background=X, n_samples=500, l2=0.0).explain(X[:2], seed=0)
    >>> np.round(np.asarray(exp.params["coefficients"])[0, :, 0], 6)
    array([ 1. , -2. ,  0.5])
    """

    method = "lime"

    def __init__(
        self,
        model: Any,
        *,
        background: Any = None,
        n_samples: int = 5000,
        n_select: int = 10,
        kernel_width: float | None = None,
        l2: float = 1.0,
        categorical_features: Any = None,
        sample_around: str = "instance",
        stability_runs: int = 0,
        sample_scale: float = 0.5,
        output_space: str | None = None,
        max_memory: int = 256 * 2**20,
        fast_trees: bool = True,
        progress: bool = False,
        alpha: float | None = None,
    ) -> None:
        l2 = renamed(alpha, l2, old="alpha", new="l2", default=1.0, where="LimeTabular")
        super().__init__(
            model,
            background=background,
            output_space=output_space,
            max_memory=max_memory,
            progress=progress,
        )
        self.n_samples = check_int(n_samples, name="n_samples", minimum=10, maximum=10_000_000)
        self.n_select = check_int(n_select, name="n_select", minimum=1)
        if kernel_width is not None and not (
            isinstance(kernel_width, (int, float))
            and np.isfinite(kernel_width)
            and kernel_width > 0
        ):
            msg = f"kernel_width must be a positive number or None; got {kernel_width!r}."
            raise InvalidInputError(msg)
        self.kernel_width = None if kernel_width is None else float(kernel_width)
        if not isinstance(l2, (int, float)) or not np.isfinite(l2) or l2 < 0:
            msg = f"l2 (the ridge penalty) must be a finite number >= 0; got {l2!r}."
            raise InvalidInputError(msg)
        self.l2 = float(l2)
        if sample_around not in ("instance", "mean"):
            msg = f"sample_around must be 'instance' or 'mean'; got {sample_around!r}."
            raise InvalidInputError(msg)
        self.sample_around = sample_around
        self.categorical_features = categorical_features
        if (
            not isinstance(sample_scale, (int, float))
            or not np.isfinite(sample_scale)
            or (sample_scale <= 0)
        ):
            msg = f"sample_scale must be a positive number; got {sample_scale!r}."
            raise InvalidInputError(msg)
        self.sample_scale = float(sample_scale)
        self.fast_trees = bool(fast_trees)
        self.stability_runs = check_int(stability_runs, name="stability_runs", minimum=0)
        if self.stability_runs == 1:
            msg = "stability_runs must be 0 (off) or at least 2 (pairs of runs are compared)."
            raise InvalidInputError(msg)

    # -- set-up ----------------------------------------------------------------------------
    def _categorical_index(self, names: list[str]) -> np.ndarray:
        cats = self.categorical_features
        if cats is None:
            return np.zeros(len(names), dtype=bool)
        mask = np.zeros(len(names), dtype=bool)
        for c in [cats] if isinstance(cats, (str, int, np.integer)) else list(cats):
            if isinstance(c, str):
                if c not in names:
                    msg = f"categorical feature {c!r} is not a column; columns: {names[:20]}."
                    raise InvalidInputError(msg)
                mask[names.index(c)] = True
            elif isinstance(c, (int, np.integer)) and 0 <= int(c) < len(names):
                mask[int(c)] = True
            else:
                msg = (
                    f"categorical_features must hold column names or indices in "
                    f"[0, {len(names)}); got {c!r}."
                )
                raise InvalidInputError(msg)
        return mask

    def _statistics(self, X: np.ndarray, names: list[str]) -> dict[str, Any]:
        if self.background is not None:
            train, note = self.background, f"background ({self.background.shape[0]} rows)"
        else:
            if X.shape[0] < 2:
                msg = (
                    "LIME needs training statistics (means, standard deviations, category "
                    f"frequencies) but got no background and only {X.shape[0]} row to explain; "
                    "pass background=X_train."
                )
                raise InvalidInputError(msg)
            train, note = X, f"X ({X.shape[0]} rows; no background given)"
        if train.shape[1] != X.shape[1]:
            msg = (
                f"background has {train.shape[1]} columns but X has {X.shape[1]}; pass the same "
                "features for both."
            )
            raise InvalidInputError(msg)
        if np.isnan(train).any():
            msg = "background contains NaN; LIME needs complete training rows (impute first)."
            raise InvalidInputError(msg)
        cat = self._categorical_index(names)
        with np.errstate(over="ignore", invalid="ignore"):
            mean = train.mean(axis=0)
            std = train.std(axis=0)
            # the widest perturbed value (about 10 sampling standard deviations out)
            reach = np.maximum(np.abs(train).max(axis=0), np.abs(X).max(axis=0)) + 10.0 * (
                std * self.sample_scale
            )
        too_big = np.flatnonzero(~(np.isfinite(mean) & np.isfinite(std) & np.isfinite(reach)))
        if too_big.size:
            cols = [names[j] for j in too_big[:5]]
            biggest = float(np.abs(np.vstack([train, X])[:, too_big]).max())
            msg = (
                f"column(s) {cols} hold values too large for LIME's statistics (largest |value| "
                f"{biggest:.3g}): their mean, standard deviation or perturbed samples overflow "
                "float64. Rescale those features (e.g. express amounts in thousands, or take "
                "logarithms) and fit the model on the rescaled columns."
            )
            raise InvalidInputError(msg)
        cat_values, cat_freqs = {}, {}
        for j in np.flatnonzero(cat):
            vals, counts = np.unique(train[:, j], return_counts=True)
            cat_values[int(j)] = vals
            cat_freqs[int(j)] = counts / counts.sum()
        return {
            "mean": mean,
            "std": std,
            "scale": np.where(std > 0, std, 1.0),
            "cat": cat,
            "cat_values": cat_values,
            "cat_freqs": cat_freqs,
            "note": note,
        }

    # -- sampling --------------------------------------------------------------------------
    def _sample_rows(
        self,
        X: np.ndarray,
        rows: np.ndarray,
        seed: int,
        st: dict[str, Any],
        *,
        finalize: bool = True,
        n_samples: int | None = None,
    ) -> np.ndarray:
        """Perturbed samples (r, m, d) in original units; sample 0 of each row is the row.

        With ``finalize=False`` continuous columns of samples ``1:`` hold the standard normal
        draws (``weighted_features`` scales and shifts them in its pass).
        """
        r, d = len(rows), X.shape[1]
        m = self.n_samples if n_samples is None else n_samples
        cat_cols = np.flatnonzero(st["cat"])
        std = np.where(st["cat"], 0.0, st["std"] * self.sample_scale)
        Z = np.empty((r, m, d))
        for a, i in enumerate(rows):
            key = (int(i) + self._row_offset,)  # the row's position in the whole table
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))
            x = X[i]
            centre = x if self.sample_around == "instance" else st["mean"]
            Z[a, 0] = x
            rng.standard_normal(out=Z[a, 1:])  # drawn in place: no temporary
            if finalize:
                Z[a, 1:] *= std
                Z[a, 1:] += centre
            for j in cat_cols:
                Z[a, 1:, j] = rng.choice(st["cat_values"][j], size=m - 1, p=st["cat_freqs"][j])
        return Z

    def _width(self, d: int) -> float:
        return self.kernel_width if self.kernel_width is not None else DEFAULT_WIDTH_FACTOR * d**0.5

    def _evaluator(self, X: np.ndarray, st: dict[str, Any]) -> tuple[Callable, str]:
        """What evaluates the samples: a compiled copy of the trees when safe, else the model."""
        if self.fast_trees and self.adapter.has_trees:
            from assay.model._fast_predict import fast_tree_predictor

            # probe: explained rows and a (fixed-seed) neighbourhood like the ones explained
            around = self._sample_rows(X, np.arange(1), 0, st, n_samples=min(self.n_samples, 1024))[
                0
            ]
            fast = fast_tree_predictor(self.adapter, np.vstack([X[:256], around]))
            if fast is not None:
                return fast, "compiled trees"
        return self.adapter.predict, "model"

    def _features(self, Z, x, centre, std, st, width, *, finalize):
        """``a = phi sqrt(w)``, ``w`` and ``sum_m w phi`` of samples Z (r, m, d) around x."""
        r, m, d = Z.shape
        a = np.empty_like(Z)
        w = np.empty((r, m))
        s_phi = np.empty((r, d))
        weighted_features(Z, x, centre, std, st["scale"], st["cat"], width, finalize, a, w, s_phi)
        return a, w, s_phi

    def _run(
        self, X: np.ndarray, seed: int, st: dict[str, Any], predict: Callable
    ) -> dict[str, np.ndarray]:
        n, d = X.shape
        m = self.n_samples
        width = self._width(d)
        cat = st["cat"]
        fit_rows = max(1, (16 * 2**20) // (m * d * 8))  # small blocks keep temporaries cached
        # a library model has a fixed cost per call, so its rows are batched up to max_memory;
        # the compiled trees have none and run fastest on cache-sized blocks
        rows_per_call = max(1, self.max_memory // (m * d * 8))
        if predict != self.adapter.predict:
            rows_per_call = min(rows_per_call, fit_rows)
        # compiled trees: blocks of at most fit_rows rows are sampled, finished and featurized
        # in one pass, evaluated and fitted while in cache; a library model gets large calls
        fused = rows_per_call <= fit_rows
        std = np.where(cat, 0.0, st["std"] * self.sample_scale)
        parts: list[dict[str, np.ndarray]] = []
        starts = range(0, n, rows_per_call)
        for start in tqdm(starts, disable=not self.progress, desc="LIME", unit="batch"):
            rows = np.arange(start, min(n, start + rows_per_call))
            Z = self._sample_rows(X, rows, seed, st, finalize=not fused)
            centre = (
                X[rows] if self.sample_around == "instance" else np.tile(st["mean"], (len(rows), 1))
            )
            if fused:
                feats = self._features(Z, X[rows], centre, std, st, width, finalize=True)
            f = predict(Z.reshape(-1, d)).reshape(len(rows), m, -1)
            for s0 in range(0, len(rows), fit_rows):
                sl = slice(s0, s0 + fit_rows)
                if not fused:
                    feats = self._features(
                        Z[sl], X[rows[sl]], centre[sl], std, st, width, finalize=False
                    )
                a, w, s_phi = feats
                fit = _fit_weighted(a, w, s_phi, f[sl], n_select=self.n_select, l2=self.l2)
                fit["f_x"] = f[sl, 0, :]
                fit["w_median"] = np.median(w[:, 1:], axis=1)
                fit["ess"] = w.sum(axis=1) ** 2 / (w * w).sum(axis=1)
                parts.append(fit)
        return {key: np.concatenate([p[key] for p in parts], axis=0) for key in parts[0]}

    # -- public ----------------------------------------------------------------------------
    def explain(self, X: Any, *, seed: int | None = None) -> Explanation:
        """Fit one surrogate per row (and output) of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        seed : int, optional
            Seed of every random draw. Row ``i`` uses ``SeedSequence(seed, spawn_key=(i,))``,
            so results do not depend on batching. None draws a fresh seed, recorded in
            ``params["seed"]``. The stability runs use ``params["stability_seeds"]`` (the
            first is ``seed``): ``explain(X, seed=s)`` reproduces each run.

        Returns
        -------
        Explanation
            ``stderr`` is None. ``params`` holds per-row lists: ``surrogate_r2`` (n, k),
            ``coefficients`` (n, d, k, original units), ``local_prediction`` (surrogate at x),
            ``model_prediction`` (model at x), ``kernel_weight_median`` and
            ``effective_sample_size`` (n,), ``model_evaluation`` (``"compiled trees"`` or
            ``"model"``, see ``fast_trees``), and ``stability`` (n, k) when
            ``stability_runs >= 2``.
        """
        seed = check_seed(seed)
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % 2**63)
        Xv, names = self.adapter.prepare(X, allow_nan=False)
        self._match_background(X, names)
        d = Xv.shape[1]
        st = self._statistics(Xv, names)
        rows_before = self.adapter.n_rows_evaluated
        predict, evaluation = self._evaluator(Xv, st)
        fit = self._run(Xv, seed, st, predict)
        scale = st["scale"][None, :, None]
        cat = st["cat"]
        coef = np.where(cat[None, :, None], fit["coef"], fit["coef"] / scale)
        delta = Xv - st["mean"]
        for j in np.flatnonzero(cat):
            freq = dict(zip(st["cat_values"][j].tolist(), st["cat_freqs"][j].tolist(), strict=True))
            delta[:, j] = [1.0 - freq.get(v, 0.0) for v in Xv[:, j].tolist()]
        values = coef * delta[:, :, None]
        local = fit["intercept"] + fit["coef"][:, cat, :].sum(axis=1)  # phi(x): 0 or 1
        base = local - values.sum(axis=1)
        params: dict[str, Any] = {
            "seed": seed,
            "n_samples": self.n_samples,
            "n_select": self.n_select,
            "kernel_width": self._width(d),
            "l2": self.l2,
            "sample_around": self.sample_around,
            "sample_scale": self.sample_scale,
            "categorical_features": [names[j] for j in np.flatnonzero(cat)],
            "training_statistics": st["note"],
            "surrogate_r2": fit["r2"].tolist(),
            "coefficients": coef.tolist(),
            "local_prediction": local.tolist(),
            "model_prediction": fit["f_x"].tolist(),
            "kernel_weight_median": fit["w_median"].tolist(),
            "effective_sample_size": fit["ess"].tolist(),
            "model_evaluation": evaluation,
        }
        if self.stability_runs >= 2:
            seeds = stability_seeds(seed, self.stability_runs)
            sel = [fit["selected"]]
            for s in seeds[1:]:
                sel.append(self._run(Xv, s, st, predict)["selected"])
            params["stability_runs"] = self.stability_runs
            params["stability_seeds"] = seeds
            params["stability"] = top_k_jaccard(np.stack(sel)).tolist()
        params["model_rows_evaluated"] = int(self.adapter.n_rows_evaluated - rows_before)
        return self._result(Xv, names, values, base, stderr=None, params=params)


Lime = LimeTabular
