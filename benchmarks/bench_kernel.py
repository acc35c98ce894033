"""KernelShap / PermutationShap versus shap's KernelExplainer / PermutationExplainer.

Same model function, same 50-row background, same rows, equal model-evaluation budget
(coalitions per row; every coalition costs 50 model rows in both libraries). Errors are RMSE
over (row, feature) against a reference: exact Shapley values (assay.ExactShapley) for d=10;
for d=30, assay PermutationShap with 400 permutations (its own stderr is printed; it adds the
same noise to both libraries' errors). Also: leverage vs kernel size sampling, share of wall time
inside the model, and a Dask LocalCluster run (1 vs 2 worker processes, 1,000 rows).

Run: .venv/bin/python benchmarks/bench_kernel.py [--quick]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import shap
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor

from assay.attribution import ExactShapley, KernelShap, PermutationShap

warnings.filterwarnings("ignore")


class Timed:
    """A model function that records the time spent inside it."""

    def __init__(self, fn):
        self.fn = fn
        self.seconds = 0.0
        self.rows = 0

    def __call__(self, X):
        t = time.perf_counter()
        out = self.fn(np.asarray(X))
        self.seconds += time.perf_counter() - t
        self.rows += len(X)
        return out

    def reset(self):
        self.seconds, self.rows = 0.0, 0


def setups():
    Xd, yd = load_diabetes(return_X_y=True)
    Xd = (Xd - Xd.mean(0)) / Xd.std(0)
    Xb, yb = load_breast_cancer(return_X_y=True)
    Xb = (Xb - Xb.mean(0)) / Xb.std(0)
    hgb_r = HistGradientBoostingRegressor(max_iter=100, random_state=0).fit(Xd, yd)
    mlp_r = MLPRegressor(hidden_layer_sizes=(64, 32), max_iter=800, random_state=0).fit(Xd, yd)
    hgb_c = HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(Xb, yb)
    mlp_c = MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=800, random_state=0).fit(Xb, yb)
    return [
        ("HGB d=10 (diabetes)", hgb_r.predict, Xd),
        ("MLP d=10 (diabetes)", mlp_r.predict, Xd),
        ("HGB d=30 (breast cancer, P(y=1))", lambda X: hgb_c.predict_proba(X)[:, 1], Xb),
        ("MLP d=30 (breast cancer, P(y=1))", lambda X: mlp_c.predict_proba(X)[:, 1], Xb),
    ]


def rmse(a, b):
    return float(np.sqrt(np.mean((np.asarray(a).reshape(b.shape) - b) ** 2)))


def reference(f, bg, X):
    d = X.shape[1]
    if d <= 12:
        return ExactShapley(f, background=bg).explain(X).values[..., 0], 0.0
    exp = PermutationShap(f, background=bg, n_permutations=400).explain(X, seed=123)
    return exp.values[..., 0], float(np.sqrt(np.mean(exp.stderr**2)))


def run_kernel(name, f, X, n_rows, budget, table, samp_table, seeds):
    rng = np.random.default_rng(0)
    idx = rng.permutation(X.shape[0])
    bg, rows = X[idx[:50]], X[idx[50 : 50 + n_rows]]
    d = X.shape[1]
    ref, ref_se = reference(f, bg, rows)
    timed = Timed(f)
    # shap KernelExplainer, no l1 truncation
    explainer = shap.KernelExplainer(timed, bg)
    timed.reset()
    t = time.perf_counter()
    sv = explainer.shap_values(rows, nsamples=budget, l1_reg=False, silent=True)
    shap_wall = time.perf_counter() - t
    shap_err, shap_share = rmse(sv, ref), timed.seconds / shap_wall
    # assay KernelShap
    errs, walls, shares = [], [], []
    for s in seeds:
        timed.reset()
        t = time.perf_counter()
        exp = KernelShap(timed, background=bg, budget=budget).explain(rows, seed=s)
        walls.append(time.perf_counter() - t)
        shares.append(timed.seconds / walls[-1])
        errs.append(rmse(exp.values[..., 0], ref))
    se = float(np.sqrt(np.mean(exp.stderr**2)))
    table.append(
        f"| {name} | {budget} | {np.mean(errs):.4g} (mean stderr {se:.3g}) | {shap_err:.4g} | "
        f"{1e3 * np.mean(walls) / n_rows:.1f} | {1e3 * shap_wall / n_rows:.1f} | "
        f"{shap_wall / np.mean(walls):.1f}x | {100 * np.mean(shares):.0f}% | "
        f"{100 * shap_share:.0f}% | {ref_se:.2g} |"
    )
    for b in sorted({min(budget, 2**d - 2), max(64, budget // 4)}):
        row = []
        for sampling in ("leverage", "kernel"):
            e = [
                rmse(
                    KernelShap(f, background=bg, budget=b, sampling=sampling)
                    .explain(rows, seed=s)
                    .values[..., 0],
                    ref,
                )
                for s in seeds
            ]
            row.append(np.mean(e))
        samp_table.append(f"| {name} | {b} | {row[0]:.4g} | {row[1]:.4g} |")
    print(table[-1], flush=True)


def run_permutation(name, f, X, n_rows, n_pairs, table):
    rng = np.random.default_rng(0)
    idx = rng.permutation(X.shape[0])
    bg, rows = X[idx[:50]], X[idx[50 : 50 + n_rows]]
    d = X.shape[1]
    ref, _ = reference(f, bg, rows)
    timed = Timed(f)
    masker = shap.maskers.Independent(bg, max_samples=50)
    explainer = shap.PermutationExplainer(timed, masker, seed=0)
    timed.reset()
    t = time.perf_counter()
    sv = explainer(rows, max_evals=n_pairs * (2 * d + 1), silent=True).values
    shap_wall = time.perf_counter() - t
    shap_err, shap_share = rmse(sv, ref), timed.seconds / shap_wall
    timed.reset()
    t = time.perf_counter()
    exp = PermutationShap(timed, background=bg, n_permutations=2 * n_pairs).explain(rows, seed=0)
    wall = time.perf_counter() - t
    share = timed.seconds / wall
    table.append(
        f"| {name} | {n_pairs} fwd+rev | {rmse(exp.values[..., 0], ref):.4g} | {shap_err:.4g} | "
        f"{1e3 * wall / n_rows:.1f} | {1e3 * shap_wall / n_rows:.1f} | "
        f"{shap_wall / wall:.1f}x | {100 * share:.0f}% | {100 * shap_share:.0f}% |"
    )
    print(table[-1], flush=True)


def run_dask(f, X, n_rows, budget):
    from distributed import Client, LocalCluster

    rng = np.random.default_rng(0)
    idx = rng.permutation(X.shape[0])
    bg = X[idx[:50]]
    rows = X[rng.integers(0, X.shape[0], size=n_rows)]
    out = []
    values = []
    for workers in (1, 2):
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            KernelShap(f, background=bg, budget=budget, client=client).explain(rows[:20])  # warm
            t = time.perf_counter()
            exp = KernelShap(f, background=bg, budget=budget, client=client).explain(rows, seed=0)
            out.append(time.perf_counter() - t)
            values.append(exp.values)
    t = time.perf_counter()
    local = KernelShap(f, background=bg, budget=budget).explain(rows, seed=0)
    local_wall = time.perf_counter() - t
    same = all(np.array_equal(v, local.values) for v in values)
    return out, local_wall, same


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n_rows = 4 if args.quick else 10
    seeds = [0, 1] if args.quick else [0, 1, 2]
    kernel_table, samp_table, perm_table = [], [], []
    for name, f, X in setups():
        d = X.shape[1]
        budget = 256 if d == 10 else 2 * d + 2048
        run_kernel(name, f, X, n_rows, budget, kernel_table, samp_table, seeds)
        run_permutation(name, f, X, n_rows, 10, perm_table)
    print("\n### KernelSHAP vs shap.KernelExplainer(l1_reg=False), 50 background rows\n")
    print(
        "| model | coalitions/row | assay RMSE | shap RMSE | assay ms/row | shap ms/row | "
        "speedup | assay time in model | shap time in model | reference stderr |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(kernel_table))
    print("\n### Size sampling: leverage (uniform over sizes) vs Shapley kernel, assay RMSE\n")
    print("| model | coalitions/row | leverage | kernel |\n|---|---|---|---|")
    print("\n".join(samp_table))
    print("\n### PermutationShap vs shap.PermutationExplainer, 50 background rows\n")
    print(
        "| model | permutations | assay RMSE | shap RMSE | assay ms/row | shap ms/row | "
        "speedup | assay time in model | shap time in model |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(perm_table))
    name, f, X = setups()[3]
    n_dask = 200 if args.quick else 1000
    walls, local_wall, same = run_dask(f, X, n_dask, 128)
    print(f"\n### Dask LocalCluster, {name}, {n_dask} rows, budget 128\n")
    print("| workers | wall s | speedup vs 1 worker |\n|---|---|---|")
    print(f"| 1 | {walls[0]:.1f} | 1.0x |\n| 2 | {walls[1]:.1f} | {walls[0] / walls[1]:.2f}x |")
    print(f"| local (no Dask) | {local_wall:.1f} | {walls[0] / local_wall:.2f}x |")
    print(f"\nvalues identical to local: {same}")


if __name__ == "__main__":
    main()
