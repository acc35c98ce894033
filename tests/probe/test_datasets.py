"""Generated statement datasets: labels agree with the table, negation flips truth, and the
false statements of the fact families are balanced so that word identity carries no label."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest

from assay.errors import InvalidInputError
from assay.probe import load_statements, number_to_words, with_distractor
from assay.probe._datasets import COUNTRIES

WORDS = {
    0: "zero",
    7: "seven",
    13: "thirteen",
    20: "twenty",
    21: "twenty-one",
    45: "forty-five",
    70: "seventy",
    99: "ninety-nine",
}


def test_number_words_against_a_written_table():
    for n, word in WORDS.items():
        assert number_to_words(n) == word
    assert len({number_to_words(n) for n in range(100)}) == 100
    with pytest.raises(InvalidInputError, match="at most 99"):
        number_to_words(100)


def test_country_table_has_no_duplicates():
    assert 40 <= len(COUNTRIES) <= 60
    for col in range(3):
        values = [row[col] for row in COUNTRIES]
        assert len(set(values)) == len(values)
    assert not {r[1] for r in COUNTRIES} & {r[2] for r in COUNTRIES}


@pytest.mark.parametrize("family", ["capitals", "cities"])
def test_fact_labels_match_the_table_and_words_are_balanced(family):
    ds = load_statements(family)
    col = 1 if family == "capitals" else 2
    truth = {(row[0], row[col]) for row in COUNTRIES}
    patterns = [
        r"The capital of (?P<c>.+) is (?P<x>.+)\.",
        r"(?P<x>.+) is the capital of (?P<c>.+)\.",
        r"(?P<x>.+) is a city in (?P<c>.+)\.",
        r"(?P<x>.+) is located in (?P<c>.+)\.",
    ]
    for s, label in zip(ds.statements, ds.labels, strict=True):
        m = next(m for m in (re.fullmatch(p, s) for p in patterns) if m)
        assert ((m["c"], m["x"]) in truth) == bool(label), s
    assert ds.labels.mean() == 0.5
    # every table entry occurs equally often in true and in false statements
    for _c, *rest in COUNTRIES:
        x = rest[col - 1]
        counts = Counter(
            int(lab)
            for s, lab in zip(ds.statements, ds.labels, strict=True)
            if f" {x} " in f" {s[:-1]} "
        )
        assert counts[0] == counts[1], (x, counts)


def test_negation_flips_truth_and_mixed_is_the_union():
    a = load_statements("capitals")
    b = load_statements("capitals", negation="only")
    m = load_statements("capitals", negation="mixed")
    assert len(a) == len(b) and len(m) == 2 * len(a)
    assert np.array_equal(b.labels, 1 - a.labels)
    assert all(" not " in s for s in b.statements) and b.negated.all() and not a.negated.any()
    assert set(m.statements) == set(a.statements) | set(b.statements)


def test_numbers_labels_are_the_comparison():
    inv = {number_to_words(n): n for n in range(100)}
    ds = load_statements("numbers", negation="mixed", n_samples=200, seed=1)
    for s, label, neg in zip(ds.statements, ds.labels, ds.negated, strict=True):
        words = s[:-1].split()
        x, y = inv[words[0].lower()], inv[words[-1]]
        larger = "larger" in words
        truth = (x > y) == larger
        assert label == int(truth != neg), s
    assert 0.4 < ds.labels.mean() < 0.6


def test_conjunctions_true_only_when_both_parts_are():
    caps = {c: cap for c, cap, _ in COUNTRIES}
    ds = load_statements("conjunctions", n_samples=60, seed=0)
    for s, label in zip(ds.statements, ds.labels, strict=True):
        parts = s[:-1].split(" and the capital of ")
        first = parts[0][len("The capital of ") :]
        ok = []
        for p in (first, parts[1]):
            country, cap = p.split(" is ")
            ok.append(caps[country] == cap)
        assert label == int(all(ok)), s
    assert ds.labels.mean() == 0.5


def test_contrast_pairs_and_distractor():
    ds = load_statements("capitals")
    assert ds.pos[0] == ds.statements[0] + " This is true."
    assert ds.neg[0] == ds.statements[0] + " This is false."
    pos, neg, h = with_distractor(ds, seed=3)
    assert set(h.tolist()) == {0, 1}
    for p, n, k in zip(pos, neg, h, strict=True):
        word = ("Banana.", "Shed.")[k]
        assert p.endswith(word) and n.endswith(word)
    frame = ds.to_frame()
    assert list(frame.columns) == ["statement", "label", "negated", "group"]
    assert ds.to_dict()["labels"] == ds.labels.tolist()


def test_bad_arguments_raise_actionable_errors():
    with pytest.raises(InvalidInputError, match="family must be one of"):
        load_statements("colors")
    with pytest.raises(InvalidInputError, match="negation must be"):
        load_statements("capitals", negation="some")
    with pytest.raises(InvalidInputError, match="leave it as None"):
        load_statements("capitals", n_samples=10)
