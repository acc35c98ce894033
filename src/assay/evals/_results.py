"""Result objects of :mod:`assay.evals`: frozen dataclasses with fixed shapes and ``to_dict()``."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from scipy import stats

from assay._results import FromDict, ResultDisplay, to_jsonable

__all__ = [
    "ContaminationReport",
    "ExchangeabilityResult",
    "FormatSpreadResult",
    "MembershipResult",
]


class _ToDict(ResultDisplay, FromDict):
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (arrays as lists, NaN as None) with ``schema_version``."""
        out = {f.name: to_jsonable(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]
        out["kind"] = type(self).__name__
        out["schema_version"] = self.SCHEMA_VERSION
        return out


def mean_ci(x: np.ndarray, level: float) -> tuple[float, float, float]:
    """Mean and its t-interval (NaN bounds with fewer than two values)."""
    x = np.asarray(x, dtype=float)
    if x.shape[0] == 0:
        return float("nan"), float("nan"), float("nan")
    m = float(x.mean())
    if x.shape[0] < 2:
        return m, float("nan"), float("nan")
    se = float(x.std(ddof=1) / np.sqrt(x.shape[0]))
    h = float(stats.t.ppf(0.5 + level / 2, x.shape[0] - 1)) * se
    return m, m - h, m + h


def subset_metrics(scores: np.ndarray, contaminated: np.ndarray, level: float) -> dict:
    """Scores on all, clean and contaminated examples, and the contaminated-minus-clean gap."""
    out: dict[str, Any] = {}
    for name, mask in (
        ("all", np.ones_like(contaminated)),
        ("clean", ~contaminated),
        ("contaminated", contaminated),
    ):
        m, lo, hi = mean_ci(scores[mask], level)
        out[name] = {"mean": m, "ci_low": lo, "ci_high": hi, "n": int(mask.sum())}
    a, b = scores[contaminated], scores[~contaminated]
    diff = {"estimate": float("nan"), "ci_low": float("nan"), "ci_high": float("nan")}
    diff["p_value"] = float("nan")
    if a.shape[0] >= 2 and b.shape[0] >= 2 and (a.var() > 0 or b.var() > 0):
        with warnings.catch_warnings():  # a constant group trips scipy's precision check
            warnings.simplefilter("ignore", RuntimeWarning)
            res = stats.ttest_ind(a, b, equal_var=False)
            ci = res.confidence_interval(level)
        diff = {
            "estimate": float(a.mean() - b.mean()),
            "ci_low": float(ci.low),
            "ci_high": float(ci.high),
            "p_value": float(res.pvalue),
        }
    out["difference"] = diff
    return out


@dataclass(frozen=True, eq=False)
class ContaminationReport(_ToDict):
    """Per-example n-gram overlap with a training corpus (from :func:`ngram_overlap`).

    Attributes
    ----------
    overlap : ndarray of float, shape (n_examples,)
        Share of the example's distinct n-grams found in the corpus.
    n_ngrams, n_matched : ndarray of int, shape (n_examples,)
        Distinct n-grams of the example, and how many of them were found.
    contaminated : ndarray of bool, shape (n_examples,)
        ``n_matched > 0`` and ``overlap > threshold``.
    too_short : ndarray of bool, shape (n_examples,)
        Examples with fewer than ``n`` words: they cannot be checked and count as clean.
    metrics : dict
        With ``scores=``: ``all``, ``clean``, ``contaminated`` (mean, ci_low, ci_high, n) and
        ``difference`` (contaminated minus clean, Welch interval and p-value); else empty.
    params : dict
        n, threshold, bytes scanned, documents, corpus n-grams, expected false matches.
    """

    overlap: np.ndarray
    n_ngrams: np.ndarray
    n_matched: np.ndarray
    contaminated: np.ndarray
    too_short: np.ndarray
    metrics: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)

    @property
    def contaminated_indices(self) -> np.ndarray:
        return np.flatnonzero(self.contaminated)

    @property
    def clean_indices(self) -> np.ndarray:
        return np.flatnonzero(~self.contaminated)


