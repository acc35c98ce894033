"""``assay.audit`` on a Dask DataFrame: exact sections on every row, model fits on a sample.

Sections that are sums over rows run on the cluster, partition by partition, and only their
sufficient statistics come back to the client: performance (AUC from the merged table of
distinct scores), calibration (per-bin sums), group metrics with their intervals (per-group
counts or moments) and, for tree models, global attributions (TreeSHAP on every row,
:meth:`DistributedExplanation.global_importance`). Sections that fit a model or search
(glass-box, fairness tests and proxy audit, slices, attributions of single rows, trust) run
in memory on a seeded sample whose size is reported. Every section says which in
``data["rows_used"]``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from assay._validation import check_int, check_seed, import_optional
from assay.auditing._result import AuditResult
from assay.errors import InvalidInputError

__all__ = ["audit_dask"]

SAMPLE_ROWS = 20_000
MAX_DISTINCT = 2_000_000


def _columns(ddf: Any, target: Any, sensitive: Any) -> tuple[str, list[str], list[str]]:
    cols = [str(c) for c in ddf.columns]
    if not isinstance(target, str):
        msg = (
            "with a Dask DataFrame, y is the name of its target column (e.g. y='default'); got "
            f"{type(target).__name__}."
        )
        raise InvalidInputError(msg)
    sens = [sensitive] if isinstance(sensitive, str) else list(sensitive or [])
    missing = [c for c in [target, *sens] if c not in cols]
    if missing:
        msg = f"column(s) {missing} are not in the Dask DataFrame; its columns: {cols[:20]}."
        raise InvalidInputError(msg)
    if any(not isinstance(c, str) for c in sens):
        msg = f"with a Dask DataFrame, sensitive lists column names; got {sensitive!r}."
        raise InvalidInputError(msg)
    features = [c for c in cols if c != target and c not in sens]
    return target, sens, features


def _take(frame: Any, rows: np.ndarray) -> Any:
    return frame.iloc[rows]


def _sample(
    ddf: Any, lengths: list[int], size: int, seed: int | None, client: Any
) -> tuple[Any, np.ndarray]:
    """A seeded sample of ``size`` rows (all rows if fewer), in table order, gathered; and the
    sampled rows' positions in the table."""
    import dask
    import pandas as pd

    n = sum(lengths)
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, size=min(size, n), replace=False))
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    parts = []
    for i, part in enumerate(ddf.to_delayed()):
        lo, hi = np.searchsorted(rows, [offsets[i], offsets[i + 1]])
        if hi > lo:
            parts.append(dask.delayed(_take)(part, rows[lo:hi] - offsets[i]))
    frames = _compute(parts, client)
    return pd.concat(frames, ignore_index=True), rows


def _compute(collections: list[Any], client: Any) -> list[Any]:
    import dask

    if client is None:
        return list(dask.compute(*collections))
    futures = client.compute(collections)
    try:
        return list(client.gather(futures))
    except BaseException:
        client.cancel(futures)
        raise


def _missing_groups(ddf: Any, sens: list[str], client: Any) -> str | None:
    """Why the group sections cannot run when a group label is missing on any row (the
    in-memory fairness section's rule), else None; one pass over the sensitive columns."""
    (missing,) = _compute([ddf[sens].isna().sum()], client)
    bad = {str(c): int(v) for c, v in missing.items() if int(v) > 0}
    if not bad:
        return None
    col, count = next(iter(bad.items()))
    msg = (
        f"sensitive column {col!r} has {count:,} missing value(s) over all rows"
        + (f" (and {', '.join(f'{c!r}: {v:,}' for c, v in list(bad.items())[1:])})"
           if len(bad) > 1 else "")
        + ". Rows with a missing group cannot be silently dropped, since that would change "
        "every group's metric; fill them with an explicit label such as 'unknown' (to keep "
        "them as their own group) or drop those rows from the data."
    )  # fmt: skip
    return msg


def _tree(items: list[Any], fn: Any, *args: Any) -> Any:
    """Pairwise tree reduction of delayed items (depth log2 of the partitions)."""
    import dask

    while len(items) > 1:
        nxt = [dask.delayed(fn)(a, b, *args) for a, b in zip(items[::2], items[1::2], strict=False)]
        items = nxt + ([items[-1]] if len(items) % 2 else [])
    return items[0]


