"""Editing GAMs: the creatinine fix is recorded with metrics, survives save/load, and undoes."""

from __future__ import annotations

import numpy as np
import pytest

from assay.datasets import load_clinical
from assay.errors import InvalidInputError
from assay.glassbox import GAMClassifier, GAMRegressor, load_gam


@pytest.fixture(scope="module")
def fitted():
    data = load_clinical(n_samples=8000, seed=3)
    X, y, race = data.X, data.y, data.sensitive["race"]
    tr, va = np.arange(6000), np.arange(6000, 8000)
    gam = GAMClassifier(n_bags=4, interactions=3, random_state=0).fit(X.iloc[tr], y.iloc[tr])
    return gam, X.iloc[va], y.iloc[va], race.iloc[va].to_numpy()


def _creatinine_jump(gam):
    t = gam.term_names_.index("creatinine")
    fb = gam.bins_[gam.term_features_[t][0]]
    vals = gam.term_values_[t][:, 0]
    below = (fb.upper < 2.0) & (fb.upper >= 1.8) & (fb.counts > 0)
    above = (fb.lower >= 2.0) & (fb.lower <= 2.2) & (fb.counts > 0)
    # Worst drop across 2.0: lowest value just above minus highest value just below.
    return vals[above].min() - vals[below].max()


def test_removing_the_creatinine_drop_is_recorded_and_persists(fitted, tmp_path):
    gam, Xv, yv, groups = fitted
    assert _creatinine_jump(gam) < -0.2  # the counter-causal drop is in the model
    std_before = gam.term_std_[gam.term_names_.index("creatinine")].copy()
    rec = gam.monotonize(
        "creatinine",
        direction="increasing",
        note="treatment confounding",
        author="dr. who",
        X_val=Xv,
        y_val=yv,
        groups=groups,
    )
    t = gam.term_names_.index("creatinine")
    inner = gam.bag_values_[t][:, 1:-1, 0]
    assert np.all(np.diff(inner, axis=1) >= -1e-12)  # monotone in every bag
    assert _creatinine_jump(gam) >= 0
    assert gam.term_std_[t].max() > 0 and gam.term_std_[t].shape == std_before.shape
    assert rec.action == "monotonize" and rec.term == "creatinine"
    assert rec.note == "treatment confounding" and rec.author == "dr. who"
    # Metrics are the real validation metrics before/after.
    from sklearn.metrics import log_loss

    assert rec.metrics_after["log_loss"] == pytest.approx(
        log_loss(yv, gam.predict_proba(Xv)), rel=1e-12
    )
    assert rec.metrics_before["log_loss"] != rec.metrics_after["log_loss"]
    assert set(rec.group_metrics_before) == {"A", "B"}
    assert rec.group_metrics_after["A"]["n"] + rec.group_metrics_after["B"]["n"] == len(yv)
    path = gam.save(tmp_path / "edited.npz")
    back = load_gam(path)
    assert back.edits_ == gam.edits_
    np.testing.assert_array_equal(back.predict_proba(Xv), gam.predict_proba(Xv))
    # Undo works after loading too, and restores the drop exactly.
    back.undo()
    assert back.edits_ == []
    assert _creatinine_jump(back) < -0.2
    gam.undo()
    np.testing.assert_array_equal(back.predict_proba(Xv), gam.predict_proba(Xv))


def test_other_edits_and_undo(fitted):
    gam, Xv, _, _ = fitted
    p0 = gam.predict_proba(Xv)
    n_terms = len(gam.term_names_)
    gam.remove_term("income", note="proxy for race")
    assert "income" not in gam.term_names_ and len(gam.term_names_) == n_terms - 1
    gam.set_term("age", 0.25, lower=80, upper=None)
    t = gam.term_names_.index("age")
    fb = gam.bins_[gam.term_features_[t][0]]
    assert np.all(gam.term_values_[t][fb.lower >= 80, 0] == 0.25)
    gam.interpolate_term("creatinine", lower=1.95, upper=2.3)
    tc = gam.term_names_.index("creatinine")
    fbc = gam.bins_[gam.term_features_[tc][0]]
    seg = gam.term_values_[tc][(fbc.lower >= 1.95) & (fbc.upper <= 2.3) & (fbc.counts > 0), 0]
    assert np.all(np.diff(seg) >= -1e-12) or np.all(np.diff(seg) <= 1e-12)  # a straight line
    gam.smooth_term("bmi", window=7)
    assert [e.action for e in gam.edits_] == [
        "remove_term",
        "set_term",
        "interpolate_term",
        "smooth_term",
    ]
    for _ in range(4):
        gam.undo()
    np.testing.assert_array_equal(gam.predict_proba(Xv), p0)
    with pytest.raises(InvalidInputError, match="no edit to undo"):
        gam.undo()
    with pytest.raises(InvalidInputError, match="unknown term"):
        gam.remove_term("nope")


def test_monotonize_regressor_keeps_error_bars():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(800, 2))
    y = X[:, 0] + 0.3 * np.sin(12 * X[:, 0]) + rng.normal(scale=0.1, size=800)
    gam = GAMRegressor(n_bags=4, interactions=0, random_state=0).fit(X, y)
    gam.monotonize("x0")
    assert gam.edits_[0].params["direction"] == "increasing"
    assert np.all(np.diff(gam.bag_values_[0][:, 1:-1, 0], axis=1) >= -1e-12)
    assert gam.term_std_[0].max() > 0
