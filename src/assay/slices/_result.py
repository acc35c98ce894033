"""Result objects of :func:`assay.slices.find_slices`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from assay._results import FromDict, ResultDisplay, dataclass_from_dict, to_jsonable

__all__ = ["Slice", "SliceReport"]


def _fmt_num(v: Any) -> str:
    return "n/a" if v is None else f"{v:.3g}"


def _fmt_p(p: float) -> str:
    return f"{p:.2g}" if p >= 1e-4 else f"{p:.0e}"


@dataclass(frozen=True, eq=False)
class Slice(ResultDisplay, FromDict):
    """One subgroup of rows: a conjunction of predicates and its confirmed statistics.

    Statistics (``metric_*``, ``effect``, ``p_value``) come from the *confirmation* rows, which
    played no part in finding the slice; ``support`` counts all input rows.

    Attributes
    ----------
    predicates : list of tuple
        ``(feature, op, value)`` with op ``"="``, ``"<"``, ``">="``, ``"in"`` (value
        ``(low, high)`` meaning ``low <= x < high``) or ``"is missing"``.
    description : str
        The predicates as text, joined by ``AND``.
    rows : ndarray of bool, shape (n_rows,)
        Which input rows are in the slice.
    support : int
        Number of input rows in the slice; ``support_share`` is the share of all rows.
    n_confirmation : int
        Slice rows in the confirmation part.
    metric_inside, metric_outside, metric_overall : float
        Mean metric in the slice, outside it, and over all confirmation rows. In fairness mode
        these are the group gap (rate of group a minus rate of group b).
    inside_ci : tuple of float
        Interval of ``metric_inside`` at ``ci_level``.
    effect : float
        ``metric_inside - metric_outside`` (fairness mode: the gap inside the slice).
    effect_ci : tuple of float
        Interval of ``effect`` at ``ci_level`` (FCR-adjusted, see ``SliceReport``).
    lift : float
        ``metric_inside / metric_overall`` (NaN when the overall value is 0).
    p_value, p_adjusted : float
        One-sided confirmation p-value and its Benjamini–Hochberg adjustment over every slice
        tested.
    discovery_score : float
        Score of the slice in the search (on the discovery rows).
    contained_in : str or None
        Description of a coarser reported slice that contains this one (its rows are a subset).
    details : dict
        Extra numbers (fairness mode: the per-group counts and rates).
    """

    predicates: list[tuple[str, str, Any]]
    description: str
    rows: np.ndarray
    support: int
    support_share: float
    n_confirmation: int
    metric_inside: float
    metric_outside: float
    metric_overall: float
    inside_ci: tuple[float, float]
    effect: float
    effect_ci: tuple[float, float]
    lift: float
    p_value: float
    p_adjusted: float
    discovery_score: float
    ci_level: float
    contained_in: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def level(self) -> int:
        """Number of predicates."""
        return len(self.predicates)

    def summary(self, metric: str = "error") -> str:
        """One readable line.

        For example ``"a = 1 AND b < 4: error 0.41 vs 0.12 overall, 3.1% of rows, p_adj = 1e-09"``.
        """
        return (
            f"{self.description}: {metric} {self.metric_inside:.3g} vs "
            f"{self.metric_overall:.3g} overall, {100 * self.support_share:.1f}% of rows, "
            f"p_adj = {_fmt_p(self.p_adjusted)}"
        )

    def to_dict(self, *, include_rows: bool = True) -> dict[str, Any]:
        """JSON-ready dict; ``include_rows=False`` leaves out the row indices (``"rows"``),
        which on millions of rows are millions of numbers."""
        out = {
            "predicates": [[f, op, to_jsonable(v)] for f, op, v in self.predicates],
            "description": self.description,
            "rows": np.flatnonzero(self.rows).tolist() if include_rows else None,
            "n_rows": int(self.rows.size),
            "support": int(self.support),
            "support_share": float(self.support_share),
            "n_confirmation": int(self.n_confirmation),
            "metric_inside": to_jsonable(float(self.metric_inside)),
            "metric_outside": to_jsonable(float(self.metric_outside)),
            "metric_overall": to_jsonable(float(self.metric_overall)),
            "inside_ci": to_jsonable(tuple(self.inside_ci)),
            "effect": to_jsonable(float(self.effect)),
            "effect_ci": to_jsonable(tuple(self.effect_ci)),
            "lift": to_jsonable(float(self.lift)),
            "p_value": float(self.p_value),
            "p_adjusted": float(self.p_adjusted),
            "discovery_score": to_jsonable(float(self.discovery_score)),
            "ci_level": float(self.ci_level),
            "contained_in": self.contained_in,
            "details": to_jsonable(self.details),
        }
        if not include_rows:
            del out["rows"]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Slice:
        """Rebuild a slice from :meth:`to_dict` output (``rows`` from the row indices)."""
        rows = np.zeros(int(d["n_rows"]), dtype=bool)
        rows[np.asarray(d["rows"], dtype=np.int64)] = True
        return dataclass_from_dict(cls, {**d, "rows": rows})


@dataclass(frozen=True, eq=False)
class SliceReport(ResultDisplay, FromDict):
    """Failure slices found on one part of the data and confirmed on the other (by default
    each half finds and the other half confirms).

    Attributes
    ----------
    slices : list of Slice
        Confirmed slices (Benjamini–Hochberg adjusted p-value <= ``alpha``), redundant ones
        removed, worst first: by the lower end of the effect interval (error mode) or by
        p-value (fairness mode).
    redundant : list of Slice
        Confirmed slices dropped because a coarser reported slice contains them and their effect
        is not significantly different from the rest of it (``contained_in`` names it).
    candidates : list of dict
        The strongest tested slices that were **not confirmed** (unadjusted ``p_value`` <=
        0.05, smallest first, at most 5), each with ``status = "not confirmed"``: leads worth a
        look, never findings. Never mixed with ``slices``.
    metric : str
        Name of the per-row metric (``"error"``, ``"log_loss"``, ``"squared_error"``, a
        callable's name, or ``"fpr_gap"``-style names in fairness mode).
    metric_overall : float
        Mean metric over the confirmation rows (the gap, in fairness mode).
    n_rows, n_discovery, n_confirmation : int
        Input rows; rows of one discovery part (one half under cross-fitting); rows used to
        confirm (all rows under cross-fitting: each half confirms the other's candidates).
    alpha : float
        False discovery rate target over all reported slices.
    ci_level : float
        Level of the reported intervals: ``1 - R alpha / m`` for ``R`` confirmed of ``m``
        tested, which controls the false coverage rate of the selected slices at ``alpha``
        (Benjamini & Yekutieli, 2005).
    mode : str
        ``"error"`` or ``"fairness"``.
    params : dict
        The arguments of the call (seed included) and search statistics.
    tested : list of dict
        Every slice tested (``description``, ``fold`` -- the half that found it,
        ``discovery_rank``, ``weight``, ``p_value``, ``p_adjusted``, ``confirmed``, ...): the
        multiplicity correction runs over all of them.
    detectable : dict
        What this ``n`` could confirm at 80% power (see ``assay.slices._power.detectable``):
        ``lift_at_share`` (slice share -> error lift over the other rows needed),
        ``min_share_at_lift`` (smallest share at lift ``lift``), ``level``, ``assumes``.
        Empty in fairness mode.
    """

    slices: list[Slice]
    redundant: list[Slice]
    candidates: list[dict[str, Any]]
    metric: str
    metric_overall: float
    n_rows: int
    n_discovery: int
    n_confirmation: int
    alpha: float
    ci_level: float
    mode: str
    params: dict[str, Any] = field(default_factory=dict)
    tested: list[dict[str, Any]] = field(default_factory=list)
    detectable: dict[str, Any] = field(default_factory=dict)
    SCHEMA_VERSION: ClassVar[int] = 2  # this kind's one schema version
    schema_version: int = SCHEMA_VERSION

    def __len__(self) -> int:
        return len(self.slices)

    def table(self) -> str:
        """The confirmed slices as readable lines, best first."""
        lines = []
        if not self.slices:
            lines.append(
                f"No slice confirmed at FDR {self.alpha:g} ({len(self.tested)} tested; "
                f"overall {self.metric} {self.metric_overall:.3g})."
            )
            if self.detectable:
                from assay.slices._power import sentence

                could = sentence(self.detectable, n_rows=self.n_rows)
                lines.append(f"This n could confirm: {could}.")
            for c in self.candidates:
                lines.append(
                    f"not confirmed: {c['description']} ({self.metric} "
                    f"{_fmt_num(c.get('metric_inside'))} vs {_fmt_num(c.get('metric_outside'))}"
                    f" elsewhere on held-out rows, p = {_fmt_p(c['p_value'])} unadjusted, "
                    f"p_adj = {_fmt_p(c['p_adjusted'])})"
                )
            return "\n".join(lines)
        for s in self.slices:
            line = s.summary(self.metric)
            if s.contained_in is not None:
                line += f"  [within: {s.contained_in}]"
            lines.append(line)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def to_frame(self) -> Any:
        """The confirmed slices as a pandas DataFrame (one row per slice)."""
        import pandas as pd

        cols = [
            "description",
            "level",
            "support",
            "support_share",
            "metric_inside",
            "metric_outside",
            "metric_overall",
            "effect",
            "effect_low",
            "effect_high",
            "lift",
            "p_value",
            "p_adjusted",
            "contained_in",
        ]
        rows = [
            [
                s.description,
                s.level,
                s.support,
                s.support_share,
                s.metric_inside,
                s.metric_outside,
                s.metric_overall,
                s.effect,
                s.effect_ci[0],
                s.effect_ci[1],
                s.lift,
                s.p_value,
                s.p_adjusted,
                s.contained_in,
            ]
            for s in self.slices
        ]
        return pd.DataFrame(rows, columns=cols)

    def plot(self, *, ax: Any = None) -> Any:
        """Shortcut for :func:`assay.plot.plot_slices`."""
        from assay.plot._slices import plot_slices

        return plot_slices(self, ax=ax)

    def to_dict(self, *, include_rows: bool = True) -> dict[str, Any]:
        """JSON-ready dict (``include_rows=False``: without each slice's row indices)."""
        return {
            "kind": "SliceReport",
            "schema_version": self.schema_version,
            "mode": self.mode,
            "metric": self.metric,
            "metric_overall": to_jsonable(float(self.metric_overall)),
            "n_rows": self.n_rows,
            "n_discovery": self.n_discovery,
            "n_confirmation": self.n_confirmation,
            "alpha": self.alpha,
            "ci_level": self.ci_level,
            "params": to_jsonable(self.params),
            "slices": [s.to_dict(include_rows=include_rows) for s in self.slices],
            "redundant": [s.to_dict(include_rows=include_rows) for s in self.redundant],
            "candidates": to_jsonable(self.candidates),
            "tested": to_jsonable(self.tested),
            "detectable": to_jsonable(self.detectable),
        }
