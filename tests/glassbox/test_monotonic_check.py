"""check_monotonic on any model, its result object and plot, and the audit section."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assay.auditing._monotonicity import monotonicity_section
from assay.errors import InvalidInputError
from assay.glassbox import MonotonicityCheck, check_monotonic


@pytest.fixture(scope="module")
def dip_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 3))
    # increasing in x0 except for a dip around 0.3; decreasing in x2
    logit = 2.0 * X[:, 0] - 3.0 * np.exp(-((X[:, 0] - 0.3) ** 2) / 0.02) - X[:, 2]
    y = (rng.random(3000) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def test_linear_oracle_every_pair_counts():
    X = np.random.default_rng(1).normal(size=(300, 3))
    w = np.array([2.0, -1.0, 0.5])
    res = check_monotonic(lambda A: A @ w, X, [0, 1, 2], [1, 1, -1], n_pairs=3000, seed=0)
    x0, x1, x2 = res.features
    assert x0.n_violations == 0 and x0.worst_violation == 0.0
    # a wrong declared direction: every pair is a violation, the drop is exactly |w| * gap
    assert x1.n_violations == x1.n_pairs and x1.n_pairs > 3000
    assert x2.n_violations == x2.n_pairs
    span = X[:, 1].max() - X[:, 1].min()
    assert 0.5 * span < x1.worst_violation <= span + 1e-12
    ex = next(e for e in res.examples if e["feature"] == "x1")
    assert ex["drop"] == pytest.approx(ex["value_hi"] - ex["value_lo"], rel=1e-12)
    assert ex["output_lo"] - ex["output_hi"] == pytest.approx(ex["drop"], rel=1e-12)
    assert not res.is_monotonic and res.violation_rate == pytest.approx(2 / 3, abs=0.01)


def test_xgboost_with_and_without_constraints(dip_data):
    xgb = pytest.importorskip("xgboost")
    X, y = dip_data
    kw = {"n_estimators": 60, "max_depth": 4, "learning_rate": 0.2, "n_jobs": 1}
    free = xgb.XGBClassifier(**kw).fit(X, y)
    tied = xgb.XGBClassifier(monotone_constraints="(1,0,-1)", **kw).fit(X, y)
    res = check_monotonic(tied, X, {0: 1, 2: -1}, n_pairs=50_000, n_rows=200, tol=0.0, seed=0)
    assert res.n_pairs >= 100_000 and res.is_monotonic
    res_margin = check_monotonic(
        tied, X, {0: 1, 2: -1}, n_pairs=5000, output_space="log_odds", tol=0.0, seed=0
    )
    assert res_margin.is_monotonic
    res = check_monotonic(free, X, {0: 1, 2: -1}, n_pairs=20_000, seed=0)
    assert res.feature("x0").n_violations > 100 and res.feature("x0").worst_violation > 0.05


def test_sklearn_and_torch_models(dip_data):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    X, y = dip_data
    hgb = HistGradientBoostingClassifier(max_iter=60, random_state=0).fit(X, y)
    assert check_monotonic(hgb, X, {0: 1}, n_pairs=5000, seed=0).feature("x0").n_violations > 50
    lr = LogisticRegression().fit(X, y)
    assert check_monotonic(lr, X, {0: 1, 2: -1}, n_pairs=5000, tol=0.0, seed=0).is_monotonic
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    lin = torch.nn.Linear(3, 1).double()
    with torch.no_grad():
        lin.weight[:] = torch.tensor([[1.0, 0.0, 1.0]])
    res = check_monotonic(lin, X, {0: 1, 2: -1}, n_pairs=2000, seed=0)
    assert res.feature("x0").n_violations == 0
    assert res.feature("x2").violation_rate == 1.0


def test_round_trip_frame_and_plot(dip_data):
    import matplotlib

    matplotlib.use("Agg")
    from assay.plot import plot_monotonicity

    X, _ = dip_data
    res = check_monotonic(
        lambda A: A[:, 0] - 3 * np.exp(-((A[:, 0] - 0.3) ** 2) / 0.02),
        X, {0: "increasing"}, n_pairs=2000, n_rows=20, seed=0,
    )  # fmt: skip
    back = MonotonicityCheck.from_dict(json.loads(json.dumps(res.to_dict())))
    assert back == res
    frame = res.to_frame()
    assert frame.loc[0, "violations"] == res.n_violations > 0
    ax = plot_monotonicity(res)
    assert len(ax.patches) == 1
    ax = plot_monotonicity(res, "x0")
    red = [ln for ln in ax.lines if ln.get_color() == "#c8453c"]
    assert len(ax.lines) > 20 and red  # ICE curves, violating segments drawn red
    with pytest.raises(InvalidInputError, match="was not checked"):
        res.feature("x9")


def test_same_seed_same_result(dip_data):
    X, _ = dip_data
    f = lambda A: np.sin(3 * A[:, 0])  # noqa: E731
    a = check_monotonic(f, X, {0: 1}, n_pairs=500, n_rows=10, seed=4)
    b = check_monotonic(f, X, {0: 1}, n_pairs=500, n_rows=10, seed=4)
    assert a == b


def test_input_errors(dip_data):
    X, _ = dip_data
    f = lambda A: A[:, 0]  # noqa: E731
    with pytest.raises(InvalidInputError, match="directions is missing"):
        check_monotonic(f, X, ["x0"])
    with pytest.raises(InvalidInputError, match="2 features but 1 directions"):
        check_monotonic(f, X, [0, 1], [1])
    with pytest.raises(InvalidInputError, match="unknown feature 'age'"):
        check_monotonic(f, X, {"age": 1})
    with pytest.raises(InvalidInputError, match="no feature has a direction"):
        check_monotonic(f, X, {0: 0})
    with pytest.raises(InvalidInputError, match="fewer than 2 distinct"):
        check_monotonic(f, np.ones((10, 2)), {0: 1})
    with pytest.raises(InvalidInputError, match="nothing to check"):
        check_monotonic(f, X, {0: 1}, n_pairs=0, n_rows=0)
    with pytest.raises(InvalidInputError, match="out of range"):
        check_monotonic(f, X, {0: 1}, output=3, n_pairs=10)


def test_audit_section_alert_and_ok(dip_data):
    pd = pytest.importorskip("pandas")
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    from assay.report._figures import render_figure

    X, y = dip_data
    frame = pd.DataFrame(X, columns=["dose", "noise", "protect"])
    expected = {"dose": "increasing", "protect": "decreasing"}
    hgb = HistGradientBoostingClassifier(max_iter=60, random_state=0).fit(frame, y)
    sec = monotonicity_section(hgb, frame, expected, seed=0)
    assert sec["status"] == "alert" and "dose" in sec["verdict"]
    assert set(sec) == {"title", "verdict", "status", "metrics", "tables", "figures", "data"}
    rows = {r[0]: r for r in sec["tables"][0]["rows"]}
    assert rows["dose"][3] > 0
    kinds = [f["kind"] for f in sec["figures"]]
    assert kinds == ["bar", "line"]
    assert all(render_figure(f).startswith("<svg") for f in sec["figures"])
    json.dumps(sec)  # results.json ready
    assert MonotonicityCheck.from_dict(sec["data"]["check"]).n_pairs > 0
    ok = monotonicity_section(LogisticRegression().fit(frame, y), frame, expected, seed=0)
    assert ok["status"] == "ok" and ok["metrics"]["violating pairs"] == 0
    assert monotonicity_section(hgb, frame, {}, seed=0) is None
