"""The group-gap permutation test on large data draws shuffles from sufficient statistics.

For 0/1 values the per-group counts of ones after a shuffle follow the multivariate
hypergeometric law, so the test costs O(groups) per shuffle. These tests check that this path
is taken on large data and that it is the same test: p-values agree with Fisher's exact test
and with row shuffles, and its false-alarm rate on null data stays within alpha.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from assay.fairness._compare import SUFFICIENT_STATISTIC_ABOVE, range_permutation_test


def _binary(n_a: int, n_b: int, ones_a: int, ones_b: int):
    v = np.r_[np.arange(n_a) < ones_a, np.arange(n_b) < ones_b].astype(float)
    g = np.r_[np.zeros(n_a, int), np.ones(n_b, int)]
    return v, g


def test_large_binary_p_value_matches_fisher_exact():
    v, g = _binary(12000, 18000, 1200, 1890)  # rates 0.100 and 0.105
    assert v.size * 4999 > SUFFICIENT_STATISTIC_ABOVE  # the sufficient-statistic path
    _, p = range_permutation_test(v, g, n_permutations=4999, rng=np.random.default_rng(0))
    table = [[v[g == 0].sum(), (g == 0).sum() - v[g == 0].sum()],
             [v[g == 1].sum(), (g == 1).sum() - v[g == 1].sum()]]  # fmt: skip
    exact = stats.fisher_exact(table)[1]
    se = np.sqrt(exact * (1 - exact) / 4999)
    assert 0.005 < exact < 0.5  # a gap the test must measure, not a 0 or 1 corner
    assert abs(p - exact) < 4 * se + 1 / 5000


def test_sufficient_statistics_and_row_shuffles_give_the_same_null():
    """Same data, both paths: p-values agree within Monte-Carlo error (three groups)."""
    rng = np.random.default_rng(5)
    n = 30000
    codes = rng.integers(0, 3, n)
    v = (rng.random(n) < np.array([0.20, 0.21, 0.205])[codes]).astype(float)
    _, p_fast = range_permutation_test(v, codes, n_permutations=2999,
                                       rng=np.random.default_rng(1))  # fmt: skip
    # row shuffles: the same values written as 0/1 plus a negligible offset are not 0/1, so the
    # row path runs; the offset shifts every group mean equally and leaves the gaps unchanged
    _, p_rows = range_permutation_test(v + 1e-9, codes, n_permutations=2999,
                                       rng=np.random.default_rng(2))  # fmt: skip
    se = np.sqrt(p_fast * (1 - p_fast) / 2999)
    assert 0.01 < p_fast < 0.9
    assert abs(p_fast - p_rows) < 5 * np.sqrt(2) * se


def test_false_alarm_rate_on_null_data_over_300_seeds():
    """No gap planted: share of p <= 0.05 within the binomial bound (300 seeds, 4 groups)."""
    alpha, runs, hits = 0.05, 300, 0
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        codes = rng.integers(0, 4, 21000)
        v = (rng.random(codes.size) < 0.15).astype(float)
        _, p = range_permutation_test(v, codes, n_permutations=999, rng=rng)
        hits += p <= alpha
    bound = stats.binom.ppf(0.999, runs, alpha)
    assert hits <= bound, (hits, bound)
    assert hits >= stats.binom.ppf(0.001, runs, alpha)  # not a test that never fires
