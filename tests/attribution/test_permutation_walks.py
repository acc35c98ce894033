"""Compiled walks per background row (``PermutationShap(coalitions="per_background")``): the
values of a plain loop over the same walks, and null players (``x_j == b_j``) cost no model
rows."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.attribution import ExactShapley, PermutationShap
from assay.attribution.shapley._permutation_walks import BackgroundWalks
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


def loop_oracle(f, X, bg, w, keys_per_row, rounds):
    """The estimator written as a plain loop: per row, background row and pair, walk the order
    forward and reversed with one model call per coalition; pool every round's pairs."""
    r, d = X.shape
    phi = np.zeros((r, d, 2))
    var = np.zeros((r, d, 2))
    for t in range(r):
        for b in range(len(bg)):
            pairs = []
            for keys, n_pairs in zip(keys_per_row[t], rounds, strict=True):
                for p in range(n_pairs):
                    order = np.argsort(keys[b * n_pairs + p], kind="stable")
                    est = np.zeros((d, 2))
                    for walk in (order, order[::-1]):
                        z = bg[b].copy()
                        prev = f(z[None])[0]
                        for j in walk:
                            z[j] = X[t, j]
                            cur = f(z[None])[0]
                            est[j] += 0.5 * (cur - prev)
                            prev = cur
                    pairs.append(est)
            pairs = np.array(pairs)
            phi[t] += w[b] * pairs.mean(axis=0)
            var[t] += w[b] ** 2 * pairs.var(axis=0, ddof=1) / len(pairs)
    return phi, np.sqrt(var)


@settings(max_examples=40, deadline=None)
@given(
    d=st.sampled_from([2, 3, 5, 8, 17]),
    n_bg=st.integers(1, 4),
    rounds=st.lists(st.integers(1, 3), min_size=1, max_size=3).filter(lambda x: sum(x) >= 2),
    r=st.integers(1, 3),
    levels=st.sampled_from([2, 3, 0]),  # 0: continuous features, no null players
    keep_table=st.booleans(),
    max_memory=st.sampled_from([64, 1 << 20]),
    seed=st.integers(0, 2**31 - 1),
)
def test_same_values_as_a_plain_loop(
    d, n_bg, rounds, r, levels, keep_table, max_memory, seed
) -> None:
    rng = np.random.default_rng(seed)
    if levels:  # few values per feature: many x_j == b_j (null players)
        data = rng.integers(0, levels, size=(r + n_bg, d)).astype(float)
    else:
        data = rng.normal(size=(r + n_bg, d))
    X, bg = data[:r], data[r:]
    w = rng.random(n_bg) + 0.1
    w /= w.sum()
    model = Counted(two_outputs)
    game = Game(model, bg, w, max_memory)
    rngs = [row_rng(seed, t) for t in range(r)]
    walks = BackgroundWalks(game, X, two_outputs(bg), rngs, keep_table=keep_table)
    spent = np.zeros(r, dtype=np.int64)
    for n_pairs in rounds:  # every row in every round (the oracle pools them the same way)
        spent += walks.draw(np.arange(r), n_pairs)
    phi, se = walks.read(np.arange(r))
    again = [row_rng(seed, t) for t in range(r)]
    keys = [[g.random((n_bg * m, d)) for m in rounds] for g in again]
    phi_ref, se_ref = loop_oracle(two_outputs, X, bg, w, keys, rounds)
    np.testing.assert_allclose(phi, phi_ref, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(se, se_ref, rtol=1e-7, atol=1e-10)
    np.testing.assert_array_equal(walks.fx, two_outputs(X))
    # efficiency: every pair telescopes to f(x) - f(b)
    np.testing.assert_allclose(phi.sum(axis=1), walks.fx - w @ two_outputs(bg), atol=1e-10)
    assert model.rows == r + spent.sum()  # the explained rows and each distinct coalition
    assert np.all(spent <= n_bg * sum(rounds) * 2 * (d - 1))


def test_null_players_cost_no_model_rows() -> None:
    d, n_bg = 6, 4
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, d))
    bg = np.repeat(X[:1], n_bg, axis=0)
    bg[:, :2] = rng.normal(size=(n_bg, 2))  # background rows differ from row 0 in 2 features
    model = Counted(two_outputs)
    game = Game(model, bg, np.full(n_bg, 1 / n_bg), 1 << 20)
    walks = BackgroundWalks(
        game, X, two_outputs(bg), [row_rng(1, t) for t in range(3)], keep_table=False
    )
    model_rows = walks.draw(np.arange(3), 8)
    phi, se = walks.read(np.arange(3))
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


def test_more_features_than_a_bit_code_holds() -> None:
    """Beyond 62 features the model rows are built from the orders instead of bit codes."""
    d, n_bg, n_pairs = 64, 2, 2
    rng = np.random.default_rng(4)
    X = rng.normal(size=(1, d))
    bg = rng.normal(size=(n_bg, d))
    bg[0, :30] = X[0, :30]  # null players in one game
    w = np.array([0.3, 0.7])
    model = Counted(two_outputs)
    walks = BackgroundWalks(
        Game(model, bg, w, 1 << 20), X, two_outputs(bg), [row_rng(2, 0)], keep_table=False
    )
    spent = walks.draw(np.arange(1), n_pairs)
    phi, se = walks.read(np.arange(1))
    keys = [[row_rng(2, 0).random((n_bg * n_pairs, d))]]
    phi_ref, se_ref = loop_oracle(two_outputs, X, bg, w, keys, [n_pairs])
    np.testing.assert_allclose(phi, phi_ref, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(se, se_ref, rtol=1e-7, atol=1e-10)
    # no revisits searched at this width, but the null players' coalitions share model rows
    assert model.rows == 1 + spent.sum() and spent[0] < n_bg * n_pairs * 2 * (d - 1)
