"""judge_bias: planted judges get exactly their alert; a fair judge's false-alarm rate <= alpha."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from scipy import stats

from assay.errors import InvalidInputError, ModelError
from assay.evals import PADDING_TEMPLATES, JudgeBiasResult, judge_bias

ME = "judge-model"
_Q = re.compile(r"<q=(-?[0-9.]+)>")


def make_items(n: int, seed: int) -> list[dict]:
    """Pairs whose hidden quality is written in the text; half the pairs hold one answer by ME.

    ME's answers carry a style mark ("Certainly.") a self-preferring judge can recognise; their
    quality is drawn from the same distribution as everyone else's.
    """
    rng = np.random.default_rng(seed)
    items = []
    for i in range(n):
        qa, qb = rng.uniform(0, 1, 2)
        authors = ["other-1", "other-2"]
        if i % 2 == 0:
            authors[rng.integers(0, 2)] = ME
        texts = [
            f"{'Certainly. ' if who == ME else 'Well, '}answer {i}{s} <q={q:.3f}>"
            for who, q, s in zip(authors, (qa, qb), "ab", strict=True)
        ]
        items.append({
            "question": f"question number {i}?", "answer_a": texts[0], "answer_b": texts[1],
            "author_a": authors[0], "author_b": authors[1], "reference": "A" if qa > qb else "B",
        })  # fmt: skip
    return items


def quality(text: str) -> float:
    return float(_Q.search(text).group(1))


class Judge:
    """A judge deciding on a score per answer, with logistic noise (seeded)."""

    def __init__(self, seed: int, *, noise: float = 0.1, first_slot: float = 0.0,
                 length: float = 0.0, self_bonus: float = 0.0) -> None:  # fmt: skip
        self.rng = np.random.default_rng(seed + 10_000)
        self.noise, self.first_slot = noise, first_slot
        self.length, self.self_bonus = length, self_bonus

    def score(self, text: str) -> float:
        return (
            quality(text)
            + self.length * len(text)
            + (self.self_bonus if "Certainly." in text else 0.0)
        )

    def __call__(self, question: str, first: str, second: str) -> int:
        gap = self.score(second) - self.score(first)
        if self.first_slot and abs(gap) < self.first_slot:
            return 0  # close call: the first slot wins
        p_second = 1 / (1 + np.exp(-gap / self.noise)) if self.noise else float(gap > 0)
        return int(self.rng.random() < p_second)


def run(judge, seed, n=60, **kw):
    kw.setdefault("n_bootstrap", 199)
    return judge_bias(judge, make_items(n, seed), seed=seed, judge_name=ME, **kw)


def statuses(res):
    return {k: c["status"] for k, c in res.checks.items()}


def test_fair_judge_raises_no_alert():
    res = run(Judge(0), 0)
    assert statuses(res) == {"position": "ok", "verbosity": "ok", "self_preference": "ok"}
    assert res.params["judge_calls"] == 6 * 60  # both orders + four padded comparisons


def test_first_slot_judge_gets_a_position_alert_only():
    res = run(Judge(1, first_slot=0.3), 1)
    assert statuses(res) == {"position": "alert", "verbosity": "ok", "self_preference": "ok"}
    pos = res.checks["position"]
    assert pos["estimate"] > 0.8 and pos["ci_low"] > 0.5
    assert "first slot" in pos["verdict"]


def test_length_rewarding_judge_gets_a_verbosity_alert_only():
    res = run(Judge(2, length=0.004), 2)
    assert statuses(res) == {"position": "ok", "verbosity": "alert", "self_preference": "ok"}
    verb = res.checks["verbosity"]
    assert verb["estimate"] > 0.1 and verb["ci_low"] > 0
    assert "raises" in verb["verdict"] and set(verb["per_template"]) <= {
        name for name, _ in PADDING_TEMPLATES
    }


def test_self_preferring_judge_gets_a_self_preference_alert():
    res = run(Judge(3, self_bonus=0.25), 3, n=80)
    assert statuses(res) == {"position": "ok", "verbosity": "ok", "self_preference": "alert"}
    sp = res.checks["self_preference"]
    assert sp["estimate"] > 0 and sp["ci_low"] > 0 and "favours its own" in sp["verdict"]


def test_false_alarm_rate_of_each_check_on_a_fair_judge():
    n_seeds, alpha = 200, 0.05
    alerts = {"position": 0, "verbosity": 0, "self_preference": 0}
    inconsistent = 0
    for seed in range(n_seeds):
        res = run(Judge(seed), seed, n=40, alpha=alpha)
        inconsistent += res.checks["position"]["n_inconsistent"]
        for name, chk in res.checks.items():
            alerts[name] += chk["status"] == "alert"
    slack = stats.binom.ppf(0.999, n_seeds, alpha)  # alpha + binomial slack
    assert inconsistent > 200 * 3  # the noisy judge does flip: the test is not vacuous
    assert all(v <= slack for v in alerts.values()), alerts


def test_consistency_corrected_leaderboard_removes_the_slot_advantage():
    """Author X is always shown first and is as good as Y: raw win rate high, corrected ~0.5."""
    rng = np.random.default_rng(5)
    items = []
    for i in range(100):
        q = rng.uniform(0, 1)
        items.append({
            "question": f"q{i}", "answer_a": f"x <q={q:.3f}>",
            "answer_b": f"y <q={q + rng.normal(0, 0.05):.3f}>", "author_a": "X", "author_b": "Y",
        })  # fmt: skip
    res = judge_bias(Judge(5, noise=0.02, first_slot=0.05), items, checks=("position",), seed=5)
    board = {row["author"]: row for row in res.scores["leaderboard"]}
    assert board["X"]["raw_win_rate"] > 0.6
    assert board["X"]["ci_low"] < 0.5 < board["X"]["ci_high"]
    assert board["X"]["win_rate"] == pytest.approx(1 - board["Y"]["win_rate"])
    assert res.checks["position"]["status"] == "alert"


def test_probability_outputs_use_the_bootstrap_and_sign_flip_path():
    items = make_items(60, 7)

    def soft_first(q, a, b):  # probability that the second is better, shaded to the first
        return float(np.clip(1 / (1 + np.exp(-(quality(b) - quality(a)) / 0.2)) - 0.15, 0, 1))

    res = judge_bias(soft_first, items, checks=("position",), seed=7, n_bootstrap=499)
    pos = res.checks["position"]
    assert pos["status"] == "alert" and pos["ci_low"] > 0.5

    def soft_fair(q, a, b):
        return float(1 / (1 + np.exp(-(quality(b) - quality(a)) / 0.2)))

    res = judge_bias(soft_fair, items, checks=("position", "verbosity"), seed=7)
    assert statuses(res) == {"position": "ok", "verbosity": "ok"}
    assert res.checks["position"]["n_inconsistent"] == 0


def test_string_answers_and_round_trip():
    items = make_items(20, 8)
    res = judge_bias(lambda q, a, b: "B" if quality(b) > quality(a) else "A", items, seed=0,
                     judge_name=ME)  # fmt: skip
    d = json.loads(json.dumps(res.to_dict()))
    assert d["kind"] == "JudgeBiasResult" and d["schema_version"] == 1
    back = JudgeBiasResult.from_dict(d)
    assert back.checks == d["checks"]
    np.testing.assert_array_equal(back.items["win_a"], res.items["win_a"])
    np.testing.assert_array_equal(back.items["own"], res.items["own"])
    assert back.status == res.status == "ok"


def test_self_preference_without_reference_is_at_most_a_warning():
    items = [{k: v for k, v in it.items() if k != "reference"} for it in make_items(120, 9)]
    res = judge_bias(Judge(9, self_bonus=0.4), items, checks=("self_preference",), seed=9,
                     judge_name=ME, n_bootstrap=199)  # fmt: skip
    sp = res.checks["self_preference"]
    assert sp["status"] == "warning" and sp["controlled"] is False
    assert "cannot tell" in sp["verdict"]


def test_second_judge_as_reference():
    fair = Judge(10, noise=0.0)
    items = [{k: v for k, v in it.items() if k != "reference"} for it in make_items(80, 10)]
    res = judge_bias(Judge(11, noise=0.0, self_bonus=0.3), items, checks=("self_preference",),
                     seed=10, judge_name=ME, reference=fair)  # fmt: skip
    assert res.checks["self_preference"]["status"] == "alert"
    assert res.params["reference_calls"] == 2 * 40


def test_self_preference_skipped_without_name():
    res = judge_bias(Judge(0), make_items(10, 0), seed=0, n_bootstrap=99)
    assert "self_preference" not in res.checks and "judge_name" in res.skipped["self_preference"]


@pytest.mark.parametrize(
    ("items", "match"),
    [
        ([{"question": "q", "answer_a": "a"}] * 3, "lacks \\['answer_b'\\]"),
        ("not items", "list of dicts"),
        ([{"question": "q", "answer_a": "a", "answer_b": 3}] * 3, "use text"),
        ([{"question": "q", "answer_a": "a", "answer_b": "b"}], "at least 2"),
    ],
)
def test_bad_items_raise(items, match):
    with pytest.raises(InvalidInputError, match=match):
        judge_bias(lambda q, a, b: 0, items)


def test_bad_judge_output_and_failure_raise():
    items = make_items(4, 0)
    with pytest.raises(ModelError, match="returned 'maybe'"):
        judge_bias(lambda q, a, b: "maybe", items)
    with pytest.raises(ModelError, match=r"returned 1\.5"):
        judge_bias(lambda q, a, b: 1.5, items)
    with pytest.raises(ModelError, match="judge failed: ZeroDivisionError"):
        judge_bias(lambda q, a, b: 1 / 0, items)
    with pytest.raises(InvalidInputError, match="unknown check"):
        judge_bias(lambda q, a, b: 0, items, checks=("length",))


def test_api_judge_batches_retries_and_refuses_over_budget():
    from assay.evals import APIJudge

    fair = Judge(12, noise=0.0)
    sizes, failures = [], {"left": 2}

    def api(triples):
        if failures["left"]:
            failures["left"] -= 1
            raise TimeoutError("flaky network")
        sizes.append(len(triples))
        return [fair(*t) for t in triples]

    waits = []
    judge = APIJudge(api, batch_size=25, max_calls=200, retries=2, backoff=0.5,
                     sleep=waits.append)  # fmt: skip
    res = judge_bias(judge, make_items(30, 12), checks=("position", "verbosity"), seed=0,
                     n_bootstrap=99)  # fmt: skip
    assert waits == [0.5, 1.0] and judge.failures == 2  # two retries with backoff
    assert sum(sizes) == 6 * 30 == judge.used and max(sizes) == 25
    assert statuses(res) == {"position": "ok", "verbosity": "ok"}
    before = judge.used
    with pytest.raises(ModelError, match=r"needs 180 comparisons .* budget has 20 left"):
        judge_bias(judge, make_items(30, 13), checks=("position", "verbosity"))
    assert judge.used == before  # refused before any call

    def broken(triples):
        raise ConnectionError("down")

    with pytest.raises(ModelError, match=r"failed 2 times .* ConnectionError: down"):
        judge_bias(APIJudge(broken, retries=1, sleep=lambda s: None), make_items(4, 0))


def test_plot_judge_bias_draws_each_check():
    import matplotlib

    matplotlib.use("Agg")
    from assay.plot import plot_judge_bias

    res = run(Judge(1, first_slot=0.3), 1)
    ax = plot_judge_bias(res)
    assert len(ax.get_yticklabels()) == 3 and len(ax.lines) >= 4
    with pytest.raises(InvalidInputError, match="needs a JudgeBiasResult"):
        plot_judge_bias(res.to_dict())


def test_a_single_changed_pair_is_not_significant():
    items = make_items(20, 14)
    target = min(items[3]["answer_a"], items[3]["answer_b"], key=quality)

    def judge(q, a, b):  # fair, except that padding the worse answer of item 3 makes it win
        if target in a and a != target:
            return 0
        if target in b and b != target:
            return 1
        return int(quality(b) > quality(a))

    res = judge_bias(judge, items, checks=("position", "verbosity"), seed=0, n_bootstrap=99)
    verb = res.checks["verbosity"]
    assert np.count_nonzero(res.items["verbosity_change"]) == 1
    assert verb["p_value"] == 1.0 and verb["status"] == "ok"
