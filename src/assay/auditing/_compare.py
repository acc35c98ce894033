"""``assay.compare``: a new model version against the one in use, on the same rows."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from assay._results import STATUSES, FromDict, ResultDisplay, check_kind, to_jsonable, worst_status
from assay._validation import as_vector, check_int, check_seed
from assay.errors import AssayError, InvalidInputError

__all__ = ["ComparisonResult", "compare"]

SECTION_KEYS = ("performance", "regressions", "flips", "attributions", "fairness")


@dataclass(frozen=True)
class ComparisonResult(FromDict, ResultDisplay):
    """The outcome of :func:`assay.compare`: what changed from the baseline to the new model.

    Attributes
    ----------
    status : {"ok", "warning", "alert"}
        The worst status of the sections.
    verdict : str
        One line: the overall change and the number of findings.
    key_changes : list of dict
        ``{section, title, status, message}`` of every section with a warning or an alert,
        worst first, then the overall metrics line (the report opens with them).
    sections : dict
        Section key -> section dict in the audit's shape (title, verdict, status, metrics,
        tables, figures, data with its decision ``rule``): ``performance``, ``regressions``,
        ``flips`` (classifiers), ``attributions``, ``fairness`` (with ``sensitive``).
    meta : dict
        Models, rows, features, alpha, seed, timings, and ``skipped`` sections with reasons.
    """

    status: str
    verdict: str
    key_changes: list[dict[str, Any]]
    sections: dict[str, dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict)
    SCHEMA_VERSION: ClassVar[int] = 1  # this kind's one schema version
    schema_version: int = SCHEMA_VERSION

    @property
    def findings(self) -> list[dict[str, Any]]:
        """Sections with a warning or an alert, worst first (``results.json``'s
        ``"findings"`` block; ``assay compare --fail-on`` reads it)."""
        from assay.auditing._gates import findings

        return findings(self.sections)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "ComparisonResult",
            "schema_version": self.schema_version,
            "status": self.status,
            "verdict": self.verdict,
            "key_changes": to_jsonable(self.key_changes),
            "findings": to_jsonable(self.findings),
            "sections": to_jsonable(self.sections),
            "meta": to_jsonable(self.meta),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ComparisonResult:
        """Rebuild from :meth:`to_dict` output (checked: kind, status, sections)."""
        if not isinstance(d, dict) or d.get("kind") != "ComparisonResult":
            kind = d.get("kind") if isinstance(d, dict) else type(d).__name__
            msg = (
                f"not an assay comparison result (kind={kind!r}); pass ComparisonResult.to_dict()."
            )
            raise InvalidInputError(msg)
        check_kind(cls, d)  # refuses a newer schema_version than this assay reads
        sections = d.get("sections")
        bad = [
            k for k, s in (sections or {}).items()
            if not isinstance(s, dict) or s.get("status") not in STATUSES
            or not isinstance(s.get("verdict"), str) or not isinstance(s.get("title"), str)
        ]  # fmt: skip
        if not isinstance(sections, dict) or bad or d.get("status") not in STATUSES:
            msg = (
                f"the comparison result is damaged (status {d.get('status')!r}, bad sections "
                f"{bad[:5]}); rerun `assay compare` to write a fresh results.json."
            )
            raise InvalidInputError(msg)
        return cls(
            status=d["status"],
            verdict=str(d.get("verdict", "")),
            key_changes=list(d.get("key_changes", [])),
            sections=sections,
            meta=dict(d.get("meta", {})),
            schema_version=int(d.get("schema_version", cls.SCHEMA_VERSION)),
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``results.json``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ComparisonResult:
        """Read a ``results.json`` written by :meth:`save`, as untrusted data (a regular file
        of at most 256 MiB, checked by :meth:`from_dict`)."""
        from assay._io import open_regular

        with open_regular(path, what="results file", max_bytes=256 * 2**20) as fh:
            raw = fh.read()
        try:
            d = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            msg = f"{str(path)!r} is not valid JSON ({str(exc)[:200]})."
            raise InvalidInputError(msg) from exc
        return cls.from_dict(d)

    def __repr__(self) -> str:
        parts = ", ".join(f"{k}={s['status']}" for k, s in self.sections.items())
        return f"ComparisonResult(status={self.status!r}, sections: {parts or 'none'})"


# -- inputs ---------------------------------------------------------------------------------


def _wrap(model: Any, which: str) -> Any:
    from assay.errors import ModelError
    from assay.model import wrap

    try:
        return wrap(model)
    except ModelError as exc:
        if "predict_proba" not in str(exc):
            raise
        msg = (
            f"the {which} model ({type(model).__name__}) is a classifier without predict_proba; "
            "compare scores both models per row with class probabilities (Brier score). Wrap "
            "it in sklearn.calibration.CalibratedClassifierCV, or compare probabilistic models."
        )
        raise InvalidInputError(msg) from exc


def _kind(adapter: Any, which: str) -> str:
    if not adapter.is_classifier:
        return "regression"
    if adapter.output_space != "probability":
        msg = (
            f"the {which} model is a classifier whose output is {adapter.output_space!r}; "
            "compare needs class probabilities (a model with predict_proba) to score both "
            "models per row."
        )
        raise InvalidInputError(msg)
    return "binary" if adapter.n_outputs == 2 else "multiclass"


def _columns_for(adapter: Any, X: Any) -> Any:
    """The columns of a DataFrame ``X`` that this model takes (models may take different ones)."""
    names = adapter.feature_names
    if hasattr(X, "columns") and names is not None and set(names) <= set(X.columns):
        return X[list(names)]
    return X


def _side(adapter: Any, X: Any, y_idx: np.ndarray | None, y: np.ndarray, kind: str) -> Any:
    from assay.auditing._compare_sections import Side

    Xm, names = adapter.prepare(_columns_for(adapter, X))
    out = np.asarray(adapter.predict(Xm), dtype=np.float64)
    if kind == "regression":
        loss = np.abs(out[:, 0] - y.astype(np.float64))
        decision = None
    else:
        onehot = np.zeros_like(out)
        onehot[np.arange(out.shape[0]), y_idx] = 1.0
        loss = ((out - onehot) ** 2).sum(axis=1)  # the Brier score of the row
        if out.shape[1] == 2:  # binary: (p - y)^2 of the positive class, as usually reported
            loss = loss / 2
        decision = out.argmax(axis=1)
    return Side(adapter=adapter, X=Xm, names=names, out=out, loss=loss, decision=decision)


def _slice_frame(X: Any, names: list[str], Xm: np.ndarray) -> Any:
    import pandas as pd

    if hasattr(X, "columns"):
        return X.reset_index(drop=True)
    return pd.DataFrame(Xm, columns=names)


def _sample(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(n, size=min(size, n), replace=False))


def compare(
    new: Any,
    baseline: Any,
    X: Any,
    y: Any,
    *,
    sensitive: Any = None,
    alpha: float = 0.05,
    seed: int | None = 0,
    tolerance: float = 0.1,
    n_explain: int = 200,
    progress: Callable[[str], None] | None = None,
) -> ComparisonResult:
    """Compare a new model version with the baseline in use, on the same labelled rows.

    The rows are shared, so every statistic is paired (differences are ``new - baseline``):

    - ``performance``: overall metrics of both models and their differences with paired
      intervals (DeLong for AUC, paired bootstrap for R², paired t-tests of per-row
      differences for accuracy, Brier score and absolute error), Holm-adjusted;
    - ``regressions``: subgroups where the new model is worse, found by
      :func:`assay.slices.find_slices` on the per-row loss difference (Brier score, or absolute
      error for regressors) with cross-fitting and false discovery rate ``alpha``, and kept
      when the loss difference on the confirming rows is above a margin (``tolerance``); with
      size and effect;
    - ``flips`` (classifiers): share of changed decisions, fixed against broken (McNemar),
      and confirmed subgroups where flips concentrate;
    - ``attributions``: each feature's share of the global attribution in both models on
      the same ``n_explain`` rows, the change with a paired bootstrap interval, rank changes,
      features newly relied on (a feature only one model takes counts 0 in the other);
    - ``fairness`` (with ``sensitive``): paired loss change per sensitive group, and new
      proxies: features the new model relies on significantly more that are associated with
      a sensitive attribute.

    Parameters
    ----------
    new, baseline : fitted models
        Anything :func:`assay.model.wrap` accepts; classifiers need ``predict_proba``. Both
        must predict the same classes (or both be regressors). They may take different
        feature columns of ``X`` (a DataFrame with the union of their columns).
    X : DataFrame or array (n_rows, n_features)
        Held-out rows, the same for both models.
    y : array-like (n_rows,)
        True labels or targets.
    sensitive : DataFrame, Series or array, optional
        Sensitive attributes (not model inputs), one row per row of ``X``.
    alpha : float, default 0.05
        Significance level (false discovery rate for the subgroup searches).
    seed : int, default 0
        Seed of the splits, samples and bootstraps; the same seed gives the same result.
    tolerance : float, default 0.1
        Smallest worsening that counts as a regression, as a share of the baseline's mean loss
        over all rows (0.1: a subgroup's loss must rise by more than 10% of that). Two versions
        of a model always differ a little somewhere; on many rows a negligible difference is
        significant, and this margin keeps it from raising an alert. 0 flags any worsening.
    n_explain : int, default 200
        Rows explained for the attribution shift.
    progress : callable, optional
        Called with a short message before each section.

    Returns
    -------
    ComparisonResult

    Examples
    --------
    >>> import assay
    >>> from assay.datasets import load_clinical
    >>> from sklearn.ensemble import HistGradientBoostingClassifier as GBM
    >>> d = load_clinical(n_samples=2000, seed=0)
    >>> X, y = d.X[:1000], d.y[:1000]
    >>> old = GBM(max_iter=50, random_state=0).fit(X, y)
    >>> new = GBM(max_iter=50, random_state=0).fit(X.drop(columns="creatinine"), y)
    >>> res = assay.compare(new, old, d.X[1000:], d.y[1000:], n_explain=20)
    >>> sorted(res.sections)
    ['attributions', 'flips', 'performance', 'regressions']
    """
    from assay.auditing._compare_sections import (
        flips_section,
        performance_section,
        regressions_section,
    )
    from assay.auditing._compare_shift import attribution_section, fairness_section, new_proxies
    from assay.auditing._labels import check_target, class_indices
    from assay.auditing._run import _check_alpha, _sensitive_frame

    seed = check_seed(seed)
    alpha = _check_alpha(alpha)
    n_explain = check_int(n_explain, name="n_explain", minimum=2)
    if (
        isinstance(tolerance, bool)
        or not isinstance(tolerance, (int, float))
        or not (0 <= tolerance < 10)
    ):
        msg = f"tolerance must be a number from 0 to 10 (e.g. 0.1 for 10%); got {tolerance!r}."
        raise InvalidInputError(msg)
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    a_new, a_base = _wrap(new, "new"), _wrap(baseline, "baseline")
    Xn, names_new = a_new.prepare(_columns_for(a_new, X))
    yv = as_vector(y, name="y", n_rows=Xn.shape[0], numeric=False)
    check_target(yv)
    a_new.predict(Xn[:2])
    a_base.predict(a_base.prepare(_columns_for(a_base, X))[0][:2])
    kind, kind_base = _kind(a_new, "new"), _kind(a_base, "baseline")
    if kind != kind_base or (kind != "regression" and a_new.output_names != a_base.output_names):
        msg = (
            f"the two models do not answer the same question: new is a {kind} model with outputs "
            f"{a_new.output_names}, baseline a {kind_base} model with outputs "
            f"{a_base.output_names}; compare versions of one model (same classes or both "
            "regressors)."
        )
        raise InvalidInputError(msg)
    y_idx = class_indices(a_new.output_names, yv) if kind != "regression" else None
    if kind == "regression":
        from assay.auditing._run import _numeric_target

        yv = _numeric_target(yv, "y")
    n = Xn.shape[0]
    if n < 20:
        msg = f"X has {n} rows; a paired comparison needs at least 20 held-out rows."
        raise InvalidInputError(msg)
    sens = _sensitive_frame(sensitive)
    if sens is not None and len(sens) != n:
        msg = f"sensitive has {len(sens)} rows but X has {n}; they must match."
        raise InvalidInputError(msg)
    s_new = _side(a_new, X, y_idx, yv, kind)
    s_base = _side(a_base, X, y_idx, yv, kind)
    frame = _slice_frame(X, names_new, Xn)
    loss_name = "absolute error" if kind == "regression" else "Brier score"
    rng = np.random.default_rng(seed)
    explain_rows = _sample(n, n_explain, rng)
    background = _sample(n, 100, rng)

    def attributions() -> dict[str, Any]:
        from assay._explain import explain

        exps = [
            explain(s.adapter, s.X[explain_rows], background=s.X[background], seed=seed)
            for s in (s_new, s_base)
        ]
        return attribution_section(
            exps[0], exps[1], s_new.names, s_base.names, alpha=alpha, seed=seed
        )

    def fairness() -> dict[str, Any] | None:
        if sens is None:
            return None
        shift = sections.get("attributions", {}).get("data", {}).get("features", [])
        more = [f["feature"] for f in shift if f["in_new"] and f["change"] > 0
                and f["p_adjusted"] <= alpha]  # fmt: skip
        proxies = new_proxies(s_new.X, s_new.names, sens, more, alpha=alpha)
        return fairness_section(sens, s_new, s_base, y_idx, loss_name=loss_name, alpha=alpha,
                                tolerance=tolerance, proxies=proxies)  # fmt: skip

    sections: dict[str, dict[str, Any]] = {}
    steps: list[tuple[str, str, Callable[[], dict[str, Any] | None], str]] = [
        ("performance", "comparing overall metrics",
         lambda: performance_section(s_new, s_base, y_idx, yv, kind=kind, alpha=alpha,
                                     seed=seed, tolerance=tolerance), ""),
        ("regressions", "searching for subgroups where the new model is worse",
         lambda: regressions_section(frame, s_new, s_base, y_idx, loss_name=loss_name,
                                     alpha=alpha, seed=seed, tolerance=tolerance), ""),
        ("flips", "counting decision flips",
         lambda: None if y_idx is None else flips_section(frame, s_new, s_base, y_idx,
                                                          alpha=alpha, seed=seed),
         "a regressor makes no class decisions"),
        ("attributions", "comparing attributions", attributions, ""),
        ("fairness", "comparing sensitive groups", fairness,
         "no sensitive attribute given (pass sensitive=, or --sensitive COL)"),
    ]  # fmt: skip
    skipped: dict[str, str] = {}
    timings: dict[str, float] = {}
    interrupted = False
    for key, message, run, why in steps:
        if interrupted:
            skipped[key] = "interrupted (Ctrl-C) before this section ran"
            continue
        say(message)
        t0 = time.perf_counter()
        try:
            sec = run()
        except KeyboardInterrupt:
            interrupted = True
            skipped[key] = "interrupted (Ctrl-C) while this section ran"
            continue
        except AssayError as exc:
            skipped[key] = f"could not run: {exc}"
            continue
        timings[key] = round(time.perf_counter() - t0, 3)
        if sec is None:
            skipped[key] = why
        else:
            sections[key] = sec
    from assay.auditing._gates import findings

    key_changes = findings(sections)
    perf = sections.get("performance")
    if perf is not None and perf["status"] == "ok":
        key_changes.append({"section": "performance", "title": perf["title"], "status": "ok",
                            "message": perf["verdict"]})  # fmt: skip
    status = worst_status(s["status"] for s in sections.values())
    n_find = len(findings(sections))
    verdict = (
        f"{n_find} finding(s) comparing {type(a_new.model).__name__} (new) with "
        f"{type(a_base.model).__name__} (baseline) on {n:,} rows"
        + (": " + "; ".join(f"{f['title']} ({f['status']})" for f in key_changes[:n_find])
           if n_find else ": nothing worse found at the tested level")
        + "."
    )  # fmt: skip
    meta = {
        "model_new": type(a_new.model).__name__,
        "model_baseline": type(a_base.model).__name__,
        "task": kind,
        "n_rows": int(n),
        "features_new": names_new,
        "features_baseline": s_base.names,
        "sensitive": [] if sens is None else [str(c) for c in sens.columns],
        "loss": loss_name,
        "tolerance": float(tolerance),
        "alpha": alpha,
        "seed": seed,
        "n_explain": int(explain_rows.size),
        "seconds": round(time.perf_counter() - started, 3),
        "section_seconds": timings,
        "skipped": skipped,
        "interrupted": interrupted,
    }
    return ComparisonResult(
        status=status, verdict=verdict, key_changes=key_changes, sections=sections, meta=meta
    )
