"""KernelShap / PermutationShap versus shap's KernelExplainer / PermutationExplainer.

Same model, same 50-row background, same rows, equal model-evaluation budget (coalitions per
row; every coalition costs 50 model rows in both libraries). shap gets the model's prediction
function; assay runs twice: on the same function's model ("model": the library evaluates every
masked row) and, for the HistGradientBoosting models, on the estimator itself, which assay
evaluates with its compiled copy of the trees after checking it against the model
(``fast_trees``, "compiled trees"; same values). All libraries run on one thread (BLAS, OpenMP,
numba), the runs are interleaved, each setting is repeated and the median wall time is shown.

Errors are RMSE over (row, feature) against a reference: exact Shapley values
(assay.ExactShapley) for d=10; for d=30, assay PermutationShap with 400 permutations (its own
stderr is printed; it adds the same noise to both libraries' errors). Also: leverage vs kernel
size sampling, share of wall time inside the model (for "compiled trees": inside assay's
compiled evaluator), and a Dask LocalCluster run (1 vs 2 single-threaded worker processes,
1,000 rows).

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_kernel.py [--quick] [--only dask]
(equal error: --equal-error [--coalitions per_background] [--estimator permutation];
shared vs per-background at d=30: --coalition-schemes --rows 10)

``--equal-error``: wall time at equal error (issue 25). shap.KernelExplainer(l1_reg=False) at 256
samples per row on the d=10 models; its error (RMSE vs ExactShapley, mean over seeds) is the
target. assay's KernelShap runs a grid of budgets on the same rows and seeds; the smallest budget
whose mean error is at most shap's is timed against shap (interleaved, median), with the
coverage of its 95% intervals (values +- 1.96 stderr) over every (seed, row, feature).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy / numba load: one thread everywhere, both libraries

import argparse  # noqa: E402
import logging  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import shap  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_diabetes  # noqa: E402
from sklearn.ensemble import (  # noqa: E402
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
)
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from assay.attribution import ExactShapley, KernelShap, PermutationShap  # noqa: E402
from assay.model import _fast_predict  # noqa: E402

warnings.filterwarnings("ignore")


class Timed:
    """A model function that records the time spent inside it."""

    def __init__(self, fn):
        self.fn = fn
        self.seconds = 0.0
        self.rows = 0

    def __call__(self, X):
        t = time.perf_counter()
        out = self.fn(np.asarray(X))
        self.seconds += time.perf_counter() - t
        self.rows += len(X)
        return out

    def reset(self):
        self.seconds, self.rows = 0.0, 0


# time spent in assay's compiled tree evaluator (the "model" of the compiled path)
COMPILED = Timed(None)
_compiled_call = _fast_predict.CompiledPredictor.__call__


def _timed_compiled_call(self, X):
    t = time.perf_counter()
    out = _compiled_call(self, X)
    COMPILED.seconds += time.perf_counter() - t
    return out


_fast_predict.CompiledPredictor.__call__ = _timed_compiled_call


def setups():
    """(name, function given to shap, estimator given to assay or None, output column, X)."""
    Xd, yd = load_diabetes(return_X_y=True)
    Xd = (Xd - Xd.mean(0)) / Xd.std(0)
    Xb, yb = load_breast_cancer(return_X_y=True)
    Xb = (Xb - Xb.mean(0)) / Xb.std(0)
    hgb_r = HistGradientBoostingRegressor(max_iter=100, random_state=0).fit(Xd, yd)
    mlp_r = MLPRegressor(hidden_layer_sizes=(64, 32), max_iter=800, random_state=0).fit(Xd, yd)
    hgb_c = HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(Xb, yb)
    mlp_c = MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=800, random_state=0).fit(Xb, yb)
    return [
        ("HGB d=10 (diabetes)", hgb_r.predict, hgb_r, 0, Xd),
        ("MLP d=10 (diabetes)", mlp_r.predict, None, 0, Xd),
        ("HGB d=30 (breast cancer, P(y=1))", lambda X: hgb_c.predict_proba(X)[:, 1], hgb_c, 1, Xb),
        ("MLP d=30 (breast cancer, P(y=1))", lambda X: mlp_c.predict_proba(X)[:, 1], None, 0, Xb),
    ]


def rmse(a, b):
    return float(np.sqrt(np.mean((np.asarray(a).reshape(b.shape) - b) ** 2)))


def reference(f, bg, X):
    d = X.shape[1]
    if d <= 12:
        return ExactShapley(f, background=bg).explain(X).values[..., 0], 0.0
    exp = PermutationShap(f, background=bg, n_permutations=400).explain(X, seed=123)
    return exp.values[..., 0], float(np.sqrt(np.mean(exp.stderr**2)))


def split(X, n_rows):
    idx = np.random.default_rng(0).permutation(X.shape[0])
    return X[idx[:50]], X[idx[50 : 50 + n_rows]]


def assay_run(cls, target, col, bg, rows, seed, **opts):
    """(values of output ``col``, wall s, share of wall in the model or compiled evaluator)."""
    COMPILED.reset()
    if isinstance(target, Timed):
        target.reset()
    t = time.perf_counter()
    exp = cls(target, background=bg, **opts).explain(rows, seed=seed)
    wall = time.perf_counter() - t
    inside = target.seconds if isinstance(target, Timed) else COMPILED.seconds
    if isinstance(target, Timed):
        assert exp.params["model_evaluation"] == "model"
    else:
        assert exp.params["model_evaluation"] == "compiled trees", exp.params
    return exp, exp.values[..., col], wall, inside / wall


def shap_kernel(timed, bg, rows, budget, rep):
    np.random.seed(rep)  # noqa: NPY002 (KernelExplainer samples from the global generator)
    explainer = shap.KernelExplainer(timed, bg)
    return explainer.shap_values(rows, nsamples=budget, l1_reg=False, silent=True)


def shap_permutation(timed, bg, rows, n_pairs, rep):
    masker = shap.maskers.Independent(bg, max_samples=50)
    explainer = shap.PermutationExplainer(timed, masker, seed=rep)
    d = rows.shape[1]
    return explainer(rows, max_evals=n_pairs * (2 * d + 1), silent=True).values


def compare(name, f, est, col, X, n_rows, repeats, kind, size):
    """Interleaved repeats of shap, assay on the function and assay on the estimator."""
    bg, rows = split(X, n_rows)
    ref, ref_se = reference(f, bg, rows)
    timed = Timed(f)
    cls = KernelShap if kind == "kernel" else PermutationShap
    opts = {"budget": size} if kind == "kernel" else {"n_permutations": 2 * size}
    runs = {"shap": [], "model": [], "compiled": []}
    for rep in range(repeats):
        timed.reset()
        t = time.perf_counter()
        if kind == "kernel":
            sv = shap_kernel(timed, bg, rows, size, rep)
        else:
            sv = shap_permutation(timed, bg, rows, size, rep)
        wall = time.perf_counter() - t
        runs["shap"].append((rmse(sv, ref), wall, timed.seconds / wall))
        exp, v, wall, share = assay_run(cls, timed, 0, bg, rows, rep, **opts)
        runs["model"].append((rmse(v, ref), wall, share))
        if est is not None:
            _, vc, wall, share = assay_run(cls, est, col, bg, rows, rep, **opts)
            gap = float(np.abs(vc - v).max())  # same seed: same values, either evaluation path
            assert gap < 1e-9, gap
            runs["compiled"].append((rmse(vc, ref), wall, share))

    def med(key, i):
        return float(np.median([r[i] for r in runs[key]])) if runs[key] else float("nan")

    shap_ms, model_ms = 1e3 * med("shap", 1) / n_rows, 1e3 * med("model", 1) / n_rows
    comp_ms = 1e3 * med("compiled", 1) / n_rows
    err = float(np.mean([r[0] for r in runs["model"]]))
    se = float(np.sqrt(np.mean(exp.stderr**2))) if kind == "kernel" else None
    err_s = f"{err:.4g}" + (f" (mean stderr {se:.3g})" if se is not None else "")
    comp = "n/a" if est is None else f"{comp_ms:.1f} ({shap_ms / comp_ms:.1f}x)"
    comp_share = "" if est is None else f" / {100 * med('compiled', 2):.0f}%"
    size_s = size if kind == "kernel" else f"{size} fwd+rev"
    row = (
        f"| {name} | {size_s} | {err_s} | {np.mean([r[0] for r in runs['shap']]):.4g} | "
        f"{shap_ms:.1f} | {model_ms:.1f} ({shap_ms / model_ms:.1f}x) | {comp} | "
        f"{100 * med('model', 2):.0f}%{comp_share} | {100 * med('shap', 2):.0f}% | "
        f"{1 / med('shap', 2):.1f}x |"
    )
    if kind == "kernel":
        row += f" {ref_se:.2g} |"
    print(row, flush=True)
    return row, bg, rows, ref


def sampling_rows(name, f, est, col, X, n_rows, budget, seeds, bg, rows, ref):
    d = X.shape[1]
    out = []
    target = est if est is not None else f
    for b in sorted({min(budget, 2**d - 2), max(64, budget // 4)}):
        errs = []
        for sampling in ("leverage", "kernel"):
            e = [
                rmse(
                    KernelShap(target, background=bg, budget=b, sampling=sampling)
                    .explain(rows, seed=s)
                    .values[..., col],
                    ref,
                )
                for s in seeds
            ]
            errs.append(np.mean(e))
        out.append(f"| {name} | {b} | {errs[0]:.4g} | {errs[1]:.4g} |")
    return out


def run_dask(f, X, n_rows, budget, repeats):
    """Local serial vs 1 vs 2 single-threaded worker processes, interleaved; median wall."""
    from contextlib import nullcontext

    from distributed import Client, LocalCluster, get_task_stream

    bg = split(X, 0)[0]
    rows = X[np.random.default_rng(1).integers(0, X.shape[0], size=n_rows)]
    env = {v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    env["NUMBA_NUM_THREADS"] = "1"
    clusters, clients = {}, {}
    for workers in (1, 2):
        clusters[workers] = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            env=env,
            silence_logs=logging.ERROR,
        )
        clients[workers] = Client(clusters[workers])
        KernelShap(f, background=bg, budget=budget, client=clients[workers]).explain(rows[:32])
    walls = {"local": [], 1: [], 2: []}
    busy = {1: [], 2: []}
    loads, values = [], {}
    try:
        for _ in range(repeats):
            for key in ("local", 1, 2):
                client = None if key == "local" else clients[key]
                loads.append(os.getloadavg()[0])
                with get_task_stream(client) if client is not None else nullcontext() as ts:
                    t = time.perf_counter()
                    exp = KernelShap(f, background=bg, budget=budget, client=client).explain(
                        rows, seed=0
                    )
                    walls[key].append(time.perf_counter() - t)
                if ts is not None:  # compute time of the batch tasks (not transfers)
                    spans = [
                        ss["stop"] - ss["start"]
                        for task in ts.data
                        for ss in task["startstops"]
                        if ss["action"] == "compute"
                    ]
                    busy[key].append((sum(spans), float(np.median(spans)), len(spans)))
                values[key] = exp.values
    finally:
        for workers in (1, 2):
            clients[workers].close()
            clusters[workers].close()
    same = all(np.array_equal(values[k], values["local"]) for k in (1, 2))
    med = {k: float(np.median(v)) for k, v in walls.items()}
    return med, walls, same, loads, busy


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=["dask", "explainers"], default=None)
    parser.add_argument("--equal-error", action="store_true")
    parser.add_argument("--rows", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--coalitions", choices=["shared", "per_background"], default="shared")
    parser.add_argument("--estimator", choices=["kernel", "permutation"], default="kernel")
    parser.add_argument("--coalition-schemes", action="store_true")
    args = parser.parse_args()
    if args.coalition_schemes:
        with threadpool_limits(1):
            coalition_schemes(args.rows)
        return
    if args.equal_error:
        print(f"load average at start: {os.getloadavg()}", flush=True)
        with threadpool_limits(1):
            equal_error(
                args.rows, args.seeds, 2 if args.quick else 3, args.coalitions, args.estimator
            )
        print(f"load average at end: {os.getloadavg()}")
        return
    n_rows = 4 if args.quick else 10
    repeats = 2 if args.quick else 3
    seeds = [0, 1] if args.quick else [0, 1, 2]
    print(f"load average at start: {os.getloadavg()}", flush=True)
    with threadpool_limits(1):
        if args.only != "dask":
            explainers(n_rows, repeats, seeds)
        if args.only != "explainers":
            dask_part(args.quick)
    print(f"load average at end: {os.getloadavg()}")


HEAD = (
    "| model | budget/row | assay RMSE | shap RMSE | shap ms/row | assay ms/row, model "
    "(speedup) | assay ms/row, compiled trees (speedup) | assay time in model / compiled | "
    "shap time in model | ceiling at equal evaluations = 1/(shap share) |"
)


def explainers(n_rows, repeats, seeds):
    kernel_table, samp_table, perm_table = [], [], []
    for name, f, est, col, X in setups():
        d = X.shape[1]
        budget = 256 if d == 10 else 2 * d + 2048
        row, bg, rows, ref = compare(name, f, est, col, X, n_rows, repeats, "kernel", budget)
        kernel_table.append(row)
        samp_table += sampling_rows(name, f, est, col, X, n_rows, budget, seeds, bg, rows, ref)
        perm_table.append(compare(name, f, est, col, X, n_rows, repeats, "permutation", 10)[0])
    print(
        f"\n### KernelSHAP vs shap.KernelExplainer(l1_reg=False), 50 background rows, "
        f"{n_rows} rows, median of {repeats}\n"
    )
    print(HEAD + " reference stderr |")
    print("|---" * 11 + "|")
    print("\n".join(kernel_table))
    print("\n### Size sampling: leverage (uniform over sizes) vs Shapley kernel, assay RMSE\n")
    print("| model | coalitions/row | leverage | kernel |\n|---|---|---|---|")
    print("\n".join(samp_table))
    print(
        f"\n### PermutationShap vs shap.PermutationExplainer, 50 background rows, "
        f"{n_rows} rows, median of {repeats}\n"
    )
    print(HEAD)
    print("|---" * 10 + "|")
    print("\n".join(perm_table))


GRID = (32, 36, 40, 48, 56, 64, 72, 80, 96, 112, 128, 160, 192, 256)
PERM_GRID = (4, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64)


def _assay_explainer(target, bg, estimator, coalitions, size, **opts):
    """KernelShap with ``size`` coalitions or PermutationShap with ``size`` permutations."""
    if estimator == "kernel":
        return KernelShap(target, background=bg, budget=size, coalitions=coalitions, **opts)
    return PermutationShap(
        target, background=bg, n_permutations=size, coalitions=coalitions, **opts
    )


def _coverage(exps, col, ref):
    return float(
        np.mean([np.abs(e.values[..., col] - ref) <= 1.96 * e.stderr[..., col] for e in exps])
    )


def equal_error(n_rows, n_seeds, repeats, coalitions="shared", estimator="kernel"):
    """shap@256 vs the cheapest assay budget (coalitions, or permutations) with at most shap's
    mean error; then the loosest ``tolerance`` (target standard error) that reaches it."""
    table = []
    if estimator == "kernel":  # per_background needs >= 2d + 16 coalitions per background row
        grid = [b for b in GRID if coalitions == "shared" or b >= 36]
        cap = 1022
    else:
        grid, cap = list(PERM_GRID), 400
    for name, f, est, col, X in setups()[:2]:
        bg, rows = split(X, n_rows)
        ref = reference(f, bg, rows)[0]
        timed = Timed(f)
        target = est if est is not None else timed
        shap_err = float(
            np.mean([rmse(shap_kernel(timed, bg, rows, 256, s), ref) for s in range(n_seeds)])
        )
        curve = {}
        for size in grid:
            exps = [
                _assay_explainer(target, bg, estimator, coalitions, size).explain(rows, seed=s)
                for s in range(n_seeds)
            ]
            err = float(np.mean([rmse(e.values[..., col], ref) for e in exps]))
            curve[size] = (err, _coverage(exps, col, ref))
            print(f"  {name}: assay {estimator} {size}: RMSE {err:.4g}, cover {curve[size][1]:.3f}")
            if err <= shap_err:
                break
        fits = [b for b in curve if curve[b][0] <= shap_err]
        budget = fits[0] if fits else grid[-1]
        tol_opts = None
        for factor in (3.0, 2.5, 2.0, 1.6, 1.4, 1.2, 1.0, 0.8, 0.6):
            opts = {"tolerance": factor * shap_err}
            exps = [
                _assay_explainer(target, bg, estimator, coalitions, cap, **opts).explain(
                    rows, seed=s
                )
                for s in range(n_seeds)
            ]
            err = float(np.mean([rmse(e.values[..., col], ref) for e in exps]))
            key = "n_coalitions" if estimator == "kernel" else "n_permutations_used"
            used = float(np.mean([e.params[key] for e in exps]))
            print(f"  {name}: assay tolerance {opts['tolerance']:.3g}: RMSE {err:.4g}, {used:.0f}")
            if err <= shap_err:
                tol_opts, tol_row = opts, (err, _coverage(exps, col, ref), used)
                break
        walls = {"shap": [], "assay": [], "tolerance": []}
        loads = []
        for rep in range(repeats):
            loads.append(os.getloadavg()[0])
            t = time.perf_counter()
            shap_kernel(timed, bg, rows, 256, rep)
            walls["shap"].append(time.perf_counter() - t)
            t = time.perf_counter()
            _assay_explainer(target, bg, estimator, coalitions, budget).explain(rows, seed=rep)
            walls["assay"].append(time.perf_counter() - t)
            if tol_opts is not None:
                t = time.perf_counter()
                _assay_explainer(target, bg, estimator, coalitions, cap, **tol_opts).explain(
                    rows, seed=rep
                )
                walls["tolerance"].append(time.perf_counter() - t)
        shap_ms = 1e3 * float(np.median(walls["shap"])) / n_rows
        assay_ms = 1e3 * float(np.median(walls["assay"])) / n_rows
        path = "compiled trees" if est is not None else "model"
        unit = "coalitions" if estimator == "kernel" else "permutations"
        row = (
            f"| {name} | {shap_err:.4g} | {shap_ms:.1f} | {budget} {unit}"
            f"{'' if fits else ' (grid end)'} | {curve[budget][0]:.4g} | {curve[budget][1]:.3f} "
            f"| {path} | {assay_ms:.2f} | {shap_ms / assay_ms:.1f}x | {np.mean(loads):.1f} |"
        )
        table.append(row)
        if tol_opts is not None:
            tol_ms = 1e3 * float(np.median(walls["tolerance"])) / n_rows
            table.append(
                f"| {name}, tolerance={tol_opts['tolerance']:.3g} | {shap_err:.4g} | "
                f"{shap_ms:.1f} | mean {tol_row[2]:.0f} {unit} | {tol_row[0]:.4g} | "
                f"{tol_row[1]:.3f} | {path} | {tol_ms:.2f} | {shap_ms / tol_ms:.1f}x | "
                f"{np.mean(loads):.1f} |"
            )
        print("\n".join(table[-2:]), flush=True)
    label = "KernelShap" if estimator == "kernel" else "PermutationShap"
    print(
        f"\n### Equal error: assay {label}(coalitions={coalitions!r}) vs "
        f"shap.KernelExplainer(l1_reg=False) at 256, "
        f"{n_rows} rows, 50 background rows, error = mean RMSE over {n_seeds} seeds, "
        f"wall = median of {repeats}\n"
    )
    print(
        "| model | shap@256 RMSE | shap ms/row | assay budget at equal error | assay RMSE | "
        "assay 95% coverage | assay evaluates with | assay ms/row | speed-up | load (1 min) |"
    )
    print("|---" * 10 + "|")
    print("\n".join(table))


def coalition_schemes(n_rows):
    """d = 30 models: shared vs per-background coalitions at equal budgets (the same model
    evaluations): wall time and the root-mean-square standard error (calibrated: coverage is
    checked on the d = 10 models against exact values)."""
    print(
        f"\n### KernelShap coalitions='shared' vs 'per_background', d=30, 50 background rows, "
        f"{n_rows} rows\n"
    )
    print(
        "| model | budget | shared ms/row | per_background ms/row | shared RMS stderr | "
        "per_background RMS stderr | variance ratio |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, f, est, col, X in setups()[2:]:
        bg, rows = split(X, n_rows)
        target = est if est is not None else f
        for budget in (128, 512, "auto"):
            cells = {}
            for scheme in ("shared", "per_background"):
                t = time.perf_counter()
                exp = KernelShap(target, background=bg, budget=budget, coalitions=scheme).explain(
                    rows, seed=0
                )
                ms = 1e3 * (time.perf_counter() - t) / n_rows
                cells[scheme] = (ms, float(np.sqrt(np.mean(exp.stderr[..., col] ** 2))))
            sh, pb = cells["shared"], cells["per_background"]
            print(
                f"| {name} | {budget} | {sh[0]:.1f} | {pb[0]:.1f} | {sh[1]:.4g} | {pb[1]:.4g} | "
                f"{(sh[1] / pb[1]) ** 2:.1f}x |",
                flush=True,
            )


def dask_part(quick):
    name, f, _, _, X = setups()[3]
    n_dask = 200 if quick else 1000
    budget = 256
    med, walls, same, loads, busy = run_dask(f, X, n_dask, budget, 2 if quick else 3)
    print(
        f"\n### Dask LocalCluster (processes, 1 thread each), {name}, {n_dask} rows, "
        f"budget {budget}, median of {len(walls[1])}\n"
    )
    print(
        "| run | wall s (median) | all runs | speedup vs 1 worker | tasks | median task s | "
        "task compute / (workers x wall) |\n|---|---|---|---|---|---|---|"
    )
    for key, label in (("local", "local, no Dask"), (1, "1 worker"), (2, "2 workers")):
        runs = ", ".join(f"{w:.1f}" for w in walls[key])
        extra = "| | |"
        if key in busy:
            i = int(np.argsort(walls[key])[len(walls[key]) // 2])  # the median run
            total, task_med, n_tasks = busy[key][i]
            extra = f"{n_tasks} | {task_med:.2f} | {total / (key * walls[key][i]):.0%} |"
        print(f"| {label} | {med[key]:.1f} | {runs} | {med[1] / med[key]:.2f}x | {extra}")
    print(
        f"\nload average (1 min) at each Dask measurement: {', '.join(f'{x:.1f}' for x in loads)}"
    )
    print(f"values from the 1- and 2-worker clusters bit-identical to the local run: {same}")


if __name__ == "__main__":
    main()
