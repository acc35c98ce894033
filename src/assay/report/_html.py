"""Render an :class:`~assay.auditing.AuditResult` as one self-contained HTML file.

Figures are inline SVG drawn from the figure descriptions in the results (text as paths);
every user string goes through Jinja2's autoescaping; a Content-Security-Policy forbids any
external request. The report depends on ``results.json`` alone.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from assay._version import __version__
from assay.auditing._result import AuditResult
from assay.report._figures import render_figure

__all__ = ["render_html", "write_report"]


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render_html(result: AuditResult) -> str:
    """The report as an HTML string."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("assay.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["fmt"] = _fmt
    template = env.get_template("report.html")
    sections = []
    for key, sec in result.sections.items():
        figures = [(render_figure(f), f.get("caption", "")) for f in sec.get("figures", [])]
        sections.append({"key": key, "section": sec, "figures": [f for f in figures if f[0]]})
    return template.render(
        sections=sections,
        meta=result.meta,
        assay_version=__version__,
    )


def write_report(result: AuditResult, path: str | os.PathLike[str]) -> Path:
    """Write the report to ``path`` and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(result), encoding="utf-8")
    return path
