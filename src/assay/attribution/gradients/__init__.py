"""Gradient attributions for PyTorch models (torch is imported only when an explainer is built).

- :class:`IntegratedGradients` — Gauss-Legendre or Riemann quadrature, zero / mean / given /
  expected-gradient baselines, the relative completeness error per row and an adaptive mode;
- :class:`SmoothGrad` — SmoothGrad, SmoothGrad² and VarGrad with Monte-Carlo standard errors;
- :class:`Saliency`, :class:`InputXGradient`;
- :class:`TokenIntegratedGradients` — IG with respect to the token-embedding layer of a
  Hugging Face transformer, per-token attributions against a pad-token baseline.
"""

from assay.attribution.gradients._integrated import IntegratedGradients, quadrature
from assay.attribution.gradients._layer import TokenIntegratedGradients
from assay.attribution.gradients._simple import InputXGradient, Saliency
from assay.attribution.gradients._smoothgrad import SmoothGrad

__all__ = [
    "InputXGradient",
    "IntegratedGradients",
    "Saliency",
    "SmoothGrad",
    "TokenIntegratedGradients",
    "quadrature",
]
