"""RegressionAdjustedShap (proxy none / trees / auto; permutation and kernel samplers) versus
PermutationShap per background row and KernelShap (shared / per background row).

Error at EQUAL MODEL EVALUATIONS: every method gets the same ``n_permutations``; each costs
``(d - 1) n_permutations`` coalitions per row on every background row (revisited coalitions
are evaluated once, so the counts differ slightly; the table shows the measured model rows per
explained row). ``proxy="none"`` is plain antithetic sampling with shared coalitions, on the
same draws as "trees" and "auto". The kernel sampler (``sampler="kernel"``) and KernelShap get
``budget = (d - 1) n_permutations`` coalitions, the same model evaluations (the kernel
sampler's default budget); "radj kernel none" is KernelShap(coalitions="shared") on the same
draws. "RMSE / none" is relative to the same sampler's ``proxy="none"`` (the permutation one
for PermutationShap, the kernel one for KernelShap). Errors are RMSE over (seed, row, feature)
against ``ExactShapley``; coverage is the share of 95% intervals (value +- 1.96 stderr) holding the
exact value; wall time is the median over seeds for all rows.

Models (as in ``bench_kernel.py``'s ``setups()``, 50 background rows): diabetes d=10
HistGradientBoostingRegressor (compiled trees) and MLPRegressor(64, 32), and a function with
strong higher-order interactions, ``x0 x1 x2 x3 + sin(x4 x5 x6) + x7 x8 x9`` on standard
normal data (d=10).

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_regression_adjusted.py
[--rows 10] [--seeds 3] [--budgets 8 16 32 64]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.datasets import load_diabetes  # noqa: E402
from sklearn.ensemble import HistGradientBoostingRegressor  # noqa: E402
from sklearn.neural_network import MLPRegressor  # noqa: E402

from assay.attribution import (  # noqa: E402
    ExactShapley,
    KernelShap,
    PermutationShap,
    RegressionAdjustedShap,
)

warnings.filterwarnings("ignore")


def interactions(X: np.ndarray) -> np.ndarray:
    return (
        X[:, 0] * X[:, 1] * X[:, 2] * X[:, 3]
        + np.sin(X[:, 4] * X[:, 5] * X[:, 6])
        + (X[:, 7] * X[:, 8] * X[:, 9])
    )


def setups() -> list[tuple[str, object, np.ndarray]]:
    """(name, model given to assay, data); as bench_kernel.setups() for the diabetes models."""
    Xd, yd = load_diabetes(return_X_y=True)
    Xd = (Xd - Xd.mean(0)) / Xd.std(0)
    hgb = HistGradientBoostingRegressor(max_iter=100, random_state=0).fit(Xd, yd)
    mlp = MLPRegressor(hidden_layer_sizes=(64, 32), max_iter=800, random_state=0).fit(Xd, yd)
    Xi = np.random.default_rng(0).normal(size=(400, 10))
    return [
        ("HGB d=10 (diabetes)", hgb, Xd),
        ("MLP d=10 (diabetes)", mlp.predict, Xd),
        ("order-3/4 interactions d=10", interactions, Xi),
    ]


def split(X: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    idx = np.random.default_rng(0).permutation(X.shape[0])
    return X[idx[:50]], X[idx[50 : 50 + n_rows]]


def _radj(proxy: str, sampler: str = "permutation"):
    return lambda model, bg, n_perm, d: RegressionAdjustedShap(
        model, background=bg, n_permutations=n_perm, proxy=proxy, sampler=sampler
    )


def _kernel(coalitions: str):
    return lambda model, bg, n_perm, d: KernelShap(
        model, background=bg, budget=(d - 1) * n_perm, coalitions=coalitions
    )


# label -> (constructor, label of the row the "RMSE / none" column divides by)
METHODS = {
    "radj none": (_radj("none"), "radj none"),
    "radj trees": (_radj("trees"), "radj none"),
    "radj auto": (_radj("auto"), "radj none"),
    "permutation per_background": (
        lambda model, bg, n_perm, d: PermutationShap(
            model, background=bg, n_permutations=n_perm, coalitions="per_background"
        ),
        "radj none",
    ),
    "radj kernel none": (_radj("none", "kernel"), "radj kernel none"),
    "radj kernel trees": (_radj("trees", "kernel"), "radj kernel none"),
    "radj kernel auto": (_radj("auto", "kernel"), "radj kernel none"),
    "kernel shared": (_kernel("shared"), "radj kernel none"),
    "kernel per_background": (_kernel("per_background"), "radj kernel none"),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budgets", type=int, nargs="+", default=[8, 16, 32, 64])
    args = parser.parse_args()
    print(
        f"{args.rows} rows x {args.seeds} seeds, 50 background rows; RMSE vs ExactShapley at "
        "equal n_permutations (same model evaluations)\n"
    )
    print(
        "| model | n_perm | method | model rows / row | RMSE | RMSE / none | 95% coverage "
        "| rows using trees | wall s (median) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, model, X in setups():
        bg, rows = split(X, args.rows)
        exact = ExactShapley(model, background=bg).explain(rows).values
        for budget in args.budgets:
            base: dict[str, float] = {}
            for label, (make, base_label) in METHODS.items():
                sq, cover, walls, model_rows, trees = [], [], [], [], []
                for seed in range(args.seeds):
                    t = time.perf_counter()
                    exp = make(model, bg, budget, bg.shape[1]).explain(rows, seed=seed)
                    walls.append(time.perf_counter() - t)
                    err = exp.values - exact
                    sq.append(err**2)
                    cover.append(np.abs(err) <= 1.96 * exp.stderr + 1e-12)
                    model_rows.append(
                        (exp.params["model_rows_evaluated"] - args.rows - 50) / args.rows
                    )
                    used = exp.params.get("proxy_used")
                    trees.append(np.mean([u == "trees" for u in used]) if used else np.nan)
                rmse = float(np.sqrt(np.mean(sq)))
                base[label] = rmse
                share = "" if np.isnan(np.mean(trees)) else f"{np.mean(trees):.0%}"
                print(
                    f"| {name} | {budget} | {label} | {np.mean(model_rows):.0f} | {rmse:.4g} "
                    f"| {rmse / base[base_label]:.2f} | {np.mean(cover):.2f} | {share} "
                    f"| {np.median(walls):.2f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
