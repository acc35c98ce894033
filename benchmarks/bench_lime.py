"""LIME: assay's LimeTabular vs lime.lime_tabular on breast_cancer (speed and top-5 stability).

Run: .venv/bin/python benchmarks/bench_lime.py [--rows 20] [--runs 5] [--continuous]

``--continuous`` gives lime ``discretize_continuous=False`` (Gaussian sampling around the
training scale, the same algorithm as assay's) and adds a GradientBoostingClassifier(80) row
(issue 25's comparison).

Both libraries run in this process with BLAS, OpenMP and numba at one thread, interleaved run
by run (lime, then assay, same seed), and the medians over runs are reported, in wall-clock
and in CPU seconds per explained row (CPU time is steadier on a shared machine). "model" is
the time spent evaluating the model inside each library: ``predict_proba`` for lime; the
library call or assay's compiled copy of the trees (``params["model_evaluation"]``) for assay.
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
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from _lime_common import MODEL_CLOCK, N_SAMPLES, Clock, K, breast_cancer, warm_up  # noqa: E402
from assay.attribution import LimeTabular  # noqa: E402


def lime_sets(model, X, rows, seed, continuous=False):
    exp = LimeTabularExplainer(
        X, mode="classification", random_state=seed, discretize_continuous=not continuous
    )
    clock = Clock()
    predict = clock.wrap(model.predict_proba)
    w, c = time.perf_counter(), time.process_time()
    sets = []
    for i in rows:
        e = exp.explain_instance(X[i], predict, num_features=K, num_samples=N_SAMPLES)
        sets.append({f for f, _ in e.as_map()[1]})
    times = (time.perf_counter() - w, time.process_time() - c, clock.wall, clock.cpu)
    return sets, times


def assay_sets(model, X, rows, seed, fast_trees):
    MODEL_CLOCK.reset()
    w, c = time.perf_counter(), time.process_time()
    exp = LimeTabular(
        model, background=X, n_samples=N_SAMPLES, n_select=K, fast_trees=fast_trees
    ).explain(X[rows], seed=seed)
    times = (time.perf_counter() - w, time.process_time() - c, MODEL_CLOCK.wall, MODEL_CLOCK.cpu)
    coef = np.asarray(exp.params["coefficients"])[:, :, 1]
    return [set(np.flatnonzero(c)) for c in coef], times, exp


def stability(runs):
    vals = []
    for a, b in itertools.combinations(runs, 2):
        vals.extend(len(x & y) / len(x | y) if x | y else 1.0 for x, y in zip(a, b, strict=True))
    return float(np.mean(vals))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--continuous", action="store_true")
    args = ap.parse_args()
    X, y = breast_cancer()
    rf = RandomForestClassifier(n_estimators=100, random_state=0).fit(X, y)
    logreg = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    # (model, fast_trees): the second RF row calls scikit-learn (all rows in one batch)
    models = {
        "RandomForest(100)": (rf, True),
        "RandomForest(100), fast_trees=False": (rf, False),
        "StandardScaler+LogReg": (logreg, True),
    }
    if args.continuous:
        gbm = GradientBoostingClassifier(n_estimators=80, random_state=0).fit(X, y)
        models = {"RandomForest(100)": (rf, True), "GBM(80)": (gbm, True)}
    rows = np.arange(args.rows)
    warm_up([model for model, _ in models.values()], X)
    print(
        f"breast_cancer, d={X.shape[1]}, {args.rows} rows, {N_SAMPLES} samples, K={K}, "
        f"median of {args.runs} interleaved runs; times in ms per row; lime "
        f"discretize_continuous={not args.continuous}"
    )
    print(
        "| model | assay evaluates with | lime wall | assay wall | speed-up (wall) | lime CPU | "
        "assay CPU | speed-up (CPU) | lime model CPU (share) | assay model CPU (share) | "
        "lime / lime's model | lime top-5 stab | assay top-5 stab | assay median kernel w | "
        "assay mean R2 |"
    )
    print("|---" * 15 + "|")
    for name, (model, fast_trees) in models.items():
        lruns, ltimes, aruns, atimes = [], [], [], []
        for s in range(args.runs):
            sets, t = lime_sets(model, X, rows, s, args.continuous)
            lruns.append(sets)
            ltimes.append(t)
            sets, t, exp = assay_sets(model, X, rows, s, fast_trees)
            aruns.append(sets)
            atimes.append(t)
        lt = np.median(ltimes, axis=0) / args.rows * 1e3
        at = np.median(atimes, axis=0) / args.rows * 1e3
        # what lime's own model calls cost: no LIME can be faster per row than evaluating the
        # model on its 5000 samples with the library
        ceiling = lt[1] / lt[3]
        print(
            f"| {name} | {exp.params['model_evaluation']} | {lt[0]:.1f} | {at[0]:.2f} | "
            f"{lt[0] / at[0]:.1f}x | {lt[1]:.1f} | {at[1]:.2f} | {lt[1] / at[1]:.1f}x | "
            f"{lt[3]:.2f} ({lt[3] / lt[1]:.0%}) | {at[3]:.2f} ({at[3] / at[1]:.0%}) | "
            f"{ceiling:.1f}x | {stability(lruns):.3f} | {stability(aruns):.3f} | "
            f"{np.median(exp.params['kernel_weight_median']):.2f} | "
            f"{np.mean(np.asarray(exp.params['surrogate_r2'])[:, 1]):.2f} |"
        )


if __name__ == "__main__":
    main()
