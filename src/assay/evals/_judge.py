"""Biases of a pairwise judge (LLM-as-judge): position, verbosity and self-preference.

A judge is any callable ``judge(question, first, second)`` that says which of two answers is
better. It returns the *slot of the winner*: ``0`` (the first is better), ``1`` (the second is
better), ``0.5`` (a tie), or any number in ``[0, 1]`` read as the probability that the second
answer is the better one; the strings ``"A"``/``"first"``, ``"B"``/``"second"`` and
``"tie"``/``"draw"`` are accepted too. (A judge that returns the probability that the *first*
answer is better should be wrapped as ``lambda q, a, b: 1 - p(q, a, b)``.)

Every pair is judged in both orders (``a`` first, then ``b`` first). From those two calls:

- **position**: the flip rate (share of pairs whose decision changes with the order) and, among
  the pairs that flip, how often the first slot won (0.5 for a judge without a slot preference).
  With hard decisions the interval is Wilson's and the test the exact binomial test of the
  first-slot count against 0.5; with ties or probabilities, a percentile bootstrap and a
  sign-flip permutation test of the per-pair position effect ``(P(first wins | a first) +
  P(first wins | b first)) / 2 - 0.5``. Alert when the test is significant at ``alpha``.
- **verbosity**: each answer is padded with content-free text (one of
  :data:`PADDING_TEMPLATES`, drawn per answer from ``seed``) and judged against the unpadded
  opponent in both orders. Whatever the judge's slot preference, a judge that ignores padding
  gives the padded answer a win rate of exactly 0.5 on average, so the estimate is the padded
  answer's win rate minus 0.5 (the change in win rate that padding alone buys), with a
  t-interval; the test is a sign-flip permutation test of the per-pair
  changes (two-sided; the verdict says the direction). Alert when significant.
- **self_preference**: on pairs where exactly one answer's author is ``judge_name``. With a
  quality reference (gold labels in ``item["reference"]``, in the judge's encoding, or a second
  judge passed as ``reference=``), the estimate is the judge's *self-favouring* error rate
  (picking its own answer when the reference prefers the other) minus its *self-disfavouring*
  error rate (picking the other when the reference prefers its own), with a bootstrap interval
  and a two-sample permutation test; alert when significant. This assumes the judge's errors
  do not otherwise depend on which author wrote the better answer. Without a reference, the
  judge's own win rate minus 0.5 is reported and a significant value is only a *warning*:
  its answers may simply be better.

The **consistency-corrected score** averages both orders, so the win rate of answer ``a``
(and, with ``author_a``/``author_b``, each author's win rate) no longer depends on which slot
an answer was shown in; the raw single-order (``a`` first) rates are kept for comparison.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from assay._results import worst_status
from assay._validation import check_int, check_seed
from assay.errors import InvalidInputError, ModelError
from assay.evals._results import _ToDict

__all__ = ["PADDING_TEMPLATES", "JudgeBiasResult", "judge_bias"]

CHECKS = ("position", "verbosity", "self_preference")
_TOL = 1e-9

#: Content-free padding: ``(name, template)``; ``{answer}`` and ``{question}`` are filled in.
PADDING_TEMPLATES: tuple[tuple[str, str], ...] = (
    ("restate_question", 'To answer the question "{question}": {answer}'),
    (
        "filler_suffix",
        "{answer} I hope this answer is helpful; I have tried to be as thorough and as clear as "
        "possible in addressing every part of the question.",
    ),
    ("preamble", "That is a good question, and it deserves a careful answer. {answer}"),
    (
        "summary_restatement",
        '{answer} In summary, the above is my answer to the question "{question}".',
    ),
)

_WORDS = {
    "a": 0.0, "first": 0.0, "1st": 0.0,
    "b": 1.0, "second": 1.0, "2nd": 1.0,
    "tie": 0.5, "draw": 0.5, "equal": 0.5, "c": 0.5,
}  # fmt: skip


@dataclass(frozen=True, eq=False)
class JudgeBiasResult(_ToDict):
    """Position, verbosity and self-preference checks of a pairwise judge.

    Attributes
    ----------
    checks : dict of str -> dict
        Per check run: ``status`` ("ok" | "warning" | "alert"), ``estimate``, ``ci_low``,
        ``ci_high``, ``p_value``, ``verdict``, ``n`` (pairs used) and check-specific numbers
        (``flip_rate`` and its interval for position; per-template changes for verbosity;
        ``own_win_rate`` for self-preference).
    scores : dict
        The consistency-corrected score: ``win_rate_a`` (answer ``a``'s win rate, both orders
        averaged) with ``ci_low``/``ci_high``, ``raw_win_rate_a`` (``a`` shown first only), and
        with authors a ``leaderboard`` (list of dicts: author, win_rate, ci_low, ci_high,
        raw_win_rate, n) sorted by corrected win rate.
    items : dict of str -> ndarray, each of shape (n_items,)
        ``p_second_ab`` and ``p_second_ba`` (the judge's output with ``a`` first / ``b``
        first), ``win_a`` (corrected), ``flip``, ``position_effect``, ``verbosity_change``
        (NaN when not run), ``pad_template_a``/``pad_template_b`` (indices into
        :data:`PADDING_TEMPLATES`, -1 when not run), ``own`` (-1: neither answer is the
        judge's, 0: ``a`` is, 1: ``b`` is) and ``reference`` (the reference's probability
        that ``b`` is better, NaN when none).
    skipped : dict of str -> str
        Checks asked for but not run, with the reason.
    params : dict
        alpha, n_bootstrap, seed, judge calls made, judge_name, checks.
    """

    checks: dict
    scores: dict
    items: dict
    skipped: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)

    @property
    def status(self) -> str:
        """The most worrying status over the checks run ("ok" when none ran)."""
        return worst_status(c["status"] for c in self.checks.values())

    @property
    def verdict(self) -> str:
        """The checks' verdicts, one sentence each."""
        return " ".join(c["verdict"] for c in self.checks.values())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JudgeBiasResult:
        """Rebuild a result from :meth:`to_dict` output (per-item lists become arrays)."""
        if data.get("kind") != cls.__name__:
            msg = f"from_dict expects kind {cls.__name__!r}; got {data.get('kind')!r}."
            raise InvalidInputError(msg)
        items = {
            k: np.asarray([np.nan if v is None else v for v in vals], dtype=float)
            if k not in ("pad_template_a", "pad_template_b", "own")
            else np.asarray(vals, dtype=int)
            for k, vals in data["items"].items()
        }
        return cls(
            checks=dict(data["checks"]),
            scores=dict(data["scores"]),
            items=items,
            skipped=dict(data.get("skipped", {})),
            params=dict(data.get("params", {})),
        )


