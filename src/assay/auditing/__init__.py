"""The tabular audit: :func:`audit` and its :class:`AuditResult`."""

from assay.auditing._probe_report import probe_section, write_probe_report
from assay.auditing._result import AuditResult
from assay.auditing._run import audit

__all__ = ["AuditResult", "audit", "probe_section", "write_probe_report"]
