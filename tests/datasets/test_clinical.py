"""Tests for assay.datasets.load_clinical: every planted effect is checked on the data.

Model-free checks run on three seeds so that no effect passes by a lucky draw. Margins are
set from the binomial standard errors at n = 20000 (noted next to each check); the expected
effects are 4-10 standard errors away from each threshold.
"""

from __future__ import annotations

import dataclasses
import doctest
import time

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from assay.datasets import ClinicalData, load_clinical
from assay.datasets import _clinical as clinical_module
from assay.errors import InvalidInputError

SEEDS = (0, 1, 2)
N = 20000


@pytest.fixture(scope="module", params=SEEDS, ids=lambda s: f"seed{s}")
def data(request) -> ClinicalData:
    return load_clinical(n_samples=N, seed=request.param)


@pytest.fixture(scope="module")
def data0() -> ClinicalData:
    return load_clinical(n_samples=N, seed=0)


@pytest.fixture(scope="module")
def gbm_half(data0):
    """A gradient boosting model fit on the first half of seed 0, without race."""
    X, y = data0.X, data0.y
    half = N // 2
    model = HistGradientBoostingClassifier(random_state=0).fit(X.iloc[:half], y.iloc[:half])
    test = np.arange(half, N)
    proba = model.predict_proba(X.iloc[test])[:, 1]
    return test, proba


def _rate(y: pd.Series, mask) -> float:
    return float(y[np.asarray(mask)].mean())


def _logit_from_truth(X: pd.DataFrame, race: np.ndarray, truth: dict) -> np.ndarray:
    """Rebuild the documented logit from the parameters in ``truth`` alone."""
    c, ctr = truth["coefficients"], truth["centers"]
    kid, age_jump = truth["kidney_treatment"], truth["age_jump"]
    lac = truth["lactate_true"]
    return (
        truth["intercept"]
        + c["age"] * (X["age"] - ctr["age"])
        + c["age_65_jump"] * (X["age"] >= age_jump["threshold"])
        + c["creatinine"] * (np.minimum(X["creatinine"], kid["slope_cap"]) - ctr["creatinine"])
        + c["kidney_treatment"] * (X["creatinine"] >= kid["threshold"])
        + c["lactate"] * (lac - ctr["lactate"])
        + c["pneumonia"] * X["pneumonia"]
        + c["asthma"] * X["asthma"]
        + c["asthma_x_pneumonia"] * X["asthma"] * X["pneumonia"]
        + c["diabetes"] * X["diabetes"]
        + c["sex"] * X["sex"]
        + c["systolic_bp"] * (X["systolic_bp"] - ctr["systolic_bp"])
        + c["heart_rate"] * (X["heart_rate"] - ctr["heart_rate"])
        + c["bmi"] * (X["bmi"] - ctr["bmi"])
        + c["log_income"] * np.log(X["income"] / ctr["income"])
        + c["race_B"] * (race == "B")
    ).to_numpy(dtype=float)


# --------------------------------------------------------------------------------------------
# Plumbing: determinism, shapes, dtypes, arguments.


def test_same_seed_gives_identical_data():
    a = load_clinical(n_samples=3000, seed=7)
    b = load_clinical(n_samples=3000, seed=7)
    pd.testing.assert_frame_equal(a.X, b.X)
    pd.testing.assert_series_equal(a.y, b.y)
    pd.testing.assert_series_equal(a.risk, b.risk)
    pd.testing.assert_frame_equal(a.sensitive, b.sensitive)
    np.testing.assert_array_equal(a.truth["subgroup_mask"], b.truth["subgroup_mask"])


def test_different_seed_gives_different_data():
    a = load_clinical(n_samples=3000, seed=7)
    b = load_clinical(n_samples=3000, seed=8)
    assert not a.X["age"].equals(b.X["age"])
    assert not a.y.equals(b.y)
    assert (a.X["creatinine"] != b.X["creatinine"]).mean() > 0.9


