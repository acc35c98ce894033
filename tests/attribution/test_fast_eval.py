"""Compiled tree evaluation in the sampling explainers (``fast_trees``): same values, or the model.

The compiled copy of a small-tree ensemble (assay.model._fast_predict) may replace the model
only where it reproduces it: HistGradientBoosting regressors and classifiers (NaN routing by
the learned missing-go-left flags, the baseline, expit / softmax links) must match
``predict`` / ``predict_proba`` to 1e-9, and an explainer must give the same values with and
without it for the same seed.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestRegressor,
)

from assay.attribution import KernelShap, PermutationShap
from assay.errors import InvalidInputError
from assay.model import wrap
from assay.model._fast_predict import CompiledPredictor, fast_tree_predictor


def _data(n: int = 300, d: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Features with NaNs whose presence carries signal, so HGB learns both missing directions."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X[:, 0] + np.sin(2 * X[:, 1]) + X[:, 2] * X[:, 3]
    miss0 = rng.random(n) < 0.15
    miss1 = rng.random(n) < 0.15
    y = y + 2.0 * miss0 - 2.0 * miss1  # missing in 0 pushes up, missing in 1 pushes down
    X[miss0, 0] = np.nan
    X[miss1, 1] = np.nan
    return X, y


@pytest.fixture(scope="module")
def models() -> dict[str, object]:
    X, y = _data()
    return {
        "X": X,
        "reg": HistGradientBoostingRegressor(max_iter=30, random_state=0).fit(X, y),
        "bin": HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(X, y > 0.5),
        "multi": HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(
            X, np.digitize(y, [-0.5, 0.8])
        ),
    }


def _missing_directions(model) -> set[bool]:
    """The missing-go-left flags the model's split nodes actually use on NaN-bearing features."""
    flags = set()
    for trees in model._predictors:
        for tree in trees:
            nodes = tree.nodes
            split = (nodes["is_leaf"] == 0) & np.isin(nodes["feature_idx"], [0, 1])
            flags |= set(nodes["missing_go_to_left"][split].astype(bool).tolist())
    return flags


@pytest.mark.parametrize("key", ["reg", "bin", "multi"])
def test_compiled_hgb_matches_the_model_on_rows_with_nan(models, key: str) -> None:
    model, X = models[key], models["X"]
    assert _missing_directions(model) == {True, False}  # both NaN routes are exercised
    adapter = wrap(model)
    fast = fast_tree_predictor(adapter, X[:100])
    assert fast is not None
    rows = np.vstack([X, np.random.default_rng(5).normal(scale=3, size=(200, X.shape[1]))])
    rows[::7, 2] = np.nan  # NaN in a feature never missing in training: the default route
    expected = model.predict(rows)[:, None] if key == "reg" else model.predict_proba(rows)
    assert np.abs(fast(rows) - expected).max() <= 1e-9
    # picklable (worker processes, Dask) and still the same after the round trip
    again = pickle.loads(pickle.dumps(fast))
    assert isinstance(again, CompiledPredictor)
    np.testing.assert_array_equal(again(rows), fast(rows))


@pytest.mark.parametrize("key", ["reg", "bin", "multi"])
@pytest.mark.parametrize("cls", [KernelShap, PermutationShap])
def test_same_seed_same_values_with_and_without_compiled_trees(models, key: str, cls) -> None:
    X = models["X"]
    opts = {"budget": 40} if cls is KernelShap else {"n_permutations": 6}
    runs = {
        fast: cls(models[key], background=X[:20], fast_trees=fast, **opts).explain(X[50:56], seed=3)
        for fast in (True, False)
    }
    assert runs[True].params["model_evaluation"] == "compiled trees"
    assert runs[False].params["model_evaluation"] == "model"
    np.testing.assert_allclose(runs[True].values, runs[False].values, rtol=0, atol=1e-12)
    np.testing.assert_allclose(runs[True].stderr, runs[False].stderr, rtol=0, atol=1e-12)
    np.testing.assert_allclose(runs[True].base_values, runs[False].base_values, rtol=0, atol=1e-12)
    # efficiency against the model's own output (not the compiled copy's)
    f = models[key].predict(X[50:56])[:, None] if key == "reg" else None
    if f is None:
        f = models[key].predict_proba(X[50:56])
    gap = runs[True].values.sum(axis=1) + runs[True].base_values - f
    assert np.abs(gap).max() < 1e-9


def test_log_odds_output_uses_the_raw_sum(models) -> None:
    X = models["X"]
    exps = [
        KernelShap(
            models["bin"], background=X[:15], budget=30, output_space="log_odds", fast_trees=fast
        ).explain(X[60:63], seed=1)
        for fast in (True, False)
    ]
    assert exps[0].params["model_evaluation"] == "compiled trees"
    np.testing.assert_allclose(exps[0].values, exps[1].values, rtol=0, atol=1e-12)


def test_unsupported_or_mismatching_models_fall_back_to_the_model(models) -> None:
    X, y = _data(d=4, seed=1)
    Xc = np.nan_to_num(X)
    Xc[:, 3] = np.random.default_rng(0).integers(0, 4, len(Xc))
    cat = HistGradientBoostingClassifier(max_iter=10, categorical_features=[3], random_state=0).fit(
        Xc, y > 0
    )
    big = RandomForestRegressor(n_estimators=3, random_state=0).fit(Xc, y)  # > 64 leaves
    for model in (cat, big, lambda Z: np.nansum(Z, axis=1)):
        exp = KernelShap(model, background=Xc[:10], budget=20).explain(Xc[20:22], seed=0)
        assert exp.params["model_evaluation"] == "model"
    # a model whose predictions differ from its trees (here: shifted by 1e-6) is never replaced
    adapter = wrap(models["reg"])
    honest = adapter.predict
    adapter.predict = lambda Z: honest(Z) + 1e-6  # type: ignore[method-assign]
    exp = KernelShap(adapter, background=models["X"][:10], budget=20).explain(
        models["X"][20:22], seed=0
    )
    assert exp.params["model_evaluation"] == "model"


@pytest.mark.parametrize("bad", [1, "yes", None])
def test_fast_trees_must_be_a_bool(models, bad) -> None:
    with pytest.raises(InvalidInputError, match="fast_trees must be True or False"):
        PermutationShap(models["reg"], fast_trees=bad)
