"""Skip the unchanged part of the forward pass when a layer is intervened on many times.

Everything the model computes before the intervened layer starts is the same in every run.
On the clean pass, :class:`PrefixCache` records, batch by batch, the output of each submodule
that finishes before the layer starts and is called exactly once per forward pass, keeping the
outermost ones (for a BERT and ``encoder.layer.3``: ``embeddings``, ``encoder.layer.0..2``).
On later passes those modules' ``forward`` returns the recorded output instead of computing
it (the module is restored afterwards). The caller checks one replayed clean pass against the
real one and drops the cache if they differ (a model with hidden state between calls).

With ``include_layer=True`` the layer's own (unchanged) output is recorded and replayed too, so
an intervened pass computes only what runs after the layer; the forward hooks on the layer
still see (and may replace) the replayed output. With ``tile = K`` every replayed output is
repeated ``K`` times along its first (batch) axis, for a pass whose inputs were repeated ``K``
times (``K`` interventions in one forward call); the caller checks that too.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PrefixCache"]


def _tile(out: Any, k: int) -> Any:
    if k == 1:
        return _clone(out)
    if hasattr(out, "repeat") and hasattr(out, "dim") and out.dim() >= 1:
        return out.repeat(k, *([1] * (out.dim() - 1)))
    if isinstance(out, (tuple, list)) and not hasattr(out, "_fields"):
        return type(out)(_tile(x, k) for x in out)
    return out


def _clone(out: Any) -> Any:
    if hasattr(out, "clone") and callable(out.clone):
        return out.clone()
    if isinstance(out, (tuple, list)) and not hasattr(out, "_fields"):
        return type(out)(_clone(x) for x in out)
    return out


class PrefixCache:
    """Record-then-replay of the modules that run before ``layer``.

    ``mode`` is ``"record"`` (hooks store outputs), ``"replay"`` (stubs return them) or
    ``"off"``. :func:`assay.probe._capture.run_patched` calls :meth:`before` and :meth:`after`
    around each batch and :meth:`close` at the end of a pass.
    """

    def __init__(self, model: Any, layer: Any, *, include_layer: bool = False) -> None:
        self.model = model
        self.layer = layer
        self.include_layer = include_layer
        self.mode = "record"
        self.tile = 1
        self.batches: list[dict[str, Any]] = []
        self.layer_outputs: list[Any] = []
        self._handles: list[Any] = []
        self._stubbed: list[Any] = []
        self._names = {name: m for name, m in model.named_modules() if name and m is not layer}

    def before(self, i: int) -> None:
        if self.mode == "record":
            self._start_recording()
        elif self.mode == "replay":
            self._stub(self.batches[i])
            if i < len(self.layer_outputs) and self.layer_outputs[i] is not None:
                self._stub_module(self.layer, self.layer_outputs[i])

    def after(self, i: int) -> None:
        if self.mode == "record":
            self._finish_recording(i)
        self.close()

    def close(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []
        for m in self._stubbed:
            m.__dict__.pop("forward", None)
        self._stubbed = []

    # recording -----------------------------------------------------------------------
    def _start_recording(self) -> None:
        self._started = False
        self._calls: dict[str, int] = {}
        self._done: dict[str, Any] = {}

        def pre(_m: Any, _args: Any) -> None:
            self._started = True

        self._handles.append(self.layer.register_forward_pre_hook(pre))
        self._layer_calls: list[Any] = []
        if self.include_layer:

            def own(_m: Any, _args: Any, out: Any) -> None:  # before any intervention hook
                self._layer_calls.append(_clone(out))

            self._handles.append(self.layer.register_forward_hook(own, prepend=True))
        for name, module in self._names.items():

            def hook(_m: Any, _args: Any, out: Any, name: str = name) -> None:
                self._calls[name] = self._calls.get(name, 0) + 1
                if not self._started:
                    self._done[name] = out

            self._handles.append(module.register_forward_hook(hook))

    def _finish_recording(self, i: int) -> None:
        while len(self.layer_outputs) <= i:
            self.layer_outputs.append(None)
        if len(self._layer_calls) == 1:  # a layer called several times is not replayed
            self.layer_outputs[i] = self._layer_calls[0]
        self._layer_calls = []
        if not getattr(self, "_started", False):
            self.batches.append({})
            return
        once = {n: out for n, out in self._done.items() if self._calls.get(n) == 1}
        keep = {
            n: out
            for n, out in once.items()
            if not any(n.startswith(f"{other}.") for other in once if other != n)
        }
        while len(self.batches) <= i:
            self.batches.append({})
        self.batches[i] = keep
        self._done = {}

    # replay ----------------------------------------------------------------------------
    def _stub(self, outputs: dict[str, Any]) -> None:
        for name, out in outputs.items():
            self._stub_module(self._names[name], out)

    def _stub_module(self, module: Any, out: Any) -> None:
        def forward(*_a: Any, _out: Any = out, **_k: Any) -> Any:
            return _tile(_out, self.tile)  # a copy: downstream code may write into it

        module.forward = forward
        self._stubbed.append(module)

    @property
    def n_modules(self) -> int:
        """Modules replayed in the first batch (the layer itself not counted)."""
        return len(self.batches[0]) if self.batches else 0

    @property
    def layer_replayed(self) -> bool:
        """Whether the layer's own output is replayed (every batch)."""
        return bool(self.layer_outputs) and all(o is not None for o in self.layer_outputs)
