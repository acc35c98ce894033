"""Exact Shapley: assay's ExactShapley next to shap.explainers.Exact, in one process.

Both explain the same rows of a 10-feature model against the same 50 background rows
(``shap.maskers.Independent(background, max_samples=50)`` keeps all 50, checked below). shap
evaluates the model on ``n_rows * 2^10 * 50`` inputs. assay's ``ExactShapley`` does the same for
a black box (``structure="none"``, or a model without exploitable structure); for tree ensembles
and linear models (``structure="auto"``, the default) it computes the same exact values from the
model's structure after one checking call on the rows and the background. Reported per model:

* wall time per explained row for each library (best of ``--repeats`` runs, after a warm-up
  run that pays numba compilation for both); assay's one-off setup per explainer (tree
  extraction and leaf plan, outside the timed ``explain``) is printed separately,
* the speed ratio shap / assay and the path assay took,
* the largest absolute difference of the values and of the base values (must be < 1e-9),
* the share of each library's wall time spent inside the model's own predict.

``xgb`` is reported twice: XGBoost rounds its predictions to float32, so shap's enumeration
through ``XGBRegressor.predict`` carries ~1e-7 rounding noise that assay's structured values
(exact float64 sums of the same leaf values) do not; ``xgb64`` gives shap those same trees
summed in float64 (assay's own traversal of the extracted ensemble) as the model function.

Usage::

    python benchmarks/bench_exact.py                # all models, 20 rows, 3 repeats
    python benchmarks/bench_exact.py --rows 50 --models hgb,xgb --threads 1
    python benchmarks/bench_exact.py --structure none  # assay enumerates for every model
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable

import numpy as np
import shap
import sklearn
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import LinearRegression
from threadpoolctl import threadpool_limits

import assay
from assay.attribution import ExactShapley

D = 10
N_BACKGROUND = 50


class Timed:
    """A predict function that accumulates the time spent inside it."""

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray]) -> None:
        self.fn = fn
        self.seconds = 0.0
        self.rows = 0

    def __call__(self, X: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        out = self.fn(X)
        self.seconds += time.perf_counter() - t0
        self.rows += X.shape[0]
        return out


def make_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(3000, D))
    y = (
        X[:, 0] * X[:, 1]
        + np.sin(2 * X[:, 2])
        + np.maximum(X[:, 3], X[:, 4])
        + 0.5 * X[:, 5:].sum(axis=1)
        + 0.1 * rng.normal(size=3000)
    )
    return X, y


def black_box(X: np.ndarray) -> np.ndarray:
    """A numpy function of all 10 features: no structure for assay to use."""
    return (
        X[:, 0] * X[:, 1]
        + np.sin(2 * X[:, 2])
        + np.maximum(X[:, 3], X[:, 4]) * X[:, 5]
        + np.tanh(X[:, 6] - X[:, 7])
        + 0.5 * X[:, 8] * np.abs(X[:, 9])
    )


def make_model(name: str, X: np.ndarray, y: np.ndarray, threads: int | None):
    """(model for assay, predict function for shap, label)."""
    if name == "hgb":
        model = HistGradientBoostingRegressor(max_iter=50, random_state=0).fit(X, y)
        label = "HistGradientBoostingRegressor(max_iter=50)"
    elif name == "rf":
        model = RandomForestRegressor(
            n_estimators=50, max_depth=8, n_jobs=threads, random_state=0
        ).fit(X, y)
        label = "RandomForestRegressor(n_estimators=50, max_depth=8)"
    elif name == "rf_deep":  # issue 25: 100 trees grown to purity
        model = RandomForestRegressor(n_estimators=100, n_jobs=threads, random_state=0).fit(X, y)
        label = "RandomForestRegressor(n_estimators=100, max_depth=None)"
    elif name == "lgbm":
        import lightgbm as lgb

        model = lgb.LGBMRegressor(
            n_estimators=50, num_leaves=31, n_jobs=threads or 0, random_state=0, verbose=-1
        ).fit(X, y)
        label = f"LGBMRegressor(n_estimators=50, num_leaves=31) lightgbm {lgb.__version__}"
    elif name in ("xgb", "xgb64"):
        import xgboost as xgb

        model = xgb.XGBRegressor(n_estimators=50, max_depth=6, n_jobs=threads, random_state=0).fit(
            X, y
        )
        label = f"XGBRegressor(n_estimators=50, max_depth=6) xgboost {xgb.__version__}"
        if name == "xgb64":
            from assay.model import extract_tree_ensemble
            from assay.model._tree_predict import predict_raw

            ens = extract_tree_ensemble(model)
            label += "; shap gets the same trees summed in float64"
            return model, lambda A: predict_raw(ens, A)[:, 0], label
    elif name == "linear":
        model = LinearRegression().fit(X, y)
        label = "LinearRegression"
    elif name == "blackbox":
        return black_box, black_box, "a numpy function (black box, model-bound)"
    else:
        raise SystemExit(f"unknown model {name!r}; choose from {MODELS}")
    return model, model.predict, label


MODELS = "hgb,xgb,xgb64,lgbm,rf,rf_deep,linear,blackbox"


def run_shap(predict_fn, bg: np.ndarray, rows: np.ndarray):
    predict = Timed(predict_fn)
    masker = shap.maskers.Independent(bg, max_samples=N_BACKGROUND)
    if not np.array_equal(masker.data, bg):
        raise SystemExit("shap's masker did not keep the background rows as given")
    explainer = shap.explainers.Exact(predict, masker)
    c0 = time.process_time()
    t0 = time.perf_counter()
    sv = explainer(rows, silent=True)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    return sv.values, np.asarray(sv.base_values), wall, predict.seconds, predict.rows, cpu


def run_assay(model, bg: np.ndarray, rows: np.ndarray, structure: str):
    t0 = time.perf_counter()
    explainer = ExactShapley(model, background=bg, structure=structure)
    explainer.explain(rows[:1])  # setup: finds the structure (tree extraction, leaf plan)
    setup = time.perf_counter() - t0
    timed = Timed(explainer.adapter._predict_raw)
    explainer.adapter._predict_raw = timed  # time the model itself, not assay's wrapper
    c0 = time.process_time()
    t0 = time.perf_counter()
    exp = explainer.explain(rows)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    path = exp.params["structure"]
    if path == "tree":
        path += f" ({exp.params['tree_algorithm']})"
    return (exp.values[..., 0], exp.base_values[:, 0], wall, timed.seconds, timed.rows, setup,
            path, cpu)  # fmt: skip


def bench(name: str, n_rows: int, repeats: int, threads: int | None, structure: str) -> dict:
    X, y = make_data()
    model, predict_fn, label = make_model(name, X[:2000], y[:2000], threads)
    bg = X[2000 : 2000 + N_BACKGROUND]
    rows = X[2100 : 2100 + n_rows]
    # warm-up: numba compilation (shap's masking, assay's kernels) and the model's first call
    run_shap(predict_fn, bg, rows[:1])
    run_assay(model, bg, rows[:1], structure)
    best_shap = best_assay = None
    for _ in range(repeats):
        s = run_shap(predict_fn, bg, rows)
        a = run_assay(model, bg, rows, structure)
        if best_shap is None or s[2] < best_shap[2]:
            best_shap = s
        if best_assay is None or a[2] < best_assay[2]:
            best_assay = a
    s_vals, s_base, s_wall, s_model, s_rows, s_cpu = best_shap
    a_vals, a_base, a_wall, a_model, a_rows, a_setup, a_path, a_cpu = best_assay
    enumerated = n_rows * 2**D * N_BACKGROUND
    # enumeration evaluates every coalition; the structured paths make one checking call on the
    # rows and the background (linear models also on 64 hybrid rows)
    assert a_rows == enumerated if a_path == "none" else a_rows < enumerated, a_rows
    # CPU time of the process (one thread with --threads 1): on a shared machine it is less
    # inflated by other jobs than wall time
    return {
        "path": a_path,
        "setup_ms": 1e3 * a_setup,
        "model": name,
        "label": label,
        "rows": n_rows,
        "shap_ms": 1e3 * s_wall / n_rows,
        "assay_ms": 1e3 * a_wall / n_rows,
        "ratio": s_wall / a_wall,
        "cpu_ratio": s_cpu / max(a_cpu, 1e-9),
        "shap_cpu_ms": 1e3 * s_cpu / n_rows,
        "assay_cpu_ms": 1e3 * a_cpu / n_rows,
        "max_diff": float(np.abs(a_vals - s_vals).max()),
        "max_base_diff": float(np.abs(a_base - s_base).max()),
        "assay_share": a_model / a_wall,
        "shap_share": s_model / s_wall,
        "assay_model_ms": 1e3 * a_model / n_rows,
        "shap_model_ms": 1e3 * s_model / n_rows,
        "evals_per_row": round(a_rows / n_rows, 1),
        "shap_evals_per_row": s_rows // n_rows,
    }


def table(results: list[dict]) -> str:
    head = (
        "| model | assay path | rows | shap ms/row | assay ms/row | speed-up (shap/assay) | "
        "CPU ms/row shap / assay | speed-up (CPU) | "
        "max abs diff values | max abs diff base | model share of wall: assay | model share: "
        "shap | model evals/row (assay / shap) |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    lines = [head]
    for r in results:
        lines.append(
            f"| {r['model']} | {r['path']} | {r['rows']} | {r['shap_ms']:.1f} | "
            f"{r['assay_ms']:.2f} | "
            f"{r['ratio']:.1f}x | {r['shap_cpu_ms']:.1f} / {r['assay_cpu_ms']:.2f} | "
            f"{r['cpu_ratio']:.1f}x | {r['max_diff']:.1e} | {r['max_base_diff']:.1e} | "
            f"{100 * r['assay_share']:.0f}% | {100 * r['shap_share']:.0f}% | "
            f"{r['evals_per_row']} / {r['shap_evals_per_row']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20, help="explained rows (default 20)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs, best kept")
    parser.add_argument("--models", default=MODELS, help=f"comma list from {MODELS}")
    parser.add_argument(
        "--structure", default="auto", choices=["auto", "none"], help="assay's structure option"
    )
    parser.add_argument(
        "--background", type=int, default=50, help="background rows (default 50; issue 25: 40)"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="cap BLAS/OpenMP threads (default: library)"
    )
    args = parser.parse_args(argv)
    global N_BACKGROUND
    N_BACKGROUND = args.background

    print(
        f"python {platform.python_version()}, numpy {np.__version__}, scikit-learn "
        f"{sklearn.__version__}, shap {shap.__version__}, assay {assay.__version__}; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start; "
        f"threads={args.threads or 'library default'}",
        flush=True,
    )
    results = []
    with threadpool_limits(limits=args.threads):
        for name in args.models.split(","):
            r = bench(name.strip(), args.rows, args.repeats, args.threads, args.structure)
            print(f"  {r['label']}: done", flush=True)
            results.append(r)
    print(f"load average {os.getloadavg()[0]:.1f} at end\n")
    print(table(results))
    print()
    for r in results:
        print(
            f"{r['model']}: model time per explained row, assay {r['assay_model_ms']:.1f} ms vs "
            f"shap {r['shap_model_ms']:.1f} ms; non-model time per row, assay "
            f"{r['assay_ms'] - r['assay_model_ms']:.2f} ms vs shap "
            f"{r['shap_ms'] - r['shap_model_ms']:.2f} ms; assay setup (once per explainer, "
            f"not in the timed explain; includes a one-row explain) {r['setup_ms']:.1f} ms"
        )
    bad = [r for r in results if max(r["max_diff"], r["max_base_diff"]) >= 1e-9]
    if bad:
        print("VALUES DIFFER by >= 1e-9 for: " + ", ".join(r["model"] for r in bad))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
