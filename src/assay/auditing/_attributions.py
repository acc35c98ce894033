"""Audit section: what drives the predictions (global and local attributions)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from assay.auditing._section import figure, section, table

__all__ = ["attribution_section", "compute_attributions"]


def compute_attributions(
    adapter: Any, X: np.ndarray, *, rows: np.ndarray, background: np.ndarray, seed: int | None
) -> Any:
    """The fastest exact method that fits the model (tree, else exact, else kernel)."""
    from assay._explain import explain

    return explain(adapter, X[rows], background=background, seed=seed)


def _value_text(value: float) -> str:
    return f"{value:.3g}"


def attribution_section(
    exp: Any, names: list[str], *, label: Callable[[str, float], str] | None = None
) -> dict[str, Any]:
    """Global importance and the local view of two rows; ``label`` names category codes."""
    label = label or (lambda _feature, value: _value_text(value))
    out_idx = exp.values.shape[2] - 1  # the positive class for binary classifiers
    vals = exp.values[:, :, out_idx]
    imp = np.abs(vals).mean(axis=0)
    imp_se = np.abs(vals).std(axis=0, ddof=1) / np.sqrt(max(len(vals) - 1, 1))
    order = np.argsort(-imp)
    top = [names[i] for i in order[:3]]
    exactness = "no sampling error" if exp.stderr is None else "estimated, with standard errors"
    verdict = (
        f"The strongest drivers of the predicted {exp.output_space} are {', '.join(top)} "
        f"({exp.method} Shapley values, {exactness}, on {len(vals)} sampled rows)."
    )
    rows = [
        [names[i], float(imp[i]), float(imp_se[i]), float(np.mean(vals[:, i] > 0))] for i in order
    ]
    # local view: the rows with the highest and lowest predictions
    total = vals.sum(axis=1) + exp.base_values[:, out_idx]
    local = []
    for which, r in (
        ("highest prediction", int(np.argmax(total))),
        ("lowest prediction", int(np.argmin(total))),
    ):
        contrib = np.argsort(-np.abs(vals[r]))[:5]
        local.append(
            [
                which,
                f"{total[r]:.3g}",
                "; ".join(
                    f"{names[i]} = {label(names[i], exp.data[r, i])} ({vals[r, i]:+.3g})"
                    for i in contrib
                ),
            ]
        )
    return section(
        "What drives the predictions",
        verdict,
        figures=[
            figure(
                "bar",
                f"Mean |Shapley value| per feature ({exp.output_space} of "
                f"'{exp.output_names[out_idx]}'), with standard error over rows.",
                labels=[names[i] for i in order],
                values=[float(imp[i]) for i in order],
                errors=[float(imp_se[i]) for i in order],
                xlabel="mean |Shapley value|",
            )
        ],
        tables=[
            table(
                "Global importance",
                ["feature", "mean |value|", "std. error", "share of rows pushed up"],
                rows,
            ),
            table("Local explanations", ["row", "prediction", "top contributions (value)"], local),
        ],
        data={
            "method": exp.method,
            "output": exp.output_names[out_idx],
            "importance": {names[i]: float(imp[i]) for i in order},
            "explanation": exp.to_dict(),
            "rule": "Descriptive: attributions raise no alert; how far to trust them is the "
            "next section's question.",
        },
    )
