"""n-gram overlap: the compiled hashing against a pure-Python oracle, chunking invariance,
files, JSON-lines documents, a Dask bag, saving the index, and clean-subset metrics."""

from __future__ import annotations

import io

import numpy as np
import pytest

from assay.errors import InvalidInputError
from assay.evals import NgramIndex, build_index, ngram_overlap
from assay.evals._hashing import normalize_words, reference_ngram_hashes
from assay.evals._ngram import _text_hashes

ALPHABET = list("abcXYZ019 \t\n.,'-!é—")


def random_text(rng, size):
    return "".join(rng.choice(ALPHABET, size=size))


@pytest.mark.parametrize("n", [1, 2, 5, 13])
def test_kernel_matches_python_oracle(n):
    rng = np.random.default_rng(n)
    for _ in range(30):
        t = random_text(rng, int(rng.integers(0, 300)))
        np.testing.assert_array_equal(_text_hashes(t, n), reference_ngram_hashes(t, n))


def test_normalization_is_lm_eval_janitor_style():
    assert normalize_words("  Don't STOP,  me-now!\n") == ["dont", "stop", "menow"]
    # same n-grams whatever the case and punctuation
    a = build_index(["The Cat, sat on: the MAT."], n=3).hashes
    b = build_index(["the cat sat on the mat"], n=3).hashes
    np.testing.assert_array_equal(a, b)


def test_counts_against_brute_force():
    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(12)]
    examples = [" ".join(rng.choice(vocab, 6)) for _ in range(40)]
    corpus = [" ".join(rng.choice(vocab, 50)) for _ in range(20)]
    n = 3
    report = ngram_overlap(examples, corpus, n=n)

    def grams(t):
        w = t.split()
        return {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}

    corpus_grams = set().union(*(grams(c) for c in corpus))
    for i, ex in enumerate(examples):
        g = grams(ex)
        assert report.n_ngrams[i] == len(g)
        assert report.n_matched[i] == len(g & corpus_grams)
    assert report.contaminated.any() and (~report.contaminated).any()


def test_file_streaming_is_chunk_invariant(tmp_path):
    rng = np.random.default_rng(1)
    docs = [random_text(rng, 400) for _ in range(30)]
    examples = [docs[3][50:300], docs[17][:200], random_text(rng, 200)]
    path = tmp_path / "corpus.txt"
    path.write_text("".join(docs), encoding="utf-8")  # one stream: n-grams may span docs
    whole = ngram_overlap(examples, [path.read_text(encoding="utf-8")], n=4)
    for chunk in (1024, 1031, 4096):  # odd sizes cut words and UTF-8 characters
        rep = ngram_overlap(examples, path, n=4, chunk_bytes=chunk)
        np.testing.assert_array_equal(rep.n_matched, whole.n_matched)
        assert rep.params["bytes_scanned"] == path.stat().st_size
    rep = ngram_overlap(examples, tmp_path, n=4)  # a directory is read recursively
    np.testing.assert_array_equal(rep.n_matched, whole.n_matched)
    rep = ngram_overlap(examples, io.BytesIO(path.read_bytes()), n=4, chunk_bytes=2048)
    np.testing.assert_array_equal(rep.n_matched, whole.n_matched)
    assert whole.contaminated[:2].all() and not whole.contaminated[2]


def test_line_docs_keep_ngrams_inside_a_line(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text("one two\nthree four\n")
    assert ngram_overlap(["two three"], path, n=2).contaminated[0]
    assert not ngram_overlap(["two three"], path, n=2, line_docs=True).contaminated[0]
    assert ngram_overlap(["three four"], path, n=2, line_docs=True).contaminated[0]


def test_dask_bag_gives_the_same_answer():
    db = pytest.importorskip("dask.bag")
    rng = np.random.default_rng(2)
    corpus = [random_text(rng, 200) for _ in range(40)]
    examples = [corpus[5][20:150], corpus[33][:120], random_text(rng, 150)]
    local = ngram_overlap(examples, corpus, n=3)
    bag = db.from_sequence(corpus, npartitions=4)
    import dask

    with dask.config.set(scheduler="synchronous"):
        remote = ngram_overlap(examples, bag, n=3)
    np.testing.assert_array_equal(remote.n_matched, local.n_matched)
    assert remote.params["source"] == "dask" and remote.params["documents"] == 40


def test_index_saves_ngrams_not_a_file_name(tmp_path):
    idx = build_index(["alpha beta gamma delta", "epsilon zeta eta theta"], n=2)
    idx.save(tmp_path / "idx.npz")
    back = NgramIndex.load(tmp_path / "idx.npz")
    np.testing.assert_array_equal(back.hashes, idx.hashes)
    assert back.hashes.shape[0] == 6 and back.n == 2
    rep = ngram_overlap(back, ["zeta eta"])
    assert rep.contaminated.tolist() == [False, True]


def test_clean_subset_metrics_and_short_examples():
    examples = ["a b c", "d e f", "g h i", "j k l", "x"]
    rep = ngram_overlap(examples, ["a b c d e f"], n=2, scores=[1, 1, 0, 0, 1])
    assert rep.contaminated.tolist() == [True, True, False, False, False]
    assert rep.too_short.tolist() == [False] * 4 + [True]
    assert rep.metrics["contaminated"]["mean"] == 1.0
    assert rep.metrics["clean"]["mean"] == pytest.approx(1 / 3)
    assert rep.metrics["difference"]["estimate"] == pytest.approx(2 / 3)
    assert rep.to_dict()["kind"] == "ContaminationReport"


def test_threshold_and_errors():
    rep = ngram_overlap(["a b c d e"], ["a b c"], n=2, threshold=0.5)
    assert rep.overlap[0] == 0.5 and not rep.contaminated[0]
    with pytest.raises(InvalidInputError, match="single string"):
        ngram_overlap(["a b"], "corpus text", n=2)
    with pytest.raises(InvalidInputError, match="not str"):
        ngram_overlap(["a b"], [b"bytes"], n=2)
    with pytest.raises(InvalidInputError, match="one finite number per example"):
        ngram_overlap(["a b"], ["a b"], n=2, scores=[1, 2])
    with pytest.raises(InvalidInputError, match="strings"):
        build_index([1, 2])
