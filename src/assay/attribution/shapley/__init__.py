"""Shapley value estimators."""

from assay.attribution.shapley._amortized import AmortizedShap, AmortizedValidation
from assay.attribution.shapley._exact import ExactShapley
from assay.attribution.shapley._kernel import KernelShap
from assay.attribution.shapley._permutation import PermutationShap
from assay.attribution.shapley._regression_adjusted import RegressionAdjustedShap
from assay.attribution.shapley._tree import TreeShap

__all__ = [
    "AmortizedShap",
    "AmortizedValidation",
    "ExactShapley",
    "KernelShap",
    "PermutationShap",
    "RegressionAdjustedShap",
    "TreeShap",
]
