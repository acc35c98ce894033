"""The :class:`Explanation` result: attributions of every method, in one fixed shape."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from assay._results import FromDict, to_jsonable
from assay.errors import InvalidInputError

__all__ = ["Explanation"]

#: Largest explanation file, and largest total of its decompressed arrays, that load accepts.
MAX_LOAD_BYTES = 2 * 2**30


@dataclass(frozen=True, eq=False)
class Explanation(FromDict):
    """Feature attributions for a set of rows.

    Attributes
    ----------
    values : ndarray of float64, shape (n_samples, n_features, n_outputs)
        Attribution of each feature to each output, always 3-D.
    base_values : ndarray of float64, shape (n_samples, n_outputs)
        The reference output; for exact Shapley methods
        ``values.sum(axis=1) + base_values`` equals the model output.
    stderr : ndarray of float64 with the shape of ``values``, or None
        Standard error of each value for sampled methods; None where the method is exact.
    data : ndarray of float64, shape (n_samples, n_features)
        The explained rows.
    feature_names, output_names : list of str
    method : str
        The method that produced the values (e.g. ``"exact"``).
    output_space : str
        ``"probability"``, ``"log_odds"`` or ``"raw"``.
    params : dict
        Every option used, including the seed, for reproducibility.
    schema_version : int

    Examples
    --------
    >>> import numpy as np
    >>> exp = Explanation(values=np.zeros((2, 3, 1)), base_values=np.ones((2, 1)),
    ...                   data=np.zeros((2, 3)), feature_names=["a", "b", "c"],
    ...                   output_names=["y"], method="exact", output_space="raw")
    >>> exp[:, "b"].values.shape
    (2, 1, 1)
    """

    values: np.ndarray
    base_values: np.ndarray
    data: np.ndarray
    feature_names: list[str]
    output_names: list[str]
    method: str
    output_space: str
    stderr: np.ndarray | None = None
    params: dict[str, Any] = field(default_factory=dict)
    SCHEMA_VERSION: ClassVar[int] = 1  # this kind's one schema version
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        values = np.asarray(self.values, dtype=np.float64)
        base = np.asarray(self.base_values, dtype=np.float64)
        data = np.asarray(self.data, dtype=np.float64)
        if values.ndim != 3:
            msg = (
                f"values must be 3-D (n_samples, n_features, n_outputs); got shape {values.shape}."
            )
            raise InvalidInputError(msg)
        n, d, k = values.shape
        if base.shape != (n, k):
            msg = f"base_values must have shape {(n, k)}; got {base.shape}."
            raise InvalidInputError(msg)
        if data.shape != (n, d):
            msg = f"data must have shape {(n, d)}; got {data.shape}."
            raise InvalidInputError(msg)
        if len(self.feature_names) != d or len(self.output_names) != k:
            msg = (
                f"need {d} feature names and {k} output names; got {len(self.feature_names)} "
                f"and {len(self.output_names)}."
            )
            raise InvalidInputError(msg)
        stderr = self.stderr
        if stderr is not None:
            stderr = np.asarray(stderr, dtype=np.float64)
            if stderr.shape != values.shape:
                msg = f"stderr must have the shape of values {values.shape}; got {stderr.shape}."
                raise InvalidInputError(msg)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "base_values", base)
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "stderr", stderr)
        object.__setattr__(self, "feature_names", [str(f) for f in self.feature_names])
        object.__setattr__(self, "output_names", [str(o) for o in self.output_names])
        object.__setattr__(self, "params", dict(self.params))

    # -- shape helpers -------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        return self.values.shape  # type: ignore[return-value]

    def __len__(self) -> int:
        return self.values.shape[0]

    def _feature_index(self, key: Any) -> np.ndarray:
        names = self.feature_names
        if isinstance(key, slice):
            return np.arange(len(names))[key]
        keys = [key] if isinstance(key, (str, int, np.integer)) else list(key)
        idx = []
        for k in keys:
            if isinstance(k, str):
                if k not in names:
                    msg = f"unknown feature {k!r}; known features: {names[:20]}."
                    raise InvalidInputError(msg)
                idx.append(names.index(k))
            else:
                i = int(k)
                if not -len(names) <= i < len(names):
                    msg = f"feature index {i} is out of range for {len(names)} features."
                    raise InvalidInputError(msg)
                idx.append(i % len(names))
        return np.asarray(idx, dtype=np.int64)

    def __getitem__(self, key: Any) -> Explanation:
        """Slice by rows, or by ``(rows, features)`` where features may be names."""
        if isinstance(key, tuple):
            rows, feats = key
        else:
            rows, feats = key, slice(None)
        if isinstance(rows, (int, np.integer)):
            rows = [int(rows)]
        fidx = self._feature_index(feats)
        values = self.values[rows][:, fidx]
        stderr = None if self.stderr is None else self.stderr[rows][:, fidx]
        return Explanation(
            values=values,
            base_values=self.base_values[rows],
            data=self.data[rows][:, fidx],
            feature_names=[self.feature_names[i] for i in fidx],
            output_names=self.output_names,
            method=self.method,
            output_space=self.output_space,
            stderr=stderr,
            params=self.params,
            schema_version=self.schema_version,
        )

    # -- summaries -----------------------------------------------------------------------------
    def importance(self) -> np.ndarray:
        """Mean absolute attribution per feature and output, shape (n_features, n_outputs)."""
        return np.abs(self.values).mean(axis=0)

    def additivity_error(self, model_output: np.ndarray) -> np.ndarray:
        """Per-row max abs gap between ``values.sum(axis=1) + base_values`` and the model output."""
        out = np.asarray(model_output, dtype=np.float64).reshape(self.base_values.shape)
        return np.abs(self.values.sum(axis=1) + self.base_values - out).max(axis=1)

    def to_frame(self) -> Any:
        """Long-format pandas DataFrame: one row per (row, feature, output).

        Columns: ``row, feature, output, value, stderr, feature_value``.
        """
        import pandas as pd

        n, d, k = self.values.shape
        rows = np.repeat(np.arange(n), d * k)
        feats = np.tile(np.repeat(np.asarray(self.feature_names, dtype=object), k), n)
        outs = np.tile(np.asarray(self.output_names, dtype=object), n * d)
        stderr = np.full(n * d * k, np.nan) if self.stderr is None else self.stderr.reshape(-1)
        return pd.DataFrame(
            {
                "row": rows,
                "feature": feats,
                "output": outs,
                "value": self.values.reshape(-1),
                "stderr": stderr,
                "feature_value": np.repeat(self.data.reshape(-1), k),
            }
        )

    def _meta(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "kind": "Explanation",
            "method": self.method,
            "output_space": self.output_space,
            "feature_names": self.feature_names,
            "output_names": self.output_names,
            "params": to_jsonable(self.params),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable dict (arrays as nested lists); inverse of :meth:`from_dict`."""
        out = self._meta()
        out["values"] = self.values.tolist()
        out["base_values"] = self.base_values.tolist()
        out["data"] = np.where(np.isnan(self.data), None, self.data).tolist()
        out["stderr"] = None if self.stderr is None else self.stderr.tolist()
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Explanation:
        """Rebuild an Explanation from :meth:`to_dict` output (checked like :meth:`load`)."""
        if not isinstance(d, dict):
            msg = f"from_dict needs the dict written by to_dict; got a {type(d).__name__}."
            raise InvalidInputError(msg)
        arrays = {}
        for key in ("values", "base_values", "data", "stderr"):
            if key == "stderr" and d.get(key) is None:
                continue
            if key not in d:
                msg = f"the Explanation dict has no {key!r}; pass the output of to_dict."
                raise InvalidInputError(msg)
            try:
                arrays[key] = np.array(d[key], dtype=np.float64)  # None -> nan
            except (TypeError, ValueError, OverflowError) as exc:
                msg = f"the Explanation dict's {key!r} is not a numeric array ({exc})."
                raise InvalidInputError(msg) from exc
        meta = {"kind": "Explanation", "params": {}, "schema_version": cls.SCHEMA_VERSION, **d}
        return cls._from_parts(arrays, meta, where="the Explanation dict")

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save to a ``.npz`` file (arrays plus JSON metadata); round-trips exactly."""
        path = Path(path)
        if path.suffix != ".npz":
            path = (
                path.with_suffix(path.suffix + ".npz") if path.suffix else path.with_suffix(".npz")
            )
        arrays = {
            "values": self.values,
            "base_values": self.base_values,
            "data": self.data,
            "meta": np.array(json.dumps(self._meta())),
        }
        if self.stderr is not None:
            arrays["stderr"] = self.stderr
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **arrays)
        return path

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, max_bytes: int = MAX_LOAD_BYTES
    ) -> Explanation:
        """Load an Explanation written by :meth:`save` (no pickle involved).

        The file is treated as untrusted data: it must be a regular file (a FIFO is refused
        without waiting on it); the archive's directory is read first, and every array's
        header (dtype, shape) and stored size must match the schema before anything is
        decompressed, so at most ``max_bytes`` are ever decompressed.

        Parameters
        ----------
        path : str or path-like
            A ``.npz`` file written by :meth:`save`.
        max_bytes : int, default 2 GiB
            Largest file, and largest total of decompressed arrays, accepted.

        Raises
        ------
        InvalidInputError
            If the file is missing, not a regular file, too large, not an archive written by
            :meth:`save`, or its arrays and metadata disagree with each other.

        Examples
        --------
        >>> import numpy as np, tempfile, pathlib
        >>> exp = Explanation(values=np.zeros((2, 3, 1)), base_values=np.ones((2, 1)),
        ...                   data=np.zeros((2, 3)), feature_names=["a", "b", "c"],
        ...                   output_names=["y"], method="exact", output_space="raw")
        >>> path = exp.save(pathlib.Path(tempfile.mkdtemp()) / "exp.npz")
        >>> Explanation.load(path).values.shape
        (2, 3, 1)
        """
        from assay.attribution._npz import read_explanation_npz

        arrays, meta = read_explanation_npz(path, max_bytes=max_bytes)
        return cls._from_parts(arrays, meta, where=repr(str(path)))

    @classmethod
    def _from_parts(cls, arrays: dict[str, Any], meta: Any, *, where: str) -> Explanation:
        """Build from arrays and metadata read from a file, checking the metadata's schema."""
        from assay.attribution._npz import check_meta

        meta = check_meta(meta, arrays["values"].shape, where=where)
        try:
            return cls(
                values=arrays["values"],
                base_values=arrays["base_values"],
                data=arrays["data"],
                feature_names=meta["feature_names"],
                output_names=meta["output_names"],
                method=meta["method"],
                output_space=meta["output_space"],
                stderr=arrays.get("stderr"),
                params=meta["params"],
                schema_version=meta["schema_version"],
            )
        except InvalidInputError as exc:
            msg = f"{where} does not hold a consistent Explanation: {exc}"
            raise InvalidInputError(msg) from exc

    def __repr__(self) -> str:
        n, d, k = self.values.shape
        se = "exact" if self.stderr is None else "with stderr"
        return (
            f"Explanation(method={self.method!r}, rows={n}, features={d}, outputs={k}, "
            f"output_space={self.output_space!r}, {se})"
        )

    def _repr_html_(self) -> str:
        """Notebook view: what was explained, and global importance per feature (top 15)."""
        import html

        from assay._display import fmt_number, html_table

        n, d, k = self.values.shape
        out = k - 1  # the positive class of a binary classifier; the only output otherwise
        imp = np.abs(self.values[:, :, out]).mean(axis=0)
        order = np.argsort(-imp)[:15]
        rows: list[list[Any]] = []
        for j in order:
            row: list[Any] = [self.feature_names[j], float(imp[j])]
            if self.stderr is not None:
                row.append(float(np.sqrt(np.mean(self.stderr[:, j, out] ** 2))))
            row.append(float(np.mean(self.values[:, j, out] > 0)))
            rows.append(row)
        columns = ["feature", "mean |value|"]
        columns += ["typical stderr"] if self.stderr is not None else []
        columns += ["share of rows pushed up"]
        exactness = "exact" if self.stderr is None else "sampled, with standard errors"
        head = (
            f"<p><strong>Explanation</strong> ({html.escape(self.method)}, {exactness}): "
            f"{fmt_number(n)} rows × {d} features × {k} outputs, "
            f"{html.escape(self.output_space)} of '{html.escape(self.output_names[out])}'.</p>"
        )
        return head + html_table(columns, rows)
