"""Trust checks (issue 6): faithfulness vs random on a planted model, off-manifold AUCs.

Run: .venv/bin/python benchmarks/bench_trust.py [--rows 60]

Table 1: a model where only 3 of 10 features matter (with an interaction); each explanation's
faithfulness metrics next to the random-attribution baseline (per-row shuffles, 10 draws),
the wall time of ``assay.trust.faithfulness`` and the share of it spent inside the model.
Table 2: off-manifold AUCs on the demo cohort (race added as a column) for perturbation
samplers like LIME's and KernelSHAP's and for samples from the data distribution.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

from assay.attribution import ExactShapley, Explanation, LimeTabular
from assay.datasets import load_clinical
from assay.trust import coalition_samples, faithfulness, gaussian_samples, off_manifold_test


class Timed:
    def __init__(self, fn):
        self.fn, self.seconds = fn, 0.0

    def __call__(self, Z):
        t0 = time.perf_counter()
        out = self.fn(Z)
        self.seconds += time.perf_counter() - t0
        return out


def planted(Z):
    return 3 * Z[:, 0] + 2 * Z[:, 1] - 2 * Z[:, 2] + Z[:, 0] * Z[:, 1]


def table_faithfulness(rows: int) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows + 50, 10))
    bg, Xe = X[:50], X[50:]
    exact = ExactShapley(planted, background=bg).explain(Xe)
    lime = LimeTabular(planted, background=bg, n_samples=2000).explain(Xe, seed=0)
    shuffled = Explanation(
        values=np.random.default_rng(1).permuted(exact.values, axis=1),
        base_values=exact.base_values,
        data=exact.data,
        feature_names=exact.feature_names,
        output_names=exact.output_names,
        method="shuffled exact",
        output_space="raw",
    )
    print(f"\n{rows} rows, d=10, background 50 rows, 10 random draws\n")
    print(
        "| explanation | deletion AUC (rand) | insertion AUC (rand) | PGI (rand) | PGU (rand) "
        "| infidelity (rand) | beats random on | status | s | model share |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for exp in (exact, lime, shuffled):
        f = Timed(planted)
        t0 = time.perf_counter()
        res = faithfulness(exp, f, background=bg, seed=0)
        wall = time.perf_counter() - t0
        cells = [f"{m.value:.3f} ({m.random_value:.3f})" for m in res.metrics]
        beat = sum(m.beats_random for m in res.metrics)
        print(
            f"| {exp.method} | "
            + " | ".join(cells)
            + f" | {beat}/5 | {res.status} | {wall:.2f} | {f.seconds / wall:.0%} |"
        )


def table_manifold() -> None:
    data = load_clinical(n_samples=4000, seed=0)
    X = data.X.copy()
    X["lactate"] = X["lactate"].fillna(X["lactate"].median())
    X["race"] = (data.sensitive["race"] == "B").astype(float)
    Xa = X.to_numpy()
    idx = np.random.default_rng(0).permutation(Xa.shape[0])
    train, real, other = Xa[idx[:2000]], Xa[idx[2000:3000]], Xa[idx[3000:]]
    with threadpool_limits(limits=1):
        centers = KMeans(10, n_init=3, random_state=0).fit(train).cluster_centers_
    samples = {
        "LIME-style gaussian (training std)": gaussian_samples(
            train, scale=train.std(0), n_samples=1000, seed=1
        ),
        "KernelSHAP-style coalitions, k-means(10) background": coalition_samples(
            train, centers, n_samples=1000, seed=2
        ),
        "KernelSHAP-style coalitions, data background": coalition_samples(
            train, train, n_samples=1000, seed=3
        ),
        "resampled real rows": other,
    }
    print(
        "\nclinical demo (13 features incl. race), 1000 real vs 1000 perturbed rows, "
        "HistGradientBoosting, 1000 permutations\n"
    )
    print("| perturbation samples | held-out AUC | p-value | status | s |")
    print("|---|---|---|---|---|")
    for name, P in samples.items():
        t0 = time.perf_counter()
        res = off_manifold_test(real, P, sampler=name, seed=0)
        wall = time.perf_counter() - t0
        print(f"| {name} | {res.auc:.3f} | {res.p_value:.3g} | {res.status} | {wall:.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=60)
    args = ap.parse_args()
    table_faithfulness(args.rows)
    table_manifold()


if __name__ == "__main__":
    main()
