"""``assay.audit``: run the tabular audit sections on a model and data set."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from assay._validation import as_vector, check_int, check_seed
from assay.auditing._acquisition import acquisition_section
from assay.auditing._attributions import attribution_section, compute_attributions
from assay.auditing._fairness import fairness_section
from assay.auditing._glassbox import glassbox_section
from assay.auditing._performance import performance_section
from assay.auditing._result import AuditResult
from assay.auditing._slices import slices_section
from assay.auditing._trust import trust_section
from assay.errors import AssayError, InvalidInputError
from assay.model import wrap

__all__ = ["STEPS", "audit", "estimate_seconds"]


STEPS = (
    "performance",
    "attributions",
    "trust",
    "glassbox",
    "fairness",
    "slices",
    "monotonicity",
    "acquisition",
)
_NOT_APPLICABLE = {
    "trust": "no attributions to check",
    "glassbox": "the glass-box comparison needs a binary classifier or a regressor",
    "fairness": "no sensitive attribute given (pass sensitive=, or --sensitive COL)",
    "monotonicity": "no expected directions given (pass expected_directions=, or --expect)",
    "acquisition": "no missing values that the model accepts",
}


class _Skip(Exception):
    """A section that cannot run here, with the reason for meta["skipped"]."""


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


def _monotonicity(
    adapter: Any, X: np.ndarray, directions: dict[str, str] | None, seed: int | None
) -> dict[str, Any] | None:
    if not directions:
        return None
    try:  # written separately; the audit must run without it
        from assay.auditing._monotonicity import monotonicity_section
    except ImportError as exc:
        msg = f"the monotonicity check is not available in this installation ({exc})"
        raise _Skip(msg) from exc
    return monotonicity_section(adapter, X, directions, seed=seed)


def estimate_seconds(model: Any, X: Any, *, sensitive: bool = True) -> float:
    """Rough wall-clock estimate of :func:`audit` on ``X``, from one timed model call.

    The sections that dominate call the model on about a million rows in all (trust checks,
    monotonicity pairs, proxy repairs) and fit small models (the GAM on up to 5,000 rows, the
    proxy audit's 120 auxiliary fits on 2,000 rows); the constants below were measured on one
    core with the demo cohort (see benchmarks/RESULTS.md).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> X = np.random.default_rng(0).normal(size=(500, 3))
    >>> model = LinearRegression().fit(X, X[:, 0])
    >>> 0 < estimate_seconds(model, X) < 600
    True
    """
    adapter = wrap(model)
    Xv, _ = adapter.prepare(X)
    probe = Xv[: min(2000, Xv.shape[0])]
    t0 = time.perf_counter()
    adapter.predict(probe)
    per_row = (time.perf_counter() - t0) / probe.shape[0]
    n, d = Xv.shape
    model_rows = 1_000_000
    if not adapter.has_trees:  # exact Shapley: every coalition of every row on the background
        model_rows += 200 * 100 * 2 ** min(d, 12)
    gam = 4e-5 * min(n, 5000) * d
    fixed = 5.0 + (10.0 if sensitive else 0.0)
    return float(fixed + gam + per_row * model_rows)


def _check_categorical(features: Sequence[str] | None, names: list[str]) -> list[str]:
    if features is None:
        return []
    if isinstance(features, str):
        features = [features]
    unknown = [f for f in features if f not in names]
    if unknown:
        msg = (
            f"categorical_features: {unknown} are not features of X; its features are {names}."
        )
        raise InvalidInputError(msg)
    return list(dict.fromkeys(features))


def audit(
    model: Any,
    X: Any,
    y: Any,
    *,
    sensitive: Any = None,
    expected_directions: dict[str, str] | None = None,
    categorical_features: Sequence[str] | None = None,
    n_explain: int = 200,
    seed: int | None = 0,
    progress: Callable[[str], None] | None = None,
) -> AuditResult:
    """Audit a fitted model on labelled data.

    Sections, in order (keys of ``sections``), each with a plain-language verdict:

    - ``performance``: overall metrics and calibration;
    - ``attributions``: global and local attributions by the fastest exact method that fits
      the model (TreeSHAP for tree ensembles), with standard errors over rows;
    - ``trust``: :func:`assay.trust.assess` on those attributions;
    - ``glassbox``: a GAM fitted on half of the rows, its accuracy gap and the shape anomalies
      (:func:`assay.glassbox.find_shape_anomalies`, using ``expected_directions``) tested on
      the other half;
    - ``fairness`` (with ``sensitive``): group metrics with bootstrap intervals and a
      :class:`assay.fairness.ProxyAudit`;
    - ``slices``: :func:`assay.slices.find_slices` on the model's errors;
    - ``monotonicity`` (with ``expected_directions``): do predictions move as declared?;
    - ``acquisition``: when some values are missing and the model accepts them, what to
      measure next.

    Sections whose components are not available for this model or data are omitted, never
    faked; the reason is recorded in ``meta["skipped"]``. Pass held-out rows: the failure
    slices and the glass-box comparison are only as honest as the data they see.

    Parameters
    ----------
    model : fitted model
        Anything :func:`assay.model.wrap` accepts.
    X : DataFrame or array of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
        True labels or targets.
    sensitive : DataFrame or array, optional
        Sensitive attributes (not model inputs) for the fairness section.
    expected_directions : dict, optional
        Declared directions such as ``{"creatinine": "increasing"}``.
    categorical_features : list of str, optional
        Integer-coded features whose values are labels, not amounts (e.g. a region code):
        the glass-box model fits one value per level and no shape test reads them as ordered.
    n_explain : int, default 200
        Rows sampled for attributions and per-row analyses.
    seed : int, default 0
    progress : callable, optional
        Called with a short message before each step.

    Returns
    -------
    AuditResult
        If interrupted (Ctrl-C), the sections finished so far, with ``meta["interrupted"]``.

    Examples
    --------
    >>> import assay
    >>> from assay.datasets import load_clinical
    >>> from sklearn.ensemble import HistGradientBoostingClassifier
    >>> data = load_clinical(n_samples=2000, seed=0)
    >>> model = HistGradientBoostingClassifier(max_iter=50).fit(data.X, data.y)
    >>> result = assay.audit(model, data.X, data.y, n_explain=5)
    >>> "performance" in result.sections
    True
    """
    seed = check_seed(seed)
    n_explain = check_int(n_explain, name="n_explain", minimum=1)
    started = time.perf_counter()
    say = progress or (lambda _msg: None)
    adapter = wrap(model)
    Xv, names = adapter.prepare(X)
    yv = as_vector(y, name="y", n_rows=Xv.shape[0], numeric=False)
    if sensitive is not None and len(sensitive) != Xv.shape[0]:
        msg = f"sensitive has {len(sensitive)} rows but X has {Xv.shape[0]}; they must match."
        raise InvalidInputError(msg)
    if expected_directions:
        unknown = [f for f in expected_directions if f not in names]
        bad = {
            f: d for f, d in expected_directions.items() if d not in ("increasing", "decreasing")
        }
        if unknown or bad:
            msg = (
                f"expected_directions: unknown features {unknown}, bad directions {bad}; use "
                "feature names of X with 'increasing' or 'decreasing'."
            )
            raise InvalidInputError(msg)
    categorical = _check_categorical(categorical_features, names)
    rng = np.random.default_rng(seed)
    explain_rows = _sample(Xv.shape[0], n_explain, rng)
    background = Xv[_sample(Xv.shape[0], 100, rng)]
    sens = _sensitive_frame(sensitive)
    state: dict[str, Any] = {}

    def attributions() -> dict[str, Any]:
        state["exp"] = compute_attributions(
            adapter, Xv, rows=explain_rows, background=background, seed=seed
        )
        return attribution_section(state["exp"], names)

    def trust() -> dict[str, Any] | None:
        if "exp" not in state:
            return None
        return trust_section(adapter.model, state["exp"], Xv, background=background, seed=seed)

    steps: list[tuple[str, str, Callable[[], dict[str, Any] | None]]] = [
        ("performance", "measuring performance", lambda: performance_section(adapter, Xv, yv)),
        ("attributions", "computing attributions", attributions),
        ("trust", "checking how far to trust the attributions", trust),
        (
            "glassbox",
            "fitting a glass-box GAM and testing its shapes",
            lambda: glassbox_section(
                adapter,
                Xv,
                yv,
                names,
                expected_directions=expected_directions,
                categorical_features=categorical,
                seed=seed,
            ),
        ),
        (
            "fairness",
            "auditing group metrics and proxies",
            lambda: fairness_section(adapter.model, adapter, Xv, yv, names, sens, seed=seed),
        ),
        (
            "slices",
            "searching for failure slices",
            lambda: slices_section(adapter, Xv, yv, names, seed=seed),
        ),
        (
            "monotonicity",
            "checking the expected directions",
            lambda: _monotonicity(adapter, Xv, expected_directions, seed),
        ),
        (
            "acquisition",
            "valuing missing measurements",
            lambda: acquisition_section(adapter, Xv, names, rows=explain_rows, seed=seed),
        ),
    ]
    sections: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    timings: dict[str, float] = {}
    cpu: dict[str, float] = {}
    interrupted = False
    for key, message, run in steps:
        say(message)
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            result = run()
        except KeyboardInterrupt:
            interrupted = True
            skipped[key] = "interrupted"
            break
        except _Skip as exc:
            skipped[key] = str(exc)
            continue
        except AssayError as exc:
            skipped[key] = f"could not run: {exc}"
            continue
        timings[key] = round(time.perf_counter() - t0, 3)
        cpu[key] = round(time.process_time() - c0, 3)
        if result is None:
            skipped[key] = _NOT_APPLICABLE.get(key, "not applicable to this model or data")
        else:
            sections[key] = result
    meta = {
        "model": type(adapter.model).__name__,
        "output_space": adapter.output_space,
        "n_rows": int(Xv.shape[0]),
        "n_features": int(Xv.shape[1]),
        "feature_names": names,
        "sensitive": [] if sens is None else [str(c) for c in sens.columns],
        "expected_directions": dict(expected_directions or {}),
        "categorical_features": categorical,
        "seed": seed,
        "seconds": round(time.perf_counter() - started, 3),
        "section_seconds": timings,
        "section_cpu_seconds": cpu,
        "skipped": skipped,
        "interrupted": interrupted,
    }
    return AuditResult(sections=sections, meta=meta)
