"""The sections of :func:`assay.compare`: two models on the same rows, with paired statistics.

Every section has the audit's shape (``_section.py``) and states its decision rule in
``data["rule"]``. Differences are always ``new - baseline``; the words say which model is
better.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from assay._results import to_jsonable
from assay.auditing._section import figure, section, table

__all__ = [
    "Side",
    "flips_section",
    "p_above",
    "paired_mean",
    "performance_section",
    "regressions_section",
]


@dataclass
class Side:
    """One model's outputs on the shared rows."""

    adapter: Any
    X: np.ndarray  # rows as this model takes them
    names: list[str]
    out: np.ndarray  # adapter.predict(X)
    loss: np.ndarray  # per-row loss (Brier score, or absolute error)
    decision: np.ndarray | None  # predicted class index; None for a regressor


def paired_mean(diff: np.ndarray, alpha: float) -> dict[str, float]:
    """Mean of per-row differences with its t interval and two-sided p-value (a paired t-test).

    Examples
    --------
    >>> r = paired_mean(np.array([0.1, 0.3, 0.2, 0.4]), 0.05)
    >>> round(r["estimate"], 2), bool(r["ci_low"] > 0), bool(r["p_value"] < 0.05)
    (0.25, True, True)
    """
    diff = np.asarray(diff, dtype=np.float64)
    est = float(diff.mean()) if diff.size else float("nan")
    if diff.size < 2 or np.all(diff == diff[0]):  # no spread: the difference is what it is
        p = 1.0 if est == 0 or not np.isfinite(est) else 0.0
        return {"estimate": est, "ci_low": est, "ci_high": est, "p_value": p, "n": diff.size}
    res = stats.ttest_1samp(diff, 0.0)
    ci = res.confidence_interval(1 - alpha)
    return {
        "estimate": est,
        "ci_low": min(float(ci.low), est),
        "ci_high": max(float(ci.high), est),
        "p_value": float(res.pvalue),
        "n": int(diff.size),
    }


def p_above(diff: np.ndarray, margin: float) -> float:
    """One-sided p-value that the mean of ``diff`` exceeds ``margin`` (paired t-test).

    Examples
    --------
    >>> d = np.array([0.30, 0.35, 0.25, 0.32, 0.28])
    >>> bool(p_above(d, 0.1) < 0.01), bool(p_above(d, 0.4) > 0.5)
    (True, True)
    """
    res = paired_mean(np.asarray(diff, dtype=np.float64) - margin, 0.05)
    return res["p_value"] / 2 if res["estimate"] > 0 else 1 - res["p_value"] / 2


def _signed(v: float) -> str:
    return f"{v:+.3g}"


def _better_words(metric: str, est: float, p_adj: float, alpha: float, higher: bool) -> str:
    if p_adj > alpha:
        return f"no significant change in {metric}"
    better = (est > 0) == higher
    return f"the new model is {'better' if better else 'worse'} on {metric}"


# -- overall metrics ------------------------------------------------------------------------


