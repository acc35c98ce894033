"""Render a :class:`~assay.auditing.ComparisonResult` as one self-contained HTML file, in the
audit report's style, led by "Key changes". User strings go through Jinja2's autoescaping."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from assay._version import __version__
from assay.errors import InvalidInputError
from assay.report._figures import render_figure
from assay.report._html import safe_name, template_environment

__all__ = ["render_comparison_html", "write_comparison_report"]


def _sections(result: Any) -> list[dict[str, Any]]:
    items, taken = [], set()
    for key, sec in result.sections.items():
        figures = []
        for i, spec in enumerate(sec.get("figures", []), start=1):
            try:
                svg = render_figure(spec)
            except Exception as exc:  # figure data that does not fit its kind
                msg = (
                    f"figure {i} of section {key!r} could not be drawn ({type(exc).__name__}: "
                    f"{str(exc)[:200]}); rerun `assay compare` to write fresh results."
                )
                raise InvalidInputError(msg) from exc
            if svg:
                figures.append((svg, spec.get("caption", "")))
        sec = {"metrics": {}, "tables": [], "data": {}, **sec}
        items.append(
            {"key": safe_name(key, taken), "raw_key": key, "section": sec, "figures": figures}
        )
    return items


def render_comparison_html(result: Any) -> str:
    """The comparison report as an HTML string.

    Examples
    --------
    >>> from assay.auditing import ComparisonResult
    >>> sec = {"title": "T <b>", "verdict": "v", "status": "alert"}
    >>> r = ComparisonResult("alert", "v", [], {"performance": sec},
    ...                      {"model_new": "A", "model_baseline": "B", "n_rows": 1, "task": "t",
    ...                       "alpha": 0.05, "seed": 0})
    >>> "T &lt;b&gt;" in render_comparison_html(r)
    True
    """
    sections = _sections(result)
    template = template_environment().get_template("compare.html")
    return template.render(
        sections=sections,
        anchors={item["raw_key"]: item["key"] for item in sections},
        key_changes=result.key_changes,
        status=result.status,
        verdict=result.verdict,
        meta=result.meta,
        assay_version=__version__,
    )


def write_comparison_report(result: Any, path: str | os.PathLike[str]) -> Path:
    """Write the comparison report to ``path`` and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_comparison_html(result), encoding="utf-8")
    return path
