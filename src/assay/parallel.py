"""The batch executor shared by row-parallel explainers.

An explainer splits its rows into batches (chunks) whose composition depends only on the data
and its own options -- never on where they run -- and hands them to :func:`run_batches`, which
applies one function to every batch serially, in local worker processes (``n_jobs``) or on a
Dask cluster (``client``). Randomness is keyed by row, not by batch or worker
(:func:`row_rng`), so the result is the same wherever the work ran.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from assay._validation import check_int, import_optional
from assay.errors import InvalidInputError

__all__ = ["check_executor", "row_chunks", "row_rng", "run_batches", "seed_entropy"]


def seed_entropy(seed: int | None) -> int:
    """The entropy behind all random choices of one call: ``seed`` or a fresh random integer.

    Record the returned value (explainers store it in ``params["seed_entropy"]``): passing it
    back as ``seed`` reproduces a call made with ``seed=None``.
    """
    if seed is not None:
        return int(seed)
    return int(np.random.SeedSequence().entropy)  # type: ignore[arg-type]


def row_rng(entropy: int, row: int) -> np.random.Generator:
    """The random generator of row ``row`` (its index in the explained data).

    Keyed by ``(entropy, row)`` through :class:`numpy.random.SeedSequence` spawn keys, so a row
    draws the same numbers however the rows are partitioned into batches or workers.

    Examples
    --------
    >>> a = row_rng(7, 3).random()
    >>> b = row_rng(7, 3).random()
    >>> a == b, a == row_rng(7, 4).random()
    (True, False)
    """
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(int(row),)))


def row_chunks(n_rows: int, rows_per_chunk: int) -> list[np.ndarray]:
    """Split ``range(n_rows)`` into consecutive index arrays of at most ``rows_per_chunk``."""
    rows_per_chunk = max(1, int(rows_per_chunk))
    return [
        np.arange(start, min(n_rows, start + rows_per_chunk))
        for start in range(0, n_rows, rows_per_chunk)
    ]


def check_executor(n_jobs: Any, client: Any) -> tuple[int | None, Any]:
    """Validate the ``n_jobs`` / ``client`` options of an explainer."""
    if n_jobs is not None:
        n_jobs = check_int(n_jobs, name="n_jobs")
        if n_jobs == 0 or n_jobs < -1:
            msg = f"n_jobs must be a positive number of processes or -1 (all cores); got {n_jobs}."
            raise InvalidInputError(msg)
    if client is not None:
        if n_jobs not in (None, 1):
            msg = (
                f"pass either n_jobs (local processes) or client (a Dask cluster), not both; "
                f"got n_jobs={n_jobs} and a client."
            )
            raise InvalidInputError(msg)
        if not (hasattr(client, "submit") and hasattr(client, "gather")):
            msg = (
                f"client must be a dask.distributed.Client; got {type(client).__name__}. "
                "Create one with dask.distributed.Client(...) or leave client=None."
            )
            raise InvalidInputError(msg)
    return n_jobs, client


def run_batches(
    fn: Callable[[Any, Any], Any],
    batches: Sequence[Any],
    *,
    shared: Any = None,
    n_jobs: int | None = None,
    client: Any = None,
    progress: bool = False,
    desc: str = "batches",
) -> list[Any]:
    """Apply ``fn(shared, batch)`` to every batch and return the results in batch order.

    Parameters
    ----------
    fn : callable
        A module-level (picklable) function of ``(shared, batch)``.
    batches : sequence
        The work items; each is sent to one worker.
    shared : object, optional
        Passed to every call (the model, the background, the plan). On a Dask cluster it is
        scattered once to every worker instead of being sent with each batch.
    n_jobs : int, optional
        ``None`` or 1 runs in this process; ``k > 1`` uses ``k`` local processes (joblib's loky
        backend) and ``-1`` all cores.
    client : dask.distributed.Client, optional
        Run the batches on this Dask cluster (``pip install "assay[dask]"``).
    progress : bool, default False
        Show a progress bar (local serial execution only).
    desc : str
        Label of the progress bar.

    Returns
    -------
    list
        ``[fn(shared, b) for b in batches]``, whatever ran it.

    Examples
    --------
    >>> run_batches(lambda s, b: s + sum(b), [[1, 2], [3]], shared=10)
    [13, 13]
    """
    n_jobs, client = check_executor(n_jobs, client)
    batches = list(batches)
    if not batches:
        return []
    if client is not None:
        import_optional("distributed", purpose="running explainers on a Dask cluster")
        shared_future = client.scatter(shared, broadcast=True, hash=False)
        futures = [client.submit(fn, shared_future, b, pure=False) for b in batches]
        try:
            return list(client.gather(futures))
        finally:
            client.cancel([*futures, shared_future])
    if n_jobs is not None and n_jobs != 1 and len(batches) > 1:
        from joblib import Parallel, delayed

        return list(
            Parallel(n_jobs=n_jobs, backend="loky")(delayed(fn)(shared, b) for b in batches)
        )
    from tqdm.auto import tqdm

    return [fn(shared, b) for b in tqdm(batches, disable=not progress, desc=desc, unit="batch")]
