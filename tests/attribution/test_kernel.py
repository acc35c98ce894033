"""KernelShap: exactness at full budget, Shapley axioms, calibrated standard errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.neural_network import MLPRegressor

import assay
from assay.attribution import ExactShapley, KernelShap
from assay.attribution._background import summarize_background
from assay.errors import AssayWarning, InvalidInputError

D = 8


def nonlinear(X: np.ndarray) -> np.ndarray:
    """Interactions of order 2 and 3; feature 5 is a dummy (never used)."""
    return (
        np.sin(X[:, 0]) * X[:, 1]
        + X[:, 2] ** 2
        + X[:, 0] * X[:, 3] * X[:, 4]
        + np.tanh(X[:, 6] - X[:, 7])
        + 0.5 * X[:, 7]
    )


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(200, D))


@pytest.fixture(scope="module")
def mlp(data: np.ndarray) -> MLPRegressor:
    y = nonlinear(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: any fitted network will do
        return MLPRegressor(hidden_layer_sizes=(16,), max_iter=400, random_state=0).fit(data, y)


def test_full_budget_equals_exact_shapley(data: np.ndarray) -> None:
    bg, X = data[:25], data[100:110]
    exact = ExactShapley(nonlinear, background=bg).explain(X)
    kern = KernelShap(nonlinear, background=bg, budget=2**D - 2).explain(X, seed=1)
    np.testing.assert_allclose(kern.values, exact.values, rtol=0, atol=1e-9)
    np.testing.assert_allclose(kern.base_values, exact.base_values, rtol=0, atol=1e-12)
    assert np.all(kern.stderr == 0.0)
    assert kern.params["exact"] is True


def test_full_budget_equals_exact_for_a_classifier_with_two_outputs(data: np.ndarray) -> None:
    y = (nonlinear(data) > 0.5).astype(int)
    clf = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(data, y)
    bg, X = data[:15], data[100:104]
    exact = ExactShapley(clf, background=bg).explain(X)
    kern = KernelShap(clf, background=bg, budget="auto").explain(X)  # auto = all 254
    assert kern.values.shape == (4, D, 2)
    np.testing.assert_allclose(kern.values, exact.values, rtol=0, atol=1e-9)


def test_weighted_background_equals_duplicated_rows(data: np.ndarray) -> None:
    # integer weights are the same game as repeating background rows: an independent oracle
    bg, X = data[:6], data[100:103]
    counts = np.array([1, 3, 2, 1, 4, 1])
    kern_w = KernelShap(nonlinear, background=bg, background_weights=counts, budget=2**D - 2)
    dup = KernelShap(nonlinear, background=np.repeat(bg, counts, axis=0), budget=2**D - 2)
    np.testing.assert_allclose(kern_w.explain(X).values, dup.explain(X).values, rtol=0, atol=1e-12)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(budget=st.integers(16, 2**D - 2), seed=st.integers(0, 2**31), kernel=st.booleans())
def test_efficiency_holds_exactly_for_every_budget(budget: int, seed: int, kernel: bool) -> None:
    data = np.random.default_rng(3).normal(size=(40, D))
    sampling = "kernel" if kernel else "leverage"
    exp = KernelShap(nonlinear, background=data[:10], budget=budget, sampling=sampling).explain(
        data[20:26], seed=seed
    )
    gap = exp.values.sum(axis=1) + exp.base_values - nonlinear(data[20:26])[:, None]
    # rounding of a d-term sum of O(1) numbers; an estimator without the constraint is off by O(1)
    assert np.abs(gap).max() < 1e-12
    assert np.isfinite(exp.stderr).all()


@settings(max_examples=10, deadline=None, derandomize=True)
@given(budget=st.integers(30, 2**D - 3), seed=st.integers(0, 2**31))
def test_dummy_feature_is_zero_within_its_stderr(budget: int, seed: int) -> None:
    data = np.random.default_rng(4).normal(size=(40, D))
    exp = KernelShap(nonlinear, background=data[:10], budget=budget).explain(data[20:25], seed=seed)
    dummy = exp.values[:, 5, 0]
    se = exp.stderr[:, 5, 0]
    assert np.all(np.abs(dummy) <= 4.5 * se + 1e-12)
    full = KernelShap(nonlinear, background=data[:10], budget=2**D - 2).explain(data[20:25])
    assert np.abs(full.values[:, 5]).max() < 1e-12


def test_same_seed_bit_identical_and_independent_of_batching(data: np.ndarray) -> None:
    bg, X = data[:20], data[100:120]
    a = KernelShap(nonlinear, background=bg, budget=120).explain(X, seed=5)
    b = KernelShap(nonlinear, background=bg, budget=120).explain(X, seed=5)
    assert np.array_equal(a.values, b.values) and np.array_equal(a.stderr, b.stderr)
    # a tiny memory cap changes every batch and model call; each row's draws do not change
    c = KernelShap(nonlinear, background=bg, budget=120, max_memory=2**16).explain(X, seed=5)
    np.testing.assert_allclose(c.values, a.values, rtol=0, atol=1e-12)
    d = KernelShap(nonlinear, background=bg, budget=120).explain(X, seed=6)
    assert not np.allclose(d.values, a.values)
    assert a.params["seed"] == 5 and a.params["seed_entropy"] == 5


def test_seed_none_is_reproducible_from_recorded_entropy(data: np.ndarray) -> None:
    bg, X = data[:20], data[100:104]
    a = KernelShap(nonlinear, background=bg, budget=60).explain(X)
    b = KernelShap(nonlinear, background=bg, budget=60).explain(X, seed=a.params["seed_entropy"])
    assert np.array_equal(a.values, b.values)


def test_standard_errors_are_calibrated_on_two_models(data: np.ndarray, mlp) -> None:
    """95% intervals cover exact values 90-99% of the time over 640 (row, feature) pairs."""
    bg, X = data[:20], data[120:160]
    covered = []
    for model in (nonlinear, mlp):
        exact = ExactShapley(model, background=bg).explain(X)
        kern = KernelShap(model, background=bg, budget=110).explain(X, seed=11)
        assert kern.params["enumerated_sizes"] == [1, 7]  # 16 enumerated + 47 sampled pairs
        z = np.abs(kern.values - exact.values) / kern.stderr
        covered.append((z <= 1.959964).ravel())
    share = np.concatenate(covered).mean()
    assert np.concatenate(covered).size >= 500
    assert 0.90 <= share <= 0.99, share


def test_leverage_and_kernel_sampling_both_converge_to_exact(data: np.ndarray) -> None:
    bg, X = data[:20], data[100:110]
    exact = ExactShapley(nonlinear, background=bg).explain(X)
    for sampling in ("leverage", "kernel"):
        small = KernelShap(nonlinear, background=bg, budget=40, sampling=sampling)
        big = KernelShap(nonlinear, background=bg, budget=220, sampling=sampling)
        e_small = np.abs(small.explain(X, seed=0).values - exact.values).mean()
        e_big = np.abs(big.explain(X, seed=0).values - exact.values).mean()
        assert e_big < 0.6 * e_small


def test_convergence_mode_stops_when_stderr_is_small(data: np.ndarray) -> None:
    d = 14
    rng = np.random.default_rng(2)
    Xw = rng.normal(size=(60, d))
    coef = rng.normal(size=d)

    def f(X: np.ndarray) -> np.ndarray:
        return (
            X @ coef + 0.3 * X[:, 0] * X[:, 1] * X[:, 2]
        )  # order 3: paired sampling is exact to order 2

    exp = KernelShap(f, background=Xw[:10], budget=4000, tol=0.02).explain(Xw[20:26], seed=0)
    conv = np.asarray(exp.params["converged"])
    spread = np.ptp(exp.values[..., 0], axis=1)
    assert conv.all()
    assert np.all(exp.stderr.max(axis=(1, 2)) <= 0.02 * spread)
    assert max(exp.params["n_coalitions"]) < 4000
    tight = KernelShap(f, background=Xw[:10], budget=600, tol=1e-6).explain(Xw[20:22], seed=0)
    assert tight.params["converged"] == [False, False]
    assert tight.params["n_coalitions"] == [600, 600]


def test_explain_dispatch_gives_the_same_result(data: np.ndarray) -> None:
    bg, X = data[:20], data[100:103]
    direct = KernelShap(nonlinear, background=bg, budget=80).explain(X, seed=3)
    via = assay.explain(nonlinear, X, method="kernel", background=bg, seed=3, budget=80)
    assert np.array_equal(direct.values, via.values)
    assert via.method == "kernel"


def test_background_summary_and_large_background_warning(data: np.ndarray) -> None:
    big = np.random.default_rng(1).normal(size=(600, D))
    with pytest.warns(AssayWarning, match="600 rows"):
        KernelShap(nonlinear, background=big)
    summary = summarize_background(big, n_rows=30, snap=False, seed=0)
    # k-means centroids weighted by cluster size reproduce the mean exactly
    np.testing.assert_allclose(summary.weights @ summary.data, big.mean(axis=0), atol=1e-10)
    snapped = summarize_background(big, n_rows=30, seed=0)
    assert all((big == row).all(axis=1).any() for row in snapped.data)
    exp = KernelShap(nonlinear, background=summary, budget=2**D - 2).explain(data[:2])
    exact = ExactShapley(
        nonlinear, background=summary.data, background_weights=summary.weights
    ).explain(data[:2])
    np.testing.assert_allclose(exp.values, exact.values, atol=1e-9)
    assert exp.params["weighted_background"] is True


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"budget": 1}, "budget must be at least 2"),
        ({"sampling": "uniform"}, "sampling must be one of"),
        ({"tol": 0.0}, "tol must be a number in"),
        ({"n_jobs": 0}, "n_jobs must be"),
        ({"n_jobs": 2, "client": object()}, "either n_jobs"),
        ({"background_weights": [1.0, 2.0]}, "background_weights must be"),
    ],
)
def test_bad_options_raise_actionable_errors(data: np.ndarray, kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        KernelShap(nonlinear, background=data[:5], **kwargs)


def test_too_small_budget_for_sampling_is_refused(data: np.ndarray) -> None:
    with pytest.raises(InvalidInputError, match="too small"):
        KernelShap(nonlinear, background=data[:5], budget=10).explain(data[:2])
