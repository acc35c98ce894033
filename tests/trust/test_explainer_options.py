"""Explainer options that meet a check's own keyword get a clear error, not a bare TypeError."""

import numpy as np
import pytest
from sklearn.linear_model import Ridge

import assay
from assay.errors import InvalidInputError
from assay.trust import input_sensitivity, label_permutation_check


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = X @ [2.0, -1.0, 0.5, 0.0] + rng.normal(scale=0.1, size=120)
    return X, y


def test_label_permutation_uses_a_given_background(data, monkeypatch):
    import assay._explain as explain_module

    X, y = data
    real, seen = explain_module.explain, []

    def spy(model, rows, **kw):
        seen.append(np.asarray(kw["background"]))
        return real(model, rows, **kw)

    monkeypatch.setattr(explain_module, "explain", spy)
    fit = lambda X, y: Ridge().fit(X, y)  # noqa: E731
    label_permutation_check(fit, X, y, attribute="exact", X_explain=X[:5], seed=0)
    assert all(b.shape == X.shape for b in seen)  # default: the training rows
    seen.clear()
    given = X[:10] + 5.0
    res = label_permutation_check(
        fit, X, y, attribute="exact", X_explain=X[:5], seed=0, background=given
    )
    assert len(seen) == 2 and all(np.array_equal(b, given) for b in seen)
    assert res.status in {"ok", "warning", "alert"}


def test_label_permutation_refuses_method_option(data):
    X, y = data
    with pytest.raises(InvalidInputError, match="attribute="):
        label_permutation_check(
            lambda X, y: Ridge().fit(X, y), X, y, attribute="exact", method="kernel"
        )


@pytest.mark.parametrize("option", ["method", "output_space"])
def test_input_sensitivity_refuses_options_it_sets(data, option):
    X, y = data
    model = Ridge().fit(X, y)
    exp = assay.explain(model, X[:5], method="exact", background=X[:30])
    with pytest.raises(InvalidInputError, match=f"got {option}= among the explainer options"):
        input_sensitivity(exp, model, background=X[:30], **{option: "kernel"})
