"""Format spread on a toy task whose accuracy is planted per separator.

The intervals are checked by their coverage over many seeds of the toy task, not on one seed:
a 95 % interval misses one seed in twenty by design.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from assay.errors import InvalidInputError, ModelError
from assay.evals import Format, FormatGrammar, format_spread

# planted accuracy of the toy model for each descriptor/value separator
PLANTED = {":": 0.9, " -": 0.75, " =": 0.6, " ||": 0.3}
GRAMMAR = FormatGrammar(separators=tuple(PLANTED))
EXAMPLES = [
    {"Question": f"What is {i} plus {i % 7}?", "Options": [str(i + i % 7), str(i)], "Answer": ""}
    for i in range(400)
]


def separator_of(prompt: str) -> str:
    rest = prompt[len("question") :]
    return max((s for s in PLANTED if rest.startswith(s)), key=len)


def coin(text: str) -> float:
    """A uniform number fixed by the text. Not a CRC: that is linear, so prompts differing in a
    few characters get dependent coins and the examples stop being independent draws."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") / 2**64


def toy_model(bias: dict[str, float] = PLANTED, salt: str = ""):
    """Correct with the planted probability of the prompt's separator; deterministic per
    prompt so repeated calls agree."""

    def score(prompts):
        u = np.array([coin(salt + p) for p in prompts])
        return (u < np.array([bias[separator_of(p)] for p in prompts])).astype(float)

    return score


def coverage(n_seeds, n_examples=200, bias=PLANTED, **options):
    """Over seeds of the toy task: share of spread intervals and of std intervals covering the
    planted spread / std of the sampled formats, and the mean spread-interval width."""
    score = toy_model(bias)
    spread_hits, std_hits, widths = [], [], []
    for seed in range(n_seeds):
        fmts = GRAMMAR.sample(12, seed=seed)
        truth = np.array([bias[f.separator] for f in fmts])
        res = format_spread(score, EXAMPLES[:n_examples], formats=fmts, seed=seed, **options)
        lo, hi = res.spread_ci_low[0], res.spread_ci_high[0]
        spread_hits.append(lo <= truth.max() - truth.min() <= hi)
        std_hits.append(res.std_ci_low[0] <= truth.std(ddof=1) <= res.std_ci_high[0])
        widths.append(hi - lo)
    return float(np.mean(spread_hits)), float(np.mean(std_hits)), float(np.mean(widths))


def test_grammar_renders_distinct_plausible_formats():
    fmts = GRAMMAR.sample(30, seed=1)
    assert len({f for f in fmts}) == 30  # distinct
    prompts = {f.render(EXAMPLES[0]) for f in fmts}
    assert len(prompts) == 30  # every format changes the text
    f = Format(casing="lower", separator=" ||", space=" ", enumeration="i", wrapper="({})")
    text = f.render(EXAMPLES[3])
    assert text.startswith("question || What is 3 plus 3?")
    assert "(i) 6" in text and "(ii) 3" in text and text.endswith("answer ||")
    assert GRAMMAR.sample(10, seed=1) == GRAMMAR.sample(10, seed=1)


def test_exhaustive_spread_recovers_planted_spread():
    res = format_spread(toy_model(), EXAMPLES, grammar=GRAMMAR, n_formats=12, seed=0)
    seps = [f["separator"] for f in res.formats]
    truth = np.array([PLANTED[s] for s in seps])
    planted_spread = truth.max() - truth.min()
    assert res.spread_ci_low[0] < res.spread[0] < res.spread_ci_high[0]
    assert abs(res.spread[0] - planted_spread) < 0.1
    assert PLANTED[seps[res.best[0]]] == truth.max()
    assert PLANTED[seps[res.worst[0]]] == truth.min()
    covered = (res.ci_low[0] <= truth) & (truth <= res.ci_high[0])
    assert covered.mean() >= 0.75  # 95 % intervals: at most a few misses among 12
    assert res.accuracy.shape == (1, 12) and np.isnan(res.rank_tau).all()
    assert res.params["calls"]["model"] == {"calls": 12, "prompts": 12 * 400}
    d = res.to_dict()
    assert d["kind"] == "FormatSpreadResult" and len(d["accuracy"][0]) == 12


