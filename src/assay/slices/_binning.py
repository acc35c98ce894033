"""Turn a table into integer codes and readable predicates for the slice search.

Continuous features are cut at quantiles whose boundaries are rounded to the fewest significant
digits (at least two) that keep them distinct, so predicates read ``age < 45`` rather than
``age < 44.73``. Categorical features (non-numeric, pandas ``category``, boolean, or numeric with
few distinct values) keep their values. A missing value is a value of its own.

Every predicate ("item") is an interval ``[lo, hi]`` of the integer codes of one feature: a
category or a single bin has ``lo == hi``; a one-sided range (``age < 45``) spans several
consecutive bins. That lets the search derive every item of a feature from one histogram.

Besides the search grid, each continuous feature gets a *fine* grid (``n_fine`` quantiles plus
every search edge, so a search predicate is exactly an interval of fine codes): the refinement
step moves the thresholds of the best slices along it, so a planted ``age < 37`` is not stuck
at the nearest search edge ``age < 40``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from assay._validation import as_matrix
from assay.errors import InvalidInputError

__all__ = ["Binned", "bin_features", "format_value"]


@dataclass(frozen=True, eq=False)
class Binned:
    """Binned view of a table.

    Attributes
    ----------
    codes : ndarray of int32, shape (n_features, n_rows)
        Code of each row for each feature (feature-major for the search).
    n_codes : ndarray of int64, shape (n_features,)
    feature_names : list of str
    kinds : list of str
        ``"continuous"`` or ``"categorical"`` per feature.
    item_feature, item_lo, item_hi : ndarray of int32, shape (n_items,)
        Each predicate is ``item_lo <= code <= item_hi`` on feature ``item_feature``; items are
        sorted by feature.
    item_start, item_end : ndarray of int64, shape (n_features,)
        Items of feature ``f`` are ``item_start[f]:item_end[f]``.
    predicates : list of tuple
        ``(feature, op, value)`` per item: op ``"="`` (value), ``"<"`` / ``">="`` (boundary),
        ``"in"`` (``(low, high)``: ``low <= x < high``) or ``"is missing"`` (None).
    labels : list of str
        Readable text per item.
    edges : dict
        Bin boundaries of each continuous feature.
    fine_codes : ndarray of int32, shape (n_features, n_rows), or None
        Codes on the fine grid (same as ``codes`` for categorical features); a missing value
        has code ``len(fine_edges[f]) + 1``.
    fine_edges : list of (ndarray or None)
        Fine boundaries of each continuous feature (None for categorical ones); they include
        every entry of ``edges``.
    """

    codes: np.ndarray
    n_codes: np.ndarray
    feature_names: list[str]
    kinds: list[str]
    item_feature: np.ndarray
    item_lo: np.ndarray
    item_hi: np.ndarray
    item_start: np.ndarray
    item_end: np.ndarray
    predicates: list[tuple[str, str, Any]]
    labels: list[str]
    edges: dict[str, list[float]]
    fine_codes: np.ndarray | None = None
    fine_edges: list[np.ndarray | None] | None = None

    def mask(self, items: Any) -> np.ndarray:
        """Boolean row mask of the conjunction of ``items``."""
        out = np.ones(self.codes.shape[1], dtype=bool)
        for i in items:
            c = self.codes[self.item_feature[i]]
            out &= (c >= self.item_lo[i]) & (c <= self.item_hi[i])
        return out


def format_value(v: Any) -> str:
    """Readable text of a boundary or category value (``7.0`` -> ``"7"``)."""
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    if isinstance(v, (np.integer, np.bool_)):
        return str(v.item())
    return str(v)


def _readable_edges(edges: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Round edges to the coarsest decimal step that keeps them distinct and inside the data.

    The first step tried is two significant digits of the spread of the edges (of the edge
    itself when there is only one), so a standard normal gets ``-0.8, -0.3, 0, 0.3, ...``
    rather than ``-0.0015``.
    """
    edges = np.unique(edges)
    edges = edges[(edges > lo) & (edges <= hi)]
    if edges.size == 0:
        return edges
    spread = float(edges[-1] - edges[0]) if edges.size > 1 else abs(float(edges[0]))
    if spread == 0 or not math.isfinite(spread):
        return edges
    first = math.floor(math.log10(spread)) - 1
    for exponent in range(first, first - 15, -1):
        rounded = np.round(edges, -exponent) + 0.0  # + 0.0 turns -0.0 into 0.0
        rounded = rounded[(rounded > lo) & (rounded <= hi)]
        if np.unique(rounded).size == edges.size:
            return np.unique(rounded)
    return edges


