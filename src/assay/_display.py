"""Numbers and small tables as people read them: the report, notebooks and reprs share these."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

__all__ = ["fmt_number", "html_table", "status_badge"]

# below this magnitude a float is rounding noise around zero (5.55e-17 reads as 0)
ZERO = 1e-12

STATUS_COLORS = {"ok": "#2a4f99", "warning": "#7a5200", "alert": "#8a241c"}


def fmt_number(value: Any) -> str:
    """A value formatted for people: 3 significant digits, thousands separators, no "e-17".

    Examples
    --------
    >>> [fmt_number(v) for v in (5.55e-17, 1600.0, 0.123456, 12345678, 2.5e-5, True, None)]
    ['0', '1,600', '0.123', '12,345,678', '2.5e-05', 'yes', '–']
    """
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        magnitude = abs(value)
        if magnitude < ZERO:
            return "0"
        if magnitude >= 1000:
            return f"{value:,.0f}"
        if magnitude >= 100:
            return f"{value:.1f}"
        if magnitude >= 1e-3:
            return f"{value:.3g}"
        return f"{value:.2g}"
    return str(value)


def status_badge(status: str) -> str:
    color = STATUS_COLORS.get(status, "#5a6477")
    return (
        f'<span style="color:{color};font-weight:600;text-transform:uppercase;'
        f'font-size:0.8em">{html.escape(status)}</span>'
    )


def html_table(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], *, raw: Sequence[int] = ()
) -> str:
    """An HTML table; cells are escaped and numbers formatted, except columns in ``raw``."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for j, cell in enumerate(row):
            text = cell if j in raw else html.escape(fmt_number(cell))
            align = ' style="text-align:right"' if isinstance(cell, (int, float)) else ""
            cells.append(f"<td{align}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
