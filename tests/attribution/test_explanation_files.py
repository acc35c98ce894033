"""Explanation.load treats the file as untrusted data: FIFOs, zip bombs, crafted archives.

Every hostile file must give an InvalidInputError promptly, without decompressing more than
the schema allows; a FIFO must be refused without blocking on it.
"""

from __future__ import annotations

import io
import json
import os
import threading
import tracemalloc
import zipfile

import numpy as np
import pytest

from assay.attribution import Explanation
from assay.errors import InvalidInputError


def make_explanation(n=4, d=3, k=2):
    rng = np.random.default_rng(0)
    return Explanation(
        values=rng.normal(size=(n, d, k)),
        base_values=rng.normal(size=(n, k)),
        data=rng.normal(size=(n, d)),
        feature_names=[f"f{i}" for i in range(d)],
        output_names=[f"o{j}" for j in range(k)],
        method="exact",
        output_space="raw",
        stderr=np.abs(rng.normal(size=(n, d, k))),
        params={"seed": 0},
    )


def _npy(array) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asanyarray(array), allow_pickle=True)
    return buf.getvalue()


def _archive(path, members: dict[str, bytes], *, compress=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression=compress) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return path


def _members(exp: Explanation) -> dict[str, bytes]:
    return {
        "values.npy": _npy(exp.values),
        "base_values.npy": _npy(exp.base_values),
        "data.npy": _npy(exp.data),
        "stderr.npy": _npy(exp.stderr),
        "meta.npy": _npy(np.array(json.dumps(exp._meta()))),
    }


def test_round_trip_still_exact(tmp_path):
    exp = make_explanation()
    back = Explanation.load(exp.save(tmp_path / "e.npz"))
    for name in ("values", "base_values", "data", "stderr"):
        np.testing.assert_array_equal(getattr(back, name), getattr(exp, name))
    assert back.feature_names == exp.feature_names and back.params == exp.params
    # our own crafted copy of save's layout loads too (the fixtures below edit it)
    crafted = Explanation.load(_archive(tmp_path / "c.npz", _members(exp)))
    np.testing.assert_array_equal(crafted.values, exp.values)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "f.npz"
    os.mkfifo(fifo)
    outcome = {}

    def load():
        try:
            Explanation.load(fifo)
        except InvalidInputError as exc:
            outcome["error"] = str(exc)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(timeout=20)
    if worker.is_alive():  # unblock the reader so the thread can end, then fail
        with open(fifo, "wb"):
            pass
        pytest.fail("Explanation.load blocked on a FIFO")
    assert "not a regular file" in outcome["error"]


def test_directory_and_missing_file(tmp_path):
    with pytest.raises(InvalidInputError, match="is a directory"):
        Explanation.load(tmp_path)
    with pytest.raises(InvalidInputError, match="no explanation file"):
        Explanation.load(tmp_path / "missing.npz")


def test_zip_bomb_is_rejected_before_decompressing(tmp_path):
    """A <1 MB archive whose values member inflates to 800 MiB of zeros."""
    exp = make_explanation()
    members = _members(exp)
    n_big = 100 * 2**20  # 800 MiB as float64, a whole number of 16 MiB chunks
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (n_big, 1, 1)}
    )
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            if name != "values.npy":
                zf.writestr(name, content)
        with zf.open("values.npy", "w", force_zip64=True) as fh:
            fh.write(header.getvalue())
            chunk = bytes(2**24)
            for _ in range(n_big * 8 // len(chunk)):
                fh.write(chunk)
    assert path.stat().st_size < 2 * 2**20
    tracemalloc.start()
    try:
        # shapes disagree with base_values: refused from the headers alone
        with pytest.raises(InvalidInputError, match=r"base_values.*should be"):
            Explanation.load(path)
        # a consistent bomb is refused by the size limit, still before decompressing
        with pytest.raises(InvalidInputError, match=r"would decompress to .* max_bytes"):
            Explanation.load(path, max_bytes=2**20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20


def test_declared_size_disagreeing_with_header_is_rejected(tmp_path):
    exp = make_explanation()
    members = _members(exp)
    members["values.npy"] += bytes(800)  # more data than the header's shape
    with pytest.raises(InvalidInputError, match=r"stores .* bytes but its header describes"):
        Explanation.load(_archive(tmp_path / "x.npz", members))


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda m: m.pop("meta.npy"), r"missing arrays: \['meta'\]"),
        (lambda m: m.pop("values.npy"), r"missing arrays: \['values'\]"),
        (lambda m: m.__setitem__("evil.npy", _npy(np.zeros(1))), "unexpected member 'evil.npy'"),
        (
            lambda m: m.__setitem__("values.npy", _npy(np.zeros((4, 3, 2), dtype=np.int64))),
            "dtype int64; float64 is expected",
        ),
        (
            lambda m: m.__setitem__("data.npy", _npy(np.array([None, 1], dtype=object))),
            "Python objects",
        ),
        (lambda m: m.__setitem__("values.npy", _npy(np.zeros((4, 3)))), "3-D is expected"),
        (lambda m: m.__setitem__("stderr.npy", _npy(np.zeros((4, 3, 3)))), "'stderr' should be"),
        (lambda m: m.__setitem__("meta.npy", _npy(np.zeros(3))), "not text"),
        (lambda m: m.__setitem__("meta.npy", _npy(np.array("{not json"))), "not valid JSON"),
        (lambda m: m.__setitem__("meta.npy", _npy(np.array("[1, 2]"))), "does not hold an Exp"),
        (lambda m: m.__setitem__("values.npy", b"\x93NUMPY garbage"), "npy version"),
        (lambda m: m.__setitem__("values.npy", b"garbage"), "not a .npy array"),
    ],
)
def test_crafted_archives_give_invalid_input(tmp_path, edit, words):
    members = _members(make_explanation())
    edit(members)
    with pytest.raises(InvalidInputError, match=words):
        Explanation.load(_archive(tmp_path / "x.npz", members))


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"feature_names": ["a"]}, "feature_names has 1 names for 3 columns"),
        ({"feature_names": "abc"}, "feature_names must be a list of strings"),
        ({"output_names": [1, 2]}, "output_names must be a list of strings"),
        ({"method": None}, "method must be a string"),
        ({"params": []}, "params must be a dict"),
        ({"schema_version": "1"}, "schema_version must be an integer"),
        ({"kind": "AuditResult"}, "does not hold an Explanation"),
    ],
)
def test_crafted_metadata_gives_invalid_input(tmp_path, change, words):
    exp = make_explanation()
    members = _members(exp)
    members["meta.npy"] = _npy(np.array(json.dumps({**exp._meta(), **change})))
    with pytest.raises(InvalidInputError, match=words):
        Explanation.load(_archive(tmp_path / "x.npz", members))
    with pytest.raises(InvalidInputError, match=words):  # from_dict checks the same schema
        Explanation.from_dict({**exp.to_dict(), **change})


def test_from_dict_missing_or_non_numeric_arrays():
    d = make_explanation().to_dict()
    with pytest.raises(InvalidInputError, match="has no 'values'"):
        Explanation.from_dict({k: v for k, v in d.items() if k != "values"})
    with pytest.raises(InvalidInputError, match="'data' is not a numeric array"):
        Explanation.from_dict({**d, "data": [["x", "y", "z"]] * 4})
    with pytest.raises(InvalidInputError, match="needs the dict"):
        Explanation.from_dict([1, 2])
