"""Result objects of the fairness tools: neutralization report and trade-off curve."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from assay._results import FromDict, ResultDisplay, to_jsonable
from assay.errors import InvalidInputError

__all__ = ["NeutralizationReport", "TradeoffCurve"]


@dataclass(frozen=True, eq=False)
class NeutralizationReport(ResultDisplay, FromDict):
    """What neutralizing a sensitive feature did, overall and within each group.

    Attributes
    ----------
    groups : list of str
        Group labels (the levels of the sensitive feature, or the ``sensitive`` labels given).
    n : ndarray of int (n_groups,)
    mean_before, mean_after : ndarray (n_groups,)
        Mean prediction per group from the original and the neutralized model.
    direct_effect_before, direct_effect_after : ndarray (n_groups,)
        Mean over the group's rows of ``max - min`` prediction when the sensitive feature is set
        to each level (the flip test). ``direct_effect_after`` is zero by construction.
    within_group_rank_correlation : ndarray (n_groups,)
        Spearman correlation of original and neutralized predictions inside each group: 1 means
        neutralization only shifted the group; lower values mean it reordered people inside the
        group (a within-group effect, cf. Lipton et al. 2018).
    auc_before, auc_after : float or None
        ROC AUC of the two models when labels were given.
    levels : list
        The levels marginalized over, and ``weights`` their weights.
    weights : list of float
    reference : str
    params : dict
    """

    groups: list[str]
    n: np.ndarray
    mean_before: np.ndarray
    mean_after: np.ndarray
    direct_effect_before: np.ndarray
    direct_effect_after: np.ndarray
    within_group_rank_correlation: np.ndarray
    auc_before: float | None
    auc_after: float | None
    levels: list[Any]
    weights: list[float]
    reference: str
    params: dict[str, Any] = field(default_factory=dict)
    SCHEMA_VERSION: ClassVar[int] = 1  # this kind's one schema version
    schema_version: int = SCHEMA_VERSION

    def to_frame(self) -> Any:
        """One row per group."""
        import pandas as pd

        return pd.DataFrame(
            {
                "n": self.n,
                "mean_before": self.mean_before,
                "mean_after": self.mean_after,
                "shift": self.mean_after - self.mean_before,
                "direct_effect_before": self.direct_effect_before,
                "direct_effect_after": self.direct_effect_after,
                "within_group_rank_correlation": self.within_group_rank_correlation,
            },
            index=pd.Index(self.groups, name="group"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "NeutralizationReport",
            "schema_version": self.schema_version,
            "groups": list(self.groups),
            "n": [int(v) for v in self.n],
            **{
                k: to_jsonable(np.asarray(getattr(self, k), dtype=np.float64))
                for k in ("mean_before", "mean_after", "direct_effect_before",
                          "direct_effect_after", "within_group_rank_correlation")
            },
            "auc_before": to_jsonable(self.auc_before),
            "auc_after": to_jsonable(self.auc_after),
            "levels": to_jsonable(self.levels),
            "weights": to_jsonable(self.weights),
            "reference": to_jsonable(self.reference),
            "params": to_jsonable(self.params),
        }


@dataclass(frozen=True, eq=False)
class TradeoffCurve(ResultDisplay, FromDict):
    """Accuracy against fairness along a sweep of the invariance-penalty weight.

    Attributes
    ----------
    weights : ndarray (n_points,)
        Penalty weights, increasing.
    auc, accuracy : ndarray (n_points,)
        Held-out ROC AUC and accuracy (threshold 0.5).
    dp_difference : ndarray (n_points,)
        Held-out demographic-parity difference of the thresholded predictions.
    score_gap : ndarray (n_points,)
        Held-out difference of mean predicted probability between groups (max - min).
    counterfactual_gap : ndarray (n_points,)
        Held-out mean ``|p(x) - p(x_cf)|`` between rows and their counterfactuals.
    penalty : str
        ``"counterfactual"`` or ``"mmd"``.
    params : dict
    """

    weights: np.ndarray
    auc: np.ndarray
    accuracy: np.ndarray
    dp_difference: np.ndarray
    score_gap: np.ndarray
    counterfactual_gap: np.ndarray
    penalty: str
    params: dict[str, Any] = field(default_factory=dict)
    SCHEMA_VERSION: ClassVar[int] = 1  # this kind's one schema version
    schema_version: int = SCHEMA_VERSION

    def is_monotone(self, metric: str = "dp_difference", *, tol: float = 0.0) -> bool:
        """Whether ``metric`` never increases by more than ``tol`` along the sweep."""
        if metric not in ("dp_difference", "score_gap", "counterfactual_gap"):
            msg = (
                "metric must be 'dp_difference', 'score_gap' or 'counterfactual_gap'; "
                f"got {metric!r}."
            )
            raise InvalidInputError(msg)
        v = np.asarray(getattr(self, metric))
        return bool(np.all(np.diff(v) <= tol))

    def to_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame(
            {
                "weight": self.weights,
                "auc": self.auc,
                "accuracy": self.accuracy,
                "dp_difference": self.dp_difference,
                "score_gap": self.score_gap,
                "counterfactual_gap": self.counterfactual_gap,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "TradeoffCurve",
            "schema_version": self.schema_version,
            **{
                k: to_jsonable(np.asarray(getattr(self, k), dtype=np.float64))
                for k in ("weights", "auc", "accuracy", "dp_difference", "score_gap",
                          "counterfactual_gap")
            },
            "penalty": to_jsonable(self.penalty),
            "params": to_jsonable(self.params),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TradeoffCurve:
        if d.get("kind") != "TradeoffCurve":
            msg = f"not a TradeoffCurve dict (kind={d.get('kind')!r})."
            raise InvalidInputError(msg)
        arr = lambda k: np.array(d[k], dtype=np.float64)  # noqa: E731 - None -> nan
        return cls(
            weights=arr("weights"),
            auc=arr("auc"),
            accuracy=arr("accuracy"),
            dp_difference=arr("dp_difference"),
            score_gap=arr("score_gap"),
            counterfactual_gap=arr("counterfactual_gap"),
            penalty=d["penalty"],
            params=d.get("params", {}),
        )