def _task(adapter: Any) -> str:
    from assay.auditing._performance import _is_binary_probability

    if _is_binary_probability(adapter):
        return "binary"
    return "classification" if adapter.is_classifier else "regression"


def _exact(
    ddf: Any, model: Any, spec: dict[str, Any], client: Any, *, seed: int | None,
    alpha: float, max_distinct: int,
) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    """(performance section, merged statistics) from every row."""
    import dask

    from assay.auditing._calibration import EXACT_ROWS, calibration_test
    from assay.auditing._dask_sections import calibration_from_bins, performance_from_stats
    from assay.auditing._dask_stats import (
        auc_from_table,
        merge_stats,
        partition_bins,
        partition_scores,
        partition_stats,
        quantile_from_table,
    )

    shared = client.scatter(model, broadcast=True, hash=False) if client else model
    parts = ddf.to_delayed()
    stats_parts = [dask.delayed(partition_stats)(p, shared, spec) for p in parts]
    (stats,) = _compute([_tree(stats_parts, merge_stats, max_distinct)], client)
    cal, bound = None, 0.0
    if spec["task"] == "binary":
        stats["auc"], bound = auc_from_table(stats["table"], stats["coarse"])
        if stats["n"] <= EXACT_ROWS:  # row-level simulation, as in memory: gather the scores
            scored = _compute([dask.delayed(partition_scores)(p, shared, spec) for p in parts],
                              client)  # fmt: skip
            labels = np.concatenate([s[0] for s in scored])
            p = np.concatenate([s[1] for s in scored])
            cal = calibration_test(labels, p, seed=seed)
        else:
            keys = np.clip(stats["table"][0], 0.0, 1.0)
            table = (keys, *stats["table"][1:])
            edges = np.unique(quantile_from_table(table, np.linspace(0, 1, 11)))
            bins = [dask.delayed(partition_bins)(p, shared, spec, edges) for p in parts]
            (summed,) = _compute([_tree(bins, _add)], client)
            cal = calibration_from_bins(summed, seed=seed)
            if stats["coarse"]:
                cal["method"] += "; bin edges from scores merged on a grid of 2^24 cells"
    section = performance_from_stats(stats, cal=cal, auc_bound=bound, alpha=alpha)
    return section, stats


