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


BEESWARM_FEATURES = 10
DEPENDENCE_FEATURES = 3


def _scaled(values: np.ndarray) -> list[float | None]:
    """Feature values scaled to [0, 1] by rank (robust to outliers) for the beeswarm colours."""
    finite = np.isfinite(values)
    out = np.full(values.shape, np.nan)
    if finite.sum() > 1:
        ranks = np.argsort(np.argsort(values[finite]))
        out[finite] = ranks / max(finite.sum() - 1, 1)
    return [None if not np.isfinite(v) else float(v) for v in out]


def _row_figures(
    exp: Any,
    vals: np.ndarray,
    names: list[str],
    order: np.ndarray,
    label: Callable[[str, float], str],
    categorical: list[str],
) -> list[dict[str, Any]]:
    """A beeswarm of the top features and dependence plots of the top three."""
    top = [int(j) for j in order[:BEESWARM_FEATURES]]
    space = exp.output_space.replace("_", "-")
    figures = [
        figure(
            "beeswarm",
            f"Attribution of each explained row ({space}), top features; colour: the feature's "
            "value from low (blue) to high (red), grey where it is missing or a category.",
            labels=[names[j] for j in top],
            values=[vals[:, j].tolist() for j in top],
            colors=[
                [None] * vals.shape[0] if names[j] in categorical else _scaled(exp.data[:, j])
                for j in top
            ],
            xlabel=f"attribution ({space})",
        )
    ]
    for j in top[:DEPENDENCE_FEATURES]:
        x = exp.data[:, j]
        keep = np.isfinite(x)
        extra: dict[str, Any] = {}
        if names[j] in categorical:
            codes = np.unique(x[keep])
            extra = {
                "xticks": codes.tolist(),
                "xticklabels": [label(names[j], c) for c in codes],
            }
        figures.append(
            figure(
                "scatter",
                f"Dependence on {names[j]}: its attribution against its value, one point per "
                "explained row.",
                x=x[keep].tolist(),
                y=vals[keep, j].tolist(),
                xlabel=names[j],
                ylabel=f"attribution ({space})",
                **extra,
            )
        )
    return figures


def attribution_section(
    exp: Any,
    names: list[str],
    *,
    label: Callable[[str, float], str] | None = None,
    categorical: list[str] | None = None,
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
            *_row_figures(exp, vals, names, order, label, categorical or []),
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
