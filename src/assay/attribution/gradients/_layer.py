"""Integrated Gradients with respect to the token-embedding layer of a transformer.

The path runs in embedding space: ``e(a) = e' + a (e - e')`` where ``e`` is the output of the
token-embedding layer (``model.get_input_embeddings()``) for the text and ``e'`` the same for the
baseline ids: every token replaced by the pad token (special tokens such as ``[CLS]``/``[SEP]``
kept by default). The model is called with ``inputs_embeds=e(a)`` and the original
``attention_mask``, so position and segment embeddings, added inside the model, are shared by
the text and the baseline. A token's attribution is the sum over the hidden dimension of
``(e - e') * sum_s w_s dF/de(a_s)``; completeness says the token attributions add up to
``F(text) - F(baseline)``, and the relative error is reported per text (with the same
quadrature rules and adaptive doubling as :class:`IntegratedGradients`).

Works with any module whose forward accepts ``inputs_embeds`` and ``attention_mask`` (Hugging
Face encoders wrapped with a head, ``*ForSequenceClassification``, causal LMs). Outputs of
shape (n, seq, vocab) are reduced to the last non-padded position (next-token logits).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from assay._validation import check_int, check_seed
from assay.attribution._lime_text import TokenExplanation
from assay.attribution.gradients._common import torch_module
from assay.attribution.gradients._integrated import check_rule, integrate_adaptively, quadrature
from assay.errors import InvalidInputError, ModelError

__all__ = ["TokenIntegratedGradients"]


class TokenIntegratedGradients:
    """Per-token Integrated Gradients for a Hugging Face style transformer.

    Parameters
    ----------
    model : torch.nn.Module
        Forward takes ``inputs_embeds=`` and ``attention_mask=`` and returns (n, k) logits,
        an object with ``.logits``, or (n, seq, vocab) (reduced to the last real position).
    tokenizer : callable, optional
        A Hugging Face tokenizer; needed to explain strings and to name tokens.
    embedding_layer : torch.nn.Module, optional
        The token-embedding layer; default ``model.get_input_embeddings()``.
    baseline_token_id : int, optional
        Token id of the baseline; default the tokenizer's (or the model config's) pad token.
    keep_special_tokens : bool, default True
        Keep special tokens (``[CLS]``, ``[SEP]``...) in the baseline.
    n_steps, method, adaptive, tol, max_steps, eps
        As in :class:`IntegratedGradients`.
    target : int, list of int or "predicted", optional
        Output columns; ``"predicted"`` explains each text's argmax output. Default: all
        outputs when there are at most 32.
    output_fn : callable, optional
        ``output_fn(model_output, attention_mask) -> (n, k) tensor``; overrides the default
        reduction.
    internal_batch_size : int, default 64
        Sequences per forward/backward pass.

    Examples
    --------
    >>> import torch
    >>> from transformers import GPT2Config, GPT2LMHeadModel  # doctest: +SKIP
    >>> lm = GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=50))
    ... # doctest: +SKIP
    >>> ids = {"input_ids": torch.tensor([[5, 7, 9]]), "attention_mask": torch.ones(1, 3)}
    >>> res = TokenIntegratedGradients(lm, baseline_token_id=0, target=[3]).explain(ids)
    ... # doctest: +SKIP
    """

    method = "token_integrated_gradients"

    def __init__(
        self,
        model: Any,
        tokenizer: Any = None,
        *,
        embedding_layer: Any = None,
        baseline_token_id: int | None = None,
        keep_special_tokens: bool = True,
        n_steps: int = 32,
        method: str = "gausslegendre",
        adaptive: bool = False,
        tol: float = 0.01,
        max_steps: int = 512,
        eps: float = 1e-8,
        target: int | Sequence[int] | str | None = None,
        output_fn: Callable[[Any, Any], Any] | None = None,
        internal_batch_size: int = 64,
    ) -> None:
        self.torch = torch_module()
        if not isinstance(model, self.torch.nn.Module):
            msg = f"model must be a torch.nn.Module; got {type(model).__name__}."
            raise ModelError(msg)
        self.model = model
        self.tokenizer = tokenizer
        if embedding_layer is None:
            getter = getattr(model, "get_input_embeddings", None)
            if getter is None:
                msg = (
                    f"{type(model).__name__} has no get_input_embeddings(); pass "
                    "embedding_layer= (the nn.Embedding that maps token ids to vectors)."
                )
                raise ModelError(msg)
            embedding_layer = getter()
        self.embedding_layer = embedding_layer
        if baseline_token_id is None:
            baseline_token_id = getattr(tokenizer, "pad_token_id", None)
        if baseline_token_id is None:
            baseline_token_id = getattr(getattr(model, "config", None), "pad_token_id", None)
        if baseline_token_id is None:
            msg = (
                "no pad token to build the baseline from (the tokenizer and model config have "
                "none); pass baseline_token_id= (for example the id of an unused token)."
            )
            raise InvalidInputError(msg)
        self.baseline_token_id = int(baseline_token_id)
        self.keep_special_tokens = bool(keep_special_tokens)
        self.rule, self.n_steps, self.max_steps = check_rule(method, n_steps, max_steps)
        self.adaptive = bool(adaptive)
        self.tol, self.eps = float(tol), float(eps)
        if not (self.tol > 0 and self.eps > 0):
            msg = f"tol and eps must be positive; got tol={tol!r}, eps={eps!r}."
            raise InvalidInputError(msg)
        if isinstance(target, str) and target != "predicted":
            msg = f"target must be an index, a list of indices or 'predicted'; got {target!r}."
            raise InvalidInputError(msg)
        self.target = target
        self.output_fn = output_fn
        self.internal_batch_size = check_int(
            internal_batch_size, name="internal_batch_size", minimum=1
        )
        self.n_points = 0

    # -- model -----------------------------------------------------------------------------
    def _encode(self, texts: Any) -> tuple[Any, Any, dict[str, Any]]:
        torch = self.torch
        if isinstance(texts, str):
            texts = [texts]
        if isinstance(texts, (list, tuple)):
            if self.tokenizer is None:
                msg = "explaining strings needs a tokenizer; pass tokenizer= or token ids."
                raise InvalidInputError(msg)
            enc = self.tokenizer(list(texts), return_tensors="pt", padding=True)
        elif hasattr(texts, "keys") and "input_ids" in texts:
            enc = texts
        else:
            msg = (
                "texts must be a string, a list of strings or a mapping with 'input_ids' (and "
                f"'attention_mask'); got {type(texts).__name__}."
            )
            raise InvalidInputError(msg)
        ids = torch.as_tensor(enc["input_ids"])
        if ids.ndim != 2 or ids.shape[0] == 0:
            msg = f"input_ids must be 2-D (n_texts, seq_len); got shape {tuple(ids.shape)}."
            raise InvalidInputError(msg)
        mask = enc.get("attention_mask")
        mask = torch.ones_like(ids) if mask is None else torch.as_tensor(mask)
        extra = {}
        if "token_type_ids" in enc and self._accepts("token_type_ids"):
            extra["token_type_ids"] = torch.as_tensor(enc["token_type_ids"])
        return ids, mask, extra

    def _accepts(self, name: str) -> bool:
        try:
            params = inspect.signature(self.model.forward).parameters
        except (TypeError, ValueError):
            return False
        return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())

    def _reduce(self, out: Any, mask: Any) -> Any:
        if self.output_fn is not None:
            return self.output_fn(out, mask)
        if hasattr(out, "logits"):
            out = out.logits
        elif isinstance(out, (tuple, list)):
            out = out[0]
        if out.ndim == 3:  # (n, seq, vocab): next-token logits at the last real position
            last = mask.long().sum(dim=1) - 1
            out = out[self.torch.arange(out.shape[0]), last]
        if out.ndim == 1:
            out = out[:, None]
        if out.ndim != 2:
            msg = f"model output has shape {tuple(out.shape)}; pass output_fn= to reduce it."
            raise ModelError(msg)
        return out

    def _call(self, emb: Any, mask: Any, extra: dict[str, Any]) -> Any:
        return self._reduce(self.model(inputs_embeds=emb, attention_mask=mask, **extra), mask)

    # -- IG --------------------------------------------------------------------------------
    def _integrate(
        self, e: Any, e0: Any, mask: Any, extra: dict[str, Any], tgt: np.ndarray, steps: int
    ) -> np.ndarray:
        """Per-token IG (n, seq, k) for embeddings e vs e0 and per-row targets tgt (n, k)."""
        torch = self.torch
        alphas, weights = quadrature(self.rule, steps)
        n, L, _ = e.shape
        k = tgt.shape[1]
        out = np.empty((n, L, k))
        for i in range(n):
            diff = e[i] - e0[i]
            acc = torch.zeros((k, *diff.shape), dtype=e.dtype)
            for s in range(0, steps, self.internal_batch_size):
                a = torch.as_tensor(alphas[s : s + self.internal_batch_size], dtype=e.dtype)
                w = torch.as_tensor(weights[s : s + self.internal_batch_size], dtype=e.dtype)
                pts = (e0[i][None] + a[:, None, None] * diff[None]).requires_grad_(True)
                m = mask[i : i + 1].expand(len(a), -1)
                ex = {key: v[i : i + 1].expand(len(a), -1) for key, v in extra.items()}
                with torch.enable_grad():
                    f = self._call(pts, m, ex)
                    for j in range(k):
                        (g,) = torch.autograd.grad(
                            f[:, int(tgt[i, j])].sum(), pts, retain_graph=j < k - 1
                        )
                        acc[j] += torch.tensordot(w, g.detach(), dims=1)
                self.n_points += len(a)
            tok = (acc * diff[None]).sum(dim=-1)  # (k, L)
            out[i] = tok.T.detach().cpu().double().numpy()
        return out

    def explain(self, texts: Any, *, seed: int | None = None) -> TokenExplanation:
        """Per-token attributions for each text.

        Parameters
        ----------
        texts : str, list of str, or mapping with ``input_ids`` / ``attention_mask``
        seed : int, optional
            Unused (the method is deterministic); recorded in params.

        Returns
        -------
        TokenExplanation
            ``values[i]`` (n_tokens_i, k) over the non-padded tokens; ``base_values`` is
            ``F(baseline)``. ``params`` holds ``completeness_error`` (relative, (n, k)),
            ``completeness_error_abs``, ``model_output`` (F(text)), ``steps_used``,
            ``converged``, ``not_converged`` and ``model_evaluations``.
        """
        torch = self.torch
        seed = check_seed(seed)
        ids, mask, extra = self._encode(texts)
        base_ids = torch.full_like(ids, self.baseline_token_id)
        if self.keep_special_tokens and self.tokenizer is not None:
            special = torch.as_tensor(sorted(getattr(self.tokenizer, "all_special_ids", [])))
            if special.numel():
                keep = torch.isin(ids, special)
                base_ids = torch.where(keep, ids, base_ids)
        base_ids = torch.where(mask.bool(), base_ids, ids)  # padding stays as it is
        with torch.no_grad():
            e = self.embedding_layer(ids).detach()
            e0 = self.embedding_layer(base_ids).detach()
            f_x_all = self._call(e, mask, extra).detach().double().cpu().numpy()
            f_b_all = self._call(e0, mask, extra).detach().double().cpu().numpy()
        n, n_out = f_x_all.shape
        if self.target == "predicted":
            tgt = f_x_all.argmax(axis=1)[:, None]
            names = ["predicted"]
        else:
            if self.target is None:
                if n_out > 32:
                    msg = (
                        f"the model has {n_out} outputs; pass target= (an index, a list) or "
                        "target='predicted' to explain the argmax output of each text."
                    )
                    raise InvalidInputError(msg)
                cols = list(range(n_out))
            else:
                cols = [self.target] if isinstance(self.target, int) else list(self.target)
                if any(not -n_out <= c < n_out for c in cols):
                    msg = f"target {cols} out of range: the model has {n_out} outputs."
                    raise InvalidInputError(msg)
                cols = [c % n_out for c in cols]
            tgt = np.tile(np.asarray(cols), (n, 1))
            names = [f"output_{c}" for c in cols]
        rows = np.arange(n)[:, None]
        f_x, f_b = f_x_all[rows, tgt], f_b_all[rows, tgt]
        delta = f_x - f_b
        scale = np.maximum(np.abs(delta), self.eps)
        before = self.n_points

        def run(idx: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
            sel = torch.as_tensor(idx)
            ex = {key: v[sel] for key, v in extra.items()}
            att = self._integrate(e[sel], e0[sel], mask[sel], ex, tgt[idx], steps)
            return att, np.abs(att.sum(axis=1) - delta[idx]) / scale[idx]

        values, rel, steps_used, converged = integrate_adaptively(
            run, n, self.n_steps, adaptive=self.adaptive, tol=self.tol, max_steps=self.max_steps
        )
        keep_pos = mask.bool().cpu().numpy()
        tokens, vals = [], []
        for i in range(n):
            pos = np.flatnonzero(keep_pos[i])
            id_list = ids[i, pos].tolist()
            if self.tokenizer is not None and hasattr(self.tokenizer, "convert_ids_to_tokens"):
                tokens.append(list(self.tokenizer.convert_ids_to_tokens(id_list)))
            else:
                tokens.append([str(t) for t in id_list])
            vals.append(values[i, pos])
        return TokenExplanation(
            tokens=tokens,
            values=vals,
            base_values=f_b,
            output_names=names,
            method=self.method,
            params={
                "seed": seed,
                "baseline_token_id": self.baseline_token_id,
                "keep_special_tokens": self.keep_special_tokens,
                "n_steps": self.n_steps,
                "integration_method": self.rule,
                "adaptive": self.adaptive,
                "tol": self.tol,
                "target": tgt.tolist(),
                "model_output": f_x.tolist(),
                "completeness_error": rel.tolist(),
                "completeness_error_abs": (rel * scale).tolist(),
                "steps_used": steps_used.tolist(),
                "converged": converged.tolist(),
                "not_converged": np.flatnonzero(~converged).tolist(),
                "model_evaluations": int(self.n_points - before),
            },
        )
