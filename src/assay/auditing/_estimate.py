"""How long will the audit take? A per-section cost model driven by two timed model calls.

Each section's cost is the model rows it evaluates times the model's cost per row (timed on a
realistic batch: the audit calls the model on large blocks, so per-call overhead barely counts)
plus its own computation, a function of rows and features. The constants were measured on one
core (``benchmarks/bench_estimate.py`` prints estimate against actual on the demo and on real
tables; recalibrate there when a section changes).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

__all__ = ["estimate_seconds"]

N_EXPLAIN, N_BACKGROUND, MAX_EXACT_FEATURES = 200, 100, 12
# the trust checks evaluate about this many rows (faithfulness curves, random baselines,
# re-explanations of jittered rows), plus a re-explanation share of the attribution work
TRUST_ROWS, TRUST_REEXPLAIN = 500_000, 1.2
# assembling perturbed rows (coalitions, jitter) costs about this much per row and feature
ASSEMBLY_PER_CELL = 4e-9
# sampled KernelSHAP (d > MAX_EXACT_FEATURES) fits one regression per explained row and
# background row: about this much per model row and squared feature count (measured at d = 30,
# benchmarks/RESULTS.md "Independent coalitions per background row")
FIT_PER_CELL_SQUARED = 1e-9
# own computation, seconds per (row x feature) and fixed, per section (one core)
FIXED = {"performance": 0.1, "attributions": 0.3, "trust": 0.3, "glassbox": 0.2,
         "fairness": 0.8, "slices": 0.3, "monotonicity": 0.5, "acquisition": 0.1}  # fmt: skip
PER_CELL = {"glassbox": 5e-6, "fairness": 2.5e-4, "slices": 1.7e-5}
MAX_CELLS = {"glassbox": 10_000, "fairness": 2_000, "slices": 10**9}  # rows each one uses


def _time_model(adapter: Any, X: np.ndarray) -> tuple[float, float]:
    """(seconds per row on a 2,000-row block, seconds per call) for this model."""
    block = np.resize(X, (2000, X.shape[1]))  # rows repeated: a realistic batch size
    best = float("inf")
    for _ in range(2):
        t0 = time.perf_counter()
        adapter.predict(block)
        best = min(best, time.perf_counter() - t0)
    t0 = time.perf_counter()
    adapter.predict(X[:1])
    per_call = time.perf_counter() - t0
    return max(best - per_call, 0.0) / block.shape[0], per_call


def _attribution_rows(adapter: Any, n: int, d: int) -> float:
    if adapter.has_trees:
        return 0.0
    # exact up to MAX_EXACT_FEATURES, else KernelSHAP's budget="auto" per background row
    coalitions = 2.0**d if d <= MAX_EXACT_FEATURES else 2 * d + 512.0
    return min(n, N_EXPLAIN) * N_BACKGROUND * coalitions


def estimate_seconds(
    model: Any, X: Any, *, sensitive: bool = True, expected_directions: bool = False
) -> float:
    """Wall-clock estimate of :func:`assay.audit` on ``X`` for one core, in seconds.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> X = np.random.default_rng(0).normal(size=(500, 3))
    >>> model = LinearRegression().fit(X, X[:, 0])
    >>> 0 < estimate_seconds(model, X) < 600
    True
    """
    from assay.model import wrap

    adapter = wrap(model)
    Xv, _ = adapter.prepare(X)
    n, d = Xv.shape
    per_row, per_call = _time_model(adapter, Xv)
    attribution = _attribution_rows(adapter, n, d)
    rows = {
        "performance": 2.0 * n,
        "attributions": attribution,
        "trust": TRUST_ROWS + TRUST_REEXPLAIN * attribution,
        "fairness": 20.0 * min(n, 2000) if sensitive else 0.0,
        "monotonicity": 60_000.0 if expected_directions else 0.0,
        "slices": float(n),
        "glassbox": float(min(n, 10_000)),
    }
    skip = ({"fairness"} if not sensitive else set()) | (
        {"monotonicity"} if not expected_directions else set()
    )
    total = 0.0
    for key, fixed in FIXED.items():
        if key in skip:
            continue
        cells = min(n, MAX_CELLS.get(key, n)) * d * PER_CELL.get(key, 0.0)
        model_rows = rows.get(key, 0.0)
        assembly = model_rows * d * ASSEMBLY_PER_CELL if key in ("attributions", "trust") else 0
        if key in ("attributions", "trust") and d > MAX_EXACT_FEATURES:
            assembly += model_rows * d * d * FIT_PER_CELL_SQUARED
        total += fixed + cells + assembly + model_rows * per_row + (model_rows > 0) * 20 * per_call
    return float(total)
