"""Causal checks of probes: a planted network whose hidden layer carries a feature the output
uses and a decoy it ignores; the null's false-alarm rate; intervene against manual passes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import binom

torch = pytest.importorskip("torch")

from assay.errors import InvalidInputError  # noqa: E402
from assay.probe import (  # noqa: E402
    CheckResult,
    LogisticProbe,
    MassMeanProbe,
    capture,
    causal_check,
    intervene,
    probe_direction,
)
from assay.probe._causal import null_directions  # noqa: E402

D = 16


def _planted(seed: int = 0):
    """x ~ N(0, I); hidden h = R x (R a random rotation, so features are not axis-aligned);
    output = MLP(x0 strongly, x2.. weakly), independent of x1 (the decoy)."""
    g = torch.Generator().manual_seed(seed)
    R, _ = torch.linalg.qr(torch.randn(D, D, generator=g))
    hidden = torch.nn.Linear(D, D, bias=False)
    head1 = torch.nn.Linear(D, 8)
    head2 = torch.nn.Linear(8, 1)
    read = torch.randn(8, D, generator=g) * 0.3
    read[:, 0] = torch.randn(8, generator=g).abs() * 3.0 + 1.0  # the used feature
    read[:, 1] = 0.0  # the decoy: decodable, never read
    with torch.no_grad():
        hidden.weight.copy_(R)
        head1.weight.copy_(read @ R.T)  # head reads x = R^T h
        head1.bias.zero_()
        head2.weight.copy_(torch.ones(1, 8))
        head2.bias.zero_()
    net = torch.nn.Sequential(hidden, torch.nn.Identity(), head1, torch.nn.Tanh(), head2)
    return net


@pytest.fixture(scope="module")
def planted():
    net = _planted(0)
    X = np.random.default_rng(1).normal(size=(600, D)).astype(np.float32)
    H = capture(net, X, "1", batch_size=1000)["1"]
    y_used = (X[:, 0] > 0).astype(int)
    y_decoy = (X[:, 1] > 0).astype(int)
    tr, te = slice(0, 400), slice(400, None)
    used = LogisticProbe(C=10.0).fit(H[tr], y_used[tr])
    decoy = LogisticProbe(C=10.0).fit(H[tr], y_decoy[tr])
    return net, X, H, (used, y_used, te), (decoy, y_decoy, te)


def test_probes_read_both_features(planted):
    _, _, H, (used, y_used, te), (decoy, y_decoy, _) = planted
    assert used.score(H[te], y_used[te]) > 0.95
    assert decoy.score(H[te], y_decoy[te]) > 0.95


@pytest.mark.parametrize("mode", ["ablate", "project", "steer"])
def test_used_direction_ok_decoy_alert(planted, mode):
    net, X, _, (used, *_), (decoy, *_) = planted
    kw = {"layer": "1", "mode": mode, "n_random": 40, "seed": 0, "batch_size": 1000}
    r_used = causal_check(net, X, direction=used, **kw)
    r_decoy = causal_check(net, X, direction=decoy, **kw)
    assert r_used.status == "ok", r_used.verdict
    assert r_used.metrics["p_value"] == pytest.approx(1 / 41)
    assert r_used.metrics["effect_ratio"] > 2.0
    assert r_decoy.status == "alert", r_decoy.verdict
    assert r_decoy.metrics["p_value"] > 0.5
    assert "does not use" in r_decoy.verdict
    # the nulls really match the probe direction's activation variance
    np.testing.assert_allclose(
        r_used.data["matched_variance"], r_used.data["direction_variance"], rtol=1e-6
    )
    d = r_used.to_dict()
    assert d["kind"] == "CheckResult" and d["status"] == "ok"
    back = CheckResult.from_dict(json.loads(json.dumps(d)))
    assert back.status == "ok" and back.metrics == r_used.metrics
    if mode == "steer":
        dose = r_used.data["dose_response"]
        assert len(dose["scales"]) == 4 and np.isfinite(dose["slope"])


def test_massmean_probe_and_output_column(planted):
    net, X, H, (_, y_used, _), (_, y_decoy, _) = planted
    used = MassMeanProbe().fit(H, y_used)
    decoy = MassMeanProbe().fit(H, y_decoy)
    kw = {"layer": "1", "n_random": 30, "batch_size": 1000, "output": 0}
    assert causal_check(net, X, direction=used, **kw).status == "ok"
    assert causal_check(net, X, direction=decoy, **kw).status == "alert"
    # a callable output (here a squared output, as a loss would be) works too
    sq = causal_check(net, X, direction=used, layer="1", n_random=30, batch_size=1000,
                      output=lambda z: z[:, 0] ** 2)  # fmt: skip
    assert sq.status == "ok"


def test_false_alarm_rate_of_the_status_rule():
    """When the probe direction is no more used than any other (a random direction into a
    layer that a random dense readout uses uniformly), "ok" must come at most at rate alpha."""
    alpha, n_seeds = 0.05, 200
    oks = 0
    for seed in range(n_seeds):
        rng = np.random.default_rng(1000 + seed)
        g = torch.Generator().manual_seed(seed)
        net = torch.nn.Sequential(torch.nn.Identity(), torch.nn.Linear(8, 2))
        with torch.no_grad():
            net[1].weight.copy_(torch.randn(2, 8, generator=g))
        X = rng.normal(size=(200, 8)).astype(np.float32)
        u = rng.normal(size=8)
        r = causal_check(net, X, layer="0", direction=u, n_random=19, alpha=alpha,
                         seed=seed, batch_size=1000)  # fmt: skip
        oks += r.status == "ok"
    # binomial slack: P(Binom(200, 0.05) > bound) < 0.001
    bound = binom.ppf(0.999, n_seeds, alpha)
    assert oks <= bound, (oks, bound)


def test_null_directions_are_unit_and_variance_matched():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(10, 10))
    sigma = A @ A.T + np.diag(np.arange(10.0))
    u = probe_direction(rng.normal(size=10))
    iso, matched, exact = null_directions(u, sigma, 25, rng)
    assert exact
    np.testing.assert_allclose(np.linalg.norm(iso, axis=1), 1.0)
    np.testing.assert_allclose(np.linalg.norm(matched, axis=1), 1.0)
    assert np.abs(matched @ u).max() < 0.99  # random, not copies of u
    np.testing.assert_allclose(np.einsum("ij,jk,ik->i", matched, sigma, matched), u @ sigma @ u)


def test_intervene_matches_a_manual_forward_pass():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3))
    X = torch.randn(50, 4)
    clean = intervene(net, X, layer="1", fn=None, batch_size=7)
    with torch.no_grad():
        np.testing.assert_allclose(clean, net(X).double().numpy(), rtol=1e-6)
        doubled = intervene(net, X, layer="1", fn=lambda h: 2 * h, batch_size=7)
        manual = net[2](2 * net[1](net[0](X)))
    np.testing.assert_allclose(doubled, manual.double().numpy(), rtol=1e-5, atol=1e-6)


def test_intervene_at_token_positions_only():
    torch.manual_seed(0)
    block = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    model = torch.nn.Sequential(torch.nn.Identity(), block)
    x = torch.randn(5, 4, 8)
    # zero the input at position 1 only; the output at the last position (pooled) changes
    out = intervene(model, x, layer="0", fn=torch.zeros_like, positions=[1])
    x2 = x.clone()
    x2[:, 1] = 0.0
    with torch.no_grad():
        model.eval()
        manual = model(x2)[:, -1]
    np.testing.assert_allclose(out, manual.double().numpy(), rtol=1e-5, atol=1e-6)


def test_bad_inputs_raise_clear_errors(planted):
    net, X, *_ = planted
    with pytest.raises(InvalidInputError, match="features"):
        causal_check(net, X, layer="1", direction=np.ones(5), n_random=20)
    with pytest.raises(InvalidInputError, match="n_random"):
        causal_check(net, X, layer="1", direction=np.ones(D), n_random=5)
    with pytest.raises(InvalidInputError, match="mode"):
        causal_check(net, X, layer="1", direction=np.ones(D), mode="zap")
    with pytest.raises(InvalidInputError, match="not fitted"):
        causal_check(net, X, layer="1", direction=LogisticProbe())
    with pytest.raises(InvalidInputError, match="positions"):
        intervene(net, X, layer="1", fn=None, positions="last")
    with pytest.raises(InvalidInputError, match="no token axis"):
        causal_check(net, X, layer="1", direction=np.ones(D), n_random=19, positions=[0])


def test_replaying_the_prefix_gives_the_same_result():
    torch.manual_seed(0)
    block = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    model = torch.nn.Sequential(
        torch.nn.Linear(8, 8), torch.nn.TransformerEncoder(block, 4, enable_nested_tensor=False)
    )
    x = torch.randn(40, 5, 8)
    u = np.random.default_rng(0).normal(size=8)
    kw = {"layer": "1.layers.2", "direction": u, "n_random": 19, "batch_size": 16}
    fast = causal_check(model, x, **kw)
    slow = causal_check(model, x, reuse_prefix=False, **kw)
    # the Linear and blocks 0-1 run once, then are replayed
    assert fast.params["prefix_modules_replayed"] == 3
    assert slow.params["prefix_modules_replayed"] == 0
    assert fast.metrics == pytest.approx(slow.metrics, rel=1e-5)
    assert fast.status == slow.status


class _BatchCentre(torch.nn.Module):
    """Subtracts the batch mean: a model whose rows interact (stacking must be refused)."""

    def forward(self, x):
        return x - x.mean(dim=0, keepdim=True)


def _token_model(mix: bool = False):
    torch.manual_seed(0)
    block = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    layers = [
        torch.nn.Linear(8, 8),
        torch.nn.TransformerEncoder(block, 3, enable_nested_tensor=False),
    ]
    if mix:
        layers.append(_BatchCentre())
    layers.append(torch.nn.Linear(8, 3))
    return torch.nn.Sequential(*layers).double().eval()


@pytest.mark.parametrize("mode", ["ablate", "project", "steer"])
def test_fast_path_equals_full_passes(mode):
    """Replayed prefix and layer, several interventions stacked per call: the same numbers as
    one full pass per direction (float64 model, so only summation order differs)."""
    model = _token_model()
    x = torch.randn(30, 6, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    u = np.random.default_rng(0).normal(size=8)
    kw = {"layer": "1.layers.1", "direction": u, "n_random": 19, "batch_size": 8, "mode": mode}
    fast = causal_check(model, x, **kw)
    slow = causal_check(model, x, reuse_prefix=False, **kw)
    assert fast.params["layer_replayed"] and fast.params["interventions_per_pass"] > 1
    assert slow.params["interventions_per_pass"] == 1 and not slow.params["layer_replayed"]
    for key in ("null_matched", "null_isotropic"):
        np.testing.assert_allclose(fast.data[key], slow.data[key], rtol=1e-9)
    assert fast.metrics == pytest.approx(slow.metrics, rel=1e-9)
    if mode == "steer":
        np.testing.assert_allclose(
            fast.data["dose_response"]["mean_change"],
            slow.data["dose_response"]["mean_change"],
            rtol=1e-9,
            atol=1e-12,
        )


class _Fork(torch.nn.Module):
    """Two linear maps read the block's input tensor itself (rank-one shortcut), one reads a
    copy of it (no shortcut), and the input is added back (a residual)."""

    def __init__(self):
        super().__init__()
        self.q, self.k, self.other = (torch.nn.Linear(8, 8) for _ in range(3))

    def forward(self, x):
        return torch.tanh(self.q(x)) * self.k(x) + torch.sin(self.other(x * 1.0)) + x


def _fork_model(mix: bool = False):
    torch.manual_seed(3)
    block = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    layers = [block, torch.nn.Linear(8, 8), _Fork()]
    layers += [_BatchCentre()] if mix else []
    return torch.nn.Sequential(*layers, torch.nn.Linear(8, 3))


@pytest.mark.parametrize(
    ("mode", "positions", "mix"),
    [("ablate", None, False), ("project", None, False), ("steer", None, False),
     ("ablate", [0, -1], False), ("steer", [0, -1], False), ("ablate", None, True)],
)  # fmt: skip
def test_rank_one_shortcut_equals_full_passes(mode, positions, mix):
    """Linear maps fed the intervened output itself take ``W h + a (W v)``: same numbers,
    stacked or (rows that interact) one intervention per call."""
    model = _fork_model(mix).double().eval()
    x = torch.randn(20, 5, 8, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    u = np.random.default_rng(2).normal(size=8)
    kw = {"layer": "1", "direction": u, "n_random": 19, "batch_size": 8, "mode": mode,
          "positions": positions}  # fmt: skip
    fast = causal_check(model, x, **kw)
    slow = causal_check(model, x, reuse_prefix=False, **kw)
    assert fast.params["rank_one_linears"] == 2  # q and k; not the one fed x * 1.0
    assert (fast.params["interventions_per_pass"] == 1) == mix
    for key in ("null_matched", "null_isotropic"):
        np.testing.assert_allclose(fast.data[key], slow.data[key], rtol=1e-9)
    assert fast.metrics == pytest.approx(slow.metrics, rel=1e-9)
    assert slow.metrics["effect"] > 0


def test_rows_that_interact_are_not_stacked():
    model = _token_model(mix=True)
    x = torch.randn(24, 5, 8, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    u = np.random.default_rng(1).normal(size=8)
    kw = {"layer": "1.layers.1", "direction": u, "n_random": 19, "batch_size": 8}
    fast = causal_check(model, x, **kw)
    slow = causal_check(model, x, reuse_prefix=False, **kw)
    assert fast.params["interventions_per_pass"] == 1  # stacking would mix the copies
    np.testing.assert_allclose(fast.data["null_matched"], slow.data["null_matched"], rtol=1e-9)


def test_probe_report_draws_the_causal_check_next_to_its_verdict(planted, tmp_path):
    from assay.auditing._probe_report import probe_section, write_probe_report

    net, X, _, (used, *_), _ = planted
    r = causal_check(net, X, layer="1", direction=used, n_random=19, batch_size=1000)
    sec = probe_section(checks=[r])
    (fig,) = [f for f in sec["figures"] if f["kind"] == "histogram"]
    np.testing.assert_allclose(fig["data"]["values"], r.data["null_matched"])
    assert fig["data"]["marks"] == [pytest.approx(r.metrics["effect"])]
    assert r.verdict in fig["caption"] and "(ok, p = 0.05)" in fig["caption"]
    _, html = write_probe_report(sec, tmp_path)
    text = html.read_text(encoding="utf-8")
    assert "Causal check at 1 (ok, p = 0.05)" in text
    # the drawn figure: an inline SVG with the red line marking the probe's effect
    start = text.index("<svg")
    assert "#c8453c" in text[start : text.index("</svg>", start)]
