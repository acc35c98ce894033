"""Audit section: a glass-box GAM fitted on the same data, its accuracy gap and shape anomalies."""

from __future__ import annotations

from typing import Any

import numpy as np

from assay.auditing._section import figure, section, table

__all__ = ["glassbox_section"]

# small settings: the GAM is a reference, not the product; two bags give error bands
GAM_OPTIONS = {"n_bags": 2, "interactions": 0, "learning_rate": 0.1, "max_rounds": 1000}
MAX_SHAPES = 6
ANOMALY_COLUMNS = [
    "feature",
    "kind",
    "location",
    "effect",
    "round number",
    "counter-causal",
    "adjusted p",
]


def _score(adapter_or_gam: Any, X: Any, y: np.ndarray, binary: bool) -> float:
    from sklearn import metrics

    if binary:
        return float(metrics.roc_auc_score(y, adapter_or_gam(X)))
    return float(metrics.r2_score(y, adapter_or_gam(X)))


def _shape_figure(gam: Any, t: int, anomalies: list[Any]) -> dict[str, Any]:
    name = gam.term_names_[t]
    fb = gam.bins_[gam.term_features_[t][0]]
    inner = np.flatnonzero(fb.counts > 0)
    inner = inner[(inner > 0) & (inner < fb.n_bins - 1)]
    mean, std = gam.term_values_[t][inner, 0], gam.term_std_[t][inner, 0]
    xs = np.column_stack([fb.lower[inner], fb.upper[inner]]).ravel()
    ys, sd = np.repeat(mean, 2), np.repeat(std, 2)
    marks = [float(a.location) for a in anomalies if a.kind == "discontinuity"]
    found = "; ".join(
        f"{a.kind.replace('_', ' ')} at {a.location:g}" + (" (counter-causal)" * a.counter_causal)
        for a in anomalies
    )
    return figure(
        "line",
        f"Shape of {name} in the glass-box model (contribution to the score, ±2 sd over bags)"
        + (f"; flagged: {found} (dashed)." if found else "."),
        x=xs.tolist(),
        y=ys.tolist(),
        lo=(ys - 2 * sd).tolist(),
        hi=(ys + 2 * sd).tolist(),
        marks=marks,
        xlabel=name,
        ylabel="contribution",
    )


def _category_figure(gam: Any, t: int) -> dict[str, Any]:
    """One bar per observed level of a categorical feature (the GAM's value for that level)."""
    name = gam.term_names_[t]
    fb = gam.bins_[gam.term_features_[t][0]]
    levels = np.arange(1, fb.n_bins - 1)
    levels = levels[fb.counts[levels] > 0]
    return figure(
        "bar",
        f"Contribution of each level of {name} in the glass-box model (±2 sd over bags).",
        labels=[f"{name} = {fb.edges[b - 1]:g}" for b in levels],
        values=gam.term_values_[t][levels, 0].tolist(),
        errors=(2 * gam.term_std_[t][levels, 0]).tolist(),
        reference=0.0,
        xlabel="contribution",
    )


def _describe(a: Any) -> str:
    if a.kind == "discontinuity":
        text = f"{a.feature} {'drops' if a.effect < 0 else 'jumps'} by {abs(a.effect):.2g} at "
        text += f"{a.location:g}" + (" (a round number)" if a.round_number else "")
    else:
        text = (
            f"{a.feature} moves {a.direction} by {abs(a.effect):.2g} between {a.location:g} "
            f"and {a.end:g}"
        )
    if a.counter_causal:
        text += f", against the expected {a.expected_direction} direction"
    return text