def _columns(X: Any) -> tuple[list[np.ndarray], list[str], list[bool]]:
    """Split X into columns; the flag says whether a column must be categorical."""
    import pandas as pd

    if type(X).__module__.startswith("polars") and hasattr(X, "to_pandas"):
        X = X.to_pandas()
    if isinstance(X, pd.DataFrame):
        names = [str(c) for c in X.columns]
        if len(set(names)) != len(names):
            dupes = sorted({c for c in names if names.count(c) > 1})
            msg = f"X has duplicate column names {dupes}; rename them so each is unique."
            raise InvalidInputError(msg)
        if X.shape[0] == 0 or X.shape[1] == 0:
            msg = f"X has shape {X.shape}; pass at least one row and one column."
            raise InvalidInputError(msg)
        cols, forced = [], []
        for col in X.columns:
            s = X[col]
            dtype = s.dtype
            if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dtype):
                cols.append(s.astype(object).to_numpy())
                forced.append(True)
            elif dtype == np.float64:  # a view, no copy (millions of rows: no copy per column)
                cols.append(s.to_numpy())
                forced.append(False)
            elif pd.api.types.is_numeric_dtype(dtype):
                cols.append(s.to_numpy(dtype=np.float64, na_value=np.nan))
                forced.append(False)
            else:
                cols.append(s.astype(object).to_numpy())
                forced.append(True)
        return cols, names, forced
    values, names = as_matrix(X, name="X", allow_nan=True)
    return [values[:, j] for j in range(values.shape[1])], names, [False] * values.shape[1]


def _is_missing(col: np.ndarray) -> np.ndarray:
    if col.dtype == object:
        import pandas as pd

        return np.asarray(pd.isna(col), dtype=bool)
    return np.isnan(col)


