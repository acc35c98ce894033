"""Tests of assay.slices: search against brute force, statistics against hand computations,
planted slices recovered, nothing reported on null data."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from assay.errors import InvalidInputError
from assay.slices import SliceReport, _refine, find_slices, plot_slices
from assay.slices import _stats as st
from assay.slices._binning import bin_features
from assay.slices._search import lattice_search


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def _planted(seed: int, n: int = 6000, flip: float = 0.3):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "region": rng.integers(0, 6, n),
            "age": rng.uniform(0, 100, n).round(),
            "score": rng.normal(size=n),
            "kind": rng.choice(["a", "b", "c"], n),
        }
    )
    planted = (X["region"] == 2).to_numpy() & (X["age"] < 40).to_numpy()
    base = rng.random(n) < 0.1
    errors = np.where(planted, rng.random(n) < 0.1 + flip, base).astype(float)
    return X, errors, planted


# --------------------------------------------------------------------------- search


def _brute_force(binned, e, *, level, min_support, mode, params, k):
    out = []
    F = binned.item_feature
    n = e.size
    for lev in range(1, level + 1):
        for combo in itertools.combinations(range(len(binned.labels)), lev):
            if len(set(F[list(combo)])) < lev:
                continue
            m = binned.mask(combo)
            s, se = int(m.sum()), float(e[m].sum())
            if s < min_support or se <= 0:
                continue
            if mode == "zscore":
                sc = (se - s * params[0]) / (params[1] * np.sqrt(s))
            else:
                a = params[1]
                sc = a * (se / s / params[0] - 1) - (1 - a) * (n / s - 1)
            if sc > 0:
                out.append((sc, combo))
    out.sort(key=lambda t: (-t[0], len(t[1]), t[1]))
    return out[:k]


@pytest.mark.parametrize("mode", ["zscore", "sliceline"])
@pytest.mark.parametrize("binary", [True, False])
def test_search_matches_brute_force(mode, binary):
    # exact search: pruning must never drop a slice of the true top k (brute force oracle)
    rng = np.random.default_rng(1)
    n = 1500
    X = np.column_stack(
        [rng.integers(0, 4, n), rng.normal(size=n), rng.integers(0, 3, n), rng.uniform(size=n)]
    )
    X[rng.random(n) < 0.1, 1] = np.nan
    bad = (X[:, 0] == 2) & (X[:, 3] < 0.3)
    if binary:
        e = (rng.random(n) < 0.1 + 0.4 * bad).astype(float)
    else:
        e = rng.exponential(1 + 2 * bad)
    b = bin_features(X, n_bins=5, max_categories=6, ranges=True)
    params = [e.mean(), e.std()] if mode == "zscore" else [e.mean(), 0.9, n]
    for level in (1, 2, 3):
        got = lattice_search(b, e[:, None], rows=None, max_level=level, min_support=20, k=8,
                             mode=mode, params=np.array(params))  # fmt: skip
        want = _brute_force(b, e, level=level, min_support=20, mode=mode, params=params, k=8)
        np.testing.assert_allclose(got["score"], [w[0] for w in want], rtol=1e-10)
        assert got["items"] == [w[1] for w in want]
        for items, size in zip(got["items"], got["size"], strict=True):
            assert size == b.mask(items).sum()


def test_binning_readable_and_missing():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "age": 18 + np.floor(73 * rng.beta(2, 2, 2000)),
            "z": rng.normal(size=2000),
            "color": pd.Categorical(rng.choice(["red", "blue"], 2000)),
            "lab": np.where(rng.random(2000) < 0.3, np.nan, rng.normal(size=2000)),
        }
    )
    b = bin_features(X, n_bins=10, max_categories=12, ranges=True)
    # boundaries of a standard normal are rounded to one decimal, ages to whole years
    assert all(abs(v * 10 - round(v * 10)) < 1e-9 for v in b.edges["z"])
    assert all(v == round(v) for v in b.edges["age"])
    assert "color = red" in b.labels and "lab is missing" in b.labels
    j = b.labels.index("lab is missing")
    np.testing.assert_array_equal(b.mask([j]), X["lab"].isna().to_numpy())
    # every item's mask matches its predicate
    for i, (f, op, v) in enumerate(b.predicates):
        col = X[f]
        m = b.mask([i])
        if op == "<":
            np.testing.assert_array_equal(m, (col < v).to_numpy())
        elif op == ">=":
            np.testing.assert_array_equal(m, (col >= v).to_numpy())
        elif op == "in":
            np.testing.assert_array_equal(m, ((col >= v[0]) & (col < v[1])).to_numpy())
        elif op == "=":
            np.testing.assert_array_equal(m, (col == v).to_numpy())


# --------------------------------------------------------------------------- statistics


def test_bh_matches_scipy_and_hand():
    p = np.array([0.01, 0.04, 0.03, 0.20])
    # hand: sorted 0.01, 0.03, 0.04, 0.20 -> p*m/rank = 0.04, 0.06, 0.0533, 0.20; monotone
    # from the top: 0.04, 0.0533, 0.0533, 0.20 -> back to input order
    np.testing.assert_allclose(st.benjamini_hochberg(p), [0.04, 0.16 / 3, 0.16 / 3, 0.20])
    q = np.random.default_rng(0).random(50)
    np.testing.assert_allclose(st.benjamini_hochberg(q), stats.false_discovery_control(q))


def test_fisher_hand_computed():
    # inside: 3 errors of 3; outside: 0 of 3. Hypergeometric: P(X >= 3) with 3 errors in 6
    # rows and 3 drawn = 1 / C(6, 3) = 0.05
    p = st.test_greater(np.ones(3), np.zeros(3), binary=True)
    assert p == pytest.approx(1 / 20, rel=1e-12)
    # inside 2/3, outside 1/3: P(X >= 2) = [C(3,2)C(3,1) + 1] / 20 = 10/20
    p = st.test_greater(np.array([1, 1, 0.0]), np.array([1, 0, 0.0]), binary=True)
    assert p == pytest.approx(0.5, rel=1e-12)


def test_welch_hand_computed():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    y = np.array([0.0, 0.5, 1.0])
    vx, vy = x.var(ddof=1) / 4, y.var(ddof=1) / 3
    t = (x.mean() - y.mean()) / np.sqrt(vx + vy)
    dof = (vx + vy) ** 2 / (vx**2 / 3 + vy**2 / 2)
    assert st.test_greater(x, y, binary=False) == pytest.approx(stats.t.sf(t, dof), rel=1e-10)
    lo, hi = st.welch_interval(x, y, 0.9)
    half = stats.t.ppf(0.95, dof) * np.sqrt(vx + vy)
    assert (lo, hi) == pytest.approx((2.0 - half, 2.0 + half), rel=1e-10)


def test_wilson_newcombe_hand_computed():
    # Wilson 95% for 8/10 (Newcombe 1998, table I): 0.4902 to 0.9433
    lo, hi = st.wilson_interval(8, 10, 0.95)
    assert (lo, hi) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    # Newcombe 1998 (difference), example (h): 56/70 - 48/80 -> 0.0524 to 0.3339
    lo, hi = st.newcombe_interval(56, 70, 48, 80, 0.95)
    assert (lo, hi) == pytest.approx((0.0524, 0.3339), abs=1e-4)
    assert st.fcr_level(0.05, 2, 10) == pytest.approx(0.99)


# --------------------------------------------------------------------------- find_slices


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_planted_slice_is_top(seed):
    X, errors, planted = _planted(seed)
    rep = find_slices(X, errors=errors, seed=seed)
    assert rep.slices, rep.table()
    top = rep.slices[0]
    assert _jaccard(top.rows, planted) >= 0.8, rep.table()
    assert top.p_adjusted <= 0.05
    assert top.effect_ci[0] > 0
    assert top.metric_inside > top.metric_overall


def test_null_arm_reports_nothing_often():
    # nothing planted: BH over the held-out tests keeps P(any slice reported) <= alpha;
    # with 20 runs, a rate of 0.05 gives >= 4 reports with probability 1.6%
    hits = 0
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        X, _, _ = _planted(seed, n=3000)
        errors = (rng.random(3000) < 0.15).astype(float)
        rep = find_slices(X, errors=errors, seed=seed)
        hits += bool(rep.slices)
    assert hits <= 3


def test_clinical_subgroup_found():
    # the demo data's planted subgroup (zip_region = 7 AND age < 45, ~3% of rows) is where a
    # model trained on the data errs most; it must come out as one slice, thresholds included
    from sklearn.ensemble import HistGradientBoostingClassifier

    from assay.datasets import load_clinical

    d = load_clinical(n_samples=20000, seed=0)
    train = np.arange(20000) < 10000
    model = HistGradientBoostingClassifier(max_iter=60, early_stopping=False, random_state=0)
    model.fit(d.X[train], d.y[train])
    X, y = d.X[~train], d.y[~train]
    rep = find_slices(X, y, model.predict(X), seed=0)
    truth = d.truth["subgroup_mask"][~train]
    best = max(rep.slices, key=lambda s: _jaccard(s.rows, truth))
    assert _jaccard(best.rows, truth) >= 0.9, rep.table()
    assert ("zip_region", "=", 7.0) in best.predicates
    (age,) = [p for p in best.predicates if p[0] == "age"]
    assert age[1] == "<" and 40 <= age[2] <= 50
    assert best.metric_inside > 2 * best.metric_overall


def test_continuous_metric_and_report_shape():
    X, errors, planted = _planted(7)
    rng = np.random.default_rng(7)
    y_true = rng.normal(size=errors.size)
    y_pred = y_true + rng.normal(size=errors.size) * np.where(planted, 3.0, 1.0)
    rep = find_slices(X, y_true, y_pred, metric="squared_error", seed=0)
    assert isinstance(rep, SliceReport)
    assert _jaccard(rep.slices[0].rows, planted) >= 0.8
    d = rep.to_dict()
    json.dumps(d)
    assert d["slices"][0]["rows"] == np.flatnonzero(rep.slices[0].rows).tolist()
    # per half: k = 10 distinct slices, each tested with its sub-conjunctions
    assert 1 <= len(rep.tested) <= 2 * 10 * 7
    for fold in (0, 1):
        t = [c for c in rep.tested if c["fold"] == fold]
        p = np.array([c["p_value"] for c in t])
        w = np.array([c["weight"] for c in t])
        assert w.mean() == pytest.approx(1.0)
        # weighted BH (BH of p / w) over every test of the half, at alpha / 2: reported x 2
        want = np.minimum(1.0, 2 * stats.false_discovery_control(np.minimum(p / w, 1.0)))
        np.testing.assert_allclose([c["p_adjusted"] for c in t], want, rtol=1e-12)
        assert [c["confirmed"] for c in t] == [q <= 0.05 for q in want]
    # unconfirmed leads are listed apart, labelled as such
    assert all(c["status"] == "not confirmed" and not c["confirmed"] for c in rep.candidates)
    assert not {c["description"] for c in rep.candidates} & {s.description for s in rep.slices}
    frame = rep.to_frame()
    assert list(frame["description"]) == [s.description for s in rep.slices]
    line = rep.slices[0].summary(rep.metric)
    assert "squared_error" in line and "% of rows" in line and "p_adj" in line
    # same seed, same report
    rep2 = find_slices(X, y_true, y_pred, metric="squared_error", seed=0)
    assert rep2.to_dict() == d


def test_redundancy_removed_and_kept_on_request():
    X, errors, _ = _planted(3)
    rep = find_slices(X, errors=errors, seed=0)
    raw = find_slices(X, errors=errors, seed=0, redundancy=False)
    assert len(raw.slices) >= len(rep.slices)
    for r in rep.redundant:
        why = r.details.keys() & {"explained_by", "duplicate_of"}
        assert r.contained_in is not None or why
    # no kept slice is a subset of another with the same rows
    for a, b in itertools.combinations(rep.slices, 2):
        assert not np.array_equal(a.rows, b.rows)


def test_fairness_gap_found():
    rng = np.random.default_rng(0)
    n = 8000
    X = pd.DataFrame({"region": rng.integers(0, 5, n), "x": rng.normal(size=n)})
    group = rng.choice(["A", "B"], n)
    y_true = (rng.random(n) < 0.4).astype(int)
    # false positives for group B in region 1 only
    fp_rate = np.where((X["region"] == 1) & (group == "B"), 0.4, 0.1)
    y_pred = np.where(y_true == 1, 1, rng.random(n) < fp_rate).astype(int)
    rep = find_slices(X, y_true, y_pred, fairness=group, fairness_metric="fpr", seed=0)
    assert rep.mode == "fairness"
    assert rep.slices[0].description == "region = 1"
    assert rep.slices[0].effect < 0  # rate(A) - rate(B)
    assert rep.slices[0].details["rates"]["B"] > rep.slices[0].details["rates"]["A"]


def test_plot_runs():
    import matplotlib

    matplotlib.use("Agg")
    X, errors, _ = _planted(0)
    rep = find_slices(X, errors=errors, seed=0)
    ax = plot_slices(rep)
    assert len(ax.get_yticklabels()) == len(rep.slices)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"errors": np.full(100, -1.0)}, "negative"),
        ({"errors": np.zeros(99)}, "99 values"),
        ({"errors": np.zeros(100), "alpha": 2.0}, "alpha"),
        ({"errors": np.zeros(100), "max_level": 0}, "max_level"),
        ({"errors": np.zeros(100), "min_support": -3}, "min_support"),
        ({"y_true": np.zeros(100)}, "y_pred"),
        ({"y_true": np.zeros(100), "y_pred": np.zeros(100), "metric": "bogus"}, "metric"),
        ({"y_true": np.zeros(100), "y_pred": np.zeros(100), "fairness": np.zeros(100)}, "two"),
    ],
)
def test_bad_input(kwargs, match):
    X = np.random.default_rng(0).normal(size=(100, 2))
    with pytest.raises(InvalidInputError, match=match):
        find_slices(X, **kwargs)


# --------------------------------------------------------------------------- refinement


def _off_grid(seed: int, n: int = 8000):
    # planted region = 2 AND age < 37: 37 is no decile edge of a uniform age (those are 10,
    # 20, ...), so the search grid alone can only offer age < 30 or age < 40
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "region": rng.integers(0, 4, n),
            "age": rng.uniform(0, 100, n),
            "score": rng.normal(size=n),
        }
    )
    planted = (X["region"] == 2).to_numpy() & (X["age"] < 37).to_numpy()
    errors = (rng.random(n) < np.where(planted, 0.45, 0.1)).astype(float)
    return X, errors, planted


def test_refinement_finds_off_grid_threshold():
    got, raw = [], []
    for seed in range(3):
        X, errors, planted = _off_grid(seed)
        top = find_slices(X, errors=errors, seed=seed).slices[0]
        got.append(_jaccard(top.rows, planted))
        (age,) = [p for p in top.predicates if p[0] == "age"]
        assert age[1] == "<" and 34 <= age[2] <= 40, top.description
        assert ("region", "=", 2.0) in top.predicates
        plain = find_slices(X, errors=errors, seed=seed, refine=False).slices[0]
        raw.append(_jaccard(plain.rows, planted))
    assert min(got) >= 0.9
    # without refinement the slice is stuck at a grid edge
    assert np.mean(got) > np.mean(raw) + 0.05


def test_from_items_matches_search_masks():
    # a search item and its fine-grid term select exactly the same rows (ranges, end bins,
    # categories, missing values)
    rng = np.random.default_rng(3)
    n = 3000
    X = np.column_stack([rng.integers(0, 5, n), rng.normal(size=n), rng.exponential(size=n)])
    X[rng.random(n) < 0.1, 1] = np.nan
    b = bin_features(X, n_bins=8, max_categories=6, ranges=True, n_fine=40)
    for f, fe in enumerate(b.fine_edges):
        if fe is not None:  # the fine grid refines the search grid
            assert set(b.edges[b.feature_names[f]]) <= set(fe.tolist())
    for i in range(len(b.labels)):
        terms = _refine.from_items(b, (i,))
        np.testing.assert_array_equal(_refine.terms_mask(b, terms), b.mask([i]))
        assert _refine.describe(b, terms)[1] == b.labels[i]
    pair = (0, len(b.labels) - 1)
    np.testing.assert_array_equal(
        _refine.terms_mask(b, _refine.from_items(b, pair)), b.mask(list(pair))
    )


def _refine_case(seed: int, start: list[str], *, threshold: bool = True):
    rng = np.random.default_rng(seed)
    n = 6000
    X = pd.DataFrame({"g": rng.integers(0, 4, n), "x": rng.uniform(0, 10, n)})
    bad = (X["g"] == 1).to_numpy().copy()
    if threshold:
        bad &= (X["x"] < 6).to_numpy()
    e = (rng.random(n) < np.where(bad, 0.4, 0.1)).astype(float)
    b = bin_features(X, n_bins=10, max_categories=6, ranges=True, n_fine=100)
    # start items: "g = 1" and the "x < t" search range with t nearest to the one asked for
    items = []
    for text in start:
        name, op, value = text.split()
        cands = [i for i, p in enumerate(b.predicates) if p[:2] == (name, op)]
        items.append(min(cands, key=lambda i: abs(float(b.predicates[i][2]) - float(value))))
    items = tuple(items)
    out, _ = _refine.refine(
        b, _refine.from_items(b, items), e, np.arange(n), min_support=30, mode="zscore",
        params=np.array([e.mean(), e.std()]), binary=True,
    )  # fmt: skip
    return _refine.describe(b, out)[1], _jaccard(_refine.terms_mask(b, out), bad)


def test_refine_moves_thresholds_and_keeps_needed_predicates():
    # planted g = 1 AND x < 6; from the grid neighbour x < 4 refinement reaches x < 6, and
    # both planted predicates stay (dropping either adds many good rows)
    for seed in range(3):
        text, jac = _refine_case(seed, ["g = 1", "x < 4"])
        assert text.startswith("g = 1 AND x < ") and jac >= 0.9, text


def test_refine_drops_a_needless_predicate():
    # planted g = 1 alone; the cut x < 7 only removes rows that fail like the rest of g = 1,
    # so the nested test drops it
    for seed in range(3):
        text, jac = _refine_case(seed, ["g = 1", "x < 7"], threshold=False)
        assert text == "g = 1", text
        assert jac == 1.0


def test_likelihood_ratio_hand_computed():
    # slice: 10 rows, 6 errors; rest: 90 rows, 9 errors; all: 100 rows, 15 errors
    def ll(k, m):
        return k * np.log(k / m) + (m - k) * np.log(1 - k / m)

    want = ll(6, 10) + ll(9, 90) - ll(15, 100)
    assert _refine.likelihood_ratio(10, 6, 100.0, 15.0) == pytest.approx(want, rel=1e-12)
    # a slice doing better than the rest scores -inf (one-sided)
    assert _refine.likelihood_ratio(10, 0, 100.0, 15.0) == -np.inf


def _toy_slice(rows: np.ndarray, name: str, p: float):
    from assay.slices._result import Slice

    return Slice(
        predicates=[], description=name, rows=rows, support=int(rows.sum()),
        support_share=float(rows.mean()), n_confirmation=0, metric_inside=0.0,
        metric_outside=0.0, metric_overall=0.0, inside_ci=(0.0, 0.0), effect=0.0,
        effect_ci=(0.0, 0.0), lift=1.0, p_value=p, p_adjusted=p, discovery_score=0.0,
        ci_level=0.95,
    )  # fmt: skip


@pytest.mark.parametrize("inner_first", [True, False])
def test_nested_rule_is_symmetric(inner_first):
    # the verdict on a nested pair must not depend on which of the two has the smaller p-value
    from assay.slices._pipeline import remove_redundant

    n = 1000
    outer = _toy_slice(np.arange(n) < 200, "outer", 1e-6 if not inner_first else 1e-5)
    inner = _toy_slice(np.arange(n) < 100, "inner", 1e-5 if not inner_first else 1e-6)
    # case 1: the inner rows do no worse than the rest of the outer slice -> inner redundant
    kept, red = remove_redundant([outer, inner], lambda a, b, c: 0.5, alpha=0.05, drop=True)
    assert [s.description for s in kept] == ["outer"]
    assert red[0].description == "inner" and red[0].contained_in == "outer"

    # case 2: inner is worse than the rest of outer, and that rest is no worse than outside
    def worse_p(a, b, c):
        return 0.001 if c is inner else 0.5

    kept, red = remove_redundant([outer, inner], worse_p, alpha=0.05, drop=True)
    assert [s.description for s in kept] == ["inner"]
    assert red[0].details["explained_by"] == "inner"
    # both kept when told not to drop
    kept, red = remove_redundant([outer, inner], worse_p, alpha=0.05, drop=False)
    assert len(kept) == 2 and not red
