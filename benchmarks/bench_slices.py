"""Benchmark of assay.slices.find_slices (issue 10).

Arms:
1. planted: a conjunction of 1-3 predicates covering 2-10% of rows (share drawn uniformly;
   thresholds drawn to match it and rounded to readable values, so they do not sit on the
   searcher's bin edges); inside it the labels are flipped with probability p. The labels
   follow a linear rule with 10% uniform label noise and the model predicts the rule, so it
   is 90% accurate everywhere else; its 0/1 errors are searched (12,000 rows, 6 features,
   default find_slices settings). Success: top-1 reported slice has row-set Jaccard >= 0.8
   with the planted one.
2. null: the same data with nothing planted. Share of runs reporting any slice (target <=
   alpha = 0.05).
3. speed vs the ``sliceline`` package (DataDome) on the same binned data (single bins, no
   ranges), same score (SliceLine, alpha 0.95), min_sup, k and max level: top slices and time.

Run: .venv/bin/python benchmarks/bench_slices.py [--runs 100]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from assay.slices import find_slices
from assay.slices._binning import bin_features
from assay.slices._search import lattice_search


def make_data(seed: int, flip: float, *, n: int = 12000, plant: bool = True):
    """Data, labels, model predictions and a planted conjunction (see the module docstring).

    The planted conjunction has 1, 2 or 3 predicates (cycling with the seed): level 1 is one
    threshold on a continuous feature; level 2 a category and a threshold; level 3 two
    categories and a threshold, or a category and two thresholds. Thresholds are drawn so that
    the conjunction covers a share drawn uniformly from 2-10% of the rows (rounded to readable
    values, so they do not fall on the searcher's bin edges); a draw outside 2-10% after
    rounding is redrawn.
    """
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "cat_a": rng.integers(0, 8, n),
            "cat_b": rng.integers(0, 5, n),
            "cat_c": rng.choice(["u", "v", "w", "x"], n),
            "num_a": rng.uniform(0, 100, n),
            "num_b": rng.normal(50, 10, n),
            "num_c": rng.exponential(10, n),
        }
    )
    z = 0.04 * (X["num_a"] - 50) + 0.15 * (X["num_b"] - 50) + 0.5 * (X["cat_b"] - 2)
    # a clean linear rule with 10% uniform label noise: a well-specified model errs about
    # equally often everywhere, so the only failure slice is the planted one
    clean = (z.to_numpy() > 0).astype(int)
    y = np.where(rng.random(n) < 0.1, 1 - clean, clean)
    cats = {"cat_a": list(range(8)), "cat_b": list(range(5)), "cat_c": ["u", "v", "w", "x"]}
    decimals = {"num_a": 0, "num_b": 0, "num_c": 1}
    level = 1 + seed % 3
    while True:
        target = rng.uniform(0.02, 0.10)
        if level == 1:
            n_cat, n_num = 0, 1
        elif level == 2:
            n_cat, n_num = 1, 1
        else:
            n_cat, n_num = (2, 1) if rng.random() < 0.5 else (1, 2)
        preds = []
        mask = np.ones(n, bool)
        for f in rng.choice(list(cats), n_cat, replace=False):
            v = cats[f][rng.integers(len(cats[f]))]
            preds.append((str(f), "==", v))
            mask &= X[f].to_numpy() == v
        nums = [str(f) for f in rng.choice(list(decimals), n_num, replace=False)]
        # share each threshold keeps of the rows left by the categories, so that all together
        # cover the target share
        keep = (target / mask.mean()) ** (1 / n_num)
        if keep > 0.9:
            continue
        for f in nums:
            col = X[f].to_numpy()
            op = "<" if rng.random() < 0.5 else ">="
            q = keep if op == "<" else 1 - keep
            t = round(float(np.quantile(col[mask], q)), decimals[f])
            preds.append((f, op, t))
            mask &= col < t if op == "<" else col >= t
        if 0.02 <= mask.mean() <= 0.10:
            break
    if plant:
        flipit = mask & (rng.random(n) < flip)
        y = np.where(flipit, 1 - y, y)
    # the model has learned the clean rule (it is good on average: 90% accurate everywhere
    # outside the planted slice); its errors are the flipped labels
    return X, y, clean, mask, preds


def jaccard(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


def planted_arm(runs: int, flip: float) -> dict:
    ok, cover, times = 0, [], []
    for r in range(runs):
        X, y, pred, mask, _ = make_data(r, flip)
        t = time.perf_counter()
        rep = find_slices(X, y, pred, seed=r)
        times.append(time.perf_counter() - t)
        cover.append(mask.mean())
        if rep.slices and jaccard(rep.slices[0].rows, mask) >= 0.8:
            ok += 1
    return {"flip": flip, "runs": runs, "top1_jaccard>=0.8": ok / runs,
            "coverage": f"{min(cover):.3f}-{max(cover):.3f}",
            "median_s": float(np.median(times))}  # fmt: skip


def null_arm(runs: int) -> dict:
    hits = 0
    for r in range(runs):
        X, y, pred, _, _ = make_data(10_000 + r, 0.0, plant=False)
        hits += bool(find_slices(X, y, pred, seed=r).slices)
    return {"runs": runs, "share_with_any_slice": hits / runs}


def speed(n: int, d: int, level: int, reps: int = 1) -> dict:
    from sliceline.slicefinder import Slicefinder

    rng = np.random.default_rng(0)
    X = np.column_stack(
        [rng.integers(0, 8, n) if j % 2 == 0 else rng.normal(size=n) for j in range(d)]
    ).astype(float)
    e = (rng.random(n) < 0.1 + 0.3 * ((X[:, 0] == 2) & (X[:, 3] < 0))).astype(float)
    b = bin_features(X, n_bins=10, max_categories=12, ranges=False)
    ms = int(0.01 * n)
    params = np.array([e.mean(), 0.95, n])
    lattice_search(
        b,
        e[:, None],
        rows=None,
        max_level=level,
        min_support=ms,
        k=5,
        mode="sliceline",
        params=params,
    )  # fmt: skip  (compile)
    t = time.perf_counter()
    for _ in range(reps):
        ours = lattice_search(b, e[:, None], rows=None, max_level=level, min_support=ms, k=5,
                              mode="sliceline", params=params)  # fmt: skip
    t_ours = (time.perf_counter() - t) / reps
    Slicefinder(alpha=0.95, k=5, max_l=level, min_sup=ms, verbose=False).fit(
        b.codes.T[:500], e[:500]
    )  # warm numba caches
    t = time.perf_counter()
    sf = Slicefinder(alpha=0.95, k=5, max_l=level, min_sup=ms, verbose=False).fit(b.codes.T, e)
    t_sl = time.perf_counter() - t
    theirs = []
    for row in sf.top_slices_:
        items = []
        for f, v in enumerate(row):
            if v is not None:
                items.append(int(np.flatnonzero((b.item_feature == f) & (b.item_lo == v))[0]))
        theirs.append(tuple(sorted(items)))
    same = [set(x) for x in ours["items"]] == [set(x) for x in theirs]
    scores_ok = np.allclose(ours["score"], [s["slice_score"] for s in sf.top_slices_statistics_])
    return {"n": n, "d": d, "level": level, "assay_s": t_ours, "sliceline_s": t_sl,
            "speedup": t_sl / t_ours, "same_top_slices": bool(same and scores_ok),
            "top1": " AND ".join(b.labels[i] for i in ours["items"][0])}  # fmt: skip


def full_search_time(n: int = 100_000, d: int = 20, level: int = 3) -> dict:
    rng = np.random.default_rng(0)
    X = np.column_stack(
        [rng.integers(0, 8, n) if j % 2 == 0 else rng.normal(size=n) for j in range(d)]
    ).astype(float)
    e = (rng.random(n) < 0.1 + 0.3 * ((X[:, 0] == 2) & (X[:, 3] < 0))).astype(float)
    find_slices(X[:2000], errors=e[:2000], seed=0)
    t = time.perf_counter()
    rep = find_slices(X, errors=e, max_level=level, seed=0)
    return {"n": n, "d": d, "level": level, "find_slices_s": time.perf_counter() - t,
            "evaluated": rep.params["n_evaluated"], "top1": rep.slices[0].description}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=100)
    args = ap.parse_args()
    print("## planted arm")
    for flip in (0.1, 0.2, 0.3, 0.4):
        print(planted_arm(args.runs, flip))
    print("## null arm")
    print(null_arm(args.runs))
    print("## speed vs sliceline")
    for n, d, level in ((20_000, 10, 3), (50_000, 20, 2)):
        print(speed(n, d, level))
    print("## find_slices end to end (ranges on, zscore)")
    print(full_search_time())


if __name__ == "__main__":
    main()
