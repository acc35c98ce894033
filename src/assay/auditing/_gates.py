"""Findings and pipeline gates: which sections raised a warning or an alert, and the exit status.

Exit statuses of ``assay audit`` and ``assay compare`` with ``--fail-on LEVEL``:

====  ==========================================================================
0     clean: no finding at LEVEL or worse (or no ``--fail-on``)
1     findings: at least one section's status is at LEVEL or worse
2     usage error or invalid input (bad option, unreadable file, wrong columns)
130   interrupted (Ctrl-C)
====  ==========================================================================
"""

from __future__ import annotations

from typing import Any

from assay._results import STATUS_RANK
from assay.errors import InvalidInputError

__all__ = ["EXIT_CLEAN", "EXIT_FINDINGS", "FAIL_ON", "STATUS_RANK", "findings", "gate_status"]

FAIL_ON = ("alert", "warning")
EXIT_CLEAN = 0
EXIT_FINDINGS = 1


def findings(sections: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The sections whose status is not "ok", worst first: ``{section, title, status, message}``.

    ``message`` is the section's verdict line; the list is the machine-readable block that
    ``results.json`` carries under ``"findings"``.

    Examples
    --------
    >>> secs = {"a": {"status": "ok", "verdict": "fine"},
    ...         "b": {"status": "warning", "title": "B", "verdict": "look"},
    ...         "c": {"status": "alert", "title": "C", "verdict": "worse"}}
    >>> [(f["section"], f["status"]) for f in findings(secs)]
    [('c', 'alert'), ('b', 'warning')]
    """
    out = [
        {
            "section": str(key),
            "title": str(sec.get("title", key)),
            "status": sec.get("status"),
            "message": str(sec.get("verdict", "")),
        }
        for key, sec in sections.items()
        if isinstance(sec, dict) and sec.get("status") in ("warning", "alert")
    ]
    out.sort(key=lambda f: -STATUS_RANK[f["status"]])  # stable: section order within a level
    return out


def gate_status(found: list[dict[str, Any]], fail_on: str | None) -> int:
    """Exit status of a gate: 1 when a finding is at ``fail_on`` or worse, else 0.

    Examples
    --------
    >>> found = [{"status": "warning"}]
    >>> gate_status(found, "alert"), gate_status(found, "warning")
    (0, 1)
    """
    if fail_on is None:
        return EXIT_CLEAN
    if fail_on not in FAIL_ON:
        msg = f"fail_on must be one of {FAIL_ON} or None; got {fail_on!r}."
        raise InvalidInputError(msg)
    level = STATUS_RANK[fail_on]
    hit = any(STATUS_RANK.get(f.get("status"), 0) >= level for f in found)
    return EXIT_FINDINGS if hit else EXIT_CLEAN
