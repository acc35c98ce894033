"""No silent wrong numbers: model outputs, backgrounds and options are checked (issue 19).

Each test reproduces a report from an adversarial user and asserts the fixed behaviour: an
assay error that names what was seen, or a result that is right by an independent argument.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import assay
from assay.errors import AssayWarning, InvalidInputError, ModelError

W = np.array([1.0, -2.0, 0.5])
RNG = np.random.default_rng(0)
X = RNG.normal(size=(30, 3))
FRAME = pd.DataFrame(X, columns=["a", "b", "c"])


def linear(A):
    return A @ W


def partly_nan(A):
    return np.where(A[:, 0] > 0, np.nan, A @ W)


def some_inf(A):
    return np.where(A[:, 1] < -1, -np.inf, A @ W)


SMALL = {
    "exact": {},
    "kernel": {"budget": 64},
    "permutation": {"n_permutations": 4},
    "lime": {"n_samples": 200},
}


# -- model outputs -----------------------------------------------------------------------------
@pytest.mark.parametrize("method", list(SMALL))
@pytest.mark.parametrize("model", [partly_nan, some_inf])
def test_nonfinite_model_output_raises_with_count_and_rows(method, model):
    with pytest.raises(ModelError) as info:
        assay.explain(model, X[:3], method=method, background=X, seed=0, **SMALL[method])
    msg = str(info.value)
    assert "NaN" in msg and "infinite value(s)" in msg and "first rows: [" in msg


def test_nonfinite_message_counts_match_the_call():
    from assay.model import wrap

    adapter = wrap(partly_nan)
    with pytest.raises(ModelError) as info:
        adapter.predict(X)
    n_bad = int((X[:, 0] > 0).sum())
    first = np.flatnonzero(X[:, 0] > 0)[:5].tolist()
    assert f"returned {n_bad} NaN and 0 infinite value(s) in {n_bad} of 30 rows" in str(info.value)
    assert f"first rows: {first}" in str(info.value)


def test_integrated_gradients_nan_output_and_wrong_shape():
    torch = pytest.importorskip("torch")

    class NanNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3, 1).double()

        def forward(self, x):
            out = self.lin(x)
            return torch.where(x[:, :1] > 0, torch.full_like(out, float("nan")), out)

    class Flattens(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3, 2).double()

        def forward(self, x):
            return self.lin(x).reshape(-1)

    with pytest.raises(ModelError, match="NaN"):
        assay.explain(NanNet(), X[:4], method="integrated_gradients")
    with pytest.raises(ModelError, match=r"shape \(8,\) for 4 input rows"):
        assay.explain(Flattens(), X[:4], method="integrated_gradients")


def test_finite_outputs_still_explained_exactly():
    exp = assay.explain(linear, X[:5], method="exact", background=X)
    assert np.allclose(exp.values[..., 0], (X[:5] - X.mean(axis=0)) * W, atol=1e-12)


# -- backgrounds matched by name ---------------------------------------------------------------
@pytest.mark.parametrize("method", ["exact", "kernel", "permutation", "lime"])
def test_reordered_background_frame_gives_the_same_attributions(method):
    opts = dict(SMALL[method], seed=0)
    ordered = assay.explain(linear, FRAME[:4], method=method, background=FRAME, **opts)
    shuffled = FRAME[["c", "a", "b"]]
    reordered = assay.explain(linear, FRAME[:4], method=method, background=shuffled, **opts)
    np.testing.assert_array_equal(ordered.values, reordered.values)
    # and the values are the right ones: linear model, interventional = w_j (x_j - mean_j)
    if method in ("exact", "kernel", "permutation"):
        truth = (X[:4] - X.mean(axis=0)) * W
        assert np.allclose(ordered.values[..., 0], truth, atol=1e-8)


def test_renamed_background_column_is_an_error_naming_it():
    with pytest.raises(InvalidInputError, match=r"not in background: \['b'\].*not in X: \['B'\]"):
        assay.explain(
            linear, FRAME[:2], method="exact", background=FRAME.rename(columns={"b": "B"})
        )


def test_integrated_gradients_mean_baseline_matches_background_by_name():
    torch = pytest.importorskip("torch")
    net = torch.nn.Linear(3, 1).double()
    with torch.no_grad():
        net.weight.copy_(torch.as_tensor(W[None, :]))
        net.bias.zero_()
    a = assay.explain(net, FRAME[:3], method="integrated_gradients", baseline="mean",
                      background=FRAME)  # fmt: skip
    b = assay.explain(net, FRAME[:3], method="integrated_gradients", baseline="mean",
                      background=FRAME[["b", "c", "a"]])  # fmt: skip
    np.testing.assert_allclose(a.values, b.values, atol=1e-12)
    assert np.allclose(a.values[..., 0], (X[:3] - X.mean(axis=0)) * W, atol=1e-10)


def test_one_row_without_background_is_a_clear_error():
    with pytest.raises(InvalidInputError, match="its own reference"):
        assay.explain(linear, X[:1], method="exact")
    exp = assay.explain(linear, X[:1], method="exact", background=X)  # with one: fine
    assert np.abs(exp.values).sum() > 0


def test_unknown_explain_option_names_the_accepted_ones():
    with pytest.raises(InvalidInputError, match=r"does not take the option.*n_samples.*budget"):
        assay.explain(linear, X[:2], method="kernel", background=X, n_samples=10)


def test_lime_on_huge_values_says_rescale():
    with pytest.raises(InvalidInputError, match=r"too large.*Rescale"):
        assay.explain(linear, X[:2] * 1e300, method="lime", background=X * 1e300, seed=0)


def test_attribution_overflow_is_an_error_not_inf():
    def big(A):  # finite outputs whose differences overflow float64
        return np.where(A[:, 0] > 0, 1.7e308, -1.7e308)

    with warnings.catch_warnings(), pytest.raises(ModelError, match="overflowed"):
        warnings.simplefilter("ignore", RuntimeWarning)
        assay.explain(big, X[:4], method="permutation", background=X, n_permutations=4, seed=0)


# -- value of information ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def voi_setup():
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(1)
    Xt = rng.normal(size=(400, 2))
    y = (Xt[:, 0] + 0.3 * rng.normal(size=400) > 0).astype(int)
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(Xt, y)
    q = Xt[:6].copy()
    q[:, 0] = np.nan
    return model, Xt, q


@pytest.mark.parametrize("threshold", [5, -1, 0.0, 1.0, np.nan, "0.5", True])
def test_voi_threshold_must_be_a_probability(voi_setup, threshold):
    from assay.acquire import value_of_information

    model, Xt, q = voi_setup
    with pytest.raises(InvalidInputError, match="threshold must be a probability"):
        value_of_information(model, q, X_reference=Xt, threshold=threshold)


def test_voi_one_reference_row_is_an_error(voi_setup):
    from assay.acquire import value_of_information

    model, Xt, q = voi_setup
    with pytest.raises(InvalidInputError, match="only 1 row"):
        value_of_information(model, q, X_reference=Xt[:1])


def test_voi_more_samples_than_reference_rows_fakes_no_precision(voi_setup):
    """Asking for 1000 draws from 10 reference rows gives exactly the 10-draw answer."""
    from assay.acquire import value_of_information

    model, Xt, q = voi_setup
    ten = value_of_information(model, q, X_reference=Xt[:10], n_samples=10)
    with pytest.warns(AssayWarning, match="at most that many"):
        many = value_of_information(model, q, X_reference=Xt[:10], n_samples=1000)
    np.testing.assert_allclose(many.values, ten.values, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(many.stderr, ten.stderr, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(many.decision_change, ten.decision_change)
    assert many.params["n_samples_used"] == {"x0": 10}


# -- probes ------------------------------------------------------------------------------------
def test_ccs_identical_sides_is_an_error():
    from assay.probe import CCS

    A = np.random.default_rng(2).normal(size=(40, 5))
    y = np.where(np.arange(40) < 20, np.arange(40) % 3 == 0, -1).astype(int)
    with pytest.raises(InvalidInputError, match="identical after each side is normalized"):
        CCS(seed=0).fit(A, A, y)
    with pytest.raises(InvalidInputError, match="identical"):
        CCS(seed=0).fit(A, A + 5.0, y)  # a constant shift per side is the same pair after centering


def test_ccs_undecided_credences_score_one_half(monkeypatch):
    """A probe whose every calibration credence is 0.5 decides nothing: accuracy 0.5.

    Before the fix ties counted as "x- is true", so 35% positive labels gave 0.65 after the
    sign flip.
    """
    from assay.probe import CCS

    rng = np.random.default_rng(3)
    A, B = rng.normal(size=(40, 4)), rng.normal(size=(40, 4))
    y = np.full(40, -1)
    y[:20] = (np.arange(20) < 7).astype(int)  # 35% positive
    monkeypatch.setattr(CCS, "_credence", lambda self, Zp, Zn: np.full(Zp.shape[0], 0.5))
    ccs = CCS(seed=0, n_restarts=2).fit(A, B, y)
    assert ccs.calibration_accuracy_ == 0.5


def test_capture_layers_with_colliding_file_names(tmp_path):
    torch = pytest.importorskip("torch")
    from assay.probe import capture

    torch.manual_seed(0)
    net = torch.nn.Sequential()
    net.add_module("a b", torch.nn.Linear(3, 4))
    net.add_module("a_b", torch.nn.Linear(4, 2))
    inputs = torch.randn(5, 3)
    on_disk = capture(net, inputs, ["a b", "a_b"], out=tmp_path)
    in_memory = capture(net, inputs, ["a b", "a_b"])
    assert on_disk["a b"].shape == (5, 4) and on_disk["a_b"].shape == (5, 2)
    for layer in ("a b", "a_b"):
        np.testing.assert_array_equal(np.asarray(on_disk[layer]), in_memory[layer])
    files = json.loads((tmp_path / "manifest.json").read_text())["files"]
    assert len(set(files.values())) == 2 and files["a b"] != files["a_b"]


# -- glass-box models --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("X_fit", "y_fit", "options", "expected"),
    [
        (X, X[:, 0], {}, "Unknown label type.*use GAMRegressor"),
        (np.empty((30, 0)), np.arange(30) % 2, {}, "0 feature.*at least one feature"),
        (pd.DataFrame({"a": ["x", "y"] * 15}), np.arange(30) % 2, {}, r"a \(object\).*Encode"),
        (
            pd.DataFrame({"t": pd.date_range("2020", periods=30)}),
            np.arange(30) % 2,
            {},
            r"t \(datetime64.*days since",
        ),
        (X, np.arange(30) % 2, {"random_state": "x"}, "random_state must be None or a non-neg"),
        (X, np.array(["x"] + [0, 1] * 14 + [1], dtype=object), {}, "mixes label types"),
    ],
)
def test_gam_input_errors_are_assay_errors(X_fit, y_fit, options, expected):
    from assay.glassbox import GAMClassifier

    with pytest.raises(InvalidInputError, match=expected):
        GAMClassifier(n_bags=1, max_rounds=5, **options).fit(X_fit, y_fit)


def test_no_runtime_warnings_leak_from_checks():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ModelError):
            assay.explain(partly_nan, X[:2], method="exact", background=X)


def test_attributions_that_cancel_to_rounding_noise_are_refused():
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    model = LinearRegression().fit(X, X @ [1.0, -2.0, 0.5])
    with pytest.raises(assay.errors.ModelError, match="rounding noise"):
        assay.explain(model, X[:3], method="exact", background=X[:10] * 1e200)
    ok = assay.explain(model, X[:3], method="exact", background=X[:10] * 1e3)  # still exact
    np.testing.assert_allclose(ok.values.sum(axis=1)[:, 0] + ok.base_values[:, 0],
                               model.predict(X[:3]), rtol=1e-6)  # fmt: skip
