"""Glass-box models: boosted additive models (GAMs) with editing and shape-anomaly checks."""

from assay.glassbox._anomalies import ShapeAnomalies, ShapeAnomaly, find_shape_anomalies
from assay.glassbox._check_monotonic import (
    FeatureMonotonicity,
    MonotonicityCheck,
    check_monotonic,
)
from assay.glassbox._edit import EditRecord
from assay.glassbox._gam import GAMClassifier, GAMRegressor
from assay.glassbox._io import load_gam, save_gam
from assay.glassbox._monotonic import MonotonicMLPClassifier, MonotonicMLPRegressor
from assay.glassbox._monotonic_compare import MonotonicComparison, compare_monotonic

__all__ = [
    "EditRecord",
    "FeatureMonotonicity",
    "GAMClassifier",
    "GAMRegressor",
    "MonotonicComparison",
    "MonotonicMLPClassifier",
    "MonotonicMLPRegressor",
    "MonotonicityCheck",
    "ShapeAnomalies",
    "ShapeAnomaly",
    "check_monotonic",
    "compare_monotonic",
    "find_shape_anomalies",
    "load_gam",
    "save_gam",
]