class _Caller:
    """Calls the judge and turns its answer into P(second is better)."""

    def __init__(self, fn: Callable, name: str) -> None:
        if not callable(fn):
            msg = (
                f"{name} must be a callable judge(question, first, second); got "
                f"{type(fn).__name__}."
            )
            raise InvalidInputError(msg)
        self.fn, self.name, self.calls = fn, name, 0

    def check_budget(self, planned: int) -> None:
        """Refuse before the first call when the judge's budget cannot cover the run."""
        left = getattr(self.fn, "calls_left", None)
        if isinstance(left, int) and planned > left:
            msg = (
                f"this run needs {planned} comparisons from the {self.name} but its budget has "
                f"{left} left; raise its max_calls, use fewer items or fewer checks."
            )
            raise ModelError(msg)

    def many(self, triples: list[tuple[str, str, str]]) -> np.ndarray:
        """P(second is better) for each triple (through ``judge_batch`` when the judge has it)."""
        batch = getattr(self.fn, "judge_batch", None)
        try:
            if callable(batch):
                raw = list(batch(triples))
            else:
                raw = [self.fn(*t) for t in triples]
        except ModelError:
            raise
        except Exception as exc:
            msg = f"the {self.name} failed: {type(exc).__name__}: {exc}"
            raise ModelError(msg) from exc
        if len(raw) != len(triples):
            msg = f"the {self.name} returned {len(raw)} answers for {len(triples)} comparisons."
            raise ModelError(msg)
        self.calls += len(triples)
        return np.array([_decode(r, self.name) for r in raw], dtype=float)


