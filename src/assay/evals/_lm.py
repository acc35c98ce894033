"""Token log-probabilities from a causal language model.

:class:`CausalLM` wraps a Hugging Face ``AutoModelForCausalLM`` (with its tokenizer), any torch
module that maps ``(batch, tokens)`` ids to ``(batch, tokens, vocab)`` logits, or a plain
callable that already returns per-token log-probabilities. torch is imported only when a torch
model is used.

For each sequence the log-probability of every token after the first is returned, and, when the
model exposes the full next-token distribution, its mean ``mu`` and standard deviation
``sigma`` of log-probabilities under the model's own distribution (what Min-K%++ needs):
``mu = sum_v p_v log p_v`` and ``sigma**2 = sum_v p_v (log p_v)**2 - mu**2``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from assay._validation import check_int, import_optional
from assay.errors import InvalidInputError, ModelError

__all__ = ["CausalLM", "TokenLogprobs", "as_causal_lm"]


@dataclass(frozen=True, eq=False)
class TokenLogprobs:
    """Per-token statistics of one sequence (tokens 1..T-1; token 0 has no context).

    ``mu`` and ``sigma`` are None when the model gave only the chosen tokens' log-probs.
    """

    ids: np.ndarray
    logprob: np.ndarray
    mu: np.ndarray | None = None
    sigma: np.ndarray | None = None


def _is_torch_module(obj: Any) -> bool:
    return any(c.__module__.startswith("torch.nn") for c in type(obj).__mro__)


class CausalLM:
    """Adapter giving token log-probabilities of a causal language model.

    Parameters
    ----------
    model : transformers causal LM, torch.nn.Module or callable
        A torch module is called as ``model(input_ids=..., attention_mask=...)`` when it has a
        Hugging Face ``config``, else as ``model(input_ids)``; it must return logits (a tensor,
        or an object with ``.logits``, or a tuple whose first item is the logits). A plain
        callable receives a list of inputs (texts or id lists) and returns, per input, an array
        of the log-probabilities of tokens 1..T-1, or an array of shape (T-1, 3) holding
        ``logprob, mu, sigma`` columns.
    tokenizer : Hugging Face tokenizer or callable, optional
        Needed to score texts with a torch model; a callable maps a text to a list of ids.
    batch_size : int
    max_length : int, optional
        Longest sequence the model accepts; read from the model's config when not given.

    Examples
    --------
    >>> import numpy as np
    >>> fn = lambda seqs: [np.full(len(s) - 1, -1.0) for s in seqs]
    >>> lm = CausalLM(fn)
    >>> lm.sequence_logprob([[1, 2, 3], [4, 5]]).tolist()
    [-2.0, -1.0]
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any = None,
        *,
        batch_size: int = 16,
        max_length: int | None = None,
    ) -> None:
        if not callable(model):
            msg = (
                f"model must be a causal language model or a callable; got {type(model).__name__}."
            )
            raise InvalidInputError(msg)
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = check_int(batch_size, name="batch_size", minimum=1)
        self.is_torch = _is_torch_module(model)
        if max_length is None and self.is_torch:
            cfg = getattr(model, "config", None)
            for attr in ("n_positions", "max_position_embeddings", "n_ctx"):
                if isinstance(getattr(cfg, attr, None), int):
                    max_length = getattr(cfg, attr)
                    break
        self.max_length = max_length

    # -- inputs ---------------------------------------------------------------------------
    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text with the adapter's tokenizer."""
        if self.tokenizer is None:
            msg = (
                "Texts were given but the CausalLM has no tokenizer; pass tokenizer=... or give "
                "token id lists instead."
            )
            raise InvalidInputError(msg)
        out = []
        for t in texts:
            enc = self.tokenizer(t)
            ids = enc["input_ids"] if isinstance(enc, dict) or hasattr(enc, "keys") else enc
            out.append([int(i) for i in np.asarray(ids).ravel()])
        return out

    def as_ids(self, inputs: Sequence[Any]) -> list[list[int]]:
        """Texts through the tokenizer, id sequences checked and converted to lists."""
        inputs = list(inputs)
        if not inputs:
            msg = "No inputs were given; pass at least one text or token id sequence."
            raise InvalidInputError(msg)
        if all(isinstance(x, str) for x in inputs):
            return self.encode(inputs)
        seqs = []
        for i, x in enumerate(inputs):
            if isinstance(x, str):
                msg = "inputs mix texts and token id sequences; pass one kind."
                raise InvalidInputError(msg)
            arr = np.asarray(x)
            if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
                msg = f"input {i} is not a 1-D sequence of integer token ids (got {arr.dtype})."
                raise InvalidInputError(msg)
            seqs.append([int(v) for v in arr])
        return seqs

    # -- scoring --------------------------------------------------------------------------
    def token_logprobs(self, inputs: Sequence[Any]) -> list[TokenLogprobs]:
        """Per-token log-probabilities (and ``mu``/``sigma`` where available) of each input."""
        inputs = list(inputs)
        if not self.is_torch:
            return self._from_callable(inputs)
        seqs = self.as_ids(inputs)
        short = [i for i, s in enumerate(seqs) if len(s) < 2]
        if short:
            msg = f"input {short[0]} has fewer than 2 tokens; nothing can be scored."
            raise InvalidInputError(msg)
        longest = max(len(s) for s in seqs)
        if self.max_length is not None and longest > self.max_length:
            msg = (
                f"an input has {longest} tokens but the model accepts at most "
                f"{self.max_length}; shorten the inputs (or use more shards)."
            )
            raise InvalidInputError(msg)
        return self._torch_logprobs(seqs)

    def _from_callable(self, inputs: list[Any]) -> list[TokenLogprobs]:
        try:
            raw = list(self.model(inputs))
        except Exception as exc:
            msg = f"The log-probability callable failed: {type(exc).__name__}: {exc}"
            raise ModelError(msg) from exc
        if len(raw) != len(inputs):
            msg = f"The callable returned {len(raw)} results for {len(inputs)} inputs."
            raise ModelError(msg)
        out = []
        for x, r in zip(inputs, raw, strict=True):
            a = np.asarray(r, dtype=float)
            ids = np.asarray(x) if not isinstance(x, str) else np.empty(0, np.int64)
            if a.ndim == 2 and a.shape[1] == 3:
                out.append(TokenLogprobs(ids, a[:, 0], a[:, 1], a[:, 2]))
            elif a.ndim == 1:
                out.append(TokenLogprobs(ids, a))
            else:
                msg = (
                    f"The callable returned an array of shape {a.shape}; expected (T-1,) or "
                    "(T-1, 3)."
                )
                raise ModelError(msg)
            if not np.isfinite(out[-1].logprob).all():
                msg = "The callable returned non-finite log-probabilities."
                raise ModelError(msg)
        return out

    def _logits(self, torch: Any, ids: Any, mask: Any) -> Any:
        if getattr(self.model, "config", None) is not None:
            res = self.model(input_ids=ids, attention_mask=mask)
        else:
            res = self.model(ids)
        logits = getattr(res, "logits", None)
        if logits is None:
            logits = res[0] if isinstance(res, (tuple, list)) else res
        if not isinstance(logits, torch.Tensor) or logits.ndim != 3:
            msg = (
                "The model did not return (batch, tokens, vocab) logits; got "
                f"{type(logits).__name__} {getattr(logits, 'shape', '')}."
            )
            raise ModelError(msg)
        return logits

    def _torch_logprobs(self, seqs: list[list[int]]) -> list[TokenLogprobs]:
        torch = import_optional("torch", purpose="scoring a torch language model")
        out: list[TokenLogprobs | None] = [None] * len(seqs)
        order = np.argsort([len(s) for s in seqs], kind="stable")  # less padding per batch
        was_training = getattr(self.model, "training", False)
        if was_training:
            self.model.eval()
        try:
            with torch.no_grad():
                for start in range(0, len(seqs), self.batch_size):
                    idx = order[start : start + self.batch_size]
                    width = max(len(seqs[i]) for i in idx)
                    ids = torch.zeros(len(idx), width, dtype=torch.long)
                    mask = torch.zeros(len(idx), width, dtype=torch.long)
                    for r, i in enumerate(idx):  # right padding; causal: pads never seen
                        ids[r, : len(seqs[i])] = torch.tensor(seqs[i])
                        mask[r, : len(seqs[i])] = 1
                    logp = torch.log_softmax(self._logits(torch, ids, mask).float(), dim=-1)
                    nxt = logp[:, :-1]
                    chosen = nxt.gather(-1, ids[:, 1:, None])[..., 0]
                    p = nxt.exp()
                    mu = (p * nxt).sum(-1)
                    var = (p * (nxt - mu[..., None]) ** 2).sum(-1)  # centred: no cancellation
                    for r, i in enumerate(idx):
                        t = len(seqs[i]) - 1
                        out[i] = TokenLogprobs(
                            ids=np.asarray(seqs[i], dtype=np.int64),
                            logprob=chosen[r, :t].double().numpy(),
                            mu=mu[r, :t].double().numpy(),
                            sigma=var[r, :t].sqrt().double().numpy(),
                        )
        finally:
            if was_training:
                self.model.train()
        return out  # type: ignore[return-value]

    def sequence_logprob(self, inputs: Sequence[Any]) -> np.ndarray:
        """Sum of token log-probabilities (tokens 1..T-1) of each input."""
        return np.array([float(t.logprob.sum()) for t in self.token_logprobs(inputs)])

    def continuation_logprob(
        self, prompts: Sequence[str], continuations: Sequence[str]
    ) -> np.ndarray:
        """Log-probability of each continuation's tokens given its prompt (texts)."""
        p_ids = self.encode(prompts)
        c_ids = self.encode(continuations)
        full = [p + c for p, c in zip(p_ids, c_ids, strict=True)]
        res = self.token_logprobs(full)
        return np.array(
            [float(r.logprob[len(p) - 1 :].sum()) for r, p in zip(res, p_ids, strict=True)]
        )


