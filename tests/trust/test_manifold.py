"""Off-manifold detection and a reproduction of the scaffolding attack (Slack et al. 2020)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from assay.attribution import ExactShapley, LimeTabular, shapley
from assay.datasets import load_clinical
from assay.errors import InvalidInputError
from assay.trust import (
    coalition_samples,
    gaussian_samples,
    off_manifold_test,
    path_samples,
    perturbation_samples,
)
from assay.trust._manifold import _auc_many


def test_auc_and_permutation_p_value_match_independent_computations():
    rng = np.random.default_rng(0)
    scores = np.round(rng.normal(size=60), 1)  # ties on purpose
    labels = rng.random((3, 60)) < 0.5
    for lab in labels:
        assert _auc_many(scores, lab[None])[0] == pytest.approx(roc_auc_score(lab, scores))
    # hand example: scores 1, 2, 3, 4 with positives {3, 4} -> AUC 1; {1, 4} -> 0.5
    s = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(
        _auc_many(s, np.array([[0, 0, 1, 1], [1, 0, 0, 1]], dtype=bool)), [1.0, 0.5]
    )


def test_samplers_follow_their_documented_distributions():
    X = np.arange(12, dtype=float).reshape(3, 4) + 1
    bg = -np.ones((2, 4))
    Z = coalition_samples(X, bg, n_samples=4000, seed=0)
    from_x = Z > 0
    # each sample mixes one row of X with the background; sizes 1..3, never 0 or 4
    sizes = from_x.sum(axis=1)
    assert sizes.min() >= 1 and sizes.max() <= 3
    # Shapley kernel mass over sizes for d=4: 3/(s(4-s)) -> 1, 3/4, 1 -> probs 4/11, 3/11, 4/11
    freq = np.bincount(sizes, minlength=4)[1:] / 4000
    np.testing.assert_allclose(freq, [4 / 11, 3 / 11, 4 / 11], atol=0.03)
    G = gaussian_samples(np.zeros((5, 2)), scale=[1.0, 3.0], n_samples=20000, seed=0)
    np.testing.assert_allclose(G.std(axis=0), [1.0, 3.0], rtol=0.03)
    P = path_samples(np.full((2, 2), 2.0), np.zeros(2), n_samples=2000, seed=0)
    assert np.all(P[:, 0] == P[:, 1]) and 0 <= P.min() and P.max() <= 2
    Pk, name = perturbation_samples("kernel", X, background=bg, n_samples=10, seed=0)
    assert name == "kernel (coalition)" and Pk.shape == (10, 4)
    with pytest.raises(InvalidInputError, match="sampler"):
        perturbation_samples("saliency", X, background=bg, n_samples=10)


def test_two_samples_from_one_distribution_are_not_flagged():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(1200, 5))
    res = off_manifold_test(A[:600], A[600:], seed=0)
    assert res.status == "ok" and not res.flagged
    assert abs(res.auc - 0.5) < 0.08  # held-out AUC sd ~ 0.024 with 300 per group
    res = off_manifold_test(A[:600], A[600:] + 1.0, seed=0, n_permutations=200)
    assert res.flagged and res.auc > 0.7 and res.p_value == pytest.approx(1 / 201)
    with pytest.raises(InvalidInputError, match="too few"):
        off_manifold_test(A[:6], A[6:12])


@pytest.fixture(scope="module")
def attack():
    """The scaffolding attack on the demo cohort with race as a column.

    Slack et al. (2020): an out-of-distribution detector, trained to tell real rows from the
    perturbation samples of LIME (gaussian around the instance, training std) and KernelSHAP
    (coalitions mixed with a k-means summary background, as shap's ``kmeans`` recommends),
    routes real rows to a model that predicts race and perturbed rows to an innocuous one.
    """
    data = load_clinical(n_samples=3000, seed=0)
    X = data.X.copy()
    X["lactate"] = X["lactate"].fillna(X["lactate"].median())
    X["race"] = (data.sensitive["race"] == "B").astype(float)
    names = list(X.columns)
    Xa = X.to_numpy()
    idx = np.random.default_rng(0).permutation(Xa.shape[0])
    train, explain, held = Xa[idx[:1500]], Xa[idx[1500:1508]], Xa[idx[1508:]]
    sd = train.std(axis=0)
    with threadpool_limits(limits=1):  # small fits: threads only add contention
        km = KMeans(10, n_init=3, random_state=0).fit(train)
    centers, weights = km.cluster_centers_, np.bincount(km.labels_, minlength=10)
    P = np.vstack(
        [
            gaussian_samples(train, scale=sd, n_samples=1500, seed=1),
            coalition_samples(train, centers, n_samples=1500, seed=2),
        ]
    )
    with threadpool_limits(limits=1, user_api="openmp"):
        ood = HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(
            np.vstack([train, P]), np.r_[np.ones(1500), np.zeros(3000)]
        )
    race, bmi = names.index("race"), names.index("bmi")

    def biased(Z):
        return Z[:, race]

    def scaffold(Z):
        with threadpool_limits(limits=1, user_api="openmp"):
            real = ood.predict_proba(Z)[:, 1] > 0.5
        return np.where(real, Z[:, race], (Z[:, bmi] > 28).astype(float))

    return {
        "names": names,
        "train": train,
        "explain": explain,
        "held": held,
        "sd": sd,
        "centers": centers,
        "weights": weights,
        "biased": biased,
        "scaffold": scaffold,
        "race": race,
        "bmi": bmi,
    }


def _importance(exp):
    return np.abs(exp.values[:, :, 0]).mean(axis=0)


def test_scaffolding_attack_hides_race_from_lime_and_kernel_shap(attack):
    a = attack
    # on real rows the attack model *is* the race model
    assert np.mean(a["scaffold"](a["held"]) == a["held"][:, a["race"]]) > 0.98
    race, bmi = a["race"], a["bmi"]
    lime_kw = {"background": a["train"], "n_samples": 1000}
    honest = _importance(LimeTabular(a["biased"], **lime_kw).explain(a["explain"], seed=0))
    assert np.argmax(honest) == race  # LIME sees race in the honest model (about 0.48)
    fooled = _importance(LimeTabular(a["scaffold"], **lime_kw).explain(a["explain"], seed=0))
    assert np.argmax(fooled) == bmi
    # race hidden: about 0.02, the level of the unused features (measured: 0.017 vs bmi 0.12)
    assert fooled[race] < 0.1 * honest[race]
    assert fooled[race] < 0.25 * fooled[bmi]
    # the KernelSHAP game (coalitions over a k-means background), solved exactly
    shap_kw = {"background": a["centers"], "background_weights": a["weights"]}
    rows = a["explain"][:4]
    honest = _importance(ExactShapley(a["biased"], **shap_kw).explain(rows))
    assert np.argmax(honest) == race
    fooled = _importance(ExactShapley(a["scaffold"], **shap_kw).explain(rows))
    assert np.argmax(fooled) == bmi
    # race keeps only the 1/d share of the one real coalition (all features), like every
    # binary feature (measured: 0.077 vs 0.5 in the honest model, bmi 0.41)
    assert fooled[race] < 0.25 * fooled[bmi]
    assert fooled[race] < 0.25 * honest[race]
    kernel = getattr(shapley, "KernelShap", None)
    if kernel is not None:  # the sampled estimator of the same game, when it is available
        fooled_k = _importance(kernel(a["scaffold"], **shap_kw).explain(rows, seed=0))
        assert np.argmax(fooled_k) == bmi


def test_off_manifold_check_flags_the_attacked_perturbations_but_not_real_rows(attack):
    a = attack
    held = a["held"]
    real, other = held[:700], held[700:]
    lime_p = gaussian_samples(a["explain"], scale=a["sd"], n_samples=700, seed=11)
    shap_p = coalition_samples(a["explain"], a["centers"], n_samples=700, seed=12)
    for P, name in ((lime_p, "lime"), (shap_p, "kernel")):
        res = off_manifold_test(real, P, sampler=name, seed=0, n_permutations=300)
        assert res.auc > 0.9, res.verdict
        assert res.status == "alert" and "manipulable" in res.verdict
    # perturbations drawn from the data distribution: other real rows, and coalitions that
    # mix real rows with real background rows (the features are nearly independent here)
    for P, name in (
        (other, "resampled real rows"),
        (coalition_samples(other, a["train"], n_samples=700, seed=13), "data background"),
    ):
        res = off_manifold_test(real, P, sampler=name, seed=0, n_permutations=300)
        assert res.status == "ok" and res.auc < 0.6, res.verdict
