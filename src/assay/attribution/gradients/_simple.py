"""Saliency (the gradient) and input x gradient.

Both are local, one-gradient methods: ``saliency_i = dF/dx_i`` (optionally its absolute
value, captum's default) and ``input_x_gradient_i = x_i dF/dx_i``. Neither is additive;
``base_values`` holds the model output at ``x`` so the result is self-describing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from assay.attribution._explanation import Explanation
from assay.attribution.gradients._common import GradientExplainer

__all__ = ["InputXGradient", "Saliency"]


class Saliency(GradientExplainer):
    """Gradient of each output with respect to each input.

    Parameters
    ----------
    model : torch.nn.Module or ModelAdapter
    absolute : bool, default False
        Return ``|dF/dx|`` (captum's ``Saliency`` default) instead of the signed gradient.
    target : int or list of int, optional
        Output columns to explain; default all.
    internal_batch_size : int, default 4096
        Rows per forward/backward pass.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Linear(3, 1).double()
    >>> exp = Saliency(net).explain(torch.ones(2, 3, dtype=torch.float64))
    >>> bool(torch.allclose(torch.as_tensor(exp.values[0, :, 0]), net.weight[0].detach()))
    True
    """

    method = "saliency"

    def __init__(
        self,
        model: Any,
        *,
        background: Any = None,
        absolute: bool = False,
        target: int | Sequence[int] | None = None,
        internal_batch_size: int = 4096,
        output_space: str | None = None,
        max_memory: int = 256 * 2**20,
        progress: bool = False,
    ) -> None:
        super().__init__(
            model,
            background=background,
            target=target,
            internal_batch_size=internal_batch_size,
            output_space=output_space,
            max_memory=max_memory,
            progress=progress,
        )
        self.absolute = bool(absolute)

    def _attribute(self, X: np.ndarray, grads: np.ndarray) -> np.ndarray:
        return np.abs(grads) if self.absolute else grads

    def explain(self, X: Any, *, seed: int | None = None) -> Explanation:
        """Attributions for every row of ``X`` (``seed`` is unused: the method is exact).

        Returns
        -------
        Explanation
            ``stderr`` is None; ``base_values`` is the model output at ``x``.
        """
        Xv, names = self._inputs(X)
        n_all = self._forward(Xv[:1]).shape[1]
        targets = self._targets(n_all)
        grads, out = self._gradients(Xv, targets)
        values = self._attribute(Xv, grads)
        params = {"seed": seed, "base_values": "model output at x (not additive)"}
        if self.method == "saliency":
            params["absolute"] = self.absolute
        return self._explanation(Xv, names, values, out, targets, params)


class InputXGradient(Saliency):
    """Input times gradient, ``x_i dF/dx_i`` (exact attribution for a bias-free linear model).

    Parameters are those of :class:`Saliency` except ``absolute``.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Linear(2, 1, bias=False).double()
    >>> X = torch.tensor([[1.0, 2.0]], dtype=torch.float64)
    >>> exp = InputXGradient(net).explain(X)
    >>> bool(abs(exp.values.sum() - net(X).item()) < 1e-12)
    True
    """

    method = "input_x_gradient"
    absolute = False  # not an option here: the product keeps the gradient's sign
    # Saliency's options less ``absolute``: exactly the base class's constructor
    __init__ = GradientExplainer.__init__

    def _attribute(self, X: np.ndarray, grads: np.ndarray) -> np.ndarray:
        return X[..., None] * grads
