"""Per-group metrics with counts, denominators, differences, ratios and bootstrap intervals."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from assay._deprecation import renamed
from assay._results import FromDict, ResultDisplay, check_kind, to_jsonable
from assay._validation import as_vector, check_int, check_seed
from assay.errors import AssayWarning, InvalidInputError
from assay.fairness._compare import GroupComparison, compare_groups
from assay.fairness._labels import check_labels, check_no_missing
from assay.fairness._metrics import resolve_metrics

__all__ = [
    "GroupMetrics",
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equal_opportunity_difference",
    "equal_opportunity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
]

_METHODS = ("between_groups", "to_overall")
_OVERALL_LABEL = "overall"


def as_group_frame(features: Any, *, name: str, n_rows: int) -> pd.DataFrame:
    """Convert sensitive/control features to a DataFrame; raise on missing values.

    Accepts a Series, DataFrame, dict of columns, 1-D or 2-D array or list. Missing values
    (None, NaN, pandas NA) raise :class:`InvalidInputError`: dropping those rows silently would
    change every group's metric.
    """
    if features is None:
        msg = f"{name} is None; pass one group label per row (a Series, array or DataFrame)."
        raise InvalidInputError(msg)
    if isinstance(features, pd.DataFrame):
        frame = features.reset_index(drop=True).copy()
    elif isinstance(features, pd.Series):
        frame = features.reset_index(drop=True).to_frame(
            name=features.name if features.name is not None else f"{name}0"
        )
    elif isinstance(features, Mapping):
        frame = pd.DataFrame({str(k): np.asarray(v) for k, v in features.items()})
    else:
        arr = np.asarray(features, dtype=object)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            msg = f"{name} must be 1-D or 2-D; got shape {arr.shape}."
            raise InvalidInputError(msg)
        frame = pd.DataFrame(arr, columns=[f"{name}{j}" for j in range(arr.shape[1])])
    frame.columns = [str(c) for c in frame.columns]
    if frame.shape[1] == 0:
        msg = f"{name} has no columns; pass at least one group label column."
        raise InvalidInputError(msg)
    if frame.shape[0] != n_rows:
        msg = f"{name} has {frame.shape[0]} rows but y_true has {n_rows}; they must match."
        raise InvalidInputError(msg)
    for col in frame.columns:
        missing = pd.isna(frame[col]).to_numpy()
        if missing.any():
            rows = np.flatnonzero(missing)[:5].tolist()
            msg = (
                f"{name} column {col!r} has {int(missing.sum())} missing value(s) (rows "
                f"{rows}...). Rows with a missing group cannot be silently dropped, since that "
                "would change every group's metric; fill them with an explicit label such as "
                "'unknown' (to keep them as their own group) or drop those rows from all inputs."
            )
            raise InvalidInputError(msg)
    return frame


def _cells(frame: pd.DataFrame) -> tuple[np.ndarray, pd.MultiIndex]:
    """Integer cell code per row and the MultiIndex of observed cells (sorted)."""
    grouped = frame.groupby(list(frame.columns), sort=True, observed=True)
    codes = grouped.ngroup().to_numpy()
    size_index = grouped.size().index
    index = pd.MultiIndex.from_frame(size_index.to_frame(index=False), names=list(frame.columns))
    return codes, index


class GroupMetrics(ResultDisplay, FromDict):
    """Metrics per group of one or more sensitive features, computed eagerly.

    The values, differences and ratios equal fairlearn's; :meth:`compare` adds signed
    differences and ratios between groups with permutation tests and intervals that always
    contain their estimate (the bootstrap bounds of :meth:`ci` are of the unsigned max - min
    gap, whose interval can exclude both 0 and the estimate itself; do not read them as a test).

    Like fairlearn's ``MetricFrame`` but with fixed return types: ``by_group`` is always a
    DataFrame indexed by a :class:`pandas.MultiIndex` of (control..., sensitive...) groups with
    one column per metric, and every difference or ratio is a DataFrame indexed by control group
    (a single row labelled ``"overall"`` when there are no control features).

    Parameters
    ----------
    metrics : str, callable, list or dict
        Built-in rate names (``"selection_rate"``, ``"true_positive_rate"``,
        ``"false_positive_rate"``, ``"true_negative_rate"``, ``"false_negative_rate"``,
        ``"precision"``, ``"accuracy"``, ``"base_rate"``, ``"mean_prediction"``,
        ``"mean_absolute_error"``) or callables
        ``f(y_true, y_pred) -> float``; a dict gives them names.
    y_true, y_pred : array-like of shape (n_samples,)
        Labels and predictions (``mean_prediction`` also accepts scores).
    sensitive_features : Series, DataFrame, dict, or array-like
        One or more columns; several columns give intersectional groups (only combinations that
        occur in the data are listed). Missing values raise an error.
    control_features : same types, optional
        Features within whose levels differences and ratios are computed.
    pos_label : scalar, default 1
        The positive label for the rate metrics (e.g. ``pos_label="yes"`` for string labels).
        Labels and predictions are checked first: missing values, probabilities passed as
        predictions, label sets of ``y_true`` and ``y_pred`` that do not match, and a
        ``pos_label`` found in neither raise :class:`~assay.errors.InvalidInputError`.
    n_bootstrap : int, default 0
        Bootstrap resamples for confidence intervals (0 = none). Rows are resampled within each
        group (stratified), with :func:`scipy.stats.bootstrap`.
    ci_level : float, default 0.95
        Level of the bootstrap intervals (recorded as ``params["confidence_level"]``).
    ci_method : {"percentile", "basic", "BCa"}, default "percentile"
    seed : int, optional
        Seed for the bootstrap; recorded in ``params``.
    confidence_level : float, optional
        Deprecated name of ``ci_level``.

    Attributes
    ----------
    by_group : DataFrame (n_groups, n_metrics)
        Metric values; NaN (with an :class:`~assay.errors.AssayWarning`) where a rate is
        undefined because its denominator is zero.
    denominators : DataFrame (n_groups, n_metrics)
        The number of rows each value is a share of (e.g. actual positives for the TPR).
    counts : Series (n_groups,)
        Rows per group.
    overall : DataFrame (n_control_groups, n_metrics)
    overall_denominators : DataFrame (n_control_groups, n_metrics)
    by_group_ci_low, by_group_ci_high, overall_ci_low, overall_ci_high : DataFrame or None
        Bootstrap bounds (None when ``n_bootstrap=0``).
    sensitive_names, control_names : list of str
    params : dict

    Examples
    --------
    >>> gm = GroupMetrics(
    ...     metrics=["selection_rate", "true_positive_rate"],
    ...     y_true=[1, 0, 1, 1, 0, 1],
    ...     y_pred=[1, 0, 0, 1, 1, 1],
    ...     sensitive_features=["a", "a", "a", "b", "b", "b"],
    ... )
    >>> gm.by_group["selection_rate"].round(3).tolist()
    [0.333, 1.0]
    >>> gm.difference()["selection_rate"].round(3).tolist()
    [0.667]
    >>> gm.denominators["true_positive_rate"].tolist()
    [2, 2]
    """

    _loaded = False  # True for an instance rebuilt by from_dict (no rows to re-test)

    def __init__(
        self,
        *,
        metrics: Any,
        y_true: Any,
        y_pred: Any,
        sensitive_features: Any,
        control_features: Any = None,
        pos_label: Any = 1,
        n_bootstrap: int = 0,
        ci_level: float = 0.95,
        ci_method: str = "percentile",
        seed: int | None = None,
        confidence_level: float | None = None,
    ) -> None:
        confidence_level = renamed(confidence_level, ci_level, old="confidence_level",
                                   new="ci_level", default=0.95, where="GroupMetrics")  # fmt: skip
        specs = resolve_metrics(metrics)
        yt = as_vector(y_true, name="y_true", numeric=False)
        n = yt.shape[0]
        yp = as_vector(y_pred, name="y_pred", n_rows=n, numeric=False)
        n_bootstrap = check_int(n_bootstrap, name="n_bootstrap", minimum=0)
        seed = check_seed(seed)
        if not 0.0 < float(confidence_level) < 1.0:
            msg = f"confidence_level must be in (0, 1); got {confidence_level!r}."
            raise InvalidInputError(msg)
        if ci_method not in ("percentile", "basic", "BCa"):
            msg = f"ci_method must be 'percentile', 'basic' or 'BCa'; got {ci_method!r}."
            raise InvalidInputError(msg)
        sens = as_group_frame(sensitive_features, name="sensitive_features", n_rows=n)
        ctrl = (
            None
            if control_features is None
            else as_group_frame(control_features, name="control_features", n_rows=n)
        )
        if ctrl is not None:
            clash = sorted(set(ctrl.columns) & set(sens.columns))
            if clash:
                msg = f"control_features and sensitive_features share column names {clash}."
                raise InvalidInputError(msg)
        full = sens if ctrl is None else pd.concat([ctrl, sens], axis=1)
        cell, cell_index = _cells(full)
        if ctrl is None:
            ctrl_code = np.zeros(n, dtype=np.int64)
            ctrl_index = pd.Index([_OVERALL_LABEL], name=_OVERALL_LABEL)
        else:
            ctrl_code, ctrl_index = _cells(ctrl)
        n_cells = len(cell_index)
        # control group of each cell
        cell_ctrl = np.zeros(n_cells, dtype=np.int64)
        cell_ctrl[cell] = ctrl_code

        self._specs = specs
        self._yt, self._yp = yt, yp
        check_no_missing(yt, name="y_true")
        check_no_missing(yp, name="y_pred", hint=" (a model that returned NaN needs fixing)")
        if any(s.is_rate and not s.scores for s in specs):
            check_labels(yt, yp, pos_label=pos_label)
        self._t = (yt == pos_label).astype(np.float64)
        self._p = (yp == pos_label).astype(np.float64)
        if any(s.is_rate and s.scores for s in specs):
            self._scores = as_vector(yp, name="y_pred")
        else:
            self._scores = None
        self._ynum = (
            as_vector(yt, name="y_true") if any(s.is_rate and s.raw_true for s in specs) else None
        )
        self._cell, self._ctrl = cell, ctrl_code
        self._cell_ctrl = cell_ctrl
        self._n_cells, self._n_ctrl = n_cells, len(ctrl_index)
        self._rows = [np.flatnonzero(cell == g) for g in range(n_cells)]

        names = [s.name for s in specs]
        idx = np.arange(n)[None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            vals, dens, ovals, odens = self._evaluate(idx, stratified=False)
        self.by_group = pd.DataFrame(vals[:, :, 0].T, index=cell_index, columns=names)
        self.denominators = pd.DataFrame(
            dens[:, :, 0].T.astype(np.int64), index=cell_index, columns=names
        )
        self.counts = pd.Series(
            np.bincount(cell, minlength=n_cells), index=cell_index, name="count"
        )
        self.overall = pd.DataFrame(ovals[:, :, 0].T, index=ctrl_index, columns=names)
        self.overall_denominators = pd.DataFrame(
            odens[:, :, 0].T.astype(np.int64), index=ctrl_index, columns=names
        )
        self.sensitive_names = list(sens.columns)
        self.control_names = [] if ctrl is None else list(ctrl.columns)
        self._warn_undefined()
        self._warn_single_group()
        self._derived = self._derive(vals, ovals)
        self.params = {
            "pos_label": pos_label if np.isscalar(pos_label) else str(pos_label),
            "n_bootstrap": n_bootstrap,
            "confidence_level": float(confidence_level),
            "ci_method": ci_method,
            "seed": seed,
            "bootstrap": "rows resampled within each group (stratified)",
        }
        self.by_group_ci_low = self.by_group_ci_high = None
        self.overall_ci_low = self.overall_ci_high = None
        self._derived_ci: dict[str, tuple[np.ndarray, np.ndarray]] | None = None
        if n_bootstrap > 0:
            tiny = self.counts[self.counts < 2]
            if len(tiny):
                shown = {_label(k): int(v) for k, v in tiny.items()}
                msg = (
                    f"group(s) with a single row {shown} cannot be bootstrapped (a resample of "
                    "one row never varies). Drop or merge those groups, or pass n_bootstrap=0 "
                    "and use compare() for intervals."
                )
                raise InvalidInputError(msg)
            self._bootstrap(n_bootstrap, float(confidence_level), ci_method, seed)
        self._frozen = True

    def __setattr__(self, key: str, value: Any) -> None:
        if getattr(self, "_frozen", False):
            msg = f"GroupMetrics is read-only; cannot set {key!r}. Build a new one instead."
            raise AttributeError(msg)
        object.__setattr__(self, key, value)

    # -- computation -------------------------------------------------------------------------
    def _evaluate(
        self, idx: np.ndarray | list[np.ndarray], *, stratified: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Metric values for a batch of index sets.

        ``idx`` is either one (B, n) array of row indices (``stratified=False``) or a list with
        one (B, n_g) array per cell (``stratified=True``). Returns values and denominators per
        cell (M, G, B) and per control group (M, C, B).
        """
        if stratified:
            cells = [np.broadcast_to(np.full(1, g), r.shape) for g, r in enumerate(idx)]
            rows = np.concatenate(idx, axis=-1)
            cell_of = np.concatenate(cells, axis=-1)
        else:
            rows = idx
            cell_of = self._cell[rows]
        B = rows.shape[0]
        G, C, M = self._n_cells, self._n_ctrl, len(self._specs)
        flat_cell = (cell_of + G * np.arange(B)[:, None]).ravel()
        ctrl_of_cell = self._cell_ctrl
        vals = np.full((M, G, B), np.nan)
        dens = np.zeros((M, G, B))
        ovals = np.full((M, C, B), np.nan)
        odens = np.zeros((M, C, B))
        t, p = self._t[rows], self._p[rows]
        for m, spec in enumerate(self._specs):
            if spec.is_rate:
                pp = self._scores[rows] if spec.scores else p
                num_r, den_r = spec.masks(self._ynum[rows] if spec.raw_true else t, pp)
                num = np.bincount(flat_cell, num_r.ravel(), minlength=G * B).reshape(B, G).T
                den = np.bincount(flat_cell, den_r.ravel(), minlength=G * B).reshape(B, G).T
                onum = np.zeros((C, B))
                oden = np.zeros((C, B))
                np.add.at(onum, ctrl_of_cell, num)
                np.add.at(oden, ctrl_of_cell, den)
                vals[m] = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
                dens[m] = den
                ovals[m] = np.where(oden > 0, onum / np.where(oden > 0, oden, 1.0), np.nan)
                odens[m] = oden
            else:
                for b in range(B):
                    r, co = rows[b], cell_of[b]
                    for g in range(G):
                        rg = r[co == g]
                        dens[m, g, b] = rg.size
                        if rg.size:
                            vals[m, g, b] = float(spec.function(self._yt[rg], self._yp[rg]))
                    for c in range(C):
                        rc = r[ctrl_of_cell[co] == c]
                        odens[m, c, b] = rc.size
                        if rc.size:
                            ovals[m, c, b] = float(spec.function(self._yt[rc], self._yp[rc]))
        return vals, dens, ovals, odens

    def _derive(self, vals: np.ndarray, ovals: np.ndarray) -> dict[str, np.ndarray]:
        """Min, max, differences and ratios per control group: arrays (M, C, B)."""
        M, _, B = vals.shape
        C = ovals.shape[1]
        out = {k: np.full((M, C, B), np.nan) for k in (
            "group_min", "group_max", "difference_between_groups", "ratio_between_groups",
            "difference_to_overall", "ratio_to_overall")}  # fmt: skip
        with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            for c in range(C):
                sel = self._cell_ctrl == c
                v = vals[:, sel, :]  # (M, g, B)
                o = ovals[:, c, :][:, None, :]
                vmin, vmax = np.nanmin(v, axis=1), np.nanmax(v, axis=1)
                few = (~np.isnan(v)).sum(axis=1) < 2  # a comparison needs two defined groups
                out["group_min"][:, c] = vmin
                out["group_max"][:, c] = vmax
                diff = np.where(few, np.nan, vmax - vmin)
                ratio = np.where(vmax != 0, vmin / np.where(vmax != 0, vmax, 1.0), np.nan)
                out["difference_between_groups"][:, c] = diff
                out["ratio_between_groups"][:, c] = np.where(few, np.nan, ratio)
                out["difference_to_overall"][:, c] = np.nanmax(np.abs(v - o), axis=1)
                r = np.fmin(v / o, o / v)
                r = np.where((v == 0) & (o == 0), 1.0, r)
                out["ratio_to_overall"][:, c] = np.nanmin(r, axis=1)
        return out

    def _bootstrap(self, n_boot: int, level: float, method: str, seed: int | None) -> None:
        from scipy import stats

        keys = list(self._derived)
        M, G, C = len(self._specs), self._n_cells, self._n_ctrl
        sizes = [M * G, M * C] + [M * C] * len(keys)

        def statistic(*idx: np.ndarray, axis: int = -1) -> np.ndarray:
            arrs = [np.atleast_2d(np.asarray(a, dtype=np.int64)) for a in idx]
            with np.errstate(invalid="ignore", divide="ignore"):
                vals, _, ovals, _ = self._evaluate(arrs, stratified=True)
            derived = self._derive(vals, ovals)
            B = vals.shape[-1]
            parts = [vals.reshape(-1, B), ovals.reshape(-1, B)]
            parts += [derived[k].reshape(-1, B) for k in keys]
            out = np.concatenate(parts, axis=0)
            return out if np.ndim(idx[0]) > 1 else out[:, 0]

        data = tuple(self._rows)
        with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
            warnings.simplefilter("ignore")  # degenerate resamples give NaN bounds, documented
            res = stats.bootstrap(
                data,
                statistic,
                n_resamples=n_boot,
                batch=max(1, min(n_boot, 200)),
                vectorized=True,
                paired=False,
                confidence_level=level,
                method=method,
                rng=np.random.default_rng(seed),
            )
        lo = np.asarray(res.confidence_interval.low, dtype=np.float64)
        hi = np.asarray(res.confidence_interval.high, dtype=np.float64)
        bounds = np.cumsum([0, *sizes])
        names = [s.name for s in self._specs]

        def piece(arr: np.ndarray, i: int, k: int) -> np.ndarray:
            return arr[bounds[i] : bounds[i + 1]].reshape(M, k)

        for attr, i, k, index in (
            ("by_group", 0, G, self.by_group.index),
            ("overall", 1, C, self.overall.index),
        ):
            for bound, arr in (("low", lo), ("high", hi)):
                frame = pd.DataFrame(piece(arr, i, k).T, index, names)
                object.__setattr__(self, f"{attr}_ci_{bound}", frame)
        object.__setattr__(
            self,
            "_derived_ci",
            {k: (piece(lo, 2 + j, C), piece(hi, 2 + j, C)) for j, k in enumerate(keys)},
        )

    def _warn_undefined(self) -> None:
        bad = []
        for name in self.by_group.columns:
            col = self.by_group[name]
            if col.isna().any():
                groups = [str(g) for g in col.index[col.isna().to_numpy()][:5]]
                bad.append(f"{name} for group(s) {', '.join(groups)}")
        if bad:
            msg = (
                "Some metrics are undefined (their denominator is zero) and are reported as "
                f"NaN: {'; '.join(bad)}. For example the true positive rate of a group with no "
                "actual positives. Differences and ratios ignore those groups (and are NaN "
                "when fewer than two groups remain)."
            )
            warnings.warn(msg, AssayWarning, stacklevel=3)

    def _warn_single_group(self) -> None:
        for c, label in enumerate(self.overall.index):
            n_groups = int(np.sum(self._cell_ctrl == c))
            if n_groups < 2:
                where = "" if not self.control_names else f" within control group {label!r}"
                msg = (
                    f"sensitive_features has a single group{where}, so there is nothing to "
                    "compare: differences and ratios are NaN. Pass a sensitive feature with two "
                    "or more groups."
                )
                warnings.warn(msg, AssayWarning, stacklevel=3)

    # -- signed comparisons ------------------------------------------------------------------
    def compare(
        self,
        *,
        alpha: float = 0.05,
        metrics: list[str] | None = None,
        n_permutations: int = 999,
        min_count: int = 1,
        seed: int | None = None,
    ) -> GroupComparison:
        """Signed differences and ratios between groups, with tests and intervals.

        For every built-in metric (within each control group): a permutation test that all
        groups share the metric (largest gap as the statistic, Holm-adjusted over metrics),
        signed pairwise differences ``value(a) - value(b)`` (labels in sorted order) with
        simultaneous intervals (Newcombe score intervals for rates, Welch for means), ratios
        with Katz log intervals and the four-fifths rule. Every interval contains its
        estimate. Callable metrics have no per-row form and are skipped with a note.

        Parameters
        ----------
        alpha : float, default 0.05
            Level of the tests and ``1 - `` the (simultaneous) coverage of the intervals.
        metrics : list of str, optional
            Metric names to compare (default: every built-in metric of this object).
        n_permutations : int, default 999
            Permutations per test; the smallest p-value is ``1 / (n_permutations + 1)``.
        min_count : int, default 1
            Groups with fewer rows than this in a metric's denominator are left out of that
            metric's comparison (listed in ``excluded`` with the reason).
        seed : int, optional
            Seed for the permutations.

        Returns
        -------
        GroupComparison
            ``pairs``, ``tests`` and ``groups`` tables (see :class:`GroupComparison`).

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> s = np.repeat(["a", "b"], 500)
        >>> y_pred = (rng.random(1000) < np.where(s == "a", 0.3, 0.5)).astype(int)
        >>> gm = GroupMetrics(metrics="selection_rate", y_true=y_pred, y_pred=y_pred,
        ...                   sensitive_features=s)
        >>> row = gm.compare(seed=0).pairs.iloc[0]
        >>> bool(row["estimate"] < 0 and row["ci_low"] <= row["estimate"] <= row["ci_high"])
        True
        >>> row["four_fifths"], bool(row["p_adjusted"] < 0.05)
        ('fail', True)
        """
        if self._loaded:
            msg = (
                "this GroupMetrics was loaded from a dict (from_dict), which keeps its tables but "
                "not the rows they were computed on, so compare() cannot run its tests. Call "
                "compare() on a GroupMetrics built from y_true, y_pred and sensitive_features, "
                "or load the saved comparison with GroupComparison.from_dict()."
            )
            raise InvalidInputError(msg)
        if not 0.0 < float(alpha) < 1.0:
            msg = f"alpha must be in (0, 1); got {alpha!r}."
            raise InvalidInputError(msg)
        n_permutations = check_int(n_permutations, name="n_permutations", minimum=0)
        min_count = check_int(min_count, name="min_count", minimum=1)
        seed = check_seed(seed)
        names = [sp.name for sp in self._specs]
        wanted = names if metrics is None else list(metrics)
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            msg = f"metrics {unknown} are not metrics of this GroupMetrics; it has {names}."
            raise InvalidInputError(msg)
        notes: list[str] = []
        sens_pos = list(range(len(self.control_names), len(self.by_group.index.names)))
        labels_all = [
            " | ".join(str(k[i]) for i in sens_pos) if isinstance(k, tuple) else str(k)
            for k in self.by_group.index
        ]
        items = []
        for spec in self._specs:
            if spec.name not in wanted:
                continue
            if not spec.is_rate:
                notes.append(
                    f"{spec.name}: a callable metric has no per-row form, so it is not compared "
                    "(use a built-in metric for tests and intervals)."
                )
                continue
            pp = self._scores if spec.scores else self._p
            num, den = spec.masks(self._ynum if spec.raw_true else self._t, pp)
            kind = "mean" if spec.scores else "rate"
            for c, control in enumerate(self.overall.index):
                cells = np.flatnonzero(self._cell_ctrl == c)
                if cells.size < 2:
                    notes.append(
                        f"{spec.name}: only one group ({labels_all[cells[0]]}); nothing to "
                        "compare."
                    )
                    continue
                local = np.full(self._n_cells, -1)
                local[cells] = np.arange(cells.size)
                rows = np.flatnonzero((den > 0) & (self._ctrl == c))
                items.append((
                    _label(control), spec.name, num[rows], local[self._cell[rows]],
                    [labels_all[g] for g in cells], kind,
                ))  # fmt: skip
        return compare_groups(
            items, alpha=float(alpha), n_permutations=n_permutations, seed=seed,
            min_count=min_count, notes=notes,
        )  # fmt: skip

    # -- accessors ---------------------------------------------------------------------------
    def _frame(self, key: str) -> pd.DataFrame:
        return self._ctrl_frame(self._derived[key][:, :, 0])

    def _ctrl_frame(self, arr: np.ndarray) -> pd.DataFrame:
        """An (n_metrics, n_control_groups) array as a table indexed by control group."""
        return pd.DataFrame(arr.T, index=self.overall.index, columns=self.by_group.columns)

    def _check_method(self, method: str) -> None:
        if method not in _METHODS:
            msg = f"method must be one of {_METHODS}; got {method!r}."
            raise InvalidInputError(msg)

    def group_min(self) -> pd.DataFrame:
        """Smallest group value per metric (NaN groups ignored), one row per control group."""
        return self._frame("group_min")

    def group_max(self) -> pd.DataFrame:
        """Largest group value per metric (NaN groups ignored), one row per control group."""
        return self._frame("group_max")

    def difference(self, method: str = "between_groups") -> pd.DataFrame:
        """``max - min`` over groups, or the largest ``|group - overall|`` (``"to_overall"``)."""
        self._check_method(method)
        return self._frame(f"difference_{method}")

    def ratio(self, method: str = "between_groups") -> pd.DataFrame:
        """``min / max`` over groups, or the smallest ``min(g/o, o/g)`` (``"to_overall"``)."""
        self._check_method(method)
        return self._frame(f"ratio_{method}")

    def ci(self, quantity: str, method: str = "between_groups") -> tuple[pd.DataFrame, ...]:
        """Bootstrap bounds ``(low, high)`` of ``"difference"``, ``"ratio"``, ``"group_min"``
        or ``"group_max"`` (the latter two ignore ``method``)."""
        if self._derived_ci is None:
            msg = "No bootstrap was run; build GroupMetrics with n_bootstrap=1000 (say)."
            raise InvalidInputError(msg)
        if quantity in ("difference", "ratio"):
            self._check_method(method)
            key = f"{quantity}_{method}"
        elif quantity in ("group_min", "group_max"):
            key = quantity
        else:
            msg = (
                "quantity must be 'difference', 'ratio', 'group_min' or 'group_max'; "
                f"got {quantity!r}."
            )
            raise InvalidInputError(msg)
        lo, hi = self._derived_ci[key]
        return self._ctrl_frame(lo), self._ctrl_frame(hi)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (NaN as None); :meth:`from_dict` reads it back.

        Tables are lists of records ``{"group": [labels...], metric: value, ...}``. When a
        bootstrap was run, the overall bounds and those of the group min/max, differences and
        ratios (``"ci"``) are written too.
        """

        def records(df: pd.DataFrame | None) -> list[dict[str, Any]] | None:
            if df is None:
                return None
            out = []
            for key, row in df.iterrows():
                key = key if isinstance(key, tuple) else (key,)
                entry = {"group": to_jsonable(list(key))}
                entry.update({c: to_jsonable(v) for c, v in row.items()})
                out.append(entry)
            return out

        d: dict[str, Any] = {
            "kind": "GroupMetrics",
            "schema_version": self.SCHEMA_VERSION,
            "metrics": list(self.by_group.columns),
            "sensitive_names": self.sensitive_names,
            "control_names": self.control_names,
            "by_group": records(self.by_group),
            "denominators": records(self.denominators),
            "counts": [int(c) for c in self.counts],
            "overall": records(self.overall),
            "overall_denominators": records(self.overall_denominators),
            "by_group_ci_low": records(self.by_group_ci_low),
            "by_group_ci_high": records(self.by_group_ci_high),
            "params": to_jsonable(self.params),
        }
        for method in _METHODS:
            d[f"difference_{method}"] = records(self.difference(method))
            d[f"ratio_{method}"] = records(self.ratio(method))
        if self._derived_ci is not None:
            d["overall_ci_low"] = records(self.overall_ci_low)
            d["overall_ci_high"] = records(self.overall_ci_high)
            d["ci"] = {
                key: {"low": records(self._ctrl_frame(lo)), "high": records(self._ctrl_frame(hi))}
                for key, (lo, hi) in self._derived_ci.items()
            }
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GroupMetrics:
        """Rebuild the tables of a :meth:`to_dict` output, read-only.

        Values, denominators, counts, differences, ratios and bootstrap bounds come back as
        they were written; the rows they were computed on are not stored, so :meth:`compare`
        on a loaded instance raises (run it on the ``GroupMetrics`` built from the data).

        Examples
        --------
        >>> gm = GroupMetrics(metrics="selection_rate", y_true=[1, 0, 1, 1], y_pred=[1, 0, 0, 1],
        ...                   sensitive_features=list("aabb"))
        >>> GroupMetrics.from_dict(gm.to_dict()).difference()["selection_rate"].tolist()
        [0.0]
        """
        check_kind(cls, d)
        try:
            metrics = [str(m) for m in d["metrics"]]
            sens, ctrl = list(d["sensitive_names"]), list(d["control_names"])
            cells = pd.MultiIndex.from_tuples(
                [tuple(r["group"]) for r in d["by_group"]], names=[*ctrl, *sens]
            )
            if ctrl:
                controls = pd.MultiIndex.from_tuples(
                    [tuple(r["group"]) for r in d["overall"]], names=ctrl
                )
            else:
                controls = pd.Index([_OVERALL_LABEL], name=_OVERALL_LABEL)

            def table(key: str, index: pd.Index, dtype: Any = np.float64) -> pd.DataFrame | None:
                recs = d[key] if key in d else None
                if recs is None:
                    return None
                values = _matrix(recs, metrics).astype(dtype)
                return pd.DataFrame(values, index=index, columns=metrics)

            by_group = table("by_group", cells)
            overall = table("overall", controls)
            fields: dict[str, Any] = {
                "by_group": by_group,
                "denominators": table("denominators", cells, np.int64),
                "counts": pd.Series(np.asarray(d["counts"], np.int64), cells, name="count"),
                "overall": overall,
                "overall_denominators": table("overall_denominators", controls, np.int64),
                "by_group_ci_low": table("by_group_ci_low", cells),
                "by_group_ci_high": table("by_group_ci_high", cells),
                "overall_ci_low": table("overall_ci_low", controls),
                "overall_ci_high": table("overall_ci_high", controls),
                "sensitive_names": sens,
                "control_names": ctrl,
                "params": dict(d["params"]),
                "_derived_ci": None,
                "_loaded": True,
            }
            # group min / max from the table, per control group; differences and ratios as stored
            n_ctrl = len(ctrl)
            cell_ctrl = (
                controls.get_indexer([k[:n_ctrl] for k in cells]) if ctrl
                else np.zeros(len(cells), dtype=np.int64)
            )  # fmt: skip
            values = by_group.to_numpy(dtype=np.float64)
            extremes = {}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN metric: NaN, as computed
                for name, reduce in (("group_min", np.nanmin), ("group_max", np.nanmax)):
                    extremes[name] = np.stack(
                        [reduce(values[cell_ctrl == c], axis=0) for c in range(len(controls))]
                    ).T[:, :, None]
            derived = {
                f"{q}_{m}": table(f"{q}_{m}", controls).to_numpy().T[:, :, None]
                for q in ("difference", "ratio") for m in _METHODS
            }  # fmt: skip
            fields["_derived"] = {**extremes, **derived}
            if d.get("ci") is not None:
                fields["_derived_ci"] = {
                    key: (_matrix(bounds["low"], metrics).T, _matrix(bounds["high"], metrics).T)
                    for key, bounds in d["ci"].items()
                }
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            msg = (
                f"GroupMetrics.from_dict could not read the dict ({type(err).__name__}: {err}); "
                "pass the unchanged output of GroupMetrics.to_dict()."
            )
            raise InvalidInputError(msg) from err
        obj = object.__new__(cls)
        for key, value in fields.items():
            object.__setattr__(obj, key, value)
        object.__setattr__(obj, "_frozen", True)
        return obj

    def __repr__(self) -> str:
        return (
            f"GroupMetrics(metrics={list(self.by_group.columns)}, groups={len(self.by_group)}, "
            f"sensitive={self.sensitive_names}, control={self.control_names})"
        )


def _matrix(records: list[dict[str, Any]], metrics: list[str]) -> np.ndarray:
    """Stored records as an (n_rows, n_metrics) float array (None, the JSON NaN, as NaN)."""
    values = np.array([[r[m] for m in metrics] for r in records], dtype=np.float64)
    return values.reshape(len(records), len(metrics))


def _label(key: Any) -> str:
    return " | ".join(str(k) for k in key) if isinstance(key, tuple) else str(key)


# -- the usual fairness summaries ------------------------------------------------------------
def _summary(
    metric_names: list[str],
    y_true: Any,
    y_pred: Any,
    sensitive_features: Any,
    method: str,
    kind: str,
    pos_label: Any,
) -> float:
    gm = GroupMetrics(
        metrics=metric_names,
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=sensitive_features,
        pos_label=pos_label,
    )
    frame = gm.difference(method) if kind == "difference" else gm.ratio(method)
    row = frame.iloc[0].to_numpy(dtype=np.float64)
    if np.isnan(row).all():
        return float("nan")
    return float(np.nanmax(row) if kind == "difference" else np.nanmin(row))


def _summary_function(
    name: str, metric_names: tuple[str, ...], kind: str, doc: str
) -> Callable[..., float]:
    """One public summary: ``kind`` ("difference" or "ratio") of ``metric_names``, worst case.

    The six summaries differ only in their metrics and kind; building them here keeps their
    signatures identical (keyword-only ``sensitive_features``, ``method``, ``pos_label``).
    """

    def summary(
        y_true: Any,
        y_pred: Any,
        *,
        sensitive_features: Any,
        method: str = "between_groups",
        pos_label: Any = 1,
    ) -> float:
        args = (y_true, y_pred, sensitive_features, method)
        return _summary(list(metric_names), *args, kind, pos_label)

    summary.__name__ = summary.__qualname__ = name
    summary.__doc__ = doc
    return summary


_RATES = ("selection_rate",)
_ODDS = ("true_positive_rate", "false_positive_rate")
_OPPORTUNITY = ("true_positive_rate",)

demographic_parity_difference = _summary_function(
    "demographic_parity_difference",
    _RATES,
    "difference",
    """Largest gap in selection rate between groups (0 = parity).

    Examples
    --------
    >>> demographic_parity_difference([0, 1, 0, 1], [1, 1, 0, 1], sensitive_features=list("aabb"))
    0.5
    """,
)

demographic_parity_ratio = _summary_function(
    "demographic_parity_ratio",
    _RATES,
    "ratio",
    """Smallest over largest group selection rate (1 = parity).

    Examples
    --------
    >>> demographic_parity_ratio([0, 1, 0, 1], [1, 1, 0, 1], sensitive_features=list("aabb"))
    0.5
    """,
)

equalized_odds_difference = _summary_function(
    "equalized_odds_difference",
    _ODDS,
    "difference",
    """The larger of the true- and false-positive-rate differences (fairlearn's worst case).

    Examples
    --------
    >>> equalized_odds_difference([0, 1, 0, 1], [1, 1, 0, 1], sensitive_features=list("aabb"))
    1.0
    """,
)

equalized_odds_ratio = _summary_function(
    "equalized_odds_ratio",
    _ODDS,
    "ratio",
    """The smaller of the true- and false-positive-rate ratios.

    Examples
    --------
    >>> equalized_odds_ratio([0, 1, 0, 1], [1, 1, 0, 1], sensitive_features=list("aabb"))
    0.0
    """,
)

equal_opportunity_difference = _summary_function(
    "equal_opportunity_difference",
    _OPPORTUNITY,
    "difference",
    """Largest gap in true positive rate between groups.

    Examples
    --------
    >>> equal_opportunity_difference([0, 1, 0, 1], [1, 1, 0, 1], sensitive_features=list("aabb"))
    0.0
    """,
)

equal_opportunity_ratio = _summary_function(
    "equal_opportunity_ratio",
    _OPPORTUNITY,
    "ratio",
    """Smallest over largest group true positive rate.

    Examples
    --------
    >>> equal_opportunity_ratio([0, 1, 0, 1], [1, 1, 0, 1], sensitive_features=list("aabb"))
    1.0
    """,
)