def _decode(raw: Any, name: str) -> float:
    """P(second is better) from a judge's answer (0/1/0.5/probability or "A"/"B"/"tie")."""
    if isinstance(raw, str):
        key = raw.strip().strip(".()[]").lower()
        if key in _WORDS:
            return _WORDS[key]
    elif isinstance(raw, (numbers.Real, np.floating, np.integer)) and not isinstance(raw, bool):
        value = float(raw)
        if 0.0 <= value <= 1.0:
            return value
    msg = (
        f"the {name} returned {raw!r}; it must return 0 (first better), 1 (second better), 0.5 "
        'or any probability in [0, 1] that the second is better, or "A", "B" or "tie".'
    )
    raise ModelError(msg)


def _check_items(items: Any) -> list[dict[str, Any]]:
    if hasattr(items, "to_dict") and hasattr(items, "columns"):
        items = items.to_dict(orient="records")
    if isinstance(items, Mapping) or not isinstance(items, Sequence) or isinstance(items, str):
        msg = (
            "items must be a list of dicts with 'question', 'answer_a' and 'answer_b' (or a "
            f"DataFrame with those columns); got {type(items).__name__}."
        )
        raise InvalidInputError(msg)
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            msg = f"items[{i}] is a {type(item).__name__}; each item must be a dict."
            raise InvalidInputError(msg)
        missing = [k for k in ("question", "answer_a", "answer_b") if k not in item]
        if missing:
            msg = (
                f"items[{i}] lacks {missing}; it has keys {sorted(map(str, item))[:10]}. Each "
                "item needs 'question', 'answer_a' and 'answer_b'."
            )
            raise InvalidInputError(msg)
        for k in ("question", "answer_a", "answer_b"):
            if not isinstance(item[k], str):
                msg = f"items[{i}][{k!r}] is {type(item[k]).__name__} {item[k]!r}; use text."
                raise InvalidInputError(msg)
        out.append(dict(item))
    if len(out) < 2:
        msg = f"judge_bias needs at least 2 items; got {len(out)}."
        raise InvalidInputError(msg)
    return out


def _snap(x: np.ndarray) -> np.ndarray:
    """Zero out floating-point dust (a fair judge's ``p + (1 - p)`` is not exactly 1)."""
    return np.where(np.abs(x) < _TOL, 0.0, x)


def _interval(x: np.ndarray, level: float) -> tuple:
    """Mean of ``x`` and an interval: Wilson for 0/1 data, else Student's t.

    (A percentile bootstrap is too narrow on the sparse, discrete changes a judge produces --
    mostly zeros -- and then disagrees with the sign-flip test; the t-interval does not.)
    """
    x = np.asarray(x, dtype=float)
    if x.shape[0] == 0:
        return float("nan"), float("nan"), float("nan")
    m = float(x.mean())
    if np.isin(x, (0.0, 1.0)).all():
        ci = stats.binomtest(int(x.sum()), x.shape[0]).proportion_ci(level, method="wilson")
        return m, float(ci.low), float(ci.high)
    if x.shape[0] < 2 or np.ptp(x) == 0:
        return m, m, m
    ci = stats.ttest_1samp(x, 0.0).confidence_interval(level)
    return m, float(ci.low), float(ci.high)


def _sign_flip_p(d: np.ndarray, n_boot: int, rng: np.random.Generator) -> float:
    """Two-sided sign-flip permutation p-value of ``sum(d) == 0`` (zeros dropped)."""
    d = d[d != 0]
    if d.shape[0] < 2:  # one value: its two sign flips are equally extreme, p = 1
        return 1.0
    res = stats.permutation_test(
        (d,), np.sum, permutation_type="samples", n_resamples=n_boot, rng=rng, vectorized=True
    )  # exact when 2**len(d) <= n_resamples, else (hits + 1) / (n_resamples + 1)
    return float(min(1.0, res.pvalue))


