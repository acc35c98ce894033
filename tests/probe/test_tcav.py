"""tcav: a planted concept direction is significant, random concept sets are not."""

import json

import numpy as np
import pytest
from scipy.stats import binom

torch = pytest.importorskip("torch")

from assay.errors import InvalidInputError, ModelError  # noqa: E402
from assay.probe import tcav  # noqa: E402
from assay.probe._tcav import _pooled_gradients  # noqa: E402

torch.set_num_threads(1)
D, H = 10, 16


class _Planted(torch.nn.Module):
    """out[1] = u.z + 0.5 |P z|^2, z = enc(x), P projects u out.

    Moving z along u raises out[1] for every input; along any other direction the effect
    changes sign with the input (as in a nonlinear network), so random directions score ~0.5.
    """

    def __init__(self, a):
        super().__init__()
        self.enc = torch.nn.Linear(D, H)
        with torch.no_grad():
            u = self.enc.weight @ torch.as_tensor(a)
        self.register_buffer("u", u / u.norm())

    def forward(self, x):
        z = self.enc(x)
        zu = z @ self.u
        rest = z - zu[:, None] * self.u
        return torch.stack([-zu, zu + 0.5 * (rest**2).sum(1)], 1)


def _setup(seed, planted, n_concept=30):
    torch.manual_seed(seed)
    a = np.zeros(D, np.float32)
    a[0] = 1.0
    net = _Planted(a)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(600, D)).astype(np.float32)
    concept = X[:n_concept] + (2.0 * a if planted else 0.0)
    return net, {"c": concept}, X[100:500], X[500:]


def test_planted_concept_is_significant():
    hits = 0
    for seed in range(6):
        net, concept, pool, targets = _setup(seed, planted=True)
        r = tcav(
            net,
            layer="enc",
            concept_inputs=concept,
            random_inputs=pool,
            target_inputs=targets,
            output=1,
            n_random=10,
            seed=seed,
        )
        c = r.data["concepts"]["c"]
        assert c["raw_score"] > 0.85 and c["direction"] == "raises"
        hits += c["significant"]
        if c["significant"]:
            assert r.status == "ok" and c["score"] == c["raw_score"]
            assert "'c' raises the output" in r.verdict
    assert hits >= 4
    # the same concept for the other output, which falls along u: significant, "lowers"
    r = tcav(
        net,
        layer="enc",
        concept_inputs=concept,
        random_inputs=pool,
        target_inputs=targets,
        output=0,
        n_random=10,
        seed=0,
    )
    assert r.data["concepts"]["c"]["direction"] == "lowers"
    assert r.data["concepts"]["c"]["raw_score"] < 0.05


def test_random_concept_is_not_reported():
    # n_random=5 keeps 200 seeds cheap; the t test for a new observation holds for any n
    alpha, n_seeds = 0.05, 200
    hits = 0
    for seed in range(n_seeds):
        net, concept, pool, targets = _setup(1000 + seed, planted=False)
        r = tcav(
            net,
            layer="enc",
            concept_inputs=concept,
            random_inputs=pool,
            target_inputs=targets[:40],
            output=1,
            n_random=5,
            alpha=alpha,
            seed=seed,
        )
        c = r.data["concepts"]["c"]
        if c["significant"]:
            hits += 1
        else:
            assert c["score"] is None and r.status == "warning"
            assert "no score reported for 'c'" in r.verdict.lower()
    assert hits <= binom.ppf(0.999, n_seeds, alpha)


class _Tokens(torch.nn.Module):
    """(batch, tokens) ids -> embeddings (hooked) -> pooled -> linear."""

    def __init__(self, pooling):
        super().__init__()
        self.emb = torch.nn.Embedding(20, 6)
        self.head = torch.nn.Linear(6, 3)
        self.pooling = pooling

    def forward(self, input_ids, attention_mask):
        h = self.emb(input_ids)
        m = attention_mask.to(h.dtype)
        if self.pooling == "mean":
            pooled = (h * m[:, :, None]).sum(1) / m.sum(1, keepdim=True)
        else:
            last = m.shape[1] - 1 - torch.argmax(m.flip(1), dim=1)
            pooled = h[torch.arange(len(h)), last]
        return self.head(torch.tanh(pooled))


@pytest.mark.parametrize("pooling", ["mean", "last_token"])
def test_token_gradients_match_gradient_of_pooled_vector(pooling):
    torch.manual_seed(0)
    net = _Tokens(pooling)
    ids = torch.randint(0, 20, (7, 5))
    mask = torch.ones(7, 5, dtype=torch.long)
    mask[:3, 3:] = 0  # right padding on some rows
    g = _pooled_gradients(
        net,
        net.emb,
        "emb",
        {"input_ids": ids, "attention_mask": mask},
        2,
        tokenizer=None,
        pooling=pooling,
        batch_size=4,
        torch=torch,
    )
    # oracle: d out / d pooled, by autograd on the pooled vector itself
    with torch.no_grad():
        h = net.emb(ids)
        m = mask.to(h.dtype)
        if pooling == "mean":
            pooled = (h * m[:, :, None]).sum(1) / m.sum(1, keepdim=True)
        else:
            last = m.shape[1] - 1 - torch.argmax(m.flip(1), dim=1)
            pooled = h[torch.arange(7), last]
    pooled.requires_grad_(True)
    net.head(torch.tanh(pooled))[:, 2].sum().backward()
    np.testing.assert_allclose(g, pooled.grad.double().numpy(), rtol=1e-5, atol=1e-6)


