"""Model adapters and tree extraction.

:func:`wrap` turns any supported model into a :class:`ModelAdapter`; tree models also expose
their structure as a :class:`TreeEnsemble`.
"""

from assay.model._adapters import CallableAdapter, ModelAdapter, default_output_space, wrap
from assay.model._tree_ensemble import TreeEnsemble

__all__ = [
    "CallableAdapter",
    "ModelAdapter",
    "TreeEnsemble",
    "default_output_space",
    "extract_tree_ensemble",
    "wrap",
]


def extract_tree_ensemble(model):
    """Extract the trees of a fitted model as a :class:`TreeEnsemble` (see ``_tree_extract``)."""
    from assay.model._tree_extract import extract_tree_ensemble as _extract

    return _extract(model)