def bin_features(
    X: Any,
    *,
    n_bins: int,
    max_categories: int,
    ranges: bool,
    min_count: int = 1,
    max_range_share: float = 0.8,
    n_fine: int = 0,
) -> Binned:
    """Bin every column of ``X`` (see the module docstring).

    Categories seen in fewer than ``min_count`` rows get no predicate of their own (they could
    never reach the minimum support). One-sided ranges cover at most ``max_range_share`` of the
    rows (a wider one is rarely part of a failure slice and only slows the search; with a cap of
    one half, ``x < median`` would be missing whenever the median rounds up). ``n_fine > 0``
    also builds the fine grid of ``n_fine`` quantiles.
    """
    cols, names, forced = _columns(X)
    n = cols[0].shape[0]
    d = len(cols)
    codes = np.zeros((d, n), dtype=np.int32)
    n_codes = np.zeros(d, dtype=np.int64)
    kinds: list[str] = []
    item_feature: list[int] = []
    item_lo: list[int] = []
    item_hi: list[int] = []
    predicates: list[tuple[str, str, Any]] = []
    labels: list[str] = []
    edges_out: dict[str, list[float]] = {}
    item_start = np.zeros(d, dtype=np.int64)
    item_end = np.zeros(d, dtype=np.int64)
    fine_codes = np.zeros((d, n), dtype=np.int32) if n_fine > 0 else None
    fine_edges: list[np.ndarray | None] = [None] * d

    def add(f: int, lo: int, hi: int, pred: tuple[str, str, Any], label: str) -> None:
        item_feature.append(f)
        item_lo.append(lo)
        item_hi.append(hi)
        predicates.append(pred)
        labels.append(label)

    for f, (col, name) in enumerate(zip(cols, names, strict=True)):
        item_start[f] = len(labels)
        missing = _is_missing(col)
        present = col[~missing]
        if col.dtype != object:
            distinct = np.unique(present)
        else:
            distinct = None
        categorical = forced[f] or (distinct is not None and distinct.size <= max_categories)
        if categorical:
            kinds.append("categorical")
            if distinct is None:
                import pandas as pd

                inv, uniques = pd.factorize(pd.Series(present, dtype=object), sort=False)
                try:
                    order = np.argsort(np.asarray(uniques, dtype=object), kind="stable")
                except TypeError:
                    order = np.argsort([str(u) for u in uniques], kind="stable")
                rank = np.empty(order.size, dtype=np.int64)
                rank[order] = np.arange(order.size)
                values = [uniques[o] for o in order]
                present_codes = rank[inv]
            else:
                values = list(distinct)
                present_codes = np.searchsorted(distinct, present)
            k = len(values)
            codes[f, ~missing] = present_codes
            counts = np.bincount(present_codes, minlength=k) if k else np.zeros(0, int)
            for c, v in enumerate(values):
                if counts[c] >= min_count:
                    add(f, c, c, (name, "=", v), f"{name} = {format_value(v)}")
        else:
            kinds.append("continuous")
            qs = np.quantile(present, np.arange(1, n_bins) / n_bins)
            edges = _readable_edges(qs, float(present.min()), float(present.max()))
            edges_out[name] = [float(e) for e in edges]
            k = edges.size + 1
            codes[f, ~missing] = np.searchsorted(edges, present, side="right")
            counts = np.bincount(codes[f, ~missing], minlength=k)
            share = np.cumsum(counts) / max(present.size, 1)
            txt = [format_value(e) for e in edges]
            for c in range(k):
                if k == 1:
                    continue
                if c == 0:
                    pred, lab = (name, "<", float(edges[0])), f"{name} < {txt[0]}"
                elif c == k - 1:
                    pred, lab = (name, ">=", float(edges[-1])), f"{name} >= {txt[-1]}"
                else:
                    pred = (name, "in", (float(edges[c - 1]), float(edges[c])))
                    lab = f"{txt[c - 1]} <= {name} < {txt[c]}"
                if counts[c] >= min_count:
                    add(f, c, c, pred, lab)
            if ranges:
                # one-sided ranges covering at most max_range_share of the rows (a failure
                # slice is a minority of the data), beyond the end bins already listed
                for c in range(1, k - 1):  # "x < edges[c]" spans codes 0..c
                    if share[c] <= max_range_share + 1e-12:
                        add(f, 0, c, (name, "<", float(edges[c])), f"{name} < {txt[c]}")
                for c in range(1, k - 1):  # "x >= edges[c-1]" spans codes c..k-1
                    if 1.0 - share[c - 1] <= max_range_share + 1e-12:
                        lab = f"{name} >= {txt[c - 1]}"
                        add(f, c, k - 1, (name, ">=", float(edges[c - 1])), lab)
            if fine_codes is not None:
                fq = np.quantile(present, np.arange(1, n_fine) / n_fine)
                fe = _readable_edges(fq, float(present.min()), float(present.max()))
                fe = np.union1d(fe, edges)
                fine_edges[f] = fe
                fine_codes[f, ~missing] = np.searchsorted(fe, present, side="right")
                fine_codes[f, missing] = fe.size + 1
        if missing.any():
            codes[f, missing] = k
            add(f, k, k, (name, "is missing", None), f"{name} is missing")
            k += 1
        n_codes[f] = max(k, 1)
        item_end[f] = len(labels)
        if fine_codes is not None and categorical:
            fine_codes[f] = codes[f]  # the fine grid of a categorical feature: its values
    return Binned(
        codes=codes,
        n_codes=n_codes,
        feature_names=names,
        kinds=kinds,
        item_feature=np.asarray(item_feature, dtype=np.int32),
        item_lo=np.asarray(item_lo, dtype=np.int32),
        item_hi=np.asarray(item_hi, dtype=np.int32),
        item_start=item_start,
        item_end=item_end,
        predicates=predicates,
        labels=labels,
        edges=edges_out,
        fine_codes=fine_codes,
        fine_edges=fine_edges if fine_codes is not None else None,
    )
