"""What every result shares: the status vocabulary and one JSON converter.

Result objects are dataclasses with ``to_dict()`` (JSON-ready: ``kind``, ``schema_version`` and
their fields) and, where a result is meant to be reloaded, ``from_dict()``. Statuses are
``"ok"``, ``"warning"`` and ``"alert"``; a report or section takes the worst of its parts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["STATUSES", "STATUS_RANK", "ResultDisplay", "to_jsonable", "worst_status"]

STATUSES = ("ok", "warning", "alert")
STATUS_RANK = {status: rank for rank, status in enumerate(STATUSES)}


def worst_status(statuses: Iterable[str]) -> str:
    """The most severe of ``statuses`` ("ok" for none).

    Examples
    --------
    >>> worst_status(["ok", "alert", "warning"])
    'alert'
    >>> worst_status([])
    'ok'
    """
    return max(statuses, key=STATUS_RANK.__getitem__, default="ok")


def to_jsonable(obj: Any, *, strict: bool = False) -> Any:
    """``obj`` as plain JSON values: numpy arrays and scalars, tuples, nested results.

    Non-finite floats become None (JSON has no NaN). Other objects become their text, or, with
    ``strict``, raise ``TypeError``.

    Examples
    --------
    >>> import numpy as np
    >>> to_jsonable({"a": np.arange(2), "b": (np.float64(1.5), float("nan"))})
    {'a': [0, 1], 'b': [1.5, None]}
    """
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        return obj.to_dict()
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v, strict=strict) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v, strict=strict) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist(), strict=strict)
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item(), strict=strict)
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    if strict:
        msg = f"cannot save a value of type {type(obj).__name__} ({obj!r}) as JSON"
        raise TypeError(msg)
    return str(obj)


class ResultDisplay:
    """Notebook display for any result with ``to_dict()``: its verdict and its scalar fields.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Toy(ResultDisplay):
    ...     status: str = "ok"
    ...     auc: float = 0.91
    ...     def to_dict(self):
    ...         return {"kind": "Toy", "status": self.status, "auc": self.auc}
    >>> "<table>" in Toy()._repr_html_()
    True
    """

    def _repr_html_(self) -> str:
        import html

        from assay._display import html_table, status_badge

        d = self.to_dict()  # type: ignore[attr-defined]
        kind = html.escape(str(d.get("kind", type(self).__name__)))
        head = f"<p><strong>{kind}</strong>"
        status = getattr(self, "status", d.get("status"))
        if isinstance(status, str) and status in STATUS_RANK:
            head += " " + status_badge(status)
        verdict = getattr(self, "verdict", d.get("verdict"))
        if isinstance(verdict, str) and verdict:
            head += f": {html.escape(verdict)}"
        head += "</p>"
        rows = []
        for key, value in d.items():
            if key in ("kind", "schema_version", "status", "verdict"):
                continue
            if value is None or isinstance(value, (bool, int, float, str)):
                rows.append([key, value if not isinstance(value, str) else value[:200]])
            elif isinstance(value, (list, dict)):
                rows.append([key, f"{type(value).__name__} of {len(value)}"])
        return head + (html_table(["field", "value"], rows[:30]) if rows else "")
