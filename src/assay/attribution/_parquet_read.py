"""Read back the wide Parquet dataset written by ``DistributedExplanation.to_parquet``.

The folder and its ``_assay_explanation.json`` are data, not code: the metadata is checked
(kind, layout, names, sizes) before any Parquet is read, columns are looked up by the names
the metadata gives (never used to build a path), and the rows read must be exactly the
``row_id`` values ``0 .. n_samples - 1`` (or the ones asked for), each once.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np

from assay._validation import import_optional
from assay.attribution._distributed import ID_COLUMN, METADATA_FILE, _columns
from assay.attribution._explanation import Explanation
from assay.errors import InvalidInputError

__all__ = ["read_explanation_parquet"]

#: largest metadata file accepted (it holds names and options, never arrays)
MAX_METADATA_BYTES = 16 * 2**20


def _read_metadata(folder: Path) -> dict[str, Any]:
    where = f"{str(folder)!r}"
    if not folder.is_dir():
        msg = (
            f"{where} is not a folder; pass the folder written by "
            "DistributedExplanation.to_parquet (or `assay explain --dask --out DIR`)."
        )
        raise InvalidInputError(msg)
    meta_path = folder / METADATA_FILE
    try:
        info = os.stat(meta_path)
    except OSError as exc:
        msg = f"{where} has no {METADATA_FILE} ({exc}); it was not written by to_parquet."
        raise InvalidInputError(msg) from exc
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_METADATA_BYTES:
        msg = (
            f"{meta_path} must be a regular file of at most {MAX_METADATA_BYTES} bytes; got "
            f"{'a non-regular file' if not stat.S_ISREG(info.st_mode) else info.st_size}."
        )
        raise InvalidInputError(msg)
    try:
        meta = json.loads(meta_path.read_bytes()[: MAX_METADATA_BYTES + 1].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = f"{meta_path} is not valid JSON ({exc}); re-write the dataset with to_parquet."
        raise InvalidInputError(msg) from exc
    return _check_metadata(meta, where=str(meta_path))


def _check_metadata(meta: Any, *, where: str) -> dict[str, Any]:
    if not isinstance(meta, dict) or meta.get("kind") != "distributed_explanation":
        kind = meta.get("kind") if isinstance(meta, dict) else type(meta).__name__
        msg = f"{where} does not describe an assay explanation dataset (kind={kind!r})."
        raise InvalidInputError(msg)
    if meta.get("layout") != "wide":
        msg = (
            f"{where} describes a {meta.get('layout')!r} dataset; only the wide layout holds "
            "every attribution (a --top-k / reason-codes dataset is read with pandas.read_parquet)."
        )
        raise InvalidInputError(msg)
    problems = []
    version = meta.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version != 1:
        problems.append(f"schema_version must be 1 (got {version!r})")
    for key in ("feature_names", "output_names"):
        names = meta.get(key)
        if not isinstance(names, list) or not names or not all(isinstance(v, str) for v in names):
            problems.append(f"{key} must be a non-empty list of strings")
        elif len(set(names)) != len(names):
            problems.append(f"{key} has duplicate names")
    n = meta.get("n_samples")
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        problems.append(f"n_samples must be a non-negative integer (got {n!r})")
    for key in ("method", "output_space"):
        if not isinstance(meta.get(key), str):
            problems.append(f"{key} must be a string")
    if not isinstance(meta.get("params"), dict):
        problems.append("params must be a dict")
    for key in ("has_stderr", "has_data"):
        if not isinstance(meta.get(key, False), bool):
            problems.append(f"{key} must be true or false")
    if problems:
        msg = f"{where} has malformed metadata: {'; '.join(problems)}."
        raise InvalidInputError(msg)
    return meta


def _row_selection(rows: Any, n: int) -> np.ndarray | None:
    if rows is None:
        return None
    if isinstance(rows, slice):
        return np.arange(n)[rows]
    arr = np.asarray(rows)
    if arr.ndim != 1 or not (np.issubdtype(arr.dtype, np.integer) or arr.size == 0):
        msg = f"rows must be a slice or a 1-D sequence of integer row ids; got {rows!r:.80}."
        raise InvalidInputError(msg)
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        msg = f"rows must be row ids in 0..{n - 1}; got ids from {arr.min()} to {arr.max()}."
        raise InvalidInputError(msg)
    if np.unique(arr).size != arr.size:
        msg = "rows must not repeat a row id."
        raise InvalidInputError(msg)
    return arr


def read_explanation_parquet(path: str | os.PathLike[str], *, rows: Any = None) -> Explanation:
    """Read a wide Parquet explanation dataset back into an in-memory :class:`Explanation`.

    Parameters
    ----------
    path : str or path-like
        The folder written by :meth:`DistributedExplanation.to_parquet` (wide layout).
    rows : slice or sequence of int, optional
        Only these row ids (positions in the explained table), in this order; only the
        matching Parquet rows are kept (a filter on ``row_id``). Default: every row.

    Returns
    -------
    Explanation
        Values, base values, standard errors (sampling methods) and the explained feature
        values; ``data`` is all NaN if the dataset was written with ``include_data=False``.

    Raises
    ------
    InvalidInputError
        If the folder or its metadata is missing or damaged, the layout is not wide, a column
        is missing, or the row ids are not each row exactly once.

    Examples
    --------
    >>> from assay.attribution import read_explanation_parquet
    >>> exp = read_explanation_parquet("explanations/", rows=[0, 5])  # doctest: +SKIP
    >>> exp.values.shape  # doctest: +SKIP
    (2, 20, 1)
    """
    import_optional("pyarrow", purpose="reading Parquet")
    import pyarrow.dataset as pads

    folder = Path(path)
    meta = _read_metadata(folder)
    feats, outs, n = meta["feature_names"], meta["output_names"], meta["n_samples"]
    has_se, has_data = meta.get("has_stderr", False), meta.get("has_data", False)
    base_cols = [f"base:{o}" for o in outs]
    attr_cols = _columns("attr", feats, outs)
    se_cols = _columns("stderr", feats, outs) if has_se else []
    data_cols = [f"value:{f}" for f in feats] if has_data else []
    wanted = [ID_COLUMN, *base_cols, *attr_cols, *se_cols, *data_cols]
    if len(set(wanted)) != len(wanted):
        msg = (
            f"{folder}: the feature and output names give ambiguous column names (a ':' inside "
            "a name); rename them and re-write the dataset."
        )
        raise InvalidInputError(msg)
    selected = _row_selection(rows, n)
    try:
        dataset = pads.dataset(str(folder), format="parquet", exclude_invalid_files=False)
        missing = [c for c in wanted if c not in dataset.schema.names]
        if missing:
            msg = f"{folder} lacks the columns {missing[:5]} that its metadata promises."
            raise InvalidInputError(msg)
        flt = None if selected is None else pads.field(ID_COLUMN).isin(selected)
        table = dataset.to_table(columns=wanted, filter=flt)
    except InvalidInputError:
        raise
    except Exception as exc:  # pyarrow raises its own error types on damaged files
        msg = f"{folder} could not be read as a Parquet dataset ({type(exc).__name__}: {exc})."
        raise InvalidInputError(msg) from exc
    ids = table.column(ID_COLUMN).to_numpy().astype(np.int64)
    expected = np.arange(n) if selected is None else selected
    order = np.argsort(ids, kind="stable")
    if ids.size != expected.size or not np.array_equal(ids[order], np.sort(expected)):
        msg = (
            f"{folder} holds {ids.size} rows where {expected.size} distinct row ids were "
            "expected (rows missing, repeated or out of range): the dataset is incomplete."
        )
        raise InvalidInputError(msg)
    # positions of the wanted ids in the table, in the order asked for
    take = order[np.searchsorted(ids[order], expected)]

    def block(cols: list[str]) -> np.ndarray:
        if not cols:
            return np.empty((expected.size, 0))
        arr = np.column_stack([table.column(c).to_numpy(zero_copy_only=False) for c in cols])
        return arr.astype(np.float64)[take]

    m, d, k = expected.size, len(feats), len(outs)
    values = block(attr_cols).reshape(m, d, k)
    stderr = block(se_cols).reshape(m, d, k) if has_se else None
    data = block(data_cols) if has_data else np.full((m, d), np.nan)
    params = dict(meta["params"])
    try:
        return Explanation(
            values=values,
            base_values=block(base_cols),
            data=data,
            feature_names=list(feats),
            output_names=list(outs),
            method=meta["method"],
            output_space=meta["output_space"],
            stderr=stderr,
            params=params,
        )
    except InvalidInputError as exc:
        msg = f"{folder} does not hold a consistent explanation: {exc}"
        raise InvalidInputError(msg) from exc