def test_seed_none_runs_and_default_is_seed_zero():
    assert load_clinical(n_samples=200, seed=None).X.shape == (200, 12)
    pd.testing.assert_frame_equal(load_clinical(n_samples=20000).X, load_clinical(seed=0).X)


def test_shapes_dtypes_and_names(data0):
    X, y = data0.X, data0.y
    assert X.shape == (N, len(data0.feature_names))
    assert 10 <= X.shape[1] <= 12
    assert tuple(X.columns) == data0.feature_names
    assert data0.truth["features"] == list(data0.feature_names)
    assert all(dtype == np.float64 for dtype in X.dtypes)
    assert "race" not in X.columns
    assert set(X.columns).isdisjoint(data0.sensitive.columns)
    assert y.name == "mortality_1y" == data0.target_name
    assert y.dtype == np.int64
    assert set(np.unique(y)) == {0, 1}
    assert list(data0.sensitive.columns) == ["race"]
    assert set(data0.sensitive["race"]) == {"A", "B"}
    assert all(isinstance(v, str) for v in data0.sensitive["race"].head(50))
    assert data0.risk.shape == (N,)
    assert data0.truth["subgroup_mask"].dtype == bool
    assert data0.truth["subgroup_mask"].shape == (N,)
    for obj in (X, y, data0.sensitive, data0.risk):
        assert obj.index.equals(pd.RangeIndex(N))
    # Only lactate has missing values; categorical-ish features are integer-valued floats.
    assert X.drop(columns="lactate").notna().all().all()
    for col in ("zip_region", "asthma", "pneumonia", "diabetes", "sex", "age"):
        assert np.array_equal(X[col], np.round(X[col])), col
    assert set(np.unique(X["zip_region"])) == set(range(10))
    for col in ("asthma", "pneumonia", "diabetes", "sex"):
        assert set(np.unique(X[col])) == {0.0, 1.0}, col


def test_frame_joins_features_target_and_race(data0):
    frame = data0.frame
    assert list(frame.columns) == [*data0.feature_names, "mortality_1y", "race"]
    assert len(frame) == N
    pd.testing.assert_series_equal(frame["race"], data0.sensitive["race"])
    pd.testing.assert_series_equal(frame["mortality_1y"], data0.y)


def test_bundle_is_frozen(data0):
    with pytest.raises(dataclasses.FrozenInstanceError):
        data0.X = None


def test_generation_is_fast():
    load_clinical(n_samples=N, seed=3)  # warm-up
    best = min(_timed(lambda: load_clinical(n_samples=N, seed=3)) for _ in range(3))
    assert best < 0.5, f"generating {N} rows took {best:.3f}s"


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@pytest.mark.parametrize("n_samples", [99, 0, -5, 100.0, 2.5e4, "20000", None, True])
def test_bad_n_samples_raises_actionable_error(n_samples):
    with pytest.raises(InvalidInputError, match=r"n_samples must be") as info:
        load_clinical(n_samples=n_samples)
    message = str(info.value)
    assert repr(n_samples) in message or str(n_samples) in message  # says what was seen
    assert "pass" in message  # says how to fix it
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("seed", ["0", 1.5, -1, False, [1]])
def test_bad_seed_raises_actionable_error(seed):
    with pytest.raises(
        InvalidInputError, match=r"seed must be a non-negative integer or None"
    ) as info:
        load_clinical(n_samples=200, seed=seed)
    assert repr(seed) in str(info.value) or str(seed) in str(info.value)
    assert "pass e.g. seed=0" in str(info.value)


def test_numpy_integer_arguments_are_accepted():
    a = load_clinical(n_samples=np.int64(500), seed=np.int32(4))
    b = load_clinical(n_samples=500, seed=4)
    pd.testing.assert_frame_equal(a.X, b.X)


