"""Held-out tests, multiplicity correction and intervals for slices.

Every function here is small and checked against a hand computation or scipy in the tests.
Tests are one-sided (the slice is *worse*): the direction is fixed before the confirmation
data are looked at, so a one-sided p-value is valid.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = [
    "benjamini_hochberg",
    "fcr_level",
    "newcombe_interval",
    "test_greater",
    "welch_interval",
    "wilson_interval",
]


def test_greater(inside: np.ndarray, outside: np.ndarray, *, binary: bool) -> float:
    """One-sided p-value that the mean of ``inside`` exceeds the mean of ``outside``.

    Binary (0/1) values: Fisher's exact test on the 2x2 table
    ``[[errors in, non-errors in], [errors out, non-errors out]]``, alternative "greater" (the
    odds ratio exceeds 1). Continuous values: Welch's t-test, alternative "greater". Returns 1.0
    when either side is too small to test (no rows; fewer than two rows or zero variance on both
    sides for Welch).
    """
    inside = np.asarray(inside, dtype=np.float64)
    outside = np.asarray(outside, dtype=np.float64)
    if inside.size == 0 or outside.size == 0:
        return 1.0
    if binary:
        a = int(inside.sum())
        c = int(outside.sum())
        table = [[a, inside.size - a], [c, outside.size - c]]
        return float(stats.fisher_exact(table, alternative="greater").pvalue)
    if inside.size < 2 or outside.size < 2:
        return 1.0
    if np.var(inside) == 0 and np.var(outside) == 0:
        return 0.0 if inside[0] > outside[0] else 1.0
    res = stats.ttest_ind(inside, outside, equal_var=False, alternative="greater")
    p = float(res.pvalue)
    return 1.0 if np.isnan(p) else p


def benjamini_hochberg(pvalues: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (``scipy.stats.false_discovery_control``)."""
    p = np.asarray(pvalues, dtype=np.float64)
    if p.size == 0:
        return p.copy()
    return np.asarray(stats.false_discovery_control(p, method="bh"), dtype=np.float64)


def fcr_level(alpha: float, n_selected: int, n_tested: int) -> float:
    """Confidence level of intervals for selected slices that controls the FCR at ``alpha``.

    Benjamini & Yekutieli (2005): after selecting ``R`` of ``m`` parameters, marginal intervals at
    level ``1 - R alpha / m`` keep the expected share of non-covering intervals among the
    selected at most ``alpha``. With nothing selected the plain ``1 - alpha`` is returned.
    """
    if n_selected <= 0 or n_tested <= 0:
        return 1.0 - alpha
    return 1.0 - n_selected * alpha / n_tested


def wilson_interval(successes: int, n: int, level: float) -> tuple[float, float]:
    """Wilson score interval of a proportion (two-sided, at ``level``)."""
    if n == 0:
        return (0.0, 1.0)
    z = float(stats.norm.ppf(0.5 + level / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (float(max(0.0, centre - half)), float(min(1.0, centre + half)))


def newcombe_interval(a: int, n1: int, b: int, n2: int, level: float) -> tuple[float, float]:
    """Newcombe's hybrid score interval (method 10) for ``a/n1 - b/n2``."""
    if n1 == 0 or n2 == 0:
        return (-1.0, 1.0)
    p1, p2 = a / n1, b / n2
    l1, u1 = wilson_interval(a, n1, level)
    l2, u2 = wilson_interval(b, n2, level)
    d = p1 - p2
    lower = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return (float(lower), float(upper))


def welch_interval(x: np.ndarray, y: np.ndarray, level: float) -> tuple[float, float]:
    """Welch (unequal variances) interval for ``mean(x) - mean(y)``."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.size < 2 or y.size < 2:
        return (-np.inf, np.inf)
    vx, vy = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    d = float(x.mean() - y.mean())
    se = np.sqrt(vx + vy)
    if se == 0:
        return (d, d)
    dof = (vx + vy) ** 2 / (vx**2 / (x.size - 1) + vy**2 / (y.size - 1))
    t = float(stats.t.ppf(0.5 + level / 2, dof))
    return (d - t * se, d + t * se)


def mean_interval(x: np.ndarray, level: float, *, binary: bool) -> tuple[float, float]:
    """Interval of a mean: Wilson for 0/1 values, Student t otherwise."""
    x = np.asarray(x, dtype=np.float64)
    if binary:
        return wilson_interval(int(x.sum()), x.size, level)
    if x.size < 2:
        return (-np.inf, np.inf)
    se = x.std(ddof=1) / np.sqrt(x.size)
    t = float(stats.t.ppf(0.5 + level / 2, x.size - 1))
    m = float(x.mean())
    return (m - t * se, m + t * se)


def gap_test(a: int, n1: int, b: int, n2: int, *, direction: int) -> float:
    """One-sided Fisher exact p-value that rate ``a/n1`` exceeds ``b/n2`` (direction +1) or
    falls below it (direction -1)."""
    if n1 == 0 or n2 == 0:
        return 1.0
    alt = "greater" if direction > 0 else "less"
    table = [[a, n1 - a], [b, n2 - b]]
    return float(stats.fisher_exact(table, alternative=alt).pvalue)


def gap_difference_test(g1: tuple, g2: tuple, *, direction: int) -> float:
    """Wald z-test, one-sided, that gap ``g1`` is larger (in ``direction``) than gap ``g2``.

    Each gap is ``(a, n1, b, n2)`` and means ``a/n1 - b/n2``.
    """

    def est(g: tuple) -> tuple[float, float]:
        a, n1, b, n2 = g
        if n1 == 0 or n2 == 0:
            return 0.0, np.inf
        p1, p2 = a / n1, b / n2
        return p1 - p2, p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2

    d1, v1 = est(g1)
    d2, v2 = est(g2)
    if not np.isfinite(v1 + v2):
        return 1.0
    if v1 + v2 == 0:
        return 0.0 if direction * (d1 - d2) > 0 else 1.0
    z = direction * (d1 - d2) / np.sqrt(v1 + v2)
    return float(stats.norm.sf(z))