def _status(p: float, alpha: float, *, strong: bool = True) -> str:
    if not np.isfinite(p) or p >= alpha:
        return "ok"
    return "alert" if strong else "warning"


def _pct(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.0%}"


def _position(s_ab: np.ndarray, s_ba: np.ndarray, alpha: float, n_boot: int, rng: Any) -> dict:
    level = 1 - alpha
    first_ab, first_ba = 1 - s_ab, 1 - s_ba  # P(first slot wins) in each order
    effect = _snap((first_ab + first_ba) / 2 - 0.5)  # > 0: the first slot is favoured
    flip = _snap(np.abs(first_ab - s_ba))  # P(a wins | a first) vs P(a wins | b first)
    flip_rate, flip_lo, flip_hi = _interval(flip, level)
    moved = effect[effect != 0]
    n_moved = int(moved.shape[0])
    if n_moved == 0:
        est = lo = hi = float("nan")
        p = 1.0
    elif np.isin(np.abs(moved), (0.5,)).all():  # hard decisions: an exact binomial test
        k = int((moved > 0).sum())
        test = stats.binomtest(k, n_moved, 0.5)
        ci = test.proportion_ci(level, method="wilson")
        est, lo, hi, p = k / n_moved, float(ci.low), float(ci.high), float(test.pvalue)
    else:
        est = 0.5 + float(moved.mean() / (2 * np.abs(moved).mean()))
        if n_moved >= 2 and np.ptp(moved) > 0:
            res = stats.bootstrap(
                (moved,),
                lambda d, axis: 0.5 + d.mean(axis) / (2 * np.abs(d).mean(axis)),
                n_resamples=n_boot, confidence_level=level, method="percentile", rng=rng,
            )  # fmt: skip
            lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
        else:
            lo = hi = est
        p = _sign_flip_p(effect, n_boot, rng)
    status = _status(p, alpha)
    if n_moved == 0:
        verdict = "Position: no pair changed its decision when the order was swapped."
    else:
        side = "first" if est > 0.5 else "second"
        sig = "significantly" if status == "alert" else "not significantly"
        verdict = (
            f"Position: {flip_rate:.0%} of pairs change their decision when the order is swapped "
            f"(CI {flip_lo:.0%}-{flip_hi:.0%}); among those, the first slot wins {est:.0%} "
            f"(CI {_pct(lo)}-{_pct(hi)}), {sig} different from 50% (p = {p:.2g})"
            + (f": the judge favours the {side} slot." if status == "alert" else ".")
        )
    return {
        "status": status, "estimate": est, "ci_low": lo, "ci_high": hi, "p_value": p,
        "verdict": verdict, "n": int(s_ab.shape[0]), "n_inconsistent": n_moved,
        "flip_rate": flip_rate, "flip_ci_low": flip_lo, "flip_ci_high": flip_hi,
        "null": 0.5,
    }, flip, effect  # fmt: skip


def _pad(template: str, question: str, answer: str) -> str:
    return template.replace("{question}", question).replace("{answer}", answer)