def performance_section(
    new: Side,
    base: Side,
    y_idx: np.ndarray | None,
    y: np.ndarray,
    *,
    kind: str,
    alpha: float,
    seed: int | None,
    tolerance: float = 0.1,
) -> dict[str, Any]:
    """Overall metric differences with paired intervals, Holm-adjusted over the metrics; the
    loss's rise is also tested against the margin ``tolerance`` x the baseline's mean loss."""
    from assay.auditing._paired import paired_gap
    from assay.fairness._compare import adjust_pvalues

    rows: list[dict[str, Any]] = []  # metric, higher_is_better, new, base, paired result
    if kind == "binary":
        labels = (y_idx == new.out.shape[1] - 1).astype(float)
        gap = paired_gap(
            labels, new.out[:, -1], base.out[:, -1], metric="AUC", alpha=alpha, seed=seed
        )
        auc = [_auc(labels, s.out[:, -1]) for s in (new, base)]
        rows.append({"metric": "AUC", "higher": True, "new": auc[0], "base": auc[1], **gap})
    if kind in ("binary", "multiclass"):
        right_new = (new.decision == y_idx).astype(float)
        right_base = (base.decision == y_idx).astype(float)
        res = paired_mean(right_new - right_base, alpha)
        rows.append(
            {
                "metric": "accuracy",
                "higher": True,
                "new": right_new.mean(),
                "base": right_base.mean(),
                "method": "paired t",
                **res,
            }
        )
        res = paired_mean(new.loss - base.loss, alpha)
        rows.append(
            {
                "metric": "Brier score",
                "higher": False,
                "new": new.loss.mean(),
                "base": base.loss.mean(),
                "method": "paired t",
                **res,
            }
        )
    else:
        yf = y.astype(np.float64)
        gap = paired_gap(yf, new.out[:, 0], base.out[:, 0], metric="R²", alpha=alpha, seed=seed)
        r2 = [1 - np.mean((yf - s.out[:, 0]) ** 2) / np.var(yf) for s in (new, base)]
        rows.append({"metric": "R²", "higher": True, "new": r2[0], "base": r2[1], **gap})
        res = paired_mean(new.loss - base.loss, alpha)
        rows.append(
            {
                "metric": "mean absolute error",
                "higher": False,
                "new": new.loss.mean(),
                "base": base.loss.mean(),
                "method": "paired t",
                **res,
            }
        )
    p_adj = adjust_pvalues(np.array([r["p_value"] for r in rows]), "holm")
    worse, parts = [], []
    for r, pa in zip(rows, p_adj, strict=True):
        r["p_adjusted"] = float(pa)
        words = _better_words(r["metric"], r["estimate"], pa, alpha, r["higher"])
        r["change"] = words.replace("the new model is ", "").replace(" on " + r["metric"], "")
        if "worse" in words:
            worse.append(r["metric"])
        parts.append(
            f"{r['metric']} {r['new']:.3g} vs {r['base']:.3g} (difference "
            f"{_signed(r['estimate'])}, {100 * (1 - alpha):g}% CI {_signed(r['ci_low'])} to "
            f"{_signed(r['ci_high'])}: {r['change']})"
        )
    loss_name = rows[-1]["metric"]
    margin = tolerance * float(base.loss.mean())
    p_margin = p_above(new.loss - base.loss, margin)
    beyond = p_margin <= alpha
    status = "alert" if beyond else "warning" if worse else "ok"
    verdict = "New against baseline on the same rows: " + "; ".join(parts) + "."
    if beyond:
        verdict += (
            f" The {loss_name} rises by more than the margin {margin:.3g} (one-sided p = "
            f"{p_margin:.2g})."
        )
    elif worse:
        verdict += (
            f" The worsening is significant but not shown to exceed the margin {margin:.3g} of "
            f"the {loss_name}."
        )
    rule = (
        "Decision rule: each metric's difference new - baseline on the same rows is tested with "
        "a paired test (DeLong for AUC, a paired bootstrap for R², a paired t-test of the "
        "per-row differences otherwise); p-values are Holm-adjusted over the metrics. 'alert' "
        f"when the mean {loss_name} rises by more than the margin ({tolerance:g} times the "
        f"baseline's, {margin:.3g}; one-sided paired t-test at {alpha:g}); 'warning' when the "
        f"new model is significantly worse on a metric at {alpha:g} but not beyond the margin; "
        "else 'ok'."
    )
    return section(
        "Overall metrics",
        verdict,
        status=status,
        metrics={f"{r['metric']} difference (new - baseline)": r["estimate"] for r in rows},
        tables=[
            table(
                "Paired differences (new - baseline)",
                [
                    "metric",
                    "new",
                    "baseline",
                    "difference",
                    "CI low",
                    "CI high",
                    "adjusted p",
                    "change",
                ],
                [
                    [
                        r["metric"],
                        r["new"],
                        r["base"],
                        r["estimate"],
                        r["ci_low"],
                        r["ci_high"],
                        r["p_adjusted"],
                        r["change"],
                    ]
                    for r in rows
                ],
            )
        ],
        data={
            "rule": rule,
            "metrics": [to_jsonable(r) for r in rows],
            "worse_on": worse,
            "margin": margin,
            "p_beyond_margin": p_margin,
        },
    )


def _auc(labels: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, score)) if 0 < labels.mean() < 1 else float("nan")


