"""neutralize: the direct effect goes, accuracy stays, and other assay tools accept the result."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

import assay
from assay.datasets import load_clinical
from assay.errors import InvalidInputError
from assay.fairness import NeutralizedModel, ProxyAudit, neutralize
from assay.model import ModelAdapter


@pytest.fixture(scope="module")
def clinical():
    with threadpool_limits(1):
        train = load_clinical(n_samples=6000, seed=11)
        test = load_clinical(n_samples=4000, seed=12)

        def with_race(d):
            return d.X.assign(race_B=(d.sensitive["race"] == "B").astype(float))

        Xtr, Xte = with_race(train), with_race(test)
        model = HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(Xtr, train.y)
    return model, Xtr, Xte, test


def test_removes_direct_effect_and_keeps_auc(clinical):
    model, Xtr, Xte, test = clinical
    neutral = neutralize(model, "race_B", data=Xtr)
    assert isinstance(neutral, ModelAdapter)
    share_b = Xtr["race_B"].mean()
    np.testing.assert_allclose(neutral.weights, [1 - share_b, share_b])
    with threadpool_limits(1):
        p0 = neutral.predict_proba(Xte.assign(race_B=0.0))
        p1 = neutral.predict_proba(Xte.assign(race_B=1.0))
        # flip test after neutralization: identical predictions whatever race_B says
        assert np.array_equal(p0, p1)
        # the oracle: the population-weighted average of the two flipped predictions
        ref = (1 - share_b) * model.predict_proba(Xte.assign(race_B=0.0)) + share_b * (
            model.predict_proba(Xte.assign(race_B=1.0))
        )
        np.testing.assert_allclose(p0, ref, rtol=1e-12, atol=1e-15)
        auc_before = roc_auc_score(test.y, model.predict_proba(Xte)[:, 1])
        auc_after = roc_auc_score(test.y, p0[:, 1])
        assert abs(auc_before - auc_after) < 0.01
        # the audit's flip test sees a direct effect before and none after
        kw = {"sensitive_column": "race_B", "n_permutations": 0, "n_repeats": 1, "seed": 0}
        sub = Xte.iloc[:800]
        before = ProxyAudit(model, sub, test.sensitive.iloc[:800], **kw).flip["effect"]
        after = ProxyAudit(neutral, sub, test.sensitive.iloc[:800], **kw).flip["effect"]
    assert before > 0.01
    assert after == 0.0


def test_report_within_group_effects(clinical):
    model, Xtr, Xte, test = clinical
    neutral = neutralize(model, "race_B", data=Xtr)
    with threadpool_limits(1):
        rep = neutral.report(Xte.iloc[:1500], y=test.y.iloc[:1500])
    frame = rep.to_frame()
    assert list(frame.index) == ["0", "1"]
    # group B (race_B = 1) had +0.4 on the logit: neutralization lowers its mean, raises A's
    assert frame.loc["1", "shift"] < 0 < frame.loc["0", "shift"]
    assert (frame["direct_effect_before"] > 0).all()
    assert (frame["direct_effect_after"] == 0).all()
    # a tree model with interactions reorders a little inside groups, but mostly shifts them
    assert (frame["within_group_rank_correlation"] > 0.95).all()
    assert abs(rep.auc_before - rep.auc_after) < 0.01
    json.dumps(rep.to_dict())


def test_plugs_into_explain_race_gets_zero_attribution():
    rng = np.random.default_rng(0)
    n = 400
    race = rng.integers(0, 2, n).astype(float)
    X = np.column_stack([race, race + rng.normal(size=n), rng.normal(size=n)])
    y = (0.8 * race + X[:, 1] + X[:, 2] + rng.normal(size=n) > 1).astype(int)
    model = LogisticRegression().fit(X, y)
    neutral = neutralize(model, 0, data=X)
    exp = assay.explain(neutral, X[:5], method="exact", background=X[:40])
    # dummy axiom: the neutralized model ignores column 0, so its attribution is exactly 0
    np.testing.assert_array_equal(exp.values[:, 0, :], 0.0)
    np.testing.assert_allclose(
        exp.values.sum(axis=1) + exp.base_values, neutral.predict(X[:5]), atol=1e-12
    )


def test_reference_options_and_errors():
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.integers(0, 3, 200), rng.normal(size=200)]).astype(float)
    y = (X[:, 1] + X[:, 0] > 1).astype(int)
    model = LogisticRegression().fit(X, y)
    uni = neutralize(model, 0, "uniform", data=X)
    np.testing.assert_allclose(uni.weights, [1 / 3] * 3)
    lvl = neutralize(model, 0, 2.0)
    np.testing.assert_allclose(
        lvl.predict(X), model.predict_proba(np.column_stack([np.full(200, 2.0), X[:, 1]]))
    )
    dct = neutralize(model, 0, {0: 1.0, 2: 3.0})
    np.testing.assert_allclose(dct.weights, [0.25, 0.75])
    assert isinstance(dct, NeutralizedModel)
    with pytest.raises(InvalidInputError, match="pass data=X"):
        neutralize(model, 0)
    with pytest.raises(InvalidInputError, match="not a column"):
        neutralize(model, "race", data=X)
    with pytest.raises(InvalidInputError, match="non-negative"):
        neutralize(model, 0, {0: -1.0, 1: 2.0})
