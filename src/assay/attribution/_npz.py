"""Reading an :class:`~assay.attribution.Explanation` ``.npz`` file as untrusted data.

``np.load`` on an ``.npz`` trusts the archive: it decompresses a member before anything checks
it (a 1 MB archive can expand to gigabytes), and a FIFO named ``*.npz`` blocks it forever.
Here the file is opened as a regular file only, the zip directory and every member's ``.npy``
header are read first, and a member is decompressed only after its dtype, shape and stored
size agree with the schema and the total stays under the limit. ``zipfile`` stops
decompressing a member at its declared size, so the declared sizes bound the memory used.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
import zlib
from typing import Any

import numpy as np

from assay.errors import InvalidInputError

__all__ = ["check_meta", "read_explanation_npz"]

#: member name -> number of dimensions (``meta`` is a 0-d unicode array holding JSON)
_ARRAYS = {"values": 3, "base_values": 2, "data": 2, "stderr": 3}
_REQUIRED = ("values", "base_values", "data", "meta")
_MAX_META_BYTES = 64 * 2**20
# what zipfile / numpy raise on archives and arrays that are not intact
_UNREADABLE = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, KeyError)


def read_explanation_npz(
    path: str | os.PathLike[str], *, max_bytes: int
) -> tuple[dict[str, np.ndarray], Any]:
    """The arrays and the parsed JSON metadata of an Explanation file, checked."""
    from assay._io import open_regular

    where = repr(str(path))
    not_ours = f"{where} is not an assay Explanation file written by Explanation.save"
    with open_regular(path, what="explanation file", max_bytes=max_bytes) as fh:
        try:
            archive = zipfile.ZipFile(fh)
        except _UNREADABLE as exc:
            msg = f"{not_ours} (not a .npz archive: {exc})."
            raise InvalidInputError(msg) from exc
        with archive:
            members = _members(archive, not_ours, max_bytes)
            headers = {name: _header(archive, info, not_ours) for name, info in members.items()}
            _check_shapes(headers, not_ours)
            arrays = {}
            for name, info in members.items():
                try:
                    with archive.open(info) as member:
                        arrays[name] = np.lib.format.read_array(member, allow_pickle=False)
                except _UNREADABLE as exc:
                    msg = f"{not_ours} (member {name!r} is damaged: {exc})."
                    raise InvalidInputError(msg) from exc
    meta_text = str(arrays.pop("meta"))
    try:
        meta = json.loads(meta_text)
    except (ValueError, RecursionError) as exc:
        msg = f"{not_ours} (its metadata is not valid JSON: {str(exc)[:200]})."
        raise InvalidInputError(msg) from exc
    return arrays, meta


def _members(archive: zipfile.ZipFile, not_ours: str, max_bytes: int) -> dict:
    infos: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        name = info.filename.removesuffix(".npy")
        if name not in (*_REQUIRED, "stderr") or not info.filename.endswith(".npy"):
            msg = f"{not_ours} (unexpected member {info.filename!r})."
            raise InvalidInputError(msg)
        if name in infos:
            msg = f"{not_ours} (member {info.filename!r} appears twice)."
            raise InvalidInputError(msg)
        infos[name] = info
    missing = [name for name in _REQUIRED if name not in infos]
    if missing:
        msg = f"{not_ours} (missing arrays: {missing})."
        raise InvalidInputError(msg)
    total = sum(info.file_size for info in infos.values())
    if total > max_bytes:
        msg = (
            f"{not_ours.split(' is not')[0]} would decompress to {total:,} bytes, more than "
            f"max_bytes={max_bytes:,}; pass a larger max_bytes to Explanation.load if you "
            "trust this file."
        )
        raise InvalidInputError(msg)
    return infos


def _header(archive: zipfile.ZipFile, info: zipfile.ZipInfo, not_ours: str) -> tuple:
    """(shape, dtype) from a member's ``.npy`` header, with its stored size checked."""
    name = info.filename.removesuffix(".npy")
    try:
        with archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, _fortran, dtype = np.lib.format.read_array_header_1_0(member)
            elif version in ((2, 0), (3, 0)):
                shape, _fortran, dtype = np.lib.format.read_array_header_2_0(member)
            else:
                msg = f"{not_ours} (member {name!r} has .npy version {version})."
                raise InvalidInputError(msg)
            header_bytes = member.tell()
    except InvalidInputError:
        raise
    except _UNREADABLE as exc:
        msg = f"{not_ours} (member {name!r} is not a .npy array: {exc})."
        raise InvalidInputError(msg) from exc
    if dtype.hasobject:
        msg = f"{not_ours} (member {name!r} holds Python objects, which are never loaded)."
        raise InvalidInputError(msg)
    if name == "meta":
        if dtype.kind != "U" or shape != () or dtype.itemsize > _MAX_META_BYTES:
            msg = f"{not_ours} (its metadata is a {dtype} array of shape {shape}, not text)."
            raise InvalidInputError(msg)
    else:
        if dtype.kind != "f" or dtype.itemsize != 8:
            msg = f"{not_ours} (array {name!r} has dtype {dtype}; float64 is expected)."
            raise InvalidInputError(msg)
        if len(shape) != _ARRAYS[name]:
            msg = f"{not_ours} (array {name!r} has shape {shape}; {_ARRAYS[name]}-D is expected)."
            raise InvalidInputError(msg)
    expected = header_bytes + math.prod(shape) * dtype.itemsize
    if info.file_size != expected:
        msg = (
            f"{not_ours} (member {name!r} stores {info.file_size:,} bytes but its header "
            f"describes {expected:,})."
        )
        raise InvalidInputError(msg)
    return shape, dtype


def _check_shapes(headers: dict[str, tuple], not_ours: str) -> None:
    n, d, k = headers["values"][0]
    expected = {"base_values": (n, k), "data": (n, d), "stderr": (n, d, k)}
    for name, shape in expected.items():
        if name in headers and headers[name][0] != shape:
            msg = (
                f"{not_ours} (array {name!r} has shape {headers[name][0]} but values has "
                f"shape {(n, d, k)}, so {name!r} should be {shape})."
            )
            raise InvalidInputError(msg)


def check_meta(meta: Any, values_shape: tuple, *, where: str) -> dict[str, Any]:
    """Check the Explanation metadata (kind, names, method, params) against the arrays."""
    if not isinstance(meta, dict) or meta.get("kind") != "Explanation":
        kind = meta.get("kind") if isinstance(meta, dict) else type(meta).__name__
        msg = f"{where} does not hold an Explanation (kind={kind!r})."
        raise InvalidInputError(msg)
    problems = []
    shape = tuple(values_shape)
    for key, axis in (("feature_names", 1), ("output_names", 2)):
        names = meta.get(key)
        if not isinstance(names, list) or not all(isinstance(v, str) for v in names):
            problems.append(f"{key} must be a list of strings")
        elif len(shape) == 3 and len(names) != shape[axis]:
            problems.append(f"{key} has {len(names)} names for {shape[axis]} columns")
    for key in ("method", "output_space"):
        if not isinstance(meta.get(key), str):
            problems.append(f"{key} must be a string")
    if not isinstance(meta.get("params"), dict):
        problems.append("params must be a dict")
    version = meta.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        problems.append("schema_version must be an integer")
    if problems:
        msg = f"{where} has malformed Explanation metadata: {'; '.join(problems)}."
        raise InvalidInputError(msg)
    return meta
