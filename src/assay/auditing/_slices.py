"""Audit section: failure slices, found on one half of the rows and confirmed on the other."""

from __future__ import annotations

from typing import Any

import numpy as np

from assay.auditing._section import figure, section, table

__all__ = ["slices_section"]


def slices_section(
    adapter: Any, X: np.ndarray, y: np.ndarray, names: list[str], *, seed: int | None
) -> dict[str, Any] | None:
    """:func:`assay.slices.find_slices` on the model's errors (or absolute errors)."""
    import pandas as pd

    from assay.auditing._performance import positive_labels
    from assay.slices import find_slices

    out = adapter.predict(X)
    frame = pd.DataFrame(X, columns=names)
    if adapter.is_classifier:
        if adapter.n_outputs == 2:
            labels = positive_labels(adapter, y)
            cut = 0.5 if adapter.output_space == "probability" else 0.0
            errors = ((out[:, -1] >= cut).astype(int) != labels).astype(float)
        else:
            pred = np.asarray(adapter.output_names)[out.argmax(axis=1)]
            errors = (pred != np.asarray(y).astype(str)).astype(float)
        metric = "error rate"
    else:
        errors = np.abs(out[:, 0] - y.astype(np.float64))
        metric = "absolute error"
    # k=50: with the default 10 candidates, broad slices with a small excess (many rows, high
    # z-score) and their sub-slices crowd out a small subgroup where the model is far worse
    report = find_slices(frame, errors=errors, k=50, seed=seed)
    # the reader's question is "where is it much worse": order by lift, not by p-value
    found = sorted(report.slices, key=lambda s: -s.lift)
    if found:
        best = found[:3]
        verdict = (
            f"{len(found)} subgroup(s) where the model does worse, confirmed on held-out rows; "
            f"the worst by lift: "
            + "; ".join(
                f"{s.description} ({metric} {s.metric_inside:.3g} vs {s.metric_overall:.3g} "
                f"overall, {100 * s.support_share:.1f}% of rows)"
                for s in best
            )
            + "."
        )
        status = "alert" if any(s.lift >= 2 for s in found) else "warning"
    else:
        verdict = (
            f"No subgroup with a significantly higher {metric} was confirmed on held-out rows "
            f"(false discovery rate {report.alpha:g})."
        )
        status = "ok"
    rows = [
        [s.description, s.support, s.support_share, s.metric_inside, s.metric_outside, s.lift,
         s.p_adjusted]
        for s in found
    ]  # fmt: skip
    figures = []
    if found:
        figures.append(
            figure(
                "errorbar",
                f"{metric.capitalize()} inside each confirmed slice with its interval (held-out "
                "rows); dashed: overall.",
                labels=[s.description for s in found],
                values=[s.metric_inside for s in found],
                lo=[s.inside_ci[0] for s in found],
                hi=[s.inside_ci[1] for s in found],
                reference=report.metric_overall,
                xlabel=metric,
            )
        )
    data = report.to_dict()
    # row membership is recomputable from the predicates; keep results.json small
    for s in data.get("slices", []) + data.get("redundant", []):
        s.pop("rows", None)
    return section(
        "Failure slices",
        verdict,
        status=status,
        metrics={"overall " + metric: report.metric_overall, "confirmed slices": len(found)},
        tables=[
            table(
                "Confirmed slices",
                ["slice", "rows", "share", metric, "outside", "lift", "adjusted p"],
                rows,
            )
        ]
        if rows
        else [],
        figures=figures,
        data=data,
    )
