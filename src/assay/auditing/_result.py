"""The :class:`AuditResult`: every section of an audit, serializable to ``results.json``."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NoReturn

from assay._results import STATUSES, FromDict
from assay._version import __version__
from assay.errors import InvalidInputError

__all__ = ["MAX_RESULTS_BYTES", "AuditResult", "check_results"]


@dataclass(frozen=True)
class AuditResult(FromDict):
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
    SCHEMA_VERSION: ClassVar[int] = 1  # this kind's one schema version
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "AuditResult",
            "schema_version": self.schema_version,
            "assay_version": __version__,
            "meta": self.meta,
            "sections": self.sections,
            "findings": self.findings,
        }

    @property
    def findings(self) -> list[dict[str, Any]]:
        """Sections with a warning or an alert, worst first: ``{section, title, status, message}``
        (the ``"findings"`` block of ``results.json``; ``assay audit --fail-on`` reads it)."""
        from assay.auditing._gates import findings

        return findings(self.sections)

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
        """Rebuild from :meth:`to_dict` output, checking its schema (see :func:`check_results`)."""
        d = check_results(d, where="the results")
        return cls(sections=d["sections"], meta=d["meta"], schema_version=d["schema_version"])

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> AuditResult:
        """Read a ``results.json`` written by :meth:`save`, as untrusted data.

        Regular files of at most :data:`MAX_RESULTS_BYTES` only; the content is checked
        against the schema before anything renders it.
        """
        from assay._io import open_regular

        with open_regular(path, what="results file", max_bytes=MAX_RESULTS_BYTES) as fh:
            raw = fh.read()
        try:
            d = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            msg = f"{str(path)!r} is not valid JSON ({str(exc)[:200]})."
            raise InvalidInputError(msg) from exc
        d = check_results(d, where=repr(str(path)))
        return cls(sections=d["sections"], meta=d["meta"], schema_version=d["schema_version"])


#: Largest ``results.json`` read.
MAX_RESULTS_BYTES = 256 * 2**20
_SCALAR = (str, int, float, bool, type(None))


def check_results(d: Any, *, where: str) -> dict[str, Any]:
    """Check a parsed ``results.json`` against the schema the report renders; return it.

    Sections are a dict of dicts with a ``title``, ``verdict`` and ``status`` (one of ok,
    warning, alert); ``metrics`` a dict of scalars, ``tables`` a list of
    ``{title, columns, rows}``, ``figures`` a list of ``{kind, caption, data}`` (missing
    ones are read as empty). ``meta`` holds ``model``, ``n_rows``, ``n_features`` and
    ``seed``. Returns a copy with the optional fields filled in.

    Raises
    ------
    InvalidInputError
        Naming the first field that does not fit, where it is, and what it holds.
    """

    def bad(part: str, problem: str) -> NoReturn:
        msg = (
            f"{where} is not a valid assay results file: {part} {problem}. Rerun "
            "`assay audit` to write a fresh results.json."
        )
        raise InvalidInputError(msg)

    if not isinstance(d, dict):
        bad("the top level", f"is a {type(d).__name__}, not an object")
    if d.get("kind") != "AuditResult":
        msg = (
            f"{where} is not an assay audit result (kind={d.get('kind')!r}); pass a "
            "results.json file."
        )
        raise InvalidInputError(msg)
    version = d.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        bad("schema_version", f"is {version!r}, not an integer")
    meta = d.get("meta", {})
    if not isinstance(meta, dict):
        bad("meta", f"is a {type(meta).__name__}, not an object")
    for key in ("model", "n_rows", "n_features", "seed"):
        if not isinstance(meta.get(key), _SCALAR) or key not in meta:
            bad(f"meta.{key}", "is missing or not a plain value")
    skipped = meta.get("skipped")
    if skipped is not None and not (
        isinstance(skipped, dict) and all(isinstance(v, _SCALAR) for v in skipped.values())
    ):
        bad("meta.skipped", "is not an object of reasons")
    sections = d.get("sections")
    if not isinstance(sections, dict):
        bad("sections", f"is a {type(sections).__name__}, not an object")
    checked = {}
    for key, sec in sections.items():
        name = f"section {key!r}"
        if not isinstance(sec, dict):
            bad(name, f"is a {type(sec).__name__}, not an object")
        sec = {"metrics": {}, "tables": [], "figures": [], "data": {}, **sec}
        for attr in ("title", "verdict"):
            if not isinstance(sec.get(attr), str):
                bad(f"{name}.{attr}", "is missing or not text")
        if sec.get("status") not in STATUSES:
            bad(f"{name}.status", f"is {sec.get('status')!r}, not one of {STATUSES}")
        metrics = sec["metrics"]
        if not isinstance(metrics, dict) or not all(
            isinstance(v, _SCALAR) for v in metrics.values()
        ):
            bad(f"{name}.metrics", "is not an object of plain values")
        if not isinstance(sec["tables"], list):
            bad(f"{name}.tables", "is not a list")
        for i, tbl in enumerate(sec["tables"]):
            if not (
                isinstance(tbl, dict)
                and isinstance(tbl.get("title"), str)
                and isinstance(tbl.get("columns"), list)
                and isinstance(tbl.get("rows"), list)
                and all(isinstance(row, list) for row in tbl["rows"])
            ):
                bad(f"{name}.tables[{i}]", "is not {title, columns, rows: [[...]]}")
        if not isinstance(sec["figures"], list):
            bad(f"{name}.figures", "is not a list")
        for i, fig in enumerate(sec["figures"]):
            if not (
                isinstance(fig, dict)
                and isinstance(fig.get("kind"), str)
                and isinstance(fig.get("caption", ""), str)
                and isinstance(fig.get("data", {}), dict)
            ):
                bad(f"{name}.figures[{i}]", "is not {kind, caption, data: {...}}")
        checked[key] = sec
    return {**d, "meta": meta, "sections": checked}
