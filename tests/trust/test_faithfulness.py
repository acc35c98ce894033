"""Faithfulness metrics: hand-computed values, the planted model, and wrong attributions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assay.attribution import ExactShapley, Explanation
from assay.errors import InvalidInputError
from assay.model import wrap
from assay.trust import faithfulness
from assay.trust._common import coalition_values
from assay.trust._faithfulness import removal_subsets


def _exp(values, data, method="given"):
    values = np.asarray(values, dtype=float)
    n, d = values.shape
    return Explanation(
        values=values[:, :, None],
        base_values=np.zeros((n, 1)),
        data=np.asarray(data, dtype=float),
        feature_names=[f"x{j}" for j in range(d)],
        output_names=["y"],
        method=method,
        output_space="raw",
    )


def lin2(Z):
    return 2 * Z[:, 0] + Z[:, 1]


def test_every_metric_matches_a_hand_computed_value():
    # f(x) = 2 x0 + x1, x = (1, 1), one background row (0, 0), attribution (1, 2):
    # order by attribution: x1 first, then x0.
    # deletion: f = 3, 2, 0 at 0, 1/2, 1 removed -> trapezoid 0.5 (2.5 + 1) / 2 ... = 1.75
    # insertion: f = 0, 1, 3 -> 0.5 * (0.5 + 2) = 1.25
    # PGI (k=1, remove x1): |3 - 2| = 1; PGU (remove x0): |3 - 1| = 2
    # infidelity over S ~ {x0}: 1/4, {x1}: 1/4, {x0, x1}: 1/2 with sums 1, 2, 3 and output
    # drops 2, 1, 3: 1/4 (1-2)^2 + 1/4 (2-1)^2 + 1/2 (3-3)^2 = 0.5
    exp = _exp([[1.0, 2.0], [1.0, 2.0]], [[1.0, 1.0], [1.0, 1.0]])
    res = faithfulness(exp, lin2, background=[[0.0, 0.0]], top_k=1, n_random=3, seed=0)
    assert res["deletion_auc"].value == pytest.approx(1.75, abs=1e-12)
    assert res["insertion_auc"].value == pytest.approx(1.25, abs=1e-12)
    assert res["pgi"].value == pytest.approx(1.0, abs=1e-12)
    assert res["pgu"].value == pytest.approx(2.0, abs=1e-12)
    assert res["infidelity"].value == pytest.approx(0.5, abs=1e-12)
    np.testing.assert_allclose(res.deletion_curve, [3.0, 2.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(res.insertion_curve, [0.0, 1.0, 3.0], atol=1e-12)
    np.testing.assert_allclose(res.fractions, [0.0, 0.5, 1.0])
    assert res.full_output == pytest.approx(3.0) and res.empty_output == pytest.approx(0.0)
    # captum-style normalization: beta = sum w s D / sum w s^2 = 5.5 / 5.75
    beta = 5.5 / 5.75
    hand = 0.25 * (beta - 2) ** 2 + 0.25 * (2 * beta - 1) ** 2 + 0.5 * (3 * beta - 3) ** 2
    res_n = faithfulness(exp, lin2, background=[[0.0, 0.0]], top_k=1, normalize=True, seed=0)
    assert res_n["infidelity"].value == pytest.approx(hand, rel=1e-12)
    # the correct attribution (2, 1) is the exact Shapley value: the mirror image
    good = _exp([[2.0, 1.0], [2.0, 1.0]], [[1.0, 1.0], [1.0, 1.0]])
    res_g = faithfulness(good, lin2, background=[[0.0, 0.0]], top_k=1, seed=0)
    assert res_g["deletion_auc"].value == pytest.approx(1.25)
    assert res_g["insertion_auc"].value == pytest.approx(1.75)
    assert res_g["pgi"].value == pytest.approx(2.0) and res_g["pgu"].value == pytest.approx(1.0)
    assert res_g["infidelity"].value == pytest.approx(0.0, abs=1e-12)


def test_removal_averages_the_model_over_background_rows_or_uses_the_mean_row():
    f = wrap(lambda Z: Z[:, 0] ** 2, n_features=2)
    X = np.array([[1.0, 1.0]])
    bg = np.array([[0.0, 0.0], [2.0, 2.0]])
    keep = np.array([[[False, True], [True, True]]])
    # removing x0: mean of 0^2 and 2^2 = 2; keeping everything: 1
    np.testing.assert_allclose(coalition_values(f, X, keep, bg, 0), [[2.0, 1.0]])
    exp = _exp([[1.0, 0.0], [1.0, 0.0]], [[1.0, 1.0], [1.0, 1.0]])
    res_b = faithfulness(exp, lambda Z: Z[:, 0] ** 2, background=bg, top_k=1, seed=0)
    res_m = faithfulness(
        exp, lambda Z: Z[:, 0] ** 2, background=bg, top_k=1, replacement="mean", seed=0
    )
    assert res_b["pgi"].value == pytest.approx(1.0)  # |1 - 2|
    assert res_m["pgi"].value == pytest.approx(0.0)  # mean row (1, 1): |1 - 1|


def test_exact_infidelity_subsets_have_the_documented_probabilities():
    masks, w = removal_subsets(3, n_perturbations=5, n_rows=2, rng=None, exact_max=8)
    assert masks.shape == (2, 7, 3)
    assert w.sum() == pytest.approx(1.0)
    sizes = masks[0].sum(axis=1)
    for s in (1, 2, 3):  # each size has total probability 1/3
        assert w[sizes == s].sum() == pytest.approx(1 / 3)
    rng = np.random.default_rng(0)
    masks, w = removal_subsets(12, n_perturbations=4000, n_rows=1, rng=rng, exact_max=8)
    counts = np.bincount(masks[0].sum(axis=1), minlength=13)[1:]
    # sizes uniform on 1..12: each count ~ Binomial(4000, 1/12), sd ~ 17.5; 5 sd band
    assert np.all(np.abs(counts - 4000 / 12) < 90)


def _planted():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 10))

    def f(Z):  # only features 0, 1, 2 matter (one interaction)
        return 3 * Z[:, 0] + 2 * Z[:, 1] - 2 * Z[:, 2] + Z[:, 0] * Z[:, 1]

    bg = X[:30]
    exp = ExactShapley(f, background=bg).explain(X[30:70])
    return f, bg, exp


def test_exact_shapley_beats_random_on_every_metric_and_a_shuffled_one_does_not():
    f, bg, exp = _planted()
    res = faithfulness(exp, f, background=bg, n_random=10, seed=0)
    assert [m.name for m in res.metrics] == [
        "deletion_auc",
        "insertion_auc",
        "pgi",
        "pgu",
        "infidelity",
    ]
    for m in res.metrics:
        assert m.beats_random, m.verdict
        assert m.p_value < 1e-6
    assert res.beats_random and res.status == "ok"
    assert "beats random" in res.verdict
    # the dummy features get exactly zero, so removing the 7 least important changes nothing
    assert res["pgu"].value == pytest.approx(0.0, abs=1e-9)

    # a deliberately wrong attribution: each row's values shuffled across features
    shuffled = np.random.default_rng(12345).permuted(exp.values, axis=1)
    wrong = Explanation(
        values=shuffled,
        base_values=exp.base_values,
        data=exp.data,
        feature_names=exp.feature_names,
        output_names=exp.output_names,
        method="shuffled",
        output_space="raw",
    )
    res_w = faithfulness(wrong, f, background=bg, n_random=10, seed=0)
    assert not any(m.beats_random for m in res_w.metrics), res_w.verdict
    assert not res_w.beats_random and res_w.status == "warning"  # no evidence either way
    assert "not shown to beat random" in res_w.verdict

    # a consistently wrong one: the planted features' values moved to dummy features
    perm = [7, 8, 9, 3, 4, 5, 6, 0, 1, 2]
    moved = Explanation(
        values=exp.values[:, perm],
        base_values=exp.base_values,
        data=exp.data,
        feature_names=exp.feature_names,
        output_names=exp.output_names,
        method="moved",
        output_space="raw",
    )
    res_m = faithfulness(moved, f, background=bg, n_random=10, seed=0)
    for m in res_m.metrics:
        assert m.worse_than_random, m.verdict
    assert res_m.status == "alert" and "WORSE than random" in res_m.verdict


def test_result_is_seeded_and_serializable():
    f, bg, exp = _planted()
    a = faithfulness(exp[:10], f, background=bg, n_random=3, seed=4)
    b = faithfulness(exp[:10], f, background=bg, n_random=3, seed=4)
    assert a.to_dict() == b.to_dict()
    d = json.loads(json.dumps(a.to_dict()))
    assert d["kind"] == "FaithfulnessResult" and d["status"] == a.status
    assert d["metrics"][0]["beats_random"] == a.metrics[0].beats_random
    assert d["params"]["seed"] == 4 and d["params"]["infidelity_sets"] == "sampled"


def test_bad_input_is_reported():
    exp = _exp([[1.0, 2.0]], [[1.0, 1.0]])
    with pytest.raises(InvalidInputError, match="Explanation"):
        faithfulness(np.zeros((1, 2, 1)), lin2)
    with pytest.raises(InvalidInputError, match="replacement"):
        faithfulness(exp, lin2, replacement="zero")
    with pytest.raises(InvalidInputError, match="columns"):
        faithfulness(exp, lin2, background=np.zeros((3, 5)))
    with pytest.raises(InvalidInputError, match="top_k"):
        faithfulness(exp, lin2, top_k=5)
    two = Explanation(
        values=np.zeros((1, 2, 3)),
        base_values=np.zeros((1, 3)),
        data=np.zeros((1, 2)),
        feature_names=["a", "b"],
        output_names=["p", "q", "r"],
        method="m",
        output_space="raw",
    )
    with pytest.raises(InvalidInputError, match="output="):
        faithfulness(two, lin2)


@pytest.mark.parametrize("normalize", [False, True])
def test_infidelity_agrees_with_captum(normalize):
    # captum averages uniformly over the perturbations it is handed; listing each removed set
    # in proportion to its probability (d=3: 3 singletons and 3 pairs at 1/9, the full set at
    # 1/3 = 3/9) makes that average the exact expectation assay computes.
    captum_metrics = pytest.importorskip("captum.metrics")
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    X = rng.normal(size=(12, 3))
    bg = rng.normal(size=(20, 3))
    mean = bg.mean(axis=0)

    def f(Z):
        return np.tanh(Z[:, 0]) * Z[:, 1] + Z[:, 2] ** 2

    exp = _exp(rng.normal(size=(12, 3)), X)
    res = faithfulness(exp, f, background=bg, replacement="mean", normalize=normalize, seed=0)
    sets = [[0], [1], [2], [0, 1], [0, 2], [1, 2], [0, 1, 2], [0, 1, 2], [0, 1, 2]]
    masks = np.zeros((len(sets), 3))
    for i, s in enumerate(sets):
        masks[i, s] = 1.0
    masks_t = torch.tensor(masks)
    mean_t = torch.tensor(mean)

    def perturb(inputs):
        m = masks_t.repeat(inputs.shape[0] // len(sets), 1)  # captum repeat_interleaves rows
        return m, torch.where(m.bool(), mean_t, inputs)

    def forward(t):
        return torch.tanh(t[:, 0]) * t[:, 1] + t[:, 2] ** 2

    ref = captum_metrics.infidelity(
        forward,
        perturb,
        torch.tensor(X),
        torch.tensor(exp.values[:, :, 0]),
        n_perturb_samples=len(sets),
        normalize=normalize,
    )
    assert res["infidelity"].value == pytest.approx(float(ref.mean()), rel=1e-9)
