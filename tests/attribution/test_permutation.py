"""PermutationShap: exact efficiency, exactness on additive models, honest standard errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import assay
from assay.attribution import ExactShapley, PermutationShap
from assay.errors import InvalidInputError

D = 7


def nonlinear(X: np.ndarray) -> np.ndarray:
    """Interactions up to order 3; feature 4 is a dummy."""
    return np.sin(X[:, 0]) * X[:, 1] + X[:, 2] ** 2 + X[:, 0] * X[:, 3] * X[:, 5] + X[:, 6]


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(120, D))


@settings(max_examples=12, deadline=None, derandomize=True)
@given(pairs=st.integers(2, 12), seed=st.integers(0, 2**31))
def test_efficiency_is_exact_for_any_number_of_permutations(pairs: int, seed: int) -> None:
    data = np.random.default_rng(1).normal(size=(30, D))
    exp = PermutationShap(nonlinear, background=data[:8], n_permutations=2 * pairs).explain(
        data[10:15], seed=seed
    )
    gap = exp.values.sum(axis=1) + exp.base_values - nonlinear(data[10:15])[:, None]
    assert np.abs(gap).max() < 1e-12
    # a dummy feature never changes the model output: every marginal contribution is 0
    assert np.abs(exp.values[:, 4]).max() < 1e-12


def test_additive_model_is_exact_with_any_permutation(data: np.ndarray) -> None:
    coef = np.arange(1.0, D + 1)

    def f(X: np.ndarray) -> np.ndarray:
        return X @ coef + np.sin(X[:, 0])

    bg = data[:10]
    exp = PermutationShap(f, background=bg, n_permutations=4).explain(data[50:55], seed=2)
    exact = ExactShapley(f, background=bg).explain(data[50:55])
    np.testing.assert_allclose(exp.values, exact.values, atol=1e-12)
    np.testing.assert_allclose(exp.stderr, 0.0, atol=1e-12)


def test_standard_errors_cover_the_exact_values(data: np.ndarray) -> None:
    bg, X = data[:15], data[10:120]
    exact = ExactShapley(nonlinear, background=bg).explain(X)
    exp = PermutationShap(nonlinear, background=bg, n_permutations=80).explain(X, seed=4)
    # antithetic pairs are exact for features in interactions of order <= 2 (here 1, 2, 4, 6):
    # their stderr is 0 and so is their error; the others (0, 3, 5) carry the order-3 term
    live = exp.stderr > 1e-12
    assert np.abs(exp.values - exact.values)[~live].max() < 1e-10
    z = np.abs(exp.values - exact.values)[live] / exp.stderr[live]
    share = (z <= 1.959964).mean()
    assert live.sum() >= 300
    assert 0.90 <= share <= 0.99, share


def test_same_seed_bit_identical_and_batching_invariant(data: np.ndarray) -> None:
    bg, X = data[:10], data[60:75]
    a = PermutationShap(nonlinear, background=bg).explain(X, seed=9)
    b = PermutationShap(nonlinear, background=bg, max_memory=2**16).explain(X, seed=9)
    np.testing.assert_allclose(a.values, b.values, rtol=0, atol=1e-12)
    c = PermutationShap(nonlinear, background=bg).explain(X, seed=9)
    assert np.array_equal(a.values, c.values) and np.array_equal(a.stderr, c.stderr)
    via = assay.explain(nonlinear, X, method="permutation", background=bg, seed=9)
    assert np.array_equal(a.values, via.values)
    assert a.params["n_coalitions"] == 32 * (D - 1)


def test_odd_number_of_permutations_is_refused(data: np.ndarray) -> None:
    with pytest.raises(InvalidInputError, match="must be even"):
        PermutationShap(nonlinear, background=data[:5], n_permutations=9)


def test_few_degrees_of_freedom_warn_with_the_permutations_that_suffice() -> None:
    import warnings

    from assay.errors import AssayWarning

    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 5))

    def f(Z: np.ndarray) -> np.ndarray:
        return Z[:, 0] * Z[:, 1] * Z[:, 2] + Z.sum(axis=1)

    # 2 pairs per background row x 2 rows: 2 degrees of freedom; 8 pairs give (8 - 1) x 2 = 14
    with pytest.warns(AssayWarning, match=r"2 degrees of freedom.*n_permutations >= 16"):
        few = PermutationShap(f, background=X[:2], n_permutations=4).explain(X[30:32], seed=0)
    assert few.params["stderr_dof"] == 2
    # weights count as fewer rows: w = (0.9, 0.1) is 1.22 effective rows
    with pytest.warns(AssayWarning, match=r"1\.2 effective rows"):
        PermutationShap(
            f, background=X[:2], background_weights=[9.0, 1.0], n_permutations=16
        ).explain(X[30:32], seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", AssayWarning)
        enough = PermutationShap(f, background=X[:2], n_permutations=16).explain(X[30:32], seed=0)
        assert enough.params["stderr_dof"] == 14
        # the default (32 permutations) on one background row: 15; the stopping rule has its own
        assert PermutationShap(f, background=X[:1]).explain(X[30:31]).params["stderr_dof"] == 15
        PermutationShap(f, background=X[:1], n_permutations=64, tolerance=0.5).explain(X[30:31])
