"""Held-out confirmation of discovered slices: weighted Benjamini–Hochberg per direction,
intervals, and the merge of the two cross-fitting directions.

Error control. A *direction* is a pair (discovery rows, confirmation rows). Its candidates are
chosen on the discovery rows only, so each confirmation p-value is valid given them. Within a
direction, Benjamini–Hochberg runs at ``alpha / n_directions`` with weights fixed by the
discovery ranks (weighted BH, Genovese, Roeder & Wasserman 2006: reject ``p_i <= w_i k a / m``
with mean weight 1). The reported slices are the union over directions; with ``V_d`` false of
``R_d`` confirmed in direction ``d``, ``V / R <= sum_d V_d / R_d``, so the false discovery rate
of the union is at most the sum of the per-direction rates, ``alpha``; on null data (every
rejection false) the chance of reporting any slice is the FDR, so it is at most ``alpha`` too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from assay.slices import _refine, _stats
from assay.slices._binning import Binned
from assay.slices._result import Slice

__all__ = ["confirm", "merge_overlaps", "rank_weights", "strongest_unconfirmed", "top_share"]


def top_share(k: int) -> float:
    """Share of the error budget of the top-ranked candidate (see :func:`rank_weights`)."""
    geo = 0.5 ** np.arange(1, k + 1)
    return float(0.5 * geo[0] / geo.sum() + 0.5 / k)


def rank_weights(ranks: np.ndarray, full: np.ndarray, k: int, scheme: str) -> np.ndarray:
    """Weights (mean 1) of the tests, from the discovery rank of the candidate each belongs to.

    ``scheme="rank"``: candidate ``r`` (0 = best discovery score) gets a share
    ``0.5 * 2^-(r+1) / (1 - 2^-k) + 0.5 / k`` of the budget -- half spent geometrically on the
    best-ranked candidates (where the power is), half uniformly (so that a later one can still
    be confirmed); a candidate's share goes half to its full conjunction and half, in equal
    parts, to its sub-conjunctions. ``"uniform"``: all weights 1 (plain BH).
    ``full`` marks the tests of full conjunctions.
    """
    m = ranks.size
    if m == 0 or scheme == "uniform":
        return np.ones(m)
    geo = 0.5 ** (np.arange(k) + 1)
    share = 0.5 * geo / geo.sum() + 0.5 / k
    w = np.empty(m)
    for r in np.unique(ranks):
        idx = np.flatnonzero(ranks == r)
        n_full = int(full[idx].sum())
        n_sub = idx.size - n_full
        if n_full == 0 or n_sub == 0:
            w[idx] = share[r] / idx.size
        else:
            w[idx] = np.where(full[idx], 0.5 * share[r] / n_full, 0.5 * share[r] / n_sub)
    return w * m / w.sum()


def weighted_bh(p: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted Benjamini–Hochberg adjusted p-values: plain BH (scipy) of ``p / w``."""
    if p.size == 0:
        return p.copy()
    return _stats.benjamini_hochberg(np.minimum(p / w, 1.0))


