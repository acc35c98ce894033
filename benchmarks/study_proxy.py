"""Which proxies could let a regression-adjusted Shapley estimator beat paired KernelSHAP?

Issue 25.

A regression-adjusted estimator writes ``phi = phi(g) + phi(v - g)``: the proxy game ``g`` has
exact Shapley values and only the residual ``v - g`` is sampled. Its variance is that of the
sampling estimator on the residual. assay samples coalitions in complementary pairs
``(S, N \\ S)``; this script measures, on the exact games of real models, how much each kind of
proxy lowers the variance of one paired draw. Games: the d=10 HistGradientBoosting and MLP
regressors of bench_kernel.py (diabetes, 50 background rows), all 1024 coalitions of 20 rows.

Measured per row (mean over rows):

- Moebius mass by interaction order (sum of |m_T| over |T| = k): how much of the game is of
  order >= 3, the part paired sampling does not cancel.
- Second moment of one paired draw of the unbiased sampling estimator
  ``w_i(S) r(S) + w_i(S^c) r(S^c)`` (sizes 2..d-2 uniform, sizes 1 and d-1 enumerated) on the
  residual ``r = v - g`` after removing its linear part (which KernelSHAP's regression already
  absorbs), for ``g`` = none / the best quadratic / the best cubic polynomial in the coalition
  indicators (least squares on the full table: the best any fitted proxy of that degree can do)
  and for a global HistGradientBoosting surrogate of the model fitted on 16 random coalitions x
  50 background rows of every row (a pilot; fitting time shown).

A second table measures the alternatives that were tried next:

- per-row tree proxies on the coalition indicators (RandomForest, ExtraTrees, gradient boosting
  fitted on 60 or 120 evaluated coalitions, sizes 1 and d-1 included) in place of the
  polynomials: the ratio of the second moment without / with the proxy (below 1 = worse);
- drawing independent coalitions per background row (``coalitions="per_background"``):
  ``M(v_bar)`` against ``mean_b M(v_b) / n_background``, the second moments of the shared and the
  stratified estimator at the same model evaluations, and the further gain an optimal (Neyman)
  allocation of coalitions across background rows would give, ``mean(M_b) / mean(sqrt(M_b))^2``.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/study_proxy.py
"""

from __future__ import annotations

import itertools
import time
import warnings
from math import comb

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.ensemble import (
    ExtraTreesRegressor,
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    RandomForestRegressor,
)
from sklearn.neural_network import MLPRegressor
from threadpoolctl import threadpool_limits

from assay.attribution.shapley._exact import coalition_masks

warnings.filterwarnings("ignore")
D = 10
MASKS = coalition_masks(D)
SIZES = MASKS.sum(axis=1)
COMPLEMENT = (2**D - 1) - np.arange(2**D)
MIDDLE = (SIZES >= 2) & (SIZES <= D - 2)


def poly(Z: np.ndarray, degree: int) -> np.ndarray:
    Zf = Z.astype(float)
    cols = [np.ones((len(Z), 1))]
    for k in range(1, degree + 1):
        for T in itertools.combinations(range(D), k):
            cols.append(np.prod(Zf[:, list(T)], axis=1)[:, None])
    return np.hstack(cols)


FEATURES = {k: poly(MASKS, k) for k in (1, 2, 3)}


