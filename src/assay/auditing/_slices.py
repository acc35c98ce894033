"""Audit section: failure slices, each half of the rows finding and the other confirming."""

from __future__ import annotations

from typing import Any

import numpy as np

from assay.auditing._section import figure, section, table

__all__ = ["DISCOVERY_ROWS", "slices_section"]

# rows each discovery half searches (a seeded sample above this); confirmation uses all rows
DISCOVERY_ROWS = 40_000


def _rule(alpha: float, metric: str) -> str:
    return (
        f"Decision rule: the rows are split in two halves; each half searches for subgroups "
        f"with a higher {metric} and the other half tests them (one-sided Fisher exact test "
        f"for 0/1 errors, Welch's t-test for absolute errors), with a weighted "
        f"Benjamini-Hochberg step at {alpha / 2:g} per half, so the false discovery rate over "
        f"all reported subgroups is at most {alpha:g}. Status 'alert': at least one confirmed "
        f"subgroup with at least twice the overall {metric}; 'warning': confirmed subgroups, "
        f"all below twice; 'ok': none confirmed. Unconfirmed candidates never change the "
        f"status. 'None confirmed' is no proof that none exist: 'detectable' states the "
        f"smallest failure slice these rows would reveal 80% of the time."
    )


def slices_section(
    adapter: Any,
    X: np.ndarray,
    y: np.ndarray,
    names: list[str],
    *,
    seed: int | None,
    alpha: float = 0.05,
    value_labels: dict[str, dict[float, str]] | None = None,
) -> dict[str, Any] | None:
    """:func:`assay.slices.find_slices` on the model's errors (or absolute errors).

    ``alpha`` is the audit's false discovery rate for the reported slices; the status comes
    from confirmed slices only (``data["rule"]`` states the rule).
    """
    import pandas as pd

    from assay.auditing._performance import positive_labels
    from assay.slices import find_slices

    out = adapter.predict(X)
    # text columns as their labels, so slices read "checking_account = little"
    categories = getattr(adapter, "categories", None)
    frame = categories.decode(X, names) if categories else pd.DataFrame(X, columns=names)
    for column, mapping in (value_labels or {}).items():  # integer codes the user labelled
        codes = frame[column].to_numpy(dtype=float)
        frame[column] = pd.Series(
            [mapping.get(c, f"{c:g}") if np.isfinite(c) else None for c in codes], dtype=object
        )
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
    report = find_slices(frame, errors=errors, k=50, seed=seed, alpha=alpha,
                         max_discovery=DISCOVERY_ROWS)  # fmt: skip
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
        from assay.slices._power import sentence

        verdict = (
            f"No subgroup confirmed at false discovery rate {report.alpha:g}; "
            + sentence(report.detectable, n_rows=report.n_rows, metric=metric)
            + "."
        )
        status = "ok"
    if report.candidates:
        verdict += " Strongest candidates, not confirmed: " + "; ".join(
            f"{c['description']} ({metric} {c['metric_inside']:.3g} vs "
            f"{c['metric_outside']:.3g} elsewhere on held-out rows, unadjusted p = "
            f"{c['p_value']:.2g})"
            for c in report.candidates[:3]
        ) + "."
    rows = [
        [s.description, s.support, s.support_share, s.metric_inside, s.metric_outside, s.lift,
         s.p_adjusted]
        for s in found
    ]  # fmt: skip
    tables = []
    if rows:
        tables.append(table("Confirmed slices",
                            ["slice", "rows", "share", metric, "outside", "lift", "adjusted p"],
                            rows))  # fmt: skip
    if report.candidates:
        tables.append(table(
            "Candidates, NOT confirmed (leads only)",
            ["slice", "rows", f"{metric} (held-out)", "elsewhere", "p (unadjusted)",
             "adjusted p"],
            [[c["description"], c["support"], c["metric_inside"], c["metric_outside"],
              c["p_value"], c["p_adjusted"]] for c in report.candidates],
        ))  # fmt: skip
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
    # row membership is recomputable from the predicates; keep results.json (and memory) small
    data = report.to_dict(include_rows=False)
    data["rule"] = _rule(report.alpha, metric)
    return section(
        "Failure slices",
        verdict,
        status=status,
        metrics={
            "overall " + metric: report.metric_overall,
            "confirmed slices": len(found),
            "unconfirmed candidates": len(report.candidates),
            "smallest share found 80% of the time at twice the " + metric: (
                report.detectable.get("min_share_at_lift")
            ),
        },
        tables=tables,
        figures=figures,
        data=data,
    )
