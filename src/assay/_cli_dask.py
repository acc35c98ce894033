"""``assay explain --dask``: explain a partitioned table on a Dask cluster, partition by partition.

The data are read lazily (``dd.read_parquet`` / ``dd.read_csv`` on a path or glob), each
partition is explained on a worker and written there into a partitioned Parquet dataset; the
client holds only per-partition row counts, the background sample and the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from assay._validation import import_optional
from assay.errors import InvalidInputError

__all__ = ["audit_on_dask", "explain_on_dask", "parse_rows"]

BACKGROUND_ROWS = 100


def parse_rows(rows: str) -> int | None:
    """``--rows``: a positive number of rows, or ``"all"`` (None)."""
    if str(rows).strip().lower() == "all":
        return None
    try:
        n = int(rows)
    except ValueError:
        n = 0
    if n < 1:
        msg = f"--rows must be a positive number of rows or 'all'; got {rows!r}."
        raise InvalidInputError(msg)
    return n


def read_lazy(data_path: str) -> Any:
    """A Dask DataFrame over a Parquet or CSV file, folder or glob (``'dir/*.parquet'``)."""
    import glob

    dd = import_optional("dask.dataframe", purpose="--dask")
    matches = sorted(glob.glob(data_path)) if any(c in data_path for c in "*?[") else [data_path]
    if not matches or not all(Path(m).exists() for m in matches):
        msg = f"--data {data_path!r} matches no file; pass a Parquet/CSV file, folder or glob."
        raise InvalidInputError(msg)
    first = Path(matches[0])
    is_csv = first.suffix.lower() in {".csv", ".tsv", ".txt"}
    try:
        if is_csv:
            sep = "\t" if first.suffix.lower() == ".tsv" else ","
            return dd.read_csv(matches, sep=sep, blocksize="64MB")
        return dd.read_parquet(matches if len(matches) > 1 else matches[0])
    except Exception as exc:  # pyarrow and dask raise their own types on malformed files
        msg = f"could not read --data {data_path!r}: {type(exc).__name__}: {exc}"
        raise InvalidInputError(msg) from exc


def _first_rows(ddf: Any, n: int, lengths: list[int]) -> Any:
    """The first ``n`` rows, still partitioned (whole partitions, then the head of one)."""
    import dask.dataframe as dd

    ends = np.cumsum(lengths)
    last = int(np.searchsorted(ends, n))  # the partition holding row n-1
    if last >= len(lengths):
        return ddf
    keep = n - (int(ends[last - 1]) if last else 0)
    pieces = [ddf.partitions[i] for i in range(last)]
    pieces.append(ddf.partitions[last].map_partitions(lambda f: f.head(keep)))
    return dd.concat(pieces) if len(pieces) > 1 else pieces[0]


def open_client(address: str, quiet: bool) -> tuple[Any, Any]:
    """``(client, cluster)`` for ``--dask local`` (a LocalCluster here) or a scheduler address."""
    distributed = import_optional("distributed", purpose="--dask")
    import os

    if address == "local":
        n = max(1, min(4, os.cpu_count() or 1))
        cluster = distributed.LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
        client = distributed.Client(cluster)
    else:
        cluster = None
        try:
            # waits as long as Dask's connect timeout (distributed.comm.timeouts.connect)
            client = distributed.Client(address)
        except OSError as exc:
            msg = (
                f"--dask {address!r}: no Dask scheduler answered ({exc}). Pass the scheduler "
                "address (tcp://HOST:8786) or 'local' for a cluster on this machine."
            )
            raise InvalidInputError(msg) from exc
    if not quiet:
        import click

        link = client.dashboard_link or "(no dashboard)"
        click.echo(f"dask: {len(client.scheduler_info()['workers'])} workers; progress: {link}",
                   err=True)  # fmt: skip
    return client, cluster


def explain_on_dask(
    *,
    data_path: str,
    model: Any,
    target: str | None,
    drop: tuple[str, ...],
    method: str,
    rows: int | None,
    address: str,
    out: Path,
    top_k: int | None,
    seed: int,
    quiet: bool,
) -> tuple[int, str]:
    """Explain ``data_path`` on the cluster and write ``out``; returns (rows, method)."""
    import assay
    from assay.model import wrap

    out = Path(out)
    if out.exists() and any(out.iterdir()):
        msg = f"--out {str(out)!r} is a folder that is not empty; pass a new or empty folder."
        raise InvalidInputError(msg)
    ddf = read_lazy(data_path)
    unknown = [c for c in [*([target] if target else []), *drop] if c not in ddf.columns]
    if unknown:
        msg = f"column(s) {unknown} are not in --data; columns: {list(ddf.columns)[:20]}."
        raise InvalidInputError(msg)
    ddf = ddf.drop(columns=[*([target] if target else []), *drop])
    client, cluster = open_client(address, quiet)
    try:
        from assay.attribution._distributed import _partition_lengths

        lengths = _partition_lengths(ddf, client)
        if rows is not None:
            ddf = _first_rows(ddf, rows, lengths)
        total = sum(lengths) if rows is None else min(rows, sum(lengths))
        background = None
        needs_bg = not (method in ("auto", "tree") and wrap(model).has_trees)
        if needs_bg:
            if total < 2:
                msg = (
                    f"--data has {total} row(s); the background (reference rows) is drawn from "
                    "--data, so it needs at least 2."
                )
                raise InvalidInputError(msg)
            frac = min(1.0, 2.0 * BACKGROUND_ROWS / max(1, total))
            sample = client.compute(ddf.sample(frac=frac, random_state=seed), sync=True)
            background = sample.iloc[:BACKGROUND_ROWS]
        lazy = assay.explain(
            model, ddf, method=method, background=background, seed=seed, client=client
        )
        lazy.to_parquet(out, top_k=top_k, progress=not quiet)
        return lazy.n_samples, lazy.method
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def audit_on_dask(
    *,
    data_path: str,
    target: str,
    model: Any,
    sensitive: tuple[str, ...],
    address: str,
    sample: int | None,
    seed: int,
    alpha: float,
    quiet: bool,
    options: dict[str, Any],
) -> Any:
    """``assay audit --dask``: :func:`assay.auditing.audit_dask` on ``data_path``, read lazily."""
    from assay.auditing._dask_audit import SAMPLE_ROWS, audit_dask

    if sample is not None and sample < 2:
        msg = f"--sample must be at least 2 rows (the sample for the model fits); got {sample}."
        raise InvalidInputError(msg)
    ddf = read_lazy(data_path)
    client, cluster = open_client(address, quiet)
    try:
        progress = None
        if not quiet:
            import click

            def progress(message: str) -> None:
                click.echo(f"audit: {message}", err=True)

        return audit_dask(
            model, ddf, target, sensitive=list(sensitive) or None, client=client,
            sample_rows=sample or SAMPLE_ROWS, alpha=alpha, seed=seed, progress=progress,
            **{k: v for k, v in options.items() if v is not None},
        )  # fmt: skip
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