def pair_second_moment(v: np.ndarray) -> float:
    """E over a uniform middle size and subset of the squared paired draw, linear part removed."""
    r = v - FEATURES[1] @ np.linalg.lstsq(FEATURES[1], v, rcond=None)[0]
    s = SIZES[:, None]
    c = np.array([comb(D, k) for k in range(D + 1)], float)[SIZES][:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        coef = np.where(MASKS, 1.0 / (s * c), -1.0 / ((D - s) * c))  # Shapley weight c_i(S)
        w = coef * c * (D - 3)  # divided by p(S) = 1 / ((d - 3) C(d, s))
    pair = 0.5 * (w * r[:, None] + w[COMPLEMENT] * r[COMPLEMENT][:, None])
    return float(np.mean(pair[MIDDLE] ** 2))


def moebius(v: np.ndarray) -> np.ndarray:
    m = v.copy()
    idx = np.arange(2**D)
    for j in range(D):
        sel = (idx >> j) & 1 == 1
        m[sel] -= m[idx[sel] ^ (1 << j)]
    return m


def game_table(predict, x: np.ndarray, bg: np.ndarray) -> np.ndarray:
    Z = np.where(MASKS[:, None, :], x[None, None, :], bg[None])
    return predict(Z.reshape(-1, D)).reshape(2**D, bg.shape[0]).mean(axis=1)


def setup() -> tuple[np.ndarray, np.ndarray, dict]:
    """50 background rows, 20 explained rows and the two models of bench_kernel.py."""
    X, y = load_diabetes(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    idx = np.random.default_rng(0).permutation(X.shape[0])
    bg, rows = X[idx[:50]], X[idx[50:70]]
    models = {
        "HGB": HistGradientBoostingRegressor(max_iter=100, random_state=0).fit(X, y),
        "MLP": MLPRegressor(hidden_layer_sizes=(64, 32), max_iter=800, random_state=0).fit(X, y),
    }
    return bg, rows, models


def main() -> None:
    bg, rows, models = setup()
    print(
        "| model | Moebius mass, orders 1 / 2 / 3 / >=4 | paired draw 2nd moment: no proxy "
        "| best quadratic | best cubic | HGB surrogate (fit s) |"
    )
    print("|---|---|---|---|---|---|")
    rng = np.random.default_rng(5)
    for name, model in models.items():
        tables = np.array([game_table(model.predict, x, bg) for x in rows])
        pts = []
        for x in rows:  # pilot for the global surrogate: 16 random coalitions per row
            Z = MASKS[rng.integers(1, 2**D - 1, 16)]
            pts.append(np.where(Z[:, None, :], x, bg[None]).reshape(-1, D))
        P = np.vstack(pts)
        t = time.perf_counter()
        sur = HistGradientBoostingRegressor(max_iter=200, random_state=0).fit(P, model.predict(P))
        fit_s = time.perf_counter() - t
        mass = np.mean(
            [
                [np.abs(moebius(v)[SIZES == k]).sum() for k in range(1, 4)]
                + [np.abs(moebius(v)[SIZES >= 4]).sum()]
                for v in tables
            ],
            axis=0,
        )
        moments = {"none": [], "quadratic": [], "cubic": [], "surrogate": []}
        for x, v in zip(rows, tables, strict=True):
            moments["none"].append(pair_second_moment(v))
            for deg, key in ((2, "quadratic"), (3, "cubic")):
                F = FEATURES[deg]
                moments[key].append(
                    pair_second_moment(v - F @ np.linalg.lstsq(F, v, rcond=None)[0])
                )
            moments["surrogate"].append(pair_second_moment(v - game_table(sur.predict, x, bg)))
        m = {k: float(np.mean(val)) for k, val in moments.items()}
        print(
            f"| {name} | {' / '.join(f'{a:.0f}' for a in mass)} | {m['none']:.3g} | "
            f"{m['quadratic']:.3g} ({m['none'] / m['quadratic']:.2f}x lower) | {m['cubic']:.3g} "
            f"({m['none'] / m['cubic']:.0f}x lower) | {m['surrogate']:.3g} "
            f"({m['none'] / m['surrogate']:.2f}x lower; {fit_s:.2f} s) |",
            flush=True,
        )


TREE_PROXIES = {
    "RandomForest": lambda: RandomForestRegressor(100, max_features=0.6, random_state=0),
    "ExtraTrees": lambda: ExtraTreesRegressor(200, random_state=0),
    "GradientBoosting": lambda: GradientBoostingRegressor(
        n_estimators=100, max_depth=4, subsample=0.8, random_state=0
    ),
}


def alternatives() -> None:
    """Tree proxies on the coalition indicators, and per-background-row coalitions."""
    bg, rows, models = setup()
    print(
        "\n| model | tree proxy, 60 / 120 coalitions: 2nd moment none / with proxy "
        "| per-background vs shared coalitions, equal evaluations | Neyman allocation, further |"
    )
    print("|---|---|---|---|")
    rng = np.random.default_rng(1)
    fixed = np.flatnonzero((SIZES <= 1) | (SIZES >= D - 1))
    middle = np.flatnonzero(MIDDLE)
    for name, model in models.items():
        per_b = []  # (n_rows, 2^D, n_bg) games of single background rows
        for x in rows:
            Z = np.where(MASKS[:, None, :], x[None, None, :], bg[None])
            per_b.append(model.predict(Z.reshape(-1, D)).reshape(2**D, bg.shape[0]))
        tables = [v.mean(axis=1) for v in per_b]
        base = float(np.mean([pair_second_moment(v) for v in tables]))
        proxy_cells = []
        for label, make in TREE_PROXIES.items():
            ratios = []
            for m in (60, 120):
                moments = []
                for v in tables:
                    pick = rng.choice(middle, m // 2, replace=False)
                    fit = np.unique(np.concatenate([pick, COMPLEMENT[pick], fixed]))
                    g = make().fit(MASKS[fit], v[fit]).predict(MASKS)
                    moments.append(pair_second_moment(v - g))
                ratios.append(base / float(np.mean(moments)))
            proxy_cells.append(f"{label} {ratios[0]:.2f}x / {ratios[1]:.2f}x")
        shared = float(np.mean([pair_second_moment(v.mean(axis=1)) for v in per_b]))
        strata = [np.array([pair_second_moment(v[:, b]) for b in range(v.shape[1])]) for v in per_b]
        stratified = float(np.mean([m.mean() for m in strata])) / bg.shape[0]
        neyman = float(np.mean([m.mean() / np.sqrt(m).mean() ** 2 for m in strata]))
        print(
            f"| {name} | {'; '.join(proxy_cells)} | {shared:.3g} vs {stratified:.3g}: "
            f"{shared / stratified:.1f}x lower | {neyman:.2f}x |",
            flush=True,
        )


if __name__ == "__main__":
    with threadpool_limits(1):
        main()
        alternatives()
