"""Shared by the test suite and the docstring examples (``--doctest-modules`` over src/assay)."""

from __future__ import annotations

import sys

import pytest


@pytest.fixture(autouse=True)
def _close_figures():
    """Close every matplotlib figure after each test or example, so none accumulate."""
    yield
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")
