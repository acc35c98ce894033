"""Integrated Gradients with a reported (and optionally enforced) completeness error.

``IG_i(x) = (x_i - x'_i) * int_0^1 dF(x' + a (x - x'))/dx_i da``, computed by a quadrature
``sum_s w_s grad F(x' + a_s (x - x'))``. Rules (``method``), with ``n = n_steps``:

- ``"gausslegendre"`` (default): :func:`numpy.polynomial.legendre.leggauss` nodes mapped from
  ``[-1, 1]`` to ``[0, 1]`` (``a = (t + 1) / 2``, ``w = w_t / 2``); exact for polynomial paths
  of degree ``2n - 1``, spectrally accurate on smooth (tanh, GELU, softplus) networks;
- ``"riemann_left"``, ``"riemann_right"``, ``"riemann_middle"``: ``n`` equal cells, weights
  ``1/n``;
- ``"riemann_trapezoid"``: ``n`` points ``a = 0, 1/(n-1), ..., 1`` with weights ``1/(n-1)``
  and halved end points, so the weights sum to 1 (captum's trapezoid weights sum to
  ``1 - 1/n``, a built-in relative error of ``1/n``; we do not copy that).

Completeness says ``sum_i IG_i = F(x) - F(x')``; the relative error
``|sum_i IG_i - (F(x) - F(x'))| / max(|F(x) - F(x')|, eps)`` is reported for every row and
output. ``adaptive=True`` doubles ``n_steps`` for the rows whose error is ``>= tol`` until it
is below ``tol`` or ``max_steps`` is reached, and reports the steps each row used and the rows
that never converged.

Baselines: ``"zeros"``, ``"mean"`` (mean of ``background``), an array (one row, or one per
explained row), or ``"expected"``: expected gradients, the average of IG over ``n_baselines``
rows drawn (seeded) from ``background`` per explained row, each integral by the same
quadrature, so completeness holds against the mean baseline output.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from assay._validation import check_int, check_seed
from assay.attribution._explanation import Explanation
from assay.attribution.gradients._common import GradientExplainer
from assay.errors import InvalidInputError

__all__ = ["METHODS", "IntegratedGradients", "check_rule", "integrate_adaptively", "quadrature"]

METHODS = (
    "gausslegendre",
    "riemann_left",
    "riemann_right",
    "riemann_middle",
    "riemann_trapezoid",
)


MAX_STEPS = 2**16  # beyond this the quadrature error is far below float64 gradient noise


def quadrature(method: str, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``alphas`` in [0, 1] and weights (summing to 1) of an integration rule.

    Examples
    --------
    >>> a, w = quadrature("riemann_trapezoid", 5)
    >>> a.tolist(), float(w.sum())
    ([0.0, 0.25, 0.5, 0.75, 1.0], 1.0)
    """
    n = n_steps
    if method == "gausslegendre":
        t, w = np.polynomial.legendre.leggauss(n)
        return (t + 1.0) / 2.0, w / 2.0
    if method == "riemann_trapezoid":
        if n < 2:
            msg = "riemann_trapezoid needs n_steps >= 2 (both end points)."
            raise InvalidInputError(msg)
        w = np.full(n, 1.0 / (n - 1))
        w[[0, -1]] /= 2.0
        return np.linspace(0.0, 1.0, n), w
    cells = np.arange(n, dtype=np.float64)
    offset = {"riemann_left": 0.0, "riemann_right": 1.0, "riemann_middle": 0.5}.get(method)
    if offset is None:
        msg = f"method must be one of {list(METHODS)}; got {method!r}."
        raise InvalidInputError(msg)
    return (cells + offset) / n, np.full(n, 1.0 / n)


def check_rule(method: str, n_steps: int, max_steps: int) -> tuple[str, int, int]:
    """Validated (integration rule, n_steps, max_steps) of an IG explainer."""
    if method not in METHODS:
        msg = f"method must be one of {list(METHODS)}; got {method!r}."
        raise InvalidInputError(msg)
    n_steps = check_int(n_steps, name="n_steps", minimum=1, maximum=MAX_STEPS)
    quadrature(method, n_steps)  # validates e.g. trapezoid with 1 step
    max_steps = check_int(max_steps, name="max_steps", minimum=n_steps, maximum=MAX_STEPS)
    return method, n_steps, max_steps


