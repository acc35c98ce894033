"""The audit's sections, listed once: key, progress message, function and 'not included' reason.

A section function takes the :class:`AuditContext` and returns a section dict (see
``_section.py``) or None when it does not apply. To add a section, write its function in its own
module and add one :class:`Step` below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from assay.auditing._context import AuditContext

__all__ = ["STEPS", "SkipSection", "Step"]


class SkipSection(Exception):
    """A section that cannot run here; its message is the reason listed under 'Not included'."""


@dataclass(frozen=True)
class Step:
    key: str
    message: str
    run: Callable[[AuditContext], dict[str, Any] | None]
    not_applicable: str = "not applicable to this model or data"


def _performance(ctx: AuditContext) -> dict[str, Any]:
    from assay.auditing._performance import performance_section

    return performance_section(
        ctx.adapter, ctx.X, ctx.y, alpha=ctx.alpha, seed=ctx.seed,
        X_train=ctx.X_train, y_train=ctx.y_train,
    )  # fmt: skip


def _attributions(ctx: AuditContext) -> dict[str, Any]:
    from assay.auditing._attributions import attribution_section, compute_attributions

    ctx.state["exp"] = compute_attributions(
        ctx.adapter, ctx.X, rows=ctx.explain_rows, background=ctx.background, seed=ctx.seed
    )
    return attribution_section(
        ctx.state["exp"], ctx.names, label=ctx.label, categorical=ctx.categorical
    )


def _trust(ctx: AuditContext) -> dict[str, Any] | None:
    from assay.auditing._trust import trust_section

    if "exp" not in ctx.state:
        return None
    return trust_section(
        ctx.adapter, ctx.state["exp"], ctx.X, background=ctx.background, seed=ctx.seed,
        alpha=ctx.alpha,
    )  # fmt: skip


def _glassbox(ctx: AuditContext) -> dict[str, Any] | None:
    from assay.auditing._glassbox import glassbox_section

    return glassbox_section(
        ctx.adapter, ctx.X, ctx.y, ctx.names,
        expected_directions=ctx.expected_directions, categorical_features=ctx.categorical,
        seed=ctx.seed, alpha=ctx.alpha, X_train=ctx.X_train, y_train=ctx.y_train,
        label=ctx.label,
    )  # fmt: skip


def _fairness(ctx: AuditContext) -> dict[str, Any] | None:
    from assay.auditing._fairness import fairness_section

    return fairness_section(
        ctx.adapter, ctx.adapter, ctx.X, ctx.y, ctx.names, ctx.sensitive, seed=ctx.seed,
        alpha=ctx.alpha,
    )  # fmt: skip


def _slices(ctx: AuditContext) -> dict[str, Any] | None:
    from assay.auditing._slices import slices_section

    return slices_section(
        ctx.adapter, ctx.X, ctx.y, ctx.names, seed=ctx.seed, alpha=ctx.alpha,
        value_labels=ctx.value_labels,
    )  # fmt: skip


def _monotonicity(ctx: AuditContext) -> dict[str, Any] | None:
    if not ctx.expected_directions:
        return None
    try:  # written separately; the audit must run without it
        from assay.auditing._monotonicity import monotonicity_section
    except ImportError as exc:
        msg = f"the monotonicity check is not available in this installation ({exc})"
        raise SkipSection(msg) from exc
    return monotonicity_section(ctx.adapter, ctx.X, ctx.expected_directions, seed=ctx.seed)


def _acquisition(ctx: AuditContext) -> dict[str, Any] | None:
    from assay.auditing._acquisition import acquisition_section

    return acquisition_section(ctx.adapter, ctx.X, ctx.names, rows=ctx.explain_rows, seed=ctx.seed)


STEPS: tuple[Step, ...] = (
    Step("performance", "measuring performance", _performance),
    Step(
        "attributions",
        "computing attributions",
        _attributions,
    ),
    Step(
        "trust",
        "checking how far to trust the attributions",
        _trust,
        "no attributions to check",
    ),
    Step(
        "glassbox",
        "fitting a glass-box GAM and testing its shapes",
        _glassbox,
        "the glass-box comparison needs a binary classifier or a regressor",
    ),
    Step(
        "fairness",
        "auditing group metrics and proxies",
        _fairness,
        "no sensitive attribute given (pass sensitive=, or --sensitive COL)",
    ),
    Step("slices", "searching for failure slices", _slices),
    Step(
        "monotonicity",
        "checking the expected directions",
        _monotonicity,
        "no expected directions given (pass expected_directions=, or --expect)",
    ),
    Step(
        "acquisition",
        "valuing missing measurements",
        _acquisition,
        "no missing values that the model accepts",
    ),
)
