"""Compiled walks per background row (``PermutationShap``'s fixed budget): the same values as
the array implementation, and null players (``x_j == b_j``) cost no model rows."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.attribution import ExactShapley, PermutationShap
from assay.attribution.shapley._permutation import (
    _pair_estimates_per_background,
    _strata_mean_and_se,
)
from assay.attribution.shapley._permutation_walks import walk_estimates_per_background
from assay.attribution.shapley._sampling import Game
from assay.parallel import row_rng


def two_outputs(X: np.ndarray) -> np.ndarray:
    """Interactions of order 3 (not cancelled by antithetic pairs) in two outputs."""
    a = X[:, 0] * X[:, 1] * X[:, -1] + np.sin(X.sum(axis=1))
    return np.column_stack([a, np.tanh(X[:, 0] - X[:, -1] * X[:, 1]) + X[:, 0] ** 2])


class Counted:
    """A model that counts its rows and calls."""

    def __init__(self, fn) -> None:
        self.fn, self.rows, self.calls = fn, 0, 0

    def __call__(self, X: np.ndarray) -> np.ndarray:
        self.rows += len(X)
        self.calls += 1
        return self.fn(X)


@settings(max_examples=60, deadline=None)
@given(
    d=st.sampled_from([2, 3, 5, 8, 17]),
    n_bg=st.integers(1, 6),
    n_pairs=st.integers(2, 5),
    r=st.integers(1, 4),
    levels=st.sampled_from([2, 3, 0]),  # 0: continuous features, no null players
    max_memory=st.sampled_from([64, 1 << 20]),
    seed=st.integers(0, 2**31 - 1),
)
def test_same_values_as_the_array_walks(d, n_bg, n_pairs, r, levels, max_memory, seed) -> None:
    rng = np.random.default_rng(seed)
    if levels:  # few values per feature: many x_j == b_j (null players)
        data = rng.integers(0, levels, size=(r + n_bg, d)).astype(float)
    else:
        data = rng.normal(size=(r + n_bg, d))
    X, bg = data[:r], data[r:]
    w = rng.random(n_bg) + 0.1
    game = Game(two_outputs, bg, w / w.sum(), max_memory)
    fb = two_outputs(bg)
    keys = np.stack([row_rng(seed, t).random((n_bg * n_pairs, d)) for t in range(r)])
    phi, se, fx, model_rows = walk_estimates_per_background(game, X, fb, keys, n_pairs)
    # oracle: the array implementation on the same draws
    rngs = [row_rng(seed, t) for t in range(r)]
    est, _ = _pair_estimates_per_background(
        game, X, two_outputs(X), fb, rngs, n_pairs, np.arange(r)
    )
    phi_ref, se_ref = _strata_mean_and_se(est, game.weights)
    np.testing.assert_allclose(phi, phi_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(se, se_ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(fx, two_outputs(X))
    # efficiency: every pair telescopes to f(x) - f(b)
    np.testing.assert_allclose(phi.sum(axis=1), fx - w @ fb / w.sum(), atol=1e-12)
    assert model_rows.shape == (r,)
    assert np.all(model_rows <= n_bg * n_pairs * 2 * (d - 1))


def test_null_players_cost_no_model_rows() -> None:
    d, n_bg = 6, 4
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, d))
    bg = np.repeat(X[:1], n_bg, axis=0)
    bg[:, :2] = rng.normal(size=(n_bg, 2))  # background rows differ from row 0 in 2 features
    model = Counted(two_outputs)
    game = Game(model, bg, np.full(n_bg, 1 / n_bg), 1 << 20)
    keys = np.stack([row_rng(1, t).random((n_bg * 8, d)) for t in range(3)])
    phi, se, _, model_rows = walk_estimates_per_background(game, X, two_outputs(bg), keys, 8)
    # row 0's games have 2 players: the only coalitions besides the empty and the full one
    # are {0} and {1}, one model row each per background row
    assert model_rows[0] == 2 * n_bg
    assert model_rows[1] > 2 * n_bg and model.calls == 1
    assert model.rows == 3 + model_rows.sum()
    # the 4 null players of row 0 get exactly 0; its 2-player games are exact (stderr 0)
    assert np.abs(phi[0, 2:]).max() == 0.0 and np.abs(se[0]).max() < 1e-12
    exact = ExactShapley(two_outputs, background=bg).explain(X[:1])
    np.testing.assert_allclose(phi[0], exact.values[0], atol=1e-12)


def test_one_model_call_per_batch_and_the_rows_reported() -> None:
    rng = np.random.default_rng(3)
    data = rng.integers(0, 3, size=(40, 7)).astype(float)  # categorical: many null players
    data[:, 0] += rng.normal(size=40)
    model = Counted(lambda X: two_outputs(X)[:, 0])
    exp = PermutationShap(model, background=data[:10], n_permutations=6).explain(
        data[10:40], seed=0
    )
    assert exp.params["coalitions"] == "per_background"
    assert exp.params["model_rows_evaluated"] == model.rows
    # one call for the background's outputs, one per batch of rows (30 rows: batches of 2)
    assert model.calls == 1 + 15
    # antithetic walks without null players would cost 3 pairs x 2 x 6 per background row
    assert model.rows < 0.7 * 30 * 10 * 3 * 2 * 6
    gap = exp.values.sum(axis=1)[:, 0] + exp.base_values[:, 0] - model.fn(data[10:40])
    assert np.abs(gap).max() < 1e-12
