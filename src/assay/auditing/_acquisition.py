"""Audit section: which missing measurement would help most."""

from __future__ import annotations

from typing import Any

import numpy as np

from assay.auditing._section import figure, section, table

__all__ = ["MAX_REFERENCE_ROWS", "acquisition_section"]

# reference rows the plausible values are drawn from (nearest neighbours; a seeded sample above)
MAX_REFERENCE_ROWS = 100_000


def acquisition_section(
    adapter: Any, X: np.ndarray, names: list[str], *, rows: np.ndarray, seed: int | None
) -> dict[str, Any] | None:
    """None when nothing is missing or the model cannot take missing values."""
    from assay.acquire import value_of_information

    if not np.isnan(X).any() or not adapter.supports_missing:
        return None
    sample = X[rows]
    if not np.isnan(sample).any():
        return None
    reference = X
    if X.shape[0] > MAX_REFERENCE_ROWS:
        pick = np.random.default_rng(None if seed is None else [seed, 28]).choice(
            X.shape[0], MAX_REFERENCE_ROWS, replace=False
        )
        reference = X[np.sort(pick)]
    voi = value_of_information(adapter, sample, X_reference=reference, seed=seed)
    ranking = voi.ranking()
    best = ranking[0]
    unit = "nats of log loss" if voi.loss != "squared_error" else "squared error"
    verdict = (
        f"Measuring {best['feature']} where it is missing would help most: expected reduction "
        f"{best['mean_value']:.3g} ± {best['stderr']:.2g} {unit} per patient"
        + (
            f"; the decision at {voi.threshold:g} changes for {best['decision_change']:.0%} of "
            "plausible values."
            if best.get("decision_change") is not None
            else "."
        )
    )
    rows_tbl = [
        [r["feature"], r["n_rows"], r["mean_value"], r["stderr"], r.get("decision_change")]
        for r in ranking
    ]
    per_row = {
        c: [float(v) for v in voi.values[:, i] if not np.isnan(v)]
        for i, c in enumerate(voi.candidates)
    }
    best_rows = np.argsort(
        -np.nan_to_num(
            np.nanmax(np.where(np.isnan(voi.values), -np.inf, voi.values), axis=1), neginf=-1.0
        )
    )[:5]
    recs = [[int(rows[r]), voi.recommend(int(r))] for r in best_rows]
    return section(
        "What to measure next",
        verdict,
        figures=[
            figure(
                "box",
                "Per-row value of measuring each missing feature.",
                labels=list(per_row),
                values=list(per_row.values()),
                xlabel=f"expected reduction ({unit})",
            )
        ],
        tables=[
            table(
                "Value of measuring",
                ["feature", "rows missing it", "mean value", "std. error", "decision change"],
                rows_tbl,
            ),
            table("Rows where a measurement matters most", ["row", "recommendation"], recs),
        ],
        data={
            **voi.to_dict(),
            "rule": "Descriptive: expected value of measuring each missing feature, with "
            "standard errors; it raises no alert.",
        },
    )
