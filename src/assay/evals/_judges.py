"""Judges for :func:`~assay.evals.judge_bias`: a causal LM read at "A"/"B", and an API wrapper.

Both are callables ``judge(question, first, second)`` and also expose
``judge_batch(triples)``, which :func:`judge_bias` uses to send many comparisons at once.

- :class:`LMJudge` asks a causal LM (through :class:`~assay.evals.CausalLM`: a Hugging Face
  model with its tokenizer, a torch module or a callable) which answer is better and reads the
  choice from the next-token probabilities of ``" A"`` and ``" B"``: it returns
  ``P(B) / (P(A) + P(B))``, the probability that the second answer is better.
- :class:`APIJudge` wraps a function you write that calls a remote judge on a batch of
  comparisons; it adds batching, retries with exponential backoff and a hard budget on the
  number of comparisons (checked before any call is made when :func:`judge_bias` knows how many
  it needs).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from assay._validation import check_int
from assay.errors import InvalidInputError, ModelError
from assay.evals._lm import as_causal_lm

__all__ = ["DEFAULT_JUDGE_TEMPLATE", "APIJudge", "LMJudge"]

DEFAULT_JUDGE_TEMPLATE = (
    "Which answer to the question is better?\n\nQuestion: {question}\n\n"
    "Answer A: {first}\n\nAnswer B: {second}\n\nThe better answer is Answer"
)


class LMJudge:
    """A causal LM as a pairwise judge, read from its next-token probabilities of A and B.

    Parameters
    ----------
    model : transformers causal LM, torch module, callable or CausalLM
    tokenizer : optional
        Needed unless ``model`` is a :class:`CausalLM` that has one.
    template : str
        Prompt with ``{question}``, ``{first}`` and ``{second}``; it should end where the
        judge's choice comes next.
    choices : pair of str
        The continuations read for the first and the second answer.

    Examples
    --------
    >>> import numpy as np
    >>> from assay.evals import CausalLM
    >>> fn = lambda seqs: [np.where(np.asarray(s[1:]) == ord("B"), -0.1, -2.0) for s in seqs]
    >>> judge = LMJudge(CausalLM(fn, lambda t: [ord(c) for c in t]), choices=("A", "B"))
    >>> round(judge("2+2?", "4", "5"), 3)  # the toy model prefers "B"
    0.87
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any = None,
        *,
        template: str = DEFAULT_JUDGE_TEMPLATE,
        choices: tuple[str, str] = (" A", " B"),
    ) -> None:
        missing = [k for k in ("{question}", "{first}", "{second}") if k not in template]
        if missing:
            msg = f"template lacks {missing}; it needs {{question}}, {{first}} and {{second}}."
            raise InvalidInputError(msg)
        if len(choices) != 2 or not all(isinstance(c, str) and c for c in choices):
            msg = f"choices must be two non-empty strings (first, second); got {choices!r}."
            raise InvalidInputError(msg)
        self.lm = as_causal_lm(model, tokenizer)
        self.template = template
        self.choices = tuple(choices)

    def _prompt(self, question: str, first: str, second: str) -> str:
        return (
            self.template.replace("{question}", question)
            .replace("{first}", first)
            .replace("{second}", second)
        )

    def judge_batch(self, triples: Sequence[tuple[str, str, str]]) -> np.ndarray:
        """P(second is better) for each ``(question, first, second)``."""
        prompts = [self._prompt(*t) for t in triples]
        lp = self.lm.continuation_logprob(
            [p for p in prompts for _ in range(2)], list(self.choices) * len(prompts)
        ).reshape(len(prompts), 2)
        lp = lp - lp.max(axis=1, keepdims=True)
        p = np.exp(lp)
        return p[:, 1] / p.sum(axis=1)

    def __call__(self, question: str, first: str, second: str) -> float:
        return float(self.judge_batch([(question, first, second)])[0])


class APIJudge:
    """Batching, retries and a comparison budget around a judge you call over an API.

    Parameters
    ----------
    fn : callable
        ``fn(triples) -> list`` of answers, one per ``(question, first, second)`` triple
        (0/1/0.5/P(second better) or "A"/"B"/"tie"). It may raise on transient failures.
    batch_size : int
        Triples per call of ``fn``.
    max_calls : int, optional
        Most comparisons this judge may make in its lifetime (None: no limit).
    retries : int
        Extra attempts of a failed batch, waiting ``backoff * 2**attempt`` seconds between.
    backoff : float
        Seconds before the first retry.
    sleep : callable
        The wait function (``time.sleep``; tests pass a no-op).

    Examples
    --------
    >>> calls = []
    >>> def api(triples):
    ...     calls.append(len(triples))
    ...     return ["A" if len(a) >= len(b) else "B" for _, a, b in triples]
    >>> judge = APIJudge(api, batch_size=2, max_calls=10)
    >>> judge.judge_batch([("q", "aa", "b"), ("q", "a", "bb"), ("q", "a", "b")]), calls
    (['A', 'B', 'A'], [2, 1])
    >>> judge.calls_left
    7
    """

    def __init__(
        self,
        fn: Callable[[list[tuple[str, str, str]]], Sequence[Any]],
        *,
        batch_size: int = 16,
        max_calls: int | None = None,
        retries: int = 2,
        backoff: float = 1.0,
        sleep: Callable[[float], Any] = time.sleep,
    ) -> None:
        if not callable(fn):
            msg = f"fn must be callable(triples) -> list of answers; got {type(fn).__name__}."
            raise InvalidInputError(msg)
        self.fn = fn
        self.batch_size = check_int(batch_size, name="batch_size", minimum=1)
        self.max_calls = None if max_calls is None else check_int(max_calls, name="max_calls",
                                                                  minimum=0)  # fmt: skip
        self.retries = check_int(retries, name="retries", minimum=0)
        if not float(backoff) >= 0:
            msg = f"backoff must be a non-negative number of seconds; got {backoff!r}."
            raise InvalidInputError(msg)
        self.backoff = float(backoff)
        self.sleep = sleep
        self.used = 0
        self.failures = 0

    @property
    def calls_left(self) -> int | None:
        """Comparisons left in the budget (None: unlimited)."""
        return None if self.max_calls is None else self.max_calls - self.used

    def judge_batch(self, triples: Sequence[tuple[str, str, str]]) -> list[Any]:
        """Answers for ``triples``, ``batch_size`` at a time, each batch retried on failure."""
        triples = [tuple(t) for t in triples]
        left = self.calls_left
        if left is not None and len(triples) > left:
            msg = (
                f"the judge's budget allows {left} more comparisons but {len(triples)} were "
                f"asked for (max_calls={self.max_calls}); raise max_calls or use fewer items."
            )
            raise ModelError(msg)
        out: list[Any] = []
        for start in range(0, len(triples), self.batch_size):
            chunk = triples[start : start + self.batch_size]
            for attempt in range(self.retries + 1):
                try:
                    answers = list(self.fn(chunk))
                    break
                except Exception as exc:
                    self.failures += 1
                    if attempt == self.retries:
                        msg = (
                            f"the judge API failed {self.retries + 1} times on a batch of "
                            f"{len(chunk)}: {type(exc).__name__}: {exc}"
                        )
                        raise ModelError(msg) from exc
                    self.sleep(self.backoff * 2**attempt)
            if len(answers) != len(chunk):
                msg = f"the judge API returned {len(answers)} answers for {len(chunk)} triples."
                raise ModelError(msg)
            self.used += len(chunk)
            out.extend(answers)
        return out

    def __call__(self, question: str, first: str, second: str) -> Any:
        return self.judge_batch([(question, first, second)])[0]
