"""Turn audit results into a self-contained HTML report."""

from assay.report._html import render_html, write_report

__all__ = ["render_html", "write_report"]
