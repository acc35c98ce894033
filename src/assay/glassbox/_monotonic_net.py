"""Networks that are monotone in chosen inputs by construction (PyTorch, imported lazily).

Two architectures, both implemented from the papers:

``"constrained"`` — constrained monotonic networks (Runje & Shankaranarayana, ICML 2023,
"Constrained Monotonic Neural Networks"). The weights leaving a monotone input are
``sign * |W|``, every later weight is ``|W|``, and every activation is non-decreasing, so the
output is non-decreasing in ``sign * x_j`` for every monotone ``j``. Sign-constrained weights
with a single convex activation can only build convex functions, so each hidden layer splits
its units between a convex activation ``rho`` (ELU), its concave mirror ``-rho(-x)`` and a
bounded, S-shaped combination of the two; together they approximate any monotone function.

``"lipschitz"`` — Lipschitz monotonic networks (Kitouni, Nolte & Williams, ICLR 2023, "Robust
and provably monotonic networks"): ``f(x) = g(x) + lambda * sum_j sign_j x_j`` where ``g`` has
``|dg/dx_j| <= lambda`` for every monotone ``j``. The bound comes from weight norms: the
largest entry of the monotone columns of the first layer and the largest absolute row sum of
every later layer are each at most ``lambda ** (1 / L)``, and the GroupSort (pairwise max/min)
activation is a permutation, so it preserves the infinity norm. Then
``df/dx_j >= -lambda + lambda = 0``. Inputs without a constraint are not limited in the first
layer.

With no monotone input both are unconstrained MLPs of the same size (the baseline that
:func:`compare_monotonic` fits).

This module imports torch at the top (classes must live at module level to pickle); the
estimators import it only when they fit or predict.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["GroupSort", "MixedActivation", "MonotonicNet", "RawInputModule", "build_network"]

# shares of convex, concave and saturated units per hidden layer (Runje & Shankaranarayana)
_ACTIVATION_SHARES = (7, 7, 2)


def _split(n: int) -> tuple[int, int]:
    """Numbers of convex and concave units among ``n`` (the rest are saturated)."""
    total = sum(_ACTIVATION_SHARES)
    n_convex = round(n * _ACTIVATION_SHARES[0] / total)
    n_concave = round(n * _ACTIVATION_SHARES[1] / total)
    return n_convex, min(n_concave, n - n_convex)


class MixedActivation(nn.Module):
    """Convex ELU, concave ``-ELU(-x)`` and saturated units: all non-decreasing."""

    def __init__(self, n_units: int) -> None:
        super().__init__()
        self.n_convex, self.n_concave = _split(n_units)

    def forward(self, z: Any) -> Any:
        a, b = self.n_convex, self.n_convex + self.n_concave
        convex = F.elu(z[:, :a])
        concave = -F.elu(-z[:, a:b])
        s = z[:, b:]
        one = F.elu(torch.ones((), dtype=z.dtype, device=z.device))
        # rho(x + 1) - rho(1) below 0, -rho(1 - x) + rho(1) above: bounded and monotone
        saturated = torch.where(s < 0, F.elu(s + 1) - one, one - F.elu(1 - s))
        return torch.cat([convex, concave, saturated], dim=1)


class GroupSort(nn.Module):
    """Sort unit pairs (max, min): a permutation, so it keeps every norm (Anil et al., 2019)."""

    def forward(self, z: Any) -> Any:
        n, h = z.shape
        if h % 2:
            return torch.cat([self.forward(z[:, :-1]), z[:, -1:]], dim=1)
        pairs = z.reshape(n, h // 2, 2)
        return torch.cat(
            [pairs.max(dim=2, keepdim=True).values, pairs.min(dim=2, keepdim=True).values], dim=2
        ).reshape(n, h)


def _shrink(norm: Any, budget: float) -> Any:
    # divide by max(1, norm / budget): only shrinks, so an admissible layer is unchanged
    return 1.0 / torch.clamp(norm / budget, min=1.0)


class MonotonicNet(nn.Module):
    """MLP monotone in the inputs where ``signs`` is +1 (increasing) or -1 (decreasing)."""

    def __init__(
        self,
        signs: Sequence[int],
        hidden_sizes: Sequence[int],
        n_outputs: int = 1,
        architecture: str = "constrained",
        lipschitz: float = 1.0,
    ) -> None:
        super().__init__()
        signs_t = torch.as_tensor(np.asarray(signs, dtype=np.float32))
        self.register_buffer("signs", signs_t)
        self.register_buffer("mono", (signs_t != 0).to(torch.float32))
        self.constrained = bool((signs_t != 0).any())
        self.architecture = architecture
        self.lipschitz = float(lipschitz)
        sizes = [len(signs), *hidden_sizes, n_outputs]
        self.layers = nn.ModuleList(
            nn.Linear(sizes[k], sizes[k + 1]) for k in range(len(sizes) - 1)
        )
        if architecture == "constrained":
            self.activations = nn.ModuleList(MixedActivation(h) for h in hidden_sizes)
        else:
            self.activations = nn.ModuleList(GroupSort() for _ in hidden_sizes)

    def effective_weights(self) -> list[Any]:
        """The weights actually used: constrained as the architecture requires."""
        ws = [layer.weight for layer in self.layers]
        if not self.constrained:
            return ws
        mono = self.mono.bool()
        if self.architecture == "constrained":
            first = torch.where(mono, self.signs * ws[0].abs(), ws[0])
            return [first, *(w.abs() for w in ws[1:])]
        budget = self.lipschitz ** (1.0 / len(ws))
        first_norm = (ws[0].abs() * self.mono).amax()
        out = [ws[0] * torch.where(mono, _shrink(first_norm, budget), 1.0)]
        for w in ws[1:]:
            out.append(w * _shrink(w.abs().sum(dim=1).amax(), budget))
        return out

    def forward(self, x: Any) -> Any:
        ws = self.effective_weights()
        h = x
        for k, (layer, w) in enumerate(zip(self.layers, ws, strict=True)):
            h = F.linear(h, w, layer.bias)
            if k < len(self.activations):
                h = self.activations[k](h)
        if self.constrained and self.architecture == "lipschitz":
            h = h + self.lipschitz * (x * self.signs).sum(dim=1, keepdim=True)
        return h


class RawInputModule(nn.Module):
    """A fitted estimator's whole model on raw rows: impute, standardize, network, link."""

    def __init__(
        self,
        net: MonotonicNet,
        *,
        medians: np.ndarray,
        mean: np.ndarray,
        scale: np.ndarray,
        indicators: Sequence[int],
        probability: bool,
        out_mean: float = 0.0,
        out_scale: float = 1.0,
    ) -> None:
        super().__init__()
        self.net = net
        as_t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64))  # noqa: E731
        self.register_buffer("medians", as_t(medians))
        self.register_buffer("mean", as_t(mean))
        self.register_buffer("scale", as_t(scale))
        self.indicators = [int(j) for j in indicators]
        self.probability = probability
        self.out_mean, self.out_scale = float(out_mean), float(out_scale)

    def forward(self, x: Any) -> Any:
        nan = torch.isnan(x)
        filled = torch.where(nan, self.medians.to(x.dtype), x)
        ind = nan[:, self.indicators].to(x.dtype)
        z = (torch.cat([filled, ind], dim=1) - self.mean) / self.scale
        out = self.net(z.to(self.mean.dtype)).to(x.dtype)
        if self.probability:
            p = torch.sigmoid(out)
            return torch.cat([1 - p, p], dim=1)
        return out * self.out_scale + self.out_mean


def build_network(
    signs: Sequence[int],
    hidden_sizes: Sequence[int],
    *,
    n_outputs: int = 1,
    architecture: str = "constrained",
    lipschitz: float = 1.0,
) -> MonotonicNet:
    """A fresh (randomly initialised, float32) monotone network; see the module docstring.

    Examples
    --------
    >>> net = build_network([1, 0, -1], [8, 8])
    >>> x = torch.zeros(2, 3)
    >>> x[1, 0] = 1.0                         # raise the increasing input
    >>> out = net(x).detach()
    >>> bool(out[1, 0] >= out[0, 0])
    True
    """
    return MonotonicNet(signs, list(hidden_sizes), n_outputs, architecture, lipschitz)