def test_result_serializes_and_is_deterministic():
    net, concept, pool, targets = _setup(0, planted=True)
    kw = dict(
        layer=net.enc,
        concept_inputs=concept["c"],
        random_inputs=pool,
        target_inputs=targets[:30],
        output=lambda out: out[:, 1],
        n_random=4,
        seed=3,
    )
    a, b = tcav(net, **kw).to_dict(), tcav(net, **kw).to_dict()
    assert a == b
    json.dumps(a)
    assert a["data"]["layer"] == "enc" and "concept" in a["data"]["concepts"]


def test_bad_inputs():
    net, concept, pool, targets = _setup(0, planted=True)
    kw = dict(concept_inputs=concept, random_inputs=pool, target_inputs=targets, output=1)
    with pytest.raises(InvalidInputError, match="no layer"):
        tcav(net, layer="nope", **kw)
    with pytest.raises(InvalidInputError, match="twice the largest"):
        tcav(net, layer="enc", **{**kw, "random_inputs": pool[:40]})
    with pytest.raises(InvalidInputError, match="output"):
        tcav(net, layer="enc", **{**kw, "output": -1})
    with pytest.raises(ModelError, match="one scalar"):
        tcav(net, layer="enc", **{**kw, "output": lambda out: out})
    with pytest.raises(InvalidInputError, match="n_random"):
        tcav(net, layer="enc", n_random=1, **kw)


def _tiny_bert():
    transformers = pytest.importorskip("transformers")
    cfg = transformers.BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
    )
    torch.manual_seed(0)
    return transformers.BertModel(cfg).eval()


def _cls_sum(out):
    return out.last_hidden_state[:, 0, :].sum(-1)


def test_hugging_face_padding_never_changes_a_gradient():
    model = _tiny_bert()
    rng = np.random.default_rng(0)
    lengths = [3, 7, 5, 2]
    ids = torch.zeros(4, 7, dtype=torch.long)
    mask = torch.zeros(4, 7, dtype=torch.long)
    for i, n in enumerate(lengths):
        ids[i, :n] = torch.as_tensor(rng.integers(5, 50, n))
        mask[i, :n] = 1
    layer = model.encoder.layer[0]
    for pooling in ("mean", "cls", "last_token"):
        g = _pooled_gradients(
            model,
            layer,
            "encoder.layer.0",
            {"input_ids": ids, "attention_mask": mask},
            _cls_sum,
            tokenizer=None,
            pooling=pooling,
            batch_size=4,
            torch=torch,
        )
        for i, n in enumerate(lengths):
            one = {"input_ids": ids[i : i + 1, :n], "attention_mask": mask[i : i + 1, :n]}
            g1 = _pooled_gradients(
                model,
                layer,
                "encoder.layer.0",
                one,
                _cls_sum,
                tokenizer=None,
                pooling=pooling,
                batch_size=4,
                torch=torch,
            )
            np.testing.assert_allclose(g[i], g1[0], rtol=1e-4, atol=1e-5)


def test_hugging_face_model_through_capture():
    model = _tiny_bert()
    rng = np.random.default_rng(1)

    def batch(n, concept):
        ids = torch.as_tensor(rng.integers(10, 50, (n, 6)))
        if concept:
            ids[:, 1:4] = 7  # the "concept": a repeated token
        return {"input_ids": ids, "attention_mask": torch.ones(n, 6, dtype=torch.long)}

    r = tcav(
        model,
        layer="encoder.layer.1",
        concept_inputs={"sevens": batch(12, True)},
        random_inputs=batch(100, False),
        target_inputs=batch(20, False),
        output=_cls_sum,
        pooling="mean",
        n_random=4,
        seed=0,
    )
    c = r.data["concepts"]["sevens"]
    assert 0.0 <= c["raw_score"] <= 1.0 and 0.0 <= c["p_value"] <= 1.0
    assert r.params["n_targets"] == 20 and c["disjoint_random_concepts"]


def _char_tokenizer(texts, padding=True, return_tensors="pt", **_):
    width = max(len(t) for t in texts)
    ids = torch.zeros(len(texts), width, dtype=torch.long)
    mask = torch.zeros(len(texts), width, dtype=torch.long)
    for i, t in enumerate(texts):
        ids[i, : len(t)] = torch.as_tensor([ord(ch) % 40 + 10 for ch in t])
        mask[i, : len(t)] = 1
    return {"input_ids": ids, "attention_mask": mask}


def test_strings_with_tokenizer_match_pretokenized_inputs():
    model = _tiny_bert()
    rng = np.random.default_rng(2)
    words = ["".join(rng.choice(list("abcdefgh"), rng.integers(2, 6))) for _ in range(60)]
    concept = ["zz" + w for w in words[:8]]
    kw = dict(layer="encoder.layer.0", output=_cls_sum, pooling="mean", n_random=3, seed=0)
    a = tcav(
        model,
        concept_inputs={"z": concept},
        random_inputs=words[10:58],
        target_inputs=words[:10],
        tokenizer=_char_tokenizer,
        batch_size=7,
        **kw,
    )
    b = tcav(
        model,
        concept_inputs={"z": _char_tokenizer(concept)},
        random_inputs=_char_tokenizer(words[10:58]),
        target_inputs=_char_tokenizer(words[:10]),
        **kw,
    )
    ca, cb = a.data["concepts"]["z"], b.data["concepts"]["z"]
    assert ca["raw_score"] == pytest.approx(cb["raw_score"])
    assert ca["p_value"] == pytest.approx(cb["p_value"], abs=1e-6)