# -- regressions by subgroup ----------------------------------------------------------------


def regression_slices(
    frame: Any,
    diff: np.ndarray,
    *,
    alpha: float,
    seed: int | None,
    margin: float = 0.0,
    k: int = 20,
    max_level: int = 2,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Any]:
    """Subgroups where the new model's per-row loss exceeds the baseline's, confirmed held out.

    ``diff`` is loss(new) - loss(baseline) per row. :func:`assay.slices.find_slices` searches
    the rows in two halves for subgroups whose ``diff`` is higher than elsewhere (each half
    discovers, the other confirms; weighted Benjamini-Hochberg, false discovery rate
    ``alpha``); a confirmed slice is a *regression* when, on its confirmation rows, the mean
    ``diff`` is also above ``margin`` (one-sided t-test at ``alpha``): the new model is worse
    there by more than the margin, not merely less improved. Two versions of a model are never
    identical, and on many rows a tiny but real difference is significant; the margin is the
    smallest worsening worth a regression. Returns (regressions, smaller gains or negligible
    losses, the slice report).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([rng.integers(0, 4, 2000), rng.normal(size=2000)])
    >>> diff = rng.normal(-0.05, 0.1, 2000) + 0.2 * (X[:, 0] == 3)
    >>> found, _, _ = regression_slices(X, diff, alpha=0.05, seed=0, margin=0.01)
    >>> found[0]["description"]
    'x0 = 3'
    """
    from assay.slices import find_slices
    from assay.slices._pipeline import split_rows

    diff = np.asarray(diff, dtype=np.float64)
    shifted = diff - diff.min()  # the slice finder takes non-negative losses; its tests and
    # effects (differences, Welch's t) do not change under a shift
    rep = find_slices(frame, errors=shifted, seed=seed, alpha=alpha, k=k, max_level=max_level)
    binary = bool(np.isin(shifted, (0.0, 1.0)).all())  # the strata find_slices split by
    half_a, half_b = split_rows(diff.size, shifted if binary else np.zeros(diff.size), 0.5, seed)
    conf_of = {0: half_b, 1: half_a}
    regressions, smaller = [], []
    for s in rep.slices:
        conf = conf_of[int(s.details.get("fold", 0))]
        inside = conf[s.rows[conf]]
        if inside.size != s.n_confirmation:  # the split above must be the slice finder's own
            msg = (
                f"internal error: {inside.size} confirmation rows recomputed for "
                f"{s.description!r}, the slice finder used {s.n_confirmation}; please report."
            )
            raise RuntimeError(msg)
        d_in = diff[inside]
        res = paired_mean(d_in, 2 * alpha)  # its lower end is the one-sided bound at alpha
        p_one = p_above(d_in, margin)
        outside = conf[~s.rows[conf]]
        entry = {
            "description": s.description,
            "predicates": [[f, op, v] for f, op, v in s.predicates],
            "support": int(s.support),
            "share": float(s.support_share),
            "n_confirmation": int(inside.size),
            "loss_difference": res["estimate"],
            "ci_low_one_sided": res["ci_low"],
            "p_worse": float(p_one),
            "margin": float(margin),
            "loss_difference_outside": float(diff[outside].mean()) if outside.size else None,
            "p_adjusted_slice": float(s.p_adjusted),
            "rows": np.flatnonzero(s.rows),
        }
        (regressions if p_one <= alpha else smaller).append(entry)
    regressions.sort(key=lambda r: -r["ci_low_one_sided"])
    return regressions, smaller, rep


_REGRESSION_KEYS = (
    "description",
    "support",
    "share",
    "loss_new",
    "loss_baseline",
    "loss_difference",
    "ci_low_one_sided",
    "p_worse",
)


