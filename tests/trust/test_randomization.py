"""Adebayo et al. (2018) randomization sanity checks."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from assay.errors import InvalidInputError
from assay.trust import cascading_randomization, label_permutation_check, parameter_layers

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def trained_mlp():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny model: threads only add contention
    try:
        torch.manual_seed(0)
        rng = np.random.default_rng(0)
        X = rng.normal(size=(512, 8)).astype(np.float32)
        y = 2 * X[:, 0] - X[:, 1] ** 2 + np.sin(2 * X[:, 2]) + 0.5 * X[:, 3] * X[:, 4]
        net = torch.nn.Sequential(
            torch.nn.Linear(8, 32),
            torch.nn.Tanh(),
            torch.nn.Linear(32, 32),
            torch.nn.Tanh(),
            torch.nn.Linear(32, 1),
        )
        opt = torch.optim.Adam(net.parameters(), lr=0.01)
        Xt, yt = torch.tensor(X), torch.tensor(y, dtype=torch.float32)[:, None]
        for _ in range(300):
            opt.zero_grad()
            loss = ((net(Xt) - yt) ** 2).mean()
            loss.backward()
            opt.step()
        assert loss.item() < 0.05 * float(yt.var())  # it learned the function
        yield net, X
    finally:
        torch.set_num_threads(threads)


def _saliency(module, X):
    """Gradient of the output by hand (an oracle independent of assay's gradient methods)."""
    x = torch.tensor(X, dtype=torch.float32, requires_grad=True)
    module(x).sum().backward()
    return x.grad.numpy()


@pytest.mark.parametrize("attribute", ["saliency", "integrated_gradients", _saliency])
def test_gradient_attributions_change_when_the_top_layers_are_randomized(trained_mlp, attribute):
    net, X = trained_mlp
    before = [p.detach().clone() for p in net.parameters()]
    res = cascading_randomization(net, X[:64], attribute=attribute, seed=0)
    assert res.steps == ("4", "2", "0")  # output layer first
    assert res.spearman.shape == (3,) and res.spearman_rows.shape == (3, 64)
    # randomizing the top layer alone already scrambles the ranking
    assert res.spearman[0] < 0.5, res.spearman
    assert res.final_spearman < 0.5 and res.passed and res.status == "ok"
    assert res.top_k_overlap[-1] < 0.5
    # the model itself is untouched
    for p, q in zip(before, net.parameters(), strict=True):
        assert torch.equal(p, q)


def test_an_attribution_that_ignores_the_model_fails(trained_mlp):
    net, X = trained_mlp
    res = cascading_randomization(net, X[:32], attribute=lambda module, Z: Z, seed=0)
    np.testing.assert_allclose(res.spearman, 1.0)
    assert not res.passed and res.status == "alert" and "barely change" in res.verdict


def test_hand_computed_rank_correlation_on_a_linear_layer():
    # one linear layer y = w.x; saliency = w for every row. Re-initialization is seeded, so
    # the expected correlation is the Spearman of |w| before and after reset_parameters.
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 1))
    w0 = net[0].weight.detach().numpy()[0].copy()
    res = cascading_randomization(net, np.ones((3, 4), np.float32), attribute=_saliency, seed=7)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        fresh = torch.nn.Linear(4, 1)  # same draw order: weight then bias
    w1 = fresh.weight.detach().numpy()[0]
    from scipy.stats import spearmanr

    assert res.spearman[0] == pytest.approx(spearmanr(np.abs(w0), np.abs(w1)).statistic)
    assert parameter_layers(net)[0][0] == "0"


def test_label_permutation_check():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6))
    y = X @ [3.0, -2.0, 1.0, 0.5, 0.0, 0.0] + 0.1 * rng.normal(size=300)
    res = label_permutation_check(
        lambda X, y: Ridge().fit(X, y),
        X,
        y,
        attribute="exact",
        X_explain=X[:20],
        n_permutations=3,
        seed=0,
    )
    assert res.kind == "label_permutation" and len(res.steps) == 3
    assert res.passed and np.all(res.spearman < 0.5)
    # a "model" that ignores its labels: attributions never change
    res = label_permutation_check(
        lambda X, y: Ridge().fit(X, X[:, 0]), X, y, attribute="exact", X_explain=X[:10], seed=0
    )
    np.testing.assert_allclose(res.spearman, 1.0)
    assert not res.passed


def test_bad_input():
    with pytest.raises(InvalidInputError, match=r"torch\.nn\.Module"):
        cascading_randomization(lambda Z: Z, np.ones((2, 2)))
    net = torch.nn.Sequential(torch.nn.Linear(2, 1))
    with pytest.raises(InvalidInputError, match="unknown layer"):
        cascading_randomization(net, np.ones((2, 2), np.float32), layers=["nope"])


def test_assess_runs_cascading_randomization_for_gradient_methods(trained_mlp):
    import assay
    from assay.trust import assess

    net, X = trained_mlp
    exp = assay.explain(net, X[:32], method="saliency")
    res = assess(exp, net, X, checks=["randomization", "seed_stability"])
    assert [c.name for c in res.checks] == ["randomization"]
    assert res["randomization"].status == "ok"
    assert res["randomization"].result.kind == "cascading"
    assert dict(res.skipped)["seed_stability"].startswith("method 'saliency' is deterministic")
