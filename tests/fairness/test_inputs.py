"""Bad inputs to GroupMetrics, ProxyAudit and the fairness audit section (issue 19)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from assay.auditing._fairness import fairness_section
from assay.errors import AssayWarning, InvalidInputError, ModelError
from assay.fairness import GroupMetrics, ProxyAudit
from assay.fairness._proxy import gap_change_words, predictability_sentence

S = np.array(["a", "b"] * 10)
YT = np.array([0, 1, 1, 0, 1] * 4)
YP = np.array([1, 1, 0, 0, 1] * 4)


def _gm(y_true, y_pred, **kw):
    return GroupMetrics(metrics=["selection_rate", "true_positive_rate"], y_true=y_true,
                        y_pred=y_pred, sensitive_features=kw.pop("s", S), **kw)  # fmt: skip


def test_nan_labels_or_predictions_raise_with_count_and_rows():
    yt = YT.astype(float)
    yt[[2, 7]] = np.nan
    with pytest.raises(InvalidInputError, match=r"y_true has 2 missing .*first rows \[2, 7\]"):
        _gm(yt, YP)
    yp = YP.astype(object)
    yp[5] = None
    with pytest.raises(InvalidInputError, match=r"y_pred has 1 missing .*\[5\]"):
        _gm(YT, yp)


def test_probabilities_as_predictions_raise_and_suggest_a_threshold():
    proba = np.linspace(0.05, 0.95, 20)
    with pytest.raises(InvalidInputError, match=r"look like probabilities.*>= 0.5"):
        _gm(YT, proba)
    # scores are fine for the score metric
    gm = GroupMetrics(metrics="mean_prediction", y_true=YT, y_pred=proba, sensitive_features=S)
    assert gm.by_group["mean_prediction"].notna().all()


def test_label_sets_that_do_not_match_raise_naming_both():
    with pytest.raises(InvalidInputError, match=r"y_true \{'0', '1'\} and of y_pred \{0, 1\}"):
        _gm(YT.astype(str), YP)
    with pytest.raises(InvalidInputError, match=r"pos_label=1 occurs neither.*\{2, 3\}"):
        _gm(YT + 2, YP + 2)
    yes = np.where(YT == 1, "yes", "no")
    yes_p = np.where(YP == 1, "yes", "no")
    with pytest.raises(InvalidInputError, match=r"pos_label='yes'"):
        _gm(yes, yes_p)
    # the suggested fix works and equals the numeric labels
    a = _gm(yes, yes_p, pos_label="yes").by_group
    b = _gm(YT, YP).by_group
    pd.testing.assert_frame_equal(a, b)
    c = _gm(YT + 2, YP + 2, pos_label=3).by_group
    pd.testing.assert_frame_equal(c, b)


def test_one_group_warns_and_compare_says_so():
    with pytest.warns(AssayWarning, match="single group"):
        gm = _gm(YT, YP, s=np.full(20, "a"))
    assert np.isnan(gm.difference().iloc[0, 0])
    cmp = gm.compare(seed=0)
    assert cmp.pairs.empty and cmp.tests.empty
    assert any("only one group" in n for n in cmp.notes)
    json.dumps(cmp.to_dict())


def test_single_row_group_is_compared_or_excluded_with_a_reason_never_a_crash():
    s = np.array(["a"] * 10 + ["b"] * 9 + ["c"])
    with pytest.raises(InvalidInputError, match=r"single row \{'c': 1\}"):
        _gm(YT, YP, s=s, n_bootstrap=50)
    cmp = _gm(YT, YP, s=s).compare(seed=0, min_count=2)
    assert {(e["group"], e["n"]) for e in cmp.excluded} >= {("c", 1)}
    assert all("fewer than 2 rows" in e["reason"] or "no rows" in e["reason"]
               for e in cmp.excluded)  # fmt: skip
    assert set(cmp.pairs.group_a) | set(cmp.pairs.group_b) == {"a", "b"}


def test_proxy_audit_with_a_model_returning_nan_raises():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    s = rng.integers(0, 2, 200)

    def model(Z):
        out = 1 / (1 + np.exp(-Z[:, 0]))
        out[::7] = np.nan
        return out

    with pytest.raises(ModelError, match=r"NaN and 0 infinite value"):
        ProxyAudit(model, X, s, n_permutations=0, seed=0)


def _audit_data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    y = (rng.random(n) < 1 / (1 + np.exp(-X[:, 0]))).astype(int)
    return X, y, LogisticRegression().fit(X, y)


def test_audit_lists_a_one_row_group_and_does_not_crash():
    from assay.model import wrap

    X, y, model = _audit_data()
    s = np.where(np.arange(400) % 2 == 0, "A", "B").astype(object)
    s[5] = "C"  # one row
    sec = fairness_section(model, wrap(model), X, y, ["x0", "x1"], s, seed=0)
    assert sec["data"]["excluded_groups"] == {"C": {"rows": 1, "reason": "fewer than 10 rows"}}
    assert "C left out of the tests" in sec["verdict"]
    assert [r[0] for r in sec["tables"][0]["rows"]] == ["A", "B", "C"]
    json.dumps(sec)


def test_audit_with_one_group_says_so():
    from assay.model import wrap

    X, y, model = _audit_data()
    sec = fairness_section(model, wrap(model), X, y, ["x0", "x1"], np.full(400, "A"), seed=0)
    assert sec["status"] == "warning"
    assert sec["verdict"].startswith("Nothing to compare: sensitive has a single group (A)")


def test_audit_multiclass_with_float_labels_uses_the_model_class_names():
    from assay.model import wrap

    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 2))
    y = np.digitize(X[:, 0] + 0.3 * rng.normal(size=600), [-0.5, 0.5]).astype(float)
    model = LogisticRegression().fit(X, y)
    s = rng.choice(["A", "B"], 600)
    with warnings.catch_warnings():
        warnings.simplefilter("error", AssayWarning)
        sec = fairness_section(model, wrap(model), X, y, ["x0", "x1"], s, seed=0)
    acc = [row[2] for row in sec["tables"][0]["rows"]]
    assert min(acc) > 0.6  # labels matched (a mismatch would read accuracy 0)
    assert sec["status"] in ("ok", "warning")


def test_words_follow_the_evidence():
    assert predictability_sentence("sex", {"auc": 0.43, "p_value": 0.8}, 0.05).startswith(
        "sex is not predictable from the features"
    )
    assert "may be weakly" in predictability_sentence("sex", {"auc": 0.6, "p_value": 0.04}, 0.05)
    assert predictability_sentence("sex", {"auc": 0.7, "p_value": 0.01}, 0.05).startswith(
        "sex is predictable"
    )
    assert gap_change_words(-0.0242) == "would widen the gap by 0.0242"
    assert gap_change_words(0.05, 0.01).startswith("would shrink the gap by 0.05")


def test_pairwise_verdict_between_alpha_half_and_alpha_is_not_no_evidence():
    from scipy.stats import f_oneway

    s = np.random.default_rng(5).integers(0, 2, 600)
    for seed, band in ((4, "between"), (0, "above")):  # ANOVA p = 0.034 and 0.056
        x = np.random.default_rng(seed).normal(size=600) + 0.12 * s
        p = f_oneway(x[s == 0], x[s == 1]).pvalue
        audit = ProxyAudit(None, x[:, None], s, n_permutations=0, min_effect=0.0,
                           auxiliary=LogisticRegression(), seed=0)  # fmt: skip
        row = audit.features.iloc[0]
        assert row.p_adjusted == pytest.approx(p, rel=1e-6)  # one feature: nothing to adjust
        if band == "between":
            assert 0.025 <= p < 0.05
            assert "not significant at the pairwise level alpha/2" in row.verdict
            assert "no evidence" not in row.verdict
        else:
            assert p >= 0.05 and "no evidence of association" in row.verdict
        assert not row.flagged


def test_compare_within_control_groups_and_holm_over_all_tests():
    rng = np.random.default_rng(0)
    n = 2000
    site = rng.choice(["s1", "s2"], n)
    s = rng.choice(["f", "m"], n)
    rate = np.where((site == "s2") & (s == "f"), 0.3, 0.5)  # a gap only at site s2
    yp = (rng.random(n) < rate).astype(int)
    yt = (rng.random(n) < 0.5).astype(int)
    gm = GroupMetrics(metrics=["selection_rate", "accuracy"], y_true=yt, y_pred=yp,
                      sensitive_features=s, control_features=site)  # fmt: skip
    cmp = gm.compare(seed=0)
    assert len(cmp.tests) == 4  # 2 metrics x 2 sites, one Holm family
    from assay.fairness._compare import adjust_pvalues

    np.testing.assert_allclose(cmp.tests.p_adjusted, adjust_pvalues(cmp.tests.p_value, "holm"))
    sig = cmp.significant()
    assert ("s2", "selection_rate") in set(zip(sig.control, sig.metric, strict=True))
    assert "s1" not in set(sig[sig.metric == "selection_rate"].control)
    row = cmp.pairs.set_index(["control", "metric"]).loc[("s2", "selection_rate")]
    assert row.group_a == "f" and row.estimate < 0 and row.ci_high < 0
    assert row.four_fifths == "fail"
    d = cmp.to_dict()
    json.dumps(d)
    assert d["kind"] == "GroupComparison" and len(d["pairs"]) == 4


def test_zero_counts_give_bounded_estimates_inside_their_intervals():
    s = np.repeat(["a", "b"], 30)
    yp = np.r_[np.zeros(30, int), np.r_[np.ones(10, int), np.zeros(20, int)]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cmp = GroupMetrics(metrics="selection_rate", y_true=yp, y_pred=yp,
                           sensitive_features=s).compare(seed=0)  # fmt: skip
    row = cmp.pairs.iloc[0]
    assert row.ratio == 0.0 and row.ratio_ci_low == 0.0 < row.ratio_ci_high
    assert row.estimate == pytest.approx(-1 / 3)
    assert row.ci_low <= row.estimate <= row.ci_high
    assert row.four_fifths == "fail"
    swapped = GroupMetrics(metrics="selection_rate", y_true=yp, y_pred=yp,
                           sensitive_features=np.where(s == "a", "z", "b")).compare(seed=0)
    assert swapped.pairs.iloc[0].ratio == np.inf
    d = swapped.to_dict()
    assert d["pairs"][0]["ratio"] is None  # inf is not JSON
    json.dumps(d, allow_nan=False)