@dataclass(frozen=True, eq=False)
class MembershipResult(_ToDict):
    """Membership-inference scores per example (higher = more likely seen in training).

    Attributes
    ----------
    scores : dict of str -> ndarray of float, shape (n_examples,)
        ``"loss"`` (minus mean token NLL), ``"zlib"`` (log-likelihood over zlib bytes),
        ``"min_k"`` and ``"min_k_pp"`` (when the full next-token distribution was available).
    labels : ndarray of int, shape (n_examples,), or None
        Known membership (1 = member) when given.
    metrics : dict of str -> dict
        Per score, with labels: ``auroc`` and its bootstrap ``auroc_ci``, ``tpr_at_1pct_fpr``,
        ``tpr_at_5pct_fpr`` (largest TPR whose FPR is at most 1 % / 5 %) and the one-sided
        Mann–Whitney ``p_value`` for "members score higher".
    params : dict
    """

    scores: dict[str, np.ndarray]
    labels: np.ndarray | None
    metrics: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class ExchangeabilityResult(_ToDict):
    """The sharded exchangeability test of Oren et al. (2023).

    Attributes
    ----------
    p_value : float
        One-sided t-test across shards of ``canonical - permuted_mean`` > 0: small values say the
        model prefers the published order, evidence that it saw the test set in that order.
    t_statistic : float
    canonical : ndarray of float, shape (n_shards,)
        Log-likelihood of each shard in the canonical order.
    permuted_mean, permuted_std : ndarray of float, shape (n_shards,)
        Mean and standard deviation of the log-likelihood over shuffled orders of the shard.
    shard_sizes : ndarray of int, shape (n_shards,)
    params : dict
    """

    p_value: float
    t_statistic: float
    canonical: np.ndarray
    permuted_mean: np.ndarray
    permuted_std: np.ndarray
    shard_sizes: np.ndarray
    params: dict = field(default_factory=dict)

    @property
    def differences(self) -> np.ndarray:
        return self.canonical - self.permuted_mean


@dataclass(frozen=True, eq=False)
class FormatSpreadResult(_ToDict):
    """Performance of one or more models across prompt formats (from :func:`format_spread`).

    Per-format arrays have shape ``(n_models, n_formats)`` even for one model; formats a
    budgeted search did not evaluate hold NaN.

    Attributes
    ----------
    formats : list of dict
        The choices of each format along the grammar's axes.
    model_names : list of str
    accuracy, ci_low, ci_high : ndarray of float, shape (n_models, n_formats)
        Mean score per format and its t-interval.
    n_evaluated : ndarray of int, shape (n_models, n_formats)
        Examples scored per format.
    spread, spread_ci_low, spread_ci_high : ndarray of float, shape (n_models,)
        Best minus worst format mean (biased upwards: it selects the extremes of noisy means).
        The interval corrects for that selection: a bootstrap of the spread's error in which
        formats within ``sqrt(log n)`` standard errors of the best (worst) count as tied with
        it — paired resamples of the examples in the exhaustive search, normal draws per format
        in the Thompson search (there over the formats it evaluated).
    mean, std, std_ci_low, std_ci_high : ndarray of float, shape (n_models,)
        Mean and standard deviation over the evaluated formats (bootstrap interval of the std).
    best, worst : ndarray of int, shape (n_models,)
        Indices into ``formats``.
    rank_tau, rank_tau_p : ndarray of float, shape (n_models, n_models)
        Kendall tau between models' per-format scores and its p-value (NaN for one model).
    params : dict
        Search (``"exhaustive"`` or ``"thompson"``), budget, calls used, seed, ci_level.
    """

    formats: list
    model_names: list
    accuracy: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    n_evaluated: np.ndarray
    spread: np.ndarray
    spread_ci_low: np.ndarray
    spread_ci_high: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    std_ci_low: np.ndarray
    std_ci_high: np.ndarray
    best: np.ndarray
    worst: np.ndarray
    rank_tau: np.ndarray
    rank_tau_p: np.ndarray
    params: dict = field(default_factory=dict)
