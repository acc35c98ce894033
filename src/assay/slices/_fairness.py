"""Fairness mode of ``find_slices``: slices with a large rate gap between two groups."""

from __future__ import annotations

from typing import Any

import numpy as np

from assay._validation import as_vector
from assay.errors import InvalidInputError
from assay.slices import _stats
from assay.slices._binning import bin_features
from assay.slices._confirm import strongest_unconfirmed
from assay.slices._pipeline import (
    binary_01,
    describe,
    min_support_rows,
    remove_redundant,
    split_rows,
)
from assay.slices._result import Slice, SliceReport
from assay.slices._search import lattice_search

__all__ = ["fairness_slices"]


def _counts(mask: np.ndarray, W: np.ndarray) -> tuple[int, int, int, int]:
    s = W[mask].sum(axis=0)
    return int(s[1]), int(s[0]), int(s[3]), int(s[2])  # a, n1, b, n2


def _gap(c: tuple[int, int, int, int]) -> float:
    a, n1, b, n2 = c
    if n1 == 0 or n2 == 0:
        return float("nan")
    return a / n1 - b / n2


def fairness_slices(
    X: Any,
    y_true: Any,
    y_pred: Any,
    sensitive: Any,
    *,
    fairness_metric: str,
    n: int,
    params: dict[str, Any],
    max_level: int,
    min_support: Any,
    alpha: float,
    k: int,
    n_bins: int,
    max_categories: int,
    ranges: bool,
    fraction: float,
    redundancy: bool,
    seed: int | None,
) -> SliceReport:
    """See :func:`assay.slices.find_slices` (``fairness=``)."""
    if fairness_metric not in ("fpr", "fnr", "selection_rate", "error"):
        msg = (
            "fairness_metric must be one of 'fpr', 'fnr', 'selection_rate', 'error'; got "
            f"{fairness_metric!r}."
        )
        raise InvalidInputError(msg)
    if y_true is None or y_pred is None:
        msg = "fairness mode needs y_true and y_pred (0/1 labels, one per row)."
        raise InvalidInputError(msg)
    yt = binary_01(y_true, name="y_true", n=n)
    yp = binary_01(y_pred, name="y_pred", n=n)
    g = as_vector(sensitive, name="fairness", n_rows=n, numeric=False).astype(str)
    groups = np.unique(g)
    if groups.size != 2:
        msg = (
            f"fairness needs exactly two groups; got {groups.size}: {groups[:10].tolist()}. "
            "Compare one group against the rest, e.g. fairness=(race == 'B')."
        )
        raise InvalidInputError(msg)
    if fairness_metric == "fpr":
        pop, flag = yt == 0, yp == 1
    elif fairness_metric == "fnr":
        pop, flag = yt == 1, yp == 0
    elif fairness_metric == "selection_rate":
        pop, flag = np.ones(n, bool), yp == 1
    else:
        pop, flag = np.ones(n, bool), yp != yt
    in_a, in_b = pop & (g == groups[0]), pop & (g == groups[1])
    W = np.column_stack([in_a, in_a & flag, in_b, in_b & flag]).astype(np.float64)
    strata = np.asarray([f"{x}|{p}|{f}" for x, p, f in zip(g, pop, flag, strict=True)])
    disc, conf = split_rows(n, strata, fraction, seed)
    ms = min_support_rows(min_support, disc.size)
    min_group = max(10, ms // 10)
    binned = bin_features(X, n_bins=n_bins, max_categories=max_categories, ranges=ranges,
                          min_count=ms)  # fmt: skip
    found = lattice_search(binned, W, rows=disc, max_level=max_level, min_support=ms, k=k,
                           mode="fairness", params=np.array([float(min_group)]))  # fmt: skip
    metric_name = f"{fairness_metric}_gap"
    params.update(min_support_rows=ms, n_items=len(binned.labels), edges=binned.edges,
                  n_evaluated=found["n_evaluated"], groups=groups.tolist(),
                  min_group_rows=min_group)  # fmt: skip
    Wc = np.zeros_like(W)
    Wc[conf] = W[conf]
    Wd = np.zeros_like(W)
    Wd[disc] = W[disc]
    all_rows = np.ones(n, dtype=bool)
    overall = _gap(_counts(all_rows, Wc))
    # the whole population is a candidate too: a gap everywhere is reported as such
    cand_items = [(), *found["items"]]
    cand_scores = [np.nan, *found["score"]]
    masks, pvals, dirs = [], [], []
    for items in cand_items:
        mask = binned.mask(items)
        direction = 1 if _gap(_counts(mask, Wd)) >= 0 else -1
        masks.append(mask)
        dirs.append(direction)
        pvals.append(_stats.gap_test(*_counts(mask, Wc), direction=direction))
    padj = _stats.benjamini_hochberg(np.array(pvals))
    confirmed = [j for j in range(len(pvals)) if padj[j] <= alpha]
    level = _stats.fcr_level(alpha, len(confirmed), len(pvals))
    tested = [
        {
            "description": describe(binned, items),
            "discovery_score": float(cand_scores[j]),
            "p_value": float(pvals[j]),
            "p_adjusted": float(padj[j]),
            "confirmed": bool(padj[j] <= alpha),
        }
        for j, items in enumerate(cand_items)
    ]
    slices = []
    for j in confirmed:
        mask = masks[j]
        c_in = _counts(mask, Wc)
        c_out = _counts(~mask, Wc)
        gap_in = _gap(c_in)
        ci = _stats.newcombe_interval(*c_in, level)
        rates = {
            str(groups[0]): c_in[0] / c_in[1] if c_in[1] else None,
            str(groups[1]): c_in[2] / c_in[3] if c_in[3] else None,
        }
        slices.append(
            Slice(
                predicates=[binned.predicates[i] for i in cand_items[j]],
                description=describe(binned, cand_items[j]),
                rows=mask,
                support=int(mask.sum()),
                support_share=float(mask.mean()),
                n_confirmation=int(mask[conf].sum()),
                metric_inside=gap_in,
                metric_outside=_gap(c_out),
                metric_overall=overall,
                inside_ci=ci,
                effect=gap_in,
                effect_ci=ci,
                lift=gap_in / overall if overall else float("nan"),
                p_value=float(pvals[j]),
                p_adjusted=float(padj[j]),
                discovery_score=float(cand_scores[j]),
                ci_level=level,
                details={
                    "metric": fairness_metric,
                    "groups": groups.tolist(),
                    "rates": rates,
                    "counts": {
                        "flagged_a": c_in[0],
                        "n_a": c_in[1],
                        "flagged_b": c_in[2],
                        "n_b": c_in[3],
                    },
                    "direction": dirs[j],
                },
            )
        )

    def worse_p(inside: np.ndarray, reference: np.ndarray, c: Slice) -> float:
        return _stats.gap_difference_test(
            _counts(inside, Wc), _counts(reference, Wc), direction=c.details["direction"]
        )

    kept, redundant = remove_redundant(slices, worse_p, alpha=alpha, drop=redundancy)
    return SliceReport(
        slices=kept,
        redundant=redundant,
        candidates=strongest_unconfirmed(tested, kept),
        metric=metric_name,
        metric_overall=overall,
        n_rows=n,
        n_discovery=int(disc.size),
        n_confirmation=int(conf.size),
        alpha=alpha,
        ci_level=level,
        mode="fairness",
        params=params,
        tested=tested,
    )
