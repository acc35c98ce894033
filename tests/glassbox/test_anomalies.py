"""find_shape_anomalies recovers the planted clinical shapes and reports nothing on null data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assay.datasets import load_clinical
from assay.errors import InvalidInputError
from assay.glassbox import GAMClassifier, find_shape_anomalies

N = 20_000


@pytest.fixture(scope="module")
def clinical():
    return load_clinical(n_samples=N, seed=0)


@pytest.fixture(scope="module")
def demo_result(clinical):
    gam = GAMClassifier(n_bags=4, random_state=0).fit(clinical.X, clinical.y)
    expected = clinical.truth["expected_directions"]
    return gam, find_shape_anomalies(gam, clinical.X, clinical.y, expected_directions=expected)


def test_creatinine_drop_is_counter_causal_round_step(demo_result, clinical):
    _, res = demo_result
    truth = clinical.truth["kidney_treatment"]
    steps = [a for a in res.by_kind("discontinuity") if a.feature == "creatinine"]
    hit = [a for a in steps if a.location == truth["threshold"]]
    assert len(hit) == 1, steps
    a = hit[0]
    assert a.counter_causal and a.direction == "down"
    assert a.round_number and a.round_value == 2.0
    # Planted -1.7 on the logit; the local estimate is within its sampling error (~0.2).
    assert -2.3 < a.effect < -1.0
    assert a.support_left >= 1000 and a.support_right >= 1000
    assert a.p_adjusted < 1e-6
    segs = [a for a in res.by_kind("counter_causal") if a.feature == "creatinine"]
    assert any(s.location < 2.0 <= s.end for s in segs)


def test_age_65_step_is_found_and_round(demo_result, clinical):
    _, res = demo_result
    truth = clinical.truth["age_jump"]
    steps = [a for a in res.by_kind("discontinuity") if a.feature == "age"]
    assert [a.location for a in steps] == [truth["threshold"]]
    a = steps[0]
    assert a.round_number and a.direction == "up" and not a.counter_causal
    assert 0.3 < a.effect < 1.1  # planted +0.7
    assert a.p_adjusted < 0.05


def test_result_serializes(demo_result):
    _, res = demo_result
    d = json.loads(json.dumps(res.to_dict()))
    assert d["kind"] == "ShapeAnomalies"
    assert len(d["anomalies"]) == len(res.anomalies)
    assert {a["kind"] for a in d["anomalies"]} <= {
        "discontinuity",
        "non_monotone",
        "counter_causal",
    }
    gains = [a.likelihood_gain for a in res.anomalies]
    assert gains == sorted(gains, reverse=True)


def test_nothing_on_smooth_null(clinical):
    """Same covariates, outcome from a smooth monotone logit: no anomaly of any kind."""
    X = clinical.X
    rng = np.random.default_rng(1)
    logit = (
        -1.6
        + 0.035 * (X["age"] - 60)
        + 0.8 * (X["creatinine"] - 1.0)
        + 1.0 * X["pneumonia"]
        - 0.015 * (X["systolic_bp"] - 130)
        + 0.02 * (X["heart_rate"] - 85)
        - 0.3 * np.log(X["income"] / 50)
    ).to_numpy()
    y = (rng.random(N) < 1 / (1 + np.exp(-logit))).astype(int)
    gam = GAMClassifier(n_bags=4, random_state=0).fit(X, y)
    res = find_shape_anomalies(gam, X, y, expected_directions=clinical.truth["expected_directions"])
    assert res.n_tests > 500  # many candidates were tested ...
    assert res.anomalies == ()  # ... and none survived the FDR control


def test_bad_inputs(demo_result, clinical):
    gam, _ = demo_result
    with pytest.raises(InvalidInputError, match="expected_directions"):
        find_shape_anomalies(gam, clinical.X, clinical.y, expected_directions={"age": "up"})
    with pytest.raises(InvalidInputError, match="one value per row"):
        find_shape_anomalies(gam, clinical.X, clinical.y[:10])
