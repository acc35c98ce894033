"""``assay.audit``: run the tabular audit sections on a model and data set."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from assay._validation import as_vector, check_int, check_seed
from assay.auditing._context import AuditContext
from assay.auditing._estimate import estimate_seconds
from assay.auditing._holdout import holdout_statement, row_overlap
from assay.auditing._labels import (
    check_target,
    check_value_labels,
    class_indices,
    recode_positive,
)
from assay.auditing._registry import STEPS, SkipSection
from assay.auditing._result import AuditResult
from assay.auditing._rows import rows_used
from assay.errors import AssayError, InvalidInputError
from assay.model import wrap

__all__ = ["STEP_KEYS", "audit", "estimate_seconds"]

STEP_KEYS = tuple(step.key for step in STEPS)


def _sample(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(n, size=min(size, n), replace=False))


def _sensitive_frame(sensitive: Any) -> Any:
    import pandas as pd

    if sensitive is None:
        return None
    if isinstance(sensitive, pd.DataFrame):
        return sensitive.reset_index(drop=True)
    if isinstance(sensitive, pd.Series):
        return sensitive.reset_index(drop=True).to_frame(name=sensitive.name or "sensitive")
    values = np.asarray(sensitive)
    if values.ndim == 1:
        return pd.DataFrame({"sensitive": values})
    return pd.DataFrame(values, columns=[f"sensitive_{j}" for j in range(values.shape[1])])


def _cache_predictions(adapter: Any, X: np.ndarray) -> Callable[[], None]:
    """Let every section share one model call on all audited rows (``X`` itself, by identity).

    Several sections need the model's output on every audited row; on millions of rows each
    call costs seconds. The adapter's ``predict`` is shadowed for the audit's duration; other
    inputs go to the model. Returns the function that puts the adapter back as it was.
    """
    own = adapter.predict
    shadowed = vars(adapter).get("predict")
    cache: list[np.ndarray] = []

    def predict(Z: np.ndarray) -> np.ndarray:
        if Z is not X:
            return own(Z)
        if not cache:
            cache.append(own(Z))
        return cache[0].copy()

    def restore() -> None:
        if shadowed is None:
            del adapter.predict
        else:
            adapter.predict = shadowed

    adapter.predict = predict
    return restore


def _check_categorical(features: Sequence[str] | None, names: list[str]) -> list[str]:
    if features is None:
        return []
    if isinstance(features, str):
        features = [features]
    unknown = [f for f in features if f not in names]
    if unknown:
        msg = f"categorical_features: {unknown} are not features of X; its features are {names}."
        raise InvalidInputError(msg)
    return list(dict.fromkeys(features))


def _check_alpha(alpha: Any) -> float:
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0 < value < 0.5:
        msg = f"alpha must be a significance level between 0 and 0.5 (e.g. 0.05); got {alpha!r}."
        raise InvalidInputError(msg)
    return value


def _check_directions(directions: dict[str, str] | None, names: list[str]) -> dict[str, str]:
    if not directions:
        return {}
    unknown = [f for f in directions if f not in names]
    bad = {f: d for f, d in directions.items() if d not in ("increasing", "decreasing")}
    if unknown or bad:
        msg = (
            f"expected_directions: unknown features {unknown}, bad directions {bad}; use "
            "feature names of X with 'increasing' or 'decreasing'."
        )
        raise InvalidInputError(msg)
    return dict(directions)


def _numeric_target(y: np.ndarray, name: str) -> np.ndarray:
    try:
        return y.astype(np.float64)
    except (TypeError, ValueError) as exc:
        msg = (
            f"{name} must hold numbers for a regression model; it holds {y.dtype} values such as "
            f"{y[:3].tolist()}. Pass the numeric target the model was fitted on."
        )
        raise InvalidInputError(msg) from exc


def _prepare_train(adapter: Any, X_train: Any, y_train: Any) -> tuple[Any, Any]:
    if X_train is None and y_train is None:
        return None, None
    if X_train is None or y_train is None:
        msg = "pass both X_train and y_train (the rows the model was fitted on), or neither."
        raise InvalidInputError(msg)
    Xt, _ = adapter.prepare(X_train)
    yt = as_vector(y_train, name="y_train", n_rows=Xt.shape[0], numeric=False)
    check_target(yt, name="y_train")
    if adapter.is_classifier:
        class_indices(adapter.output_names, yt, name="y_train")
    else:
        yt = _numeric_target(yt, "y_train")
    return Xt, yt


def audit(
    model: Any,
    X: Any,
    y: Any,
    *,
    sensitive: Any = None,
    X_train: Any = None,
    y_train: Any = None,
    alpha: float = 0.05,
    expected_directions: dict[str, str] | None = None,
    categorical_features: Sequence[str] | None = None,
    category_labels: dict[str, dict[Any, str]] | None = None,
    positive_label: Any = None,
    n_explain: int = 200,
    seed: int | None = 0,
    progress: Callable[[str], None] | None = None,
) -> AuditResult:
    """Audit a fitted model on labelled, held-out data.

    Sections, in order (keys of ``sections``), each with a plain-language verdict and a status
    (ok / warning / alert) that comes from a test at level ``alpha`` (its rule is in the
    section's ``data["rule"]``):

    - ``performance``: overall metrics (on training rows too, when given) and a calibration test
      whose null hypothesis is a perfectly calibrated model;
    - ``attributions``: global and local attributions by the fastest exact method that fits
      the model (TreeSHAP for tree ensembles), with standard errors over rows;
    - ``trust``: :func:`assay.trust.assess` on those attributions;
    - ``glassbox``: a GAM fitted on the training rows (or, without them, on half of the audited
      rows), its accuracy gap with a paired bootstrap interval, and the shape anomalies
      (:func:`assay.glassbox.find_shape_anomalies`, using ``expected_directions``) tested on
      audited rows;
    - ``fairness`` (with ``sensitive``): group metrics with intervals and a
      :class:`assay.fairness.ProxyAudit`;
    - ``slices``: :func:`assay.slices.find_slices` on the model's errors;
    - ``monotonicity`` (with ``expected_directions``): do predictions move as declared?;
    - ``acquisition``: when some values are missing and the model accepts them, what to
      measure next.

    Sections whose components are not available for this model or data are omitted, never
    faked; the reason is recorded in ``meta["skipped"]``. Each section says how many rows it
    used and why in ``data["rows_used"]`` (sections that need only a sample use a bounded,
    seeded one, so time and memory stay small on millions of rows; the others use every
    row); ``meta["section_rows_used"]`` has the largest count per section. ``meta["holdout"]``
    says in plain words whether the audited rows were held out from training (checked by row
    hashes when ``X_train`` is given).

    Parameters
    ----------
    model : fitted model
        Anything :func:`assay.model.wrap` accepts.
    X : DataFrame or array of shape (n_samples, n_features)
        The audited rows; they should be rows the model was not fitted on. A Dask DataFrame
        is audited on its cluster (the current client), ``y`` and ``sensitive`` naming its
        columns: see :func:`assay.auditing.audit_dask` (exact sections on every row, model
        fits on a seeded sample).
    y : array-like of shape (n_samples,)
        True labels (as the model knows them: its ``classes_``) or targets.
    sensitive : DataFrame or array, optional
        Sensitive attributes (not model inputs) for the fairness section.
    X_train, y_train : optional
        The rows the model was fitted on. The glass-box model is fitted on them, performance is
        shown on both, and audited rows found among them are reported.
    alpha : float, default 0.05
        Significance level of every test behind a status.
    expected_directions : dict, optional
        Declared directions such as ``{"creatinine": "increasing"}``.
    categorical_features : list of str, optional
        Integer-coded features whose values are labels, not amounts (e.g. a region code):
        the glass-box model fits one value per level and no shape test reads them as ordered.
        Text columns (for models that take them, e.g. a Pipeline with a OneHotEncoder) are
        categorical without being listed.
    category_labels : dict, optional
        ``{column: {code: label}}`` for integer-coded columns: tables, slices and figures show
        the labels (``purpose = car``), and the columns are treated as categorical.
    positive_label : optional
        For a binary model whose target was recorded with other labels (``"yes"``/``"no"``
        against classes 0/1): this label is the model's positive (last) class, every other
        label the negative one. Without it, labels are matched to the model's classes.
    n_explain : int, default 200
        Rows sampled for attributions and per-row analyses.
    seed : int, default 0
    progress : callable, optional
        Called with a short message before each step.

    Returns
    -------
    AuditResult
        If interrupted (Ctrl-C), the sections finished so far, with ``meta["interrupted"]`` and
        every unfinished section listed as interrupted in ``meta["skipped"]``.

    Examples
    --------
    >>> import assay
    >>> from assay.datasets import load_clinical
    >>> from sklearn.ensemble import HistGradientBoostingClassifier
    >>> data = load_clinical(n_samples=2000, seed=0)
    >>> model = HistGradientBoostingClassifier(max_iter=50).fit(data.X[:1000], data.y[:1000])
    >>> result = assay.audit(model, data.X[1000:], data.y[1000:], n_explain=5)
    >>> "performance" in result.sections
    True
    """
    if hasattr(X, "npartitions") and hasattr(X, "to_delayed"):  # a Dask DataFrame
        from assay.auditing._dask_audit import audit_dask

        return audit_dask(
            model, X, y, sensitive=sensitive, alpha=alpha, seed=seed, progress=progress,
            X_train=X_train, y_train=y_train, expected_directions=expected_directions,
            categorical_features=categorical_features, category_labels=category_labels,
            positive_label=positive_label, n_explain=n_explain,
        )  # fmt: skip
    seed = check_seed(seed)
    alpha = _check_alpha(alpha)
    n_explain = check_int(n_explain, name="n_explain", minimum=1)
    started = time.perf_counter()
    say = progress or (lambda _msg: None)
    adapter = wrap(model)
    Xv, names = adapter.prepare(X)
    yv = as_vector(y, name="y", n_rows=Xv.shape[0], numeric=False)
    check_target(yv)
    adapter.predict(Xv[:5])  # the model runs on these rows, and its output names are known
    if positive_label is not None:
        yv = recode_positive(adapter.output_names, yv, positive_label)
    if adapter.is_classifier:  # labels as the model knows them, or a clear error now
        class_indices(adapter.output_names, yv)
    else:
        yv = _numeric_target(yv, "y")
    if positive_label is not None and y_train is not None:
        y_train = recode_positive(
            adapter.output_names, as_vector(y_train, name="y_train", numeric=False),
            positive_label,
        )  # fmt: skip
    Xt, yt = _prepare_train(adapter, X_train, y_train)
    value_labels = check_value_labels(category_labels, names, Xv)
    if sensitive is not None and len(sensitive) != Xv.shape[0]:
        msg = f"sensitive has {len(sensitive)} rows but X has {Xv.shape[0]}; they must match."
        raise InvalidInputError(msg)
    rng = np.random.default_rng(seed)
    explain_rows = _sample(Xv.shape[0], n_explain, rng)
    ctx = AuditContext(
        adapter=adapter,
        model=model,
        X=Xv,
        names=names,
        y=yv,
        seed=seed,
        alpha=alpha,
        explain_rows=explain_rows,
        background=Xv[_sample(Xv.shape[0], 100, rng)],
        sensitive=_sensitive_frame(sensitive),
        expected_directions=_check_directions(expected_directions, names),
        categorical=list(
            dict.fromkeys(
                [
                    *_check_categorical(categorical_features, names),
                    *adapter.categories.columns,
                    *value_labels,
                ]
            )
        ),
        value_labels=value_labels,
        X_train=Xt,
        y_train=yt,
        holdout=None if Xt is None else row_overlap(Xv, yv, Xt, yt),
    )
    holdout_status, holdout_words = holdout_statement(ctx.holdout)
    sections: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    timings: dict[str, float] = {}
    cpu: dict[str, float] = {}
    model_rows: dict[str, int] = {}
    section_rows: dict[str, int] = {}
    interrupted = False
    restore = _cache_predictions(adapter, Xv)
    try:
        for step in STEPS:
            if interrupted:
                skipped[step.key] = "interrupted (Ctrl-C) before this section ran"
                continue
            say(step.message)
            t0, c0 = time.perf_counter(), time.process_time()
            rows0 = adapter.n_rows_evaluated
            try:
                result = step.run(ctx)
            except KeyboardInterrupt:
                interrupted = True
                skipped[step.key] = "interrupted (Ctrl-C) while this section ran"
                continue
            except SkipSection as exc:
                skipped[step.key] = str(exc)
                continue
            except AssayError as exc:
                skipped[step.key] = f"could not run: {exc}"
                continue
            timings[step.key] = round(time.perf_counter() - t0, 3)
            cpu[step.key] = round(time.process_time() - c0, 3)
            model_rows[step.key] = adapter.n_rows_evaluated - rows0
            if result is None:
                skipped[step.key] = step.not_applicable
            else:
                result["data"]["rows_used"] = rows_used(step.key, ctx, result)
                section_rows[step.key] = result["data"]["rows_used"]["n_rows"]
                sections[step.key] = result
    finally:
        restore()
    sens = ctx.sensitive
    meta = {
        "model": type(adapter.model).__name__,
        "output_space": adapter.output_space,
        "n_rows": int(Xv.shape[0]),
        "n_features": int(Xv.shape[1]),
        "feature_names": names,
        "sensitive": [] if sens is None else [str(c) for c in sens.columns],
        "expected_directions": dict(ctx.expected_directions),
        "categorical_features": ctx.categorical,
        "category_labels": {
            **{c: [str(v) for v in lv] for c, lv in adapter.categories.levels.items()},
            **{c: {f"{k:g}": v for k, v in m.items()} for c, m in value_labels.items()},
        },
        "alpha": alpha,
        "holdout": {"status": holdout_status, "statement": holdout_words, **(ctx.holdout or {})},
        "seed": seed,
        "seconds": round(time.perf_counter() - started, 3),
        "section_seconds": timings,
        "section_cpu_seconds": cpu,
        "section_model_rows": model_rows,
        "section_rows_used": section_rows,
        "skipped": skipped,
        "interrupted": interrupted,
    }
    return AuditResult(sections=sections, meta=meta)
