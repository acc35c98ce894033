"""One vocabulary (docs/ARCHITECTURE.md, "Names"): seed, ci_level, alpha only for significance,
options keyword-only; the old names still work, with a DeprecationWarning."""

from __future__ import annotations

import importlib
import inspect

import numpy as np
import pytest

from assay.errors import InvalidInputError

PACKAGES = [
    "assay", "assay.attribution", "assay.trust", "assay.glassbox", "assay.fairness",
    "assay.slices", "assay.probe", "assay.evals", "assay.acquire", "assay.plot",
]  # fmt: skip


def _public_callables():
    seen = {}
    for name in PACKAGES:
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", []):
            obj = getattr(module, attr)
            if inspect.isclass(obj):
                seen[f"{name}.{attr}"] = obj.__init__
                for meth_name, meth in vars(obj).items():
                    if inspect.isfunction(meth) and not meth_name.startswith("_"):
                        seen[f"{name}.{attr}.{meth_name}"] = meth
            elif callable(obj):
                seen[f"{name}.{attr}"] = obj
    return seen


def _params(fn):
    try:
        return inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {}


def test_vocabulary_of_the_public_api():
    bad = []
    for where, fn in _public_callables().items():
        for p in _params(fn).values():
            default = p.default
            if p.name in ("confidence", "confidence_level") and default is not None:
                bad.append(f"{where}({p.name}=...): the interval level is ci_level")
            if p.name == "random_state" and not where.startswith("assay.glassbox.GAM"):
                bad.append(f"{where}(random_state=...): seeds are named seed")
            if (
                p.name == "alpha"
                and isinstance(default, float)
                and not 0.0 < default <= 0.2
            ):
                bad.append(f"{where}(alpha={default}): alpha is a significance level only")
    assert bad == []


def test_estimators_take_settings_by_keyword():
    from assay.fairness import InvariantMLPClassifier

    with pytest.raises(TypeError):
        InvariantMLPClassifier((8,))
    assert InvariantMLPClassifier(hidden_layer_sizes=(8,)).hidden_layer_sizes == (8,)


def test_lime_exports_are_public():
    import assay.attribution as attribution
    from assay.attribution._lime import LimeTabular
    from assay.attribution._lime_text import LimeText, TokenExplanation

    assert attribution.LimeTabular is LimeTabular
    assert attribution.LimeText is LimeText
    assert attribution.TokenExplanation is TokenExplanation


def test_renamed_penalties_warn_and_mean_the_same():
    from assay.attribution import LimeTabular, LimeText
    from assay.probe import CCS

    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    f = lambda Z: Z @ np.array([1.0, -2.0, 0.5])  # noqa: E731
    new = LimeTabular(f, background=X, n_samples=200, l2=5.0).explain(X[:2], seed=0)
    with pytest.warns(DeprecationWarning, match="alpha= is deprecated.*use l2="):
        old = LimeTabular(f, background=X, n_samples=200, alpha=5.0).explain(X[:2], seed=0)
    np.testing.assert_array_equal(new.values, old.values)
    assert new.params["l2"] == 5.0
    with pytest.warns(DeprecationWarning, match="use l2="):
        assert LimeText(lambda ts: np.ones((len(ts), 1)), alpha=0.5).l2 == 0.5
    with pytest.warns(DeprecationWarning, match="use weight_decay="):
        assert CCS(alpha=0.3).weight_decay == 0.3
    assert CCS().get_params()["weight_decay"] == 0.01
    with pytest.raises(InvalidInputError, match="pass only l2"):
        LimeTabular(f, background=X, l2=2.0, alpha=3.0)


def test_renamed_interval_levels_warn_and_mean_the_same():
    from assay.fairness import GroupMetrics
    from assay.probe import probe_layers, transfer_matrix, wilson_interval

    assert wilson_interval(7, 20, ci_level=0.8) != wilson_interval(7, 20)
    with pytest.warns(DeprecationWarning, match="use ci_level="):
        assert wilson_interval(7, 20, confidence=0.8) == wilson_interval(7, 20, ci_level=0.8)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 120)
    acts = {"a": rng.normal(size=(120, 3)) + y[:, None]}
    new = probe_layers(acts, y, n_splits=3, ci_level=0.8, seed=0)
    with pytest.warns(DeprecationWarning, match="use ci_level="):
        old = probe_layers(acts, y, n_splits=3, confidence=0.8, seed=0)
    np.testing.assert_array_equal(new.ci_low, old.ci_low)
    assert new.params["ci_level"] == 0.8
    with pytest.warns(DeprecationWarning, match="use ci_level="):
        old_t = transfer_matrix({"a": (acts["a"], y), "b": (acts["a"], y)}, confidence=0.8)
    new_t = transfer_matrix({"a": (acts["a"], y), "b": (acts["a"], y)}, ci_level=0.8)
    np.testing.assert_array_equal(new_t.data["ci_low"], old_t.data["ci_low"])
    yp = rng.integers(0, 2, 120)
    kw = {"metrics": ["selection_rate"], "y_true": y, "y_pred": yp,
          "sensitive_features": rng.integers(0, 2, 120), "n_bootstrap": 99, "seed": 0}  # fmt: skip
    gm_new = GroupMetrics(**kw, ci_level=0.8)
    with pytest.warns(DeprecationWarning, match="use ci_level="):
        gm_old = GroupMetrics(**kw, confidence_level=0.8)
    assert gm_new.by_group_ci_low.equals(gm_old.by_group_ci_low)
    assert gm_new.params["confidence_level"] == 0.8
    with pytest.raises(InvalidInputError, match="pass only ci_level"):
        wilson_interval(7, 20, ci_level=0.8, confidence=0.9)


def test_gam_accepts_seed_as_random_state():
    from assay.glassbox import GAMRegressor

    rng = np.random.default_rng(0)
    X = rng.uniform(size=(300, 2))
    y = X[:, 0] + rng.normal(scale=0.1, size=300)
    kw = {"n_bags": 2, "interactions": 0, "max_rounds": 50}
    a = GAMRegressor(**kw, random_state=3).fit(X, y).predict(X)
    b = GAMRegressor(**kw, seed=3).fit(X, y).predict(X)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(InvalidInputError, match="seed is its alias"):
        GAMRegressor(**kw, random_state=1, seed=2).fit(X, y)
