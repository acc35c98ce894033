"""Concept erasure inside the model: a head that ignores the concept loses nothing, a head
that reads it falls to chance, and the in-model erasure equals erasing captured activations
and applying the rest of the model by hand (token-level layer, mean pooling)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from assay.errors import InvalidInputError  # noqa: E402
from assay.probe import LeaceEraser, capture, erase, erase_in_model  # noqa: E402

D = 8


class MeanTokens(torch.nn.Module):
    def forward(self, x):
        return x.mean(dim=1)


def _data(seed: int, n: int = 1200, tokens: int | None = None):
    """Concept z on features 0-1, task y on feature 2-3, in a rotated basis."""
    rng = np.random.default_rng(seed)
    z, y = rng.integers(0, 2, n), rng.integers(0, 2, n)
    shape = (n, D) if tokens is None else (n, tokens, D)
    X = rng.normal(size=shape)
    sig = np.zeros((n, D))
    sig[:, :2] += 2.0 * (2 * z[:, None] - 1)
    sig[:, 2:4] += 2.0 * (2 * y[:, None] - 1)
    X = X + (sig if tokens is None else sig[:, None, :])
    return X.astype(np.float32), z, y


def _net(read: int, seed: int = 0, tokens: bool = False):
    """hidden = R x (a rotation); the head reads feature ``read`` (and ``read + 1``)."""
    g = torch.Generator().manual_seed(seed)
    R, _ = torch.linalg.qr(torch.randn(D, D, generator=g))
    hidden = torch.nn.Linear(D, D, bias=False)
    head = torch.nn.Linear(D, 2)
    w = torch.zeros(2, D)
    w[1, read] = w[1, read + 1] = 1.0
    w[0] = -w[1]
    with torch.no_grad():
        hidden.weight.copy_(R)
        head.weight.copy_(w @ R.T)  # reads x = R^T h
        head.bias.zero_()
    mods = [hidden, torch.nn.Identity()] + ([MeanTokens()] if tokens else []) + [head]
    return torch.nn.Sequential(*mods).eval()


@pytest.mark.parametrize("seed", range(3))
def test_head_that_ignores_the_concept_keeps_its_accuracy(seed):
    X, z, y = _data(seed)
    r = erase_in_model(_net(read=2, seed=seed), X, z, layer="1", task=y, seed=seed)
    m = r.metrics
    assert m["concept_accuracy_before"] > 0.95
    assert abs(m["concept_accuracy_after"] - m["chance"]) <= 0.05, m
    assert m["task_accuracy_before"] > 0.95
    assert abs(m["task_cost"]) < 0.03, m
    assert r.status == "ok", r.verdict
    assert "no significant loss" in r.verdict


@pytest.mark.parametrize("seed", range(3))
def test_head_that_reads_the_concept_falls_to_chance(seed):
    X, z, _ = _data(seed)
    r = erase_in_model(_net(read=0, seed=seed), X, z, layer="1", task=z, seed=seed)
    m = r.metrics
    assert m["task_accuracy_before"] > 0.95
    assert abs(m["task_accuracy_after"] - 0.5) < 0.1, m
    assert m["task_p_value"] < 1e-6
    assert r.status == "warning" and "falls from" in r.verdict
    assert r.to_dict()["metrics"]["task_cost"] == pytest.approx(m["task_cost"])


def test_in_model_erasure_equals_erasing_captured_activations():
    """Token-level layer, mean pooling: the eraser is affine, so erasing every token inside
    the model and pooling equals erasing the pooled activations and applying the head."""
    X, z, y = _data(5, n=600, tokens=4)
    net = _net(read=0, seed=5, tokens=True)
    r = erase_in_model(net, X, z, layer="1", task=y, pooling="mean", seed=1)
    H = capture(net, X, "1", pooling="mean")["1"].astype(float)
    base = erase(H, z, seed=1)
    for key in ("concept_accuracy_before", "concept_accuracy_after", "chance", "p_value"):
        assert r.metrics[key] == pytest.approx(base.metrics[key])
    # the model's predictions after erasure, by hand
    from assay.probe._erase import _split

    train, test = _split(z, 0.3, 1)
    He = LeaceEraser().fit(H[train], z[train]).transform(H)
    with torch.no_grad():
        pred = net[-1](torch.as_tensor(He, dtype=torch.float32)).argmax(1).numpy()
    assert r.metrics["task_accuracy_after"] == pytest.approx(np.mean(pred[test] == y[test]))
    assert r.metrics["task_accuracy_after"] < 0.6  # the head read the concept


def test_without_task_labels_reports_agreement_and_bad_input_raises():
    X, z, y = _data(0, n=300)
    net = _net(read=2)
    r = erase_in_model(net, X, z, layer="1")
    assert r.metrics["prediction_agreement"] > 0.95 and "task_cost" not in r.metrics
    with pytest.raises(InvalidInputError, match="task"):
        erase_in_model(net, X, z, layer="1", task=y[:10])
    with pytest.raises(InvalidInputError, match="one label per input"):
        erase_in_model(net, X, z, layer="1", task=y, predict=lambda out: out)
