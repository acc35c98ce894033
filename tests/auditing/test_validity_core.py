"""Audit statuses that come from tests: calibration, the glass-box gap, held-out discipline."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats
from sklearn.linear_model import LogisticRegression

import assay
from assay.auditing import _calibration, _run
from assay.auditing._calibration import calibration_test
from assay.auditing._labels import class_indices
from assay.auditing._paired import paired_gap
from assay.errors import InvalidInputError

ALPHA = 0.05


def binomial_ceiling(rate: float, n: int) -> float:
    """Largest rejection share consistent with ``rate`` (one-sided 0.999 binomial bound)."""
    return stats.binom.ppf(0.999, n, rate) / n


@pytest.mark.parametrize("n_rows", [159, 2000])
def test_calibration_test_false_alarm_rate_on_calibrated_models(n_rows):
    runs = 300
    rejected = 0
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        p = rng.beta(2, 5, n_rows)
        y = (rng.random(n_rows) < p).astype(int)
        rejected += calibration_test(y, p, n_simulations=199, seed=seed)["p_value"] < ALPHA
    assert rejected / runs <= binomial_ceiling(ALPHA, runs)


def test_calibration_test_normal_branch_false_alarm_rate(monkeypatch):
    monkeypatch.setattr(_calibration, "EXACT_ROWS", 100)
    runs, rejected = 300, 0
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        p = rng.uniform(0.05, 0.95, 3000)
        y = (rng.random(3000) < p).astype(int)
        rejected += calibration_test(y, p, n_simulations=199, seed=seed)["p_value"] < ALPHA
    assert rejected / runs <= binomial_ceiling(ALPHA, runs)


def test_calibration_test_finds_overconfidence():
    hits = 0
    for seed in range(50):
        rng = np.random.default_rng(seed)
        p_true = rng.uniform(0.2, 0.8, 2000)
        y = (rng.random(2000) < p_true).astype(int)
        p_model = 1 / (1 + np.exp(-2.5 * np.log(p_true / (1 - p_true))))  # too extreme
        hits += calibration_test(y, p_model, n_simulations=199, seed=seed)["p_value"] < ALPHA
    assert hits >= 45


def test_paired_gap_false_significance_rate_for_equally_good_models():
    runs, significant = 200, 0
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        y = rng.integers(0, 2, 400)
        a = y + rng.normal(0, 1.0, 400)
        b = y + rng.normal(0, 1.0, 400)  # same quality, independent noise
        res = paired_gap(y, a, b, metric="AUC", n_bootstrap=300, seed=seed)
        assert res["ci_low"] <= res["estimate"] <= res["ci_high"]
        significant += res["ci_low"] > 0 or res["ci_high"] < 0
    assert significant / runs <= binomial_ceiling(ALPHA, runs)


def test_paired_gap_auc_matches_sklearn_and_r2():
    from sklearn.metrics import r2_score, roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    a, b = np.round(y + rng.normal(size=300), 1), rng.normal(size=300)  # ties in a
    res = paired_gap(y, a, b, metric="AUC", n_bootstrap=50, seed=0)
    assert res["estimate"] == pytest.approx(roc_auc_score(y, a) - roc_auc_score(y, b), abs=1e-12)
    assert res["method"] == "DeLong"
    # DeLong's variance against the bootstrap variance of the same difference
    rng2 = np.random.default_rng(1)
    boots = []
    for _ in range(2000):
        i = rng2.integers(0, 300, 300)
        if 0 < y[i].mean() < 1:
            boots.append(roc_auc_score(y[i], a[i]) - roc_auc_score(y[i], b[i]))
    assert res["stderr"] == pytest.approx(np.std(boots), rel=0.1)
    t = rng.normal(size=300)
    a_reg, b_reg = t + 0.1 * rng.normal(size=300), t + rng.normal(size=300)
    res = paired_gap(t, a_reg, b_reg, metric="R²", n_bootstrap=200, seed=0)
    assert res["method"] == "paired bootstrap"
    assert res["estimate"] == pytest.approx(r2_score(t, a_reg) - r2_score(t, b_reg), abs=1e-12)
    assert res["ci_low"] <= res["estimate"] <= res["ci_high"] and res["ci_low"] > 0


def test_class_indices_maps_text_and_numbers_and_refuses_unknown_labels():
    assert class_indices(["no", "yes"], np.array(["yes", "no"], dtype=object)).tolist() == [1, 0]
    assert class_indices(["0", "1"], np.array(["1", "0", "1"])).tolist() == [1, 0, 1]
    assert class_indices(["0", "1"], np.array([1.0, 0.0])).tolist() == [1, 0]
    with pytest.raises(InvalidInputError, match=r"label\(s\) \['5', '7'\]"):
        class_indices(["0", "1"], np.array([5, 7, 5]))
    with pytest.raises(InvalidInputError, match="1 missing"):
        class_indices(["0", "1"], np.array([1.0, np.nan]))


@pytest.fixture(scope="module")
def split_data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(1200, 3)), columns=["a", "b", "c"])
    y = pd.Series(np.where(X["a"] + rng.normal(size=1200) > 0, "yes", "no"))
    model = LogisticRegression().fit(X.iloc[:600], y.iloc[:600])
    return model, X, y


def _audit(model, X, y, **kw):
    return assay.audit(model, X, y, n_explain=5, **kw)


def test_text_target_is_audited_through_the_models_classes(split_data):
    model, X, y = split_data
    res = _audit(model, X.iloc[600:], y.iloc[600:], X_train=X.iloc[:600], y_train=y.iloc[:600])
    perf = res.sections["performance"]
    assert perf["data"]["audited"]["AUC"] > 0.7
    assert "train" in perf["data"] and perf["tables"][0]["title"].startswith("Training rows")
    assert res.meta["holdout"]["status"] == "ok"
    assert res.sections["glassbox"]["data"]["fitted_on"] == "training rows"
    gap = res.sections["glassbox"]["data"]["gap_test"]
    assert gap["ci_low"] <= gap["estimate"] <= gap["ci_high"]
    assert res.meta["alpha"] == 0.05
    for key in ("performance", "attributions", "glassbox"):
        assert res.sections[key]["data"]["rule"]


def test_training_rows_in_the_audit_are_reported(split_data):
    model, X, y = split_data
    res = _audit(model, X, y, X_train=X.iloc[:600], y_train=y.iloc[:600])
    holdout = res.meta["holdout"]
    assert holdout["status"] == "alert" and holdout["n_audited_in_train"] == 600
    assert "fitted on" in holdout["statement"]
    res = _audit(model, X.iloc[600:], y.iloc[600:])
    assert res.meta["holdout"]["status"] == "warning"
    assert "No training data was given" in res.meta["holdout"]["statement"]


def test_bad_alpha_and_half_given_training_data_are_refused(split_data):
    model, X, y = split_data
    with pytest.raises(InvalidInputError, match="alpha"):
        _audit(model, X, y, alpha=0.9)
    with pytest.raises(InvalidInputError, match="both X_train and y_train"):
        _audit(model, X, y, X_train=X)


def _interrupting_steps():
    steps = list(_run.STEPS)

    def stop(_ctx):
        raise KeyboardInterrupt

    steps[2] = dataclasses.replace(steps[2], run=stop)
    return tuple(steps)


def test_interrupt_lists_every_unfinished_section(split_data, monkeypatch):
    model, X, y = split_data
    monkeypatch.setattr(_run, "STEPS", _interrupting_steps())
    res = _audit(model, X.iloc[600:], y.iloc[600:])
    assert res.meta["interrupted"]
    assert set(res.sections) == {"performance", "attributions"}
    unfinished = [k for k in _run.STEP_KEYS if k not in res.sections]
    assert all("interrupted" in res.meta["skipped"][k] for k in unfinished)


def test_cli_interrupt_exits_130_and_writes_partial_report(split_data, monkeypatch, tmp_path):
    import skops.io as sio

    from assay.cli import cli

    model, X, y = split_data
    X.assign(target=y).to_csv(tmp_path / "data.csv", index=False)
    sio.dump(model, tmp_path / "model.skops")
    monkeypatch.setattr(_run, "STEPS", _interrupting_steps())
    result = CliRunner().invoke(
        cli,
        ["audit", "--data", str(tmp_path / "data.csv"), "--target", "target", "--model",
         str(tmp_path / "model.skops"), "--out", str(tmp_path / "out"), "--quiet"],
    )  # fmt: skip
    assert result.exit_code == 130, result.output
    assert (tmp_path / "out" / "report.html").exists()
    assert "interrupted" in (tmp_path / "out" / "report.html").read_text()
