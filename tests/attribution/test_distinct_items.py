"""Revisited coalitions are evaluated once (``distinct_items``): same values, fewer model rows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.attribution import KernelShap, PermutationShap
from assay.attribution.shapley import _sampling
from assay.attribution.shapley._permutation_walks import BackgroundWalks
from assay.attribution.shapley._sampling import CoalitionStore, distinct_items, evaluate_once


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(0, 300),
    d=st.integers(1, 9),
    n_groups=st.integers(1, 40),
    density=st.floats(0.0, 1.0),
    games_per_table=st.sampled_from([1, 3, 1 << 16]),
    in_order=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_distinct_items_agrees_with_a_dictionary(
    n, d, n_groups, density, games_per_table, in_order, seed
) -> None:
    rng = np.random.default_rng(seed)
    masks = rng.random((n, d)) < density
    group = rng.integers(0, n_groups, n)
    if in_order:  # as the explainers call it: games one after another
        group = np.sort(group)
    saved = _sampling.DISTINCT_TABLE_ENTRIES
    _sampling.DISTINCT_TABLE_ENTRIES = games_per_table << d  # one table or many windows
    try:
        first, inverse = distinct_items(group, masks, n_groups)
    finally:
        _sampling.DISTINCT_TABLE_ENTRIES = saved
    # oracle: the first index of each (group, coalition), in order of appearance
    seen: dict = {}
    for t in range(n):
        seen.setdefault((int(group[t]), masks[t].tobytes()), t)
    if in_order or games_per_table >= n_groups:
        assert first.tolist() == sorted(seen.values())
    else:  # games out of order across tables: some repeats may be kept
        assert len(seen) <= first.size and set(seen.values()) <= set(first.tolist())
    assert np.all(np.diff(first) > 0)
    np.testing.assert_array_equal(masks[first][inverse], masks)
    np.testing.assert_array_equal(group[first][inverse], group)


def test_distinct_items_keeps_every_item_beyond_its_feature_limit(monkeypatch) -> None:
    monkeypatch.setattr(_sampling, "DISTINCT_MAX_FEATURES", 2)
    masks = np.array([[1, 0, 1], [1, 0, 1]], dtype=bool)
    first, inverse = distinct_items(np.zeros(2, dtype=np.int64), masks, 1)
    assert first.tolist() == [0, 1] and inverse.tolist() == [0, 1]


class Counted:
    def __init__(self) -> None:
        self.rows = 0

    def __call__(self, X: np.ndarray) -> np.ndarray:
        self.rows += len(X)
        return X[:, 0] * X[:, 1] * X[:, 2] + np.tanh(X[:, 3] * X[:, 4]) + X.sum(axis=1)


@pytest.mark.parametrize("coalitions", ["shared", "per_background"])
@pytest.mark.parametrize(
    "make",
    [
        lambda m, bg, c: PermutationShap(m, background=bg, coalitions=c),  # default 32
        lambda m, bg, c: PermutationShap(m, background=bg, coalitions=c, tolerance=0.05),
        lambda m, bg, c: KernelShap(m, background=bg, coalitions=c, budget=120),
        lambda m, bg, c: KernelShap(m, background=bg, coalitions=c, budget=240, tolerance=0.03),
    ],
    ids=["permutation", "permutation-tolerance", "kernel", "kernel-tolerance"],
)
def test_same_values_with_fewer_model_rows(monkeypatch, make, coalitions) -> None:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(60, 8))
    bg, rows = X[:10], X[20:60]  # 40 rows: batches of 3, so rows share a batch
    model = Counted()
    deduplicated = make(model, bg, coalitions).explain(rows, seed=3)
    assert deduplicated.params["model_rows_evaluated"] == model.rows
    monkeypatch.setattr(_sampling, "DISTINCT_MAX_FEATURES", 0)  # every item evaluated
    monkeypatch.setattr(_sampling, "STORE_MAX_FEATURES", 0)
    every = Counted()
    plain = make(every, bg, coalitions).explain(rows, seed=3)
    assert plain.params["model_rows_evaluated"] == every.rows
    # the same draws and the same values: only repeated model rows were left out
    np.testing.assert_allclose(deduplicated.values, plain.values, rtol=0, atol=1e-12)
    np.testing.assert_allclose(deduplicated.stderr, plain.stderr, rtol=0, atol=1e-12)
    assert model.rows < every.rows
    if "n_permutations_used" in plain.params and plain.params["tolerance"] is None:
        # d = 8, 16 pairs at once: the walks revisit over a third of their coalitions
        assert model.rows < 0.7 * every.rows


def test_a_store_evaluates_each_coalition_once_across_calls() -> None:
    rng = np.random.default_rng(8)
    d, n_games = 5, 4
    store = CoalitionStore(n_games, d)
    calls = []

    def value(group: np.ndarray, masks: np.ndarray) -> np.ndarray:
        code = masks.astype(np.int64) @ (1 << np.arange(d))
        return np.stack([group * 100.0 + code, -code], axis=1)  # k = 2 outputs

    seen: set = set()
    for _ in range(6):
        group = rng.integers(0, n_games, 50)
        masks = rng.random((50, d)) < 0.5

        def evaluate(idx: np.ndarray, group=group, masks=masks) -> np.ndarray:
            calls.append(
                [(int(g), m.tobytes()) for g, m in zip(group[idx], masks[idx], strict=True)]
            )
            return value(group[idx], masks[idx])

        got, new = evaluate_once(group, masks, n_games, evaluate, store)
        np.testing.assert_array_equal(got, value(group, masks))
        keys = [(int(g), m.tobytes()) for g, m in zip(group[new], masks[new], strict=True)]
        assert not (set(keys) & seen) and len(set(keys)) == len(keys)  # new, and once each
        seen |= set(keys)
    assert sum(len(c) for c in calls) == len(seen) == store.size


@pytest.mark.parametrize("coalitions", ["shared", "per_background"])
@pytest.mark.parametrize("estimator", ["permutation", "kernel"])
def test_tolerance_rounds_look_up_what_earlier_rounds_evaluated(
    monkeypatch, coalitions, estimator
) -> None:
    rng = np.random.default_rng(6)
    d = 6 if estimator == "permutation" else 8  # d = 6 has only 62 coalitions: exact for kernel
    X = rng.normal(size=(60, d))
    bg, rows = X[:8], X[20:44]
    used = "n_permutations_used" if estimator == "permutation" else "n_coalitions"

    def run() -> tuple:
        model = Counted()
        if estimator == "permutation":
            explainer = PermutationShap(
                model, background=bg, coalitions=coalitions, n_permutations=128, tolerance=0.05
            )
        else:
            explainer = KernelShap(
                model, background=bg, coalitions=coalitions, budget=250, tolerance=0.02
            )
        return explainer.explain(rows, seed=1), model.rows

    stored, n_stored = run()
    assert max(stored.params[used]) > 2 * min(stored.params[used])  # several rounds
    with monkeypatch.context() as patch:  # the first round's coalitions are stored too
        patch.setattr(CoalitionStore, "insert", lambda self, *a: None)
        patch.setattr(BackgroundWalks, "_insert_first_round", lambda walks: None)
        assert run()[1] > n_stored
    monkeypatch.setattr(CoalitionStore, "fits", staticmethod(lambda d, c: False))
    each_round, n_each = run()
    np.testing.assert_allclose(stored.values, each_round.values, rtol=0, atol=1e-12)
    np.testing.assert_allclose(stored.stderr, each_round.stderr, rtol=0, atol=1e-12)
    assert stored.params[used] == each_round.params[used]
    assert stored.params["model_rows_evaluated"] == n_stored < 0.9 * n_each


@pytest.mark.parametrize("tolerance", [None, 0.02])
def test_kernel_per_background_evaluates_null_player_variants_once(monkeypatch, tolerance) -> None:
    """Binary features: most are equal in the row and a background row (null players of
    that game), so many drawn coalitions are the same model input; each is evaluated once,
    with the same values as evaluating every draw."""
    rng = np.random.default_rng(2)
    X = rng.integers(0, 2, size=(60, 12)).astype(float)
    X[:, 0] += rng.normal(size=60)
    bg, rows = X[:10], X[20:40]

    def run() -> tuple:
        model = Counted()
        exp = KernelShap(
            model, background=bg, coalitions="per_background", budget=200, tolerance=tolerance
        ).explain(rows, seed=4)
        assert exp.params["model_rows_evaluated"] == model.rows
        return exp, model.rows

    deduplicated, n_dedup = run()
    monkeypatch.setattr(_sampling, "DISTINCT_MAX_FEATURES", 0)  # every draw evaluated
    monkeypatch.setattr(_sampling, "STORE_MAX_FEATURES", 0)
    plain, n_plain = run()
    np.testing.assert_allclose(deduplicated.values, plain.values, rtol=0, atol=1e-12)
    np.testing.assert_allclose(deduplicated.stderr, plain.stderr, rtol=0, atol=1e-12)
    assert n_dedup < 0.6 * n_plain
