"""End to end on a tiny causal transformer trained in the test: a 2-layer transformer with a
causal mask learns to answer "X is [not] larger than Y ." with "true"/"false"; its activations
are captured and probed, and patching out the probe's direction changes what the model says."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from assay.probe import LogisticProbe, capture, number_to_words, patch, probe_layers  # noqa: E402

NUMBERS = [number_to_words(i) for i in range(1, 13)]
VOCAB = ["<pad>", "is", "not", "larger", "than", ".", "true", "false", *NUMBERS]
IDS = {w: i for i, w in enumerate(VOCAB)}


def _statements():
    rows = []
    for a in range(1, 13):
        for b in range(1, 13):
            if a == b:
                continue
            for neg in (False, True):
                words = [
                    number_to_words(a),
                    "is",
                    *(["not"] if neg else []),
                    "larger",
                    "than",
                    number_to_words(b),
                    ".",
                ]
                rows.append((words, int((a > b) != neg)))
    return rows


def _encode(seqs):
    width = max(len(s) for s in seqs)
    ids = torch.zeros(len(seqs), width, dtype=torch.long)
    mask = torch.zeros(len(seqs), width, dtype=torch.long)
    for i, s in enumerate(seqs):  # right padding
        ids[i, : len(s)] = torch.tensor([IDS[w] for w in s])
        mask[i, : len(s)] = 1
    return ids, mask


class TinyLM(torch.nn.Module):
    """Token + position embeddings, causal transformer blocks, a linear LM head."""

    def __init__(self, vocab: int, width: int = 32, n_layers: int = 2) -> None:
        super().__init__()
        self.tok = torch.nn.Embedding(vocab, width)
        self.pos = torch.nn.Embedding(16, width)
        self.embed = torch.nn.Identity()  # hook point: the summed input embeddings
        self.layers = torch.nn.ModuleList(
            torch.nn.TransformerEncoderLayer(width, 2, 4 * width, dropout=0.0, batch_first=True)
            for _ in range(n_layers)
        )
        self.norm = torch.nn.LayerNorm(width)
        self.head = torch.nn.Linear(width, vocab)

    def forward(self, input_ids, attention_mask=None):
        t = input_ids.shape[1]
        h = self.embed(self.tok(input_ids) + self.pos(torch.arange(t)))
        causal = torch.nn.Transformer.generate_square_subsequent_mask(t)
        for layer in self.layers:  # right padding: the causal mask keeps pads out of the past
            h = layer(h, src_mask=causal, is_causal=True)
        return self.head(self.norm(h))


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    rows = _statements()
    model = TinyLM(len(VOCAB))
    ids, mask = _encode([w for w, _ in rows])
    last = mask.sum(1) - 1
    target = torch.tensor([IDS["true"] if y else IDS["false"] for _, y in rows])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(250):  # full batch; the loss is on the answer after "."
        logits = model(ids)[torch.arange(len(rows)), last]
        loss = torch.nn.functional.cross_entropy(logits, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    return model, rows


def _verdict_accuracy(model, ids, mask, y):
    with torch.no_grad():
        logits = model(ids)
    last = mask.sum(1) - 1
    says_true = (
        logits[torch.arange(len(y)), last, IDS["true"]]
        > logits[torch.arange(len(y)), last, IDS["false"]]
    )
    return float(np.mean(says_true.numpy() == y))


def test_capture_and_probe_a_tiny_causal_transformer(trained):
    model, rows = trained
    ids, mask = _encode([w for w, _ in rows])
    y = np.array([lab for _, lab in rows])
    assert _verdict_accuracy(model, ids, mask, y) > 0.95  # the model learned the task
    layers = ["embed", "layers.0", "layers.1", "norm"]
    acts = capture(
        model,
        {"input_ids": ids, "attention_mask": mask},
        layers,
        pooling="last_token",
        batch_size=100,
    )
    sweep = probe_layers(acts, y, seed=0, dataset="larger_than")
    # at the last token "." the input embedding is the same for every statement: chance
    assert not sweep.above_chance[0] and abs(sweep.accuracy[0] - 0.5) < 0.1
    # the LM head reads "true"/"false" linearly from the final norm, so a linear probe finds it
    assert sweep.accuracy[3] > 0.9 and sweep.above_chance[3]

    # causal check: remove the probe direction from the final norm at every position
    probe = LogisticProbe().fit(acts["norm"], y)
    u = torch.as_tensor(probe.direction_, dtype=torch.float32)
    mean = torch.as_tensor(probe.mean_, dtype=torch.float32)

    def ablate(h):
        return h - ((h - mean) @ u)[..., None] * u

    with patch(model, "norm", ablate):
        ablated = _verdict_accuracy(model, ids, mask, y)
        again = capture(model, {"input_ids": ids, "attention_mask": mask}, ["norm"])
    assert ablated < 0.75
    np.testing.assert_allclose((again["norm"] - probe.mean_) @ probe.direction_, 0, atol=1e-4)
    assert _verdict_accuracy(model, ids, mask, y) > 0.95  # patch removed on exit
