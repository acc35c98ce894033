"""Fairness benchmarks (issue 9): GroupMetrics vs fairlearn, ProxyAudit, neutralize, invariance.

Run: .venv/bin/python benchmarks/bench_fairness.py
Threads are limited to one (threadpoolctl / torch) because the machine is shared.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from fairlearn.metrics import MetricFrame, selection_rate, true_positive_rate
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from assay.datasets import load_clinical
from assay.fairness import (
    GroupMetrics,
    InvariantMLPClassifier,
    ProxyAudit,
    invariance_sweep,
    neutralize,
)


def group_metrics_vs_fairlearn() -> None:
    data = load_clinical(n_samples=20000, seed=0)
    model = HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(data.X, data.y)
    yp = (model.predict_proba(data.X)[:, 1] > 0.2).astype(int)
    sf = data.sensitive.assign(sex=data.X["sex"])
    t = time.perf_counter()
    ours = GroupMetrics(
        metrics=["selection_rate", "true_positive_rate"], y_true=data.y, y_pred=yp,
        sensitive_features=sf,
    )  # fmt: skip
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    mf = MetricFrame(
        metrics={"selection_rate": selection_rate, "true_positive_rate": true_positive_rate},
        y_true=data.y, y_pred=yp, sensitive_features=sf,
    )  # fmt: skip
    t_fl = time.perf_counter() - t
    diff = np.max(
        np.abs(ours.by_group.to_numpy() - mf.by_group.loc[ours.by_group.index].to_numpy())
    )
    t = time.perf_counter()
    GroupMetrics(
        metrics=["selection_rate", "true_positive_rate"], y_true=data.y, y_pred=yp,
        sensitive_features=sf, n_bootstrap=1000, seed=0,
    )  # fmt: skip
    t_boot = time.perf_counter() - t
    t = time.perf_counter()
    mf_b = MetricFrame(
        metrics={"selection_rate": selection_rate, "true_positive_rate": true_positive_rate},
        y_true=data.y, y_pred=yp, sensitive_features=sf, n_boot=1000,
        ci_quantiles=[0.025, 0.975], random_state=0,
    )  # fmt: skip
    del mf_b
    t_fl_boot = time.perf_counter() - t
    print("| task (n=20000, race x sex, 2 metrics) | assay | fairlearn |")
    print("|---|---|---|")
    print(f"| point estimates | {t_ours:.3f} s | {t_fl:.3f} s |")
    print(f"| 1000 bootstrap CIs | {t_boot:.2f} s | {t_fl_boot:.2f} s |")
    print(f"| max abs difference of by_group | {diff:.1e} | |")


def proxy_audit() -> None:
    data = load_clinical(n_samples=20000, seed=0)
    model = HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(data.X, data.y)
    t = time.perf_counter()
    audit = ProxyAudit(model, data.X, data.sensitive, seed=0)
    el = time.perf_counter() - t
    print(f"\nProxyAudit on load_clinical(20000), model without race ({el:.1f} s):\n")
    print("| feature | measure | association | adj. p | aux AUC drop | gap reduction | flagged |")
    print("|---|---|---|---|---|---|---|")
    for _, r in audit.features.sort_values("influence_gap", ascending=False).iterrows():
        print(
            f"| {r.feature} | {r.measure} | {r.association:.3f} | {r.p_adjusted:.2g} | "
            f"{r.aux_importance:.3f} | {r.influence_gap:.4f} ± {r.influence_gap_se:.4f} | "
            f"{'yes' if r.flagged else ''} |"
        )
    p, inf = audit.predictability, audit.influence
    print(
        f"\nrace from features: AUC {p['auc']:.3f} vs null {p['null_mean']:.3f} ± "
        f"{p['null_sd']:.3f} (p = {p['p_value']:.3f}, {p['n_permutations']} permutations); "
        f"flip effect {audit.flip['effect']:.4f}; model gap {inf['gap']:.4f}, of which the "
        f"proxies carry {inf['proxy_gap_reduction']:.4f} ({inf['share']:.0%}); proxies = "
        f"{audit.proxies}"
    )


def _with_race(d):
    X = d.X.assign(
        race_B=(d.sensitive["race"] == "B").astype(float),
        lactate_missing=d.X["lactate"].isna().astype(float),
    )
    X["lactate"] = X["lactate"].fillna(1.5)
    return X


def neutralization() -> None:
    train, test = load_clinical(n_samples=20000, seed=0), load_clinical(n_samples=20000, seed=1)
    Xtr, Xte = _with_race(train), _with_race(test)
    model = HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(Xtr, train.y)
    neutral = neutralize(model, "race_B", data=Xtr)
    rep = neutral.report(Xte, y=test.y)
    blind = HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(
        Xtr.drop(columns="race_B"), train.y
    )
    p_blind = blind.predict_proba(Xte.drop(columns="race_B"))[:, 1]
    s = test.sensitive["race"].to_numpy()
    gap = lambda p: p[s == "B"].mean() - p[s == "A"].mean()  # noqa: E731
    p_orig = model.predict_proba(Xte)[:, 1]
    p_neut = neutral.predict(Xte)[:, 1]
    print("\nNeutralization (train 20000, test 20000):\n")
    print("| model | test AUC | mean B - mean A | flip effect |")
    print("|---|---|---|---|")
    print(f"| trained with race | {roc_auc_score(test.y, p_orig):.4f} | {gap(p_orig):.4f} | "
          f"{rep.direct_effect_before.mean():.4f} |")  # fmt: skip
    print(f"| neutralized (population) | {rep.auc_after:.4f} | {gap(p_neut):.4f} | 0 |")
    print(f"| trained without race | {roc_auc_score(test.y, p_blind):.4f} | {gap(p_blind):.4f} "
          "| n/a |")  # fmt: skip
    print(f"\nwithin-group rank correlation: {rep.within_group_rank_correlation.round(4)}")


def invariance() -> None:
    train, test = load_clinical(n_samples=6000, seed=2), load_clinical(n_samples=20000, seed=3)
    est = InvariantMLPClassifier(
        sensitive_column="race_B", proxies=["zip_region", "income"], epochs=200
    )
    for penalty in ("counterfactual", "mmd"):
        t = time.perf_counter()
        curve = invariance_sweep(
            _with_race(train), train.y, train.sensitive["race"],
            weights=[0, 0.3, 1, 3, 10, 30], estimator=est.set_params(
                penalty=penalty, batch_size=None if penalty == "counterfactual" else 512
            ),
            X_test=_with_race(test), y_test=test.y, sensitive_test=test.sensitive["race"],
            threshold=0.25, seed=0,
        )  # fmt: skip
        el = time.perf_counter() - t
        print(f"\nInvariance sweep, {penalty} penalty ({el:.0f} s; held-out n=20000, "
              f"threshold 0.25):\n")  # fmt: skip
        print("| weight | AUC | accuracy | DP difference | score gap | counterfactual gap |")
        print("|---|---|---|---|---|---|")
        for _, r in curve.to_frame().iterrows():
            print(f"| {r.weight:g} | {r.auc:.4f} | {r.accuracy:.4f} | {r.dp_difference:.4f} | "
                  f"{r.score_gap:.4f} | {r.counterfactual_gap:.4f} |")  # fmt: skip
        print(f"\nDP difference monotone: {curve.is_monotone('dp_difference')}; "
              f"score gap monotone: {curve.is_monotone('score_gap')}")  # fmt: skip


if __name__ == "__main__":
    torch.set_num_threads(1)
    with threadpool_limits(1):
        group_metrics_vs_fairlearn()
        proxy_audit()
        neutralization()
        invariance()
