"""The causal-LM adapter on a Hugging Face GPT-2 built from a config (random init, nothing
downloaded): log-probs, mu and sigma against a direct computation, padding invariance,
the choice scorer, membership scores and input errors."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from assay.errors import InvalidInputError, ModelError  # noqa: E402
from assay.evals import (  # noqa: E402
    CausalLM,
    ChoiceScorer,
    exchangeability_test,
    membership_scores,
    tpr_at_fpr,
)


@pytest.fixture(scope="module")
def gpt2():
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(
        vocab_size=50,
        n_positions=32,
        n_embd=16,
        n_layer=1,
        n_head=2,
        bos_token_id=0,
        eos_token_id=0,
    )
    return transformers.GPT2LMHeadModel(cfg).eval()


def char_tokenizer(text):
    return {"input_ids": [ord(c) % 50 for c in text]}


def test_logprobs_mu_sigma_match_direct_computation(gpt2):
    seqs = [[1, 5, 9, 2, 7, 3], [4, 4, 8], [10, 11, 12, 13, 14, 15, 16, 17]]
    res = CausalLM(gpt2, batch_size=2).token_logprobs(seqs)  # batched with right padding
    for s, r in zip(seqs, res, strict=True):
        with torch.no_grad():
            logp = torch.log_softmax(gpt2(torch.tensor([s])).logits[0].double(), -1)[:-1]
        chosen = logp[torch.arange(len(s) - 1), torch.tensor(s[1:])].numpy()
        p = logp.exp().numpy()
        mu = (p * logp.numpy()).sum(-1)
        sigma = np.sqrt((p * logp.numpy() ** 2).sum(-1) - mu**2)
        np.testing.assert_allclose(r.logprob, chosen, atol=1e-5)
        np.testing.assert_allclose(r.mu, mu, atol=1e-5)
        np.testing.assert_allclose(r.sigma, sigma, atol=1e-5)


def test_texts_choice_scorer_and_membership_through_hf(gpt2):
    lm = CausalLM(gpt2, char_tokenizer)
    cont = lm.continuation_logprob(["abc", "abc"], ["d", "de"])
    full = lm.token_logprobs(["abcde"])[0].logprob
    np.testing.assert_allclose(cont, [full[2], full[2:].sum()], atol=1e-5)
    pick = ChoiceScorer(lm, ["d", "x"])(["abc", "abc"])
    assert pick.tolist() == [int(full[2] < lm.continuation_logprob(["abc"], ["x"])[0])] * 2
    res = membership_scores(gpt2, ["hello there", "general kenobi"], tokenizer=char_tokenizer)
    assert set(res.scores) == {"loss", "zlib", "min_k", "min_k_pp"} and res.labels is None


def test_exchangeability_null_on_random_model(gpt2):
    rng = np.random.default_rng(0)
    examples = [rng.integers(1, 50, 5).tolist() for _ in range(24)]
    res = exchangeability_test(gpt2, examples, n_shards=6, n_permutations=10, separator=[0], seed=0)
    assert res.p_value > 0.01  # an untrained model has no preferred order


def test_adapter_errors(gpt2):
    with pytest.raises(InvalidInputError, match="at most 32"):
        CausalLM(gpt2).token_logprobs([list(range(1, 40))])
    with pytest.raises(InvalidInputError, match="no tokenizer"):
        CausalLM(gpt2).token_logprobs(["text"])
    with pytest.raises(InvalidInputError, match="fewer than 2"):
        CausalLM(gpt2).token_logprobs([[3]])
    with pytest.raises(ModelError, match="returned 1 results"):
        CausalLM(lambda seqs: [np.zeros(2)]).token_logprobs([[1, 2, 3], [1, 2, 3]])
    with pytest.raises(InvalidInputError, match="callable"):
        CausalLM(42)


def test_tpr_at_fpr_against_brute_force():
    rng = np.random.default_rng(0)
    s = rng.normal(size=200)
    y = (rng.random(200) < 0.5).astype(int)
    s[y == 1] += 1.0
    for level in (0.01, 0.05, 0.2):
        best = 0.0
        for thr in np.unique(s):
            pred = s >= thr
            if pred[y == 0].mean() <= level:
                best = max(best, pred[y == 1].mean())
        assert tpr_at_fpr(s, y, level) == pytest.approx(best)


def test_plots_draw_every_result(gpt2):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from assay.evals import format_spread, ngram_overlap
    from assay.plot import (
        plot_contamination,
        plot_exchangeability,
        plot_format_spread,
        plot_membership_roc,
    )

    seqs = [[i, i + 1, i + 2, 3] for i in range(1, 13)]
    mem = membership_scores(gpt2, seqs, labels=[1] * 6 + [0] * 6, seed=0, n_bootstrap=20)
    ex = exchangeability_test(gpt2, seqs, n_shards=3, n_permutations=3, separator=None, seed=0)
    fs = format_spread(lambda p: [len(x) % 2 for x in p], [{"Q": "x", "A": ""}] * 5, seed=0)
    rep = ngram_overlap(["a b c"], ["a b c"], n=2)
    for fn, res in (
        (plot_membership_roc, mem),
        (plot_exchangeability, ex),
        (plot_format_spread, fs),
        (plot_contamination, rep),
    ):
        ax = fn(res)
        assert ax.has_data()
        plt.close(ax.figure)
    with pytest.raises(InvalidInputError, match="FormatSpreadResult"):
        plot_format_spread(rep)
