"""Skip the unchanged part of the forward pass when a layer is intervened on many times.

Everything the model computes before the intervened layer starts is the same in every run.
On the clean pass, :class:`PrefixCache` records, batch by batch, the output of each submodule
that finishes before the layer starts and is called exactly once per forward pass, keeping the
outermost ones (for a BERT and ``encoder.layer.3``: ``embeddings``, ``encoder.layer.0..2``).
On later passes those modules' ``forward`` returns the recorded output instead of computing
it (the module is restored afterwards). The caller checks one replayed clean pass against the
real one and drops the cache if they differ (a model with hidden state between calls).
"""

from __future__ import annotations

from typing import Any

__all__ = ["PrefixCache"]


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

    def __init__(self, model: Any, layer: Any) -> None:
        self.model = model
        self.layer = layer
        self.mode = "record"
        self.batches: list[dict[str, Any]] = []
        self._handles: list[Any] = []
        self._stubbed: list[Any] = []
        self._names = {name: m for name, m in model.named_modules() if name and m is not layer}

    def before(self, i: int) -> None:
        if self.mode == "record":
            self._start_recording()
        elif self.mode == "replay":
            self._stub(self.batches[i])

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
        for name, module in self._names.items():

            def hook(_m: Any, _args: Any, out: Any, name: str = name) -> None:
                self._calls[name] = self._calls.get(name, 0) + 1
                if not self._started:
                    self._done[name] = out

            self._handles.append(module.register_forward_hook(hook))

    def _finish_recording(self, i: int) -> None:
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
            module = self._names[name]

            def forward(*_a: Any, _out: Any = out, **_k: Any) -> Any:
                return _clone(_out)  # downstream code may write into it in place

            module.forward = forward
            self._stubbed.append(module)

    @property
    def n_modules(self) -> int:
        """Modules replayed in the first batch."""
        return len(self.batches[0]) if self.batches else 0
