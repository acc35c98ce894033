"""What the LIME benchmarks share (``bench_lime.py``, ``bench_lime_continuous.py``).

The data (breast_cancer, d=30), K and the number of samples, a clock for wall and CPU seconds,
the clock around assay's model evaluations (``MODEL_CLOCK``: the library call and assay's
compiled copy of the trees, timed without changing them) and the warm-up run. Import this
module after pinning BLAS, OpenMP and numba to one thread (each script does so first).
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.datasets import load_breast_cancer

import assay.model._adapters as adapters
import assay.model._fast_predict as fast_predict
from assay.attribution import LimeTabular

K = 5
N_SAMPLES = 5000


class Clock:
    """Accumulates wall and CPU seconds of the calls it wraps."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def wrap(self, fn):
        def timed(*args, **kwargs):
            w, c = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.wall += time.perf_counter() - w
                self.cpu += time.process_time() - c

        return timed

    def reset(self) -> None:
        self.wall = self.cpu = 0.0


MODEL_CLOCK = Clock()
# time assay's model evaluations (the library call and the compiled trees) without changing them
adapters.SklearnAdapter._predict_raw = MODEL_CLOCK.wrap(adapters.SklearnAdapter._predict_raw)
fast_predict.CompiledTrees.__call__ = MODEL_CLOCK.wrap(fast_predict.CompiledTrees.__call__)


def breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    """The benchmark's data: scikit-learn's breast_cancer (569 rows, 30 features)."""
    return load_breast_cancer(return_X_y=True)


def warm_up(models, X: np.ndarray) -> None:
    """Explain two rows with each model: numba compilation and imports are not per-row cost."""
    for model in models:
        LimeTabular(model, background=X, n_samples=100).explain(X[:2], seed=0)