def _verbosity(items: list, call: _Caller, alpha: float, n_boot: int, rng: Any) -> tuple:
    n = len(items)
    ta = rng.integers(0, len(PADDING_TEMPLATES), n)
    tb = rng.integers(0, len(PADDING_TEMPLATES), n)
    triples = []
    for i, it in enumerate(items):
        q, a, b = it["question"], it["answer_a"], it["answer_b"]
        pa = _pad(PADDING_TEMPLATES[ta[i]][1], q, a)
        pb = _pad(PADDING_TEMPLATES[tb[i]][1], q, b)
        triples += [(q, pa, b), (q, b, pa), (q, pb, a), (q, a, pb)]
    s = call.many(triples).reshape(n, 4)
    # padded a first / second, padded b first / second: the padded answer's win probability
    wins = np.column_stack([1 - s[:, 0], s[:, 1], 1 - s[:, 2], s[:, 3]])
    change = _snap(wins.mean(axis=1) - 0.5)
    est, lo, hi = _interval(change, 1 - alpha)
    p = _sign_flip_p(change, n_boot, rng)
    status = _status(p, alpha)
    per_template = {}
    for k, (name, _) in enumerate(PADDING_TEMPLATES):
        # each pair's change mixes its two templates; attribute half to each
        mask_a, mask_b = ta == k, tb == k
        used = mask_a.sum() + mask_b.sum()
        if used:
            per_template[name] = float((change[mask_a].sum() + change[mask_b].sum()) / used)
    if status == "alert":
        word = "raises" if est > 0 else "lowers"
        verdict = (
            f"Verbosity: content-free padding alone {word} an answer's win rate by "
            f"{abs(est) * 100:.0f} points (CI {lo * 100:+.0f} to {hi * 100:+.0f}, p = {p:.2g}): "
            "the judge rewards "
            f"{'length' if est > 0 else 'brevity'}, not content."
        )
    else:
        verdict = (
            f"Verbosity: content-free padding changes an answer's win rate by "
            f"{est * 100:+.0f} points (CI {lo * 100:+.0f} to {hi * 100:+.0f}, p = {p:.2g}), "
            "not significantly."
        )
    check = {
        "status": status, "estimate": est, "ci_low": lo, "ci_high": hi, "p_value": p,
        "verdict": verdict, "n": n, "padded_win_rate": est + 0.5,
        "per_template": per_template, "null": 0.0,
    }  # fmt: skip
    return check, change, ta, tb


def _self_preference(
    w_a: np.ndarray, own: np.ndarray, ref_b: np.ndarray, alpha: float, n_boot: int, rng: Any
) -> dict:
    level = 1 - alpha
    mine = own >= 0
    w_own = 0.5 + _snap(np.where(own == 0, w_a, 1 - w_a)[mine] - 0.5)
    n = int(mine.sum())
    own_rate, own_lo, own_hi = _interval(w_own, level)
    ref = ref_b[mine]
    if np.isfinite(ref).all():
        ref_own = np.where(own[mine] == 0, 1 - ref, ref)  # reference's P(own is better)
        toward = w_own[ref_own < 0.5]  # judge picks its own although the reference does not
        against = 1 - w_own[ref_own > 0.5]  # judge picks the other although its own is better
        if toward.shape[0] < 2 or against.shape[0] < 2:
            return {
                "status": "ok", "estimate": float("nan"), "ci_low": float("nan"),
                "ci_high": float("nan"), "p_value": float("nan"), "n": n,
                "verdict": "Self-preference: too few pairs where the reference prefers one side "
                f"({toward.shape[0]} against the judge's answer, {against.shape[0]} for it; "
                "need 2 of each).", "own_win_rate": own_rate, "null": 0.0,
            }  # fmt: skip
        est = float(toward.mean() - against.mean())

        def diff(x: np.ndarray, y: np.ndarray, axis: int) -> np.ndarray:
            return x.mean(axis) - y.mean(axis)

        pooled = np.concatenate([toward, against])
        if np.ptp(pooled) == 0:
            lo = hi = est
            p = 1.0
        else:
            res = stats.bootstrap(
                (toward, against), diff, n_resamples=n_boot, confidence_level=level,
                method="percentile", rng=rng,
            )  # fmt: skip
            lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
            p = float(
                stats.permutation_test(
                    (toward, against), diff, n_resamples=n_boot, rng=rng, vectorized=True
                ).pvalue
            )
        status = _status(p, alpha)
        lead = (
            f"Self-preference: against the reference, the judge picks its own worse answer "
            f"{toward.mean():.0%} of the time and the other's worse answer "
            f"{against.mean():.0%} (difference {est:+.2f}, CI {lo:+.2f} to {hi:+.2f}, "
            f"p = {p:.2g})"
        )
        if status == "alert":
            tail = f": it {'favours' if est > 0 else 'disfavours'} its own answers."
        else:
            tail = ", not significantly different."
        return {
            "status": status, "estimate": est, "ci_low": lo, "ci_high": hi, "p_value": p,
            "verdict": lead + tail, "n": n, "own_win_rate": own_rate,
            "own_win_ci_low": own_lo, "own_win_ci_high": own_hi,
            "n_reference_prefers_other": int(toward.shape[0]),
            "n_reference_prefers_own": int(against.shape[0]), "controlled": True, "null": 0.0,
        }  # fmt: skip
    p = _sign_flip_p(w_own - 0.5, n_boot, rng)
    status = _status(p, alpha, strong=False)
    verdict = (
        f"Self-preference: the judge's own answers win {own_rate:.0%} of their pairs (CI "
        f"{_pct(own_lo)}-{_pct(own_hi)}, p = {p:.2g} against 50%); with no quality reference "
        "this cannot tell self-preference from better answers"
        + ("; add gold labels or a second judge." if status != "ok" else ".")
    )
    return {
        "status": status, "estimate": own_rate - 0.5, "ci_low": own_lo - 0.5,
        "ci_high": own_hi - 0.5, "p_value": p, "verdict": verdict, "n": n,
        "own_win_rate": own_rate, "own_win_ci_low": own_lo, "own_win_ci_high": own_hi,
        "controlled": False, "null": 0.0,
    }  # fmt: skip


