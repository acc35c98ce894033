"""Compiled walks per background row (``PermutationShap(coalitions="per_background")``): the
values of a plain loop over the same walks, and null players (``x_j == b_j``) cost no model
rows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.attribution import ExactShapley, PermutationShap
from assay.attribution.shapley import _sampling
from assay.attribution.shapley._permutation_walks import CODE_MAX_FEATURES, BackgroundWalks
from assay.attribution.shapley._sampling import Game, rows_per_chunk
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


def loop_oracle(f, X, bg, w, keys_per_row):
    """The estimator written as a plain loop: per row, background row and pair, walk the order
    forward and reversed with one model call per coalition; pool every round's pairs.
    ``keys_per_row[t]``: the keys of each round row ``t`` took part in."""
    r, d = X.shape
    phi = np.zeros((r, d, 2))
    var = np.zeros((r, d, 2))
    for t in range(r):
        for b in range(len(bg)):
            pairs = []
            for keys in keys_per_row[t]:
                n_pairs = len(keys) // len(bg)
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


@settings(max_examples=50, deadline=None)
@given(
    d=st.sampled_from([2, 3, 5, 8, 13, 16, 17, 63]),
    n_bg=st.integers(1, 3),
    rounds=st.lists(st.integers(1, 3), min_size=0, max_size=3),
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
    walks = BackgroundWalks(game, X, two_outputs(bg), rngs, keep_table=keep_table and d <= 12)
    # the first round has 2 pairs and every row (as PermutationShap's); later rounds a random
    # subset of the rows, as rows that reached the tolerance drop out
    spent = walks.draw(np.arange(r), 2)
    taken = [[2] for _ in range(r)]
    for n_pairs in rounds:
        rows = np.flatnonzero(rng.random(r) < 0.6)
        if rows.size:
            spent[rows] += walks.draw(rows, n_pairs)
            for t in rows:
                taken[t].append(n_pairs)
    phi, se = walks.read(np.arange(r))
    again = [row_rng(seed, t) for t in range(r)]
    keys = [[again[t].random((n_bg * m, d)) for m in taken[t]] for t in range(r)]
    phi_ref, se_ref = loop_oracle(two_outputs, X, bg, w, keys)
    np.testing.assert_allclose(phi, phi_ref, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(se, se_ref, rtol=1e-7, atol=1e-10)
    np.testing.assert_array_equal(walks.fx, two_outputs(X))
    # efficiency: every pair telescopes to f(x) - f(b)
    np.testing.assert_allclose(phi.sum(axis=1), walks.fx - w @ two_outputs(bg), atol=1e-10)
    assert model.rows == r + spent.sum()  # the explained rows and each distinct coalition


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
    # one call for the background's outputs, one per batch of rows
    n_batches = -(-30 // rows_per_chunk(30, 3 * 2 * 6, 10, 7, exp.params["max_memory"]))
    assert model.calls == 1 + n_batches
    # antithetic walks without null players would cost 3 pairs x 2 x 6 per background row
    assert model.rows < 0.7 * 30 * 10 * 3 * 2 * 6
    gap = exp.values.sum(axis=1)[:, 0] + exp.base_values[:, 0] - model.fn(data[10:40])
    assert np.abs(gap).max() < 1e-12


@pytest.mark.parametrize("d", [12, 20, 64])  # searched revisits (d <= 16) or not
def test_a_model_row_only_where_the_input_changes(d) -> None:
    """A game with 3 non-null players: each walk's prefixes take 2 distinct inputs besides the
    background and the explained row (1 and 2 of the 3 players), however many null players
    the walk adds in between; without a search for revisits that is 2 per walk."""
    n_pairs = 5
    rng = np.random.default_rng(d)
    X = rng.normal(size=(1, d))
    bg = X.copy()
    live = [1, d // 2, d - 1]
    bg[0, live] += 1.0  # x and b differ in 3 features
    model = Counted(two_outputs)
    walks = BackgroundWalks(
        Game(model, bg, np.ones(1), 1 << 20), X, two_outputs(bg), [row_rng(0, 0)], keep_table=False
    )
    spent = walks.draw(np.arange(1), n_pairs)
    if d <= 16:  # at most the 6 coalitions of sizes 1 and 2 of the 3 players
        assert spent[0] <= 6
    else:
        assert spent[0] == 2 * 2 * n_pairs
    assert model.rows == 1 + spent[0]
    phi, _ = walks.read(np.arange(1))
    assert np.abs(np.delete(phi[0], live, axis=0)).max() == 0.0  # null players get exactly 0
    np.testing.assert_allclose(phi[0].sum(axis=0), two_outputs(X)[0] - two_outputs(bg)[0])


def test_the_revisit_searches_fit_in_the_bit_codes() -> None:
    """The walks key revisits on int64 bit codes: the searches' widths must fit in them."""
    assert _sampling.STORE_MAX_FEATURES <= _sampling.DISTINCT_MAX_FEATURES <= CODE_MAX_FEATURES
