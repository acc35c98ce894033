"""ProxyAudit: planted proxies found on the demo data, nothing flagged on null data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from threadpoolctl import threadpool_limits

from assay.datasets import load_clinical
from assay.errors import InvalidInputError
from assay.fairness import ProxyAudit
from assay.fairness._proxy import _correlation_ratio, _cramers_v, adjust_pvalues


@pytest.fixture(autouse=True)
def _one_thread():
    # OpenMP in HistGradientBoosting slows down badly on a shared 2-core machine
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def clinical_audit():
    with threadpool_limits(1):
        data = load_clinical(n_samples=4000, seed=3)
        model = HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(data.X, data.y)
        audit = ProxyAudit(model, data.X, data.sensitive, n_permutations=19, n_repeats=3, seed=0)
    return audit


def test_flags_planted_proxies_on_demo_data(clinical_audit):
    a = clinical_audit
    assert set(a.proxies) == {"zip_region", "income"}
    # race is predictable from the features (zip alone gives ~0.9), the null sits at 0.5
    pred = a.predictability
    assert pred["auc"] > 0.8
    assert abs(pred["null_mean"] - 0.5) < 0.03
    assert pred["p_value"] == pytest.approx(1 / 20)  # the smallest attainable with 19 perms
    # race is not an input: the flip test is exactly zero, yet the proxies carry the gap
    assert a.flip["applicable"] is False and a.flip["effect"] == 0.0
    inf = a.influence
    assert inf["gap"] > 0.02
    assert inf["proxy_gap_reduction"] > 10 * inf["proxy_gap_reduction_se"]
    assert inf["proxy_gap_reduction"] > 0.5 * inf["gap"]
    t = a.features.set_index("feature")
    assert t.loc["zip_region", "measure"] == "cramers_v"
    assert t.loc["income", "measure"] == "correlation_ratio"
    assert t.loc["zip_region", "influence_gap"] > t.loc["age", "influence_gap"] + 0.01
    assert t.loc["zip_region", "verdict"].startswith("zip_region: proxy of race")
    assert "no evidence" in t.loc["pneumonia", "verdict"]
    d = a.to_dict()
    json.dumps(d)
    assert d["proxies"] == a.proxies


def test_flip_test_when_attribute_is_an_input():
    data = load_clinical(n_samples=2000, seed=4)
    X = data.X.assign(race_B=(data.sensitive["race"] == "B").astype(float))
    model = HistGradientBoostingClassifier(max_iter=60, random_state=0).fit(X, data.y)
    a = ProxyAudit(
        model, X, data.sensitive["race"], sensitive_column="race_B", n_permutations=9,
        n_repeats=2, seed=1,
    )  # fmt: skip
    assert a.flip["applicable"] is True
    # oracle: the mean absolute change when race_B is flipped for every row
    X0, X1 = X.assign(race_B=0.0), X.assign(race_B=1.0)
    ref = np.mean(np.abs(model.predict_proba(X1)[:, 1] - model.predict_proba(X0)[:, 1]))
    assert a.flip["effect"] == pytest.approx(ref, rel=1e-12)
    assert a.flip["effect"] > 0.01
    assert "race_B" not in a.features["feature"].tolist()


def _null_dataset(seed: int, n: int = 300):
    rng = np.random.default_rng(seed)
    s = rng.choice(["a", "b", "c"], n)
    X = np.column_stack([rng.normal(size=(n, 6)), rng.integers(0, 4, n), rng.lognormal(size=n)])
    y = (X[:, 0] + rng.normal(size=n) > 0).astype(int)
    return X, y, s


def test_nothing_flagged_on_null_data_at_nominal_rate():
    # 20 independent null datasets. alpha = 0.05 is split between the pairwise family (BH
    # controls the family-wise rate under the complete null) and the joint permutation test
    # (39 permutations: p = 0.025 attainable), so each dataset has any flag with probability
    # <= 0.05 and the count is at most Binomial(20, 0.05): P(>= 4) = 0.016. min_effect=0 so
    # that only the p-values decide.
    flagged = 0
    for seed in range(20):
        X, y, s = _null_dataset(seed, n=200)
        model = LogisticRegression().fit(X, y)
        a = ProxyAudit(
            model, X, s, min_effect=0.0, auxiliary=GaussianNB(),
            n_permutations=39, n_repeats=2, seed=seed,
        )  # fmt: skip
        flagged += bool(a.proxies)
    assert flagged <= 3


def test_pairwise_measures_match_independent_oracles():
    rng = np.random.default_rng(0)
    s = rng.integers(0, 3, 500)
    xc = (rng.random(500) < 0.3 + 0.2 * s).astype(float) + (rng.random(500) < 0.5)
    v, p, _ = _cramers_v(xc, s, 3)
    table = pd.crosstab(xc, s).to_numpy()
    assert v == pytest.approx(stats.contingency.association(table, method="cramer"), rel=1e-12)
    assert p == pytest.approx(stats.chi2_contingency(table, correction=False).pvalue, rel=1e-10)
    x = rng.normal(size=500) + 0.3 * s
    eta, p, _ = _correlation_ratio(x, s, 3)
    # eta^2 is the R^2 of regressing x on group dummies; the F-test is scipy's one-way ANOVA
    D = np.eye(3)[s]
    resid = x - D @ np.linalg.lstsq(D, x, rcond=None)[0]
    r2 = 1 - resid @ resid / np.sum((x - x.mean()) ** 2)
    assert eta**2 == pytest.approx(r2, rel=1e-10)
    assert p == pytest.approx(stats.f_oneway(*(x[s == g] for g in range(3))).pvalue, rel=1e-8)


def test_holm_and_bh_adjustments():
    p = np.array([0.01, 0.04, 0.03, 0.5, 0.001])
    # Holm by definition: sorted p_(i) * (m - i + 1), running maximum, capped at 1
    srt = np.sort(p)
    m = p.size
    ref_sorted = np.minimum(np.maximum.accumulate(srt * (m - np.arange(m))), 1)
    ref = ref_sorted[np.argsort(np.argsort(p))]
    np.testing.assert_allclose(adjust_pvalues(p, "holm"), ref)
    np.testing.assert_allclose(adjust_pvalues(p, "bh"), stats.false_discovery_control(p))
    with pytest.raises(InvalidInputError, match="correction must be one of"):
        adjust_pvalues(p, "fdr")


def test_bad_inputs():
    X, y, s = _null_dataset(0, n=60)
    model = LogisticRegression().fit(X, y)
    s_missing = s.astype(object)
    s_missing[4] = None
    with pytest.raises(InvalidInputError, match="missing value"):
        ProxyAudit(model, X, s_missing)
    with pytest.raises(InvalidInputError, match="at least two groups"):
        ProxyAudit(model, X, np.zeros(60))
    with pytest.raises(InvalidInputError, match="sensitive_column 'race'"):
        ProxyAudit(model, X, s, sensitive_column="race")


def test_rank_auc_matches_sklearn():
    from sklearn.metrics import roc_auc_score

    from assay.fairness._proxy import _auc

    rng = np.random.default_rng(5)
    labels = rng.integers(0, 3, 300)
    proba = rng.dirichlet(np.ones(3), 300)
    ref = roc_auc_score(labels, proba, multi_class="ovr", labels=[0, 1, 2])
    assert _auc(labels, proba) == pytest.approx(ref, rel=1e-12)
    b = rng.integers(0, 2, 300)
    q = np.round(proba[:, 0], 1)  # ties
    p2 = np.column_stack([1 - q, q])
    assert _auc(b, p2) == pytest.approx(roc_auc_score(b, p2[:, 1]), rel=1e-12)


def test_plot_proxy_influence(clinical_audit):
    import matplotlib

    matplotlib.use("Agg")
    from assay.plot import plot_proxy_influence

    ax = plot_proxy_influence(clinical_audit)
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == "zip_region"  # largest on top
