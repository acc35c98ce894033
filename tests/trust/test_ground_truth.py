"""Closed-form Shapley values, agreement metrics and method disagreement."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from assay.attribution import ExactShapley, Explanation
from assay.errors import InvalidInputError, ModelError
from assay.trust import (
    additive_shapley,
    agreement,
    disagreement,
    linear_model_shapley,
    linear_shapley,
)
from assay.trust._common import expected_random_jaccard, holm


def _exp(values, method="m", data=None):
    v = np.asarray(values, dtype=float)
    n, d = v.shape
    return Explanation(
        values=v[:, :, None],
        base_values=np.zeros((n, 1)),
        data=np.zeros((n, d)) if data is None else data,
        feature_names=[f"f{j}" for j in range(d)],
        output_names=["y"],
        method=method,
        output_space="raw",
    )


def test_linear_and_additive_closed_forms_match_brute_force_enumeration():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 5))
    bg = X[:15]
    coef = np.array([1.5, -2.0, 0.0, 0.5, 3.0])
    f = lambda Z: 0.7 + Z @ coef  # noqa: E731
    ref = linear_shapley(coef, X[15:25], background=bg, intercept=0.7)
    oracle = ExactShapley(f, background=bg).explain(X[15:25])
    np.testing.assert_allclose(ref.values, oracle.values, atol=1e-12)
    np.testing.assert_allclose(ref.base_values, oracle.base_values, atol=1e-12)
    np.testing.assert_allclose(ref.values.sum(1) + ref.base_values, f(X[15:25])[:, None])

    comps = [np.sin, np.square, None, np.abs, lambda t: np.maximum(t, 0.2)]
    g = lambda Z: 1.0 + sum(c(Z[:, j]) for j, c in enumerate(comps) if c is not None)  # noqa: E731
    ref = additive_shapley(comps, X[15:25], background=bg, intercept=1.0)
    oracle = ExactShapley(g, background=bg).explain(X[15:25])
    np.testing.assert_allclose(ref.values, oracle.values, atol=1e-12)
    assert np.all(ref.values[:, 2] == 0.0)  # the unused feature is a dummy
    np.testing.assert_allclose(ref.values.sum(1) + ref.base_values, g(X[15:25])[:, None])


def test_linear_model_shapley_uses_the_margin_of_classifiers():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] - X[:, 1] > 0).astype(int)
    clf = LogisticRegression().fit(X, y)
    ref = linear_model_shapley(clf, X[:5], background=X)
    assert ref.output_space == "log_odds" and ref.output_names == ["1"]
    np.testing.assert_allclose(
        ref.values.sum(1)[:, 0] + ref.base_values[:, 0], clf.decision_function(X[:5])
    )
    reg = LinearRegression().fit(X, X @ [1.0, 2.0, 3.0])
    oracle = ExactShapley(reg, background=X[:20]).explain(X[:5])
    res = agreement(oracle, linear_model_shapley(reg, X[:5], background=X[:20]), top_k=2)
    assert res.status == "ok" and res.max_abs_error.max() < 1e-9
    with pytest.raises(ModelError, match="coef_"):
        linear_model_shapley(object(), X, background=X)
    with pytest.raises(InvalidInputError, match="margin"):
        linear_model_shapley(clf, X, background=X, output_space="probability")


def test_agreement_metrics_match_hand_computed_values():
    # reference ranks by |value|: f0 (5), f1 (-4), f2 (3), f3 (0.1)
    # explanation ranks:           f1 (4), f0 (3.5), f3 (-2), f2 (1)
    ref = _exp([[5.0, -4.0, 3.0, 0.1]], "ref")
    exp = _exp([[3.5, 4.0, 1.0, -2.0]], "exp")
    res = agreement(exp, ref, top_k=3)
    # top-3 sets {f0, f1, f2} vs {f1, f0, f3}: share f0, f1 -> 2/3
    assert res.feature_agreement[0] == pytest.approx(2 / 3)
    # positions: (f0, f1, f2) vs (f1, f0, f3): none equal
    assert res.rank_agreement[0] == 0.0
    # shared f0 (+,+) agrees in sign, f1 (-,+) does not -> 1/3
    assert res.sign_agreement[0] == pytest.approx(1 / 3)
    # Spearman of signed values: ranks ref (4, 1, 3, 2), exp (3, 4, 2, 1);
    # sum d^2 = 1 + 9 + 1 + 1 = 12, rho = 1 - 6 * 12 / (4 * 15) = -0.2
    assert res.rank_correlation[0] == pytest.approx(-0.2)
    assert res.max_abs_error[0] == pytest.approx(8.0)
    assert res.status == "alert"  # 1/3 < 0.8 / 2
    json.dumps(res.to_dict())


def test_disagreement_matrices_match_hand_computed_values():
    a = _exp([[3.0, 2.0, 1.0, 0.0]], "a")
    b = _exp([[3.0, -2.0, 0.0, 1.0]], "b")
    c = _exp([[0.0, 1.0, 2.0, 3.0]], "c")
    res = disagreement([a, b, c], top_k=2)
    assert res.names == ("a", "b", "c")
    # a vs b: top-2 {0, 1} both, same positions, sign of f1 differs
    assert res.feature_agreement[0, 1] == 1.0 and res.rank_agreement[0, 1] == 1.0
    assert res.sign_agreement[0, 1] == 0.5 and res.signed_rank_agreement[0, 1] == 0.5
    # a vs c: {0, 1} vs {3, 2}: nothing shared; all 6 pairs ordered oppositely
    assert res.feature_agreement[0, 2] == 0.0 and res.pairwise_rank_agreement[0, 2] == 0.0
    assert res.rank_correlation[0, 2] == pytest.approx(-1.0)
    # a vs b pairwise by |value|: (3,2,1,0) vs (3,2,0,1): 5 of 6 pairs agree
    assert res.pairwise_rank_agreement[0, 1] == pytest.approx(5 / 6)
    np.testing.assert_array_equal(np.diag(res.feature_agreement), 1.0)
    assert res.worst_pair()[:2] in (("a", "c"), ("b", "c"))
    assert res.status == "alert" and "different stories" in res.verdict
    named = disagreement({"x": a, "y": a}, top_k=2)
    assert named.names == ("x", "y") and named.status == "ok"
    assert disagreement([a, a]).names == ("a", "a_2")
    with pytest.raises(InvalidInputError, match="different rows"):
        disagreement([a, _exp([[1.0, 2, 3, 4]], data=np.ones((1, 4)))])
    with pytest.raises(InvalidInputError, match="empty"):
        disagreement([])


def test_chance_jaccard_and_holm_match_hand_computed_values():
    # d=4, k=2: overlap 0 w.p. 1/6, 1 w.p. 4/6, 2 w.p. 1/6 -> E[J] = 4/6 * 1/3 + 1/6 = 7/18
    assert expected_random_jaccard(4, 2) == pytest.approx(7 / 18)
    assert expected_random_jaccard(3, 3) == 1.0
    # Holm with p = (0.01, 0.04, 0.03): sorted 0.01*3, 0.03*2, 0.04*1 -> 0.03, 0.06, 0.06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
