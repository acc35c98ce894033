"""How much an evaluation score moves across plausible prompt formats (FormatSpread).

Exhaustive mode scores every sampled format on every example: per-format means with
t-intervals, the spread (best minus worst) with a paired bootstrap interval over examples, and
the standard deviation across formats. With a ``budget`` of scored prompts, a Thompson-sampling
search (as in Sclar et al. 2023) looks for the best and the worst format: each format is an arm
with a Beta posterior on its accuracy; steps alternate between the arm whose posterior draw is
highest and the one whose draw is lowest, each step scoring the next batch of that format's
examples (in a per-format random order, so no example is scored twice for one format).

The spread is a maximum minus a minimum of noisy means, so it is biased upwards, most when
several formats tie at an extreme; its interval corrects for that selection by treating
near-ties as ties (:func:`extreme_spread_ci`). Coverage on a toy task with planted accuracies
is measured by benchmarks/bench_format_spread.py and tested in tests/evals.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats

from assay._validation import check_int, check_seed
from assay.errors import InvalidInputError, ModelError
from assay.evals._formats import Format, FormatGrammar, check_examples
from assay.evals._results import FormatSpreadResult, mean_ci

__all__ = ["format_spread"]


class _Scorer:
    """Calls one model's score_fn on prompts and turns its output into per-example scores."""

    def __init__(self, fn: Callable, labels: np.ndarray | None, name: str) -> None:
        self.fn, self.labels, self.name = fn, labels, name
        self.calls = 0
        self.prompts = 0

    def __call__(self, prompts: list[str], rows: np.ndarray) -> np.ndarray:
        try:
            raw = self.fn(prompts)
        except Exception as exc:
            msg = f"score_fn of {self.name!r} failed: {type(exc).__name__}: {exc}"
            raise ModelError(msg) from exc
        self.calls += 1
        self.prompts += len(prompts)
        out = np.asarray(raw)
        if out.ndim != 1 or out.shape[0] != len(prompts):
            msg = (
                f"score_fn of {self.name!r} returned shape {out.shape} for {len(prompts)} "
                "prompts; it must return one score (or prediction, with labels=) per prompt."
            )
            raise ModelError(msg)
        if self.labels is not None:
            return (out == self.labels[rows]).astype(float)
        try:
            out = out.astype(float)
        except (TypeError, ValueError) as exc:
            msg = (
                f"score_fn of {self.name!r} returned non-numeric values ({out.dtype}); pass "
                "labels= to compare predictions with gold answers."
            )
            raise ModelError(msg) from exc
        if not np.isfinite(out).all():
            msg = f"score_fn of {self.name!r} returned NaN or inf scores."
            raise ModelError(msg)
        return out


