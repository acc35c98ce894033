"""Amortized Shapley values: a network trained to output a row's Shapley values in one pass.

FastSHAP (Jethani et al., ICLR 2022). For the interventional game of :mod:`._sampling`,
``v_x(S) = sum_b w_b f(x_S, b_{-S})``, the Shapley values of a row ``x`` minimize the
KernelSHAP objective ``E_{S ~ p} (v_x(S) - v_x(∅) - 1_S . phi)^2`` under efficiency
``sum phi = f(x) - v(∅)``, with ``p`` the Shapley kernel over ``0 < |S| < d`` (a size ``s``
with probability ``∝ (d - 1) / (s (d - s))``, then a uniform subset of that size). FastSHAP
trains one network ``phi(x)`` to minimize that objective averaged over training rows, so that
afterwards a row costs one forward pass plus one model call (``f(x)``, for efficiency).

Here:

- the coalition values of the training rows are evaluated once at :meth:`AmortizedShap.fit`
  (``n_coalitions`` per row, in (S, complement) pairs, each costing ``n_background`` model
  rows) and reused for every epoch (``resample=True`` draws and evaluates new ones every
  epoch, as FastSHAP does, at ``epochs`` times the model evaluations);
- efficiency is imposed by the additive efficient normalization of FastSHAP,
  ``phi = phi_raw + (f(x) - v(∅) - sum phi_raw) / d``, in training and, in float64, at
  explanation, so ``values.sum(axis=1) + base_values`` equals the model output to rounding;
- the network is validated on held-out rows against exact Shapley values
  (:class:`ExactShapley`, up to ``exact_max_features`` features) or against KernelSHAP with a
  large budget (its own standard error reported as the reference's noise floor). The report is
  :attr:`AmortizedShap.validation_`, an :class:`AmortizedValidation`; every explanation carries
  its summary in ``params`` and the held-out RMSE of each feature as ``stderr`` (an error scale
  measured on held-out rows, not a per-row standard error). A report that is not ``"ok"``
  also warns at fit.

The amortized explainer is never chosen by ``method="auto"``; it is worth its training cost
only when one model is explained over many rows. torch is imported lazily
(``pip install "assay[torch]"``).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from assay._results import FromDict, ResultDisplay, to_jsonable
from assay._validation import check_int, import_optional
from assay.attribution._base import DEFAULT_MAX_MEMORY, BaseExplainer
from assay.attribution._explanation import Explanation
from assay.attribution.shapley._sampling import (
    Game,
    base_value,
    coalition_values,
    probe_rows,
    random_subsets,
)
from assay.errors import AssayWarning, InvalidInputError, NotFittedError

__all__ = ["AmortizedShap", "AmortizedValidation"]

REFERENCES = ("auto", "exact", "kernel")


@dataclass(frozen=True)
class AmortizedValidation(FromDict, ResultDisplay):
    """How far the amortized values are from reference Shapley values on held-out rows.

    Attributes
    ----------
    n_rows : int
        Held-out rows compared (never used in training).
    reference : str
        ``"exact"`` (:class:`ExactShapley`) or ``"kernel"`` (:class:`KernelShap` with
        ``reference_budget`` coalitions per row).
    rmse : float
        Root mean squared difference over every (row, feature, output).
    scale : float
        Root mean square of the reference values (the attribution scale).
    relative_rmse : float
        ``rmse / scale``.
    max_abs_error : float
        Largest absolute difference.
    row_rmse_median, row_rmse_p90 : float
        Median and 90th percentile over rows of each row's RMSE (over features and outputs).
        They are steadier than ``rmse``, which a few rows far from the training data can
        dominate: over 50-row samples of one network's rows (benchmarks/RESULTS.md, issue 25)
        ``rmse`` spread 0.5x-2.3x around its value on 4,000 rows. Read it as a scale.
    rmse_per_feature : ndarray (n_features, n_outputs)
        RMSE over the held-out rows, per feature and output.
    reference_stderr : float
        Root mean square of the reference's standard errors (0 for exact): differences
        below it cannot be told from the reference's own noise.
    efficiency_gap : float
        Largest ``|sum(values) + base - f(x)|`` on the held-out rows (rounding only).
    tolerance : float
        The ``relative_rmse`` up to which the status is ``"ok"`` (``"warning"`` up to twice it).
    """

    n_rows: int
    reference: str
    rmse: float
    scale: float
    relative_rmse: float
    max_abs_error: float
    row_rmse_median: float
    row_rmse_p90: float
    rmse_per_feature: np.ndarray
    reference_stderr: float
    efficiency_gap: float
    tolerance: float
    SCHEMA_VERSION: ClassVar[int] = 1  # this kind's one schema version
    schema_version: int = SCHEMA_VERSION

    @property
    def status(self) -> str:
        """``"ok"`` when ``relative_rmse <= tolerance``, ``"warning"`` up to twice, else alert."""
        rel = _rel(self.relative_rmse)
        if not math.isfinite(rel) or rel > 2 * self.tolerance:  # None: JSON inf
            return "alert"
        return "ok" if rel <= self.tolerance else "warning"

    @property
    def verdict(self) -> str:
        """One sentence that says what the numbers say."""
        ref = "exact" if self.reference == "exact" else "KernelSHAP (large budget)"
        head = (
            f"on {self.n_rows} held-out rows the amortized values differ from {ref} Shapley "
            f"values by RMSE {self.rmse:.3g}, {_rel(self.relative_rmse):.1%} of their RMS "
            f"{self.scale:.3g} (median row {self.row_rmse_median:.3g}, largest difference "
            f"{self.max_abs_error:.3g})"
        )
        if self.status == "ok":
            tail = f"within the {self.tolerance:.0%} tolerance"
        elif self.status == "warning":
            tail = f"above the {self.tolerance:.0%} tolerance; train longer or on more rows"
        else:
            tail = (
                f"more than twice the {self.tolerance:.0%} tolerance: do not use these values "
                "in place of exact or sampled ones"
            )
        return f"{head}; {tail}."

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record (``kind``, ``schema_version``, fields, ``status``, ``verdict``)."""
        return {
            "kind": "AmortizedValidation",
            "schema_version": self.schema_version,
            "status": self.status,
            "verdict": self.verdict,
            "n_rows": int(self.n_rows),
            "reference": self.reference,
            "rmse": to_jsonable(_rel(self.rmse)),
            "scale": to_jsonable(_rel(self.scale)),
            "relative_rmse": to_jsonable(_rel(self.relative_rmse)),
            "max_abs_error": to_jsonable(_rel(self.max_abs_error)),
            "row_rmse_median": to_jsonable(_rel(self.row_rmse_median)),
            "row_rmse_p90": to_jsonable(_rel(self.row_rmse_p90)),
            "rmse_per_feature": to_jsonable(np.asarray(self.rmse_per_feature)),
            "reference_stderr": to_jsonable(_rel(self.reference_stderr)),
            "efficiency_gap": to_jsonable(_rel(self.efficiency_gap)),
            "tolerance": to_jsonable(_rel(self.tolerance)),
        }

    def summary(self) -> dict[str, Any]:
        """The scalars of the report (what explanations carry in ``params["validation"]``)."""
        d = self.to_dict()
        return {k: v for k, v in d.items() if k not in ("kind", "rmse_per_feature")}


