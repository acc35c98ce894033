"""``find_slices``: discover failure slices on one part of the data, confirm them on the other."""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from assay._validation import as_vector, check_int, check_seed
from assay.errors import InvalidInputError
from assay.slices import _confirm, _power, _refine, _stats
from assay.slices._binning import Binned, bin_features
from assay.slices._fairness import fairness_slices
from assay.slices._pipeline import (
    min_support_rows,
    remove_redundant,
    split_rows,
)
from assay.slices._result import Slice, SliceReport
from assay.slices._search import lattice_search

__all__ = ["find_slices"]

_METRICS = ("error", "log_loss", "squared_error", "absolute_error")
_FAIR_METRICS = ("fpr", "fnr", "selection_rate", "error")


def _check_float(value: Any, *, name: str, low: float, high: float, hint: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        msg = f"{name} must be a number; got {type(value).__name__} {value!r}. {hint}"
        raise InvalidInputError(msg)
    if not low < float(value) < high:
        msg = f"{name} must lie strictly between {low:g} and {high:g}; got {value!r}. {hint}"
        raise InvalidInputError(msg)
    return float(value)


def _is_missing(x: Any) -> bool:
    if x is None:
        return True
    try:
        return bool(x != x)  # NaN (float, numpy, pandas NaT)
    except (TypeError, ValueError):
        return True  # pandas.NA: its comparisons are NA themselves


def _check_missing(values: Any, name: str) -> None:
    """Raise when ``values`` holds NaN/None (a missing label would count as an error)."""
    if values is None:
        return
    arr = np.asarray(values.to_numpy() if hasattr(values, "to_numpy") else values)
    if arr.dtype.kind in "fc":
        miss = ~np.isfinite(arr)
    elif arr.dtype.kind == "O":
        miss = np.fromiter((_is_missing(x) for x in arr.ravel()), bool, arr.size).reshape(arr.shape)
    else:
        return
    if miss.ndim == 2:
        miss = miss.any(axis=1)
    if miss.any():
        rows = np.flatnonzero(miss)
        msg = (
            f"{name} has {rows.size} missing or non-finite value(s) (NaN/None/inf), first at "
            f"rows {rows[:5].tolist()}; drop those rows (or impute) before searching for "
            "slices -- counted as errors they would make a fake failure slice."
        )
        raise InvalidInputError(msg)


def _label_kind(values: np.ndarray) -> str:
    if values.dtype.kind in "biuf":
        return "number"
    if values.dtype.kind in "US":
        return "text"
    kinds = {
        "text" if isinstance(v, str) else "number" if isinstance(v, numbers.Number) else "other"
        for v in values
    }
    return kinds.pop() if len(kinds) == 1 else "mixed"


def _check_label_sets(yt: np.ndarray, yp: np.ndarray) -> None:
    """Labels and predictions must come from one label set (else every row is an error)."""
    try:
        st, sp = np.unique(yt), np.unique(yp)
    except TypeError:  # unorderable mixture
        st, sp = np.array(list(set(yt.tolist())), object), np.array(list(set(yp.tolist())), object)
    kt, kp = _label_kind(st), _label_kind(sp)
    if kt != kp or not set(st.tolist()) & set(sp.tolist()):
        msg = (
            f"y_true and y_pred use different label sets: y_true has {kt} labels "
            f"{st[:10].tolist()}, y_pred has {kp} labels {sp[:10].tolist()}; no row could be "
            "right. Map both to the same labels (e.g. the model's classes_, or threshold "
            "probabilities) before searching for slices."
        )
        raise InvalidInputError(msg)


def _per_row_metric(metric: Any, y_true: Any, y_pred: Any, n: int) -> tuple[np.ndarray, str]:
    _check_missing(y_true, "y_true")
    _check_missing(y_pred, "y_pred")
    if y_true is None or y_pred is None:
        msg = (
            f"metric={metric!r} needs both y_true and y_pred (one value per row); pass them, "
            "or pass per-row losses directly with errors=."
        )
        raise InvalidInputError(msg)
    if callable(metric):
        yt = as_vector(y_true, name="y_true", n_rows=n, numeric=False)
        yp = np.asarray(y_pred)
        if yp.shape[0] != n:
            msg = f"y_pred has {yp.shape[0]} rows but X has {n}; they must match."
            raise InvalidInputError(msg)
        values = np.asarray(metric(yt, yp), dtype=np.float64)
        name = getattr(metric, "__name__", "metric")
        if values.shape != (n,):
            msg = (
                f"metric {name} returned shape {values.shape}; a per-row metric must return "
                f"one value per row, shape ({n},)."
            )
            raise InvalidInputError(msg)
        return values, name
    if metric not in _METRICS:
        msg = (
            f"metric must be one of {_METRICS} or a callable (y_true, y_pred) -> per-row "
            f"losses; got {metric!r}."
        )
        raise InvalidInputError(msg)
    if metric == "error":
        yt = as_vector(y_true, name="y_true", n_rows=n, numeric=False)
        yp = np.asarray(y_pred.to_numpy() if hasattr(y_pred, "to_numpy") else y_pred)
        if yp.ndim == 2 and yp.shape[1] > 1:
            if yp.shape[0] != n:
                msg = f"y_pred has {yp.shape[0]} rows but X has {n}; they must match."
                raise InvalidInputError(msg)
            yp = yp.argmax(axis=1)  # columns are classes 0..K-1
        yp = as_vector(yp, name="y_pred", n_rows=n, numeric=False)
        _check_label_sets(yt, yp)
        return (yt != yp).astype(np.float64), "error"
    yt = as_vector(y_true, name="y_true", n_rows=n)
    yp = np.asarray(y_pred.to_numpy() if hasattr(y_pred, "to_numpy") else y_pred, dtype=float)
    if metric == "log_loss":
        if yp.ndim == 2 and yp.shape[1] > 1:
            if yp.shape[0] != n:
                msg = f"y_pred has {yp.shape[0]} rows but X has {n}; they must match."
                raise InvalidInputError(msg)
            cls = yt.astype(np.int64)
            if np.any(cls != yt) or cls.min() < 0 or cls.max() >= yp.shape[1]:
                msg = (
                    f"log_loss with {yp.shape[1]} probability columns needs y_true coded "
                    f"0..{yp.shape[1] - 1}; got values {np.unique(yt)[:10]}."
                )
                raise InvalidInputError(msg)
            p = yp[np.arange(n), cls]
        else:
            yp = as_vector(yp, name="y_pred", n_rows=n)
            if not np.isin(yt, (0.0, 1.0)).all():
                msg = "log_loss with 1-D y_pred (P(y = 1)) needs y_true in {0, 1}."
                raise InvalidInputError(msg)
            p = np.where(yt == 1.0, yp, 1.0 - yp)
        if np.any(p < 0) or np.any(p > 1):
            msg = "log_loss needs probabilities in [0, 1] in y_pred; got values outside."
            raise InvalidInputError(msg)
        return -np.log(np.clip(p, 1e-15, 1.0)), "log_loss"
    yp = as_vector(yp, name="y_pred", n_rows=n)
    diff = yt - yp
    if metric == "squared_error":
        return diff**2, "squared_error"
    return np.abs(diff), "absolute_error"


def find_slices(
    X: Any,
    y_true: Any = None,
    y_pred: Any = None,
    *,
    errors: Any = None,
    metric: str | Callable = "error",
    max_level: int = 3,
    min_support: int | float = 0.01,
    alpha: float = 0.05,
    k: int = 10,
    n_bins: int = 10,
    max_categories: int = 12,
    ranges: bool = True,
    discovery_fraction: float = 0.65,
    score: str = "zscore",
    sliceline_alpha: float = 0.95,
    redundancy: bool = True,
    refine: bool = True,
    fairness: Any = None,
    fairness_metric: str = "fpr",
    pool: int = 20,
    max_overlap: float = 0.5,
    seed: int | None = None,
    crossfit: bool = True,
    weighting: str = "rank",
    max_discovery: int | None = None,
) -> SliceReport:
    """Find subgroups where a model does markedly worse, with held-out confirmation.

    The rows are split (seeded, stratified by the error indicator when errors are 0/1) in two
    halves, and every row serves for confirmation (cross-fitting): each half discovers
    candidates and the other half confirms them, each direction at level ``alpha / 2``, and the
    reported slices are the union (the false discovery rate of the union is at most the sum of
    the two, ``alpha``; on data without any failure slice the chance of reporting one is at
    most ``alpha``). ``crossfit=False`` keeps one discovery part (``discovery_fraction``) and
    one confirmation part at level ``alpha``. In each direction, an exact lattice search over
    conjunctions of up to ``max_level`` predicates finds the best-scoring slices on the
    discovery part; their thresholds are refined on a fine grid and needless predicates
    dropped (still on the discovery part). The ``k`` best distinct ones, each with its
    sub-conjunctions (the same slice with predicates dropped), are then tested on the
    confirmation part (Fisher's exact test for 0/1 errors, Welch's t-test for continuous
    losses, one-sided: inside worse than outside), and a weighted Benjamini–Hochberg step runs
    over all those tests, the weights fixed by the discovery ranks (``weighting``). Of two
    nested confirmed slices, the inner one is dropped as redundant when it does not do
    significantly worse than the rest of the outer one (its extra predicate separates
    nothing), and the outer one when it is only bad because it contains the inner one
    (``redundancy=False`` keeps both);
    the same region found in both halves is reported once.

    The report also says what this ``n`` could have confirmed (``detectable``: the error lift
    needed at 80% power for slices of 5, 10 and 20% of rows, and the smallest share at lift 2)
    and lists the strongest tested slices that were *not* confirmed (``candidates``), apart
    from the confirmed ones.

    Parameters
    ----------
    X : DataFrame or array-like (n_rows, n_features)
        The features to slice on. Numeric columns with more than ``max_categories`` distinct
        values are cut at ``n_bins`` quantiles with readable boundaries; other columns
        (strings, pandas ``category``, booleans, few distinct numbers) keep their values.
        Missing values (NaN/None) form a value of their own.
    y_true, y_pred : array-like (n_rows,), optional
        Labels and predictions (``y_pred`` may be probabilities ``(n_rows, n_classes)`` for
        ``"log_loss"``, or for ``"error"`` where the argmax is the predicted class 0..K-1).
    errors : array-like (n_rows,), optional
        Per-row non-negative losses, instead of ``y_true``/``y_pred`` and ``metric``.
    metric : {"error", "log_loss", "squared_error", "absolute_error"} or callable
        Per-row metric; a callable ``metric(y_true, y_pred)`` must return one non-negative
        value per row.
    max_level : int, default 3
        Largest number of predicates in a slice.
    min_support : int or float, default 0.01
        Smallest slice: a count of discovery rows, or a share of them if below 1 (at least 10
        rows either way).
    alpha : float, default 0.05
        False discovery rate over the reported slices (both halves together).
    k : int, default 10
        Number of distinct candidate slices taken from the search to the confirmation tests
        (each with its sub-conjunctions, so up to ``k * (2 ** max_level - 1)`` tests).
    n_bins : int, default 10
        Quantile bins per continuous feature.
    max_categories : int, default 12
        Numeric columns with at most this many distinct values are categorical.
    ranges : bool, default True
        Also offer one-sided ranges (``age < 45``) of continuous features that cover at most
        80% of the rows, besides single bins.
    discovery_fraction : float, default 0.65
        Share of rows used to search when ``crossfit=False``. Finding where a slice's
        boundaries lie needs more rows than confirming that it is worse, hence more than half.
    score : {"zscore", "sliceline"}, default "zscore"
        Search score: the slice's excess error in standard errors, or SliceLine's size-aware
        score with weight ``sliceline_alpha``.
    sliceline_alpha : float, default 0.95
        SliceLine's weight of the error term (only with ``score="sliceline"``).
    redundancy : bool, default True
        Drop confirmed slices explained by a better confirmed slice nested with them.
    refine : bool, default True
        Refine each candidate on the discovery rows before it is tested: move its thresholds
        along a fine grid (about 1% quantile steps) to the best-scoring position, and drop a
        predicate whose removed rows do not do significantly better than the slice (the
        simpler slice explains the failures as well). The confirmation rows are not used.
    fairness : array-like (n_rows,), optional
        A sensitive attribute with exactly two groups. Then the search looks for slices with a
        large gap of ``fairness_metric`` between the groups; ``y_true`` and ``y_pred`` must be
        0/1 labels.
    fairness_metric : {"fpr", "fnr", "selection_rate", "error"}, default "fpr"
        The rate compared between groups (false-positive rate, false-negative rate, share
        predicted positive, error rate). The gap is rate(first group) - rate(second group),
        groups in sorted order.
    pool : int, default 20
        The search keeps the ``pool * k`` best slices, from which ``k`` diverse ones are tested.
    max_overlap : float, default 0.5
        A candidate sharing more than this share of its (or the other's, if smaller) discovery
        rows with a better candidate is skipped, so that one region does not fill every slot.
    seed : int, optional
        Seed of the split; the same seed gives the same report.
    crossfit : bool, default True
        Discover on each half and confirm on the other (all rows confirm). False: one split
        by ``discovery_fraction``, the old behaviour. Fairness mode always uses one split.
    weighting : {"rank", "uniform"}, default "rank"
        Weights of the confirmation tests in the Benjamini–Hochberg step (mean 1, fixed by the
        discovery part only, so the error control holds): ``"rank"`` gives half of the budget
        to the best-ranked candidates (halving with each rank) and half evenly, within a
        candidate half to its full conjunction and half to its sub-conjunctions; ``"uniform"``
        is plain BH over every test, which at small ``n`` spreads the budget over tens of
        tests and confirms little.
    max_discovery : int, optional
        Most rows a discovery part searches: a larger part is replaced by a seeded random
        sample of this many of its rows (the search, refinement and the noise reference run
        on it), while the confirmation part keeps all its rows. The error control is
        unchanged (candidates still come from rows disjoint from those that test them); the
        search time stops growing with ``n``. None (default): every discovery row searches.
        Error mode only (fairness mode searches all its discovery rows).
        ``params["n_discovery_sampled"]`` records the rows actually searched.

    Returns
    -------
    SliceReport

    Raises
    ------
    InvalidInputError
        On inconsistent lengths; missing (NaN/None) labels, predictions or losses (the message
        gives their count and first rows); labels and predictions from different label sets
        (e.g. strings against integers); negative losses; bad arguments.

    Examples
    --------
    >>> import numpy as np
    >>> from assay.slices import find_slices
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([rng.integers(0, 5, 4000), rng.normal(size=4000)])
    >>> bad = (X[:, 0] == 3) & (X[:, 1] > 0.5)
    >>> errors = (rng.random(4000) < np.where(bad, 0.6, 0.1)).astype(float)
    >>> report = find_slices(X, errors=errors, seed=0)
    >>> report.slices[0].description
    'x0 = 3 AND x1 >= 0.5'
    """
    max_level = check_int(max_level, name="max_level", minimum=1, maximum=8)
    k = check_int(k, name="k", minimum=1, maximum=10_000)
    n_bins = check_int(n_bins, name="n_bins", minimum=2, maximum=1000)
    max_categories = check_int(max_categories, name="max_categories", minimum=1)
    seed = check_seed(seed)
    alpha = _check_float(alpha, name="alpha", low=0, high=1, hint="Use e.g. alpha=0.05.")
    discovery_fraction = _check_float(
        discovery_fraction, name="discovery_fraction", low=0, high=1, hint="Use e.g. 0.5."
    )
    if weighting not in ("rank", "uniform"):
        msg = f"weighting must be 'rank' or 'uniform'; got {weighting!r}."
        raise InvalidInputError(msg)
    if score not in ("zscore", "sliceline"):
        msg = f"score must be 'zscore' or 'sliceline'; got {score!r}."
        raise InvalidInputError(msg)
    sliceline_alpha = _check_float(
        sliceline_alpha, name="sliceline_alpha", low=0, high=1.0000001, hint="Use e.g. 0.95."
    )
    params: dict[str, Any] = {
        "metric": metric if isinstance(metric, str) else getattr(metric, "__name__", "callable"),
        "max_level": max_level,
        "min_support": min_support,
        "alpha": alpha,
        "k": k,
        "n_bins": n_bins,
        "max_categories": max_categories,
        "ranges": bool(ranges),
        "discovery_fraction": discovery_fraction,
        "score": score,
        "sliceline_alpha": sliceline_alpha,
        "redundancy": bool(redundancy),
        "refine": bool(refine),
        "pool": check_int(pool, name="pool", minimum=1),
        "max_overlap": _check_float(
            max_overlap, name="max_overlap", low=0, high=1.0000001, hint="Use e.g. 0.5."
        ),
        "fairness_metric": fairness_metric if fairness is not None else None,
        "seed": seed,
        "crossfit": bool(crossfit) and fairness is None,
        "weighting": weighting,
    }
    n = _n_rows(X)
    if fairness is not None:
        return fairness_slices(
            X, y_true, y_pred, fairness, fairness_metric=fairness_metric, n=n, params=params,
            max_level=max_level, min_support=min_support, alpha=alpha, k=k, n_bins=n_bins,
            max_categories=max_categories, ranges=ranges, fraction=discovery_fraction,
            redundancy=redundancy, seed=seed,
        )  # fmt: skip
    if errors is not None:
        if y_pred is not None:
            msg = "pass either errors= or y_true/y_pred with metric=, not both."
            raise InvalidInputError(msg)
        _check_missing(errors, "errors")
        e = as_vector(errors, name="errors", n_rows=n)
        metric_name = metric if isinstance(metric, str) and metric in _METRICS else "error"
        if not np.isin(e, (0.0, 1.0)).all() and metric_name == "error":
            metric_name = "loss"
        params["metric"] = metric_name
    else:
        e, metric_name = _per_row_metric(metric, y_true, y_pred, n)
    if not np.isfinite(e).all():
        bad = np.flatnonzero(~np.isfinite(e))
        msg = (
            f"the per-row {metric_name} has {bad.size} NaN/inf values, first at rows "
            f"{bad[:5].tolist()}; remove those rows."
        )
        raise InvalidInputError(msg)
    if (e < 0).any():
        msg = (
            f"the per-row {metric_name} has {int((e < 0).sum())} negative values; slice search "
            "needs non-negative losses (shift or clip them, e.g. errors - errors.min())."
        )
        raise InvalidInputError(msg)
    binary = bool(np.isin(e, (0.0, 1.0)).all())
    strata = e if binary else np.zeros(n)
    if crossfit:
        half_a, half_b = split_rows(n, strata, 0.5, seed)
        directions = [(half_a, half_b), (half_b, half_a)]
    else:
        directions = [split_rows(n, strata, discovery_fraction, seed)]
    if max_discovery is not None:
        max_discovery = check_int(max_discovery, name="max_discovery", minimum=20)
        sampler = np.random.default_rng(None if seed is None else [seed, 28])
        directions = [
            (_bounded(disc, max_discovery, sampler), conf) for disc, conf in directions
        ]
    params.update(max_discovery=max_discovery,
                  n_discovery_sampled=[int(d.size) for d, _ in directions])  # fmt: skip
    n_dir = len(directions)
    n_disc = min(d.size for d, _ in directions)
    ms = min_support_rows(min_support, n_disc)
    binned = bin_features(X, n_bins=n_bins, max_categories=max_categories, ranges=ranges,
                          min_count=ms, n_fine=_n_fine(n_disc, ms))  # fmt: skip
    params.update(min_support_rows=ms, n_items=len(binned.labels), edges=binned.edges,
                  n_evaluated=0)  # fmt: skip
    tested: list[dict[str, Any]] = []
    slices: list[Slice] = []
    for fold, (disc, conf) in enumerate(directions):
        found = _discover(e, disc, binned, score=score, sliceline_alpha=sliceline_alpha,
                          max_level=max_level, ms=ms, pool=pool, k=k, params=params,
                          refine=refine, binary=binary)  # fmt: skip
        t, c = _confirm.confirm(binned, found, e, disc, conf, alpha=alpha, n_directions=n_dir,
                                k=k, weighting=weighting, binary=binary, fold=fold)  # fmt: skip
        tested += t
        slices += c
    conf_rows = [conf for _, conf in directions]

    def worse_p(inside: np.ndarray, reference: np.ndarray, c: Slice) -> float:
        # on the confirmation rows of the half that did not find c
        rows = conf_rows[c.details.get("fold", 0)]
        return _stats.test_greater(e[rows][inside[rows]], e[rows][reference[rows]],
                                   binary=binary)  # fmt: skip

    # worst first by the lower end of the effect interval: how much worse the slice is at
    # least (a p-value ranks large, mildly bad slices first; a point effect, tiny noisy ones)
    order = lambda s: (-s.effect_ci[0], s.p_value, s.level)  # noqa: E731
    kept, redundant = remove_redundant(slices, worse_p, alpha=alpha, drop=redundancy,
                                        order=order)  # fmt: skip
    if redundancy and n_dir > 1:
        kept, dup = _confirm.merge_overlaps(kept, worse_p, alpha=alpha, order=order,
                                            max_overlap=params["max_overlap"])  # fmt: skip
        redundant += dup
    all_conf = np.concatenate(conf_rows)
    overall = float(e[all_conf].mean())
    levels = [s.ci_level for s in kept]
    sd = None if binary else float(e.std())
    disc0 = directions[0][0]
    z_null = _null_top_score(e, disc0, binned, max_level=max_level, ms=ms, seed=seed)
    detect = _power.detectable(
        n_conf=int(conf_rows[0].size), base=float(e.mean()), sd=sd,
        level=alpha / n_dir * _confirm.top_share(k) if weighting == "rank"
        else alpha / n_dir / max(len(tested), 1),
        halves=n_dir, z_null=z_null, n_disc=int(disc0.size),
    )  # fmt: skip
    return SliceReport(
        slices=kept,
        redundant=redundant,
        candidates=_confirm.strongest_unconfirmed(tested, kept),
        metric=metric_name,
        metric_overall=overall,
        n_rows=n,
        n_discovery=int(n_disc),
        n_confirmation=int(all_conf.size),
        alpha=alpha,
        ci_level=min(levels) if levels else 1.0 - alpha,
        mode="error",
        params=params,
        tested=tested,
        detectable=detect,
    )


def _null_top_score(
    e: np.ndarray, disc: np.ndarray, binned: Binned, *, max_level: int, ms: int,
    seed: int | None, reps: int | None = None,
) -> float | None:  # fmt: skip
    """Best search z-score on the discovery rows with the errors permuted (mean of ``reps``
    permutations; default 3, or 1 above 5,000 discovery rows, where a search costs more and
    its maximum varies less): how high noise alone reaches in this search space."""
    if reps is None:
        reps = 3 if disc.size <= 5000 else 1
    ed = e[disc]
    sd = float(ed.std())
    if sd <= 0:
        return None
    rng = np.random.default_rng(seed)
    sp = np.array([float(ed.mean()), sd])
    tops = []
    for _ in range(reps):
        perm = e.copy()
        perm[disc] = rng.permutation(ed)
        r = lattice_search(binned, perm[:, None], rows=disc, max_level=max_level,
                           min_support=ms, k=1, mode="zscore", params=sp)  # fmt: skip
        tops.append(float(r["score"][0]) if r["score"].size else 0.0)
    return float(np.mean(tops))


def _discover(
    e: np.ndarray, disc: np.ndarray, binned: Binned, *, score: str, sliceline_alpha: float,
    max_level: int, ms: int, pool: int, k: int, params: dict, refine: bool, binary: bool,
) -> list[dict[str, Any]]:  # fmt: skip
    """Search, refine and pick the candidates of one discovery part (its rows only)."""
    ed = e[disc]
    ebar, sigma = float(ed.mean()), float(ed.std())
    if not (sigma > 0 and ebar > 0):
        return []
    if score == "zscore":
        sp = np.array([ebar, sigma])
    else:
        sp = np.array([ebar, sliceline_alpha, float(disc.size)])

    def search(rows: np.ndarray) -> dict:
        return lattice_search(binned, e[:, None], rows=rows, max_level=max_level,
                              min_support=ms, k=pool * k, mode=score, params=sp)  # fmt: skip

    found, n_eval = _select(
        search, binned, disc, ed, k=k, max_overlap=params["max_overlap"], refine=refine,
        min_support=ms, mode=score, params=sp, binary=binary,
    )  # fmt: skip
    params["n_evaluated"] += n_eval
    return found


def _n_fine(n_disc: int, min_support: int) -> int:
    """Quantiles of the fine grid: about 1% steps, with at least ~20 discovery rows per step
    (and no finer than a tenth of the minimum support)."""
    return int(max(2, min(100, n_disc // 20, max(10, 10 * n_disc // max(min_support, 1)))))


def _select(
    search: Callable[[np.ndarray], dict], binned: Binned, disc: np.ndarray, ed: np.ndarray, *,
    k: int, max_overlap: float, refine: bool, min_support: int, mode: str, params: np.ndarray,
    binary: bool, family: bool = True, max_rounds: int = 5,
) -> tuple[list[dict[str, Any]], int]:  # fmt: skip
    """Refine the search results best first and keep ``k`` diverse ones.

    A candidate sharing more than ``max_overlap`` of the smaller one's discovery rows with an
    already kept one (overlap coefficient) is skipped, so that one strong region does not fill
    every test slot; the check runs before refinement (cheap: most of the pool are neighbours
    of a kept slice) and again after it (two neighbours often refine to the same slice). When
    the pool runs out before ``k`` are kept (one dominant region can fill it with its
    neighbours), the search runs again on the discovery rows outside the kept slices.
    Returns the candidates, best refined score first, and the number of slices evaluated.
    """
    chosen: list[dict[str, Any]] = []
    kept: list[np.ndarray] = []
    n_evaluated = 0

    def diverse(m: np.ndarray, others: list[np.ndarray]) -> bool:
        size = m.sum()
        return all((m & o).sum() <= max_overlap * min(size, o.sum()) for o in others)

    blocked: list[np.ndarray] = []  # refined results that duplicated a kept slice
    n_refined = 0
    remaining = np.ones(disc.size, dtype=bool)
    for _ in range(max_rounds):
        raw = search(disc[remaining])
        n_evaluated += raw["n_evaluated"]
        n_before = len(chosen)
        for j, items in enumerate(raw["items"]):
            terms = _refine.from_items(binned, items)
            m = _refine.terms_mask(binned, terms, disc)
            if not diverse(m, kept + blocked):
                continue
            sc = float(raw["score"][j])
            if refine and n_refined < 4 * k:  # a bound on the work; later ones stay as found
                n_refined += 1
                terms, sc = _refine.refine(binned, terms, ed, disc, min_support=min_support,
                                           mode=mode, params=params, binary=binary)  # fmt: skip
                m = _refine.terms_mask(binned, terms, disc)
                if not diverse(m, kept):
                    blocked.append(m)
                    continue
            chosen.append({"terms": terms, "score": sc})
            kept.append(m)
            if len(chosen) == k:
                break
        if len(chosen) == k or len(chosen) == n_before:
            break
        remaining &= ~np.logical_or.reduce(kept)
        if remaining.sum() < 2 * min_support:
            break
    chosen.sort(key=lambda c: (-c["score"], len(c["terms"]), c["terms"]))
    if not family:
        return chosen, n_evaluated
    # each kept slice brings its sub-conjunctions (predicates dropped): the confirmation rows
    # then judge which predicates are needed (the redundancy step), with every shape counted
    # in the multiple-testing correction
    out, seen = [], set()
    for rank, c in enumerate(chosen):
        t = c["terms"]
        shapes = [sub for r in range(len(t), 0, -1) for sub in itertools.combinations(t, r)]
        for terms in shapes:
            if terms in seen:
                continue
            seen.add(terms)
            m = _refine.terms_mask(binned, terms, disc)
            sc = float(_refine.score(m.sum(), ed[m].sum(), mode, params))
            if m.sum() >= min_support:
                out.append({"terms": terms, "score": sc, "rank": rank, "full": terms == t})
    return out, n_evaluated


def _bounded(rows: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``rows`` itself, or a sorted random sample of ``size`` of them."""
    if rows.size <= size:
        return rows
    return np.sort(rng.choice(rows, size=size, replace=False))


def _n_rows(X: Any) -> int:
    if X is None:
        msg = "X is None; pass a 2-D array or DataFrame of shape (n_rows, n_features)."
        raise InvalidInputError(msg)
    shape = getattr(X, "shape", None)
    if shape is None:
        shape = np.shape(X)
    if len(shape) != 2:
        msg = f"X must be 2-D (n_rows, n_features); got shape {tuple(shape)}."
        raise InvalidInputError(msg)
    if shape[0] < 4:
        msg = f"X has {shape[0]} rows; slice finding needs at least 4 (two per part)."
        raise InvalidInputError(msg)
    return int(shape[0])
