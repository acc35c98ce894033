"""Measure how far any model breaks declared monotone directions: :func:`check_monotonic`.

For each declared feature ``j`` with direction ``s`` (+1 increasing, -1 decreasing) the check
builds pairs of inputs that differ only in ``x_j`` (``lo < hi``) and counts a violation when
``s * (f(hi) - f(lo)) < -tol``. Two kinds of pairs:

- **random pairs**: a sampled row, with ``x_j`` set to two values drawn independently from
  the feature's observed values (so the pairs span realistic, often distant, values);
- **grid pairs**: for sampled rows, ``x_j`` is swept over a grid of the feature's quantiles
  (plus its minimum and maximum) and each pair of neighbouring grid points is checked (an
  individual conditional expectation, ICE, curve); this catches local dips that distant
  random pairs step over.

A violation is a *drop* of the output where the declared direction says it may only rise; its
size is ``-s * (f(hi) - f(lo))``. ``tol`` absorbs floating-point noise only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np

from assay._results import FromDict, ResultDisplay
from assay._validation import check_int, check_seed
from assay.errors import InvalidInputError
from assay.glassbox._monotonic import parse_directions

__all__ = ["FeatureMonotonicity", "MonotonicityCheck", "check_monotonic"]


@dataclass(frozen=True)
class FeatureMonotonicity:
    """Violations of one feature's declared direction.

    Attributes
    ----------
    feature : str
    direction : int
        +1 (increasing) or -1 (decreasing).
    n_pairs, n_violations : int
        Pairs checked (random and grid together) and how many broke the direction.
    n_grid_pairs, n_grid_violations : int
        The same for the neighbouring grid points alone.
    worst_violation : float
        Largest drop against the direction (0.0 when there is none).
    mean_violation : float
        Mean drop over the violating pairs (0.0 when there is none).
    grid : list of float
        Values of the feature along the ICE curves.
    curves : list of list of float
        Model output along ``grid`` for a few sampled rows (those with the worst violations
        first), for plots.
    """

    feature: str
    direction: int
    n_pairs: int
    n_violations: int
    n_grid_pairs: int
    n_grid_violations: int
    worst_violation: float
    mean_violation: float
    grid: list[float] = field(default_factory=list)
    curves: list[list[float]] = field(default_factory=list)

    @property
    def violation_rate(self) -> float:
        return self.n_violations / self.n_pairs if self.n_pairs else 0.0


@dataclass(frozen=True)
class MonotonicityCheck(ResultDisplay, FromDict):
    """Result of :func:`check_monotonic`.

    Attributes
    ----------
    features : tuple of FeatureMonotonicity
    examples : tuple of dict
        The worst violating pairs (over all features): ``feature``, ``row`` (the ``lo`` input,
        all features), ``value_lo``, ``value_hi``, ``output_lo``, ``output_hi``, ``drop``.
    feature_names : list of str
    output_name, output_space : str
        The model output that was checked.
    tol : float
    params : dict
        Sizes and seed, for reproduction.
    """

    features: tuple[FeatureMonotonicity, ...]
    examples: tuple[dict[str, Any], ...]
    feature_names: list[str]
    output_name: str
    output_space: str
    tol: float
    params: dict[str, Any]
    SCHEMA_VERSION: ClassVar[int] = 1  # this kind's one schema version
    schema_version: int = SCHEMA_VERSION

    @property
    def n_pairs(self) -> int:
        return sum(f.n_pairs for f in self.features)

    @property
    def n_violations(self) -> int:
        return sum(f.n_violations for f in self.features)

    @property
    def violation_rate(self) -> float:
        return self.n_violations / self.n_pairs if self.n_pairs else 0.0

    @property
    def worst_violation(self) -> float:
        return max((f.worst_violation for f in self.features), default=0.0)

    @property
    def is_monotonic(self) -> bool:
        """No violation was found (evidence, not proof, for a black-box model)."""
        return self.n_violations == 0

    def feature(self, name: str) -> FeatureMonotonicity:
        """The entry of one feature."""
        for f in self.features:
            if f.feature == name:
                return f
        msg = f"{name!r} was not checked; checked features: {[f.feature for f in self.features]}."
        raise InvalidInputError(msg)

    def to_frame(self) -> Any:
        """One row per feature: direction, pairs, violations, rate, worst and mean drop."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "feature": f.feature,
                    "direction": "increasing" if f.direction > 0 else "decreasing",
                    "pairs": f.n_pairs,
                    "violations": f.n_violations,
                    "violation_rate": f.violation_rate,
                    "worst_violation": f.worst_violation,
                    "mean_violation": f.mean_violation,
                }
                for f in self.features
            ]
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable dict (round-trips through :meth:`from_dict`)."""
        out = asdict(self)
        out["features"] = [asdict(f) for f in self.features]
        out["examples"] = [dict(e) for e in self.examples]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MonotonicityCheck:
        version = data.get("schema_version", cls.SCHEMA_VERSION)
        if version > cls.SCHEMA_VERSION:
            msg = (
                f"this MonotonicityCheck has schema_version {version}, newer than this assay "
                f"understands ({cls.SCHEMA_VERSION}); upgrade assay."
            )
            raise InvalidInputError(msg)
        return cls(
            features=tuple(FeatureMonotonicity(**f) for f in data["features"]),
            examples=tuple(dict(e) for e in data["examples"]),
            feature_names=list(data["feature_names"]),
            output_name=str(data["output_name"]),
            output_space=str(data["output_space"]),
            tol=float(data["tol"]),
            params=dict(data["params"]),
            schema_version=int(version),
        )


def _grid(col: np.ndarray, n_grid: int) -> np.ndarray:
    qs = np.quantile(col, np.linspace(0.0, 1.0, n_grid))
    return np.unique(qs)


def check_monotonic(
    model: Any,
    X: Any,
    features: Any,
    directions: Any = None,
    *,
    n_pairs: int = 20_000,
    n_rows: int = 200,
    n_grid: int = 51,
    output: int | None = None,
    output_space: str | None = None,
    tol: float = 1e-9,
    n_examples: int = 5,
    n_curves: int = 20,
    seed: int | None = None,
    batch_size: int = 100_000,
) -> MonotonicityCheck:
    """Count violations of declared monotone directions on pairs that differ in one feature.

    Parameters
    ----------
    model : model or ModelAdapter
        Anything :func:`assay.model.wrap` accepts (scikit-learn, XGBoost, LightGBM, torch
        modules, callables).
    X : array-like of shape (n_samples, n_features)
        Rows to perturb (their other features stay fixed) and the source of feature values.
    features : dict or list
        ``{feature: direction}`` with directions ``+1``/``-1`` or ``"increasing"``/
        ``"decreasing"``, or a list of features (names or column indices) with ``directions``
        a list of the same length.
    directions : list, optional
        Directions for a list of ``features``.
    n_pairs : int, default 20000
        Random pairs per feature.
    n_rows : int, default 200
        Rows swept along the grid per feature (``n_rows * (len(grid) - 1)`` grid pairs).
    n_grid : int, default 51
        Grid points (quantiles of the feature, duplicates dropped).
    output : int, optional
        Column of the model output to check; default the last (the positive class of a
        binary classifier, or the single output of a regressor).
    output_space : str, optional
        Passed to :func:`~assay.model.wrap` (``"log_odds"`` checks the margin).
    tol : float, default 1e-9
        Drops up to ``tol`` are treated as ties (floating-point noise).
    n_examples, n_curves : int
        Violating pairs and ICE curves kept in the result.
    seed : int, optional
    batch_size : int, default 100000
        Rows per model call.

    Returns
    -------
    MonotonicityCheck

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(100, 2))
    >>> f = lambda A: A[:, 0] - np.sin(3 * A[:, 1])
    >>> res = check_monotonic(f, X, {0: +1, 1: -1}, n_pairs=2000, seed=0)
    >>> res.feature("x0").n_violations, res.feature("x1").n_violations > 0
    (0, True)
    """
    from assay.model import wrap

    n_pairs = check_int(n_pairs, name="n_pairs", minimum=0)
    n_rows = check_int(n_rows, name="n_rows", minimum=0)
    n_grid = check_int(n_grid, name="n_grid", minimum=2)
    n_examples = check_int(n_examples, name="n_examples", minimum=0)
    n_curves = check_int(n_curves, name="n_curves", minimum=0)
    batch_size = check_int(batch_size, name="batch_size", minimum=1)
    seed = check_seed(seed)
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not tol >= 0:
        msg = f"tol must be a number >= 0; got {tol!r}."
        raise InvalidInputError(msg)
    if n_pairs == 0 and n_rows == 0:
        msg = "n_pairs and n_rows are both 0, so there is nothing to check; raise either."
        raise InvalidInputError(msg)
    adapter = wrap(model, output_space=output_space)
    # the model decides whether NaN in the other features is acceptable; it raises if not
    Xv, names = adapter.prepare(X, allow_nan=True)
    spec = _as_spec(features, directions)
    signs = parse_directions(spec, names, what="features")
    checked = [j for j in range(len(names)) if signs[j] != 0]
    if not checked:
        msg = "no feature has a direction (+1 or -1); declare at least one."
        raise InvalidInputError(msg)
    rng = np.random.default_rng(seed)
    predict = _Predictor(adapter, output, batch_size)
    feats, examples = [], []
    for j in checked:
        col = Xv[:, j][~np.isnan(Xv[:, j])]
        if col.size == 0 or np.unique(col).size < 2:
            msg = (
                f"feature {names[j]!r} has fewer than 2 distinct observed values in X, so it "
                "cannot be varied; drop it from the check or pass more rows."
            )
            raise InvalidInputError(msg)
        result, ex = _check_feature(
            predict, Xv, j, int(signs[j]), col, names[j], n_pairs, n_rows, n_grid, n_curves,
            n_examples, float(tol), rng,
        )  # fmt: skip
        feats.append(result)
        examples.extend(ex)
    examples.sort(key=lambda e: -e["drop"])
    return MonotonicityCheck(
        features=tuple(feats),
        examples=tuple(examples[:n_examples]),
        feature_names=list(names),
        output_name=predict.output_name,
        output_space=adapter.output_space,
        tol=float(tol),
        params={
            "n_pairs": n_pairs,
            "n_rows": n_rows,
            "n_grid": n_grid,
            "output": predict.column,
            "seed": seed,
            "n_samples": int(Xv.shape[0]),
        },
    )


def _as_spec(features: Any, directions: Any) -> dict[Any, Any]:
    if isinstance(features, dict):
        if directions is not None:
            msg = "pass directions inside the features dict or as a list, not both."
            raise InvalidInputError(msg)
        return dict(features)
    if isinstance(features, (str, int, np.integer)):
        features = [features]
    features = list(features)
    if directions is None:
        msg = (
            "directions is missing: pass features as {feature: +1 or -1} or a list of "
            "directions of the same length as features."
        )
        raise InvalidInputError(msg)
    if isinstance(directions, (str, int, np.integer)):
        directions = [directions] * len(features)
    directions = list(directions)
    if len(directions) != len(features):
        msg = f"{len(features)} features but {len(directions)} directions; give one each."
        raise InvalidInputError(msg)
    return dict(zip(features, directions, strict=True))


class _Predictor:
    """One output column of the model, batched."""

    def __init__(self, adapter: Any, output: int | None, batch_size: int) -> None:
        self.adapter = adapter
        self.output = output
        self.batch_size = batch_size
        self.column: int | None = None
        self.output_name = ""

    def __call__(self, A: np.ndarray) -> np.ndarray:
        outs = []
        for s in range(0, A.shape[0], self.batch_size):
            out = self.adapter.predict(A[s : s + self.batch_size])
            if self.column is None:
                k = out.shape[1]
                col = k - 1 if self.output is None else self.output
                if not -k <= col < k:
                    msg = f"output={self.output} is out of range: the model has {k} outputs."
                    raise InvalidInputError(msg)
                self.column = col % k
                self.output_name = self.adapter.output_names[self.column]
            outs.append(out[:, self.column])
        return np.concatenate(outs)


def _check_feature(
    predict: _Predictor,
    Xv: np.ndarray,
    j: int,
    sign: int,
    col: np.ndarray,
    name: str,
    n_pairs: int,
    n_rows: int,
    n_grid: int,
    n_curves: int,
    n_examples: int,
    tol: float,
    rng: np.random.Generator,
) -> tuple[FeatureMonotonicity, list[dict[str, Any]]]:
    n = Xv.shape[0]
    drops_all, examples = [], []
    n_checked = 0
    # random pairs: two values of x_j drawn from its observed values; equal draws carry no
    # information about the direction, so they are redrawn (bounded) rather than counted
    if n_pairs:
        rows = rng.integers(n, size=n_pairs)
        a, b = rng.choice(col, size=n_pairs), rng.choice(col, size=n_pairs)
        for _ in range(10):
            same = a == b
            if not same.any():
                break
            b[same] = rng.choice(col, size=int(same.sum()))
        keep = a != b
        rows, lo, hi = rows[keep], np.minimum(a, b)[keep], np.maximum(a, b)[keep]
        A = np.repeat(Xv[rows], 2, axis=0)
        A[0::2, j], A[1::2, j] = lo, hi
        out = predict(A)
        drop = -sign * (out[1::2] - out[0::2])
        n_checked += drop.size
        bad = np.flatnonzero(drop > tol)
        drops_all.append(drop[bad])
        for i in bad[np.argsort(-drop[bad])[:n_examples]]:
            examples.append(
                _example(name, A[2 * i], lo[i], hi[i], out[2 * i], out[2 * i + 1], drop[i])
            )
    grid = _grid(col, n_grid)
    n_grid_pairs = n_grid_viol = 0
    curves: list[list[float]] = []
    if n_rows and grid.size >= 2:
        rows = rng.choice(n, size=min(n_rows, n), replace=False)
        m = grid.size
        A = np.repeat(Xv[rows], m, axis=0)
        A[:, j] = np.tile(grid, rows.size)
        out = predict(A).reshape(rows.size, m)
        drop = -sign * np.diff(out, axis=1)
        n_grid_pairs = drop.size
        viol = drop > tol
        n_grid_viol = int(viol.sum())
        n_checked += drop.size
        drops_all.append(drop[viol])
        r_idx, g_idx = np.nonzero(viol)
        order = np.argsort(-drop[viol])[:n_examples]
        for r, g in zip(r_idx[order], g_idx[order], strict=True):
            row = Xv[rows[r]].copy()
            row[j] = grid[g]
            examples.append(
                _example(name, row, grid[g], grid[g + 1], out[r, g], out[r, g + 1], drop[r, g])
            )
        worst_first = np.argsort(-drop.max(axis=1), kind="stable")[:n_curves]
        curves = out[worst_first].tolist()
    drops = np.concatenate(drops_all) if drops_all else np.zeros(0)
    return (
        FeatureMonotonicity(
            feature=name,
            direction=sign,
            n_pairs=int(n_checked),
            n_violations=int(drops.size),
            n_grid_pairs=int(n_grid_pairs),
            n_grid_violations=n_grid_viol,
            worst_violation=float(drops.max()) if drops.size else 0.0,
            mean_violation=float(drops.mean()) if drops.size else 0.0,
            grid=grid.tolist(),
            curves=curves,
        ),
        examples,
    )


def _example(
    name: str, row: np.ndarray, lo: float, hi: float, out_lo: float, out_hi: float, drop: float
) -> dict[str, Any]:
    row = np.array(row, dtype=np.float64)
    return {
        "feature": name,
        # NaN is not JSON; missing values are written as None
        "row": [None if np.isnan(v) else float(v) for v in row],
        "value_lo": float(lo),
        "value_hi": float(hi),
        "output_lo": float(out_lo),
        "output_hi": float(out_hi),
        "drop": float(drop),
    }