def confirm(
    binned: Binned,
    found: list[dict[str, Any]],
    e: np.ndarray,
    disc: np.ndarray,
    conf: np.ndarray,
    *,
    alpha: float,
    n_directions: int,
    k: int,
    weighting: str,
    binary: bool,
    fold: int,
) -> tuple[list[dict[str, Any]], list[Slice]]:
    """Test one direction's candidates on its confirmation rows.

    Returns every test (dicts) and the confirmed slices. ``p_adjusted`` is the weighted BH
    adjustment times ``n_directions`` (capped at 1), so ``p_adjusted <= alpha`` marks a
    confirmed slice whatever the number of directions.
    """
    ec = e[conf]
    overall = float(ec.mean()) if ec.size else float("nan")
    a_dir = alpha / n_directions
    # one candidate's mask at a time (a mask per candidate would hold candidates x rows)
    pvals, texts, counts = [], [], []
    for cand in found:
        mask = _refine.terms_mask(binned, cand["terms"])
        inside = mask[conf]
        texts.append(_refine.describe(binned, cand["terms"]))
        pvals.append(_stats.test_greater(ec[inside], ec[~inside], binary=binary))
        x_in, x_out = ec[inside], ec[~inside]
        counts.append({
            "discovery_support": int(mask[disc].sum()),
            "support": int(mask.sum()),
            "n_confirmation": int(inside.sum()),
            "metric_inside": float(x_in.mean()) if x_in.size else None,
            "metric_outside": float(x_out.mean()) if x_out.size else None,
        })  # fmt: skip
    p = np.array(pvals, dtype=np.float64)
    ranks = np.array([c.get("rank", 0) for c in found], dtype=np.int64)
    full = np.array([c.get("full", True) for c in found], dtype=bool)
    w = rank_weights(ranks, full, max(k, int(ranks.max()) + 1 if ranks.size else 1), weighting)
    padj = weighted_bh(p, w)
    confirmed = [j for j in range(p.size) if padj[j] <= a_dir]
    tests = []
    for j, cand in enumerate(found):
        c = counts[j]
        tests.append(
            {
                "description": texts[j][1],
                "fold": fold,
                "discovery_rank": int(ranks[j]),
                "discovery_score": float(cand["score"]),
                "discovery_support": c["discovery_support"],
                "support": c["support"],
                "n_confirmation": c["n_confirmation"],
                "metric_inside": c["metric_inside"],
                "metric_outside": c["metric_outside"],
                "weight": float(w[j]),
                "p_value": float(p[j]),
                "p_adjusted": float(min(1.0, padj[j] * n_directions)),
                "confirmed": bool(padj[j] <= a_dir),
            }
        )
    slices = []
    for j in confirmed:
        # FCR-adjusted level (Benjamini & Yekutieli 2005), weight capped at 1 (conservative)
        level = 1.0 - min(1.0, w[j]) * len(confirmed) * a_dir / p.size
        mask = _refine.terms_mask(binned, found[j]["terms"])
        inside = mask[conf]
        x_in, x_out = ec[inside], ec[~inside]
        if binary:
            ci_eff = _stats.newcombe_interval(
                int(x_in.sum()), x_in.size, int(x_out.sum()), x_out.size, level
            )
        else:
            ci_eff = _stats.welch_interval(x_in, x_out, level)
        m_in = float(x_in.mean())
        slices.append(
            Slice(
                predicates=texts[j][0],
                description=texts[j][1],
                rows=mask,
                support=int(mask.sum()),
                support_share=float(mask.mean()),
                n_confirmation=int(inside.sum()),
                metric_inside=m_in,
                metric_outside=float(x_out.mean()) if x_out.size else float("nan"),
                metric_overall=overall,
                inside_ci=_stats.mean_interval(x_in, level, binary=binary),
                effect=m_in - float(x_out.mean()),
                effect_ci=ci_eff,
                lift=m_in / overall if overall > 0 else float("nan"),
                p_value=float(p[j]),
                p_adjusted=tests[j]["p_adjusted"],
                discovery_score=float(found[j]["score"]),
                ci_level=float(level),
                details={"fold": fold},
            )
        )
    return tests, slices


def merge_overlaps(
    slices: list[Slice],
    worse_p: Callable[[np.ndarray, np.ndarray, Slice], float],
    *,
    alpha: float,
    max_overlap: float,
    order: Callable[[Slice], Any],
) -> tuple[list[Slice], list[Slice]]:
    """Merge reported slices found in different halves that describe one region.

    For two slices from different halves whose rows overlap by more than ``max_overlap`` of
    the smaller one (overlap coefficient): if they are nearly the same rows (Jaccard >= 0.5),
    the one later by ``order`` goes to the redundant list with ``details["duplicate_of"]`` (a
    slice found and confirmed in both halves is kept once, marked ``details["both_halves"]``);
    otherwise the larger one goes (``details["explained_by"]``) when its rows outside the
    smaller one do no worse than the rows outside it (one-sided test at ``alpha`` on its
    confirmation rows) -- it is only bad because it holds the smaller one.
    """
    kept: list[Slice] = []
    dropped: list[Slice] = []
    for s in sorted(slices, key=order):
        drop_s = False
        for i, t in enumerate(kept):
            if t is None or t.details.get("fold") == s.details.get("fold"):
                continue
            inter = int((s.rows & t.rows).sum())
            if inter <= max_overlap * min(s.support, t.support):
                continue
            if inter >= 0.5 * int((s.rows | t.rows).sum()):
                if np.array_equal(s.rows, t.rows):
                    kept[i] = dataclasses.replace(t, details={**t.details, "both_halves": True})
                dup = {**s.details, "duplicate_of": t.description}
                dropped.append(dataclasses.replace(s, details=dup))
                drop_s = True
                break
            big, small = (s, t) if s.support > t.support else (t, s)
            if worse_p(big.rows & ~small.rows, ~big.rows, big) > alpha:
                info = {**big.details, "explained_by": small.description}
                dropped.append(dataclasses.replace(big, details=info))
                if big is s:
                    drop_s = True
                    break
                kept[i] = None  # type: ignore[call-overload]
        kept = [t for t in kept if t is not None]
        if not drop_s:
            kept.append(s)
    kept.sort(key=order)
    return kept, dropped


def strongest_unconfirmed(
    tests: list[dict[str, Any]], reported: list[Slice], *, limit: int = 5, p_max: float = 0.05
) -> list[dict[str, Any]]:
    """The strongest tested slices that were not confirmed (unadjusted ``p_value <= p_max``),
    smallest p first, one per description, none with the description of a confirmed test;
    each labelled ``status = "not confirmed"``."""
    confirmed_text = {t["description"] for t in tests if t["confirmed"]}
    out, seen = [], set()
    for t in sorted(tests, key=lambda t: (t["p_value"], -t["discovery_score"])):
        if len(out) == limit or t["p_value"] > p_max:
            break
        d = t["description"]
        if t["confirmed"] or d in confirmed_text or d in seen:
            continue
        seen.add(d)
        out.append({**t, "status": "not confirmed"})
    return out
