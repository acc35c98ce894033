"""What the gradient explainers share: the torch model, input conversion, targets, gradients.

torch is imported lazily, inside the functions, so ``import assay`` never needs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from assay._validation import _check_finite, check_int, import_optional, match_columns
from assay.attribution._base import BaseExplainer, check_finite_attributions
from assay.attribution._explanation import Explanation
from assay.errors import InvalidInputError, ModelError
from assay.model._adapters import check_finite_output

__all__ = ["GradientExplainer", "model_output", "torch_module"]


def _differentiable(model: Any, output_space: str | None) -> Any:
    """A model that offers ``to_torch()`` (assay's monotonic networks) as its torch module."""
    to_torch = getattr(model, "to_torch", None)
    if to_torch is None or not callable(to_torch):
        return model
    return to_torch(output="log_odds") if output_space == "log_odds" else to_torch()


def torch_module() -> Any:
    return import_optional("torch", purpose="gradient attributions")


def model_output(out: Any) -> Any:
    """Model output as a 2-D tensor (n, n_outputs): unwraps ``.logits`` / tuples, lifts 1-D."""
    if hasattr(out, "logits"):
        out = out.logits
    elif isinstance(out, (tuple, list)):
        out = out[0]
    if out.ndim == 1:
        out = out[:, None]
    if out.ndim != 2:
        msg = (
            f"the model returned a tensor of shape {tuple(out.shape)}; gradient attributions "
            "need one output vector per row (n, n_outputs). Wrap the model in a module that "
            "reduces its output (for example selects a position or pools)."
        )
        raise ModelError(msg)
    return out


class GradientExplainer(BaseExplainer):
    """Base for gradient methods on a PyTorch ``nn.Module`` taking a float tensor.

    Inputs may be tabular (n, d) — arrays or DataFrames, checked against the model like any
    other method — or any tensor shape (n, ...) (images, sequences), which the
    :class:`Explanation` flattens to ``n_features = prod(shape[1:])`` (the original shape is in
    ``params["input_shape"]``). Put the model in ``eval()`` mode first: batch statistics or
    dropout make gradients depend on the batch.
    """

    def __init__(
        self,
        model: Any,
        *,
        background: Any = None,
        target: int | Sequence[int] | None = None,
        internal_batch_size: int = 4096,
        output_space: str | None = None,
        max_memory: int = 256 * 2**20,
        progress: bool = False,
    ) -> None:
        model = _differentiable(model, output_space)
        super().__init__(model, output_space=output_space, max_memory=max_memory, progress=progress)
        if not getattr(self.adapter, "has_gradients", False):
            msg = (
                f"method {self.method!r} needs gradients, but the model "
                f"({type(self.adapter.model).__name__}) does not provide them. Pass a "
                "torch.nn.Module whose forward takes a float tensor, or use method='lime', "
                "'kernel' or 'permutation' for black-box models."
            )
            raise ModelError(msg)
        self.torch = torch_module()
        self.module = self.adapter.model
        self.internal_batch_size = check_int(
            internal_batch_size, name="internal_batch_size", minimum=1
        )
        if target is not None:
            ts = [target] if isinstance(target, (int, np.integer)) else list(target)
            if not ts or not all(
                isinstance(t, (int, np.integer)) and not isinstance(t, bool) for t in ts
            ):
                msg = f"target must be an output index or a list of them; got {target!r}."
                raise InvalidInputError(msg)
            target = [int(t) for t in ts]
        self.target: list[int] | None = target
        self._bg_raw = background
        param = next(self.module.parameters(), None)
        self.dtype = param.dtype if param is not None else self.torch.float32
        self.device = param.device if param is not None else "cpu"
        self.n_points = 0  # inputs forwarded with a gradient (model evaluations)

    # -- inputs ----------------------------------------------------------------------------
    def _inputs(self, X: Any, name: str = "X") -> tuple[np.ndarray, list[str]]:
        """Rows as float64 (n, *shape) plus flat feature names."""
        if name == "X":
            self._x_frame_names: list[str] | None = None
        if hasattr(X, "detach") and hasattr(X, "cpu"):
            X = X.detach().cpu().double().numpy()
        arr = None
        if not hasattr(X, "columns") and not isinstance(X, str) and X is not None:
            try:
                arr = np.asarray(X)
            except (TypeError, ValueError) as exc:
                msg = (
                    f"{name} could not be converted to an array ({exc}); pass a numeric array "
                    "or tensor of shape (n_samples, ...) with every row the same shape."
                )
                raise InvalidInputError(msg) from exc
        if arr is not None and arr.ndim > 2:
            if arr.dtype.kind not in "biuf":
                msg = f"{name} must be numeric; got dtype {arr.dtype}."
                raise InvalidInputError(msg)
            arr = np.ascontiguousarray(arr, dtype=np.float64)
            if arr.shape[0] == 0:
                msg = f"{name} has 0 rows; pass at least one."
                raise InvalidInputError(msg)
            names = [f"x{i}" for i in range(int(np.prod(arr.shape[1:])))]
            _check_finite(arr.reshape(arr.shape[0], -1), names, name=name, allow_nan=False)
            return arr, names
        values, names = self.adapter.prepare(X, name=name, allow_nan=False)
        if name == "X" and hasattr(X, "columns"):
            self._x_frame_names = names
        return values, names

    def _background(self, shape: tuple[int, ...]) -> np.ndarray | None:
        if self._bg_raw is None:
            return None
        bg, bg_names = self._inputs(self._bg_raw, name="background")
        x_names = getattr(self, "_x_frame_names", None)
        if (
            x_names is not None
            and hasattr(self._bg_raw, "columns")
            and self.adapter.feature_names is None
        ):
            bg = match_columns(bg, bg_names, x_names, name="background")
        if bg.shape[1:] != shape:
            msg = (
                f"background rows have shape {bg.shape[1:]} but X rows have shape {shape}; "
                "pass background with the same features as X."
            )
            raise InvalidInputError(msg)
        return bg

    def _tensor(self, a: np.ndarray, *, grad: bool = False) -> Any:
        t = self.torch.as_tensor(a, dtype=self.dtype, device=self.device)
        return t.requires_grad_(grad)

    # -- model calls -----------------------------------------------------------------------
    def _call(self, inp: Any) -> Any:
        try:
            raw = self.module(inp)
            out = model_output(raw)
        except (InvalidInputError, ModelError):
            raise
        except Exception as exc:
            msg = (
                f"Calling the model ({type(self.module).__name__}) on a tensor of shape "
                f"{tuple(inp.shape)} failed: {type(exc).__name__}: {exc}"
            )
            raise ModelError(msg) from exc
        if out.shape[0] != inp.shape[0]:
            shape = tuple(getattr(raw, "shape", out.shape))
            msg = (
                f"the model ({type(self.module).__name__}) returned a tensor of shape {shape} "
                f"for {inp.shape[0]} input rows; gradient attributions need one output row per "
                "input row, shape (n,) or (n, n_outputs). Check that forward does not flatten "
                "or reshape across the batch dimension."
            )
            raise ModelError(msg)
        if not bool(self.torch.isfinite(out).all()):
            check_finite_output(
                out.detach().cpu().double().numpy(),
                inp.detach().cpu().double().numpy().reshape(inp.shape[0], -1),
                model=f"model ({type(self.module).__name__})",
            )
        return out

    def _forward(self, X: np.ndarray) -> np.ndarray:
        """Model outputs (n, n_all_outputs) without gradients, batched."""
        outs = []
        with self.torch.no_grad():
            for s in range(0, X.shape[0], self.internal_batch_size):
                out = self._call(self._tensor(X[s : s + self.internal_batch_size]))
                outs.append(out.detach().cpu().double().numpy())
        return np.concatenate(outs, axis=0)

    def _targets(self, n_outputs: int) -> list[int]:
        if self.target is None:
            return list(range(n_outputs))
        bad = [t for t in self.target if not -n_outputs <= t < n_outputs]
        if bad:
            msg = f"target {bad} out of range: the model has {n_outputs} outputs."
            raise InvalidInputError(msg)
        return [t % n_outputs for t in self.target]

    def _gradients(self, P: np.ndarray, targets: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Gradients (n, *shape, k) of the target outputs at points P, and the outputs (n, k)."""
        torch = self.torch
        grads = np.empty((*P.shape, len(targets)))
        outs = np.empty((P.shape[0], len(targets)))
        for s in range(0, P.shape[0], self.internal_batch_size):
            inp = self._tensor(P[s : s + self.internal_batch_size], grad=True)
            with torch.enable_grad():
                out = self._call(inp)
                for j, t in enumerate(targets):
                    (g,) = torch.autograd.grad(
                        out[:, t].sum(), inp, retain_graph=j < len(targets) - 1
                    )
                    g = g.detach().cpu().double().numpy()
                    if not np.isfinite(g).all():
                        n_bad = int((~np.isfinite(g)).reshape(g.shape[0], -1).any(axis=1).sum())
                        msg = (
                            f"the gradient of output {t} is NaN or infinite at {n_bad} of "
                            f"{g.shape[0]} points (the outputs there are finite); the model "
                            "is not differentiable there (e.g. sqrt or log at 0, or overflow). "
                            "Use method='kernel' or 'permutation', or smooth the model."
                        )
                        raise ModelError(msg)
                    grads[s : s + inp.shape[0], ..., j] = g
            outs[s : s + inp.shape[0]] = out[:, targets].detach().cpu().double().numpy()
            self.n_points += inp.shape[0]
        return grads, outs

    # -- result ----------------------------------------------------------------------------
    def _explanation(
        self,
        X: np.ndarray,
        names: list[str],
        values: np.ndarray,
        base: np.ndarray,
        targets: list[int],
        params: dict[str, Any],
        stderr: np.ndarray | None = None,
    ) -> Explanation:
        n = X.shape[0]
        k = len(targets)
        check_finite_attributions(values, base, method=self.method)
        params = {
            "target": targets,
            "input_shape": list(X.shape[1:]),
            "internal_batch_size": self.internal_batch_size,
            **params,
        }
        return Explanation(
            values=values.reshape(n, -1, k),
            base_values=base,
            data=X.reshape(n, -1),
            feature_names=names,
            output_names=[f"output_{t}" for t in targets],
            method=self.method,
            output_space=self.adapter.output_space,
            stderr=None if stderr is None else stderr.reshape(n, -1, k),
            params=params,
        )
