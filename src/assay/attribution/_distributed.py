"""Explanations of a Dask DataFrame: lazy, partition by partition, on the workers.

``assay.explain(model, ddf, ...)`` returns a :class:`DistributedExplanation`. Nothing is
computed until asked: its ``values`` are a Dask array partition-aligned with ``ddf``,
:meth:`~DistributedExplanation.to_parquet` writes the attributions from the workers (one row
per input row, wide) and :meth:`~DistributedExplanation.compute` gathers an in-memory
:class:`Explanation` when the data are small.

How the work runs: the model, the method and its options are pickled once on the client and
sent to the workers once (``client.scatter(..., broadcast=True)``); each worker process unpickles
them and builds the explainer (for TreeSHAP: the compiled tree arrays and path plan) once,
kept in a small cache keyed by a hash of those bytes. Each partition is then explained by its
own task. Row-keyed random draws (kernel, permutation, LIME) are shifted by the partition's
offset in the table, so every row gets the same values as in one in-memory call.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import threading
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from assay._results import to_jsonable
from assay._validation import check_seed, import_optional
from assay.attribution._explanation import Explanation
from assay.errors import InvalidInputError, MissingDependencyError

__all__ = ["DistributedExplanation", "explain_dask"]

#: methods that run on a Dask DataFrame (gradient methods need a torch model on every worker)
DASK_METHODS = ("auto", "tree", "exact", "kernel", "permutation", "lime")
ID_COLUMN = "row_id"
METADATA_FILE = "_assay_explanation.json"
_CACHE_SIZE = 4
_CACHE: OrderedDict[str, Any] = OrderedDict()
_CACHE_LOCK = threading.Lock()
#: how many times this process built each explainer (tests check: once per worker process)
BUILD_COUNTS: dict[str, int] = {}


# -- worker side --------------------------------------------------------------------------------
def _load_spec(blob: bytes) -> dict[str, Any]:
    """Unpickle the model and options on a worker; a missing library is a clear error."""
    try:
        return pickle.loads(blob)
    except ImportError as exc:  # ModuleNotFoundError included
        where = "this process"
        try:
            from distributed import get_worker

            where = f"Dask worker {get_worker().address}"
        except (ImportError, ValueError):
            pass
        missing = getattr(exc, "name", None) or str(exc)
        msg = (
            f"{where} cannot load the model: the module {missing!r} is not installed there "
            f"({exc}). Install the model's library on every worker, in the same version as on "
            "the client (e.g. the same environment or Docker image for client and workers)."
        )
        raise MissingDependencyError(msg) from exc


def _worker_explainer(blob: bytes, token: str) -> Any:
    """The explainer of ``token``, built once per process and then taken from the cache."""
    with _CACHE_LOCK:  # held while building, so concurrent tasks build it only once
        explainer = _CACHE.get(token)
        if explainer is None:
            from assay._explain import make_explainer

            spec = _load_spec(blob)
            explainer = make_explainer(
                spec["model"], method=spec["method"], background=spec["background"],
                output_space=spec["output_space"], options=spec["options"],
                n_features=spec["n_features"],
            )  # fmt: skip
            _CACHE[token] = explainer
            BUILD_COUNTS[token] = BUILD_COUNTS.get(token, 0) + 1
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
        _CACHE.move_to_end(token)
    return explainer


def _explain_partition(
    frame: Any, blob: bytes, token: str, offset: int, seed: int | None
) -> Explanation:
    """Explain one partition; its rows are rows ``offset ...`` of the whole table."""
    import copy

    explainer = copy.copy(_worker_explainer(blob, token))  # the offset is per task
    explainer._row_offset = int(offset)
    return explainer.explain(frame, seed=seed)


def _columns(prefix: str, features: list[str], outputs: list[str]) -> list[str]:
    return [f"{prefix}:{f}:{o}" for f in features for o in outputs]


def _wide(exp: Explanation, offset: int, with_stderr: bool, with_data: bool = False) -> Any:
    """One partition's explanation as a wide pandas frame (one row per input row)."""
    import pandas as pd

    n, d, k = exp.values.shape
    cols: dict[str, Any] = {ID_COLUMN: np.arange(offset, offset + n, dtype=np.int64)}
    for j, o in enumerate(exp.output_names):
        cols[f"base:{o}"] = exp.base_values[:, j]
    flat = exp.values.reshape(n, d * k)
    for c, name in enumerate(_columns("attr", exp.feature_names, exp.output_names)):
        cols[name] = flat[:, c]
    if with_stderr:
        se = exp.stderr if exp.stderr is not None else np.zeros_like(exp.values)
        flat_se = se.reshape(n, d * k)
        for c, name in enumerate(_columns("stderr", exp.feature_names, exp.output_names)):
            cols[name] = flat_se[:, c]
    if with_data:
        for j, f in enumerate(exp.feature_names):
            cols[f"value:{f}"] = exp.data[:, j]
    return pd.DataFrame(cols)