def _leaderboard(items: list, w_a: np.ndarray, raw_a: np.ndarray, level: float) -> list:
    if not all("author_a" in it and "author_b" in it for it in items):
        return []
    wins: dict[str, list[tuple[float, float]]] = {}
    for it, w, r in zip(items, w_a, raw_a, strict=True):
        wins.setdefault(str(it["author_a"]), []).append((w, r))
        wins.setdefault(str(it["author_b"]), []).append((1 - w, 1 - r))
    board = []
    for author, vals in wins.items():
        arr = np.asarray(vals)
        m, lo, hi = _interval(arr[:, 0], level)
        board.append({
            "author": author, "win_rate": m, "ci_low": lo, "ci_high": hi,
            "raw_win_rate": float(arr[:, 1].mean()), "n": int(arr.shape[0]),
        })  # fmt: skip
    return sorted(board, key=lambda row: -row["win_rate"])


def judge_bias(
    judge: Callable[[str, str, str], Any],
    items: Any,
    *,
    checks: Sequence[str] = CHECKS,
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    seed: int | None = None,
    judge_name: str | None = None,
    reference: Callable[[str, str, str], Any] | None = None,
) -> JudgeBiasResult:
    """Test a pairwise judge for position, verbosity and self-preference bias.

    Parameters
    ----------
    judge : callable
        ``judge(question, first, second)`` returning 0 (first better), 1 (second better), 0.5
        (tie), a probability in [0, 1] that the *second* is better, or "A"/"B"/"tie".
    items : list of dict or DataFrame
        ``question``, ``answer_a``, ``answer_b``; for self-preference also ``author_a`` and
        ``author_b``, and optionally ``reference`` (gold label: which answer is better, in the
        judge's encoding).
    checks : sequence of str
        Any of "position", "verbosity", "self_preference".
    n_bootstrap : int
        Resamples of every bootstrap interval and permutation test.
    alpha : float
        Significance level of every alert; intervals are at ``1 - alpha``.
    seed : int, optional
        Seeds the padding templates, bootstraps and permutation tests.
    judge_name : str, optional
        The judge's name as it appears in ``author_a``/``author_b`` (for self-preference).
    reference : callable, optional
        A second judge used as the quality reference for self-preference (called in both
        orders); ``item["reference"]`` gold labels take precedence when present.

    Returns
    -------
    JudgeBiasResult

    Examples
    --------
    >>> items = [{"question": "2+2?", "answer_a": "4" * (i % 3 + 1), "answer_b": "5" * (i % 2 + 1)}
    ...          for i in range(30)]
    >>> first_slot = lambda q, a, b: "A"  # always prefers the answer shown first
    >>> res = judge_bias(first_slot, items, checks=("position",), seed=0)
    >>> res.checks["position"]["status"], round(res.checks["position"]["estimate"], 2)
    ('alert', 1.0)
    """
    items = _check_items(items)
    checks = tuple(checks) if not isinstance(checks, str) else (checks,)
    unknown = [c for c in checks if c not in CHECKS]
    if unknown:
        msg = f"unknown check(s) {unknown}; choose from {list(CHECKS)}."
        raise InvalidInputError(msg)
    n_boot = check_int(n_bootstrap, name="n_bootstrap", minimum=99)
    if not isinstance(alpha, numbers.Real) or not 0 < float(alpha) < 0.5:
        msg = f"alpha must be a number in (0, 0.5); got {alpha!r}."
        raise InvalidInputError(msg)
    alpha = float(alpha)
    seed = check_seed(seed)
    rng = np.random.default_rng(seed)
    call = _Caller(judge, "judge")
    n = len(items)
    call.check_budget(n * (6 if "verbosity" in checks else 2))
    s = call.many(
        [(it["question"], it["answer_a"], it["answer_b"]) for it in items]
        + [(it["question"], it["answer_b"], it["answer_a"]) for it in items]
    )
    s_ab, s_ba = s[:n], s[n:]
    w_a = ((1 - s_ab) + s_ba) / 2
    out: dict[str, dict] = {}
    skipped: dict[str, str] = {}
    pos, flip, effect = _position(s_ab, s_ba, alpha, n_boot, rng)
    if "position" in checks:
        out["position"] = pos
    change = np.full(n, np.nan)
    ta = tb = np.full(n, -1)
    if "verbosity" in checks:
        out["verbosity"], change, ta, tb = _verbosity(items, call, alpha, n_boot, rng)
    own = np.full(n, -1)
    ref_b = np.full(n, np.nan)
    if judge_name is not None:
        for i, it in enumerate(items):
            a_mine = str(it.get("author_a")) == judge_name
            b_mine = str(it.get("author_b")) == judge_name
            own[i] = 0 if a_mine and not b_mine else 1 if b_mine and not a_mine else -1
    ref_call = _Caller(reference, "reference judge") if reference is not None else None
    ask = []
    for i, it in enumerate(items):
        if it.get("reference") is not None:
            ref_b[i] = _decode(it["reference"], f"reference label of items[{i}]")
        elif ref_call is not None and own[i] >= 0 and "self_preference" in checks:
            ask.append(i)
    if ask and ref_call is not None:
        ref_call.check_budget(2 * len(ask))
        r = ref_call.many(
            [(items[i]["question"], items[i]["answer_a"], items[i]["answer_b"]) for i in ask]
            + [(items[i]["question"], items[i]["answer_b"], items[i]["answer_a"]) for i in ask]
        )
        ref_b[ask] = (r[: len(ask)] + 1 - r[len(ask) :]) / 2
    if "self_preference" in checks:
        if judge_name is None:
            skipped["self_preference"] = "no judge_name given (the judge's name in author_a/_b)"
        elif (own >= 0).sum() < 2:
            skipped["self_preference"] = (
                f"fewer than 2 pairs with exactly one answer by {judge_name!r} "
                f"({int((own >= 0).sum())} found); add author_a/author_b to the items"
            )
        else:
            out["self_preference"] = _self_preference(w_a, own, ref_b, alpha, n_boot, rng)
    level = 1 - alpha
    win, win_lo, win_hi = _interval(w_a, level)
    scores = {
        "win_rate_a": win, "ci_low": win_lo, "ci_high": win_hi,
        "raw_win_rate_a": float((1 - s_ab).mean()),
        "leaderboard": _leaderboard(items, w_a, 1 - s_ab, level),
    }  # fmt: skip
    per_item = {
        "p_second_ab": s_ab, "p_second_ba": s_ba, "win_a": w_a, "flip": flip,
        "position_effect": effect, "verbosity_change": change, "pad_template_a": ta,
        "pad_template_b": tb, "own": own, "reference": ref_b,
    }  # fmt: skip
    params = {
        "alpha": alpha, "n_bootstrap": n_boot, "seed": seed, "checks": list(checks),
        "judge_name": judge_name, "judge_calls": call.calls, "n_items": n,
        "reference_calls": ref_call.calls if ref_call is not None else 0,
        "padding_templates": [name for name, _ in PADDING_TEMPLATES],
    }  # fmt: skip
    return JudgeBiasResult(out, scores, per_item, skipped, params)
