"""Stopping by accuracy: ``tolerance=`` (target standard error) in KernelShap and PermutationShap,
the budget (``budget``, ``n_permutations``) as the cap."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from assay.attribution import ExactShapley, KernelShap, PermutationShap
from assay.errors import InvalidInputError

D = 8
RNG = np.random.default_rng(11)
XW = RNG.normal(size=(80, D))
COEF = RNG.normal(size=D)


def f(X: np.ndarray) -> np.ndarray:
    # third- and fourth-order terms: paired sampling is exact only up to order 2
    cubic = 0.8 * X[:, 0] * X[:, 1] * X[:, 2]
    return X @ COEF + cubic + 0.5 * np.tanh(X[:, 3] * X[:, 4] * X[:, 5] * X[:, 6])


class Counted:
    """``f`` that counts the rows it is given."""

    def __init__(self) -> None:
        self.rows = 0

    def __call__(self, X: np.ndarray) -> np.ndarray:
        self.rows += len(X)
        return f(X)


def test_achieved_stderr_is_at_most_the_tolerance_when_the_cap_is_not_hit() -> None:
    bg, X = XW[:12], XW[40:52]
    used = {}
    for tolerance in (0.03, 0.018):
        model = Counted()
        exp = KernelShap(model, background=bg, budget=240, tolerance=tolerance).explain(X, seed=0)
        n_coal = np.asarray(exp.params["n_coalitions"])
        conv = np.asarray(exp.params["converged"])
        worst = exp.stderr.max(axis=(1, 2))
        below_cap = n_coal < 240
        assert below_cap.sum() >= 6
        assert conv[below_cap].all()
        assert np.all(worst[below_cap] <= tolerance)
        assert np.all(worst[conv] <= tolerance)
        # the model evaluations reported are the rows the model saw: at most coalitions x
        # background plus f(x) and v(empty) (a redrawn coalition is evaluated once)
        assert exp.params["model_rows_evaluated"] == model.rows
        assert model.rows <= int(n_coal.sum() * 12 + 12 + 12 + 1)
        assert exp.params["tolerance"] == tolerance
        used[tolerance] = n_coal
    # the tighter target needs more coalitions, and some rows needed more than the pilot round
    assert used[0.018].sum() > used[0.03].sum()
    assert used[0.018].max() > 80


def test_the_budget_caps_the_sampling_and_says_so() -> None:
    bg, X = XW[:12], XW[40:43]
    exp = KernelShap(f, background=bg, budget=120, tolerance=1e-6).explain(X, seed=0)
    assert exp.params["converged"] == [False, False, False]
    assert exp.params["n_coalitions"] == [120, 120, 120]
    assert np.all(exp.stderr.max(axis=(1, 2)) > 1e-6)
    # efficiency still holds exactly
    np.testing.assert_allclose(
        exp.values.sum(axis=1) + exp.base_values, f(X)[:, None], rtol=0, atol=1e-10
    )


def test_same_seed_same_result_and_batching_does_not_matter() -> None:
    bg, X = XW[:12], XW[40:46]
    a = KernelShap(f, background=bg, budget=250, tolerance=0.03).explain(X, seed=4)
    b = KernelShap(f, background=bg, budget=250, tolerance=0.03).explain(X, seed=4)
    assert np.array_equal(a.values, b.values)
    one = KernelShap(f, background=bg, budget=250, tolerance=0.03).explain(X[2:3], seed=4)
    assert one.params["n_coalitions"][0] >= 0  # runs on a single row too


def test_intervals_still_cover_after_stopping_by_accuracy() -> None:
    """95% intervals at the stopping time cover the exact values at the nominal rate: 200 seeds,
    one row each (d = 8 features), within the binomial bounds for 0.95 (with slack for the
    correlation between a row's features: the bounds are for 200 independent trials)."""
    bg = XW[:8]
    rows = XW[40:60]
    exact = ExactShapley(f, background=bg).explain(rows).values[..., 0]
    hits = []
    for seed in range(200):
        r = seed % rows.shape[0]
        exp = KernelShap(f, background=bg, budget=250, tolerance=0.015).explain(
            rows[r : r + 1], seed=seed
        )
        err = np.abs(exp.values[0, :, 0] - exact[r])
        hits.append(float(np.mean(err <= 1.96 * exp.stderr[0, :, 0] + 1e-9)))
    cover = float(np.mean(hits))
    lo, hi = binom.ppf([0.0005, 0.9995], 200, 0.95) / 200
    assert lo - 0.03 <= cover <= min(1.0, hi + 0.02), cover
    assert 0.90 <= cover <= 0.99, cover


@pytest.mark.parametrize(
    ("opts", "match"),
    [
        ({"tolerance": 0.0}, "tolerance must be a positive number"),
        ({"tolerance": -1.0}, "tolerance must be a positive number"),
        ({"tolerance": "0.1"}, "tolerance must be a positive number"),
        ({"tolerance": True}, "tolerance must be a positive number"),
        ({"tolerance": float("nan")}, "tolerance must be a positive number"),
        ({"tolerance": 0.1, "tol": 0.1}, "either tolerance"),
    ],
)
def test_bad_tolerance_is_a_clean_error(opts: dict, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        KernelShap(f, background=XW[:5], **opts)


def test_intervals_cover_at_small_budgets() -> None:
    """With few sampled pairs (budget 40 at d = 8: 20 pairs, no size enumerated)
    the linearized (sandwich) standard error alone covered 0.89 here; with the jackknife the 95%
    intervals cover at the nominal rate: 200 seeds, one row each, within [0.90, 0.99]."""
    bg = XW[:8]
    rows = XW[40:60]
    exact = ExactShapley(f, background=bg).explain(rows).values[..., 0]
    hits = []
    for seed in range(200):
        r = seed % rows.shape[0]
        exp = KernelShap(f, background=bg, budget=40).explain(rows[r : r + 1], seed=seed)
        hits.append(
            float(
                np.mean(np.abs(exp.values[0, :, 0] - exact[r]) <= 1.96 * exp.stderr[0, :, 0] + 1e-9)
            )
        )
    assert 0.90 <= float(np.mean(hits)) <= 0.99, np.mean(hits)


def test_permutation_stops_at_the_tolerance_below_the_cap() -> None:
    bg, X = XW[:12], XW[40:52]
    used = {}
    for tolerance in (0.04, 0.02):
        model = Counted()
        exp = PermutationShap(
            model, background=bg, n_permutations=600, tolerance=tolerance
        ).explain(X, seed=0)
        n_perm = np.asarray(exp.params["n_permutations_used"])
        conv = np.asarray(exp.params["converged"])
        worst = exp.stderr.max(axis=(1, 2))
        below_cap = n_perm < 600
        assert below_cap.sum() >= 10
        assert conv[below_cap].all()
        assert np.all(worst[conv] <= tolerance)
        assert exp.params["model_rows_evaluated"] == model.rows
        # revisited coalitions are evaluated once: well below the walks' (d - 1) per permutation
        assert model.rows < 0.9 * int(n_perm.sum() * (D - 1) * 12 + 12 + 12)
        np.testing.assert_allclose(
            exp.values.sum(axis=1) + exp.base_values, f(X)[:, None], rtol=0, atol=1e-10
        )
        used[tolerance] = n_perm
    assert used[0.02].sum() > used[0.04].sum() and used[0.02].max() > 16
    capped = PermutationShap(f, background=bg, n_permutations=20, tolerance=1e-6).explain(
        X[:2], seed=0
    )
    assert capped.params["converged"] == [False, False]
    assert capped.params["n_permutations_used"] == [20, 20]
    # without a tolerance nothing changes: every row uses n_permutations
    plain = PermutationShap(f, background=bg, n_permutations=20).explain(X[:2], seed=0)
    assert plain.params["converged"] is None and plain.params["n_permutations_used"] == [20, 20]


def test_permutation_intervals_cover_after_stopping_by_accuracy() -> None:
    bg = XW[:8]
    rows = XW[40:60]
    exact = ExactShapley(f, background=bg).explain(rows).values[..., 0]
    hits = []
    for seed in range(200):
        r = seed % rows.shape[0]
        exp = PermutationShap(f, background=bg, n_permutations=200, tolerance=0.02).explain(
            rows[r : r + 1], seed=seed
        )
        err = np.abs(exp.values[0, :, 0] - exact[r])
        hits.append(float(np.mean(err <= 1.96 * exp.stderr[0, :, 0] + 1e-9)))
    assert 0.90 <= float(np.mean(hits)) <= 0.99, np.mean(hits)


def test_permutation_bad_tolerance_is_a_clean_error() -> None:
    with pytest.raises(InvalidInputError, match="tolerance must be a positive number"):
        PermutationShap(f, background=XW[:5], tolerance=-0.5)


@pytest.mark.parametrize("coalitions", ["shared", "per_background"])
def test_stopping_does_not_depend_on_batching(coalitions: str) -> None:
    """Each row's rounds depend only on its own standard errors (pairs double each round), so a
    different batching (a small memory cap: one row per batch instead of two) changes nothing."""
    bg, X = XW[:12], XW[40:64]
    for cls, opts in (
        (KernelShap, {"budget": 250, "tolerance": 0.03}),
        (PermutationShap, {"n_permutations": 200, "tolerance": 0.04}),
    ):
        a = cls(f, background=bg, coalitions=coalitions, **opts).explain(X, seed=3)
        b = cls(f, background=bg, coalitions=coalitions, max_memory=2**16, **opts).explain(
            X, seed=3
        )
        key = "n_coalitions" if cls is KernelShap else "n_permutations_used"
        assert a.params[key] == b.params[key]
        assert len(set(a.params[key])) > 1  # rows really stopped at different rounds
        np.testing.assert_allclose(b.values, a.values, rtol=0, atol=1e-12)
