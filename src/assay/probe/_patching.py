"""Activation patching and the logit lens.

:func:`activation_patching` runs the model on *corrupted* inputs with one layer's output (at
one token position, or all) replaced by its value on the matching *clean* input, and reports
how much of the clean behaviour comes back, normalized as in the literature (Meng et al.
2022; Heimersheim & Nanda 2024): ``(metric(patched) - metric(corrupted)) / (metric(clean) -
metric(corrupted))``, 0 = as corrupted, 1 = as clean.

:func:`logit_lens` decodes each layer's residual stream through the model's final norm and
unembedding (nostalgebraist 2020) and reports, per layer, the rank and probability of a target
token at one position.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from assay._results import FromDict, ResultDisplay, to_jsonable
from assay._validation import import_optional
from assay.errors import InvalidInputError, ModelError
from assay.probe._capture import _positions_index, _resolve, prepare, run_patched
from assay.probe._prefix import PrefixCache

__all__ = ["LogitLensResult", "PatchingResult", "activation_patching", "logit_lens"]


@dataclass(frozen=True, eq=False)
class PatchingResult(ResultDisplay, FromDict):
    """Normalized effect of patching clean activations into the corrupted run.

    Attributes
    ----------
    layers : tuple of str
    positions : tuple
        Token positions patched one at a time, or ``("all",)`` when every position of the
        layer was patched at once.
    effect : ndarray (n_layers, n_positions)
        ``(m_patched - m_corrupted) / (m_clean - m_corrupted)``.
    metric : ndarray (n_layers, n_positions)
        The raw metric of each patched run.
    clean_metric, corrupted_metric : float
    params : dict

    Examples
    --------
    >>> r = PatchingResult(("h",), ("all",), np.ones((1, 1)), np.ones((1, 1)), 1.0, 0.0)
    >>> PatchingResult.from_dict(r.to_dict()).effect.tolist()
    [[1.0]]
    """

    layers: tuple[str, ...]
    positions: tuple[Any, ...]
    effect: np.ndarray
    metric: np.ndarray
    clean_metric: float
    corrupted_metric: float
    params: dict[str, Any] = field(default_factory=dict)
    SCHEMA_VERSION: ClassVar[int] = 1  # this kind's one schema version
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "PatchingResult",
            "schema_version": self.schema_version,
            "layers": list(self.layers),
            "positions": list(self.positions),
            "effect": to_jsonable(self.effect),
            "metric": to_jsonable(self.metric),
            "clean_metric": float(self.clean_metric),
            "corrupted_metric": float(self.corrupted_metric),
            "params": to_jsonable(self.params),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PatchingResult:
        if d.get("kind") != "PatchingResult":
            msg = f"expected a dict with kind 'PatchingResult'; got kind {d.get('kind')!r}."
            raise InvalidInputError(msg)
        return cls(
            layers=tuple(d["layers"]),
            positions=tuple(d["positions"]),
            effect=np.asarray(d["effect"], dtype=float),
            metric=np.asarray(d["metric"], dtype=float),
            clean_metric=float(d["clean_metric"]),
            corrupted_metric=float(d["corrupted_metric"]),
            params=dict(d.get("params", {})),
            schema_version=int(d.get("schema_version", cls.SCHEMA_VERSION)),
        )

    def plot(self, *, ax: Any = None) -> Any:
        """Heat map of the normalized effect (layers by positions)."""
        from assay.plot._probe import plot_activation_patching

        return plot_activation_patching(self, ax=ax)


def _full_outputs(model: Any, inputs: Any, layers: list[str], run: dict[str, Any]) -> dict:
    """Each layer's unpooled output tensors per batch (CPU) and the pooled model output, from
    one forward pass over the inputs."""
    torch = import_optional("torch", purpose="activation patching")
    acts: dict[str, list[Any]] = {name: [] for name in layers}
    handles = []
    for name, module in _resolve(model, layers):

        def keep(_m: Any, _a: Any, out: Any, name: str = name) -> None:
            h = out if torch.is_tensor(out) else out[0] if isinstance(out, tuple) else None
            if h is None:
                msg = f"layer {name!r} returned {type(out).__name__}; patching needs a tensor."
                raise ModelError(msg)
            acts[name].append(h.detach().to("cpu"))

        handles.append(module.register_forward_hook(keep))
    try:
        out = run_patched(model, inputs, layers[0], None, **run)
    finally:
        for h in handles:
            h.remove()
    return {"acts": acts, "out": out}


def _patcher(parts: list[Any], name: str, pos: Any, batch_size: int) -> Callable:
    """Hook replacing a layer's output (at ``pos``, or all) by the clean batch's."""

    def put(h: Any, _sel: Any, rows: slice) -> Any:
        src = parts[rows.start // batch_size]
        if tuple(src.shape) != tuple(h.shape):
            msg = (
                f"layer {name!r} has shape {tuple(h.shape)} on the corrupted batch but "
                f"{tuple(src.shape)} on the clean one; clean and corrupted inputs must have the "
                "same number of tokens."
            )
            raise InvalidInputError(msg)
        src = src.to(h.device, h.dtype)
        if pos == "all":
            return src
        out = h.clone()
        out[:, pos] = src[:, pos]
        return out

    return put


def activation_patching(
    model: Any,
    clean: Any,
    corrupted: Any,
    *,
    layers: Any,
    metric: Callable[[np.ndarray], Any],
    positions: Any = None,
    tokenizer: Any = None,
    pooling: str = "last_token",
    batch_size: int = 64,
) -> PatchingResult:
    """Patch each layer's clean activations into the corrupted run and measure the recovery.

    Parameters
    ----------
    model : torch.nn.Module
    clean, corrupted : ndarray, tensor, dict of tensors or list of str
        Paired inputs of the same shape (same number of tokens row by row): the corrupted
        input differs from the clean one where the behaviour should change.
    layers : list of str or nn.Module
        Layers whose (batch-first) outputs are patched, e.g. ``find_layers(model)``.
    metric : callable
        Maps the model's pooled outputs ``(n, k)`` (a language model's last-token logits) to
        a number or to one number per input (then averaged), e.g. a logit difference.
    positions : None, "each", int or list of int
        ``None`` patches every token position of a layer at once; ``"each"`` patches every
        position separately; ints patch those positions separately.
    tokenizer, pooling, batch_size
        As :func:`assay.probe.intervene`.

    Returns
    -------
    PatchingResult

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    >>> clean, corrupted = torch.ones(4, 2), torch.zeros(4, 2)
    >>> r = activation_patching(net, clean, corrupted, layers=["0", "2"],
    ...                         metric=lambda out: out[:, 0])
    >>> r.effect.ravel().round(6).tolist()
    [1.0, 1.0]
    """
    torch = import_optional("torch", purpose="activation patching")
    if not callable(metric):
        msg = f"metric must be a callable on the (n, k) model outputs; got {type(metric).__name__}."
        raise InvalidInputError(msg)
    if isinstance(layers, (str, torch.nn.Module)):
        layers = [layers]
    names = [name for name, _ in _resolve(model, list(layers))]
    run = {"tokenizer": tokenizer, "pooling": pooling, "batch_size": batch_size}

    def score(out: np.ndarray) -> float:
        value = np.asarray(metric(out), dtype=float)
        if value.size == 0 or not np.all(np.isfinite(value)):
            msg = f"metric returned {value!r}; it must give finite numbers."
            raise InvalidInputError(msg)
        return float(value.mean())

    got = _full_outputs(model, clean, names, run)
    clean_acts = got["acts"]
    m_clean = score(got["out"])
    corrupted = prepare(corrupted, tokenizer, batch_size)  # tokenize once
    run = {"pooling": pooling, "batch_size": batch_size}
    corr_out = run_patched(model, corrupted, names[0], None, **run)
    m_corr = score(corr_out)
    if not abs(m_clean - m_corr) > 1e-12 * max(abs(m_clean), abs(m_corr), 1.0):
        msg = (
            f"the metric is {m_clean:.6g} on clean and {m_corr:.6g} on corrupted inputs; "
            "patching can only be normalized when they differ."
        )
        raise InvalidInputError(msg)
    first = clean_acts[names[0]][0]
    if positions is None:
        pos_list: list[Any] = ["all"]
    else:
        if first.dim() != 3:
            msg = (
                f"positions need (batch, tokens, features) layer outputs; got {tuple(first.shape)}."
            )
            raise InvalidInputError(msg)
        t = first.shape[1]
        if isinstance(positions, str):
            if positions != "each":
                msg = f"positions must be None, 'each' or ints; got {positions!r}."
                raise InvalidInputError(msg)
            pos_list = list(range(t))
        else:
            pos_list = [int(p) for p in _positions_index(positions, t)]
    raw = np.empty((len(names), len(pos_list)))
    modules = dict(_resolve(model, names))
    replayed = 0
    for i, name in enumerate(names):
        # with several positions per layer, what runs before the layer is computed once (on
        # the first pass) and replayed, after a check that replay reproduces the real output
        # the corrupted run's own output of the layer is replayed too (only it is patched)
        cache = PrefixCache(model, modules[name], include_layer=True) if len(pos_list) > 2 else None
        for j, pos in enumerate(pos_list):
            if cache is not None and j == 1:
                cache.mode = "replay"
                again = run_patched(model, corrupted, name, None, prefix=cache, **run)
                scale = max(1.0, float(np.max(np.abs(corr_out))))
                if not np.allclose(again, corr_out, rtol=1e-5, atol=1e-6 * scale):
                    cache.mode = "off"
                replayed += cache.mode == "replay"
            put = _patcher(clean_acts[name], name, pos, batch_size)
            raw[i, j] = score(run_patched(model, corrupted, name, put, prefix=cache, **run))
    effect = (raw - m_corr) / (m_clean - m_corr)
    return PatchingResult(
        layers=tuple(names),
        positions=tuple(pos_list),
        effect=effect,
        metric=raw,
        clean_metric=m_clean,
        corrupted_metric=m_corr,
        params={"pooling": pooling, "batch_size": batch_size, "layers_prefix_replayed": replayed},
    )


@dataclass(frozen=True, eq=False)
class LogitLensResult(ResultDisplay, FromDict):
    """Per-layer decoding of the residual stream at one token position.

    Attributes
    ----------
    layers : tuple of str
    rank : ndarray (n_inputs, n_layers) of int, or None
        Rank of the target token (0 = the top prediction) when ``target`` was given.
    prob : ndarray (n_inputs, n_layers), or None
        Its softmax probability.
    top_tokens : ndarray (n_inputs, n_layers, k) of int
        The ``k`` highest-scoring token ids per layer.
    params : dict
    """

    layers: tuple[str, ...]
    rank: np.ndarray | None
    prob: np.ndarray | None
    top_tokens: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)
    SCHEMA_VERSION: ClassVar[int] = 1  # this kind's one schema version
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "LogitLensResult",
            "schema_version": self.schema_version,
            "layers": list(self.layers),
            "rank": None if self.rank is None else to_jsonable(self.rank),
            "prob": None if self.prob is None else to_jsonable(self.prob),
            "top_tokens": to_jsonable(self.top_tokens),
            "params": to_jsonable(self.params),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LogitLensResult:
        if d.get("kind") != "LogitLensResult":
            msg = f"expected a dict with kind 'LogitLensResult'; got kind {d.get('kind')!r}."
            raise InvalidInputError(msg)
        return cls(
            layers=tuple(d["layers"]),
            rank=None if d.get("rank") is None else np.asarray(d["rank"], dtype=np.int64),
            prob=None if d.get("prob") is None else np.asarray(d["prob"], dtype=float),
            top_tokens=np.asarray(d["top_tokens"], dtype=np.int64),
            params=dict(d.get("params", {})),
            schema_version=int(d.get("schema_version", cls.SCHEMA_VERSION)),
        )


FINAL_NORMS = (
    "transformer.ln_f", "model.norm", "gpt_neox.final_layer_norm", "model.final_layernorm",
    "ln_f", "norm",
)  # fmt: skip


def _module(model: Any, spec: Any) -> Any:
    if spec is None:
        return None
    return _resolve(model, [spec])[0][1] if isinstance(spec, str) else spec


def logit_lens(
    model: Any,
    inputs: Any,
    *,
    layers: Any,
    target: Any = None,
    position: int = -1,
    norm: Any = "auto",
    unembed: Any = "auto",
    top_k: int = 5,
    tokenizer: Any = None,
    batch_size: int = 64,
) -> LogitLensResult:
    """Decode each layer's output through the final norm and unembedding.

    Parameters
    ----------
    model : torch.nn.Module
        A causal language model (Hugging Face ``*ForCausalLM`` or any module).
    inputs : list of str, dict of tensors or tensor of token ids
    layers : list of str or nn.Module
        Blocks whose outputs are decoded (e.g. ``find_layers(model)``).
    target : int or array-like of int (n_inputs,), optional
        Token id(s) whose rank and probability are reported.
    position : int
        Token position decoded (negative counts from the end of the padded batch; use left
        padding, or equal-length inputs, for "the last token").
    norm, unembed : "auto", str, nn.Module or None
        The final normalization and the unembedding; ``"auto"`` finds them on Hugging Face
        models (``get_output_embeddings()`` and ``ln_f``/``norm``/``final_layer_norm``).
        ``norm=None`` decodes without a norm.
    top_k : int
    tokenizer : callable, optional
    batch_size : int

    Returns
    -------
    LogitLensResult
    """
    torch = import_optional("torch", purpose="the logit lens")
    if isinstance(layers, (str, torch.nn.Module)):
        layers = [layers]
    names = [name for name, _ in _resolve(model, list(layers))]
    if unembed == "auto":
        get = getattr(model, "get_output_embeddings", None)
        unembed = get() if callable(get) else None
        if unembed is None:
            msg = "could not find the unembedding; pass unembed= (a module or its name)."
            raise InvalidInputError(msg)
    unembed = _module(model, unembed)
    if norm == "auto":
        named = dict(model.named_modules())
        found = [n for n in FINAL_NORMS if n in named]
        if not found:
            msg = "could not find the final norm; pass norm= (a module, its name, or None)."
            raise InvalidInputError(msg)
        norm = named[found[0]]
    norm = _module(model, norm)
    run = {"tokenizer": tokenizer, "pooling": "last_token", "batch_size": batch_size}
    ranks, probs, tops = [], [], []
    for name in names:
        parts: list[Any] = []

        def decode(h: Any, _sel: Any, _rows: slice, parts: list = parts, name: str = name) -> None:
            if h.dim() != 3:
                msg = f"layer {name!r} output {tuple(h.shape)} is not (batch, tokens, width)."
                raise ModelError(msg)
            idx = int(_positions_index(position, h.shape[1])[0])
            x = h[:, idx]
            if norm is not None:
                x = norm(x)
            parts.append(unembed(x).to("cpu", torch.float64))
            return None

        run_patched(model, inputs, name, decode, **run)
        logits = torch.cat(parts)
        n = logits.shape[0]
        tops.append(torch.topk(logits, min(top_k, logits.shape[1]), dim=1).indices.numpy())
        if target is not None:
            tgt = torch.as_tensor(np.broadcast_to(np.asarray(target, dtype=np.int64), (n,)).copy())
            if tgt.min() < 0 or tgt.max() >= logits.shape[1]:
                msg = f"target ids must be in [0, {logits.shape[1]}); got {tgt.tolist()[:5]}..."
                raise InvalidInputError(msg)
            score = logits.gather(1, tgt[:, None])
            ranks.append((logits > score).sum(1).numpy())
            probs.append(torch.softmax(logits, 1).gather(1, tgt[:, None])[:, 0].numpy())
    return LogitLensResult(
        layers=tuple(names),
        rank=None if target is None else np.stack(ranks, axis=1).astype(np.int64),
        prob=None if target is None else np.stack(probs, axis=1),
        top_tokens=np.stack(tops, axis=1).astype(np.int64),
        params={"position": position, "top_k": top_k, "norm": norm is not None},
    )
