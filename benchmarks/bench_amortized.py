"""AmortizedShap (FastSHAP) vs KernelShap at equal error, against exact Shapley values.

Friedman #1 (``sklearn.datasets.make_friedman1``, d = 10, five informative features, noise 1),
a HistGradientBoostingRegressor and an MLPRegressor fitted on it. For each model:

1. ``AmortizedShap`` is fitted on ``--train`` rows (its own held-out report: ``validation_``),
   with ``--background`` background rows;
2. ``--rows`` further rows are explained by it and by ``ExactShapley`` (the oracle, same game);
3. ``KernelShap`` explains the same rows at growing budgets; the smallest budget whose RMSE vs
   exact is at most the amortized RMSE is "equal error" and its time per row is compared with
   the amortized time per row; the training time is amortized over ``training / (kernel ms/row
   - amortized ms/row)`` rows (break-even).

One process, one thread (``OMP_NUM_THREADS=1``); wall times. Run::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_amortized.py --rows 1000
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from sklearn.datasets import make_friedman1
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.neural_network import MLPRegressor

from assay.attribution import AmortizedShap, ExactShapley, KernelShap
from assay.errors import AssayWarning

BUDGETS = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


def models(seed: int = 0):
    X, y = make_friedman1(n_samples=20000, n_features=10, noise=1.0, random_state=seed)
    hgb = HistGradientBoostingRegressor(max_iter=100, random_state=0).fit(X[:10000], y[:10000])
    mlp = MLPRegressor(hidden_layer_sizes=(64, 32), max_iter=300, random_state=0)
    mlp.fit(X[:10000], y[:10000])
    return X[10000:], [("HGB(100) d=10", hgb), ("MLP(64,32) d=10", mlp)]


def run(name, model, X, args):
    torch_threads()
    bg = X[: args.background]
    X_train = X[args.background : args.background + args.train]
    rows = X[args.background + args.train : args.background + args.train + args.rows]
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AssayWarning)
        amo = AmortizedShap(model, background=bg, epochs=args.epochs, seed=0).fit(X_train)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    exp = amo.explain(rows)
    amo_ms = (time.perf_counter() - t0) / rows.shape[0] * 1e3
    t0 = time.perf_counter()
    ref = ExactShapley(model, background=bg).explain(rows)
    exact_ms = (time.perf_counter() - t0) / rows.shape[0] * 1e3
    scale = float(np.sqrt(np.mean(ref.values**2)))
    amo_err = rmse(exp.values, ref.values)
    eff = float(np.abs(exp.values.sum(1) + exp.base_values - model.predict(rows)[:, None]).max())
    print(
        f"\n{name}: fit {fit_s:.1f} s ({amo.fit_info_['train_seconds']:.1f} s coalitions+training, "
        f"{amo.fit_info_['model_rows_evaluated']:,} model rows), validation: "
        f"{amo.validation_.verdict}"
    )
    print(
        f"  amortized on {rows.shape[0]} new rows: RMSE {amo_err:.4f} ({amo_err / scale:.1%} of "
        f"RMS {scale:.3f}), {amo_ms:.3f} ms/row, efficiency gap {eff:.1e}; exact "
        f"{exact_ms:.2f} ms/row ({ref.params.get('structure')})"
    )
    found = None
    for budget in BUDGETS:
        t0 = time.perf_counter()
        kexp = KernelShap(model, background=bg, budget=budget).explain(rows, seed=0)
        k_ms = (time.perf_counter() - t0) / rows.shape[0] * 1e3
        k_err = rmse(kexp.values, ref.values)
        print(f"  kernel budget {budget:4d}: RMSE {k_err:.4f}, {k_ms:.2f} ms/row")
        if k_err <= amo_err:
            found = (budget, k_err, k_ms)
            break
    if found is None:
        print(f"  kernel never reached the amortized error up to budget {BUDGETS[-1]}")
        return
    budget, k_err, k_ms = found
    gain = k_ms - amo_ms
    breakeven = fit_s / gain * 1e3 if gain > 0 else float("inf")
    print(
        f"  | {name} | {amo.fit_info_['n_train']} | {fit_s:.1f} | {amo_err:.4f} "
        f"({amo_err / scale:.1%}) | {amo.validation_.relative_rmse:.1%} | {amo_ms:.3f} | "
        f"{budget} | {k_err:.4f} | {k_ms:.2f} | {k_ms / amo_ms:.0f}x | {breakeven:,.0f} |"
    )


def torch_threads() -> None:
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--background", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--models", default="HGB,MLP")
    args = parser.parse_args()
    X, fitted = models()
    for name, model in fitted:
        if name.split("(")[0] in args.models.split(","):
            run(name, model, X, args)


if __name__ == "__main__":
    main()