def as_causal_lm(model: Any, tokenizer: Any = None, **kwargs: Any) -> CausalLM:
    """Return ``model`` if it is a :class:`CausalLM`, else wrap it."""
    if isinstance(model, CausalLM):
        if tokenizer is not None and model.tokenizer is None:
            model.tokenizer = tokenizer
        return model
    return CausalLM(model, tokenizer, **kwargs)


class ChoiceScorer:
    """A ``score_fn`` for :func:`format_spread`: the choice a causal LM finds most likely.

    Called with a list of prompts, it returns, per prompt, the index of the continuation in
    ``choices`` with the highest log-probability (pass ``labels=`` to ``format_spread`` to turn
    these into correctness). With ``normalize=True`` log-probabilities are divided by the
    number of continuation tokens.

    Examples
    --------
    >>> import numpy as np
    >>> fn = lambda seqs: [np.zeros(len(s) - 1) for s in seqs]
    >>> tok = lambda text: [ord(c) for c in text]
    >>> ChoiceScorer(CausalLM(fn, tok), [" yes", " no"])(["Is it? "]).tolist()
    [0]
    """

    def __init__(
        self, model: Any, choices: Sequence[str], *, tokenizer: Any = None, normalize: bool = False
    ) -> None:
        self.lm = as_causal_lm(model, tokenizer)
        self.choices = [str(c) for c in choices]
        if len(self.choices) < 2:
            msg = f"ChoiceScorer needs at least two choices; got {self.choices!r}."
            raise InvalidInputError(msg)
        self.normalize = normalize

    def __call__(self, prompts: Sequence[str]) -> np.ndarray:
        prompts = list(prompts)
        k = len(self.choices)
        lp = self.lm.continuation_logprob(
            [p for p in prompts for _ in range(k)], self.choices * len(prompts)
        ).reshape(len(prompts), k)
        if self.normalize:
            lengths = np.array([len(c) for c in self.lm.encode(self.choices)], dtype=float)
            lp = lp / np.maximum(lengths, 1.0)
        return lp.argmax(axis=1)
