"""Glass-box models: boosted additive models (GAMs) with editing and shape-anomaly checks."""

from assay.glassbox._anomalies import ShapeAnomalies, ShapeAnomaly, find_shape_anomalies
from assay.glassbox._edit import EditRecord
from assay.glassbox._gam import GAMClassifier, GAMRegressor
from assay.glassbox._io import load_gam, save_gam

__all__ = [
    "EditRecord",
    "GAMClassifier",
    "GAMRegressor",
    "ShapeAnomalies",
    "ShapeAnomaly",
    "find_shape_anomalies",
    "load_gam",
    "save_gam",
]
