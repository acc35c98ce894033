"""Audit section: group metrics and proxies of the sensitive attributes (``assay.fairness``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from assay.auditing._section import figure, section, table

__all__ = ["fairness_section"]

PROXY_COLUMNS = [
    "feature",
    "measure",
    "association",
    "adjusted p",
    "joint importance",
    "influence on gap",
    "flagged",
    "verdict",
]
RATE_METRICS = ["base_rate", "selection_rate", "true_positive_rate", "false_positive_rate"]


def _label(index_value: Any) -> str:
    parts = index_value if isinstance(index_value, tuple) else (index_value,)
    return " | ".join(str(p) for p in parts)


def _group_metrics(
    adapter: Any, X: np.ndarray, y: np.ndarray, sens: Any, seed: int | None
) -> tuple[Any, str, list[str]]:
    """GroupMetrics for the model's decisions, the metric to headline and the columns shown."""
    from assay.auditing._performance import positive_labels
    from assay.fairness import GroupMetrics

    out = adapter.predict(X)
    if adapter.is_classifier and adapter.n_outputs == 2:
        labels = positive_labels(adapter, y)
        decision = (out[:, -1] >= 0.5).astype(int) if adapter.output_space == "probability" else (
            (out[:, -1] >= 0.0).astype(int)
        )
        metrics: Any = [*RATE_METRICS, "accuracy"]
        gm = GroupMetrics(
            metrics=metrics, y_true=labels, y_pred=decision, sensitive_features=sens,
            n_bootstrap=200, seed=seed,
        )  # fmt: skip
        return gm, "selection_rate", [*RATE_METRICS, "accuracy"]
    if adapter.is_classifier:
        pred = np.asarray(adapter.output_names)[out.argmax(axis=1)]
        gm = GroupMetrics(
            metrics=["accuracy"], y_true=np.asarray(y).astype(str), y_pred=pred,
            sensitive_features=sens, n_bootstrap=200, seed=seed,
        )  # fmt: skip
        return gm, "accuracy", ["accuracy"]
    gm = GroupMetrics(
        metrics={
            "mean_prediction": "mean_prediction",
            "mean_absolute_error": lambda t, p: float(np.mean(np.abs(t - p))),
        },
        y_true=y.astype(np.float64), y_pred=out[:, 0], sensitive_features=sens,
        n_bootstrap=200, seed=seed,
    )  # fmt: skip
    return gm, "mean_prediction", ["mean_prediction", "mean_absolute_error"]


def fairness_section(
    model: Any,
    adapter: Any,
    X: np.ndarray,
    y: np.ndarray,
    names: list[str],
    sensitive: Any,
    *,
    seed: int | None,
    max_samples: int = 2000,
) -> dict[str, Any] | None:
    """Group metrics (with bootstrap intervals) and a :class:`~assay.fairness.ProxyAudit`.

    None when no sensitive attribute is given.
    """
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier

    from assay.fairness import ProxyAudit

    if sensitive is None:
        return None
    sens = sensitive if isinstance(sensitive, pd.DataFrame) else pd.DataFrame(
        {"sensitive": np.asarray(sensitive)}
    )
    sens = sens.reset_index(drop=True)
    gm, headline, shown = _group_metrics(adapter, X, y, sens, seed)
    # a small auxiliary model keeps the 40 permutation refits cheap; 39 permutations are the
    # fewest that let the joint test reach alpha / 2 = 0.025
    proxy = ProxyAudit(
        model, pd.DataFrame(X, columns=names), sens, n_permutations=39, n_repeats=2,
        max_samples=max_samples, auxiliary=HistGradientBoostingClassifier(max_iter=30),
        seed=seed,
    )  # fmt: skip
    attr = proxy.attribute
    diff = float(gm.difference()[headline].iloc[0])
    dlo, dhi = (float(v[headline].iloc[0]) for v in gm.ci("difference"))
    groups = [_label(i) for i in gm.by_group.index]
    pred = proxy.predictability
    verdict = (
        f"{attr} is predictable from the model's features (cross-validated AUC "
        f"{pred['auc']:.3f}, p = {pred['p_value']:.3g}); "
        + (
            f"flagged as proxies of {attr}: {', '.join(proxy.proxies)}. "
            if proxy.proxies
            else f"no feature is flagged as a proxy of {attr}. "
        )
        + f"Largest between-group difference in {headline.replace('_', ' ')}: {diff:.3f} "
        f"(95% CI [{dlo:.3f}, {dhi:.3f}])"
    )
    if proxy.influence is not None and proxy.proxies:
        inf = proxy.influence
        verdict += (
            f"; removing the {attr}-related part of the proxies shrinks the model's group gap "
            f"in mean prediction from {inf['gap']:.3g} by {inf['proxy_gap_reduction']:.3g}"
        )
    verdict += "."
    significant_gap = dlo > 0 or dhi < 0
    status = "alert" if proxy.proxies and significant_gap else (
        "warning" if proxy.proxies or significant_gap else "ok"
    )
    bg = gm.by_group
    lo, hi = gm.by_group_ci_low, gm.by_group_ci_high
    group_rows = [
        [groups[g], int(gm.counts.iloc[g]), *(float(bg[m].iloc[g]) for m in shown)]
        for g in range(len(groups))
    ]
    feats = proxy.features
    proxy_rows = [
        [r.feature, r.measure, float(r.association), float(r.p_adjusted),
         float(r.aux_importance), float(r.influence_gap), bool(r.flagged), r.verdict]
        for r in feats.sort_values("association", ascending=False).itertuples()
    ]  # fmt: skip
    ordered = feats.sort_values("association", ascending=False)
    figures = [
        figure(
            "errorbar",
            f"{headline.replace('_', ' ').capitalize()} by {attr} group, with 95% bootstrap "
            "intervals; dashed: overall.",
            labels=groups,
            values=bg[headline].tolist(),
            lo=lo[headline].tolist(),
            hi=hi[headline].tolist(),
            reference=float(gm.overall[headline].iloc[0]),
            xlabel=headline.replace("_", " "),
        ),
        figure(
            "bar",
            f"Association of each feature with {attr} (Cramér's V or correlation ratio); "
            "red: flagged as a proxy.",
            labels=ordered["feature"].tolist(),
            values=ordered["association"].astype(float).tolist(),
            colors=["#c8453c" if f else "#3c6fd1" for f in ordered["flagged"]],
            xlabel=f"association with {attr}",
        ),
    ]
    return section(
        "Fairness and proxies",
        verdict,
        status=status,
        metrics={
            f"{attr} predictability (AUC)": float(pred["auc"]),
            "proxies": ", ".join(proxy.proxies) or "none",
            f"{headline} difference": diff,
        },
        tables=[
            table("Metrics by group", ["group", "rows", *shown], group_rows),
            table(
                f"Proxy audit of {attr}",
                PROXY_COLUMNS,
                proxy_rows,
            ),
        ],
        figures=figures,
        data={
            "attribute": attr,
            "proxies": list(proxy.proxies),
            "group_metrics": gm.to_dict(),
            "proxy_audit": proxy.to_dict(),
        },
    )
