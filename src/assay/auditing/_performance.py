"""Audit section: how good is the model (overall and calibration), on audited and training rows."""

from __future__ import annotations

from typing import Any

import numpy as np

from assay.auditing._calibration import calibration_test
from assay.auditing._labels import binary_labels, class_indices
from assay.auditing._section import figure, section, table

__all__ = ["performance_section", "positive_class_scores", "positive_labels"]

# training rows scored for the side-by-side comparison (a seeded sample above this)
MAX_TRAIN_ROWS = 50_000


def positive_labels(adapter: Any, y: np.ndarray) -> np.ndarray:
    """Labels as 0/1, 1 for the model's last class (the positive class of a binary model)."""
    return binary_labels(adapter, y)


def positive_class_scores(
    adapter: Any, X: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(labels as 0/1, positive-class probability) for a binary probabilistic classifier."""
    return positive_labels(adapter, y), adapter.predict(X)[:, -1]


def _binary_metrics(labels: np.ndarray, p: np.ndarray) -> dict[str, float]:
    from sklearn import metrics

    auc = float(metrics.roc_auc_score(labels, p)) if 0 < labels.mean() < 1 else float("nan")
    return {
        "AUC": auc,
        "accuracy": float(np.mean((p >= 0.5).astype(int) == labels)),
        "Brier score": float(np.mean((p - labels) ** 2)),
        "base rate": float(labels.mean()),
    }


def _is_binary_probability(adapter: Any) -> bool:
    probability = adapter.output_space == "probability"
    return adapter.is_classifier and probability and adapter.n_outputs == 2


def _metrics(adapter: Any, X: np.ndarray, y: np.ndarray) -> tuple[str, dict[str, float]]:
    from sklearn import metrics

    out = adapter.predict(X)
    if _is_binary_probability(adapter):
        return "binary classification", _binary_metrics(positive_labels(adapter, y), out[:, -1])
    if adapter.is_classifier:
        idx = class_indices(adapter.output_names, y)
        return "classification", {"accuracy": float(np.mean(out.argmax(axis=1) == idx))}
    pred, target = out[:, 0], y.astype(np.float64)
    return "regression", {
        "RMSE": float(np.sqrt(np.mean((pred - target) ** 2))),
        "R²": float(metrics.r2_score(target, pred)) if target.size > 1 else float("nan"),
    }


def _train_sample(X: np.ndarray, y: np.ndarray, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
    if X.shape[0] <= MAX_TRAIN_ROWS:
        return X, y
    rows = np.sort(np.random.default_rng(seed).choice(X.shape[0], MAX_TRAIN_ROWS, replace=False))
    return X[rows], y[rows]


def performance_section(
    adapter: Any,
    X: np.ndarray,
    y: np.ndarray,
    *,
    alpha: float = 0.05,
    seed: int | None = 0,
    X_train: np.ndarray | None = None,
    y_train: np.ndarray | None = None,
) -> dict[str, Any]:
    """Metrics on the audited rows (and on training rows, side by side, when given).

    For a binary probabilistic classifier, calibration is tested against the null hypothesis of
    a perfectly calibrated model (:func:`calibration_test`); the section warns only when that
    test rejects at ``alpha``.
    """
    n = len(y)
    task, audited = _metrics(adapter, X, y)
    metrics_table: dict[str, Any] = {"task": task, "rows": n, **audited}
    tables, figures = [], []
    data: dict[str, Any] = {"task": task, "audited": audited}
    status, extra = "ok", ""
    rule = "Performance is descriptive; it raises no alert."
    if _is_binary_probability(adapter):
        labels, p = positive_labels(adapter, y), adapter.predict(X)[:, -1]
        cal = calibration_test(labels, p, seed=seed)
        data["calibration"] = cal
        metrics_table["calibration gap"] = cal["gap"]
        metrics_table["calibration p-value"] = cal["p_value"]
        if cal["p_value"] < alpha:
            status = "warning"
            extra = (
                f"; mean calibration gap {cal['gap']:.3f} across predicted-risk bins is larger "
                f"than a perfectly calibrated model shows on {n:,} rows "
                f"(p = {cal['p_value']:.2g}): check calibration."
            )
        else:
            extra = (
                f"; mean calibration gap {cal['gap']:.3f} across predicted-risk bins is within "
                f"what a perfectly calibrated model shows on {n:,} rows (p = {cal['p_value']:.2g};"
                f" typical gap {cal['null_median_gap']:.3f}): no evidence of miscalibration."
            )
        rule = (
            "Calibration: the mean absolute gap between observed and predicted rates over ten "
            "quantile bins of predicted risk, tested against its distribution when outcomes are "
            f"drawn from the model's own probabilities ({cal['n_simulations']} simulations); "
            f"warning when p < {alpha:g}. Other metrics are descriptive."
        )
        figures.append(
            figure(
                "calibration",
                "Observed rate against mean predicted probability, by bin of predicted risk.",
                x=cal["predicted"],
                y=cal["observed"],
            )
        )
    shown = [k for k, v in audited.items() if isinstance(v, float)]
    verdict = f"On {n:,} audited rows: " + ", ".join(
        f"{k} {audited[k]:.3f}" if k != "RMSE" else f"RMSE {audited[k]:.4g}" for k in shown
    )
    if X_train is not None and y_train is not None:
        Xt, yt = _train_sample(X_train, y_train, seed)
        _, trained = _metrics(adapter, Xt, yt)
        data["train"] = trained
        data["n_train_scored"] = len(yt)
        tables.append(
            table(
                "Training rows against audited rows",
                ["metric", f"training rows ({len(yt):,})", f"audited rows ({n:,})"],
                [[k, trained[k], audited[k]] for k in shown],
            )
        )
        head = shown[0]
        verdict += f" ({head} {trained[head]:.3f} on {len(yt):,} training rows" + ")"
    data["rule"] = rule
    return section(
        "Performance",
        verdict + (extra or "."),
        status=status,
        metrics=metrics_table,
        tables=tables,
        figures=figures,
        data=data,
    )
