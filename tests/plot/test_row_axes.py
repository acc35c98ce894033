"""``row_axes``: the row layout shared by plot_explanation and plot_slices (first item on top,
ticks from the bottom up, the figure's height grows with the number of rows)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from assay.plot import plot_slices
from assay.plot._axes import row_axes
from assay.slices import find_slices


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_first_label_on_top_and_height_grows_with_rows():
    ax, y = row_axes(None, ["a", "b", "c", "d"], width=5, row_height=0.5, pad=1.0)
    assert y.tolist() == [3, 2, 1, 0]
    assert ax.get_yticks().tolist() == [0, 1, 2, 3]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["d", "c", "b", "a"]
    assert ax.figure.get_size_inches().tolist() == [5.0, 3.0]
    empty, y0 = row_axes(None, [], width=5, row_height=0.5, pad=1.0)
    assert y0.size == 0 and list(empty.get_yticks()) == []
    assert empty.figure.get_size_inches().tolist() == [5.0, 1.5]  # room for one row
    _, given = plt.subplots(figsize=(2, 2))
    same, _ = row_axes(given, ["a"], width=5, row_height=0.5, pad=1.0)
    assert same is given and given.figure.get_size_inches().tolist() == [2.0, 2.0]


def test_slices_drawn_at_their_rows_worst_on_top():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 5, size=(6000, 3))
    p = np.where(X[:, 0] == 1, 0.5, np.where(X[:, 1] == 2, 0.35, 0.1))
    rep = find_slices(X, errors=(rng.random(6000) < p).astype(float), seed=0)
    assert len(rep.slices) >= 2
    ax = plot_slices(rep)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[-1].startswith(rep.slices[0].description)  # the first slice is the top row
    assert [lab.split("  (")[0] for lab in labels] == [s.description for s in rep.slices][::-1]
    # each bar spans from the overall value to its slice's value, at its slice's row
    bars = sorted(ax.patches, key=lambda b: -b.get_y())
    for bar, s in zip(bars, rep.slices, strict=True):
        assert bar.get_x() == pytest.approx(rep.metric_overall)
        assert bar.get_x() + bar.get_width() == pytest.approx(s.metric_inside)
