"""Turn audit results into a self-contained HTML report."""

from assay.report._compare_html import render_comparison_html, write_comparison_report
from assay.report._html import render_html, write_report

__all__ = [
    "render_comparison_html",
    "render_html",
    "write_comparison_report",
    "write_report",
]
