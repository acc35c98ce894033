"""The off-manifold check inside assess: no alarm when coalitions stay on the data manifold."""

from __future__ import annotations

import numpy as np
from scipy import stats

from assay.trust._assess import _coalition_manifold


def test_coalitions_of_independent_features_raise_no_more_alarms_than_alpha():
    runs, alarms, significant = 200, 0, 0
    for seed in range(runs):
        real = np.random.default_rng(seed).normal(size=(240, 3))
        res = _coalition_manifold("exact", real, 0.05, seed)
        alarms += res.status != "ok"
        significant += res.p_value < 0.05
    ceiling = stats.binom.ppf(0.999, runs, 0.05) / runs
    assert significant / runs <= ceiling and alarms / runs <= ceiling


def test_coalitions_that_break_a_strong_dependence_are_flagged():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(1500, 1))
    real = np.hstack([z, z + 0.05 * rng.normal(size=(1500, 1)), rng.normal(size=(1500, 2))])
    res = _coalition_manifold("kernel", real, 0.05, 0)
    assert res.p_value < 0.01 and res.status != "ok"
