"""LMJudge on a tiny random GPT-2 (nothing downloaded): P(B) equals a direct softmax over the
next-token logits of "A" and "B", and judge_bias runs through the batched path."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from assay.errors import InvalidInputError  # noqa: E402
from assay.evals import CausalLM, LMJudge, judge_bias  # noqa: E402


def char_tokenizer(text):
    return {"input_ids": [ord(c) % 50 for c in text]}


@pytest.fixture(scope="module")
def gpt2():
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=50, n_positions=256, n_embd=16, n_layer=1,
                                  n_head=2, bos_token_id=0, eos_token_id=0)  # fmt: skip
    return transformers.GPT2LMHeadModel(cfg).eval()


def test_lm_judge_matches_direct_softmax(gpt2):
    template = "Q {question} A {first} B {second} ->"
    judge = LMJudge(CausalLM(gpt2, char_tokenizer), template=template, choices=("A", "B"))
    triples = [("two plus two", "four", "five"), ("sky", "blue", "green and wide")]
    got = judge.judge_batch(triples)
    for (q, a, b), p in zip(triples, got, strict=True):
        ids = char_tokenizer(template.format(question=q, first=a, second=b))["input_ids"]
        with torch.no_grad():
            logits = gpt2(torch.tensor([ids])).logits[0, -1].double()
        pair = torch.softmax(logits[[ord("A") % 50, ord("B") % 50]], -1).numpy()
        np.testing.assert_allclose(p, pair[1], atol=1e-6)
    assert judge(*triples[0]) == pytest.approx(got[0])


def test_judge_bias_with_an_lm_judge(gpt2):
    judge = LMJudge(gpt2, char_tokenizer, template="{question}|{first}|{second}|",
                    choices=("A", "B"))  # fmt: skip
    items = [{"question": f"q{i}", "answer_a": "x" * (i % 4 + 1), "answer_b": "y" * (i % 3 + 1)}
             for i in range(12)]  # fmt: skip
    res = judge_bias(judge, items, checks=("position",), seed=0, n_bootstrap=99)
    assert res.params["judge_calls"] == 24
    assert np.all((res.items["p_second_ab"] > 0) & (res.items["p_second_ab"] < 1))
    assert res.checks["position"]["status"] in ("ok", "alert")


def test_lm_judge_rejects_bad_template(gpt2):
    with pytest.raises(InvalidInputError, match="template lacks"):
        LMJudge(gpt2, char_tokenizer, template="{question} {first}")


@pytest.fixture(scope="module")
def saved_lm(tmp_path_factory):
    """A tiny random GPT-2 and a character-level fast tokenizer saved with save_pretrained."""
    import string

    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {c: i for i, c in enumerate(["[UNK]", *string.printable])}
    tk = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="[UNK]")
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=len(vocab), n_positions=512, n_embd=16, n_layer=1,
                                  n_head=2)  # fmt: skip
    path = tmp_path_factory.mktemp("tiny_lm")
    transformers.GPT2LMHeadModel(cfg).save_pretrained(path)
    fast.save_pretrained(path)
    return path


def test_cli_judge_and_spread_with_a_saved_lm(saved_lm, tmp_path):
    import json

    from click.testing import CliRunner

    from assay.cli import cli

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("\n".join(
        json.dumps({"question": f"q{i}", "answer_a": "x" * (i % 4 + 1), "answer_b": "y" * 2})
        for i in range(10)
    ))  # fmt: skip
    out = tmp_path / "judge"
    res = CliRunner().invoke(cli, [
        "evals", "judge", "--pairs", str(pairs), "--judge", str(saved_lm), "--checks",
        "position", "--n-bootstrap", "99", "--out", str(out),
    ])  # fmt: skip
    assert res.exit_code == 0, res.output
    result = json.loads((out / "results.json").read_text())["sections"]["judge_bias"]
    p = result["data"]["result"]["items"]["p_second_ab"]
    assert len(p) == 10 and all(0 < v < 1 for v in p)  # read from the LM's A/B probabilities

    examples = tmp_path / "ex.csv"
    lines = [f"is {i} even?,{'yes' if i % 2 == 0 else 'no'}" for i in range(12)]
    examples.write_text("Question,label\n" + "\n".join(lines) + "\n")
    res = CliRunner().invoke(cli, [
        "evals", "spread", "--examples", str(examples), "--scorer", str(saved_lm),
        "--choices", "yes,no", "--labels-column", "label", "--n-formats", "3",
        "--n-bootstrap", "100", "--out", str(tmp_path / "spread"),
    ])  # fmt: skip
    assert res.exit_code == 0, res.output
    sec = json.loads((tmp_path / "spread" / "results.json").read_text())["sections"]
    acc = sec["format_spread"]["data"]["result"]["accuracy"][0]
    assert len(acc) == 3 and all(0 <= a <= 1 for a in acc)


def test_cli_contamination_with_membership_scores(saved_lm, tmp_path):
    import json

    from click.testing import CliRunner

    from assay.cli import cli
    from assay.evals import membership_scores

    rng = np.random.default_rng(0)
    words = [f"w{k}" for k in range(200)]
    texts = [" ".join(rng.choice(words, 12)) for _ in range(16)]
    (tmp_path / "corpus.txt").write_text(" ".join(texts[:4]))
    (tmp_path / "test.jsonl").write_text(
        "\n".join(json.dumps({"text": t, "member": int(i < 8)}) for i, t in enumerate(texts))
    )
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, [
        "evals", "contamination", "--test", str(tmp_path / "test.jsonl"), "--corpus",
        str(tmp_path / "corpus.txt"), "--n", "5", "--model", str(saved_lm),
        "--member-column", "member", "--out", str(out),
    ])  # fmt: skip
    assert res.exit_code == 0, res.output
    sections = json.loads((out / "results.json").read_text())["sections"]
    assert sum(sections["contamination"]["data"]["result"]["contaminated"]) == 4
    mem = sections["membership"]["data"]["result"]
    assert mem["labels"] == [1] * 8 + [0] * 8
    model = transformers.AutoModelForCausalLM.from_pretrained(saved_lm).eval()
    tok = transformers.AutoTokenizer.from_pretrained(saved_lm)
    direct = membership_scores(model, texts, tokenizer=tok, seed=0)
    np.testing.assert_allclose(mem["scores"]["loss"], direct.scores["loss"], rtol=1e-6)
    assert "Membership inference" in (out / "report.html").read_text()
