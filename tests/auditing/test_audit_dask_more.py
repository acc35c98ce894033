"""Audit at scale, more sections: failure slices (found on the sample, counted on every row,
tested on unseen rows) and a classifier of several classes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

import dask.dataframe as dd  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402

from assay.auditing import audit_dask  # noqa: E402
from assay.auditing._fairness import group_gap_tests  # noqa: E402
from assay.model import wrap  # noqa: E402


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as c:  # fmt: skip
        yield c


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)


def _oracle_mask(frame, predicates):
    mask = np.ones(len(frame), dtype=bool)
    for feature, op, value in predicates:
        x = frame[feature].to_numpy(dtype=float)
        if op == "<":
            mask &= x < value
        elif op == ">=":
            mask &= x >= value
        elif op == "in":
            mask &= (x >= value[0]) & (x < value[1])
        else:
            assert op == "=", op
            mask &= x == value
    return mask


def test_planted_failure_slice_is_counted_on_all_rows_and_confirmed_on_unseen_rows(client):
    rng = np.random.default_rng(5)
    n = 12_000
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    y = (X["a"] > 0).astype(int).to_numpy()
    flip = (X["c"].to_numpy() > 1.0) & (rng.random(n) < 0.45)  # the model fails where c > 1
    y[flip] = 1 - y[flip]
    model = HistGradientBoostingClassifier(max_iter=5, random_state=0).fit(
        X[["a", "b", "c"]], (X["a"] > 0).astype(int)
    )
    frame = X.assign(outcome=y)
    result = audit_dask(
        model, dd.from_pandas(frame, npartitions=4), "outcome", client=client,
        sample_rows=1500, n_explain=5, seed=1,
    )  # fmt: skip
    sec = result.sections["slices"]
    rows = sec["data"]["all_rows"]
    assert rows, sec["verdict"]
    errors = (model.predict(X) != y).astype(float)
    for row, found in zip(rows, sec["data"]["slices"], strict=True):
        mask = _oracle_mask(X, found["predicates"])
        assert row["support"] == mask.sum()
        _close(row["metric_inside"], errors[mask].mean())
        _close(row["metric_outside"], errors[~mask].mean())
    top = max(rows, key=lambda r: r["lift"])
    assert "c" in top["description"] and top["confirmed_unseen"] and top["lift"] > 2
    assert top["n_unseen"] < top["support"]  # tested only on rows outside the sample
    assert sec["status"] == "alert"
    used = sec["data"]["rows_used"]
    assert used["scope"] == "sample search, all-rows confirmation" and used["n_rows"] == n


def test_multiclass_accuracy_and_group_accuracy_equal_in_memory(client):
    rng = np.random.default_rng(2)
    X = pd.DataFrame(rng.normal(size=(2000, 3)), columns=["a", "b", "c"])
    group = np.where(rng.random(2000) < 0.3, "f", "m")
    y = np.digitize(X["a"] + 0.5 * X["b"], [-0.5, 0.5])  # three classes
    model = HistGradientBoostingClassifier(max_iter=3, random_state=0).fit(X, y)
    frame = X.assign(label=y, grp=group)
    result = audit_dask(
        model, dd.from_pandas(frame, npartitions=3), "label", sensitive="grp", client=client,
        sample_rows=120, n_explain=3,
    )  # fmt: skip
    _close(result.sections["performance"]["data"]["audited"]["accuracy"],
           np.mean(model.predict(X) == y))  # fmt: skip
    _, cmp, _, _ = group_gap_tests(
        wrap(model), X.to_numpy(), y, pd.DataFrame({"grp": group}), seed=0, n_permutations=9
    )
    ref = cmp.groups.sort_values("group", ignore_index=True)
    got = pd.DataFrame(result.sections["group_metrics"]["data"]["groups"])
    assert list(got["group"]) == list(ref["group"]) and set(got["metric"]) == {"accuracy"}
    for col in ("n", "value", "ci_low", "ci_high"):
        _close(got[col].to_numpy(dtype=float), ref[col].to_numpy(dtype=float))
    pair = result.sections["group_metrics"]["data"]["pairs"][0]
    for col in ("estimate", "ci_low", "ci_high", "ratio", "ratio_ci_low", "ratio_ci_high"):
        _close(pair[col], float(cmp.pairs[col].iloc[0]))