def glassbox_section(
    adapter: Any,
    X: np.ndarray,
    y: np.ndarray,
    names: list[str],
    *,
    expected_directions: dict[str, str] | None,
    categorical_features: list[str] | None = None,
    max_rows: int = 10_000,
    seed: int | None,
) -> dict[str, Any] | None:
    """Fit a GAM on half of (up to ``max_rows``) rows; compare and test shapes on the rest.

    None for multiclass models (shape anomalies are defined for one score).
    """
    import pandas as pd

    from assay.auditing._performance import positive_labels
    from assay.glassbox import GAMClassifier, GAMRegressor, find_shape_anomalies

    binary = adapter.is_classifier and adapter.n_outputs == 2
    if adapter.is_classifier and not binary:
        return None
    rng = np.random.default_rng(seed)
    rows = rng.permutation(X.shape[0])[:max_rows]
    fit_rows, test_rows = rows[: rows.size // 2], rows[rows.size // 2 :]
    frame = pd.DataFrame(X, columns=names)
    categorical = list(categorical_features) if categorical_features else None
    if binary:
        target = positive_labels(adapter, y)
        gam: Any = GAMClassifier(
            **GAM_OPTIONS, categorical_features=categorical, n_jobs=1, random_state=seed
        )
    else:
        target = y.astype(np.float64)
        gam = GAMRegressor(
            **GAM_OPTIONS, categorical_features=categorical, n_jobs=1, random_state=seed
        )
    gam.fit(frame.iloc[fit_rows], target[fit_rows])
    X_test, y_test = frame.iloc[test_rows], target[test_rows]
    if binary:
        model_value = _score(lambda Z: adapter.predict(Z)[:, -1], X[test_rows], y_test, True)
        gam_value = _score(lambda Z: gam.predict_proba(Z)[:, 1], X_test, y_test, True)
        metric = "AUC"
    else:
        model_value = _score(lambda Z: adapter.predict(Z)[:, 0], X[test_rows], y_test, False)
        gam_value = _score(gam.predict, X_test, y_test, False)
        metric = "R²"
    anomalies = find_shape_anomalies(
        gam, X_test, y_test, expected_directions=expected_directions or None, max_candidates=64
    )
    found = list(anomalies.anomalies)
    gap = model_value - gam_value
    if any(a.counter_causal for a in found):
        status = "alert"
    elif found or gap > 0.02:
        status = "warning"
    else:
        status = "ok"
    verdict = (
        f"A glass-box GAM fitted on {fit_rows.size:,} of the rows reaches {metric} "
        f"{gam_value:.3f} against the model's {model_value:.3f} on {test_rows.size:,} other rows "
        f"(gap {gap:+.3f}). "
    )
    if found:
        verdict += f"Shape anomalies: {'; '.join(_describe(a) for a in found[:4])}."
    else:
        verdict += "No shape anomaly is significant."
    importance = gam.term_importances()
    order = sorted(range(len(gam.term_names_)), key=lambda t: -importance[gam.term_names_[t]])
    flagged = [gam.term_names_.index(a.feature) for a in found if a.feature in gam.term_names_]
    shown = list(dict.fromkeys(flagged + order))[:MAX_SHAPES]
    figures = [
        _shape_figure(gam, t, [a for a in found if a.feature == gam.term_names_[t]])
        if gam.bins_[gam.term_features_[t][0]].kind == "continuous"
        else _category_figure(gam, t)
        for t in shown
    ]
    rows_tbl = [
        [a.feature, a.kind, a.location, a.effect, a.round_number, a.counter_causal, a.p_adjusted]
        for a in found
    ]
    return section(
        "Glass-box comparison",
        verdict,
        status=status,
        metrics={f"model {metric}": model_value, f"GAM {metric}": gam_value, "gap": gap},
        tables=[
            table(
                "Shape anomalies",
                ANOMALY_COLUMNS,
                rows_tbl,
            )
        ]
        if rows_tbl
        else [],
        figures=figures,
        data={
            "metric": metric,
            "model": model_value,
            "gam": gam_value,
            "gap": gap,
            "gam_options": dict(GAM_OPTIONS),
            "n_fit": int(fit_rows.size),
            "n_test": int(test_rows.size),
            "term_importances": importance,
            "anomalies": anomalies.to_dict(),
        },
    )
