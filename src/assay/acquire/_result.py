"""The :class:`ValueOfInformation` result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from assay._results import FromDict, ResultDisplay
from assay.errors import InvalidInputError

__all__ = ["ValueOfInformation"]


def _nan_to_none(a: np.ndarray) -> list[Any]:
    return np.where(np.isnan(a), None, a).tolist()


@dataclass(frozen=True, eq=False)
class ValueOfInformation(ResultDisplay, FromDict):
    """Per-row value of measuring each candidate feature.

    Attributes
    ----------
    values : ndarray (n_rows, n_candidates)
        Expected loss reduction from measuring the candidate; NaN where it is already measured.
    stderr : ndarray (n_rows, n_candidates)
        Monte Carlo standard error of ``values``.
    decision_change : ndarray (n_rows, n_candidates)
        Share of plausible values that change the decision at ``threshold`` (NaN for
        regression).
    prediction : ndarray (n_rows, n_outputs)
        The model's output now, before measuring.
    candidates : list of str
    cost : list of float or None
    loss : str
    threshold : float
    params : dict
    """

    values: np.ndarray
    stderr: np.ndarray
    decision_change: np.ndarray
    prediction: np.ndarray
    candidates: list[str]
    cost: list[float] | None
    loss: str
    threshold: float
    params: dict[str, Any] = field(default_factory=dict)
    SCHEMA_VERSION: ClassVar[int] = 1  # this kind's one schema version
    schema_version: int = SCHEMA_VERSION

    def ranking(self, rows: Any = None) -> list[dict[str, Any]]:
        """Candidates ranked by mean value over the rows where each is missing.

        Parameters
        ----------
        rows : boolean mask or indices, optional
            Restrict the ranking to these rows (e.g. the uncertain ones).

        Returns
        -------
        list of dict
            ``feature, mean_value, stderr, n_rows, decision_change`` and, with costs,
            ``value_per_cost``; best first (by value per cost when costs are given).
        """
        vals = self.values if rows is None else self.values[rows]
        ses = self.stderr if rows is None else self.stderr[rows]
        chg = self.decision_change if rows is None else self.decision_change[rows]
        out = []
        for c, name in enumerate(self.candidates):
            mask = ~np.isnan(vals[:, c])
            m = int(mask.sum())
            if m == 0:
                continue
            v = vals[mask, c]
            # stderr of a mean of per-row estimates: between-row spread plus Monte Carlo error
            se = (
                float(np.sqrt(np.var(v, ddof=1) / m + np.mean(ses[mask, c] ** 2) / m))
                if m > 1
                else float(ses[mask, c][0])
            )
            entry = {
                "feature": name,
                "mean_value": float(v.mean()),
                "stderr": se,
                "n_rows": m,
                "decision_change": None
                if np.isnan(chg[mask, c]).all()
                else float(np.nanmean(chg[mask, c])),
            }
            if self.cost is not None:
                entry["cost"] = self.cost[c]
                entry["value_per_cost"] = entry["mean_value"] / self.cost[c]
            out.append(entry)
        key = "value_per_cost" if self.cost is not None else "mean_value"
        return sorted(out, key=lambda e: -e[key])

    def recommend(self, row: int) -> str:
        """A plain-language recommendation for one row."""
        if not 0 <= row < self.values.shape[0]:
            msg = f"row {row} is out of range for {self.values.shape[0]} rows."
            raise InvalidInputError(msg)
        v = self.values[row]
        if np.isnan(v).all():
            return f"row {row}: nothing to measure (no candidate is missing)."
        c = int(np.nanargmax(v))
        unit = {
            "log_loss": "expected log-loss reduction",
            "entropy": "expected entropy reduction",
            "squared_error": "expected squared-error reduction",
        }[self.loss]
        text = f"measure {self.candidates[c]}: {unit} {v[c]:.3g} ± {self.stderr[row, c]:.2g}"
        chg = self.decision_change[row, c]
        if not np.isnan(chg):
            text += f"; the decision changes for {chg:.0%} of plausible values"
        return text + "."

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "ValueOfInformation",
            "schema_version": self.schema_version,
            "candidates": self.candidates,
            "cost": self.cost,
            "loss": self.loss,
            "threshold": self.threshold,
            "params": self.params,
            "values": _nan_to_none(self.values),
            "stderr": _nan_to_none(self.stderr),
            "decision_change": _nan_to_none(self.decision_change),
            "prediction": self.prediction.tolist(),
            "ranking": self.ranking(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ValueOfInformation:
        if d.get("kind") != "ValueOfInformation":
            msg = f"not a ValueOfInformation dict (kind={d.get('kind')!r})."
            raise InvalidInputError(msg)
        arr = lambda k: np.array(d[k], dtype=np.float64)  # noqa: E731 - None -> nan
        return cls(
            values=arr("values"),
            stderr=arr("stderr"),
            decision_change=arr("decision_change"),
            prediction=arr("prediction"),
            candidates=list(d["candidates"]),
            cost=d["cost"],
            loss=d["loss"],
            threshold=d["threshold"],
            params=d["params"],
            schema_version=d["schema_version"],
        )
