"""LIME vs lime's continuous mode (the same algorithm): speed and stability over seeds.

Run: .venv/bin/python benchmarks/bench_lime_continuous.py [--rows 20] [--runs 5]
     [--lime-selection lasso_path|auto]

lime runs with ``discretize_continuous=False`` (Gaussian samples at the training mean with the
training standard deviations, exponential kernel of width 0.75 sqrt(d) on standardized
distances, K features, ridge alpha=1) and ``feature_selection="lasso_path"`` (K-lasso, the
selection assay uses; lime's default "auto" means forward selection for K <= 6, available
with ``--lime-selection auto``). assay runs LimeTabular with ``sample_around="mean",
sample_scale=1.0`` (the same sampling, kernel, selection and ridge); an extra row gives assay's
default sampling (around the instance, half a standard deviation) for its stability.

Both run in this process with BLAS, OpenMP and numba at one thread, interleaved run by run
(lime, then assay, same seed); medians over runs of wall and CPU ms per explained row (setup,
tree extraction and probe included for assay). Stability over the seeds: mean pairwise top-K
Jaccard of the selected sets, and the relative spread of the class-1 coefficients
(standardized units): mean over rows and features of their standard deviation over seeds,
divided by the mean |coefficient|.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import itertools  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from lime.lime_tabular import LimeTabularExplainer  # noqa: E402
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier  # noqa: E402

from _lime_common import MODEL_CLOCK, N_SAMPLES, Clock, K, breast_cancer, warm_up  # noqa: E402
from assay.attribution import LimeTabular  # noqa: E402


def run_lime(model, X, rows, seed, selection):
    exp = LimeTabularExplainer(
        X,
        mode="classification",
        discretize_continuous=False,
        feature_selection=selection,
        random_state=seed,
    )
    clock = Clock()
    predict = clock.wrap(model.predict_proba)
    coef = np.zeros((len(rows), X.shape[1]))
    w, c = time.perf_counter(), time.process_time()
    for a, i in enumerate(rows):
        e = exp.explain_instance(X[i], predict, num_features=K, num_samples=N_SAMPLES)
        for j, v in e.as_map()[1]:
            coef[a, j] = v
    return coef, (time.perf_counter() - w, time.process_time() - c, clock.cpu)


def run_assay(model, X, rows, seed, around, scale):
    MODEL_CLOCK.reset()
    w, c = time.perf_counter(), time.process_time()
    exp = LimeTabular(
        model,
        background=X,
        n_samples=N_SAMPLES,
        n_select=K,
        sample_around=around,
        sample_scale=scale,
    ).explain(X[rows], seed=seed)
    times = (time.perf_counter() - w, time.process_time() - c, MODEL_CLOCK.cpu)
    # original units -> standardized units (lime's coefficients are per training std)
    coef = np.asarray(exp.params["coefficients"])[:, :, 1] * X.std(axis=0)
    return coef, times, exp.params["model_evaluation"]


def jaccard(runs):
    vals = []
    for a, b in itertools.combinations(runs, 2):
        for x, y in zip(a != 0, b != 0, strict=True):
            union = (x | y).sum()
            vals.append((x & y).sum() / union if union else 1.0)
    return float(np.mean(vals))


def spread(runs):
    stack = np.stack(runs)  # (runs, rows, d)
    return float(stack.std(axis=0).mean() / np.abs(stack).mean())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--lime-selection", default="lasso_path", choices=["lasso_path", "auto"])
    args = ap.parse_args()
    X, y = breast_cancer()
    models = {
        "RandomForest(100)": RandomForestClassifier(n_estimators=100, random_state=0).fit(X, y),
        "GBM(80)": GradientBoostingClassifier(n_estimators=80, random_state=0).fit(X, y),
    }
    rows = np.arange(args.rows)
    warm_up(models.values(), X)
    print(
        f"breast_cancer, d={X.shape[1]}, {args.rows} rows, {N_SAMPLES} samples, K={K}, median "
        f"of {args.runs} interleaved runs, lime feature_selection={args.lime_selection!r}; "
        "ms per row"
    )
    print(
        "| model | assay sampling | assay evaluates with | lime wall | assay wall | "
        "speed-up wall | lime CPU | assay CPU | speed-up CPU | lime model CPU | "
        "assay model CPU | lime top-5 Jaccard | assay top-5 Jaccard | lime coef spread | "
        "assay coef spread |"
    )
    print("|---" * 15 + "|")
    for name, model in models.items():
        for around, scale in (("mean", 1.0), ("instance", 0.5)):
            lc, lt, ac, at = [], [], [], []
            for s in range(args.runs):
                coef, t = run_lime(model, X, rows, s, args.lime_selection)
                lc.append(coef)
                lt.append(t)
                coef, t, evaluation = run_assay(model, X, rows, s, around, scale)
                ac.append(coef)
                at.append(t)
            lm = np.median(lt, axis=0) / args.rows * 1e3
            am = np.median(at, axis=0) / args.rows * 1e3
            print(
                f"| {name} | {around}, scale {scale} | {evaluation} | {lm[0]:.1f} | "
                f"{am[0]:.2f} | {lm[0] / am[0]:.1f}x | {lm[1]:.1f} | {am[1]:.2f} | "
                f"{lm[1] / am[1]:.1f}x | {lm[2]:.2f} | {am[2]:.2f} | {jaccard(lc):.3f} | "
                f"{jaccard(ac):.3f} | {spread(lc):.3f} | {spread(ac):.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
