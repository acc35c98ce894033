"""``assay.audit``: run the tabular audit sections on a model and data set."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from assay._validation import as_vector, check_int, check_seed
from assay.auditing._result import AuditResult
from assay.errors import InvalidInputError
from assay.model import wrap

__all__ = ["audit"]


def _performance_section(adapter: Any, X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    from sklearn import metrics

    out = adapter.predict(X)
    if adapter.is_classifier and adapter.output_space == "probability":
        classes = adapter.output_names
        if len(classes) == 2:
            p = out[:, 1]
            labels = (y == float(classes[1])).astype(int) if _numeric(classes[1]) else y
            auc = float(metrics.roc_auc_score(labels, p))
            acc = float(metrics.accuracy_score(labels, (p >= 0.5).astype(int)))
            brier = float(metrics.brier_score_loss(labels, p))
            prob_true, prob_pred = _calibration(labels, p)
            verdict = (
                f"AUC {auc:.3f}, accuracy {acc:.3f}, Brier score {brier:.3f} on {len(y):,} rows."
            )
            return {
                "verdict": verdict,
                "task": "binary classification",
                "n_rows": len(y),
                "auc": auc,
                "accuracy": acc,
                "brier": brier,
                "base_rate": float(np.mean(labels)),
                "calibration": {"mean_predicted": prob_pred, "observed_rate": prob_true},
            }
        pred = np.asarray(classes)[out.argmax(axis=1)]
        acc = float(np.mean(pred.astype(str) == y.astype(str)))
        return {
            "verdict": f"accuracy {acc:.3f} on {len(y):,} rows.",
            "task": "multiclass",
            "n_rows": len(y),
            "accuracy": acc,
        }
    pred = out[:, 0]
    rmse = float(np.sqrt(np.mean((pred - y) ** 2)))
    r2 = float(metrics.r2_score(y, pred))
    return {
        "verdict": f"RMSE {rmse:.4g}, R² {r2:.3f} on {len(y):,} rows.",
        "task": "regression",
        "n_rows": len(y),
        "rmse": rmse,
        "r2": r2,
    }


def _numeric(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _calibration(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> tuple[list[float], list[float]]:
    edges = np.quantile(p, np.linspace(0, 1, n_bins + 1))
    idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, n_bins - 1)
    true, pred = [], []
    for b in range(n_bins):
        sel = idx == b
        if sel.any():
            true.append(float(y[sel].mean()))
            pred.append(float(p[sel].mean()))
    return true, pred


def _attribution_section(
    adapter: Any, X: np.ndarray, names: list[str], *, n_explain: int, seed: int | None
) -> dict[str, Any]:
    from assay._explain import explain

    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(X.shape[0], size=min(n_explain, X.shape[0]), replace=False))
    bg_rows = np.sort(rng.choice(X.shape[0], size=min(50, X.shape[0]), replace=False))
    exp = explain(adapter, X[rows], background=X[bg_rows], seed=seed)
    out_idx = exp.values.shape[2] - 1  # positive class for binary classifiers
    imp = np.abs(exp.values[:, :, out_idx]).mean(axis=0)
    order = np.argsort(-imp)
    top = [names[i] for i in order[:3]]
    return {
        "verdict": f"Strongest drivers ({exp.method} Shapley values): {', '.join(top)}.",
        "method": exp.method,
        "output_space": exp.output_space,
        "output": exp.output_names[out_idx],
        "n_rows_explained": len(rows),
        "rows": rows.tolist(),
        "importance": {names[i]: float(imp[i]) for i in order},
        "explanation": exp.to_dict(),
    }


def audit(
    model: Any,
    X: Any,
    y: Any,
    *,
    sensitive: Any = None,
    n_explain: int = 200,
    seed: int | None = 0,
) -> AuditResult:
    """Audit a fitted model on labelled data.

    The sections available in this version: performance (with calibration) and attributions.
    Later sections (trust, glass-box comparison, fairness, slices, monotonicity, value of
    information) are added as they land; a missing section is omitted, never faked.

    Parameters
    ----------
    model : fitted model
        Anything :func:`assay.model.wrap` accepts.
    X : DataFrame or array of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
        True labels or targets.
    sensitive : DataFrame or array, optional
        Sensitive attributes (not model inputs); used by the fairness section once available.
    n_explain : int, default 200
        Rows sampled for attributions.
    seed : int, default 0

    Returns
    -------
    AuditResult

    Examples
    --------
    >>> import assay
    >>> from assay.datasets import load_clinical
    >>> from sklearn.ensemble import HistGradientBoostingClassifier
    >>> data = load_clinical(n_samples=2000, seed=0)
    >>> model = HistGradientBoostingClassifier(max_iter=50).fit(data.X, data.y)
    >>> result = assay.audit(model, data.X, data.y, n_explain=5)
    >>> sorted(result.sections)
    ['attributions', 'performance']
    """
    seed = check_seed(seed)
    n_explain = check_int(n_explain, name="n_explain", minimum=1)
    started = time.perf_counter()
    adapter = wrap(model)
    Xv, names = adapter.prepare(X)
    yv = as_vector(y, name="y", n_rows=Xv.shape[0])
    if sensitive is not None and len(sensitive) != Xv.shape[0]:
        msg = f"sensitive has {len(sensitive)} rows but X has {Xv.shape[0]}; they must match."
        raise InvalidInputError(msg)
    sections = {
        "performance": _performance_section(adapter, Xv, yv),
        "attributions": _attribution_section(adapter, Xv, names, n_explain=n_explain, seed=seed),
    }
    meta = {
        "model": type(adapter.model).__name__,
        "n_rows": int(Xv.shape[0]),
        "n_features": int(Xv.shape[1]),
        "feature_names": names,
        "seed": seed,
        "seconds": round(time.perf_counter() - started, 3),
    }
    return AuditResult(sections=sections, meta=meta)
