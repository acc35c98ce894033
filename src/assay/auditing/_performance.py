"""Audit section: how good is the model (overall and calibration)."""

from __future__ import annotations

from typing import Any

import numpy as np

from assay.auditing._section import figure, section

__all__ = ["performance_section", "positive_class_scores", "positive_labels"]


def positive_labels(adapter: Any, y: np.ndarray) -> np.ndarray:
    """Labels as 0/1, 1 for the model's last class (the positive class of a binary model)."""
    positive = adapter.output_names[-1]
    try:
        return (y == float(positive)).astype(int)
    except ValueError:
        return (y.astype(str) == positive).astype(int)


def positive_class_scores(
    adapter: Any, X: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(labels as 0/1, positive-class probability) for a binary probabilistic classifier."""
    return positive_labels(adapter, y), adapter.predict(X)[:, -1]


def _calibration(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> tuple[list[float], list[float]]:
    edges = np.unique(np.quantile(p, np.linspace(0, 1, n_bins + 1)))
    idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, max(len(edges) - 2, 0))
    observed, predicted = [], []
    for b in np.unique(idx):
        sel = idx == b
        observed.append(float(y[sel].mean()))
        predicted.append(float(p[sel].mean()))
    return observed, predicted


def performance_section(adapter: Any, X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    from sklearn import metrics

    n = len(y)
    if adapter.is_classifier and adapter.output_space == "probability" and adapter.n_outputs == 2:
        labels, p = positive_class_scores(adapter, X, y)
        auc = float(metrics.roc_auc_score(labels, p))
        acc = float(metrics.accuracy_score(labels, (p >= 0.5).astype(int)))
        brier = float(metrics.brier_score_loss(labels, p))
        observed, predicted = _calibration(labels, p)
        ece = float(np.mean(np.abs(np.array(observed) - np.array(predicted))))
        status = "ok" if ece < 0.05 else "warning"
        verdict = (
            f"AUC {auc:.3f}, accuracy {acc:.3f}, Brier score {brier:.3f} on {n:,} rows; "
            f"mean calibration gap {ece:.3f} across predicted-risk deciles"
            + (" (well calibrated)." if status == "ok" else " (check calibration).")
        )
        return section(
            "Performance",
            verdict,
            status=status,
            metrics={
                "task": "binary classification",
                "rows": n,
                "AUC": auc,
                "accuracy": acc,
                "Brier score": brier,
                "base rate": float(labels.mean()),
                "calibration gap": ece,
            },
            figures=[
                figure(
                    "calibration",
                    "Observed rate against mean predicted probability, "
                    "by decile of predicted risk.",
                    x=predicted,
                    y=observed,
                )
            ],
            data={"auc": auc, "accuracy": acc, "brier": brier, "calibration_gap": ece},
        )
    out = adapter.predict(X)
    if adapter.is_classifier:
        pred = np.asarray(adapter.output_names)[out.argmax(axis=1)]
        acc = float(np.mean(pred.astype(str) == np.asarray(y).astype(str)))
        return section(
            "Performance",
            f"Accuracy {acc:.3f} on {n:,} rows.",
            metrics={"task": "multiclass classification", "rows": n, "accuracy": acc},
            data={"accuracy": acc},
        )
    pred = out[:, 0]
    rmse = float(np.sqrt(np.mean((pred - y) ** 2)))
    r2 = float(metrics.r2_score(y, pred))
    return section(
        "Performance",
        f"RMSE {rmse:.4g}, R² {r2:.3f} on {n:,} rows.",
        metrics={"task": "regression", "rows": n, "RMSE": rmse, "R²": r2},
        data={"rmse": rmse, "r2": r2},
    )
