"""LIME: assay's LimeTabular vs lime.lime_tabular on breast_cancer (speed and top-5 stability).

Run: .venv/bin/python benchmarks/bench_lime.py [--rows 20] [--runs 5]
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
from lime.lime_tabular import LimeTabularExplainer
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from assay.attribution._lime import LimeTabular

K = 5
N_SAMPLES = 5000


def lime_sets(model, X, rows, seed):
    exp = LimeTabularExplainer(X, mode="classification", random_state=seed)
    t0 = time.perf_counter()
    sets = []
    for i in rows:
        e = exp.explain_instance(X[i], model.predict_proba, num_features=K, num_samples=N_SAMPLES)
        sets.append({f for f, _ in e.as_map()[1]})
    return sets, time.perf_counter() - t0


def assay_sets(model, X, rows, seed):
    t0 = time.perf_counter()
    exp = LimeTabular(model, background=X, n_samples=N_SAMPLES, n_select=K).explain(
        X[rows], seed=seed
    )
    elapsed = time.perf_counter() - t0
    coef = np.asarray(exp.params["coefficients"])[:, :, 1]
    return [set(np.flatnonzero(c)) for c in coef], elapsed, exp


def stability(runs):
    vals = []
    for a, b in itertools.combinations(runs, 2):
        vals.extend(len(x & y) / len(x | y) if x | y else 1.0 for x, y in zip(a, b, strict=True))
    return float(np.mean(vals))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    X, y = load_breast_cancer(return_X_y=True)
    models = {
        "RandomForest(100)": RandomForestClassifier(n_estimators=100, random_state=0).fit(X, y),
        "StandardScaler+LogReg": make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y),
    }
    rows = np.arange(args.rows)
    print(f"breast_cancer, d={X.shape[1]}, {args.rows} rows, {N_SAMPLES} samples, K={K}")
    print(
        "| model | lime s/row | assay s/row | speed-up | model s/row | lime top-5 stab | "
        "assay top-5 stab | assay median kernel w | assay mean R2 |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, model in models.items():
        lruns, ltimes, aruns, atimes = [], [], [], []
        for s in range(args.runs):
            sets, t = lime_sets(model, X, rows, s)
            lruns.append(sets)
            ltimes.append(t)
            sets, t, exp = assay_sets(model, X, rows, s)
            aruns.append(sets)
            atimes.append(t)
        Z = np.random.default_rng(0).normal(size=(N_SAMPLES * args.rows, X.shape[1]))
        Z = X.mean(0) + Z * X.std(0)
        t0 = time.perf_counter()
        model.predict_proba(Z)
        t_model = (time.perf_counter() - t0) / args.rows
        lt, at = np.median(ltimes) / args.rows, np.median(atimes) / args.rows
        print(
            f"| {name} | {lt:.4f} | {at:.4f} | {lt / at:.1f}x | {t_model:.4f} | "
            f"{stability(lruns):.3f} | {stability(aruns):.3f} | "
            f"{np.median(exp.params['kernel_weight_median']):.2f} | "
            f"{np.mean(np.asarray(exp.params['surrogate_r2'])[:, 1]):.2f} |"
        )


if __name__ == "__main__":
    main()
