"""The tabular audit: :func:`audit` and its :class:`AuditResult`."""

from assay.auditing._compare import ComparisonResult, compare
from assay.auditing._components import ComponentGains, component_gains
from assay.auditing._dask_audit import audit_dask
from assay.auditing._estimate import estimate_seconds
from assay.auditing._probe_report import probe_section, write_probe_report
from assay.auditing._result import AuditResult
from assay.auditing._run import STEP_KEYS, audit

__all__ = [
    "STEP_KEYS",
    "AuditResult",
    "ComparisonResult",
    "ComponentGains",
    "audit",
    "audit_dask",
    "compare",
    "component_gains",
    "estimate_seconds",
    "probe_section",
    "write_probe_report",
]
