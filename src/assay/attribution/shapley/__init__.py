"""Shapley value estimators."""

from assay.attribution.shapley._exact import ExactShapley

__all__ = ["ExactShapley"]
