"""Render an :class:`~assay.auditing.AuditResult` as one self-contained HTML file.

Figures are inline SVG drawn from the figure descriptions in the results (text as paths);
every user string goes through Jinja2's autoescaping; a Content-Security-Policy forbids any
external request. The report depends on ``results.json`` alone.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from assay._display import fmt_number
from assay._version import __version__
from assay.auditing._result import AuditResult
from assay.report._figures import render_figure

__all__ = ["render_html", "write_report"]


def _fmt(value: Any) -> str:
    return fmt_number(value)


def _render_sections(result: AuditResult) -> list[dict[str, Any]]:
    sections = []
    for key, sec in result.sections.items():
        figures = [(render_figure(f), f.get("caption", "")) for f in sec.get("figures", [])]
        sections.append({"key": key, "section": sec, "figures": figures})
    return sections


def render_html(result: AuditResult, *, _sections: list[dict[str, Any]] | None = None) -> str:
    """The report as an HTML string."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("assay.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["fmt"] = _fmt
    template = env.get_template("report.html")
    sections = [
        {**item, "figures": [f for f in item["figures"] if f[0]]}
        for item in (_render_sections(result) if _sections is None else _sections)
    ]
    return template.render(
        sections=sections,
        meta=result.meta,
        assay_version=__version__,
    )


def write_report(
    result: AuditResult,
    path: str | os.PathLike[str],
    *,
    figures_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Write the report to ``path`` and return it.

    With ``figures_dir``, every figure is also written there as ``{section}-{n}.svg`` (the same
    drawing as in the report), for reuse in slides or papers.

    Examples
    --------
    >>> from assay.auditing import AuditResult
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> meta = {"model": "M", "n_rows": 1, "n_features": 1, "seed": 0}
    >>> result = AuditResult(sections={}, meta=meta)
    >>> write_report(result, out / "report.html", figures_dir=out / "figures").name
    'report.html'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sections = _render_sections(result)
    path.write_text(render_html(result, _sections=sections), encoding="utf-8")
    if figures_dir is not None:
        folder = Path(figures_dir)
        folder.mkdir(parents=True, exist_ok=True)
        for item in sections:
            for i, (svg, _caption) in enumerate(item["figures"], start=1):
                if svg:
                    (folder / f"{item['key']}-{i}.svg").write_text(svg, encoding="utf-8")
    return path
