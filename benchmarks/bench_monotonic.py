"""Monotonic networks: accuracy cost of the constraint, and violations found by check_monotonic.

Side by side in one process, same train/test split per seed:

- assay ``MonotonicMLPClassifier`` with the declared directions (both architectures);
- the same network without constraints (``monotone=None``, same size and training);
- scikit-learn ``MLPClassifier`` of the same size (anchor; median imputation + indicator and
  scaling in a Pipeline);
- XGBoost with and without ``monotone_constraints`` (anchor for monotone models).

Tasks: a monotone synthetic task (3 monotone features, 5 free ones with interactions) and the
demo cohort (``assay.datasets.load_clinical``) with ``creatinine`` declared increasing (its true
risk drops at 2.0, a planted treatment effect, so the constraint is *wrong* there), and with all
nine documented directions declared.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_monotonic.py [--seeds 3]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch
import xgboost as xgb
from sklearn.impute import SimpleImputer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from assay.datasets import load_clinical
from assay.glassbox import MonotonicMLPClassifier, check_monotonic

HIDDEN = (32, 32)


def synthetic(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, dict[str, int]]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8))
    logit = (
        1.5 * np.tanh(X[:, 0])  # increasing, saturating
        + 0.6 * np.exp(0.5 * X[:, 1])  # increasing, convex
        - np.logaddexp(0, 2 * X[:, 2])  # decreasing (softplus)
        + np.sin(2 * X[:, 3]) * X[:, 4]  # free features with an interaction
        + 0.5 * X[:, 5] ** 2
        - 0.5
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    cols = [f"f{j}" for j in range(8)]
    return pd.DataFrame(X, columns=cols), y, {"f0": 1, "f1": 1, "f2": -1}


def clinical(seed: int, declared: str) -> tuple[pd.DataFrame, np.ndarray, dict[str, int]]:
    data = load_clinical(n_samples=20000, seed=seed)
    if declared == "creatinine":
        mono = {"creatinine": 1}
    else:
        words = {"increasing": 1, "decreasing": -1}
        mono = {k: words[v] for k, v in data.truth["expected_directions"].items()}
    return data.X, np.asarray(data.y), mono


def evaluate(name, model, Xte, yte, mono, seed, fit_s):
    auc = roc_auc_score(yte, model.predict_proba(Xte)[:, 1])
    chk = check_monotonic(model, Xte, mono, n_pairs=20_000, n_rows=200, seed=seed)
    return {
        "model": name,
        "auc": auc,
        "pairs": chk.n_pairs,
        "viol_rate": chk.violation_rate,
        "worst": chk.worst_violation,
        "fit_s": fit_s,
    }


def run(task: str, seed: int) -> list[dict]:
    if task == "synthetic":
        X, y, mono = synthetic(30000, seed)
    else:
        X, y, mono = clinical(seed, task.split(":")[1])
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=1 / 3, random_state=seed, stratify=y)
    rows = []
    models = {
        "assay monotonic (constrained)": lambda: MonotonicMLPClassifier(
            mono, hidden_sizes=HIDDEN, seed=seed
        ),
        "assay monotonic (lipschitz)": lambda: MonotonicMLPClassifier(
            mono, hidden_sizes=HIDDEN, architecture="lipschitz", seed=seed
        ),
        "assay unconstrained (same net)": lambda: MonotonicMLPClassifier(
            None, hidden_sizes=HIDDEN, seed=seed
        ),
        "sklearn MLPClassifier": lambda: make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True),
            StandardScaler(),
            MLPClassifier(HIDDEN, early_stopping=True, max_iter=300, random_state=seed),
        ),
        "xgboost monotone_constraints": lambda: xgb.XGBClassifier(
            n_estimators=300,
            max_depth=4,
            learning_rate=0.05,
            n_jobs=1,
            monotone_constraints=dict(mono),
        ),
        "xgboost unconstrained": lambda: xgb.XGBClassifier(
            n_estimators=300, max_depth=4, learning_rate=0.05, n_jobs=1
        ),
    }
    for name, make in models.items():
        t0 = time.perf_counter()
        model = make().fit(Xtr, ytr)
        fit_s = time.perf_counter() - t0
        rows.append(evaluate(name, model, Xte, yte, mono, seed, fit_s))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument(
        "--tasks", default="synthetic,clinical:creatinine,clinical:all", help="comma-separated"
    )
    args = ap.parse_args()
    torch.set_num_threads(1)
    for task in args.tasks.split(","):
        per_seed = [pd.DataFrame(run(task, seed)) for seed in range(args.seeds)]
        df = pd.concat(per_seed)
        agg = df.groupby("model", sort=False).agg(
            auc=("auc", "mean"),
            auc_sd=("auc", "std"),
            pairs=("pairs", "mean"),
            viol_rate=("viol_rate", "mean"),
            worst=("worst", "max"),
            fit_s=("fit_s", "mean"),
        )
        ref = agg.loc["assay unconstrained (same net)", "auc"]
        agg["auc - unconstrained"] = agg["auc"] - ref
        # paired difference per seed: constrained vs unconstrained on the same split
        c = np.array(
            [d.set_index("model").loc["assay monotonic (constrained)", "auc"] for d in per_seed]
        )
        u = np.array(
            [d.set_index("model").loc["assay unconstrained (same net)", "auc"] for d in per_seed]
        )
        print(
            f"\n### {task}  ({args.seeds} seeds; paired AUC diff constrained-unconstrained: "
            f"{np.mean(c - u):+.4f} ± {np.std(c - u, ddof=1) if len(c) > 1 else 0:.4f})"
        )
        print(
            "| model | test AUC (sd) | AUC − unconstrained net | pairs checked | violation rate "
            "| worst drop | fit s |"
        )
        print("|---|---|---|---|---|---|---|")
        for name, r in agg.iterrows():
            sd = 0.0 if np.isnan(r["auc_sd"]) else r["auc_sd"]
            print(
                f"| {name} | {r['auc']:.4f} ({sd:.4f}) | {r['auc - unconstrained']:+.4f} | "
                f"{int(r['pairs']):,} | {r['viol_rate']:.4%} | {r['worst']:.3g} "
                f"| {r['fit_s']:.1f} |"
            )


if __name__ == "__main__":
    main()
