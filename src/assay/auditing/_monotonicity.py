"""Audit section: does the model respect the directions the user expects (monotonicity)?"""

from __future__ import annotations

from typing import Any

import numpy as np

from assay.auditing._section import figure, section, table

__all__ = ["monotonicity_section"]

# a drop counts when it is at least this share of the output's spread (0.01 of probability)
_MATERIAL_SHARE = 0.01
# share of checked pairs with material drops from which the section raises an alert
_ALERT_RATE = 0.01
# rows the pairs and grid rows are drawn from (a seeded sample above this): the check reads
# n_pairs pairs and n_rows grid rows, so more rows only add sorting time
MAX_ROWS = 100_000


def monotonicity_section(
    model: Any,
    X: Any,
    expected_directions: dict[str, Any],
    *,
    seed: int | None = 0,
    n_pairs: int = 2000,
    n_rows: int = 100,
) -> dict[str, Any] | None:
    """Check the declared directions with :func:`assay.glassbox.check_monotonic`.

    Drops smaller than a materiality threshold (0.01 for probabilities, 1% of the output's
    standard deviation otherwise) are ignored as numerical or tree-split noise. Status:
    ``"ok"`` without material drops, ``"warning"`` when they occur on fewer than 1% of the
    pairs, ``"alert"`` from 1%. Above ``MAX_ROWS`` (100,000) rows the pairs are drawn from a
    seeded sample of that many rows.

    Parameters
    ----------
    model : model or ModelAdapter
    X : array-like
        Rows to perturb (the audit's data).
    expected_directions : dict
        ``{feature: "increasing" | "decreasing" | +1 | -1}``.
    seed : int, optional
    n_pairs, n_rows : int
        Random pairs and grid rows per feature.

    Returns
    -------
    dict or None
        The section (see :mod:`assay.auditing._section`); ``None`` when no direction is
        declared or the model has several non-binary outputs (no single direction applies).
    """
    from assay.glassbox import check_monotonic
    from assay.model import wrap

    if not expected_directions:
        return None
    adapter = wrap(model)
    Xv, _ = adapter.prepare(X, allow_nan=True)
    if Xv.shape[0] > MAX_ROWS:
        rows = np.random.default_rng(None if seed is None else [seed, 28]).choice(
            Xv.shape[0], MAX_ROWS, replace=False
        )
        Xv = Xv[np.sort(rows)]
    probe = adapter.predict(Xv[: min(len(Xv), 2000)])
    binary_proba = adapter.output_space == "probability" and probe.shape[1] == 2
    if probe.shape[1] > 1 and not binary_proba:
        return None
    out = probe[:, -1]
    if adapter.output_space == "probability":
        threshold = _MATERIAL_SHARE
    else:
        threshold = _MATERIAL_SHARE * float(np.std(out)) or 1e-9
    res = check_monotonic(
        adapter, Xv, dict(expected_directions), n_pairs=n_pairs, n_rows=n_rows, n_grid=26,
        tol=threshold, seed=seed,
    )  # fmt: skip
    word = {1: "increasing", -1: "decreasing"}
    what = (
        f"probability of {res.output_name}"
        if res.output_space == "probability"
        else f"{res.output_space} output"
    )
    bad = [f for f in res.features if f.n_violations]
    rate = res.violation_rate
    if not bad:
        status = "ok"
        verdict = (
            f"The predicted {what} follows every declared direction "
            f"({', '.join(f'{f.feature} {word[f.direction]}' for f in res.features)}): no "
            f"drop of {threshold:.3g} or more on {res.n_pairs:,} pairs of rows that differ in "
            "one feature."
        )
    else:
        status = "alert" if rate >= _ALERT_RATE else "warning"
        worst = max(bad, key=lambda f: f.worst_violation)
        verdict = (
            f"The model goes against the declared direction of "
            f"{', '.join(f.feature for f in bad)} on {rate:.1%} of {res.n_pairs:,} checked "
            f"pairs; the worst drop is {worst.worst_violation:.3g} in {worst.feature} "
            f"(declared {word[worst.direction]}). Look for data artefacts or confounding "
            "(e.g. treatment thresholds), or constrain the model "
            "(assay.glassbox.MonotonicMLPClassifier, XGBoost monotone_constraints)."
        )
    rows = [
        [
            f.feature,
            word[f.direction],
            f.n_pairs,
            f.n_violations,
            f.violation_rate,
            f.worst_violation,
        ]
        for f in res.features
    ]
    tables = [
        table(
            "Violations by feature",
            ["feature", "declared", "pairs", "violations", "rate", "worst drop"],
            rows,
        )
    ]
    if res.examples:
        tables.append(
            table(
                "Worst violating pairs",
                ["feature", "from", "to", "output from", "output to", "drop"],
                [
                    [e[k] for k in ("feature", "value_lo", "value_hi", "output_lo", "output_hi")]
                    + [e["drop"]]
                    for e in res.examples
                ],
            )
        )
    figures = [
        figure(
            "bar",
            "Share of pairs (%) whose prediction moves against the declared direction.",
            labels=[f.feature for f in res.features],
            values=[100.0 * f.violation_rate for f in res.features],
            colors=["#c8453c" if f.n_violations else "#3c6fd1" for f in res.features],
            xlabel="violating pairs (%)",
        )
    ]
    shown = max(bad, key=lambda f: f.worst_violation) if bad else res.features[0]
    if shown.curves:
        curve = np.asarray(shown.curves[0])
        grid = np.asarray(shown.grid)
        drops = -shown.direction * np.diff(curve)
        marks = grid[:-1][drops >= threshold][:10].tolist()
        figures.append(
            figure(
                "line",
                f"Predicted {what} along {shown.feature} for the sampled row with the "
                "largest drop against the declared direction (dashed: where it drops).",
                x=grid.tolist(),
                y=curve.tolist(),
                marks=marks,
                xlabel=shown.feature,
                ylabel=res.output_name,
            )
        )
    return section(
        "Monotonicity",
        verdict,
        status=status,
        metrics={
            "features checked": len(res.features),
            "pairs checked": res.n_pairs,
            "violating pairs": res.n_violations,
            "violation rate": rate,
            "worst drop": res.worst_violation,
            "materiality threshold": threshold,
        },
        tables=tables,
        figures=figures,
        data={
            "check": res.to_dict(),
            "threshold": threshold,
            "rule": (
                "Each violation is a pair of rows, differing in one declared feature, whose "
                f"prediction moves against the declared direction by at least {threshold:.3g}: an "
                "observed fact about the model, not a statistical estimate, so no false alarm is "
                "possible; the rate over sampled pairs is an estimate. Alert from a violation "
                f"rate of {_ALERT_RATE:.0%}, warning below it."
            ),
        },
    )
