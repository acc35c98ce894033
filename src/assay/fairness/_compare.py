"""Signed comparisons of a metric between groups, with tests and intervals that agree with them.

The statistics behind :meth:`GroupMetrics.compare`:

- **Per group**: a Wilson score interval for a rate (a share of rows), a t interval for a mean.
- **Per pair of groups** ``(a, b)``, labels in sorted order: the signed difference
  ``value(a) - value(b)`` with Newcombe's hybrid score interval (rates; Newcombe 1998, method
  10) or Welch's t interval (means), and the ratio ``value(a) / value(b)`` with Katz's log
  interval (rates) or a delta-method log interval (positive means). With ``k`` groups the
  ``k (k - 1) / 2`` pair intervals are simultaneous (Bonferroni): all of them cover at the same
  time with probability at least ``1 - alpha``. Every interval contains its estimate.
- **Per metric**: a permutation test that all groups share the metric. The statistic is the
  largest gap between two groups; group labels are permuted among the rows the metric is a
  share of (e.g. the actual positives for the true positive rate), which keeps the group sizes
  and makes the test exact up to Monte Carlo error. The p-values are then Holm-adjusted over all
  compared metrics (and control groups).
- **Four-fifths rule**: a pair passes when ``0.8 <= value(a) / value(b) <= 1.25``; the rule is
  *conclusive* when the ratio's interval lies entirely inside (pass) or outside (fail) that band.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from assay._results import FromDict, ResultDisplay, check_kind, to_jsonable
from assay.errors import InvalidInputError

__all__ = [
    "GroupComparison",
    "adjust_pvalues",
    "katz_ratio_interval",
    "newcombe_interval",
    "range_permutation_test",
    "rate_gap_permutation_test",
    "welch_interval",
    "wilson_interval",
]

FOUR_FIFTHS = 0.8
_CORRECTIONS = ("bh", "by", "holm", "bonferroni", "none")


def adjust_pvalues(p: np.ndarray, method: str) -> np.ndarray:
    """Multiple-testing adjusted p-values (BH/BY via scipy, Holm step-down, Bonferroni).

    Examples
    --------
    >>> adjust_pvalues(np.array([0.01, 0.04, 0.03]), "holm").round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p, dtype=np.float64)
    if method not in _CORRECTIONS:
        msg = f"correction must be one of {_CORRECTIONS}; got {method!r}."
        raise InvalidInputError(msg)
    if p.size == 0 or method == "none":
        return p.copy()
    if method in ("bh", "by"):
        return stats.false_discovery_control(p, method=method)
    m = p.size
    if method == "bonferroni":
        return np.minimum(p * m, 1.0)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    out = np.empty(m)
    out[order] = np.minimum(stepped, 1.0)
    return out


def _z(alpha: float) -> float:
    return float(stats.norm.ppf(1.0 - alpha / 2.0))