def test_docstring_examples_run():
    result = doctest.testmod(clinical_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 5
    assert result.failed == 0


# --------------------------------------------------------------------------------------------
# The outcome and the documented generating process.


def test_risk_is_a_probability_and_matches_outcome(data):
    risk, y = data.risk.to_numpy(), data.y.to_numpy()
    assert np.all((risk > 0) & (risk < 1))
    assert 0.10 <= y.mean() <= 0.25
    # Mean outcome vs mean risk: SE = sqrt(sum r(1-r))/n ~ 0.0028; allow 4 SE.
    se = np.sqrt(np.sum(risk * (1 - risk))) / len(risk)
    assert abs(y.mean() - risk.mean()) < 4 * se
    assert data.truth["base_rate"] == pytest.approx(y.mean())
    # Calibration by risk decile (each decile ~2000 rows, SE <= 0.011; allow 0.05).
    edges = np.quantile(risk, np.linspace(0, 1, 11))
    decile = np.clip(np.searchsorted(edges, risk, side="right") - 1, 0, 9)
    for k in range(10):
        in_k = decile == k
        assert abs(y[in_k].mean() - risk[in_k].mean()) < 0.05, k


def test_truth_reproduces_risk_exactly(data):
    truth, X = data.truth, data.X
    race = data.sensitive["race"].to_numpy()
    mask = truth["subgroup_mask"]
    expected = 1.0 / (1.0 + np.exp(-_logit_from_truth(X, race, truth)))
    np.testing.assert_allclose(data.risk.to_numpy()[~mask], expected[~mask], rtol=1e-12)
    np.testing.assert_array_equal(data.risk.to_numpy()[mask], truth["subgroup"]["risk"])


def _irls(design: np.ndarray, y: np.ndarray, n_iter: int = 30):
    """Unpenalized logistic regression by Newton-Raphson; returns coefficients and SEs."""
    beta = np.zeros(design.shape[1])
    for _ in range(n_iter):
        p = 1.0 / (1.0 + np.exp(-design @ beta))
        hessian = design.T @ (design * (p * (1 - p))[:, None])
        step = np.linalg.solve(hessian, design.T @ (y - p))
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    p = 1.0 / (1.0 + np.exp(-design @ beta))
    cov = np.linalg.inv(design.T @ (design * (p * (1 - p))[:, None]))
    return beta, np.sqrt(np.diag(cov))


def test_logistic_fit_recovers_every_coefficient(data):
    """A correctly specified logistic regression on y recovers the planted coefficients.

    Fit outside the subgroup with the true lactate; each coefficient must be within 4 of
    its standard errors of the documented value, and the planted effects must be
    significant (more than 4 SE from zero).
    """
    truth, X, y = data.truth, data.X, data.y.to_numpy()
    c, ctr = truth["coefficients"], truth["centers"]
    keep = ~truth["subgroup_mask"]
    race_b = (data.sensitive["race"] == "B").to_numpy()
    columns = {
        "intercept": np.ones(len(X)),
        "age": X["age"] - ctr["age"],
        "age_65_jump": X["age"] >= 65,
        "creatinine": np.minimum(X["creatinine"], 4.0) - ctr["creatinine"],
        "kidney_treatment": X["creatinine"] >= 2.0,
        "lactate": truth["lactate_true"] - ctr["lactate"],
        "pneumonia": X["pneumonia"],
        "asthma": X["asthma"],
        "asthma_x_pneumonia": X["asthma"] * X["pneumonia"],
        "diabetes": X["diabetes"],
        "sex": X["sex"],
        "systolic_bp": X["systolic_bp"] - ctr["systolic_bp"],
        "heart_rate": X["heart_rate"] - ctr["heart_rate"],
        "bmi": X["bmi"] - ctr["bmi"],
        "log_income": np.log(X["income"] / ctr["income"]),
        "race_B": race_b,
    }
    design = np.column_stack([np.asarray(v, dtype=float) for v in columns.values()])[keep]
    beta, se = _irls(design, y[keep].astype(float))
    fitted = dict(zip(columns, zip(beta, se, strict=True), strict=True))
    expected = {"intercept": truth["intercept"], **c}
    assert set(expected) == set(columns)
    for name, (b, s) in fitted.items():
        assert abs(b - expected[name]) < 4 * s, (name, b, s, expected[name])
    for name in ("age_65_jump", "kidney_treatment", "asthma_x_pneumonia", "race_B", "lactate"):
        b, s = fitted[name]
        assert abs(b) > 4 * s, (name, b, s)
    assert fitted["race_B"][0] == pytest.approx(truth["race_direct_effect"]["logit"], abs=0.2)


# --------------------------------------------------------------------------------------------
# Planted effects, model-free.


def test_creatinine_rises_then_drops_at_two(data):
    X, y = data.X, data.y
    cr = X["creatinine"]
    assert 0.15 <= (cr >= 2.0).mean() <= 0.25
    bins = [(0.8, 1.2), (1.2, 1.6), (1.6, 2.0), (2.0, 2.4)]
    rates = [_rate(y, (cr >= lo) & (cr < hi)) for lo, hi in bins]
    counts = [int(((cr >= lo) & (cr < hi)).sum()) for lo, hi in bins]
    assert min(counts) > 1000
    # Rising below 2.0 (adjacent bins differ by ~0.06; SE of a difference ~0.012).
    assert rates[0] + 0.02 < rates[1] < rates[2] - 0.02
    # The hidden treatment: the first bin above 2.0 has clearly lower mortality than the
    # last bin below it (observed ~0.13 lower; SE of the difference ~0.015).
    assert rates[2] - rates[3] > 0.07, rates
    assert data.truth["kidney_treatment"]["threshold"] == 2.0
    assert data.truth["kidney_treatment"]["logit_effect"] < -1.0
    assert data.truth["expected_directions"]["creatinine"] == "increasing"


def test_age_jump_at_65(data):
    X, y = data.X, data.y
    age = X["age"]
    below = _rate(y, (age >= 60) & (age < 65))
    above = _rate(y, (age >= 65) & (age < 70))
    before = _rate(y, (age >= 55) & (age < 60))
    # Smooth slope alone adds ~0.03 per 5 years; the jump adds ~0.08 more (SE ~0.014).
    assert above - below > 0.06, (before, below, above)
    assert (above - below) > (below - before) + 0.02
    # Local logistic fit on ages 55-74: y ~ age + [age >= 65]. Leaving out the other risk
    # factors attenuates the step (~0.5 instead of 0.7); z was 2.8-7.3 over seeds 0-42.
    window = ((age >= 55) & (age < 75)).to_numpy()
    design = np.column_stack(
        [np.ones(window.sum()), age[window] - 65.0, (age[window] >= 65).astype(float)]
    )
    beta, se = _irls(design, y.to_numpy()[window].astype(float))
    assert beta[2] > 2.5 * se[2], (beta, se)
    assert 0.25 < beta[2] < 1.0
    assert data.truth["age_jump"]["threshold"] == 65.0


def test_asthma_lowers_recorded_mortality_among_pneumonia_patients(data):
    X, y = data.X, data.y
    pneu, asthma = X["pneumonia"] == 1, X["asthma"] == 1
    assert (pneu & asthma).sum() > 300
    with_asthma = _rate(y, pneu & asthma)
    without = _rate(y, pneu & ~asthma)
    # Observed ~0.16 lower (SE of the difference ~0.02).
    assert without - with_asthma > 0.08, (with_asthma, without)
    # Without pneumonia asthma does not look protective (small positive effect).
    assert _rate(y, ~pneu & asthma) > _rate(y, ~pneu & ~asthma) - 0.02
    assert data.truth["asthma_pneumonia"]["net_asthma_logit_with_pneumonia"] < -1.0


def test_race_is_predictable_from_zip_region(data):
    X = data.X
    is_b = (data.sensitive["race"] == "B").to_numpy()
    assert 0.38 <= is_b.mean() <= 0.42
    half = len(X) // 2
    # Per-region share of group B learned on one half, scored on the other.
    rate = pd.Series(is_b[:half]).groupby(X["zip_region"].to_numpy()[:half]).mean()
    score = X["zip_region"].iloc[half:].map(rate).to_numpy()
    auc = roc_auc_score(is_b[half:], score)
    assert auc > 0.85, auc


def test_income_depends_on_race(data):
    income, race = data.X["income"], data.sensitive["race"]
    med_a, med_b = income[race == "A"].median(), income[race == "B"].median()
    assert med_b < 0.75 * med_a, (med_a, med_b)
    assert roc_auc_score(race == "B", -income) > 0.7


def test_direct_race_effect_within_strata(data):
    """Within identical risk-factor strata (same true risk without race), B dies more often.

    Compare y - risk_without_race between groups: the race term is the only part of the
    documented logit not in risk_without_race, so group B has a positive mean residual and
    group A about zero.
    """
    truth, X, y = data.truth, data.X, data.y.to_numpy()
    race = data.sensitive["race"].to_numpy()
    keep = ~truth["subgroup_mask"]
    logit_no_race = _logit_from_truth(X, np.full(len(X), "A"), truth)
    base = 1 / (1 + np.exp(-logit_no_race))
    resid_a = (y - base)[keep & (race == "A")].mean()
    resid_b = (y - base)[keep & (race == "B")].mean()
    assert abs(resid_a) < 0.015  # SE ~0.004
    assert resid_b > 0.03, resid_b  # +0.4 logit ~ +0.05 in probability here
    assert truth["race_direct_effect"]["logit"] == pytest.approx(0.4)


def test_lactate_missing_and_informative(data):
    X, y, truth = data.X, data.y, data.truth
    lac = X["lactate"]
    missing = lac.isna().to_numpy()
    low, high = truth["lactate"]["missing_share_range"]
    assert low <= missing.mean() <= high
    assert truth["lactate"]["missing_share"] == pytest.approx(missing.mean())
    # Where measured, the feature is the true value.
    np.testing.assert_array_equal(lac.to_numpy()[~missing], truth["lactate_true"][~missing])
    # Informative where measured.
    auc = roc_auc_score(y[~missing], lac[~missing])
    assert auc > 0.6, auc
    # Missing not at random: unmeasured patients have lower true lactate.
    assert truth["lactate_true"][missing].mean() < truth["lactate_true"][~missing].mean() - 0.3


def test_subgroup_definition_and_share(data):
    X, truth = data.X, data.truth
    mask = truth["subgroup_mask"]
    conditions = truth["subgroup"]["conditions"]
    assert conditions == {"zip_region": ("==", 7.0), "age": ("<", 45.0)}
    ops = {"==": np.equal, "<": np.less, ">=": np.greater_equal}
    rebuilt = np.logical_and.reduce(
        [ops[op](X[col].to_numpy(), value) for col, (op, value) in conditions.items()]
    )
    np.testing.assert_array_equal(mask, rebuilt)
    assert 0.02 <= mask.mean() <= 0.05
    assert truth["subgroup"]["share"] == pytest.approx(mask.mean())
    # Labels inside are coin flips with a high base rate (~600 rows, SE ~0.02).
    assert abs(data.y[mask].mean() - 0.5) < 0.08


# --------------------------------------------------------------------------------------------
# Planted effects as seen by a model trained without race (seed 0).


def test_gbm_fails_inside_the_subgroup(data0, gbm_half):
    test, proba = gbm_half
    y = data0.y.to_numpy()[test]
    mask = data0.truth["subgroup_mask"][test]
    wrong = (proba >= 0.5).astype(int) != y
    overall, inside = wrong.mean(), wrong[mask].mean()
    assert roc_auc_score(y, proba) > 0.75  # good on average
    assert inside > overall + 0.2, (overall, inside)


def test_model_without_race_treats_groups_differently(data0, gbm_half):
    test, proba = gbm_half
    race = data0.sensitive["race"].to_numpy()[test]
    gap = proba[race == "B"].mean() - proba[race == "A"].mean()
    assert gap > 0.03, gap
