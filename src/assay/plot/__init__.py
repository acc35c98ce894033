"""Matplotlib plots; every function takes a result object and ``ax=``."""

from assay.plot._evals import (
    plot_contamination,
    plot_exchangeability,
    plot_format_spread,
    plot_judge_bias,
    plot_membership_roc,
)
from assay.plot._fairness import plot_group_metrics, plot_proxy_influence, plot_tradeoff
from assay.plot._gam import plot_gam_importances, plot_gam_pair, plot_gam_shape
from assay.plot._monotonic import plot_monotonicity
from assay.plot._probe import plot_activation_patching, plot_layer_accuracy, plot_transfer
from assay.plot._slices import plot_slices
from assay.plot._trust import plot_faithfulness_curves

__all__ = [
    "plot_activation_patching",
    "plot_contamination",
    "plot_exchangeability",
    "plot_faithfulness_curves",
    "plot_format_spread",
    "plot_gam_importances",
    "plot_gam_pair",
    "plot_gam_shape",
    "plot_group_metrics",
    "plot_judge_bias",
    "plot_layer_accuracy",
    "plot_membership_roc",
    "plot_monotonicity",
    "plot_proxy_influence",
    "plot_slices",
    "plot_tradeoff",
    "plot_transfer",
]
