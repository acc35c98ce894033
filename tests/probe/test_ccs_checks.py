"""CCS and the sanity checks on synthetic activations with planted truth and distractors.

The generator (make_contrast_activations) plants truth along u and a binary distractor h along
v. As Farquhar et al. (2023) show, an "h XOR answer" feature is exactly as consistent and
confident as truth, so CCS follows whichever is more prominent; a distractor shared by both
sides is rejected by the consistency term.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import check_grad

from assay.errors import AssayWarning, InvalidInputError, NotFittedError
from assay.probe import (
    CCS,
    LogisticProbe,
    distractor_check,
    make_contrast_activations,
    probe_layers,
    random_probe_floor,
    selectivity,
    transfer_matrix,
    unsupervised_baselines,
)
from assay.probe._ccs import ccs_loss


def _cal(y, k=40):
    return np.where(np.arange(y.size) < k, y, -1)


def test_ccs_gradient_matches_finite_differences():
    Xp, Xn, *_ = make_contrast_activations(200, 30, seed=0)
    Zp, Zn = Xp - Xp.mean(0), Xn - Xn.mean(0)
    rng = np.random.default_rng(1)
    for scale in (0.01, 0.3):
        x0 = rng.normal(size=31) * scale
        err = check_grad(
            lambda p: ccs_loss(p, Zp, Zn, 0.01)[0], lambda p: ccs_loss(p, Zp, Zn, 0.01)[1], x0
        )
        assert err < 1e-5 * max(1.0, np.linalg.norm(ccs_loss(x0, Zp, Zn, 0.01)[1]))


def test_ccs_loss_by_hand():
    # w = 0: p = 1/2 on both sides -> consistency 0, confidence 1/4
    Xp, Xn = np.ones((3, 2)), -np.ones((3, 2))
    assert ccs_loss(np.zeros(3), Xp, Xn, 0.0)[0] == pytest.approx(0.25)
    # a perfect probe (p+ = 1, p- = 0) has loss -> 0 plus the weight decay
    loss, _ = ccs_loss(np.array([20.0, 20.0, 0.0]), Xp, Xn, 0.01)
    assert loss == pytest.approx(0.5 * 0.01 * 800, rel=1e-6)


@pytest.mark.parametrize(("distractor", "kind"), [(0.0, "xor"), (4.0, "shared")])
def test_ccs_recovers_truth_without_an_xor_distractor(distractor, kind):
    Xp, Xn, y, h = make_contrast_activations(
        1000, 60, distractor=distractor, distractor_kind=kind, seed=3
    )
    ccs = CCS(seed=0).fit(Xp[:700], Xn[:700], _cal(y[:700]))
    acc = ccs.score(Xp[700:], Xn[700:], y[700:])
    assert acc > 0.9  # Bayes ~0.98 here
    assert ccs.sign_resolved_ and ccs.calibration_accuracy_ > 0.85
    assert abs(np.mean(ccs.predict(Xp[700:], Xn[700:]) == h[700:]) - 0.5) < 0.1


def test_ccs_follows_a_stronger_xor_distractor_and_the_check_says_so():
    Xp, Xn, y, h = make_contrast_activations(1000, 60, distractor=4.0, seed=3)
    ccs = CCS(seed=0).fit(Xp[:700], Xn[:700], _cal(y[:700]))
    pred = ccs.predict(Xp[700:], Xn[700:])
    assert abs(np.mean(pred == y[700:]) - 0.5) < 0.1
    assert max(np.mean(pred == h[700:]), np.mean(pred != h[700:])) > 0.95
    check = distractor_check(Xp, Xn, y, h, seed=0)
    assert check.status == "alert" and not check.passed
    assert "distractor" in check.verdict
    assert check.metrics["distractor_agreement"] > 0.9 > 0.2 > check.metrics["truth_agreement"]
    clean = distractor_check(*make_contrast_activations(1000, 60, distractor=0.0, seed=3), seed=0)
    assert clean.status == "ok" and clean.passed and clean.metrics["truth_accuracy"] > 0.9


def test_ccs_normalizes_with_training_statistics_only():
    Xp, Xn, y, _ = make_contrast_activations(600, 20, seed=4)
    ccs = CCS(seed=0).fit(Xp[:400], Xn[:400], _cal(y[:400]))
    # predicting one pair at a time gives the same answers as the whole batch: nothing is
    # re-estimated from the test set (the original CCS code normalized test data by itself)
    batch = ccs.predict_proba(Xp[400:], Xn[400:])
    single = np.array([ccs.predict_proba(Xp[i : i + 1], Xn[i : i + 1])[0] for i in range(400, 420)])
    np.testing.assert_allclose(single, batch[:20], rtol=1e-12)
    np.testing.assert_allclose(ccs.mean_pos_, Xp[:400].mean(0))
    # a shifted test set is not re-centred: its credences move
    shifted = ccs.predict_proba(Xp[400:] + 5 * ccs.scale_pos_ * ccs.direction_, Xn[400:])
    assert np.mean(np.abs(shifted - batch)) > 0.05


def test_ccs_sign_comes_from_calibration_labels_not_test_accuracy():
    Xp, Xn, y, _ = make_contrast_activations(500, 20, seed=5)
    a = CCS(seed=0).fit(Xp, Xn, _cal(y))
    b = CCS(seed=0).fit(Xp, Xn, _cal(1 - y))  # wrong calibration labels
    np.testing.assert_allclose(a.coef_, -b.coef_)
    assert a.score(Xp, Xn, y) == pytest.approx(1 - b.score(Xp, Xn, y))
    with pytest.warns(AssayWarning, match="arbitrary"):
        c = CCS(seed=0).fit(Xp, Xn)
    assert not c.sign_resolved_ and np.isnan(c.calibration_accuracy_)


def test_ccs_is_deterministic_and_reports_restarts():
    Xp, Xn, y, _ = make_contrast_activations(300, 10, seed=6)
    a = CCS(n_restarts=4, seed=7).fit(Xp, Xn, _cal(y))
    b = CCS(n_restarts=4, seed=7).fit(Xp, Xn, _cal(y))
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert a.restart_losses_.shape == (4,)
    assert a.loss_ == pytest.approx(a.restart_losses_.min())
    assert a.converged_


def test_ccs_errors():
    Xp, Xn, y, _ = make_contrast_activations(50, 5, seed=0)
    with pytest.raises(NotFittedError, match="not fitted"):
        CCS().predict(Xp, Xn)
    with pytest.raises(InvalidInputError, match="same contrast pair"):
        CCS().fit(Xp, Xn[:10])
    with pytest.raises(InvalidInputError, match="-1"):
        CCS().fit(Xp, Xn, np.full(50, 2))
    with pytest.raises(InvalidInputError, match="normalize"):
        CCS(normalize="l2").fit(Xp, Xn, y)


def test_selectivity_near_zero_for_permuted_labels():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 30))
    u = rng.normal(size=30)
    y_true = (X @ u > 0).astype(int)
    good = selectivity(X, y_true, seed=0)
    assert good.passed and good.metrics["selectivity"] > 0.3
    y_perm = rng.permutation(y_true)
    bad = selectivity(X, y_perm, seed=0)
    se = bad.metrics["selectivity_se"]
    assert abs(bad.metrics["selectivity"]) < 3 * se
    assert not bad.passed and bad.status == "warning"


def test_group_control_exposes_memorization():
    # activations encode only the subject identity; labels are a function of the subject,
    # so the task is solvable by memorizing subjects -- and so is the control task
    rng = np.random.default_rng(1)
    subject = rng.integers(0, 20, 300)
    centers = rng.normal(size=(20, 30)) * 3
    X = centers[subject] + rng.normal(size=(300, 30))
    y = (rng.random(20) < 0.5).astype(int)[subject]
    result = selectivity(X, y, probe=LogisticProbe(C=0.1), groups=subject, n_controls=3, seed=0)
    assert result.metrics["task_accuracy"] > 0.95
    assert result.metrics["control_accuracy"] > 0.9
    assert not result.passed


def test_random_floor_and_baselines():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(500, 50))
    y = rng.integers(0, 2, 500)
    X[:, 0] += 1.5 * y  # weak planted direction, not the most prominent one
    X[:, 1] *= 8.0  # a prominent, label-free direction
    floor = random_probe_floor(X, y, seed=0)
    assert floor.passed and floor.metrics["probe_accuracy"] > 0.65  # Bayes: Phi(0.75) = 0.77
    assert 0.4 < floor.metrics["random_mean"] < 0.6
    base = unsupervised_baselines(X, y, seed=0)
    assert base.passed and base.metrics["pca_accuracy"] < 0.6
    noise = random_probe_floor(X, rng.permutation(y), seed=0)
    assert not noise.passed
    Xp, Xn, yy, _ = make_contrast_activations(600, 20, truth=3.0, seed=1)
    pairs = unsupervised_baselines(Xp, yy, X_neg=Xn, seed=0)
    # the truth direction dominates the pair differences: PCA finds it without labels
    assert pairs.metrics["pca_accuracy"] > 0.9 and pairs.status == "warning"


def test_transfer_matrix_flags_a_probe_that_inverts():
    rng = np.random.default_rng(3)
    n, d = 400, 20
    match = rng.integers(0, 2, n)  # "the pair matches" feature, encoded in the activations
    X = rng.normal(size=(n, d))
    X[:, 0] += 2.0 * (2 * match - 1)
    Xneg = rng.normal(size=(n, d))
    Xneg[:, 0] += 2.0 * (2 * match - 1)
    # affirmative: true iff matching; negated: true iff not matching
    result = transfer_matrix({"facts": (X, match), "negated": (Xneg, 1 - match)}, seed=0)
    acc = result.data["accuracy"]
    assert acc[0, 0] > 0.9 and acc[1, 1] > 0.9
    assert acc[0, 1] < 0.1 and acc[1, 0] < 0.1
    assert result.status == "alert" and not result.passed
    assert [c[:3] for c in result.data["collapses"]] == [
        ["facts", "negated", "inverted"],
        ["negated", "facts", "inverted"],
    ]
    fine = transfer_matrix({"a": (X, match), "b": (Xneg, match)}, seed=0)
    assert fine.passed and fine.status == "ok"
    assert result.to_dict()["data"]["accuracy"][0][1] == acc[0, 1]


def test_probe_layers_with_wilson_intervals_and_ccs():
    Xp, Xn, y, _ = make_contrast_activations(400, 20, seed=8)
    rng = np.random.default_rng(0)
    noise_p, noise_n = rng.normal(size=Xp.shape), rng.normal(size=Xn.shape)
    pos = {"noise": noise_p, "signal": Xp}
    neg = {"noise": noise_n, "signal": Xn}
    sweep = probe_layers(pos, y, probe="ccs", negatives=neg, seed=0, dataset="synthetic")
    assert sweep.layers == ("noise", "signal")
    assert sweep.above_chance.tolist() == [False, True]
    assert sweep.ci_low[1] < sweep.accuracy[1] < sweep.ci_high[1]
    k = round(sweep.accuracy[1] * 400)
    from scipy.stats import binomtest

    ci = binomtest(k, 400).proportion_ci(method="wilson")
    assert (sweep.ci_low[1], sweep.ci_high[1]) == pytest.approx((ci.low, ci.high))
    sup = probe_layers(
        np.stack([noise_p, Xp - Xn]), y, probe="massmean", groups=np.arange(400) % 40
    )
    assert sup.layers == ("0", "1") and sup.params["grouped"]
    assert sup.accuracy[1] > 0.9 and sup.to_dict()["above_chance"] == [False, True]
    with pytest.raises(InvalidInputError, match="negatives"):
        probe_layers(pos, y, probe="ccs")
