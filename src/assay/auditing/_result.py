"""The :class:`AuditResult`: every section of an audit, serializable to ``results.json``."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay._version import __version__
from assay.errors import InvalidInputError

__all__ = ["AuditResult"]

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class AuditResult:
    """The outcome of :func:`assay.audit`.

    Attributes
    ----------
    sections : dict
        Section name -> JSON-serializable dict. Each section has a ``verdict`` line.
    meta : dict
        Data and model description, seed, assay version, timings.
    schema_version : int
    """

    sections: dict[str, dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "AuditResult",
            "schema_version": self.schema_version,
            "assay_version": __version__,
            "meta": self.meta,
            "sections": self.sections,
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``results.json``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1, allow_nan=True), encoding="utf-8")
        return path

    def __repr__(self) -> str:
        statuses = ", ".join(f"{k}={s.get('status', '?')}" for k, s in self.sections.items())
        meta = self.meta
        return (
            f"AuditResult({meta.get('model', '?')}, rows={meta.get('n_rows', '?')}, "
            f"sections: {statuses or 'none'})"
        )

    def _repr_html_(self) -> str:
        """Notebook view: the held-out statement and one line per section (status, verdict)."""
        import html

        from assay._display import html_table, status_badge

        meta = self.meta
        head = (
            f"<p><strong>Audit</strong> of {html.escape(str(meta.get('model', '?')))} on "
            f"{meta.get('n_rows', 0):,} rows (alpha {meta.get('alpha', 0.05)}).</p>"
        )
        holdout = meta.get("holdout")
        if holdout:
            head += f"<p>{status_badge(holdout['status'])} {html.escape(holdout['statement'])}</p>"
        rows = [
            [status_badge(s.get("status", "")), html.escape(s.get("title", k)),
             html.escape(s.get("verdict", ""))]
            for k, s in self.sections.items()
        ]  # fmt: skip
        rows += [
            ["", html.escape(k), html.escape(f"not included: {why}")]
            for k, why in meta.get("skipped", {}).items()
        ]
        return head + html_table(["status", "section", "verdict"], rows, raw=(0, 1, 2))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AuditResult:
        if d.get("kind") != "AuditResult":
            msg = f"not an assay audit result (kind={d.get('kind')!r}); pass a results.json file."
            raise InvalidInputError(msg)
        return cls(
            sections=d["sections"], meta=d.get("meta", {}), schema_version=d["schema_version"]
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> AuditResult:
        """Read a ``results.json`` written by :meth:`save`."""
        path = Path(path)
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            msg = f"no results file at {str(path)!r}; check the path."
            raise InvalidInputError(msg) from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            msg = f"{str(path)!r} is not valid JSON ({exc})."
            raise InvalidInputError(msg) from exc
        return cls.from_dict(d)
