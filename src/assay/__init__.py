"""assay: explain, audit and align machine-learning models.

The main entry points are :func:`explain` (attributions for any model, as an
:class:`Explanation`) and the ``assay audit`` command.
"""

from assay._explain import explain
from assay._version import __version__
from assay.attribution import Explanation
from assay.auditing import AuditResult, ComparisonResult, audit, compare

__all__ = [
    "AuditResult",
    "ComparisonResult",
    "Explanation",
    "__version__",
    "audit",
    "compare",
    "datasets",
    "explain",
]


_SUBMODULES = {
    "acquire",
    "attribution",
    "datasets",
    "evals",
    "fairness",
    "glassbox",
    "model",
    "plot",
    "probe",
    "slices",
    "trust",
}


def __getattr__(name: str):
    import importlib

    if name in _SUBMODULES:
        return importlib.import_module(f"assay.{name}")
    msg = f"module 'assay' has no attribute {name!r}"
    raise AttributeError(msg)
