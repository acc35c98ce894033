"""The shape every audit section shares, so the report can render any of them.

A section is a plain JSON-serializable dict::

    {
      "title": "Performance",
      "verdict": "AUC 0.88 ...",            # one plain-language line
      "status": "ok" | "warning" | "alert",  # how worried the reader should be
      "metrics": {"auc": 0.88, ...},         # shown as a two-column table
      "tables": [{"title": ..., "columns": [...], "rows": [[...], ...]}],
      "figures": [{"kind": "bar", "caption": ..., "data": {...}}],
      "data": {...},                         # the full machine-readable payload
    }

Figures are descriptions, not images: the report draws them (see ``assay.report._figures``),
so ``results.json`` alone rebuilds the report.
"""

from __future__ import annotations

from typing import Any

__all__ = ["figure", "section", "table"]

from assay._results import STATUSES


def section(
    title: str,
    verdict: str,
    *,
    status: str = "ok",
    metrics: dict[str, Any] | None = None,
    tables: list[dict[str, Any]] | None = None,
    figures: list[dict[str, Any]] | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    if status not in STATUSES:
        msg = f"status must be one of {STATUSES}; got {status!r}"
        raise ValueError(msg)
    return {
        "title": title,
        "verdict": verdict,
        "status": status,
        "metrics": metrics or {},
        "tables": tables or [],
        "figures": figures or [],
        "data": data or {},
    }


def table(title: str, columns: list[str], rows: list[list[Any]]) -> dict[str, Any]:
    return {"title": title, "columns": list(columns), "rows": [list(r) for r in rows]}


def figure(kind: str, caption: str, **data: Any) -> dict[str, Any]:
    return {"kind": kind, "caption": caption, "data": data}
