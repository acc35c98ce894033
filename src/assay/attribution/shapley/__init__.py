"""Shapley value estimators."""

from assay.attribution.shapley._exact import ExactShapley
from assay.attribution.shapley._kernel import KernelShap
from assay.attribution.shapley._permutation import PermutationShap
from assay.attribution.shapley._tree import TreeShap

__all__ = ["ExactShapley", "KernelShap", "PermutationShap", "TreeShap"]
