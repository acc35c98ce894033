"""The batch executor: order, per-row seeds, and identical results on a Dask cluster."""

from __future__ import annotations

import numpy as np
import pytest

from assay.attribution import KernelShap, PermutationShap
from assay.parallel import row_chunks, row_rng, run_batches


def _add(shared: int, batch: list[int]) -> int:
    return shared + sum(batch)


def model(X: np.ndarray) -> np.ndarray:
    return np.sin(X[:, 0]) * X[:, 1] + X[:, 2] * X[:, 3] * X[:, 4] + X[:, 5] ** 2


def test_run_batches_keeps_order_and_passes_shared() -> None:
    assert run_batches(_add, [[1], [2, 3], [4]], shared=10) == [11, 15, 14]
    assert run_batches(_add, [], shared=0) == []


def test_row_rng_depends_on_row_not_on_chunking() -> None:
    chunks = row_chunks(10, 3)
    assert [c.tolist() for c in chunks] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    a = [row_rng(3, i).random() for i in range(10)]
    assert len(set(a)) == 10 and a == [row_rng(3, i).random() for i in range(10)]


def test_local_processes_give_identical_values() -> None:
    X = np.random.default_rng(0).normal(size=(40, 6))
    local = KernelShap(model, background=X[:10], budget=40).explain(X, seed=1)
    procs = KernelShap(model, background=X[:10], budget=40, n_jobs=2).explain(X, seed=1)
    assert np.array_equal(local.values, procs.values)
    assert np.array_equal(local.stderr, procs.stderr)


def test_two_worker_dask_cluster_gives_identical_values() -> None:
    distributed = pytest.importorskip("distributed")
    from sklearn.ensemble import HistGradientBoostingRegressor

    X = np.random.default_rng(1).normal(size=(48, 6))
    bg = X[:12]
    local_k = KernelShap(model, background=bg, budget=50).explain(X, seed=3)
    local_p = PermutationShap(model, background=bg, n_permutations=8).explain(X, seed=3)
    # a tree model travels to the workers as assay's compiled copy of its trees
    hgb = HistGradientBoostingRegressor(max_iter=10, random_state=0).fit(X, model(X))
    local_t = PermutationShap(hgb, background=bg, n_permutations=4).explain(X, seed=3)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        dask_k = KernelShap(model, background=bg, budget=50, client=client).explain(X, seed=3)
        dask_p = PermutationShap(model, background=bg, n_permutations=8, client=client).explain(
            X, seed=3
        )
        dask_t = PermutationShap(hgb, background=bg, n_permutations=4, client=client).explain(
            X, seed=3
        )
    assert np.array_equal(local_k.values, dask_k.values)
    assert np.array_equal(local_k.stderr, dask_k.stderr)
    assert np.array_equal(local_p.values, dask_p.values)
    assert dask_k.params["distributed"] is True
    assert dask_t.params["model_evaluation"] == "compiled trees"
    assert np.array_equal(local_t.values, dask_t.values)
