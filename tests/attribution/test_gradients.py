"""Tests for the gradient explainers (assay.attribution.gradients) against captum and calculus."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import assay  # noqa: E402
from assay.attribution.gradients import (  # noqa: E402
    InputXGradient,
    IntegratedGradients,
    Saliency,
    SmoothGrad,
    quadrature,
)
from assay.errors import InvalidInputError, ModelError  # noqa: E402


def _mlp(act, d=5, k=2, seed=0):
    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(d, 16), act(), torch.nn.Linear(16, 16), act(), torch.nn.Linear(16, k)
    ).double()
    return net.eval()


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(8, 5)), rng.normal(size=(50, 5))


def _captum_ig(net, X, method, n_steps, target, baseline=None):
    from captum.attr import IntegratedGradients as CaptumIG

    Xt = torch.as_tensor(X)
    b = None if baseline is None else torch.as_tensor(baseline).expand_as(Xt)
    out = CaptumIG(net).attribute(Xt, baselines=b, target=target, n_steps=n_steps, method=method)
    return out.detach().numpy()


@pytest.mark.parametrize(
    "method", ["gausslegendre", "riemann_left", "riemann_right", "riemann_middle"]
)
def test_ig_equals_captum(data, method):
    X, _ = data
    net = _mlp(torch.nn.Tanh)
    baseline = np.linspace(-0.5, 0.5, 5)
    for b in (None, baseline):
        kw = {} if b is None else {"baseline": b}
        exp = IntegratedGradients(net, n_steps=20, method=method, **kw).explain(X)
        for t in (0, 1):
            ref = _captum_ig(net, X, method, 20, t, b)
            # captum builds Riemann nodes with float32 linspace (errors ~6e-8 in alpha)
            np.testing.assert_allclose(exp.values[:, :, t], ref, atol=1e-6, rtol=0)


def test_trapezoid_weights_sum_to_one_unlike_captum(data):
    X, _ = data
    net = _mlp(torch.nn.Tanh)
    n = 10
    ours = IntegratedGradients(net, n_steps=n, method="riemann_trapezoid", target=1).explain(X)
    captum = _captum_ig(net, X, "riemann_trapezoid", n, 1)
    # same nodes, captum's weights are ours times (n-1)/n: they sum to 1 - 1/n
    np.testing.assert_allclose(ours.values[:, :, 0], captum * n / (n - 1), atol=1e-6)
    for m in ("gausslegendre", "riemann_left", "riemann_right", "riemann_middle"):
        a, w = quadrature(m, 7)
        assert w.sum() == pytest.approx(1.0, abs=1e-14) and a.min() >= 0 and a.max() <= 1
    a, w = quadrature("gausslegendre", 4)  # exact up to degree 2n-1 = 7
    assert (w * a**7).sum() == pytest.approx(1 / 8, abs=1e-15)


def test_completeness_gauss_legendre_32_tanh(data):
    X, _ = data
    net = _mlp(torch.nn.Tanh)
    exp = IntegratedGradients(net, n_steps=32).explain(X * 2.0)
    # independent check of completeness with the model's own outputs
    with torch.no_grad():
        fx = net(torch.as_tensor(X * 2.0)).numpy()
        f0 = net(torch.zeros(1, 5, dtype=torch.float64)).numpy()
    gap = np.abs(exp.values.sum(axis=1) - (fx - f0)) / np.abs(fx - f0)
    assert gap.max() < 1e-6
    np.testing.assert_allclose(np.asarray(exp.params["completeness_error"]), gap, atol=1e-12)
    np.testing.assert_allclose(exp.base_values, np.broadcast_to(f0, fx.shape), atol=1e-14)
    assert exp.params["model_evaluations"] == 32 * X.shape[0] * 1  # one pass, k=2 backwards
    json.dumps(exp.to_dict())


def test_adaptive_mode_reaches_tolerance_on_relu(data):
    X, _ = data
    net = _mlp(torch.nn.ReLU, seed=3)
    X3 = X * 3.0
    fixed = IntegratedGradients(net, n_steps=8).explain(X3)
    ada = IntegratedGradients(net, n_steps=8, adaptive=True, tol=0.01, max_steps=4096).explain(X3)
    with torch.no_grad():
        delta = (net(torch.as_tensor(X3)) - net(torch.zeros(1, 5, dtype=torch.float64))).numpy()
    rel = np.abs(ada.values.sum(axis=1) - delta) / np.abs(delta)
    assert rel.max() < 0.01
    assert ada.params["not_converged"] == [] and all(ada.params["converged"])
    steps = np.asarray(ada.params["steps_used"])
    assert set(steps.tolist()) <= {8 * 2**j for j in range(10)}
    # the gradient of a ReLU net jumps along the path, so 8 Gauss-Legendre nodes are not enough:
    # rows needed up to 512 steps here (and 0.01 is still missed at 1024 left-Riemann steps)
    assert np.max(fixed.params["completeness_error"]) >= 0.01 and steps.max() > 8
    np.testing.assert_allclose(np.asarray(ada.params["completeness_error"]), rel, atol=1e-12)
    # rows that cannot converge within max_steps are reported, not hidden
    capped = IntegratedGradients(
        net, n_steps=2, method="riemann_left", adaptive=True, tol=1e-9, max_steps=4
    ).explain(X3)
    assert capped.params["not_converged"] and max(capped.params["steps_used"]) == 4


def test_baselines_mean_and_expected_on_linear_model(data):
    X, bg = data
    torch.manual_seed(1)
    lin = torch.nn.Linear(5, 1).double()
    w = lin.weight.detach().numpy()[0]
    exp = IntegratedGradients(lin, baseline="mean", background=bg, n_steps=1).explain(X)
    np.testing.assert_allclose(exp.values[:, :, 0], w * (X - bg.mean(axis=0)), atol=1e-12)
    eg = IntegratedGradients(lin, baseline="expected", background=bg, n_baselines=7)
    a, b = eg.explain(X, seed=3), eg.explain(X, seed=3)
    assert np.array_equal(a.values, b.values) and a.params["seed"] == 3
    # linear: EG = w * (x - mean of the drawn baselines), and values + base = f(x)
    with torch.no_grad():
        fx = lin(torch.as_tensor(X)).numpy()
    np.testing.assert_allclose(a.values.sum(axis=1) + a.base_values, fx, atol=1e-12)
    implied_mean = X - a.values[:, :, 0] / w
    for i in range(X.shape[0]):  # the implied mean baseline is a mean of 7 background rows
        rng = np.random.default_rng(np.random.SeedSequence(3, spawn_key=(i,)))
        drawn = bg[rng.integers(0, bg.shape[0], size=7)].mean(axis=0)
        np.testing.assert_allclose(implied_mean[i], drawn, atol=1e-10)


def test_saliency_and_input_x_gradient_match_captum(data):
    from captum.attr import InputXGradient as CIxG
    from captum.attr import Saliency as CSal

    X, _ = data
    net = _mlp(torch.nn.Tanh)
    Xt = torch.as_tensor(X)
    sal = Saliency(net).explain(X)
    sal_abs = Saliency(net, absolute=True).explain(X)
    ixg = InputXGradient(net, target=1).explain(X)
    for t in (0, 1):
        ref = CSal(net).attribute(Xt.clone().requires_grad_(), target=t, abs=False)
        np.testing.assert_allclose(sal.values[:, :, t], ref.detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(sal_abs.values[:, :, t], np.abs(ref.detach().numpy()))
    ref = CIxG(net).attribute(Xt.clone().requires_grad_(), target=1).detach().numpy()
    np.testing.assert_allclose(ixg.values[:, :, 0], ref, atol=1e-12)
    assert ixg.output_names == ["output_1"]


class _Square(torch.nn.Module):
    def forward(self, x):
        return (x * x).sum(dim=1)


def test_smoothgrad_variants_against_closed_forms(data):
    X, bg = data
    net = _Square()
    sigma = 0.2 * (bg.max(axis=0) - bg.min(axis=0))
    m = 400
    sg = SmoothGrad(net, background=bg, n_samples=m, noise_level=0.2).explain(X, seed=0)
    again = SmoothGrad(net, background=bg, n_samples=m, noise_level=0.2).explain(X, seed=0)
    assert np.array_equal(sg.values, again.values)
    np.testing.assert_allclose(sg.params["noise_sd"], sigma, atol=1e-12)
    # grad = 2(x + e): the mean is 2x, the stderr 2 sigma / sqrt(m)
    z = (sg.values[:, :, 0] - 2 * X) / sg.stderr[:, :, 0]
    assert np.abs(z).max() < 5.0
    np.testing.assert_allclose(
        sg.stderr[:, :, 0], 2 * sigma / np.sqrt(m) * np.ones_like(X), rtol=0.2
    )
    sq = SmoothGrad(net, background=bg, n_samples=m, noise_level=0.2, variant="smoothgrad_sq")
    e2 = sq.explain(X, seed=0)
    assert np.abs((e2.values[:, :, 0] - 4 * (X**2 + sigma**2)) / e2.stderr[:, :, 0]).max() < 5.0
    vg = SmoothGrad(net, background=bg, n_samples=m, noise_level=0.2, variant="vargrad")
    e3 = vg.explain(X, seed=0)
    assert np.abs((e3.values[:, :, 0] - 4 * sigma**2) / e3.stderr[:, :, 0]).max() < 5.0


def test_image_shaped_inputs_and_dispatch():
    torch.manual_seed(0)
    conv = torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 3), torch.nn.Tanh(), torch.nn.Flatten(), torch.nn.Linear(8, 3)
    ).double()
    X = np.random.default_rng(0).normal(size=(3, 1, 4, 4))
    exp = IntegratedGradients(conv, n_steps=32, target=[2]).explain(X)
    assert exp.values.shape == (3, 16, 1) and exp.params["input_shape"] == [1, 4, 4]
    assert max(max(r) for r in exp.params["completeness_error"]) < 1e-8
    via = assay.explain(conv, X, method="integrated_gradients", n_steps=32, target=[2])
    np.testing.assert_array_equal(via.values, exp.values)
    sal = assay.explain(conv, X, method="saliency")
    assert sal.values.shape == (3, 16, 3) and sal.method == "saliency"


def test_errors_are_actionable(data):
    X, _ = data
    net = _mlp(torch.nn.Tanh)
    with pytest.raises(ModelError, match="needs gradients"):
        IntegratedGradients(lambda Z: Z.sum(axis=1))
    with pytest.raises(InvalidInputError, match="needs background"):
        IntegratedGradients(net, baseline="mean")
    with pytest.raises(InvalidInputError, match="method must be one of"):
        IntegratedGradients(net, method="simpson")
    with pytest.raises(InvalidInputError, match="out of range"):
        IntegratedGradients(net, target=5).explain(X)
    with pytest.raises(InvalidInputError, match="baseline has shape"):
        IntegratedGradients(net, baseline=np.zeros(3)).explain(X)
    with pytest.raises(ModelError, match="failed"):
        IntegratedGradients(net).explain(X[:, :3])