def _reason_codes(exp: Explanation, offset: int, k_top: int) -> Any:
    """Each row's ``k_top`` largest attributions (by absolute value), one line per code."""
    import pandas as pd

    n, d, _ = exp.values.shape
    top = min(k_top, d)
    parts = []
    for j, o in enumerate(exp.output_names):
        v = exp.values[:, :, j]
        # stable sort on -|v|: ties keep the feature order
        order = np.argsort(-np.abs(v), axis=1, kind="stable")[:, :top]
        rows = np.repeat(np.arange(n), top)
        feats = order.ravel()
        parts.append(
            pd.DataFrame(
                {
                    ID_COLUMN: rows.astype(np.int64) + offset,
                    "output": pd.Categorical([o] * rows.size, categories=exp.output_names),
                    "rank": np.tile(np.arange(1, top + 1, dtype=np.int16), n),
                    "feature": pd.Categorical.from_codes(feats, categories=exp.feature_names),
                    "value": exp.data[rows, feats],
                    "attribution": v[rows, feats],
                }
            )
        )
    return pd.concat(parts, ignore_index=True).sort_values(
        [ID_COLUMN, "output", "rank"], kind="stable", ignore_index=True
    )


def _part(exp: Explanation, name: str) -> np.ndarray:
    return getattr(exp, name)


# -- client side --------------------------------------------------------------------------------
def _current_client(client: Any) -> Any:
    """``client`` if given, else the current Dask client, else None (local scheduler)."""
    if client is not None:
        if not (hasattr(client, "scatter") and hasattr(client, "compute")):
            msg = (
                f"client must be a dask.distributed.Client; got {type(client).__name__}. "
                "Create one with dask.distributed.Client(...) or leave client=None."
            )
            raise InvalidInputError(msg)
        return client
    try:
        from distributed import default_client

        return default_client()
    except (ImportError, ValueError):
        return None


