"""A probing section for the HTML report (same schema as the audit sections).

:func:`probe_section` turns layer sweeps, a transfer matrix and any other checks into the
``{title, verdict, status, metrics, tables, figures, data}`` dict of
:mod:`assay.auditing._section`; :func:`write_probe_report` writes ``results.json`` and
``report.html`` with the existing report machinery.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from assay._results import worst_status
from assay.auditing._section import figure, section, table
from assay.probe._checks import CheckResult
from assay.probe._layers import LayerSweep

__all__ = ["probe_section", "write_probe_report"]


def _causal_figure(chk: CheckResult) -> dict[str, Any]:
    """The causal check as a figure: the probe direction's effect against the null."""
    null = [float(v) for v in chk.data["null_matched"]]
    effect = float(chk.metrics["effect"])
    p = chk.metrics.get("p_value")
    layer = chk.params.get("layer", "")
    return figure(
        "histogram",
        f"Causal check at {layer} ({chk.status}, p = {p:.3g}): output change (RMS) when the "
        f"probe's direction is removed (red line) against {len(null)} random directions of the "
        f"same activation variance (grey). {chk.verdict}",
        values=null,
        marks=[effect],
        xlabel="output change (RMS)",
        ylabel="random directions",
    )


def probe_section(
    sweeps: LayerSweep | Mapping[str, LayerSweep] | Sequence[LayerSweep] = (),
    *,
    transfer: CheckResult | None = None,
    checks: Sequence[CheckResult] = (),
) -> dict[str, Any]:
    """The probing report section.

    Examples
    --------
    >>> import numpy as np
    >>> from assay.probe import probe_layers
    >>> rng = np.random.default_rng(0); y = rng.integers(0, 2, 100)
    >>> sweep = probe_layers({"l0": rng.normal(size=(100, 3)) + y[:, None]}, y)
    >>> probe_section(sweep)["status"]
    'ok'
    """
    if isinstance(sweeps, LayerSweep):
        sweeps = [sweeps]
    elif isinstance(sweeps, Mapping):
        sweeps = list(sweeps.values())
    sweeps = list(sweeps)
    all_checks = ([transfer] if transfer is not None else []) + list(checks)
    verdicts, status = [], "ok"
    metrics: dict[str, Any] = {}
    figures, tables = [], []
    for sw in sweeps:
        label = sw.dataset or "dataset"
        best = int(sw.accuracy.argmax())
        n_above = int(sw.above_chance.sum())
        verdicts.append(
            f"{label}: best layer {sw.layers[best]} ({sw.accuracy[best]:.2f}, CI "
            f"{sw.ci_low[best]:.2f}-{sw.ci_high[best]:.2f}); {n_above}/{len(sw.layers)} "
            "layers above chance."
        )
        if n_above == 0:
            status = worst_status([status, "warning"])
        metrics[f"{label} best accuracy"] = float(sw.accuracy[best])
        figures.append(
            figure(
                "errorbar",
                f"{label}: {sw.probe} probe accuracy per layer (out-of-fold, "
                f"{int(sw.params.get('confidence', 0.95) * 100)}% Wilson interval; dashed: "
                "chance).",
                labels=list(sw.layers),
                values=sw.accuracy.tolist(),
                lo=sw.ci_low.tolist(),
                hi=sw.ci_high.tolist(),
                reference=sw.chance,
                xlabel="accuracy",
            )
        )
        tables.append(
            table(
                f"{label}: accuracy per layer",
                ["layer", "accuracy", "ci_low", "ci_high", "above chance"],
                [
                    [name, float(a), float(lo), float(hi), bool(ab)]
                    for name, a, lo, hi, ab in zip(
                        sw.layers,
                        sw.accuracy,
                        sw.ci_low,
                        sw.ci_high,
                        sw.above_chance,
                        strict=True,
                    )
                ],
            )
        )
    for chk in all_checks:
        if chk.name == "causal" and "null_matched" in chk.data:
            figures.append(_causal_figure(chk))
        verdicts.append(chk.verdict)
        status = worst_status([status, chk.status])
        for key, value in chk.metrics.items():
            metrics[f"{chk.name}: {key}"] = value
    if transfer is not None:
        names = transfer.data["names"]
        acc = transfer.data["accuracy"]
        figures.append(
            figure(
                "heatmap",
                "Transfer: accuracy minus 0.5 of a probe trained on the row dataset and tested on "
                "the column dataset (blue: below chance, red: above).",
                z=(acc - 0.5).tolist(),
                xlabels=names,
                ylabels=names,
            )
        )
        tables.append(
            table(
                "Transfer accuracy (row: trained on, column: tested on)",
                ["trained on", *names],
                [[a, *[float(v) for v in row]] for a, row in zip(names, acc, strict=True)],
            )
        )
    if all_checks:
        tables.append(
            table(
                "Sanity checks",
                ["check", "status", "passed", "verdict"],
                [[c.name, c.status, bool(c.passed), c.verdict] for c in all_checks],
            )
        )
    return section(
        "Probes",
        " ".join(verdicts) or "No probes were run.",
        status=status,
        metrics=metrics,
        tables=tables,
        figures=figures,
        data={
            "sweeps": [s.to_dict() for s in sweeps],
            "checks": [c.to_dict() for c in all_checks],
        },
    )


def write_probe_report(
    sec: dict[str, Any], out_dir: str | os.PathLike[str], *, meta: dict[str, Any] | None = None
) -> tuple[Path, Path]:
    """Write ``out_dir/results.json`` and ``out_dir/report.html`` for one probing section."""
    from assay.auditing._result import AuditResult
    from assay.report import write_report

    meta = {"model": "", "n_rows": 0, "n_features": 0, "seed": None, **(meta or {})}
    result = AuditResult(sections={"probes": sec}, meta=meta)
    out = Path(out_dir)
    results = result.save(out / "results.json")
    html = write_report(result, out / "report.html")
    return results, html