def wilson_interval(x: float, n: float, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval of the proportion ``x / n`` (contains ``x / n``).

    Examples
    --------
    >>> [round(v, 3) for v in wilson_interval(3, 10)]
    [0.108, 0.603]
    """
    if n <= 0:
        return float("nan"), float("nan")
    z = _z(alpha)
    p = x / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return float(min(max(centre - half, 0.0), p)), float(max(min(centre + half, 1.0), p))


def newcombe_interval(
    x1: float, n1: float, x2: float, n2: float, alpha: float = 0.05
) -> tuple[float, float, float]:
    """``p1 - p2`` and Newcombe's hybrid score interval (method 10 of Newcombe 1998).

    Examples
    --------
    >>> [round(v, 4) for v in newcombe_interval(56, 70, 48, 80)]
    [0.2, 0.0524, 0.3339]
    """
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson_interval(x1, n1, alpha)
    l2, u2 = wilson_interval(x2, n2, alpha)
    d = p1 - p2
    lo = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    hi = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return float(d), float(lo), float(hi)


def katz_ratio_interval(
    x1: float, n1: float, x2: float, n2: float, alpha: float = 0.05
) -> tuple[float, float, float]:
    """``p1 / p2`` and Katz's log interval; zero counts get 0.5 added for the standard error.

    The interval is widened, if needed, to contain the estimate (0 or inf when a count is 0);
    ``(nan, nan, nan)`` when both counts are 0.

    Examples
    --------
    >>> [round(v, 3) for v in katz_ratio_interval(40, 100, 50, 100)]
    [0.8, 0.587, 1.091]
    """
    if x1 == 0 and x2 == 0:
        return float("nan"), float("nan"), float("nan")
    with np.errstate(divide="ignore"):
        r = float(np.float64(x1 / n1) / np.float64(x2 / n2))
    a, b = (x1, x2) if x1 > 0 and x2 > 0 else (x1 + 0.5, x2 + 0.5)
    m1, m2 = (n1, n2) if x1 > 0 and x2 > 0 else (n1 + 1.0, n2 + 1.0)
    centre = np.log((a / m1) / (b / m2))
    se = np.sqrt(max(1 / a - 1 / m1 + 1 / b - 1 / m2, 0.0))
    lo, hi = np.exp(centre - _z(alpha) * se), np.exp(centre + _z(alpha) * se)
    return float(r), float(min(lo, r)), float(max(hi, r))


def welch_interval(
    v1: np.ndarray, v2: np.ndarray, alpha: float = 0.05
) -> tuple[float, float, float]:
    """``mean(v1) - mean(v2)`` and Welch's t interval (needs two or more values per side).

    Examples
    --------
    >>> d, lo, hi = welch_interval(np.arange(10.0), np.arange(10.0) + 1)
    >>> round(d, 3), bool(lo < d < hi)
    (-1.0, True)
    """
    n1, n2 = v1.size, v2.size
    d = float(v1.mean() - v2.mean())
    a, b = v1.var(ddof=1) / n1, v2.var(ddof=1) / n2
    se = float(np.sqrt(a + b))
    if se == 0.0:
        return d, d, d
    df = (a + b) ** 2 / (a * a / (n1 - 1) + b * b / (n2 - 1))
    t = float(stats.t.ppf(1.0 - alpha / 2.0, df))
    return d, d - t * se, d + t * se


def _mean_interval(v: np.ndarray, alpha: float) -> tuple[float, float]:
    m = float(v.mean())
    if v.size < 2:
        return float("nan"), float("nan")
    se = float(v.std(ddof=1) / np.sqrt(v.size))
    t = float(stats.t.ppf(1.0 - alpha / 2.0, v.size - 1))
    return m - t * se, m + t * se


def _ratio_of_means(v1: np.ndarray, v2: np.ndarray, alpha: float) -> tuple[float, float, float]:
    """Ratio of two positive means with a delta-method interval on the log scale."""
    m1, m2 = float(v1.mean()), float(v2.mean())
    if m1 <= 0 or m2 <= 0:
        return float("nan"), float("nan"), float("nan")
    se = np.sqrt(v1.var(ddof=1) / (v1.size * m1 * m1) + v2.var(ddof=1) / (v2.size * m2 * m2))
    r = m1 / m2
    return r, float(r * np.exp(-_z(alpha) * se)), float(r * np.exp(_z(alpha) * se))


SUFFICIENT_STATISTIC_ABOVE = 20_000_000


def range_permutation_test(
    values: np.ndarray,
    codes: np.ndarray,
    *,
    n_permutations: int = 999,
    rng: np.random.Generator | None = None,
) -> tuple[float, float]:
    """Largest gap between group means and its permutation p-value (labels shuffled).

    ``codes`` are group indices ``0..k-1`` (every group non-empty). Returns
    ``(statistic, p_value)`` with ``p = (1 + #{perm >= observed}) / (1 + n_permutations)``.

    For 0/1 values (rates) on large data (``rows x n_permutations`` above
    ``SUFFICIENT_STATISTIC_ABOVE`` = 2e7) a shuffle is drawn from its sufficient statistic: the
    numbers of ones that land in each group after the labels are shuffled follow the
    multivariate hypergeometric law (the group sizes as colours, the number of ones as the
    sample size): the same null distribution, at O(groups) per shuffle instead of O(rows).
    Otherwise rows are shuffled, in blocks of at most 2 million entries.

    Examples
    --------
    >>> v = np.r_[np.ones(30), np.zeros(30)]
    >>> g = np.r_[np.zeros(30, int), np.ones(30, int)]
    >>> stat, p = range_permutation_test(v, g, n_permutations=199, rng=np.random.default_rng(0))
    >>> stat, p
    (1.0, 0.005)
    """
    rng = np.random.default_rng() if rng is None else rng
    values = np.asarray(values, dtype=np.float64)
    k = int(codes.max()) + 1
    counts = np.bincount(codes, minlength=k).astype(np.float64)
    means = np.bincount(codes, values, minlength=k) / counts
    observed = float(means.max() - means.min())
    if n_permutations == 0:
        return observed, float("nan")
    hits, done, n = 0, 0, values.size
    tol = 1e-12 * max(1.0, abs(observed))
    large = values.size * n_permutations > SUFFICIENT_STATISTIC_ABOVE
    if large and np.all((values == 0.0) | (values == 1.0)):
        ones = np.bincount(codes, values, minlength=k)
        return rate_gap_permutation_test(ones, counts, n_permutations=n_permutations, rng=rng)
    chunk = max(1, min(n_permutations, 2_000_000 // max(n, 1)))
    while done < n_permutations:
        b = min(chunk, n_permutations - done)
        perm = rng.permuted(np.broadcast_to(codes, (b, n)), axis=1)
        flat = (perm + k * np.arange(b)[:, None]).ravel()
        sums = np.bincount(flat, np.tile(values, b), minlength=k * b).reshape(b, k)
        pm = sums / counts
        hits += int(np.sum(pm.max(axis=1) - pm.min(axis=1) >= observed - tol))
        done += b
    return observed, (1.0 + hits) / (1.0 + n_permutations)


def rate_gap_permutation_test(
    ones: np.ndarray,
    counts: np.ndarray,
    *,
    n_permutations: int = 999,
    rng: np.random.Generator | None = None,
) -> tuple[float, float]:
    """:func:`range_permutation_test` of a 0/1 rate from per-group counts alone.

    ``ones[g]`` of the ``counts[g]`` rows of group ``g`` are 1 (every count positive). Under
    the null (labels exchangeable) the ones that land in each group after a shuffle follow the
    multivariate hypergeometric law, so each shuffle is one draw of ``len(counts)`` numbers:
    what the row-level test does on large data, and what a cluster can run from the counts it
    summed. Same ``rng`` draws, same p-value as that row-level path.

    Examples
    --------
    >>> rate_gap_permutation_test(np.array([30, 0]), np.array([30, 30]), n_permutations=199,
    ...                           rng=np.random.default_rng(0))
    (1.0, 0.005)
    """
    rng = np.random.default_rng() if rng is None else rng
    counts = np.asarray(counts, dtype=np.float64)
    ones = np.asarray(ones, dtype=np.float64)
    means = ones / counts
    observed = float(means.max() - means.min())
    if n_permutations == 0:
        return observed, float("nan")
    tol = 1e-12 * max(1.0, abs(observed))
    total = round(float(ones.sum()))
    sums = rng.multivariate_hypergeometric(counts.astype(np.int64), total, size=n_permutations)
    pm = sums / counts
    hits = int(np.sum(pm.max(axis=1) - pm.min(axis=1) >= observed - tol))
    return observed, (1.0 + hits) / (1.0 + n_permutations)


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return to_jsonable(df.to_dict(orient="records"))


@dataclass(frozen=True, eq=False)
class GroupComparison(ResultDisplay, FromDict):
    """Signed between-group comparisons of each metric (see :meth:`GroupMetrics.compare`).

    Attributes
    ----------
    pairs : DataFrame
        One row per (control group, metric, pair of groups ``a < b``): ``control``, ``metric``,
        ``kind`` (``"rate"`` or ``"mean"``), ``group_a``, ``group_b``, ``n_a``, ``n_b`` (the rows
        each value is a share or mean of), ``value_a``, ``value_b``, ``estimate`` (signed:
        ``value_a - value_b``), ``ci_low``, ``ci_high`` (simultaneous over the metric's pairs),
        ``ratio`` (``value_a / value_b``), ``ratio_ci_low``, ``ratio_ci_high``, ``four_fifths``
        (``"pass"``, ``"fail"``, or ``"n/a"`` for means and undefined ratios),
        ``four_fifths_conclusive`` (the ratio interval lies entirely inside or outside
        ``[0.8, 1.25]``), and the metric's ``p_value`` and ``p_adjusted`` (repeated on its rows).
    tests : DataFrame
        One row per (control group, metric): ``n_groups``, ``largest_gap`` (max - min of the
        group values), ``highest``, ``lowest`` (group labels), ``min_ratio`` (lowest / highest
        value, the four-fifths impact ratio), ``p_value`` (permutation test that all groups share
        the metric) and ``p_adjusted`` (Holm over all rows of this table).
    groups : DataFrame
        One row per (control group, metric, group): ``n``, ``value``, ``ci_low``, ``ci_high``
        (Wilson for rates, t for means; not simultaneous).
    excluded : list of dict
        Groups left out of a metric's comparison, with ``metric``, ``group``, ``n`` and
        ``reason``.
    notes : list of str
        Plain-language remarks (metrics not compared, single groups).
    params : dict
        ``alpha``, ``n_permutations``, ``seed``, ``correction`` and the methods used.
    """

    pairs: pd.DataFrame
    tests: pd.DataFrame
    groups: pd.DataFrame
    excluded: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    SCHEMA_VERSION: ClassVar[int] = 1  # this kind's one schema version
    schema_version: int = SCHEMA_VERSION

    def significant(self, alpha: float | None = None) -> pd.DataFrame:
        """Rows of :attr:`tests` whose Holm-adjusted p-value is below ``alpha``."""
        a = self.params["alpha"] if alpha is None else float(alpha)
        return self.tests[self.tests["p_adjusted"] < a]

    def to_frame(self) -> pd.DataFrame:
        """The pairwise table (:attr:`pairs`)."""
        return self.pairs.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (NaN and inf as None)."""
        return {
            "kind": "GroupComparison",
            "schema_version": self.schema_version,
            "pairs": _records(self.pairs),
            "tests": _records(self.tests),
            "groups": _records(self.groups),
            "excluded": to_jsonable(self.excluded),
            "notes": list(self.notes),
            "params": to_jsonable(self.params),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GroupComparison:
        """Rebuild a comparison from :meth:`to_dict` output (the tables from their records)."""
        check_kind(cls, d)
        return cls(
            pairs=pd.DataFrame.from_records(d["pairs"]),
            tests=pd.DataFrame.from_records(d["tests"]),
            groups=pd.DataFrame.from_records(d["groups"]),
            excluded=[dict(e) for e in d.get("excluded", [])],
            notes=list(d.get("notes", [])),
            params=dict(d.get("params", {})),
            schema_version=int(d.get("schema_version", cls.SCHEMA_VERSION)),
        )

    def __repr__(self) -> str:
        return (
            f"GroupComparison(metrics={self.tests['metric'].unique().tolist()}, "
            f"significant={self.significant()['metric'].tolist()})"
        )


def compare_groups(
    items: list[tuple[str, str, np.ndarray, np.ndarray, list[str], str]],
    *,
    alpha: float,
    n_permutations: int,
    seed: int | None,
    min_count: int,
    notes: list[str],
) -> GroupComparison:
    """Build a :class:`GroupComparison` from per-row values.

    ``items`` holds ``(control, metric, values, codes, labels, kind)``: the per-row values the
    metric averages (only the rows it is a share of), their group codes, the group labels and
    ``"rate"`` or ``"mean"``.
    """
    rng = np.random.default_rng(seed)
    pair_rows: list[dict[str, Any]] = []
    test_rows: list[dict[str, Any]] = []
    group_rows: list[dict[str, Any]] = []
    excluded: list[dict[str, Any]] = []
    for control, metric, values, codes, labels, kind in items:
        k = len(labels)
        counts = np.bincount(codes, minlength=k)
        floor = max(min_count, 2 if kind == "mean" else 1)
        keep = [g for g in range(k) if counts[g] >= floor]
        for g in range(k):
            if counts[g] < floor:
                why = (
                    "no rows this metric is defined on" if counts[g] == 0 else
                    f"fewer than {floor} rows" + (" (a mean needs two for its spread)"
                                                  if kind == "mean" and floor == 2 else "")
                )  # fmt: skip
                excluded.append({"control": control, "metric": metric, "group": labels[g],
                                 "n": int(counts[g]), "reason": why})  # fmt: skip
        for g in keep:
            v = values[codes == g]
            lo, hi = wilson_interval(v.sum(), v.size, alpha) if kind == "rate" else (
                _mean_interval(v, alpha))  # fmt: skip
            group_rows.append({"control": control, "metric": metric, "group": labels[g],
                               "n": int(v.size), "value": float(v.mean()), "ci_low": lo,
                               "ci_high": hi})  # fmt: skip
        if len(keep) < 2:
            notes.append(
                f"{metric}: fewer than two groups with enough rows "
                f"({', '.join(f'{labels[g]}: {counts[g]}' for g in range(k))}); not compared."
            )
            continue
        sel = np.isin(codes, keep)
        remap = np.full(k, -1)
        remap[keep] = np.arange(len(keep))
        stat, p = range_permutation_test(
            values[sel], remap[codes[sel]], n_permutations=n_permutations, rng=rng
        )
        means = {g: float(values[codes == g].mean()) for g in keep}
        hi_g = max(keep, key=lambda g: means[g])
        lo_g = min(keep, key=lambda g: means[g])
        min_ratio = means[lo_g] / means[hi_g] if means[hi_g] > 0 else float("nan")
        test_rows.append({
            "control": control, "metric": metric, "kind": kind, "n_groups": len(keep),
            "largest_gap": stat, "highest": labels[hi_g], "lowest": labels[lo_g],
            "min_ratio": min_ratio, "p_value": p,
        })  # fmt: skip
        n_pairs = len(keep) * (len(keep) - 1) // 2
        a_pair = alpha / n_pairs
        for i, ga in enumerate(keep):
            for gb in keep[i + 1 :]:
                va, vb = values[codes == ga], values[codes == gb]
                if kind == "rate":
                    xa, xb = float(va.sum()), float(vb.sum())
                    est, lo, hi = newcombe_interval(xa, va.size, xb, vb.size, a_pair)
                    r, rlo, rhi = katz_ratio_interval(xa, va.size, xb, vb.size, a_pair)
                else:
                    est, lo, hi = welch_interval(va, vb, a_pair)
                    r, rlo, rhi = _ratio_of_means(va, vb, a_pair)
                if kind == "rate" and not np.isnan(r):
                    inside = FOUR_FIFTHS <= r <= 1 / FOUR_FIFTHS
                    ff = "pass" if inside else "fail"
                    conclusive = bool(
                        (rlo >= FOUR_FIFTHS and rhi <= 1 / FOUR_FIFTHS)
                        or rhi < FOUR_FIFTHS or rlo > 1 / FOUR_FIFTHS
                    )  # fmt: skip
                else:
                    ff, conclusive = "n/a", False
                pair_rows.append({"control": control, "metric": metric, "kind": kind,
                                  "group_a": labels[ga], "group_b": labels[gb],
                                  "n_a": int(va.size), "n_b": int(vb.size),
                                  "value_a": float(va.mean()), "value_b": float(vb.mean()),
                                  "estimate": est, "ci_low": lo, "ci_high": hi, "ratio": r,
                                  "ratio_ci_low": rlo, "ratio_ci_high": rhi, "four_fifths": ff,
                                  "four_fifths_conclusive": conclusive,
                                  "p_value": p})  # fmt: skip
    tests = pd.DataFrame(test_rows, columns=[
        "control", "metric", "kind", "n_groups", "largest_gap", "highest", "lowest",
        "min_ratio", "p_value"])  # fmt: skip
    tests["p_adjusted"] = adjust_pvalues(tests["p_value"].to_numpy(dtype=np.float64), "holm")
    pairs = pd.DataFrame(pair_rows, columns=[
        "control", "metric", "kind", "group_a", "group_b", "n_a", "n_b", "value_a", "value_b",
        "estimate", "ci_low", "ci_high", "ratio", "ratio_ci_low", "ratio_ci_high",
        "four_fifths", "four_fifths_conclusive", "p_value"])  # fmt: skip
    adj = dict(zip(zip(tests["control"], tests["metric"], strict=True), tests["p_adjusted"],
                   strict=True))  # fmt: skip
    pairs["p_adjusted"] = [adj[(c, m)] for c, m in zip(pairs["control"], pairs["metric"],
                                                      strict=True)]  # fmt: skip
    groups = pd.DataFrame(group_rows, columns=[
        "control", "metric", "group", "n", "value", "ci_low", "ci_high"])  # fmt: skip
    params = {
        "alpha": float(alpha),
        "n_permutations": int(n_permutations),
        "seed": seed,
        "min_count": int(min_count),
        "correction": "holm over all compared metrics and control groups",
        "test": "permutation test of the largest gap between groups (group labels shuffled "
        "among the rows each metric is a share or mean of)",
        "difference_interval": "Newcombe hybrid score (rates), Welch t (means); Bonferroni "
        "over the pairs of a metric",
        "ratio_interval": "Katz log (rates), delta method on the log scale (positive means)",
    }
    return GroupComparison(pairs, tests, groups, excluded, notes, params)
