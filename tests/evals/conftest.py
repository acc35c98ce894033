"""Shared fixtures: a generated corpus with a test set injected k times, and tiny causal LMs
trained on it.

The LM is a hashed 4-gram model with Witten–Bell interpolation, written as a torch module
that returns logits, so it goes through the same adapter as a Hugging Face model. Its
contexts are hashed into few buckets, so, like a small network, it has limited capacity: one
sighting of a test example leaves a weak trace and ten sightings a strong one. Training is
counting, so three models cost well under a second (a gradient-trained transformer needs
minutes of CPU to memorize anything at this scale).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

VOCAB = 300  # id 0 is the separator between documents / examples
LENGTH = 16  # words per example: more than the 13 of the n-gram check
N_TEST = 40  # injected examples, and as many held out


class HashedNgramLM(torch.nn.Module):
    """Interpolated (Witten–Bell) n-gram LM over hashed contexts; forward gives logits."""

    def __init__(self, vocab: int, order: int = 4, n_buckets: int = 256) -> None:
        super().__init__()
        self.vocab, self.order, self.n_buckets = vocab, order, n_buckets
        self.mult = torch.tensor([1_000_003, 998_244_353, 1_234_567_891][: order - 1])
        self.register_buffer("unigram", torch.ones(vocab))
        self.register_buffer("counts", torch.zeros(order - 1, n_buckets, vocab))

    def _buckets(self, ids: torch.Tensor, width: int) -> torch.Tensor:
        """Bucket of the context of length ``width`` ending at each position (-1: too short)."""
        h = torch.zeros_like(ids)
        for j in range(width):
            prev = torch.roll(ids, j, dims=-1)
            h = h * 1_000_003 + prev * int(self.mult[width - 1]) + j
        b = torch.remainder(h, self.n_buckets)
        b[..., : width - 1] = -1
        return b

    def fit(self, stream: np.ndarray) -> HashedNgramLM:
        ids = torch.as_tensor(stream, dtype=torch.long)
        self.unigram = torch.bincount(ids, minlength=self.vocab).float() + 1.0
        for w in range(1, self.order):
            b = self._buckets(ids, w)[:-1]
            nxt = ids[1:]
            keep = b >= 0
            flat = b[keep] * self.vocab + nxt[keep]
            self.counts[w - 1] = (
                torch.bincount(flat, minlength=self.n_buckets * self.vocab)
                .reshape(self.n_buckets, self.vocab)
                .float()
            )
        return self

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        p = (self.unigram / self.unigram.sum()).expand(*input_ids.shape, self.vocab)
        for w in range(1, self.order):
            b = self._buckets(input_ids, w)
            row = self.counts[w - 1][b.clamp_min(0)] * (b >= 0)[..., None]
            c = row.sum(-1, keepdim=True)
            n1 = (row > 0).sum(-1, keepdim=True)
            lam = c / (c + n1).clamp_min(1)
            p = lam * row / c.clamp_min(1) + (1 - lam) * p
        return torch.log(p)


@pytest.fixture(scope="session")
def injected():
    """Test set (members), held-out examples, and corpora with the test set injected k times."""
    rng = np.random.default_rng(0)
    probs = 1.0 / np.arange(1, VOCAB) ** 0.8
    probs /= probs.sum()

    def sentences(n):
        return rng.choice(np.arange(1, VOCAB), size=(n, LENGTH), p=probs).tolist()

    members = sentences(N_TEST)
    held_out = sentences(N_TEST)
    # large enough that one sighting of a test example leaves only a weak trace
    background = sentences(30_000)
    corpora = {}
    for k in (0, 1, 10):
        where = set(np.random.default_rng(k).choice(len(background), size=k, replace=False))
        docs = []
        for i, d in enumerate(background):
            docs.append(d)
            if i in where:  # the whole test set, in its canonical order
                docs.extend(members)
        corpora[k] = docs
    return {"members": members, "held_out": held_out, "corpora": corpora}


@pytest.fixture(scope="session")
def trained_lms(injected):
    """One tiny LM per injection count k."""
    lms = {}
    for k, docs in injected["corpora"].items():
        stream = np.concatenate([[*d, 0] for d in docs])
        lms[k] = HashedNgramLM(VOCAB).fit(stream).eval()
    return lms
