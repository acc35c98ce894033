"""``assay.audit``: run the tabular audit sections on a model and data set."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from assay._validation import as_vector, check_int, check_seed
from assay.auditing._acquisition import acquisition_section
from assay.auditing._attributions import attribution_section, compute_attributions
from assay.auditing._performance import performance_section
from assay.auditing._result import AuditResult
from assay.errors import AssayError, InvalidInputError
from assay.model import wrap

__all__ = ["audit"]


def _sample(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(n, size=min(size, n), replace=False))


def audit(
    model: Any,
    X: Any,
    y: Any,
    *,
    sensitive: Any = None,
    expected_directions: dict[str, str] | None = None,
    n_explain: int = 200,
    seed: int | None = 0,
    progress: Callable[[str], None] | None = None,
) -> AuditResult:
    """Audit a fitted model on labelled data.

    Sections, each with a plain-language verdict: performance (with calibration), what drives
    the predictions (the fastest exact attribution method that fits the model) and, when some
    values are missing and the model accepts them, what to measure next. Sections whose
    components are not available for this model or data are omitted, never faked; the reason
    is recorded in ``meta["skipped"]``.

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
    rng = np.random.default_rng(seed)
    explain_rows = _sample(Xv.shape[0], n_explain, rng)
    background = Xv[_sample(Xv.shape[0], 100, rng)]

    steps: list[tuple[str, str, Callable[[], dict[str, Any] | None]]] = [
        ("performance", "measuring performance", lambda: performance_section(adapter, Xv, yv)),
        (
            "attributions",
            "computing attributions",
            lambda: attribution_section(
                compute_attributions(
                    adapter, Xv, rows=explain_rows, background=background, seed=seed
                ),
                names,
            ),
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
    interrupted = False
    for key, message, run in steps:
        say(message)
        t0 = time.perf_counter()
        try:
            result = run()
        except KeyboardInterrupt:
            interrupted = True
            skipped[key] = "interrupted"
            break
        except AssayError as exc:
            skipped[key] = f"could not run: {exc}"
            continue
        timings[key] = round(time.perf_counter() - t0, 3)
        if result is None:
            skipped[key] = "not applicable to this model or data"
        else:
            sections[key] = result
    meta = {
        "model": type(adapter.model).__name__,
        "output_space": adapter.output_space,
        "n_rows": int(Xv.shape[0]),
        "n_features": int(Xv.shape[1]),
        "feature_names": names,
        "sensitive": []
        if sensitive is None
        else [str(c) for c in getattr(sensitive, "columns", [])],
        "expected_directions": dict(expected_directions or {}),
        "seed": seed,
        "seconds": round(time.perf_counter() - started, 3),
        "section_seconds": timings,
        "skipped": skipped,
        "interrupted": interrupted,
    }
    return AuditResult(sections=sections, meta=meta)
