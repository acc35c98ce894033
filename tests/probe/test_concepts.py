"""concept_leakage: planted leakage found, no false alarms on concept-only tasks."""

import json

import numpy as np
import pytest
from scipy.stats import binom

from assay.errors import InvalidInputError
from assay.probe import CheckResult, concept_leakage


def _signs_and_soft(rng, n, k=3):
    x = rng.normal(size=(n, k))
    soft = 1.0 / (1.0 + np.exp(-3.0 * x))  # monotone in x: keeps the magnitudes
    concepts = (x > 0).astype(int)  # the concepts are the signs
    return x, soft, concepts


def test_planted_leakage_alerts():
    # the task depends on magnitudes; the concepts only carry the signs
    alerts = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        x, soft, c = _signs_and_soft(rng, 300)
        y = (x.sum(axis=1) > 0).astype(int)
        r = concept_leakage(soft, c, y, seed=seed)
        assert isinstance(r, CheckResult)
        assert r.metrics["leakage"] > 0
        assert r.metrics["accuracy_soft"] > r.metrics["accuracy_reference"]
        alerts += r.status == "alert"
    assert alerts >= 18
    assert "beyond the concepts" in r.verdict


def test_no_leakage_false_alarm_rate():
    # same soft outputs (magnitudes included), but the task is a function of the concepts
    alpha, n_seeds = 0.05, 200
    alerts = 0
    for seed in range(n_seeds):
        rng = np.random.default_rng(10_000 + seed)
        _, soft, c = _signs_and_soft(rng, 120)
        y = c[:, 0] & c[:, 1]
        y = np.where(rng.random(y.size) < 0.15, 1 - y, y)
        r = concept_leakage(soft, c, y, n_splits=3, alpha=alpha, seed=seed)
        alerts += r.status == "alert"
    # the false-alarm count must stay within the binomial 99.9% bound of Binomial(n, alpha)
    assert alerts <= binom.ppf(0.999, n_seeds, alpha)


def test_near_perfect_soft_concepts_no_alert():
    # soft outputs = concepts plus noise independent of y: the heads agree
    rng = np.random.default_rng(3)
    c = rng.integers(0, 2, size=(300, 4))
    soft = np.clip(c + rng.normal(0, 0.1, size=c.shape), 0, 1)
    y = c[:, 0] ^ c[:, 1]  # not linear in the concepts: only the lookup reference solves it
    r = concept_leakage(soft, c, y, seed=0)
    assert r.status == "ok"
    assert r.data["reference"] == "lookup"
    assert r.metrics["accuracy_lookup"] == 1.0
    assert r.metrics["leakage"] < 0
    assert "below" in r.verdict


def test_multiclass_labels_and_custom_head():
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(1)
    x, soft, c = _signs_and_soft(rng, 300)
    y = np.digitize(x.sum(axis=1), [-1.0, 1.0])  # three classes by magnitude
    labels = np.array(["low", "mid", "high"])[y]
    r = concept_leakage(
        soft, c, labels, task_model=DecisionTreeClassifier(max_depth=4, random_state=0), seed=0
    )
    assert r.status == "alert"
    assert sorted(r.data["classes"]) == ["high", "low", "mid"]
    d = r.to_dict()
    json.dumps(d)
    assert d["kind"] == "CheckResult" and d["name"] == "concept_leakage"
    lo, hi = d["metrics"]["ci_low"], d["metrics"]["ci_high"]
    assert lo <= d["metrics"]["leakage"] <= hi


def test_deterministic_given_seed():
    rng = np.random.default_rng(2)
    x, soft, c = _signs_and_soft(rng, 100)
    y = (x.sum(axis=1) > 0).astype(int)
    a = concept_leakage(soft, c, y, seed=5).to_dict()
    b = concept_leakage(soft, c, y, seed=5).to_dict()
    assert a == b


def test_bad_inputs():
    rng = np.random.default_rng(0)
    soft = rng.random((50, 3))
    c = (soft > 0.5).astype(int)
    y = rng.integers(0, 2, 50)
    with pytest.raises(InvalidInputError, match="same order"):
        concept_leakage(soft, c[:, :2], y)
    with pytest.raises(InvalidInputError, match="single class"):
        concept_leakage(soft, c, np.zeros(50))
    with pytest.raises(InvalidInputError, match="alpha"):
        concept_leakage(soft, c, y, alpha=1.5)
    with pytest.raises(InvalidInputError, match="n_splits"):
        concept_leakage(soft, c, np.r_[np.ones(48), 0, 0], n_splits=5)
    with pytest.raises(InvalidInputError, match="classifier"):
        concept_leakage(soft, c, y, task_model="logistic")
    with pytest.raises(InvalidInputError, match="rows"):
        concept_leakage(soft, c, y[:40])
