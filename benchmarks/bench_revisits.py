"""Model rows saved by evaluating each revisited coalition once (issue 25).

Sampled walks and draws revisit a game's coalitions when a size has few of them (d = 10 has
10 one-feature coalitions; 16 permutation pairs visit 32). assay evaluates each distinct
(row, background row, coalition) once (``_sampling.distinct_items``). This script counts the
model rows (as the model saw them) and times PermutationShap and KernelShap at their defaults
(and PermutationShap stopping by accuracy, whose later rounds look up what earlier rounds
evaluated)
on MLP regressors and on a boosted model (through assay's compiled trees), with the
de-duplication and without it (``DISTINCT_MAX_FEATURES = STORE_MAX_FEATURES = 0``), in one
process; the values are checked equal.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_revisits.py [--rows 20]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.neural_network import MLPRegressor

from assay.attribution import KernelShap, PermutationShap
from assay.attribution.shapley import _sampling

warnings.filterwarnings("ignore")


class Counted:
    def __init__(self, fn) -> None:
        self.fn, self.rows = fn, 0

    def __call__(self, X: np.ndarray) -> np.ndarray:
        self.rows += len(X)
        return self.fn(X)


def tables() -> list:
    Xd, yd = load_diabetes(return_X_y=True)
    Xb, yb = load_breast_cancer(return_X_y=True)
    out = []
    for name, X, y, d in (
        ("diabetes", Xd, yd, 6),
        ("diabetes", Xd, yd, 10),
        ("breast cancer", Xb, yb.astype(float), 14),
    ):
        X = (X[:, :d] - X[:, :d].mean(0)) / X[:, :d].std(0)
        mlp = MLPRegressor(hidden_layer_sizes=(64, 32), max_iter=800, random_state=0).fit(X, y)
        out.append((f"MLP d={d} ({name})", mlp.predict, X))
    Xd = (Xd - Xd.mean(0)) / Xd.std(0)
    hgb = HistGradientBoostingRegressor(max_iter=100, random_state=0).fit(Xd, yd)
    out.append(("HGB d=10 (diabetes), compiled trees", hgb, Xd))
    return out


def run(make, fn, bg, rows, dedup: bool, repeats: int = 3) -> tuple[int, float, np.ndarray]:
    saved = _sampling.DISTINCT_MAX_FEATURES, _sampling.STORE_MAX_FEATURES
    if not dedup:  # neither within a round nor across rounds
        _sampling.DISTINCT_MAX_FEATURES = _sampling.STORE_MAX_FEATURES = 0
    try:
        walls = []
        for _ in range(repeats):
            # a fitted estimator is given as is (assay compiles its trees): count from params
            model = Counted(fn) if callable(fn) and not hasattr(fn, "fit") else fn
            t = time.perf_counter()
            exp = make(model, bg).explain(rows, seed=0)
            walls.append(time.perf_counter() - t)
    finally:
        _sampling.DISTINCT_MAX_FEATURES, _sampling.STORE_MAX_FEATURES = saved
    rows_seen = model.rows if isinstance(model, Counted) else exp.params["model_rows_evaluated"]
    return rows_seen, float(np.median(walls)), exp.values


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20)
    args = parser.parse_args()
    explainers = {
        "PermutationShap() (32 permutations)": lambda m, bg: PermutationShap(m, background=bg),
        "PermutationShap(n_permutations=6)": lambda m, bg: PermutationShap(
            m, background=bg, n_permutations=6
        ),
        'KernelShap() (budget="auto")': lambda m, bg: KernelShap(m, background=bg),
        "PermutationShap(n_permutations=256, tolerance=0.1)": lambda m, bg: PermutationShap(
            m, background=bg, n_permutations=256, tolerance=0.1
        ),
    }
    print(
        "| model | explainer | model rows per row, all | distinct | saved | "
        "ms/row all | ms/row distinct | speed-up |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name, fn, X in tables():
        idx = np.random.default_rng(0).permutation(X.shape[0])
        bg, rows = X[idx[:50]], X[idx[50 : 50 + args.rows]]
        for label, make in explainers.items():
            n_all, t_all, v_all = run(make, fn, bg, rows, dedup=False)
            n_few, t_few, v_few = run(make, fn, bg, rows, dedup=True)
            assert np.allclose(v_all, v_few, rtol=0, atol=1e-9)
            r = args.rows
            print(
                f"| {name} | {label} | {n_all / r:.0f} | {n_few / r:.0f} | "
                f"{1 - n_few / n_all:.0%} | {1e3 * t_all / r:.2f} | {1e3 * t_few / r:.2f} | "
                f"{t_all / t_few:.2f}x |",
                flush=True,
            )


if __name__ == "__main__":
    main()
