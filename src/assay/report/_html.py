"""Render an :class:`~assay.auditing.AuditResult` as one self-contained HTML file.

Figures are inline SVG drawn from the figure descriptions in the results (text as paths);
every user string goes through Jinja2's autoescaping; a Content-Security-Policy forbids any
external request. The report depends on ``results.json`` alone.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from assay._display import fmt_number
from assay._version import __version__
from assay.auditing._result import AuditResult, check_results
from assay.errors import InvalidInputError
from assay.report._figures import render_figure

__all__ = ["render_html", "write_report"]


def template_environment() -> Any:
    """The Jinja2 environment of both reports (``templates/_base.html`` and its children).

    Autoescaping is on: every user string (feature names, group labels, verdicts) is escaped,
    so a ``<script>`` in the data is shown as text and never runs.
    """
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("assay.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["fmt"] = fmt_number
    return env


def safe_name(key: Any, taken: set[str]) -> str:
    """A file and anchor name for section ``key``: letters, digits, ``_`` and ``-`` only.

    Keys come from ``results.json``, which is data: a key such as ``../../x`` or ``/etc/x``
    must never become a path. Other characters become ``_``; a name already taken (two keys
    that differ only in such characters) gets a numbered suffix.
    """
    base = re.sub(r"[^A-Za-z0-9_-]", "_", str(key))[:64] or "section"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    taken.add(name)
    return name


def _render_sections(result: AuditResult) -> list[dict[str, Any]]:
    checked = check_results(result.to_dict(), where="the audit result")["sections"]
    sections = []
    taken: set[str] = set()
    for key, sec in checked.items():
        figures = []
        for i, spec in enumerate(sec["figures"], start=1):
            try:
                svg = render_figure(spec)
            except Exception as exc:  # figure data that does not fit its kind
                msg = (
                    f"figure {i} of section {key!r} ({spec.get('kind')!r}) could not be drawn "
                    f"from its data ({type(exc).__name__}: {str(exc)[:200]}); the results "
                    "file is damaged. Rerun `assay audit` to write a fresh one."
                )
                raise InvalidInputError(msg) from exc
            figures.append((svg, spec.get("caption", "")))
        sections.append({"key": safe_name(key, taken), "section": sec, "figures": figures})
    return sections


def render_html(result: AuditResult, *, _sections: list[dict[str, Any]] | None = None) -> str:
    """The report as an HTML string."""
    template = template_environment().get_template("report.html")
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
    drawing as in the report), for reuse in slides or papers. ``{section}`` is the section key
    made safe for a file name (:func:`safe_name`), so every file lands inside ``figures_dir``.

    Raises
    ------
    InvalidInputError
        If the result does not follow the results schema (see
        :func:`assay.auditing._result.check_results`) or a figure cannot be drawn from its data.

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
                if svg:  # item["key"] is a safe_name: no separators, no dots
                    (folder / f"{item['key']}-{i}.svg").write_text(svg, encoding="utf-8")
    return path
