"""Sufficient statistics of the audit's exact sections, computed per partition and merged.

Every function here runs on a Dask worker on one partition (a pandas DataFrame) or merges two
partitions' statistics; nothing grows with the number of rows except the score table of a
binary classifier, which holds one entry per *distinct* score and is coarsened to a fixed grid
of ``GRID`` cells on [0, 1] once it exceeds ``max_distinct`` entries (the AUC then carries a
stated error bound, see :func:`auc_from_table`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "GRID",
    "auc_from_table",
    "merge_stats",
    "partition_bins",
    "partition_scores",
    "partition_stats",
    "quantile_from_table",
]

GRID = 2**24  # cells on [0, 1] once the score table is coarsened (cell width 6e-8)


def _prepared(frame: Any, model: Any, spec: dict[str, Any]) -> tuple[Any, np.ndarray, np.ndarray]:
    """(adapter, model output, target) for one partition, labels recoded as the audit does."""
    from assay.auditing._labels import recode_positive
    from assay.model import wrap

    adapter = wrap(model)
    Xv, _ = adapter.prepare(frame[spec["features"]])
    out = adapter.predict(Xv)
    y = frame[spec["target"]].to_numpy()
    if spec.get("positive_label") is not None:
        y = recode_positive(adapter.output_names, y, spec["positive_label"])
    return adapter, out, y


def _chan(a: tuple[float, float, float], b: tuple[float, float, float]) -> tuple[float, ...]:
    """Merge (n, mean, M2) of two sets of values (Chan et al.), stable for large n."""
    na, ma, sa = a
    nb, mb, sb = b
    n = na + nb
    if n == 0:
        return 0.0, 0.0, 0.0
    d = mb - ma
    return n, ma + d * nb / n, sa + sb + d * d * na * nb / n


def _moments(v: np.ndarray) -> tuple[float, float, float]:
    if v.size == 0:
        return 0.0, 0.0, 0.0
    m = float(v.mean())
    return float(v.size), m, float(np.sum((v - m) ** 2))


def _group_codes(frame: Any, columns: list[str]) -> tuple[np.ndarray, list[str]]:
    import pandas as pd

    labels = frame[columns].astype(str).agg(" | ".join, axis=1).to_numpy()
    codes, uniques = pd.factorize(labels, sort=True)
    return codes, [str(u) for u in uniques]


def _sort_key(value: Any) -> Any:
    """A group value as plain Python, for ordering (NumPy scalars -> int, float, str, bool)."""
    return value.item() if hasattr(value, "item") else value


def _group_keys(frame: Any, columns: list[str], codes: np.ndarray, labels: list[str]) -> dict:
    """label -> the sort key of its group: the raw values (category codes for categorical
    columns), so that groups can be ordered as ``groupby(sort=True)`` orders them in memory."""
    import pandas as pd

    keys: dict[str, Any] = {}
    _, first = np.unique(codes, return_index=True)  # codes are 0..len(labels)-1, all used
    for g, label in enumerate(labels):
        i = int(first[g])
        key = []
        for c in columns:
            col = frame[c]
            if isinstance(col.dtype, pd.CategoricalDtype):
                key.append(int(col.cat.codes.iloc[i]))
            else:
                key.append(_sort_key(col.iloc[i]))
        keys[label] = tuple(key)
    return keys


def group_order(keys: dict[str, Any]) -> list[str]:
    """Group labels in the order the in-memory group metrics list them (sorted raw values);
    string order where the values do not compare (mixed types)."""
    try:
        return sorted(keys, key=lambda label: keys[label])
    except TypeError:
        return sorted(keys)


def _group_stats(
    codes: np.ndarray, labels: list[str], task: str, cols: dict[str, np.ndarray]
) -> dict:
    """Per-group counts (rates) or moments (means); a group is one value of the sensitive
    columns together (``"f | 1"``), as in the audit's fairness section."""
    out: dict[str, Any] = {}
    for g, label in enumerate(labels):
        rows = codes == g
        if task == "regression":
            out[label] = {
                "n": int(rows.sum()),
                "prediction": _moments(cols["prediction"][rows]),
                "abs_error": _moments(cols["abs_error"][rows]),
            }
        else:
            out[label] = {name: int(np.sum(v[rows])) for name, v in cols.items()}
            out[label]["n"] = int(rows.sum())
    return out


