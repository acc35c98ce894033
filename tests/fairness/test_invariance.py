"""Invariance-penalized training: counterfactuals, penalties and the trade-off sweep (small)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

torch = pytest.importorskip("torch")

from assay.errors import InvalidInputError  # noqa: E402
from assay.fairness import (  # noqa: E402
    InvariantMLPClassifier,
    TradeoffCurve,
    counterfactual_rows,
    invariance_sweep,
)


@pytest.fixture(autouse=True)
def _one_thread():
    # tiny networks: intra-op threads only add contention on a shared 2-core machine
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _data(n: int = 600, seed: int = 0):
    rng = np.random.default_rng(seed)
    s = rng.integers(0, 2, n)
    proxy = 1.5 * s + rng.normal(size=n)  # group 1 sits higher
    other = rng.normal(size=n)
    X = np.column_stack([s, proxy, other]).astype(float)
    y = (0.8 * s + 0.8 * proxy + other + rng.normal(size=n) > 1.0).astype(int)
    return X, y, s


def test_counterfactual_rows_move_proxies_to_the_other_group():
    X, _, s = _data()
    X_cf, target = counterfactual_rows(X, s, sensitive_column=0, proxies=[1], seed=0)
    np.testing.assert_array_equal(target, 1 - s)
    np.testing.assert_array_equal(X_cf[:, 0], 1 - s)
    np.testing.assert_array_equal(X_cf[:, 2], X[:, 2])  # non-proxies are kept
    # quantile transport: group 0's counterfactual proxies follow group 1's distribution (the
    # two-sample KS distance is only the discretization of n ~ 300 quantiles: < 1/100)
    assert stats.ks_2samp(X_cf[s == 0, 1], X[s == 1, 1]).statistic < 0.01
    assert stats.ks_2samp(X[s == 0, 1], X[s == 1, 1]).statistic > 0.4
    # within-group order is preserved (rank-preserving counterfactual)
    m = s == 0
    assert np.all(np.diff(X_cf[m, 1][np.argsort(X[m, 1])]) >= 0)
    # mean shift: exact difference of group means
    X_mean, _ = counterfactual_rows(X, s, proxies=[1], method="mean")
    shift = X[s == 1, 1].mean() - X[s == 0, 1].mean()
    np.testing.assert_allclose(X_mean[s == 0, 1] - X[s == 0, 1], shift, rtol=1e-12)


def test_penalty_removes_group_dependence_and_is_seeded():
    X, y, s = _data()
    kw = {"sensitive_column": 0, "proxies": [1], "epochs": 150, "seed": 0}
    plain = InvariantMLPClassifier(**kw).fit(X, y, sensitive=s)
    fair = InvariantMLPClassifier(penalty_weight=30.0, **kw).fit(X, y, sensitive=s)
    X_cf, _ = counterfactual_rows(X, s, sensitive_column=0, proxies=[1], seed=1)

    def cf_gap(m):
        return np.mean(np.abs(m.predict_proba(X)[:, 1] - m.predict_proba(X_cf)[:, 1]))

    def score_gap(m):
        p = m.predict_proba(X)[:, 1]
        return abs(p[s == 1].mean() - p[s == 0].mean())

    assert cf_gap(fair) < 0.25 * cf_gap(plain)
    assert score_gap(fair) < 0.5 * score_gap(plain)
    again = InvariantMLPClassifier(penalty_weight=30.0, **kw).fit(X, y, sensitive=s)
    np.testing.assert_array_equal(again.predict_proba(X), fair.predict_proba(X))
    mmd = InvariantMLPClassifier(penalty="mmd", penalty_weight=30.0, epochs=150, seed=0)
    mmd.fit(X, y, sensitive=s)
    assert score_gap(mmd) < 0.5 * score_gap(plain)


def test_sweep_traces_the_tradeoff():
    X, y, s = _data(n=800, seed=3)
    est = InvariantMLPClassifier(sensitive_column=0, proxies=[1], epochs=100)
    curve = invariance_sweep(X, y, s, weights=[0.0, 1.0, 10.0, 100.0], estimator=est, seed=0)
    assert curve.is_monotone("counterfactual_gap")
    assert curve.score_gap[-1] < 0.3 * curve.score_gap[0]
    assert curve.auc[0] > curve.auc[-1]  # fairness costs accuracy when the attribute predicts y
    d = curve.to_dict()
    json.dumps(d)
    back = TradeoffCurve.from_dict(d)
    np.testing.assert_array_equal(back.auc, curve.auc)


def test_errors():
    X, y, s = _data(n=50)
    with pytest.raises(InvalidInputError, match="sensitive=groups"):
        InvariantMLPClassifier(penalty_weight=1.0, epochs=2).fit(X, y)
    with pytest.raises(InvalidInputError, match="increasing"):
        invariance_sweep(X, y, s, weights=[1.0, 0.0])
    with pytest.raises(InvalidInputError, match="method must be"):
        counterfactual_rows(X, s, method="swap")


def test_plot_tradeoff():
    import matplotlib

    matplotlib.use("Agg")
    from assay.plot import plot_tradeoff

    curve = TradeoffCurve(
        weights=np.array([0.0, 1.0]), auc=np.array([0.8, 0.7]), accuracy=np.array([0.7, 0.6]),
        dp_difference=np.array([0.2, 0.1]), score_gap=np.array([0.1, 0.05]),
        counterfactual_gap=np.array([0.1, 0.01]), penalty="counterfactual",
    )  # fmt: skip
    ax = plot_tradeoff(curve)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0.8, 0.7])
    with pytest.raises(InvalidInputError, match="fairness must be"):
        plot_tradeoff(curve, fairness="auc")
