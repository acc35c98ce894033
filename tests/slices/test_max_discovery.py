"""find_slices(max_discovery=...): the search runs on a bounded, seeded sample of each
discovery half; every row still confirms (issue 28)."""

from __future__ import annotations

import numpy as np
import pytest

from assay.errors import InvalidInputError
from assay.slices import find_slices


def _planted(n: int, seed: int):
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.integers(0, 5, n), rng.normal(size=n), rng.uniform(0, 1, n)])
    bad = (X[:, 0] == 3) & (X[:, 1] > 0.5)
    errors = (rng.random(n) < np.where(bad, 0.5, 0.1)).astype(float)
    return X, errors


def test_bounded_search_finds_the_planted_slice_and_all_rows_confirm():
    X, errors = _planted(40_000, 0)
    report = find_slices(X, errors=errors, seed=0, max_discovery=6000)
    assert report.params["n_discovery_sampled"] == [6000, 6000]
    assert report.n_confirmation == 40_000  # both halves, every row
    assert report.n_discovery == 6000
    top = report.slices[0]
    assert ("x0", "=", 3.0) in [tuple(p) for p in top.predicates]
    assert any(f == "x1" and op == ">=" and 0.3 <= v <= 0.7 for f, op, v in top.predicates)
    # the slice's row mask and counts cover all rows, not the search sample
    inside = (X[:, 0] == 3) & (X[:, 1] >= 0.5)
    assert abs(top.support - inside.sum()) <= 0.1 * inside.sum()


def test_bound_above_the_half_changes_nothing():
    X, errors = _planted(3000, 1)
    a = find_slices(X, errors=errors, seed=3)
    b = find_slices(X, errors=errors, seed=3, max_discovery=10_000)
    assert [s.description for s in a.slices] == [s.description for s in b.slices]
    assert [s.p_value for s in a.slices] == [s.p_value for s in b.slices]


def test_bad_max_discovery_is_a_clear_error():
    X, errors = _planted(500, 2)
    with pytest.raises(InvalidInputError, match="max_discovery"):
        find_slices(X, errors=errors, max_discovery=5)