def _regression_table(title: str, cols: list[str], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One report table of regression-slice entries, one row per entry, in ``cols`` order."""
    return table(title, cols, [[r[k] for k in _REGRESSION_KEYS] for r in rows])


def regressions_section(
    frame: Any,
    new: Side,
    base: Side,
    y_idx: np.ndarray | None,
    *,
    loss_name: str,
    alpha: float,
    seed: int | None,
    tolerance: float = 0.1,
) -> dict[str, Any]:
    """Regressions by subgroup (:func:`regression_slices`) with size, effect and both models'
    loss inside; the margin is ``tolerance`` times the baseline's mean loss over all rows."""
    diff = new.loss - base.loss
    margin = tolerance * float(base.loss.mean())
    found, smaller, rep = regression_slices(frame, diff, alpha=alpha, seed=seed, margin=margin)
    for r in found + smaller:
        rows = r.pop("rows")
        r["loss_new"], r["loss_baseline"] = (
            float(new.loss[rows].mean()),
            float(base.loss[rows].mean()),
        )
        if y_idx is not None:
            r["accuracy_new"] = float(np.mean(new.decision[rows] == y_idx[rows]))
            r["accuracy_baseline"] = float(np.mean(base.decision[rows] == y_idx[rows]))
    overall = paired_mean(diff, alpha)["estimate"]
    if found:
        verdict = (
            f"{len(found)} subgroup(s) where the new model is worse than the baseline, confirmed "
            "on held-out rows: "
            + "; ".join(
                f"{r['description']} ({r['support']} rows, {100 * r['share']:.1f}%: {loss_name} "
                f"{r['loss_new']:.3g} vs {r['loss_baseline']:.3g}, worse by "
                f"{r['loss_difference']:.3g} on held-out rows, at least "
                f"{r['ci_low_one_sided']:.3g})"
                for r in found[:3]
            )
            + f". Over all rows the {loss_name} changes by {_signed(overall)}."
        )
        status = "alert"
    else:
        verdict = (
            f"No subgroup where the new model is confirmed worse than the baseline by more than "
            f"the margin {margin:.3g} (false discovery rate {alpha:g}); over all rows the "
            f"{loss_name} changes by {_signed(overall)}."
        )
        status = "ok"
    if smaller:
        verdict += (
            f" {len(smaller)} subgroup(s) fare worse than the other rows but are not confirmed "
            f"worse than the baseline by more than the margin: "
            + "; ".join(
                f"{s['description']} ({_signed(s['loss_difference'])})" for s in smaller[:3]
            )
            + "."
        )
    cols = [
        "subgroup",
        "rows",
        "share",
        f"{loss_name} new",
        f"{loss_name} baseline",
        "worse by (held-out)",
        "at least",
        "p (worse)",
    ]
    tables = [
        _regression_table(title, cols, rows)
        for title, rows in (
            ("Confirmed regressions", found),
            ("Worse than the other rows, not confirmed as regressions", smaller),
        )
        if rows
    ]
    figures = []
    if found:
        figures.append(
            figure(
                "errorbar",
                f"Change of the {loss_name} (new - baseline) inside each regression, held-out "
                f"rows, with its one-sided {100 * (1 - alpha):g}% lower bound; dashed: all rows.",
                labels=[r["description"] for r in found],
                values=[r["loss_difference"] for r in found],
                lo=[r["ci_low_one_sided"] for r in found],
                hi=[r["loss_difference"] for r in found],
                reference=overall,
                xlabel=f"{loss_name} difference",
            )
        )
    rule = (
        f"Decision rule: the per-row {loss_name} difference (new - baseline) is searched for "
        "subgroups of up to two conditions where it is higher than elsewhere; the rows are split "
        "in two halves, each half searches and the other confirms (weighted Benjamini-Hochberg, "
        f"false discovery rate {alpha:g}); a confirmed subgroup is a regression when its mean "
        f"difference on the confirming rows is above the margin {margin:.3g} ({tolerance:g} times "
        f"the baseline's mean {loss_name}; one-sided t-test at {alpha:g}). 'alert' when a "
        "regression is confirmed; else 'ok'."
    )
    return section(
        "Regressions by subgroup",
        verdict,
        status=status,
        metrics={
            f"overall {loss_name} difference (new - baseline)": overall,
            "confirmed regressions": len(found),
            "margin": margin,
            "worse than the other rows, not regressions": len(smaller),
        },
        tables=tables,
        figures=figures,
        data={
            "rule": rule,
            "regressions": to_jsonable(found),
            "not_regressions": to_jsonable(smaller),
            "detectable": to_jsonable(rep.detectable),
        },
    )


# -- decision flips -------------------------------------------------------------------------


def flips_section(
    frame: Any, new: Side, base: Side, y_idx: np.ndarray, *, alpha: float, seed: int | None
) -> dict[str, Any]:
    """Share of rows whose decision changes, fixed against broken, and where flips concentrate."""
    from assay.fairness._compare import wilson_interval
    from assay.slices import find_slices

    n = y_idx.size
    flipped = new.decision != base.decision
    n_flip = int(flipped.sum())
    lo, hi = wilson_interval(n_flip, n, alpha)
    fixed = int(np.sum(flipped & (new.decision == y_idx)))
    broke = int(np.sum(flipped & (base.decision == y_idx)))
    # McNemar's exact test: among rows one model gets right and the other wrong, is either
    # side more frequent than a coin would make it?
    p_mcnemar = float(stats.binomtest(broke, fixed + broke, 0.5).pvalue) if fixed + broke else 1.0
    concentrated = []
    if 0 < n_flip < n:
        rep = find_slices(
            frame, errors=flipped.astype(float), seed=seed, alpha=alpha, k=20, max_level=2
        )
        concentrated = [
            {
                "description": s.description,
                "support": int(s.support),
                "share": float(s.support_share),
                "flip_rate": float(s.metric_inside),
                "flip_rate_outside": float(s.metric_outside),
                "lift": float(s.lift),
                "p_adjusted": float(s.p_adjusted),
            }
            for s in sorted(rep.slices, key=lambda s: -s.lift)
        ]
    strong = [c for c in concentrated if c["lift"] >= 2]
    level = f"{100 * (1 - alpha):g}%"
    verdict = (
        f"{n_flip} of {n} decisions change ({100 * n_flip / n:.1f}%, {level} CI "
        f"{100 * lo:.1f}-{100 * hi:.1f}%): {fixed} now right that were wrong, {broke} now wrong "
        f"that were right"
    )
    if fixed + broke:
        if p_mcnemar <= alpha:
            side = "more are broken than fixed" if broke > fixed else "more are fixed than broken"
            verdict += f" ({side}, McNemar p = {p_mcnemar:.2g})"
        else:
            verdict += f" (no significant imbalance, McNemar p = {p_mcnemar:.2g})"
    verdict += "."
    if concentrated:
        verdict += (
            " Flips concentrate in: "
            + "; ".join(
                f"{c['description']} ({100 * c['flip_rate']:.1f}% flipped vs "
                f"{100 * c['flip_rate_outside']:.1f}% elsewhere, {c['support']} rows)"
                for c in concentrated[:3]
            )
            + "."
        )
    elif n_flip:
        verdict += " No subgroup where flips concentrate was confirmed."
    rule = (
        "Decision rule: the decision is the predicted class. The flip share has a Wilson "
        f"interval at {level}; fixed against broken is McNemar's exact test. Subgroups where "
        "flips concentrate come from the slice finder on the flip indicator (each half of the "
        f"rows searches, the other confirms, false discovery rate {alpha:g}). 'warning' when a "
        "confirmed subgroup flips at least twice as often as all rows; else 'ok' (the overall "
        "change of accuracy is judged under 'Overall metrics')."
    )
    tables = []
    if concentrated:
        tables.append(
            table(
                "Where decisions flip (confirmed on held-out rows)",
                ["subgroup", "rows", "share", "flip rate", "elsewhere", "lift", "adjusted p"],
                [
                    [
                        c["description"],
                        c["support"],
                        c["share"],
                        c["flip_rate"],
                        c["flip_rate_outside"],
                        c["lift"],
                        c["p_adjusted"],
                    ]
                    for c in concentrated
                ],
            )
        )
    return section(
        "Decision flips",
        verdict,
        status="warning" if strong else "ok",
        metrics={
            "flipped share": n_flip / n,
            "flip CI low": lo,
            "flip CI high": hi,
            "fixed": fixed,
            "broken": broke,
            "McNemar p": p_mcnemar,
        },
        tables=tables,
        data={
            "rule": rule,
            "n_flipped": n_flip,
            "n_rows": n,
            "fixed": fixed,
            "broken": broke,
            "p_mcnemar": p_mcnemar,
            "concentrated": concentrated,
        },
    )
