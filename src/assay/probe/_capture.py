"""Capture activations of any PyTorch module with forward hooks, and patch them.

:func:`capture` registers a forward hook on each requested submodule (by name, as in
``model.named_modules()``, or by the module object), runs the inputs through the model in
batches under ``torch.no_grad()`` and pools each layer's output to one float32 vector per
input:

- a layer output that is a tuple or list (Hugging Face blocks return ``(hidden, ...)``) or a
  ``ModelOutput`` contributes its first tensor;
- a ``(batch, features)`` output is kept as is; a ``(batch, tokens, features)`` output is pooled
  over tokens with the attention mask: ``"last_token"`` (the last non-padding token, for left
  or right padding), ``"mean"`` (masked mean) or ``"cls"`` (the first non-padding token);
- ``(tokens, batch, features)`` outputs (``batch_first=False`` layers) are transposed when
  their second dimension, and not their first, matches the batch.

With ``out=DIR`` each layer streams into ``DIR/<layer>.npy`` (``np.lib.format.open_memmap``)
so sets larger than memory can be captured; the result then holds read-only memmaps.

:func:`patch` is a context manager that replaces a layer's output with ``fn(output)`` for
activation patching (causal checks of what a direction does). :func:`intervene` is the
batch-level entry point: it runs all inputs with a layer's output replaced (optionally at
some token positions only) and returns the model's pooled outputs.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assay._validation import check_int, import_optional
from assay.errors import AssayError, InvalidInputError, ModelError

__all__ = ["Activations", "capture", "find_layers", "intervene", "patch"]

POOLINGS = ("last_token", "mean", "cls")


@dataclass(frozen=True, eq=False)
class Activations:
    """Pooled activations, one ``(n_inputs, n_features)`` float32 array per layer.

    Attributes
    ----------
    layers : tuple of str
        Layer names, in the order requested.
    values : dict of str -> ndarray of float32, shape (n_inputs, n_features)
        In-memory arrays, or read-only memmaps when captured with ``out=``.
    pooling : str
    params : dict
        Batch size, number of inputs, where the arrays were streamed to.

    Examples
    --------
    >>> import numpy as np
    >>> acts = Activations(layers=("h",), values={"h": np.zeros((2, 3), np.float32)},
    ...                    pooling="mean")
    >>> acts["h"].shape
    (2, 3)
    """

    layers: tuple[str, ...]
    values: dict[str, np.ndarray]
    pooling: str
    params: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, layer: str | int) -> np.ndarray:
        if isinstance(layer, int):
            layer = self.layers[layer]
        try:
            return self.values[layer]
        except KeyError:
            msg = f"no layer {layer!r} was captured; captured: {list(self.layers)}."
            raise InvalidInputError(msg) from None

    def __len__(self) -> int:
        return len(self.layers)

    def items(self) -> Iterator[tuple[str, np.ndarray]]:
        for name in self.layers:
            yield name, self.values[name]

    def to_dict(self) -> dict[str, Any]:
        """Shapes and parameters (not the arrays: save those with numpy)."""
        return {
            "kind": "Activations",
            "layers": list(self.layers),
            "shapes": {k: list(v.shape) for k, v in self.values.items()},
            "pooling": self.pooling,
            "params": self.params,
        }


def find_layers(model: Any) -> list[str]:
    """Names of the repeated blocks of a transformer-like model (its longest ModuleList).

    For a Hugging Face BERT this is ``["encoder.layer.0", ..., "encoder.layer.5"]``, for GPT-2
    ``["transformer.h.0", ...]``, for ``torch.nn.TransformerEncoder`` ``["layers.0", ...]``.

    Examples
    --------
    >>> import torch
    >>> block = torch.nn.TransformerEncoderLayer(8, 2, batch_first=True)
    >>> enc = torch.nn.TransformerEncoder(block, 3)
    >>> find_layers(enc)
    ['layers.0', 'layers.1', 'layers.2']
    """
    torch = import_optional("torch", purpose="activation capture")
    best: tuple[int, str] = (0, "")
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) > best[0]:
            best = (len(module), name)
    if best[0] == 0:
        msg = (
            f"{type(model).__name__} has no nn.ModuleList of blocks; pass layer names from "
            "model.named_modules() explicitly."
        )
        raise InvalidInputError(msg)
    prefix = f"{best[1]}." if best[1] else ""
    return [f"{prefix}{i}" for i in range(best[0])]


def _resolve(model: Any, layers: Any) -> list[tuple[str, Any]]:
    torch = import_optional("torch", purpose="activation capture")
    if not isinstance(model, torch.nn.Module):
        msg = f"model must be a torch.nn.Module; got {type(model).__name__}."
        raise InvalidInputError(msg)
    if isinstance(layers, (str, torch.nn.Module)):
        layers = [layers]
    if not isinstance(layers, (list, tuple)):
        msg = (
            f"layers must be a submodule name, an nn.Module or a list of them; got "
            f"{type(layers).__name__}. See model.named_modules()."
        )
        raise InvalidInputError(msg)
    named = dict(model.named_modules())
    by_id = {id(m): n for n, m in named.items()}
    out = []
    for layer in layers:
        if isinstance(layer, str):
            if layer not in named:
                close = [n for n in named if layer.split(".")[-1] in n][:8]
                msg = (
                    f"model has no submodule named {layer!r}; similar names: {close}. "
                    "See model.named_modules() (or assay.probe.find_layers(model))."
                )
                raise InvalidInputError(msg)
            out.append((layer, named[layer]))
        elif isinstance(layer, torch.nn.Module):
            if id(layer) not in by_id:
                msg = f"the {type(layer).__name__} module passed in layers is not part of model."
                raise InvalidInputError(msg)
            out.append((by_id[id(layer)] or "model", layer))
        else:
            msg = f"layers must be names or nn.Module objects; got {type(layer).__name__}."
            raise InvalidInputError(msg)
    if not out:
        msg = "layers is empty; name at least one submodule."
        raise InvalidInputError(msg)
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        msg = f"layers has duplicates: {names}."
        raise InvalidInputError(msg)
    return out


def _first_tensor(output: Any, torch: Any) -> Any:
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, Mapping):  # ModelOutput is an OrderedDict
        output = list(output.values())
    if isinstance(output, (tuple, list)):
        for item in output:
            if isinstance(item, torch.Tensor):
                return item
    msg = f"a hooked layer returned {type(output).__name__}, which holds no tensor to capture."
    raise ModelError(msg)


def _pool(h: Any, mask: Any, pooling: str, batch: int, layer: str, torch: Any) -> Any:
    if h.dim() == 3 and h.shape[0] != batch and h.shape[1] == batch:
        h = h.transpose(0, 1)
    if h.shape[0] != batch:
        msg = (
            f"layer {layer!r} returned shape {tuple(h.shape)}, whose first dimension is not the "
            f"batch size {batch}; hook a layer whose output is (batch, ...) instead."
        )
        raise ModelError(msg)
    if h.dim() == 2:
        return h
    if h.dim() != 3:
        msg = (
            f"layer {layer!r} returned a {h.dim()}-D tensor {tuple(h.shape)}; capture needs "
            "(batch, features) or (batch, tokens, features)."
        )
        raise ModelError(msg)
    t = h.shape[1]
    if mask is None or mask.shape[1] != t:
        mask = torch.ones(batch, t, dtype=h.dtype, device=h.device)
    mask = mask.to(h.dtype)
    rows = torch.arange(batch, device=h.device)
    if pooling == "mean":
        return (h * mask[:, :, None]).sum(1) / mask.sum(1, keepdim=True).clamp_min(1.0)
    if pooling == "last_token":
        last = t - 1 - torch.argmax(mask.flip(1), dim=1)  # last 1 for left or right padding
        return h[rows, last]
    first = torch.argmax(mask, dim=1)
    return h[rows, first]


class Prepared(list):
    """Inputs already split into (model call arguments, attention mask, batch size) batches,
    so that repeated passes tokenize once."""


def prepare(
    inputs: Any, tokenizer: Any, batch_size: int, max_length: int | None = None
) -> Prepared:
    """Tokenize and batch ``inputs`` once (see :class:`Prepared`)."""
    torch = import_optional("torch", purpose="interventions")
    if isinstance(inputs, Prepared):
        return inputs
    return Prepared(_batches(inputs, tokenizer, batch_size, max_length, torch))


def _batches(inputs: Any, tokenizer: Any, batch_size: int, max_length: int | None, torch: Any):
    """Yield (model call arguments, attention mask or None, batch size)."""
    if isinstance(inputs, Prepared):
        yield from inputs
        return
    if isinstance(inputs, str):
        inputs = [inputs]
    if isinstance(inputs, Sequence) and inputs and all(isinstance(s, str) for s in inputs):
        if tokenizer is None:
            msg = (
                "inputs are strings but no tokenizer was given; pass tokenizer=AutoTokenizer."
                "from_pretrained(...) or pre-tokenized tensors."
            )
            raise InvalidInputError(msg)
        texts = list(inputs)
        for start in range(0, len(texts), batch_size):
            enc = tokenizer(
                texts[start : start + batch_size],
                padding=True,
                truncation=max_length is not None,
                max_length=max_length,
                return_tensors="pt",
            )
            enc = dict(enc)
            yield enc, enc.get("attention_mask"), len(texts[start : start + batch_size])
        return
    if isinstance(inputs, Mapping):
        tensors = {k: torch.as_tensor(v) for k, v in inputs.items()}
        n = len(next(iter(tensors.values())))
        for start in range(0, n, batch_size):
            part = {k: v[start : start + batch_size] for k, v in tensors.items()}
            yield part, part.get("attention_mask"), len(next(iter(part.values())))
        return
    if isinstance(inputs, np.ndarray) or isinstance(inputs, torch.Tensor):
        if isinstance(inputs, np.ndarray) and inputs.dtype.kind not in "biuf":
            msg = (
                f"inputs is an array of dtype {inputs.dtype}; pass numbers (token ids or "
                "features), or a list of strings together with a tokenizer."
            )
            raise InvalidInputError(msg)
        x = torch.as_tensor(inputs)
        for start in range(0, len(x), batch_size):
            yield x[start : start + batch_size], None, len(x[start : start + batch_size])
        return
    msg = (
        f"inputs must be a list of strings (with a tokenizer), a dict of tensors (input_ids, "
        f"attention_mask, ...) or an array/tensor; got {type(inputs).__name__}."
    )
    raise InvalidInputError(msg)


def _n_inputs(inputs: Any) -> int:
    if isinstance(inputs, Prepared):
        return sum(b for _, _, b in inputs)
    if isinstance(inputs, str):
        return 1
    try:
        if isinstance(inputs, Mapping):
            return len(next(iter(inputs.values())))
        return len(inputs)
    except (TypeError, StopIteration) as exc:
        msg = (
            f"inputs must be a list of strings (with a tokenizer), a non-empty dict of tensors "
            f"or an array/tensor with one row per input; got {type(inputs).__name__}."
        )
        raise InvalidInputError(msg) from exc


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "model"


def _file_names(names: Sequence[str]) -> dict[str, str]:
    """One distinct ``.npy`` file name per layer: sanitized, then numbered on collision.

    Sanitizing maps ``"a b"`` and ``"a_b"`` to the same stem, and case-insensitive file systems
    merge ``"A"`` and ``"a"``; such layers get ``-1``, ``-2``... suffixes (in request order).

    Examples
    --------
    >>> _file_names(["a b", "a_b", "c"])
    {'a b': 'a_b.npy', 'a_b': 'a_b-1.npy', 'c': 'c.npy'}
    """
    files: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        stem = _safe(name)
        candidate, k = stem, 0
        while candidate.lower() in taken:
            k += 1
            candidate = f"{stem}-{k}"
        taken.add(candidate.lower())
        files[name] = f"{candidate}.npy"
    return files


def capture(
    model: Any,
    inputs: Any,
    layers: Any,
    *,
    tokenizer: Any = None,
    pooling: str = "last_token",
    batch_size: int = 64,
    max_length: int | None = None,
    out: str | Path | None = None,
) -> Activations:
    """Run ``inputs`` through ``model`` and return the pooled output of each layer.

    Parameters
    ----------
    model : torch.nn.Module
        Any module; Hugging Face models are called with the tokenizer's keyword arguments.
    inputs : list of str, dict of tensors, ndarray or tensor
        Strings need ``tokenizer``; a dict (``input_ids``, ``attention_mask``...) is sliced
        into batches along its first dimension; an array is passed positionally.
    layers : str, nn.Module or a list of them
        Submodules to hook, by name (``model.named_modules()``) or object.
    tokenizer : callable, optional
        A Hugging Face tokenizer (called with ``padding=True, return_tensors="pt"``).
    pooling : {"last_token", "mean", "cls"}
        How ``(batch, tokens, features)`` outputs become one vector per input, honouring the
        attention mask (padding never contributes).
    batch_size : int
    max_length : int, optional
        Truncate tokenized strings to this many tokens (default: no truncation).
    out : path, optional
        Directory to stream each layer into as ``<layer>.npy`` (float32) plus
        ``manifest.json``; the returned arrays are then read-only memmaps. Layer names are
        sanitized for the file system; layers whose sanitized names collide (``"a b"`` and
        ``"a_b"``) get numbered files (``a_b-1.npy``), listed in the manifest.

    Returns
    -------
    Activations

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    >>> acts = capture(net, torch.zeros(5, 3), ["0", "1"])
    >>> acts["1"].shape, acts["1"].dtype
    ((5, 4), dtype('float32'))
    """
    torch = import_optional("torch", purpose="activation capture")
    if pooling not in POOLINGS:
        msg = f"pooling must be one of {POOLINGS}; got {pooling!r}."
        raise InvalidInputError(msg)
    batch_size = check_int(batch_size, name="batch_size", minimum=1)
    resolved = _resolve(model, layers)
    n = _n_inputs(inputs)
    if n == 0:
        msg = "inputs is empty; pass at least one input."
        raise InvalidInputError(msg)
    out_dir = None if out is None else Path(out)
    file_names = _file_names([name for name, _ in resolved])
    if out_dir is not None:
        if out_dir.exists() and not out_dir.is_dir():
            msg = f"out={str(out_dir)!r} exists and is not a directory; pass a directory path."
            raise InvalidInputError(msg)
        out_dir.mkdir(parents=True, exist_ok=True)
    store: dict[str, Any] = {}
    seen: dict[str, Any] = {}
    state = {"mask": None, "batch": 0}

    def make_hook(name: str) -> Callable:
        def hook(_module: Any, _args: Any, output: Any) -> None:
            h = _first_tensor(output, torch)
            seen[name] = _pool(h.detach(), state["mask"], pooling, state["batch"], name, torch)

        return hook

    handles = [module.register_forward_hook(make_hook(name)) for name, module in resolved]
    was_training = model.training
    model.eval()
    try:
        first_param = next(model.parameters())
        device, dtype = first_param.device, first_param.dtype
    except StopIteration:
        device, dtype = torch.device("cpu"), torch.float32
    row = 0
    try:
        with torch.no_grad():
            for args, mask, b in _batches(inputs, tokenizer, batch_size, max_length, torch):
                state["mask"] = None if mask is None else mask.to(device)
                state["batch"] = b
                seen.clear()
                try:
                    if isinstance(args, dict):
                        model(**{k: v.to(device) for k, v in args.items()})
                    else:
                        # floating inputs follow the model's dtype (a float64 array into a
                        # float32 network, or the reverse)
                        x = args.to(device, dtype) if args.is_floating_point() else args.to(device)
                        model(x)
                except (RuntimeError, TypeError, ValueError) as exc:
                    msg = f"the model failed on a batch of {b} inputs: {exc}"
                    raise ModelError(msg) from exc
                for name, _ in resolved:
                    if name not in seen:
                        msg = (
                            f"layer {name!r} was not called during the forward pass; hook a "
                            "module the model actually runs."
                        )
                        raise ModelError(msg)
                    arr = seen[name].to("cpu", torch.float32).numpy()
                    if not np.isfinite(arr).all():
                        bad = np.flatnonzero(~np.isfinite(arr).all(axis=1))
                        msg = (
                            f"layer {name!r} produced NaN or infinite activations for "
                            f"{bad.size} of {b} inputs in the batch starting at input {row} "
                            f"(first: {(row + bad[:5]).tolist()}); probes fitted on them would "
                            "be meaningless. Check those inputs (huge values overflow float32) "
                            "and the model's numerics."
                        )
                        raise ModelError(msg)
                    if name not in store:
                        shape = (n, arr.shape[1])
                        store[name] = (
                            np.empty(shape, np.float32)
                            if out_dir is None
                            else np.lib.format.open_memmap(
                                out_dir / file_names[name],
                                mode="w+",
                                dtype=np.float32,
                                shape=shape,
                            )
                        )
                    store[name][row : row + b] = arr
                row += b
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    params = {"n_inputs": n, "batch_size": batch_size, "max_length": max_length}
    if out_dir is not None:
        files = {}
        for name, arr in store.items():
            arr.flush()
            files[name] = file_names[name]
        params["out"] = str(out_dir)
        manifest = {"layers": [n for n, _ in resolved], "files": files, "pooling": pooling}
        (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        store = {name: np.load(out_dir / f, mmap_mode="r") for name, f in files.items()}
    return Activations(
        layers=tuple(n for n, _ in resolved), values=store, pooling=pooling, params=params
    )


@contextlib.contextmanager
def patch(model: Any, layer: Any, fn: Callable[[Any], Any]) -> Iterator[None]:
    """Replace a layer's output with ``fn(output)`` inside a ``with`` block.

    For layers returning a tuple (Hugging Face blocks), ``fn`` receives and returns the first
    tensor; the rest of the tuple is kept. The hook is removed on exit, even on error.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    >>> x = torch.ones(1, 2)
    >>> with patch(net, "0", lambda h: torch.zeros_like(h)):
    ...     patched = net(x)
    >>> bool(torch.allclose(patched, net[1].bias))
    True
    """
    torch = import_optional("torch", purpose="activation patching")
    ((_name, module),) = _resolve(model, [layer])

    def hook(_module: Any, _args: Any, output: Any) -> Any:
        if isinstance(output, torch.Tensor):
            return fn(output)
        if isinstance(output, tuple) and output and isinstance(output[0], torch.Tensor):
            return (fn(output[0]), *output[1:])
        msg = (
            f"patch supports layers returning a tensor or a tuple starting with one; "
            f"got {type(output).__name__}."
        )
        raise ModelError(msg)

    handle = module.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def _positions_index(positions: Any, t: int) -> Any:
    """Token positions (ints, negative from the end) as a sorted index array for length ``t``."""
    pos = np.atleast_1d(np.asarray(positions))
    if pos.ndim != 1 or pos.size == 0 or not np.issubdtype(pos.dtype, np.integer):
        msg = f"positions must be an int or a non-empty list of ints; got {positions!r}."
        raise InvalidInputError(msg)
    if np.any(pos >= t) or np.any(pos < -t):
        msg = f"positions {pos.tolist()} fall outside the {t} token positions of this batch."
        raise InvalidInputError(msg)
    return np.unique(np.where(pos < 0, pos + t, pos))


def _select(h: Any, mask: Any, positions: Any, torch: Any) -> Any:
    """Boolean (batch, tokens) selection of the positions an intervention touches, or None
    for a (batch, features) output (every row is touched)."""
    if h.dim() == 2:
        return None
    if h.dim() != 3:
        msg = (
            "interventions need a (batch, features) or (batch, tokens, features) layer "
            f"output; got {tuple(h.shape)}."
        )
        raise ModelError(msg)
    b, t = h.shape[0], h.shape[1]
    sel = torch.ones(b, t, dtype=torch.bool, device=h.device)
    if mask is not None and mask.shape == (b, t):
        sel &= mask.to(torch.bool)
    if positions is not None:
        keep = torch.zeros(t, dtype=torch.bool, device=h.device)
        keep[torch.as_tensor(_positions_index(positions, t), device=h.device)] = True
        sel &= keep[None, :]
    return sel


def run_patched(
    model: Any,
    inputs: Any,
    layer: Any,
    hook_fn: Callable[[Any, Any, slice], Any] | None,
    *,
    tokenizer: Any = None,
    pooling: str = "last_token",
    batch_size: int = 64,
    max_length: int | None = None,
    prefix: Any = None,
    tile: int = 1,
) -> np.ndarray:
    """Run all inputs with ``hook_fn(h, selection, rows)`` replacing the layer's output tensor
    (``None`` keeps it); return the model's first output tensor pooled to ``(n, k)`` float64.

    ``selection`` is the boolean (batch, tokens) mask of non-padding positions (None for a
    (batch, features) output); ``rows`` the slice of inputs in this batch. ``prefix`` (a
    :class:`assay.probe._prefix.PrefixCache`) records or replays what runs before the layer.
    ``tile = K > 1`` repeats each batch ``K`` times along the batch axis in one call (``h`` is
    then ``K`` copies stacked, for ``K`` different interventions) and returns ``(K, n, k)``.
    """
    torch = import_optional("torch", purpose="interventions")
    if pooling not in POOLINGS:
        msg = f"pooling must be one of {POOLINGS}; got {pooling!r}."
        raise InvalidInputError(msg)
    batch_size = check_int(batch_size, name="batch_size", minimum=1)
    ((name, module),) = _resolve(model, [layer])
    n = _n_inputs(inputs)
    if n == 0:
        msg = "inputs is empty; pass at least one input."
        raise InvalidInputError(msg)
    state: dict[str, Any] = {"mask": None, "rows": slice(0, 0), "called": False}

    def hook(_module: Any, _args: Any, output: Any) -> Any:
        state["called"] = True
        if hook_fn is None:
            return None
        h = output if isinstance(output, torch.Tensor) else None
        if h is None and isinstance(output, tuple) and output and torch.is_tensor(output[0]):
            h = output[0]
        if h is None:
            msg = (
                f"layer {name!r} returned {type(output).__name__}; interventions need a tensor "
                "or a tuple starting with one."
            )
            raise ModelError(msg)
        new = hook_fn(h, _select(h, state["mask"], None, torch), state["rows"])
        if new is None:
            return None
        return new if isinstance(output, torch.Tensor) else (new, *output[1:])

    handle = module.register_forward_hook(hook)
    was_training = model.training
    model.eval()
    try:
        first_param = next(model.parameters())
        device, dtype = first_param.device, first_param.dtype
    except StopIteration:
        device, dtype = torch.device("cpu"), torch.float32
    outs = []
    row = 0
    if prefix is not None:
        prefix.tile = tile
    try:
        with torch.no_grad():
            for args, mask, b in _batches(inputs, tokenizer, batch_size, max_length, torch):
                if tile > 1:
                    args, mask = _repeat(args, tile), _repeat(mask, tile)
                mask = None if mask is None else mask.to(device)
                state.update(mask=mask, rows=slice(row, row + b), called=False)
                if prefix is not None:
                    prefix.before(len(outs))
                try:
                    if isinstance(args, dict):
                        out = model(**{k: v.to(device) for k, v in args.items()})
                    else:
                        x = args.to(device, dtype) if args.is_floating_point() else args.to(device)
                        out = model(x)
                except AssayError:
                    raise  # raised by our own hook: already says what to fix
                except (RuntimeError, TypeError, ValueError) as exc:
                    msg = f"the model failed on a batch of {b} inputs: {exc}"
                    raise ModelError(msg) from exc
                finally:
                    if prefix is not None:
                        prefix.after(len(outs))
                if not state["called"]:
                    msg = f"layer {name!r} was not called during the forward pass."
                    raise ModelError(msg)
                out = _first_tensor(out, torch)
                if out.dim() == 1:
                    out = out[:, None]
                pooled = _pool(out, mask, pooling, b * tile, "model output", torch)
                outs.append(pooled.reshape(tile, b, *pooled.shape[1:]) if tile > 1 else pooled)
                row += b
    finally:
        handle.remove()
        if prefix is not None:
            prefix.close()
        model.train(was_training)
    return np.concatenate([o.to("cpu", torch.float64).numpy() for o in outs], axis=int(tile > 1))


def _repeat(x: Any, k: int) -> Any:
    """``x`` (a tensor, a dict of tensors or None) repeated ``k`` times along axis 0."""
    if x is None:
        return None
    if isinstance(x, dict):
        return {key: _repeat(v, k) for key, v in x.items()}
    return x.repeat(k, *([1] * (x.dim() - 1)))


def intervene(
    model: Any,
    inputs: Any,
    *,
    layer: Any,
    fn: Callable[[Any], Any] | None,
    positions: Any = None,
    tokenizer: Any = None,
    pooling: str = "last_token",
    batch_size: int = 64,
    max_length: int | None = None,
) -> np.ndarray:
    """Run the model on ``inputs`` with ``fn`` applied to a layer's output; return its outputs.

    The batch-level form of :func:`patch`: the layer's output tensor ``h`` (the first element
    when the layer returns a tuple, as Hugging Face blocks do) is replaced by ``fn(h)``, at
    every position or only at the token ``positions`` given, and the model's own output is
    collected for every input.

    Parameters
    ----------
    model : torch.nn.Module
        Any module; Hugging Face models are called with the tokenizer's keyword arguments.
    inputs : list of str, dict of tensors, ndarray or tensor
        As :func:`capture`.
    layer : str or nn.Module
        The submodule whose output is changed; its output must be batch-first,
        ``(batch, features)`` or ``(batch, tokens, features)``.
    fn : callable or None
        ``fn(h) -> tensor`` of the same shape (a torch function); ``None`` runs the model
        unchanged (the clean run to compare with).
    positions : int or list of int, optional
        Token positions (negative counts from the end of the padded batch) where ``fn``'s
        output replaces ``h``; elsewhere ``h`` is kept. Default: all positions.
    tokenizer : callable, optional
    pooling : {"last_token", "mean", "cls"}
        How a ``(batch, tokens, k)`` model output (a language model's logits) becomes one row
        per input, honouring the attention mask.
    batch_size : int
    max_length : int, optional

    Returns
    -------
    ndarray of float64, shape (n_inputs, k)
        The model's first output tensor (logits for a classifier, the last hidden state for
        an encoder), pooled over tokens; a 1-D output becomes one column.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    >>> x = torch.ones(4, 2)
    >>> out = intervene(net, x, layer="0", fn=torch.zeros_like)
    >>> bool(np.allclose(out, net[1].bias.item()))
    True
    """
    if fn is not None and not callable(fn):
        msg = f"fn must be a callable h -> tensor or None; got {type(fn).__name__}."
        raise InvalidInputError(msg)
    if positions is not None:
        _positions_index(positions, np.iinfo(np.int64).max)  # validate the type early

    def hook_fn(h: Any, _sel: Any, _rows: slice) -> Any:
        new = fn(h)
        if tuple(new.shape) != tuple(h.shape):
            msg = f"fn returned shape {tuple(new.shape)} for a layer output of {tuple(h.shape)}."
            raise ModelError(msg)
        if positions is None:
            return new
        if h.dim() != 3:
            msg = f"positions need a (batch, tokens, features) layer output; got {tuple(h.shape)}."
            raise InvalidInputError(msg)
        idx = _positions_index(positions, h.shape[1])
        out = h.clone()
        out[:, idx] = new[:, idx]
        return out

    return run_patched(
        model,
        inputs,
        layer,
        None if fn is None else hook_fn,
        tokenizer=tokenizer,
        pooling=pooling,
        batch_size=batch_size,
        max_length=max_length,
    )
