"""Activation patching and the logit lens on tiny GPT-2s built from a config and trained in
the test (no downloads) to copy the token at position 1 to the end. The circuit's location is
planted: in one model only layer 1's attention can move information between positions (layer
0's is switched off), in the other only layer 0's."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from assay.errors import InvalidInputError  # noqa: E402
from assay.probe import PatchingResult, activation_patching, logit_lens  # noqa: E402

VOCAB, T, SRC = 16, 6, 1


def _copy_model(live: int, seed: int = 0):
    torch.manual_seed(seed)
    cfg = transformers.GPT2Config(
        vocab_size=VOCAB, n_positions=T, n_embd=32, n_layer=2, n_head=2,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
    )  # fmt: skip
    model = transformers.GPT2LMHeadModel(cfg)
    dead = model.transformer.h[1 - live].attn.c_proj
    with torch.no_grad():
        dead.weight.zero_()
        dead.bias.zero_()
    dead.weight.requires_grad_(False)
    dead.bias.requires_grad_(False)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(300):
        ids = torch.randint(2, VOCAB, (64, T), generator=g)
        logits = model(input_ids=ids).logits[:, -1]
        loss = torch.nn.functional.cross_entropy(logits, ids[:, SRC])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    return model


def _pairs(n: int = 48, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    clean = torch.randint(2, VOCAB, (n, T), generator=g)
    corrupted = clean.clone()
    shift = 1 + torch.randint(0, VOCAB - 3, (n,), generator=g)  # a different token
    corrupted[:, SRC] = 2 + (clean[:, SRC] - 2 + shift) % (VOCAB - 2)
    return clean, corrupted


@pytest.fixture(scope="module")
def models():
    return {live: _copy_model(live) for live in (0, 1)}


def _logit_diff(clean, corrupted):
    a, b = clean[:, SRC].numpy(), corrupted[:, SRC].numpy()
    return lambda out: out[np.arange(len(a)), a] - out[np.arange(len(b)), b]


def test_models_learned_to_copy(models):
    clean, _ = _pairs()
    for model in models.values():
        with torch.no_grad():
            pred = model(input_ids=clean).logits[:, -1].argmax(1)
        assert (pred == clean[:, SRC]).float().mean() > 0.9


@pytest.mark.parametrize("live", [0, 1])
def test_patching_finds_the_attention_layer_that_moves_the_token(models, live):
    clean, corrupted = _pairs()
    attn = ["transformer.h.0.attn", "transformer.h.1.attn"]
    r = activation_patching(
        models[live], {"input_ids": clean}, {"input_ids": corrupted},
        layers=attn, positions=[-1], metric=_logit_diff(clean, corrupted),
    )  # fmt: skip
    assert r.clean_metric > 3.0 and r.corrupted_metric < -3.0
    # the live layer's last-position output carries all of it, the dead one none
    np.testing.assert_allclose(r.effect[live, 0], 1.0, atol=1e-4)
    np.testing.assert_allclose(r.effect[1 - live, 0], 0.0, atol=1e-4)


def test_patching_the_residual_stream_per_position(models):
    clean, corrupted = _pairs()
    blocks = ["transformer.h.0", "transformer.h.1"]
    r = activation_patching(
        models[1], {"input_ids": clean}, {"input_ids": corrupted},
        layers=blocks, positions="each", metric=_logit_diff(clean, corrupted),
    )  # fmt: skip
    assert r.positions == tuple(range(T))
    expect = np.zeros((2, T))
    expect[0, SRC] = 1.0  # after block 0 the token is still only at its own position
    expect[1, T - 1] = 1.0  # after block 1 it has moved to the last position
    np.testing.assert_allclose(r.effect, expect, atol=1e-4)
    back = PatchingResult.from_dict(r.to_dict())
    np.testing.assert_allclose(back.effect, r.effect)
    import matplotlib

    matplotlib.use("Agg")
    ax = r.plot()
    assert ax.get_xlabel() == "token position patched"


def test_logit_lens_matches_a_direct_computation(models):
    model = models[1]
    clean, _ = _pairs(20)
    target = clean[:, SRC].numpy()
    lens = logit_lens(model, {"input_ids": clean}, layers=["transformer.h.0", "transformer.h.1"],
                      target=target, top_k=3)  # fmt: skip
    with torch.no_grad():
        out = model(input_ids=clean, output_hidden_states=True)
        W = model.lm_head.weight
        # hidden_states[1] is block 0's output; the last entry already has ln_f applied
        direct0 = (model.transformer.ln_f(out.hidden_states[1][:, -1]) @ W.T).double()
        direct1 = out.logits[:, -1].double()
    for k, logits in enumerate([direct0, direct1]):
        score = logits[np.arange(20), target]
        rank = (logits > score[:, None]).sum(1).numpy()
        np.testing.assert_array_equal(lens.rank[:, k], rank)
        np.testing.assert_allclose(
            lens.prob[:, k], torch.softmax(logits, 1)[np.arange(20), target].numpy(), rtol=1e-5
        )
        np.testing.assert_array_equal(lens.top_tokens[:, k, 0], logits.argmax(1).numpy())
    # the copied token is only decodable after layer 1 has moved it
    assert np.mean(lens.rank[:, 1] == 0) > 0.9
    assert np.mean(lens.rank[:, 0] == 0) < 0.5


def test_bad_inputs(models):
    clean, corrupted = _pairs(8)
    with pytest.raises(InvalidInputError, match="differ"):
        activation_patching(models[0], clean, clean, layers=["transformer.h.0"],
                            metric=lambda out: out[:, 3])  # fmt: skip
    with pytest.raises(InvalidInputError, match="same number of tokens"):
        activation_patching(models[0], clean, corrupted[:, :4], layers=["transformer.h.0"],
                            metric=lambda out: out[:, 3])  # fmt: skip
    with pytest.raises(InvalidInputError, match="target"):
        logit_lens(models[0], clean, layers=["transformer.h.0"], target=VOCAB + 3)


def _first(out):
    return out if torch.is_tensor(out) else out[0]


def test_replayed_patching_equals_raw_hook_patching():
    """Prefix and the corrupted layer output replayed: the same numbers as one full forward
    per (block, position) written with raw torch hooks (float64, random GPT-2 config)."""
    torch.manual_seed(3)
    cfg = transformers.GPT2Config(n_layer=3, n_embd=16, n_head=2, n_positions=8, vocab_size=50)
    model = transformers.GPT2LMHeadModel(cfg).double().eval()
    g = torch.Generator().manual_seed(0)
    clean = torch.randint(0, 50, (5, 6), generator=g)
    corrupted = clean.clone()
    corrupted[:, 2] = (clean[:, 2] + 7) % 50
    blocks = [f"transformer.h.{i}" for i in range(3)]
    r = activation_patching(
        model, {"input_ids": clean}, {"input_ids": corrupted},
        layers=blocks, positions="each", metric=lambda out: out[:, 4] - out[:, 9],
    )  # fmt: skip
    assert r.params["layers_prefix_replayed"] == 3
    store = {}
    with torch.no_grad():
        hooks = [
            b.register_forward_hook(lambda _m, _a, o, i=i: store.__setitem__(i, _first(o)))
            for i, b in enumerate(model.transformer.h)
        ]
        model(input_ids=clean)
        for h in hooks:
            h.remove()
        raw = np.empty((3, 6))
        for i, block in enumerate(model.transformer.h):
            for p in range(6):

                def put(_m, _a, o, i=i, p=p):
                    h = _first(o).clone()
                    h[:, p] = store[i][:, p]
                    return h if torch.is_tensor(o) else (h, *o[1:])

                handle = block.register_forward_hook(put)
                logits = model(input_ids=corrupted).logits[:, -1]
                handle.remove()
                raw[i, p] = float((logits[:, 4] - logits[:, 9]).mean())
    np.testing.assert_allclose(r.metric, raw, rtol=1e-9, atol=1e-12)