class DistributedExplanation:
    """Attributions of a Dask DataFrame, computed lazily on the cluster.

    Made by ``assay.explain(model, ddf, ...)``; nothing runs until :meth:`compute`,
    :meth:`to_parquet`, :meth:`global_importance` or a computation of :attr:`values` is asked
    for (making it costs one pass that counts the rows of each partition). Compute
    ``values`` and ``base_values`` together (``client.compute([e.values, e.base_values])``):
    they share the partitions' tasks, which run once. Memory per task is one partition's
    rows and attributions.

    Attributes
    ----------
    values : dask.array.Array of float64, shape (n_samples, n_features, n_outputs)
        One block per partition of the explained DataFrame (partition-aligned).
    base_values : dask.array.Array of float64, shape (n_samples, n_outputs)
    stderr : dask.array.Array or None
        Standard errors for sampling methods; None where the method is exact.
    feature_names, output_names : list of str
    method, output_space : str
    partition_lengths : tuple of int
        Rows in each partition; row ``i`` of the table has id ``i`` in the outputs.
    params : dict
        The options of the call (per-row diagnostics are in the computed partitions).
    """

    def __init__(
        self,
        *,
        parts: list[Any],
        lengths: list[int],
        probe: Explanation,
        client: Any,
        params: dict[str, Any],
    ) -> None:
        self._parts = parts
        self.partition_lengths = tuple(int(n) for n in lengths)
        self._offsets = np.concatenate([[0], np.cumsum(self.partition_lengths)])[:-1]
        self._client = client
        self.feature_names = list(probe.feature_names)
        self.output_names = list(probe.output_names)
        self.method = probe.method
        self.output_space = probe.output_space
        self.has_stderr = probe.stderr is not None
        self.params = dict(params)

    # -- lazy arrays ---------------------------------------------------------------------------
    @property
    def n_samples(self) -> int:
        return int(sum(self.partition_lengths))

    @property
    def npartitions(self) -> int:
        return len(self._parts)

    def _array(self, name: str, trailing: tuple[int, ...]) -> Any:
        import dask
        import dask.array as da

        blocks = [
            da.from_delayed(dask.delayed(_part)(p, name), shape=(n, *trailing), dtype=np.float64)
            for p, n in zip(self._parts, self.partition_lengths, strict=True)
        ]
        return da.concatenate(blocks, axis=0)

    @property
    def values(self) -> Any:
        return self._array("values", (len(self.feature_names), len(self.output_names)))

    @property
    def base_values(self) -> Any:
        return self._array("base_values", (len(self.output_names),))

    @property
    def stderr(self) -> Any:
        if not self.has_stderr:
            return None
        return self._array("stderr", (len(self.feature_names), len(self.output_names)))

    # -- frames --------------------------------------------------------------------------------
    def _frame(self, fn: Any, meta: Any, *args: Any) -> Any:
        import dask
        import dask.dataframe as dd

        parts = [
            dask.delayed(fn)(p, int(off), *args)
            for p, off in zip(self._parts, self._offsets, strict=True)
        ]
        return dd.from_delayed(parts, meta=meta, verify_meta=False)

    def to_frame(self, *, include_data: bool = False) -> Any:
        """The wide Dask DataFrame: ``row_id``, ``base:<output>``, ``attr:<feature>:<output>``
        (and ``stderr:<feature>:<output>`` for sampling methods, ``value:<feature>`` with
        ``include_data``), one row per input row."""
        return self._frame(
            _wide, self._wide_meta(include_data), self.has_stderr, bool(include_data)
        )

    def _wide_meta(self, include_data: bool = False) -> Any:
        import pandas as pd

        cols: dict[str, Any] = {ID_COLUMN: pd.Series([], dtype=np.int64)}
        names = [f"base:{o}" for o in self.output_names]
        names += _columns("attr", self.feature_names, self.output_names)
        if self.has_stderr:
            names += _columns("stderr", self.feature_names, self.output_names)
        if include_data:
            names += [f"value:{f}" for f in self.feature_names]
        cols.update({c: pd.Series([], dtype=np.float64) for c in names})
        return pd.DataFrame(cols)

    def reason_codes(self, k: int) -> Any:
        """Each row's ``k`` largest attributions by absolute value, in a long compact frame.

        Columns: ``row_id``, ``output``, ``rank`` (1 = largest), ``feature``, ``value`` (the
        row's feature value) and ``attribution`` (signed). Ties keep the feature order.
        """
        import pandas as pd

        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            msg = f"k (reason codes per row) must be a positive integer; got {k!r}."
            raise InvalidInputError(msg)
        meta = pd.DataFrame(
            {
                ID_COLUMN: pd.Series([], dtype=np.int64),
                "output": pd.Categorical([], categories=self.output_names),
                "rank": pd.Series([], dtype=np.int16),
                "feature": pd.Categorical([], categories=self.feature_names),
                "value": pd.Series([], dtype=np.float64),
                "attribution": pd.Series([], dtype=np.float64),
            }
        )
        return self._frame(_reason_codes, meta, int(k))

    def global_importance(self, *, progress: bool = False) -> Any:
        """Mean absolute and mean signed attribution of each feature over all rows, exactly.

        Computed on the cluster (per-partition sums, added up on the client): only
        ``n_features x n_outputs`` numbers come back.

        Returns
        -------
        pandas.DataFrame
            One row per (feature, output): ``feature``, ``output``, ``mean_abs``, ``mean``,
            sorted by ``mean_abs`` (largest first).
        """
        import dask.array as da
        import pandas as pd

        values = self.values
        mean_abs, mean = self._run([da.abs(values).mean(axis=0), values.mean(axis=0)], progress)
        d, k = len(self.feature_names), len(self.output_names)
        frame = pd.DataFrame(
            {
                "feature": np.repeat(self.feature_names, k),
                "output": np.tile(self.output_names, d),
                "mean_abs": np.asarray(mean_abs).ravel(),
                "mean": np.asarray(mean).ravel(),
            }
        )
        return frame.sort_values("mean_abs", ascending=False, kind="stable", ignore_index=True)

    # -- outputs -------------------------------------------------------------------------------
    def _run(self, collections: list[Any], progress: bool = False) -> list[Any]:
        """Compute on the client's cluster (or the local scheduler); an interrupt (Ctrl-C) or
        an error cancels every task of the call on the cluster."""
        import dask

        if self._client is None:
            if progress:
                from dask.diagnostics import ProgressBar

                with ProgressBar():
                    return list(dask.compute(*collections))
            return list(dask.compute(*collections))
        futures = self._client.compute(collections)
        try:
            if progress:
                from distributed import progress as show_progress

                show_progress(futures)
            return list(self._client.gather(futures))
        except BaseException:
            self._client.cancel(futures)
            raise

    def to_parquet(
        self,
        path: str | Path,
        *,
        top_k: int | None = None,
        include_data: bool = True,
        progress: bool = False,
    ) -> Path:
        """Write the attributions as a Parquet dataset (one file per partition) from the workers.

        Parameters
        ----------
        path : str or Path
            Output folder; a ``_assay_explanation.json`` file beside the parts records the
            method, output space, names and options.
        top_k : int, optional
            Write only each row's ``top_k`` largest reason codes (:meth:`reason_codes`)
            instead of the wide table.
        include_data : bool, default True
            Also write the explained feature values (``value:<feature>``) in the wide table,
            so that :func:`read_explanation_parquet` gives back the whole :class:`Explanation`.
        progress : bool, default False
            Show Dask's progress bar (the dashboard link is ``client.dashboard_link``).

        Returns
        -------
        Path
            The folder written.
        """
        import_optional("pyarrow", purpose="writing Parquet")
        if top_k is None:
            frame = self.to_frame(include_data=include_data)
        else:
            frame = self.reason_codes(top_k)
        path = Path(path)
        write = frame.to_parquet(str(path), write_index=False, compute=False)
        self._run([write], progress=progress)
        meta = {
            "kind": "distributed_explanation",
            "schema_version": 1,
            "layout": "wide" if top_k is None else "reason_codes",
            "top_k": top_k,
            "n_samples": self.n_samples,
            "has_stderr": bool(self.has_stderr),
            "has_data": bool(include_data) and top_k is None,
            "feature_names": self.feature_names,
            "output_names": self.output_names,
            "method": self.method,
            "output_space": self.output_space,
            "params": to_jsonable(self.params),
        }
        (path / METADATA_FILE).write_text(json.dumps(meta, indent=1))
        return path

    def compute(self) -> Explanation:
        """Gather every partition into one in-memory :class:`Explanation` (small data only).

        Per-row diagnostics in ``params`` (lists with one entry per row) are concatenated over
        the partitions; ``model_rows_evaluated`` is summed; other params come from partition 0.
        """
        parts = self._run(list(self._parts))
        lengths = [p.values.shape[0] for p in parts]
        params: dict[str, Any] = dict(parts[0].params)
        for key, first in parts[0].params.items():
            seq = [p.params.get(key) for p in parts]
            if key == "model_rows_evaluated":
                params[key] = int(sum(seq))
            elif isinstance(first, list) and all(
                isinstance(s, list) and len(s) == n for s, n in zip(seq, lengths, strict=True)
            ):
                params[key] = [x for s in seq for x in s]
        params.update(self.params)
        stderr = None
        if self.has_stderr:
            stderr = np.concatenate([p.stderr for p in parts])
        return Explanation(
            values=np.concatenate([p.values for p in parts]),
            base_values=np.concatenate([p.base_values for p in parts]),
            data=np.concatenate([p.data for p in parts]),
            feature_names=self.feature_names,
            output_names=self.output_names,
            method=self.method,
            output_space=self.output_space,
            stderr=stderr,
            params=params,
        )

    def __repr__(self) -> str:
        return (
            f"DistributedExplanation(method={self.method!r}, n_samples={self.n_samples}, "
            f"n_features={len(self.feature_names)}, n_outputs={len(self.output_names)}, "
            f"npartitions={self.npartitions})"
        )


