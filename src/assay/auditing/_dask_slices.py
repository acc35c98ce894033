"""Failure slices found on the sample, counted on every row and re-tested on the unseen rows.

The slice search runs in memory on the audit's seeded sample. Its confirmed slices (conjunctions
of predicates) are then evaluated on every partition: row counts and error sums inside each
slice on all rows, and a one-sided test on the rows the search never saw (every row outside
the sample), Benjamini-Hochberg over the slices at the audit's ``alpha``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from assay.auditing._section import table

__all__ = ["confirm_slices", "partition_slice_stats", "predicate_mask"]


def predicate_mask(frame: Any, feature: str, op: str, value: Any) -> np.ndarray:
    """Rows of ``frame`` satisfying one slice predicate (see :class:`assay.slices.Slice`)."""
    import pandas as pd

    col = frame[feature]
    if op == "is missing":
        return col.isna().to_numpy()
    if op == "=":
        if isinstance(value, str) and not pd.api.types.is_numeric_dtype(col):
            return (col.astype(str) == value).to_numpy() & col.notna().to_numpy()
        return (pd.to_numeric(col, errors="coerce") == float(value)).to_numpy()
    x = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        if op == "<":
            return x < float(value)
        if op == ">=":
            return x >= float(value)
        if op == "in":
            low, high = value
            return (x >= float(low)) & (x < float(high))
    msg = f"unknown slice predicate operator {op!r}"
    raise ValueError(msg)


def _errors(frame: Any, model: Any, spec: dict[str, Any]) -> np.ndarray:
    from assay.auditing._dask_stats import _prepared
    from assay.auditing._labels import binary_labels

    adapter, out, y = _prepared(frame, model, spec)
    if spec["task"] == "binary" or (adapter.is_classifier and adapter.n_outputs == 2):
        cut = 0.5 if adapter.output_space == "probability" else 0.0
        return ((out[:, -1] >= cut).astype(int) != binary_labels(adapter, y)).astype(float)
    if adapter.is_classifier:
        pred = np.asarray(adapter.output_names)[out.argmax(axis=1)]
        return (pred != np.asarray(y).astype(str)).astype(float)
    return np.abs(out[:, 0] - y.astype(np.float64))


def partition_slice_stats(
    frame: Any, model: Any, spec: dict[str, Any], slices: list[list], sampled: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Per slice (row 0: all rows) and for all rows / unseen rows: count, sum, sum of squares."""
    err = _errors(frame, model, spec)
    unseen = np.ones(len(frame), dtype=bool)
    unseen[sampled] = False
    masks = [np.ones(len(frame), dtype=bool)]
    for preds in slices:
        m = np.ones(len(frame), dtype=bool)
        for feature, op, value in preds:
            m &= predicate_mask(frame, feature, op, value)
        masks.append(m)
    M = np.vstack(masks).astype(np.float64)
    U = M * unseen
    return M.sum(1), M @ err, M @ err**2, U.sum(1), U @ err, U @ err**2


def _test(n_in: float, s_in: float, q_in: float, n_out: float, s_out: float, q_out: float,
          binary: bool) -> float:  # fmt: skip
    """One-sided p-value: is the mean error higher inside the slice than outside it?"""
    from scipy import stats

    if n_in < 2 or n_out < 2:
        return float("nan")
    if binary:
        table_ = [[int(s_in), int(n_in - s_in)], [int(s_out), int(n_out - s_out)]]
        return float(stats.fisher_exact(table_, alternative="greater").pvalue)
    m1, m2 = s_in / n_in, s_out / n_out
    v1 = max(q_in - n_in * m1 * m1, 0.0) / (n_in - 1)
    v2 = max(q_out - n_out * m2 * m2, 0.0) / (n_out - 1)
    res = stats.ttest_ind_from_stats(m1, np.sqrt(v1), n_in, m2, np.sqrt(v2), n_out,
                                     equal_var=False, alternative="greater")  # fmt: skip
    return float(res.pvalue)


def confirm_slices(
    sec: dict[str, Any], totals: tuple[np.ndarray, ...], *, alpha: float, binary: bool, m: int
) -> dict[str, Any]:
    """The slices section with every slice counted on all rows and tested on unseen rows."""
    from scipy.stats import false_discovery_control

    n_all, s_all, _, n_un, s_un, q_un = totals
    found = sec["data"].get("slices", [])
    metric = "error rate" if binary else "absolute error"
    rows, p = [], []
    for i, sl in enumerate(found, start=1):
        n_out, s_out = n_un[0] - n_un[i], s_un[0] - s_un[i]
        p.append(_test(n_un[i], s_un[i], q_un[i], n_out, s_out, q_un[0] - q_un[i], binary))
        inside = s_all[i] / n_all[i] if n_all[i] else float("nan")
        outside = (s_all[0] - s_all[i]) / (n_all[0] - n_all[i]) if n_all[0] > n_all[i] else (
            float("nan"))  # fmt: skip
        overall = s_all[0] / n_all[0]
        rows.append({
            "description": sl["description"], "support": int(n_all[i]),
            "support_share": float(n_all[i] / n_all[0]), "metric_inside": float(inside),
            "metric_outside": float(outside),
            "lift": float(inside / overall) if overall > 0 else float("nan"),
            "n_unseen": int(n_un[i]), "p_value_unseen": p[-1],
        })  # fmt: skip
    finite = np.isfinite(p) if p else np.zeros(0, dtype=bool)
    adj = np.full(len(p), np.nan)
    if finite.any():
        adj[finite] = false_discovery_control(np.asarray(p)[finite])
    for row, a in zip(rows, adj, strict=True):
        row["p_adjusted_unseen"] = float(a)
        row["confirmed_unseen"] = bool(np.isfinite(a) and a <= alpha)
    out = {**sec, "data": {**sec["data"], "all_rows": rows}}
    n, n_unseen = int(n_all[0]), int(n_un[0])
    if rows:
        confirmed = [r for r in rows if r["confirmed_unseen"]]
        out["verdict"] = sec["verdict"] + (
            f" On all {n:,} rows, {len(confirmed)} of the {len(rows)} slices found on the "
            f"{m:,}-row sample are confirmed on the {n_unseen:,} rows the search never saw "
            f"(one-sided tests, Benjamini-Hochberg at {alpha:g})"
            + (": " + "; ".join(
                f"{r['description']} ({metric} {r['metric_inside']:.3g} vs "
                f"{r['metric_outside']:.3g} outside, {100 * r['support_share']:.1f}% of rows)"
                for r in sorted(confirmed, key=lambda r: -r["lift"])[:3]) if confirmed else "")
            + "."
        )  # fmt: skip
        out["status"] = (
            "alert" if any(r["lift"] >= 2 for r in confirmed) else
            "warning" if confirmed else "ok"
        )  # fmt: skip
        out["tables"] = [*sec["tables"], table(
            "Slices on all rows (tested on the rows the search never saw)",
            ["slice", "rows", "share", metric, "outside", "lift", "adjusted p (unseen rows)",
             "confirmed"],
            [[r["description"], r["support"], r["support_share"], r["metric_inside"],
              r["metric_outside"], r["lift"], r["p_adjusted_unseen"], r["confirmed_unseen"]]
             for r in rows],
        )]  # fmt: skip
        out["data"]["rule"] = sec["data"].get("rule", "") + (
            " At scale: the slices found on the sample are counted on every row and re-tested "
            "on the rows outside the sample (Fisher exact for 0/1 errors, Welch's t for "
            f"absolute errors, Benjamini-Hochberg at {alpha:g}); the status follows that test."
        )
    return out
