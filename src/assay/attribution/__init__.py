"""Feature attribution methods and their common result type, :class:`Explanation`."""

from assay.attribution._distributed import DistributedExplanation
from assay.attribution._explanation import Explanation
from assay.attribution._lime import LimeTabular
from assay.attribution._lime_text import LimeText, TokenExplanation
from assay.attribution._parquet_read import read_explanation_parquet
from assay.attribution.shapley import (
    AmortizedShap,
    AmortizedValidation,
    ExactShapley,
    KernelShap,
    PermutationShap,
    RegressionAdjustedShap,
    TreeShap,
)

__all__ = [
    "AmortizedShap",
    "AmortizedValidation",
    "DistributedExplanation",
    "ExactShapley",
    "Explanation",
    "KernelShap",
    "LimeTabular",
    "LimeText",
    "PermutationShap",
    "RegressionAdjustedShap",
    "TokenExplanation",
    "TreeShap",
    "read_explanation_parquet",
]
