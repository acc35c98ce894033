"""Where do the 95% intervals of the sampling estimators under-cover? Issue 25.

``values +- 1.96 stderr`` against ExactShapley (d <= 10), per estimator and coalition scheme:

- diabetes (standardized, as in bench_kernel.py): HistGradientBoosting and MLP(64, 32), the
  equal-error protocol's models;
- the same MLP fitted on diabetes as shipped (unscaled, features of scale 0.05): nearly additive
  in its inputs, so a pair of permutations almost always gives the exact value and only rarely
  crosses a ReLU kink (rare, large contributions that few pairs do not see);
- binary features (6 features, 5 of them 0/1): many null players per background row, small
  games whose pair estimates take few distinct values.

20 rows x ``--seeds`` seeds per cell, 50 background rows (20 for the binary game).

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/study_permutation_coverage.py [--seeds 4]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.neural_network import MLPRegressor

from assay.attribution import ExactShapley, KernelShap, PermutationShap

warnings.filterwarnings("ignore")


def binary_game() -> tuple:
    rng = np.random.default_rng(13)
    data = rng.integers(0, 2, size=(230, 6)).astype(float)
    data[:, 0] += rng.normal(size=230)

    def f(X: np.ndarray) -> np.ndarray:
        return X[:, 0] * X[:, 1] * X[:, 2] + np.sin(X[:, 3] * X[:, 0] * X[:, 5])

    return f, data[:20], data[30:50]


def diabetes_games() -> list:
    X, y = load_diabetes(return_X_y=True)
    Xs = (X - X.mean(0)) / X.std(0)
    idx = np.random.default_rng(0).permutation(len(X))
    out = []
    for name, data, model in (
        ("HGB, diabetes standardized", Xs, HistGradientBoostingRegressor(random_state=0)),
        (
            "MLP, diabetes standardized",
            Xs,
            MLPRegressor(hidden_layer_sizes=(64, 32), max_iter=800, random_state=0),
        ),
        (
            "MLP, diabetes unscaled",
            X,
            MLPRegressor(hidden_layer_sizes=(64, 32), max_iter=800, random_state=0),
        ),
    ):
        model.fit(data, y)
        out.append((name, model.predict, data[idx[:50]], data[idx[50:70]]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=4)
    args = parser.parse_args()
    f, bg, rows = binary_game()
    games = [*diabetes_games(), ("binary features (d=6)", f, bg, rows)]
    print("| game | estimator | coalitions | budget | 95% coverage | RMSE |")
    print("|---|---|---|---:|---:|---:|")
    for name, fn, bg, rows in games:
        exact = ExactShapley(fn, background=bg).explain(rows).values
        d = rows.shape[1]
        for estimator in ("permutation", "kernel"):
            for scheme in ("shared", "per_background"):
                for perms in (6, 32):
                    hits, errs = [], []
                    for seed in range(args.seeds):
                        if estimator == "permutation":
                            exp = PermutationShap(
                                fn, background=bg, n_permutations=perms, coalitions=scheme
                            )
                        else:  # the same model rows: (d - 1) coalitions per permutation
                            exp = KernelShap(
                                fn, background=bg, budget=perms * (d - 1), coalitions=scheme
                            )
                        e = exp.explain(rows, seed=seed)
                        err = np.abs(e.values - exact)
                        # + 1e-10: exact values (enumerated games) have stderr 0 and rounding error
                        hits.append(err <= 1.959964 * e.stderr + 1e-10)
                        errs.append(np.mean(err**2))
                    budget = (
                        f"{perms} permutations"
                        if estimator == "permutation"
                        else f"{perms * (d - 1)} coalitions"
                    )
                    print(
                        f"| {name} | {estimator} | {scheme} | {budget} | {np.mean(hits):.3f} | "
                        f"{np.sqrt(np.mean(errs)):.4g} |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
