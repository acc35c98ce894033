"""Audit section: a glass-box GAM fitted on the same data, its accuracy gap and shape anomalies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from assay.auditing._section import figure, section, table

__all__ = ["glassbox_section"]

# small settings: the GAM is a reference, not the product; two bags give error bands
# rows the GAM is fitted on and compared on (a seeded sample above this)
MAX_ROWS = 10_000
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


def _score(scores: np.ndarray, y: np.ndarray, binary: bool) -> float:
    from sklearn import metrics

    if binary:
        return float(metrics.roc_auc_score(y, scores))
    return float(metrics.r2_score(y, scores))


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


def _category_figure(gam: Any, t: int, label: Callable[[str, float], str]) -> dict[str, Any]:
    """One bar per observed level of a categorical feature (the GAM's value for that level)."""
    name = gam.term_names_[t]
    fb = gam.bins_[gam.term_features_[t][0]]
    levels = np.arange(1, fb.n_bins - 1)
    levels = levels[fb.counts[levels] > 0]
    return figure(
        "bar",
        f"Contribution of each level of {name} in the glass-box model (±2 sd over bags).",
        labels=[f"{name} = {label(name, fb.edges[b - 1])}" for b in levels],
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


def _split_rows(
    n: int, max_rows: int, rng: np.random.Generator, n_train: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """(rows to fit on, rows to compare on): training rows when given, else halves of X."""
    if n_train is not None:
        fit = rng.permutation(n_train)[:max_rows]
        return np.sort(fit), np.sort(rng.permutation(n)[:max_rows])
    rows = rng.permutation(n)[:max_rows]
    return rows[: rows.size // 2], rows[rows.size // 2 :]


def glassbox_section(
    adapter: Any,
    X: np.ndarray,
    y: np.ndarray,
    names: list[str],
    *,
    expected_directions: dict[str, str] | None,
    categorical_features: list[str] | None = None,
    max_rows: int = MAX_ROWS,
    seed: int | None,
    alpha: float = 0.05,
    X_train: np.ndarray | None = None,
    y_train: np.ndarray | None = None,
    label: Callable[[str, float], str] | None = None,
) -> dict[str, Any] | None:
    """Fit a GAM on the training rows (or half of X); compare and test shapes on audited rows.

    With ``X_train``/``y_train`` the GAM learns from (up to ``max_rows``) training rows, as the
    model did, and both are compared on (up to ``max_rows``) audited rows; without them it is
    fitted on half of the audited rows and compared on the other half. The accuracy gap comes
    with a paired bootstrap interval. None for multiclass models (shape anomalies are defined
    for one score).
    """
    import pandas as pd

    from assay.auditing._paired import paired_gap
    from assay.auditing._performance import positive_labels
    from assay.glassbox import GAMClassifier, GAMRegressor, find_shape_anomalies

    binary = adapter.is_classifier and adapter.n_outputs == 2
    if adapter.is_classifier and not binary:
        return None
    label = label or (lambda _feature, value: f"{value:g}")
    rng = np.random.default_rng(seed)
    has_train = X_train is not None and y_train is not None
    fit_rows, test_rows = _split_rows(
        X.shape[0], max_rows, rng, X_train.shape[0] if has_train else None
    )
    frame = pd.DataFrame(X, columns=names)
    fit_X = pd.DataFrame(X_train, columns=names) if has_train else frame
    fit_y = y_train if has_train else y
    categorical = list(categorical_features) if categorical_features else None
    if binary:
        target, fit_target = positive_labels(adapter, y), positive_labels(adapter, fit_y)
        gam: Any = GAMClassifier(
            **GAM_OPTIONS, categorical_features=categorical, n_jobs=1, random_state=seed
        )
    else:
        target, fit_target = y.astype(np.float64), fit_y.astype(np.float64)
        gam = GAMRegressor(
            **GAM_OPTIONS, categorical_features=categorical, n_jobs=1, random_state=seed
        )
    gam.fit(fit_X.iloc[fit_rows], fit_target[fit_rows])
    X_test, y_test = frame.iloc[test_rows], target[test_rows]
    if binary:
        model_scores = adapter.predict(X[test_rows])[:, -1]
        gam_scores = gam.predict_proba(X_test)[:, 1]
        metric = "AUC"
    else:
        model_scores = adapter.predict(X[test_rows])[:, 0]
        gam_scores = gam.predict(X_test)
        metric = "R²"
    model_value = _score(model_scores, y_test, binary)
    gam_value = _score(gam_scores, y_test, binary)
    gap_test = paired_gap(y_test, model_scores, gam_scores, metric=metric, alpha=alpha, seed=seed)
    anomalies = find_shape_anomalies(
        gam,
        X_test,
        y_test,
        expected_directions=expected_directions or None,
        max_candidates=64,
        alpha=alpha,
    )
    found = list(anomalies.anomalies)
    gap, glo, ghi = gap_test["estimate"], gap_test["ci_low"], gap_test["ci_high"]
    if any(a.counter_causal for a in found):
        status = "alert"
    elif found or ghi < 0:
        status = "warning"
    else:
        status = "ok"
    source = f"{fit_rows.size:,} " + ("training rows" if has_train else "of the audited rows")
    verdict = (
        f"A glass-box GAM fitted on {source} reaches {metric} {gam_value:.3f} against the "
        f"model's {model_value:.3f} on {test_rows.size:,} audited rows"
        + ("" if has_train else " it was not fitted on")
        + f" (gap {gap:+.3f}, {100 * (1 - alpha):g}% CI [{glo:+.3f}, {ghi:+.3f}]"
    )
    if glo > 0:
        verdict += "; the model is more accurate than the GAM). "
    elif ghi < 0:
        verdict += "; the model is LESS accurate than a transparent GAM). "
    else:
        verdict += "; no significant difference: a transparent model would do as well). "
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
        else _category_figure(gam, t, label)
        for t in shown
    ]
    rows_tbl = [
        [a.feature, a.kind, a.location, a.effect, a.round_number, a.counter_causal, a.p_adjusted]
        for a in found
    ]
    rule = (
        f"Shape anomalies are tested on audited rows with Benjamini-Hochberg control of the false "
        f"discovery rate at {alpha:g}; alert when a significant anomaly runs against a declared "
        f"direction, warning for other significant anomalies or when the model is significantly "
        f"less accurate than the GAM (paired bootstrap interval of the {metric} gap below 0)."
    )
    return section(
        "Glass-box comparison",
        verdict,
        status=status,
        metrics={
            f"model {metric}": model_value,
            f"GAM {metric}": gam_value,
            "gap": gap,
            "gap CI": f"[{glo:+.3f}, {ghi:+.3f}]",
        },
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
            "gap_test": gap_test,
            "fitted_on": "training rows" if has_train else "half of the audited rows",
            "gam_options": dict(GAM_OPTIONS),
            "n_fit": int(fit_rows.size),
            "n_test": int(test_rows.size),
            "term_importances": importance,
            "anomalies": anomalies.to_dict(),
            "rule": rule,
        },
    )