def partition_stats(frame: Any, model: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """The exact sections' sufficient statistics of one partition."""
    from assay.auditing._labels import binary_labels, class_indices

    adapter, out, y = _prepared(frame, model, spec)
    task = spec["task"]
    stats: dict[str, Any] = {"n": len(frame), "task": task, "coarse": False}
    if task == "binary":
        labels = binary_labels(adapter, y).astype(np.int64)
        p = np.asarray(out[:, -1], dtype=np.float64)
        keys, inv = np.unique(p, return_inverse=True)
        stats["table"] = (
            keys,
            np.bincount(inv, weights=labels, minlength=keys.size),
            np.bincount(inv, minlength=keys.size).astype(np.float64),
        )
        decision = (p >= 0.5).astype(np.int64)
        stats["sums"] = {
            "pos": float(labels.sum()),
            "correct": float(np.sum(decision == labels)),
            "sq_error": float(np.sum((p - labels) ** 2)),
        }
        cols = {
            "n_pos": labels, "n_dec": decision, "tp": decision * labels,
            "fp": decision * (1 - labels), "correct": (decision == labels).astype(np.int64),
        }  # fmt: skip
    elif task == "classification":
        correct = (out.argmax(axis=1) == class_indices(adapter.output_names, y)).astype(np.int64)
        stats["sums"] = {"correct": float(correct.sum())}
        cols = {"correct": correct}
    else:
        pred, target = out[:, 0].astype(np.float64), y.astype(np.float64)
        stats["sums"] = {"sq_error": float(np.sum((pred - target) ** 2))}
        stats["target"] = _moments(target)
        cols = {"prediction": pred, "abs_error": np.abs(pred - target)}
    sens = list(spec["sensitive"])
    stats["groups"], stats["group_keys"] = {}, {}
    if sens:
        codes, labels = _group_codes(frame, sens)
        stats["groups"] = _group_stats(codes, labels, task, cols)
        stats["group_keys"] = _group_keys(frame, sens, codes, labels)
    return stats


def _coarsen(table: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    keys, pos, tot = table
    cells = np.clip(np.floor(np.clip(keys, 0.0, 1.0) * GRID), 0, GRID - 1) / GRID
    u, inv = np.unique(cells, return_inverse=True)
    return (
        u,
        np.bincount(inv, weights=pos, minlength=u.size),
        np.bincount(inv, weights=tot, minlength=u.size),
    )


def _merge_groups(a: dict[str, Any], b: dict[str, Any], task: str) -> dict[str, Any]:
    out = {}
    for label in sorted(set(a) | set(b)):
        if label not in a or label not in b:
            out[label] = a.get(label) or b[label]
        elif task == "regression":
            out[label] = {
                "n": a[label]["n"] + b[label]["n"],
                "prediction": _chan(a[label]["prediction"], b[label]["prediction"]),
                "abs_error": _chan(a[label]["abs_error"], b[label]["abs_error"]),
            }
        else:
            out[label] = {k: a[label][k] + b[label][k] for k in a[label]}
    return out


def merge_stats(a: dict[str, Any], b: dict[str, Any], max_distinct: int) -> dict[str, Any]:
    """Statistics of two sets of rows together (associative; used as a tree reduction)."""
    out: dict[str, Any] = {"n": a["n"] + b["n"], "task": a["task"]}
    out["sums"] = {k: a["sums"][k] + b["sums"][k] for k in a["sums"]}
    out["coarse"] = bool(a["coarse"] or b["coarse"])
    if "target" in a:
        out["target"] = _chan(a["target"], b["target"])
    if "table" in a:
        ta, tb = a["table"], b["table"]
        if out["coarse"]:
            ta, tb = _coarsen(ta), _coarsen(tb)
        keys, inv = np.unique(np.concatenate([ta[0], tb[0]]), return_inverse=True)
        table = tuple(
            np.bincount(inv, weights=np.concatenate([ta[i], tb[i]]), minlength=keys.size)
            for i in (1, 2)
        )
        table = (keys, *table)
        if not out["coarse"] and keys.size > max_distinct:
            table, out["coarse"] = _coarsen(table), True
        out["table"] = table
    out["groups"] = _merge_groups(a["groups"], b["groups"], a["task"])
    out["group_keys"] = {**b.get("group_keys", {}), **a.get("group_keys", {})}
    return out


def auc_from_table(table: tuple[np.ndarray, ...], coarse: bool) -> tuple[float, float]:
    """(AUC, error bound) from the merged score table: the Mann-Whitney count of (positive,
    negative) pairs ordered correctly, ties counted one half.

    Exact (bound 0) while the table holds every distinct score. After coarsening, the scores of
    a pair inside one grid cell are unknown; counting it one half errs by at most one half per
    such pair, so the bound is ``0.5 * sum_cells pos * neg / (P * N)``.
    """
    _, pos, tot = table
    neg = tot - pos
    n_pos, n_neg = float(pos.sum()), float(neg.sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan"), float("nan")
    below = np.concatenate([[0.0], np.cumsum(neg)[:-1]])
    auc = float(np.sum(pos * (below + 0.5 * neg)) / (n_pos * n_neg))
    bound = float(0.5 * np.sum(pos * neg) / (n_pos * n_neg)) if coarse else 0.0
    return auc, bound


def quantile_from_table(table: tuple[np.ndarray, ...], q: np.ndarray) -> np.ndarray:
    """``np.quantile(p, q)`` (method "linear") from the table of distinct values and counts,
    with numpy's own arithmetic: the same order statistics and the same interpolation."""
    keys, _, tot = table
    cum = np.cumsum(tot)
    n = int(np.rint(cum[-1]))
    virtual = (n - 1) * np.asarray(q, dtype=np.float64)
    prev = np.floor(virtual)
    gamma = virtual - prev
    prev_i = prev.astype(np.int64)
    next_i = np.minimum(prev_i + 1, n - 1)
    above = virtual >= n - 1
    prev_i[above] = n - 1
    a = keys[np.searchsorted(cum, prev_i, side="right")]
    b = keys[np.searchsorted(cum, next_i, side="right")]
    diff = b - a
    out = a + diff * gamma
    hi = gamma >= 0.5
    out[hi] = (b - diff * (1 - gamma))[hi]
    return out


def partition_bins(
    frame: Any, model: Any, spec: dict[str, Any], edges: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Per calibration bin: rows, positives, sum of p and of p (1 - p), for one partition."""
    from assay.auditing._labels import binary_labels

    adapter, out, y = _prepared(frame, model, spec)
    labels = binary_labels(adapter, y).astype(np.float64)
    p = np.clip(np.asarray(out[:, -1], dtype=np.float64), 0.0, 1.0)
    g = max(len(edges) - 1, 1)
    idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, g - 1)
    return (
        np.bincount(idx, minlength=g).astype(np.float64),
        np.bincount(idx, weights=labels, minlength=g),
        np.bincount(idx, weights=p, minlength=g),
        np.bincount(idx, weights=p * (1 - p), minlength=g),
    )


def partition_scores(frame: Any, model: Any, spec: dict[str, Any]) -> tuple[np.ndarray, ...]:
    """(labels as 0/1, positive-class probability) of one partition (small data only)."""
    from assay.auditing._labels import binary_labels

    adapter, out, y = _prepared(frame, model, spec)
    return binary_labels(adapter, y), np.asarray(out[:, -1], dtype=np.float64)
