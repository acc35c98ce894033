"""The tabular audit: :func:`audit` and its :class:`AuditResult`."""

from assay.auditing._result import AuditResult
from assay.auditing._run import audit

__all__ = ["AuditResult", "audit"]