@dataclass(frozen=True)
class _Scaling:
    x_mean: np.ndarray
    x_scale: np.ndarray
    y_scale: float
    d: int
    k: int


def kernel_size_probs(d: int) -> np.ndarray:
    """Shapley-kernel probability of each coalition size ``1 .. d-1`` (index 0 is size 1)."""
    s = np.arange(1, d)
    m = (d - 1) / (s * (d - s))
    return m / m.sum()


def sample_coalitions(rng: np.random.Generator, n_rows: int, n_pairs: int, d: int) -> np.ndarray:
    """``(n_rows, 2 n_pairs, d)`` coalitions from the Shapley kernel, each followed by its
    complement (paired sampling, as FastSHAP and KernelShap use)."""
    sizes = rng.choice(np.arange(1, d), size=n_rows * n_pairs, p=kernel_size_probs(d))
    z = random_subsets(rng, sizes, d).reshape(n_rows, n_pairs, d)
    out = np.empty((n_rows, 2 * n_pairs, d), dtype=bool)
    out[:, 0::2] = z
    out[:, 1::2] = ~z
    return out


class AmortizedShap(BaseExplainer):
    """Interventional Shapley values from a network trained on the model (FastSHAP).

    Train once with :meth:`fit` on rows like the ones to explain, check
    :attr:`validation_` (error against exact or large-budget KernelSHAP values on held-out
    rows), then :meth:`explain` any number of rows at one forward pass and one model call per
    row. The values always add up to the model output (additive efficient normalization);
    how close each one is to the true Shapley value is what :attr:`validation_` measures.

    Parameters
    ----------
    model : model or ModelAdapter
        Anything :func:`assay.model.wrap` accepts (a black box: only its predictions are used).
    background : array-like (n_background, n_features), optional
        Reference rows of the game. When None, up to 100 of the training rows (seeded sample).
    background_weights : array-like (n_background,), optional
        Weights of the background rows; normalized to sum to 1.
    output_space : str, optional
        ``"probability"``, ``"log_odds"`` or ``"raw"``; see :func:`assay.model.wrap`.
    hidden : tuple of int, default (128, 128)
        Widths of the network's hidden layers (ReLU).
    epochs : int, default 100
        Passes over the training rows. More training rows help more than more epochs or
        coalitions (benchmarks/RESULTS.md, issue 25).
    n_coalitions : int, default 32
        Coalitions evaluated per training row (even; drawn in complementary pairs from the
        Shapley kernel once at fit, or every epoch with ``resample``). Fit costs
        ``n_train * (n_coalitions + 1) * n_background`` model rows (times ``epochs`` with
        ``resample``), plus the validation reference.
    batch_size : int, default 32
        Training rows per optimizer step.
    learning_rate : float, default 3e-3
        Adam's step size (cosine-annealed to 0 over the epochs).
    validation_rows : int, default 100
        Training rows held out (seeded) to validate on; at most a fifth of the rows given.
    reference : {"auto", "exact", "kernel"}, default "auto"
        What the held-out values are compared with: ``"exact"`` enumerates all ``2^d``
        coalitions (``"auto"`` does so up to ``exact_max_features`` features), ``"kernel"``
        is KernelShap with ``reference_budget`` coalitions.
    exact_max_features : int, default 12
    reference_budget : int, default 2048
    tolerance : float, default 0.1
        Largest held-out ``relative_rmse`` still reported ``"ok"``.
    seed : int, default 0
        Seeds the coalitions, the split, the initial weights and the batches; the same seed
        gives the same network on the same device and thread count.
    device : str, default "cpu"
        torch device to train and run the network on.
    resample : bool, default False
        Draw and evaluate fresh coalitions for every epoch, as FastSHAP does (fit then costs
        ``epochs`` times as many model rows); False evaluates one set at fit and reuses it.
    max_memory : int, default 256 MiB
        Largest model input, in bytes, built for one model call.

    Attributes
    ----------
    validation_ : AmortizedValidation
    validation_index_ : ndarray of int
        Positions, in the rows given to :meth:`fit`, of the held-out validation rows.
    fit_info_ : dict
        Rows used, model rows evaluated, training loss per epoch, fit seconds.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from assay.attribution import AmortizedShap
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 4))
    >>> model = LinearRegression().fit(X, X @ [1.0, -2.0, 0.5, 0.0])
    >>> amo = AmortizedShap(model, background=X[:20], hidden=(32,), epochs=100, seed=0).fit(X)
    >>> amo.validation_.status, amo.validation_.relative_rmse < 0.1
    ('ok', True)
    >>> exp = amo.explain(X[:5])
    >>> bool(np.allclose(exp.values.sum(1) + exp.base_values, model.predict(X[:5])[:, None]))
    True
    """

    method = "amortized"

    def __init__(
        self,
        model: Any,
        *,
        background: Any = None,
        background_weights: Any = None,
        output_space: str | None = None,
        hidden: tuple[int, ...] = (128, 128),
        epochs: int = 100,
        n_coalitions: int = 32,
        batch_size: int = 32,
        learning_rate: float = 3e-3,
        validation_rows: int = 100,
        reference: str = "auto",
        exact_max_features: int = 12,
        reference_budget: int = 2048,
        tolerance: float = 0.1,
        seed: int = 0,
        device: str = "cpu",
        resample: bool = False,
        max_memory: int = DEFAULT_MAX_MEMORY,
    ) -> None:
        if not isinstance(resample, bool | np.bool_):
            msg = f"resample must be True or False; got {resample!r}."
            raise InvalidInputError(msg)
        self.resample = bool(resample)
        if isinstance(hidden, int | np.integer):
            hidden = (int(hidden),)
        if not isinstance(hidden, tuple | list) or not hidden:
            msg = (
                f"hidden must be a non-empty tuple of layer widths, e.g. (128, 128); got {hidden!r}"
            )
            msg += "."
            raise InvalidInputError(msg)
        self.hidden = tuple(check_int(h, name="hidden width", minimum=1) for h in hidden)
        self.epochs = check_int(epochs, name="epochs", minimum=1)
        self.n_coalitions = check_int(n_coalitions, name="n_coalitions", minimum=2)
        if self.n_coalitions % 2:
            msg = (
                f"n_coalitions must be even (coalitions come in complementary pairs); got "
                f"{n_coalitions}. Use {self.n_coalitions + 1}."
            )
            raise InvalidInputError(msg)
        self.batch_size = check_int(batch_size, name="batch_size", minimum=1)
        self.learning_rate = _check_positive(learning_rate, "learning_rate")
        self.validation_rows = check_int(validation_rows, name="validation_rows", minimum=1)
        if reference not in REFERENCES:
            msg = f"reference must be one of {list(REFERENCES)}; got {reference!r}."
            raise InvalidInputError(msg)
        self.reference = reference
        self.exact_max_features = check_int(
            exact_max_features, name="exact_max_features", minimum=1, maximum=20
        )
        self.reference_budget = check_int(reference_budget, name="reference_budget", minimum=16)
        self.tolerance = _check_positive(tolerance, "tolerance")
        self.seed = check_int(seed, name="seed", minimum=0)
        if not isinstance(device, str):
            msg = f"device must be a torch device name such as 'cpu' or 'cuda'; got {device!r}."
            raise InvalidInputError(msg)
        self.device = device
        super().__init__(
            model, background=background, output_space=output_space, max_memory=max_memory
        )
        self._set_background_weights(background_weights)

    # ------------------------------------------------------------------------------- fit
    def fit(self, X: Any, y: Any = None) -> AmortizedShap:
        """Train the explainer network on rows ``X`` and validate it on held-out ones.

        Parameters
        ----------
        X : array-like (n_samples, n_features)
            Rows like those to be explained (e.g. the training data). ``validation_rows`` of
            them (at most a fifth) are held out for :attr:`validation_`.
        y : ignored

        Returns
        -------
        self
        """
        torch = import_optional("torch", purpose="the amortized (FastSHAP) explainer")
        start = time.perf_counter()
        Xv, names, _ = self._prepare(X, None)
        n, d = Xv.shape
        if d < 2:
            msg = (
                f"X has {d} feature; with one feature its Shapley value is f(x) - E f(b) "
                "exactly, nothing to learn. Use ExactShapley."
            )
            raise InvalidInputError(msg)
        if n < 10:
            msg = f"fit needs at least 10 rows (some are held out to validate); got {n}."
            raise InvalidInputError(msg)
        try:
            device = torch.device(self.device)
            torch.empty(1, device=device)
        except (AssertionError, RuntimeError, TypeError, ValueError) as exc:
            # torch raises AssertionError for CUDA in a CPU-only build; keep its first line
            why = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            msg = f"device {self.device!r} cannot be used by torch here ({why}); use 'cpu'."
            raise InvalidInputError(msg) from exc
        rng = np.random.default_rng(self.seed)
        n_val = min(self.validation_rows, n // 5)
        perm = rng.permutation(n)
        val_idx, train_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        X_train, X_val = Xv[train_idx], Xv[val_idx]

        bg, bg_note = self._background_for(X_train, self.seed)
        bg = np.ascontiguousarray(bg)
        weights = self._weights_for(bg)
        predict, evaluation = self._model_evaluator(probe_rows(X_train, bg), fast_trees=True)
        game = Game(predict, bg, weights, self.max_memory, evaluation == "compiled trees")
        rows_before = self.adapter.n_rows_evaluated
        v0 = base_value(game)  # (k,)
        fx = self.adapter.predict(X_train)
        k = fx.shape[1]
        n_pairs = self.n_coalitions // 2
        row_of = np.repeat(np.arange(X_train.shape[0]), 2 * n_pairs)

        def draw() -> tuple[np.ndarray, np.ndarray]:
            """Coalitions of every training row and their centred values v(S) - v(∅)."""
            Z = sample_coalitions(rng, X_train.shape[0], n_pairs, d)
            vS = coalition_values(game, X_train, Z.reshape(-1, d), row_of)
            return Z, vS.reshape(X_train.shape[0], Z.shape[1], k) - v0

        gap = fx - v0  # v(N) - v(∅)
        x_mean = X_train.mean(axis=0)
        x_scale = X_train.std(axis=0)
        x_scale[x_scale == 0] = 1.0
        y_scale = float(np.sqrt(np.mean(gap**2)))
        if not (math.isfinite(y_scale) and y_scale > 0):
            y_scale = 1.0
        self._scaling = _Scaling(x_mean, x_scale, y_scale, d, k)
        net, losses = self._train(torch, device, X_train, draw, gap, d, k)
        self.net_ = net
        self.background_ = bg
        self.background_weights_ = weights
        self.base_value_ = v0
        self.feature_names_in_ = names
        self.n_features_in_ = d
        self._bg_note = bg_note
        self._evaluation = evaluation
        model_rows = int(self.adapter.n_rows_evaluated - rows_before)
        train_seconds = time.perf_counter() - start
        self.validation_index_ = val_idx
        self.validation_ = self._validate(X_val)
        self.fit_info_ = {
            "n_train": int(X_train.shape[0]),
            "n_validation": int(n_val),
            "n_background": int(bg.shape[0]),
            "background": bg_note,
            "model_evaluation": evaluation,
            "model_rows_evaluated": model_rows,
            "loss_per_epoch": losses,
            "train_seconds": train_seconds,
            "fit_seconds": time.perf_counter() - start,
        }
        if self.validation_.status != "ok":
            warnings.warn(f"AmortizedShap: {self.validation_.verdict}", AssayWarning, stacklevel=2)
        return self

    def _train(
        self,
        torch: Any,
        device: Any,
        X_train: np.ndarray,
        draw: Any,
        gap: np.ndarray,
        d: int,
        k: int,
    ) -> tuple[Any, list[float]]:
        sc = self._scaling
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            layers: list[Any] = []
            width = d
            for h in self.hidden:
                layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
                width = h
            layers.append(torch.nn.Linear(width, d * k))
            net = torch.nn.Sequential(*layers).to(device=device, dtype=torch.float32)
        xs = torch.as_tensor((X_train - sc.x_mean) / sc.x_scale, dtype=torch.float32, device=device)

        def as_tensors(Z: np.ndarray, y_t: np.ndarray) -> tuple[Any, Any]:
            zs = torch.as_tensor(Z, dtype=torch.float32, device=device)  # (n, C, d)
            ys = torch.as_tensor(y_t / sc.y_scale, dtype=torch.float32, device=device)  # (n, C, k)
            return zs, ys

        zs, ys = as_tensors(*draw())
        gs = torch.as_tensor(gap / sc.y_scale, dtype=torch.float32, device=device)  # (n, k)
        opt = torch.optim.Adam(net.parameters(), lr=self.learning_rate)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.epochs)
        gen = torch.Generator().manual_seed(self.seed)
        n = xs.shape[0]
        losses: list[float] = []
        net.train()
        for epoch in range(self.epochs):
            if self.resample and epoch > 0:
                zs, ys = as_tensors(*draw())
            order = torch.randperm(n, generator=gen).to(device)
            total = 0.0
            for lo in range(0, n, self.batch_size):
                idx = order[lo : lo + self.batch_size]
                phi = _normalized(net(xs[idx]).reshape(-1, d, k), gs[idx], d)
                pred = torch.bmm(zs[idx], phi)  # (b, C, k)
                loss = ((pred - ys[idx]) ** 2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * idx.shape[0]
            sched.step()
            losses.append(total / n)
        net.eval()
        return net, losses

    # ------------------------------------------------------------------------- explain
    def _values(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(values (n, d, k), f(X) (n, k)) in float64; one model call for f(X)."""
        torch = import_optional("torch", purpose="the amortized (FastSHAP) explainer")
        sc = self._scaling
        d, k = sc.d, sc.k
        fx = self.adapter.predict(X) if X.shape[0] else np.empty((0, k))
        device = next(self.net_.parameters()).device
        with torch.no_grad():
            xs = torch.as_tensor((X - sc.x_mean) / sc.x_scale, dtype=torch.float32, device=device)
            raw = self.net_(xs).cpu().numpy().astype(np.float64).reshape(-1, d, k) * sc.y_scale
        gap = fx - self.base_value_
        values = raw + ((gap - raw.sum(axis=1)) / d)[:, None, :]
        return values, fx

    def explain(self, X: Any, *, seed: int | None = None) -> Explanation:
        """Amortized Shapley values of every row of ``X`` (one forward pass, one model call).

        Parameters
        ----------
        X : array-like (n_samples, n_features)
        seed : int, optional
            Unused (the values are a deterministic function of the fitted network); recorded.

        Returns
        -------
        Explanation
            ``method="amortized"``; ``stderr`` is the held-out RMSE of each feature and output
            (the same for every row: an error scale, not a per-row standard error);
            ``params["validation"]`` is the summary of :attr:`validation_`.
        """
        if not hasattr(self, "net_"):
            msg = "AmortizedShap is not fitted; call fit(X_train) before explain(X)."
            raise NotFittedError(msg)
        Xv, names, seed = self._prepare(X, seed)
        if Xv.shape[1] != self.n_features_in_:
            msg = (
                f"X has {Xv.shape[1]} columns but the explainer was fitted on "
                f"{self.n_features_in_}; pass the same features."
            )
            raise InvalidInputError(msg)
        values, _ = self._values(Xv)
        n, k = Xv.shape[0], self._scaling.k
        base = np.repeat(self.base_value_[None, :], n, axis=0)
        stderr = np.broadcast_to(self.validation_.rmse_per_feature, values.shape).copy()
        params = {
            "seed": seed,
            "background": self._bg_note,
            "n_background": int(self.background_.shape[0]),
            "weighted_background": self.background_weights is not None,
            "model_rows_evaluated": int(n),
            "stderr_meaning": "held-out RMSE per feature (validation_), not per row",
            "hidden": list(self.hidden),
            "epochs": self.epochs,
            "n_coalitions": self.n_coalitions,
            "validation": self.validation_.summary(),
            "n_outputs": k,
        }
        return self._result(Xv, names, values, base, stderr=stderr, params=params)

    # ----------------------------------------------------------------------- validation
    def _validate(self, X_val: np.ndarray) -> AmortizedValidation:
        from assay.attribution.shapley._exact import ExactShapley
        from assay.attribution.shapley._kernel import KernelShap

        d = X_val.shape[1]
        use_exact = self.reference == "exact" or (
            self.reference == "auto" and d <= self.exact_max_features
        )
        if use_exact:
            ref = ExactShapley(
                self.adapter,
                background=self.background_,
                background_weights=self.background_weights_,
                max_memory=self.max_memory,
            ).explain(X_val)
        else:
            ref = KernelShap(
                self.adapter,
                background=self.background_,
                background_weights=self.background_weights_,
                budget=self.reference_budget,
                max_memory=self.max_memory,
            ).explain(X_val, seed=self.seed)
        values, fx = self._values(X_val)
        diff = values - ref.values
        rmse = float(np.sqrt(np.mean(diff**2)))
        row_rmse = np.sqrt(np.mean(diff**2, axis=(1, 2)))
        scale = float(np.sqrt(np.mean(ref.values**2)))
        ref_se = 0.0 if ref.stderr is None else float(np.sqrt(np.mean(ref.stderr**2)))
        eff = values.sum(axis=1) + self.base_value_[None, :] - fx
        return AmortizedValidation(
            n_rows=int(X_val.shape[0]),
            reference="exact" if use_exact else "kernel",
            rmse=rmse,
            scale=scale,
            relative_rmse=rmse / scale if scale > 0 else (0.0 if rmse == 0 else math.inf),
            max_abs_error=float(np.abs(diff).max()),
            row_rmse_median=float(np.median(row_rmse)),
            row_rmse_p90=float(np.quantile(row_rmse, 0.9)),
            rmse_per_feature=np.sqrt(np.mean(diff**2, axis=0)),
            reference_stderr=ref_se,
            efficiency_gap=float(np.abs(eff).max()),
            tolerance=float(self.tolerance),
        )


def _rel(value: float | None) -> float:
    """A float field as a float; JSON writes inf (a zero reference scale) as None, which reads
    back as NaN: both mean "no finite value", i.e. inf."""
    return math.inf if value is None or math.isnan(value) else float(value)


def _normalized(raw: Any, gap: Any, d: int) -> Any:
    """Additive efficient normalization: shift every value so that they sum to ``gap``."""
    return raw + ((gap - raw.sum(dim=1)) / d).unsqueeze(1)


def _check_positive(value: Any, name: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        out = math.nan
    if isinstance(value, bool) or not (math.isfinite(out) and out > 0):
        msg = f"{name} must be a positive number; got {value!r}."
        raise InvalidInputError(msg)
    return out
