"""``assay.plot.plot_explanation``: what is drawn is the explanation's numbers."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from assay.attribution import ExactShapley
from assay.errors import InvalidInputError
from assay.plot import plot_explanation


@pytest.fixture(scope="module")
def exp():
    X = np.random.default_rng(0).normal(size=(30, 5))
    # feature 0 matters most, then 2, then 1; 3 and 4 not at all
    return ExactShapley(lambda Z: 3 * Z[:, 0] + Z[:, 1] + 2 * Z[:, 2],
                        background=X[:10]).explain(X)  # fmt: skip


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_bar_has_one_bar_per_feature_largest_on_top(exp):
    ax = plot_explanation(exp, "bar")
    bars = ax.patches
    assert len(bars) == 5
    widths = [b.get_width() for b in bars]
    expect = np.abs(exp.values[:, :, 0]).mean(axis=0)
    np.testing.assert_allclose(sorted(widths), sorted(expect))
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[-1] == "x0" and labels[-2] == "x2" and labels[-3] == "x1"  # top = last tick
    assert len(plot_explanation(exp, "bar", max_display=2).patches) == 2


def test_beeswarm_has_one_point_per_row_and_feature(exp):
    ax = plot_explanation(exp, "beeswarm", max_display=3)
    offsets = np.vstack([c.get_offsets() for c in ax.collections])
    assert offsets.shape == (30 * 3, 2)
    # x positions are the attributions of the three shown features
    shown = np.sort(exp.values[:, [0, 1, 2], 0].ravel())
    np.testing.assert_allclose(np.sort(offsets[:, 0]), shown)


def test_dependence_plots_value_against_attribution(exp):
    _, ax = plt.subplots()
    out = plot_explanation(exp, "dependence", feature="x2", ax=ax)
    assert out is ax
    pts = ax.collections[0].get_offsets()
    assert pts.shape == (30, 2)
    np.testing.assert_allclose(pts[:, 0], exp.data[:, 2])
    np.testing.assert_allclose(pts[:, 1], exp.values[:, 2, 0])
    # exact Shapley of a linear model: attribution = 2 (x - mean of background)
    assert np.polyfit(pts[:, 0], pts[:, 1], 1)[0] == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "violin"}, "kind must be one of"),
        ({"kind": "dependence"}, "needs feature="),
        ({"kind": "dependence", "feature": "nope"}, "not one of the explanation's features"),
        ({"kind": "dependence", "feature": 7}, "out of range"),
        ({"kind": "bar", "output": 3}, "out of range"),
        ({"kind": "bar", "max_display": 0}, "positive integer"),
    ],
)
def test_bad_arguments_are_clean_errors(exp, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        plot_explanation(exp, **kwargs)


def test_not_an_explanation():
    with pytest.raises(InvalidInputError, match=r"draws an assay\.Explanation"):
        plot_explanation(np.zeros((3, 2)))