# 95 % intervals over 200 seeds: the binomial sd of the coverage is 0.015, so [0.90, 0.99]
# leaves three sd below and allows a slightly conservative interval; the previous basic
# bootstrap covered 0.91 of 300 seeds on the 400-example task (benchmarks/bench_format_spread.py)
def test_exhaustive_spread_interval_has_nominal_coverage():
    spread_cov, std_cov, width = coverage(200, n_bootstrap=400)
    assert 0.90 <= spread_cov <= 0.99, spread_cov
    assert 0.90 <= std_cov <= 0.99, std_cov
    assert width < 0.2  # informative: the planted spread is 0.3 to 0.6


def test_thompson_spread_interval_has_nominal_coverage():
    # the search scores the extremes often and the middle formats thinly; the interval must
    # account for choosing the best and worst among them (a Welch interval of the two chosen
    # formats covered 0.88 of 300 seeds at budget 800)
    spread_cov, _, width = coverage(150, n_examples=400, budget=800, batch_size=20, n_bootstrap=400)
    assert 0.90 <= spread_cov <= 0.99, spread_cov
    assert width < 0.3


def test_spread_interval_reaches_zero_when_formats_do_not_matter():
    # every format has the same accuracy, but each scores its own coin flips: the estimated
    # spread is pure selection noise, and the interval must still reach down to 0
    flat = dict.fromkeys(PLANTED, 0.7)
    spread_cov, _, _ = coverage(60, bias=flat, n_bootstrap=400)
    assert spread_cov >= 0.9, spread_cov


def test_format_independent_model_has_zero_spread():
    def fn(prompts):  # correctness depends on the example only
        return np.array([float(" 1" in p.split("plus")[0]) for p in prompts])

    res = format_spread(fn, EXAMPLES[:100], grammar=GRAMMAR, n_formats=8, seed=0)
    assert res.spread[0] == 0.0 and res.spread_ci_high[0] == 0.0 and res.std[0] == 0.0


def test_thompson_search_finds_extremes_within_budget():
    score = toy_model()
    res = format_spread(
        score, EXAMPLES, grammar=GRAMMAR, n_formats=12, budget=1500, batch_size=20, seed=3
    )
    seps = [f["separator"] for f in res.formats]
    assert res.params["search"] == "thompson"
    assert res.n_evaluated.sum() <= 1500
    assert seps[res.best[0]] == ":" and seps[res.worst[0]] == " ||"
    assert res.spread_ci_low[0] < res.spread[0] < res.spread_ci_high[0]


def test_rank_stability_between_models():
    # formats sharing a separator tie in truth, so their order is noise: tau varies by seed,
    # and the claims are about its sign everywhere and its typical size
    reverse = {s: 1.2 - p for s, p in PLANTED.items()}
    models = {"a": toy_model(), "b": toy_model(salt="b"), "rev": toy_model(reverse)}
    taus = []
    for seed in range(6):
        res = format_spread(
            models, EXAMPLES[:200], grammar=GRAMMAR, n_formats=12, seed=seed, n_bootstrap=100
        )
        assert res.accuracy.shape == (3, 12)
        np.testing.assert_allclose(np.diag(res.rank_tau), 1.0)
        taus.append((res.rank_tau[0, 1], res.rank_tau_p[0, 1], res.rank_tau[0, 2]))
    same, p_same, rev = np.array(taus).T
    assert (same > 0.3).all() and np.median(same) > 0.6 and np.median(p_same) < 0.01
    assert (rev < -0.3).all() and np.median(rev) < -0.5


def test_labels_turn_predictions_into_correctness():
    labels = np.array([ex["Options"][0] for ex in EXAMPLES[:50]])

    def predict(prompts):  # always picks the first option: right every time
        return np.array([p.split("plus")[0].split()[-1] for p in prompts])

    res = format_spread(predict, EXAMPLES[:50], labels=labels, n_formats=3, seed=0)
    assert res.params["labels"]
    assert np.isfinite(res.accuracy).all()


def test_bad_inputs_raise_actionable_errors():
    with pytest.raises(InvalidInputError, match="mapping"):
        format_spread(toy_model(), ["just a string"], n_formats=2)
    with pytest.raises(InvalidInputError, match="labels"):
        format_spread(toy_model(), EXAMPLES[:5], labels=[1, 2], n_formats=2)
    with pytest.raises(ModelError, match="one score"):
        format_spread(lambda p: [1.0], EXAMPLES[:5], grammar=GRAMMAR, n_formats=2)
    with pytest.raises(InvalidInputError, match=r"\[0, 1\]"):
        format_spread(lambda p: np.full(len(p), 3.0), EXAMPLES[:50], budget=20, n_formats=2)
