"""GroupMetrics against fairlearn's MetricFrame and against first principles."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, precision_score, recall_score

from assay.errors import AssayWarning, InvalidInputError
from assay.fairness import (
    GroupMetrics,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equal_opportunity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
)

flm = pytest.importorskip("fairlearn.metrics")

SHARED = {
    "selection_rate": flm.selection_rate,
    "true_positive_rate": flm.true_positive_rate,
    "false_positive_rate": flm.false_positive_rate,
    "true_negative_rate": flm.true_negative_rate,
    "false_negative_rate": flm.false_negative_rate,
    "precision": lambda t, p: precision_score(t, p, zero_division=np.nan),
    "accuracy": accuracy_score,
}


def _data(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    race = rng.choice(["A", "B", "C"], n, p=[0.5, 0.3, 0.2])
    sex = rng.choice(["f", "m"], n)
    site = rng.choice(["s1", "s2"], n)
    y_true = (rng.random(n) < np.where(race == "B", 0.4, 0.25)).astype(int)
    y_pred = (rng.random(n) < 0.2 + 0.5 * y_true + 0.1 * (sex == "f")).astype(int)
    return y_true, y_pred, pd.DataFrame({"race": race, "sex": sex, "site": site})


@pytest.mark.parametrize("sensitive", [["race"], ["race", "sex"]])
@pytest.mark.parametrize("control", [None, ["site"]])
def test_matches_fairlearn_metricframe(sensitive, control):
    yt, yp, df = _data()
    names = list(SHARED)
    ours = GroupMetrics(
        metrics=names,
        y_true=yt,
        y_pred=yp,
        sensitive_features=df[sensitive],
        control_features=None if control is None else df[control],
    )
    mf = flm.MetricFrame(
        metrics=SHARED,
        y_true=yt,
        y_pred=yp,
        sensitive_features=df[sensitive],
        control_features=None if control is None else df[control],
    )
    theirs = mf.by_group.dropna(how="all")
    if not isinstance(theirs.index, pd.MultiIndex):
        theirs.index = pd.MultiIndex.from_arrays([theirs.index], names=[theirs.index.name])
    np.testing.assert_allclose(
        ours.by_group[names].to_numpy(), theirs.loc[ours.by_group.index, names].to_numpy(),
        rtol=1e-12, atol=0,
    )  # fmt: skip
    for method in ("between_groups", "to_overall"):
        their_diff, their_ratio = mf.difference(method=method), mf.ratio(method=method)
        if control is None:
            their_diff, their_ratio = their_diff.to_frame().T, their_ratio.to_frame().T
        np.testing.assert_allclose(
            ours.difference(method)[names].to_numpy(), their_diff[names].to_numpy(), rtol=1e-12
        )
        np.testing.assert_allclose(
            ours.ratio(method)[names].to_numpy(), their_ratio[names].to_numpy(), rtol=1e-12
        )
    overall = mf.overall if control else mf.overall.to_frame().T
    np.testing.assert_allclose(ours.overall[names].to_numpy(), overall[names].to_numpy())
    np.testing.assert_allclose(ours.group_min().to_numpy(), np.asarray(mf.group_min()).reshape(
        ours.group_min().shape))  # fmt: skip


def test_counts_denominators_and_callable_metric_agree():
    yt, yp, df = _data()
    gm = GroupMetrics(
        metrics={"tpr": "true_positive_rate", "recall": recall_score, "prec": "precision"},
        y_true=yt,
        y_pred=yp,
        sensitive_features=df[["race", "sex"]],
    )
    # the callable path and the vectorized rate path are independent implementations
    np.testing.assert_allclose(gm.by_group["tpr"], gm.by_group["recall"], rtol=1e-12)
    for (race, sex), row in gm.denominators.iterrows():
        m = ((df.race == race) & (df.sex == sex)).to_numpy()
        assert gm.counts[(race, sex)] == m.sum()
        assert row["tpr"] == (yt[m] == 1).sum()  # actual positives
        assert row["prec"] == (yp[m] == 1).sum()  # predicted positives
    assert gm.by_group.index.names == ["race", "sex"]
    # only combinations present in the data, in sorted order
    assert len(gm.by_group) == 6
    json.dumps(gm.to_dict())


def test_fairness_summaries_match_fairlearn():
    yt, yp, df = _data(seed=3)
    s = df["race"]
    pairs = [
        (demographic_parity_difference, flm.demographic_parity_difference),
        (demographic_parity_ratio, flm.demographic_parity_ratio),
        (equalized_odds_difference, flm.equalized_odds_difference),
        (equalized_odds_ratio, flm.equalized_odds_ratio),
        (equal_opportunity_difference, flm.equal_opportunity_difference),
        (equal_opportunity_ratio, flm.equal_opportunity_ratio),
    ]
    for ours, theirs in pairs:
        for method in ("between_groups", "to_overall"):
            a = ours(yt, yp, sensitive_features=s, method=method)
            b = theirs(yt, yp, sensitive_features=s, method=method)
            assert a == pytest.approx(b, rel=1e-12), (ours.__name__, method)


def test_missing_sensitive_values_raise():
    yt, yp, df = _data(n=50)
    s = df["race"].astype(object)
    s.iloc[[3, 7]] = None
    with pytest.raises(InvalidInputError, match=r"2 missing value\(s\).*cannot be silently"):
        GroupMetrics(metrics="selection_rate", y_true=yt, y_pred=yp, sensitive_features=s)
    s2 = df[["race"]].assign(race=lambda d: d.race.where(np.arange(50) != 5, np.nan))
    with pytest.raises(InvalidInputError, match="column 'race'"):
        GroupMetrics(metrics="selection_rate", y_true=yt, y_pred=yp, sensitive_features=s2)
    with pytest.raises(InvalidInputError, match="control_features"):
        GroupMetrics(
            metrics="selection_rate",
            y_true=yt,
            y_pred=yp,
            sensitive_features=df.race,
            control_features=s,
        )


def test_undefined_rate_is_nan_with_warning():
    yt = np.array([0, 0, 0, 1, 1, 0])
    yp = np.array([1, 0, 0, 1, 0, 1])
    s = np.array(["a", "a", "a", "b", "b", "b"])  # group a has no actual positives
    with pytest.warns(AssayWarning, match="true_positive_rate for group"):
        gm = GroupMetrics(
            metrics=["true_positive_rate", "selection_rate"], y_true=yt, y_pred=yp,
            sensitive_features=s,
        )  # fmt: skip
    assert np.isnan(gm.by_group.loc[("a",), "true_positive_rate"])
    assert gm.denominators.loc[("a",), "true_positive_rate"] == 0
    assert gm.by_group.loc[("b",), "true_positive_rate"] == 0.5
    assert gm.denominators.loc[("b",), "true_positive_rate"] == 2
    # a difference needs two groups where the rate is defined
    assert np.isnan(gm.difference()["true_positive_rate"].iloc[0])
    assert gm.difference()["selection_rate"].iloc[0] == pytest.approx(1 / 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GroupMetrics(metrics="selection_rate", y_true=yt, y_pred=yp, sensitive_features=s)


def test_bootstrap_is_seeded_and_matches_normal_theory():
    rng = np.random.default_rng(1)
    n = 4000
    s = rng.choice(["a", "b"], n)
    yp = (rng.random(n) < np.where(s == "a", 0.3, 0.5)).astype(int)
    yt = yp.copy()
    kw = {"metrics": "selection_rate", "y_true": yt, "y_pred": yp, "sensitive_features": s}
    g1 = GroupMetrics(**kw, n_bootstrap=2000, seed=7)
    g2 = GroupMetrics(**kw, n_bootstrap=2000, seed=7)
    pd.testing.assert_frame_equal(g1.by_group_ci_low, g2.by_group_ci_low)
    assert g1.params["seed"] == 7
    # a proportion's interval: width close to 2 * 1.96 * sqrt(p (1 - p) / n) (Monte Carlo error
    # of the 2.5%/97.5% quantiles with 2000 resamples is a few percent of the width)
    for g in ("a", "b"):
        p = g1.by_group.loc[(g,), "selection_rate"]
        n_g = g1.counts[(g,)]
        width = g1.by_group_ci_high.loc[(g,), "selection_rate"] - g1.by_group_ci_low.loc[
            (g,), "selection_rate"]  # fmt: skip
        assert width == pytest.approx(2 * 1.959964 * np.sqrt(p * (1 - p) / n_g), rel=0.1)
    # the difference of two independent proportions
    lo, hi = g1.ci("difference")
    pa, pb = g1.by_group["selection_rate"].to_numpy()
    na, nb = g1.counts.to_numpy()
    se = np.sqrt(pa * (1 - pa) / na + pb * (1 - pb) / nb)
    diff = g1.difference().iloc[0, 0]
    assert lo.iloc[0, 0] < diff < hi.iloc[0, 0]
    assert hi.iloc[0, 0] - lo.iloc[0, 0] == pytest.approx(2 * 1.959964 * se, rel=0.1)


def test_bad_arguments():
    yt, yp, df = _data(n=40)
    with pytest.raises(InvalidInputError, match="Unknown metric 'tpr_'"):
        GroupMetrics(metrics="tpr_", y_true=yt, y_pred=yp, sensitive_features=df.race)
    with pytest.raises(InvalidInputError, match=r"has 39 values"):
        GroupMetrics(metrics="accuracy", y_true=yt, y_pred=yp[:-1], sensitive_features=df.race)
    with pytest.raises(TypeError):
        GroupMetrics("accuracy", yt, yp, df.race)  # keyword-only
    gm = GroupMetrics(metrics="accuracy", y_true=yt, y_pred=yp, sensitive_features=df.race)
    with pytest.raises(InvalidInputError, match="No bootstrap"):
        gm.ci("difference")
    with pytest.raises(AttributeError, match="read-only"):
        gm.by_group = None


def test_from_dict_gives_back_every_table_and_refuses_to_retest():
    yt, yp, df = _data(n=600, seed=4)
    gm = GroupMetrics(metrics=["selection_rate", "true_positive_rate", "accuracy"], y_true=yt,
                      y_pred=yp, sensitive_features=df[["race", "sex"]],
                      control_features=df[["site"]], n_bootstrap=30, seed=0)  # fmt: skip
    d = json.loads(json.dumps(gm.to_dict()))
    back = GroupMetrics.from_dict(d)
    assert json.dumps(back.to_dict(), sort_keys=True) == json.dumps(d, sort_keys=True)
    for name in ("by_group", "denominators", "overall", "overall_denominators",
                 "by_group_ci_low", "by_group_ci_high", "overall_ci_low", "overall_ci_high"):
        pd.testing.assert_frame_equal(getattr(back, name), getattr(gm, name))  # fmt: skip
    pd.testing.assert_series_equal(back.counts, gm.counts)
    # group min / max are not stored: they are derived again from the stored table
    pd.testing.assert_frame_equal(back.group_min(), gm.group_min())
    pd.testing.assert_frame_equal(back.group_max(), gm.group_max())
    for method in ("between_groups", "to_overall"):
        pd.testing.assert_frame_equal(back.difference(method), gm.difference(method))
        for q in ("difference", "ratio"):
            for a, b in zip(back.ci(q, method), gm.ci(q, method), strict=True):
                pd.testing.assert_frame_equal(a, b)
    with pytest.raises(InvalidInputError, match=r"loaded from a dict.*GroupComparison.from_dict"):
        back.compare()
    with pytest.raises(AttributeError, match="read-only"):
        back.by_group = None
    with pytest.raises(InvalidInputError, match="unchanged output"):
        GroupMetrics.from_dict({k: v for k, v in d.items() if k != "by_group"})
    with pytest.raises(InvalidInputError, match="kind 'ProxyAudit'"):
        GroupMetrics.from_dict({**d, "kind": "ProxyAudit"})


def test_plot_group_metrics_draws_bars_with_intervals():
    import matplotlib

    matplotlib.use("Agg")
    from assay.plot import plot_group_metrics

    yt, yp, df = _data(n=500)
    gm = GroupMetrics(
        metrics="selection_rate", y_true=yt, y_pred=yp, sensitive_features=df.race,
        n_bootstrap=200, seed=0,
    )  # fmt: skip
    ax = plot_group_metrics(gm)
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, gm.by_group["selection_rate"].to_numpy())
