"""Activation capture and patching against manual forward passes."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from assay.errors import InvalidInputError, ModelError  # noqa: E402
from assay.probe import capture, find_layers, patch  # noqa: E402


def _mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)
    ).double()


def test_hooks_match_a_manual_forward_pass_and_batches_do_not_matter():
    net = _mlp()
    x = torch.randn(37, 4, dtype=torch.float64)
    acts = capture(net, x, ["0", net[1]], batch_size=5)
    with torch.no_grad():
        h0 = net[0](x)
        h1 = torch.tanh(h0)
    assert acts.layers == ("0", "1")
    assert acts["0"].dtype == np.float32 and acts["1"].shape == (37, 8)
    np.testing.assert_allclose(acts["0"], h0.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(acts[1], h1.numpy(), rtol=1e-6, atol=1e-6)
    again = capture(net, x.numpy(), ["1"], batch_size=64)
    np.testing.assert_array_equal(again["1"], acts["1"])
    assert not net._forward_hooks and not net[0]._forward_hooks  # hooks removed


def test_streaming_to_disk_gives_the_same_arrays(tmp_path):
    net = _mlp()
    x = torch.randn(20, 4, dtype=torch.float64)
    mem = capture(net, x, ["0", "2"], batch_size=6)
    disk = capture(net, x, ["0", "2"], batch_size=6, out=tmp_path)
    assert isinstance(disk["0"], np.memmap)
    np.testing.assert_array_equal(np.asarray(disk["2"]), mem["2"])
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["layers"] == ["0", "2"]
    np.testing.assert_array_equal(np.load(tmp_path / manifest["files"]["0"]), mem["0"])


def test_patch_replaces_a_layer_and_is_removed_afterwards():
    net = _mlp()
    x = torch.randn(5, 4, dtype=torch.float64)
    with torch.no_grad():
        base = net(x)
        with patch(net, "1", lambda h: torch.zeros_like(h)):
            patched = net(x)
        with patch(net, net[1], lambda h: h):
            same = net(x)
        after = net(x)
    torch.testing.assert_close(patched, net[2].bias.expand(5, 3))
    torch.testing.assert_close(same, base)
    torch.testing.assert_close(after, base)
    with pytest.raises(RuntimeError), patch(net, "1", lambda h: h):
        raise RuntimeError("boom")
    assert not net[1]._forward_hooks


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


@pytest.mark.parametrize("pooling", ["last_token", "mean", "cls"])
def test_hugging_face_padding_never_changes_a_sentence(pooling):
    """Each padded row pools to what the sentence gives when run alone, unpadded."""
    model = _tiny_bert()
    rng = np.random.default_rng(0)
    lengths = [3, 7, 5, 2]
    ids = torch.zeros(4, 7, dtype=torch.long)
    mask = torch.zeros(4, 7, dtype=torch.long)
    for i, n in enumerate(lengths):
        ids[i, :n] = torch.as_tensor(rng.integers(5, 50, n))
        mask[i, :n] = 1
    layers = find_layers(model)
    assert layers == ["encoder.layer.0", "encoder.layer.1"]
    acts = capture(model, {"input_ids": ids, "attention_mask": mask}, layers, pooling=pooling)
    for i, n in enumerate(lengths):
        with torch.no_grad():
            out = model(input_ids=ids[i : i + 1, :n], output_hidden_states=True)
        h = out.hidden_states[2][0]  # after encoder.layer.1
        expect = {"last_token": h[n - 1], "mean": h.mean(0), "cls": h[0]}[pooling]
        np.testing.assert_allclose(acts["encoder.layer.1"][i], expect.numpy(), atol=2e-5)


def test_left_padding_last_token():
    model = _tiny_bert()
    ids = torch.tensor([[0, 0, 7, 8, 9], [5, 6, 7, 8, 9]])
    mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    acts = capture(model, {"input_ids": ids, "attention_mask": mask}, "embeddings")
    with torch.no_grad():
        emb = model.embeddings(input_ids=ids)
    np.testing.assert_allclose(acts["embeddings"], emb[:, -1].numpy(), atol=1e-6)


def test_capture_errors():
    net = _mlp()
    x = torch.randn(3, 4, dtype=torch.float64)
    with pytest.raises(InvalidInputError, match="no submodule named"):
        capture(net, x, ["layer9"])
    with pytest.raises(InvalidInputError, match="not part of model"):
        capture(net, x, [torch.nn.Linear(2, 2)])
    with pytest.raises(InvalidInputError, match="pooling must be"):
        capture(net, x, ["0"], pooling="max")
    with pytest.raises(InvalidInputError, match="no tokenizer"):
        capture(net, ["a sentence"], ["0"])
    with pytest.raises(ModelError, match="failed on a batch"):
        capture(net, torch.randn(3, 5, dtype=torch.float64), ["0"])
    with pytest.raises(InvalidInputError, match=r"no nn\.ModuleList"):
        find_layers(net)