def _add(a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    return tuple(x + y for x, y in zip(a, b, strict=True))


def _global_attributions(
    model: Any, ddf: Any, features: list[str], client: Any, seed: int | None
) -> dict[str, Any] | None:
    from assay.attribution._distributed import explain_dask
    from assay.auditing._section import figure, section, table
    from assay.model import wrap

    if not wrap(model).has_trees:
        return None
    lazy = explain_dask(model, ddf[features], method="tree", seed=seed, client=client)
    frame = lazy.global_importance()
    last = lazy.output_names[-1]
    top = frame[frame["output"] == last].head(10)
    words = ", ".join(
        f"{r.feature} ({r.mean_abs:.3g}, on average "
        f"{'raising' if r.mean > 0 else 'lowering' if r.mean < 0 else 'not moving'} the output)"
        for r in top.head(3).itertuples()
    )
    return section(
        "Global attributions (all rows)",
        f"Largest mean |attribution| over all {lazy.n_samples:,} rows (output {last}, "
        f"{lazy.output_space} space, TreeSHAP): {words}.",
        metrics={"rows": lazy.n_samples, "method": lazy.method},
        tables=[table("Mean attribution per feature", ["feature", "output", "mean |phi|",
                                                       "mean phi"],
                      frame[["feature", "output", "mean_abs", "mean"]].values.tolist())],
        figures=[figure("bar", f"Mean |attribution| (output {last}).",
                        labels=top["feature"].tolist(), values=top["mean_abs"].tolist())],
        data={"importance": frame.to_dict(orient="records"), "output_space": lazy.output_space,
              "method": lazy.method, "rule": "Descriptive: exact TreeSHAP on every row, "
              "averaged on the cluster; it raises no alert."},
    )  # fmt: skip


def _slices_all_rows(
    data: Any, model: Any, spec: dict[str, Any], client: Any, sec: dict[str, Any],
    lengths: list[int], sampled: np.ndarray, *, alpha: float, binary: bool, m: int,
) -> dict[str, Any]:  # fmt: skip
    import dask

    from assay.auditing._dask_slices import confirm_slices, partition_slice_stats

    preds = [[tuple(p) for p in s["predicates"]] for s in sec["data"]["slices"]]
    shared = client.scatter(model, broadcast=True, hash=False) if client else model
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    parts = []
    for i, part in enumerate(data.to_delayed()):
        lo, hi = np.searchsorted(sampled, [offsets[i], offsets[i + 1]])
        local = sampled[lo:hi] - offsets[i]
        parts.append(dask.delayed(partition_slice_stats)(part, shared, spec, preds, local))
    (totals,) = _compute([_tree(parts, _add)], client)
    return confirm_slices(sec, totals, alpha=alpha, binary=binary, m=m)


def _rows_used(n: int, m: int, scope: str, why: str) -> dict[str, Any]:
    used = m if scope == "sample" else n
    return {
        "n_rows": int(used),
        "n_total": int(n),
        "scope": scope,
        "parts": [{"part": scope, "n_rows": int(used), "why": why}],
        "statement": f"{scope}: {used:,} of {n:,} rows ({why})",
    }


def audit_dask(
    model: Any,
    data: Any,
    target: str,
    *,
    sensitive: str | Sequence[str] | None = None,
    client: Any = None,
    sample_rows: int = SAMPLE_ROWS,
    alpha: float = 0.05,
    seed: int | None = 0,
    max_distinct: int = MAX_DISTINCT,
    progress: Callable[[str], None] | None = None,
    **options: Any,
) -> AuditResult:
    """Audit a model on a Dask DataFrame: exact sections on every row, fits on a sample.

    On the cluster, from per-partition sufficient statistics (the client receives sums,
    counts and one table of distinct scores, never the rows): ``performance`` (metrics,
    exact AUC, calibration test), ``group_metrics`` (per-group values with intervals and
    pairwise differences, with ``sensitive``) and, for tree models, ``global_attributions``
    (exact TreeSHAP on every row). On a seeded sample of ``sample_rows`` rows, in memory,
    with :func:`assay.audit`: the sections that fit models or search (attributions of single
    rows, trust, glass-box, fairness tests and proxy audit, slices, ...). Each section's
    ``data["rows_used"]`` says which (``scope``: "all rows" or "sample") and how many rows;
    ``meta["section_rows_used"]`` lists them, ``meta["sample_rows"]`` the sample's size.

    The numbers of the exact sections equal the in-memory audit's on the same rows (to
    float rounding). The AUC is exact while the table of distinct scores has at most
    ``max_distinct`` entries; beyond, scores are merged on a grid of 2^24 cells and the AUC
    carries its error bound (``data["auc_error_bound"]``).

    Parameters
    ----------
    model : fitted model
    data : dask.dataframe.DataFrame
        Features, target and sensitive columns; every other column is a model input.
    target : str
        The target column.
    sensitive : str or list of str, optional
        Sensitive columns (not model inputs).
    client : dask.distributed.Client, optional
        Default: the current client, else Dask's local scheduler.
    sample_rows : int, default 20000
        Rows of the seeded sample for the sections that fit models.
    alpha, seed, progress :
        As in :func:`assay.audit`; ``**options`` go to it for the sampled sections.

    Returns
    -------
    AuditResult

    Examples
    --------
    >>> import dask.dataframe as dd, assay
    >>> from assay.datasets import load_clinical
    >>> from sklearn.ensemble import HistGradientBoostingClassifier
    >>> data = load_clinical(n_samples=2000, seed=0)
    >>> model = HistGradientBoostingClassifier(max_iter=20).fit(data.X[:1000], data.y[:1000])
    >>> frame = data.X[1000:].assign(outcome=data.y[1000:])
    >>> result = assay.auditing.audit_dask(model, dd.from_pandas(frame, npartitions=4),
    ...                                    "outcome", sample_rows=300, n_explain=5)
    >>> result.sections["performance"]["data"]["rows_used"]["scope"]
    'all rows'
    """
    import_optional("dask.dataframe", purpose="auditing a Dask DataFrame")
    from assay.attribution._distributed import _current_client, _partition_lengths
    from assay.auditing._run import _check_alpha, audit
    from assay.model import wrap

    if not hasattr(data, "npartitions"):
        msg = f"data must be a dask.dataframe.DataFrame; got {type(data).__name__}."
        raise InvalidInputError(msg)
    seed = check_seed(seed)
    alpha = _check_alpha(alpha)
    sample_rows = check_int(sample_rows, name="sample_rows", minimum=2)
    max_distinct = check_int(max_distinct, name="max_distinct", minimum=2)
    say = progress or (lambda _msg: None)
    target, sens, features = _columns(data, target, sensitive)
    client = _current_client(client)
    say("counting rows per partition")
    lengths = _partition_lengths(data, client)
    n = sum(lengths)
    if n < 2:
        msg = f"the Dask DataFrame has {n} row(s); an audit needs at least 2."
        raise InvalidInputError(msg)
    missing = _missing_groups(data, sens, client) if sens else None
    if missing:  # as in memory: the group sections are skipped, saying why; the rest runs
        sens = []
    say(f"drawing a seeded sample of {min(sample_rows, n):,} rows")
    sample, sampled = _sample(data, lengths, sample_rows, seed, client)
    m = len(sample)
    result = audit(
        model, sample[features], sample[target],
        sensitive=sample[sens] if sens else None, alpha=alpha, seed=seed, progress=progress,
        **options,
    )  # fmt: skip
    adapter = wrap(model)
    adapter.predict(adapter.prepare(sample[features].iloc[:2])[0])
    spec = {
        "features": features, "target": target, "sensitive": sens,
        "positive_label": options.get("positive_label"), "task": _task(adapter),
    }  # fmt: skip
    say("measuring performance and group metrics on all rows")
    perf, stats = _exact(data, model, spec, client, seed=seed, alpha=alpha,
                         max_distinct=max_distinct)  # fmt: skip
    sections = dict(result.sections)
    sections["performance"] = perf
    scopes = {}
    if sens:
        from assay.auditing._dask_sections import group_metrics_section
        from assay.auditing._dask_stats import group_order

        attr = "|".join(sens)
        order = group_order(stats["group_keys"])
        sections["group_metrics"] = group_metrics_section(
            spec["task"], stats["groups"], attr, alpha=alpha, seed=seed, order=order
        )
    if sections.get("slices", {}).get("data", {}).get("slices"):
        say("counting the sample's failure slices on all rows")
        sections["slices"] = _slices_all_rows(
            data, model, spec, client, sections["slices"], lengths, sampled, alpha=alpha,
            binary=adapter.is_classifier, m=m,
        )  # fmt: skip
    skipped = dict(result.meta.get("skipped", {}))
    if missing:
        skipped["fairness"] = skipped["group_metrics"] = f"could not run: {missing}"
    say("global attributions on all rows")
    try:
        glob = _global_attributions(model, data, features, client, seed)
    except InvalidInputError as exc:
        glob, skipped["global_attributions"] = None, f"could not run: {exc}"
    if glob is not None:
        sections["global_attributions"] = glob
    elif "global_attributions" not in skipped:
        skipped["global_attributions"] = (
            "exact attributions on every row need a tree model (TreeSHAP); the attributions "
            "section explains rows of the sample"
        )
    exact = {"performance", "group_metrics", "global_attributions"}
    for key, sec in sections.items():
        if key in exact:
            scope, why = "all rows", "sufficient statistics summed over every partition"
        elif key == "slices" and "all_rows" in sec["data"]:
            scope = "sample search, all-rows confirmation"
            why = (f"searched on a seeded sample (seed {seed}) of {m:,} rows; the slices found "
                   f"counted on all {n:,} rows and tested on the {n - m:,} rows outside the "
                   "sample")  # fmt: skip
        else:
            scope = "sample"
            why = f"a seeded sample (seed {seed}) of {m:,} rows; this section fits or searches"
        used = _rows_used(n, m, scope, why)
        inner = sec["data"].get("rows_used")
        if inner is not None and scope == "sample":
            used["within_sample"] = inner
        sec["data"]["rows_used"] = used
        scopes[key] = used["n_rows"]
    meta = dict(result.meta)
    meta.update({
        "n_rows": int(n),
        "sample_rows": int(m),
        "section_rows_used": scopes,
        "skipped": skipped,
        "dask": {"partitions": len(lengths),
                 "workers": len(client.scheduler_info()["workers"]) if client else None,
                 "all_rows_sections": sorted(k for k in sections if k in exact),
                 "sample_sections": sorted(k for k in sections if k not in exact)},
    })  # fmt: skip
    return AuditResult(sections=sections, meta=meta)