def explain_dask(
    model: Any,
    X: Any,
    *,
    method: str = "auto",
    background: Any = None,
    seed: int | None = None,
    output_space: str | None = None,
    client: Any = None,
    **options: Any,
) -> DistributedExplanation:
    """``assay.explain`` on a Dask DataFrame (see :func:`assay.explain`); lazy.

    The explainer is built and tried on the client on the first two rows (so bad input fails
    here, not on the cluster), then shipped once to the workers. Every method but
    path-dependent TreeSHAP needs an explicit ``background`` (in memory), broadcast to all
    partitions, so that every row is explained against the same reference. ``seed=None``
    draws one seed for all partitions, recorded in ``params["seed"]``.

    Examples
    --------
    >>> import numpy as np, pandas as pd, dask.dataframe as dd, assay
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> X = pd.DataFrame(np.random.default_rng(0).normal(size=(60, 3)), columns=list("abc"))
    >>> model = DecisionTreeRegressor(max_depth=3, random_state=0).fit(X, X["a"])
    >>> lazy = assay.explain(model, dd.from_pandas(X, npartitions=3), method="tree")
    >>> lazy.values.shape, lazy.npartitions
    ((60, 3, 1), 3)
    >>> bool(np.allclose(lazy.compute().values, assay.explain(model, X, method="tree").values))
    True
    """
    import_optional("dask.dataframe", purpose="explaining a Dask DataFrame")
    import dask

    if method not in DASK_METHODS:
        msg = (
            f"method={method!r} does not run on a Dask DataFrame; use one of {list(DASK_METHODS)} "
            "or explain an in-memory sample (X.sample(frac=...).compute())."
        )
        raise InvalidInputError(msg)
    if "n_jobs" in options and options.get("n_jobs") not in (None, 1) and method != "tree":
        msg = (
            "n_jobs runs local processes; on a Dask DataFrame the partitions are the parallel "
            "units, so leave n_jobs unset."
        )
        raise InvalidInputError(msg)
    if hasattr(background, "npartitions"):
        msg = (
            "background must be in memory (it is broadcast to every worker); got a Dask "
            "collection. Pass a sample: background=X.sample(frac=0.001, random_state=0).compute()."
        )
        raise InvalidInputError(msg)
    seed = check_seed(seed)
    if seed is None:  # one seed for every partition, drawn here and recorded in params
        seed = int(np.random.SeedSequence().entropy % 2**63)
    client = _current_client(client)
    n_features = len(X.columns)
    if method == "tree" and "n_jobs" not in options:
        options = {**options, "n_jobs": 1}  # one thread per task: the partitions run in parallel
    explainer = _client_explainer(model, method, background, output_space, options, n_features)
    lengths = _partition_lengths(X, client)
    if sum(lengths) == 0:
        msg = "X (a Dask DataFrame) has no rows; there is nothing to explain."
        raise InvalidInputError(msg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "fewer rows than requested" from head
        # the first partitions that hold two rows (or all rows, if fewer)
        need = int(np.searchsorted(np.cumsum(lengths), min(2, sum(lengths)))) + 1
        head = X.head(2, npartitions=need)
    probe = explainer.explain(head, seed=seed)  # bad columns or dtypes fail here, on the client
    spec = {
        "model": model,
        "method": probe.method,
        "background": background,
        "output_space": output_space,
        "options": options,
        "n_features": n_features,
    }
    blob = pickle.dumps(spec, protocol=pickle.HIGHEST_PROTOCOL)
    token = hashlib.sha256(blob).hexdigest()
    if client is not None:
        shared = client.scatter(blob, broadcast=True, hash=False)
    else:
        shared = dask.delayed(blob, pure=True)
    parts = [
        dask.delayed(_explain_partition, pure=True)(p, shared, token, int(off), seed)
        for p, off in zip(X.to_delayed(), np.cumsum([0, *lengths[:-1]]), strict=True)
    ]
    params = {
        **{k: v for k, v in probe.params.items() if not isinstance(v, list)},
        "seed": seed,
        "dask_partitions": len(parts),
        "model_token": token[:16],
    }
    return DistributedExplanation(
        parts=parts, lengths=lengths, probe=probe, client=client, params=params
    )


def _client_explainer(
    model: Any,
    method: str,
    background: Any,
    output_space: str | None,
    options: dict[str, Any],
    n_features: int,
) -> Any:
    from assay._explain import make_explainer

    explainer = make_explainer(
        model, method=method, background=background, output_space=output_space,
        options=options, n_features=n_features,
    )  # fmt: skip
    needs_background = explainer.method != "tree" or getattr(explainer, "mode", "") != (
        "path_dependent"
    )
    if needs_background and background is None:
        msg = (
            f"method={explainer.method!r} on a Dask DataFrame needs an explicit background (in "
            "memory, broadcast to every partition); without one each partition would be "
            "explained against a different sample of itself. Pass e.g. "
            "background=X.sample(frac=0.001, random_state=0).compute()."
        )
        raise InvalidInputError(msg)
    return explainer


def _partition_lengths(X: Any, client: Any) -> list[int]:
    """Rows per partition (one small pass; the ids and row-keyed seeds need the offsets).

    Counted on ``X.to_delayed()``, the partitions every later step uses: a column projection
    can let Dask fuse small Parquet partitions in ``map_partitions`` but not in ``to_delayed``.
    """
    import dask

    counts = [dask.delayed(len)(p) for p in X.to_delayed()]
    if client is not None:
        return [int(n) for n in client.gather(client.compute(counts))]
    return [int(n) for n in dask.compute(*counts)]