def _boot_means(S: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Means of every format on ``n_boot`` resamples of the examples, shape (n_boot, k).

    Example indices are drawn once per resample and shared by all formats (the same examples
    are scored under every format). Resample counts times scores is one matrix product per
    chunk, so memory stays near a million counts whatever ``n_boot``.
    """
    k, n = S.shape
    out = np.empty((n_boot, k))
    step = max(1, 1_000_000 // n)
    for start in range(0, n_boot, step):
        b = min(step, n_boot - start)
        idx = rng.integers(0, n, (b, n)) + (np.arange(b) * n)[:, None]
        counts = np.bincount(idx.ravel(), minlength=b * n).reshape(b, n)
        out[start : start + b] = counts @ S.T / n
    return out


def _near(gap: np.ndarray, se: np.ndarray, kappa: float | np.ndarray) -> np.ndarray:
    """Shift of each format in the extreme's error: 0 within ``kappa`` standard errors of the
    extreme (it may tie with it), the observed gap for the clearly separated ones."""
    return np.where(np.abs(gap) <= kappa * se, 0.0, gap)


def extreme_spread_ci(
    acc: np.ndarray,
    Z: np.ndarray,
    hi: int,
    lo: int,
    se_hi: np.ndarray,
    se_lo: np.ndarray,
    kappa: float | np.ndarray,
    level: float,
) -> tuple[float, float]:
    """Interval for ``max(mu) - min(mu)`` around ``acc[hi] - acc[lo]``.

    ``Z`` holds draws (rows) of every format's estimation error ``mean - mu``: resampled means
    minus ``acc``. The estimate is biased upwards when several formats tie at an extreme (the
    best of three equally good formats is the luckiest of three), and a plain bootstrap misses
    most of that bias: in its world the sample means are the truth, and they rarely tie. As in
    generalized moment selection (Andrews & Soares 2010), formats within ``kappa`` standard
    errors (``se_hi``: of their difference to the best) of the best are treated as tied with
    it, so the error of the maximum is drawn as the largest of their errors; likewise for the
    minimum. The interval inverts the distribution of the spread's error.
    """

    def error(k: float | np.ndarray) -> np.ndarray:
        up = Z + _near(acc - acc[hi], se_hi, k)
        down = Z + _near(acc - acc[lo], se_lo, k)
        return up.max(1) - down.min(1)

    a = (1 - level) / 2
    spread = float(acc[hi] - acc[lo])
    # treating near-ties as ties can only enlarge the estimated upward bias: right for the
    # lower bound, but it would pull the upper bound down too, so that one takes the gaps as
    # observed (the basic bootstrap)
    low = spread - float(np.quantile(error(kappa), 1 - a))
    high = spread - float(np.quantile(error(0.0), a))
    return max(0.0, low), max(0.0, high)


def _exhaustive(scorer, formats, examples, n_boot, level, rng):
    n = len(examples)
    rows = np.arange(n)
    S = np.stack([scorer([f.render(e) for e in examples], rows) for f in formats])
    acc = S.mean(1)
    cis = np.array([mean_ci(s, level)[1:] for s in S])
    M = _boot_means(S, n_boot, rng)
    hi, lo = int(np.argmax(acc)), int(np.argmin(acc))
    # standard errors of the paired differences to the best and to the worst format
    se_hi = (S[hi] - S).std(1, ddof=1) / np.sqrt(n) if n > 1 else np.zeros(len(formats))
    se_lo = (S - S[lo]).std(1, ddof=1) / np.sqrt(n) if n > 1 else np.zeros(len(formats))
    kappa = np.sqrt(np.log(max(n, 3)))
    spread_ci = extreme_spread_ci(acc, M - acc, hi, lo, se_hi, se_lo, kappa, level)
    # basic (reflected) bootstrap for the std: a smooth statistic, whose bias the bootstrap
    # replicates carry about equally, so reflecting removes it
    a = (1 - level) / 2
    sd = acc.std(ddof=1) if len(formats) > 1 else 0.0
    stds = M.std(1, ddof=1) if len(formats) > 1 else np.zeros(n_boot)
    d_lo, d_hi = np.quantile(stds, [a, 1 - a])
    return {
        "acc": acc,
        "ci": cis,
        "n": np.full(len(formats), n),
        "spread_ci": spread_ci,
        "std_ci": (max(0.0, 2 * sd - d_hi), max(0.0, 2 * sd - d_lo)),
        "best": hi,
        "worst": lo,
    }


def _thompson(scorer, formats, examples, budget, batch, n_boot, level, rng):
    k, n = len(formats), len(examples)
    orders = [rng.permutation(n) for _ in range(k)]
    used = np.zeros(k, dtype=np.int64)
    seen: list[list[float]] = [[] for _ in range(k)]
    spent, step = 0, 0
    while spent < budget:
        open_arms = np.flatnonzero(used < n)
        if open_arms.shape[0] == 0:
            break
        succ = np.array([sum(s) for s in seen])
        draw = rng.beta(1.0 + succ, 1.0 + used - succ)
        done = used >= n  # fully scored arms are known exactly
        draw[done] = np.where(used[done] > 0, succ[done] / np.maximum(used[done], 1), 0.0)
        # even steps hunt the best format, odd steps the worst
        pick = open_arms[
            np.argmax(draw[open_arms]) if step % 2 == 0 else np.argmin(draw[open_arms])
        ]
        take = int(min(batch, n - used[pick], budget - spent))
        rows = orders[pick][used[pick] : used[pick] + take]
        s = scorer([formats[pick].render(examples[r]) for r in rows], rows)
        if s.min() < 0.0 or s.max() > 1.0:
            msg = (
                "The Thompson search needs scores in [0, 1] (correctness or accuracy); got "
                f"values in [{s.min():.3g}, {s.max():.3g}]. Run without budget= instead."
            )
            raise InvalidInputError(msg)
        seen[pick].extend(s.tolist())
        used[pick] += take
        spent += take
        step += 1
    acc = np.array([np.mean(s) if s else np.nan for s in seen])
    cis = np.array([mean_ci(np.asarray(s), level)[1:] for s in seen])
    post = np.array([(1.0 + sum(s)) / (2.0 + len(s)) for s in seen])  # shrinks thin arms
    tried = used > 0
    best = int(np.flatnonzero(tried)[np.argmax(post[tried])])
    worst = int(np.flatnonzero(tried)[np.argmin(post[tried])])
    succ = np.array([sum(s) for s in seen])
    spread_ci = (np.nan, np.nan)
    ok = np.flatnonzero(used > 1)  # arms with a variance estimate
    if best != worst and best in ok and worst in ok:
        # independent arms (each scores its own examples): normal draws of each arm's error,
        # with an Agresti-style rate so an all-correct arm does not get a zero variance
        rate = (succ[ok] + 1.0) / (used[ok] + 2.0)
        se = np.sqrt(rate * (1.0 - rate) / used[ok])
        Z = rng.standard_normal((n_boot, ok.shape[0])) * se
        hi, lo = int(np.flatnonzero(ok == best)[0]), int(np.flatnonzero(ok == worst)[0])
        # an arm ties with an extreme if their gap is within the resolution of the better
        # measured of the two: a thinly sampled arm's noise is already in its draws, and
        # calling every such arm tied would push the whole interval down (measured: 0.99
        # coverage at 2.4 times the width on the toy task of benchmarks/bench_format_spread.py)
        spread_ci = extreme_spread_ci(
            acc[ok],
            Z,
            hi,
            lo,
            np.sqrt(2.0) * np.minimum(se, se[hi]),
            np.sqrt(2.0) * np.minimum(se, se[lo]),
            np.sqrt(np.log(max(n, 3))),
            level,
        )
    return {
        "acc": acc,
        "ci": cis,
        "n": used,
        "spread_ci": spread_ci,
        "std_ci": (np.nan, np.nan),
        "best": best,
        "worst": worst,
    }


def _kendall(acc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = acc.shape[0]
    tau = np.full((m, m), np.nan)
    p = np.full((m, m), np.nan)
    for i in range(m):
        for j in range(m):
            both = np.isfinite(acc[i]) & np.isfinite(acc[j])
            if m > 1 and both.sum() >= 3:
                r = stats.kendalltau(acc[i, both], acc[j, both])
                tau[i, j], p[i, j] = r.statistic, r.pvalue
    return tau, p


def format_spread(
    score_fn: Callable | Mapping[str, Callable],
    examples: Sequence[Mapping[str, Any]],
    *,
    labels: Any = None,
    grammar: FormatGrammar | None = None,
    formats: Sequence[Format] | None = None,
    n_formats: int = 10,
    budget: int | None = None,
    batch_size: int = 10,
    seed: int | None = None,
    ci_level: float = 0.95,
    n_bootstrap: int = 1000,
) -> FormatSpreadResult:
    """Score a task across prompt formats and report how far the score moves.

    Parameters
    ----------
    score_fn : callable or dict of name -> callable
        ``score_fn(prompts) -> array`` of one score per prompt (correctness in {0, 1}, or any
        number), or of predictions when ``labels`` is given. Several named callables (models)
        also get the rank stability of formats between models (Kendall tau).
    examples : list of mappings
        Fields of each example (see :class:`FormatGrammar`).
    labels : array-like, optional
        Gold answers; scores become ``prediction == label``.
    grammar : FormatGrammar, optional
        Where formats are sampled from (default grammar if None); ignored with ``formats``.
    n_formats : int
        Formats to sample.
    budget : int, optional
        Prompts to score per model. None scores every format on every example; otherwise a
        Thompson-sampling search for the best and worst formats spends at most this many.
    batch_size : int
        Examples scored per search step.
    seed : int, optional
        Seeds the format sample, the search and the bootstrap.
    ci_level : float
        Level of every interval.
    n_bootstrap : int
        Draws (at least 50) behind the spread and std intervals: resamples of the examples in
        the exhaustive search, normal draws of each format's error in the Thompson search.

    Notes
    -----
    ``spread`` itself is the plain best-minus-worst difference, biased upwards by selecting
    the extremes (by about one standard error when a few formats tie at each end); the
    interval accounts for that bias and covers the spread of the formats' true scores at about
    its nominal level. With a budget, the interval is about the formats the search evaluated
    (twice or more); formats it never scored cannot widen it.

    Examples
    --------
    >>> exs = [{"Question": f"{i} + 1 =", "Answer": ""} for i in range(50)]
    >>> fn = lambda prompts: [1.0 if ": " in p else 0.5 for p in prompts]
    >>> fmts = [Format(separator=":"), Format(separator=" -"), Format(separator=" =")]
    >>> res = format_spread(fn, exs, formats=fmts, seed=0)
    >>> float(res.spread[0]), res.formats[res.best[0]]["separator"]
    (0.5, ':')
    """
    examples = check_examples(examples)
    n_formats = check_int(n_formats, name="n_formats", minimum=1)
    batch_size = check_int(batch_size, name="batch_size", minimum=1)
    n_bootstrap = check_int(n_bootstrap, name="n_bootstrap", minimum=50)
    seed = check_seed(seed)
    if not 0.0 < float(ci_level) < 1.0:
        msg = f"ci_level must be in (0, 1); got {ci_level!r}."
        raise InvalidInputError(msg)
    fns = dict(score_fn) if isinstance(score_fn, Mapping) else {"model": score_fn}
    if not fns or not all(callable(f) for f in fns.values()):
        msg = "score_fn must be a callable or a non-empty dict of name -> callable."
        raise InvalidInputError(msg)
    y = None
    if labels is not None:
        y = np.asarray(labels)
        if y.ndim != 1 or y.shape[0] != len(examples):
            msg = f"labels must hold one answer per example ({len(examples)}); got {y.shape}."
            raise InvalidInputError(msg)
    if formats is None:
        formats = (grammar or FormatGrammar()).sample(n_formats, seed=seed)
    formats = list(formats)
    if not formats or not all(isinstance(f, Format) for f in formats):
        msg = "formats must be a non-empty list of assay.evals.Format."
        raise InvalidInputError(msg)
    if budget is not None:
        budget = check_int(budget, name="budget", minimum=batch_size)

    rows = []
    calls = {}
    for m, (name, fn) in enumerate(fns.items()):
        rng = np.random.default_rng(None if seed is None else [seed, m])
        scorer = _Scorer(fn, y, name)
        if budget is None:
            rows.append(_exhaustive(scorer, formats, examples, n_bootstrap, ci_level, rng))
        else:
            rows.append(
                _thompson(scorer, formats, examples, budget, batch_size, n_bootstrap, ci_level, rng)
            )
        calls[name] = {"calls": scorer.calls, "prompts": scorer.prompts}

    acc = np.stack([r["acc"] for r in rows])
    ci = np.stack([r["ci"] for r in rows])
    best = np.array([r["best"] for r in rows])
    worst = np.array([r["worst"] for r in rows])
    idx = np.arange(len(rows))
    evaluated = [a[np.isfinite(a)] for a in acc]
    tau, tau_p = _kendall(acc)
    return FormatSpreadResult(
        formats=[f.describe() for f in formats],
        model_names=list(fns),
        accuracy=acc,
        ci_low=ci[..., 0],
        ci_high=ci[..., 1],
        n_evaluated=np.stack([r["n"] for r in rows]).astype(np.int64),
        spread=acc[idx, best] - acc[idx, worst],
        spread_ci_low=np.array([r["spread_ci"][0] for r in rows], dtype=float),
        spread_ci_high=np.array([r["spread_ci"][1] for r in rows], dtype=float),
        mean=np.array([e.mean() for e in evaluated]),
        std=np.array([e.std(ddof=1) if e.shape[0] > 1 else np.nan for e in evaluated]),
        std_ci_low=np.array([r["std_ci"][0] for r in rows], dtype=float),
        std_ci_high=np.array([r["std_ci"][1] for r in rows], dtype=float),
        best=best,
        worst=worst,
        rank_tau=tau,
        rank_tau_p=tau_p,
        params={
            "search": "exhaustive" if budget is None else "thompson",
            "budget": budget,
            "batch_size": batch_size,
            "n_formats": len(formats),
            "n_examples": len(examples),
            "calls": calls,
            "seed": seed,
            "ci_level": float(ci_level),
            "labels": y is not None,
        },
    )
