"""TreeSHAP benchmark: assay.attribution.TreeShap against shap.TreeExplainer.

Per-row time of exact SHAP values on the same rows, same machine, at 1 thread and at all
threads, for the models of issue 3, path-dependent and interventional (100 background rows);
then a 1,000,000-row explanation of a 100-tree depth-6 model with its peak memory.

Run::

    .venv/bin/python benchmarks/bench_tree.py            # full run
    .venv/bin/python benchmarks/bench_tree.py --quick    # fewer rows
    .venv/bin/python benchmarks/bench_tree.py --mode interventional --model Random --repeat 3

Prints markdown tables. shap runs XGBoost and LightGBM path-dependent SHAP through the
libraries' own C++ (``pred_contribs``), so that row compares with XGBoost/LightGBM themselves.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np


def _threads_env(n: int) -> None:
    import numba

    numba.set_num_threads(n)


def _models(n_train: int):
    import lightgbm as lgb
    import xgboost as xgb
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(n_train, 20))
    logit = X[:, 0] + X[:, 1] * X[:, 2] + np.sin(3 * X[:, 3]) + 0.5 * X[:, 4] ** 2
    y = (logit + rng.normal(size=n_train) > 0).astype(int)
    out = {
        "XGBoost 500 trees depth 6": xgb.XGBClassifier(
            n_estimators=500, max_depth=6, n_jobs=os.cpu_count()
        ).fit(X, y),
        "LightGBM 500 trees 63 leaves": lgb.LGBMClassifier(
            n_estimators=500, num_leaves=63, verbose=-1
        ).fit(X, y),
        "RandomForest 100 trees depth 12": RandomForestClassifier(
            n_estimators=100, max_depth=12, n_jobs=-1, random_state=0
        ).fit(X, y),
    }
    return X, out


def _set_lib_threads(model, n: int) -> None:
    name = type(model).__module__.split(".")[0]
    if name == "xgboost":
        model.set_params(n_jobs=n)
        model.get_booster().set_param({"nthread": n})
    elif name == "lightgbm":
        model.set_params(n_jobs=n)


def _time(fn, repeat: int) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench_speed(n_rows: int, n_rows_int: int, repeat: int, only: str = "",
                modes: tuple[str, ...] = ("path_dependent", "interventional")) -> list[str]:
    import shap

    from assay.attribution import TreeShap

    X, models = _models(5000)
    rows = X[:n_rows]
    rows_int = X[:n_rows_int]
    bg = X[-100:]
    all_threads = os.cpu_count() or 1
    lines = [
        "| model | mode | threads | assay ms/row | shap ms/row | speed-up | max abs diff |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, model in models.items():
        if only and only.lower() not in name.lower():
            continue
        for mode in modes:
            R = rows if mode == "path_dependent" else rows_int
            for threads in sorted({1, all_threads}):
                _threads_env(threads)
                _set_lib_threads(model, threads)
                kw = {"mode": mode, "n_jobs": threads}
                if mode == "interventional":
                    kw["background"] = bg
                ours = TreeShap(model, **kw)
                ours.explain(R[:2])  # compile / warm up
                if mode == "path_dependent":
                    ex = shap.TreeExplainer(model, feature_perturbation="tree_path_dependent")
                else:
                    ex = shap.TreeExplainer(
                        model, data=bg, feature_perturbation="interventional",
                        model_output="raw",
                    )  # fmt: skip
                # interleaved (ours, shap, ours, shap, ...), best of each: load on the machine
                # hits both alike
                t_ours = t_shap = np.inf
                for _ in range(repeat):
                    t_ours = min(t_ours, _time(lambda o=ours, R=R: o.explain(R), 1))
                    t_shap = min(t_shap, _time(
                        lambda e=ex, R=R: e.shap_values(R, check_additivity=False), 1))
                ref = np.asarray(ex.shap_values(R[:20], check_additivity=False))
                got = ours.explain(R[:20]).values
                if ref.ndim == 2:
                    ref = ref[:, :, None]
                diff = float(np.abs(got - ref).max()) if ref.shape == got.shape else float("nan")
                lines.append(
                    f"| {name} | {mode} | {threads} | {t_ours / len(R) * 1e3:.4f} | "
                    f"{t_shap / len(R) * 1e3:.4f} | {t_shap / t_ours:.1f}x | {diff:.1e} |"
                )
                print(lines[-1], flush=True)
    return lines


def _memory_child(n_rows: int) -> None:
    """Explain ``n_rows`` rows in this (fresh) process and print the figures as JSON."""
    import xgboost as xgb

    from assay.attribution import TreeShap

    rng = np.random.default_rng(1)
    Xt = rng.normal(size=(20000, 10))
    y = Xt[:, 0] + Xt[:, 1] * Xt[:, 2] + rng.normal(size=20000)
    model = xgb.XGBRegressor(n_estimators=100, max_depth=6, n_jobs=1).fit(Xt, y)
    X = rng.normal(size=(n_rows, 10))
    explainer = TreeShap(model)
    explainer.explain(X[:10])  # compile
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    exp = explainer.explain(X)
    dt = time.perf_counter() - t0
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": dt, "rss_before": rss0, "rss_after": rss1,
                      "out_mib": exp.values.nbytes / 2**20,
                      "base_mib": exp.base_values.nbytes / 2**20,
                      "in_mib": X.nbytes / 2**20}))  # fmt: skip


def bench_memory(n_rows: int) -> list[str]:
    """Peak RSS of a fresh process explaining ``n_rows`` rows (path-dependent, all threads)."""
    cmd = [sys.executable, __file__, "--memory-child", str(n_rows)]
    res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    return [
        "| rows | features | trees | seconds | values + base + input MiB "
        "| peak RSS MiB before explain | peak RSS MiB after |",
        "|---|---|---|---|---|---|---|",
        f"| {n_rows:,} | 10 | 100 (depth 6) | {res['seconds']:.1f} | "
        f"{res['out_mib']:.0f} + {res['base_mib']:.0f} + {res['in_mib']:.0f} | "
        f"{res['rss_before']:.0f} | {res['rss_after']:.0f} |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--memory-only", action="store_true")
    parser.add_argument("--model", default="", help="only models whose name contains this")
    parser.add_argument("--mode", choices=["path_dependent", "interventional"], default=None,
                        help="only this mode (speed table only, no memory run)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per timing (best kept)")
    parser.add_argument("--memory-child", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        _memory_child(args.memory_child)
        return
    n_rows, n_int, mem_rows = (200, 20, 100_000) if args.quick else (1000, 100, 1_000_000)
    if args.memory_only:
        print("\n".join(bench_memory(mem_rows)))
        return
    print(f"cpu_count={os.cpu_count()}")
    modes = (args.mode,) if args.mode else ("path_dependent", "interventional")
    lines = bench_speed(n_rows, n_int, repeat=args.repeat, only=args.model, modes=modes)
    print()
    print("\n".join(lines))
    print()
    if args.model or args.mode:
        return
    print("\n".join(bench_memory(mem_rows)))


if __name__ == "__main__":
    main()
