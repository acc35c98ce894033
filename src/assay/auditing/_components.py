"""Component to system: how much of a system's error each component is responsible for.

A system is a chain of components (a fitted scikit-learn ``Pipeline``, or ``(name, function)``
steps whose last one predicts). For a component whose correct output is known for the rows (its
*reference*: measured values, a better upstream system, a human label), the component is
replaced by that reference and the rest of the chain run on it; the drop of the system's
per-row loss is what a perfect version of that component would gain. The rows are shared, so
each gain is a paired mean with a t interval.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from assay._results import STATUSES, FromDict, ResultDisplay, check_kind, to_jsonable
from assay.errors import InvalidInputError

__all__ = ["ComponentGains", "component_gains"]


@dataclass(frozen=True)
class ComponentGains(FromDict, ResultDisplay):
    """The outcome of :func:`component_gains`.

    Attributes
    ----------
    status : {"ok", "warning"}
        "warning" when some component's reference lowers the system's loss significantly by
        more than ``tolerance`` of it: that component limits the system.
    verdict : str
        Which component to improve first, in words.
    loss : str
        The per-row loss ("Brier score" or "absolute error") and ``loss_system`` its mean.
    components : list of dict
        Per referenced component: ``name``, ``loss_with_reference``, ``gain`` (system loss
        minus loss with the reference; positive: the reference helps), ``ci_low``, ``ci_high``,
        ``p_value``, ``share`` (gain / system loss); best gain first.
    """

    status: str
    verdict: str
    loss: str
    loss_system: float
    components: list[dict[str, Any]]
    alpha: float = 0.05
    tolerance: float = 0.1
    SCHEMA_VERSION: ClassVar[int] = 1  # this kind's one schema version
    schema_version: int = SCHEMA_VERSION
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(
            {
                "kind": "ComponentGains",
                "schema_version": self.schema_version,
                "status": self.status,
                "verdict": self.verdict,
                "loss": self.loss,
                "loss_system": self.loss_system,
                "components": self.components,
                "alpha": self.alpha,
                "tolerance": self.tolerance,
                "meta": self.meta,
            }
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ComponentGains:
        """Rebuild from :meth:`to_dict` output."""
        if not isinstance(d, dict) or d.get("kind") != "ComponentGains":
            msg = "not a ComponentGains result; pass ComponentGains.to_dict() output."
            raise InvalidInputError(msg)
        check_kind(cls, d)  # refuses a newer schema_version than this assay reads
        if d.get("status") not in STATUSES or not isinstance(d.get("components"), list):
            msg = f"damaged ComponentGains result (status {d.get('status')!r})."
            raise InvalidInputError(msg)
        return cls(
            status=d["status"],
            verdict=str(d.get("verdict", "")),
            loss=str(d.get("loss", "")),
            loss_system=float(d.get("loss_system", float("nan"))),
            components=list(d["components"]),
            alpha=float(d.get("alpha", 0.05)),
            tolerance=float(d.get("tolerance", 0.1)),
            schema_version=int(d.get("schema_version", cls.SCHEMA_VERSION)),
            meta=dict(d.get("meta", {})),
        )


def _chain(system: Any) -> tuple[list[tuple[str, Callable[[Any], Any]]], Any]:
    """(named transform steps, final predictor) of a Pipeline or of ``(name, fn)`` steps."""
    steps = getattr(system, "steps", None)
    if steps is not None:  # a fitted scikit-learn Pipeline
        return [(str(n), est.transform) for n, est in steps[:-1]], steps[-1][1]

    def usable(step: Any, last: bool) -> bool:
        if not (isinstance(step, tuple) and len(step) == 2 and isinstance(step[0], str)):
            return False
        obj = step[1]
        if last:
            return callable(obj) or hasattr(obj, "predict") or hasattr(obj, "predict_proba")
        return callable(obj) or hasattr(obj, "transform")

    if (
        isinstance(system, Sequence)
        and len(system) >= 2
        and all(usable(st, i == len(system) - 1) for i, st in enumerate(system))
    ):
        chain = [(n, f if callable(f) else f.transform) for n, f in system[:-1]]
        return chain, system[-1][1]
    msg = (
        f"system must be a fitted scikit-learn Pipeline or a list of at least two (name, "
        f"function) steps, the last one predicting; got {type(system).__name__}."
    )
    raise InvalidInputError(msg)


def _predict(final: Any, Z: Any, classifier: bool) -> np.ndarray:
    if hasattr(final, "predict_proba") and classifier:
        return np.asarray(final.predict_proba(Z), dtype=np.float64)
    if hasattr(final, "predict"):
        return np.asarray(final.predict(Z), dtype=np.float64).reshape(len(Z), -1)
    return np.asarray(final(Z), dtype=np.float64).reshape(len(Z), -1)


def component_gains(
    system: Any,
    X: Any,
    y: Any,
    *,
    references: dict[str, Any],
    task: str = "auto",
    alpha: float = 0.05,
    tolerance: float = 0.1,
) -> ComponentGains:
    """What the system would gain if each referenced component were perfect.

    For every component named in ``references``, its output is replaced by the reference
    (its correct output on these rows) and the rest of the chain run on it; the gain is the
    system's mean per-row loss minus the loss with the reference (Brier score for a
    classifier's probabilities, absolute error otherwise), with a paired t interval.

    Parameters
    ----------
    system : Pipeline or list of (name, function)
        A fitted scikit-learn ``Pipeline`` (components: its steps before the last; the last
        predicts), or ``[(name, step), ..., (name, predictor)]`` where each step is a function
        of the previous output (or has ``transform``) and the predictor has
        ``predict_proba``/``predict`` or is a function.
    X : array-like or DataFrame
        System inputs (rows shared by every variant).
    y : array-like
        True outcomes: class labels ``0..K-1`` (classifier) or numbers.
    references : dict
        ``{component name: its correct output for the rows}``, the same shape as the output.
    task : {"auto", "classification", "regression"}
        "auto": classification when the predictor has ``predict_proba``.
    alpha : float, default 0.05
    tolerance : float, default 0.1
        A gain counts (status "warning") when it is significantly above this share of the
        system's loss.

    Returns
    -------
    ComponentGains

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=500)
    >>> y = z + rng.normal(scale=0.1, size=500)
    >>> noisy = lambda X: X[:, 0] + rng.normal(scale=1.0, size=len(X))   # an estimate of z
    >>> system = [("estimate", noisy), ("predict", lambda e: e)]
    >>> res = component_gains(system, z[:, None], y, references={"estimate": z})
    >>> res.components[0]["name"], bool(res.components[0]["ci_low"] > 0)
    ('estimate', True)
    """
    from assay.auditing._compare_sections import p_above, paired_mean
    from assay.auditing._run import _check_alpha

    alpha = _check_alpha(alpha)
    steps, final = _chain(system)
    names = [n for n, _ in steps]
    unknown = [k for k in references if k not in names]
    if unknown or not references:
        msg = (
            f"references name components {unknown or '(none)'}; the system's components are "
            f"{names}. Pass {{name: correct output}} for at least one of them."
        )
        raise InvalidInputError(msg)
    if task not in ("auto", "classification", "regression"):
        msg = f"task must be 'auto', 'classification' or 'regression'; got {task!r}."
        raise InvalidInputError(msg)
    classifier = hasattr(final, "predict_proba") if task == "auto" else task == "classification"
    outputs = [X]
    for _, fn in steps:
        outputs.append(fn(outputs[-1]))
    yv = np.asarray(y)
    n = len(yv)

    def loss_from(start: int, value: Any) -> np.ndarray:
        """Per-row loss with component ``start``'s output replaced by ``value``."""
        out = value
        for _, fn in steps[start + 1 :]:
            out = fn(out)
        pred = _predict(final, out, classifier)
        if pred.shape[0] != n:
            msg = f"the system returned {pred.shape[0]} rows for {n} outcomes."
            raise InvalidInputError(msg)
        if classifier:
            onehot = np.zeros_like(pred)
            onehot[np.arange(n), yv.astype(np.int64)] = 1.0
            brier = ((pred - onehot) ** 2).sum(axis=1)
            return brier / 2 if pred.shape[1] == 2 else brier
        return np.abs(pred[:, 0] - yv.astype(np.float64))

    base = loss_from(-1, X)  # the system as it is
    rows = []
    for name, ref in references.items():
        k = names.index(name)
        ref_arr = np.asarray(ref)
        if np.shape(ref_arr)[:1] != np.shape(np.asarray(outputs[k + 1]))[:1]:
            msg = (
                f"references[{name!r}] has {np.shape(ref_arr)[:1]} rows; the component's output "
                f"has {np.shape(np.asarray(outputs[k + 1]))[:1]}."
            )
            raise InvalidInputError(msg)
        with_ref = loss_from(k, ref)
        res = paired_mean(base - with_ref, alpha)
        margin = tolerance * float(base.mean())
        rows.append(
            {
                "name": name,
                "loss_with_reference": float(with_ref.mean()),
                "gain": res["estimate"],
                "ci_low": res["ci_low"],
                "ci_high": res["ci_high"],
                "p_value": res["p_value"],
                "share": res["estimate"] / float(base.mean()) if base.mean() > 0 else float("nan"),
                "p_beyond_tolerance": float(p_above(base - with_ref, margin)),
            }
        )
    rows.sort(key=lambda r: -r["gain"])
    from assay.fairness._compare import adjust_pvalues

    p_adj = adjust_pvalues(np.array([r["p_beyond_tolerance"] for r in rows]), "holm")
    for r, pa in zip(rows, p_adj, strict=True):
        r["limits_system"] = bool(pa <= alpha)
    loss = "Brier score" if classifier else "absolute error"
    top = rows[0]
    verdict = (
        f"System {loss} {base.mean():.3g}. With its reference, {top['name']} would change it "
        f"to {top['loss_with_reference']:.3g} (gain {top['gain']:+.3g}, "
        f"{100 * (1 - alpha):g}% CI {top['ci_low']:+.3g} to {top['ci_high']:+.3g}, "
        f"{100 * top['share']:.0f}% of the loss)"
    )
    verdict += (
        f": improve {top['name']} first."
        if top["limits_system"]
        else f"; no component is shown to hold back more than {100 * tolerance:g}% of the loss."
    )
    if len(rows) > 1:
        verdict += (
            " Others: "
            + "; ".join(
                f"{r['name']} {r['gain']:+.3g} ({100 * r['share']:.0f}%)" for r in rows[1:4]
            )
            + "."
        )
    return ComponentGains(
        status="warning" if any(r["limits_system"] for r in rows) else "ok",
        verdict=verdict,
        loss=loss,
        loss_system=float(base.mean()),
        components=rows,
        alpha=alpha,
        tolerance=float(tolerance),
        meta={"components": names, "n_rows": int(n)},
    )
