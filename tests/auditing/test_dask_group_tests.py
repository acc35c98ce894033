"""Group-gap permutation tests of the Dask audit, from all-row counts: the same p-values as the
in-memory sufficient-statistic path, planted gaps found, the false-alarm rate held."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from assay.auditing._dask_sections import group_gap_tests_from_counts, group_metrics_section
from assay.auditing._fairness import BINARY_TESTED
from assay.fairness import GroupMetrics
from assay.fairness._compare import SUFFICIENT_STATISTIC_ABOVE


def _rows(counts):
    """Rows (y_true, y_pred, group) whose per-group counts are ``counts``: label -> cells of
    (y_true, y_pred) -> how many rows."""
    yt, yp, grp = [], [], []
    for label, cells in counts.items():
        for (t, p), m in cells.items():
            yt += [t] * m
            yp += [p] * m
            grp += [label] * m
    return np.array(yt), np.array(yp), np.array(grp)


def _stats(counts):
    """The per-group sums the Dask audit adds up on the cluster, from the same cells."""
    out = {}
    for label, cells in counts.items():
        tp = cells.get((1, 1), 0)
        fp = cells.get((0, 1), 0)
        fn = cells.get((1, 0), 0)
        tn = cells.get((0, 0), 0)
        out[label] = {"n": tp + fp + fn + tn, "n_pos": tp + fn, "n_dec": tp + fp, "tp": tp,
                      "fp": fp, "correct": tp + tn}  # fmt: skip
    return out


COUNTS = {
    "a": {(1, 1): 4000, (1, 0): 1500, (0, 1): 900, (0, 0): 3600},
    "b": {(1, 1): 3100, (1, 0): 1800, (0, 1): 1000, (0, 0): 4100},
    "c": {(1, 1): 1230, (1, 0): 600, (0, 1): 330, (0, 0): 1840},
}


@pytest.mark.parametrize("seed", [0, 7])
def test_p_values_equal_the_in_memory_sufficient_statistic_path(seed):
    yt, yp, grp = _rows(COUNTS)
    n_perm = 999
    assert yt.size * n_perm > SUFFICIENT_STATISTIC_ABOVE  # in memory takes the counts path too
    gm = GroupMetrics(metrics=["base_rate", "selection_rate", "true_positive_rate",
                               "false_positive_rate", "precision", "accuracy"],
                      y_true=yt, y_pred=yp, sensitive_features=grp)  # fmt: skip
    ref = gm.compare(metrics=BINARY_TESTED, n_permutations=n_perm, seed=seed).tests
    got = group_gap_tests_from_counts("binary", _stats(COUNTS), seed=seed, n_permutations=n_perm)
    assert [t["metric"] for t in got] == list(ref["metric"])
    for t, (_, r) in zip(got, ref.iterrows(), strict=True):
        assert t["p_value"] == r["p_value"] and t["p_adjusted"] == r["p_adjusted"]
        assert t["largest_gap"] == pytest.approx(r["largest_gap"], abs=1e-15)
        assert (t["highest"], t["lowest"]) == (r["highest"], r["lowest"])


def test_section_alerts_on_a_planted_gap_and_says_so():
    sec = group_metrics_section("binary", _stats(COUNTS), "grp", alpha=0.05, seed=0)
    assert sec["status"] == "alert"
    tests = {t["metric"]: t for t in sec["data"]["tests"]}
    assert tests["selection_rate"]["p_adjusted"] < 0.01
    assert "significant group gaps" in sec["verdict"] and "Holm" in sec["data"]["rule"]
    for p in sec["data"]["pairs"]:  # base rate is shown, not tested (as in memory)
        assert np.isfinite(p["p_adjusted"]) == (p["metric"] in BINARY_TESTED)


def test_false_alarm_rate_on_null_counts_is_at_most_alpha():
    """Groups drawn from one law: 'alert' in at most alpha of 300 seeds (binomial slack)."""
    alpha, runs, alerts = 0.05, 300, 0
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        cells = {}
        for label, n in (("a", 400), ("b", 250), ("c", 150)):
            m = rng.multinomial(n, [0.3, 0.2, 0.15, 0.35])
            cells[label] = dict(zip([(1, 1), (1, 0), (0, 1), (0, 0)], m.tolist(), strict=True))
        tests = group_gap_tests_from_counts("binary", _stats(cells), seed=seed,
                                            n_permutations=199)  # fmt: skip
        alerts += any(t["p_adjusted"] < alpha for t in tests)
    assert alerts <= stats.binom.ppf(0.999, runs, alpha), alerts


def test_regression_keeps_the_interval_rule():
    groups = {g: {"n": 50, "prediction": (50, m, 49.0), "abs_error": (50, 1.0, 49.0)}
              for g, m in (("a", 0.0), ("b", 2.0))}  # fmt: skip
    sec = group_metrics_section("regression", groups, "grp", alpha=0.05, seed=0)
    assert sec["data"]["tests"] == [] and sec["status"] == "warning"
    assert "needs the rows" in sec["data"]["rule"]