def integrate_adaptively(
    run: Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]],
    n: int,
    n_steps: int,
    *,
    adaptive: bool,
    tol: float,
    max_steps: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Integrate all ``n`` rows with ``n_steps``; in adaptive mode, double the steps of the rows
    whose relative completeness error is still ``>= tol`` until ``max_steps``.

    ``run(idx, steps)`` returns the attributions of rows ``idx`` and their relative errors
    (len(idx), k). Returns values, relative errors, steps used per row and converged per row.
    """
    values, rel = run(np.arange(n), n_steps)
    steps_used = np.full(n, n_steps)
    steps = n_steps
    if adaptive:
        todo = np.flatnonzero(rel.max(axis=1) >= tol)
        while todo.size and steps * 2 <= max_steps:
            steps *= 2
            att, err = run(todo, steps)
            values[todo], rel[todo] = att, err
            steps_used[todo] = steps
            todo = todo[err.max(axis=1) >= tol]
    return values, rel, steps_used, rel.max(axis=1) < tol


class IntegratedGradients(GradientExplainer):
    """Integrated Gradients for a PyTorch model, with its completeness error per row.

    Parameters
    ----------
    model : torch.nn.Module or ModelAdapter
        Forward takes a float tensor (n, ...) and returns (n, n_outputs) or (n,).
    background : array-like, optional
        Rows for ``baseline="mean"`` and ``baseline="expected"``.
    baseline : {"zeros", "mean", "expected"} or array-like, default "zeros"
        See the module docstring. An array has the shape of one row or of ``X``.
    n_steps : int, default 32
        Quadrature points (the starting count in adaptive mode).
    method : str, default "gausslegendre"
        One of ``"gausslegendre"``, ``"riemann_left"``, ``"riemann_right"``,
        ``"riemann_middle"``, ``"riemann_trapezoid"``.
    adaptive : bool, default False
        Double the steps of rows whose relative completeness error is ``>= tol``.
    tol : float, default 0.01
        Target relative completeness error in adaptive mode.
    max_steps : int, default 1024
        Largest step count tried in adaptive mode.
    n_baselines : int, default 16
        Baselines drawn per row for ``baseline="expected"``.
    eps : float, default 1e-8
        Floor of ``|F(x) - F(x')|`` in the relative error.
    target : int or list of int, optional
        Output columns to explain; default all (one gradient pass per output).
    internal_batch_size : int, default 4096
        Path points per forward/backward pass.

    Examples
    --------
    >>> import torch
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    >>> net = net.double()
    >>> X = torch.randn(5, 3, dtype=torch.float64)
    >>> exp = IntegratedGradients(net).explain(X)
    >>> max(exp.params["completeness_error"][i][0] for i in range(5)) < 1e-10
    True
    """

    method = "integrated_gradients"

    def __init__(
        self,
        model: Any,
        *,
        background: Any = None,
        baseline: Any = "zeros",
        n_steps: int = 32,
        method: str = "gausslegendre",
        adaptive: bool = False,
        tol: float = 0.01,
        max_steps: int = 1024,
        n_baselines: int = 16,
        eps: float = 1e-8,
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
        self.rule, self.n_steps, self.max_steps = check_rule(method, n_steps, max_steps)
        self.adaptive = bool(adaptive)
        for nm, v in (("tol", tol), ("eps", eps)):
            if not isinstance(v, (int, float)) or not np.isfinite(v) or v <= 0:
                msg = f"{nm} must be a positive number; got {v!r}."
                raise InvalidInputError(msg)
        self.tol = float(tol)
        self.eps = float(eps)
        self.n_baselines = check_int(n_baselines, name="n_baselines", minimum=1)
        if isinstance(baseline, str) and baseline not in ("zeros", "mean", "expected"):
            msg = f"baseline must be 'zeros', 'mean', 'expected' or an array; got {baseline!r}."
            raise InvalidInputError(msg)
        if isinstance(baseline, str) and baseline in ("mean", "expected") and background is None:
            msg = f"baseline={baseline!r} needs background rows; pass background=X_train."
            raise InvalidInputError(msg)
        self.baseline = baseline

    # -- baselines -------------------------------------------------------------------------
    def _baselines(self, X: np.ndarray, seed: int | None) -> tuple[np.ndarray, int, str]:
        """Baseline per (row, draw): array (n * n_draws, *shape), n_draws and a description."""
        n, shape = X.shape[0], X.shape[1:]
        b = self.baseline
        if isinstance(b, str) and b == "zeros":
            return np.zeros_like(X), 1, "zeros"
        if isinstance(b, str):
            bg = self._background(shape)
            if bg is None:  # __init__ checks this; kept for subclasses that skip it
                msg = f"baseline={b!r} needs background rows; pass background=X_train."
                raise InvalidInputError(msg)
            if b == "mean":
                return np.broadcast_to(bg.mean(axis=0), X.shape).copy(), 1, "mean of background"
            draws = np.empty((n, self.n_baselines, *shape))
            for i in range(n):
                rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(i,)))
                draws[i] = bg[rng.integers(0, bg.shape[0], size=self.n_baselines)]
            note = f"expected over {self.n_baselines} draws from background ({bg.shape[0]} rows)"
            return draws.reshape(n * self.n_baselines, *shape), self.n_baselines, note
        if hasattr(b, "detach"):
            b = b.detach().cpu().double().numpy()
        arr = np.asarray(b, dtype=np.float64)
        if arr.shape == shape:
            arr = np.broadcast_to(arr, X.shape)
        elif arr.shape == (1, *shape):
            arr = np.broadcast_to(arr[0], X.shape)
        elif arr.shape != X.shape:
            msg = (
                f"baseline has shape {arr.shape}; pass one row of shape {shape} or one per row "
                f"of X, shape {X.shape}."
            )
            raise InvalidInputError(msg)
        if not np.isfinite(arr).all():
            msg = "baseline contains NaN or inf; pass finite values."
            raise InvalidInputError(msg)
        return np.array(arr), 1, "given array"

    # -- core ------------------------------------------------------------------------------
    def _integrate(
        self, X: np.ndarray, B: np.ndarray, targets: list[int], n_steps: int
    ) -> np.ndarray:
        """IG of rows X against baselines B (same shape), (n, *shape, k)."""
        alphas, weights = quadrature(self.rule, n_steps)
        n, shape = X.shape[0], X.shape[1:]
        d = int(np.prod(shape)) if shape else 1
        k = len(targets)
        out = np.empty((*X.shape, k))
        rows = max(1, min(n, self.max_memory // max(1, 8 * n_steps * d * (k + 1))))
        for s in range(0, n, rows):
            x, b = X[s : s + rows], B[s : s + rows]
            diff = x - b
            pts = b[:, None] + alphas.reshape(1, -1, *([1] * len(shape))) * diff[:, None]
            g, _ = self._gradients(pts.reshape(-1, *shape), targets)
            g = g.reshape(len(x), n_steps, *shape, k)
            avg = np.tensordot(weights, g, axes=(0, 1))  # (r, *shape, k)
            out[s : s + rows] = avg * diff[..., None]
        return out

    def explain(self, X: Any, *, seed: int | None = None) -> Explanation:
        """Integrated Gradients of every row of ``X``.

        Parameters
        ----------
        X : array-like or tensor of shape (n_samples, ...)
        seed : int, optional
            Only used to draw baselines for ``baseline="expected"`` (row ``i`` uses
            ``SeedSequence(seed, spawn_key=(i,))``; None draws a seed, recorded in params).

        Returns
        -------
        Explanation
            ``values.sum(axis=1) + base_values`` equals ``F(x)`` up to the completeness error;
            ``base_values`` is ``F(baseline)`` (its mean for expected gradients); ``stderr`` is
            None. ``params`` holds per-row lists ``completeness_error`` (relative, (n, k)),
            ``completeness_error_abs`` (n, k), ``steps_used`` (n,), ``converged`` (n,) and
            ``not_converged`` (row indices; adaptive mode), plus ``model_evaluations`` (path
            points differentiated) and ``model_evaluations_per_row``.
        """
        seed = check_seed(seed)
        if seed is None and isinstance(self.baseline, str) and self.baseline == "expected":
            seed = int(np.random.SeedSequence().entropy % 2**63)
        Xv, names = self._inputs(X)
        n = Xv.shape[0]
        B, n_draws, note = self._baselines(Xv, seed)
        Xr = np.repeat(Xv, n_draws, axis=0) if n_draws > 1 else Xv
        f_x_all = self._forward(Xv)
        targets = self._targets(f_x_all.shape[1])
        f_x = f_x_all[:, targets]
        f_b = self._forward(B)[:, targets].reshape(n, n_draws, -1).mean(axis=1)
        delta = f_x - f_b
        scale = np.maximum(np.abs(delta), self.eps)
        points_before = self.n_points

        def run(idx: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
            pair = (idx[:, None] * n_draws + np.arange(n_draws)).reshape(-1)
            att = self._integrate(Xr[pair], B[pair], targets, steps)
            att = att.reshape(len(idx), n_draws, *att.shape[1:]).mean(axis=1)
            tot = att.reshape(len(idx), -1, len(targets)).sum(axis=1)
            return att, np.abs(tot - delta[idx]) / scale[idx]

        values, rel, steps_used, converged = integrate_adaptively(
            run, n, self.n_steps, adaptive=self.adaptive, tol=self.tol, max_steps=self.max_steps
        )
        n_eval = self.n_points - points_before
        params = {
            "baseline": note,
            "n_steps": self.n_steps,
            "integration_method": self.rule,
            "adaptive": self.adaptive,
            "tol": self.tol,
            "max_steps": self.max_steps,
            "eps": self.eps,
            "seed": seed,
            "completeness_error": rel.tolist(),
            "completeness_error_abs": (rel * scale).tolist(),
            "max_completeness_error": float(rel.max()),
            "steps_used": steps_used.tolist(),
            "converged": converged.tolist(),
            "not_converged": np.flatnonzero(~converged).tolist(),
            "model_evaluations": int(n_eval),
            "model_evaluations_per_row": n_eval / n,
        }
        return self._explanation(Xv, names, values, f_b, targets, params)
