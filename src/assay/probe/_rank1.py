"""Rank-one shortcut for the linear maps that read an intervened layer's output directly.

A causal check changes a layer's output ``h`` by ``a * v`` (a scalar ``a`` per row or token,
one direction ``v`` per stacked copy). Any ``nn.Linear`` whose input *is* that output tensor
(for a BERT block above the layer: its query, key and value maps) then returns
``W (h + a v) + b = (W h + b) + a (W v)``: the clean output, recorded once on the clean pass,
plus a rank-one term. :class:`LinearShortcut` records those clean outputs and, on intervened
passes, replaces the product by that sum, which saves the three largest matrix products of the
first block above the layer. Linear maps that read anything else run as usual; the shortcut
acts only when the intervention says which ``a`` and ``v`` it applied.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LinearShortcut"]


class LinearShortcut:
    """Record, then shortcut, ``nn.Linear`` maps applied to the layer's output tensor itself.

    Usage: :meth:`start_recording` before the clean pass (whose intervention returns ``None``)
    and :meth:`stop` after it; :meth:`enable` before intervened passes, whose intervention calls
    :meth:`offer` with the tensor it returns; :meth:`stop` at the end.
    """

    def __init__(self, model: Any, layer: Any, torch: Any) -> None:
        self.torch = torch
        self.layer = layer
        self.linears = {
            name: m
            for name, m in model.named_modules()
            if type(m) is torch.nn.Linear and not m._forward_pre_hooks  # plain maps only
        }
        self.clean: dict[str, dict[int, Any]] = {}  # linear name -> batch start -> W h + b
        self._handles: list[Any] = []
        self._stubbed: list[Any] = []
        self._state: dict[str, Any] = {}

    # clean pass ------------------------------------------------------------------------
    def start_recording(self) -> None:
        def layer_hook(_m: Any, _args: Any, out: Any) -> None:
            h = out if self.torch.is_tensor(out) else out[0]
            self._state["h"] = h

        self._handles.append(self.layer.register_forward_hook(layer_hook))
        for name, lin in self.linears.items():

            def hook(_m: Any, args: Any, out: Any, name: str = name) -> None:
                h = self._state.get("h")
                if h is not None and args and args[0] is h and "rows" in self._state:  # a copy:
                    # the model may write into its own output later
                    self.clean.setdefault(name, {})[self._state["rows"]] = out.detach().clone()

            self._handles.append(lin.register_forward_hook(hook))

    def note_rows(self, start: int) -> None:
        """The clean pass's intervention calls this with the batch's first row."""
        self._state["rows"] = start

    # intervened passes ---------------------------------------------------------------------
    @property
    def active(self) -> bool:
        """Whether any linear map reads the layer's output directly (in every batch)."""
        if not self.clean:
            return False
        n = {len(v) for v in self.clean.values()}
        return len(n) == 1

    def enable(self) -> None:
        for name in self.clean:
            lin = self.linears[name]
            original = type(lin).forward

            def forward(x: Any, _lin: Any = lin, _name: str = name, _orig: Any = original) -> Any:
                st = self._state
                if st.get("new") is x and st.get("rows") in self.clean[_name]:
                    clean = self.clean[_name][st["rows"]]
                    wv = st["V"] @ _lin.weight.T  # (k, out)
                    k = wv.shape[0]
                    lead = (k,) + (1,) * (clean.dim() - 1)
                    y = clean.unsqueeze(0) + st["a"].unsqueeze(-1) * wv.reshape(*lead, -1)
                    return y.reshape(k * clean.shape[0], *clean.shape[1:])
                return _orig(_lin, x)

            lin.forward = forward
            self._stubbed.append(lin)

    def offer(self, new: Any, a: Any, V: Any, start: int) -> None:
        """The intervention returned ``new = h + a[..., None] * V[k]`` for copy ``k``."""
        self._state.update(new=new, a=a, V=V, rows=start)

    def stop(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []
        for m in self._stubbed:
            m.__dict__.pop("forward", None)
        self._stubbed = []
        self._state = {}
