"""Fairness and sensitive features: group metrics, proxy audit, neutralization, invariance.

- :class:`GroupMetrics` -- per-group metrics with denominators, differences, ratios and
  bootstrap intervals (fairlearn's ``MetricFrame`` with fixed return types);
  :meth:`GroupMetrics.compare` gives signed differences and ratios between groups with
  permutation tests, Holm-adjusted p-values, score intervals and the four-fifths rule
  (a :class:`GroupComparison`).
- :class:`ProxyAudit` -- which features stand in for a sensitive attribute (pairwise, jointly)
  and how much of the model's group gap flows through them.
- :func:`neutralize` -- marginalize a sensitive input over its population distribution.
- :class:`InvariantMLPClassifier`, :func:`train_invariant`, :func:`invariance_sweep` --
  invariance-penalized training (PyTorch, imported lazily).
"""

from typing import Any

from assay.fairness._compare import GroupComparison
from assay.fairness._group_metrics import (
    GroupMetrics,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equal_opportunity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
)
from assay.fairness._neutralize import NeutralizedModel, neutralize
from assay.fairness._proxy import ProxyAudit
from assay.fairness._result import NeutralizationReport, TradeoffCurve

_LAZY = {"InvariantMLPClassifier", "train_invariant", "invariance_sweep", "counterfactual_rows"}


def __getattr__(name: str) -> Any:
    # the invariance helpers need torch; import them only when asked for
    if name in _LAZY:
        from assay.fairness import _invariance

        return getattr(_invariance, name)
    msg = f"module 'assay.fairness' has no attribute {name!r}"
    raise AttributeError(msg)


__all__ = [
    "GroupComparison",
    "GroupMetrics",
    "InvariantMLPClassifier",
    "NeutralizationReport",
    "NeutralizedModel",
    "ProxyAudit",
    "TradeoffCurve",
    "counterfactual_rows",
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equal_opportunity_difference",
    "equal_opportunity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "invariance_sweep",
    "neutralize",
    "train_invariant",
]
