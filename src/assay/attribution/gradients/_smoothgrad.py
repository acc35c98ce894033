"""SmoothGrad, SmoothGrad² and VarGrad: gradients averaged over noisy copies of the input.

For each row ``x``, ``n_samples`` copies ``x + N(0, sigma^2)`` are drawn with
``sigma = noise_level * range``; the range is per feature for tabular input (max - min over
``background``, or over the explained rows when none is given) and per row (max - min of
the row) for other shapes, as in the SmoothGrad paper. Then

- ``"smoothgrad"``: the mean gradient,
- ``"smoothgrad_sq"``: the mean squared gradient,
- ``"vargrad"``: the variance of the gradients,

each with its Monte-Carlo standard error in ``stderr`` (for the variance, the standard error
of the sample variance, ``sqrt((m4 - s^4 (N - 3) / (N - 1)) / N)``). Row ``i`` draws its noise
from ``SeedSequence(seed, spawn_key=(i,))``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from assay._validation import check_int, check_seed
from assay.attribution._explanation import Explanation
from assay.attribution.gradients._common import GradientExplainer
from assay.errors import InvalidInputError

__all__ = ["VARIANTS", "SmoothGrad"]

VARIANTS = ("smoothgrad", "smoothgrad_sq", "vargrad")


class SmoothGrad(GradientExplainer):
    """SmoothGrad and its variants for a PyTorch model.

    Parameters
    ----------
    model : torch.nn.Module or ModelAdapter
    background : array-like, optional
        Rows whose per-feature range scales the noise (tabular input).
    n_samples : int, default 50
        Noisy copies per row.
    noise_level : float, default 0.15
        Noise standard deviation as a fraction of the input range.
    variant : {"smoothgrad", "smoothgrad_sq", "vargrad"}, default "smoothgrad"
    target : int or list of int, optional
        Output columns to explain; default all.
    internal_batch_size : int, default 4096
        Noisy inputs per forward/backward pass.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Linear(3, 1).double()
    >>> X = torch.randn(4, 3, dtype=torch.float64)
    >>> exp = SmoothGrad(net, n_samples=8).explain(X, seed=0)
    >>> bool(abs(exp.values[0, :, 0] - net.weight[0].detach().numpy()).max() < 1e-12)
    True
    """

    method = "smoothgrad"

    def __init__(
        self,
        model: Any,
        *,
        background: Any = None,
        n_samples: int = 50,
        noise_level: float = 0.15,
        variant: str = "smoothgrad",
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
        self.n_samples = check_int(n_samples, name="n_samples", minimum=2)
        if (
            not isinstance(noise_level, (int, float))
            or not np.isfinite(noise_level)
            or (noise_level < 0)
        ):
            msg = f"noise_level must be a finite number >= 0; got {noise_level!r}."
            raise InvalidInputError(msg)
        self.noise_level = float(noise_level)
        if variant not in VARIANTS:
            msg = f"variant must be one of {list(VARIANTS)}; got {variant!r}."
            raise InvalidInputError(msg)
        self.variant = variant

    def _sigma(self, X: np.ndarray) -> np.ndarray:
        """Noise standard deviation broadcastable to X (n, *shape)."""
        if X.ndim == 2:
            bg = self._background(X.shape[1:])
            ref = X if bg is None else bg
            return self.noise_level * (ref.max(axis=0) - ref.min(axis=0))[None, :]
        flat = X.reshape(X.shape[0], -1)
        rng = flat.max(axis=1) - flat.min(axis=1)
        return self.noise_level * rng.reshape(-1, *([1] * (X.ndim - 1)))

    def explain(self, X: Any, *, seed: int | None = None) -> Explanation:
        """Noise-averaged gradients of every row of ``X``.

        Returns
        -------
        Explanation
            ``stderr`` is the Monte-Carlo standard error; ``base_values`` is the model
            output at ``x`` (not additive).
        """
        seed = check_seed(seed)
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % 2**63)
        Xv, names = self._inputs(X)
        n, shape = Xv.shape[0], Xv.shape[1:]
        f_x = self._forward(Xv)
        targets = self._targets(f_x.shape[1])
        sigma = np.broadcast_to(self._sigma(Xv), Xv.shape)
        m = self.n_samples
        k = len(targets)
        d = int(np.prod(shape))
        values = np.empty((*Xv.shape, k))
        stderr = np.empty_like(values)
        rows = max(1, min(n, self.max_memory // max(1, 8 * m * d * (k + 1))))
        for s in range(0, n, rows):
            idx = range(s, min(n, s + rows))
            noisy = np.empty((len(idx), m, *shape))
            for a, i in enumerate(idx):
                rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(i,)))
                noisy[a] = Xv[i] + sigma[i] * rng.standard_normal((m, *shape))
            g, _ = self._gradients(noisy.reshape(-1, *shape), targets)
            g = g.reshape(len(idx), m, *shape, k)
            if self.variant == "smoothgrad":
                vals = g.mean(axis=1)
                se = g.std(axis=1, ddof=1) / np.sqrt(m)
            elif self.variant == "smoothgrad_sq":
                vals = (g * g).mean(axis=1)
                se = (g * g).std(axis=1, ddof=1) / np.sqrt(m)
            else:
                vals = g.var(axis=1, ddof=1)
                m4 = ((g - g.mean(axis=1, keepdims=True)) ** 4).mean(axis=1)
                se = np.sqrt(np.maximum(m4 - vals**2 * (m - 3) / (m - 1), 0.0) / m)
            values[s : s + len(idx)] = vals
            stderr[s : s + len(idx)] = se
        params = {
            "seed": seed,
            "n_samples": m,
            "noise_level": self.noise_level,
            "variant": self.variant,
            "noise_sd": sigma.reshape(n, -1)[0].tolist() if Xv.ndim == 2 else None,
            "base_values": "model output at x (not additive)",
        }
        return self._explanation(Xv, names, values, f_x[:, targets], targets, params, stderr)
