"""Contamination detectors against a tiny LM trained on a corpus with a test set injected k
times (k = 0, 1, 10): membership scores, the exchangeability test and n-gram overlap must all
find the planted contamination, graded by k, and find nothing at k = 0."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from assay.evals import (  # noqa: E402
    CausalLM,
    exchangeability_test,
    membership_scores,
    ngram_overlap,
)

N_TEST = 40  # as in conftest.py


def words(ids) -> str:
    return " ".join(f"w{i}" for i in ids)


@pytest.fixture(scope="module")
def membership(injected, trained_lms):
    texts = [[0, *x] for x in injected["members"] + injected["held_out"]]
    labels = [1] * N_TEST + [0] * N_TEST
    return {
        k: membership_scores(CausalLM(lm, batch_size=80), texts, labels=labels, seed=0)
        for k, lm in trained_lms.items()
    }


def test_min_k_pp_auroc_rises_with_injections(membership):
    auc = {k: r.metrics["min_k_pp"]["auroc"] for k, r in membership.items()}
    print(auc)
    assert abs(auc[0] - 0.5) < 0.2  # no signal without contamination (null sd 0.065)
    assert auc[1] > auc[0]
    assert auc[10] > auc[1]
    assert auc[10] > 0.9
    assert membership[10].metrics["min_k_pp"]["auroc_ci_low"] > 0.5
    assert membership[0].metrics["min_k_pp"]["p_value"] > 0.05


def test_all_scores_present_and_oriented(membership):
    res = membership[10]
    assert set(res.scores) == {"loss", "zlib", "min_k", "min_k_pp"}
    for name, m in res.metrics.items():
        assert m["auroc"] > 0.6, name  # every score ranks members higher at k = 10
        assert 0.0 <= m["tpr_at_1pct_fpr"] <= m["tpr_at_5pct_fpr"] <= 1.0
    d = res.to_dict()
    assert d["kind"] == "MembershipResult" and len(d["scores"]["min_k_pp"]) == 2 * N_TEST


@pytest.mark.parametrize(("k", "significant"), [(0, False), (10, True)])
def test_exchangeability_detects_ordered_contamination(injected, trained_lms, k, significant):
    res = exchangeability_test(
        CausalLM(trained_lms[k], batch_size=64),
        injected["members"],
        n_shards=10,
        n_permutations=20,
        separator=[0],
        seed=0,
    )
    print(k, res.p_value)
    if significant:
        assert res.p_value < 0.01
        assert (res.differences > 0).mean() >= 0.8
    else:
        assert res.p_value > 0.05
    assert res.canonical.shape == (10,) and res.shard_sizes.sum() == N_TEST


@pytest.mark.parametrize("k", [0, 1, 10])
def test_ngram_overlap_finds_exactly_the_injected_examples(injected, k):
    examples = [words(x) for x in injected["members"] + injected["held_out"]]
    corpus = [words(d) for d in injected["corpora"][k]]
    report = ngram_overlap(examples, corpus)
    expected = np.r_[np.full(N_TEST, k > 0), np.zeros(N_TEST, bool)]
    np.testing.assert_array_equal(report.contaminated, expected)
    if k:
        np.testing.assert_array_equal(report.overlap[:N_TEST], 1.0)
    assert report.params["documents"] == len(corpus)
