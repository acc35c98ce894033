"""LEACE erasure: zero cross-covariance, the constrained least-squares optimum (derived
independently with Lagrange multipliers), probe accuracy falls to chance, small task cost,
and the status rule's false-alarm rate."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from assay.errors import InvalidInputError, NotFittedError
from assay.probe import LeaceEraser, erase


def _data(seed: int, n: int = 3000, d: int = 20):
    """A binary concept spread over several correlated directions, a task on others."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(d, d)) / np.sqrt(d)
    z = rng.integers(0, 2, n)
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, d)) @ (A + np.eye(d))  # anisotropic, correlated noise
    X[:, :3] += 2.0 * z[:, None]
    X[:, 5:8] += 2.0 * y[:, None]
    return X, z, y


def test_cross_covariance_is_zero_and_rank_is_classes_minus_one():
    X, z, _ = _data(0, n=800)
    Xe = LeaceEraser().fit(X, z).transform(X)
    zc = z - z.mean()
    np.testing.assert_allclose((Xe - Xe.mean(0)).T @ zc / z.size, 0.0, atol=1e-10)
    k3 = np.random.default_rng(1).integers(0, 3, X.shape[0])
    X3 = X + 0.8 * np.eye(X.shape[1])[k3]
    e3 = LeaceEraser().fit(X3, k3)
    assert e3.rank_ == 2
    Z = np.eye(3)[k3]
    Xe3 = e3.transform(X3)
    np.testing.assert_allclose((Xe3 - Xe3.mean(0)).T @ (Z - Z.mean(0)), 0.0, atol=1e-8)


def test_matches_the_constrained_least_squares_optimum():
    """min_M E|M (x - mu)|^2 subject to (I - M) Sigma_xz = 0 has, row by row (Lagrange),
    M = B (B' S^-1 B)^-1 B' S^-1 with B = Sigma_xz, S = Sigma_xx."""
    X, z, _ = _data(2, n=500, d=8)
    e = LeaceEraser().fit(X, z)
    Xc = X - X.mean(0)
    S = Xc.T @ Xc / len(X)
    B = Xc.T @ (z - z.mean())[:, None] / len(X)
    Si = np.linalg.inv(S)
    M = B @ np.linalg.inv(B.T @ Si @ B) @ B.T @ Si
    np.testing.assert_allclose(e.proj_, M, atol=1e-10)
    # and it moves the data less than the orthogonal projection that also zeroes Sigma_xz
    b = B[:, 0] / np.linalg.norm(B)
    ortho = Xc - np.outer(Xc @ b, b)
    leace_move = np.mean(np.sum((e.transform(X) - X) ** 2, axis=1))
    ortho_move = np.mean(np.sum((ortho - Xc) ** 2, axis=1))
    assert leace_move < ortho_move


@pytest.mark.parametrize("seed", range(6))
def test_probe_accuracy_falls_to_chance_and_task_survives(seed):
    X, z, y = _data(seed)
    r = erase(X, z, task=y, seed=seed)
    m = r.metrics
    assert m["concept_accuracy_before"] > 0.9
    assert abs(m["concept_accuracy_after"] - m["chance"]) <= 0.05, m
    assert m["task_accuracy_before"] > 0.9
    assert m["task_cost"] < 0.03, m
    assert r.status == "ok", r.verdict
    assert r.to_dict()["kind"] == "CheckResult"


def test_false_alarm_rate_of_the_status_rule():
    """After erasure the concept is linearly unreadable, so "alert" (still readable) must
    come at most at rate alpha, up to binomial slack, over 200 seeds."""
    alpha, n_seeds = 0.05, 200
    alerts = sum(
        erase(*_data(100 + s, n=300, d=5)[:2], seed=s, alpha=alpha).status == "alert"
        for s in range(n_seeds)
    )
    assert alerts <= binom.ppf(0.999, n_seeds, alpha), alerts


def test_a_concept_left_in_place_is_flagged():
    """A nonlinear concept (XOR of two signs) survives linear erasure: the check says so
    when the probe can read it (here a 2-layer network as the probe)."""
    from sklearn.neural_network import MLPClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 4))
    z = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(int)
    r = erase(X, z, probe=MLPClassifier((32,), max_iter=2000, random_state=0))
    assert r.status == "alert", r.verdict


def test_bad_inputs():
    with pytest.raises(NotFittedError):
        LeaceEraser().transform(np.zeros((3, 2)))
    with pytest.raises(InvalidInputError, match="two classes"):
        LeaceEraser().fit(np.zeros((5, 2)), np.ones(5))
    e = LeaceEraser().fit(np.random.default_rng(0).normal(size=(20, 3)), np.arange(20) % 2)
    with pytest.raises(InvalidInputError, match="features"):
        e.transform(np.zeros((2, 4)))
