"""Render an :class:`~assay.audit.AuditResult` as one self-contained HTML file.

Figures are inline SVG (text drawn as paths, so no fonts and no user text inside SVG); every user
string goes through Jinja2's autoescaping. The page makes no external requests.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from assay._version import __version__
from assay.auditing._result import AuditResult

__all__ = ["SECTION_TITLES", "render_html", "write_report"]

SECTION_TITLES = {
    "performance": "Performance",
    "attributions": "What drives the predictions",
}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _svg(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    # paths instead of text (no fonts, no user text in SVG); fixed ids and no date so that
    # the same results always give the same report
    with plt.rc_context({"svg.fonttype": "path", "svg.hashsalt": "assay"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def _figures(result: AuditResult) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    figs: dict[str, str] = {}
    attr = result.sections.get("attributions")
    if attr:
        items = list(attr["importance"].items())[:15][::-1]
        fig, ax = plt.subplots(figsize=(6, 0.3 * len(items) + 0.8))
        ax.barh([k for k, _ in items], [v for _, v in items], color="#3c6fd1")
        ax.set_xlabel("mean |Shapley value|")
        figs["importance"] = _svg(fig)
    perf = result.sections.get("performance")
    if perf and "calibration" in perf:
        cal = perf["calibration"]
        fig, ax = plt.subplots(figsize=(4, 4))
        ax.plot([0, 1], [0, 1], color="#999", lw=1)
        ax.plot(cal["mean_predicted"], cal["observed_rate"], "o-", color="#3c6fd1")
        ax.set_xlabel("mean predicted probability")
        ax.set_ylabel("observed rate")
        figs["calibration"] = _svg(fig)
    return figs


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
    return template.render(
        sections=list(result.sections.items()),
        meta=result.meta,
        titles=SECTION_TITLES,
        figures=_figures(result),
        assay_version=__version__,
    )


def write_report(result: AuditResult, path: str | os.PathLike[str]) -> Path:
    """Write the report to ``path`` and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(result), encoding="utf-8")
    return path
