"""Benchmark: assay's GAMClassifier/GAMRegressor versus interpret's EBM at default settings.

Datasets: breast_cancer (classification), diabetes (regression), the clinical demo data
(20,000 rows) and a 50,000-row synthetic additive set with two interactions. Each is split
75/25 with a fixed seed; both libraries fit the same training rows and are scored on the
same test rows (AUC for classification, RMSE for regression). Both run at default settings
except the thread count, which is the same for both (``--threads``, default 2: EBM's
``n_jobs`` and GAM's ``n_jobs``). Fit times are wall-clock; with ``--repeats R`` the two
libraries' fits alternate (GAM, EBM, EBM, GAM, ...) in this one process so that both see the
same machine load, and the median per library is reported.

Run::

    .venv/bin/python benchmarks/bench_gam.py [--datasets breast_cancer,diabetes]
        [--threads 2] [--repeats 3] [--ebm-cache /tmp/ebm_cache.json] [--only gam|ebm]

``--ebm-cache`` (development only; the reported table is produced without it) stores EBM's
slow results so that a later run can reuse them; the splits are deterministic.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.metrics import mean_squared_error, roc_auc_score
from sklearn.model_selection import train_test_split

SEED = 0


def _synthetic(n: int = 50_000, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 10))
    X[:, 8] = rng.integers(0, 5, n)  # a small-cardinality feature
    X[:, 9] = rng.uniform(0, 10, n)
    logit = (
        0.8 * X[:, 0]
        + np.sin(2 * X[:, 1])
        + 0.5 * X[:, 2] ** 2
        - 0.6 * np.abs(X[:, 3])
        + 0.7 * (X[:, 4] > 0.5)
        + 0.3 * X[:, 8]
        - 0.2 * X[:, 9]
        + 0.6 * X[:, 0] * X[:, 1]
        + 0.5 * (X[:, 5] > 0) * X[:, 6]
        - 0.5
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def datasets(names: list[str]):
    for name in names:
        if name == "breast_cancer":
            X, y = load_breast_cancer(return_X_y=True)
            task = "classification"
        elif name == "diabetes":
            X, y = load_diabetes(return_X_y=True)
            task = "regression"
        elif name == "clinical":
            from assay.datasets import load_clinical

            data = load_clinical(n_samples=20_000, seed=0)
            X, y = data.X.to_numpy(), data.y.to_numpy()
            task = "classification"
        elif name == "synthetic50k":
            X, y = _synthetic()
            task = "classification"
        else:
            raise SystemExit(f"unknown dataset {name}")
        strat = y if task == "classification" else None
        Xtr, Xte, ytr, yte = train_test_split(
            X, y, test_size=0.25, random_state=SEED, stratify=strat
        )
        yield name, task, Xtr, Xte, ytr, yte


def _score(task, model, Xte, yte):
    if task == "classification":
        return float(roc_auc_score(yte, model.predict_proba(Xte)[:, 1]))
    return float(np.sqrt(mean_squared_error(yte, model.predict(Xte))))


def run_ebm(task, Xtr, ytr, Xte, yte, threads):
    from interpret.glassbox import ExplainableBoostingClassifier, ExplainableBoostingRegressor

    cls = (
        ExplainableBoostingClassifier if task == "classification" else ExplainableBoostingRegressor
    )
    model = cls(random_state=SEED, n_jobs=threads)
    t0 = time.perf_counter()
    model.fit(Xtr, ytr)
    fit_s = time.perf_counter() - t0
    return {"fit_s": fit_s, "score": _score(task, model, Xte, yte)}


def run_gam(task, Xtr, ytr, Xte, yte, threads):
    from assay.glassbox import GAMClassifier, GAMRegressor

    cls = GAMClassifier if task == "classification" else GAMRegressor
    model = cls(random_state=SEED, n_jobs=threads)
    t0 = time.perf_counter()
    model.fit(Xtr, ytr)
    fit_s = time.perf_counter() - t0
    return {"fit_s": fit_s, "score": _score(task, model, Xte, yte)}


def _median_run(results):
    """Median fit time over repeats (scores are deterministic: all repeats agree)."""
    times = sorted(r["fit_s"] for r in results)
    return {"fit_s": times[len(times) // 2], "score": results[0]["score"], "all_fit_s": times}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="breast_cancer,diabetes,clinical,synthetic50k")
    parser.add_argument("--ebm-cache", default=None)
    parser.add_argument("--only", choices=["gam", "ebm"], default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    names = args.datasets.split(",")
    cache_path = Path(args.ebm_cache) if args.ebm_cache else None
    cache = json.loads(cache_path.read_text()) if cache_path and cache_path.exists() else {}
    if args.only != "ebm":
        # First use loads the numba kernels from the on-disk cache (or compiles them once
        # per machine); report that cost, then keep it out of the timed fits.
        from assay.glassbox import GAMClassifier, GAMRegressor

        Xw, yw = _synthetic(500, 1)
        t0 = time.perf_counter()
        GAMClassifier(random_state=0, n_bags=2).fit(Xw, yw)
        GAMRegressor(random_state=0, n_bags=2).fit(Xw, Xw[:, 0])
        warm_s = time.perf_counter() - t0
        print(f"GAM first use (kernel load or compile) + 2 tiny fits: {warm_s:.1f} s")
    rows = []
    for name, task, Xtr, Xte, ytr, yte in datasets(names):
        print(f"[{name}] train {Xtr.shape}, test {Xte.shape}", flush=True)
        gams, ebms = [], []
        use_cache = args.only != "gam" and name in cache
        for rep in range(args.repeats):
            order = ["gam", "ebm"] if rep % 2 == 0 else ["ebm", "gam"]
            for lib in order:
                if lib == "gam" and args.only != "ebm":
                    gams.append(run_gam(task, Xtr, ytr, Xte, yte, args.threads))
                    print(f"  assay GAM: {gams[-1]}", flush=True)
                elif lib == "ebm" and args.only != "gam" and not use_cache:
                    ebms.append(run_ebm(task, Xtr, ytr, Xte, yte, args.threads))
                    print(f"  EBM: {ebms[-1]}", flush=True)
        gam = _median_run(gams) if gams else None
        ebm = cache[name] if use_cache else (_median_run(ebms) if ebms else None)
        if use_cache:
            print(f"  EBM (cached): {ebm}", flush=True)
        elif ebm is not None and cache_path:
            cache[name] = ebm
            cache_path.write_text(json.dumps(cache, indent=2))
        rows.append((name, task, Xtr.shape, gam, ebm))
    metric = {"classification": "AUC", "regression": "RMSE"}
    print()
    print(
        "| dataset | rows (train) x features | metric | assay GAM | EBM | diff | GAM fit s "
        "| EBM fit s | speed-up |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, task, shape, gam, ebm in rows:
        if gam is None or ebm is None:
            continue
        if task == "classification":
            diff = f"{gam['score'] - ebm['score']:+.4f}"
        else:
            diff = f"{100 * (gam['score'] / ebm['score'] - 1):+.2f}%"
        print(
            f"| {name} | {shape[0]} x {shape[1]} | {metric[task]} | {gam['score']:.4f} | "
            f"{ebm['score']:.4f} | {diff} | {gam['fit_s']:.2f} | {ebm['fit_s']:.1f} | "
            f"{ebm['fit_s'] / gam['fit_s']:.0f}x |"
        )


if __name__ == "__main__":
    main()
