"""Feature attribution methods and their common result type, :class:`Explanation`."""

from assay.attribution._explanation import Explanation
from assay.attribution.shapley import ExactShapley, KernelShap, PermutationShap, TreeShap

__all__ = ["ExactShapley", "Explanation", "KernelShap", "PermutationShap", "TreeShap"]
